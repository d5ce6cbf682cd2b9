// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Load generator, run with BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES: every
 * frame becomes flow number i and is redirected out of the generator's veth. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/xdpnat_bench.h"
#include "parsing.h"
#include "csum.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xg_config);
} xg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xg_seq SEC(".maps");

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xn_pkt p = {};
	__u32 zero = 0;

	struct xg_config *cfg = bpf_map_lookup_elem(&xg_config, &zero);
	__u64 *seq = bpf_map_lookup_elem(&xg_seq, &zero);
	if (!cfg || !seq || xn_parse(data, data_end, &p) != 0 || !p.sport_p || !p.dport_p || !p.l4_csum)
		return XDP_ABORTED;
	__u64 i = (*seq)++;
	if (cfg->mode == XG_MODE_FLOWS && cfg->nflows)
		i %= cfg->nflows;
	__u32 sc = cfg->src_count ? cfg->src_count : 1;
	__u32 ports = cfg->ports ? cfg->ports : 1;
	__be32 saddr = bpf_htonl(bpf_ntohl(cfg->base_ip) + (__u32)(i % sc));
	__be16 sport = bpf_htons(cfg->base_port + (__u16)((i / sc) % ports));
	__be16 dport = bpf_htons(1 + (__u16)(i / ((__u64)sc * ports)));

	struct iphdr *iph = p.iph;
	if (p.proto == IPPROTO_TCP) {
		/* the device under test kept this checksum consistent with the header */
		csum_replace4(p.l4_csum, iph->saddr, saddr);
		csum_replace4(p.l4_csum, iph->daddr, cfg->dst_ip);
		csum_replace2(p.l4_csum, *p.sport_p, sport);
		csum_replace2(p.l4_csum, *p.dport_p, dport);
	} else {
		*p.l4_csum = 0; /* UDP: no checksum */
	}
	__builtin_memcpy(p.eth->h_dest, cfg->dmac, 6);
	__builtin_memcpy(p.eth->h_source, cfg->smac, 6);
	iph->saddr = saddr;
	iph->daddr = cfg->dst_ip;
	iph->ttl = 64;
	*p.sport_p = sport;
	*p.dport_p = dport;
	/* the IP header checksum from scratch (no options in the template) */
	iph->check = 0;
	__u32 sum = 0;
	__u16 *w = (__u16 *)iph;
	if ((void *)(w + 10) > data_end)
		return XDP_ABORTED;
#pragma unroll
	for (int j = 0; j < 10; j++)
		sum += w[j];
	iph->check = (__u16)~csum_fold32(sum);
	return bpf_redirect(cfg->ifindex, 0);
}
