import Foundation
import XDPNatNet

/// One change of who holds a NAT address and port range, appended to
/// `<state-dir>/allocations.log` (JSON lines) so `xdpnat whois --at` can
/// answer for the past.
public struct AllocationEvent: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case allocated, draining, released
    }
    public var time: Date
    public var event: Kind
    public var namespace: String
    public var pool: String
    public var address: IPv4Address
    public var ports: PortRange

    public init(time: Date, event: Kind, namespace: String, pool: String, address: IPv4Address, ports: PortRange) {
        self.time = time
        self.event = event
        self.namespace = namespace
        self.pool = pool
        self.address = address
        self.ports = ports
    }
}

public enum AllocationHistory {
    /// The events that lead from `old` to `new`.
    public static func diff(from old: AllocationState, to new: AllocationState, at time: Date) -> [AllocationEvent] {
        func units(_ s: AllocationState) -> [AllocationUnit: Allocation] {
            var m: [AllocationUnit: Allocation] = [:]
            for a in s.allocations { for u in a.units { m[u] = a } }
            return m
        }
        let before = units(old), after = units(new)
        var out: [AllocationEvent] = []
        for (u, a) in after.sorted(by: { $0.key < $1.key }) {
            if let b = before[u], b.key == a.key {
                if b.releasedAt == nil && a.releasedAt != nil {
                    out.append(AllocationEvent(time: time, event: .draining, namespace: a.namespace, pool: a.pool, address: u.address, ports: u.ports))
                } else if b.releasedAt != nil && a.releasedAt == nil {
                    out.append(AllocationEvent(time: time, event: .allocated, namespace: a.namespace, pool: a.pool, address: u.address, ports: u.ports))
                }
            } else {
                if let b = before[u] {
                    out.append(AllocationEvent(time: time, event: .released, namespace: b.namespace, pool: b.pool, address: u.address, ports: u.ports))
                }
                out.append(AllocationEvent(time: time, event: .allocated, namespace: a.namespace, pool: a.pool, address: u.address, ports: u.ports))
            }
        }
        for (u, b) in before.sorted(by: { $0.key < $1.key }) where after[u] == nil {
            out.append(AllocationEvent(time: time, event: .released, namespace: b.namespace, pool: b.pool, address: u.address, ports: u.ports))
        }
        return out
    }

    /// Who held `address:port` at `time`, from a history (oldest first).
    public static func holder(of address: IPv4Address, port: Int?, at time: Date, in events: [AllocationEvent]) -> AllocationEvent? {
        var current: AllocationEvent? = nil
        for e in events where e.time <= time && e.address == address && (port.map { e.ports.min <= $0 && $0 <= e.ports.max } ?? true) {
            switch e.event {
            case .allocated, .draining: current = e
            case .released: if current?.namespace == e.namespace { current = nil }
            }
        }
        return current
    }

    public static func append(_ events: [AllocationEvent], to path: String) throws {
        guard !events.isEmpty else { return }
        let enc = JSONFile.encoder()
        enc.outputFormatting = [.sortedKeys]
        var data = Data()
        for e in events {
            data.append(try enc.encode(e))
            data.append(0x0a)
        }
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: data)
    }

    public static func read(_ path: String) -> [AllocationEvent] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let dec = JSONFile.decoder()
        return text.split(separator: "\n").compactMap { try? dec.decode(AllocationEvent.self, from: Data($0.utf8)) }
    }
}
