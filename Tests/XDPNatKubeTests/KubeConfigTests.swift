import Foundation
import Testing
@testable import XDPNatKube

/// A scratch directory removed at the end of the test.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "xdpnat-kube-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = "\(path)/\(name)"
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

@Suite struct KubeConfigTests {
    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    @Test func inClusterReadsServiceAccountFiles() throws {
        let s = try Scratch()
        try s.write("token", "tok-123\n")
        try s.write("ca.crt", Self.pem)
        try s.write("namespace", "xdpnat-system")
        let c = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "198.18.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                         directory: s.path)
        #expect(c.server == "https://198.18.0.1:443")
        #expect(c.currentToken() == "tok-123")
        #expect(c.caPEM == Array(Self.pem.utf8))
        #expect(c.namespace == "xdpnat-system")
    }

    @Test func inClusterPicksUpARotatedToken() throws {
        let s = try Scratch()
        try s.write("token", "first")
        try s.write("ca.crt", Self.pem)
        let c = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "198.18.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                         directory: s.path)
        #expect(c.currentToken() == "first")
        try s.write("token", "second")
        #expect(c.currentToken() == "second")
    }

    @Test func inClusterOutsideAClusterSaysWhatIsMissing() throws {
        #expect(throws: KubeConfig.Problem.self) { try KubeConfig.inCluster(environment: [:], directory: "/nonexistent") }
        do {
            _ = try KubeConfig.inCluster(environment: [:], directory: "/nonexistent")
        } catch {
            #expect("\(error)".contains("KUBERNETES_SERVICE_HOST"))
        }
    }

    @Test func kubeconfigWithInlineCAAndToken() throws {
        let s = try Scratch()
        let ca = Data(Self.pem.utf8).base64EncodedString()
        let path = try s.write("config", """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster: {server: "https://198.18.5.1:6443/", certificate-authority-data: \(ca)}
        - name: other
          cluster: {server: "https://198.18.5.9:6443"}
        users:
        - name: admin
          user: {token: secret-token}
        contexts:
        - name: prod
          context: {cluster: prod-cluster, user: admin, namespace: nat}
        - name: dev
          context: {cluster: other}
        """)
        let c = try KubeConfig.kubeconfig(path: path)
        #expect(c.server == "https://198.18.5.1:6443")
        #expect(c.caPEM == Array(Self.pem.utf8))
        #expect(c.currentToken() == "secret-token")
        #expect(c.namespace == "nat")
        let dev = try KubeConfig.kubeconfig(path: path, context: "dev")
        #expect(dev.server == "https://198.18.5.9:6443")
        #expect(dev.currentToken() == nil)
    }

    @Test func kubeconfigFilePathsAreRelativeToTheFile() throws {
        let s = try Scratch()
        try s.write("ca.pem", Self.pem)
        try s.write("tok", "from-file")
        let path = try s.write("config", """
        current-context: c
        clusters: [{name: k, cluster: {server: "https://198.18.5.1:6443", certificate-authority: ca.pem}}]
        users: [{name: u, user: {tokenFile: tok}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        """)
        let c = try KubeConfig.kubeconfig(path: path)
        #expect(c.caPEM == Array(Self.pem.utf8))
        #expect(c.currentToken() == "from-file")
    }

    @Test(arguments: [
        ("current-context: nope\ncontexts: [{name: c, context: {cluster: k}}]", "no context named 'nope' (contexts: c)"),
        ("current-context: c\ncontexts: [{name: c, context: {cluster: k}}]", "names cluster 'k', which is not defined"),
        ("current-context: c\nclusters: [{name: k, cluster: {server: \"https://198.18.5.1\"}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {exec: {command: aws}}}]", "exec or auth-provider plugin"),
        ("current-context: c\nclusters: [{name: k, cluster: {server: \"https://198.18.5.1\"}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {client-certificate-data: QUJD}}]", "without a key"),
        ("clusters: [}", "not a valid kubeconfig"),
        ("current-context: c\nclusters: [{name: k, cluster: {server: \"https://198.18.5.1\", certificate-authority-data: \"%%%\"}}]\ncontexts: [{name: c, context: {cluster: k}}]", "certificate-authority-data is not valid base64"),
    ])
    func badKubeconfigsSayWhatIsWrong(text: String, expected: String) throws {
        let s = try Scratch()
        let path = try s.write("config", text)
        do {
            _ = try KubeConfig.kubeconfig(path: path)
            Issue.record("accepted a bad kubeconfig")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
            #expect("\(error)".contains(path))
        }
    }
}
