import Foundation

/// pod (198.18.1.2) -- gw [XDP on gi and ge] -- srv (198.18.2.2)
/// The NAT pool 198.18.100.0/24 is routed to the gateway by the server.
public final class GatewayTopology: @unchecked Sendable {
    public let pod: NetNS
    public let gw: NetNS
    public let srv: NetNS

    public init() throws {
        pod = try NetNS("xnt-pod")
        gw = try NetNS("xnt-gw")
        srv = try NetNS("xnt-srv")
        try pod.link("p0", "198.18.1.2/24", to: gw, "gi", "198.18.1.1/24")
        try gw.link("ge", "198.18.2.1/24", to: srv, "s0", "198.18.2.2/24")
        try pod.exec("ip", "route", "add", "default", "via", "198.18.1.1")
        try srv.exec("ip", "route", "add", "198.18.100.0/24", "via", "198.18.2.1")
        try srv.exec("ip", "route", "add", "198.18.1.0/24", "via", "198.18.2.1")
        try gw.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        // veth drops redirected XDP frames unless the receiving side has GRO (or XDP)
        try pod.exec("ethtool", "-K", "p0", "gro", "on")
        try srv.exec("ethtool", "-K", "s0", "gro", "on")
        // veth hands over locally generated TCP/UDP with a partial (offloaded)
        // checksum, which a NIC never delivers: make the hosts send full ones
        try pod.exec("ethtool", "-K", "p0", "tx", "off")
        try srv.exec("ethtool", "-K", "s0", "tx", "off")
    }

    deinit {
        pod.close()
        gw.close()
        srv.close()
    }
}

