/*
 * key-sweep.c — how long whoever holds the current key needs to turn a
 * pseudonym back into a client address by trying every candidate, the
 * way a dry-run would: each candidate address goes through
 * engine_process() as a UDP datagram to the service under the policy's
 * key, and the pseudonym that comes out is compared with the one seen.
 *
 *   key-sweep POLICY PREFIX16 [ROUNDS]
 *
 * POLICY names the key (a static key or a ratchet state) and one UDP
 * service on port 514 with an IPv4 address rule (map or permute).
 * PREFIX16 is the /16 swept ("10.1"), and the client sought is
 * PREFIX16.123.45.  Prints, for the median of ROUNDS (default 5) sweeps,
 * the time for the /16 and that time multiplied by 65536 for all of
 * IPv4.  The sweep starts with an empty flow table each round, as a
 * fresh dry-run would.  It needs the key; with a ratchet state it works
 * for the state's epoch and later ones only — that is the point.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "flow.h"
#include "policy.h"

#define SWEEP	65536u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An IPv4/UDP datagram from @src to 192.0.2.1:514; checksums are not
 * needed, the engine is told they were verified. */
static void datagram(uint8_t pkt[36], uint32_t src)
{
	memset(pkt, 0, 36);
	pkt[0] = 0x45;
	pkt[3] = 36;
	pkt[8] = 64;
	pkt[9] = 17;
	pkt[12] = (uint8_t)(src >> 24);
	pkt[13] = (uint8_t)(src >> 16);
	pkt[14] = (uint8_t)(src >> 8);
	pkt[15] = (uint8_t)src;
	pkt[16] = 192;
	pkt[19] = 1;
	pkt[20] = 0x9c;		/* port 40000 */
	pkt[21] = 0x40;
	pkt[22] = 0x02;		/* port 514 */
	pkt[23] = 0x02;
	pkt[25] = 16;
	memcpy(pkt + 28, "<13>hi\n", 8);
}

/* The pseudonym of @src: engine_process() on a fresh datagram. */
static uint32_t pseudonym(const struct ruleset *rs, struct flow_table *ft,
			  struct engine_worker *w, uint32_t src, uint64_t t_ns)
{
	struct engine_result res;
	uint8_t pkt[36];

	datagram(pkt, src);
	engine_process(rs, ft, w, pkt, sizeof(pkt), ENGINE_DIR_IN, t_ns,
		       ENGINE_F_CSUM_VERIFIED, 0, &res);
	return (uint32_t)pkt[12] << 24 | (uint32_t)pkt[13] << 16 |
	       (uint32_t)pkt[14] << 8 | pkt[15];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs;
	struct in_addr base;
	char prefix[32];
	double times[64];
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 5, found = 0;
	uint64_t t_ns = (uint64_t)time(NULL) * 1000000000u;
	uint32_t net, target, seen;

	if (argc < 3 || rounds == 0 || rounds > 64) {
		fprintf(stderr, "usage: key-sweep POLICY PREFIX16 [ROUNDS]\n");
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "%s.0.0", argv[2]);
	if (inet_pton(AF_INET, prefix, &base) != 1) {
		fprintf(stderr, "key-sweep: %s: not a /16 such as 10.1\n", argv[2]);
		return 2;
	}
	net = ntohl(base.s_addr) & 0xffff0000u;
	target = net | 0x7b2d;	/* .123.45 */
	rs = policy_load(argv[1], NULL, &dl);
	diag_list_print(stderr, dl);
	diag_list_free(dl);
	if (!rs)
		return 1;
	/* what the server saw: the client's pseudonym, in a table of its own */
	{
		struct flow_table *ft = flow_table_new(16);
		struct engine_worker *w = engine_worker_new(rs, 16);

		if (!ft || !w)
			return 1;
		seen = pseudonym(rs, ft, w, target, t_ns);
		engine_worker_free(w);
		flow_table_free(ft);
	}
	for (unsigned r = 0; r < rounds; r++) {
		struct flow_table *ft = flow_table_new(2 * SWEEP);
		struct engine_worker *w = engine_worker_new(rs, 2 * SWEEP);
		double t0;

		if (!ft || !w)
			return 1;
		found = 0;
		t0 = now_s();
		for (uint32_t i = 0; i < SWEEP; i++)
			if (pseudonym(rs, ft, w, net | i, t_ns) == seen && !found)
				found = net | i;
		times[r] = now_s() - t0;
		engine_worker_free(w);
		flow_table_free(ft);
	}
	qsort(times, rounds, sizeof(times[0]), cmp_double);
	printf("pseudonym %u.%u.%u.%u -> client %u.%u.%u.%u (%s)\n",
	       seen >> 24, (seen >> 16) & 255, (seen >> 8) & 255, seen & 255,
	       found >> 24, (found >> 16) & 255, (found >> 8) & 255, found & 255,
	       found == target ? "right" : "WRONG");
	printf("/16 sweep: %.3f s (median of %u); all of IPv4 (x65536): "
	       "%.0f s = %.1f h on one core\n", times[rounds / 2], rounds,
	       times[rounds / 2] * 65536, times[rounds / 2] * 65536 / 3600);
	policy_free(rs);
	return found == target ? 0 : 1;
}
