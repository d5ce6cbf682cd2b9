import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

/// Real programs no one here wrote (nginx, curl, iperf3, ping, the kernel's
/// own ICMP) through the NAT.
@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct EndToEndTests {
    static let pods = """
    apiVersion: v1
    kind: Namespace
    metadata: {name: team-a}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: team-b}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: a-0, namespace: team-a}
    status: {podIP: 198.18.1.2, phase: Running}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: a-1, namespace: team-a}
    status: {podIP: 198.18.1.4, phase: Running}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: a-2, namespace: team-a}
    status: {podIP: 198.18.1.5, phase: Running}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: a-3, namespace: team-a}
    status: {podIP: 198.18.1.6, phase: Running}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: b-0, namespace: team-b}
    status: {podIP: 198.18.1.3, phase: Running}
    """

    /// Both tenants with an EgressNAT; extra pod addresses on the pod host.
    func harness(routed: Bool = false, extra: [String] = []) throws -> DaemonHarness {
        let h = try DaemonHarness(routed: routed)
        for ip in ["198.18.1.3", "198.18.1.4", "198.18.1.5", "198.18.1.6"] {
            try h.topo.pod.exec("ip", "addr", "add", "\(ip)/24", "dev", "p0")
        }
        try h.write("all.yaml", DaemonHarness.pool + "\n---\n" + DaemonHarness.egress() + "\n---\n"
                    + DaemonHarness.egress(namespace: "team-b") + "\n---\n" + Self.pods)
        try h.start(extra)
        return h
    }

    func nginx(_ h: DaemonHarness) throws -> Background {
        let dir = "\(h.work)/nginx"
        try FileManager.default.createDirectory(atPath: "\(dir)/www", withIntermediateDirectories: true)
        try "hello <!--# echo var=\"remote_addr\" -->\n".write(toFile: "\(dir)/www/hello.txt", atomically: true, encoding: .utf8)
        try """
        worker_processes 1;
        daemon off;
        pid \(dir)/nginx.pid;
        error_log \(dir)/error.log;
        events { worker_connections 256; }
        http {
          access_log \(dir)/access.log;
          client_body_temp_path \(dir); proxy_temp_path \(dir); fastcgi_temp_path \(dir);
          uwsgi_temp_path \(dir); scgi_temp_path \(dir);
          server {
            listen \(h.topo.server):80;
            root \(dir)/www;
            location / { allow 198.18.100.0/24; deny all; ssi on; ssi_types text/plain; default_type text/plain; index hello.txt; }
          }
        }
        """.write(toFile: "\(dir)/nginx.conf", atomically: true, encoding: .utf8)
        let b = try Background(["ip", "netns", "exec", h.topo.srv.name, "nginx", "-c", "\(dir)/nginx.conf"])
        try h.waitForServer(port: 80, udp: false)
        return b
    }

    func curl(_ h: DaemonHarness, from src: String) throws -> String {
        try h.topo.pod.exec("curl", "-s", "-m", "5", "--interface", src, "-w", " %{http_code}", "http://\(h.topo.server)/")
            .replacingOccurrences(of: "\n", with: "").trimmingCharacters(in: .whitespaces)
    }

    @Test func curlToACLProtectedNginxFromStableAddressesPerNamespace() throws {
        let h = try harness()
        defer { h.close() }
        let web = try nginx(h)
        defer { web.stop() }
        // two namespaces never share an Exclusive address, and each keeps its own
        for _ in 0..<3 {
            #expect(try curl(h, from: "198.18.1.2") == "hello 198.18.100.1 200")
            #expect(try curl(h, from: "198.18.1.4") == "hello 198.18.100.1 200")
            #expect(try curl(h, from: "198.18.1.3") == "hello 198.18.100.2 200")
        }
        // a pod of no EgressNAT's namespace is not translated and the ACL refuses it
        try h.topo.pod.exec("ip", "addr", "add", "198.18.1.99/24", "dev", "p0")
        #expect(try curl(h, from: "198.18.1.99").hasSuffix(" 403"))
        let st = try #require(h.status())
        let ips = st.allocations.flatMap { $0.units.map(\.address) }
        #expect(Set(ips).count == ips.count && ips.count == 2)
    }

    @Test func iperf3TCPAndUDP() throws {
        let h = try harness()
        defer { h.close() }
        for (args, name) in [([String](), "tcp"), (["-u", "-b", "20M"], "udp")] {
            let server = try Background(["ip", "netns", "exec", h.topo.srv.name, "iperf3", "-s", "-1", "-J", "-B", h.topo.server])
            try h.waitForServer(port: 5201, udp: false)
            try h.topo.pod.exec(["iperf3", "-c", h.topo.server, "-t", "1", "-J"] + args)
            while server.isRunning { usleep(50_000) }
            let json = try #require(try JSONSerialization.jsonObject(with: Data(server.stop().utf8)) as? [String: Any])
            let connected = ((json["start"] as? [String: Any])?["connected"] as? [[String: Any]])?.first
            #expect(connected?["remote_host"] as? String == "198.18.100.1", "\(name): server saw \(connected ?? [:])")
            let sum = (json["end"] as? [String: Any]).flatMap { ($0["sum_received"] ?? $0["sum"]) as? [String: Any] }
            #expect(((sum?["bytes"] as? Int) ?? 0) > 0, "\(name): data arrived")
        }
    }

    @Test func udpRequestResponseAndPing() throws {
        let h = try harness()
        defer { h.close() }
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { echo.stop() }
        try h.waitForServer(port: 7000)
        let out = try h.topo.pod.exec("python3", "-c", Peers.requestLoop, "udp", h.topo.server, "7000", "20", "0", "198.18.1.2")
        #expect(out == "ok 20 failed 0 peers 198.18.100.1\n")
        let ping = try h.topo.pod.exec("ping", "-c", "3", "-i", "0.2", "-I", "198.18.1.3", h.topo.server)
        #expect(ping.contains("3 received"))
        let flows = try h.cli("ct", "list", "-o", "json", "--proto", "icmp")
        #expect(flows.contains("\"nat_ip\":\"198.18.100.2\""))
    }

    @Test func icmpErrorsFromARouterReachThePodTranslated() throws {
        let h = try harness(routed: true)
        defer { h.close() }
        // time exceeded: TTL 2 reaches the router with TTL 1 (the gateway decrements it)
        let ttl = try h.topo.pod.sh("ping -c 1 -W 2 -t 2 \(h.topo.server) || true")
        #expect(ttl.contains("From 198.18.2.254 icmp_seq=1 Time to live exceeded"), "\(ttl)")
        // the same for UDP, read from the socket's error queue: the kernel only matches
        // it to the socket if the quoted UDP header was translated back
        let udp = try h.topo.pod.exec("python3", "-c", """
        import socket, struct
        IP_RECVERR = 11  # linux/in.h; Python does not export it
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_IP, socket.IP_TTL, 2)
        s.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        s.bind(("198.18.1.2", 45555))
        s.sendto(b"probe", ("\(h.topo.server)", 33434))
        s.settimeout(3)
        import select
        select.select([s], [], [], 3)
        data, anc, flags, addr = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        for level, kind, body in anc:
            if level == socket.SOL_IP and kind == IP_RECVERR:
                err, origin, typ, code = struct.unpack_from("=IBBB", body)
                offender = socket.inet_ntoa(body[20:24])
                print(origin, typ, code, offender)
        """)
        #expect(udp == "2 11 0 198.18.2.254\n", "ICMP origin, time exceeded, from the router: \(udp)")
        // fragmentation needed: the router's far side has MTU 1280
        let df = try h.topo.pod.sh("ping -c 1 -W 2 -M do -s 1400 \(h.topo.server) || true")
        #expect(df.contains("Frag needed") && df.contains("mtu = 1280"), "\(df)")
        // and path-MTU discovery works for TCP: an upload through the small hop completes
        let sink = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", """
        import socket
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", 7100)); t.listen(1)
        c, _ = t.accept(); n = 0
        while True:
            b = c.recv(65536)
            if not b: break
            n += len(b)
        c.sendall(str(n).encode()); c.close()
        """])
        defer { sink.stop() }
        try h.waitForServer(port: 7100, udp: false)
        try h.topo.pod.exec("ip", "route", "flush", "cache")
        let up = try h.topo.pod.exec("python3", "-c", """
        import socket
        s = socket.create_connection(("\(h.topo.server)", 7100), timeout=10, source_address=("198.18.1.4", 0))
        s.sendall(b"x" * 300000); s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())
        """)
        #expect(up == "300000\n")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(try h.cli("ct", "stats", "-o", "json").utf8)) as? [String: Any])
        #expect(((stats["counters"] as? [String: Int])?["icmp_error_in"] ?? 0) >= 3)
    }

    @Test func tenThousandConcurrentFlowsEachReplyReachesItsSocket() throws {
        let h = try harness()
        defer { h.close() }
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { echo.stop() }
        try h.waitForServer(port: 7000)
        let out = try h.topo.pod.exec("python3", "-c", """
        import socket, resource, json
        resource.setrlimit(resource.RLIMIT_NOFILE, (12000, 12000))
        pods = {"198.18.1.2": "198.18.100.1", "198.18.1.4": "198.18.100.1", "198.18.1.5": "198.18.100.1",
                "198.18.1.6": "198.18.100.1", "198.18.1.3": "198.18.100.2"}
        socks = []
        for ip in pods:
            for _ in range(2000):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((ip, 0)); s.setblocking(False)
                socks.append(s)
        answers = {}
        for attempt in range(5):
            missing = [s for s in socks if s not in answers]
            for i in range(0, len(missing), 250):
                batch = missing[i:i + 250]
                for s in batch: s.sendto(b"hi", ("198.18.2.2", 7000))
                import select, time
                deadline = time.time() + 2
                pending = {s.fileno(): s for s in batch}
                p = select.poll()
                for fd in pending: p.register(fd, select.POLLIN)
                while pending and time.time() < deadline:
                    for fd, _ in p.poll(200):
                        s = pending.pop(fd); p.unregister(fd)
                        answers[s] = s.recv(100).decode()
        wrong = [a for s, a in answers.items() if a.split(":")[0] != pods[s.getsockname()[0]]]
        ports = {a for a in answers.values()}
        print(json.dumps({"sockets": len(socks), "answered": len(answers), "wrong_nat_ip": len(wrong), "distinct_nat_endpoints": len(ports)}))
        """)
        let r = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Int])
        #expect(r["sockets"] == 10000)
        #expect(r["answered"] == 10000, "every flow got its reply back: \(r)")
        #expect(r["wrong_nat_ip"] == 0)
        #expect(r["distinct_nat_endpoints"] == 10000, "each pod endpoint has its own NAT endpoint")
        #expect(Int(try h.cli("ct", "count", "--proto", "udp").trimmingCharacters(in: .newlines)) == 10000)
    }

    @Test func daemonRestartUnderLoadFailsNoRequest() throws {
        let h = try harness()
        defer { h.close() }
        let echo = try Background(["ip", "netns", "exec", h.topo.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { echo.stop() }
        try h.waitForServer(port: 7000)
        let load = try Background(["ip", "netns", "exec", h.topo.pod.name, "python3", "-c", Peers.requestLoop,
                                   "tcp", h.topo.server, "7000", "150", "0.03", "198.18.1.2"])
        usleep(1_000_000)
        if let d = h.daemon { kill(d.pid, SIGTERM) }  // graceful stop: the datapath stays
        try waitUntil("daemon stopped") { !(h.daemon?.isRunning ?? false) }
        usleep(800_000)
        try h.start()
        while load.isRunning { usleep(100_000) }
        let out = load.stop()
        #expect(load.process.terminationStatus == 0, "\(out)")
        #expect(out.hasPrefix("ok 150 failed 0 peers 198.18.100.1\n"), "\(out)")
    }
}
