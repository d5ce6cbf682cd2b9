import CLibBPF
import Glibc
import XDPNatABI

/// Reads flow events from the datapath's ring buffer (`xn_events`).
public final class FlowEventReader: @unchecked Sendable {
    private var ring: OpaquePointer?
    private let box: Box

    final class Box { var events: [xn_event] = [] }

    public init(map: BPFMap) throws {
        box = Box()
        let ctx = Unmanaged.passUnretained(box).toOpaque()
        ring = ring_buffer__new(map.fd, { ctx, data, size in
            guard let ctx, let data, size >= MemoryLayout<xn_event>.size else { return 0 }
            let box = Unmanaged<Box>.fromOpaque(ctx).takeUnretainedValue()
            box.events.append(data.loadUnaligned(as: xn_event.self))
            return 0
        }, ctx, nil)
        if ring == nil { throw BPFError("open event ring buffer \(map.name)", code: errno) }
    }

    deinit { ring_buffer__free(ring) }

    /// Waits up to `timeoutMs` for events and returns those that arrived.
    public func poll(timeoutMs: Int32) throws -> [xn_event] {
        let rc = ring_buffer__poll(ring, timeoutMs)
        if rc < 0 && rc != -EINTR { throw BPFError("poll event ring buffer", code: rc) }
        defer { box.events.removeAll(keepingCapacity: true) }
        return box.events
    }
}
