// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpnat: stateful egress SNAT at XDP.
 *
 *   packet -> parse -> destination is a NAT address?  -> reply path (reverse NAT)
 *                   -> source matches a NAT policy?   -> SNAT path
 *                   -> otherwise                      -> XDP_PASS untouched
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "include/xdpnat_abi.h"
#include "maps.h"
#include "parsing.h"
#include "csum.h"
#include "conntrack.h"
#include "nat.h"
#include "icmp.h"
#include "fib.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ICMP error from a pod about a packet it was delivered (reply direction). */
static __always_inline int xn_icmp_error_out(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					     const struct xn_config *cfg)
{
	struct xn_inner in = {};
	struct xn_ct_key k = {};

	if (xn_parse_inner(p, data_end, &in)) {
		xn_count(XN_C_DROP_MALFORMED);
		return XDP_DROP;
	}
	xn_inner_key(&in, &k);
	struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
	if (!e || e->dir != XN_DIR_ORIGINAL) {
		xn_count(XN_C_DROP_ICMP_NO_MATCH);
		return XDP_DROP;
	}
	xn_ct_touch(e, p, bpf_ktime_get_ns());
	xn_rewrite_inner(p, &in, 0, e->xlate_ip, e->xlate_port);
	csum_replace4(&p->iph->check, p->iph->saddr, e->xlate_ip);
	p->iph->saddr = e->xlate_ip;
	xn_count(XN_C_ICMP_ERR_OUT);
	return xn_forward(ctx, p, e, cfg);
}

/* ICMP error from the network about a packet we translated. */
static __always_inline int xn_icmp_error_in(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					    const struct xn_nat_addr *na, const struct xn_config *cfg)
{
	struct xn_inner in = {};
	struct xn_ct_key k = {};

	if (xn_parse_inner(p, data_end, &in)) {
		xn_count(XN_C_DROP_MALFORMED);
		return XDP_DROP;
	}
	xn_inner_key(&in, &k);
	struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
	if (!e || e->dir != XN_DIR_REPLY) {
		__u16 port = bpf_ntohs(k.dst_port);
		if (port < na->port_min || port > na->port_max) {
			xn_count(XN_C_PASS_LOCAL); /* about the gateway's own traffic */
			return XDP_PASS;
		}
		xn_count(XN_C_DROP_ICMP_NO_MATCH);
		return XDP_DROP;
	}
	xn_ct_touch(e, p, bpf_ktime_get_ns());
	xn_rewrite_inner(p, &in, 1, e->xlate_ip, e->xlate_port);
	csum_replace4(&p->iph->check, p->iph->daddr, e->xlate_ip);
	p->iph->daddr = e->xlate_ip;
	xn_count(XN_C_ICMP_ERR_IN);
	return xn_forward(ctx, p, e, cfg);
}

static __always_inline int xn_reply_path(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					 const struct xn_nat_addr *na, const struct xn_config *cfg)
{
	struct iphdr *iph = p->iph;
	struct xn_ct_key k = { .src_ip = iph->saddr, .dst_ip = iph->daddr, .proto = p->proto };

	if (p->is_fragment) {
		xn_count(XN_C_DROP_FRAGMENT);
		return XDP_DROP;
	}
	if (iph->ttl <= 1) {
		xn_count(XN_C_PASS_TTL);
		return XDP_PASS;
	}
	if (p->is_icmp_error)
		return xn_icmp_error_in(ctx, p, data_end, na, cfg);

	__u16 *sp = p->sport_p, *dp = p->dport_p;
	if (!sp || !dp) { /* no ports: not TCP/UDP/ICMP echo */
		xn_count(XN_C_PASS_LOCAL);
		return XDP_PASS;
	}
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		k.src_port = *sp;
		k.dst_port = *dp;
	} else if (p->is_icmp_query && p->icmp_type == ICMP_ECHOREPLY) {
		k.dst_port = *dp;
	} else {
		xn_count(XN_C_PASS_LOCAL); /* e.g. a ping of the gateway itself */
		return XDP_PASS;
	}

	struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
	if (!e || e->dir != XN_DIR_REPLY) {
		__u16 port = bpf_ntohs(k.dst_port);
		if (port < na->port_min || port > na->port_max) {
			xn_count(XN_C_PASS_LOCAL);
			return XDP_PASS;
		}
		xn_count(XN_C_DROP_UNSOLICITED);
		return XDP_DROP;
	}
	xn_ct_touch(e, p, bpf_ktime_get_ns());
	xn_rewrite(p, 0, e->xlate_ip, e->xlate_port);
	xn_count(XN_C_REPLY_HIT);
	return xn_forward(ctx, p, e, cfg);
}

