import Foundation
import Testing
import XDPNatModel

/// The examples a new user copies must load and validate cleanly, and reconcile to something useful.
@Suite struct ExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../crd/examples").standardized.path

    @Test func examplesLoadValidateAndReconcile() {
        let loaded = ManifestLoader.load(directory: Self.examples)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let v = Validator.validate(loaded.resources)
        #expect(v.errors.isEmpty, "\(v.errors)")
        #expect(v.valid.pools.count == 2)
        let r = Reconciler.reconcile(v.valid, state: AllocationState())
        #expect(r.statuses["team-a/partner-api"]?.conditions?.first?.reason == "Allocated")
        #expect(r.plan.sources.count == 1)
    }
}
