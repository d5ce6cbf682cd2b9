import Foundation
import Logging
import NIOCore
import Synchronization
import XDPNatModel

/// Exponential backoff with jitter, for retrying a failing API server without hammering it.
public struct Backoff: Sendable {
    public var initial: Double
    public var maximum: Double
    var current: Double

    public init(initial: Double = 0.5, maximum: Double = 30) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    /// The next delay in seconds (±20% jitter), doubling up to `maximum`.
    public mutating func next() -> Double {
        let d = current * Double.random(in: 0.8...1.2)
        current = min(maximum, current * 2)
        return d
    }

    public mutating func reset() { current = initial }
}

/// Keeps an up-to-date copy of every object of one kind: lists (in pages),
/// then watches from the list's resourceVersion; bookmarks advance the
/// version, 410 Gone relists, other failures back off and retry.
public final class Informer<T: KubeObject>: Sendable {
    struct State {
        var objects: [String: T] = [:]
        /// Objects the API holds that do not decode, by store key.
        var broken: [String: String] = [:]
        var stats = InformerStats(resource: T.resource.description)
    }

    let client: KubeClient
    let log: Logger
    let state = Mutex(State())
    let onChange: @Sendable () -> Void
    /// Server-side watch timeout range (seconds); the watch is reopened after it.
    let watchSeconds: ClosedRange<Int>
    let pageSize: Int

    public init(client: KubeClient, log: Logger, pageSize: Int = 500, watchSeconds: ClosedRange<Int> = 240...360,
                onChange: @escaping @Sendable () -> Void) {
        self.client = client
        self.log = log
        self.pageSize = pageSize
        self.watchSeconds = watchSeconds
        self.onChange = onChange
    }

    /// The objects now known, and the ones that could not be decoded (key -> problem).
    public func snapshot() -> (objects: [T], broken: [String: String], synced: Bool) {
        state.withLock { s in (Array(s.objects.values), s.broken, s.stats.synced) }
    }

    public var stats: InformerStats { state.withLock { $0.stats } }

    /// Stores an object the daemon itself just wrote (the API's answer), so the next
    /// reconcile sees it before its watch event arrives.
    public func upsert(_ o: T) {
        state.withLock {
            $0.objects[o.storeKey] = o
            $0.broken[o.storeKey] = nil
        }
    }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var backoff = Backoff()
        var relist = true
        while !Task.isCancelled {
            do {
                if relist {
                    try await list()
                    relist = false
                    backoff.reset()
                }
                // from the last version seen (the list's, then each event's and bookmark's), also after errors
                try await watch(from: state.withLock { $0.stats.resourceVersion })
                backoff.reset()
            } catch let e as KubeError where e.isGone {
                log.info("watch expired, relisting", metadata: ["resource": "\(T.resource)", "error": "\(e)"])
                state.withLock { $0.stats.expired += 1 }
                relist = true
            } catch is CancellationError {
                return
            } catch {
                let delay = backoff.next()
                state.withLock {
                    $0.stats.errors += 1
                    $0.stats.lastError = "\(error)"
                }
                log.warning("API request failed; retrying", metadata: [
                    "resource": "\(T.resource)", "error": "\(error)", "retry_in_s": "\(String(format: "%.1f", delay))",
                ])
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    /// Lists every object (following `continue`), replaces the store and the version to watch from.
    func list() async throws {
        var objects: [String: T] = [:]
        var broken: [String: String] = [:]
        var token: String? = nil
        var version = ""
        repeat {
            var q = [("limit", String(pageSize))]
            if let token { q.append(("continue", token)) }
            let page = try await client.get(ListPage<T>.self, T.resource.collectionPath, query: q)
            for item in page.items {
                if let o = item.value {
                    objects[o.storeKey] = o
                } else if let n = item.head?.metadata?.name {
                    broken[T.resource.key(namespace: item.head?.metadata?.namespace, name: n)] = item.problem ?? "cannot be decoded"
                }
            }
            version = page.metadata.resourceVersion ?? version
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        state.withLock { s in
            s.objects = objects
            s.broken = broken
            s.stats.lists += 1
            s.stats.synced = true
            s.stats.objects = objects.count
            s.stats.resourceVersion = version
        }
        log.debug("listed", metadata: ["resource": "\(T.resource)", "objects": "\(objects.count)", "version": "\(version)"])
        onChange()
    }

    /// Watches from `version` until the server ends the stream; every event advances the stored version.
    func watch(from version: String) async throws {
        let seconds = Int.random(in: watchSeconds)
        let q = [("watch", "1"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", String(seconds))]
        state.withLock { $0.stats.watches += 1 }
        let lines = try await client.watchLines(T.resource.collectionPath, query: q, timeout: .seconds(Int64(seconds + 30)))
        var current = version
        for try await line in lines {
            let event = try WatchEvent<T>.decode(line)
            var changed = true
            var newVersion: String? = nil
            switch event {
            case .added(let o), .modified(let o):
                newVersion = o.metadata.resourceVersion
                state.withLock {
                    $0.objects[o.storeKey] = o
                    $0.broken[o.storeKey] = nil
                }
            case .deleted(let o):
                newVersion = o.metadata.resourceVersion
                state.withLock {
                    $0.objects[o.storeKey] = nil
                    $0.broken[o.storeKey] = nil
                }
            case .bookmark(let v):
                changed = false
                newVersion = v
                state.withLock { $0.stats.bookmarks += 1 }
            case .undecodable(let type, let key, let v, let problem):
                newVersion = v
                log.error("API object cannot be read", metadata: ["resource": "\(T.resource)", "object": "\(key ?? "?")",
                                                                  "event": "\(type)", "problem": "\(problem)"])
                // the object as the API now has it is unreadable: drop the older version we held, so
                // that the daemon treats it as broken (its last good version stays in force there)
                if let key {
                    state.withLock {
                        $0.objects[key] = nil
                        $0.broken[key] = problem
                    }
                }
            case .error(let st):
                throw KubeError(code: st.code ?? 500, reason: st.reason ?? "", message: st.message ?? "",
                                request: "GET \(T.resource.collectionPath) (watch)")
            }
            if let v = newVersion, !v.isEmpty { current = v }
            state.withLock { s in
                s.stats.events += 1
                s.stats.objects = s.objects.count
                s.stats.resourceVersion = current
            }
            if changed { onChange() }
        }
    }
}
