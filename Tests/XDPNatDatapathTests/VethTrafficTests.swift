import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatNet
import XDPNatTestSupport

/// Runs `body`; on failure, adds the datapath's counters and interfaces to the error.
func withDiagnostics<T>(_ maps: NATMaps, _ t: GatewayTopology, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        let counters = maps.readCounters().totals.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let flows = (try? maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self).count) ?? -1
        let links = (try? t.gw.exec("ip", "-s", "link")) ?? ""
        Issue.record("datapath counters: \(counters)\nconntrack halves: \(flows)\n\(links)")
        throw error
    }
}

@Suite(.enabled(if: Privilege.shouldRun, "needs root, BPF and network namespaces"))
struct VethTrafficTests {
    @Test func loadsAttachesAndCountsRealPackets() throws {
        try Privilege.check()
        let t = try GatewayTopology()
        let obj = try BPFObject(path: DatapathObject.path())
        try obj.setMaxEntries(XN_MAP_CT, 4096)
        try obj.load()
        let maps = try NATMaps(object: obj)
        try maps.writeConfig(xn_config())
        let link = try t.gw.run { try XDPLink.attach(obj.program(XN_PROG_MAIN), ifindex: interfaceIndex("gi"), mode: .native) }
        try t.pod.exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.1.1")
        let c = maps.readCounters()
        #expect(c.total(XN_C_RX) >= 3)
        #expect(c.total(XN_C_PASS_NO_POLICY) >= 3, "no policy yet: everything passes to the kernel")
        try link.detach()
        let after = maps.readCounters().total(XN_C_RX)
        try t.pod.exec("ping", "-c", "2", "-i", "0.2", "-W", "2", "198.18.1.1")
        #expect(maps.readCounters().total(XN_C_RX) == after, "detached: the program sees nothing")
    }

    @Test func translatesAndRedirectsRealTraffic() throws {
        try Privilege.check()
        let t = try GatewayTopology()
        let obj = try BPFObject(path: DatapathObject.path())
        try obj.setMaxEntries(XN_MAP_CT, 4096)
        try obj.setMaxEntries(XN_MAP_BINDINGS, 4096)
        try obj.setMaxEntries(XN_MAP_NAT_PORTS, 4096)
        try obj.load()
        let maps = try NATMaps(object: obj)
        try maps.writeConfig(xn_config())
        try maps.setPolicy(id: 1, natIP: "198.18.100.1", ports: 10000...19999, hasDestinations: false, hasExcluded: false)
        try maps.setSource(IPv4CIDR("198.18.1.0/24")!, policy: 1)
        try maps.setNATAddress("198.18.100.1", ports: 10000...19999, policy: 1)
        let links = try t.gw.run { () throws -> [XDPLink] in
            let prog = try obj.program(XN_PROG_MAIN)
            var links: [XDPLink] = []
            for dev in ["gi", "ge"] {
                let idx = try interfaceIndex(dev)
                try maps.addTxPort(ifindex: idx)  // devmap entries resolve in the writer's namespace
                links.append(try XDPLink.attach(prog, ifindex: idx, mode: .native))
            }
            return links
        }
        let server = try Background(["ip", "netns", "exec", t.srv.name, "python3", "-c", Peers.echoServer, "7000"])
        defer { server.stop() }

        try t.pod.exec("ping", "-c", "5", "-i", "0.2", "-W", "2", "198.18.2.2")
        for proto in ["udp", "tcp"] {
            let seen = try withDiagnostics(maps, t) { try t.pod.exec("python3", "-c", Peers.client, proto, "198.18.2.2", "7000", "5") }
            let lines = seen.split(separator: "\n")
            #expect(lines.count == 5, "\(proto): \(seen)")
            for line in lines {
                #expect(line.hasPrefix("198.18.100.1:"), "\(proto): server saw \(line), not the NAT address")
            }
        }
        let c = maps.readCounters()
        #expect(c.total(XN_C_SNAT_NEW) >= 3)
        #expect(c.total(XN_C_REPLY_HIT) >= 5)
        #expect(c.total(XN_C_REDIRECT) > 0, "packets were forwarded by XDP redirect")
        #expect(c.total(XN_C_FIB_CACHED) > 0, "next hop served from the conntrack cache")
        #expect(c.total(XN_C_DROP_MALFORMED) == 0)
        #expect(!(try maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self)).isEmpty)
        _ = links
    }
}
