import ArgumentParser
import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet

/// A flow as the CLI prints it in JSON: stable field names, one object per line.
struct FlowRecord: Codable {
    var proto: String
    var state: String?
    var namespace: String?
    var pod: String?
    var src: String
    var sport: UInt16
    var dst: String
    var dport: UInt16
    var natIP: String
    var natPort: UInt16
    var origPackets: UInt64
    var origBytes: UInt64
    var replyPackets: UInt64
    var replyBytes: UInt64
    var assured: Bool
    var created: Date
    var lastSeen: Date
    var idleSeconds: Double
    var timeoutSeconds: Double
    var policyID: UInt32

    enum CodingKeys: String, CodingKey {
        case proto, state, namespace, pod, src, sport, dst, dport
        case natIP = "nat_ip", natPort = "nat_port", origPackets = "orig_packets", origBytes = "orig_bytes"
        case replyPackets = "reply_packets", replyBytes = "reply_bytes", assured, created, lastSeen = "last_seen"
        case idleSeconds = "idle_seconds", timeoutSeconds = "timeout_seconds", policyID = "policy_id"
    }
}

/// Formats flows in each output style.
struct FlowPrinter {
    let owners: Owners
    let timeouts: ConntrackTimeouts
    let now = monotonicNow()

    func idle(_ f: Flow) -> Double { Double(now &- f.lastSeenNs) / 1e9 }
    func remaining(_ f: Flow) -> Double {
        max(0, timeouts.timeout(proto: f.proto, state: f.tcpState, seenReply: f.seenReply) - idle(f))
    }

    func record(_ f: Flow) -> FlowRecord {
        let ns = owners.namespace(f), pod = owners.pod(f)
        return FlowRecord(proto: f.protoName, state: f.proto == 6 ? f.tcpState.description : nil,
                          namespace: ns.isEmpty ? nil : ns, pod: pod.isEmpty ? nil : pod,
                          src: f.pod.description, sport: f.podPort, dst: f.remote.description, dport: f.remotePort,
                          natIP: f.natIP.description, natPort: f.natPort, origPackets: f.origPackets, origBytes: f.origBytes,
                          replyPackets: f.replyPackets, replyBytes: f.replyBytes, assured: f.seenReply,
                          created: wallClock(monotonicNs: f.createdNs), lastSeen: wallClock(monotonicNs: f.lastSeenNs),
                          idleSeconds: (idle(f) * 1000).rounded() / 1000, timeoutSeconds: remaining(f).rounded(),
                          policyID: f.policyID)
    }

    /// The line `conntrack -L` would print for the flow.
    func conntrackLine(_ f: Flow) -> String {
        var s = f.protoName.padding(toLength: 8, withPad: " ", startingAt: 0) + " \(f.proto) \(Int(remaining(f)))"
        if f.proto == 6 { s += " \(f.tcpState)" }
        if f.proto == 1 {
            s += " src=\(f.pod) dst=\(f.remote) type=8 code=0 id=\(f.podPort) packets=\(f.origPackets) bytes=\(f.origBytes)"
            if !f.seenReply { s += " [UNREPLIED]" }
            s += " src=\(f.remote) dst=\(f.natIP) type=0 code=0 id=\(f.natPort) packets=\(f.replyPackets) bytes=\(f.replyBytes)"
        } else {
            s += " src=\(f.pod) dst=\(f.remote) sport=\(f.podPort) dport=\(f.remotePort) packets=\(f.origPackets) bytes=\(f.origBytes)"
            if !f.seenReply { s += " [UNREPLIED]" }
            s += " src=\(f.remote) dst=\(f.natIP) sport=\(f.remotePort) dport=\(f.natPort) packets=\(f.replyPackets) bytes=\(f.replyBytes)"
        }
        if f.seenReply { s += " [ASSURED]" }
        return s + " mark=0 use=1"
    }

    static let header = ["PROTO", "STATE", "NAMESPACE", "POD", "SOURCE", "DESTINATION", "NAT", "PKTS", "BYTES", "AGE", "IDLE"]

    func row(_ f: Flow) -> [String] {
        [f.protoName, f.proto == 6 ? f.tcpState.description : "-", owners.namespace(f).isEmpty ? "-" : owners.namespace(f),
         owners.pod(f).isEmpty ? "-" : String(owners.pod(f).split(separator: "/").last!),
         "\(f.pod):\(f.podPort)", "\(f.remote):\(f.remotePort)", "\(f.natIP):\(f.natPort)",
         "\(f.origPackets)/\(f.replyPackets)", "\(humanBytes(f.origBytes))/\(humanBytes(f.replyBytes))",
         humanDuration(Double(now &- f.createdNs) / 1e9), humanDuration(idle(f))]
    }

    func print(_ flows: [Flow], as format: OutputFormat) {
        var out = Out()
        switch format {
        case .json: for f in flows { out.line(jsonLine(record(f))) }
        case .conntrack: for f in flows { out.line(conntrackLine(f)) }
        case .table: for l in table(Self.header, flows.map(row)) { out.line(l) }
        }
        out.flush()
    }
}

enum SortKey: String, ExpressibleByArgument, CaseIterable {
    case bytes, packets, age, idle, src, nat
}

/// Flows matching a filter, with what is needed to print them.
func selectFlows(_ loc: Locations, _ filter: FlowFilter) throws -> (flows: [Flow], printer: FlowPrinter, maps: NATMaps) {
    let maps = try loc.maps()
    let status = try loc.status()
    let owners = Owners(status)
    let printer = FlowPrinter(owners: owners, timeouts: status?.timeouts ?? ConntrackTimeouts())
    let keep = filter.predicate(owners, now: printer.now)
    let flows = try Conntrack.flows(maps).filter(keep)
    return (flows, printer, maps)
}

