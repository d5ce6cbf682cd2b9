import Foundation
import XDPNatNet

/// What a namespace holds of a pool: an address with a port range (the whole
/// range in Exclusive pools, one block in Shared pools).
public struct AllocationUnit: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPv4Address
    public var ports: PortRange

    public init(address: IPv4Address, ports: PortRange) {
        self.address = address
        self.ports = ports
    }

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.ports.min) < (b.address, b.ports.min) }
    public var description: String { "\(address):\(ports)" }
}

/// A namespace's allocation from one pool.
public struct Allocation: Codable, Hashable, Sendable {
    public var namespace: String
    public var pool: String
    public var units: [AllocationUnit]
    public var allocatedAt: Date
    /// Set when no EgressNAT wants the allocation any more; it is freed once
    /// the grace period has passed, so existing flows can drain.
    public var releasedAt: Date?

    public init(namespace: String, pool: String, units: [AllocationUnit], allocatedAt: Date, releasedAt: Date? = nil) {
        self.namespace = namespace
        self.pool = pool
        self.units = units
        self.allocatedAt = allocatedAt
        self.releasedAt = releasedAt
    }

    public var key: AllocationKey { AllocationKey(namespace: namespace, pool: pool) }
}

public struct AllocationKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var pool: String
    public init(namespace: String, pool: String) {
        self.namespace = namespace
        self.pool = pool
    }
    public static func < (a: Self, b: Self) -> Bool { (a.namespace, a.pool) < (b.namespace, b.pool) }
    public var description: String { "\(namespace)@\(pool)" }
}

/// Everything that must survive a restart for allocations to stay where they are.
public struct AllocationState: Codable, Hashable, Sendable {
    public var version = 1
    public var allocations: [Allocation] = []
    /// Datapath policy ids by owner (`namespace/egressnat#unit`), never reused.
    public var policyIDs: [String: UInt32] = [:]
    public var nextPolicyID: UInt32 = 1

    public init() {}
}

/// A namespace's need for `count` units of a pool.
public struct Demand: Hashable, Sendable {
    public var key: AllocationKey
    public var count: Int
    public init(namespace: String, pool: String, count: Int) {
        key = AllocationKey(namespace: namespace, pool: pool)
        self.count = count
    }
}

/// Stable allocation of pool units to namespaces. Pure: the same inputs give
/// the same outputs, and an existing allocation is never moved to make room.
public enum Allocator {
    public struct Outcome: Sendable {
        public var state: AllocationState
        /// Demands not (fully) met, with the reason.
        public var shortfalls: [AllocationKey: String] = [:]
        /// Allocations freed in this run (grace period over).
        public var freed: [Allocation] = []
    }

    /// The units a pool offers, in allocation order, lazily.
    static func units(of pool: NATPool) -> some Sequence<AllocationUnit> {
        let pr = pool.portRange
        let bs = pool.blockSize
        let blocks = max(1, pr.count / bs)
        return pool.addressList.lazy.flatMap { a in
            (0..<blocks).lazy.map { b in
                AllocationUnit(address: a, ports: PortRange(pr.min + b * bs, pr.min + (b + 1) * bs - 1))
            }
        }
    }

    /// Whether a unit is still one the pool offers (the pool may have been edited).
    static func offers(_ pool: NATPool, _ u: AllocationUnit, addresses: Set<IPv4Address>) -> Bool {
        let pr = pool.portRange
        let bs = pool.blockSize
        guard addresses.contains(u.address), u.ports.count == bs, u.ports.min >= pr.min, u.ports.max <= pr.max else { return false }
        return (u.ports.min - pr.min) % bs == 0
    }

