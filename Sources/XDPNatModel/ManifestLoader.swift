import Foundation
import Yams

/// Reads multi-document YAML manifests (as `kubectl apply -f` accepts them)
/// into resources, collecting an error for every document that cannot be used
/// without losing the documents that can.
public enum ManifestLoader {
    public struct Result: Sendable, Hashable {
        public var resources = ResourceSet()
        public var errors: [ManifestError] = []
    }

    /// Loads every `*.yaml`, `*.yml` and `*.json` file of a directory (not recursive), in name order.
    /// With a `cache`, a file whose size, modification time and inode are unchanged is not parsed again.
    public static func load(directory: String, cache: Cache? = nil) -> Result {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else {
            return Result(errors: [ManifestError(file: directory, document: 0, message: "cannot read directory")])
        }
        var result = Result()
        var seen = Set<String>()
        for name in names.sorted() where [".yaml", ".yml", ".json"].contains(where: name.hasSuffix) && !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            seen.insert(path)
            let r: Result
            if let cache, let stamp = Cache.stamp(path) {
                if let hit = cache.files[path], hit.stamp == stamp {
                    r = hit.result
                    cache.hits += 1
                } else {
                    r = load(file: path)
                    cache.files[path] = (stamp, r)
                }
            } else {
                r = load(file: path)
            }
            result.resources.merge(r.resources)
            result.errors += r.errors
        }
        cache?.files = cache?.files.filter { seen.contains($0.key) } ?? [:]
        return result
    }

    /// Parsed files by path, with the stat fields that tell whether a file changed.
    public final class Cache: @unchecked Sendable {
        var files: [String: (stamp: String, result: Result)] = [:]
        /// Files served from the cache (for tests and logs).
        public internal(set) var hits = 0
        public init() {}

        /// What tells whether a file changed: size, modification and change times, inode.
        public static func stamp(_ path: String) -> String? {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            return "\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ino):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
        }
    }

    /// Loads one file, or a directory if the path is one.
    public static func load(path: String) -> Result {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            return Result(errors: [ManifestError(file: path, document: 0, message: "no such file or directory")])
        }
        return isDir.boolValue ? load(directory: path) : load(file: path)
    }

    public static func load(file: String) -> Result {
        guard let data = FileManager.default.contents(atPath: file) else {
            return Result(errors: [ManifestError(file: file, document: 0, message: "cannot read file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return Result(errors: [ManifestError(file: file, document: 0, message: "not UTF-8 text")])
        }
        return load(yaml: text, file: file)
    }

    /// Splits the stream at `---` lines so that a syntax error stays inside its document.
    static func documents(_ text: String) -> [(text: String, line: Int)] {
        var docs: [(String, Int)] = []
        var current: [Substring] = []
        var start = 1
        var lineNo = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            if line == "---" || line.hasPrefix("--- ") || line.hasPrefix("---\t") || line == "---\r" {
                docs.append((current.joined(separator: "\n"), start))
                current = []
                start = lineNo + 1
                continue
            }
            if line == "..." { continue }
            current.append(line)
        }
        docs.append((current.joined(separator: "\n"), start))
        return docs.filter { doc in
            doc.0.split(separator: "\n").contains { l in
                let t = l.trimmingCharacters(in: .whitespaces)
                return !t.isEmpty && !t.hasPrefix("#")
            }
        }
    }

    public static func load(yaml text: String, file: String) -> Result {
        var result = Result()
        for (i, doc) in documents(text).enumerated() {
            let loc = SourceLocation(file: file, document: i + 1, line: doc.line)
            do {
                guard let node = try Yams.compose(yaml: doc.text) else { continue }
                add(node, at: loc, to: &result)
            } catch let e as YamlError {
                result.errors.append(loc.error(nil, nil, "invalid YAML: \(describe(e, lineOffset: doc.line - 1))"))
            } catch {
                result.errors.append(loc.error(nil, nil, "invalid YAML: \(error)"))
            }
        }
        return result
    }

    static func describe(_ e: YamlError, lineOffset: Int) -> String {
        switch e {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            let ctx = context.map { "\($0.text) " } ?? ""
            return "\(ctx)\(problem) at line \(mark.line + lineOffset), column \(mark.column)"
        default:
            return "\(e)"
        }
    }

    static func add(_ node: Node, at loc: SourceLocation, to result: inout Result) {
        guard let map = node.mapping else {
            result.errors.append(loc.error(nil, nil, "a manifest must be a mapping with apiVersion and kind"))
            return
        }
        let apiVersion = map["apiVersion"]?.string
        let kind = map["kind"]?.string
        let name = map["metadata"]?.mapping?["name"]?.string
        let namespace = map["metadata"]?.mapping?["namespace"]?.string
        let label = kind.map { k in "\(k) \(namespace.map { "\($0)/" } ?? "")\(name ?? "<unnamed>")" }
        guard let apiVersion, let kind else {
            result.errors.append(loc.error(label, apiVersion == nil ? "apiVersion" : "kind", "missing"))
            return
        }
        if kind == "List" || kind.hasSuffix("List") && apiVersion == "v1" {
            for (j, item) in (map["items"]?.sequence ?? []).enumerated() {
                var sub = Result()
                add(item, at: loc, to: &sub)
                result.resources.merge(sub.resources)
                result.errors += sub.errors.map { e in
                    var e = e
                    e.field = "items[\(j)]" + (e.field.map { ".\($0)" } ?? "")
                    return e
                }
            }
            return
        }
        do {
            switch (apiVersion, kind) {
            case (XDPNatAPI.apiVersion, "NATPool"):
                try checkFields(node, Schemas.natPool, label: label, loc: loc)
                let p = try decode(NATPool.self, node, label: label, loc: loc)
                result.resources.pools.append(p)
                result.resources.locations[ResourceSet.key(p)] = loc
            case (XDPNatAPI.apiVersion, "EgressNAT"):
                try checkFields(node, Schemas.egressNAT, label: label, loc: loc)
                var e = try decode(EgressNAT.self, node, label: label, loc: loc)
                if e.metadata.namespace == nil { e.metadata.namespace = "default" }
                result.resources.egressNATs.append(e)
                result.resources.locations[ResourceSet.key(e)] = loc
            case ("v1", "Pod"):
                var p = try decode(Pod.self, node, label: label, loc: loc)
                if p.metadata.namespace == nil { p.metadata.namespace = "default" }
                result.resources.pods.append(p)
                result.resources.locations[ResourceSet.key(p)] = loc
            case ("v1", "Namespace"):
                let n = try decode(Namespace.self, node, label: label, loc: loc)
                result.resources.namespaces.append(n)
                result.resources.locations[ResourceSet.key(n)] = loc
            case (let v, let k) where v.hasPrefix(XDPNatAPI.group + "/"):
                let known = ["NATPool", "EgressNAT"]
                var msg = v == XDPNatAPI.apiVersion
                    ? "unknown kind '\(k)' (expected one of \(known.joined(separator: ", ")))"
                    : "unsupported apiVersion '\(v)' (this xdpnat reads \(XDPNatAPI.apiVersion))"
                if let close = known.first(where: { $0.lowercased() == k.lowercased() }), close != k {
                    msg += "; did you mean '\(close)'?"
                }
                result.errors.append(loc.error(label, v == XDPNatAPI.apiVersion ? "kind" : "apiVersion", msg))
            default:
                break  // other Kubernetes objects in the same directory are not ours
            }
        } catch let e as ManifestError {
            result.errors.append(e)
        } catch {
            result.errors.append(loc.error(label, nil, "\(error)"))
        }
    }

    static func decode<T: Decodable>(_ t: T.Type, _ node: Node, label: String?, loc: SourceLocation) throws -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: try Yams.serialize(node: node))
        } catch let e as DecodingError {
            let (field, message) = describe(e)
            throw loc.error(label, field, message)
        }
    }

    /// The dotted path of the field a decoding error is about, and what is wrong with it.
    public static func describe(_ e: DecodingError) -> (field: String, message: String) {
        let (path, message): ([CodingKey], String) = switch e {
        case let .typeMismatch(type, c): (c.codingPath, "expected \(typeName(type))")
        case let .valueNotFound(type, c): (c.codingPath, "expected \(typeName(type)), found null")
        case let .keyNotFound(key, c): (c.codingPath + [key], "required field is missing")
        case let .dataCorrupted(c): (c.codingPath, c.debugDescription)
        @unknown default: ([], "\(e)")
        }
        return (fieldPath(path), message)
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "\(t)".hasPrefix("Array") ? "a list" : "\(t)".hasPrefix("Dictionary") ? "a mapping" : "a \(t)"
        }
    }

    static func fieldPath(_ keys: [CodingKey]) -> String {
        var s = ""
        for k in keys {
            if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : ".\(k.stringValue)" }
        }
        return s
    }

    // MARK: unknown fields

    indirect enum FieldSchema: Sendable {
        case object([String: FieldSchema])
        case list(FieldSchema)
        case any
    }

    enum Schemas {
        static let selector = FieldSchema.object([
            "matchLabels": .any,
            "matchExpressions": .list(.object(["key": .any, "operator": .any, "values": .any])),
        ])
        static let metadata = FieldSchema.any
        static let natPool = FieldSchema.object([
            "apiVersion": .any, "kind": .any, "metadata": metadata, "status": .any,
            "spec": .object([
                "addresses": .any, "portRange": .object(["min": .any, "max": .any]), "allocation": .any,
                "blockSize": .any, "namespaceSelector": selector,
            ]),
        ])
        static let egressNAT = FieldSchema.object([
            "apiVersion": .any, "kind": .any, "metadata": metadata, "status": .any,
            "spec": .object([
                "podSelector": selector, "poolRef": .any, "destinations": .any, "excludedDestinations": .any,
                "addresses": .any, "sourceCIDRs": .any,
            ]),
        ])
    }

    /// Rejects fields the schema does not know (typos would otherwise be silently ignored).
    static func checkFields(_ node: Node, _ schema: FieldSchema, label: String?, loc: SourceLocation, path: String = "") throws {
        switch schema {
        case .any:
            return
        case .list(let item):
            for (i, n) in (node.sequence ?? []).enumerated() {
                try checkFields(n, item, label: label, loc: loc, path: "\(path)[\(i)]")
            }
        case .object(let fields):
            guard let map = node.mapping else { return }
            for (k, v) in map {
                guard let key = k.string else { continue }
                let p = path.isEmpty ? key : "\(path).\(key)"
                guard let sub = fields[key] else {
                    let known = fields.keys.sorted().joined(separator: ", ")
                    throw loc.error(label, p, "unknown field (known here: \(known))")
                }
                try checkFields(v, sub, label: label, loc: loc, path: p)
            }
        }
    }
}
