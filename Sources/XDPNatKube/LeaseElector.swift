import Foundation
import Logging
import NIOCore
import Synchronization

/// A `coordination.k8s.io/v1` Lease, the part leader election uses.
public struct Lease: Codable, Sendable, Hashable {
    public struct Meta: Codable, Sendable, Hashable {
        public var name: String
        public var namespace: String?
        public var resourceVersion: String?
    }
    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?
        public init() {}
    }
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: Meta
    public var spec: Spec?

    /// `metav1.MicroTime`: RFC 3339 with microseconds, UTC.
    public static func microTime(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return f.string(from: d)
    }
}

/// Leader election over a Lease, as client-go does it: the holder renews the
/// lease; others take it over only after they have seen it unchanged for a
/// whole lease duration (their own clock, so clock skew between nodes does not matter).
public enum LeaseDecision: Equatable, Sendable {
    case create
    /// Write the lease with us as holder (renewal, or takeover of an expired/released lease).
    case acquire(transition: Bool)
    /// Someone else holds it: wait.
    case follow(holder: String)

    /// `observedAt`: when this process last saw the lease's holder or renew time change.
    public static func decide(lease: Lease?, me: String, now: Date, observedAt: Date) -> LeaseDecision {
        guard let lease else { return .create }
        let holder = lease.spec?.holderIdentity ?? ""
        if holder == me { return .acquire(transition: false) }
        if holder.isEmpty { return .acquire(transition: true) }
        let duration = Double(lease.spec?.leaseDurationSeconds ?? 15)
        if now.timeIntervalSince(observedAt) < duration { return .follow(holder: holder) }
        return .acquire(transition: true)
    }
}

/// Runs the election loop and tells whether this process holds the lease.
public final class LeaseElector: Sendable {
    public struct Timing: Sendable {
        public var leaseDuration: Double = 15
        /// A leader that cannot renew for this long steps down.
        public var renewDeadline: Double = 10
        public var retryPeriod: Double = 2
        public init(leaseDuration: Double = 15) {
            self.leaseDuration = leaseDuration
            renewDeadline = leaseDuration * 2 / 3
            // client-go's 15/10/2 s, scaled down for short leases (tests), never above 2 s
            retryPeriod = min(2, max(0.2, leaseDuration / 7.5))
        }
    }

    struct State {
        var leader = false
        var holder = ""
        var observed: (holder: String, renew: String)? = nil
        var observedAt = Date.distantPast
        var lastRenew = Date.distantPast
        var transitions = 0
    }

    let client: KubeClient
    let namespace: String
    let name: String
    public let identity: String
    let timing: Timing
    let log: Logger
    let state = Mutex(State())
    let onChange: @Sendable (Bool) -> Void

    public init(client: KubeClient, namespace: String, name: String, identity: String, timing: Timing, log: Logger,
                onChange: @escaping @Sendable (Bool) -> Void) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.log = log
        self.onChange = onChange
    }

    public var isLeader: Bool { state.withLock { $0.leader } }
    /// The holder last seen (ourselves when leading).
    public var holder: String { state.withLock { $0.holder } }

    var path: String { ResourceKind.leases.path(namespace: namespace, name: name) }

    public func run() async {
        while !Task.isCancelled {
            let ok: Bool
            do {
                ok = try await attempt()
            } catch {
                log.warning("lease request failed", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
                ok = false
            }
            let now = Date()
            let (was, lost) = state.withLock { s -> (Bool, Bool) in
                let was = s.leader
                if ok { s.lastRenew = now }
                // a leader that has not renewed within the deadline must assume someone else took over
                s.leader = ok || (s.leader && now.timeIntervalSince(s.lastRenew) < timing.renewDeadline)
                return (was, was && !s.leader)
            }
            if ok && !was {
                log.notice("acquired lease: this daemon allocates", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
                onChange(true)
            } else if lost {
                log.warning("lost lease: no longer allocating", metadata: ["lease": "\(namespace)/\(name)"])
                onChange(false)
            }
            try? await Task.sleep(nanoseconds: UInt64(timing.retryPeriod * 1e9))
        }
    }

    /// One acquire-or-renew round; true when we hold the lease afterwards.
    func attempt() async throws -> Bool {
        var current: Lease?
        do {
            current = try await client.get(Lease.self, path)
        } catch let e as KubeError where e.isNotFound {
            current = nil
        }
        let now = Date()
        let observedAt = state.withLock { s -> Date in
            let seen = (current?.spec?.holderIdentity ?? "", current?.spec?.renewTime ?? "")
            if s.observed == nil || s.observed! != seen {
                s.observed = seen
                s.observedAt = now
            }
            s.holder = seen.0
            return s.observedAt
        }
        let decision = LeaseDecision.decide(lease: current, me: identity, now: now, observedAt: observedAt)
        var spec = current?.spec ?? Lease.Spec()
        spec.holderIdentity = identity
        spec.leaseDurationSeconds = Int(timing.leaseDuration.rounded(.up))
        spec.renewTime = Lease.microTime(now)
        switch decision {
        case .follow:
            return false
        case .create:
            spec.acquireTime = spec.renewTime
            spec.leaseTransitions = 0
            let lease = Lease(metadata: .init(name: name, namespace: namespace), spec: spec)
            do {
                _ = try await client.send(.POST, ResourceKind.leases.prefix + "/namespaces/\(namespace)/leases",
                                          body: try JSONEncoder().encode(lease))
            } catch let e as KubeError where e.code == 409 {
                return false  // someone created it first
            }
        case .acquire(let transition):
            if transition {
                spec.acquireTime = spec.renewTime
                spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
            }
            // resourceVersion makes the write conditional: if another node wrote first, we get 409
            let lease = Lease(metadata: .init(name: name, namespace: namespace, resourceVersion: current?.metadata.resourceVersion),
                              spec: spec)
            do {
                _ = try await client.send(.PUT, path, body: try JSONEncoder().encode(lease))
            } catch let e as KubeError where e.isConflict {
                return false
            }
        }
        state.withLock { $0.holder = identity }
        return true
    }

    /// Gives the lease up (on shutdown) so another daemon takes over at once.
    public func release() async {
        guard isLeader, var lease = try? await client.get(Lease.self, path),
              lease.spec?.holderIdentity == identity else { return }
        lease.spec?.holderIdentity = ""
        lease.spec?.leaseDurationSeconds = 1
        lease.spec?.renewTime = Lease.microTime(Date())
        do {
            _ = try await client.send(.PUT, path, body: try JSONEncoder().encode(lease), timeout: .seconds(3))
            log.notice("released lease", metadata: ["lease": "\(namespace)/\(name)"])
        } catch {
            log.warning("could not release lease; another daemon takes over when it expires",
                        metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
        }
        state.withLock { $0.leader = false }
    }
}
