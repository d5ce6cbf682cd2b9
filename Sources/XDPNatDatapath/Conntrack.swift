import Foundation
import Glibc
import XDPNatABI
import XDPNatModel
import XDPNatNet

/// CLOCK_MONOTONIC in nanoseconds: the datapath's clock (`bpf_ktime_get_ns`).
public func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Converts a datapath timestamp to wall-clock time.
public func wallClock(monotonicNs: UInt64) -> Date {
    let ageNs = Int64(bitPattern: monotonicNow() &- monotonicNs)
    return Date(timeIntervalSinceNow: -Double(ageNs) / 1e9)
}

/// One translated flow: both halves of a conntrack pair, decoded.
public struct Flow: Sendable, Hashable {
    public var proto: UInt8
    public var pod: IPv4Address
    public var podPort: UInt16
    public var remote: IPv4Address
    public var remotePort: UInt16
    public var natIP: IPv4Address
    public var natPort: UInt16
    public var tcpState: TCPState
    public var seenReply: Bool
    public var policyID: UInt32
    public var createdNs: UInt64
    public var lastSeenNs: UInt64
    public var origPackets: UInt64
    public var origBytes: UInt64
    public var replyPackets: UInt64
    public var replyBytes: UInt64
    /// Keys of both halves, to delete the pair.
    public var originalKey: xn_ct_key
    public var replyKey: xn_ct_key

    public var protoName: String { IPProtocol(rawValue: proto)?.description ?? "\(proto)" }

    public static func == (a: Flow, b: Flow) -> Bool {
        a.proto == b.proto && a.pod == b.pod && a.podPort == b.podPort && a.remote == b.remote
            && a.remotePort == b.remotePort && a.natIP == b.natIP && a.natPort == b.natPort
    }

    public func hash(into h: inout Hasher) {
        h.combine(proto); h.combine(pod); h.combine(podPort); h.combine(remote); h.combine(remotePort)
    }
}

public enum Conntrack {
    /// Every flow, read with batch operations. Orphaned halves are skipped.
    public static func flows(_ maps: NATMaps) throws -> [Flow] {
        let entries = try maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self)
        var replies: [CTKey: xn_ct_entry] = [:]
        replies.reserveCapacity(entries.count / 2)
        for (k, e) in entries where e.dir == UInt8(XN_DIR_REPLY.rawValue) { replies[CTKey(k)] = e }
        var out: [Flow] = []
        out.reserveCapacity(entries.count / 2)
        for (k, e) in entries where e.dir == UInt8(XN_DIR_ORIGINAL.rawValue) {
            guard let r = replies[CTKey(e.peer)] else { continue }
            out.append(flow(k, e, r))
        }
        return out
    }

    static func flow(_ k: xn_ct_key, _ e: xn_ct_entry, _ r: xn_ct_entry) -> Flow {
        Flow(proto: k.proto, pod: IPv4Address(networkOrder: k.src_ip), podPort: UInt16(bigEndian: k.src_port),
             remote: IPv4Address(networkOrder: k.dst_ip), remotePort: UInt16(bigEndian: k.dst_port),
             natIP: IPv4Address(networkOrder: e.xlate_ip), natPort: UInt16(bigEndian: e.xlate_port),
             tcpState: TCPState(rawValue: e.tcp_state) ?? .none,
             seenReply: e.flags & UInt32(XN_CT_F_SEEN_REPLY) != 0, policyID: e.policy_id,
             createdNs: e.created_ns, lastSeenNs: max(e.last_seen_ns, r.last_seen_ns),
             origPackets: e.packets, origBytes: e.bytes, replyPackets: r.packets, replyBytes: r.bytes,
             originalKey: k, replyKey: e.peer)
    }

    /// Deletes flows, always both halves. Returns the number of halves deleted.
    @discardableResult
    public static func delete(_ flows: [Flow], from maps: NATMaps) throws -> Int {
        var keys: [xn_ct_key] = []
        keys.reserveCapacity(flows.count * 2)
        for f in flows {
            keys.append(f.originalKey)
            keys.append(f.replyKey)
        }
        var n = 0
        for chunk in stride(from: 0, to: keys.count, by: 8192) {
            n += try maps.conntrack.deleteBatch(Array(keys[chunk..<min(chunk + 8192, keys.count)]))
        }
        return n
    }
}

/// A conntrack key usable in Swift sets and dictionaries.
public struct CTKey: Hashable, Sendable {
    public let src: UInt32, dst: UInt32, ports: UInt32, proto: UInt8
    public init(_ k: xn_ct_key) {
        src = k.src_ip
        dst = k.dst_ip
        ports = UInt32(k.src_port) << 16 | UInt32(k.dst_port)
        proto = k.proto
    }
}

/// An endpoint key (`xn_endpoint`) usable in Swift sets.
public struct EndpointKey: Hashable, Sendable {
    public let ip: UInt32, port: UInt16, proto: UInt8
    public init(_ e: xn_endpoint) {
        ip = e.ip
        port = e.port
        proto = e.proto
    }
    public init(ip: UInt32, port: UInt16, proto: UInt8) {
        self.ip = ip
        self.port = port
        self.proto = proto
    }
}
