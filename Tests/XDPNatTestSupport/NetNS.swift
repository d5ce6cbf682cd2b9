import Foundation
import CBPFSupport
import Glibc

/// A network namespace made for one test, deleted when it is closed or
/// released. Names are `prefix-pid-n`, unique across concurrent tests and runs.
public final class NetNS: @unchecked Sendable {
    public let name: String
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()
    private var closed = false

    public init(_ prefix: String) throws {
        let n = Self.lock.withLock { Self.counter += 1; return Self.counter }
        name = "\(prefix)-\(getpid())-\(n)"
        try Shell.run("ip", "netns", "add", name)
        try exec("ip", "link", "set", "lo", "up")
    }

    deinit { close() }

    /// Deletes the namespace (and every interface in it).
    public func close() {
        guard !closed else { return }
        closed = true
        _ = try? Shell.run("ip", "netns", "delete", name)
    }

    /// Runs a program inside the namespace.
    @discardableResult
    public func exec(_ args: String...) throws -> String { try Shell.run(["ip", "netns", "exec", name] + args) }

    @discardableResult
    public func exec(_ args: [String]) throws -> String { try Shell.run(["ip", "netns", "exec", name] + args) }

    @discardableResult
    public func sh(_ script: String) throws -> String { try exec("sh", "-c", script) }

    /// Runs `body` on the calling thread while it is inside the namespace
    /// (namespaces are per thread). `body` must not suspend.
    public func run<T>(_ body: () throws -> T) throws -> T {
        let here = open("/proc/thread-self/ns/net", O_RDONLY)
        let there = open("/run/netns/\(name)", O_RDONLY)
        defer {
            if here >= 0 { Glibc.close(here) }
            if there >= 0 { Glibc.close(there) }
        }
        guard here >= 0, there >= 0 else { throw Shell.Failure(command: ["setns", name], status: errno, output: "open ns") }
        guard xdpnat_setns_net(there) == 0 else {
            throw Shell.Failure(command: ["setns", name], status: errno, output: String(cString: strerror(errno)))
        }
        defer { xdpnat_setns_net(here) }
        return try body()
    }

    /// Creates a veth pair with one end here and the other in `peer`, with addresses.
    public func link(_ localName: String, _ localCIDR: String?, to peer: NetNS, _ peerName: String, _ peerCIDR: String?) throws {
        try exec("ip", "link", "add", localName, "type", "veth", "peer", "name", peerName, "netns", peer.name)
        if let localCIDR { try exec("ip", "addr", "add", localCIDR, "dev", localName) }
        if let peerCIDR { try peer.exec("ip", "addr", "add", peerCIDR, "dev", peerName) }
        try exec("ip", "link", "set", localName, "up")
        try peer.exec("ip", "link", "set", peerName, "up")
    }
}
