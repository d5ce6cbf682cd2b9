#define _GNU_SOURCE
#include <sched.h>

#include "bpf_support.h"

int xdpnat_setns_net(int fd)
{
	return setns(fd, CLONE_NEWNET);
}
