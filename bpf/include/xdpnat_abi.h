/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpnat ABI: every structure shared between the XDP program (bpf/) and
 * the Swift code (daemon, CLI, tests). Both sides include this one file;
 * nothing here may be re-declared by hand elsewhere.
 *
 * Conventions: addresses and ports are in network byte order (__be*),
 * times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns), every struct
 * is explicitly padded so its layout is the same for BPF and x86_64.
 */
#ifndef XDPNAT_ABI_H
#define XDPNAT_ABI_H

#include <linux/types.h>

#define XN_ABI_VERSION 1

/* Map names, as they appear in the object and under the bpffs pin dir. */
#define XN_MAP_CT          "xn_ct"
#define XN_MAP_BINDINGS    "xn_bindings"
#define XN_MAP_NAT_PORTS   "xn_nat_ports"
#define XN_MAP_POLICY_SRC  "xn_policy_src"
#define XN_MAP_POLICIES    "xn_policies"
#define XN_MAP_DEST        "xn_dest"
#define XN_MAP_EXCLUDED    "xn_excluded"
#define XN_MAP_NAT_ADDRS   "xn_nat_addrs"
#define XN_MAP_CONFIG      "xn_config"
#define XN_MAP_COUNTERS    "xn_counters"
#define XN_MAP_TX_PORTS    "xn_tx_ports"
#define XN_MAP_EVENTS      "xn_events"

#define XN_PROG_MAIN       "xdpnat_main"

/* Default capacities (the daemon may resize before load). */
#define XN_DEFAULT_CT_ENTRIES      (2 * 1048576) /* 1M flows = 2M halves */
#define XN_DEFAULT_BINDINGS        1048576
#define XN_DEFAULT_POLICY_SOURCES  65536
#define XN_DEFAULT_POLICIES        4096
#define XN_DEFAULT_DEST_PREFIXES   16384
#define XN_DEFAULT_NAT_ADDRS       4096
#define XN_DEFAULT_TX_PORTS        64
#define XN_EVENTS_RING_BYTES       (1 << 20)

/* Bounded probing when the original source port is taken. */
#define XN_PORT_PROBE_TRIES 32

/* ---- Conntrack ------------------------------------------------------- */

/*
 * A conntrack key is the 5-tuple of a packet as it arrives at the gateway.
 * Forward (original) half: src = pod, dst = remote.
 * Reply half:              src = remote, dst = NAT address.
 * For ICMP queries the identifier takes the place of the pod/NAT port and
 * the remote port is 0.
 */
struct xn_ct_key {
	__be32 src_ip;
	__be32 dst_ip;
	__be16 src_port;
	__be16 dst_port;
	__u8   proto;
	__u8   pad[3];
};

enum xn_ct_dir {
	XN_DIR_ORIGINAL = 0, /* pod -> remote, source gets translated */
	XN_DIR_REPLY    = 1, /* remote -> NAT address, destination gets translated */
};

/* TCP states, in the sense of RFC 5382 / Linux conntrack, simplified. */
enum xn_tcp_state {
	XN_TCP_NONE        = 0, /* not TCP */
	XN_TCP_SYN_SENT    = 1,
	XN_TCP_ESTABLISHED = 2,
	XN_TCP_FIN_WAIT    = 3, /* one side sent FIN */
	XN_TCP_TIME_WAIT   = 4, /* both sides sent FIN */
	XN_TCP_CLOSE       = 5, /* RST seen */
	XN_TCP_STATE_MAX,
};

/* xn_ct_entry.flags */
#define XN_CT_F_FIN_ORIG   (1u << 0)
#define XN_CT_F_FIN_REPLY  (1u << 1)
#define XN_CT_F_SEEN_REPLY (1u << 2)

/* One half of a conntrack pair. Both halves carry the same translation
 * (in their own direction), state and flags; counters are per half. */
struct xn_ct_entry {
	struct xn_ct_key peer;  /* key of the other half of the pair */
	__be32 xlate_ip;        /* original: NAT address; reply: pod address */
	__be16 xlate_port;      /* original: NAT port;    reply: pod port    */
	__u8   dir;             /* enum xn_ct_dir */
	__u8   tcp_state;       /* enum xn_tcp_state */
	__u32  policy_id;
	__u32  flags;           /* XN_CT_F_* */
	__u64  created_ns;
	__u64  last_seen_ns;
	__u64  packets;
	__u64  bytes;
	/* cached next hop, valid while nh_gen == config.fib_gen */
	__u32  nh_ifindex;
	__u32  nh_gen;
	__u8   nh_dmac[6];
	__u8   nh_smac[6];
	__u32  pad;
};

/* ---- Endpoint-independent mapping (RFC 4787 REQ-1) -------------------- */

/* pod IP:port/proto -> NAT IP:port. Also used, with pod fields, as the key
 * of the reverse table (NAT IP:port/proto -> pod) that reserves NAT ports. */
struct xn_endpoint {
	__be32 ip;
	__be16 port;
	__u8   proto;
	__u8   pad;
};

