import Foundation

/// A program left running for the length of a test (a server in a namespace).
public final class Background: @unchecked Sendable {
    public let process = Process()
    let output = Pipe()

    public init(_ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// Stops the program (SIGTERM, then SIGKILL) and returns what it printed.
    @discardableResult
    public func stop() -> String {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        return String(decoding: (try? output.fileHandleForReading.readToEnd()) ?? Data(), as: UTF8.self)
    }
}

/// Tiny peers written in Python (present on every Debian machine): servers
/// that answer each client with the address they saw it come from.
public enum Peers {
    /// Serves TCP and UDP on `port`; every request is answered with "ip:port" of its sender.
    public static let echoServer = """
    import socket, threading, sys
    port = int(sys.argv[1])
    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(("%s:%d" % peer).encode(), peer)
    def serve(c, peer):
        with c:
            c.recv(2048)
            c.sendall(("%s:%d" % peer).encode())
    threading.Thread(target=udp, daemon=True).start()
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port))
    t.listen(1024)
    print("ready", flush=True)
    while True:
        c, peer = t.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()
    """

    /// Sends requests over `proto` (tcp|udp) to host:port and prints the answers; argv: proto host port [count [source]].
    public static let client = """
    import socket, sys, time
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    src = (sys.argv[5], 0) if len(sys.argv) > 5 else None
    for i in range(n):
        for attempt in range(50):
            try:
                if proto == "udp":
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    if src:
                        s.bind(src)
                    s.settimeout(0.2)
                    s.sendto(b"hello", (host, port))
                    print(s.recv(2048).decode(), flush=True)
                else:
                    s = socket.create_connection((host, port), timeout=2, source_address=src)
                    s.sendall(b"hello")
                    print(s.recv(2048).decode(), flush=True)
                s.close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("no answer from %s:%d/%s" % (host, port, proto))
    """

    /// TCP server on `port` answering every line with "ip:port line" of its sender (long-lived connections).
    public static let lineServer = """
    import socket, threading, sys
    port = int(sys.argv[1])
    def serve(c, peer):
        with c, c.makefile("rwb", buffering=0) as f:
            for line in f:
                f.write(("%s:%d " % peer).encode() + line)
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port))
    t.listen(1024)
    while True:
        c, peer = t.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()
    """

    /// One TCP connection to host:port kept for `seconds`, a line every 50 ms; prints
    /// "sent N answered M peers A,B" and exits 1 if any line went unanswered.
    public static let steadyClient = """
    import socket, sys, time
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.create_connection((host, port), timeout=5)
    f = s.makefile("rwb", buffering=0)
    sent = answered = 0
    peers = set()
    end = time.time() + seconds
    while time.time() < end:
        sent += 1
        f.write(b"line %d\\n" % sent)
        try:
            reply = f.readline()
        except OSError:
            break
        if reply.endswith(b"line %d\\n" % sent):
            answered += 1
            peers.add(reply.split()[0].decode().rsplit(":", 1)[0])
        time.sleep(0.05)
    print("sent %d answered %d peers %s" % (sent, answered, ",".join(sorted(peers))), flush=True)
    sys.exit(0 if sent == answered else 1)
    """

    /// `count` requests over `proto` to host:port, each a fresh socket and a single
    /// attempt, `gap` seconds apart, optionally from source address `src`. Prints
    /// "ok N failed M peers A,B" and exits 1 if any failed.
    public static let requestLoop = """
    import socket, sys, time
    proto, host, port, count, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    src = sys.argv[6] if len(sys.argv) > 6 else ""
    ok = failed = 0
    peers = set()
    for i in range(count):
        try:
            if proto == "udp":
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((src, 0))
                s.settimeout(3)
                s.sendto(b"hello", (host, port))
                reply = s.recv(2048)
            else:
                s = socket.create_connection((host, port), timeout=3, source_address=(src, 0))
                s.sendall(b"hello")
                reply = s.recv(2048)
            s.close()
            peers.add(reply.decode().rsplit(":", 1)[0])
            ok += 1
        except OSError as e:
            failed += 1
            print("request %d failed: %s" % (i, e), file=sys.stderr)
        time.sleep(gap)
    print("ok %d failed %d peers %s" % (ok, failed, ",".join(sorted(peers))), flush=True)
    sys.exit(1 if failed else 0)
    """
}
