import Testing
import XDPNatModel

@Suite struct ManifestLoaderTests {
    let good = """
    apiVersion: xdpnat.io/v1alpha1
    kind: NATPool
    metadata:
      name: tenants
    spec:
      addresses: ["198.18.100.0/30"]
      portRange: {min: 1024, max: 65535}
    ---
    apiVersion: xdpnat.io/v1alpha1
    kind: EgressNAT
    metadata: {name: db, namespace: team-a}
    spec:
      podSelector: {matchLabels: {app: api}}
      poolRef: tenants
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: api-1, namespace: team-a, labels: {app: api}}
    status: {podIP: 198.18.1.2, phase: Running}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: unrelated}
    """

    @Test func readsEveryKindOfDocument() {
        let r = ManifestLoader.load(yaml: good, file: "a.yaml")
        #expect(r.errors.isEmpty)
        #expect(r.resources.pools.map(\.metadata.name) == ["tenants"])
        #expect(r.resources.egressNATs.map(\.id) == ["team-a/db"])
        #expect(r.resources.pods.first?.activeIP == "198.18.1.2")
        #expect(r.resources.locations["EgressNAT team-a/db"]?.document == 2)
        #expect(r.resources.locations["EgressNAT team-a/db"]?.line == 9)
    }

    @Test func syntaxErrorStaysInsideItsDocument() {
        let text = good + "\n---\nkind: [unclosed\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n"
        let r = ManifestLoader.load(yaml: text, file: "b.yaml")
        #expect(r.errors.count == 1)
        let e = r.errors[0]
        #expect(e.file == "b.yaml" && e.document == 5)
        #expect(e.message.contains("invalid YAML"))
        #expect(r.resources.pools.count == 1 && r.resources.namespaces.count == 1, "good documents kept")
    }

    @Test func typeErrorsNameTheField() {
        let text = """
        apiVersion: xdpnat.io/v1alpha1
        kind: NATPool
        metadata: {name: p}
        spec:
          addresses: ["198.18.100.1"]
          portRange: {min: low, max: 2000}
        """
        let r = ManifestLoader.load(yaml: text, file: "c.yaml")
        #expect(r.errors.count == 1)
        #expect(r.errors.first?.field == "spec.portRange.min")
        #expect(r.errors.first?.resource == "NATPool p")
        #expect(r.errors.first?.message == "expected an integer")
    }

    @Test func missingRequiredField() {
        let r = ManifestLoader.load(yaml: "apiVersion: xdpnat.io/v1alpha1\nkind: NATPool\nmetadata: {name: p}\nspec: {}\n", file: "d.yaml")
        #expect(r.errors.first?.field == "spec.addresses")
        #expect(r.errors.first?.message == "required field is missing")
    }

    @Test func unknownFieldsAreErrorsNotSilence() {
        let text = """
        apiVersion: xdpnat.io/v1alpha1
        kind: EgressNAT
        metadata: {name: x, namespace: a}
        spec:
          podSelectr: {matchLabels: {app: x}}
        """
        let r = ManifestLoader.load(yaml: text, file: "e.yaml")
        #expect(r.errors.first?.field == "spec.podSelectr")
        #expect(r.errors.first?.message.hasPrefix("unknown field") == true)
        #expect(r.resources.egressNATs.isEmpty)
    }

    @Test func unknownKindInOurGroupSuggestsTheRightOne() {
        let r = ManifestLoader.load(yaml: "apiVersion: xdpnat.io/v1alpha1\nkind: NatPool\nmetadata: {name: p}\n", file: "f.yaml")
        #expect(r.errors.first?.message.contains("did you mean 'NATPool'") == true)
        let v = ManifestLoader.load(yaml: "apiVersion: xdpnat.io/v2\nkind: NATPool\nmetadata: {name: p}\n", file: "f.yaml")
        #expect(v.errors.first?.field == "apiVersion")
    }

    @Test func listsAreUnpacked() {
        let text = """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Namespace
          metadata: {name: team-a, labels: {tier: gold}}
        - apiVersion: v1
          kind: Pod
          metadata: {name: p, namespace: team-a}
          status: {podIP: 198.18.1.9, phase: Running}
        """
        let r = ManifestLoader.load(yaml: text, file: "g.yaml")
        #expect(r.errors.isEmpty)
        #expect(r.resources.namespaces.first?.effectiveLabels["tier"] == "gold")
        #expect(r.resources.pods.count == 1)
    }

    @Test func notAMappingAndMissingKind() {
        let r = ManifestLoader.load(yaml: "- a\n- b\n---\napiVersion: v1\nmetadata: {name: x}\n", file: "h.yaml")
        #expect(r.errors.count == 2)
        #expect(r.errors[0].message.contains("mapping"))
        #expect(r.errors[1].field == "kind")
    }

    @Test func errorDescriptionNamesEverything() {
        let e = ManifestError(file: "x.yaml", document: 2, line: 7, resource: "NATPool p", field: "spec.portRange.min",
                              message: "must be between 1 and 65535, got 0")
        #expect(e.description == "x.yaml: document 2 (line 7), NATPool p: spec.portRange.min: must be between 1 and 65535, got 0")
    }
}
