import CLibBPF
import Glibc

/// A BPF map, reached by file descriptor. Keys and values are the C structs of
/// the ABI header, passed as their bytes.
public final class BPFMap: @unchecked Sendable {
    public let fd: Int32
    public let name: String
    public let type: UInt32
    public let keySize: Int
    public let valueSize: Int
    public let maxEntries: Int
    private let owned: Bool

    init(fd: Int32, name: String, owned: Bool) throws {
        var info = bpf_map_info()
        var len = UInt32(MemoryLayout<bpf_map_info>.size)
        try BPFError.check(bpf_obj_get_info_by_fd(fd, &info, &len), "read info of map \(name)")
        self.fd = fd
        self.name = name
        self.type = info.type
        self.keySize = Int(info.key_size)
        self.valueSize = Int(info.value_size)
        self.maxEntries = Int(info.max_entries)
        self.owned = owned
    }

    deinit { if owned { close(fd) } }

    /// Opens a map pinned in bpffs (works without the object that created it).
    public static func openPinned(_ path: String) throws -> BPFMap {
        let fd = bpf_obj_get(path)
        if fd < 0 { throw BPFError("open pinned map \(path)", code: errno) }
        let name = String(path.split(separator: "/").last ?? "")
        return try BPFMap(fd: fd, name: name, owned: true)
    }

    /// Per-CPU maps hold one value slot per possible CPU, each padded to 8 bytes.
    public var isPerCPU: Bool {
        [BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH]
            .map { $0.rawValue }.contains(type)
    }

    public static var possibleCPUs: Int { Int(libbpf_num_possible_cpus()) }

    private func checkSizes<K, V>(_ k: K.Type, _ v: V.Type, perCPU: Bool = false) {
        precondition(MemoryLayout<K>.size == keySize, "\(name): key is \(keySize) bytes, not \(MemoryLayout<K>.size)")
        if !perCPU {
            precondition(MemoryLayout<V>.size == valueSize, "\(name): value is \(valueSize) bytes, not \(MemoryLayout<V>.size)")
        }
    }

