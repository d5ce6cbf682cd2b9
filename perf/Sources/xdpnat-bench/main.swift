import ArgumentParser
import Foundation
import XDPNatABI
import XDPNatDatapath
import XDPNatTestSupport

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpnat-bench",
        abstract: "xdpnat beside the kernel's own NAT, in one run: pps, CPS, ns/packet, conntrack scale, config latency.",
        discussion: "Run as root through perf/run.sh, which also draws the chart.")

    @Option(help: "Seconds per throughput sample.")
    var seconds = 2.0
    @Option(help: "Rounds (cases are interleaved inside each round).")
    var rounds = 3
    @Option(help: "Flow counts for the throughput matrix.")
    var flows = "1,10000,100000,1000000"
    @Option(help: "New connections per CPS sample.")
    var connections = 500_000
    @Option(help: "Output directory.")
    var out = "perf/results"
    @Option(help: "Sections to run: pps,cps,micro,scale,config (default all).")
    var only = "pps,cps,micro,scale,config"
    @Option(help: "Conntrack sizes for the GC/list scale test.")
    var scaleFlows = "1000000,4000000"
    @Option(help: "Pods for the config latency test.")
    var pods = 10_000

    func run() throws {
        try Privilege.check()
        var r = Results()
        r.machine = machineInfo()
        r.settings = ["seconds": "\(seconds)", "rounds": "\(rounds)", "flows": flows, "connections": "\(connections)",
                      "frame": "64-byte UDP (TCP SYN for CPS)", "generator": "BPF_PROG_RUN live frames, pinned to CPU 0"]
        let sections = Set(only.split(separator: ",").map(String.init))
        let flowCounts = flows.split(separator: ",").compactMap { Int($0) }
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let oldMax = try? String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_max", encoding: .utf8)
        _ = try? Shell.run("modprobe", "nf_conntrack")
        _ = try? Shell.run("sysctl", "-qw", "net.netfilter.nf_conntrack_max=4194304")
        defer {
            if let oldMax { _ = try? Shell.run("sysctl", "-qw", "net.netfilter.nf_conntrack_max=\(oldMax.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        func section(_ name: String, _ body: () throws -> Void) {
            guard sections.contains(name) else { return }
            log("== \(name)")
            do { try body() } catch { r.errors.append("\(name): \(error)"); log("   error: \(error)") }
        }

        section("micro") { r.testRunNs = try Micro.run(rounds: rounds) }

        if sections.contains("pps") || sections.contains("cps") || sections.contains("scale") {
            do {
                let t = try BenchTopology()
                defer { t.close() }
                section("pps") { try throughput(t, flowCounts, &r) }
                section("cps") { try connectionRate(t, &r) }
                section("scale") { try Scale.kernel(t, flows: 1_000_000, into: &r) }
            } catch {
                r.errors.append("topology: \(error)")
            }
        }
        section("scale") {
            try Scale.run(sizes: scaleFlows.split(separator: ",").compactMap { Int($0) }, cli: "\(bin)/xdpnat", into: &r)
        }
        section("config") { try ConfigLatency.run(daemon: "\(bin)/xdpnatd", pods: pods, changes: 5, into: &r) }

        summarize(&r)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.dateEncodingStrategy = .iso8601
        try enc.encode(r).write(to: URL(fileURLWithPath: "\(out)/results.json"))
        try markdown(r).write(toFile: "\(out)/summary.md", atomically: true, encoding: .utf8)
        log("wrote \(out)/results.json and \(out)/summary.md")
        if !r.errors.isEmpty { throw ExitCode(1) }
    }

    func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func throughput(_ t: BenchTopology, _ flowCounts: [Int], _ r: inout Results) throws {
        let maxFlows = flowCounts.max() ?? 1
        let cases: [GatewayCase] = [KernelForward(), NftSNAT(), IptablesMasquerade(), XDPStateless(),
                                    XDPNat(ctFlows: UInt32(maxFlows + maxFlows / 8 + 1024))]
        let frame = t.template(tcpSYN: false)
        for round in 0..<rounds {
            for flows in flowCounts {
                // each source port per pod address, destination ports beyond that
                try t.configureGenerator(mode: XG_MODE_FLOWS, flows: flows, ports: min(4096, max(1, flows / BenchTopology.pods)))
                for c in (round % 2 == 0 ? cases : cases.reversed()) {
                    try c.setUp(t)
                    defer { c.tearDown(t) }
                    _ = try t.blast(frame, count: max(flows, 100_000))  // warm up: every flow exists
                    let m = try t.measure(frame, seconds: seconds)
                    if m.ratio < 0.5 && c.name == "xdpnat" { log(t.diagnostics()) }
                    r.pps[c.name, default: [:]]["\(flows)", default: Figure([])].samples.append(m.pps)
                    r.delivery[c.name, default: [:]]["\(flows)"] = m.ratio
                    log(String(format: "   round %d  %-20@ %8d flows  %6.2f Mpps  (%.0f%% delivered)", round + 1, c.name, flows, m.pps / 1e6, m.ratio * 100))
                }
            }
        }
    }

    func connectionRate(_ t: BenchTopology, _ r: inout Results) throws {
        let cases: [GatewayCase] = [NftSNAT(), XDPNat(ctFlows: UInt32(connections + connections / 4 + 1024))]
        let syn = t.template(tcpSYN: true)
        for round in 0..<rounds {
            for c in cases {
                try t.configureGenerator(mode: XG_MODE_UNIQUE, flows: 0, ports: 60000)
                // start the sequence anew: every SYN of the run is a new connection for this case
                try t.genObject.map("xg_seq").updatePerCPU(UInt32(0), [UInt64(round) * UInt64(connections) * 4])
                try c.setUp(t)
                defer { c.tearDown(t) }
                let res = try t.blast(syn, count: connections)
                r.cps[c.name, default: Figure([])].samples.append(Double(res.delivered) / res.seconds)
                log(String(format: "   round %d  %-20@ %.0f new connections/s (%llu of %d forwarded)", round + 1, c.name,
                           Double(res.delivered) / res.seconds, res.delivered, connections))
            }
        }
    }

    func summarize(_ r: inout Results) {
        func pps(_ c: String, _ f: Int) -> Double? { r.pps[c]?["\(f)"]?.median }
        if let x = pps("xdpnat", 10000), let n = pps("nft-snat", 10000) { r.ratios["xdpnat/nft-snat @10k flows"] = x / n }
        if let x = pps("xdpnat", 10000), let n = pps("iptables-masquerade", 10000) { r.ratios["xdpnat/iptables-masquerade @10k flows"] = x / n }
        if let x = pps("xdpnat", 10000), let k = pps("kernel-forward", 10000) { r.ratios["xdpnat/kernel-forward @10k flows"] = x / k }
        if let x = pps("xdpnat", 10000), let s = pps("xdp-stateless", 10000) { r.ratios["xdpnat/xdp-stateless @10k flows"] = x / s }
        if let a = pps("xdpnat", 1), let b = pps("xdpnat", 1_000_000) { r.ratios["xdpnat 1M flows / 1 flow"] = b / a }
        if let x = r.cps["xdpnat"]?.median, let n = r.cps["nft-snat"]?.median { r.ratios["xdpnat/nft-snat CPS"] = x / n }
        if let hit = r.testRunNs["conntrack_hit"]?.median, let pass = r.testRunNs["xdp_pass"]?.median {
            r.ratios["conntrack hit - XDP_PASS (ns)"] = hit - pass
        }
        func target(_ name: String, _ goal: String, _ key: String, _ ok: (Double) -> Bool, _ fmt: (Double) -> String) {
            guard let v = r.ratios[key] else { return }
            r.targets.append(.init(name: name, goal: goal, measured: fmt(v), met: ok(v)))
        }
        target("pps vs nft snat at 10k flows", ">= 5x", "xdpnat/nft-snat @10k flows", { $0 >= 5 }, { String(format: "%.2fx", $0) })
        target("pps vs stateless XDP rewrite", ">= 80%", "xdpnat/xdp-stateless @10k flows", { $0 >= 0.8 }, { String(format: "%.0f%%", $0 * 100) })
        target("pps loss from 1 to 1M flows", "<= 30%", "xdpnat 1M flows / 1 flow", { $0 >= 0.7 }, { String(format: "%.0f%% loss", (1 - $0) * 100) })
        target("conntrack hit above XDP_PASS", "<= 40 ns", "conntrack hit - XDP_PASS (ns)", { $0 <= 40 }, { String(format: "%.1f ns", $0) })
    }

    func markdown(_ r: Results) -> String {
        var s = "# xdpnat benchmark results\n\n"
        s += "Machine: \(r.machine["cpu"] ?? "?"), \(r.machine["cores"] ?? "?") cores, \(r.machine["memoryGiB"] ?? "?") GiB, kernel \(r.machine["kernel"] ?? "?"); run \(ISO8601DateFormatter().string(from: r.started)).\n"
        s += "Every figure is the median of \(rounds) samples (range in brackets); cases interleaved in each round. "
        s += "Throughput: \(r.settings["frame"] ?? ""), generator and gateway on one core (\(r.settings["generator"] ?? "")).\n\n"
        if !r.targets.isEmpty {
            s += "## Targets\n\n| target | goal | measured | met |\n|---|---|---|---|\n"
            for t in r.targets { s += "| \(t.name) | \(t.goal) | \(t.measured) | \(t.met ? "yes" : "**no**") |\n" }
            s += "\n"
        }
        if !r.pps.isEmpty {
            let flows = self.flows.split(separator: ",").map(String.init)
            s += "## Forwarded packets per second (Mpps)\n\n| case | " + flows.map { "\($0) flows" }.joined(separator: " | ") + " |\n"
            s += "|---|" + flows.map { _ in "---|" }.joined() + "\n"
            for c in ["kernel-forward", "nft-snat", "iptables-masquerade", "xdp-stateless", "xdpnat"] {
                guard let row = r.pps[c] else { continue }
                s += "| \(c) | " + flows.map { f in
                    row[f].map { String(format: "%.2f [%.2f–%.2f]", $0.median / 1e6, $0.min / 1e6, $0.max / 1e6) } ?? "-"
                }.joined(separator: " | ") + " |\n"
            }
            s += "\n"
        }
        if !r.ratios.isEmpty {
            s += "## Ratios\n\n"
            for (k, v) in r.ratios.sorted(by: { $0.key < $1.key }) { s += "- \(k): \(String(format: "%.2f", v))\n" }
            s += "\n"
        }
        /// A section of medians with their ranges.
        func figures(_ title: String, _ figures: [String: Figure], _ format: String) {
            guard !figures.isEmpty else { return }
            s += "## \(title)\n\n"
            for (k, v) in figures.sorted(by: { $0.key < $1.key }) {
                s += "- \(k): \(String(format: "\(format) [\(format)–\(format)]", v.median, v.min, v.max))\n"
            }
            s += "\n"
        }
        figures("New connections per second (TCP SYNs with unique tuples)", r.cps, "%.0f")
        figures("BPF_PROG_TEST_RUN, ns per packet (kernel-measured; no FIB, no redirect)", r.testRunNs, "%.1f")
        if !r.scale.isEmpty {
            s += "## Conntrack scale\n\n"
            for (k, v) in r.scale.sorted(by: { $0.key < $1.key }) { s += "- \(k): \(String(format: "%.3f", v))\n" }
            s += "\n"
        }
        figures("Config latency (ms, manifest written -> datapath programmed, daemon polls every 0.2 s)", r.configLatencyMs, "%.0f")
        if !r.errors.isEmpty { s += "## Errors\n\n" + r.errors.map { "- \($0)\n" }.joined() }
        return s
    }
}

Bench.main()
