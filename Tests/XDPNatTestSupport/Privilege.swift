import Foundation
import Glibc

/// Gate for tests that need root, BPF and network namespaces.
///
/// Such tests run when the process is privileged, and are skipped otherwise,
/// unless `XDPNAT_REQUIRE_PRIVILEGED=1` (CI sets it): then they run anyway and
/// fail with a message saying what is missing, so CI cannot pass by skipping.
public enum Privilege {
    public static var required: Bool {
        ProcessInfo.processInfo.environment["XDPNAT_REQUIRE_PRIVILEGED"] == "1"
    }

    /// Why privileged tests cannot run here, or nil if they can.
    public static let missing: String? = {
        if geteuid() != 0 { return "not running as root" }
        if !FileManager.default.fileExists(atPath: "/sys/fs/bpf") { return "no /sys/fs/bpf" }
        if (try? Shell.run("ip", "netns", "list")) == nil { return "iproute2 `ip netns` unavailable" }
        return nil
    }()

    /// Use with `.enabled(if:)`.
    public static var shouldRun: Bool { missing == nil || required }

    /// Call first in a privileged test: throws a clear failure when the test
    /// was forced to run (`XDPNAT_REQUIRE_PRIVILEGED=1`) without privileges.
    public static func check() throws {
        if let missing { throw PrivilegeError(reason: missing) }
    }
}

public struct PrivilegeError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String {
        "privileged test required (XDPNAT_REQUIRE_PRIVILEGED=1) but cannot run: \(reason)"
    }
}
