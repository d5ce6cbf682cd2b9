import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatModel
import XDPNatNet
import XDPNatTestSupport

/// Conntrack at scale: memory per flow, GC pass time, CLI listing time.
enum Scale {
    /// Fills `flows` synthetic pairs (both halves, fresh timestamps).
    static func fill(_ m: NATMaps, flows: Int) throws {
        let now = monotonicNow()
        var keys: [xn_ct_key] = []
        var vals: [xn_ct_entry] = []
        keys.reserveCapacity(2 * 65536)
        vals.reserveCapacity(2 * 65536)
        for i in 0..<flows {
            var fk = xn_ct_key()
            fk.src_ip = IPv4Address(IPv4Address("198.18.4.0").value + UInt32(i >> 14)).networkOrder
            fk.dst_ip = IPv4Address("198.18.2.2").networkOrder
            fk.src_port = UInt16(1024 + (i & 0x3fff)).bigEndian
            fk.dst_port = UInt16(443).bigEndian
            fk.proto = 6
            var rk = xn_ct_key()
            rk.src_ip = fk.dst_ip
            rk.dst_ip = IPv4Address(IPv4Address("198.18.100.0").value + UInt32(i >> 16)).networkOrder
            rk.src_port = fk.dst_port
            rk.dst_port = UInt16(truncatingIfNeeded: i & 0xffff).bigEndian
            rk.proto = 6
            var e = xn_ct_entry()
            e.peer = rk
            e.xlate_ip = rk.dst_ip
            e.xlate_port = rk.dst_port
            e.dir = UInt8(XN_DIR_ORIGINAL.rawValue)
            e.tcp_state = UInt8(XN_TCP_ESTABLISHED.rawValue)
            e.flags = UInt32(XN_CT_F_SEEN_REPLY)
            e.policy_id = 1
            e.created_ns = now
            e.last_seen_ns = now
            e.packets = 10
            e.bytes = 1000
            var r = e
            r.peer = fk
            r.xlate_ip = fk.src_ip
            r.xlate_port = fk.src_port
            r.dir = UInt8(XN_DIR_REPLY.rawValue)
            keys += [fk, rk]
            vals += [e, r]
            if keys.count >= 2 * 65536 {
                try m.conntrack.updateBatch(keys, vals)
                keys.removeAll(keepingCapacity: true)
                vals.removeAll(keepingCapacity: true)
            }
        }
        if !keys.isEmpty { try m.conntrack.updateBatch(keys, vals) }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t = Date()
        try body()
        return Date().timeIntervalSince(t)
    }

    /// GC pass time and memory at the given sizes; CLI list/stats time at the first.
    static func run(sizes: [Int], cli: String, into r: inout Results) throws {
        for flows in sizes {
            let o = try BPFObject(path: DatapathObject.path())
            try o.setMaxEntries(XN_MAP_CT, UInt32(flows * 2 + 1024))
            let pin = "/run/xdpnat-bench-\(getpid())"
            try FileManager.default.createDirectory(atPath: pin, withIntermediateDirectories: true)
            try Shell.run("mount", "-t", "bpf", "bpf", pin)
            defer {
                _ = try? Shell.run("umount", pin)
                try? FileManager.default.removeItem(atPath: pin)
            }
            try o.pinMaps(under: "\(pin)/xdpnat", except: [XN_MAP_TX_PORTS])
            try FileManager.default.createDirectory(atPath: "\(pin)/xdpnat", withIntermediateDirectories: true)
            try o.load()
            let m = try NATMaps(object: o)
            let fillTime = try seconds { try fill(m, flows: flows) }
            let label = flows >= 1_000_000 ? "\(flows / 1_000_000)M" : "\(flows / 1000)k"
            r.scale["fill_seconds_\(label)"] = fillTime
            if let mem = m.conntrack.memlock { r.scale["conntrack_bytes_per_flow"] = Double(mem) / Double(m.conntrack.maxEntries / 2) }
            if let b = m.bindings.memlock { r.scale["binding_bytes_per_endpoint"] = Double(b + (m.natPorts.memlock ?? 0)) / Double(m.bindings.maxEntries) }
            var gc = ConntrackGC()
            gc.settleNs = 0
            var pass = ConntrackGC.Pass()
            let gcTime = try seconds { pass = try gc.run(m) }
            guard pass.liveFlows == flows else { throw BenchError("GC saw \(pass.liveFlows) flows, not \(flows)") }
            r.scale["gc_pass_seconds_\(label)"] = gcTime
            if flows == sizes.first {
                let empty = "\(pin)/state"
                try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
                r.scale["xdpnat_ct_list_seconds_\(label)"] = try seconds {
                    try Shell.sh("\(cli) ct list -o conntrack --pin-dir \(pin)/xdpnat --state-dir \(empty) > /dev/null")
                }
                r.scale["xdpnat_ct_stats_seconds_\(label)"] = try seconds {
                    try Shell.sh("\(cli) ct stats --pin-dir \(pin)/xdpnat --state-dir \(empty) > /dev/null")
                }
                let count = try Shell.sh("\(cli) ct count --pin-dir \(pin)/xdpnat --state-dir \(empty)")
                guard Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) == flows else {
                    throw BenchError("ct count says \(count), not \(flows)")
                }
            }
        }
    }

    /// `conntrack -L` / `-S` on as many kernel conntrack entries, made by the
    /// generator through nftables snat in the gateway.
    static func kernel(_ t: BenchTopology, flows: Int, into r: inout Results) throws {
        let nft = NftSNAT()
        try nft.setUp(t)
        defer { nft.tearDown(t) }
        try t.configureGenerator(mode: XG_MODE_UNIQUE, flows: flows, ports: 60000)
        _ = try t.blast(t.template(tcpSYN: false), count: flows)
        let label = flows >= 1_000_000 ? "\(flows / 1_000_000)M" : "\(flows / 1000)k"
        let have = Int(try t.gw.exec("cat", "/proc/sys/net/netfilter/nf_conntrack_count").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        r.scale["kernel_conntrack_entries_\(label)"] = Double(have)
        r.scale["conntrack_L_seconds_\(label)"] = try seconds { try t.gw.sh("conntrack -L > /dev/null 2>&1") }
        r.scale["conntrack_S_seconds_\(label)"] = try seconds { try t.gw.sh("conntrack -S > /dev/null 2>&1") }
    }
}
