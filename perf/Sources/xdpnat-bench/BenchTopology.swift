import CBPFSupport
import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

/// gen [g0] -- [gi] gw [ge] -- [s0] sink
///
/// The generator injects live frames into g0; they arrive on the gateway's gi
/// as if from 16 pods (198.18.1.2-17); the gateway forwards (and translates) to
/// 198.18.2.2, where an XDP sink counts and drops them.
final class BenchTopology {
    let gen: NetNS
    let gw: NetNS
    let sink: NetNS
    let genObject: BPFObject
    let sinkObject: BPFObject
    var sinkLink: XDPLink?
    let g0: UInt32
    let giMAC: [UInt8]
    let g0MAC: [UInt8]
    let geMAC: [UInt8]
    let s0MAC: [UInt8]

    static let pods = 16
    static let podBase: IPv4Address = "198.18.1.2"
    static let server: IPv4Address = "198.18.2.2"

    init() throws {
        gen = try NetNS("xnb-gen")
        gw = try NetNS("xnb-gw")
        sink = try NetNS("xnb-sink")
        try gen.link("g0", nil, to: gw, "gi", "198.18.1.1/24")
        try gw.link("ge", "198.18.2.1/24", to: sink, "s0", "198.18.2.2/24")
        try gw.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        try gw.exec("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        try gw.exec("sysctl", "-qw", "net.ipv4.conf.gi.rp_filter=0")
        func mac(_ ns: NetNS, _ dev: String) throws -> [UInt8] {
            let text = try ns.exec("cat", "/sys/class/net/\(dev)/address").trimmingCharacters(in: .whitespacesAndNewlines)
            return text.split(separator: ":").map { UInt8($0, radix: 16)! }
        }
        giMAC = try mac(gw, "gi")
        g0MAC = try mac(gen, "g0")
        geMAC = try mac(gw, "ge")
        s0MAC = try mac(sink, "s0")
        try gw.exec("ip", "neigh", "replace", "198.18.2.2", "lladdr", s0MAC.map { String(format: "%02x", $0) }.joined(separator: ":"),
                    "dev", "ge", "nud", "permanent")
        genObject = try BPFObject(path: DatapathObject.path("xdp_gen.bpf.o"))
        try genObject.load()
        sinkObject = try BPFObject(path: DatapathObject.path("xdp_sink.bpf.o"))
        try sinkObject.load()
        g0 = try gen.run { try interfaceIndex("g0") }
        sinkLink = try sink.run { try XDPLink.attach(sinkObject.program("xdp_sink"), ifindex: interfaceIndex("s0"), mode: .native) }
        // the kernel cases receive the generator's frames as packets: veth needs GRO for that
        try gw.exec("ethtool", "-K", "gi", "gro", "on")
        try gen.exec("ethtool", "-K", "g0", "gro", "on")
    }

    /// Interface counters of every namespace, for a run that delivered nothing.
    func diagnostics() -> String {
        [(gen, "g0"), (gw, "gi"), (gw, "ge"), (sink, "s0")].map { ns, dev in
            "\(dev): " + ((try? ns.exec("ethtool", "-S", dev)) ?? "").split(separator: "\n").filter { !$0.hasSuffix(": 0") }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    func close() {
        sinkLink = nil
        gen.close()
        gw.close()
        sink.close()
    }

    func sinkCount() throws -> UInt64 {
        try sinkObject.map("sink_count").lookupPerCPU(UInt32(0))?.reduce(0, +) ?? 0
    }

    /// A 64-byte frame (60 on the wire before FCS) from pod 0 to the server.
    func template(tcpSYN: Bool) -> [UInt8] {
        var p = PacketBuilder(src: Self.podBase, dst: Self.server,
                              tcpSYN ? .tcp(sport: 10000, dport: 1, flags: .syn) : .udp(sport: 10000, dport: 1, payload: [UInt8](repeating: 0, count: 18)))
        p.srcMAC = g0MAC
        p.dstMAC = giMAC
        return p.frame()
    }

    func configureGenerator(mode: xg_mode, flows: Int, ports: Int) throws {
        var c = xg_config()
        c.mode = mode.rawValue
        c.nflows = UInt32(flows)
        c.ifindex = g0
        c.src_count = UInt32(Self.pods)
        c.base_ip = Self.podBase.networkOrder
        c.base_port = 10000
        c.ports = UInt16(ports)
        c.dst_ip = Self.server.networkOrder
        withUnsafeMutableBytes(of: &c.dmac) { $0.copyBytes(from: giMAC) }
        withUnsafeMutableBytes(of: &c.smac) { $0.copyBytes(from: g0MAC) }
        try genObject.map("xg_config").update(UInt32(0), c)
    }

    /// Sends `count` frames as fast as one core can; returns (seconds, delivered).
    func blast(_ frame: [UInt8], count: Int) throws -> (seconds: Double, delivered: UInt64) {
        let prog = try genObject.program("xdp_gen")
        let before = try sinkCount()
        let start = Date()
        var left = count
        try gen.run {
            _ = xdpnat_pin_to_cpu(0)
            while left > 0 {
                let n = min(left, 1 << 20)
                try prog.runLiveFrames(frame, count: UInt32(n), ingressIfindex: g0)
                left -= n
            }
        }
        let secs = Date().timeIntervalSince(start)
        usleep(20_000)  // let the last frames drain
        return (secs, try sinkCount() - before)
    }

    /// Sends for about `seconds`; returns delivered packets per second and the delivered ratio.
    func measure(_ frame: [UInt8], seconds: Double) throws -> (pps: Double, ratio: Double) {
        // calibrate: a small burst to size the chunks
        let probe = try blast(frame, count: 200_000)
        let rate = max(100_000, 200_000 / probe.seconds)
        let n = Int(rate * seconds)
        let r = try blast(frame, count: n)
        return (Double(r.delivered) / r.seconds, Double(r.delivered) / Double(n))
    }
}
