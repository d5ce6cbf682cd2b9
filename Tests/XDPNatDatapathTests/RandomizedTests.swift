import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

@Suite(.enabled(if: Privilege.shouldRun, "needs root and BPF"))
struct RandomizedTests {
    /// 100k packets, valid and mutated: whatever the program emits carries valid
    /// checksums whenever what it received did, and conntrack stays in whole pairs.
    @Test func mutatedTrafficKeepsChecksumsAndPairs() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(state: seed)
        let h = try NATHarness(ctEntries: 1 << 15, bindings: 1 << 14, ports: 20000...20999,
                               sources: [IPv4CIDR("198.18.1.0/26")!])
        let pods = (2..<40).map { IPv4Address(pod1.value &- 2 &+ UInt32($0)) }
        let remotes = [remote, remote2, IPv4Address("198.18.3.7")]
        var natted: [[UInt8]] = []  // translated outbound frames, to quote and to answer
        var checked = 0

        func base() -> PacketBuilder {
            let pod = pods.randomElement(using: &rng)!
            let dst = remotes.randomElement(using: &rng)!
            let sport = UInt16.random(in: 1000...1100, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: return PacketBuilder(src: pod, dst: dst, .tcp(sport: sport, dport: 443, flags: [.syn]))
            case 1: return PacketBuilder(src: pod, dst: dst, .tcp(sport: sport, dport: 443, flags: [.ack, .psh], payload: [1, 2, 3]))
            case 2: return PacketBuilder(src: pod, dst: dst, .udp(sport: sport, dport: 53, payload: [7, 7, 7], checksum: Bool.random(using: &rng)))
            case 3: return PacketBuilder(src: pod, dst: dst, .icmpEcho(request: true, id: sport, seq: 1, payload: [4]))
            case 4 where !natted.isEmpty:  // a reply to something sent
                let o = ParsedIPv4(frame: natted.randomElement(using: &rng)!)!
                switch o.proto {
                case 6: return PacketBuilder(src: o.dst, dst: o.src, .tcp(sport: o.dport!, dport: o.sport!, flags: [.ack], payload: [5]))
                case 17: return PacketBuilder(src: o.dst, dst: o.src, .udp(sport: o.dport!, dport: o.sport!, payload: [6]))
                default: return PacketBuilder(src: o.dst, dst: o.src, .icmpEcho(request: false, id: o.sport!, payload: [4]))
                }
            case 5 where !natted.isEmpty:  // an ICMP error quoting something sent
                let f = natted.randomElement(using: &rng)!
                let o = ParsedIPv4(frame: f)!
                let q = Array(f.dropFirst(14).prefix(Bool.random(using: &rng) ? 28 : 1500))
                return PacketBuilder(src: "198.18.2.254", dst: o.src,
                                     .icmpError(type: [3, 11, 12].randomElement(using: &rng)!, code: 4, rest: 1400, quoted: q))
            default:  // unsolicited
                return PacketBuilder(src: dst, dst: natIP, .udp(sport: 53, dport: UInt16.random(in: 19990...21010, using: &rng)))
            }
        }

        for i in 0..<100_000 {
            var frame = base().frame()
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: break  // valid
            case 1:  // flip a few bytes anywhere past the MACs
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    frame[Int.random(in: 12..<frame.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            case 2:  // cut short (test-run refuses frames below an Ethernet header)
                frame = Array(frame.prefix(Int.random(in: 14..<frame.count, using: &rng)))
            default:  // header fields: TTL, flags/fragment, IHL, total length
                let at = [22, 20, 21, 14, 16, 17].randomElement(using: &rng)!
                if at < frame.count { frame[at] = UInt8.random(in: 0...255, using: &rng) }
            }
            let input = ParsedIPv4(frame: frame)
            let r = try h.run(frame)
            guard r.action != XDP_DROP_, r.bytes != frame else { continue }
            // the program changed the packet: was the input sound?
            guard let inp = input, inp.ipChecksumOK, inp.l4ChecksumOK != false,
                  inp.quotedPacket.map({ $0.ipChecksumOK }) ?? true
            else { continue }
            let out = try #require(ParsedIPv4(frame: r.bytes), "seed \(seed) packet \(i)")
            #expect(out.ipChecksumOK, "IP checksum, seed \(seed) packet \(i)")
            #expect(out.l4ChecksumOK != false, "L4 checksum, seed \(seed) packet \(i)")
            if let q = out.quotedPacket { #expect(q.ipChecksumOK, "quoted IP checksum, seed \(seed) packet \(i)") }
            checked += 1
            if out.src == natIP, natted.count < 2000, out.icmpType.map({ $0 == 8 }) ?? true {
                natted.append(r.bytes)
            }
        }
        #expect(checked > 10_000, "enough packets were translated to mean something (\(checked))")

        let flows = try h.flows()
        #expect(!flows.isEmpty)
        let byKey = Dictionary(flows.map { (KeyBox($0.0), $0.1) }, uniquingKeysWith: { a, _ in a })
        for (k, e) in flows {
            let peer = try #require(byKey[KeyBox(e.peer)], "half pair, seed \(seed)")
            #expect(peer.peer == k)
            #expect(peer.dir != e.dir)
            if e.dir == UInt8(XN_DIR_ORIGINAL.rawValue) {
                #expect(e.xlate_ip == e.peer.dst_ip && e.xlate_port == e.peer.dst_port)
                #expect(peer.xlate_ip == k.src_ip && peer.xlate_port == k.src_port)
            }
        }
    }
}

struct KeyBox: Hashable {
    let k: xn_ct_key
    init(_ k: xn_ct_key) { self.k = k }
    static func == (a: KeyBox, b: KeyBox) -> Bool { a.k == b.k }
    func hash(into h: inout Hasher) {
        h.combine(k.src_ip); h.combine(k.dst_ip); h.combine(k.src_port); h.combine(k.dst_port); h.combine(k.proto)
    }
}
