import Foundation
import Logging
import XDPNatKube
import XDPNatDatapath
import XDPNatModel
import Yams

/// Every setting of the daemon. Sources, lowest precedence first: built-in
/// defaults, the config file (`--config`), command-line flags.
struct DaemonConfig: Codable, Sendable {
    /// Where resources come from.
    enum Source: String, Codable, Sendable, CaseIterable {
        /// A directory of manifests (the default).
        case directory
        /// The Kubernetes API (list/watch, status, Lease).
        case kubernetes
    }
    var source = Source.directory
    /// Directory of NATPool / EgressNAT / Pod / Namespace manifests.
    var manifests = "/etc/xdpnat/manifests"
    /// Kubernetes mode: a kubeconfig file (nil: in-cluster service account).
    var kubeconfig: String?
    /// Kubernetes mode: the kubeconfig context (nil: its current-context).
    var kubeContext: String?
    /// Kubernetes mode: this daemon's name in the Lease (nil: $NODE_NAME, else the host name).
    var identity: String?
    /// Kubernetes mode: namespace of the allocation Lease (nil: the service account's or context's namespace).
    var leaseNamespace: String?
    /// Kubernetes mode: seconds a Lease holder may go silent before another daemon takes over.
    var leaseDuration = 15.0
    /// Kubernetes mode: objects per list page (`limit`).
    var kubePageSize = 500
    /// Where allocations (allocations.json) and status (status.json) are kept.
    var stateDir = "/var/lib/xdpnat"
    /// bpffs directory for pinned maps and links.
    var pinDir = "/sys/fs/bpf/xdpnat"
    /// Interfaces to attach to (pods' side and the outside; one is enough when one-armed).
    var interfaces: [String] = []
    var xdpMode: XDPMode = .native
    /// Conntrack capacity in flows (each flow is two map entries).
    var ctFlows = 1_048_576
    /// Capacity of the endpoint binding and NAT port tables.
    var bindings = 1_048_576
    /// host:port for Prometheus metrics, or "off".
    var metricsAddress = "127.0.0.1:9469"
    /// Seconds between conntrack GC passes.
    var gcInterval = 10.0
    /// Seconds an allocation is kept after its EgressNAT is gone, so flows drain.
    var gracePeriod = 300.0
    /// Seconds between checks of the manifest directory.
    var reloadInterval = 0.2
    /// Emit flow events to the ring buffer (for `xdpnat ct events`).
    var events = false
    /// Detach and unpin on SIGTERM (default: leave the datapath running).
    var detachOnExit = false
    var logLevel = "info"
    var timeouts = ConntrackTimeouts()

    struct FileError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Reads a YAML config file: any subset of the keys above.
    static func load(file: String) throws -> DaemonConfig {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw FileError(message: "config file \(file): cannot be read")
        }
        do {
            return try YAMLDecoder().decode(Partial.self, from: text).applied(to: DaemonConfig())
        } catch let e as DecodingError {
            throw FileError(message: "config file \(file): \(describe(e))")
        } catch {
            throw FileError(message: "config file \(file): \(error)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case let .typeMismatch(t, c): return "\(path(c)): expected \(t)"
        case let .dataCorrupted(c): return "\(path(c)): \(c.debugDescription)"
        case let .keyNotFound(k, c): return "\(path(c)).\(k.stringValue): missing"
        case let .valueNotFound(t, c): return "\(path(c)): expected \(t)"
        @unknown default: return "\(e)"
        }
    }