struct xn_binding {
	__be32 ip;        /* the other side: NAT (forward table) or pod (reverse) */
	__be16 port;
	__u16  pad;
	__u32  policy_id;
	__u32  pad2;
	__u64  created_ns;
};

/* ---- Policy ----------------------------------------------------------- */

/* LPM trie key of the source table: pod IPs / CIDRs -> policy id. */
struct xn_src_lpm_key {
	__u32  prefixlen;
	__be32 addr;
};

/* LPM trie key of the destination / excluded tables:
 * (policy id, destination CIDR). prefixlen = 32 + CIDR length. */
struct xn_dst_lpm_key {
	__u32  prefixlen;
	__be32 policy_id;   /* big-endian so it forms the prefix's first bytes */
	__be32 addr;
};

/* xn_policy.flags */
#define XN_POLICY_F_HAS_DEST     (1u << 0) /* only destinations in xn_dest */
#define XN_POLICY_F_HAS_EXCLUDED (1u << 1) /* consult xn_excluded */

struct xn_policy {
	__be32 nat_ip;
	__u16  port_min;   /* host byte order, inclusive */
	__u16  port_max;   /* host byte order, inclusive */
	__u32  flags;
	__u32  policy_id;
};

/* Value of xn_nat_addrs: a NAT address owned by the gateway. Inbound packets
 * to it whose destination port lies in [port_min, port_max] and match no
 * conntrack entry are dropped (address-and-port dependent filtering). */
struct xn_nat_addr {
	__u16 port_min;
	__u16 port_max;
	__u32 policy_id;
};

/* ---- Global configuration (array map, one element) -------------------- */

#define XN_CFG_F_EVENTS     (1u << 0) /* emit flow events to the ring buffer */
#define XN_CFG_F_NO_REDIRECT (1u << 1) /* never redirect: rewrite and XDP_PASS */

struct xn_config {
	__u32 abi_version;
	__u32 flags;       /* XN_CFG_F_* */
	__u32 fib_gen;     /* bumped by the daemon on route/neighbour changes */
	__u32 pad;
};

/* ---- Counters (per-CPU array indexed by enum xn_counter) --------------- */

enum xn_counter {
	XN_C_RX = 0,
	XN_C_PASS_NOT_IPV4,
	XN_C_PASS_NO_POLICY,
	XN_C_PASS_EXCLUDED,       /* destination excluded / not in destinations */
	XN_C_PASS_UNSUPPORTED,    /* IPv4 protocol the NAT does not translate */
	XN_C_PASS_TTL,            /* TTL <= 1, left to the kernel */
	XN_C_PASS_LOCAL,          /* to a NAT address, outside the NAT port range */
	XN_C_SNAT_NEW,            /* new flow created */
	XN_C_SNAT_HIT,            /* original-direction packet of a known flow */
	XN_C_REPLY_HIT,           /* reply-direction packet of a known flow */
	XN_C_ICMP_ERR_IN,         /* ICMP error to a NAT address, translated */
	XN_C_ICMP_ERR_OUT,        /* ICMP error from a pod, translated */
	XN_C_PORT_KEPT,           /* new binding kept the pod's source port */
	XN_C_PORT_PROBED,         /* new binding needed probing */
	XN_C_REDIRECT,
	XN_C_FIB_CACHED,          /* next hop from conntrack cache */
	XN_C_FIB_LOOKUP,          /* bpf_fib_lookup performed */
	XN_C_FIB_PASS,            /* no neighbour / no route: rewritten, XDP_PASS */
	XN_C_DROP_MALFORMED,
	XN_C_DROP_FRAGMENT,       /* non-first fragment: cannot be translated */
	XN_C_DROP_UNSOLICITED,    /* to a NAT address:port with no mapping */
	XN_C_DROP_ICMP_NO_MATCH,  /* ICMP error about no known flow */
	XN_C_DROP_NO_PORT,        /* port allocation failed (range exhausted) */
	XN_C_DROP_CT_FULL,        /* conntrack table full: new flow refused */
	XN_C_DROP_BINDING_FULL,   /* binding / port reservation table full */
	XN_C_DROP_CT_CONFLICT,    /* half of a new pair already existed */
	XN_C_PASS_NO_TXPORT,      /* egress interface not in xn_tx_ports: rewritten, XDP_PASS */
	XN_C_EVENTS_LOST,         /* ring buffer full */
	XN_C_MAX,
};

/* The value of the one-element per-CPU array xn_counters: every counter of
 * a CPU in one place, so a packet costs one map lookup however many it bumps. */
struct xn_stats {
	__u64 c[XN_C_MAX];
};

/* ---- Events (ring buffer) ---------------------------------------------- */

enum xn_event_type {
	XN_EV_FLOW_NEW = 1,
	XN_EV_FLOW_DESTROY = 2, /* emitted by the daemon's GC, not the datapath */
};

struct xn_event {
	__u32 type;
	__u32 policy_id;
	__u64 ts_ns;
	struct xn_ct_key orig;  /* pod -> remote */
	__be32 nat_ip;
	__be16 nat_port;
	__u16  pad;
};

#endif /* XDPNAT_ABI_H */
