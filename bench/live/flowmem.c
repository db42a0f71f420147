/*
 * flowmem.c — memory per tracked flow: a flow table for N flows, N
 * distinct UDP flows inserted (clients across a /16, many source ports,
 * pseudonyms truncated to /24 as the daemon makes them), then the
 * table's own figure (flow_table_bytes) and the process's resident-set
 * growth, each divided by N.
 *
 *   flowmem [N]        default 1000000
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	struct flow tmpl, *out;
	struct flow_table *ft;
	long rss0, rss1;
	uint32_t i, added = 0;
	int rc;

	if (n == 0) {
		fprintf(stderr, "usage: flowmem [N]\n");
		return 2;
	}
	rss0 = rss_kib();
	ft = flow_table_new(n);
	if (!ft) {
		fprintf(stderr, "flowmem: flow_table_new(%u) failed\n", n);
		return 1;
	}
	for (i = 0; i < n; i++) {
		/* 10.77.0.0/16: 65536 clients, 16 flows each for 1M, from
		 * scattered ephemeral ports as real stacks choose them */
		uint32_t host = i & 0xffff;
		uint32_t port = 1024 + (uint32_t)((i * 2654435761u) >> 8) % 64000;

		memset(&tmpl, 0, sizeof(tmpl));
		tmpl.family = 4;
		tmpl.proto = IPPROTO_UDP;
		tmpl.client[0] = 10;
		tmpl.client[1] = 77;
		tmpl.client[2] = (uint8_t)(host >> 8);
		tmpl.client[3] = (uint8_t)host;
		memcpy(tmpl.pseudo, tmpl.client, 3);
		tmpl.server[0] = 192;
		tmpl.server[2] = 2;
		tmpl.server[3] = 1;
		tmpl.cport = (uint16_t)port;
		tmpl.pport = (uint16_t)port;
		tmpl.sport = 514;
		rc = flow_add(ft, &tmpl, 1000, &out);
		if (rc == 0)
			added++;
		else if (rc != -EADDRINUSE) {
			fprintf(stderr, "flowmem: flow_add: %s at %u\n",
				strerror(-rc), i);
			break;
		}
	}
	rss1 = rss_kib();
	printf("flowmem flows=%u table_bytes=%llu bytes_per_flow=%.1f "
	       "rss_growth_kib=%ld rss_bytes_per_flow=%.1f\n",
	       flow_table_count(ft),
	       (unsigned long long)flow_table_bytes(ft),
	       (double)flow_table_bytes(ft) / n,
	       rss1 - rss0, (rss1 - rss0) * 1024.0 / n);
	flow_table_free(ft);
	return added == n ? 0 : 1;
}
