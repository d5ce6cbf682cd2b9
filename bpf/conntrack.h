/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Conntrack pairs: lookup, TCP state tracking, counters, pair creation. */
#ifndef XN_CONNTRACK_H
#define XN_CONNTRACK_H

#include "maps.h"
#include "parsing.h"

#define XN_EEXIST 17

/* The packet's own 5-tuple as a conntrack key (TCP, UDP, ICMP echo).
 * Returns -1 for packets without one (fragments, ICMP errors, other protocols). */
static __always_inline int xn_packet_key(struct xn_pkt *p, struct xn_ct_key *k)
{
	__u16 *sp = p->sport_p, *dp = p->dport_p;

	if (p->is_fragment || p->is_icmp_error || !sp || !dp)
		return -1;
	k->src_ip = p->iph->saddr;
	k->dst_ip = p->iph->daddr;
	k->proto = p->proto;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		k->src_port = *sp;
		k->dst_port = *dp;
		return 0;
	}
	if (p->is_icmp_query) {
		/* the identifier stands for the pod's / NAT's port; the remote's is 0 */
		k->src_port = p->icmp_type == ICMP_ECHO ? *sp : 0;
		k->dst_port = p->icmp_type == ICMP_ECHO ? 0 : *dp;
		return 0;
	}
	return -1;
}

/* Next TCP state for a packet with flags tf seen in direction dir. */
static __always_inline __u8 xn_tcp_transition(__u8 st, __u32 *fl, __u8 tf, __u8 dir)
{
	__u32 flags = *fl;

	if (tf & TCPF_RST)
		return XN_TCP_CLOSE;
	if ((tf & TCPF_SYN) && !(tf & TCPF_ACK)) {
		if (dir == XN_DIR_ORIGINAL &&
		    (st == XN_TCP_TIME_WAIT || st == XN_TCP_CLOSE || st == XN_TCP_NONE)) {
			/* a new connection reusing the tuple */
			*fl = flags & ~(XN_CT_F_FIN_ORIG | XN_CT_F_FIN_REPLY);
			return XN_TCP_SYN_SENT;
		}
		return st;
	}
	if ((tf & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) &&
	    dir == XN_DIR_REPLY && st == XN_TCP_SYN_SENT)
		st = XN_TCP_ESTABLISHED;
	if (tf & TCPF_FIN) {
		flags |= dir == XN_DIR_ORIGINAL ? XN_CT_F_FIN_ORIG : XN_CT_F_FIN_REPLY;
		*fl = flags;
		if ((flags & (XN_CT_F_FIN_ORIG | XN_CT_F_FIN_REPLY)) ==
		    (XN_CT_F_FIN_ORIG | XN_CT_F_FIN_REPLY))
			return XN_TCP_TIME_WAIT;
		if (st == XN_TCP_ESTABLISHED || st == XN_TCP_SYN_SENT)
			return XN_TCP_FIN_WAIT;
	}
	return st;
}

/* State of a flow created by its first packet (loose pick-up mid-stream,
 * as Linux conntrack does by default). */
static __always_inline __u8 xn_tcp_initial(__u8 tf, __u32 *fl)
{
	if (tf & TCPF_RST)
		return XN_TCP_CLOSE;
	if ((tf & TCPF_SYN) && !(tf & TCPF_ACK))
		return XN_TCP_SYN_SENT;
	if (tf & TCPF_FIN) {
		*fl |= XN_CT_F_FIN_ORIG;
		return XN_TCP_FIN_WAIT;
	}
	return XN_TCP_ESTABLISHED;
}

/* Account a packet to its half and advance the pair's shared state.
 * Counters are plain increments: each half is written by the CPU its
 * direction is steered to (RSS keeps a flow direction on one queue), and a
 * locked add would cost more than the rest of the hit path's bookkeeping. */
