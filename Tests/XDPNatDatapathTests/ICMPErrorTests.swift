import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

/// ICMP errors about translated flows must reach the pod with the embedded
/// header translated back, or path-MTU discovery and traceroute break.
@Suite(.enabled(if: Privilege.shouldRun, "needs root and BPF"))
struct ICMPErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let flow: Transport
        let type: UInt8
        let code: UInt8
        let rest: UInt32
        /// How much of the offending packet the router quotes (nil: all of it).
        let quoteBytes: Int?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "fragmentation needed about TCP (full quote)", flow: .tcp(sport: 40000, dport: 443, flags: .ack, payload: [UInt8](repeating: 1, count: 40)),
             type: 3, code: 4, rest: 1400, quoteBytes: nil),
        Case(name: "fragmentation needed about TCP (28-byte quote)", flow: .tcp(sport: 40010, dport: 443, flags: .ack),
             type: 3, code: 4, rest: 1280, quoteBytes: 28),
        Case(name: "port unreachable about UDP", flow: .udp(sport: 5000, dport: 53, payload: [1, 2, 3, 4]),
             type: 3, code: 3, rest: 0, quoteBytes: nil),
        Case(name: "time exceeded about UDP (traceroute)", flow: .udp(sport: 33434, dport: 33435, payload: [0, 0]),
             type: 11, code: 0, rest: 0, quoteBytes: 28),
        Case(name: "host unreachable about ICMP echo", flow: .icmpEcho(request: true, id: 77, seq: 1, payload: [1, 2]),
             type: 3, code: 1, rest: 0, quoteBytes: 28),
        Case(name: "time exceeded about UDP without checksum", flow: .udp(sport: 5100, dport: 53, payload: [1], checksum: false),
             type: 11, code: 0, rest: 0, quoteBytes: nil),
    ]

    @Test(arguments: cases)
    func inboundErrorIsTranslatedToThePod(_ c: Case) throws {
        let h = try NATHarness(ports: 10000...19999)
        let original = PacketBuilder(src: pod1, dst: remote, c.flow)
        let sent = try h.run(original)
        let natted = try #require(sent.ip)
        let natPort = try #require(natted.sport)

        // a router on the way quotes the translated packet back to the NAT address
        let quotedOut = Array(sent.bytes.dropFirst(14).prefix(c.quoteBytes ?? Int.max))
        var err = PacketBuilder(src: "198.18.2.254", dst: natIP, .icmpError(type: c.type, code: c.code, rest: c.rest, quoted: quotedOut))
        err.srcMAC = [2, 0, 0, 0, 0, 9]
        let r = try h.run(err)
        #expect(r.action == XDP_PASS_)

        // expected: addressed to the pod, quoting the pod's own original packet
        let quotedBack = Array(original.ipBytes().prefix(c.quoteBytes ?? Int.max))
        var expected = err
        expected.dst = pod1
        expected.transport = .icmpError(type: c.type, code: c.code, rest: c.rest, quoted: quotedBack)
        #expect(r.bytes == expected.frame())
        expectValidChecksums(r)
        #expect(natPort != 0)
        #expect(h.counter(XN_C_ICMP_ERR_IN) == 1)
    }

    @Test func outboundErrorFromPodIsTranslated() throws {
        let h = try NATHarness(ports: 10000...19999)
        let original = PacketBuilder(src: pod1, dst: remote, .udp(sport: 5000, dport: 53, payload: [1]))
        let sent = try #require(try h.run(original).ip)
        let natPort = try #require(sent.sport)
        // the remote answers; the pod has closed its socket and says "port unreachable"
        let reply = PacketBuilder(src: remote, dst: natIP, .udp(sport: 53, dport: natPort, payload: [2, 2]))
        let delivered = try h.run(reply)
        let quoted = Array(delivered.bytes.dropFirst(14))
        let err = PacketBuilder(src: pod1, dst: remote, .icmpError(type: 3, code: 3, quoted: quoted))
        let r = try h.run(err)
        #expect(r.action == XDP_PASS_)
        var expected = err
        expected.src = natIP
        expected.transport = .icmpError(type: 3, code: 3, quoted: reply.ipBytes())
        #expect(r.bytes == expected.frame())
        expectValidChecksums(r)
        #expect(h.counter(XN_C_ICMP_ERR_OUT) == 1)
    }

    @Test func errorsAboutUnknownFlowsAreDroppedOrPassed() throws {
        let h = try NATHarness(ports: 10000...19999)
        // about a NAT port in range with no flow: dropped
        let ghost = PacketBuilder(src: natIP, dst: remote, .udp(sport: 12345, dport: 53)).ipBytes()
        let r = try h.run(PacketBuilder(src: "198.18.2.254", dst: natIP, .icmpError(type: 3, code: 3, quoted: ghost)))
        #expect(r.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_ICMP_NO_MATCH) == 1)
        // about the gateway's own traffic (port outside the NAT range): passed untouched
        let own = PacketBuilder(src: natIP, dst: remote, .udp(sport: 500, dport: 53)).ipBytes()
        let e = PacketBuilder(src: "198.18.2.254", dst: natIP, .icmpError(type: 3, code: 3, quoted: own))
        let r2 = try h.run(e)
        #expect(r2.action == XDP_PASS_ && r2.bytes == e.frame())
        // a quote too short to hold the L4 ports: malformed
        let short = Array(ghost.prefix(24))
        let r3 = try h.run(PacketBuilder(src: "198.18.2.254", dst: natIP, .icmpError(type: 3, code: 3, quoted: short)))
        #expect(r3.action == XDP_DROP_)
        #expect(h.counter(XN_C_DROP_MALFORMED) == 1)
    }
}
