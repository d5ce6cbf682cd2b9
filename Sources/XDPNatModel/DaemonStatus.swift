import Foundation

/// What xdpnatd reports about itself, written to `<state-dir>/status.json`
/// after every reload and GC pass; read by `xdpnat status`, `whois` and `ct`.
public struct DaemonStatus: Codable, Sendable {
    public struct Interface: Codable, Sendable, Hashable {
        public var name: String
        public var ifindex: UInt32
        public var mode: String
        public var programID: UInt32
        public init(name: String, ifindex: UInt32, mode: String, programID: UInt32) {
            self.name = name
            self.ifindex = ifindex
            self.mode = mode
            self.programID = programID
        }
    }

    public struct Source: Codable, Sendable, Hashable {
        public var cidr: String
        public var policy: UInt32
        public var owner: String
        public init(cidr: String, policy: UInt32, owner: String) {
            self.cidr = cidr
            self.policy = policy
            self.owner = owner
        }
    }

    public struct GC: Codable, Sendable, Hashable {
        public var at: Date
        public var durationSeconds: Double
        public var liveFlows: Int
        public var expiredFlows: Int
        public var releasedPorts: Int
        public var flowsByState: [String: Int]
        public var portsInUse: [String: Int]
        public init(at: Date, durationSeconds: Double, liveFlows: Int, expiredFlows: Int, releasedPorts: Int,
                    flowsByState: [String: Int], portsInUse: [String: Int]) {
            self.at = at
            self.durationSeconds = durationSeconds
            self.liveFlows = liveFlows
            self.expiredFlows = expiredFlows
            self.releasedPorts = releasedPorts
            self.flowsByState = flowsByState
            self.portsInUse = portsInUse
        }
    }

    public var pid: Int32
    public var startedAt: Date
    public var updatedAt: Date
    public var manifestDirectory: String
    public var pinDirectory: String
    public var interfaces: [Interface]
    public var lastReload: Date?
    public var reloads: Int
    /// Problems of the last reload; the resources they concern keep their last good version.
    public var manifestErrors: [String]
    public var egressNATs: [String: EgressNAT.Status]
    public var pools: [PoolStatus]
    public var policies: [PolicyPlan]
    public var sources: [Source]
    public var allocations: [Allocation]
    public var gc: GC?
    public var timeouts = ConntrackTimeouts()
    public var conntrackCapacity = 0
    /// Why the last configuration could not be applied (nil: it was); the previous one stays in force.
    public var lastApplyError: String?
    /// Set in Kubernetes mode: the API source's state.
    public var kubernetes: KubernetesStatus?

    public init(pid: Int32, startedAt: Date, manifestDirectory: String, pinDirectory: String) {
        self.pid = pid
        self.startedAt = startedAt
        self.updatedAt = startedAt
        self.manifestDirectory = manifestDirectory
        self.pinDirectory = pinDirectory
        interfaces = []
        reloads = 0
        manifestErrors = []
        egressNATs = [:]
        pools = []
        policies = []
        sources = []
        allocations = []
    }
}

/// The Kubernetes source as `xdpnat status` shows it.
public struct KubernetesStatus: Codable, Sendable, Hashable {
    public var server: String
    public var identity: String
    /// Whether this daemon holds the allocation Lease (only the holder allocates and writes status).
    public var leader: Bool
    /// The Lease holder last seen.
    public var leaseHolder: String
    public var lease: String
    public var informers: [InformerStats]
    /// Status writes that failed since the daemon started.
    public var statusWriteErrors: Int
    public var lastStatusWriteError: String?

    public init(server: String, identity: String, leader: Bool, leaseHolder: String, lease: String,
                informers: [InformerStats], statusWriteErrors: Int, lastStatusWriteError: String?) {
        self.server = server
        self.identity = identity
        self.leader = leader
        self.leaseHolder = leaseHolder
        self.lease = lease
        self.informers = informers
        self.statusWriteErrors = statusWriteErrors
        self.lastStatusWriteError = lastStatusWriteError
    }
}

/// What one list/watch loop has done.
public struct InformerStats: Codable, Sendable, Hashable {
    public var resource: String
    public var synced = false
    public var objects = 0
    public var resourceVersion = ""
    public var lists = 0
    public var watches = 0
    public var events = 0
    public var bookmarks = 0
    /// Relists forced by 410 Gone (the watched version was compacted away).
    public var expired = 0
    public var errors = 0
    public var lastError: String?

    public init(resource: String) { self.resource = resource }
}
