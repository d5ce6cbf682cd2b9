/// IP protocol numbers the NAT translates.
public enum IPProtocol: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case icmp = 1
    case tcp = 6
    case udp = 17

    public var description: String {
        switch self {
        case .icmp: "icmp"
        case .tcp: "tcp"
        case .udp: "udp"
        }
    }

    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = p
    }
}

/// TCP header flags.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
}

/// The transport part of a packet to build.
public enum Transport: Sendable, Hashable {
    case tcp(sport: UInt16, dport: UInt16, flags: TCPFlags, seq: UInt32 = 1, ack: UInt32 = 0, payload: [UInt8] = [])
    /// `checksum: false` sends a zero checksum ("none", legal for UDP over IPv4).
    case udp(sport: UInt16, dport: UInt16, payload: [UInt8] = [], checksum: Bool = true)
    case icmpEcho(request: Bool, id: UInt16, seq: UInt16 = 1, payload: [UInt8] = [])
    /// An ICMP error carrying `quoted`: the start of the offending IP packet.
    case icmpError(type: UInt8, code: UInt8, rest: UInt32 = 0, quoted: [UInt8])
    case raw(proto: UInt8, bytes: [UInt8])
}

/// Builds Ethernet/IPv4 frames with correct checksums.
public struct PacketBuilder: Sendable, Hashable {
    public var srcMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    public var dstMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
    public var src: IPv4Address
    public var dst: IPv4Address
    public var ttl: UInt8 = 64
    public var ipID: UInt16 = 0x1234
    public var tos: UInt8 = 0
    /// Fragment offset in 8-byte units, and the more-fragments flag.
    public var fragmentOffset: UInt16 = 0
    public var moreFragments = false
    public var dontFragment = false
    /// IP options (padded to a multiple of 4 bytes).
    public var ipOptions: [UInt8] = []
    public var transport: Transport

    public init(src: IPv4Address, dst: IPv4Address, _ transport: Transport) {
        self.src = src
        self.dst = dst
        self.transport = transport
    }

    public var proto: UInt8 {
        switch transport {
        case .tcp: 6
        case .udp: 17
        case .icmpEcho, .icmpError: 1
        case .raw(let p, _): p
        }
    }

    /// The L4 segment with its checksum.
    public func l4Bytes() -> [UInt8] {
        var b: [UInt8]
        switch transport {
        case let .tcp(sport, dport, flags, seq, ack, payload):
            b = be16(sport) + be16(dport) + be32(seq) + be32(ack) + [0x50, flags.rawValue] + be16(65535)
                + [0, 0, 0, 0] + payload
            let s = InternetChecksum.pseudoHeaderSum(src: src, dst: dst, proto: 6, length: b.count)
            put16(&b, 16, InternetChecksum.checksum(b, initial: s))
        case let .udp(sport, dport, payload, checksum):
            b = be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
            if checksum {
                let s = InternetChecksum.pseudoHeaderSum(src: src, dst: dst, proto: 17, length: b.count)
                var c = InternetChecksum.checksum(b, initial: s)
                if c == 0 { c = 0xffff }
                put16(&b, 6, c)
            }
        case let .icmpEcho(request, id, seq, payload):
            b = [request ? 8 : 0, 0, 0, 0] + be16(id) + be16(seq) + payload
            put16(&b, 2, InternetChecksum.checksum(b))
        case let .icmpError(type, code, rest, quoted):
            b = [type, code, 0, 0] + be32(rest) + quoted
            put16(&b, 2, InternetChecksum.checksum(b))
        case let .raw(_, bytes):
            b = bytes
        }
        return b
    }

    /// The IPv4 packet (no Ethernet header).
    public func ipBytes() -> [UInt8] {
        var opts = ipOptions
        while opts.count % 4 != 0 { opts.append(0) }
        let l4 = l4Bytes()
        let ihl = 5 + opts.count / 4
        var flagsFrag = fragmentOffset & 0x1fff
        if moreFragments { flagsFrag |= 0x2000 }
        if dontFragment { flagsFrag |= 0x4000 }
        var h: [UInt8] = [UInt8(0x40 | ihl), tos] + be16(UInt16(ihl * 4 + l4.count)) + be16(ipID)
            + be16(flagsFrag) + [ttl, proto, 0, 0] + src.octets + dst.octets + opts
        put16(&h, 10, InternetChecksum.checksum(h))
        return h + l4
    }

    /// The whole Ethernet frame.
    public func frame() -> [UInt8] { dstMAC + srcMAC + [0x08, 0x00] + ipBytes() }
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
func put16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
    b[at] = UInt8(v >> 8)
    b[at + 1] = UInt8(v & 0xff)
}
func get16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
    UInt16(b[b.startIndex + at]) << 8 | UInt16(b[b.startIndex + at + 1])
}
func get32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
    UInt32(get16(b, at)) << 16 | UInt32(get16(b, at + 2))
}
