import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

@Suite(.enabled(if: Privilege.shouldRun, "needs root and BPF"))
struct ConntrackTests {
    func state(_ h: NATHarness, _ key: xn_ct_key) throws -> (UInt8, UInt8) {
        let fwd = try #require(h.maps.conntrack.lookup(key, as: xn_ct_entry.self))
        let rep = try #require(h.maps.conntrack.lookup(fwd.peer, as: xn_ct_entry.self))
        #expect(rep.peer == key, "reply half points back at the original half")
        return (fwd.tcp_state, rep.tcp_state)
    }

    @Test func tcpStateFollowsTheConnection() throws {
        let h = try NATHarness()
        let key = ctKey(pod1, remote, 45000, 80, .tcp)
        func out(_ f: TCPFlags) throws { _ = try h.run(PacketBuilder(src: pod1, dst: remote, .tcp(sport: 45000, dport: 80, flags: f))) }
        func back(_ f: TCPFlags) throws { _ = try h.run(PacketBuilder(src: remote, dst: natIP, .tcp(sport: 80, dport: 45000, flags: f))) }
        let steps: [(String, () throws -> Void, xn_tcp_state)] = [
            ("SYN", { try out(.syn) }, XN_TCP_SYN_SENT),
            ("SYN-ACK", { try back([.syn, .ack]) }, XN_TCP_ESTABLISHED),
            ("ACK", { try out(.ack) }, XN_TCP_ESTABLISHED),
            ("FIN from pod", { try out([.fin, .ack]) }, XN_TCP_FIN_WAIT),
            ("FIN from remote", { try back([.fin, .ack]) }, XN_TCP_TIME_WAIT),
            ("new SYN reuses the tuple", { try out(.syn) }, XN_TCP_SYN_SENT),
            ("RST", { try back([.rst]) }, XN_TCP_CLOSE),
        ]
        for (name, step, want) in steps {
            try step()
            let (f, r) = try state(h, key)
            #expect(f == UInt8(want.rawValue), "\(name): original half")
            #expect(r == UInt8(want.rawValue), "\(name): reply half")
        }
    }

    @Test func countersAndTimestampsPerHalf() throws {
        let h = try NATHarness()
        let p = PacketBuilder(src: pod1, dst: remote, .udp(sport: 1111, dport: 53, payload: [UInt8](repeating: 0, count: 100)))
        for _ in 0..<3 { _ = try h.run(p) }
        _ = try h.run(PacketBuilder(src: remote, dst: natIP, .udp(sport: 53, dport: 1111, payload: [1])))
        let fwd = try #require(h.maps.conntrack.lookup(ctKey(pod1, remote, 1111, 53, .udp), as: xn_ct_entry.self))
        let rep = try #require(h.maps.conntrack.lookup(fwd.peer, as: xn_ct_entry.self))
        #expect(fwd.packets == 3 && fwd.bytes == 3 * 128)
        #expect(rep.packets == 1 && rep.bytes == 29)
        #expect(fwd.flags & UInt32(XN_CT_F_SEEN_REPLY) != 0)
        #expect(rep.last_seen_ns >= fwd.created_ns && fwd.last_seen_ns >= fwd.created_ns)
        #expect(fwd.dir == UInt8(XN_DIR_ORIGINAL.rawValue) && rep.dir == UInt8(XN_DIR_REPLY.rawValue))
        #expect(IPv4Address(networkOrder: fwd.xlate_ip) == natIP && IPv4Address(networkOrder: rep.xlate_ip) == pod1)
    }

    @Test func fullTableRefusesNewFlowsAndKeepsLiveOnes() throws {
        // 8 slots = 4 pairs
        let h = try NATHarness(ctEntries: 8)
        for i in 0..<4 {
            let r = try h.run(PacketBuilder(src: pod1, dst: remote, .udp(sport: UInt16(2000 + i), dport: 53)))
            #expect(r.action == XDP_PASS_)
        }
        let refused = try h.run(PacketBuilder(src: pod1, dst: remote, .udp(sport: 3000, dport: 53)))
        #expect(refused.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_CT_FULL) == 1)
        let live = try h.run(PacketBuilder(src: pod1, dst: remote, .udp(sport: 2000, dport: 53)))
        #expect(live.action == XDP_PASS_ && live.ip?.src == natIP)
        let flows = try h.flows()
        #expect(flows.count == 8)
        for (k, e) in flows {
            let peer = try #require(h.maps.conntrack.lookup(e.peer, as: xn_ct_entry.self), "no half pairs")
            #expect(peer.peer == k)
        }
    }

    @Test func eventsAreEmittedWhenEnabled() throws {
        let h = try NATHarness()
        var cfg = h.maps.readConfig()
        cfg.flags |= UInt32(XN_CFG_F_EVENTS)
        try h.maps.writeConfig(cfg)
        let events = try FlowEventReader(map: h.object.map(XN_MAP_EVENTS))
        _ = try h.run(PacketBuilder(src: pod1, dst: remote, .tcp(sport: 50000, dport: 443, flags: .syn)))
        _ = try h.run(PacketBuilder(src: pod1, dst: remote, .tcp(sport: 50000, dport: 443, flags: .ack)))
        let got = try events.poll(timeoutMs: 100)
        #expect(got.count == 1)
        let ev = try #require(got.first)
        #expect(ev.type == UInt32(XN_EV_FLOW_NEW.rawValue))
        #expect(ev.orig == ctKey(pod1, remote, 50000, 443, .tcp))
        #expect(IPv4Address(networkOrder: ev.nat_ip) == natIP)
    }
}
