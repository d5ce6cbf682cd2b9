import Foundation
import Glibc
import Logging
import Metrics
import Prometheus
import XDPNatABI
import XDPNatDatapath
import XDPNatKube
import XDPNatModel
import XDPNatNet

/// The running daemon: reloads manifests, programs the datapath, collects
/// garbage, reports status and metrics. Everything runs on one serial queue.
final class Daemon: @unchecked Sendable {
    let config: DaemonConfig
    let log: Logger
    let queue = DispatchQueue(label: "xdpnatd")
    let registry: PrometheusCollectorRegistry
    var datapath: DatapathManager!
    var applier: PlanApplier!
    var gc: ConntrackGC
    var state = AllocationState()
    var lastGood = ResourceSet()
    var fingerprint = ""
    var status: DaemonStatus
    var lastCounters: [String: UInt64] = [:]
    var fibBumpPending = false
    var timers: [DispatchSourceTimer] = []
    var signals: [DispatchSourceSignal] = []
    var metricsServer: MetricsServer?
    var netlink: NetlinkWatcher?
    /// Kubernetes mode: the API source, the change count last reconciled, and when to retry failed writes.
    var kube: KubeSource?
    var kubeSeen = -1
    var kubeRetryAt: Date?
    var kubeLastResync = Date()
    var kubeWaiting = false
    var statusWritesInFlight = Set<String>()
    /// Parsed manifest files: a change re-parses only the files that changed.
    let manifestCache = ManifestLoader.Cache()

    // daemon-side metrics, through swift-metrics (bootstrapped before the daemon is made)
    let reloads = Counter(label: "xdpnat_config_reloads_total")
    let reloadFailures = Counter(label: "xdpnat_config_reload_errors_total")
    let manifestErrors = Gauge(label: "xdpnat_config_manifest_errors")
    let applyDuration = Metrics.Timer(label: "xdpnat_config_apply_seconds", preferredDisplayUnit: .seconds)
    let gcDuration = Gauge(label: "xdpnat_gc_duration_seconds")
    let gcExpired = Counter(label: "xdpnat_gc_expired_flows_total")
    let gcReleasedPorts = Counter(label: "xdpnat_gc_released_ports_total")
    let fibBumps = Counter(label: "xdpnat_fib_generation_bumps_total")

    var statePath: String { "\(config.stateDir)/allocations.json" }
    var statusPath: String { "\(config.stateDir)/status.json" }
    var historyPath: String { "\(config.stateDir)/allocations.log" }

    init(config: DaemonConfig, log: Logger, registry: PrometheusCollectorRegistry) {
        self.config = config
        self.registry = registry
        self.log = log
        gc = ConntrackGC(timeouts: config.timeouts)
        status = DaemonStatus(pid: getpid(), startedAt: Date(), manifestDirectory: config.manifests,
                              pinDirectory: config.pinDir)
        status.timeouts = config.timeouts
        status.conntrackCapacity = config.ctFlows
    }

    func start() throws {
        try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true)
        if let saved = try JSONFile.read(AllocationState.self, from: statePath) {
            state = saved
            log.info("restored allocations", metadata: ["allocations": "\(saved.allocations.count)", "file": "\(statePath)"])
        }
        // credentials first: a bad kubeconfig must not leave a datapath attached
        if config.source == .kubernetes { kube = try KubeSource.make(config: config, log: log) }
        var opts = DatapathManager.Options()
        opts.pinDirectory = config.pinDir
        opts.interfaces = config.interfaces
        opts.mode = config.xdpMode
        opts.conntrackFlows = UInt32(config.ctFlows)
        opts.bindings = UInt32(config.bindings)
        opts.events = config.events
        datapath = try DatapathManager(opts)
        applier = PlanApplier(maps: datapath.maps)
        for i in datapath.interfaces {
            log.info("XDP \(i.action)", metadata: ["interface": "\(i.name)", "ifindex": "\(i.ifindex)", "mode": "\(i.mode)",
                                                     "program_id": "\(i.programID)"])
        }
        if datapath.adopted {
            let flows = (try? Conntrack.flows(datapath.maps).count) ?? 0
            log.info("adopted pinned maps of a previous instance", metadata: ["flows": "\(flows)", "pin_dir": "\(config.pinDir)"])
        }
        status.interfaces = datapath.interfaces.map {
            DaemonStatus.Interface(name: $0.name, ifindex: $0.ifindex, mode: $0.mode.rawValue, programID: $0.programID)
        }
        try? datapath.maps.bumpFibGeneration()

