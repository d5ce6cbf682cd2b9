import Foundation

/// Test hosts in network namespaces, only addresses of 198.18.0.0/15:
///
///     pod 198.18.1.2 -- gi [gw] ge 198.18.2.1 -- srv 198.18.2.2
///
/// or, `routed`, with a router whose far side has an MTU of 1280:
///
///     pod -- gi [gw] ge 198.18.2.1 -- r0 198.18.2.254 [rtr] r1 198.18.3.1 --(mtu 1280)-- srv 198.18.3.2
///
/// The NAT pool 198.18.100.0/24 and the pods' 198.18.1.0/24 are routed to the gateway.
public final class GatewayTopology: @unchecked Sendable {
    public let pod: NetNS
    public let gw: NetNS
    public let srv: NetNS
    public let rtr: NetNS?
    /// The server's address.
    public let server: String

    public init(routed: Bool = false) throws {
        pod = try NetNS("xnt-pod")
        gw = try NetNS("xnt-gw")
        srv = try NetNS("xnt-srv")
        rtr = routed ? try NetNS("xnt-rtr") : nil
        server = routed ? "198.18.3.2" : "198.18.2.2"
        try pod.link("p0", "198.18.1.2/24", to: gw, "gi", "198.18.1.1/24")
        try pod.exec("ip", "route", "add", "default", "via", "198.18.1.1")
        try gw.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        // veth drops redirected XDP frames unless the receiving side has GRO (or XDP)
        try pod.exec("ethtool", "-K", "p0", "gro", "on")
        // veth hands over locally generated TCP/UDP with a partial (offloaded)
        // checksum, which a NIC never delivers: make the hosts send full ones
        try pod.exec("ethtool", "-K", "p0", "tx", "off")
        if let rtr {
            try gw.link("ge", "198.18.2.1/24", to: rtr, "r0", "198.18.2.254/24")
            try rtr.link("r1", "198.18.3.1/24", to: srv, "s0", "198.18.3.2/24")
            try rtr.exec("ip", "link", "set", "r1", "mtu", "1280")
            try srv.exec("ip", "link", "set", "s0", "mtu", "1280")
            try rtr.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
            try rtr.exec("ip", "route", "add", "198.18.100.0/24", "via", "198.18.2.1")
            try rtr.exec("ip", "route", "add", "198.18.1.0/24", "via", "198.18.2.1")
            try gw.exec("ip", "route", "add", "default", "via", "198.18.2.254")
            try srv.exec("ip", "route", "add", "default", "via", "198.18.3.1")
            try rtr.exec("ethtool", "-K", "r0", "gro", "on")
            try srv.exec("ethtool", "-K", "s0", "tx", "off")
        } else {
            try gw.link("ge", "198.18.2.1/24", to: srv, "s0", "198.18.2.2/24")
            try srv.exec("ip", "route", "add", "198.18.100.0/24", "via", "198.18.2.1")
            try srv.exec("ip", "route", "add", "198.18.1.0/24", "via", "198.18.2.1")
            try srv.exec("ethtool", "-K", "s0", "gro", "on")
            try srv.exec("ethtool", "-K", "s0", "tx", "off")
        }
    }

    deinit { close() }

    public func close() {
        pod.close()
        gw.close()
        srv.close()
        rtr?.close()
    }
}
