import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet

/// Kernel-measured cost per packet (BPF_PROG_TEST_RUN), beside XDP_PASS.
///
/// With `repeat`, the kernel runs the program on the same buffer again and
/// again, rewritten in place. To keep every repetition on the path measured,
/// the hit and reply cases use an identity translation (the pod's own address
/// and port as NAT endpoint): all the work is done, the bytes do not change.
/// New flows need a fresh tuple each time, so that case is timed one run per
/// call, beside XDP_PASS timed the same way. Redirects are off (no FIB), so
/// these are the costs of classification, conntrack and rewrite alone.
enum Micro {
    static let pod: IPv4Address = "198.18.1.2"
    static let remote: IPv4Address = "198.18.2.2"

    static func run(repetitions: UInt32 = 2_000_000, rounds: Int) throws -> [String: Figure] {
        let pass = try BPFObject(path: DatapathObject.path(DatapathObject.pass))
        try pass.load()
        let passProg = try pass.program("xdp_pass")

        let o = try BPFObject(path: DatapathObject.path())
        try o.setMaxEntries(XN_MAP_CT, 1 << 19)
        try o.load()
        let m = try NATMaps(object: o)
        var cfg = xn_config()
        cfg.flags = UInt32(XN_CFG_F_NO_REDIRECT)
        try m.writeConfig(cfg)
        // identity policy for hit/reply; a separate pod for new flows
        try m.setPolicy(id: 1, natIP: pod, ports: 1024...65535, hasDestinations: false, hasExcluded: false)
        try m.setSource(IPv4CIDR("198.18.1.0/24")!, policy: 1)
        try m.setNATAddress(pod, ports: 1024...65535, policy: 1)
        let prog = try o.program(XN_PROG_MAIN)

        let out = PacketBuilder(src: pod, dst: remote, .udp(sport: 10000, dport: 53, payload: [UInt8](repeating: 0, count: 18))).frame()
        let back = PacketBuilder(src: remote, dst: pod, .udp(sport: 53, dport: 10000, payload: [UInt8](repeating: 0, count: 18))).frame()
        _ = try prog.testRun(out)  // create the flow
        let before = m.readCounters()
        var results: [String: [Double]] = [:]
        for _ in 0..<rounds {
            results["xdp_pass", default: []].append(Double(try passProg.testRun(out, repetitions: repetitions).durationNs))
            results["conntrack_hit", default: []].append(Double(try prog.testRun(out, repetitions: repetitions).durationNs))
            results["reply", default: []].append(Double(try prog.testRun(back, repetitions: repetitions).durationNs))
        }
        let after = m.readCounters()
        // the repetitions really took the paths they are named after
        let hits = after.total(XN_C_SNAT_HIT) - before.total(XN_C_SNAT_HIT)
        let replies = after.total(XN_C_REPLY_HIT) - before.total(XN_C_REPLY_HIT)
        guard hits >= UInt64(rounds) * UInt64(repetitions), replies >= UInt64(rounds) * UInt64(repetitions) else {
            throw BenchError("micro-benchmark left its path: \(hits) hits, \(replies) replies")
        }

        // new flows: one run per call, fresh source port each time. Every round has a NAT
        // address of its own: three rounds of 20k flows on one address would fill 93% of its
        // 64512 ports, where random probing starts to fail (drop_no_port), which is not the
        // path this measures.
        let n = 20_000
        for r in 0..<rounds {
            let pod2 = IPv4Address(IPv4Address("198.18.1.100").value + UInt32(r))
            let natIP = IPv4Address(IPv4Address("198.18.3.1").value + UInt32(r))
            try m.setPolicy(id: UInt32(10 + r), natIP: natIP, ports: 1024...65535, hasDestinations: false, hasExcluded: false)
            try m.setSource(IPv4CIDR(network: pod2, prefixLength: 32)!, policy: UInt32(10 + r))
            try m.setNATAddress(natIP, ports: 1024...65535, policy: UInt32(10 + r))
            var newNs: [Double] = [], passNs: [Double] = []
            for i in 0..<n {
                let f = PacketBuilder(src: pod2, dst: remote, .udp(sport: UInt16(20000 + i), dport: 53, payload: [UInt8](repeating: 0, count: 18))).frame()
                newNs.append(Double(try prog.testRun(f).durationNs))
                passNs.append(Double(try passProg.testRun(f).durationNs))
            }
            results["new_flow_single_run", default: []].append(newNs.reduce(0, +) / Double(n))
            results["xdp_pass_single_run", default: []].append(passNs.reduce(0, +) / Double(n))
        }
        let end = m.readCounters()
        let created = end.total(XN_C_SNAT_NEW) - after.total(XN_C_SNAT_NEW)
        guard created == UInt64(n * rounds) else {
            let moved = end.totals.compactMap { k, v in v != after.totals[k] ? "\(k) +\(v &- (after.totals[k] ?? 0))" : nil }
            throw BenchError("new-flow benchmark created \(created) flows, not \(n * rounds) (counters: \(moved.sorted().joined(separator: ", ")))")
        }
        return results.mapValues(Figure.init)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
