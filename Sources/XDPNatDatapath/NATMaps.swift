import CLibBPF
import Foundation
import XDPNatABI
import XDPNatNet

/// The xdpnat datapath's maps with typed accessors. Opened from a loaded
/// object (daemon, tests) or from the pins under a bpffs directory (CLI).
public struct NATMaps: Sendable {
    public let conntrack: BPFMap
    public let bindings: BPFMap
    public let natPorts: BPFMap
    public let policySources: BPFMap
    public let policies: BPFMap
    public let destinations: BPFMap
    public let excluded: BPFMap
    public let natAddresses: BPFMap
    public let config: BPFMap
    public let counters: BPFMap
    /// Egress interfaces for redirects; not pinned (see bpf/maps.h), nil when opened from pins.
    public let txPorts: BPFMap?
    public let events: BPFMap

    public init(object: BPFObject) throws {
        try self.init(txPorts: try object.map(XN_MAP_TX_PORTS)) { try object.map($0) }
    }

    /// Opens the maps pinned under `directory` (default `/sys/fs/bpf/xdpnat`).
    public init(pinnedAt directory: String) throws {
        guard FileManager.default.fileExists(atPath: "\(directory)/\(XN_MAP_CT)") else {
            throw BPFError("open pinned maps under \(directory)", code: ENOENT,
                           detail: "  no xdpnat maps are pinned there: is xdpnatd running? (start it with `xdpnatd run`)")
        }
        try self.init(txPorts: nil) { try BPFMap.openPinned("\(directory)/\($0)") }
    }

    init(txPorts: BPFMap?, _ open: (String) throws -> BPFMap) throws {
        self.txPorts = txPorts
        conntrack = try open(XN_MAP_CT)
        bindings = try open(XN_MAP_BINDINGS)
        natPorts = try open(XN_MAP_NAT_PORTS)
        policySources = try open(XN_MAP_POLICY_SRC)
        policies = try open(XN_MAP_POLICIES)
        destinations = try open(XN_MAP_DEST)
        excluded = try open(XN_MAP_EXCLUDED)
        natAddresses = try open(XN_MAP_NAT_ADDRS)
        config = try open(XN_MAP_CONFIG)
        counters = try open(XN_MAP_COUNTERS)
        events = try open(XN_MAP_EVENTS)
    }

    // MARK: configuration

    public func readConfig() -> xn_config {
        config.lookup(UInt32(0), as: xn_config.self) ?? xn_config()
    }

    public func writeConfig(_ c: xn_config) throws {
        var c = c
        c.abi_version = UInt32(XN_ABI_VERSION)
        try config.update(UInt32(0), c)
    }

    /// Invalidates every cached next hop (after a route or neighbour change).
    public func bumpFibGeneration() throws {
        var c = readConfig()
        c.fib_gen &+= 1
        try writeConfig(c)
    }

    /// Lets the datapath redirect to this interface.
    public func addTxPort(ifindex: UInt32) throws {
        guard let txPorts else { throw BPFError("add egress port: maps opened from pins have no tx port map", code: EINVAL) }
        try txPorts.update(ifindex, ifindex)
    }

    // MARK: policy

    /// Installs or replaces a policy's parameters (not its sources).
    public func setPolicy(id: UInt32, natIP: IPv4Address, ports: ClosedRange<UInt16>,
                          hasDestinations: Bool, hasExcluded: Bool) throws {
        var p = xn_policy()
        p.nat_ip = natIP.networkOrder
        p.port_min = ports.lowerBound
        p.port_max = ports.upperBound
        p.policy_id = id
        p.flags = (hasDestinations ? UInt32(XN_POLICY_F_HAS_DEST) : 0) | (hasExcluded ? UInt32(XN_POLICY_F_HAS_EXCLUDED) : 0)
        try policies.update(id, p)
    }

    public func removePolicy(id: UInt32) throws { try policies.delete(id) }

    public func setSource(_ prefix: IPv4CIDR, policy: UInt32) throws {
        try policySources.update(Self.srcKey(prefix), policy)
    }

    public func removeSource(_ prefix: IPv4CIDR) throws { try policySources.delete(Self.srcKey(prefix)) }

    public func sources() -> [(IPv4CIDR, UInt32)] {
        policySources.keys(xn_src_lpm_key.self).compactMap { k in
            guard let id = policySources.lookup(k, as: UInt32.self),
                  let c = IPv4CIDR(network: IPv4Address(networkOrder: k.addr), prefixLength: Int(k.prefixlen))
            else { return nil }
            return (c, id)
        }
    }

    /// `excluded: false` targets the destinations table, `true` the excluded one.
    public func setDestination(_ prefix: IPv4CIDR, policy: UInt32, excluded: Bool) throws {
        try (excluded ? self.excluded : destinations).update(Self.dstKey(prefix, policy), policy)
    }

    public func removeDestination(_ prefix: IPv4CIDR, policy: UInt32, excluded: Bool) throws {
        try (excluded ? self.excluded : destinations).delete(Self.dstKey(prefix, policy))
    }

    public func destinationPrefixes(excluded: Bool) -> [(IPv4CIDR, UInt32)] {
        let m = excluded ? self.excluded : destinations
        return m.keys(xn_dst_lpm_key.self).compactMap { k in
            guard let c = IPv4CIDR(network: IPv4Address(networkOrder: k.addr), prefixLength: Int(k.prefixlen) - 32)
            else { return nil }
            return (c, UInt32(bigEndian: k.policy_id))
        }
    }

    public func setNATAddress(_ ip: IPv4Address, ports: ClosedRange<UInt16>, policy: UInt32) throws {
        var v = xn_nat_addr()
        v.port_min = ports.lowerBound
        v.port_max = ports.upperBound
        v.policy_id = policy
        try natAddresses.update(ip.networkOrder, v)
    }

    public func removeNATAddress(_ ip: IPv4Address) throws { try natAddresses.delete(ip.networkOrder) }

    static func srcKey(_ c: IPv4CIDR) -> xn_src_lpm_key {
        var k = xn_src_lpm_key()
        k.prefixlen = UInt32(c.prefixLength)
        k.addr = c.network.networkOrder
        return k
    }

    static func dstKey(_ c: IPv4CIDR, _ policy: UInt32) -> xn_dst_lpm_key {
        var k = xn_dst_lpm_key()
        k.prefixlen = UInt32(32 + c.prefixLength)
        k.policy_id = policy.bigEndian
        k.addr = c.network.networkOrder
        return k
    }

    // MARK: counters

    /// All counters of every CPU (one `struct xn_stats` per CPU).
    public func readCounters() -> CounterSnapshot {
        let n = DatapathCounters.count
        let cpus = BPFMap.possibleCPUs
        precondition(counters.valueSize == MemoryLayout<xn_stats>.size)
        var raw = [UInt64](repeating: 0, count: n * cpus)
        var key: UInt32 = 0
        let rc = raw.withUnsafeMutableBytes { bpf_map_lookup_elem(counters.fd, &key, $0.baseAddress) }
        guard rc == 0 else { return CounterSnapshot(perCPU: []) }
        return CounterSnapshot(perCPU: (0..<n).map { c in (0..<cpus).map { raw[$0 * n + c] } })
    }

    public func resetCounters() throws {
        var raw = [UInt64](repeating: 0, count: DatapathCounters.count * BPFMap.possibleCPUs)
        var key: UInt32 = 0
        let rc = raw.withUnsafeMutableBytes { bpf_map_update_elem(counters.fd, &key, $0.baseAddress, UInt64(BPF_ANY)) }
        if rc < 0 { throw BPFError("reset counters", code: errno) }
    }
}
