import Foundation
import XDPNatABI
import XDPNatModel
import XDPNatNet

/// Expires idle flows (both halves together) and releases the NAT ports of
/// endpoints that no longer have a flow.
public struct ConntrackGC: Sendable {
    public struct Pass: Sendable, Codable, Hashable {
        public var scannedHalves = 0
        public var liveFlows = 0
        public var expiredFlows = 0
        public var orphanHalves = 0
        public var releasedBindings = 0
        public var releasedPorts = 0
        public var durationSeconds = 0.0
        /// Live flows by protocol name and TCP state ("tcp/ESTABLISHED", "udp", ...).
        public var flowsByState: [String: Int] = [:]
        /// NAT ports in use per NAT address.
        public var portsInUse: [String: Int] = [:]
        public init() {}
    }

    public var timeouts: ConntrackTimeouts
    /// New bindings and halves younger than this are never released (a flow may be half-created).
    public var settleNs: UInt64 = 5_000_000_000

    public init(timeouts: ConntrackTimeouts = ConntrackTimeouts()) { self.timeouts = timeouts }

    public func run(_ maps: NATMaps, now: UInt64 = monotonicNow()) throws -> Pass {
        let started = Date()
        var pass = Pass()
        let entries = try maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self)
        pass.scannedHalves = entries.count
        var byKey: [CTKey: xn_ct_entry] = [:]
        byKey.reserveCapacity(entries.count)
        for (k, e) in entries { byKey[CTKey(k)] = e }

        var expired: [xn_ct_key] = []
        var liveEndpoints = Set<EndpointKey>()
        var liveNAT = Set<EndpointKey>()
        for (k, e) in entries {
            guard let peer = byKey[CTKey(e.peer)] else {
                // a half without its pair: only ever transient while a flow is created
                if now &- e.created_ns > settleNs {
                    expired.append(k)
                    pass.orphanHalves += 1
                }
                continue
            }
            guard e.dir == UInt8(XN_DIR_ORIGINAL.rawValue) else { continue }
            let state = TCPState(rawValue: e.tcp_state) ?? .none
            let seenReply = e.flags & UInt32(XN_CT_F_SEEN_REPLY) != 0
            let last = max(e.last_seen_ns, peer.last_seen_ns)
            let limit = UInt64(timeouts.timeout(proto: k.proto, state: state, seenReply: seenReply) * 1e9)
            if now > last && now - last > limit && stillExpired(maps, k, e.peer, limit: limit, now: now) {
                expired.append(k)
                expired.append(e.peer)
                pass.expiredFlows += 1
            } else {
                pass.liveFlows += 1
                liveEndpoints.insert(EndpointKey(ip: k.src_ip, port: k.src_port, proto: k.proto))
                liveNAT.insert(EndpointKey(ip: e.xlate_ip, port: e.xlate_port, proto: k.proto))
                let name = (k.proto == 6 ? "tcp/\(state)" : k.proto == 17 ? "udp" : "icmp")
                pass.flowsByState[name, default: 0] += 1
            }
        }
        for chunk in stride(from: 0, to: expired.count, by: 8192) {
            try maps.conntrack.deleteBatch(Array(expired[chunk..<min(chunk + 8192, expired.count)]))
        }

        // bindings of endpoints with no live flow, and the NAT ports they held
        var boundNAT = Set<EndpointKey>()
        var staleBindings: [xn_endpoint] = []
        for (ep, b) in try maps.bindings.entries(xn_endpoint.self, xn_binding.self) {
            let nat = EndpointKey(ip: b.ip, port: b.port, proto: ep.proto)
            if !liveEndpoints.contains(EndpointKey(ep)) && now &- b.created_ns > settleNs {
                staleBindings.append(ep)
            } else {
                boundNAT.insert(nat)
            }
        }
        pass.releasedBindings = try maps.bindings.deleteBatch(staleBindings)
        var stalePorts: [xn_endpoint] = []
        var inUse: [UInt32: Int] = [:]
        for (nat, r) in try maps.natPorts.entries(xn_endpoint.self, xn_binding.self) {
            let key = EndpointKey(nat)
            if !liveNAT.contains(key) && !boundNAT.contains(key) && now &- r.created_ns > settleNs {
                stalePorts.append(nat)
            } else {
                inUse[nat.ip, default: 0] += 1
            }
        }
        pass.releasedPorts = try maps.natPorts.deleteBatch(stalePorts)
        pass.portsInUse = Dictionary(uniqueKeysWithValues: inUse.map { (IPv4Address(networkOrder: $0.key).description, $0.value) })
        pass.durationSeconds = Date().timeIntervalSince(started)
        return pass
    }

    /// Re-reads a candidate pair: a packet may have refreshed it since the scan.
    func stillExpired(_ maps: NATMaps, _ k: xn_ct_key, _ peer: xn_ct_key, limit: UInt64, now: UInt64) -> Bool {
        guard let a = maps.conntrack.lookup(k, as: xn_ct_entry.self) else { return false }
        let b = maps.conntrack.lookup(peer, as: xn_ct_entry.self)
        let last = max(a.last_seen_ns, b?.last_seen_ns ?? 0)
        return now > last && now - last > limit
    }
}

