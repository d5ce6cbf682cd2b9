import Foundation
import Testing
import XDPNatModel
import XDPNatNet

@Suite struct ReconcilerTests {
    let pool = NATPool(name: "tenants", spec: .init(addresses: ["198.18.100.0/30"], portRange: PortRange(20000, 29999),
                                                    namespaceSelector: LabelSelector(matchLabels: ["egress": "yes"])))
    let namespaces = [Namespace(name: "team-a", labels: ["egress": "yes"]), Namespace(name: "team-b", labels: ["egress": "yes"]),
                      Namespace(name: "other")]

    func pods() -> [Pod] {
        [Pod(namespace: "team-a", name: "api-1", labels: ["app": "api"], ip: "198.18.1.2"),
         Pod(namespace: "team-a", name: "api-2", labels: ["app": "api"], ip: "198.18.1.3"),
         Pod(namespace: "team-a", name: "web", labels: ["app": "web"], ip: "198.18.1.4"),
         Pod(namespace: "team-b", name: "api-1", labels: ["app": "api"], ip: "198.18.1.5"),
         Pod(namespace: "team-a", name: "done", labels: ["app": "api"], ip: "198.18.1.6", phase: "Succeeded")]
    }

    @Test func selectsOwnNamespacePodsOnly() throws {
        let e = EgressNAT(namespace: "team-a", name: "db", spec: .init(podSelector: LabelSelector(matchLabels: ["app": "api"]),
                                                                      destinations: ["198.18.2.0/24"]))
        let r = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [e], pods: pods(), namespaces: namespaces),
                                     state: AllocationState())
        #expect(Set(r.plan.sources.keys) == [IPv4CIDR("198.18.1.2")!, IPv4CIDR("198.18.1.3")!],
                "team-b's api pod and finished pods are not selected")
        let policy = try #require(r.plan.policies.values.first)
        #expect(policy.natIP == "198.18.100.0")
        #expect(policy.ports == PortRange(20000, 29999))
        #expect(policy.destinations == [IPv4CIDR("198.18.2.0/24")!])
        #expect(r.plan.natAddresses["198.18.100.0"]?.ports == PortRange(20000, 29999))
        #expect(r.statuses["team-a/db"]?.conditions?.first?.reason == "Allocated")
        #expect(r.statuses["team-a/db"]?.selectedPods == 2)
    }

    @Test func twoNamespacesNeverShareAnExclusiveAddress() {
        let a = EgressNAT(namespace: "team-a", name: "x", spec: .init())
        let b = EgressNAT(namespace: "team-b", name: "x", spec: .init())
        let r = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [a, b], pods: pods(), namespaces: namespaces),
                                     state: AllocationState())
        let ips = r.state.allocations.map { $0.units[0].address }
        #expect(ips.count == 2 && Set(ips).count == 2)
        let byNS = Dictionary(uniqueKeysWithValues: r.plan.policies.values.map { ($0.owner, $0.natIP) })
        #expect(byNS["team-a/x"] != byNS["team-b/x"])
    }

    @Test func poolSelectorDecidesWhoMayUseIt() {
        let e = EgressNAT(namespace: "other", name: "x", spec: .init(poolRef: "tenants"))
        let r = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [e], namespaces: namespaces), state: AllocationState())
        #expect(r.statuses["other/x"]?.conditions?.first?.reason == "PoolNotAdmitted")
        #expect(r.plan.policies.isEmpty && r.state.allocations.isEmpty)
        let implicit = EgressNAT(namespace: "other", name: "y", spec: .init())
        let r2 = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [implicit], namespaces: namespaces), state: AllocationState())
        #expect(r2.statuses["other/y"]?.conditions?.first?.reason == "NoPoolAdmitsNamespace")
        let missing = EgressNAT(namespace: "team-a", name: "z", spec: .init(poolRef: "nope"))
        let r3 = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [missing], namespaces: namespaces), state: AllocationState())
        #expect(r3.statuses["team-a/z"]?.conditions?.first?.reason == "PoolNotFound")
    }

    @Test func deletedEgressNATKeepsItsAddressForTheGracePeriod() {
        let e = EgressNAT(namespace: "team-a", name: "x", spec: .init())
        let t0 = Date(timeIntervalSince1970: 1000)
        let rs = ResourceSet(pools: [pool], egressNATs: [e], pods: pods(), namespaces: namespaces)
        let r1 = Reconciler.reconcile(rs, state: AllocationState(), now: t0, grace: 300)
        var gone = rs
        gone.egressNATs = []
        let r2 = Reconciler.reconcile(gone, state: r1.state, now: t0 + 10, grace: 300)
        #expect(r2.plan.policies.isEmpty && r2.plan.sources.isEmpty, "no new flows are translated")
        #expect(r2.plan.natAddresses["198.18.100.0"] != nil, "replies of draining flows still are")
        // another namespace arriving meanwhile does not get the draining address
        let b = EgressNAT(namespace: "team-b", name: "x", spec: .init())
        var withB = gone
        withB.egressNATs = [b]
        let r3 = Reconciler.reconcile(withB, state: r2.state, now: t0 + 20, grace: 300)
        #expect(r3.plan.policies.values.first?.natIP == "198.18.100.1")
        // coming back within the grace period: same address
        let r4 = Reconciler.reconcile(rs, state: r2.state, now: t0 + 100, grace: 300)
        #expect(r4.plan.policies.values.first?.natIP == "198.18.100.0")
        // after it: freed
        let r5 = Reconciler.reconcile(gone, state: r2.state, now: t0 + 400, grace: 300)
        #expect(r5.state.allocations.isEmpty && r5.plan.natAddresses.isEmpty)
        #expect(r5.freed.count == 1)
    }

    @Test func overlappingSelectionsGoToTheFirstAndAreReported() {
        let a = EgressNAT(namespace: "team-a", name: "a", spec: .init(podSelector: LabelSelector(matchLabels: ["app": "api"])))
        let b = EgressNAT(namespace: "team-a", name: "b", spec: .init())
        let r = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: [b, a], pods: pods(), namespaces: namespaces),
                                     state: AllocationState())
        #expect(r.statuses["team-a/b"]?.selectedPods == 1, "only the web pod is left for b")
        let degraded = r.statuses["team-a/b"]?.conditions?.first { $0.reason == "SourceConflict" }
        #expect(degraded?.message.contains("198.18.1.2/32") == true)
        #expect(r.state.allocations.count == 1, "one namespace, one pool: one allocation shared by both")
    }

    @Test func sharedPoolGivesPortBlocks() {
        let shared = NATPool(name: "s", spec: .init(addresses: ["198.18.101.1"], portRange: PortRange(10000, 13999),
                                                    allocation: .shared, blockSize: 2000))
        let nats = ["team-a", "team-b"].map { EgressNAT(namespace: $0, name: "x", spec: .init(poolRef: "s")) }
        let r = Reconciler.reconcile(ResourceSet(pools: [shared], egressNATs: nats, pods: pods()), state: AllocationState())
        let ranges = r.plan.policies.values.sorted { $0.owner < $1.owner }.map(\.ports)
        #expect(ranges == [PortRange(10000, 11999), PortRange(12000, 13999)])
        #expect(r.plan.natAddresses["198.18.101.1"]?.ports == PortRange(10000, 13999))
        let third = EgressNAT(namespace: "team-c", name: "x", spec: .init(poolRef: "s"))
        let r2 = Reconciler.reconcile(ResourceSet(pools: [shared], egressNATs: nats + [third], pods: pods()), state: r.state)
        #expect(r2.statuses["team-c/x"]?.conditions?.first?.message.contains("no free port blocks") == true)
    }

    @Test func standaloneSourceCIDRs() {
        let e = EgressNAT(namespace: "appliance", name: "lan", spec: .init(sourceCIDRs: ["198.18.10.0/24"]))
        let open = NATPool(name: "open", spec: .init(addresses: ["198.18.100.9"]))
        let r = Reconciler.reconcile(ResourceSet(pools: [open], egressNATs: [e]), state: AllocationState())
        #expect(r.plan.sources[IPv4CIDR("198.18.10.0/24")!] != nil)
    }

    @Test func policyIDsAreStableAcrossReconciles() {
        let e = EgressNAT(namespace: "team-a", name: "x", spec: .init(addresses: 2))
        let rs = ResourceSet(pools: [pool], egressNATs: [e], pods: pods(), namespaces: namespaces)
        let r1 = Reconciler.reconcile(rs, state: AllocationState())
        let r2 = Reconciler.reconcile(rs, state: r1.state)
        #expect(r1.plan == r2.plan)
        #expect(r1.plan.policies.count == 2)
    }
}

