import CLibBPF
import Foundation
import Glibc

/// The BPF filesystem, where maps and links are pinned.
public enum BPFFS {
    static let magic: Int = 0xcafe_4a11

    /// True when `path` lies on a mounted bpffs.
    public static func isMounted(at path: String) -> Bool {
        var s = statfs()
        return statfs(path, &s) == 0 && Int(s.f_type) == magic
    }

    /// Makes sure `directory` exists on a bpffs: mounts bpffs at `mountPoint`
    /// when nothing is mounted there, then creates the directory.
    public static func prepare(directory: String, mountPoint: String = "/sys/fs/bpf") throws {
        if directory.hasPrefix(mountPoint + "/") && !isMounted(at: mountPoint) {
            try? FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            if mount("bpf", mountPoint, "bpf", 0, nil) != 0 {
                throw BPFError("mount bpffs at \(mountPoint)", code: errno)
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BPFError("create pin directory \(directory)", code: EACCES, detail: "  \(error)")
        }
        guard isMounted(at: directory) else {
            throw BPFError("pin directory \(directory) is not on a bpffs", code: EINVAL,
                           detail: "  mount one first: mount -t bpf bpf \((directory as NSString).deletingLastPathComponent)")
        }
    }

    /// Removes pinned objects and the directory (not the mount).
    public static func removePins(in directory: String) {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
            unlink("\(directory)/\(name)")
        }
        rmdir(directory)
    }
}