static __always_inline void xn_ct_touch(struct xn_ct_entry *e, struct xn_pkt *p, __u64 now)
{
	e->last_seen_ns = now;
	e->packets += 1;
	e->bytes += bpf_ntohs(p->iph->tot_len);

	__u8 st = e->tcp_state;
	__u32 fl = e->flags;
	if (e->dir == XN_DIR_REPLY)
		fl |= XN_CT_F_SEEN_REPLY;
	if (p->proto == IPPROTO_TCP && !p->is_icmp_error)
		st = xn_tcp_transition(st, &fl, p->tcp_flags, e->dir);
	if (st != e->tcp_state || fl != e->flags) {
		e->tcp_state = st;
		e->flags = fl;
		struct xn_ct_entry *peer = bpf_map_lookup_elem(&xn_ct, &e->peer);
		if (peer) {
			peer->tcp_state = st;
			peer->flags = fl;
		}
	}
}

static __always_inline void xn_emit_new(struct xn_pkt *p, const struct xn_config *cfg, const struct xn_ct_key *fk,
					const struct xn_ct_entry *fe, __u64 now)
{
	if (!(cfg->flags & XN_CFG_F_EVENTS))
		return;
	struct xn_event *ev = bpf_ringbuf_reserve(&xn_events, sizeof(*ev), 0);
	if (!ev) {
		xn_count(p, XN_C_EVENTS_LOST);
		return;
	}
	ev->type = XN_EV_FLOW_NEW;
	ev->policy_id = fe->policy_id;
	ev->ts_ns = now;
	ev->orig = *fk;
	ev->nat_ip = fe->xlate_ip;
	ev->nat_port = fe->xlate_port;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

/* Insert both halves of a new flow, or neither. On success *out points at
 * the original half. Returns 0, or -1 with the reason counted. */
static __always_inline int xn_ct_create(const struct xn_config *cfg, struct xn_pkt *p,
					struct xn_ct_key *fk, const struct xn_binding *b,
					__u64 now, struct xn_ct_entry **out)
{
	struct xn_ct_key rk = {
		.src_ip = fk->dst_ip,
		.dst_ip = b->ip,
		.src_port = fk->dst_port,
		.dst_port = b->port,
		.proto = fk->proto,
	};
	struct xn_ct_entry e = {
		.peer = rk,
		.xlate_ip = b->ip,
		.xlate_port = b->port,
		.dir = XN_DIR_ORIGINAL,
		.policy_id = b->policy_id,
		.created_ns = now,
		.last_seen_ns = now,
	};
	if (p->proto == IPPROTO_TCP)
		e.tcp_state = xn_tcp_initial(p->tcp_flags, &e.flags);

	/* reply half first: a half pair can only ever be the reply half, and
	 * it is removed below if the original half cannot be inserted */
	struct xn_ct_entry r = e;
	r.peer = *fk;
	r.xlate_ip = fk->src_ip;
	r.xlate_port = fk->src_port;
	r.dir = XN_DIR_REPLY;
	long err = bpf_map_update_elem(&xn_ct, &rk, &r, BPF_NOEXIST);
	if (err) {
		if (err == -XN_EEXIST)
			goto raced;
		xn_count(p, XN_C_DROP_CT_FULL);
		return -1;
	}
	err = bpf_map_update_elem(&xn_ct, fk, &e, BPF_NOEXIST);
	if (err) {
		bpf_map_delete_elem(&xn_ct, &rk);
		if (err == -XN_EEXIST)
			goto raced;
		xn_count(p, XN_C_DROP_CT_FULL);
		return -1;
	}
	xn_count(p, XN_C_SNAT_NEW);
	xn_emit_new(p, cfg, fk, &e, now);
	*out = bpf_map_lookup_elem(&xn_ct, fk);
	return *out ? 0 : -1;

raced:
	/* another CPU created this flow a moment ago */
	*out = bpf_map_lookup_elem(&xn_ct, fk);
	if (*out && (*out)->dir == XN_DIR_ORIGINAL)
		return 0;
	xn_count(p, XN_C_DROP_CT_CONFLICT);
	return -1;
}

#endif
