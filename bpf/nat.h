/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Endpoint-independent port allocation and header rewrites. */
#ifndef XN_NAT_H
#define XN_NAT_H

#include "maps.h"
#include "parsing.h"
#include "csum.h"

#define XN_E2BIG 7

static __always_inline __u32 xn_mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x7feb352d;
	h ^= h >> 15;
	h *= 0x846ca68b;
	h ^= h >> 16;
	return h;
}

/* Find or create the binding of the pod endpoint in fk under policy pol:
 * keep the existing NAT endpoint while it fits the policy (RFC 4787 REQ-1),
 * else keep the pod's own port if it is free and in range, else probe
 * XN_PORT_PROBE_TRIES random ports of the range. */
static __always_inline int xn_bind(struct xn_pkt *p, const struct xn_ct_key *fk, const struct xn_policy *pol,
				   __u64 now, struct xn_binding *out)
{
	struct xn_endpoint ep = { .ip = fk->src_ip, .port = fk->src_port, .proto = fk->proto };
	__u16 min = pol->port_min, max = pol->port_max;

	struct xn_binding *cur = bpf_map_lookup_elem(&xn_bindings, &ep);
	if (cur && cur->ip == pol->nat_ip) {
		__u16 hp = bpf_ntohs(cur->port);
		if (hp >= min && hp <= max) {
			*out = *cur;
			return 0;
		}
	}
	if (min > max || min == 0) {
		xn_count(p, XN_C_DROP_NO_PORT);
		return -1;
	}

	struct xn_binding rev = {
		.ip = ep.ip, .port = ep.port, .policy_id = pol->policy_id, .created_ns = now,
	};
	struct xn_endpoint nat = { .ip = pol->nat_ip, .proto = ep.proto };
	__u32 range = (__u32)max - min + 1;
	__u16 own = bpf_ntohs(ep.port);
	int found = 0;
	long err;

	if (own >= min && own <= max) {
		nat.port = ep.port;
		err = bpf_map_update_elem(&xn_nat_ports, &nat, &rev, BPF_NOEXIST);
		if (!err) {
			found = 1;
			xn_count(p, XN_C_PORT_KEPT);
		} else if (err == -XN_E2BIG) {
			xn_count(p, XN_C_DROP_BINDING_FULL);
			return -1;
		}
	}
	if (!found) {
		/* random per attempt: a retried packet must not probe the same ports again */
		__u32 h = xn_mix(ep.ip ^ xn_mix(((__u32)ep.port << 8 | ep.proto) ^ pol->nat_ip) ^ bpf_get_prandom_u32());
		for (int i = 0; i < XN_PORT_PROBE_TRIES; i++) {
			h = xn_mix(h + 0x9e3779b9);
			nat.port = bpf_htons((__u16)(min + h % range));
			err = bpf_map_update_elem(&xn_nat_ports, &nat, &rev, BPF_NOEXIST);
			if (!err) {
				found = 1;
				xn_count(p, XN_C_PORT_PROBED);
				break;
			}
			if (err == -XN_E2BIG) {
				xn_count(p, XN_C_DROP_BINDING_FULL);
				return -1;
			}
		}
	}
	if (!found) {
		xn_count(p, XN_C_DROP_NO_PORT);
		return -1;
	}

	struct xn_binding fwd = {
		.ip = nat.ip, .port = nat.port, .policy_id = pol->policy_id, .created_ns = now,
	};
	if (bpf_map_update_elem(&xn_bindings, &ep, &fwd, BPF_ANY)) {
		bpf_map_delete_elem(&xn_nat_ports, &nat);
		xn_count(p, XN_C_DROP_BINDING_FULL);
		return -1;
	}
	*out = fwd;
	return 0;
}

/* Rewrite the packet's source (SNAT) or destination (reverse NAT) address
 * and port/identifier, with incremental checksum updates. */
static __always_inline void xn_rewrite(struct xn_pkt *p, int source, __be32 ip, __be16 port)
{
	struct iphdr *iph = p->iph;
	__be32 *ap = source ? &iph->saddr : &iph->daddr;
	__u16 *pp = source ? p->sport_p : p->dport_p;
	__be32 old_ip = *ap;

	csum_replace4(&iph->check, old_ip, ip);
	*ap = ip;
	if (!pp || !p->l4_csum)
		return;
	__u16 old_port = *pp;
	switch (p->proto) {
	case IPPROTO_TCP:
		csum_replace4(p->l4_csum, old_ip, ip);
		csum_replace2(p->l4_csum, old_port, port);
		break;
	case IPPROTO_UDP:
		udp_csum_replace4(p->l4_csum, old_ip, ip);
		udp_csum_replace2(p->l4_csum, old_port, port);
		break;
	case IPPROTO_ICMP: /* no pseudo-header: only the identifier counts */
		csum_replace2(p->l4_csum, old_port, port);
		break;
	}
	*pp = port;
}

#endif
