/// A problem with one manifest, located as precisely as possible.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// File the document came from (or a label such as `<api>`).
    public var file: String
    /// 1-based position of the document in the file.
    public var document: Int
    /// First line of the document in the file (1-based), when known.
    public var line: Int?
    /// `Kind namespace/name` of the resource, when it could be read.
    public var resource: String?
    /// Dotted path of the offending field, e.g. `spec.portRange.min`.
    public var field: String?
    public var message: String

    public init(file: String, document: Int, line: Int? = nil, resource: String? = nil, field: String? = nil,
                message: String) {
        self.file = file
        self.document = document
        self.line = line
        self.resource = resource
        self.field = field
        self.message = message
    }

    public var description: String {
        // document 0: not from a file of documents (a directory, or an object read from the API)
        var s = document > 0 ? "\(file): document \(document)" : file
        if let line { s += " (line \(line))" }
        if let resource { s += ", \(resource)" }
        s += ": "
        if let field { s += "\(field): " }
        return s + message
    }
}

/// Where a resource was read from, to locate later errors.
public struct SourceLocation: Hashable, Sendable {
    public var file: String
    public var document: Int
    public var line: Int?

    public init(file: String, document: Int, line: Int? = nil) {
        self.file = file
        self.document = document
        self.line = line
    }

    func error(_ resource: String?, _ field: String?, _ message: String) -> ManifestError {
        ManifestError(file: file, document: document, line: line, resource: resource, field: field, message: message)
    }
}
