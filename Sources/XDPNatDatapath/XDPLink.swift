import CLibBPF
import Glibc

/// How an XDP program is attached to an interface.
public enum XDPMode: String, Sendable, CaseIterable, Codable {
    /// In the driver (fast path; veth, most NICs).
    case native
    /// In the generic stack path (works everywhere, slower).
    case generic

    var flags: UInt32 {
        switch self {
        case .native: UInt32(XDP_FLAGS_DRV_MODE)
        case .generic: UInt32(XDP_FLAGS_SKB_MODE)
        }
    }
}

/// An XDP attachment as a BPF link: it can be pinned so it outlives the
/// process, and its program replaced atomically.
public final class XDPLink: @unchecked Sendable {
    public let fd: Int32
    public let ifindex: UInt32

    init(fd: Int32, ifindex: UInt32) {
        self.fd = fd
        self.ifindex = ifindex
    }

    deinit { close(fd) }

    /// Attaches `program` to `ifindex`. Fails with EBUSY if another program is attached.
    public static func attach(_ program: BPFProgram, ifindex: UInt32, mode: XDPMode) throws -> XDPLink {
        var opts = bpf_link_create_opts()
        opts.sz = MemoryLayout<bpf_link_create_opts>.size
        opts.flags = mode.flags
        let fd = bpf_link_create(program.fd, Int32(ifindex), BPF_XDP, &opts)
        if fd < 0 {
            let e = errno
            throw BPFError("attach XDP program \(program.name) to \(interfaceName(ifindex)) (\(mode) mode)", code: e,
                           detail: e == EBUSY ? "  another XDP program is attached to this interface" :
                                   e == EOPNOTSUPP && mode == .native ? "  the driver lacks native XDP: try generic mode" : nil)
        }
        return XDPLink(fd: fd, ifindex: ifindex)
    }

    /// Re-opens a link pinned by an earlier process.
    public static func openPinned(_ path: String) throws -> XDPLink {
        let fd = bpf_obj_get(path)
        if fd < 0 { throw BPFError("open pinned link \(path)", code: errno) }
        var info = bpf_link_info()
        var len = UInt32(MemoryLayout<bpf_link_info>.size)
        try BPFError.check(bpf_obj_get_info_by_fd(fd, &info, &len), "read info of link \(path)")
        return XDPLink(fd: fd, ifindex: info.xdp.ifindex)
    }

    /// The id of the program the link runs.
    public var programID: UInt32 {
        var info = bpf_link_info()
        var len = UInt32(MemoryLayout<bpf_link_info>.size)
        return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.prog_id : 0
    }

    public func pin(_ path: String) throws {
        try BPFError.check(bpf_obj_pin(fd, path), "pin XDP link at \(path)")
    }

    /// Swaps in a new program without a moment with no program attached.
    public func update(_ program: BPFProgram) throws {
        try BPFError.check(bpf_link_update(fd, program.fd, nil), "replace program on \(interfaceName(ifindex))")
    }

    /// Detaches the program (the link stays open but inert).
    public func detach() throws {
        try BPFError.check(bpf_link_detach(fd), "detach XDP from \(interfaceName(ifindex))")
    }
}

/// The index of a network interface in the caller's network namespace.
public func interfaceIndex(_ name: String) throws -> UInt32 {
    let i = if_nametoindex(name)
    if i == 0 { throw BPFError("find interface \(name)", code: errno == 0 ? ENODEV : errno) }
    return i
}

/// The name of an interface index, or the number if it has none.
public func interfaceName(_ ifindex: UInt32) -> String {
    var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(ifindex, &buf) != nil else { return "ifindex \(ifindex)" }
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
