import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

/// xdpnatd in Kubernetes mode against the stand-in API server, over TLS, with
/// real traffic through the gateway.
@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"), .serialized)
struct KubernetesModeTests {
    func sources(_ h: DaemonHarness) -> Set<String> { Set(h.status()?.sources.map(\.cidr) ?? []) }

    func client(_ h: DaemonHarness, from: String? = nil) throws -> [String] {
        var args = ["python3", "-c", Peers.client, "udp", h.topo.server, "7000", "1"]
        if let from { args.append(from) }
        return try h.topo.pod.exec(args).split(separator: "\n").map { String($0.split(separator: ":")[0]) }
    }

    func echo(_ h: DaemonHarness) throws -> Background {
        let b = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        try h.waitForServer(port: 7000)
        return b
    }

    @Test func programsTheDatapathFromTheAPIFollowsWatchEventsAndWritesStatus() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.apply(KubeAPIHarness.pool(), KubeAPIHarness.namespace("team-a"),
                      KubeAPIHarness.pod("team-a", "api-0", ip: "198.18.1.2"), KubeAPIHarness.egress("team-a"))
        let h = try api.daemon("node-1")
        defer { h.close() }
        let srv = try echo(h)
        defer { _ = srv.stop() }

        try waitUntil("the pod's source is programmed") { self.sources(h).contains("198.18.1.2/32") }
        #expect(try client(h) == ["198.18.100.1"])

        // allocation recorded in the pool's status; the EgressNAT's status written through /status
        try waitUntil("statuses written") {
            let e = try api.object("EgressNAT", "partners", namespace: "team-a")
            return (e?["status"] as? [String: Any])?["addresses"] as? [String] == ["198.18.100.1"]
        }
        let pool = try #require(try api.object("NATPool", "tenants"))
        let recorded = try #require(((pool["status"] as? [String: Any])?["allocations"] as? [[String: Any]])?.first)
        #expect(recorded["namespace"] as? String == "team-a")
        #expect(((recorded["units"] as? [[String: Any]])?.first)?["address"] as? String == "198.18.100.1")
        let est = try #require(try api.object("EgressNAT", "partners", namespace: "team-a")?["status"] as? [String: Any])
        let ready = try #require((est["conditions"] as? [[String: Any]])?.first)
        #expect(ready["type"] as? String == "Ready" && ready["status"] as? String == "True")
        #expect(ready["lastTransitionTime"] as? String != nil)

        // watch events: a new pod is translated, a finished one no longer is
        try h.topo.pod.exec("ip", "addr", "add", "198.18.1.3/24", "dev", "p0")
        try api.apply(KubeAPIHarness.pod("team-a", "api-1", ip: "198.18.1.3"))
        try waitUntil("ADDED pod programmed") { self.sources(h).contains("198.18.1.3/32") }
        #expect(try client(h, from: "198.18.1.3") == ["198.18.100.1"])
        try api.apply(KubeAPIHarness.pod("team-a", "api-1", ip: "198.18.1.3", phase: "Succeeded"))
        try waitUntil("finished pod removed") { !self.sources(h).contains("198.18.1.3/32") }
        #expect(try client(h, from: "198.18.1.3") == ["198.18.1.3"], "untranslated once the pod is gone")
        try api.delete(kind: "Pod", namespace: "team-a", name: "api-0")
        try waitUntil("DELETED pod removed") { self.sources(h).isEmpty }

