/// An IPv4 address, held in host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The address as a host-order integer (`198.18.0.1` is `0xC612_0001`).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation; `nil` for anything else (no leading zeros, no shorthand).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                part.allSatisfy(\.isNumber), let octet = UInt32(part), octet <= 255,
                !(part.count > 1 && part.first == "0")
            else { return nil }
            v = v << 8 | octet
        }
        value = v
    }

    public init(stringLiteral text: String) {
        guard let a = IPv4Address(text) else { preconditionFailure("invalid IPv4 literal \(text)") }
        self = a
    }

    /// Network byte order, as stored in packets and in BPF maps' `__be32` fields.
    public var networkOrder: UInt32 { value.bigEndian }

    /// The address from a `__be32` field.
    public init(networkOrder: UInt32) { value = UInt32(bigEndian: networkOrder) }

    public var octets: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String { octets.map(String.init).joined(separator: ".") }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let a = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an IPv4 address"))
        }
        self = a
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv4 prefix such as `198.18.0.0/15`. A bare address parses as a /32.
public struct IPv4CIDR: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The network address (host bits are always zero).
    public let network: IPv4Address
    public let prefixLength: Int

    /// Fails when host bits are set (`10.0.0.1/24`): such a prefix is almost always a typo.
    public init?(network: IPv4Address, prefixLength: Int) {
        guard (0...32).contains(prefixLength) else { return nil }
        guard network.value & ~Self.mask(prefixLength) == 0 else { return nil }
        self.network = network
        self.prefixLength = prefixLength
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let addr = IPv4Address(parts[0]) else { return nil }
        var len = 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isNumber), parts[1].count <= 2,
                let l = Int(parts[1])
            else { return nil }
            len = l
        }
        self.init(network: addr, prefixLength: len)
    }

    static func mask(_ len: Int) -> UInt32 { len == 0 ? 0 : UInt32.max << (32 - len) }

    public var mask: UInt32 { Self.mask(prefixLength) }
    public var first: IPv4Address { network }
    public var last: IPv4Address { IPv4Address(network.value | ~mask) }
    /// Number of addresses in the prefix.
    public var size: UInt64 { UInt64(1) << (32 - prefixLength) }

    public func contains(_ a: IPv4Address) -> Bool { a.value & mask == network.value }
    public func overlaps(_ o: IPv4CIDR) -> Bool { contains(o.network) || o.contains(network) }

    /// Every address of the prefix, in order (use on small prefixes).
    public var addresses: [IPv4Address] {
        (UInt64(network.value)...UInt64(last.value)).map { IPv4Address(UInt32($0)) }
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public static func < (a: IPv4CIDR, b: IPv4CIDR) -> Bool {
        (a.network, a.prefixLength) < (b.network, b.prefixLength)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let c = IPv4CIDR(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an IPv4 CIDR"))
        }
        self = c
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
