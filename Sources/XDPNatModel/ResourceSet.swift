/// Everything the reconciler needs, as read from manifests or the API.
public struct ResourceSet: Hashable, Sendable {
    public var pools: [NATPool] = []
    public var egressNATs: [EgressNAT] = []
    public var pods: [Pod] = []
    public var namespaces: [Namespace] = []
    /// Where each resource came from (key: `Kind namespace/name`).
    public var locations: [String: SourceLocation] = [:]

    public init(pools: [NATPool] = [], egressNATs: [EgressNAT] = [], pods: [Pod] = [], namespaces: [Namespace] = []) {
        self.pools = pools
        self.egressNATs = egressNATs
        self.pods = pods
        self.namespaces = namespaces
    }

    public static func key(_ pool: NATPool) -> String { "NATPool \(pool.metadata.name)" }
    public static func key(_ e: EgressNAT) -> String { "EgressNAT \(e.id)" }
    public static func key(_ p: Pod) -> String { "Pod \(p.namespace)/\(p.metadata.name)" }
    public static func key(_ n: Namespace) -> String { "Namespace \(n.metadata.name)" }

    /// Labels of a namespace; a namespace without a manifest still has its name label.
    public func namespaceLabels(_ name: String) -> [String: String] {
        namespaces.first { $0.metadata.name == name }?.effectiveLabels ?? ["kubernetes.io/metadata.name": name]
    }

    public mutating func merge(_ other: ResourceSet) {
        pools += other.pools
        egressNATs += other.egressNATs
        pods += other.pods
        namespaces += other.namespaces
        locations.merge(other.locations) { a, _ in a }
    }
}