        if let source = kube {
            status.manifestDirectory = "kubernetes \(source.client.config.server)"
            log.info("reading resources from the Kubernetes API", metadata: [
                "server": "\(source.client.config.server)", "identity": "\(source.options.identity)",
                "lease": "\(source.options.leaseNamespace)/\(source.options.leaseName)"])
            source.start()
        }
        queue.sync { reloadIfChanged(force: true) }
        schedule(every: config.reloadInterval) { [unowned self] in reloadIfChanged(force: false) }
        schedule(every: config.gcInterval) { [unowned self] in collectGarbage() }
        if config.metricsAddress != "off" {
            metricsServer = try MetricsServer(address: config.metricsAddress) { [unowned self] in
                queue.sync { renderMetrics() }
            }
            log.info("metrics", metadata: ["url": "http://\(config.metricsAddress)/metrics"])
        }
        do {
            netlink = try NetlinkWatcher { [unowned self] in
                queue.async { self.scheduleFibBump() }
            }
        } catch {
            log.warning("route/neighbour changes will not invalidate cached next hops: \(error)")
        }
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { [unowned self] in shutdown(signal: sig) }
            s.resume()
            signals.append(s)
        }
    }

    func schedule(every seconds: Double, _ body: @escaping () -> Void) {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + seconds, repeating: seconds, leeway: .milliseconds(20))
        t.setEventHandler(handler: body)
        t.resume()
        timers.append(t)
    }

    // MARK: configuration

    /// Names and change stamps (as the manifest cache sees them) of the manifest files.
    func currentFingerprint() -> String {
        let dir = config.manifests
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return "missing" }
        return names.sorted().compactMap { n in ManifestLoader.Cache.stamp("\(dir)/\(n)").map { "\(n):\($0)" } }
            .joined(separator: "|")
    }

    func reloadIfChanged(force: Bool) {
        if let kube {
            let now = Date()
            let changes = kube.changes
            let resync = now.timeIntervalSince(kubeLastResync) >= 30
            guard force || resync || changes != kubeSeen || (kubeRetryAt.map { now >= $0 } ?? false) else { return }
            guard kube.synced else {
                if !kubeWaiting { log.info("waiting for the first list of every resource from the API") }
                kubeWaiting = true
                return
            }
            kubeWaiting = false
            kubeSeen = changes
            kubeLastResync = now
            kubeRetryAt = nil
            reload()
            return
        }
        let fp = currentFingerprint()
        guard force || fp != fingerprint || graceExpired() else { return }
        fingerprint = fp
        reload()
    }

    /// An allocation whose grace period is over must be freed even when no manifest changes.
    func graceExpired() -> Bool {
        let now = Date()
        return state.allocations.contains { a in a.releasedAt.map { now.timeIntervalSince($0) >= config.gracePeriod } ?? false }
    }

    func reload() {
        let started = DispatchTime.now()
        var errors: [ManifestError] = []
        var current = ResourceSet()
        if let kube {
            let snap = kube.snapshot()
            let v = Validator.validate(snap.resources)
            errors = snap.errors + v.errors
            current = v.valid
        } else if FileManager.default.fileExists(atPath: config.manifests) {
            let loaded = ManifestLoader.load(directory: config.manifests, cache: manifestCache)
            let v = Validator.validate(loaded.resources)
            errors = loaded.errors + v.errors
            current = v.valid
        } else {
            errors = [ManifestError(file: config.manifests, document: 0, message: "manifest directory does not exist")]
        }
        var merged = LastGood.merge(previous: lastGood, current: current, errors: errors)
        for e in errors { log.error("manifest rejected", metadata: ["error": "\(e)"]) }
        if !merged.kept.isEmpty {
            log.warning("keeping last good version", metadata: ["resources": "\(merged.kept.joined(separator: ", "))"])
        }
        // Kubernetes mode: allocations live in the pools' statuses; only the Lease holder makes new ones
        var base = state
        let leader = kube?.isLeader ?? true
        if kube != nil { base.allocations = StatusRecords.allocations(from: merged.resources.pools) }
        // a pool kept at its last good version cannot have its status (the allocation record)
        // written: its allocations stay as they are until it is readable again
        let kept = Set(merged.kept)
        let frozen = kube == nil ? [] : Set(merged.resources.pools.filter { kept.contains(ResourceSet.key($0)) }.map(\.metadata.name))
        let r = Reconciler.reconcile(merged.resources, state: base, now: Date(), grace: config.gracePeriod, allocate: leader,
                                     frozen: frozen)
        var applied = false
        do {
            // persist before programming: an address the datapath uses is recorded (API or disk) first
            if let kube, leader {
                // the API's answers replace the pools we hold, so the last good versions carry the record
                merged.resources.pools = try writePoolStatuses(kube, merged.resources.pools, r, frozen: frozen)
            }
            if r.state != state {
                try JSONFile.write(r.state, to: statePath)
                try AllocationHistory.append(AllocationHistory.diff(from: state, to: r.state, at: Date()), to: historyPath)
            }
            let changes = try applier.apply(r.plan)
            applied = true
            status.lastApplyError = nil
            state = r.state
            lastGood = merged.resources
            reloads.increment()
            if !changes.isEmpty { log.info("datapath updated", metadata: ["changes": "\(changes)"]) }
            for a in r.freed { log.info("allocation released", metadata: ["namespace": "\(a.namespace)", "pool": "\(a.pool)"]) }
        } catch {
            reloadFailures.increment()
            status.lastApplyError = "\(error)"
            log.error("could not apply configuration; previous one stays in force", metadata: ["error": "\(error)"])
        }
        applyDuration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds))
        manifestErrors.record(errors.count)
        for (id, st) in r.statuses {
            if let c = st.conditions?.first, c.status == "False" {
                log.warning("EgressNAT not ready", metadata: ["egressnat": "\(id)", "reason": "\(c.reason)", "message": "\(c.message)"])
            }
        }
        status.lastReload = Date()
        status.reloads += 1
        status.manifestErrors = errors.map(\.description)
        // the status describes what is programmed: after a failed apply it keeps the previous plan
        if applied {
            status.egressNATs = r.statuses
            status.pools = r.pools
            status.policies = r.plan.policies.values.sorted { $0.id < $1.id }
            status.sources = r.plan.sources.sorted { $0.key < $1.key }.map {
                DaemonStatus.Source(cidr: $0.key.description, policy: $0.value, owner: r.plan.sourceOwners[$0.key] ?? "")
            }
            status.allocations = state.allocations
        }
        if let kube {
            if leader && applied { writeEgressStatuses(kube, merged.resources.egressNATs, r.statuses) }
            status.kubernetes = kube.status()
        }
        writeStatus()
    }

    // MARK: Kubernetes status

    /// Records the allocations in the pools' statuses; waits for the API, since the
    /// datapath must not use an allocation the API does not hold.
    /// Returns the pools as the API now has them. Frozen pools (held at a last good version) are never written.
    func writePoolStatuses(_ kube: KubeSource, _ pools: [NATPool], _ r: Reconciler.Result, frozen: Set<String>) throws -> [NATPool] {
        var out: [NATPool] = []
        for p in pools {
            out.append(p)
            let desired = StatusRecords.poolStatus(p.metadata.name, state: r.state, usage: r.pools.first { $0.name == p.metadata.name })
            guard desired != p.status, !frozen.contains(p.metadata.name) else { continue }
            do {
                out[out.count - 1] = try blocking { try await kube.writeStatus(of: p, desired) }
                log.info("allocations recorded in the API", metadata: ["natpool": "\(p.metadata.name)"])
            } catch {
                kubeRetryAt = Date() + 2
                throw error
            }
        }
        return out
    }

    /// Updates EgressNAT statuses in the background (one write per object at a time).
    func writeEgressStatuses(_ kube: KubeSource, _ nats: [EgressNAT], _ statuses: [String: EgressNAT.Status]) {
        for e in nats {
            guard let desired = statuses[e.id], !statusWritesInFlight.contains(e.id),
                  let st = StatusRecords.egressStatus(desired: desired, observed: e.status, now: Date()) else { continue }
            statusWritesInFlight.insert(e.id)
            Task { [unowned self] in
                var problem: String?
                do { try await kube.writeStatus(of: e, st) } catch { problem = "\(error)" }
                let failure = problem
                queue.async { [unowned self] in
                    statusWritesInFlight.remove(e.id)
                    if let failure {
                        log.warning("cannot write EgressNAT status; will retry", metadata: ["egressnat": "\(e.id)", "error": "\(failure)"])
                        kubeRetryAt = Date() + 2
                    }
                }
            }
        }
    }

    /// Runs async work from the daemon's queue and waits for it.
    func blocking<T: Sendable>(_ op: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, any Error>?
        Task {
            do { result = .success(try await op()) } catch { result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try result!.get()
    }

    // MARK: garbage collection

    func collectGarbage() {
        do {
            let pass = try gc.run(datapath.maps)
            gcDuration.record(pass.durationSeconds)
            gcExpired.increment(by: pass.expiredFlows)
            gcReleasedPorts.increment(by: pass.releasedPorts)
            if pass.expiredFlows > 0 || pass.orphanHalves > 0 {
                log.debug("gc", metadata: ["expired": "\(pass.expiredFlows)", "live": "\(pass.liveFlows)",
                                           "released_ports": "\(pass.releasedPorts)", "seconds": "\(pass.durationSeconds)"])
            }
            status.gc = DaemonStatus.GC(at: Date(), durationSeconds: pass.durationSeconds, liveFlows: pass.liveFlows,
                                        expiredFlows: pass.expiredFlows, releasedPorts: pass.releasedPorts,
                                        flowsByState: pass.flowsByState, portsInUse: pass.portsInUse)
            writeStatus()
        } catch {
            log.error("conntrack GC failed", metadata: ["error": "\(error)"])
        }
    }

    /// Coalesces bursts of netlink messages into one generation bump.
    func scheduleFibBump() {
        guard !fibBumpPending else { return }
        fibBumpPending = true
        queue.asyncAfter(deadline: .now() + .milliseconds(50)) { [unowned self] in
            fibBumpPending = false
            try? datapath.maps.bumpFibGeneration()
            fibBumps.increment()
        }
    }

    func writeStatus() {
        status.updatedAt = Date()
        do { try JSONFile.write(status, to: statusPath) } catch {
            log.error("cannot write status", metadata: ["error": "\(error)"])
        }
    }

    // MARK: metrics

    func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(name: name, labels: labels).set(value)
    }

    func renderMetrics() -> String {
        let totals = datapath.maps.readCounters().totals
        for (name, v) in totals {
            let delta = v &- (lastCounters[name] ?? 0)
            registry.makeCounter(name: "xdpnat_datapath_packets_total", labels: [("counter", name)])
                .increment(by: Int64(truncatingIfNeeded: delta))
        }
        lastCounters = totals
        gauge("xdpnat_conntrack_capacity_flows", [], Double(config.ctFlows))
        if let g = status.gc {
            for (state, n) in g.flowsByState { gauge("xdpnat_conntrack_flows", [("state", state)], Double(n)) }
            gauge("xdpnat_conntrack_flows_total", [], Double(g.liveFlows))
            for (ip, n) in g.portsInUse { gauge("xdpnat_nat_ports_in_use", [("nat_ip", ip)], Double(n)) }
        }
        for p in status.pools {
            gauge("xdpnat_pool_units", [("pool", p.name), ("kind", "total")], Double(p.totalUnits))
            gauge("xdpnat_pool_units", [("pool", p.name), ("kind", "used")], Double(p.usedUnits))
        }
        for a in status.allocations {
            let ports = a.units.reduce(0) { $0 + $1.ports.count }
            gauge("xdpnat_namespace_nat_ports", [("namespace", a.namespace), ("pool", a.pool)], Double(ports))
        }
        if let kube {
            let k = kube.status()
            gauge("xdpnat_kubernetes_leader", [], k.leader ? 1 : 0)
            gauge("xdpnat_kubernetes_status_write_errors", [], Double(k.statusWriteErrors))
            for i in k.informers {
                gauge("xdpnat_kubernetes_synced", [("resource", i.resource)], i.synced ? 1 : 0)
                gauge("xdpnat_kubernetes_watch_events", [("resource", i.resource)], Double(i.events))
                gauge("xdpnat_kubernetes_relists_expired", [("resource", i.resource)], Double(i.expired))
                gauge("xdpnat_kubernetes_request_errors", [("resource", i.resource)], Double(i.errors))
            }
        }
        for (id, st) in status.egressNATs {
            let ready = st.conditions?.first { $0.type == "Ready" }
            let parts = id.split(separator: "/")
            gauge("xdpnat_egressnat_ready", [("namespace", String(parts[0])), ("name", String(parts.last!)),
                                             ("reason", ready?.reason ?? "")], ready?.status == "True" ? 1 : 0)
        }
        return registry.emitToString()
    }

    // MARK: shutdown

    func shutdown(signal sig: Int32) {
        log.info("shutting down", metadata: ["signal": "\(sig)", "datapath": "\(config.detachOnExit ? "detached" : "left running")"])
        try? JSONFile.write(state, to: statePath)
        if let kube { try? blocking { await kube.stop() } }
        if config.detachOnExit {
            datapath.teardown()
            status.interfaces = []
        }
        writeStatus()
        exit(0)
    }
}
