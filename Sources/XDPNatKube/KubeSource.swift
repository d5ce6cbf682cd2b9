import Foundation
import Logging
import NIOCore
import Synchronization
import XDPNatModel

/// The daemon's Kubernetes source: informers for NATPools, EgressNATs, Pods and
/// Namespaces, the allocation Lease, and status writes. The reconciler reads
/// `snapshot()`; `changes` grows whenever anything it reads changed.
public final class KubeSource: Sendable {
    public struct Options: Sendable {
        public var identity: String
        public var leaseNamespace: String
        public var leaseName = "xdpnat-allocator"
        public var leaseDuration: Double = 15
        public var pageSize = 500
        public init(identity: String, leaseNamespace: String) {
            self.identity = identity
            self.leaseNamespace = leaseNamespace
        }
    }

    final class Shared: Sendable {
        let m = Mutex(Counters())
        func withLock<R>(_ body: (inout Counters) -> R) -> R { m.withLock { body(&$0) } }
    }

    struct Counters {
        var changes = 0
        var writeErrors = 0
        var lastWriteError: String?
        var tasks: [Task<Void, Never>] = []
    }

    public let client: KubeClient
    public let options: Options
    let log: Logger
    let pools: Informer<NATPool>
    let egressNATs: Informer<EgressNAT>
    let pods: Informer<Pod>
    let namespaces: Informer<Namespace>
    public let elector: LeaseElector
    let counters: Shared

    public init(client: KubeClient, options: Options, log: Logger) {
        self.client = client
        self.options = options
        self.log = log
        let counters = Shared()
        self.counters = counters
        let bump: @Sendable () -> Void = { counters.withLock { $0.changes += 1 } }
        pools = Informer(client: client, log: log, pageSize: options.pageSize, onChange: bump)
        egressNATs = Informer(client: client, log: log, pageSize: options.pageSize, onChange: bump)
        pods = Informer(client: client, log: log, pageSize: options.pageSize, onChange: bump)
        namespaces = Informer(client: client, log: log, pageSize: options.pageSize, onChange: bump)
        elector = LeaseElector(client: client, namespace: options.leaseNamespace, name: options.leaseName,
                               identity: options.identity, timing: .init(leaseDuration: options.leaseDuration), log: log,
                               onChange: { _ in bump() })
    }

    /// Starts the list/watch loops and the election.
    public func start() {
        let runs: [@Sendable () async -> Void] = [pools.run, egressNATs.run, pods.run, namespaces.run, elector.run]
        let tasks = runs.map { r in Task.detached { await r() } }
        counters.withLock { $0.tasks = tasks }
    }

    /// Releases the Lease (if held) and stops.
    public func stop() async {
        let tasks = counters.withLock { $0.tasks }
        for t in tasks { t.cancel() }
        await elector.release()
        await client.shutdown()
    }

    /// Grows on every change the reconciler should see (objects, leadership).
    public var changes: Int { counters.withLock { $0.changes } }
    public var isLeader: Bool { elector.isLeader }

    /// True once every kind has been listed: before that, a reconcile would see
    /// an empty cluster and release every allocation.
    public var synced: Bool {
        pools.stats.synced && egressNATs.stats.synced && pods.stats.synced && namespaces.stats.synced
    }

    /// Everything the API holds, as a ResourceSet, and an error for every object that does not decode.
    public func snapshot() -> (resources: ResourceSet, errors: [ManifestError]) {
        var rs = ResourceSet()
        var errors: [ManifestError] = []
        func take<T: KubeObject>(_ inf: Informer<T>, _ add: (inout ResourceSet, T) -> Void) {
            let s = inf.snapshot()
            for o in s.objects.sorted(by: { $0.storeKey < $1.storeKey }) {
                add(&rs, o)
                rs.locations[o.resourceKey] = SourceLocation(file: "kubernetes \(T.resource.path(namespace: o.metadata.namespace, name: o.metadata.name))", document: 0)
            }
            for (key, problem) in s.broken.sorted(by: { $0.key < $1.key }) {
                errors.append(ManifestError(file: "kubernetes \(T.resource)", document: 0, resource: "\(T.kindName) \(key)",
                                            message: problem))
            }
        }
        take(pools) { $0.pools.append($1) }
        take(egressNATs) { $0.egressNATs.append($1) }
        take(pods) { $0.pods.append($1) }
        take(namespaces) { $0.namespaces.append($1) }
        return (rs, errors)
    }

    /// Writes a NATPool's status (the allocation record) and returns the pool as the API now has it.
    /// Throws when the API refused it; the caller must then not program allocations the API does not hold.
    @discardableResult
    public func writeStatus(of pool: NATPool, _ status: NATPool.Status) async throws -> NATPool {
        try await patchStatus(pool, \.status, status, into: pools)
    }

    /// Writes an EgressNAT's status.
    public func writeStatus(of e: EgressNAT, _ status: EgressNAT.Status) async throws {
        _ = try await patchStatus(e, \.status, status, into: egressNATs)
    }

    /// Merge-patches an object's /status (conditional on the version we read); the API's answer
    /// goes into the informer so the next reconcile sees it before the watch event.
    func patchStatus<T: KubeObject, S: Encodable>(_ obj: T, _ field: WritableKeyPath<T, S?>, _ desired: S,
                                                   into informer: Informer<T>) async throws -> T {
        let body = try StatusRecords.statusPatch(desired, observed: obj[keyPath: field],
                                                 resourceVersion: obj.metadata.resourceVersion)
        let path = T.resource.path(namespace: obj.metadata.namespace, name: obj.metadata.name) + "/status"
        let data = try await recordingErrors {
            try await client.send(.PATCH, path, body: body, contentType: "application/merge-patch+json", timeout: .seconds(10))
        }
        guard let updated = try? JSONDecoder().decode(T.self, from: data) else {
            var o = obj
            o[keyPath: field] = desired
            return o
        }
        informer.upsert(updated)
        return updated
    }

    func recordingErrors<R>(_ body: () async throws -> R) async throws -> R {
        do { return try await body() } catch {
            counters.withLock {
                $0.writeErrors += 1
                $0.lastWriteError = "\(error)"
            }
            throw error
        }
    }

    public func status() -> KubernetesStatus {
        let c = counters.withLock { ($0.writeErrors, $0.lastWriteError) }
        return KubernetesStatus(server: client.config.server, identity: options.identity, leader: elector.isLeader,
                                leaseHolder: elector.holder, lease: "\(options.leaseNamespace)/\(options.leaseName)",
                                informers: [pools.stats, egressNATs.stats, pods.stats, namespaces.stats],
                                statusWriteErrors: c.0, lastStatusWriteError: c.1)
    }
}
