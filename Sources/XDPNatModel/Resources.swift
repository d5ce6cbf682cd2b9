import XDPNatNet

/// The API group and version of xdpnat's custom resources.
public enum XDPNatAPI {
    public static let group = "xdpnat.io"
    public static let version = "v1alpha1"
    public static let apiVersion = "\(group)/\(version)"
}

/// The part of Kubernetes object metadata xdpnat uses.
public struct ObjectMeta: Codable, Hashable, Sendable {
    public var name: String
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var deletionTimestamp: String?

    public init(name: String, namespace: String? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
public struct LabelSelector: Codable, Hashable, Sendable {
    public struct Requirement: Codable, Hashable, Sendable {
        public enum Operator: String, Codable, Sendable, CaseIterable {
            case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist"
        }
        public var key: String
        public var `operator`: Operator
        public var values: [String]?

        public init(key: String, _ op: Operator, _ values: [String]? = nil) {
            self.key = key
            self.operator = op
            self.values = values
        }
    }

    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// The empty selector matches everything (as in Kubernetes).
    public static let everything = LabelSelector()

    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels ?? [:] where labels[k] != v { return false }
        for r in matchExpressions ?? [] {
            let v = labels[r.key]
            switch r.operator {
            case .in: if v == nil || !(r.values ?? []).contains(v!) { return false }
            case .notIn: if let v, (r.values ?? []).contains(v) { return false }
            case .exists: if v == nil { return false }
            case .doesNotExist: if v != nil { return false }
            }
        }
        return true
    }
}

/// A status condition, as in `metav1.Condition`.
public struct Condition: Codable, Hashable, Sendable {
    public var type: String
    public var status: String  // "True" | "False" | "Unknown"
    public var reason: String
    public var message: String
    public var lastTransitionTime: String?

    public init(type: String, status: Bool, reason: String, message: String) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
    }
}

/// An inclusive port range.
public struct PortRange: Codable, Hashable, Sendable, CustomStringConvertible {
    public var min: Int
    public var max: Int

    public init(_ min: Int, _ max: Int) {
        self.min = min
        self.max = max
    }

    public static let `default` = PortRange(1024, 65535)
    public var count: Int { max - min + 1 }
    public var description: String { "\(min)-\(max)" }
    public var range: ClosedRange<UInt16> { UInt16(min)...UInt16(max) }
}

/// Cluster-scoped pool of NAT addresses, declared by an administrator.
public struct NATPool: Codable, Hashable, Sendable {
    public enum Allocation: String, Codable, Sendable, CaseIterable {
        /// Every namespace gets whole addresses of its own.
        case exclusive = "Exclusive"
        /// Namespaces get blocks of ports on shared addresses.
        case shared = "Shared"
    }

    public struct Spec: Codable, Hashable, Sendable {
        /// Addresses and CIDRs of the pool.
        public var addresses: [String]
        public var portRange: PortRange?
        public var allocation: Allocation?
        /// Ports per block in Shared mode (default 4096).
        public var blockSize: Int?
        /// Namespaces that may draw from the pool (absent: none but those whose
        /// EgressNAT names the pool and is admitted; empty selector: all).
        public var namespaceSelector: LabelSelector?

        public init(addresses: [String], portRange: PortRange? = nil, allocation: Allocation? = nil,
                    blockSize: Int? = nil, namespaceSelector: LabelSelector? = nil) {
            self.addresses = addresses
            self.portRange = portRange
            self.allocation = allocation
            self.blockSize = blockSize
            self.namespaceSelector = namespaceSelector
        }
    }

    /// What the allocating daemon reports; in Kubernetes mode also the durable
    /// record of the pool's allocations (so they survive the loss of any node).
    public struct Status: Codable, Hashable, Sendable {
        public var addresses: Int?
        public var totalUnits: Int?
        public var usedUnits: Int?
        public var namespaces: [String]?
        public var allocations: [PoolAllocation]?
        public init() {}
    }

    public var apiVersion: String = XDPNatAPI.apiVersion
    public var kind: String = "NATPool"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(name: String, spec: Spec) {
        metadata = ObjectMeta(name: name)
        self.spec = spec
    }

    public static let defaultBlockSize = 4096
    public var portRange: PortRange { spec.portRange ?? .default }
    public var allocation: Allocation { spec.allocation ?? .exclusive }
    public var blockSize: Int { allocation == .shared ? (spec.blockSize ?? Self.defaultBlockSize) : portRange.count }
    public var namespaceSelector: LabelSelector { spec.namespaceSelector ?? .everything }

    /// Every address of the pool, in order (invalid entries are skipped; validation reports them).
    public var addressList: [IPv4Address] {
        var seen = Set<IPv4Address>()
        return spec.addresses.compactMap(IPv4CIDR.init).flatMap(\.addresses).filter { seen.insert($0).inserted }
    }
}

