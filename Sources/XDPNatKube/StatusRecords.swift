import Foundation
import XDPNatModel
import XDPNatNet

/// Translation between the allocator's state and what the API stores: pool
/// allocations in `NATPool.status.allocations`, results in `EgressNAT.status`. Pure.
public enum StatusRecords {
    static func formatter() -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }

    /// The allocations recorded in the pools' statuses.
    public static func allocations(from pools: [NATPool]) -> [Allocation] {
        let f = formatter()
        var out: [Allocation] = []
        for p in pools.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            for a in p.status?.allocations ?? [] {
                let units = a.units.compactMap { u in IPv4Address(u.address).map { AllocationUnit(address: $0, ports: u.ports) } }
                out.append(Allocation(namespace: a.namespace, pool: p.metadata.name, units: units,
                                      allocatedAt: f.date(from: a.allocatedAt) ?? Date(timeIntervalSince1970: 0),
                                      releasedAt: a.releasedAt.flatMap { f.date(from: $0) }))
            }
        }
        return out
    }

    /// The status a pool should have for `state` and its utilisation.
    public static func poolStatus(_ pool: String, state: AllocationState, usage: PoolStatus?) -> NATPool.Status {
        let f = formatter()
        var st = NATPool.Status()
        st.addresses = usage?.addresses
        st.totalUnits = usage?.totalUnits
        st.usedUnits = usage?.usedUnits
        st.namespaces = usage?.namespaces
        st.allocations = state.allocations.filter { $0.pool == pool }.sorted { $0.namespace < $1.namespace }.map { a in
            PoolAllocation(namespace: a.namespace,
                           units: a.units.map { PoolAllocation.Unit(address: $0.address.description, ports: $0.ports) },
                           allocatedAt: f.string(from: a.allocatedAt), releasedAt: a.releasedAt.map { f.string(from: $0) })
        }
        return st
    }

    /// The status to write to an EgressNAT, or nil when the observed one already says it.
    /// Conditions keep their `lastTransitionTime` while their status does not change.
    public static func egressStatus(desired: EgressNAT.Status, observed: EgressNAT.Status?, now: Date) -> EgressNAT.Status? {
        var d = desired
        let stamp = formatter().string(from: now)
        d.conditions = desired.conditions?.map { c in
            var c = c
            let old = observed?.conditions?.first { $0.type == c.type && $0.reason == c.reason }
                ?? observed?.conditions?.first { $0.type == c.type }
            c.lastTransitionTime = old.flatMap { $0.status == c.status ? $0.lastTransitionTime : nil } ?? stamp
            return c
        }
        return d == observed ? nil : d
    }

    /// A JSON merge patch (RFC 7386) that replaces `status` with `desired`: fields the
    /// observed status has and the desired one lacks are sent as null (else a merge patch
    /// would keep them). With `resourceVersion` the API applies it only if the object is
    /// still at that version (409 otherwise), so two writers never overwrite each other unseen.
    public static func statusPatch<S: Encodable>(_ desired: S, observed: S?, resourceVersion: String?) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        func object(_ v: S?) throws -> [String: Any] {
            guard let v else { return [:] }
            return (try JSONSerialization.jsonObject(with: e.encode(v)) as? [String: Any]) ?? [:]
        }
        var status = try object(desired)
        for k in try object(observed).keys where status[k] == nil { status[k] = NSNull() }
        var patch: [String: Any] = ["status": status]
        if let resourceVersion { patch["metadata"] = ["resourceVersion": resourceVersion] }
        return try JSONSerialization.data(withJSONObject: patch, options: [.sortedKeys])
    }
}
