/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
 * The one's complement sum is byte-order independent, so every value here is
 * used exactly as it sits in the packet (network order). */
#ifndef XN_CSUM_H
#define XN_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Replace a 16-bit word covered by *sum. */
static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 s = (__u16)~*sum;
	s += (__u16)~from;
	s += to;
	*sum = (__u16)~csum_fold32(s);
}

/* Replace a 32-bit value covered by *sum (e.g. an address in a pseudo-header). */
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 nfrom = ~from;
	__u32 s = (__u16)~*sum;
	s += (nfrom & 0xffff) + (nfrom >> 16);
	s += (to & 0xffff) + (to >> 16);
	*sum = (__u16)~csum_fold32(s);
}

/* UDP: a zero checksum means "none" and must stay zero; a computed zero is sent as 0xffff. */
static __always_inline void udp_csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	if (*sum == 0)
		return;
	csum_replace4(sum, from, to);
	if (*sum == 0)
		*sum = 0xffff;
}

static __always_inline void udp_csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	if (*sum == 0)
		return;
	csum_replace2(sum, from, to);
	if (*sum == 0)
		*sum = 0xffff;
}

#endif