/// Namespaced request for stable egress NAT of some of the namespace's pods.
public struct EgressNAT: Codable, Hashable, Sendable {
    public struct Spec: Codable, Hashable, Sendable {
        /// Pods of this namespace to translate (empty selector: all of them).
        public var podSelector: LabelSelector?
        /// The pool to draw from; absent: the first pool (by name) admitting the namespace.
        public var poolRef: String?
        /// Destinations to translate for (empty: all).
        public var destinations: [String]?
        /// Destinations never translated (e.g. the cluster's own networks).
        public var excludedDestinations: [String]?
        /// How many NAT addresses (Exclusive) or port blocks (Shared) the namespace needs.
        public var addresses: Int?
        /// Standalone appliance: source CIDRs translated as if they were selected pods.
        public var sourceCIDRs: [String]?

        public init(podSelector: LabelSelector? = nil, poolRef: String? = nil, destinations: [String]? = nil,
                    excludedDestinations: [String]? = nil, addresses: Int? = nil, sourceCIDRs: [String]? = nil) {
            self.podSelector = podSelector
            self.poolRef = poolRef
            self.destinations = destinations
            self.excludedDestinations = excludedDestinations
            self.addresses = addresses
            self.sourceCIDRs = sourceCIDRs
        }
    }

    public struct Status: Codable, Hashable, Sendable {
        public var pool: String?
        public var addresses: [String]?
        public var portRanges: [String]?
        public var selectedPods: Int?
        public var conditions: [Condition]?
        public init() {}
    }

    public var apiVersion: String = XDPNatAPI.apiVersion
    public var kind: String = "EgressNAT"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(namespace: String, name: String, spec: Spec) {
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.spec = spec
    }

    public var namespace: String { metadata.namespace ?? "default" }
    public var id: String { "\(namespace)/\(metadata.name)" }
    public var addressCount: Int { spec.addresses ?? 1 }
}

/// The part of a Pod xdpnat reads.
public struct Pod: Codable, Hashable, Sendable {
    public struct Spec: Codable, Hashable, Sendable {
        public var hostNetwork: Bool?
        public init(hostNetwork: Bool? = nil) { self.hostNetwork = hostNetwork }
    }
    public struct Status: Codable, Hashable, Sendable {
        public var podIP: String?
        public var phase: String?
        public init(podIP: String? = nil, phase: String? = nil) {
            self.podIP = podIP
            self.phase = phase
        }
    }

    public var apiVersion: String = "v1"
    public var kind: String = "Pod"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(namespace: String, name: String, labels: [String: String] = [:], ip: String?, phase: String = "Running") {
        metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        status = Status(podIP: ip, phase: phase)
    }

    public var namespace: String { metadata.namespace ?? "default" }
    /// The pod's address while it can send traffic (not finished, not host-network).
    public var activeIP: IPv4Address? {
        guard spec?.hostNetwork != true, let phase = status?.phase, phase == "Running" || phase == "Pending",
              let ip = status?.podIP else { return nil }
        return IPv4Address(ip)
    }
}

/// The part of a Namespace xdpnat reads.
public struct Namespace: Codable, Hashable, Sendable {
    public var apiVersion: String = "v1"
    public var kind: String = "Namespace"
    public var metadata: ObjectMeta

    public init(name: String, labels: [String: String] = [:]) {
        metadata = ObjectMeta(name: name, labels: labels)
    }

    /// Labels including the one Kubernetes sets on every namespace.
    public var effectiveLabels: [String: String] {
        var l = metadata.labels ?? [:]
        l["kubernetes.io/metadata.name"] = metadata.name
        return l
    }
}

/// One namespace's allocation as a NATPool's status records it.
public struct PoolAllocation: Codable, Hashable, Sendable {
    public struct Unit: Codable, Hashable, Sendable {
        public var address: String
        public var ports: PortRange
        public init(address: String, ports: PortRange) {
            self.address = address
            self.ports = ports
        }
    }
    public var namespace: String
    public var units: [Unit]
    /// RFC 3339, seconds precision.
    public var allocatedAt: String
    public var releasedAt: String?

    public init(namespace: String, units: [Unit], allocatedAt: String, releasedAt: String? = nil) {
        self.namespace = namespace
        self.units = units
        self.allocatedAt = allocatedAt
        self.releasedAt = releasedAt
    }
}

// The API leaves `apiVersion` and `kind` out of list items: decode them as optional.
extension NATPool {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? XDPNatAPI.apiVersion
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "NATPool"
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decode(Spec.self, forKey: .spec)
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }
}

extension EgressNAT {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? XDPNatAPI.apiVersion
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "EgressNAT"
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decode(Spec.self, forKey: .spec)
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }
}

extension Pod {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "Pod"
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec)
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }
}

extension Namespace {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "Namespace"
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
    }
}
