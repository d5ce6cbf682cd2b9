import Testing
import XDPNatABI
import XDPNatDatapath
import XDPNatTestSupport

/// The Swift view of every shared struct must match the BPF compiler's (BTF).
@Suite struct ABILayoutTests {
    @Test(.enabled(if: Privilege.shouldRun, "needs a BPF object (root not required, but run with the privileged suite)"))
    func structLayoutsMatchBTF() throws {
        let obj = try BPFObject(path: DatapathObject.path())
        func check<T>(_ t: T.Type, _ name: String, _ fields: [(String, PartialKeyPath<T>)]) throws {
            let btf = try obj.btfStruct(name)
            #expect(btf.size == MemoryLayout<T>.size, "size of \(name)")
            for (field, kp) in fields {
                #expect(btf.offsets[field] == MemoryLayout<T>.offset(of: kp), "offset of \(name).\(field)")
            }
            #expect(btf.offsets.count >= fields.count)
        }
        try check(xn_ct_key.self, "xn_ct_key", [
            ("src_ip", \.src_ip), ("dst_ip", \.dst_ip), ("src_port", \.src_port), ("dst_port", \.dst_port),
            ("proto", \.proto), ("pad", \.pad),
        ])
        try check(xn_ct_entry.self, "xn_ct_entry", [
            ("peer", \.peer), ("xlate_ip", \.xlate_ip), ("xlate_port", \.xlate_port), ("dir", \.dir),
            ("tcp_state", \.tcp_state), ("policy_id", \.policy_id), ("flags", \.flags),
            ("created_ns", \.created_ns), ("last_seen_ns", \.last_seen_ns), ("packets", \.packets),
            ("bytes", \.bytes), ("nh_ifindex", \.nh_ifindex), ("nh_gen", \.nh_gen), ("nh_dmac", \.nh_dmac),
            ("nh_smac", \.nh_smac), ("pad", \.pad),
        ])
        try check(xn_endpoint.self, "xn_endpoint", [("ip", \.ip), ("port", \.port), ("proto", \.proto), ("pad", \.pad)])
        try check(xn_binding.self, "xn_binding", [
            ("ip", \.ip), ("port", \.port), ("pad", \.pad), ("policy_id", \.policy_id), ("pad2", \.pad2),
            ("created_ns", \.created_ns),
        ])
        try check(xn_src_lpm_key.self, "xn_src_lpm_key", [("prefixlen", \.prefixlen), ("addr", \.addr)])
        try check(xn_dst_lpm_key.self, "xn_dst_lpm_key", [("prefixlen", \.prefixlen), ("policy_id", \.policy_id), ("addr", \.addr)])
        try check(xn_policy.self, "xn_policy", [
            ("nat_ip", \.nat_ip), ("port_min", \.port_min), ("port_max", \.port_max), ("flags", \.flags),
            ("policy_id", \.policy_id),
        ])
        try check(xn_nat_addr.self, "xn_nat_addr", [("port_min", \.port_min), ("port_max", \.port_max), ("policy_id", \.policy_id)])
        try check(xn_config.self, "xn_config", [("abi_version", \.abi_version), ("flags", \.flags), ("fib_gen", \.fib_gen), ("pad", \.pad)])
        try check(xn_stats.self, "xn_stats", [("c", \.c)])
        try check(xn_event.self, "xn_event", [
            ("type", \.type), ("policy_id", \.policy_id), ("ts_ns", \.ts_ns), ("orig", \.orig), ("nat_ip", \.nat_ip),
            ("nat_port", \.nat_port), ("pad", \.pad),
        ])
    }

    @Test func everyCounterHasAName() {
        let indices = DatapathCounters.names.map(\.index)
        #expect(indices == Array(0..<UInt32(DatapathCounters.count)))
        #expect(Set(DatapathCounters.names.map(\.name)).count == DatapathCounters.count)
    }
}
