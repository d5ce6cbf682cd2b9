import ArgumentParser
import Foundation
import Glibc
import XDPNatABI
import XDPNatDatapath
import XDPNatModel

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Daemon health, attached interfaces, map fill, pools and allocations.")
    @OptionGroup var loc: Locations
    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table

    func run() throws {
        guard let status = try loc.status() else {
            throw CLIError("no status in \(loc.stateDir): xdpnatd has not run with this --state-dir")
        }
        if output == .json {
            print(jsonPretty(status))
            return
        }
        var out = Out()
        let alive = kill(status.pid, 0) == 0 || errno == EPERM
        let age = Date().timeIntervalSince(status.updatedAt)
        out.line("Daemon:     \(alive ? "running" : "NOT running") (pid \(status.pid), started \(status.startedAt), status \(humanDuration(age)) old)")
        out.line("Manifests:  \(status.manifestDirectory) (\(status.reloads) reloads, last \(status.lastReload.map { "\($0)" } ?? "never"))")
        out.line("Pins:       \(status.pinDirectory)")
        if let k = status.kubernetes {
            let role = k.leader ? "allocating (holds Lease \(k.lease))" : "following (Lease \(k.lease) held by \(k.leaseHolder.isEmpty ? "nobody" : k.leaseHolder))"
            out.line("Kubernetes: \(k.server) as \(k.identity), \(role)")
            for i in k.informers {
                let err = i.lastError.map { ", last error: \($0)" } ?? ""
                out.line("  \(i.resource): \(i.synced ? "synced" : "NOT synced"), \(i.objects) objects at version \(i.resourceVersion), \(i.lists) lists, \(i.events) events, \(i.expired) relists after 410, \(i.errors) errors\(err)")
            }
            if k.statusWriteErrors > 0 {
                out.line("  status writes failed \(k.statusWriteErrors) times, last: \(k.lastStatusWriteError ?? "?")")
            }
        }
        for i in status.interfaces {
            let pinned = FileManager.default.fileExists(atPath: "\(status.pinDirectory)/link_\(i.name.replacingOccurrences(of: ".", with: "_"))")
            out.line("Interface:  \(i.name) (ifindex \(i.ifindex)) XDP \(i.mode), program \(i.programID)\(pinned ? "" : " — link pin missing!")")
        }
        if let maps = try? loc.maps() {
            let halves = (try? maps.conntrack.entries(xn_ct_key.self, xn_ct_entry.self).count) ?? 0
            out.line("Conntrack:  \(halves / 2) flows, \(halves)/\(maps.conntrack.maxEntries) entries (\(String(format: "%.1f", Double(halves) * 100 / Double(max(1, maps.conntrack.maxEntries))))%)")
            out.line("Bindings:   \(maps.bindings.keys(xn_endpoint.self).count)/\(maps.bindings.maxEntries)")
        } else {
            out.line("Datapath:   no maps pinned under \(loc.pinDir)")
        }
        if let e = status.lastApplyError {
            out.line("")
            out.line("The last configuration could not be applied; the previous one stays in force: \(e)")
        }
        if !status.manifestErrors.isEmpty {
            out.line("")
            out.line("Manifest errors (the resources concerned keep their last good version):")
            for e in status.manifestErrors { out.line("  \(e)") }
        }
        out.line("")
        let poolRows = status.pools.map { p in
            [p.name, p.allocation.rawValue, "\(p.addresses)", "\(p.usedUnits)/\(p.totalUnits)", p.namespaces.joined(separator: ",")]
        }
        for l in table(["POOL", "ALLOCATION", "ADDRESSES", "USED", "NAMESPACES"], poolRows) { out.line(l) }
        out.line("")
        let rows = status.egressNATs.sorted { $0.key < $1.key }.map { id, st -> [String] in
            let c = st.conditions?.first
            return [id, st.pool ?? "-", (st.addresses ?? []).joined(separator: ","), (st.portRanges ?? []).joined(separator: ","),
                    "\(st.selectedPods ?? 0)", c.map { "\($0.status == "True" ? "Ready" : "NotReady") \($0.reason)" } ?? "-",
                    st.conditions?.count ?? 0 > 1 || c?.status == "False" ? (st.conditions ?? []).map(\.message).joined(separator: "; ") : ""]
        }
        for l in table(["EGRESSNAT", "POOL", "ADDRESSES", "PORTS", "PODS", "STATUS", "MESSAGE"], rows) { out.line(l) }
        out.flush()
    }
}
