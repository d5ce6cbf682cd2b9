#ifndef XDPNAT_BPF_SUPPORT_H
#define XDPNAT_BPF_SUPPORT_H

/* Receives libbpf's messages, already formatted (libbpf hands out a va_list,
 * which Swift cannot format). level: enum libbpf_print_level. */
typedef void (*xdpnat_log_sink)(int level, const char *line);

void xdpnat_set_log_sink(xdpnat_log_sink sink);



/* setns(fd, CLONE_NEWNET) for the calling thread (glibc hides setns
 * without _GNU_SOURCE). Returns 0 or -1 with errno set. */
int xdpnat_setns_net(int fd);

/* A netlink socket subscribed to link, neighbour and IPv4 route changes.
 * Returns the fd, or -1 with errno set. */
int xdpnat_netlink_route_socket(void);

/* Pins the calling thread to one CPU. Returns 0 or -1 with errno set. */
int xdpnat_pin_to_cpu(int cpu);
#endif
