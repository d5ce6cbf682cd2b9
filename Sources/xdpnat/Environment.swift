import ArgumentParser
import Foundation
import XDPNatDatapath
import XDPNatModel

/// Where the daemon keeps its pins and state.
struct Locations: ParsableArguments {
    @Option(help: "bpffs directory of the datapath's pinned maps.")
    var pinDir = "/sys/fs/bpf/xdpnat"
    @Option(help: "xdpnatd's state directory (status.json, allocations.json, allocations.log).")
    var stateDir = "/var/lib/xdpnat"

    func maps() throws -> NATMaps {
        do {
            return try NATMaps(pinnedAt: pinDir)
        } catch let e as BPFError {
            throw CLIError("\(e)")
        }
    }

    /// The daemon's last status, or nil with no daemon ever run here.
    func status() throws -> DaemonStatus? {
        do {
            return try JSONFile.read(DaemonStatus.self, from: "\(stateDir)/status.json")
        } catch {
            throw CLIError("\(error)")
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, conntrack
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Buffered standard output: listing a million flows must not be a million writes.
struct Out {
    private var buf: [UInt8] = []
    mutating func line(_ s: String) {
        buf.append(contentsOf: s.utf8)
        buf.append(0x0a)
        if buf.count > 1 << 16 { flush() }
    }
    mutating func flush() {
        guard !buf.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buf))
        buf.removeAll(keepingCapacity: true)
    }
}

/// Aligns columns of text.
func table(_ header: [String], _ rows: [[String]]) -> [String] {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func fmt(_ r: [String]) -> String {
        r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    return [fmt(header)] + rows.map(fmt)
}

func humanDuration(_ seconds: Double) -> String {
    let s = Int(max(0, seconds))
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(s % 60)s" }
    if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
    return "\(s / 86400)d\(s % 86400 / 3600)h"
}

func humanBytes(_ b: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(b)
    var i = 0
    while v >= 1024 && i < units.count - 1 {
        v /= 1024
        i += 1
    }
    return i == 0 ? "\(b)B" : String(format: "%.1f%@", v, units[i])
}

func jsonLine(_ value: some Encodable) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .iso8601
    return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self)
}

func jsonPretty(_ value: some Encodable) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .iso8601
    return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self)
}
