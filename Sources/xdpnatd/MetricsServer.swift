import Foundation
import Glibc

/// A minimal HTTP/1.1 responder for `GET /metrics` and `GET /healthz`, on
/// its own thread. Each connection gets one response and is closed.
final class MetricsServer: @unchecked Sendable {
    private let fd: Int32
    private let render: @Sendable () -> String
    let address: String

    static func parse(_ address: String) -> (host: String, port: UInt16)? {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else { return nil }
        var a = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &a) == 1 else { return nil }
        return (String(parts[0]), port)
    }

    init(address: String, render: @escaping @Sendable () -> String) throws {
        guard let (host, port) = Self.parse(address) else {
            throw DaemonError("metrics address \(address) is not HOST:PORT")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw DaemonError("metrics socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &sa.sin_addr)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        self.address = address
        self.render = render
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("metrics: cannot listen on \(address): \(e)")
        }
        let t = Thread { [self] in self.serve() }
        t.name = "metrics"
        t.start()
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue } else { return } }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(c, &buf, buf.count)
            let request = n > 0 ? String(decoding: buf.prefix(n), as: UTF8.self) : ""
            let line = request.split(separator: "\r\n").first.map(String.init) ?? ""
            let (status, type, body): (String, String, String)
            if line.hasPrefix("GET /metrics") {
                (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render())
            } else if line.hasPrefix("GET /healthz") {
                (status, type, body) = ("200 OK", "text/plain", "ok\n")
            } else {
                (status, type, body) = ("404 Not Found", "text/plain", "try /metrics\n")
            }
            let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            let out = Array((head + body).utf8)
            var off = 0
            while off < out.count {
                let w = out[off...].withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                if w <= 0 { break }
                off += w
            }
            close(c)
        }
    }
}

struct DaemonError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