        let st = try #require(h.status()?.kubernetes)
        #expect(st.leader && st.identity == "node-1")
        #expect(st.informers.allSatisfy { $0.synced && $0.lists >= 1 && $0.errors == 0 }, "\(st.informers)")
        try waitUntil("bookmarks arrive") { (h.status()?.kubernetes?.informers.map(\.bookmarks).reduce(0, +) ?? 0) > 0 }
        let reqs = try api.requests()
        #expect(reqs.contains { $0.hasPrefix("GET /api/v1/pods?") && $0.contains("watch=1") && $0.contains("allowWatchBookmarks=true") })
        #expect(reqs.contains { $0.hasPrefix("PATCH /apis/xdpnat.io/v1alpha1/namespaces/team-a/egressnats/partners/status") })
        #expect(reqs.contains { $0.hasPrefix("POST /apis/coordination.k8s.io/v1/namespaces/xdpnat-system/leases") })
        let lease = try #require(try api.object("Lease", "xdpnat-allocator", namespace: "xdpnat-system"))
        #expect((lease["spec"] as? [String: Any])?["holderIdentity"] as? String == "node-1")
        let shown = try h.cli("status")
        #expect(shown.contains("Kubernetes: https://198.18.250.1:6443 as node-1, allocating"), "\(shown)")
        #expect(shown.contains("pods: synced"), "\(shown)")
    }

    @Test func expiredWatchRelistsAndAnOutageBacksOffWhileTheDatapathKeepsWorking() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.applyTeamA()
        let h = try api.daemon("node-1")
        defer { h.close() }
        let srv = try echo(h)
        defer { _ = srv.stop() }
        try waitUntil("programmed") { self.sources(h).contains("198.18.1.2/32") }

        // history compacted: every watch gets 410 Expired and must relist to see later changes
        try api.control("POST", "/_test/compact")
        try api.apply(KubeAPIHarness.pod("team-a", "api-1", ip: "198.18.1.3"))
        try waitUntil("relisted after 410") {
            let inf = h.status()?.kubernetes?.informers ?? []
            return inf.count == 4 && inf.allSatisfy { $0.expired >= 1 && $0.lists >= 2 }
        }
        try waitUntil("change made during the compaction is seen") { self.sources(h).contains("198.18.1.3/32") }

        // an outage: the next requests fail (the Lease's too, so it is long enough for every
        // informer to meet it); the daemon retries with backoff, the datapath keeps translating
        try api.control("POST", "/_test/fail", #"{"count": 40, "code": 503}"#)
        try waitUntil("errors counted") { (h.status()?.kubernetes?.informers.map(\.errors).reduce(0, +) ?? 0) >= 4 }
        #expect(try client(h) == ["198.18.100.1"], "traffic is translated during the outage")
        try api.delete(kind: "Pod", namespace: "team-a", name: "api-1")
        try waitUntil("recovered and caught up", seconds: 40) { !self.sources(h).contains("198.18.1.3/32") }
        let log = h.log()
        #expect(log.contains("retrying"), "backoff is logged")
        #expect(log.contains("503"), "the API's answer is named")
    }

    @Test func allocationsLiveInTheAPIAndSurviveLosingTheNode() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.apply(KubeAPIHarness.pool(), KubeAPIHarness.pod("team-a", "api-0", ip: "198.18.1.2"), KubeAPIHarness.egress("team-b"))
        do {
            let h = try api.daemon("node-1")
            defer { h.close() }
            try waitUntil("team-b allocated") { h.status()?.natIP(of: "team-b") == "198.18.100.1" }
            try api.apply(KubeAPIHarness.egress("team-a"))
            try waitUntil("team-a allocated") { h.status()?.natIP(of: "team-a") == "198.18.100.2" }
            h.kill9()
        }  // the node is gone: its pins, state directory and namespaces are deleted

        // a new node with empty local state: a fresh allocator would give team-a the first address
        let h2 = try api.daemon("node-2")
        defer { h2.close() }
        try waitUntil("new node programmed", seconds: 30) { h2.status()?.natIP(of: "team-a") != nil }
        #expect(h2.status()?.natIP(of: "team-a") == "198.18.100.2")
        #expect(h2.status()?.natIP(of: "team-b") == "198.18.100.1")
        let srv = try echo(h2)
        defer { _ = srv.stop() }
        #expect(try client(h2) == ["198.18.100.2"])
    }

    @Test func onlyTheLeaseHolderAllocatesAndAnotherTakesOverWhenItDies() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.applyTeamA()
        let a = try api.daemon("node-a")
        defer { a.close() }
        try waitUntil("node-a leads") { a.status()?.kubernetes?.leader == true }
        let b = try api.daemon("node-b")
        defer { b.close() }
        // both program the datapath; only one allocates
        try waitUntil("both programmed") { a.status()?.natIP(of: "team-a") != nil && b.status()?.natIP(of: "team-a") != nil }
        #expect(a.status()?.natIP(of: "team-a") == b.status()?.natIP(of: "team-a"))
        usleep(2_000_000)
        #expect(b.status()?.kubernetes?.leader == false)
        #expect(b.status()?.kubernetes?.leaseHolder == "node-a")
        #expect(a.status()?.kubernetes?.leader == true)
        let srvB = try echo(b)
        defer { _ = srvB.stop() }
        #expect(try client(b) == ["198.18.100.1"], "the follower's datapath translates too")

        // the leader dies without releasing the lease; after the lease duration node-b allocates
        a.kill9()
        try api.apply(KubeAPIHarness.egress("team-b"))
        try waitUntil("node-b took over and allocated", seconds: 30) { b.status()?.natIP(of: "team-b") == "198.18.100.2" }
        #expect(b.status()?.kubernetes?.leader == true)
        let lease = try #require(try api.object("Lease", "xdpnat-allocator", namespace: "xdpnat-system")?["spec"] as? [String: Any])
        #expect(lease["holderIdentity"] as? String == "node-b")
        #expect((lease["leaseTransitions"] as? Int ?? 0) >= 1)
        #expect(b.status()?.natIP(of: "team-a") == "198.18.100.1", "existing allocation untouched")
    }

    @Test func aLeaderStoppedWithSIGTERMReleasesTheLeaseAtOnce() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.applyTeamA()
        // a lease of 5 minutes: node-b can only lead within the wait below if node-a gives it up
        let a = try api.daemon("node-a", leaseDuration: 300)
        defer { a.close() }
        try waitUntil("node-a leads") { a.status()?.kubernetes?.leader == true }
        let b = try api.daemon("node-b", leaseDuration: 300)
        defer { b.close() }
        try waitUntil("node-b follows") { b.status()?.kubernetes?.leaseHolder == "node-a" }
        let log = a.log()  // SIGTERM
        #expect(log.contains("released lease"), "\(log)")
        try waitUntil("node-b leads") { b.status()?.kubernetes?.leader == true }
        try api.apply(KubeAPIHarness.egress("team-b"))
        try waitUntil("node-b allocates") { b.status()?.natIP(of: "team-b") == "198.18.100.2" }
        // node-a left its datapath running (the default), still translating with the allocation it had
        #expect(a.status()?.natIP(of: "team-a") == "198.18.100.1")
    }

    @Test func anUndecodableObjectIsReportedAndItsLastGoodVersionStays() throws {
        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.applyTeamA()
        let h = try api.daemon("node-1")
        defer { h.close() }
        try waitUntil("programmed") { h.status()?.natIP(of: "team-a") == "198.18.100.1" }
        // a pool the CRD schema would reject, as a misconfigured or older API server might still hold it
        try api.apply(#"{"apiVersion":"xdpnat.io/v1alpha1","kind":"NATPool","metadata":{"name":"tenants"},"spec":{"addresses":"198.18.100.9"}}"#)
        try waitUntil("error reported") { h.status()?.manifestErrors.contains { $0.contains("NATPool tenants") } == true }
        let err = try #require(h.status()?.manifestErrors.first { $0.contains("NATPool tenants") })
        #expect(err.contains("spec.addresses"), "\(err)")
        #expect(h.status()?.natIP(of: "team-a") == "198.18.100.1", "the last good pool stays in force")
        let srv = try echo(h)
        defer { _ = srv.stop() }
        #expect(try client(h) == ["198.18.100.1"])

        // nothing new is drawn from the unreadable pool (its allocation record cannot be written) ...
        try api.apply(KubeAPIHarness.egress("team-b"))
        try waitUntil("team-b told why") {
            h.status()?.egressNATs["team-b/partners"]?.conditions?.first?.message.contains("frozen") == true
        }
        #expect(h.status()?.natIP(of: "team-b") == nil)
        #expect(h.status()?.kubernetes?.statusWriteErrors == 0, "no write with a stale version was tried")
        // ... until it is fixed
        try api.apply(KubeAPIHarness.pool())
        try waitUntil("team-b allocated once the pool is readable") { h.status()?.natIP(of: "team-b") == "198.18.100.2" }
        #expect(h.status()?.natIP(of: "team-a") == "198.18.100.1")
    }
}

