import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct DaemonTests {
    func client(_ h: DaemonHarness, _ proto: String, count: Int = 1) throws -> [String] {
        try h.topo.pod.exec("python3", "-c", Peers.client, proto, "198.18.2.2", "7000", "\(count)")
            .split(separator: "\n").map { String($0.split(separator: ":")[0]) }
    }

    @Test func configChangeAppliesToNewFlowsWhileLiveOnesKeepWorking() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        let pool2 = """
        apiVersion: xdpnat.io/v1alpha1
        kind: NATPool
        metadata: {name: second}
        spec: {addresses: ["198.18.100.9"], portRange: {min: 30000, max: 39999}}
        """
        try h.write("pools.yaml", DaemonHarness.pool + "\n---\n" + pool2)
        try h.write("egress.yaml", DaemonHarness.egress())
        try h.start()
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        let lines = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.lineServer, "7001"])
        defer { echo.stop(); lines.stop() }
        try h.waitForServer(port: 7000)
        try h.waitForServer(port: 7001, udp: false)
        #expect(try client(h, "tcp") == ["198.18.100.1"])

        // a long-lived connection runs across the change
        let steady = try Background(["ip", "netns", "exec", h.topo.pod.name, "python3", "-c", Peers.steadyClient,
                                     "198.18.2.2", "7001", "4"])
        usleep(1_000_000)
        try h.write("egress.yaml", DaemonHarness.egress(pool: "second"))
        try waitUntil("new flows use the new pool") { try self.client(h, "udp") == ["198.18.100.9"] }
        while steady.isRunning { usleep(100_000) }
        let out = steady.stop()
        #expect(steady.process.terminationStatus == 0, "live connection lost answers: \(out)")
        #expect(out.contains("peers 198.18.100.1\n"), "the live flow kept its NAT address: \(out)")
        #expect(try client(h, "tcp") == ["198.18.100.9"])
        let st = try #require(h.status())
        #expect(st.egressNATs["team-a/partners"]?.addresses == ["198.18.100.9"])
        #expect(st.allocations.contains { $0.pool == "tenants" && $0.releasedAt != nil }, "old allocation drains")
    }

    @Test func establishedConnectionSurvivesKill9AndRestart() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        try h.write("all.yaml", DaemonHarness.pool + "\n---\n" + DaemonHarness.egress())
        try h.start()
        let lines = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.lineServer, "7001"])
        defer { lines.stop() }
        try h.waitForServer(port: 7001, udp: false)
        let firstProgram = try #require(h.status()?.interfaces.first?.programID)
        let steady = try Background(["ip", "netns", "exec", h.topo.pod.name, "python3", "-c", Peers.steadyClient,
                                     "198.18.2.2", "7001", "5"])
        usleep(1_000_000)
        h.kill9()
        usleep(1_000_000)  // the datapath runs on with no daemon
        try h.start()
        while steady.isRunning { usleep(100_000) }
        let out = steady.stop()
        #expect(steady.process.terminationStatus == 0, "connection broke across kill -9 and restart: \(out)")
        #expect(out.contains("peers 198.18.100.1\n"))
        let st = try #require(h.status())
        #expect(st.interfaces.allSatisfy { $0.programID != firstProgram }, "the new instance swapped in its program")
        #expect(st.egressNATs["team-a/partners"]?.addresses == ["198.18.100.1"], "allocation kept across restart")
        let daemonLog = h.log()
        #expect(daemonLog.contains("adopted pinned maps"), "\(daemonLog)")
        #expect(daemonLog.contains("XDP replaced"))
    }

    @Test func gcRemovesIdleFlowsAndFreesTheirPorts() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        try h.write("all.yaml", DaemonHarness.pool + "\n---\n" + DaemonHarness.egress())
        let cfg = "\(h.work)/xdpnatd.yaml"
        try "timeouts: {udp: 1, udpUnreplied: 1, icmp: 1}\ngcInterval: 0.5\n".write(toFile: cfg, atomically: true, encoding: .utf8)
        try h.start(["--config", cfg])
        // unanswered UDP: nothing listens on 9999
        try h.topo.pod.exec("python3", "-c", """
        import socket
        for p in range(40000, 40010):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", p))
            s.sendto(b"x", ("198.18.2.2", 9999))
        """)
        #expect(Int(try h.cli("ct", "count", "--proto", "udp").trimmingCharacters(in: .whitespacesAndNewlines)) == 10)
        try waitUntil("GC expired the idle flows and released their ports", seconds: 15) {
            let n = Int(try h.cli("ct", "count").trimmingCharacters(in: .whitespacesAndNewlines))
            let stats = try JSONSerialization.jsonObject(with: Data(try h.cli("ct", "stats", "-o", "json").utf8)) as? [String: Any]
            let ports = stats?["portsInUseByNATIP"] as? [String: Int] ?? ["?": 1]
            return n == 0 && ports.isEmpty
        }
        let gc = try #require(h.status()?.gc)
        #expect(gc.liveFlows == 0)
    }

    @Test func metricsEndpointReportsDatapathAndDaemon() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        try h.write("all.yaml", DaemonHarness.pool + "\n---\n" + DaemonHarness.egress())
        try h.start()
        try h.topo.pod.exec("ping", "-c", "2", "-i", "0.2", "198.18.2.2")
        let body = try h.topo.gw.exec("curl", "-sf", "http://127.0.0.1:9469/metrics")
        func value(_ series: String) -> Double? {
            body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect((value("xdpnat_datapath_packets_total{counter=\"snat_new_flow\"}") ?? 0) >= 1)
        #expect((value("xdpnat_datapath_packets_total{counter=\"reply_hit\"}") ?? 0) >= 2)
        #expect(value("xdpnat_config_reloads_total") ?? 0 >= 1)
        #expect(value("xdpnat_egressnat_ready{namespace=\"team-a\",name=\"partners\",reason=\"Allocated\"}") == 1)
        #expect(value("xdpnat_conntrack_capacity_flows") == 65536)
        #expect(body.contains("xdpnat_pool_units{pool=\"tenants\",kind=\"used\"} 1"))
        #expect(try h.topo.gw.exec("curl", "-sf", "http://127.0.0.1:9469/healthz") == "ok\n")
    }

    @Test func badManifestIsReportedAndTheLastGoodConfigurationStays() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        try h.write("pool.yaml", DaemonHarness.pool)
        try h.write("egress.yaml", DaemonHarness.egress())
        try h.start()
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { echo.stop() }
        #expect(try client(h, "udp") == ["198.18.100.1"])
        let reloads = try #require(h.status()?.reloads)
        try h.write("egress.yaml", DaemonHarness.egress(extra: ", destinations: [\"198.18.2.0/33\"]"))
        try waitUntil("reload") { (h.status()?.reloads ?? 0) > reloads }
        let st = try #require(h.status())
        let err = try #require(st.manifestErrors.first)
        #expect(err.contains("egress.yaml") && err.contains("EgressNAT team-a/partners") && err.contains("spec.destinations[0]"), "\(err)")
        #expect(st.egressNATs["team-a/partners"]?.conditions?.first?.reason == "Allocated")
        #expect(try client(h, "udp") == ["198.18.100.1"], "still translated")
    }

    @Test func allocationIsFreedWhenItsGracePeriodEndsWithoutAnotherChange() throws {
        let h = try DaemonHarness()
        defer { h.close() }
        try h.write("pools.yaml", DaemonHarness.pool)
        try h.write("egress.yaml", DaemonHarness.egress())
        try h.start(["--grace-period", "2"])
        try waitUntil("allocated") { h.status()?.allocations.count == 1 }
        try FileManager.default.removeItem(atPath: "\(h.manifests)/egress.yaml")
        try waitUntil("released, draining") { h.status()?.allocations.first?.releasedAt != nil }
        try waitUntil("freed once the grace period is over") { h.status()?.allocations.isEmpty == true }
        #expect(h.status()?.pools.first?.usedUnits == 0)
        #expect(h.log().contains("allocation released"))
    }

    @Test func refusesToStartWithBadSettings() throws {
        try Privilege.check()
        func run(_ args: [String]) -> (Int32, String) { Shell.status([Binaries.daemon, "run"] + args) }
        let (c1, o1) = run([])
        #expect(c1 != 0 && o1.contains("no --interface"))
        let (c2, o2) = run(["--interface", "lo", "--ct-flows", "5"])
        #expect(c2 != 0 && o2.contains("ctFlows must be between"))
        let cfg = "/tmp/xdpnatd-bad-\(getpid()).yaml"
        try "interfaces: [lo]\nctFlow: 5\n".write(toFile: cfg, atomically: true, encoding: .utf8)
        defer { unlink(cfg) }
        let (c3, o3) = run(["--config", cfg])
        #expect(c3 != 0 && o3.contains("ctFlow") && o3.contains("unknown setting"), "\(o3)")
        // Kubernetes mode: credentials are checked before anything is attached
        let (c4, o4) = run(["--interface", "xnt-absent0", "--source", "k8s"])
        #expect(c4 != 0 && o4.contains("--source") && o4.contains("kubernetes"), "\(o4)")
        let (c5, o5) = run(["--interface", "xnt-absent0", "--source", "kubernetes", "--kubeconfig", "/nonexistent/kubeconfig"])
        #expect(c5 != 0 && o5.contains("kubeconfig /nonexistent/kubeconfig: cannot be read"), "\(o5)")
        let (c6, o6) = run(["--interface", "xnt-absent0", "--source", "kubernetes", "--lease-duration", "1"])
        #expect(c6 != 0 && o6.contains("leaseDuration must be between 3 and 300"), "\(o6)")
    }
}
