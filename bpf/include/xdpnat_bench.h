/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Layouts shared by the benchmark programs (perf/) and the bench tool. */
#ifndef XDPNAT_BENCH_H
#define XDPNAT_BENCH_H

#include <linux/types.h>

enum xg_mode {
	XG_MODE_FLOWS = 0,  /* cycle over nflows flows */
	XG_MODE_UNIQUE = 1, /* every packet a new flow (connection rate) */
};

/* Generator: rewrites the template frame's addresses and ports from a
 * per-CPU counter, then redirects it out. Live frames are recycled from a page
 * pool with whatever the device under test wrote into them (MACs, TTL, NAT
 * address), so every header field that matters is written every time. */
struct xg_config {
	__u32 mode;
	__u32 nflows;
	__u32 ifindex;     /* redirect target (the generator's own veth) */
	__u32 src_count;   /* sources: base_ip + (i % src_count) */
	__be32 base_ip;
	__u16 base_port;   /* host order */
	__u16 ports;       /* source ports per source address */
	__u8 dmac[6];      /* the gateway's receiving interface */
	__u8 smac[6];
	__be32 dst_ip;
};

/* Stateless rewrite (the ceiling): fixed SNAT address, fixed egress. */
struct xs_config {
	__be32 nat_ip;
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
};

#endif
