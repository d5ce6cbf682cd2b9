import Testing
import XDPNatModel

@Suite struct ValidationTests {
    func pool(_ name: String = "p", _ addresses: [String] = ["198.18.100.0/30"], ports: PortRange? = nil,
              allocation: NATPool.Allocation? = nil, blockSize: Int? = nil, selector: LabelSelector? = nil) -> NATPool {
        NATPool(name: name, spec: .init(addresses: addresses, portRange: ports, allocation: allocation,
                                        blockSize: blockSize, namespaceSelector: selector))
    }

    func errors(_ p: NATPool) -> [String: String] {
        Dictionary(Validator.check(p).map { ($0.field, $0.message) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func validPoolHasNoErrors() {
        #expect(Validator.check(pool()).isEmpty)
        #expect(Validator.check(pool(allocation: .shared, blockSize: 1024)).isEmpty)
    }

    @Test func poolRules() {
        #expect(errors(pool("p", []))["spec.addresses"] != nil)
        #expect(errors(pool("p", ["198.18.100.1/24"]))["spec.addresses[0]"]?.contains("did you mean 198.18.100.0/24") == true)
        #expect(errors(pool("p", ["banana"]))["spec.addresses[0]"]?.contains("not an IPv4") == true)
        #expect(errors(pool("p", ["198.0.0.0/8"]))["spec.addresses[0]"]?.contains("larger than a /16") == true)
        #expect(errors(pool("p", ["127.0.0.1"]))["spec.addresses[0]"]?.contains("loopback") == true)
        #expect(errors(pool("p", ["224.0.0.1"]))["spec.addresses[0]"]?.contains("multicast") == true)
        #expect(errors(pool(ports: PortRange(0, 10)))["spec.portRange.min"] != nil)
        #expect(errors(pool(ports: PortRange(100, 70000)))["spec.portRange.max"] != nil)
        #expect(errors(pool(ports: PortRange(3000, 2000)))["spec.portRange"]?.contains("greater") == true)
        #expect(errors(pool(blockSize: 128))["spec.blockSize"]?.contains("only applies") == true)
        #expect(errors(pool(allocation: .shared, blockSize: 10))["spec.blockSize"] != nil)
        #expect(errors(pool(ports: PortRange(2000, 3000), allocation: .shared))["spec.blockSize"]?.contains("does not fit") == true)
        var namespaced = pool()
        namespaced.metadata.namespace = "x"
        #expect(errors(namespaced)["metadata.namespace"] != nil)
        #expect(errors(pool("Bad_Name"))["metadata.name"] != nil)
    }

    @Test func selectorRules() {
        let noValues = LabelSelector(matchExpressions: [.init(key: "tier", .in, [])])
        #expect(errors(pool(selector: noValues))["spec.namespaceSelector.matchExpressions[0].values"] != nil)
        let valuesOnExists = LabelSelector(matchExpressions: [.init(key: "tier", .exists, ["x"])])
        #expect(errors(pool(selector: valuesOnExists))["spec.namespaceSelector.matchExpressions[0].values"] != nil)
        let never = LabelSelector(matchLabels: ["tier": "gold"], matchExpressions: [.init(key: "tier", .notIn, ["gold"])])
        #expect(errors(pool(selector: never))["spec.namespaceSelector"]?.contains("can never match") == true)
        let never2 = LabelSelector(matchExpressions: [.init(key: "a", .exists), .init(key: "a", .doesNotExist)])
        #expect(errors(pool(selector: never2))["spec.namespaceSelector"] != nil)
        let never3 = LabelSelector(matchExpressions: [.init(key: "a", .in, ["1"]), .init(key: "a", .in, ["2"])])
        #expect(errors(pool(selector: never3))["spec.namespaceSelector"] != nil)
        let fine = LabelSelector(matchLabels: ["tier": "gold"], matchExpressions: [.init(key: "tier", .in, ["gold", "silver"])])
        #expect(errors(pool(selector: fine)).isEmpty)
    }

    @Test func egressNATRules() {
        func errs(_ spec: EgressNAT.Spec, ns: String = "team-a") -> [String: String] {
            Dictionary(Validator.check(EgressNAT(namespace: ns, name: "x", spec: spec)).map { ($0.field, $0.message) },
                       uniquingKeysWith: { a, _ in a })
        }
        #expect(errs(.init()).isEmpty)
        #expect(errs(.init(destinations: ["198.18.2.0/24", "nope"]))["spec.destinations[1]"] != nil)
        #expect(errs(.init(excludedDestinations: ["198.18.2.1/24"]))["spec.excludedDestinations[0]"] != nil)
        #expect(errs(.init(addresses: 0))["spec.addresses"] != nil)
        #expect(errs(.init(sourceCIDRs: ["x"]))["spec.sourceCIDRs[0]"] != nil)
        #expect(errs(.init(poolRef: "UPPER"))["spec.poolRef"] != nil)
        #expect(errs(.init(), ns: "Team_A")["metadata.namespace"] != nil)
        let never = LabelSelector(matchLabels: ["app": "a"], matchExpressions: [.init(key: "app", .doesNotExist)])
        #expect(errs(.init(podSelector: never))["spec.podSelector"] != nil)
    }

    @Test func overlappingPoolsRejectTheLaterOneOnly() {
        var rs = ResourceSet(pools: [pool("b", ["198.18.100.2"]), pool("a", ["198.18.100.0/30"]), pool("c", ["198.18.101.0/30"])])
        rs.locations["NATPool b"] = SourceLocation(file: "pools.yaml", document: 2, line: 9)
        let r = Validator.validate(rs)
        #expect(r.valid.pools.map(\.metadata.name) == ["a", "c"])
        #expect(r.errors.count == 1)
        let e = r.errors[0]
        #expect(e.file == "pools.yaml" && e.document == 2 && e.resource == "NATPool b" && e.field == "spec.addresses[0]")
        #expect(e.message.contains("already in NATPool 'a'"))
    }

    @Test func duplicateNamesKeepTheFirst() {
        let e = EgressNAT(namespace: "a", name: "x", spec: .init())
        let r = Validator.validate(ResourceSet(pools: [pool(), pool()], egressNATs: [e, e]))
        #expect(r.valid.pools.count == 1 && r.valid.egressNATs.count == 1)
        #expect(r.errors.count == 2)
    }

    @Test func invalidResourcesDoNotDiscardValidOnes() {
        let bad = EgressNAT(namespace: "a", name: "bad", spec: .init(destinations: ["x"]))
        let ok = EgressNAT(namespace: "a", name: "ok", spec: .init())
        let r = Validator.validate(ResourceSet(pools: [pool(), pool("q", [])], egressNATs: [bad, ok]))
        #expect(r.valid.egressNATs.map(\.metadata.name) == ["ok"])
        #expect(r.valid.pools.map(\.metadata.name) == ["p"])
    }
}

@Suite struct LastGoodTests {
    let v1 = """
    apiVersion: xdpnat.io/v1alpha1
    kind: NATPool
    metadata: {name: p}
    spec: {addresses: ["198.18.100.1"]}
    ---
    apiVersion: xdpnat.io/v1alpha1
    kind: EgressNAT
    metadata: {name: e, namespace: a}
    spec: {destinations: ["198.18.2.0/24"]}
    """

    func configure(_ text: String, previous: ResourceSet) -> LastGood.Result {
        let loaded = ManifestLoader.load(yaml: text, file: "x.yaml")
        let v = Validator.validate(loaded.resources)
        return LastGood.merge(previous: previous, current: v.valid, errors: loaded.errors + v.errors)
    }

    @Test func brokenResourceKeepsItsLastGoodVersion() {
        let good = configure(v1, previous: ResourceSet()).resources
        let typo = v1.replacingOccurrences(of: "198.18.2.0/24", with: "198.18.2.0/33")
        let r = configure(typo, previous: good)
        #expect(r.kept == ["EgressNAT a/e"])
        #expect(r.resources.egressNATs.first?.spec.destinations == ["198.18.2.0/24"])
        #expect(r.resources.pools.count == 1)
    }

    @Test func unreadableFileKeepsWhatItHeld() {
        let good = configure(v1, previous: ResourceSet()).resources
        let r = configure("apiVersion: [broken\n", previous: good)
        #expect(Set(r.kept) == ["NATPool p", "EgressNAT a/e"])
    }

    @Test func deletionIsNotAnError() {
        let good = configure(v1, previous: ResourceSet()).resources
        let r = configure(String(v1.split(separator: "---")[0]), previous: good)
        #expect(r.kept.isEmpty && r.resources.egressNATs.isEmpty)
    }
}
