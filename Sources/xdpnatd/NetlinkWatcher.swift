import CBPFSupport
import Foundation
import Glibc

/// Listens to rtnetlink for route and neighbour changes.
final class NetlinkWatcher: @unchecked Sendable {
    private let fd: Int32

    /// `onChange` runs on the watcher's thread after every batch of messages.
    init(onChange: @escaping @Sendable () -> Void) throws {
        fd = xdpnat_netlink_route_socket()
        guard fd >= 0 else { throw DaemonError("netlink socket: \(String(cString: strerror(errno)))") }
        let t = Thread { [fd] in
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n < 0 && errno != EINTR && errno != ENOBUFS { return }
                onChange()
            }
        }
        t.name = "netlink"
        t.start()
    }
}

