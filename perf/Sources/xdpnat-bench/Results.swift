import Foundation

/// A figure measured several times: median and range.
struct Figure: Codable {
    var samples: [Double]
    var median: Double {
        let s = samples.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { samples.min() ?? .nan }
    var max: Double { samples.max() ?? .nan }

    enum CodingKeys: String, CodingKey { case samples, median, min, max }
    init(_ samples: [Double]) { self.samples = samples }
    init(from d: any Decoder) throws { samples = try d.container(keyedBy: CodingKeys.self).decode([Double].self, forKey: .samples) }
    func encode(to e: any Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(samples, forKey: .samples)
        try c.encode(median, forKey: .median)
        try c.encode(min, forKey: .min)
        try c.encode(max, forKey: .max)
    }
}

struct Results: Codable {
    var machine: [String: String] = [:]
    var started = Date()
    var settings: [String: String] = [:]
    /// pps[case][flows]
    var pps: [String: [String: Figure]] = [:]
    /// delivered / sent, per case and flow count (last round)
    var delivery: [String: [String: Double]] = [:]
    var cps: [String: Figure] = [:]
    var testRunNs: [String: Figure] = [:]
    var scale: [String: Double] = [:]
    var configLatencyMs: [String: Figure] = [:]
    var ratios: [String: Double] = [:]
    var targets: [Target] = []
    var errors: [String] = []

    struct Target: Codable {
        var name: String
        var goal: String
        var measured: String
        var met: Bool
    }
}

func machineInfo() -> [String: String] {
    var u = utsname()
    uname(&u)
    func s<T>(_ t: T) -> String { withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?
        .trimmingCharacters(in: .whitespaces) ?? "?"
    return ["kernel": s(u.release), "cpu": cpu, "cores": "\(ProcessInfo.processInfo.activeProcessorCount)",
            "memoryGiB": "\(ProcessInfo.processInfo.physicalMemory >> 30)", "host": s(u.nodename)]
}
