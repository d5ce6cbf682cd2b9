import CBPFSupport
import CLibBPF
import Glibc

/// A failed BPF or system operation, with what was attempted and why it failed.
public struct BPFError: Error, CustomStringConvertible, Sendable {
    /// What was being done, e.g. `load BPF object /x/xdpnat.bpf.o`.
    public let operation: String
    /// The errno of the failure (positive).
    public let code: Int32
    /// Extra detail: the verifier log tail, a hint on privileges.
    public let detail: String?

    public init(_ operation: String, code: Int32, detail: String? = nil) {
        self.operation = operation
        self.code = abs(code)
        self.detail = detail
    }

    public var description: String {
        var s = "\(operation): \(String(cString: strerror(code))) (errno \(code))"
        if code == EPERM || code == EACCES {
            s += "\n  hint: BPF needs root (CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN for pinning)"
        }
        if let detail, !detail.isEmpty { s += "\n" + detail }
        return s
    }

    /// Throws when a libbpf call returned a negative error code.
    @discardableResult
    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
        if rc < 0 { throw BPFError(operation(), code: rc == -1 ? errno : rc) }
        return rc
    }
}

/// Collects libbpf's warnings so a failed load can show the verifier's words.
enum LibBPFLog {
    nonisolated(unsafe) static var lines: [String] = []
    nonisolated(unsafe) static var installed = false
    static let lock = NSLockLike()

    static func install() {
        lock.withLock {
            guard !installed else { return }
            installed = true
            xdpnat_set_log_sink { level, line in
                guard let line, level <= Int32(LIBBPF_WARN.rawValue) else { return }
                LibBPFLog.lock.withLock {
                    LibBPFLog.lines.append(String(cString: line))
                    if LibBPFLog.lines.count > 400 { LibBPFLog.lines.removeFirst(200) }
                }
            }
        }
    }

    /// Takes the collected lines (the last `max`).
    static func drain(max: Int = 40) -> String {
        lock.withLock {
            let tail = lines.suffix(max).joined()
            lines.removeAll()
            return tail
        }
    }
}

/// A pthread mutex, enough for the log buffer.
final class NSLockLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
