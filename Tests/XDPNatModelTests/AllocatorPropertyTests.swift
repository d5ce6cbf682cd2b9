import Foundation
import Testing
import XDPNatModel
import XDPNatNet
import XDPNatTestSupport

/// Random sequences of add / remove / resize / reorder / restart / time passing:
/// every surviving allocation stays where it was, and no address or port block
/// is ever held by two namespaces.
@Suite struct AllocatorPropertyTests {
    static let pools = [
        NATPool(name: "excl", spec: .init(addresses: ["198.18.100.0/29"], allocation: .exclusive)),
        NATPool(name: "shared", spec: .init(addresses: ["198.18.101.0/31"], portRange: PortRange(10000, 13999),
                                             allocation: .shared, blockSize: 1000)),
    ]

    @Test(arguments: 0..<40)
    func survivingAllocationsNeverMove(seed: Int) throws {
        var rng = SplitMix64(state: UInt64(seed) &* 7919 &+ 1)
        var nats: [EgressNAT] = []
        var state = AllocationState()
        var now = Date(timeIntervalSince1970: 1_000_000)
        let grace: TimeInterval = 60
        var previous: [AllocationKey: Allocation] = [:]

        for step in 0..<60 {
            var op = "none"
            var resized: Set<AllocationKey> = []
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3:
                let ns = "ns\(Int.random(in: 0..<12, using: &rng))"
                let pool = Bool.random(using: &rng) ? "excl" : "shared"
                let name = "e\(Int.random(in: 0..<2, using: &rng))"
                for old in nats where old.id == "\(ns)/\(name)" {
                    resized.insert(AllocationKey(namespace: ns, pool: old.spec.poolRef!))
                }
                nats.removeAll { $0.id == "\(ns)/\(name)" }
                let count = Int.random(in: 1...2, using: &rng)
                nats.append(EgressNAT(namespace: ns, name: name, spec: .init(poolRef: pool, addresses: count)))
                resized.insert(AllocationKey(namespace: ns, pool: pool))
                op = "add \(ns)/\(name)@\(pool)x\(count)"
            case 4...5 where !nats.isEmpty:
                let i = Int.random(in: 0..<nats.count, using: &rng)
                op = "remove \(nats[i].id)"
                resized.insert(AllocationKey(namespace: nats[i].namespace, pool: nats[i].spec.poolRef!))
                nats.remove(at: i)
            case 6:
                op = "restart"
                let data = try JSONFile.encoder().encode(state)
                state = try JSONFile.decoder().decode(AllocationState.self, from: data)
            case 7:
                op = "time"
                now += TimeInterval(Int.random(in: 1...90, using: &rng))
            default:
                op = "reorder"
            }
            nats.shuffle(using: &rng)
            let pools = Self.pools.shuffled(using: &rng)
            let before = state
            let r = Reconciler.reconcile(ResourceSet(pools: pools, egressNATs: nats), state: state, now: now, grace: grace)
            state = r.state
            let current = Dictionary(uniqueKeysWithValues: state.allocations.map { ($0.key, $0) })

            // no unit (address, or address+block) held twice; Exclusive addresses never shared
            var holders: [AllocationUnit: AllocationKey] = [:]
            for a in state.allocations {
                for u in a.units {
                    #expect(holders[u] == nil, "seed \(seed) step \(step) \(op): \(u) held by \(holders[u]!) and \(a.key)")
                    holders[u] = a.key
                }
            }
            let exclusiveAddrs = state.allocations.filter { $0.pool == "excl" }.flatMap { $0.units.map(\.address) }
            #expect(Set(exclusiveAddrs).count == exclusiveAddrs.count)

            // survivors keep what they had (a shrink keeps a prefix)
            for (k, before) in previous {
                guard let after = current[k] else {
                    // only ever freed after its grace period
                    if let rel = before.releasedAt {
                        #expect(now.timeIntervalSince(rel) >= grace, "seed \(seed) step \(step): freed before its grace period")
                    } else {
                        Issue.record("seed \(seed) step \(step) \(op): \(k) was freed without a grace period")
                    }
                    continue
                }
                let common = min(before.units.count, after.units.count)
                #expect(Array(before.units.prefix(common)) == Array(after.units.prefix(common)),
                        "seed \(seed) step \(step) \(op): \(k) moved from \(before.units) to \(after.units)")
                if !resized.contains(k) {
                    #expect(after.units.count >= before.units.count, "seed \(seed) step \(step) \(op): \(k) shrank unasked")
                }
            }

            // determinism: the same inputs in another order give the same outcome
            let again = Reconciler.reconcile(ResourceSet(pools: Self.pools, egressNATs: nats.reversed()),
                                             state: before, now: now, grace: grace)
            #expect(again.state == r.state && again.plan == r.plan, "seed \(seed) step \(step): order changed the outcome")
            previous = current
        }
    }

    @Test func sameInputsInAnyOrderGiveTheSamePlan() {
        var rng = SplitMix64(state: 42)
        let nats = (0..<10).map { i in
            EgressNAT(namespace: "ns\(i)", name: "e", spec: .init(poolRef: i % 2 == 0 ? "excl" : "shared"))
        }
        let pods = (0..<10).map { Pod(namespace: "ns\($0)", name: "p", ip: "198.18.1.\($0 + 10)") }
        let base = Reconciler.reconcile(ResourceSet(pools: Self.pools, egressNATs: nats, pods: pods), state: AllocationState(),
                                        now: Date(timeIntervalSince1970: 0))
        for _ in 0..<20 {
            let r = Reconciler.reconcile(ResourceSet(pools: Self.pools.shuffled(using: &rng), egressNATs: nats.shuffled(using: &rng),
                                                     pods: pods.shuffled(using: &rng)),
                                         state: AllocationState(), now: Date(timeIntervalSince1970: 0))
            #expect(r.plan == base.plan)
            #expect(r.state == base.state)
        }
    }

    @Test func exhaustionLeavesExistingAllocationsAlone() {
        let pool = NATPool(name: "small", spec: .init(addresses: ["198.18.100.0/31"]))
        let first = (0..<2).map { EgressNAT(namespace: "ns\($0)", name: "e", spec: .init(poolRef: "small")) }
        let r1 = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: first), state: AllocationState())
        let late = EgressNAT(namespace: "aaa-first-by-name", name: "e", spec: .init(poolRef: "small"))
        let r2 = Reconciler.reconcile(ResourceSet(pools: [pool], egressNATs: first + [late]), state: r1.state)
        #expect(r2.state.allocations.filter { $0.namespace.hasPrefix("ns") } == r1.state.allocations)
        let cond = r2.statuses["aaa-first-by-name/e"]?.conditions?.first
        #expect(cond?.status == "False" && cond?.reason == "PoolExhausted")
        #expect(cond?.message.contains("no free addresses") == true)
    }
}
