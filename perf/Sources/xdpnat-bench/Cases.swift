import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet
import XDPNatTestSupport

/// What runs on the gateway during a throughput measurement.
protocol GatewayCase {
    var name: String { get }
    func setUp(_ t: BenchTopology) throws
    func tearDown(_ t: BenchTopology)
}

/// Linux forwarding, no NAT.
struct KernelForward: GatewayCase {
    let name = "kernel-forward"
    func setUp(_ t: BenchTopology) throws {}
    func tearDown(_ t: BenchTopology) {}
}

/// nftables `snat` to the 16 NAT addresses.
struct NftSNAT: GatewayCase {
    let name = "nft-snat"
    func setUp(_ t: BenchTopology) throws {
        _ = try t.gw.sh("""
        nft add table ip xnb && nft add chain ip xnb post '{ type nat hook postrouting priority 100; }' && \
        nft add rule ip xnb post oifname '"ge"' ip saddr 198.18.1.0/24 snat to 198.18.100.1-198.18.100.16
        """)
        _ = try? t.gw.exec("conntrack", "-F")
    }
    func tearDown(_ t: BenchTopology) {
        _ = try? t.gw.exec("nft", "delete", "table", "ip", "xnb")
        _ = try? t.gw.exec("conntrack", "-F")
    }
}

/// iptables (legacy x_tables) MASQUERADE.
struct IptablesMasquerade: GatewayCase {
    let name = "iptables-masquerade"
    func setUp(_ t: BenchTopology) throws {
        try t.gw.exec("iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-o", "ge", "-s", "198.18.1.0/24", "-j", "MASQUERADE")
        _ = try? t.gw.exec("conntrack", "-F")
    }
    func tearDown(_ t: BenchTopology) {
        _ = try? t.gw.exec("iptables-legacy", "-t", "nat", "-F")
        _ = try? t.gw.exec("conntrack", "-F")
    }
}

/// A stateless XDP rewrite with a fixed egress: the ceiling for any XDP NAT here.
final class XDPStateless: GatewayCase {
    let name = "xdp-stateless"
    var object: BPFObject?
    var link: XDPLink?
    func setUp(_ t: BenchTopology) throws {
        let o = try BPFObject(path: DatapathObject.path("xdp_stateless.bpf.o"))
        try o.load()
        object = o
        link = try t.gw.run {
            let ge = try interfaceIndex("ge")
            var c = xs_config()
            c.nat_ip = IPv4Address("198.18.100.1").networkOrder
            c.ifindex = ge
            withUnsafeMutableBytes(of: &c.dmac) { $0.copyBytes(from: t.s0MAC) }
            withUnsafeMutableBytes(of: &c.smac) { $0.copyBytes(from: t.geMAC) }
            try o.map("xs_config").update(UInt32(0), c)
            try o.map("xs_tx").update(ge, ge)
            return try XDPLink.attach(o.program("xdp_stateless"), ifindex: interfaceIndex("gi"), mode: .native)
        }
    }
    func tearDown(_ t: BenchTopology) {
        try? link?.detach()
        link = nil
        object = nil
    }
}

/// xdpnat itself: 16 pods, each with its own policy and NAT address, on gi and ge.
final class XDPNat: GatewayCase {
    let name = "xdpnat"
    let ctFlows: UInt32
    var object: BPFObject?
    var maps: NATMaps?
    var links: [XDPLink] = []
    init(ctFlows: UInt32) { self.ctFlows = ctFlows }

    func setUp(_ t: BenchTopology) throws {
        let o = try BPFObject(path: DatapathObject.path())
        try o.setMaxEntries(XN_MAP_CT, ctFlows * 2)
        try o.load()
        let m = try NATMaps(object: o)
        try m.writeConfig(xn_config())
        for i in 0..<BenchTopology.pods {
            let id = UInt32(i + 1)
            try m.setPolicy(id: id, natIP: IPv4Address(IPv4Address("198.18.100.1").value + UInt32(i)), ports: 1024...65535,
                            hasDestinations: false, hasExcluded: false)
            try m.setSource(IPv4CIDR(network: IPv4Address(BenchTopology.podBase.value + UInt32(i)), prefixLength: 32)!, policy: id)
            try m.setNATAddress(IPv4Address(IPv4Address("198.18.100.1").value + UInt32(i)), ports: 1024...65535, policy: id)
        }
        object = o
        maps = m
        links = try t.gw.run {
            var l: [XDPLink] = []
            for dev in ["gi", "ge"] {
                let idx = try interfaceIndex(dev)
                try m.addTxPort(ifindex: idx)
                l.append(try XDPLink.attach(o.program(XN_PROG_MAIN), ifindex: idx, mode: .native))
            }
            return l
        }
    }

    func tearDown(_ t: BenchTopology) {
        for l in links { try? l.detach() }
        links = []
        maps = nil
        object = nil
    }
}
