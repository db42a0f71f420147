/*
 * csum-bench.c — what verifying a TCP/UDP checksum (csum_l4_verify())
 * costs per packet: made segments of fixed sizes, and the TCP and UDP
 * packets of a capture, each verified from memory that the previous
 * round left in the caches (the engine verifies a packet it has just
 * received and decoded).
 *
 *   csum-bench [-n COUNT] [-r ROUNDS] CASE...
 *
 * CASE is v4-tcp-1500, v4-tcp-100, v6-tcp-1500, v6-tcp-100 (whole IP
 * packets of that many bytes, all with right checksums, 64 of them used
 * in turn) or a pcap file (its IPv4/IPv6 TCP and UDP packets, decoded
 * beforehand; the others are counted but cost nothing).  A round verifies
 * COUNT made packets (default 1000000), or makes as many whole passes
 * over a capture as reach COUNT packets; the cases take turns for ROUNDS
 * rounds (default 5).  One line a case:
 *
 *   CASE packets=N verified=V wrong=W ns/packet=T packets/s=P
 *
 * with N packets a round, V of them verified, W of those with a wrong
 * checksum (never for made packets: a wrong one stops the run), and the
 * median round's time
 * per packet and packets per second (per capture packet for a capture).
 * Under callgrind, `-r 1` makes csum_l4_verify()'s inclusive cost divided
 * by N the instructions per packet.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "csum.h"
#include "packet.h"
#include "../tools/linklayer.h"

#define RING		64	/* made packets, used in turn */
#define MAX_ROUNDS	99

struct bench_case {
	const char *name;
	uint8_t *buf;		/* the packets' bytes */
	struct packet *pkts;	/* decoded views to verify */
	uint32_t n_pkts;	/* views */
	uint64_t per_round;	/* packets a round: verified and not */
	uint64_t verified;	/* verifications a round */
	uint64_t wrong;		/* of them, wrong checksums */
	bool made;		/* made here: all must verify */
	double ns[MAX_ROUNDS];
};

static uint64_t rng_state = 0x5eed;

static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "csum-bench: out of memory\n");
		exit(1);
	}
	return p;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A TCP segment of @len bytes in all, from a client to port 1883. */
static void make_tcp(uint8_t *b, int family, uint32_t len)
{
	static const uint8_t c6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
					0, 0, 0, 0, 0, 0, 0, 7 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 0x10 };
	uint32_t hl = family == 4 ? 20 : 40;
	uint8_t *th = b + hl;

	memset(b, 0, hl + 20);
	if (family == 4) {
		b[0] = 0x45;
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
		b[6] = 0x40;
		b[8] = 64;
		b[9] = IPPROTO_TCP;
		b[12] = 198;
		b[13] = 51;
		b[14] = 100;
		b[15] = (uint8_t)(1 + rng() % 254);
		b[16] = 192;
		b[18] = 2;
		b[19] = 10;
	} else {
		b[0] = 0x60;
		b[4] = (uint8_t)((len - hl) >> 8);
		b[5] = (uint8_t)(len - hl);
		b[6] = IPPROTO_TCP;
		b[7] = 64;
		memcpy(b + 8, c6, 16);
		b[23] = (uint8_t)rng();
		memcpy(b + 24, s6, 16);
	}
	th[0] = (uint8_t)(0x80 | (rng() & 0x7f));
	th[1] = (uint8_t)rng();
	th[2] = 0x07;
	th[3] = 0x5b;
	for (int i = 4; i < 12; i++)
		th[i] = (uint8_t)rng();
	th[12] = 5 << 4;
	th[13] = 0x18;
	th[14] = 0xfa;
	for (uint32_t i = hl + 20; i < len; i++)
		b[i] = (uint8_t)(' ' + rng() % 95);
}

static int made_case(struct bench_case *c, const char *name, uint64_t count)
{
	int family;
	uint32_t len, stride;

	if (sscanf(name, "v%d-tcp-%u", &family, &len) != 2 ||
	    (family != 4 && family != 6) ||
	    len < (family == 4 ? 40u : 60u) || len > 65535)
		return -EINVAL;
	/* each packet at an offset of its own modulo 8, as they come */
	stride = (len + 63) / 64 * 64 + 8;
	c->buf = xmalloc((size_t)stride * RING + 8);
	c->pkts = xmalloc(sizeof(*c->pkts) * RING);
	for (uint32_t i = 0; i < RING; i++) {
		uint8_t *b = c->buf + (size_t)stride * i + i % 8;

		make_tcp(b, family, len);
		if (pkt_decode(&c->pkts[i], b, len) != PKT_OK)
			return -EINVAL;
		csum_l4_full(&c->pkts[i]);
	}
	c->n_pkts = RING;
	c->per_round = count;
	c->verified = count;
	c->made = true;
	return 0;
}

