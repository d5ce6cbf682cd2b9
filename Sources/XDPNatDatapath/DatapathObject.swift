import Foundation

/// Where the compiled BPF objects are found.
public enum DatapathObject {
    /// The NAT program.
    public static let nat = "xdpnat.bpf.o"
    /// A program that only returns XDP_PASS (benchmark baseline).
    public static let pass = "xdp_pass.bpf.o"

    /// Path of a compiled object: `$XDPNAT_BPF_DIR/name` if set, else the
    /// resource bundle built with the package.
    public static func path(_ name: String = nat) throws -> String {
        if let dir = ProcessInfo.processInfo.environment["XDPNAT_BPF_DIR"] {
            return "\(dir)/\(name)"
        }
        guard let url = Bundle.module.url(forResource: name, withExtension: nil) else {
            throw BPFError("find compiled BPF object \(name) in \(Bundle.module.bundlePath)", code: 2)
        }
        return url.path
    }
}
