import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

/// Every CLI command against a running daemon with known flows.
@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct CLITests {
    /// A daemon with one TCP, three UDP and one ICMP flow from team-a's pod.
    func setUp() throws -> (DaemonHarness, Background) {
        let h = try DaemonHarness()
        try h.write("all.yaml", DaemonHarness.pool + "\n---\n" + DaemonHarness.egress() + """

        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: team-a}
        """)
        try h.start()
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        // clients retry with new flows until the server listens: wait for it, so the flows are exactly known
        try waitUntil("echo server listening") {
            let tcp = try h.topo.srv.exec("ss", "-ltn"), udp = try h.topo.srv.exec("ss", "-lun")
            return tcp.contains(":7000") && udp.contains(":7000")
        }
        try h.topo.pod.exec("python3", "-c", Peers.client, "tcp", "198.18.2.2", "7000", "1")
        try h.topo.pod.exec("python3", "-c", """
        import socket
        for p in (41001, 41002, 41003):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", p))
            s.settimeout(2)
            s.sendto(b"x", ("198.18.2.2", 7000))
            s.recv(100)
        """)
        try h.topo.pod.exec("ping", "-c", "1", "198.18.2.2")
        return (h, echo)
    }

    func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func listFiltersAndFormats() throws {
        let (h, echo) = try setUp()
        defer { echo.stop(); h.close() }

        let all = try jsonLines(try h.cli("ct", "list", "-o", "json"))
        #expect(all.count == 5)
        let udp = try jsonLines(try h.cli("ct", "list", "-o", "json", "--proto", "udp"))
        #expect(udp.count == 3)
        for f in udp {
            #expect(f["proto"] as? String == "udp")
            #expect(f["namespace"] as? String == "team-a")
            #expect(f["pod"] as? String == "team-a/api-0")
            #expect(f["src"] as? String == "198.18.1.2")
            #expect(f["dst"] as? String == "198.18.2.2" && f["dport"] as? Int == 7000)
            #expect(f["nat_ip"] as? String == "198.18.100.1")
            #expect(f["assured"] as? Bool == true)
            #expect((f["reply_packets"] as? Int ?? 0) >= 1)
            for key in ["sport", "nat_port", "orig_bytes", "reply_bytes", "created", "last_seen", "idle_seconds", "timeout_seconds", "policy_id"] {
                #expect(f[key] != nil, "field \(key)")
            }
        }
        #expect(Set(udp.compactMap { $0["sport"] as? Int }) == [41001, 41002, 41003])
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--src-port", "41002")).count == 1)
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--state", "TIME_WAIT")).allSatisfy { $0["proto"] as? String == "tcp" })
        #expect(try h.cli("ct", "list", "-o", "json", "-n", "team-b").isEmpty)
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--pod", "api-0")).count == 5)
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--dst", "198.18.3.0/24")).isEmpty)
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--nat-ip", "198.18.100.1", "--proto", "icmp")).count == 1)
        #expect(try jsonLines(try h.cli("ct", "list", "-o", "json", "--sort", "bytes", "--limit", "2")).count == 2)

        let ct = try h.cli("ct", "list", "-o", "conntrack", "--proto", "udp", "--src-port", "41001")
        let pattern = #/^udp      17 \d+ src=198\.18\.1\.2 dst=198\.18\.2\.2 sport=41001 dport=7000 packets=1 bytes=29 src=198\.18\.2\.2 dst=198\.18\.100\.1 sport=7000 dport=\d+ packets=1 bytes=\d+ \[ASSURED\] mark=0 use=1$/#
        #expect(ct.split(separator: "\n").count == 1)
        #expect(ct.trimmingCharacters(in: .newlines).wholeMatch(of: pattern) != nil, "\(ct)")

        let table = try h.cli("ct", "list")
        #expect(table.hasPrefix("PROTO  STATE"))
        #expect(table.split(separator: "\n").count == 6)
        #expect(table.contains("team-a") && table.contains("api-0") && table.contains("198.18.100.1:"))
        #expect(try h.cli("ct", "count", "--proto", "tcp") == "1\n")
    }

    @Test func statsWhoisStatusFlush() throws {
        let (h, echo) = try setUp()
        defer { echo.stop(); h.close() }

        let stats = try #require(try JSONSerialization.jsonObject(with: Data(try h.cli("ct", "stats", "-o", "json").utf8)) as? [String: Any])
        #expect(stats["flows"] as? Int == 5)
        let counters = try #require(stats["counters"] as? [String: Int])
        #expect(counters["snat_new_flow"] == 5)
        #expect((counters["reply_hit"] ?? 0) >= 5)
        #expect((stats["flowsByState"] as? [String: Int])?["udp"] == 3)
        #expect((stats["portsInUseByNamespace"] as? [String: Int])?["team-a"] == 5)
        #expect((stats["drops"] as? [String: Int])?["drop_ct_full"] == 0)
        #expect(try h.cli("ct", "stats").contains("Drops: none"))

        let flow = try #require(try jsonLines(try h.cli("ct", "list", "-o", "json", "--src-port", "41003")).first)
        let natPort = try #require(flow["nat_port"] as? Int)
        let who = try h.cli("whois", "198.18.100.1:\(natPort)", "--proto", "udp")
        #expect(who.contains("belongs to namespace team-a"), "\(who)")
        #expect(who.contains("-> pod team-a/api-0 (198.18.1.2:41003)"), "\(who)")
        let nobody = try h.cli("whois", "198.18.100.2:20000")
        #expect(nobody.contains("was not allocated"))
        let whoJSON = try #require(try JSONSerialization.jsonObject(with: Data(try h.cli("whois", "198.18.100.1", "-o", "json").utf8)) as? [String: Any])
        #expect(whoJSON["namespace"] as? String == "team-a")
        #expect((whoJSON["flows"] as? [Any])?.count == 5)
        let past = try h.cli("whois", "198.18.100.1:25000", "--at", "2020-01-01T00:00:00Z")
        #expect(past.contains("was not allocated"))

        let status = try h.cli("status")
        #expect(status.contains("Daemon:     running"))
        #expect(status.contains("Interface:  gi") && status.contains("Interface:  ge"))
        #expect(status.contains("team-a/partners") && status.contains("Ready Allocated"))
        #expect(status.contains("Conntrack:  5 flows"))

        #expect(try h.cli("ct", "flush", "--proto", "udp") == "3 flow entries have been deleted.\n")
        #expect(try h.cli("ct", "count") == "2\n")
        #expect(try h.cli("ct", "flush") == "2 flow entries have been deleted.\n")
        #expect(try h.cli("ct", "count") == "0\n")
    }

    @Test func eventsStreamNewFlows() throws {
        let (h, echo) = try setUp()
        defer { echo.stop(); h.close() }
        let events = try Background(["ip", "netns", "exec", h.topo.gw.name, Binaries.cli, "ct", "events", "-o", "json",
                                     "--count", "1", "--timeout", "20", "--pin-dir", h.pinDir, "--state-dir", h.stateDir])
        // new flows until the listener, however slow to start, has seen one
        try waitUntil("the event arrived", seconds: 20) {
            guard events.isRunning else { return true }
            try h.topo.pod.exec("python3", "-c", Peers.client, "udp", "198.18.2.2", "7000", "1")
            usleep(300_000)
            return !events.isRunning
        }
        let out = events.stop()
        let ev = try #require(try jsonLines(out).first, "\(out)")
        #expect(ev["type"] as? String == "new")
        #expect(ev["proto"] as? String == "udp")
        #expect(ev["src"] as? String == "198.18.1.2")
        #expect(ev["nat_ip"] as? String == "198.18.100.1")
        #expect(ev["pod"] as? String == "team-a/api-0")
    }

    @Test func clearErrors() throws {
        try Privilege.check()
        let dir = "/tmp/xdpnat-cli-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ args: [String]) -> (Int32, String) { Shell.status([Binaries.cli] + args) }
        let (c1, o1) = run(["ct", "list", "--pin-dir", "\(dir)/none"])
        #expect(c1 != 0 && o1.contains("is xdpnatd running"), "\(o1)")
        let (c2, o2) = run(["ct", "list", "--proto", "sctp"])
        #expect(c2 != 0 && o2.contains("--proto must be tcp, udp or icmp"))
        let (c3, o3) = run(["whois", "198.18.100.300"])
        #expect(c3 != 0 && o3.contains("is not IP or IP:PORT"))
        let bad = "\(dir)/bad.yaml"
        try """
        apiVersion: xdpnat.io/v1alpha1
        kind: NATPool
        metadata: {name: p}
        spec: {addresses: ["198.18.100.1"], portRange: {min: 5000, max: 4000}}
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let (c4, o4) = run(["validate", "-f", bad])
        #expect(c4 == 1)
        #expect(o4.contains("\(bad): document 1 (line 1), NATPool p: spec.portRange: min (5000) is greater than max (4000)"), "\(o4)")
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../crd/examples").standardized.path
        let (c5, o5) = run(["validate", "-f", examples])
        #expect(c5 == 0 && o5.contains("ok: 2 NATPools, 1 EgressNATs"), "\(o5)")
    }
}