static int capture_case(struct bench_case *c, const char *path,
			uint64_t count)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *frame;
	size_t cap = 1 << 20, used = 0;
	uint32_t n_alloc = 1024, n = 0, *at, *len;
	uint64_t frames = 0, passes;
	pcap_t *pc = pcap_open_offline(path, err);
	int dlt, rc;

	if (!pc) {
		fprintf(stderr, "csum-bench: %s\n", err);
		return -EINVAL;
	}
	dlt = pcap_datalink(pc);
	if (!link_supported(dlt)) {
		fprintf(stderr, "csum-bench: %s: link type %d\n", path, dlt);
		pcap_close(pc);
		return -EINVAL;
	}
	c->buf = xmalloc(cap);
	at = xmalloc(n_alloc * sizeof(*at));
	len = xmalloc(n_alloc * sizeof(*len));
	while ((rc = pcap_next_ex(pc, &h, &frame)) == 1) {
		uint32_t off;

		frames++;
		if (!link_ip_offset(dlt, frame, h->caplen, &off))
			continue;
		if (n == n_alloc) {
			n_alloc *= 2;
			at = realloc(at, n_alloc * sizeof(*at));
			len = realloc(len, n_alloc * sizeof(*len));
			if (!at || !len) {
				fprintf(stderr, "csum-bench: out of memory\n");
				exit(1);
			}
		}
		while (used + h->caplen - off + 4 > cap) {
			cap *= 2;
			c->buf = realloc(c->buf, cap);
			if (!c->buf) {
				fprintf(stderr, "csum-bench: out of memory\n");
				exit(1);
			}
		}
		/* 4-byte aligned, as in a queue message (NLA_ALIGN) */
		used = (used + 3) & ~(size_t)3;
		memcpy(c->buf + used, frame + off, h->caplen - off);
		at[n] = (uint32_t)used;
		len[n] = h->caplen - off;
		used += h->caplen - off;
		n++;
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "csum-bench: %s: %s\n", path, pcap_geterr(pc));
		pcap_close(pc);
		return -EINVAL;
	}
	pcap_close(pc);
	c->pkts = xmalloc(sizeof(*c->pkts) * (n ? n : 1));
	c->n_pkts = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct packet *p = &c->pkts[c->n_pkts];

		if (pkt_decode(p, c->buf + at[i], len[i]) == PKT_OK &&
		    (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP))
			c->n_pkts++;
	}
	free(at);
	free(len);
	if (!c->n_pkts)
		return -EINVAL;
	/* whole passes over the capture, COUNT packets or more */
	passes = (count + frames - 1) / frames;
	c->per_round = passes * frames;
	c->verified = passes * c->n_pkts;
	return 0;
}

/* One round of @c: the time it took, in ns; counts wrong checksums. */
static double run_round(struct bench_case *c)
{
	const struct packet *p = c->pkts;
	uint64_t ok = 0;
	uint32_t k = 0;
	double t0 = now_ns();

	for (uint64_t i = 0; i < c->verified; i++) {
		ok += csum_l4_verify(&p[k]);
		if (++k == c->n_pkts)
			k = 0;
	}
	t0 = now_ns() - t0;
	c->wrong = c->verified - ok;
	return t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: csum-bench [-n COUNT] [-r ROUNDS] "
		"{v4-tcp-LEN|v6-tcp-LEN|CAPTURE.pcap}...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long count = 1000000, rounds = 5;
	struct bench_case *cases;
	int opt, n_cases;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	n_cases = argc - optind;
	if (n_cases < 1 || count < 1 || rounds < 1 || rounds > MAX_ROUNDS)
		usage();
	cases = calloc((size_t)n_cases, sizeof(*cases));
	if (!cases)
		return 1;
	for (int i = 0; i < n_cases; i++) {
		const char *arg = argv[optind + i];
		struct bench_case *c = &cases[i];

		c->name = arg;
		if (strncmp(arg, "v4-", 3) && strncmp(arg, "v6-", 3)) {
			const char *slash = strrchr(arg, '/');

			c->name = slash ? slash + 1 : arg;
			if (capture_case(c, arg, count) < 0) {
				fprintf(stderr, "csum-bench: %s: no packets\n", arg);
				return 1;
			}
		} else if (made_case(c, arg, count) < 0) {
			fprintf(stderr, "csum-bench: %s: not a case\n", arg);
			usage();
		}
	}
	for (unsigned long r = 0; r < rounds; r++) {
		for (int i = 0; i < n_cases; i++) {
			cases[i].ns[r] = run_round(&cases[i]);
			if (cases[i].made && cases[i].wrong) {
				fprintf(stderr, "csum-bench: %s: %llu wrong checksums\n",
					cases[i].name,
					(unsigned long long)cases[i].wrong);
				return 1;
			}
		}
	}
	for (int i = 0; i < n_cases; i++) {
		struct bench_case *c = &cases[i];
		double med;

		qsort(c->ns, rounds, sizeof(c->ns[0]), cmp_double);
		med = rounds % 2 ? c->ns[rounds / 2] :
		      (c->ns[rounds / 2 - 1] + c->ns[rounds / 2]) / 2;
		printf("%s packets=%llu verified=%llu wrong=%llu ns/packet=%.2f "
		       "packets/s=%.0f\n", c->name,
		       (unsigned long long)c->per_round,
		       (unsigned long long)c->verified,
		       (unsigned long long)c->wrong, med / (double)c->per_round,
		       (double)c->per_round * 1e9 / med);
		free(c->buf);
		free(c->pkts);
	}
	free(cases);
	return 0;
}