    public static func allocate(state old: AllocationState, pools: [NATPool], demands: [Demand], now: Date,
                                grace: TimeInterval) -> Outcome {
        let poolsByName = Dictionary(pools.map { ($0.metadata.name, $0) }, uniquingKeysWith: { a, _ in a })
        let addressSets = poolsByName.mapValues { Set($0.addressList) }
        let wanted = Dictionary(demands.map { ($0.key, $0.count) }, uniquingKeysWith: max)
        var out = Outcome(state: old)
        var kept: [AllocationKey: Allocation] = [:]

        for var a in old.allocations.sorted(by: { $0.key < $1.key }) {
            guard kept[a.key] == nil, let pool = poolsByName[a.pool], let addrs = addressSets[a.pool] else {
                out.freed.append(a)
                continue
            }
            a.units = a.units.filter { offers(pool, $0, addresses: addrs) }
            if let n = wanted[a.key] {
                a.releasedAt = nil
                if a.units.count > n { a.units = Array(a.units.prefix(n)) }
            } else {
                if a.releasedAt == nil { a.releasedAt = now }
                if now.timeIntervalSince(a.releasedAt!) >= grace {
                    out.freed.append(a)
                    continue
                }
            }
            if a.units.isEmpty && wanted[a.key] == nil {
                out.freed.append(a)
                continue
            }
            kept[a.key] = a
        }

        var used = Set(kept.values.flatMap(\.units))
        for d in demands.sorted(by: { $0.key < $1.key }) where d.count > 0 {
            guard let pool = poolsByName[d.key.pool] else {
                out.shortfalls[d.key] = "NATPool '\(d.key.pool)' does not exist"
                continue
            }
            var a = kept[d.key] ?? Allocation(namespace: d.key.namespace, pool: d.key.pool, units: [], allocatedAt: now)
            var need = d.count - a.units.count
            if need > 0 {
                for u in units(of: pool) where !used.contains(u) {
                    a.units.append(u)
                    used.insert(u)
                    need -= 1
                    if need == 0 { break }
                }
            }
            if need > 0 {
                let what = pool.allocation == .exclusive ? "addresses" : "port blocks"
                out.shortfalls[d.key] = a.units.isEmpty
                    ? "NATPool '\(pool.metadata.name)' has no free \(what) left"
                    : "NATPool '\(pool.metadata.name)' could give only \(a.units.count) of \(d.count) \(what)"
            }
            if !a.units.isEmpty { kept[d.key] = a }
        }
        out.state.allocations = kept.values.sorted { $0.key < $1.key }
        return out
    }

    /// `allocate`, except that the allocations of the `frozen` pools stay exactly as they are
    /// and nothing new is drawn from them (a pool whose current version cannot be read).
    public static func allocate(state old: AllocationState, pools: [NATPool], demands: [Demand], now: Date,
                                grace: TimeInterval, frozen: Set<String>) -> Outcome {
        guard !frozen.isEmpty else { return allocate(state: old, pools: pools, demands: demands, now: now, grace: grace) }
        var rest = old
        rest.allocations = old.allocations.filter { !frozen.contains($0.pool) }
        var out = allocate(state: rest, pools: pools.filter { !frozen.contains($0.metadata.name) },
                           demands: demands.filter { !frozen.contains($0.key.pool) }, now: now, grace: grace)
        let held = old.allocations.filter { frozen.contains($0.pool) }
        out.state.allocations = (out.state.allocations + held).sorted { $0.key < $1.key }
        let have = Dictionary(held.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for d in demands where frozen.contains(d.key.pool) && d.count > 0 {
            if let a = have[d.key], a.releasedAt == nil, a.units.count >= d.count { continue }
            out.shortfalls[d.key] = "NATPool '\(d.key.pool)' cannot be read in its current version; its allocations are frozen until it is fixed"
        }
        return out
    }

    /// Allocations exactly as `state` has them (another process allocates): demands
    /// they do not meet are reported, nothing is allocated, released or freed.
    public static func follow(state: AllocationState, demands: [Demand]) -> Outcome {
        var out = Outcome(state: state)
        let have = Dictionary(state.allocations.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for d in demands where d.count > 0 {
            let a = have[d.key]
            if a == nil || a!.releasedAt != nil || a!.units.count < d.count {
                out.shortfalls[d.key] = "waiting for the daemon holding the allocation Lease to allocate"
            }
        }
        return out
    }
}
