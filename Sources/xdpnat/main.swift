import ArgumentParser

struct XDPNat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpnat",
        abstract: "Inspect and operate the xdpnat egress NAT.",
        discussion: """
        Reads the datapath's pinned maps directly, so it works while xdpnatd is down.

        Examples:
          xdpnat ct list --namespace team-a --sort bytes --limit 20
          xdpnat ct list -o conntrack
          xdpnat ct stats
          xdpnat whois 198.18.100.1:40123
          xdpnat status
          xdpnat validate -f /etc/xdpnat/manifests
        """,
        subcommands: [CT.self, Whois.self, Status.self, Validate.self]
    )
}

struct CT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ct",
        abstract: "Connection tracking: list, count, stats, flush, events.",
        subcommands: [CTList.self, CTCount.self, CTStats.self, CTFlush.self, CTEvents.self]
    )
}

XDPNat.main()
