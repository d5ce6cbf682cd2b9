import ArgumentParser
import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet

/// Everything `ct stats` reports, as JSON.
struct StatsReport: Codable {
    var counters: [String: UInt64]
    var countersPerCPU: [String: [UInt64]]
    var drops: [String: UInt64]
    var flows: Int
    var flowsByState: [String: Int]
    var conntrackEntries: Int
    var conntrackCapacity: Int
    var conntrackFill: Double
    var portsInUseByNATIP: [String: Int]
    var portsInUseByNamespace: [String: Int]
    var allocationFailures: [String: String]
    var gc: DaemonStatus.GC?
}

struct CTStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Is my NAT healthy, and if not, why: counters, drops, table fill, ports.")
    @OptionGroup var loc: Locations
    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table
    @Flag(help: "Show per-CPU values of the datapath counters.")
    var perCPU = false

    func run() throws {
        let maps = try loc.maps()
        let status = try loc.status()
        let snap = maps.readCounters()
        let flows = try Conntrack.flows(maps)
        var byState: [String: Int] = [:]
        for f in flows { byState[f.proto == 6 ? "tcp/\(f.tcpState)" : f.protoName, default: 0] += 1 }
        var byNAT: [String: Int] = [:]
        for (ep, _) in try maps.natPorts.entries(xn_endpoint.self, xn_binding.self) {
            byNAT[IPv4Address(networkOrder: ep.ip).description, default: 0] += 1
        }
        let owners = Owners(status)
        var byNS: [String: Int] = [:]
        for (_, b) in try maps.bindings.entries(xn_endpoint.self, xn_binding.self) {
            let ns = owners.policyOwner[b.policy_id].map { String($0.split(separator: "/")[0]) } ?? "(policy \(b.policy_id))"
            byNS[ns, default: 0] += 1
        }
        var failures: [String: String] = [:]
        for (id, st) in status?.egressNATs ?? [:] {
            if let c = st.conditions?.first, c.status == "False" { failures[id] = "\(c.reason): \(c.message)" }
        }
        let entries = flows.count * 2
        let report = StatsReport(
            counters: snap.totals,
            countersPerCPU: Dictionary(uniqueKeysWithValues: DatapathCounters.names.map { ($0.name, snap.perCPU[Int($0.index)]) }),
            drops: snap.totals.filter { $0.key.hasPrefix("drop_") },
            flows: flows.count, flowsByState: byState, conntrackEntries: entries,
            conntrackCapacity: maps.conntrack.maxEntries,
            conntrackFill: Double(entries) / Double(max(1, maps.conntrack.maxEntries)),
            portsInUseByNATIP: byNAT, portsInUseByNamespace: byNS, allocationFailures: failures, gc: status?.gc)
        if output == .json {
            print(jsonPretty(report))
            return
        }
        var out = Out()
        out.line("Conntrack: \(report.flows) flows (\(entries) of \(report.conntrackCapacity) entries, \(String(format: "%.2f", report.conntrackFill * 100))% full)")
        for (k, v) in byState.sorted(by: { $0.key < $1.key }) { out.line("  \(k): \(v)") }
        out.line("")
        out.line("Datapath counters:")
        let header = perCPU ? ["COUNTER", "TOTAL"] + (0..<BPFMap.possibleCPUs).map { "CPU\($0)" } : ["COUNTER", "TOTAL"]
        let rows = DatapathCounters.names.map { c -> [String] in
            let total = snap.total(c.index)
            return [c.name, "\(total)"] + (perCPU ? snap.perCPU[Int(c.index)].map(String.init) : [])
        }
        for l in table(header, rows) { out.line("  " + l) }
        let drops = report.drops.filter { $0.value > 0 }.sorted { $0.value > $1.value }
        out.line("")
        out.line(drops.isEmpty ? "Drops: none" : "Drops: " + drops.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        out.line("")
        out.line("NAT ports in use:")
        for (ip, n) in byNAT.sorted(by: { $0.key < $1.key }) { out.line("  \(ip): \(n)") }
        for (ns, n) in byNS.sorted(by: { $0.key < $1.key }) { out.line("  namespace \(ns): \(n)") }
        if !failures.isEmpty {
            out.line("")
            out.line("Allocation failures:")
            for (id, why) in failures.sorted(by: { $0.key < $1.key }) { out.line("  \(id): \(why)") }
        }
        if let g = report.gc {
            out.line("")
            out.line("Last GC: \(g.at) took \(String(format: "%.3f", g.durationSeconds))s, expired \(g.expiredFlows) flows, released \(g.releasedPorts) ports")
        } else if status == nil {
            out.line("")
            out.line("No daemon status in \(loc.stateDir): GC and allocation figures unavailable.")
        }
        out.flush()
    }
}

