/*
 * enginefx.h — what the engine's unit tests share: a reference checksum,
 * deliberately simple and independent of csum.c; a TCP/UDP packet
 * builder over IPv4 and IPv6; and a fixture of a policy, a flow table
 * and a worker.  Include after cmocka.h.
 */
#ifndef NFREDACT_TEST_ENGINEFX_H
#define NFREDACT_TEST_ENGINEFX_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "flow.h"
#include "policy.h"

/* ---- a reference checksum ---------------------------------------------- */

static inline uint32_t ref_sum(const uint8_t *b, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static inline uint16_t ref_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* true when the IPv4/IPv6 packet's L3 and L4 checksums are right (a
 * UDP checksum of 0 over IPv4 is none) */
static inline bool ref_verify(const uint8_t *p)
{
	uint32_t s = 0, l4off, l4len;
	uint8_t proto;

	if (p[0] >> 4 == 4) {
		l4off = (p[0] & 0xf) * 4u;
		if (ref_fold(ref_sum(p, l4off, 0)) != 0)
			return false;
		proto = p[9];
		l4len = (uint32_t)(p[2] << 8 | p[3]) - l4off;
		if (proto != IPPROTO_ICMP) {
			s = ref_sum(p + 12, 8, 0);
			s += proto + l4len;
		}
	} else {
		l4off = 40;
		proto = p[6];
		l4len = (uint32_t)(p[4] << 8 | p[5]);
		s = ref_sum(p + 8, 32, 0);
		s += proto + l4len;
	}
	if (proto == IPPROTO_UDP && p[0] >> 4 == 4 && !p[l4off + 6] && !p[l4off + 7])
		return true;
	return ref_fold(ref_sum(p + l4off, l4len, s)) == 0;
}

/* ---- packet builders -------------------------------------------------- */

struct pk {
	uint8_t b[10240];	/* a jumbo frame */
	uint32_t len;
};

static inline void put16(uint8_t *b, uint16_t v) { b[0] = v >> 8; b[1] = v & 0xff; }
static inline void put32(uint8_t *b, uint32_t v) { put16(b, v >> 16); put16(b + 2, v & 0xffff); }
static inline uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t get32(const uint8_t *b) { return (uint32_t)get16(b) << 16 | get16(b + 2); }

static inline void set_l4_csum(uint8_t *p)
{
	uint32_t s = 0, l4off, l4len, field;
	uint8_t proto;

	if (p[0] >> 4 == 4) {
		l4off = (p[0] & 0xf) * 4u;
		proto = p[9];
		l4len = (uint32_t)(p[2] << 8 | p[3]) - l4off;
		if (proto != IPPROTO_ICMP)
			s = ref_sum(p + 12, 8, 0) + proto + l4len;
	} else {
		l4off = 40;
		proto = p[6];
		l4len = (uint32_t)(p[4] << 8 | p[5]);
		s = ref_sum(p + 8, 32, 0) + proto + l4len;
	}
	field = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
	put16(p + l4off + field, 0);
	put16(p + l4off + field, ref_fold(ref_sum(p + l4off, l4len, s)));
	if (proto == IPPROTO_UDP && !p[l4off + 6] && !p[l4off + 7])
		put16(p + l4off + 6, 0xffff);
}

static inline void set_ip_csum(uint8_t *p)
{
	if (p[0] >> 4 != 4)
		return;
	put16(p + 10, 0);
	put16(p + 10, ref_fold(ref_sum(p, (p[0] & 0xf) * 4u, 0)));
}

/* IPv4 or IPv6 (by the text of @src) TCP/UDP packet with @payload. */
static inline void build(struct pk *k, uint8_t proto, const char *src, uint16_t sport,
		  const char *dst, uint16_t dport, uint8_t tcp_flags,
		  uint32_t seq, const void *payload, uint32_t plen)
{
	bool v6 = strchr(src, ':') != NULL;
	uint32_t l3 = v6 ? 40 : 20, l4 = proto == IPPROTO_TCP ? 20 : 8;
	uint8_t *p = k->b;

	memset(k, 0, sizeof(*k));
	k->len = l3 + l4 + plen;
	if (v6) {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)(l4 + plen));
		p[6] = proto;
		p[7] = 64;
		inet_pton(AF_INET6, src, p + 8);
		inet_pton(AF_INET6, dst, p + 24);
	} else {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)k->len);
		put16(p + 4, 0x1234);
		p[8] = 64;
		p[9] = proto;
		inet_pton(AF_INET, src, p + 12);
		inet_pton(AF_INET, dst, p + 16);
	}
	put16(p + l3, sport);
	put16(p + l3 + 2, dport);
	if (proto == IPPROTO_TCP) {
		put32(p + l3 + 4, seq);
		put32(p + l3 + 8, tcp_flags & 0x10 ? 1000 : 0);
		p[l3 + 12] = 5 << 4;
		p[l3 + 13] = tcp_flags;
		put16(p + l3 + 14, 65535);
	} else {
		put16(p + l3 + 4, (uint16_t)(l4 + plen));
	}
	memcpy(p + l3 + l4, payload, plen);
	set_ip_csum(p);
	set_l4_csum(p);
}

/* The payload of the TCP or UDP packet at @p. */
static inline const uint8_t *payload_at(const uint8_t *p)
{
	uint32_t l3 = p[0] >> 4 == 4 ? (p[0] & 0xfu) * 4 : 40;
	uint8_t proto = p[0] >> 4 == 4 ? p[9] : p[6];

	return p + l3 + (proto == IPPROTO_TCP ? (p[l3 + 12] >> 4) * 4u : 8);
}

static inline const uint8_t *payload_of(const struct pk *k)
{
	return payload_at(k->b);
}

/* ---- fixture ----------------------------------------------------------- */

struct fx {
	struct ruleset *rs;
	struct flow_table *ft;
	struct engine_worker *w;
};

static inline struct fx *fx_new(const char *policy)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct diag_list *dl = NULL;

	assert_non_null(f);
	f->rs = policy_load_string("<test>", policy, NULL, &dl);
	if (!f->rs)
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	assert_non_null(f->rs);
	f->ft = flow_table_new(1024);
	assert_non_null(f->ft);
	f->w = engine_worker_new(f->rs, flow_table_capacity(f->ft));
	assert_non_null(f->w);
	return f;
}

static inline void fx_free(struct fx *f)
{
	engine_worker_free(f->w);
	flow_table_free(f->ft);
	policy_free(f->rs);
	free(f);
}

#endif
