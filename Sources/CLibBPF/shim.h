#ifndef XDPNAT_CLIBBPF_SHIM_H
#define XDPNAT_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <xdp/libxdp.h>
#include <linux/if_link.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/vfs.h>

/* BTF member access (the inline helpers of btf.h return pointers Swift
 * cannot index comfortably). */
static inline const struct btf_member *xdpnat_btf_member(const struct btf_type *t, unsigned int i)
{
	return btf_members(t) + i;
}

#endif
