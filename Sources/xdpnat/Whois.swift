import ArgumentParser
import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet

struct Whois: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which namespace and pod a NAT address and port belongs to (now, or at a past time).",
        discussion: """
        Answers from the live NAT port reservations and flows, and from the allocation
        history (allocations.log) for --at.
        Examples:
          xdpnat whois 198.18.100.1:40123
          xdpnat whois 198.18.100.1:40123 --proto udp
          xdpnat whois 198.18.100.1 --at 2026-11-20T14:03:00Z
        """)
    @OptionGroup var loc: Locations
    @Argument(help: "NAT address, optionally with :PORT.")
    var endpoint: String
    @Option(name: [.customShort("p"), .long], help: "tcp, udp or icmp (default: all).")
    var proto: String?
    @Option(help: "A past time (ISO 8601, e.g. 2026-11-20T14:03:00Z) to ask about.")
    var at: String?
    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table

    struct Answer: Codable {
        var address: String
        var port: Int?
        var at: Date
        var namespace: String?
        var pool: String?
        var allocation: String?
        var portRange: String?
        var bindings: [Binding]
        var flows: [FlowRecord]
        struct Binding: Codable {
            var proto: String
            var natPort: UInt16
            var pod: String
            var podIP: String
            var podPort: UInt16
        }
    }

    func parse() throws -> (IPv4Address, UInt16?, Date?) {
        let parts = endpoint.split(separator: ":")
        guard (1...2).contains(parts.count), let ip = IPv4Address(parts[0]) else {
            throw ValidationError("'\(endpoint)' is not IP or IP:PORT")
        }
        var port: UInt16? = nil
        if parts.count == 2 {
            guard let p = UInt16(parts[1]) else { throw ValidationError("'\(parts[1])' is not a port number") }
            port = p
        }
        var when: Date? = nil
        if let at {
            let f = ISO8601DateFormatter()
            guard let d = f.date(from: at) ?? f.date(from: at + "Z") else {
                throw ValidationError("--at '\(at)' is not an ISO 8601 time such as 2026-11-20T14:03:00Z")
            }
            when = d
        }
        if let proto, IPProtocol(name: proto) == nil { throw ValidationError("--proto must be tcp, udp or icmp") }
        return (ip, port, when)
    }

    func run() throws {
        let (ip, port, when) = try parse()
        let status = try loc.status()
        let owners = Owners(status)
        let time = when ?? Date()
        var answer = Answer(address: ip.description, port: port.map(Int.init), at: time, bindings: [], flows: [])

        let history = AllocationHistory.read("\(loc.stateDir)/allocations.log")
        if let e = AllocationHistory.holder(of: ip, port: port.map(Int.init), at: time, in: history) {
            answer.namespace = e.namespace
            answer.pool = e.pool
            answer.allocation = e.event == .draining ? "draining (its EgressNAT was deleted)" : "allocated"
            answer.portRange = e.ports.description
        } else if when == nil, let a = status?.allocations.first(where: { a in
            a.units.contains { u in u.address == ip && (port.map { p in u.ports.min <= Int(p) && Int(p) <= u.ports.max } ?? true) }
        }) {
            answer.namespace = a.namespace
            answer.pool = a.pool
            answer.allocation = a.releasedAt == nil ? "allocated" : "draining (its EgressNAT was deleted)"
        }

        // the present: live reservations and flows
        if when == nil || abs(time.timeIntervalSinceNow) < 5 {
            let maps = try loc.maps()
            let protos = proto.flatMap(IPProtocol.init(name:)).map { [$0] } ?? IPProtocol.allCases
            for (nat, pod) in try maps.natPorts.entries(xn_endpoint.self, xn_binding.self) {
                guard nat.ip == ip.networkOrder, protos.contains(where: { $0.rawValue == nat.proto }) else { continue }
                let natPort = UInt16(bigEndian: nat.port)
                if let port, natPort != port { continue }
                let podIP = IPv4Address(networkOrder: pod.ip)
                answer.bindings.append(.init(proto: IPProtocol(rawValue: nat.proto)!.description, natPort: natPort,
                                             pod: owners.sources.first { $0.0.contains(podIP) }?.1 ?? "",
                                             podIP: podIP.description, podPort: UInt16(bigEndian: pod.port)))
            }
            let printer = FlowPrinter(owners: owners, timeouts: status?.timeouts ?? ConntrackTimeouts())
            answer.flows = try Conntrack.flows(maps).filter { f in
                f.natIP == ip && (port.map { f.natPort == $0 } ?? true) && protos.contains { $0.rawValue == f.proto }
            }.map(printer.record)
        }

        if output == .json {
            print(jsonPretty(answer))
            return
        }
        var out = Out()
        let what = port.map { "\(ip):\($0)" } ?? ip.description
        if let ns = answer.namespace {
            out.line("\(what) belongs to namespace \(ns) (NATPool \(answer.pool ?? "?"), \(answer.allocation ?? ""))\(when.map { " at \($0)" } ?? "")")
        } else {
            out.line("\(what) was not allocated to any namespace\(when.map { " at \($0)" } ?? "")")
        }
        for b in answer.bindings.sorted(by: { $0.natPort < $1.natPort }) {
            out.line("  \(b.proto) port \(b.natPort) -> pod \(b.pod.isEmpty ? "?" : b.pod) (\(b.podIP):\(b.podPort))")
        }
        for f in answer.flows {
            out.line("  flow \(f.proto) \(f.src):\(f.sport) -> \(f.dst):\(f.dport) as \(f.natIP):\(f.natPort) \(f.state ?? "") idle \(humanDuration(f.idleSeconds))")
        }
        if when != nil && abs(time.timeIntervalSinceNow) >= 5 {
            out.line("  (pods and flows are only known for the present; the history records namespaces)")
        }
        out.flush()
    }
}
