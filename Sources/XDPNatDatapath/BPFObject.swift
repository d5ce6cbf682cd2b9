import CLibBPF
import Foundation
import Glibc

/// A BPF ELF object: opened, optionally resized and pinned, then loaded into the kernel.
public final class BPFObject: @unchecked Sendable {
    let obj: OpaquePointer
    /// Path of the ELF file.
    public let path: String
    public private(set) var isLoaded = false

    public init(path: String) throws {
        LibBPFLog.install()
        guard FileManager.default.fileExists(atPath: path) else {
            throw BPFError("open BPF object \(path)", code: ENOENT)
        }
        guard let o = bpf_object__open_file(path, nil) else {
            throw BPFError("open BPF object \(path)", code: errno, detail: LibBPFLog.drain())
        }
        obj = o
        self.path = path
    }

    deinit { bpf_object__close(obj) }

    func rawMap(_ name: String) throws -> OpaquePointer {
        guard let m = bpf_object__find_map_by_name(obj, name) else {
            throw BPFError("find map \(name) in \(path)", code: ENOENT)
        }
        return m
    }

    /// Changes a map's capacity; only before `load()`.
    public func setMaxEntries(_ map: String, _ n: UInt32) throws {
        try BPFError.check(bpf_map__set_max_entries(try rawMap(map), n), "resize map \(map) to \(n)")
    }

    /// Pins every map of the object by name under `directory` on load, reusing
    /// maps already pinned there (their contents survive a restart). Before `load()`.
    public func pinMaps(under directory: String, except: Set<String> = []) throws {
        var m = bpf_object__next_map(obj, nil)
        while let map = m {
            let name = String(cString: bpf_map__name(map))
            // internal .rodata/.bss maps are not pinned (bpffs names take no dots)
            if !name.contains(".") && !except.contains(name) {
                try BPFError.check(bpf_map__set_pin_path(map, "\(directory)/\(name)"), "set pin path of \(name)")
            }
            m = bpf_object__next_map(obj, map)
        }
    }

    /// Loads programs and maps into the kernel (the verifier runs here).
    public func load() throws {
        _ = LibBPFLog.drain()
        let rc = bpf_object__load(obj)
        if rc < 0 {
            throw BPFError("load BPF object \(path)", code: rc, detail: LibBPFLog.drain())
        }
        isLoaded = true
    }

    /// A loaded map of the object.
    public func map(_ name: String) throws -> BPFMap {
        let m = try rawMap(name)
        let fd = bpf_map__fd(m)
        guard fd >= 0 else { throw BPFError("map \(name) is not loaded", code: EBADF) }
        return try BPFMap(fd: fd, name: name, owned: false)
    }

    /// A loaded program of the object, by function name.
    public func program(_ name: String) throws -> BPFProgram {
        guard let p = bpf_object__find_program_by_name(obj, name) else {
            throw BPFError("find program \(name) in \(path)", code: ENOENT)
        }
        let fd = bpf_program__fd(p)
        guard fd >= 0 else { throw BPFError("program \(name) is not loaded", code: EBADF) }
        return BPFProgram(fd: fd, name: name)
    }

    /// Size and field offsets of a struct as recorded in the object's BTF.
    public func btfStruct(_ name: String) throws -> BTFStruct {
        guard let btf = bpf_object__btf(obj) else { throw BPFError("object \(path) has no BTF", code: ENOENT) }
        let id = btf__find_by_name_kind(btf, name, UInt32(BTF_KIND_STRUCT))
        guard id > 0, let t = btf__type_by_id(btf, UInt32(id)) else {
            throw BPFError("find struct \(name) in BTF of \(path)", code: ENOENT)
        }
        var members: [String: Int] = [:]
        let vlen = Int(t.pointee.info & 0xffff)
        for i in 0..<vlen {
            let m = xdpnat_btf_member(t, UInt32(i))!
            let mname = String(cString: btf__name_by_offset(btf, m.pointee.name_off))
            members[mname] = Int(m.pointee.offset) / 8  // non-bitfield members: offset in bits
        }
        return BTFStruct(name: name, size: Int(t.pointee.size), offsets: members)
    }
}

/// A struct's layout as the BPF compiler saw it.
public struct BTFStruct: Sendable, Equatable {
    public let name: String
    public let size: Int
    public let offsets: [String: Int]
}
