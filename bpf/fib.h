/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding: next hop cached per conntrack half, revalidated by generation. */
#ifndef XN_FIB_H
#define XN_FIB_H

#include "maps.h"
#include "parsing.h"
#include "csum.h"

#ifndef AF_INET
#define AF_INET 2
#endif

static __always_inline int xn_forward(struct xdp_md *ctx, struct xn_pkt *p, struct xn_ct_entry *e,
				      const struct xn_config *cfg)
{
	struct iphdr *iph = p->iph;

	if (cfg->flags & XN_CFG_F_NO_REDIRECT)
		return XDP_PASS;

	if (e->nh_ifindex == 0 || e->nh_gen != cfg->fib_gen) {
		struct bpf_fib_lookup f = {};
		f.family = AF_INET;
		f.tos = iph->tos;
		f.l4_protocol = iph->protocol;
		f.tot_len = bpf_ntohs(iph->tot_len);
		f.ipv4_src = iph->saddr;
		f.ipv4_dst = iph->daddr;
		f.ifindex = ctx->ingress_ifindex;
		xn_count(p, XN_C_FIB_LOOKUP);
		long rc = bpf_fib_lookup(ctx, &f, sizeof(f), 0);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			/* unknown neighbour, no route, forwarding off...: the
			 * kernel resolves, forwards or answers */
			xn_count(p, XN_C_FIB_PASS);
			return XDP_PASS;
		}
		e->nh_ifindex = f.ifindex;
		__builtin_memcpy(e->nh_dmac, f.dmac, 6);
		__builtin_memcpy(e->nh_smac, f.smac, 6);
		e->nh_gen = cfg->fib_gen;
	} else {
		xn_count(p, XN_C_FIB_CACHED);
	}

	/* select the egress first: if it is not ours the kernel forwards the
	 * (already translated) packet itself, with its headers untouched */
	long act = bpf_redirect_map(&xn_tx_ports, e->nh_ifindex, 0);
	if (act != XDP_REDIRECT) {
		xn_count(p, XN_C_PASS_NO_TXPORT);
		return XDP_PASS;
	}
	/* TTL > 1 was checked before translation */
	__u16 old = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
	__builtin_memcpy(p->eth->h_dest, e->nh_dmac, 6);
	__builtin_memcpy(p->eth->h_source, e->nh_smac, 6);
	xn_count(p, XN_C_REDIRECT);
	return XDP_REDIRECT;
}

#endif
