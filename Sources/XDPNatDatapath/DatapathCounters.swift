import XDPNatABI

/// Names of the datapath counters (`enum xn_counter` in the ABI header), as
/// shown by the CLI and exported as metrics.
public enum DatapathCounters {
    /// Every counter index with its name, in ABI order.
    public static let names: [(index: UInt32, name: String)] = [
        (XN_C_RX.rawValue, "rx"),
        (XN_C_PASS_NOT_IPV4.rawValue, "pass_not_ipv4"),
        (XN_C_PASS_NO_POLICY.rawValue, "pass_no_policy"),
        (XN_C_PASS_EXCLUDED.rawValue, "pass_excluded"),
        (XN_C_PASS_UNSUPPORTED.rawValue, "pass_unsupported_proto"),
        (XN_C_PASS_TTL.rawValue, "pass_ttl"),
        (XN_C_PASS_LOCAL.rawValue, "pass_local"),
        (XN_C_SNAT_NEW.rawValue, "snat_new_flow"),
        (XN_C_SNAT_HIT.rawValue, "snat_hit"),
        (XN_C_REPLY_HIT.rawValue, "reply_hit"),
        (XN_C_ICMP_ERR_IN.rawValue, "icmp_error_in"),
        (XN_C_ICMP_ERR_OUT.rawValue, "icmp_error_out"),
        (XN_C_PORT_KEPT.rawValue, "port_kept"),
        (XN_C_PORT_PROBED.rawValue, "port_probed"),
        (XN_C_REDIRECT.rawValue, "redirect"),
        (XN_C_FIB_CACHED.rawValue, "fib_cached"),
        (XN_C_FIB_LOOKUP.rawValue, "fib_lookup"),
        (XN_C_FIB_PASS.rawValue, "fib_pass"),
        (XN_C_DROP_MALFORMED.rawValue, "drop_malformed"),
        (XN_C_DROP_FRAGMENT.rawValue, "drop_fragment"),
        (XN_C_DROP_UNSOLICITED.rawValue, "drop_unsolicited"),
        (XN_C_DROP_ICMP_NO_MATCH.rawValue, "drop_icmp_no_match"),
        (XN_C_DROP_NO_PORT.rawValue, "drop_no_port"),
        (XN_C_DROP_CT_FULL.rawValue, "drop_ct_full"),
        (XN_C_DROP_BINDING_FULL.rawValue, "drop_binding_full"),
        (XN_C_DROP_CT_CONFLICT.rawValue, "drop_ct_conflict"),
        (XN_C_PASS_NO_TXPORT.rawValue, "pass_no_txport"),
        (XN_C_EVENTS_LOST.rawValue, "events_lost"),
    ]

    public static var count: Int { Int(XN_C_MAX.rawValue) }

    public static func name(_ index: UInt32) -> String {
        names.first { $0.index == index }?.name ?? "counter_\(index)"
    }
}

/// A snapshot of the per-CPU counters.
public struct CounterSnapshot: Sendable, Equatable {
    /// perCPU[counter][cpu]
    public let perCPU: [[UInt64]]

    public func total(_ c: xn_counter) -> UInt64 { total(c.rawValue) }
    public func total(_ index: UInt32) -> UInt64 {
        Int(index) < perCPU.count ? perCPU[Int(index)].reduce(0, +) : 0
    }

    /// Totals by counter name.
    public var totals: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: DatapathCounters.names.map { ($0.name, total($0.index)) })
    }
}
