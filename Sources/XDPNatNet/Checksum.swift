/// The Internet checksum (RFC 1071), computed in full: the independent
/// reference the datapath's incremental updates are checked against.
public enum InternetChecksum {
    /// One's complement sum of 16-bit big-endian words, folded, not inverted.
    public static func sum<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var s = UInt64(initial)
        var it = bytes.makeIterator()
        while let hi = it.next() {
            let lo = it.next() ?? 0
            s += UInt64(hi) << 8 | UInt64(lo)
        }
        while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
        return UInt32(s)
    }

    /// The checksum to store: the inverted folded sum.
    public static func checksum<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt16 where C.Element == UInt8 {
        ~UInt16(sum(bytes, initial: initial))
    }

    /// Sum of the TCP/UDP pseudo-header.
    public static func pseudoHeaderSum(src: IPv4Address, dst: IPv4Address, proto: UInt8, length: Int) -> UInt32 {
        sum(src.octets + dst.octets + [0, proto, UInt8(length >> 8), UInt8(length & 0xff)])
    }

    /// True when the data, checksum field included, sums to 0xffff.
    public static func verify<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> Bool where C.Element == UInt8 {
        sum(bytes, initial: initial) == 0xffff
    }
}
