// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark ceiling: stateless SNAT to a fixed address, fixed egress, no
 * conntrack, no FIB lookup. What a NAT cannot beat on this machine. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "include/xdpnat_bench.h"
#include "parsing.h"
#include "csum.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xs_config);
} xs_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} xs_tx SEC(".maps");

SEC("xdp")
int xdp_stateless(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xn_pkt p = {};
	__u32 zero = 0;

	struct xs_config *cfg = bpf_map_lookup_elem(&xs_config, &zero);
	if (!cfg || xn_parse(data, data_end, &p) != 0 || !cfg->ifindex)
		return XDP_PASS;
	struct iphdr *iph = p.iph;
	if (iph->ttl <= 1)
		return XDP_PASS;
	csum_replace4(&iph->check, iph->saddr, cfg->nat_ip);
	if (p.proto == IPPROTO_UDP && p.l4_csum)
		udp_csum_replace4(p.l4_csum, iph->saddr, cfg->nat_ip);
	else if (p.proto == IPPROTO_TCP && p.l4_csum)
		csum_replace4(p.l4_csum, iph->saddr, cfg->nat_ip);
	iph->saddr = cfg->nat_ip;
	__u16 old = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
	__builtin_memcpy(p.eth->h_dest, cfg->dmac, 6);
	__builtin_memcpy(p.eth->h_source, cfg->smac, 6);
	return bpf_redirect_map(&xs_tx, cfg->ifindex, 0);
}
