import ArgumentParser
import Foundation
import XDPNatModel

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check manifests offline, with the same errors the daemon gives.",
        discussion: """
        Loads a file or a directory of manifests, validates every resource and works out
        what each EgressNAT would get (against an empty allocation state). Exits 1 on errors.
        Example: xdpnat validate -f crd/examples
        """)
    @Option(name: .shortAndLong, help: "A manifest file or a directory of them.")
    var file: String
    @Option(name: .shortAndLong, help: "table or json.")
    var output: OutputFormat = .table

    struct Report: Codable {
        var errors: [String]
        var egressNATs: [String: EgressNAT.Status]
        var pools: [PoolStatus]
    }

    func run() throws {
        let loaded = ManifestLoader.load(path: file)
        let v = Validator.validate(loaded.resources)
        let errors = loaded.errors + v.errors
        let r = Reconciler.reconcile(v.valid, state: AllocationState())
        if output == .json {
            print(jsonPretty(Report(errors: errors.map(\.description), egressNATs: r.statuses, pools: r.pools)))
        } else {
            for e in errors { print("error: \(e)") }
            for (id, st) in r.statuses.sorted(by: { $0.key < $1.key }) {
                for c in st.conditions ?? [] where c.status == "False" || c.type == "Degraded" {
                    print("warning: EgressNAT \(id): \(c.reason): \(c.message)")
                }
            }
            let counts = "\(v.valid.pools.count) NATPools, \(v.valid.egressNATs.count) EgressNATs, \(v.valid.pods.count) Pods, \(v.valid.namespaces.count) Namespaces"
            print(errors.isEmpty ? "ok: \(counts)" : "\(errors.count) error(s); valid: \(counts)")
        }
        if !errors.isEmpty { throw ExitCode(1) }
    }
}
