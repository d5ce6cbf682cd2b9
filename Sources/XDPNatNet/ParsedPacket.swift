/// An IPv4 packet read back from bytes, with independent checksum verification.
public struct ParsedIPv4: Sendable, Hashable {
    public let src: IPv4Address
    public let dst: IPv4Address
    public let ttl: UInt8
    public let proto: UInt8
    public let headerLength: Int
    public let totalLength: Int
    public let isFragment: Bool
    /// TCP/UDP ports; for ICMP echo both are the identifier.
    public let sport: UInt16?
    public let dport: UInt16?
    public let icmpType: UInt8?
    public let tcpFlags: TCPFlags?
    /// The IP header checksum verifies.
    public let ipChecksumOK: Bool
    /// The L4 checksum verifies (a zero UDP checksum counts as valid);
    /// `nil` when the L4 header is not complete (quoted packets, fragments).
    public let l4ChecksumOK: Bool?
    /// The packet quoted by an ICMP error.
    public let quoted: [UInt8]?

    /// Parses an IPv4 packet starting at its IP header. `nil` if it is not one.
    public init?(ip bytes: ArraySlice<UInt8>) {
        guard bytes.count >= 20, bytes[bytes.startIndex] >> 4 == 4 else { return nil }
        let ihl = Int(bytes[bytes.startIndex] & 0xf) * 4
        guard ihl >= 20, bytes.count >= ihl else { return nil }
        let b = bytes
        headerLength = ihl
        totalLength = Int(get16(b, 2))
        ttl = b[b.startIndex + 8]
        proto = b[b.startIndex + 9]
        src = IPv4Address(get32(b, 12))
        dst = IPv4Address(get32(b, 16))
        ipChecksumOK = InternetChecksum.verify(b.prefix(ihl))
        isFragment = get16(b, 6) & 0x1fff != 0
        let end = min(b.count, max(totalLength, ihl))
        let l4 = b[(b.startIndex + ihl)..<(b.startIndex + end)]
        let complete = totalLength <= b.count && !isFragment && get16(b, 6) & 0x2000 == 0
        var sport: UInt16? = nil, dport: UInt16? = nil, icmpType: UInt8? = nil
        var flags: TCPFlags? = nil, l4OK: Bool? = nil, quoted: [UInt8]? = nil
        if !isFragment {
            switch proto {
            case 6 where l4.count >= 20:
                sport = get16(l4, 0)
                dport = get16(l4, 2)
                flags = TCPFlags(rawValue: l4[l4.startIndex + 13])
                if complete {
                    let s = InternetChecksum.pseudoHeaderSum(src: src, dst: dst, proto: 6, length: l4.count)
                    l4OK = InternetChecksum.verify(l4, initial: s)
                }
            case 6 where l4.count >= 4, 17 where l4.count >= 4:
                sport = get16(l4, 0)
                dport = get16(l4, 2)
                if proto == 17, l4.count >= 8, complete {
                    if get16(l4, 6) == 0 {
                        l4OK = true
                    } else {
                        let s = InternetChecksum.pseudoHeaderSum(src: src, dst: dst, proto: 17, length: l4.count)
                        l4OK = InternetChecksum.verify(l4, initial: s)
                    }
                }
            case 1 where l4.count >= 8:
                let t = l4[l4.startIndex]
                icmpType = t
                if t == 0 || t == 8 {
                    sport = get16(l4, 4)
                    dport = sport
                } else {
                    quoted = Array(l4.dropFirst(8))
                }
                if complete { l4OK = InternetChecksum.verify(l4) }
            default:
                break
            }
        }
        self.sport = sport
        self.dport = dport
        self.icmpType = icmpType
        self.tcpFlags = flags
        self.l4ChecksumOK = l4OK
        self.quoted = quoted
    }

    /// Parses an Ethernet frame carrying IPv4.
    public init?(frame: [UInt8]) {
        guard frame.count >= 14, frame[12] == 0x08, frame[13] == 0x00 else { return nil }
        self.init(ip: frame[14...])
    }

    /// The quoted packet of an ICMP error, parsed (its L4 checksum is not checked:
    /// the quote is usually cut short).
    public var quotedPacket: ParsedIPv4? { quoted.flatMap { ParsedIPv4(ip: $0[...]) } }

    /// Whether the checksum of a quoted TCP/UDP/ICMP header is consistent with
    /// the full original segment is unknowable from a cut quote; what can be
    /// checked is that the quoted IP header's checksum verifies.
    public var quotedIPChecksumOK: Bool? { quotedPacket?.ipChecksumOK }
}
