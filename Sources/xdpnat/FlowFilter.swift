import ArgumentParser
import XDPNatDatapath
import XDPNatModel
import XDPNatNet

/// Who a flow belongs to, from the daemon's status.
struct Owners {
    var policyOwner: [UInt32: String] = [:]   // policy id -> namespace/egressnat
    var sources: [(IPv4CIDR, String)] = []    // source -> namespace/pod

    init(_ status: DaemonStatus?) {
        guard let status else { return }
        for p in status.policies { policyOwner[p.id] = p.owner }
        sources = status.sources.compactMap { s in IPv4CIDR(s.cidr).map { ($0, s.owner) } }
            .sorted { $0.0.prefixLength > $1.0.prefixLength }
    }

    func namespace(_ f: Flow) -> String {
        if let o = policyOwner[f.policyID] { return String(o.split(separator: "/").first ?? "") }
        return ""
    }

    func pod(_ f: Flow) -> String {
        sources.first { $0.0.contains(f.pod) }?.1 ?? ""
    }
}

/// Filters shared by list, count and flush.
struct FlowFilter: ParsableArguments {
    @Option(name: [.customShort("p"), .long], help: "Protocol: tcp, udp or icmp.")
    var proto: String?
    @Option(help: "Pod (original source) address or CIDR.")
    var src: String?
    @Option(help: "Pod (original source) port.")
    var srcPort: UInt16?
    @Option(help: "Remote (destination) address or CIDR.")
    var dst: String?
    @Option(help: "Remote (destination) port.")
    var dstPort: UInt16?
    @Option(help: "NAT address.")
    var natIP: String?
    @Option(help: "NAT port.")
    var natPort: UInt16?
    @Option(name: [.customShort("n"), .long], help: "Kubernetes namespace.")
    var namespace: String?
    @Option(help: "Pod name (namespace/name or name).")
    var pod: String?
    @Option(help: "TCP state: SYN_SENT, ESTABLISHED, FIN_WAIT, TIME_WAIT, CLOSE.")
    var state: String?
    @Option(help: "Only flows idle for at least this many seconds.")
    var minIdle: Double?

    var isEmpty: Bool {
        proto == nil && src == nil && srcPort == nil && dst == nil && dstPort == nil && natIP == nil && natPort == nil
            && namespace == nil && pod == nil && state == nil && minIdle == nil
    }

    func validate() throws {
        if let proto, IPProtocol(name: proto) == nil { throw ValidationError("--proto must be tcp, udp or icmp, not '\(proto)'") }
        if let src, IPv4CIDR(src) == nil { throw ValidationError("--src '\(src)' is not an IPv4 address or CIDR") }
        if let dst, IPv4CIDR(dst) == nil { throw ValidationError("--dst '\(dst)' is not an IPv4 address or CIDR") }
        if let natIP, IPv4Address(natIP) == nil { throw ValidationError("--nat-ip '\(natIP)' is not an IPv4 address") }
        if let state, TCPState(name: state) == nil || state.isEmpty {
            throw ValidationError("--state must be one of \(TCPState.allCases.dropFirst().map(\.description).joined(separator: ", "))")
        }
        if let minIdle, minIdle < 0 { throw ValidationError("--min-idle must not be negative") }
    }

    func predicate(_ owners: Owners, now: UInt64) -> (Flow) -> Bool {
        let p = proto.flatMap(IPProtocol.init(name:))?.rawValue
        let s = src.flatMap(IPv4CIDR.init), d = dst.flatMap(IPv4CIDR.init), n = natIP.flatMap(IPv4Address.init)
        let st = state.flatMap(TCPState.init(name:))
        let idleNs = minIdle.map { UInt64($0 * 1e9) }
        return { f in
            if let p, f.proto != p { return false }
            if let s, !s.contains(f.pod) { return false }
            if let srcPort, f.podPort != srcPort { return false }
            if let d, !d.contains(f.remote) { return false }
            if let dstPort, f.remotePort != dstPort { return false }
            if let n, f.natIP != n { return false }
            if let natPort, f.natPort != natPort { return false }
            if let st, f.tcpState != st { return false }
            if let idleNs, now &- f.lastSeenNs < idleNs { return false }
            if let namespace, owners.namespace(f) != namespace { return false }
            if let pod {
                let owner = owners.pod(f)
                if owner != pod && owner.split(separator: "/").last.map(String.init) != pod { return false }
            }
            return true
        }
    }
}