/// The same resources give the same datapath and statuses in both modes.
@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct ModeParityTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("crd/examples").path

    @Test func crdExamplesGiveTheSamePlanFromTheAPIAsFromTheirManifests() throws {
        let loaded = ManifestLoader.load(directory: Self.examples)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let rs = loaded.resources
        let expected = Reconciler.reconcile(rs, state: AllocationState())
        #expect(!expected.plan.policies.isEmpty && !expected.plan.sources.isEmpty, "the examples exercise the datapath")

        let api = try KubeAPIHarness()
        defer { api.close() }
        let e = JSONEncoder()
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try e.encode(v), as: UTF8.self) }
        let objects = try rs.pools.map(json) + rs.namespaces.map(json) + rs.pods.map(json) + rs.egressNATs.map(json)
        try api.control("POST", "/_test/objects", "[" + objects.joined(separator: ",") + "]")

        // pages of one object: lists follow `continue` across pages
        let h = try api.daemon(extra: ["--kube-page-size", "1"])
        defer { h.close() }
        try waitUntil("programmed") { h.status()?.policies.count == expected.plan.policies.count }
        let st = try #require(h.status())
        #expect(st.policies == expected.plan.policies.values.sorted { $0.id < $1.id })
        #expect(st.sources.map(\.cidr) == expected.plan.sources.keys.sorted().map(\.description))
        #expect(st.egressNATs == expected.statuses)
        #expect(st.allocations.map { $0.units } == expected.state.allocations.map { $0.units })
        let pageRequests = try api.requests().filter { $0.contains("limit=1") && $0.contains("continue=") }
        #expect(!pageRequests.isEmpty, "lists were paged")
    }
}
