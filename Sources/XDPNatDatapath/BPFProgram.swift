import CLibBPF
import Glibc

/// A loaded BPF program.
public struct BPFProgram: Sendable {
    public let fd: Int32
    public let name: String

    /// The outcome of `BPF_PROG_TEST_RUN`.
    public struct TestRun: Sendable {
        /// The program's return value (an XDP action for XDP programs).
        public let retval: UInt32
        /// The packet as the program left it.
        public let packet: [UInt8]
        /// Kernel-measured mean run time per repetition, in nanoseconds.
        public let durationNs: UInt32
    }

    /// Runs the program on `packet` in the kernel, `repetitions` times.
    /// `ingressIfindex` sets `xdp_md.ingress_ifindex` (for FIB lookups).
    public func testRun(_ packet: [UInt8], repetitions: UInt32 = 1, ingressIfindex: UInt32? = nil) throws -> TestRun {
        var input = packet
        var output = [UInt8](repeating: 0, count: packet.count + 256)
        var ctx = xdp_md()
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        opts.repeat = Int32(repetitions)
        opts.data_size_in = UInt32(input.count)
        opts.data_size_out = UInt32(output.count)
        if let ingressIfindex {
            ctx.ingress_ifindex = ingressIfindex
            ctx.data_end = UInt32(input.count)
        }
        let rc = input.withUnsafeMutableBytes { ib in
            output.withUnsafeMutableBytes { ob in
                withUnsafeMutablePointer(to: &ctx) { cp in
                    opts.data_in = UnsafeRawPointer(ib.baseAddress)
                    opts.data_out = ob.baseAddress
                    if ingressIfindex != nil {
                        opts.ctx_in = UnsafeRawPointer(cp)
                        opts.ctx_size_in = UInt32(MemoryLayout<xdp_md>.size)
                    }
                    return bpf_prog_test_run_opts(fd, &opts)
                }
            }
        }
        if rc < 0 { throw BPFError("test-run program \(name)", code: errno) }
        return TestRun(retval: opts.retval, packet: Array(output.prefix(Int(opts.data_size_out))),
                       durationNs: opts.duration)
    }

    /// Injects `packet` into the network stack `count` times as real XDP frames
    /// (`BPF_F_TEST_XDP_LIVE_FRAMES`): frames the program redirects leave through
    /// the target interface. Used by the load generator.
    public func runLiveFrames(_ packet: [UInt8], count: UInt32, ingressIfindex: UInt32, batchSize: UInt32 = 64) throws {
        var input = packet
        var ctx = xdp_md()
        ctx.ingress_ifindex = ingressIfindex
        ctx.data_end = UInt32(packet.count)
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        opts.repeat = Int32(count)
        opts.flags = UInt32(BPF_F_TEST_XDP_LIVE_FRAMES)
        opts.batch_size = batchSize
        opts.data_size_in = UInt32(input.count)
        let rc = input.withUnsafeMutableBytes { ib in
            withUnsafeMutablePointer(to: &ctx) { cp in
                opts.data_in = UnsafeRawPointer(ib.baseAddress)
                opts.ctx_in = UnsafeRawPointer(cp)
                opts.ctx_size_in = UInt32(MemoryLayout<xdp_md>.size)
                return bpf_prog_test_run_opts(fd, &opts)
            }
        }
        if rc < 0 { throw BPFError("live-frame run of program \(name)", code: errno) }
    }
}
