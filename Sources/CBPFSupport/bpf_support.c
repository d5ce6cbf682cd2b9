#include "bpf_support.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>

static xdpnat_log_sink sink;

static int print_to_sink(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (!sink)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	sink((int)level, buf);
	return 0;
}

void xdpnat_set_log_sink(xdpnat_log_sink s)
{
	sink = s;
	libbpf_set_print(print_to_sink);
}