/* Is the destination outside what the policy translates? */
static __always_inline int xn_dest_excluded(const struct xn_policy *pol, __be32 daddr)
{
	struct xn_dst_lpm_key dk = {
		.prefixlen = 64, .policy_id = bpf_htonl(pol->policy_id), .addr = daddr,
	};
	if ((pol->flags & XN_POLICY_F_HAS_EXCLUDED) && bpf_map_lookup_elem(&xn_excluded, &dk))
		return 1;
	if ((pol->flags & XN_POLICY_F_HAS_DEST) && !bpf_map_lookup_elem(&xn_dest, &dk))
		return 1;
	return 0;
}

static __always_inline int xn_snat_path(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					__u32 policy_id, const struct xn_config *cfg)
{
	struct iphdr *iph = p->iph;

	struct xn_policy *pol = bpf_map_lookup_elem(&xn_policies, &policy_id);
	if (!pol) {
		xn_count(XN_C_PASS_NO_POLICY);
		return XDP_PASS;
	}
	if (xn_dest_excluded(pol, iph->daddr)) {
		xn_count(XN_C_PASS_EXCLUDED);
		return XDP_PASS;
	}
	if (p->is_fragment) {
		xn_count(XN_C_DROP_FRAGMENT);
		return XDP_DROP;
	}
	if (iph->ttl <= 1) {
		xn_count(XN_C_PASS_TTL);
		return XDP_PASS;
	}
	if (p->is_icmp_error)
		return xn_icmp_error_out(ctx, p, data_end, cfg);

	struct xn_ct_key k = { .src_ip = iph->saddr, .dst_ip = iph->daddr, .proto = p->proto };
	__u16 *sp = p->sport_p, *dp = p->dport_p;
	if (!sp || !dp) { /* no ports: not TCP/UDP/ICMP echo */
		xn_count(XN_C_PASS_UNSUPPORTED);
		return XDP_PASS;
	}
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		k.src_port = *sp;
		k.dst_port = *dp;
	} else if (p->is_icmp_query && p->icmp_type == ICMP_ECHO) {
		k.src_port = *sp;
	} else {
		xn_count(XN_C_PASS_UNSUPPORTED);
		return XDP_PASS;
	}

	__u64 now = bpf_ktime_get_ns();
	struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
	if (e && e->dir == XN_DIR_ORIGINAL) {
		xn_count(XN_C_SNAT_HIT);
	} else {
		struct xn_binding b;
		if (xn_bind(&k, pol, now, &b))
			return XDP_DROP;
		if (xn_ct_create(cfg, p, &k, &b, now, &e))
			return XDP_DROP;
	}
	xn_ct_touch(e, p, now);
	xn_rewrite(p, 1, e->xlate_ip, e->xlate_port);
	return xn_forward(ctx, p, e, cfg);
}

SEC("xdp")
int xdpnat_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xn_pkt p = {};
	__u32 zero = 0;

	xn_count(XN_C_RX);
	int rc = xn_parse(data, data_end, &p);
	if (rc > 0) {
		xn_count(XN_C_PASS_NOT_IPV4);
		return XDP_PASS;
	}
	if (rc < 0) {
		xn_count(XN_C_DROP_MALFORMED);
		return XDP_DROP;
	}
	struct xn_config *cfg = bpf_map_lookup_elem(&xn_config, &zero);
	if (!cfg)
		return XDP_PASS;

	struct xn_nat_addr *na = bpf_map_lookup_elem(&xn_nat_addrs, &p.iph->daddr);
	if (na)
		return xn_reply_path(ctx, &p, data_end, na, cfg);

	struct xn_src_lpm_key sk = { .prefixlen = 32, .addr = p.iph->saddr };
	__u32 *policy_id = bpf_map_lookup_elem(&xn_policy_src, &sk);
	if (policy_id)
		return xn_snat_path(ctx, &p, data_end, *policy_id, cfg);

	xn_count(XN_C_PASS_NO_POLICY);
	return XDP_PASS;
}
