import Foundation
import Testing
import XDPNatModel
import XDPNatTestSupport
@testable import XDPNatKube

/// Decoding of API answers in the real API's shapes (Tests/kube/fixtures).
@Suite struct WireFormatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("kube/fixtures")

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: fixtures.appendingPathComponent(name))
    }

    @Test func podListPageDecodesWithoutKindOnItemsAndKeepsContinue() throws {
        let page = try JSONDecoder().decode(ListPage<Pod>.self, from: try Self.fixture("pod-list-page.json"))
        #expect(page.metadata.resourceVersion == "48213")
        #expect(page.metadata.continue?.isEmpty == false)
        let pods = page.items.compactMap(\.value)
        #expect(pods.count == 3)
        let api0 = try #require(pods.first { $0.metadata.name == "api-0" })
        #expect(api0.namespace == "team-a")
        #expect(api0.metadata.labels?["app"] == "api")
        #expect(api0.activeIP?.description == "198.18.1.2")
        // host-network pods and pods without an address are never translated
        #expect(pods.first { $0.metadata.name == "node-exporter-9xk2p" }?.activeIP == nil)
        #expect(pods.first { $0.metadata.name == "api-1" }?.activeIP == nil)
    }

    @Test func watchStreamEventsDecodeInOrder() throws {
        let text = String(decoding: try Self.fixture("watch-stream.jsonl"), as: UTF8.self)
        let events = try text.split(separator: "\n").map { try WatchEvent<NATPool>.decode(Data($0.utf8)) }
        #expect(events.count == 6)
        guard case .added(let p) = events[0] else { Issue.record("\(events[0])"); return }
        #expect(p.metadata.name == "tenants" && p.metadata.resourceVersion == "48220")
        #expect(p.addressList.count == 4)
        guard case .modified(let m) = events[1] else { Issue.record("\(events[1])"); return }
        let recorded = StatusRecords.allocations(from: [m])
        #expect(recorded.count == 1)
        #expect(recorded.first?.namespace == "team-a")
        #expect(recorded.first?.units.first?.description == "198.18.100.0:1024-65535")
        guard case .bookmark(let v) = events[2] else { Issue.record("\(events[2])"); return }
        #expect(v == "48377")
        guard case .deleted(let d) = events[3] else { Issue.record("\(events[3])"); return }
        #expect(d.metadata.resourceVersion == "48390")
        guard case .undecodable(_, let key, let rv, let problem) = events[4] else { Issue.record("\(events[4])"); return }
        #expect(key == "broken" && rv == "48391")
        #expect(problem.contains("spec.addresses"), "\(problem)")
        guard case .error(let st) = events[5] else { Issue.record("\(events[5])"); return }
        #expect(st.code == 410 && st.reason == "Expired")
    }

    @Test func garbageIsAnErrorNamingTheLine() {
        #expect(throws: KubeError.self) { try WatchEvent<Pod>.decode(Data("<html>bad gateway</html>".utf8)) }
        #expect(throws: KubeError.self) { try WatchEvent<Pod>.decode(Data(#"{"type":"RESIZED","object":{}}"#.utf8)) }
    }

    @Test func lineSplitterGivesTheSameLinesWhateverTheChunking() throws {
        let stream = try Self.fixture("watch-stream.jsonl")
        let expected = String(decoding: stream, as: UTF8.self).split(separator: "\n").map { Data($0.utf8) }
        var rng = SplitMix64(state: 7)
        for _ in 0..<200 {
            var splitter = LineSplitter()
            var got: [Data] = []
            var i = 0
            let bytes = [UInt8](stream)
            while i < bytes.count {
                let n = Int(rng.next() % 97) + 1
                got += splitter.feed(bytes[i..<min(bytes.count, i + n)])
                i += n
            }
            if let last = splitter.finish() { got.append(last) }
            #expect(got == expected)
        }
    }

    @Test func lastLineWithoutNewlineIsKept() {
        var s = LineSplitter()
        #expect(s.feed(Array("{\"a\":1}\n\n  \n{\"b\"".utf8)) == [Data("{\"a\":1}".utf8)])
        #expect(s.finish() == Data("{\"b\"".utf8))
    }
}

