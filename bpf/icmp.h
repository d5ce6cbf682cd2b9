/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP errors (destination unreachable incl. fragmentation needed, time
 * exceeded, parameter problem): the embedded header is translated too, or
 * path-MTU discovery and traceroute break. */
#ifndef XN_ICMP_H
#define XN_ICMP_H

#include "conntrack.h"
#include "csum.h"

/* The packet embedded in an ICMP error. */
struct xn_inner {
	struct iphdr *iph;
	__u16 *sport_p;     /* TCP/UDP source port, or ICMP echo identifier */
	__u16 *dport_p;     /* TCP/UDP destination port, or ICMP echo identifier */
	__u16 *l4_csum;     /* NULL when the embedded L4 checksum was cut off */
	__u8 proto;
	__u8 icmp_type;
};

/* Parse the embedded header. Returns 0, or -1 when it is malformed or cut short. */
static __always_inline int xn_parse_inner(struct xn_pkt *p, void *data_end, struct xn_inner *in)
{
	struct iphdr *iph = (void *)((struct icmphdr *)p->l4 + 1);
	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->version != 4 || iph->ihl < 5)
		return -1;
	__u32 ihl = (iph->ihl & 0xf) * 4;
	__u8 *l4 = (void *)iph + ihl;
	if ((void *)(l4 + 8) > data_end) /* RFC 792: at least 8 bytes of L4 */
		return -1;
	in->iph = iph;
	in->proto = iph->protocol;
	in->l4_csum = 0;
	switch (iph->protocol) {
	case IPPROTO_TCP:
		in->sport_p = (__u16 *)l4;
		in->dport_p = (__u16 *)(l4 + 2);
		if ((void *)(l4 + 18) <= data_end)
			in->l4_csum = (__u16 *)(l4 + 16);
		break;
	case IPPROTO_UDP:
		in->sport_p = (__u16 *)l4;
		in->dport_p = (__u16 *)(l4 + 2);
		in->l4_csum = (__u16 *)(l4 + 6);
		break;
	case IPPROTO_ICMP:
		in->icmp_type = l4[0];
		if (l4[0] != ICMP_ECHO && l4[0] != ICMP_ECHOREPLY)
			return -1;
		in->sport_p = (__u16 *)(l4 + 4);
		in->dport_p = (__u16 *)(l4 + 4);
		in->l4_csum = (__u16 *)(l4 + 2);
		break;
	default:
		return -1;
	}
	return 0;
}

/* Rewrite the embedded packet's source (inbound errors: it is our SNATed
 * packet coming back) or destination (outbound errors: it is a reply we
 * delivered to the pod), and fold every change into the ICMP checksum. */
static __always_inline void xn_rewrite_inner(struct xn_pkt *p, struct xn_inner *in, int source,
					     __be32 ip, __be16 port)
{
	__u16 *icsum = &((struct icmphdr *)p->l4)->checksum;
	__be32 *ap = source ? &in->iph->saddr : &in->iph->daddr;
	__u16 *pp = source ? in->sport_p : in->dport_p;
	__be32 old_ip = *ap;
	__u16 old_ipck = in->iph->check;
	__u16 old_port = *pp;

	csum_replace4(&in->iph->check, old_ip, ip);
	*ap = ip;
	csum_replace4(icsum, old_ip, ip);
	csum_replace2(icsum, old_ipck, in->iph->check);

	if (in->l4_csum) {
		__u16 *ck = in->l4_csum;
		__u16 old_ck = *ck;
		if (in->proto == IPPROTO_TCP) {
			csum_replace4(ck, old_ip, ip);
			csum_replace2(ck, old_port, port);
		} else if (in->proto == IPPROTO_UDP) {
			udp_csum_replace4(ck, old_ip, ip);
			udp_csum_replace2(ck, old_port, port);
		} else {
			csum_replace2(ck, old_port, port);
		}
		csum_replace2(icsum, old_ck, *ck);
	}
	*pp = port;
	csum_replace2(icsum, old_port, port);
}

/* Conntrack key of the flow an embedded packet belongs to, as the half that
 * the error travels with: inbound errors carry our SNATed packet (NAT ->
 * remote) and match the reply half; outbound errors carry a packet we
 * delivered (remote -> pod) and match the original half. */
static __always_inline void xn_inner_key(struct xn_inner *in, struct xn_ct_key *k)
{
	k->src_ip = in->iph->daddr;
	k->dst_ip = in->iph->saddr;
	k->proto = in->proto;
	if (in->proto == IPPROTO_ICMP) {
		/* echo: the identifier is the NAT/pod "port", the remote's is 0 */
		if (in->icmp_type == ICMP_ECHO) {   /* inner = our request */
			k->src_port = 0;
			k->dst_port = *in->sport_p;
		} else {                            /* inner = a reply to the pod */
			k->src_port = *in->dport_p;
			k->dst_port = 0;
		}
	} else {
		k->src_port = *in->dport_p;
		k->dst_port = *in->sport_p;
	}
}

#endif
