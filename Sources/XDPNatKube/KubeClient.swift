import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import XDPNatModel

/// Where a kind of resource lives in the API.
public struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    /// API group ("" for the core group).
    public var group: String
    public var version: String
    /// Lower-case plural, as in the URL (`natpools`).
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    var prefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
    /// The collection across all namespaces (or the cluster-scoped collection).
    public var collectionPath: String { "\(prefix)/\(plural)" }
    public func path(namespace: String?, name: String) -> String {
        namespaced ? "\(prefix)/namespaces/\(namespace ?? "default")/\(plural)/\(name)" : "\(prefix)/\(plural)/\(name)"
    }
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// How objects of this kind are keyed: `namespace/name`, or `name` for cluster-scoped kinds.
    public func key(namespace: String?, name: String) -> String {
        namespaced ? "\(namespace ?? "default")/\(name)" : name
    }

    public static let natPools = ResourceKind(group: XDPNatAPI.group, version: XDPNatAPI.version, plural: "natpools", namespaced: false)
    public static let egressNATs = ResourceKind(group: XDPNatAPI.group, version: XDPNatAPI.version, plural: "egressnats", namespaced: true)
    public static let pods = ResourceKind(group: "", version: "v1", plural: "pods", namespaced: true)
    public static let namespaces = ResourceKind(group: "", version: "v1", plural: "namespaces", namespaced: false)
    public static let leases = ResourceKind(group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true)
}

/// `metav1.Status`, the body of API errors (and of watch ERROR events).
public struct APIStatus: Codable, Sendable, Hashable {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
}

/// A failed API request: the HTTP status and the server's own reason and message.
public struct KubeError: Error, CustomStringConvertible, Sendable {
    /// HTTP status (0: no response: connection, TLS or timeout).
    public var code: Int
    public var reason: String
    public var message: String
    /// `METHOD path`
    public var request: String

    public var description: String {
        code == 0 ? "\(request): \(message)" : "\(request): HTTP \(code) \(reason): \(message)"
    }
    /// The resource version asked for is older than the server keeps (relist).
    public var isGone: Bool { code == 410 }
    public var isConflict: Bool { code == 409 }
    public var isNotFound: Bool { code == 404 }
}

/// A small Kubernetes API client over AsyncHTTPClient: JSON requests with the
/// configured credentials, and line-delimited watch streams.
public final class KubeClient: Sendable {
    public let config: KubeConfig
    let http: HTTPClient

    public init(config: KubeConfig) throws {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = config.caPEM { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca)) }
            if let cert = config.clientCertPEM, let key = config.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubeConfig.Problem("cannot use the cluster CA or client certificate: \(error)")
        }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var c = HTTPClient.Configuration(tlsConfiguration: tls)
        c.timeout = .init(connect: .seconds(5), read: nil)
        c.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }

    public func shutdown() async { try? await http.shutdown() }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        var comps = URLComponents()
        comps.queryItems = query.isEmpty ? nil : query.map { URLQueryItem(name: $0.0, value: $0.1) }
        // '+' is a space to some servers; always send it escaped
        let q = comps.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
        return config.server + path + q
    }

    func makeRequest(_ method: HTTPMethod, _ path: String, _ query: [(String, String)], body: Data?,
                     contentType: String?) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: url(path, query))
        r.method = method
        r.headers.add(name: "Accept", value: "application/json")
        r.headers.add(name: "User-Agent", value: "xdpnatd")
        if let t = config.currentToken(), !t.isEmpty { r.headers.add(name: "Authorization", value: "Bearer \(t)") }
        if let body {
            r.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            r.body = .bytes(ByteBuffer(bytes: body))
        }
        return r
    }

    static func failure(_ response: HTTPClientResponse, body: ByteBuffer?, request: String) -> KubeError {
        let text = body.map { String(buffer: $0) } ?? ""
        let st = try? JSONDecoder().decode(APIStatus.self, from: Data(text.utf8))
        return KubeError(code: Int(response.status.code), reason: st?.reason ?? response.status.reasonPhrase,
                         message: st?.message ?? String(text.prefix(300)), request: request)
    }

    /// One request; the response body of a 2xx answer, else a `KubeError` with the server's message.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     contentType: String? = nil, timeout: TimeAmount = .seconds(30)) async throws -> Data {
        let label = "\(method.rawValue) \(path)"
        do {
            let response = try await http.execute(makeRequest(method, path, query, body: body, contentType: contentType),
                                                  timeout: timeout)
            let buf = try await response.body.collect(upTo: 512 << 20)
            guard (200..<300).contains(response.status.code) else {
                throw Self.failure(response, body: buf, request: label)
            }
            return Data(buf.readableBytesView)
        } catch let e as KubeError {
            throw e
        } catch {
            throw KubeError(code: 0, reason: "", message: "\(error)", request: label)
        }
    }

    /// Decodes a 2xx JSON answer.
    public func get<T: Decodable>(_ t: T.Type, _ path: String, query: [(String, String)] = []) async throws -> T {
        let data = try await send(.GET, path, query: query)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw KubeError(code: 200, reason: "BadResponse", message: "cannot decode \(T.self): \(error)", request: "GET \(path)")
        }
    }

    /// Opens a watch: the server's newline-delimited JSON events, one `Data` per line.
    /// A non-2xx answer throws before any line is read.
    public func watchLines(_ path: String, query: [(String, String)], timeout: TimeAmount) async throws -> WatchLines {
        let label = "GET \(path) (watch)"
        let response: HTTPClientResponse
        do {
            response = try await http.execute(makeRequest(.GET, path, query, body: nil, contentType: nil), timeout: timeout)
        } catch {
            throw KubeError(code: 0, reason: "", message: "\(error)", request: label)
        }
        guard response.status.code == 200 else {
            let buf = try? await response.body.collect(upTo: 1 << 20)
            throw Self.failure(response, body: buf, request: label)
        }
        return WatchLines(body: response.body)
    }
}

/// The lines of a watch response as they arrive.
public struct WatchLines: AsyncSequence, Sendable {
    public typealias Element = Data
    let body: HTTPClientResponse.Body

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        var splitter = LineSplitter()
        var ready: [Data] = []
        var ended = false

        public mutating func next() async throws -> Data? {
            while ready.isEmpty {
                if ended { return nil }
                if let chunk = try await chunks.next() {
                    ready = splitter.feed(chunk.readableBytesView)
                } else {
                    ended = true
                    if let rest = splitter.finish() { ready = [rest] }
                }
            }
            return ready.removeFirst()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: body.makeAsyncIterator()) }
}

/// Splits a byte stream into lines, whatever the chunk boundaries (a JSON
/// event may arrive in pieces, or several in one chunk). Empty lines are dropped.
public struct LineSplitter: Sendable {
    var pending: [UInt8] = []
    public init() {}

    public mutating func feed<C: Collection>(_ bytes: C) -> [Data] where C.Element == UInt8 {
        var out: [Data] = []
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if pending.contains(where: { $0 != 32 && $0 != 13 }) { out.append(Data(pending)) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(b)
            }
        }
        return out
    }

    /// What is left when the stream ends (a last line without a newline).
    public mutating func finish() -> Data? {
        defer { pending = [] }
        return pending.contains(where: { $0 != 32 && $0 != 13 }) ? Data(pending) : nil
    }
}
