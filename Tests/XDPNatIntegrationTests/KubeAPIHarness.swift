import Foundation
import Glibc
import XDPNatModel
import XDPNatTestSupport

/// The stand-in API server (Tests/kube/apiserver.py) over TLS in a namespace of
/// its own, on a bridge that daemon gateways join:
///
///     [api] br0 198.18.250.1 -- ka 198.18.250.N [gw of each DaemonHarness]
final class KubeAPIHarness: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("kube/apiserver.py").path
    static let address = "198.18.250.1"
    let ns: NetNS
    let work: String
    let token = "xdpnat-test-token-\(UInt32.random(in: 0...UInt32.max))"
    var server: Background?
    var joined = 1
    private var closed = false

    var url: String { "https://\(Self.address):6443" }
    var caFile: String { "\(work)/ca.pem" }
    var kubeconfig: String { "\(work)/kubeconfig" }

    init() throws {
        try Privilege.check()
        ns = try NetNS("xnt-api")
        work = "/run/xdpnat-api-\(ns.name)"
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try ns.exec("ip", "link", "add", "br0", "type", "bridge")
            try ns.exec("ip", "addr", "add", "\(Self.address)/24", "dev", "br0")
            try ns.exec("ip", "link", "set", "br0", "up")
            // a self-signed certificate for the server's address: the daemon verifies it against ca.pem
            try Shell.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", "\(work)/key.pem", "-out", caFile, "-days", "2", "-subj", "/CN=xdpnat-test-apiserver",
                          "-addext", "subjectAltName=IP:\(Self.address)")
            try """
            apiVersion: v1
            kind: Config
            current-context: test
            clusters:
            - name: stand-in
              cluster: {server: "\(url)", certificate-authority: ca.pem}
            users:
            - name: xdpnatd
              user: {token: \(token)}
            contexts:
            - name: test
              context: {cluster: stand-in, user: xdpnatd, namespace: xdpnat-system}
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            server = try Background(["ip", "netns", "exec", ns.name, "python3", Self.script, "--listen", "\(Self.address):6443",
                                     "--token", token, "--tls-cert", caFile, "--tls-key", "\(work)/key.pem",
                                     "--bookmark-seconds", "1"])
            try waitUntil("stand-in API server listening") { try self.ns.exec("ss", "-ltn").contains("\(Self.address):6443") }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        if let s = server, s.isRunning { kill(s.pid, SIGKILL); _ = s.stop() }
        ns.close()
        _ = try? FileManager.default.removeItem(atPath: work)
    }

    /// Connects a daemon's gateway namespace to the API's bridge.
    func join(_ gw: NetNS) throws {
        joined += 1
        let port = "kp\(joined)"
        try gw.link("ka", "198.18.250.\(joined)/24", to: ns, port, nil)
        try ns.exec("ip", "link", "set", port, "master", "br0")
        try ns.exec("ip", "link", "set", port, "up")
    }

    /// The usual cluster: pool `tenants`, pod team-a/api-0 at 198.18.1.2, EgressNAT team-a/partners.
    func applyTeamA() throws {
        try apply(Self.pool(), Self.pod("team-a", "api-0", ip: "198.18.1.2"), Self.egress("team-a"))
    }

    /// A gateway joined to this server, with xdpnatd running in Kubernetes mode.
    func daemon(_ identity: String = "node-1", leaseDuration: Int = 3, extra: [String] = [],
                wrapper: [String] = []) throws -> DaemonHarness {
        let h = try DaemonHarness()
        do {
            try join(h.topo.gw)
            try h.start(extra + daemonArgs(identity: identity, leaseDuration: leaseDuration), wrapper: wrapper)
        } catch {
            h.close()
            throw error
        }
        return h
    }

    /// Daemon flags for Kubernetes mode against this server.
    func daemonArgs(identity: String, leaseDuration: Int = 3) -> [String] {
        ["--source", "kubernetes", "--kubeconfig", kubeconfig, "--identity", identity,
         "--lease-duration", "\(leaseDuration)"]
    }

    /// A test-control request (curl inside the API namespace); returns the body.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: String? = nil) throws -> String {
        var args = ["curl", "-sS", "--cacert", caFile, "-X", method, "\(url)\(path)"]
        if let body { args += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        return try Shell.run(["ip", "netns", "exec", ns.name] + args, input: body)
    }

    /// Creates or replaces objects (JSON texts with apiVersion, kind and metadata).
    func apply(_ objects: String...) throws {
        try control("POST", "/_test/objects", "[" + objects.joined(separator: ",") + "]")
    }

    func delete(kind: String, namespace: String? = nil, name: String) throws {
        try control("POST", "/_test/delete", #"{"kind":"\#(kind)","namespace":"\#(namespace ?? "")","name":"\#(name)"}"#)
    }

    /// Every object the server holds, by kind.
    func state() throws -> [String: [[String: Any]]] {
        let data = Data(try control("GET", "/_test/state").utf8)
        return (try JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]]) ?? [:]
    }

    func object(_ kind: String, _ name: String, namespace: String? = nil) throws -> [String: Any]? {
        try state()[kind]?.first {
            let m = $0["metadata"] as? [String: Any]
            return m?["name"] as? String == name && (namespace == nil || m?["namespace"] as? String == namespace)
        }
    }

    func requests() throws -> [String] {
        (try JSONSerialization.jsonObject(with: Data(try control("GET", "/_test/requests").utf8)) as? [String]) ?? []
    }

    // MARK: objects

    static func pool(_ name: String = "tenants", addresses: [String] = ["198.18.100.1", "198.18.100.2"]) -> String {
        let list = addresses.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"apiVersion":"xdpnat.io/v1alpha1","kind":"NATPool","metadata":{"name":"\#(name)"},"spec":{"addresses":[\#(list)],"portRange":{"min":20000,"max":29999}}}"#
    }

    static func egress(_ namespace: String, pool: String = "tenants") -> String {
        #"{"apiVersion":"xdpnat.io/v1alpha1","kind":"EgressNAT","metadata":{"name":"partners","namespace":"\#(namespace)"},"spec":{"poolRef":"\#(pool)"}}"#
    }

    static func pod(_ namespace: String, _ name: String, ip: String, phase: String = "Running") -> String {
        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":{"app":"api"}},"spec":{"containers":[{"name":"c","image":"i"}]},"status":{"phase":"\#(phase)","podIP":"\#(ip)","podIPs":[{"ip":"\#(ip)"}]}}"#
    }

    static func namespace(_ name: String) -> String {
        #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(name)","labels":{"tier":"tenant"}}}"#
    }
}

extension DaemonStatus {
    /// NAT address of the policy serving a namespace's EgressNAT `partners`.
    func natIP(of namespace: String) -> String? {
        policies.first { $0.owner == "\(namespace)/partners" }?.natIP.description
    }
}
