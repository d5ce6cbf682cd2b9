import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

/// Each case: a pod's packet goes out translated, the remote's reply comes
/// back translated to the pod; both compared byte for byte with packets built
/// independently, and checksums verified from scratch.
@Suite(.enabled(if: Privilege.shouldRun, "needs root and BPF"))
struct TranslationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let out: Transport
        let reply: Transport
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "TCP SYN / SYN-ACK",
             out: .tcp(sport: 40000, dport: 443, flags: .syn, seq: 1000),
             reply: .tcp(sport: 443, dport: 40000, flags: [.syn, .ack], seq: 5000, ack: 1001)),
        Case(name: "TCP data",
             out: .tcp(sport: 40001, dport: 5432, flags: [.ack, .psh], seq: 7, ack: 9, payload: Array("SELECT 1;".utf8)),
             reply: .tcp(sport: 5432, dport: 40001, flags: .ack, seq: 9, ack: 16, payload: [1, 2, 3])),
        Case(name: "UDP with checksum",
             out: .udp(sport: 5353, dport: 53, payload: Array("query".utf8)),
             reply: .udp(sport: 53, dport: 5353, payload: Array("answer".utf8))),
        Case(name: "UDP without checksum stays without",
             out: .udp(sport: 6000, dport: 6001, payload: [9, 9, 9], checksum: false),
             reply: .udp(sport: 6001, dport: 6000, payload: [8, 8], checksum: false)),
        Case(name: "ICMP echo",
             out: .icmpEcho(request: true, id: 0x4242, seq: 3, payload: Array("ping".utf8)),
             reply: .icmpEcho(request: false, id: 0x4242, seq: 3, payload: Array("ping".utf8))),
        Case(name: "UDP odd-length payload",
             out: .udp(sport: 7000, dport: 7001, payload: [1, 2, 3, 4, 5]),
             reply: .udp(sport: 7001, dport: 7000, payload: [5, 4, 3])),
    ]

    @Test(arguments: cases)
    func translatesBothDirections(_ c: Case) throws {
        let h = try NATHarness()
        let out = PacketBuilder(src: pod1, dst: remote, c.out)
        let r = try h.run(out)
        #expect(r.action == XDP_PASS_)
        // the pod's port is free and in range: it is kept
        let expected = out.rewritten(src: natIP)
        #expect(r.bytes == expected.frame())
        expectValidChecksums(r)

        let back = expected.reply(c.reply)
        let r2 = try h.run(back)
        #expect(r2.action == XDP_PASS_)
        #expect(r2.bytes == back.rewritten(dst: pod1).frame())
        expectValidChecksums(r2)
        #expect(h.counter(XN_C_SNAT_NEW) == 1)
        #expect(h.counter(XN_C_REPLY_HIT) == 1)
    }

    @Test func sourcePortOutsideRangeIsReplacedWithinRange() throws {
        let h = try NATHarness(ports: 20000...20099)
        let out = PacketBuilder(src: pod1, dst: remote, .udp(sport: 5000, dport: 53, payload: [1]))
        let r = try h.run(out)
        let ip = try #require(r.ip)
        #expect(ip.src == natIP)
        let port = try #require(ip.sport)
        #expect((20000...20099).contains(port))
        #expect(r.bytes == out.rewritten(src: natIP, sport: port).frame())
        expectValidChecksums(r)
        #expect(h.counter(XN_C_PORT_PROBED) == 1)

        let back = try h.run(out.rewritten(src: natIP, sport: port).reply(.udp(sport: 53, dport: port, payload: [2])))
        #expect(back.ip?.dst == pod1)
        #expect(back.ip?.dport == 5000)
        expectValidChecksums(back)
    }

    @Test func icmpIdentifierOutsideRangeIsTranslatedBothWays() throws {
        let h = try NATHarness(ports: 20000...20099)
        let out = PacketBuilder(src: pod1, dst: remote, .icmpEcho(request: true, id: 5, seq: 9, payload: [1, 2, 3]))
        let r = try h.run(out)
        let id = try #require(r.ip?.sport)
        #expect((20000...20099).contains(id))
        #expect(r.bytes == out.rewritten(src: natIP, sport: id).frame())
        let back = out.rewritten(src: natIP, sport: id).reply(.icmpEcho(request: false, id: id, seq: 9, payload: [1, 2, 3]))
        let r2 = try h.run(back)
        #expect(r2.bytes == back.rewritten(dst: pod1, dport: 5).frame())
        expectValidChecksums(r2)
    }

    @Test func ipOptionsAreHonoured() throws {
        let h = try NATHarness()
        var out = PacketBuilder(src: pod1, dst: remote, .tcp(sport: 41000, dport: 80, flags: .syn))
        out.ipOptions = [0x94, 0x04, 0x00, 0x00]  // router alert
        let r = try h.run(out)
        #expect(r.bytes == out.rewritten(src: natIP).frame())
        expectValidChecksums(r)
    }

    @Test func endpointIndependentMappingAcrossDestinations() throws {
        let h = try NATHarness(ports: 30000...30999)
        var ports: Set<UInt16> = []
        for dst in [remote, remote2, IPv4Address("198.18.3.3")] {
            let r = try h.run(PacketBuilder(src: pod1, dst: dst, .udp(sport: 1000, dport: 53)))
            let ip = try #require(r.ip)
            #expect(ip.src == natIP)
            ports.insert(try #require(ip.sport))
        }
        #expect(ports.count == 1, "same pod endpoint, same NAT endpoint for every destination")
        #expect(h.counter(XN_C_SNAT_NEW) == 3)
    }

    @Test func portCollisionBetweenPodsGetsDistinctPortsAndRepliesReachTheRightPod() throws {
        let h = try NATHarness()
        let a = PacketBuilder(src: pod1, dst: remote, .tcp(sport: 33333, dport: 80, flags: .syn))
        let b = PacketBuilder(src: pod2, dst: remote, .tcp(sport: 33333, dport: 80, flags: .syn))
        let ra = try #require(try h.run(a).ip)
        let rb = try #require(try h.run(b).ip)
        #expect(ra.sport == 33333)
        #expect(rb.sport != 33333)
        #expect(ra.src == natIP && rb.src == natIP)
        for (ip, pod) in [(ra, pod1), (rb, pod2)] {
            let reply = PacketBuilder(src: remote, dst: natIP, .tcp(sport: 80, dport: ip.sport!, flags: [.syn, .ack]))
            let back = try #require(try h.run(reply).ip)
            #expect(back.dst == pod)
            #expect(back.dport == 33333)
        }
    }

    @Test func exhaustedPortRangeDropsAndCounts() throws {
        let h = try NATHarness(ports: 40000...40002)
        var seen: Set<UInt16> = []
        for i in 0..<3 {
            let r = try h.run(PacketBuilder(src: IPv4Address(pod1.value + UInt32(i)), dst: remote, .udp(sport: 9, dport: 9)))
            #expect(r.action == XDP_PASS_)
            seen.insert(try #require(r.ip?.sport))
        }
        #expect(seen == [40000, 40001, 40002])
        let r = try h.run(PacketBuilder(src: IPv4Address(pod1.value + 3), dst: remote, .udp(sport: 9, dport: 9)))
        #expect(r.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_NO_PORT) == 1)
        // existing flows keep working
        let again = try h.run(PacketBuilder(src: pod1, dst: remote, .udp(sport: 9, dport: 9)))
        #expect(again.action == XDP_PASS_)
    }

    @Test func unsolicitedInboundIsDroppedInRangeAndPassedOutside() throws {
        let h = try NATHarness(ports: 20000...29999)
        let inRange = try h.run(PacketBuilder(src: remote, dst: natIP, .tcp(sport: 80, dport: 25000, flags: .syn)))
        #expect(inRange.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_UNSOLICITED) == 1)
        let outside = PacketBuilder(src: remote, dst: natIP, .tcp(sport: 80, dport: 22, flags: .syn))
        let r = try h.run(outside)
        #expect(r.action == XDP_PASS_)
        #expect(r.bytes == outside.frame())
        // a reply from another remote endpoint than the one contacted is filtered
        _ = try h.run(PacketBuilder(src: pod1, dst: remote, .udp(sport: 21000, dport: 53)))
        let other = try h.run(PacketBuilder(src: remote2, dst: natIP, .udp(sport: 53, dport: 21000)))
        #expect(other.action == XDP_DROP_)
        let otherPort = try h.run(PacketBuilder(src: remote, dst: natIP, .udp(sport: 54, dport: 21000)))
        #expect(otherPort.action == XDP_DROP_)
    }

    @Test func trafficOutsidePoliciesPassesUntouched() throws {
        let h = try NATHarness(destinations: [IPv4CIDR("198.18.2.0/24")!], excluded: [IPv4CIDR("198.18.2.128/25")!])
        let cases = [
            PacketBuilder(src: "198.18.9.9", dst: remote, .udp(sport: 1, dport: 2)),          // no policy
            PacketBuilder(src: pod1, dst: "198.18.3.1", .udp(sport: 1, dport: 2)),            // not a destination
            PacketBuilder(src: pod1, dst: "198.18.2.200", .udp(sport: 1, dport: 2)),          // excluded
            PacketBuilder(src: pod1, dst: remote, .raw(proto: 47, bytes: [0, 0, 8, 0])),      // GRE
        ]
        for p in cases {
            let r = try h.run(p)
            #expect(r.action == XDP_PASS_)
            #expect(r.bytes == p.frame())
        }
        var arp = [UInt8](repeating: 0xff, count: 6) + [2, 0, 0, 0, 0, 1, 0x08, 0x06]
        arp += [UInt8](repeating: 0, count: 28)
        let r = try h.run(arp)
        #expect(r.action == XDP_PASS_ && r.bytes == arp)
        #expect(h.counter(XN_C_PASS_NO_POLICY) == 1)
        #expect(h.counter(XN_C_PASS_EXCLUDED) == 2)
        #expect(h.counter(XN_C_PASS_UNSUPPORTED) == 1)
        #expect(h.counter(XN_C_PASS_NOT_IPV4) == 1)
        // inside the destinations and not excluded: translated
        let ok = try h.run(PacketBuilder(src: pod1, dst: "198.18.2.5", .udp(sport: 1, dport: 2)))
        #expect(ok.ip?.src == natIP)
    }

    @Test func ttlOfOneIsLeftToTheKernel() throws {
        let h = try NATHarness()
        var p = PacketBuilder(src: pod1, dst: remote, .udp(sport: 1, dport: 2))
        p.ttl = 1
        let r = try h.run(p)
        #expect(r.action == XDP_PASS_)
        #expect(r.bytes == p.frame())
        #expect(h.counter(XN_C_PASS_TTL) == 1)
        #expect(try h.flows().isEmpty)
    }

    @Test func firstFragmentIsTranslatedOthersAreDropped() throws {
        let h = try NATHarness()
        var first = PacketBuilder(src: pod1, dst: remote, .udp(sport: 4000, dport: 4001, payload: [UInt8](repeating: 7, count: 16)))
        first.moreFragments = true
        let r = try h.run(first)
        #expect(r.action == XDP_PASS_)
        #expect(r.bytes == first.rewritten(src: natIP).frame())
        var second = PacketBuilder(src: pod1, dst: remote, .raw(proto: 17, bytes: [UInt8](repeating: 7, count: 8)))
        second.fragmentOffset = 3
        let r2 = try h.run(second)
        #expect(r2.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_FRAGMENT) == 1)
    }

    @Test func malformedPacketsAreNeverRewritten() throws {
        let h = try NATHarness()
        let good = PacketBuilder(src: pod1, dst: remote, .tcp(sport: 1234, dport: 80, flags: .syn)).frame()
        var badIHL = good
        badIHL[14] = 0x44
        var badVersion = good
        badVersion[14] = 0x65
        var longTotal = good
        longTotal[16] = 0x10
        let truncatedTCP = Array(good.prefix(14 + 20 + 10))
        let truncatedIP = Array(good.prefix(14 + 12))
        for (i, frame) in [badIHL, badVersion, longTotal, truncatedTCP, truncatedIP].enumerated() {
            let r = try h.run(frame)
            #expect(r.action == XDP_DROP_, "case \(i)")
            #expect(r.bytes == frame, "case \(i) unchanged")
        }
        #expect(h.counter(XN_C_DROP_MALFORMED) == 5)
        #expect(try h.flows().isEmpty)
    }
}
