// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpnat: stateful egress SNAT at XDP.
 *
 *   packet -> parse -> known flow (conntrack hit)?   -> translate as the flow says
 *                   -> destination is a NAT address?  -> reply path (filter / ICMP errors)
 *                   -> source matches a NAT policy?   -> SNAT path (new flow)
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

/* An ICMP error about a translated flow. Inbound (to a NAT address) it quotes
 * our SNATed packet and belongs to the flow's reply half; outbound (from a
 * pod) it quotes a reply we delivered and belongs to the original half. */
static __always_inline int xn_icmp_error(struct xdp_md *ctx, struct xn_pkt *p, void *data_end, int inbound,
					 const struct xn_nat_addr *na, const struct xn_config *cfg, __u64 now)
{
	struct xn_inner in = {};
	struct xn_ct_key k = {};

	if (xn_parse_inner(p, data_end, &in)) {
		xn_count(p, XN_C_DROP_MALFORMED);
		return XDP_DROP;
	}
	xn_inner_key(&in, &k);
	struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
	if (!e || e->dir != (inbound ? XN_DIR_REPLY : XN_DIR_ORIGINAL)) {
		if (inbound && na) {
			__u16 port = bpf_ntohs(k.dst_port);
			if (port < na->port_min || port > na->port_max) {
				xn_count(p, XN_C_PASS_LOCAL); /* about the gateway's own traffic */
				return XDP_PASS;
			}
		}
		xn_count(p, XN_C_DROP_ICMP_NO_MATCH);
		return XDP_DROP;
	}
	xn_ct_touch(e, p, now);
	xn_rewrite_inner(p, &in, inbound, e->xlate_ip, e->xlate_port);
	__be32 *outer = inbound ? &p->iph->daddr : &p->iph->saddr;
	csum_replace4(&p->iph->check, *outer, e->xlate_ip);
	*outer = e->xlate_ip;
	xn_count(p, inbound ? XN_C_ICMP_ERR_IN : XN_C_ICMP_ERR_OUT);
	return xn_forward(ctx, p, e, cfg);
}

/* A packet to a NAT address that matched no conntrack entry (the fast path
 * in xdpnat_main handles the ones that did). */
static __always_inline int xn_reply_path(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					 const struct xn_nat_addr *na, const struct xn_config *cfg, __u64 now)
{
	if (p->is_fragment) {
		xn_count(p, XN_C_DROP_FRAGMENT);
		return XDP_DROP;
	}
	if (p->iph->ttl <= 1) {
		xn_count(p, XN_C_PASS_TTL);
		return XDP_PASS;
	}
	if (p->is_icmp_error)
		return xn_icmp_error(ctx, p, data_end, 1, na, cfg, now);

	__u16 *dp = p->dport_p;
	int query = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
		    (p->is_icmp_query && p->icmp_type == ICMP_ECHOREPLY);
	if (!dp || !query) {
		xn_count(p, XN_C_PASS_LOCAL); /* e.g. a ping of the gateway itself */
		return XDP_PASS;
	}
	/* address-and-port dependent filtering: nothing was sent to this source */
	__u16 port = bpf_ntohs(*dp);
	if (port < na->port_min || port > na->port_max) {
		xn_count(p, XN_C_PASS_LOCAL);
		return XDP_PASS;
	}
	xn_count(p, XN_C_DROP_UNSOLICITED);
	return XDP_DROP;
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

/* A packet from a policy's source that matched no conntrack entry: a new flow. */
static __always_inline int xn_snat_path(struct xdp_md *ctx, struct xn_pkt *p, void *data_end,
					__u32 policy_id, const struct xn_config *cfg, __u64 now)
{
	struct iphdr *iph = p->iph;

	struct xn_policy *pol = bpf_map_lookup_elem(&xn_policies, &policy_id);
	if (!pol) {
		xn_count(p, XN_C_PASS_NO_POLICY);
		return XDP_PASS;
	}
	if (xn_dest_excluded(pol, iph->daddr)) {
		xn_count(p, XN_C_PASS_EXCLUDED);
		return XDP_PASS;
	}
	if (p->is_fragment) {
		xn_count(p, XN_C_DROP_FRAGMENT);
		return XDP_DROP;
	}
	if (iph->ttl <= 1) {
		xn_count(p, XN_C_PASS_TTL);
		return XDP_PASS;
	}
	if (p->is_icmp_error)
		return xn_icmp_error(ctx, p, data_end, 0, 0, cfg, now);

	struct xn_ct_key k = {};
	if (xn_packet_key(p, &k) || (p->proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHO)) {
		xn_count(p, XN_C_PASS_UNSUPPORTED);
		return XDP_PASS;
	}
	struct xn_binding b;
	struct xn_ct_entry *e;
	if (xn_bind(p, &k, pol, now, &b))
		return XDP_DROP;
	if (xn_ct_create(cfg, p, &k, &b, now, &e))
		return XDP_DROP;
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
	struct xn_ct_key k = {};
	__u32 zero = 0;

	p.stats = bpf_map_lookup_elem(&xn_counters, &zero);
	xn_count(&p, XN_C_RX);
	int rc = xn_parse(data, data_end, &p);
	if (rc > 0) {
		xn_count(&p, XN_C_PASS_NOT_IPV4);
		return XDP_PASS;
	}
	if (rc < 0) {
		xn_count(&p, XN_C_DROP_MALFORMED);
		return XDP_DROP;
	}
	struct xn_config *cfg = bpf_map_lookup_elem(&xn_config, &zero);
	if (!cfg)
		return XDP_PASS;
	__u64 now = bpf_ktime_get_coarse_ns();

	/* fast path: a packet of a known flow, in either direction */
	if (xn_packet_key(&p, &k) == 0) {
		struct xn_ct_entry *e = bpf_map_lookup_elem(&xn_ct, &k);
		if (e) {
			if (p.iph->ttl <= 1) {
				xn_count(&p, XN_C_PASS_TTL);
				return XDP_PASS;
			}
			int orig = e->dir == XN_DIR_ORIGINAL;
			xn_ct_touch(e, &p, now);
			xn_rewrite(&p, orig, e->xlate_ip, e->xlate_port);
			xn_count(&p, orig ? XN_C_SNAT_HIT : XN_C_REPLY_HIT);
			return xn_forward(ctx, &p, e, cfg);
		}
	}

	struct xn_nat_addr *na = bpf_map_lookup_elem(&xn_nat_addrs, &p.iph->daddr);
	if (na)
		return xn_reply_path(ctx, &p, data_end, na, cfg, now);

	struct xn_src_lpm_key sk = { .prefixlen = 32, .addr = p.iph->saddr };
	__u32 *policy_id = bpf_map_lookup_elem(&xn_policy_src, &sk);
	if (policy_id)
		return xn_snat_path(ctx, &p, data_end, *policy_id, cfg, now);

	xn_count(&p, XN_C_PASS_NO_POLICY);
	return XDP_PASS;
}
