import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import XDPNatDatapath

struct XDPNatd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpnatd",
        abstract: "The xdpnat daemon: stable egress NAT for Kubernetes namespaces at XDP speed.",
        discussion: """
        Reads NATPool and EgressNAT resources (and the Pods and Namespaces they select) from a
        directory of manifests or from the Kubernetes API (--source kubernetes), allocates NAT addresses and ports that never move, and programs
        the XDP datapath on the given interfaces. Maps and links are pinned in bpffs, so the NAT
        keeps running, and keeps its flows, while the daemon restarts.

        Examples:
          xdpnatd run --interface eth1 --interface eth2 --manifests /etc/xdpnat/manifests
          xdpnatd run --config /etc/xdpnat/xdpnatd.yaml
          xdpnatd run --source kubernetes --interface eth1      # in a pod: in-cluster service account
          xdpnatd cleanup
        """,
        subcommands: [Run.self, Cleanup.self],
        defaultSubcommand: Run.self
    )
}

extension XDPMode: ExpressibleByArgument {}
extension DaemonConfig.Source: ExpressibleByArgument {}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @Option(help: "YAML config file; flags override its settings.")
    var config: String?
    @Option(help: "Where resources come from: directory or kubernetes (default directory).")
    var source: DaemonConfig.Source?
    @Option(help: "Directory of manifests (default /etc/xdpnat/manifests).")
    var manifests: String?
    @Option(help: "Kubernetes mode: kubeconfig file (default: the in-cluster service account).")
    var kubeconfig: String?
    @Option(help: "Kubernetes mode: kubeconfig context (default: its current-context).")
    var kubeContext: String?
    @Option(help: "Kubernetes mode: this daemon's Lease identity (default $NODE_NAME, else the host name).")
    var identity: String?
    @Option(help: "Kubernetes mode: namespace of the allocation Lease (default: the service account's namespace).")
    var leaseNamespace: String?
    @Option(help: "Kubernetes mode: seconds before a silent Lease holder is replaced (default 15).")
    var leaseDuration: Double?
    @Option(help: "Kubernetes mode: objects per list page (default 500).")
    var kubePageSize: Int?
    @Option(help: "Directory for allocations.json and status.json (default /var/lib/xdpnat).")
    var stateDir: String?
    @Option(help: "bpffs directory for pinned maps and links (default /sys/fs/bpf/xdpnat).")
    var pinDir: String?
    @Option(name: .customLong("interface"), help: "Interface to attach to (repeat for each).")
    var interfaces: [String] = []
    @Option(help: "XDP mode: native or generic (default native).")
    var xdpMode: XDPMode?
    @Option(help: "Conntrack capacity in flows (default 1048576).")
    var ctFlows: Int?
    @Option(help: "Endpoint binding / NAT port table capacity (default 1048576).")
    var bindings: Int?
    @Option(help: "HOST:PORT for Prometheus metrics, or off (default 127.0.0.1:9469).")
    var metricsAddress: String?
    @Option(help: "Seconds between conntrack GC passes (default 10).")
    var gcInterval: Double?
    @Option(help: "Seconds an allocation outlives its EgressNAT so flows drain (default 300).")
    var gracePeriod: Double?
    @Option(help: "Seconds between manifest directory checks (default 0.2).")
    var reloadInterval: Double?
    @Flag(help: "Emit flow events for `xdpnat ct events`.")
    var events = false
    @Flag(help: "Detach and unpin the datapath on SIGTERM (default: leave it running).")
    var detachOnExit = false
    @Option(help: "trace, debug, info, notice, warning, error (default info).")
    var logLevel: String?

    func resolved() throws -> DaemonConfig {
        var c = try config.map(DaemonConfig.load(file:)) ?? DaemonConfig()
        if let source { c.source = source }
        if let manifests { c.manifests = manifests }
        if let kubeconfig { c.kubeconfig = kubeconfig }
        if let kubeContext { c.kubeContext = kubeContext }
        if let identity { c.identity = identity }
        if let leaseNamespace { c.leaseNamespace = leaseNamespace }
        if let leaseDuration { c.leaseDuration = leaseDuration }
        if let kubePageSize { c.kubePageSize = kubePageSize }
        if let stateDir { c.stateDir = stateDir }
        if let pinDir { c.pinDir = pinDir }
        if !interfaces.isEmpty { c.interfaces = interfaces }
        if let xdpMode { c.xdpMode = xdpMode }
        if let ctFlows { c.ctFlows = ctFlows }
        if let bindings { c.bindings = bindings }
        if let metricsAddress { c.metricsAddress = metricsAddress }
        if let gcInterval { c.gcInterval = gcInterval }
        if let gracePeriod { c.gracePeriod = gracePeriod }
        if let reloadInterval { c.reloadInterval = reloadInterval }
        if events { c.events = true }
        if detachOnExit { c.detachOnExit = true }
        if let logLevel { c.logLevel = logLevel }
        return c
    }

    func run() throws {
        let cfg: DaemonConfig
        do { cfg = try resolved() } catch { throw ValidationError("\(error)") }
        let problems = cfg.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        guard let level = Logger.Level(rawValue: cfg.logLevel) else {
            throw ValidationError("unknown log level \(cfg.logLevel)")
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let log = Logger(label: "xdpnatd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let daemon = Daemon(config: cfg, log: log, registry: registry)
        do {
            try daemon.start()
        } catch {
            log.critical("cannot start: \(error)")
            Foundation.exit(1)
        }
        dispatchMain()
    }
}

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detach the datapath and remove its pins (all flows are dropped).")
    @Option(help: "bpffs directory of the datapath (default /sys/fs/bpf/xdpnat).")
    var pinDir = "/sys/fs/bpf/xdpnat"

    func run() throws {
        DatapathManager.cleanup(pinDirectory: pinDir)
        print("removed datapath pinned under \(pinDir)")
    }
}

XDPNatd.main()
