import Foundation

/// Runs commands for test set-up, capturing their output.
public enum Shell {
    public struct Failure: Error, CustomStringConvertible {
        public let command: [String]
        public let status: Int32
        public let output: String
        public init(command: [String], status: Int32, output: String) {
            self.command = command
            self.status = status
            self.output = output
        }
        public var description: String {
            "`\(command.joined(separator: " "))` exited \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }

    /// Runs a program (looked up in PATH) and returns its stdout+stderr; throws on non-zero exit.
    @discardableResult
    public static func run(_ args: String..., input: String? = nil) throws -> String {
        try run(args, input: input)
    }

    @discardableResult
    public static func run(_ args: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + (env["PATH"] ?? "")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus != 0 { throw Failure(command: args, status: p.terminationStatus, output: text) }
        return text
    }

    /// Runs a program and returns its exit status and output, failures included.
    public static func status(_ args: [String]) -> (Int32, String) {
        do {
            return (0, try run(args))
        } catch let f as Failure {
            return (f.status, f.output)
        } catch {
            return (-1, "\(error)")
        }
    }

    /// Runs a shell snippet with `sh -c`.
    @discardableResult
    public static func sh(_ script: String) throws -> String { try run("sh", "-c", script) }
}
