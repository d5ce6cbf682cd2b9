import Foundation
import Glibc
import XDPNatABI

/// Loads the NAT program, pins its maps and links under a bpffs directory and
/// attaches it to interfaces. A second start adopts what the first left:
/// pinned maps keep their contents (live flows survive a restart or `kill -9`)
/// and pinned links get the new program swapped in atomically.
public final class DatapathManager: @unchecked Sendable {
    public struct Options: Sendable {
        public var pinDirectory = "/sys/fs/bpf/xdpnat"
        public var objectPath: String? = nil
        public var interfaces: [String] = []
        public var mode: XDPMode = .native
        public var conntrackFlows: UInt32 = UInt32(XN_DEFAULT_CT_ENTRIES) / 2
        public var bindings: UInt32 = UInt32(XN_DEFAULT_BINDINGS)
        public var events = false
        public init() {}
    }

    public struct Interface: Sendable, Codable, Hashable {
        public var name: String
        public var ifindex: UInt32
        public var mode: XDPMode
        public var programID: UInt32
        /// `attached` (new link) or `replaced` (program swapped on an adopted link).
        public var action: String
    }

    public let options: Options
    public let object: BPFObject
    public let maps: NATMaps
    public private(set) var interfaces: [Interface] = []
    /// True when maps pinned by an earlier instance were adopted.
    public let adopted: Bool
    private var links: [String: XDPLink] = [:]

    public init(_ options: Options) throws {
        self.options = options
        let pin = options.pinDirectory
        try BPFFS.prepare(directory: pin)
        adopted = FileManager.default.fileExists(atPath: "\(pin)/\(XN_MAP_CT)")
        object = try BPFObject(path: options.objectPath ?? DatapathObject.path())
        try object.setMaxEntries(XN_MAP_CT, options.conntrackFlows * 2)
        try object.setMaxEntries(XN_MAP_BINDINGS, options.bindings)
        try object.setMaxEntries(XN_MAP_NAT_PORTS, options.bindings)
        try object.pinMaps(under: pin, except: [XN_MAP_TX_PORTS])
        do {
            try object.load()
        } catch let e as BPFError where adopted {
            throw BPFError(e.operation, code: e.code, detail: (e.detail ?? "") + """

              maps pinned under \(pin) by an earlier xdpnatd do not match this configuration
              (a different --ct-flows or --bindings, or an incompatible build). Either start with
              the earlier sizes, or remove the old datapath (dropping its flows): xdpnatd cleanup
            """)
        }
        maps = try NATMaps(object: object)
        var cfg = maps.readConfig()
        cfg.flags = options.events ? UInt32(XN_CFG_F_EVENTS) : 0
        try maps.writeConfig(cfg)
        let program = try object.program(XN_PROG_MAIN)
        for name in options.interfaces {
            try attach(program, to: name)
        }
    }

    static func linkPin(_ pin: String, _ iface: String) -> String {
        "\(pin)/link_\(iface.replacingOccurrences(of: ".", with: "_"))"
    }

    private func attach(_ program: BPFProgram, to name: String) throws {
        let ifindex = try interfaceIndex(name)
        // the egress table is filled before the program can run with it
        try maps.addTxPort(ifindex: ifindex)
        let path = Self.linkPin(options.pinDirectory, name)
        var link: XDPLink? = nil
        var action = "attached"
        if FileManager.default.fileExists(atPath: path) {
            let old = try XDPLink.openPinned(path)
            if old.ifindex == ifindex {
                try old.update(program)  // atomic: no moment without a program
                link = old
                action = "replaced"
            } else {
                unlink(path)  // the interface was re-created: that link is dead
            }
        }
        if link == nil {
            let l = try XDPLink.attach(program, ifindex: ifindex, mode: options.mode)
            try l.pin(path)
            link = l
        }
        links[name] = link
        interfaces.append(Interface(name: name, ifindex: ifindex, mode: options.mode, programID: link!.programID, action: action))
    }

    /// Detaches from every interface and removes all pins (maps and their flows go away).
    public func teardown() {
        for (_, l) in links { try? l.detach() }
        links.removeAll()
        BPFFS.removePins(in: options.pinDirectory)
    }

    /// Removes a datapath left pinned under `directory` by an earlier instance.
    public static func cleanup(pinDirectory: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: pinDirectory)) ?? [] where name.hasPrefix("link_") {
            if let l = try? XDPLink.openPinned("\(pinDirectory)/\(name)") { try? l.detach() }
        }
        BPFFS.removePins(in: pinDirectory)
    }
}
