import Foundation
import Testing
import XDPNatModel

@Suite struct ManifestCacheTests {
    static func pod(_ name: String, _ ip: String) -> String {
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name), namespace: team-a}\nstatus: {podIP: \(ip), phase: Running}\n"
    }

    @Test func unchangedFilesAreNotParsedAgainAndChangedOrRemovedOnesAre() throws {
        let dir = NSTemporaryDirectory() + "xdpnat-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.pod("a", "198.18.1.2").write(toFile: "\(dir)/a.yaml", atomically: true, encoding: .utf8)
        try Self.pod("b", "198.18.1.3").write(toFile: "\(dir)/b.yaml", atomically: true, encoding: .utf8)
        let cache = ManifestLoader.Cache()
        let first = ManifestLoader.load(directory: dir, cache: cache)
        #expect(cache.hits == 0)
        #expect(first.resources.pods.map(\.metadata.name) == ["a", "b"])

        let second = ManifestLoader.load(directory: dir, cache: cache)
        #expect(cache.hits == 2)
        #expect(second.resources == first.resources)

        // rewritten (atomically: new inode) and edited in place (same inode): both re-read
        try Self.pod("b", "198.18.1.9").write(toFile: "\(dir)/b.yaml", atomically: true, encoding: .utf8)
        let h = FileHandle(forWritingAtPath: "\(dir)/a.yaml")!
        h.truncateFile(atOffset: 0)
        h.write(Data(Self.pod("a", "198.18.1.8").utf8))
        h.closeFile()
        let third = ManifestLoader.load(directory: dir, cache: cache)
        #expect(third.resources.pods.compactMap(\.status?.podIP) == ["198.18.1.8", "198.18.1.9"])
        #expect(third == ManifestLoader.load(directory: dir), "the cache gives what a fresh load gives")

        try FileManager.default.removeItem(atPath: "\(dir)/a.yaml")
        #expect(ManifestLoader.load(directory: dir, cache: cache).resources.pods.map(\.metadata.name) == ["b"])
    }
}