    public func lookup<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as: V.Type = V.self) -> V? {
        checkSizes(K.self, V.self)
        var k = key
        var v = unsafeBitCast0(V.self)
        let rc = withUnsafeMutableBytes(of: &v) { vb in bpf_map_lookup_elem(fd, &k, vb.baseAddress) }
        return rc == 0 ? v : nil
    }

    /// `flags`: `BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST`.
    public func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, _ value: V, flags: UInt64 = UInt64(BPF_ANY)) throws {
        checkSizes(K.self, V.self)
        var k = key
        var v = value
        try BPFError.check(bpf_map_update_elem(fd, &k, &v, flags), "update map \(name)")
    }

    /// Deletes a key; returns false if it was not there.
    @discardableResult
    public func delete<K: BitwiseCopyable>(_ key: K) throws -> Bool {
        precondition(MemoryLayout<K>.size == keySize)
        var k = key
        let rc = bpf_map_delete_elem(fd, &k)
        if rc == 0 { return true }
        let e = errno
        if e == ENOENT { return false }
        throw BPFError("delete from map \(name)", code: e)
    }

    /// Every key, by iteration (fine for small maps; use `entries` for large ones).
    public func keys<K: BitwiseCopyable>(_: K.Type = K.self) -> [K] {
        precondition(MemoryLayout<K>.size == keySize)
        var out: [K] = []
        var cur = unsafeBitCast0(K.self)
        var next = unsafeBitCast0(K.self)
        var rc = bpf_map_get_next_key(fd, nil, &next)
        while rc == 0 {
            out.append(next)
            cur = next
            rc = bpf_map_get_next_key(fd, &cur, &next)
        }
        return out
    }

    /// Every key and value, read with batch operations where the map supports
    /// them (hash maps), falling back to iteration.
    public func entries<K: BitwiseCopyable, V: BitwiseCopyable>(_: K.Type = K.self, _: V.Type = V.self,
                                                               batchSize: Int = 4096) throws -> [(K, V)] {
        checkSizes(K.self, V.self)
        var out: [(K, V)] = []
        out.reserveCapacity(min(maxEntries, 1 << 16))
        var keys = [K](repeating: unsafeBitCast0(K.self), count: batchSize)
        var vals = [V](repeating: unsafeBitCast0(V.self), count: batchSize)
        // batch cursor: an opaque token the size of a key (hash maps: 4 bytes suffice)
        var inBatch = [UInt8](repeating: 0, count: max(keySize, 8))
        var outBatch = [UInt8](repeating: 0, count: max(keySize, 8))
        var first = true
        while true {
            var count = UInt32(batchSize)
            var opts = bpf_map_batch_opts()
            opts.sz = MemoryLayout<bpf_map_batch_opts>.size
            let rc = keys.withUnsafeMutableBytes { kb in
                vals.withUnsafeMutableBytes { vb in
                    inBatch.withUnsafeMutableBytes { ib in
                        outBatch.withUnsafeMutableBytes { ob in
                            bpf_map_lookup_batch(fd, first ? nil : ib.baseAddress, ob.baseAddress,
                                                 kb.baseAddress, vb.baseAddress, &count, &opts)
                        }
                    }
                }
            }
            let e = errno
            if rc < 0 && e != ENOENT {
                if first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP) {
                    return self.keys(K.self).compactMap { k in lookup(k, as: V.self).map { (k, $0) } }
                }
                throw BPFError("batch read of map \(name)", code: e)
            }
            for i in 0..<Int(count) { out.append((keys[i], vals[i])) }
            if rc < 0 { break }  // ENOENT: that was the last batch
            inBatch = outBatch
            first = false
        }
        return out
    }

    /// Deletes many keys in one call where supported; returns how many were deleted.
    @discardableResult
    public func deleteBatch<K: BitwiseCopyable>(_ keys: [K]) throws -> Int {
        guard !keys.isEmpty else { return 0 }
        precondition(MemoryLayout<K>.size == keySize)
        var count = UInt32(keys.count)
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        var ks = keys
        let rc = ks.withUnsafeMutableBytes { bpf_map_delete_batch(fd, $0.baseAddress, &count, &opts) }
        if rc == 0 { return Int(count) }
        // ENOENT stops the batch at the first missing key: delete the rest one by one
        var n = Int(count)
        for k in keys.dropFirst(Int(count)) where try delete(k) { n += 1 }
        return n
    }

    /// Inserts or replaces many entries in one call per chunk.
    public func updateBatch<K: BitwiseCopyable, V: BitwiseCopyable>(_ keys: [K], _ values: [V], flags: UInt64 = UInt64(BPF_ANY)) throws {
        checkSizes(K.self, V.self)
        precondition(keys.count == values.count)
        var ks = keys
        var vs = values
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        opts.elem_flags = flags
        var done = 0
        while done < ks.count {
            var count = UInt32(min(ks.count - done, 65536))
            let rc = ks.withUnsafeMutableBytes { kb in
                vs.withUnsafeMutableBytes { vb in
                    bpf_map_update_batch(fd, kb.baseAddress! + done * keySize, vb.baseAddress! + done * valueSize, &count, &opts)
                }
            }
            if rc < 0 { throw BPFError("batch update of map \(name)", code: errno) }
            done += Int(count)
        }
    }

    /// Kernel memory charged to the map, in bytes (from /proc/self/fdinfo).
    public var memlock: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("memlock:") }
            .flatMap { Int($0.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") }
    }

    /// Per-CPU values of a per-CPU array/hash slot.
    public func lookupPerCPU<K: BitwiseCopyable>(_ key: K) -> [UInt64]? {
        precondition(valueSize == 8, "lookupPerCPU reads 8-byte values")
        var k = key
        var vals = [UInt64](repeating: 0, count: Self.possibleCPUs)
        let rc = vals.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &k, $0.baseAddress) }
        return rc == 0 ? vals : nil
    }

    /// Sets every CPU's slot of a per-CPU 8-byte value.
    public func updatePerCPU<K: BitwiseCopyable>(_ key: K, _ values: [UInt64]) throws {
        var k = key
        var vals = values
        vals += [UInt64](repeating: 0, count: max(0, Self.possibleCPUs - vals.count))
        _ = try vals.withUnsafeMutableBytes { vb in
            try BPFError.check(bpf_map_update_elem(fd, &k, vb.baseAddress, UInt64(BPF_ANY)), "update map \(name)")
        }
    }
}

/// A zero-filled value of a C struct type.
@inline(__always)
func unsafeBitCast0<T: BitwiseCopyable>(_: T.Type) -> T {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { p in
        UnsafeMutableRawPointer(p.baseAddress!).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        return p.baseAddress!.pointee
    }
}