struct CTList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List translated flows.",
        discussion: """
        Examples:
          xdpnat ct list -n team-a
          xdpnat ct list --proto tcp --state ESTABLISHED --dst 198.18.2.0/24
          xdpnat ct list --sort bytes --limit 20        # top talkers
          xdpnat ct list -o json | jq .nat_port
          xdpnat ct list -o conntrack                   # the format of conntrack -L
        """)
    @OptionGroup var loc: Locations
    @OptionGroup var filter: FlowFilter
    @Option(name: .shortAndLong, help: "table, json (one object per line) or conntrack.")
    var output: OutputFormat = .table
    @Option(help: "Sort by bytes, packets, age, idle, src or nat (largest / longest first).")
    var sort: SortKey?
    @Option(help: "Print at most this many flows.")
    var limit: Int?

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() throws {
        var (flows, printer, _) = try selectFlows(loc, filter)
        switch sort {
        case .bytes: flows.sort { $0.origBytes + $0.replyBytes > $1.origBytes + $1.replyBytes }
        case .packets: flows.sort { $0.origPackets + $0.replyPackets > $1.origPackets + $1.replyPackets }
        case .age: flows.sort { $0.createdNs < $1.createdNs }
        case .idle: flows.sort { $0.lastSeenNs < $1.lastSeenNs }
        case .src: flows.sort { ($0.pod, $0.podPort) < ($1.pod, $1.podPort) }
        case .nat: flows.sort { ($0.natIP, $0.natPort) < ($1.natIP, $1.natPort) }
        case nil: break
        }
        if let limit { flows = Array(flows.prefix(limit)) }
        printer.print(flows, as: output)
    }
}

struct CTCount: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "count", abstract: "Count translated flows.")
    @OptionGroup var loc: Locations
    @OptionGroup var filter: FlowFilter

    func run() throws {
        print(try selectFlows(loc, filter).flows.count)
    }
}

struct CTFlush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush", abstract: "Delete flows (both halves of each pair); all of them without filters.",
        discussion: "Example: xdpnat ct flush -n team-a --proto udp")
    @OptionGroup var loc: Locations
    @OptionGroup var filter: FlowFilter

    func run() throws {
        let (flows, _, maps) = try selectFlows(loc, filter)
        let halves = try Conntrack.delete(flows, from: maps)
        print("\(halves / 2) flow entries have been deleted.")
    }
}

struct CTEvents: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Stream new flows as the datapath creates them (like conntrack -E).",
        discussion: """
        Turns the datapath's event stream on while it runs (and back off at exit unless
        xdpnatd was started with --events).
        Example: xdpnat ct events -o json --count 100
        """)
    @OptionGroup var loc: Locations
    @Option(name: .shortAndLong, help: "table, json or conntrack.")
    var output: OutputFormat = .conntrack
    @Option(help: "Stop after this many events.")
    var count: Int?
    @Option(help: "Stop after this many seconds.")
    var timeout: Double?

    func run() throws {
        let maps = try loc.maps()
        let owners = Owners(try loc.status())
        var cfg = maps.readConfig()
        let wasOn = cfg.flags & UInt32(XN_CFG_F_EVENTS) != 0
        if !wasOn {
            cfg.flags |= UInt32(XN_CFG_F_EVENTS)
            try maps.writeConfig(cfg)
        }
        defer {
            if !wasOn {
                var c = maps.readConfig()
                c.flags &= ~UInt32(XN_CFG_F_EVENTS)
                try? maps.writeConfig(c)
            }
        }
        let reader = try FlowEventReader(map: maps.events)
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var seen = 0
        var out = Out()
        while count.map({ seen < $0 }) ?? true, deadline.map({ Date() < $0 }) ?? true {
            for ev in try reader.poll(timeoutMs: 200) {
                let pod = IPv4Address(networkOrder: ev.orig.src_ip), remote = IPv4Address(networkOrder: ev.orig.dst_ip)
                let sport = UInt16(bigEndian: ev.orig.src_port), dport = UInt16(bigEndian: ev.orig.dst_port)
                let nat = IPv4Address(networkOrder: ev.nat_ip), natPort = UInt16(bigEndian: ev.nat_port)
                let proto = IPProtocol(rawValue: ev.orig.proto)?.description ?? "\(ev.orig.proto)"
                let who = owners.sources.first { $0.0.contains(pod) }?.1 ?? ""
                switch output {
                case .json:
                    out.line(jsonLine(EventRecord(type: "new", time: wallClock(monotonicNs: ev.ts_ns), proto: proto,
                                                  src: "\(pod)", sport: sport, dst: "\(remote)", dport: dport,
                                                  natIP: "\(nat)", natPort: natPort, pod: who.isEmpty ? nil : who)))
                case .conntrack:
                    out.line("    [NEW] \(proto.padding(toLength: 8, withPad: " ", startingAt: 0)) \(ev.orig.proto) src=\(pod) dst=\(remote) sport=\(sport) dport=\(dport) [UNREPLIED] src=\(remote) dst=\(nat) sport=\(dport) dport=\(natPort)")
                case .table:
                    out.line("NEW \(proto) \(pod):\(sport) -> \(remote):\(dport) as \(nat):\(natPort) \(who)")
                }
                seen += 1
                if count.map({ seen >= $0 }) ?? false { break }
            }
            out.flush()
        }
        out.flush()
    }
}

struct EventRecord: Codable {
    var type: String
    var time: Date
    var proto: String
    var src: String
    var sport: UInt16
    var dst: String
    var dport: UInt16
    var natIP: String
    var natPort: UInt16
    var pod: String?
    enum CodingKeys: String, CodingKey {
        case type, time, proto, src, sport, dst, dport, natIP = "nat_ip", natPort = "nat_port", pod
    }
}
