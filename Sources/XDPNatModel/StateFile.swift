import Foundation

/// Reads and writes JSON files atomically (write to a temporary file, fsync, rename),
/// so a crash leaves either the old or the new content, never a torn file.
public enum JSONFile {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }

    /// Reads `path`; `nil` when the file does not exist. A file that exists but
    /// cannot be read or decoded is an error (never silently replaced).
    public static func read<T: Decodable>(_ t: T.Type, from path: String) throws -> T? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(path: path, problem: "cannot be read")
        }
        do {
            return try decoder().decode(T.self, from: data)
        } catch {
            throw Failure(path: path, problem: "is not a valid \(T.self) file (\(error)); fix or move it away")
        }
    }

    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        let data = try encoder().encode(value)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let tmp = "\(path).tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw Failure(path: tmp, problem: "cannot be written")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw Failure(path: path, problem: "cannot be replaced (errno \(errno))")
        }
    }
}
