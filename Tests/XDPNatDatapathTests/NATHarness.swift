import CLibBPF
import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

let pod1: IPv4Address = "198.18.1.2"
let pod2: IPv4Address = "198.18.1.3"
let remote: IPv4Address = "198.18.2.2"
let remote2: IPv4Address = "198.18.2.3"
let natIP: IPv4Address = "198.18.100.1"
let natIP2: IPv4Address = "198.18.100.2"

let XDP_DROP_: UInt32 = 1
let XDP_PASS_: UInt32 = 2
let XDP_REDIRECT_: UInt32 = 4

/// The NAT program loaded with small tables, driven by BPF_PROG_TEST_RUN.
/// Redirects are off (XN_CFG_F_NO_REDIRECT): translated packets come back with XDP_PASS.
final class NATHarness {
    let object: BPFObject
    let maps: NATMaps
    let program: BPFProgram

    init(ctEntries: UInt32 = 4096, bindings: UInt32 = 4096, ports: ClosedRange<UInt16> = 1024...65535,
         policyID: UInt32 = 7, sources: [IPv4CIDR] = [IPv4CIDR("198.18.1.0/24")!], nat: IPv4Address = natIP,
         destinations: [IPv4CIDR] = [], excluded: [IPv4CIDR] = []) throws {
        try Privilege.check()
        object = try BPFObject(path: DatapathObject.path())
        try object.setMaxEntries(XN_MAP_CT, ctEntries)
        try object.setMaxEntries(XN_MAP_BINDINGS, bindings)
        try object.setMaxEntries(XN_MAP_NAT_PORTS, bindings)
        try object.load()
        maps = try NATMaps(object: object)
        program = try object.program(XN_PROG_MAIN)
        var cfg = xn_config()
        cfg.flags = UInt32(XN_CFG_F_NO_REDIRECT)
        try maps.writeConfig(cfg)
        try addPolicy(id: policyID, sources: sources, nat: nat, ports: ports,
                      destinations: destinations, excluded: excluded)
    }

    func addPolicy(id: UInt32, sources: [IPv4CIDR], nat: IPv4Address, ports: ClosedRange<UInt16>,
                   destinations: [IPv4CIDR] = [], excluded: [IPv4CIDR] = []) throws {
        try maps.setPolicy(id: id, natIP: nat, ports: ports, hasDestinations: !destinations.isEmpty,
                           hasExcluded: !excluded.isEmpty)
        for s in sources { try maps.setSource(s, policy: id) }
        for d in destinations { try maps.setDestination(d, policy: id, excluded: false) }
        for d in excluded { try maps.setDestination(d, policy: id, excluded: true) }
        try maps.setNATAddress(nat, ports: ports, policy: id)
    }

    struct Result {
        let action: UInt32
        let bytes: [UInt8]
        var ip: ParsedIPv4? { ParsedIPv4(frame: bytes) }
    }

    func run(_ p: PacketBuilder) throws -> Result { try run(p.frame()) }

    func run(_ frame: [UInt8]) throws -> Result {
        let r = try program.testRun(frame)
        return Result(action: r.retval, bytes: r.packet)
    }

    func counter(_ c: xn_counter) -> UInt64 { maps.readCounters().total(c) }

    func flows() throws -> [(xn_ct_key, xn_ct_entry)] {
        try maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self)
    }
}

func ctKey(_ src: IPv4Address, _ dst: IPv4Address, _ sport: UInt16, _ dport: UInt16, _ proto: IPProtocol) -> xn_ct_key {
    var k = xn_ct_key()
    k.src_ip = src.networkOrder
    k.dst_ip = dst.networkOrder
    k.src_port = sport.bigEndian
    k.dst_port = dport.bigEndian
    k.proto = proto.rawValue
    return k
}

extension xn_ct_key: @retroactive Equatable {
    public static func == (a: xn_ct_key, b: xn_ct_key) -> Bool {
        a.src_ip == b.src_ip && a.dst_ip == b.dst_ip && a.src_port == b.src_port && a.dst_port == b.dst_port
            && a.proto == b.proto
    }
}

extension Transport {
    /// The same transport with its source and/or destination port (ICMP: identifier) replaced.
    func with(sport: UInt16? = nil, dport: UInt16? = nil) -> Transport {
        switch self {
        case let .tcp(s, d, f, seq, ack, pl): .tcp(sport: sport ?? s, dport: dport ?? d, flags: f, seq: seq, ack: ack, payload: pl)
        case let .udp(s, d, pl, ck): .udp(sport: sport ?? s, dport: dport ?? d, payload: pl, checksum: ck)
        case let .icmpEcho(req, id, seq, pl): .icmpEcho(request: req, id: sport ?? dport ?? id, seq: seq, payload: pl)
        default: self
        }
    }
}

extension PacketBuilder {
    func rewritten(src: IPv4Address? = nil, sport: UInt16? = nil, dst: IPv4Address? = nil, dport: UInt16? = nil) -> PacketBuilder {
        var p = self
        if let src { p.src = src }
        if let dst { p.dst = dst }
        p.transport = transport.with(sport: sport, dport: dport)
        return p
    }

    /// The reply a remote peer sends to this (already translated) packet.
    func reply(_ transport: Transport) -> PacketBuilder {
        var p = PacketBuilder(src: dst, dst: src, transport)
        p.srcMAC = dstMAC
        p.dstMAC = srcMAC
        return p
    }
}

/// Asserts the output frame has valid IP and L4 checksums, computed from scratch.
func expectValidChecksums(_ r: NATHarness.Result, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let ip = r.ip else {
        Issue.record("output is not IPv4", sourceLocation: sourceLocation)
        return
    }
    #expect(ip.ipChecksumOK, "IP header checksum", sourceLocation: sourceLocation)
    #expect(ip.l4ChecksumOK != false, "L4 checksum", sourceLocation: sourceLocation)
    if let q = ip.quotedPacket {
        #expect(q.ipChecksumOK, "quoted IP header checksum", sourceLocation: sourceLocation)
    }
}
