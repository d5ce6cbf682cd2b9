import Foundation
import XDPNatNet

/// One datapath policy: the NAT endpoint range for a set of sources.
public struct PolicyPlan: Codable, Hashable, Sendable {
    public var id: UInt32
    public var natIP: IPv4Address
    public var ports: PortRange
    public var destinations: [IPv4CIDR]
    public var excluded: [IPv4CIDR]
    /// `namespace/egressnat`
    public var owner: String

    public init(id: UInt32, natIP: IPv4Address, ports: PortRange, destinations: [IPv4CIDR], excluded: [IPv4CIDR], owner: String) {
        self.id = id
        self.natIP = natIP
        self.ports = ports
        self.destinations = destinations
        self.excluded = excluded
        self.owner = owner
    }
}

/// A NAT address as the datapath's reply classifier sees it.
public struct NATAddressPlan: Codable, Hashable, Sendable {
    public var ports: PortRange
    public var policy: UInt32

    public init(ports: PortRange, policy: UInt32) {
        self.ports = ports
        self.policy = policy
    }
}

/// The complete desired state of the datapath's configuration maps.
public struct DatapathPlan: Codable, Hashable, Sendable {
    public var policies: [UInt32: PolicyPlan] = [:]
    public var sources: [IPv4CIDR: UInt32] = [:]
    public var natAddresses: [IPv4Address: NATAddressPlan] = [:]
    /// Who each source is: `namespace/pod`, or `namespace/egressnat (sourceCIDRs)`.
    public var sourceOwners: [IPv4CIDR: String] = [:]
    public init() {}
}

/// Utilisation of one pool.
public struct PoolStatus: Codable, Hashable, Sendable {
    public var name: String
    public var allocation: NATPool.Allocation
    public var addresses: Int
    public var totalUnits: Int
    public var usedUnits: Int
    public var namespaces: [String]
}

/// Turns resources and the persisted allocations into the datapath plan, the
/// new allocations and a status for every EgressNAT. Pure.
public enum Reconciler {
    public struct Result: Sendable {
        public var plan: DatapathPlan
        public var state: AllocationState
        public var statuses: [String: EgressNAT.Status]
        public var pools: [PoolStatus]
        public var freed: [Allocation]
    }

    public static let defaultGrace: TimeInterval = 300

    /// `allocate` false: use the allocations in `state` as they are, make and free none
    /// (a Kubernetes daemon that does not hold the allocation Lease).
    /// `frozen`: pools whose allocations must not change (their current version could not be read).
    public static func reconcile(_ rs: ResourceSet, state: AllocationState, now: Date = Date(),
                                 grace: TimeInterval = defaultGrace, allocate: Bool = true,
                                 frozen: Set<String> = []) -> Result {
        let pools = rs.pools.sorted { $0.metadata.name < $1.metadata.name }
        let nats = rs.egressNATs.sorted { $0.id < $1.id }
        var statuses: [String: EgressNAT.Status] = [:]

        // 1. which pool serves each EgressNAT
        var poolOf: [String: NATPool] = [:]
        for e in nats {
            let labels = rs.namespaceLabels(e.namespace)
            if let ref = e.spec.poolRef {
                guard let p = pools.first(where: { $0.metadata.name == ref }) else {
                    statuses[e.id] = failed("PoolNotFound", "NATPool '\(ref)' does not exist")
                    continue
                }
                guard p.namespaceSelector.matches(labels) else {
                    statuses[e.id] = failed("PoolNotAdmitted", "NATPool '\(ref)' does not admit namespace '\(e.namespace)' (its namespaceSelector does not match the namespace's labels)")
                    continue
                }
                poolOf[e.id] = p
            } else if let p = pools.first(where: { $0.namespaceSelector.matches(labels) }) {
                poolOf[e.id] = p
            } else {
                statuses[e.id] = failed("NoPoolAdmitsNamespace", "no NATPool admits namespace '\(e.namespace)'")
            }
        }

        // 2. allocate per namespace and pool
        let demands = nats.compactMap { e in
            poolOf[e.id].map { Demand(namespace: e.namespace, pool: $0.metadata.name, count: e.addressCount) }
        }
        let alloc = allocate
            ? Allocator.allocate(state: state, pools: pools, demands: demands, now: now, grace: grace, frozen: frozen)
            : Allocator.follow(state: state, demands: demands)
        var newState = alloc.state
        let allocations = Dictionary(alloc.state.allocations.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })

        // 3. policies and sources
        var plan = DatapathPlan()
        var claimed: [IPv4CIDR: String] = [:]
        var liveOwners = Set<String>()
        for e in nats {
            guard let pool = poolOf[e.id] else { continue }
            let key = AllocationKey(namespace: e.namespace, pool: pool.metadata.name)
            guard let a = allocations[key], a.releasedAt == nil, !a.units.isEmpty else {
                statuses[e.id] = failed("PoolExhausted", alloc.shortfalls[key] ?? "no allocation")
                continue
            }
            var st = EgressNAT.Status()
            st.pool = pool.metadata.name
            st.addresses = Array(Set(a.units.map(\.address.description))).sorted()
            st.portRanges = a.units.map(\.description)
            let dests = (e.spec.destinations ?? []).compactMap(IPv4CIDR.init)
            let excl = (e.spec.excludedDestinations ?? []).compactMap(IPv4CIDR.init)
            var ids: [UInt32] = []
            for (i, u) in a.units.enumerated() {
                let owner = "\(e.id)#\(i)"
                liveOwners.insert(owner)
                let id = newState.policyIDs[owner] ?? {
                    let id = newState.nextPolicyID
                    newState.nextPolicyID += 1
                    newState.policyIDs[owner] = id
                    return id
                }()
                ids.append(id)
                plan.policies[id] = PolicyPlan(id: id, natIP: u.address, ports: u.ports, destinations: dests,
                                               excluded: excl, owner: e.id)
            }
            let selector = e.spec.podSelector ?? .everything
            var names: [IPv4CIDR: String] = [:]
            for p in rs.pods where p.namespace == e.namespace && selector.matches(p.metadata.labels ?? [:]) {
                if let ip = p.activeIP, let c = IPv4CIDR(network: ip, prefixLength: 32) {
                    names[c] = "\(p.namespace)/\(p.metadata.name)"
                }
            }
            for c in (e.spec.sourceCIDRs ?? []).compactMap(IPv4CIDR.init) where names[c] == nil {
                names[c] = "\(e.id) (sourceCIDRs)"
            }
            let sources = Array(names.keys)
            var conflicts: [String] = []
            var selected = 0
            for s in Set(sources).sorted() {
                if let other = claimed[s] ?? claimed.first(where: { $0.key.overlaps(s) })?.value {
                    if other != e.id { conflicts.append("\(s) (already translated by EgressNAT \(other))") }
                    continue
                }
                claimed[s] = e.id
                // spread sources over the units by address, stably
                plan.sources[s] = ids[Int(s.network.value % UInt32(ids.count))]
                plan.sourceOwners[s] = names[s]
                selected += 1
            }
            st.selectedPods = selected
            var conds = [Condition(type: "Ready", status: true, reason: "Allocated",
                                   message: "\(st.addresses!.joined(separator: ", ")) from NATPool '\(pool.metadata.name)'")]
            if let short = alloc.shortfalls[key] {
                conds.append(Condition(type: "Degraded", status: true, reason: "PartiallyAllocated", message: short))
            }
            if !conflicts.isEmpty {
                conds.append(Condition(type: "Degraded", status: true, reason: "SourceConflict",
                                       message: "not translated: " + conflicts.joined(separator: "; ")))
            }
            st.conditions = conds
            statuses[e.id] = st
        }

        // 4. every address still allocated (also draining ones) classifies replies
        for a in alloc.state.allocations {
            guard let pool = pools.first(where: { $0.metadata.name == a.pool }) else { continue }
            for u in a.units {
                let owner = plan.policies.values.filter { $0.natIP == u.address && $0.ports == u.ports }.map(\.id).min() ?? 0
                let existing = plan.natAddresses[u.address]
                plan.natAddresses[u.address] = NATAddressPlan(
                    ports: pool.allocation == .shared ? pool.portRange : u.ports,
                    policy: existing.map { $0.policy == owner ? owner : 0 } ?? owner)
            }
        }
        newState.policyIDs = newState.policyIDs.filter { liveOwners.contains($0.key) }

        let poolStatuses = pools.map { p in
            let mine = alloc.state.allocations.filter { $0.pool == p.metadata.name }
            let per = max(1, p.portRange.count / p.blockSize)
            return PoolStatus(name: p.metadata.name, allocation: p.allocation, addresses: p.addressList.count,
                              totalUnits: p.addressList.count * per, usedUnits: mine.reduce(0) { $0 + $1.units.count },
                              namespaces: mine.map(\.namespace).sorted())
        }
        return Result(plan: plan, state: newState, statuses: statuses, pools: poolStatuses, freed: alloc.freed)
    }

    static func failed(_ reason: String, _ message: String) -> EgressNAT.Status {
        var s = EgressNAT.Status()
        s.selectedPods = 0
        s.conditions = [Condition(type: "Ready", status: false, reason: reason, message: message)]
        return s
    }
}