    /// The config file's shape: every key optional, unknown keys rejected.
    struct Partial: Decodable {
        var source: Source?, kubeconfig: String?, kubeContext: String?, identity: String?, leaseNamespace: String?
        var leaseDuration: Double?, kubePageSize: Int?
        var manifests: String?, stateDir: String?, pinDir: String?, interfaces: [String]?, xdpMode: XDPMode?
        var ctFlows: Int?, bindings: Int?, metricsAddress: String?, gcInterval: Double?, gracePeriod: Double?
        var reloadInterval: Double?, events: Bool?, detachOnExit: Bool?, logLevel: String?
        var timeouts: ConntrackTimeouts.Partial?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case source, kubeconfig, kubeContext, identity, leaseNamespace, leaseDuration, kubePageSize
            case manifests, stateDir, pinDir, interfaces, xdpMode, ctFlows, bindings, metricsAddress, gcInterval
            case gracePeriod, reloadInterval, events, detachOnExit, logLevel, timeouts
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for k in c.allKeys where CodingKeys(rawValue: k.stringValue) == nil {
                throw DecodingError.dataCorrupted(.init(codingPath: [k], debugDescription: "unknown setting (known: \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            let k = try decoder.container(keyedBy: CodingKeys.self)
            source = try k.decodeIfPresent(Source.self, forKey: .source)
            kubeconfig = try k.decodeIfPresent(String.self, forKey: .kubeconfig)
            kubeContext = try k.decodeIfPresent(String.self, forKey: .kubeContext)
            identity = try k.decodeIfPresent(String.self, forKey: .identity)
            leaseNamespace = try k.decodeIfPresent(String.self, forKey: .leaseNamespace)
            leaseDuration = try k.decodeIfPresent(Double.self, forKey: .leaseDuration)
            kubePageSize = try k.decodeIfPresent(Int.self, forKey: .kubePageSize)
            manifests = try k.decodeIfPresent(String.self, forKey: .manifests)
            stateDir = try k.decodeIfPresent(String.self, forKey: .stateDir)
            pinDir = try k.decodeIfPresent(String.self, forKey: .pinDir)
            interfaces = try k.decodeIfPresent([String].self, forKey: .interfaces)
            xdpMode = try k.decodeIfPresent(XDPMode.self, forKey: .xdpMode)
            ctFlows = try k.decodeIfPresent(Int.self, forKey: .ctFlows)
            bindings = try k.decodeIfPresent(Int.self, forKey: .bindings)
            metricsAddress = try k.decodeIfPresent(String.self, forKey: .metricsAddress)
            gcInterval = try k.decodeIfPresent(Double.self, forKey: .gcInterval)
            gracePeriod = try k.decodeIfPresent(Double.self, forKey: .gracePeriod)
            reloadInterval = try k.decodeIfPresent(Double.self, forKey: .reloadInterval)
            events = try k.decodeIfPresent(Bool.self, forKey: .events)
            detachOnExit = try k.decodeIfPresent(Bool.self, forKey: .detachOnExit)
            logLevel = try k.decodeIfPresent(String.self, forKey: .logLevel)
            timeouts = try k.decodeIfPresent(ConntrackTimeouts.Partial.self, forKey: .timeouts)
        }

        func applied(to base: DaemonConfig) -> DaemonConfig {
            var c = base
            if let source { c.source = source }
            if let kubeconfig { c.kubeconfig = kubeconfig }
            if let kubeContext { c.kubeContext = kubeContext }
            if let identity { c.identity = identity }
            if let leaseNamespace { c.leaseNamespace = leaseNamespace }
            if let leaseDuration { c.leaseDuration = leaseDuration }
            if let kubePageSize { c.kubePageSize = kubePageSize }
            if let manifests { c.manifests = manifests }
            if let stateDir { c.stateDir = stateDir }
            if let pinDir { c.pinDir = pinDir }
            if let interfaces { c.interfaces = interfaces }
            if let xdpMode { c.xdpMode = xdpMode }
            if let ctFlows { c.ctFlows = ctFlows }
            if let bindings { c.bindings = bindings }
            if let metricsAddress { c.metricsAddress = metricsAddress }
            if let gcInterval { c.gcInterval = gcInterval }
            if let gracePeriod { c.gracePeriod = gracePeriod }
            if let reloadInterval { c.reloadInterval = reloadInterval }
            if let events { c.events = events }
            if let detachOnExit { c.detachOnExit = detachOnExit }
            if let logLevel { c.logLevel = logLevel }
            if let timeouts { c.timeouts = timeouts.applied(to: c.timeouts) }
            return c
        }
    }

    /// Problems that make the configuration unusable.
    func problems() -> [String] {
        var p: [String] = []
        if interfaces.isEmpty { p.append("no --interface given: name the interfaces to attach to") }
        if !(1024...(1 << 26)).contains(ctFlows) { p.append("ctFlows must be between 1024 and 67108864, got \(ctFlows)") }
        if !(1024...(1 << 26)).contains(bindings) { p.append("bindings must be between 1024 and 67108864, got \(bindings)") }
        if gcInterval <= 0 { p.append("gcInterval must be positive") }
        if source == .kubernetes && !(3...300).contains(leaseDuration) {
            p.append("leaseDuration must be between 3 and 300 seconds, got \(leaseDuration)")
        }
        if !(1...10_000).contains(kubePageSize) { p.append("kubePageSize must be between 1 and 10000, got \(kubePageSize)") }
        if gracePeriod < 0 { p.append("gracePeriod must not be negative") }
        if reloadInterval <= 0 { p.append("reloadInterval must be positive") }
        if metricsAddress != "off" && MetricsServer.parse(metricsAddress) == nil {
            p.append("metricsAddress must be HOST:PORT with an IPv4 host, or off; got \(metricsAddress)")
        }
        return p
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension ConntrackTimeouts {
    /// Timeouts as a config file may give them: any subset, in seconds.
    struct Partial: Decodable {
        var tcpEstablished, tcpSynSent, tcpFinWait, tcpTimeWait, tcpClose, udp, udpUnreplied, icmp: Double?

        func applied(to t: ConntrackTimeouts) -> ConntrackTimeouts {
            var t = t
            if let tcpEstablished { t.tcpEstablished = tcpEstablished }
            if let tcpSynSent { t.tcpSynSent = tcpSynSent }
            if let tcpFinWait { t.tcpFinWait = tcpFinWait }
            if let tcpTimeWait { t.tcpTimeWait = tcpTimeWait }
            if let tcpClose { t.tcpClose = tcpClose }
            if let udp { t.udp = udp }
            if let udpUnreplied { t.udpUnreplied = udpUnreplied }
            if let icmp { t.icmp = icmp }
            return t
        }
    }
}

extension KubeSource {
    /// The API source the configuration asks for: kubeconfig or in-cluster credentials.
    static func make(config: DaemonConfig, log: Logger) throws -> KubeSource {
        let kc = try config.kubeconfig.map { try KubeConfig.kubeconfig(path: $0, context: config.kubeContext) }
            ?? KubeConfig.inCluster()
        let env = ProcessInfo.processInfo.environment
        let identity = config.identity ?? env["NODE_NAME"] ?? ProcessInfo.processInfo.hostName
        var opts = KubeSource.Options(identity: identity, leaseNamespace: config.leaseNamespace ?? kc.namespace)
        opts.leaseDuration = config.leaseDuration
        opts.pageSize = config.kubePageSize
        return KubeSource(client: try KubeClient(config: kc), options: opts, log: log)
    }
}
