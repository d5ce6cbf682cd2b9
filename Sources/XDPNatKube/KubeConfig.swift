import Foundation
import Yams

/// How to reach and authenticate to an API server: from the pod's service
/// account (in-cluster) or from a kubeconfig file.
public struct KubeConfig: Sendable, Hashable {
    /// `https://host:port` (or `http://` for a local test server).
    public var server: String
    /// PEM of the CA that signed the server's certificate (nil: system roots).
    public var caPEM: [UInt8]?
    /// A fixed bearer token.
    public var token: String?
    /// A file holding the bearer token, re-read as it rotates (projected service-account tokens).
    public var tokenFile: String?
    /// Client certificate and key (PEM), for kubeconfigs that authenticate with them.
    public var clientCertPEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    /// The namespace the daemon runs in (service-account namespace, or the context's namespace).
    public var namespace = "xdpnat-system"

    public init(server: String) { self.server = server }

    /// A configuration problem, naming the file or variable at fault.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
        init(_ m: String) { message = m }
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In-cluster configuration, as client-go's `rest.InClusterConfig` builds it:
    /// `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted service-account token, CA and namespace.
    public static func inCluster(environment env: [String: String] = ProcessInfo.processInfo.environment,
                                 directory: String = serviceAccountDirectory) throws -> KubeConfig {
        guard let host = env["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = env["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw Problem("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (give --kubeconfig instead)")
        }
        let tokenPath = "\(directory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw Problem("no service-account token at \(tokenPath) (is automountServiceAccountToken off?)")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var c = KubeConfig(server: "https://\(hostPart):\(port)")
        c.tokenFile = tokenPath
        guard let ca = FileManager.default.contents(atPath: "\(directory)/ca.crt") else {
            throw Problem("no cluster CA at \(directory)/ca.crt")
        }
        c.caPEM = Array(ca)
        if let ns = try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8) {
            let t = ns.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { c.namespace = t }
        }
        return c
    }

    /// The subset of a kubeconfig file xdpnat understands.
    struct File: Decodable {
        struct Named<T: Decodable>: Decodable {
            var name: String
            var cluster: T?
            var user: T?
            var context: T?
            var value: T? { cluster ?? user ?? context }
        }
        struct Cluster: Decodable {
            var server: String?
            var certificateAuthority: String?
            var certificateAuthorityData: String?
            var insecureSkipTLSVerify: Bool?
            enum CodingKeys: String, CodingKey {
                case server, certificateAuthority = "certificate-authority"
                case certificateAuthorityData = "certificate-authority-data"
                case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            }
        }
        struct User: Decodable {
            var token: String?
            var tokenFile: String?
            var clientCertificate: String?
            var clientCertificateData: String?
            var clientKey: String?
            var clientKeyData: String?
            var exec: AnyExec?
            var authProvider: AnyExec?
            enum CodingKeys: String, CodingKey {
                case token, tokenFile, exec, authProvider = "auth-provider"
                case clientCertificate = "client-certificate", clientCertificateData = "client-certificate-data"
                case clientKey = "client-key", clientKeyData = "client-key-data"
            }
        }
        struct AnyExec: Decodable {}
        struct Context: Decodable {
            var cluster: String
            var user: String?
            var namespace: String?
        }
        var clusters: [Named<Cluster>]?
        var users: [Named<User>]?
        var contexts: [Named<Context>]?
        var currentContext: String?
        enum CodingKeys: String, CodingKey {
            case clusters, users, contexts, currentContext = "current-context"
        }
    }

    /// Reads a kubeconfig file; `context` nil means its `current-context`.
    /// Relative file paths inside it are relative to the file, as in kubectl.
    public static func kubeconfig(path: String, context wanted: String? = nil) throws -> KubeConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Problem("kubeconfig \(path): cannot be read")
        }
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: text) } catch {
            throw Problem("kubeconfig \(path): not a valid kubeconfig (\(error))")
        }
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : "\(base)/\(p)" }
        func read(_ p: String, _ what: String) throws -> [UInt8] {
            guard let d = FileManager.default.contents(atPath: resolve(p)) else {
                throw Problem("kubeconfig \(path): \(what) file \(resolve(p)) cannot be read")
            }
            return Array(d)
        }
        func decode(_ b64: String, _ what: String) throws -> [UInt8] {
            guard let d = Data(base64Encoded: String(b64.filter { !$0.isWhitespace })) else {
                throw Problem("kubeconfig \(path): \(what) is not valid base64")
            }
            return Array(d)
        }

        guard let name = wanted ?? file.currentContext, !name.isEmpty else {
            throw Problem("kubeconfig \(path): no current-context (give --kube-context)")
        }
        guard let ctx = file.contexts?.first(where: { $0.name == name })?.context else {
            let known = (file.contexts ?? []).map(\.name).joined(separator: ", ")
            throw Problem("kubeconfig \(path): no context named '\(name)' (contexts: \(known.isEmpty ? "none" : known))")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw Problem("kubeconfig \(path): context '\(name)' names cluster '\(ctx.cluster)', which is not defined")
        }
        guard let server = cluster.server, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw Problem("kubeconfig \(path): cluster '\(ctx.cluster)' has no http(s) server address")
        }
        var c = KubeConfig(server: server.hasSuffix("/") ? String(server.dropLast()) : server)
        c.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        if let d = cluster.certificateAuthorityData { c.caPEM = try decode(d, "certificate-authority-data") }
        else if let f = cluster.certificateAuthority { c.caPEM = try read(f, "certificate-authority") }
        if let ns = ctx.namespace { c.namespace = ns }
        if let userName = ctx.user {
            guard let user = file.users?.first(where: { $0.name == userName })?.user else {
                throw Problem("kubeconfig \(path): context '\(name)' names user '\(userName)', which is not defined")
            }
            if user.exec != nil || user.authProvider != nil {
                throw Problem("kubeconfig \(path): user '\(userName)' uses an exec or auth-provider plugin, which xdpnatd does not run; use a token or client certificate")
            }
            c.token = user.token
            c.tokenFile = user.tokenFile.map(resolve)
            if let d = user.clientCertificateData { c.clientCertPEM = try decode(d, "client-certificate-data") }
            else if let f = user.clientCertificate { c.clientCertPEM = try read(f, "client-certificate") }
            if let d = user.clientKeyData { c.clientKeyPEM = try decode(d, "client-key-data") }
            else if let f = user.clientKey { c.clientKeyPEM = try read(f, "client-key") }
            if (c.clientCertPEM == nil) != (c.clientKeyPEM == nil) {
                throw Problem("kubeconfig \(path): user '\(userName)' has a client certificate without a key, or a key without a certificate")
            }
        }
        return c
    }

    /// The bearer token to send now (a token file is re-read, so rotated tokens are picked up).
    public func currentToken() -> String? {
        if let tokenFile, let t = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            return t.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return token
    }
}
