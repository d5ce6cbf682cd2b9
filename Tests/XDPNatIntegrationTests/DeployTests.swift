import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

/// deploy/ says what the daemon needs; check that it is enough.
@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct DeployTests {
    static let daemonSet = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/30-daemonset.yaml").path

    /// Linux capability numbers of the names a pod spec may use.
    static let numbers = ["NET_ADMIN": 12, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "PERFMON": 38, "BPF": 39]

    static let configMap = URL(fileURLWithPath: daemonSet).deletingLastPathComponent().appendingPathComponent("20-config.yaml").path

    @Test func daemonRunsWithTheDeployedConfigAndOnlyTheCapabilitiesTheDaemonSetGrants() throws {
        let caps = try Shell.run("python3", "-c", """
        import sys, yaml
        ds = yaml.safe_load(open(sys.argv[1]))
        c = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
        print(",".join(c["drop"]) + " " + ",".join(c["add"]))
        """, Self.daemonSet).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        #expect(caps.first == "ALL", "the DaemonSet drops every capability it does not add")
        let add = caps.last!.split(separator: ",").map(String.init)
        let nums = try add.map { try #require(Self.numbers[$0], "unknown capability \($0)") }

        let api = try KubeAPIHarness()
        defer { api.close() }
        try api.applyTeamA()
        let h = try DaemonHarness()
        defer { h.close() }
        try api.join(h.topo.gw)
        let set = "-all," + add.map { "+" + $0.lowercased() }.joined(separator: ",")
        // the deployed config file, with this test's interfaces, directories and API (flags override it)
        let config = "\(h.work)/xdpnatd.yaml"
        try Shell.run("python3", "-c", """
        import sys, yaml
        cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "ConfigMap")
        open(sys.argv[2], "w").write(cm["data"]["xdpnatd.yaml"])
        """, Self.configMap, config)
        try h.start(["--config", config] + api.daemonArgs(identity: "node-1"),
                    wrapper: ["setpriv", "--bounding-set", set, "--inh-caps", "-all", "--"])
        // the daemon process really has these capabilities and no others
        let pid = try #require(h.daemon?.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let eff = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapEff:") })
        let mask = UInt64(eff.split(separator: "\t").last!.trimmingCharacters(in: .whitespaces), radix: 16)
        #expect(mask == nums.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }, "\(eff)")

        try waitUntil("programmed") { h.status()?.sources.contains { $0.cidr == "198.18.1.2/32" } == true }
        let srv = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { _ = srv.stop() }
        try h.waitForServer(port: 7000)
        let seen = try h.topo.pod.exec("python3", "-c", Peers.client, "udp", h.topo.server, "7000", "1")
        #expect(seen.hasPrefix("198.18.100.1:"), "translated by the capability-limited daemon: \(seen)")

        // and none of them is superfluous: without any one of them the daemon cannot start
        h.kill9()
        for missing in add {
            let fewer = "-all," + add.filter { $0 != missing }.map { "+" + $0.lowercased() }.joined(separator: ",")
            let (rc, out) = Shell.status(["timeout", "30", "ip", "netns", "exec", h.topo.gw.name,
                                          "setpriv", "--bounding-set", fewer, "--inh-caps", "-all", "--",
                                          Binaries.daemon, "run", "--manifests", h.manifests, "--state-dir", h.stateDir,
                                          "--pin-dir", "\(h.work)/bpf/without-\(missing.lowercased())", "--interface", "gi",
                                          "--interface", "ge", "--metrics-address", "off", "--ct-flows", "65536",
                                          "--bindings", "65536"])
            #expect(rc == 1, "without \(missing): exit \(rc)")
            #expect(out.contains("cannot start"), "without \(missing): \(out)")
        }
    }
}
