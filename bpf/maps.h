/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the datapath, in one place. Sizes are defaults; the loader
 * may resize them before load. Types come from the shared ABI header. */
#ifndef XN_MAPS_H
#define XN_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "include/xdpnat_abi.h"

/* Conntrack: both halves of every flow. Plain hash, preallocated: when it is
 * full, new flows are refused (counted) and live ones are never evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XN_DEFAULT_CT_ENTRIES);
	__type(key, struct xn_ct_key);
	__type(value, struct xn_ct_entry);
} xn_ct SEC(".maps");

/* Endpoint-independent mapping: pod endpoint -> NAT endpoint. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XN_DEFAULT_BINDINGS);
	__type(key, struct xn_endpoint);
	__type(value, struct xn_binding);
} xn_bindings SEC(".maps");

/* Reservation of NAT endpoints: NAT endpoint -> pod endpoint. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XN_DEFAULT_BINDINGS);
	__type(key, struct xn_endpoint);
	__type(value, struct xn_binding);
} xn_nat_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XN_DEFAULT_POLICY_SOURCES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xn_src_lpm_key);
	__type(value, __u32); /* policy id */
} xn_policy_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XN_DEFAULT_POLICIES);
	__type(key, __u32);
	__type(value, struct xn_policy);
} xn_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XN_DEFAULT_DEST_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xn_dst_lpm_key);
	__type(value, __u32);
} xn_dest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XN_DEFAULT_DEST_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xn_dst_lpm_key);
	__type(value, __u32);
} xn_excluded SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XN_DEFAULT_NAT_ADDRS);
	__type(key, __be32);
	__type(value, struct xn_nat_addr);
} xn_nat_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xn_config);
} xn_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xn_stats);
} xn_counters SEC(".maps");

/* Not pinned: the kernel adds BPF_F_RDONLY_PROG to every devmap, so libbpf
 * cannot reuse a pinned one; each daemon start fills a fresh one. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XN_DEFAULT_TX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} xn_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XN_EVENTS_RING_BYTES);
} xn_events SEC(".maps");

/* Records struct xn_event in the object's BTF (only types reachable from a
 * global get there), so userspace and the ABI test see its layout. */
const volatile struct xn_event xn_event_layout = {};

/* Counters go through the packet's stats pointer, looked up once per packet. */
static __always_inline void xn_count_in(struct xn_stats *st, __u32 idx)
{
	if (st && idx < XN_C_MAX)
		st->c[idx] += 1;
}

#define xn_count(p, idx) xn_count_in((p)->stats, (idx))

#endif
