import XDPNatABI
import XDPNatModel
import XDPNatNet

/// Brings the datapath's configuration maps to a `DatapathPlan`, changing
/// only what differs, in an order that never lets a live flow be dropped or
/// translated wrongly:
/// NAT addresses are added first (replies of new flows are recognised before
/// any flow exists), policies and their destination tables next, sources last;
/// removal goes the other way round.
public struct PlanApplier {
    public let maps: NATMaps

    public init(maps: NATMaps) { self.maps = maps }

    public struct Changes: Sendable, Hashable, CustomStringConvertible {
        public var natAddresses = 0, policies = 0, destinations = 0, sources = 0, removed = 0
        public var isEmpty: Bool { natAddresses + policies + destinations + sources + removed == 0 }
        public var description: String {
            "nat-addresses +\(natAddresses) policies +\(policies) destinations +\(destinations) sources +\(sources) removed \(removed)"
        }
    }

    /// The plan the maps currently hold.
    public func current() -> DatapathPlan {
        var plan = DatapathPlan()
        let dest = maps.destinationPrefixes(excluded: false)
        let excl = maps.destinationPrefixes(excluded: true)
        for id in maps.policies.keys(UInt32.self) {
            guard let p = maps.policies.lookup(id, as: xn_policy.self) else { continue }
            plan.policies[id] = PolicyPlan(id: id, natIP: IPv4Address(networkOrder: p.nat_ip),
                                           ports: PortRange(Int(p.port_min), Int(p.port_max)),
                                           destinations: dest.filter { $0.1 == id }.map(\.0).sorted(),
                                           excluded: excl.filter { $0.1 == id }.map(\.0).sorted(), owner: "")
        }
        for (cidr, id) in maps.sources() { plan.sources[cidr] = id }
        for k in maps.natAddresses.keys(UInt32.self) {
            guard let v = maps.natAddresses.lookup(k, as: xn_nat_addr.self) else { continue }
            plan.natAddresses[IPv4Address(networkOrder: k)] = NATAddressPlan(ports: PortRange(Int(v.port_min), Int(v.port_max)),
                                                                             policy: v.policy_id)
        }
        return plan
    }

    static func sameRule(_ a: PolicyPlan, _ b: PolicyPlan) -> Bool {
        a.natIP == b.natIP && a.ports == b.ports && Set(a.destinations) == Set(b.destinations) && Set(a.excluded) == Set(b.excluded)
    }

    @discardableResult
    public func apply(_ want: DatapathPlan) throws -> Changes {
        let have = current()
        var ch = Changes()

        // 1. NAT addresses
        for (ip, a) in want.natAddresses.sorted(by: { $0.key < $1.key }) where have.natAddresses[ip] != a {
            try maps.setNATAddress(ip, ports: a.ports.range, policy: a.policy)
            ch.natAddresses += 1
        }
        // 2. policies: destination entries first, then the policy (whose flags enable them)
        for (id, p) in want.policies.sorted(by: { $0.key < $1.key }) {
            let old = have.policies[id]
            if let old, Self.sameRule(old, p) { continue }
            for d in Set(p.destinations).subtracting(old?.destinations ?? []) {
                try maps.setDestination(d, policy: id, excluded: false)
                ch.destinations += 1
            }
            for d in Set(p.excluded).subtracting(old?.excluded ?? []) {
                try maps.setDestination(d, policy: id, excluded: true)
                ch.destinations += 1
            }
            try maps.setPolicy(id: id, natIP: p.natIP, ports: p.ports.range,
                               hasDestinations: !p.destinations.isEmpty, hasExcluded: !p.excluded.isEmpty)
            ch.policies += 1
            for d in Set(old?.destinations ?? []).subtracting(p.destinations) {
                try maps.removeDestination(d, policy: id, excluded: false)
                ch.removed += 1
            }
            for d in Set(old?.excluded ?? []).subtracting(p.excluded) {
                try maps.removeDestination(d, policy: id, excluded: true)
                ch.removed += 1
            }
        }
        // 3. sources
        for (cidr, id) in want.sources.sorted(by: { $0.key < $1.key }) where have.sources[cidr] != id {
            try maps.setSource(cidr, policy: id)
            ch.sources += 1
        }
        // 4. removals, in reverse order
        for cidr in have.sources.keys where want.sources[cidr] == nil {
            try maps.removeSource(cidr)
            ch.removed += 1
        }
        for (id, old) in have.policies where want.policies[id] == nil {
            try maps.removePolicy(id: id)
            for d in old.destinations { try maps.removeDestination(d, policy: id, excluded: false) }
            for d in old.excluded { try maps.removeDestination(d, policy: id, excluded: true) }
            ch.removed += 1
        }
        for ip in have.natAddresses.keys where want.natAddresses[ip] == nil {
            try maps.removeNATAddress(ip)
            ch.removed += 1
        }
        return ch
    }
}
