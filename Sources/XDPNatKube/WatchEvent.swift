import Foundation
import XDPNatModel

/// A resource type xdpnat lists and watches.
public protocol KubeObject: Codable, Sendable, Hashable {
    static var resource: ResourceKind { get }
    /// `Kind` as in manifests (`NATPool`).
    static var kindName: String { get }
    var metadata: ObjectMeta { get set }
}

extension KubeObject {
    /// `namespace/name`, or `name` for cluster-scoped kinds.
    public var storeKey: String { Self.resource.key(namespace: metadata.namespace, name: metadata.name) }
    /// The key `ResourceSet` and validation errors use (`NATPool name`, `Pod ns/name`).
    public var resourceKey: String { "\(Self.kindName) \(storeKey)" }
}

extension NATPool: KubeObject {
    public static let resource = ResourceKind.natPools
    public static let kindName = "NATPool"
}
extension EgressNAT: KubeObject {
    public static let resource = ResourceKind.egressNATs
    public static let kindName = "EgressNAT"
}
extension Pod: KubeObject {
    public static let resource = ResourceKind.pods
    public static let kindName = "Pod"
}
extension Namespace: KubeObject {
    public static let resource = ResourceKind.namespaces
    public static let kindName = "Namespace"
}

/// The identifying part of any object (what is left when the rest cannot be decoded).
struct ObjectHead: Decodable, Sendable {
    struct Meta: Decodable, Sendable {
        var name: String?
        var namespace: String?
        var resourceVersion: String?
    }
    var kind: String?
    var metadata: Meta?
}

/// An object that either decoded, or did not (with the reason and whatever names it).
struct Lenient<T: Decodable & Sendable>: Decodable, Sendable {
    var value: T?
    var head: ObjectHead?
    var problem: String?

    init(from decoder: any Decoder) throws {
        do {
            value = try T(from: decoder)
        } catch {
            head = try? ObjectHead(from: decoder)
            problem = Self.describe(error)
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        let (field, message) = ManifestLoader.describe(e)
        return field.isEmpty ? message : "\(field): \(message)"
    }
}

/// A page of a list answer (`PodList`, `NATPoolList`, ...).
struct ListPage<T: Decodable & Sendable>: Decodable, Sendable {
    struct Meta: Decodable, Sendable {
        var resourceVersion: String?
        var `continue`: String?
    }
    var metadata: Meta
    var items: [Lenient<T>]
}

/// One event of a watch stream.
public enum WatchEvent<T: KubeObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// Progress: every event up to this version has been sent.
    case bookmark(resourceVersion: String)
    /// The server ended the watch with a `Status` (410 Expired: relist).
    case error(APIStatus)
    /// An ADDED/MODIFIED object that does not decode as `T`.
    case undecodable(type: String, key: String?, resourceVersion: String?, problem: String)

    struct Head: Decodable {
        var type: String
        var object: ObjectHead?
    }
    struct Body<O: Decodable>: Decodable {
        var object: O
    }

    /// Parses one line of a watch stream.
    public static func decode(_ line: Data) throws -> WatchEvent<T> {
        let d = JSONDecoder()
        let head: Head
        do { head = try d.decode(Head.self, from: line) } catch {
            throw KubeError(code: 200, reason: "BadWatchEvent",
                            message: "not a watch event: \(String(decoding: line.prefix(200), as: UTF8.self))",
                            request: "watch \(T.resource)")
        }
        switch head.type {
        case "BOOKMARK":
            return .bookmark(resourceVersion: head.object?.metadata?.resourceVersion ?? "")
        case "ERROR":
            let st = (try? d.decode(Body<APIStatus>.self, from: line).object) ?? APIStatus(message: "unreadable ERROR event")
            return .error(st)
        case "ADDED", "MODIFIED", "DELETED":
            let body = try d.decode(Body<Lenient<T>>.self, from: line).object
            guard let obj = body.value else {
                let m = body.head?.metadata
                let key = m?.name.map { T.resource.key(namespace: m?.namespace, name: $0) }
                return .undecodable(type: head.type, key: key, resourceVersion: m?.resourceVersion,
                                    problem: body.problem ?? "cannot be decoded")
            }
            return head.type == "ADDED" ? .added(obj) : head.type == "MODIFIED" ? .modified(obj) : .deleted(obj)
        default:
            throw KubeError(code: 200, reason: "BadWatchEvent", message: "unknown watch event type '\(head.type)'",
                            request: "watch \(T.resource)")
        }
    }
}
