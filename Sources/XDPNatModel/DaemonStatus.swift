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
