import XDPNatNet

/// TCP state of a flow, as the datapath tracks it (`enum xn_tcp_state`).
public enum TCPState: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case none = 0, synSent, established, finWait, timeWait, close

    public var description: String {
        switch self {
        case .none: ""
        case .synSent: "SYN_SENT"
        case .established: "ESTABLISHED"
        case .finWait: "FIN_WAIT"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.description.lowercased() == name.lowercased() }) else { return nil }
        self = s
    }
}

/// Idle timeouts (seconds) per protocol and TCP state, after RFC 5382 / 4787 / 5508.
public struct ConntrackTimeouts: Codable, Hashable, Sendable {
    public var tcpEstablished: Double = 7440  // RFC 5382: at least 2 h 4 min
    public var tcpSynSent: Double = 120
    public var tcpFinWait: Double = 240        // RFC 5382 transitory: 4 min
    public var tcpTimeWait: Double = 120
    public var tcpClose: Double = 10
    public var udp: Double = 300               // RFC 4787: at least 2 min, 5 min recommended
    public var udpUnreplied: Double = 30
    public var icmp: Double = 60               // RFC 5508

    public init() {}

    public func timeout(proto: UInt8, state: TCPState, seenReply: Bool) -> Double {
        switch proto {
        case IPProtocol.tcp.rawValue:
            switch state {
            case .established: tcpEstablished
            case .synSent, .none: tcpSynSent
            case .finWait: tcpFinWait
            case .timeWait: tcpTimeWait
            case .close: tcpClose
            }
        case IPProtocol.udp.rawValue: seenReply ? udp : udpUnreplied
        default: icmp
        }
    }
}

