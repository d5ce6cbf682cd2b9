import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet
import XDPNatTestSupport

/// Resource change -> datapath programmed, measured end to end against the
/// real daemon: a manifest is written, the pinned maps are polled until the
/// change is there.
enum ConfigLatency {
    static func run(daemon: String, pods: Int, changes: Int, into r: inout Results) throws {
        let ns = try NetNS("xnb-cfg")
        defer { ns.close() }
        try ns.exec("ip", "link", "add", "n0", "type", "veth", "peer", "name", "n1")
        try ns.exec("ip", "link", "set", "n0", "up")
        try ns.exec("ip", "link", "set", "n1", "up")
        let work = "/run/xdpnat-bench-cfg-\(getpid())"
        try FileManager.default.createDirectory(atPath: "\(work)/bpf", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(work)/m", withIntermediateDirectories: true)
        try Shell.run("mount", "-t", "bpf", "bpf", "\(work)/bpf")
        defer {
            _ = try? Shell.run("umount", "\(work)/bpf")
            try? FileManager.default.removeItem(atPath: work)
        }
        var yaml = """
        apiVersion: xdpnat.io/v1alpha1
        kind: NATPool
        metadata: {name: p}
        spec: {addresses: ["198.18.100.0/28"]}
        ---
        apiVersion: xdpnat.io/v1alpha1
        kind: EgressNAT
        metadata: {name: e, namespace: team-a}
        spec: {podSelector: {matchLabels: {app: api}}}

        """
        func pod(_ i: Int) -> String {
            let ip = IPv4Address(IPv4Address("198.18.8.0").value + UInt32(i))
            return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: api-\(i), namespace: team-a, labels: {app: api}}\nstatus: {podIP: \(ip), phase: Running}\n"
        }
        for i in 0..<pods { yaml += pod(i) }
        try yaml.write(toFile: "\(work)/m/all.yaml", atomically: true, encoding: .utf8)
        let started = Date()
        let d = try Background(["ip", "netns", "exec", ns.name, daemon, "run", "--interface", "n0", "--manifests", "\(work)/m",
                                "--state-dir", "\(work)/state", "--pin-dir", "\(work)/bpf/xdpnat", "--metrics-address", "off",
                                "--ct-flows", "65536", "--bindings", "65536"])
        defer { d.stop() }
        func present(_ i: Int, _ maps: NATMaps) -> Bool {
            var k = xn_src_lpm_key()
            k.prefixlen = 32
            k.addr = IPv4Address(IPv4Address("198.18.8.0").value + UInt32(i)).networkOrder
            return maps.policySources.lookup(k, as: UInt32.self) != nil
        }
        var maps: NATMaps? = nil
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if maps == nil { maps = try? NATMaps(pinnedAt: "\(work)/bpf/xdpnat") }
            if let m = maps, present(pods - 1, m), m.policySources.keys(xn_src_lpm_key.self).count == pods { break }
            usleep(1000)
        }
        guard let m = maps, present(pods - 1, m) else { throw BenchError("daemon never programmed \(pods) pods: \(d.stop())") }
        r.configLatencyMs["start_to_programmed_\(pods)_pods"] = Figure([Date().timeIntervalSince(started) * 1000])
        var samples: [Double] = []
        for c in 0..<changes {
            usleep(300_000)
            let i = pods + c
            let t = Date()
            try pod(i).write(toFile: "\(work)/m/new-\(c).yaml", atomically: true, encoding: .utf8)
            while !present(i, m) {
                if Date().timeIntervalSince(t) > 30 { throw BenchError("change \(c) never reached the datapath") }
                usleep(200)
            }
            samples.append(Date().timeIntervalSince(t) * 1000)
        }
        r.configLatencyMs["pod_added_to_programmed_\(pods)_pods"] = Figure(samples)
    }
}