@Suite struct LeaseDecisionTests {
    static func lease(_ holder: String?, duration: Int = 15) -> Lease {
        var spec = Lease.Spec()
        spec.holderIdentity = holder
        spec.leaseDurationSeconds = duration
        spec.renewTime = "2026-11-22T10:00:00.000000Z"
        return Lease(metadata: .init(name: "xdpnat-allocator", namespace: "xdpnat-system", resourceVersion: "5"), spec: spec)
    }
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func noLeaseIsCreated() {
        #expect(LeaseDecision.decide(lease: nil, me: "a", now: now, observedAt: now) == .create)
    }

    @Test func ourOwnLeaseIsRenewed() {
        #expect(LeaseDecision.decide(lease: Self.lease("a"), me: "a", now: now, observedAt: now - 100) == .acquire(transition: false))
    }

    @Test func anotherHoldersLeaseIsRespectedUntilSeenUnchangedForItsDuration() {
        let l = Self.lease("b", duration: 15)
        #expect(LeaseDecision.decide(lease: l, me: "a", now: now, observedAt: now - 14.9) == .follow(holder: "b"))
        #expect(LeaseDecision.decide(lease: l, me: "a", now: now, observedAt: now - 15) == .acquire(transition: true))
    }

    @Test func aReleasedLeaseIsTakenAtOnce() {
        #expect(LeaseDecision.decide(lease: Self.lease(""), me: "a", now: now, observedAt: now) == .acquire(transition: true))
        #expect(LeaseDecision.decide(lease: Self.lease(nil), me: "a", now: now, observedAt: now) == .acquire(transition: true))
    }

    @Test func microTimeHasMicroseconds() {
        #expect(Lease.microTime(Date(timeIntervalSince1970: 1_800_000_000.25)) == "2027-01-15T08:00:00.250000Z")
    }
}

@Suite struct StatusRecordsTests {
    static let pool = NATPool(name: "tenants", spec: .init(addresses: ["198.18.100.0/30"], allocation: .shared, blockSize: 1024))

    @Test func allocationsSurviveARoundTripThroughThePoolStatus() throws {
        var state = AllocationState()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        state.allocations = [
            Allocation(namespace: "team-a", pool: "tenants", units: [AllocationUnit(address: "198.18.100.1", ports: PortRange(1024, 2047))],
                       allocatedAt: t),
            Allocation(namespace: "team-b", pool: "tenants", units: [AllocationUnit(address: "198.18.100.1", ports: PortRange(2048, 3071))],
                       allocatedAt: t, releasedAt: t + 60),
            Allocation(namespace: "team-c", pool: "other", units: [], allocatedAt: t),
        ]
        var p = Self.pool
        p.status = StatusRecords.poolStatus("tenants", state: state, usage: nil)
        #expect(p.status?.allocations?.map(\.namespace) == ["team-a", "team-b"])
        // through JSON, as the API stores it
        let back = try JSONDecoder().decode(NATPool.self, from: JSONEncoder().encode(p))
        #expect(StatusRecords.allocations(from: [back]) == Array(state.allocations.prefix(2)))
    }

    @Test func egressStatusIsWrittenOnlyWhenItChangesAndKeepsTransitionTimes() throws {
        var desired = EgressNAT.Status()
        desired.pool = "tenants"
        desired.addresses = ["198.18.100.1"]
        desired.conditions = [Condition(type: "Ready", status: true, reason: "Allocated", message: "ok")]
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try #require(StatusRecords.egressStatus(desired: desired, observed: nil, now: t0))
        let stamp = first.conditions?.first?.lastTransitionTime
        #expect(stamp == "2027-01-15T08:00:00Z")
        #expect(StatusRecords.egressStatus(desired: desired, observed: first, now: t0 + 100) == nil)
        // a new message, same status: the transition time stays
        desired.conditions![0].message = "still ok"
        let second = try #require(StatusRecords.egressStatus(desired: desired, observed: first, now: t0 + 100))
        #expect(second.conditions?.first?.lastTransitionTime == stamp)
        // the status flips: a new transition time
        desired.conditions = [Condition(type: "Ready", status: false, reason: "PoolExhausted", message: "full")]
        let third = try #require(StatusRecords.egressStatus(desired: desired, observed: second, now: t0 + 200))
        #expect(third.conditions?.first?.lastTransitionTime == "2027-01-15T08:03:20Z")
    }

