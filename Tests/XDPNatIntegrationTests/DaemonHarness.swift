import Foundation
import Glibc
import Testing
import XDPNatModel
import XDPNatTestSupport

/// The built executables (next to the test bundle).
enum Binaries {
    static let dir: String = {
        if let d = ProcessInfo.processInfo.environment["XDPNAT_BIN_DIR"] { return d }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("xdpnatd").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }()
    static var daemon: String { "\(dir)/xdpnatd" }
    static var cli: String { "\(dir)/xdpnat" }
}

/// A gateway topology with xdpnatd running in the gateway namespace, its own
/// bpffs, state and manifest directories; everything removed on `close()`.
final class DaemonHarness: @unchecked Sendable {
    let topo: GatewayTopology
    let work: String
    var daemon: Background?
    private var closed = false
    nonisolated(unsafe) static var counter = 0

    var manifests: String { "\(work)/manifests" }
    var stateDir: String { "\(work)/state" }
    var pinDir: String { "\(work)/bpf/xdpnat" }

    static let pool = """
    apiVersion: xdpnat.io/v1alpha1
    kind: NATPool
    metadata: {name: tenants}
    spec: {addresses: ["198.18.100.1", "198.18.100.2"], portRange: {min: 20000, max: 29999}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: api-0, namespace: team-a, labels: {app: api}}
    status: {podIP: 198.18.1.2, phase: Running}
    """

    static func egress(namespace: String = "team-a", pool: String = "tenants", extra: String = "") -> String {
        """
        apiVersion: xdpnat.io/v1alpha1
        kind: EgressNAT
        metadata: {name: partners, namespace: \(namespace)}
        spec: {poolRef: \(pool)\(extra)}
        """
    }

    init(routed: Bool = false) throws {
        try Privilege.check()
        topo = try GatewayTopology(routed: routed)
        Self.counter += 1
        work = "/run/xdpnat-test-\(getpid())-\(Self.counter)"
        try FileManager.default.createDirectory(atPath: "\(work)/bpf", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try Shell.run("mount", "-t", "bpf", "bpf", "\(work)/bpf")
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        if let d = daemon, d.isRunning { kill(d.pid, SIGKILL); d.stop() }
        _ = try? Shell.run("umount", "\(work)/bpf")
        topo.close()
        _ = try? FileManager.default.removeItem(atPath: work)
    }

    func write(_ name: String, _ yaml: String) throws {
        // write then rename: the daemon never reads a half-written file
        let tmp = "\(work)/.\(name).tmp"
        try yaml.write(toFile: tmp, atomically: false, encoding: .utf8)
        guard rename(tmp, "\(manifests)/\(name)") == 0 else { throw Shell.Failure(command: ["rename"], status: errno, output: "") }
    }

    func status() -> DaemonStatus? { try? JSONFile.read(DaemonStatus.self, from: "\(stateDir)/status.json") }

    /// Starts xdpnatd and waits until it has programmed the datapath.
    /// `wrapper`: a command the daemon runs under (e.g. setpriv to limit its capabilities).
    func start(_ extra: [String] = [], wrapper: [String] = []) throws {
        let before = status()?.startedAt
        daemon = try Background(["ip", "netns", "exec", topo.gw.name] + wrapper + [Binaries.daemon, "run",
                                 "--manifests", manifests, "--state-dir", stateDir, "--pin-dir", pinDir,
                                 "--interface", "gi", "--interface", "ge", "--gc-interval", "1",
                                 "--ct-flows", "65536", "--bindings", "65536"] + extra)
        try waitUntil("xdpnatd started") {
            guard let s = self.status(), s.startedAt != before, s.reloads >= 1 else { return false }
            return s.interfaces.count == 2
        }
    }

    /// Waits until something listens on `port` (TCP and UDP) in the server namespace.
    func waitForServer(port: Int, udp: Bool = true) throws {
        try waitUntil("server listening on \(port)") {
            let tcp = try self.topo.srv.exec("ss", "-ltn")
            let u = udp ? try self.topo.srv.exec("ss", "-lun") : ":\(port) "
            return tcp.contains(":\(port) ") && u.contains(":\(port) ")
        }
    }

    func kill9() {
        guard let d = daemon else { return }
        kill(d.pid, SIGKILL)
        d.stop()
    }

    /// Runs the CLI in the gateway namespace against this daemon's pins and state.
    @discardableResult
    func cli(_ args: String...) throws -> String {
        try topo.gw.exec([Binaries.cli] + args + ["--pin-dir", pinDir, "--state-dir", stateDir])
    }

    func log() -> String { daemon?.stop() ?? "" }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func waitUntil(_ what: String, seconds: Double = 20, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(50_000)
    }
    throw Shell.Failure(command: ["wait"], status: -1, output: "timed out waiting for: \(what)")
}