@Suite struct AllocationHistoryTests {
    @Test func whoHeldAnAddressWhen() {
        let pool = NATPool(name: "p", spec: .init(addresses: ["198.18.100.1"]))
        let t0 = Date(timeIntervalSince1970: 1000)
        let a = EgressNAT(namespace: "team-a", name: "x", spec: .init())
        let b = EgressNAT(namespace: "team-b", name: "x", spec: .init())
        var events: [AllocationEvent] = []
        var state = AllocationState()
        for (t, nats) in [(t0, [a]), (t0 + 100, []), (t0 + 500, [b])] {
            let r = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: nats), state: state, now: t, grace: 300)
            events += AllocationHistory.diff(from: state, to: r.state, at: t)
            state = r.state
        }
        #expect(AllocationHistory.holder(of: "198.18.100.1", port: 5000, at: t0 + 50, in: events)?.namespace == "team-a")
        #expect(AllocationHistory.holder(of: "198.18.100.1", port: 5000, at: t0 + 200, in: events)?.event == .draining)
        #expect(AllocationHistory.holder(of: "198.18.100.1", port: 5000, at: t0 + 600, in: events)?.namespace == "team-b")
        #expect(AllocationHistory.holder(of: "198.18.100.1", port: 5000, at: t0 - 1, in: events) == nil)
        #expect(AllocationHistory.holder(of: "198.18.100.1", port: 80, at: t0 + 50, in: events) == nil, "port outside the range")
    }
}