    @Test func statusPatchNullsFieldsThatWentAwayAndCarriesTheVersion() throws {
        var observed = EgressNAT.Status()
        observed.pool = "tenants"
        observed.addresses = ["198.18.100.1"]
        observed.selectedPods = 3
        var desired = EgressNAT.Status()
        desired.selectedPods = 0
        let data = try StatusRecords.statusPatch(desired, observed: observed, resourceVersion: "77")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let status = try #require(json["status"] as? [String: Any])
        #expect(status["pool"] is NSNull)
        #expect(status["addresses"] is NSNull)
        #expect(status["selectedPods"] as? Int == 0)
        #expect((json["metadata"] as? [String: Any])?["resourceVersion"] as? String == "77")
    }
}

@Suite struct FollowerReconcileTests {
    static let rs: ResourceSet = {
        var rs = ResourceSet()
        rs.pools = [NATPool(name: "tenants", spec: .init(addresses: ["198.18.100.1", "198.18.100.2"]))]
        rs.egressNATs = [EgressNAT(namespace: "team-a", name: "e", spec: .init(poolRef: "tenants")),
                         EgressNAT(namespace: "team-b", name: "e", spec: .init(poolRef: "tenants"))]
        rs.pods = [Pod(namespace: "team-a", name: "p", ip: "198.18.1.2"), Pod(namespace: "team-b", name: "p", ip: "198.18.1.3")]
        return rs
    }()

    @Test func aFollowerProgramsRecordedAllocationsAndMakesNoNewOnes() {
        var state = AllocationState()
        state.allocations = [Allocation(namespace: "team-a", pool: "tenants",
                                        units: [AllocationUnit(address: "198.18.100.2", ports: .default)], allocatedAt: Date())]
        let r = Reconciler.reconcile(Self.rs, state: state, allocate: false)
        #expect(r.state.allocations == state.allocations)
        #expect(r.plan.policies.values.map(\.natIP.description) == ["198.18.100.2"])
        #expect(r.statuses["team-a/e"]?.conditions?.first?.status == "True")
        #expect(r.statuses["team-b/e"]?.conditions?.first?.status == "False")
        #expect(r.statuses["team-b/e"]?.conditions?.first?.message.contains("Lease") == true)
        // the allocating daemon, from the same state, gives team-b the other address
        let leader = Reconciler.reconcile(Self.rs, state: state, allocate: true)
        #expect(Set(leader.plan.policies.values.map(\.natIP.description)) == ["198.18.100.1", "198.18.100.2"])
    }

    @Test func aFollowerNeverReleasesAllocationsWhoseEgressNATIsGone() {
        var state = AllocationState()
        state.allocations = [Allocation(namespace: "team-z", pool: "tenants",
                                        units: [AllocationUnit(address: "198.18.100.1", ports: .default)], allocatedAt: Date())]
        let r = Reconciler.reconcile(Self.rs, state: state, now: Date() + 10_000, grace: 0, allocate: false)
        #expect(r.state.allocations == state.allocations)
        #expect(r.freed.isEmpty)
        // replies to the recorded address are still classified
        #expect(r.plan.natAddresses["198.18.100.1"] != nil)
    }
}

@Suite struct FrozenPoolTests {
    @Test func aFrozenPoolKeepsItsAllocationsAndGivesNothingNew() {
        let rs = FollowerReconcileTests.rs
        var state = AllocationState()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        state.allocations = [Allocation(namespace: "team-a", pool: "tenants",
                                        units: [AllocationUnit(address: "198.18.100.2", ports: .default)], allocatedAt: t,
                                        releasedAt: t)]
        let r = Reconciler.reconcile(rs, state: state, now: t + 10_000, grace: 0, frozen: ["tenants"])
        // not freed although released long ago, not un-released, and team-b gets nothing
        #expect(r.state.allocations == state.allocations)
        #expect(r.freed.isEmpty)
        #expect(r.statuses["team-b/e"]?.conditions?.first?.message.contains("frozen") == true)
        // unfrozen, the same inputs allocate normally
        let normal = Reconciler.reconcile(rs, state: state, now: t + 10_000, grace: 0)
        #expect(normal.state.allocations.count == 2)
    }
}
