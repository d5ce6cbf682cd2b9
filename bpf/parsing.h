/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing with every bounds check next to the access it guards. */
#ifndef XN_PARSING_H
#define XN_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* linux/icmp.h drags in glibc headers that do not exist for -target bpf */
#define ICMP_ECHOREPLY      0
#define ICMP_DEST_UNREACH   3
#define ICMP_SOURCE_QUENCH  4
#define ICMP_ECHO           8
#define ICMP_TIME_EXCEEDED  11
#define ICMP_PARAMETERPROB  12

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		__be32 gateway;
	} un;
};

#define IP_MF     0x2000
#define IP_OFFSET 0x1FFF

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct xn_stats;

/* What the NAT needs to know of one IPv4 packet. */
struct xn_pkt {
	struct xn_stats *stats; /* this CPU's counters */
	struct ethhdr *eth;
	struct iphdr *iph;
	void *l4;            /* start of the L4 header (checked to hold l4_len bytes) */
	__u16 *l4_csum;      /* TCP/UDP/ICMP checksum (ICMP's covers no pseudo-header) */
	__u16 *sport_p;      /* TCP/UDP source port, ICMP echo identifier */
	__u16 *dport_p;      /* TCP/UDP destination port, ICMP echo identifier */
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 is_icmp_error;
	__u8 is_icmp_query;
	__u8 is_fragment;    /* non-first fragment: no L4 header */
};

static __always_inline int xn_is_icmp_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

/* Parse Ethernet + IPv4 (+ L4). Returns 0 on success, 1 for "not IPv4"
 * (pass untouched), -1 for malformed. */
static __always_inline int xn_parse(void *data, void *data_end, struct xn_pkt *p)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return 1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 1;
	struct iphdr *iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->version != 4 || iph->ihl < 5)
		return -1;
	__u32 ihl = iph->ihl * 4;
	if ((void *)iph + ihl > data_end)
		return -1;
	__u16 tot = bpf_ntohs(iph->tot_len);
	if (tot < ihl || (void *)iph + tot > data_end)
		return -1;

	p->eth = eth;
	p->iph = iph;
	p->proto = iph->protocol;
	p->l4 = (void *)iph + ihl;

	if (iph->frag_off & bpf_htons(IP_OFFSET)) {
		p->is_fragment = 1;
		return 0;
	}

	switch (iph->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *th = p->l4;
		if ((void *)(th + 1) > data_end)
			return -1;
		p->l4_csum = &th->check;
		p->sport_p = &th->source;
		p->dport_p = &th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4;
		if ((void *)(uh + 1) > data_end)
			return -1;
		p->l4_csum = &uh->check;
		p->sport_p = &uh->source;
		p->dport_p = &uh->dest;
		break;
	}
	case IPPROTO_ICMP: {
		struct icmphdr *ic = p->l4;
		if ((void *)(ic + 1) > data_end)
			return -1;
		p->icmp_type = ic->type;
		p->l4_csum = &ic->checksum;
		if (ic->type == ICMP_ECHO || ic->type == ICMP_ECHOREPLY) {
			p->is_icmp_query = 1;
			p->sport_p = &ic->un.echo.id;
			p->dport_p = &ic->un.echo.id;
		} else if (xn_is_icmp_error(ic->type)) {
			p->is_icmp_error = 1;
		}
		break;
	}
	default:
		break;
	}
	return 0;
}

#endif
