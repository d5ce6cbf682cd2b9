#define _GNU_SOURCE
#include <sched.h>

#include "bpf_support.h"

int xdpnat_setns_net(int fd)
{
	return setns(fd, CLONE_NEWNET);
}

int xdpnat_pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}
