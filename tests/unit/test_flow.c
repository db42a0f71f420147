/*
 * test_flow.c — the flow table: lookups both ways, port clashes, capacity,
 * TCP states and timeouts, index deletion under churn (against a naive
 * model), the map mode's per-client pseudonym table, and a table cleared
 * for reuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "addr.h"
#include "flow.h"
#include "key.h"
#include "ruleset.h"

static uint8_t test_key[KEY_LEN];

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int setup(void **state)
{
	for (unsigned i = 0; i < KEY_LEN; i++)
		test_key[i] = (uint8_t)(0x30 + i);
	return key_init();
}

static void put_v4(uint8_t *a, uint32_t x)
{
	memset(a, 0, 16);
	a[0] = (uint8_t)(x >> 24);
	a[1] = (uint8_t)(x >> 16);
	a[2] = (uint8_t)(x >> 8);
	a[3] = (uint8_t)x;
}

/* A flow template: client c:cport → server 192.0.2.1:sport, pseudonym
 * the client's /24. */
static struct flow tmpl_v4(uint8_t proto, uint32_t c, uint16_t cport,
			   uint16_t sport)
{
	struct flow t;

	memset(&t, 0, sizeof(t));
	t.family = 4;
	t.proto = proto;
	put_v4(t.client, c);
	put_v4(t.server, 0xc0000201);
	addr_truncate(t.client, t.pseudo, 4, 24);
	t.cport = cport;
	t.pport = cport;
	t.sport = sport;
	return t;
}

static void test_new_free(void **state)
{
	struct flow_table *ft;

	errno = 0;
	assert_null(flow_table_new(0));
	assert_int_equal(errno, EINVAL);
	ft = flow_table_new(1000);
	assert_non_null(ft);
	assert_int_equal(flow_table_count(ft), 0);
	assert_true(flow_table_bytes(ft) >= 1000 * sizeof(struct flow));
	flow_table_free(ft);
	flow_table_free(NULL);
}

static void test_add_find(void **state)
{
	struct flow_table *ft = flow_table_new(64);
	struct flow t = tmpl_v4(IPPROTO_TCP, 0xc6336407, 40000, 1883), *f, *g;
	uint8_t v6c[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9,
			    10, 11, 12 };
	uint8_t v6s[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	assert_non_null(ft);
	assert_int_equal(flow_add(ft, &t, 100, &f), 0);
	assert_int_equal(flow_table_count(ft), 1);
	assert_int_equal(f->pport, 40000);
	assert_int_equal(f->last_seen, 100);
	g = flow_find_in(ft, 4, IPPROTO_TCP, t.client, 40000, t.server, 1883);
	assert_ptr_equal(f, g);
	g = flow_find_out(ft, 4, IPPROTO_TCP, t.pseudo, 40000, t.server, 1883);
	assert_ptr_equal(f, g);
	/* every field of the tuple counts */
	assert_null(flow_find_in(ft, 4, IPPROTO_UDP, t.client, 40000, t.server, 1883));
	assert_null(flow_find_in(ft, 4, IPPROTO_TCP, t.client, 40001, t.server, 1883));
	assert_null(flow_find_in(ft, 4, IPPROTO_TCP, t.client, 40000, t.server, 1884));
	assert_null(flow_find_in(ft, 4, IPPROTO_TCP, t.pseudo, 40000, t.server, 1883));
	assert_null(flow_find_out(ft, 4, IPPROTO_TCP, t.client, 40000, t.server, 1883));
	assert_null(flow_find_in(ft, 6, IPPROTO_TCP, t.client, 40000, t.server, 1883));
	/* the same client tuple twice */
	assert_int_equal(flow_add(ft, &t, 100, &g), -EEXIST);
	assert_int_equal(flow_table_count(ft), 1);

	/* IPv6 */
	memset(&t, 0, sizeof(t));
	t.family = 6;
	t.proto = IPPROTO_UDP;
	memcpy(t.client, v6c, 16);
	memcpy(t.server, v6s, 16);
	addr_truncate(v6c, t.pseudo, 16, 48);
	t.cport = t.pport = 5000;
	t.sport = 514;
	assert_int_equal(flow_add(ft, &t, 100, &f), 0);
	assert_ptr_equal(f, flow_find_in(ft, 6, IPPROTO_UDP, v6c, 5000, v6s, 514));
	assert_ptr_equal(f, flow_find_out(ft, 6, IPPROTO_UDP, t.pseudo, 5000,
					  v6s, 514));
	assert_memory_equal(f->client, v6c, 16);
	flow_table_free(ft);
}

/* Two clients of one /24 with the same source port: NAT-style ports. */
static void test_port_clash(void **state)
{
	struct flow_table *ft = flow_table_new(2048);
	struct flow a = tmpl_v4(IPPROTO_TCP, 0xc6336407, 40000, 1883);
	struct flow b = tmpl_v4(IPPROTO_TCP, 0xc6336409, 40000, 1883);
	struct flow c = tmpl_v4(IPPROTO_TCP, 0xc633640b, 800, 1883);
	struct flow d = tmpl_v4(IPPROTO_TCP, 0xc633640c, 800, 1883);
	struct flow e = tmpl_v4(IPPROTO_TCP, 0xc633640d, 1023, 1883);
	struct flow g = tmpl_v4(IPPROTO_TCP, 0xc633640e, 1023, 1883);
	struct flow h = tmpl_v4(IPPROTO_TCP, 0xc633640f, 65535, 1883);
	struct flow i = tmpl_v4(IPPROTO_TCP, 0xc6336410, 65535, 1883);
	struct flow *fa, *fb, *fc, *fd, *fe, *fg, *fh, *fi, *x;

	assert_non_null(ft);
	assert_memory_equal(a.pseudo, b.pseudo, 4);
	assert_int_equal(flow_add(ft, &a, 1, &fa), 0);
	assert_int_equal(flow_add(ft, &b, 1, &fb), 0);
	assert_int_equal(fa->pport, 40000);
	assert_int_not_equal(fb->pport, 40000);
	assert_true(fb->pport >= 1024);
	assert_int_equal(fb->pport % 2, 0);
	assert_int_equal(fb->cport, 40000);
	x = flow_find_out(ft, 4, IPPROTO_TCP, a.pseudo, fa->pport, a.server, 1883);
	assert_ptr_equal(x, fa);
	x = flow_find_out(ft, 4, IPPROTO_TCP, b.pseudo, fb->pport, b.server, 1883);
	assert_ptr_equal(x, fb);
	assert_memory_equal(x->client, b.client, 4);

	/* below 1024 stays below */
	assert_int_equal(flow_add(ft, &c, 1, &fc), 0);
	assert_int_equal(flow_add(ft, &d, 1, &fd), 0);
	assert_int_not_equal(fd->pport, 800);
	assert_true(fd->pport < 1024 && fd->pport > 0);
	/* wrapping at the top of each range keeps range and parity */
	assert_int_equal(flow_add(ft, &e, 1, &fe), 0);
	assert_int_equal(flow_add(ft, &g, 1, &fg), 0);
	assert_true(fg->pport < 1024 && fg->pport % 2 == 1 && fg->pport != 1023);
	assert_int_equal(flow_add(ft, &h, 1, &fh), 0);
	assert_int_equal(flow_add(ft, &i, 1, &fi), 0);
	assert_true(fi->pport >= 1024 && fi->pport % 2 == 1 && fi->pport != 65535);
	flow_table_free(ft);
}

/* One pseudonym, one server port, many clients on one source port. */
static void test_port_exhaustion(void **state)
{
	struct flow_table *ft = flow_table_new(1024);
	struct flow t, *f;
	uint32_t n;
	int rc = 0;

	assert_non_null(ft);
	for (n = 0; n < 1024; n++) {
		t = tmpl_v4(IPPROTO_UDP, 0xc6336400 | (n & 0xff), 5060, 5060);
		t.client[2] = (uint8_t)(n >> 8);	/* distinct clients */
		memset(t.pseudo, 0, 16);
		put_v4(t.pseudo, 0x0a000001);
		rc = flow_add(ft, &t, 1, &f);
		if (rc)
			break;
	}
	assert_int_equal(rc, -EADDRINUSE);
	assert_true(n >= 256);	/* many ports were found before giving up */
	flow_table_free(ft);
}

static void test_capacity(void **state)
{
	struct flow_table *ft = flow_table_new(100);
	struct flow t, *f;

	assert_non_null(ft);
	for (uint32_t n = 0; n < 100; n++) {
		t = tmpl_v4(IPPROTO_UDP, 0x0a000000 + n, 1000 + (uint16_t)n, 53);
		assert_int_equal(flow_add(ft, &t, 1000, &f), 0);
	}
	assert_int_equal(flow_table_count(ft), 100);
	t = tmpl_v4(IPPROTO_UDP, 0x0b000000, 5, 53);
	assert_int_equal(flow_add(ft, &t, 1000 + FLOW_TIMEOUT_UDP, &f), -ENOSPC);
	/* once idle flows time out, a full table makes room by itself */
	assert_int_equal(flow_add(ft, &t, 1001 + FLOW_TIMEOUT_UDP, &f), 0);
	assert_true(flow_table_count(ft) < 100);
	assert_non_null(flow_find_in(ft, 4, IPPROTO_UDP, t.client, 5, t.server, 53));
	flow_table_free(ft);
}

static void test_tcp_states(void **state)
{
	struct flow_table *ft = flow_table_new(16);
	struct flow t = tmpl_v4(IPPROTO_TCP, 0x0a000001, 1234, 25), *f;

	assert_non_null(ft);
	assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	assert_int_equal(f->tcp_state, FLOW_TCP_NONE);
	flow_update(ft, f, 0x02, true, 1);		/* SYN */
	assert_int_equal(f->tcp_state, FLOW_TCP_SYN);
	flow_update(ft, f, 0x10, true, 2);		/* client ACK: no */
	assert_int_equal(f->tcp_state, FLOW_TCP_SYN);
	flow_update(ft, f, 0x12, false, 3);		/* SYN-ACK */
	assert_int_equal(f->tcp_state, FLOW_TCP_EST);
	assert_int_equal(f->last_seen, 3);
	flow_update(ft, f, 0x11, true, 4);		/* FIN from client */
	assert_int_equal(f->tcp_state, FLOW_TCP_FIN);
	assert_true(f->flags & FLOW_F_FIN_IN);
	assert_false(f->flags & FLOW_F_FIN_OUT);
	flow_update(ft, f, 0x10, false, 5);		/* ACK: still FIN */
	assert_int_equal(f->tcp_state, FLOW_TCP_FIN);
	flow_update(ft, f, 0x11, false, 6);		/* FIN from server */
	assert_int_equal(f->tcp_state, FLOW_TCP_CLOSING);
	assert_true(f->flags & FLOW_F_FIN_OUT);
	flow_update(ft, f, 0x02, true, 7);		/* port reused */
	assert_int_equal(f->tcp_state, FLOW_TCP_SYN);
	assert_int_equal(f->flags & (FLOW_F_FIN_IN | FLOW_F_FIN_OUT), 0);
	flow_update(ft, f, 0x10, false, 8);		/* ACK from server */
	assert_int_equal(f->tcp_state, FLOW_TCP_EST);
	flow_update(ft, f, 0x14, false, 9);		/* RST */
	assert_int_equal(f->tcp_state, FLOW_TCP_CLOSING);

	/* UDP ignores flags */
	t = tmpl_v4(IPPROTO_UDP, 0x0a000001, 1234, 53);
	assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	flow_update(ft, f, 0x04, true, 50);
	assert_int_equal(f->tcp_state, FLOW_TCP_NONE);
	assert_int_equal(f->last_seen, 50);
	flow_table_free(ft);
}

/* Add one flow at time 1000 in a state; check it survives to the timeout
 * and goes one second later. */
static void check_timeout(uint8_t proto, uint8_t state_flags_in,
			  uint8_t state_flags_out, uint32_t timeout)
{
	struct flow_table *ft = flow_table_new(8);
	struct flow t = tmpl_v4(proto, 0x0a000002, 999, 80), *f;

	assert_non_null(ft);
	assert_int_equal(flow_add(ft, &t, 990, &f), 0);
	if (state_flags_in)
		flow_update(ft, f, state_flags_in, true, 995);
	if (state_flags_out)
		flow_update(ft, f, state_flags_out, false, 1000);
	else
		flow_update(ft, f, 0, true, 1000);
	assert_int_equal(flow_expire(ft, 1000 + timeout, 8), 0);
	assert_int_equal(flow_table_count(ft), 1);
	assert_int_equal(flow_expire(ft, 1001 + timeout, 8), 1);
	assert_int_equal(flow_table_count(ft), 0);
	assert_null(flow_find_in(ft, 4, proto, t.client, 999, t.server, 80));
	assert_null(flow_find_out(ft, 4, proto, t.pseudo, 999, t.server, 80));
	flow_table_free(ft);
}

static void test_expiry_by_state(void **state)
{
	check_timeout(IPPROTO_UDP, 0, 0, FLOW_TIMEOUT_UDP);
	check_timeout(IPPROTO_TCP, 0x02, 0, FLOW_TIMEOUT_TCP_SYN);
	check_timeout(IPPROTO_TCP, 0x02, 0x12, FLOW_TIMEOUT_TCP_EST);
	check_timeout(IPPROTO_TCP, 0, 0, FLOW_TIMEOUT_TCP_EST);
	check_timeout(IPPROTO_TCP, 0x02, 0x11, FLOW_TIMEOUT_TCP_FIN);
	check_timeout(IPPROTO_TCP, 0x11, 0x11, FLOW_TIMEOUT_TCP_CLOSE);
	check_timeout(IPPROTO_TCP, 0x02, 0x04, FLOW_TIMEOUT_TCP_CLOSE);
}

/* The budget bounds the work; the cursor resumes where it stopped. */
static void test_expire_budget(void **state)
{
	struct flow_table *ft = flow_table_new(32);
	struct flow t, *f;
	uint32_t total = 0, calls = 0, got;

	assert_non_null(ft);
	for (uint32_t n = 0; n < 32; n++) {
		t = tmpl_v4(IPPROTO_UDP, 0x0a000100 + n, 7, 53);
		assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	}
	while (total < 32) {
		got = flow_expire(ft, 10000, 5);
		assert_true(got <= 5);
		total += got;
		calls++;
		assert_true(calls <= 7);
	}
	assert_int_equal(flow_table_count(ft), 0);
	flow_table_free(ft);
}

/*
 * Random adds, refreshes and expiry against a naive model, with a small
 * table so that probe runs are long and backward shifts frequent.
 */
struct model_flow {
	bool live;
	uint32_t client;
	uint16_t cport;
	uint16_t pport;
	uint32_t last_seen;
};

static void test_churn_vs_model(void **state)
{
	enum { CAP = 256, SPACE = 600, ROUNDS = 4000 };
	struct flow_table *ft = flow_table_new(CAP);
	static struct model_flow m[SPACE];
	uint32_t now = 1, live = 0;
	struct flow t, *f;

	assert_non_null(ft);
	memset(m, 0, sizeof(m));
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned k = (unsigned)(rng() % SPACE);
		/* clients of 4 /24s, few ports: clashes on the pseudonym */
		uint32_t client = 0x0a000000 | (uint32_t)(k % 4) << 8 | (k / 4 % 200);
		uint16_t cport = (uint16_t)(2000 + k % 7 * 2);

		now += (uint32_t)(rng() % 3);
		t = tmpl_v4(IPPROTO_UDP, client, cport, 514);
		if (m[k].live) {
			f = flow_find_in(ft, 4, IPPROTO_UDP, t.client, cport,
					 t.server, 514);
			assert_non_null(f);
			if (rng() % 2)
				flow_update(ft, f, 0, true, now);
			m[k].last_seen = f->last_seen;
			assert_int_equal(flow_add(ft, &t, now, &f), -EEXIST);
		} else if (live < CAP) {
			assert_int_equal(flow_add(ft, &t, now, &f), 0);
			m[k] = (struct model_flow){ true, client, cport, f->pport, now };
			live++;
		}
		if (rng() % 8 == 0) {
			uint32_t removed = flow_expire(ft, now, CAP), want = 0;

			for (unsigned j = 0; j < SPACE; j++) {
				if (m[j].live &&
				    now - m[j].last_seen > FLOW_TIMEOUT_UDP) {
					m[j].live = false;
					want++;
				}
			}
			assert_int_equal(removed, want);
			live -= want;
		}
		if (r % 97 != 0)
			continue;
		/* the whole model agrees with the table */
		assert_int_equal(flow_table_count(ft), live);
		for (unsigned j = 0; j < SPACE; j++) {
			struct flow mt;

			if (!m[j].client)
				continue;
			mt = tmpl_v4(IPPROTO_UDP, m[j].client, m[j].cport, 514);
			f = flow_find_in(ft, 4, IPPROTO_UDP, mt.client,
					 m[j].cport, mt.server, 514);
			if (!m[j].live) {
				assert_null(f);
				continue;
			}
			assert_non_null(f);
			assert_int_equal(f->pport, m[j].pport);
			assert_ptr_equal(f, flow_find_out(ft, 4, IPPROTO_UDP,
							  mt.pseudo, m[j].pport,
							  mt.server, 514));
		}
	}
	flow_table_free(ft);
}

static struct rs_addr_rule map_rule(uint32_t range, unsigned plen)
{
	struct rs_addr_rule r;

	memset(&r, 0, sizeof(r));
	r.mode = ADDR_MAP;
	r.range.family = 4;
	r.range.plen = (uint8_t)plen;
	put_v4(r.range.addr, range);
	return r;
}

/* Map the client c in epoch and add one mapped UDP flow for it. */
static int add_mapped(struct flow_table *ft, const struct rs_addr_rule *rule,
		      uint32_t c, uint16_t cport, uint32_t epoch, uint32_t now,
		      uint32_t *pseudo)
{
	struct flow t = tmpl_v4(IPPROTO_UDP, c, cport, 514), *f;
	int rc;

	memset(t.pseudo, 0, 16);
	rc = flow_map_pseudonym(ft, test_key, rule, 4, t.client, epoch, t.pseudo);
	if (rc)
		return rc;
	t.flags |= FLOW_F_MAPPED;
	t.epoch = epoch;
	rc = flow_add(ft, &t, now, &f);
	if (rc)
		return rc;
	*pseudo = (uint32_t)f->pseudo[0] << 24 | (uint32_t)f->pseudo[1] << 16 |
		  (uint32_t)f->pseudo[2] << 8 | f->pseudo[3];
	return 0;
}

static void test_map_small_range(void **state)
{
	struct flow_table *ft = flow_table_new(64);
	struct rs_addr_rule r30 = map_rule(0x64400004, 30);
	uint32_t pa, pa2, pb, pc, pd;
	uint8_t out[16], cl[16];

	assert_non_null(ft);
	assert_int_equal(add_mapped(ft, &r30, 0x0a000001, 1000, 7, 0, &pa), 0);
	assert_int_equal(add_mapped(ft, &r30, 0x0a000001, 1001, 7, 0, &pa2), 0);
	assert_int_equal(pa, pa2);		/* same client, same pseudonym */
	assert_int_equal(add_mapped(ft, &r30, 0x0a000002, 1000, 7, 50, &pb), 0);
	assert_int_not_equal(pa, pb);		/* distinct clients */
	assert_true(pa == 0x64400005 || pa == 0x64400006);
	assert_true(pb == 0x64400005 || pb == 0x64400006);
	/* the range is exhausted for a third client */
	put_v4(cl, 0x0a000003);
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r30, 4, cl, 7, out),
			 -ENOSPC);
	/* another epoch has a table of its own */
	assert_int_equal(add_mapped(ft, &r30, 0x0a000003, 1000, 8, 50, &pc), 0);

	/* one of client A's flows goes: A keeps its pseudonym */
	flow_update(ft, flow_find_in(ft, 4, IPPROTO_UDP,
				     (put_v4(cl, 0x0a000001), cl), 1001,
				     (uint8_t[16]){ 192, 0, 2, 1 }, 514), 0, true,
		    40);
	assert_int_equal(flow_expire(ft, FLOW_TIMEOUT_UDP + 1, 64), 1);
	put_v4(cl, 0x0a000004);
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r30, 4, cl, 7, out),
			 -ENOSPC);
	/* both of A's flows gone: the reference count frees the pseudonym */
	assert_int_equal(flow_expire(ft, FLOW_TIMEOUT_UDP + 41, 64), 1);
	assert_int_equal(add_mapped(ft, &r30, 0x0a000004, 1000, 7, 300, &pd), 0);
	assert_int_equal(pd, pa);
	/* and B's flow still resolves */
	put_v4(cl, pb);
	assert_non_null(flow_find_out(ft, 4, IPPROTO_UDP, cl, 1000,
				      (uint8_t[16]){ 192, 0, 2, 1 }, 514));
	flow_table_free(ft);
}

static void test_map_exhaust_29(void **state)
{
	struct flow_table *ft = flow_table_new(64);
	struct rs_addr_rule r29 = map_rule(0x64400008, 29);
	uint32_t p[6], q;
	uint8_t seen[8] = { 0 };

	assert_non_null(ft);
	for (unsigned c = 0; c < 6; c++) {
		assert_int_equal(add_mapped(ft, &r29, 0x0a000010 + c, 1000, 1, 0,
					    &p[c]), 0);
		assert_int_equal(p[c] & ~7u, 0x64400008);
		assert_int_equal(seen[p[c] & 7], 0);
		seen[p[c] & 7] = 1;
	}
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[7], 0);
	assert_int_equal(add_mapped(ft, &r29, 0x0a000020, 1000, 1, 0, &q), -ENOSPC);
	/* a client that has a pseudonym still gets it */
	assert_int_equal(add_mapped(ft, &r29, 0x0a000012, 2000, 1, 0, &q), 0);
	assert_int_equal(q, p[2]);
	flow_table_free(ft);
}

/*
 * Mapped flows come and go at random: a client with live flows keeps one
 * pseudonym, live clients never share one, and a client whose flows are
 * all gone no longer holds any (the reference counts agree with a model).
 */
static void test_map_churn_vs_model(void **state)
{
	enum { CLIENTS = 25, PORTS = 6, ROUNDS = 3000 };
	struct flow_table *ft = flow_table_new(CLIENTS * PORTS);
	struct rs_addr_rule r27 = map_rule(0x64400020, 27);	/* 30 usable */
	static uint32_t seen_at[CLIENTS][PORTS];	/* 0: no flow */
	uint32_t pseudo_of[CLIENTS], now = 1;
	unsigned refs[CLIENTS];
	assert_non_null(ft);
	memset(seen_at, 0, sizeof(seen_at));
	memset(refs, 0, sizeof(refs));
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned c = (unsigned)(rng() % CLIENTS);
		unsigned port = (unsigned)(rng() % PORTS);
		uint32_t p;

		now += (uint32_t)(rng() % 4);
		if (!seen_at[c][port]) {
			int rc = add_mapped(ft, &r27, 0x0a000100 + c,
					    (uint16_t)(3000 + port), 1, now, &p);

			assert_int_equal(rc, 0);
			if (refs[c])
				assert_int_equal(p, pseudo_of[c]);
			pseudo_of[c] = p;
			refs[c]++;
			seen_at[c][port] = now;
		}
		if (rng() % 5 == 0) {
			uint32_t removed = flow_expire(ft, now, CLIENTS * PORTS);
			uint32_t want = 0;

			for (unsigned i = 0; i < CLIENTS; i++)
				for (unsigned j = 0; j < PORTS; j++)
					if (seen_at[i][j] &&
					    now - seen_at[i][j] > FLOW_TIMEOUT_UDP) {
						seen_at[i][j] = 0;
						refs[i]--;
						want++;
					}
			assert_int_equal(removed, want);
		}
		/* live clients: their pseudonym, and none shared */
		for (unsigned i = 0; i < CLIENTS; i++) {
			uint8_t cl[16], out[16];
			uint32_t q;

			put_v4(cl, 0x0a000100 + i);
			assert_int_equal(flow_map_pseudonym(ft, test_key, &r27, 4,
							    cl, 1, out), 0);
			q = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 |
			    (uint32_t)out[2] << 8 | out[3];
			if (refs[i])
				assert_int_equal(q, pseudo_of[i]);
			for (unsigned j = 0; j < CLIENTS; j++)
				if (j != i && refs[j])
					assert_int_not_equal(q, pseudo_of[j]);
		}
	}
	flow_table_free(ft);
}

/* An IPv4-mapped IPv6 client is counted under its IPv4 map entry. */
static void test_map_v4mapped(void **state)
{
	struct flow_table *ft = flow_table_new(16);
	struct rs_addr_rule r = map_rule(0x64400000, 10);
	uint8_t c6[16] = { [10] = 0xff, [11] = 0xff, 10, 9, 8, 7 };
	uint8_t out[16], again[16];
	struct flow t, *f;

	assert_non_null(ft);
	memset(&t, 0, sizeof(t));
	t.family = 6;
	t.proto = IPPROTO_TCP;
	memcpy(t.client, c6, 16);
	memcpy(t.server, c6, 12);
	t.server[15] = 1;
	memcpy(t.pseudo, c6, 16);
	t.cport = t.pport = 4444;
	t.sport = 443;
	t.epoch = 3;
	t.flags = FLOW_F_MAPPED;
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r, 4, c6 + 12, 3,
					    t.pseudo + 12), 0);
	assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	assert_true(addr_is_v4mapped(f->pseudo));
	memcpy(out, f->pseudo + 12, 4);
	/* remembered: the same answer while the flow lives, even though the
	 * candidate search would give the same here anyway */
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r, 4, c6 + 12, 3,
					    again), 0);
	assert_memory_equal(out, again, 4);
	assert_int_equal(flow_expire(ft, FLOW_TIMEOUT_TCP_EST + 1, 16), 1);
	assert_int_equal(flow_table_count(ft), 0);
	flow_table_free(ft);
}

static void test_map_errors(void **state)
{
	struct flow_table *ft = flow_table_new(4);
	struct rs_addr_rule r = map_rule(0x64400000, 10);
	uint8_t cl[16], out[16];
	struct flow t, *f;

	assert_non_null(ft);
	put_v4(cl, 0x0a000001);
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r, 6, cl, 1, out),
			 -EINVAL);
	/* a mapped flow whose pseudonym is another client's */
	t = tmpl_v4(IPPROTO_UDP, 0x0a000001, 1, 2);
	t.flags = FLOW_F_MAPPED;
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r, 4, t.client, 1,
					    t.pseudo), 0);
	assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	t = tmpl_v4(IPPROTO_UDP, 0x0a000002, 1, 2);
	t.flags = FLOW_F_MAPPED;
	memcpy(t.pseudo, f->pseudo, 4);
	assert_int_equal(flow_add(ft, &t, 0, &f), -EADDRINUSE);
	flow_table_free(ft);
}

/*
 * One random operation, done the same way on two tables: the new one
 * (@a) and the cleared one (@b) must answer alike, flow for flow.
 */
static void lockstep_op(struct flow_table *a, struct flow_table *b,
			const struct rs_addr_rule *rule, uint32_t *now)
{
	uint32_t c = 0x0a000200 + (uint32_t)(rng() % 40);
	uint16_t cport = (uint16_t)(4000 + rng() % 3);
	uint8_t proto = rng() % 2 ? IPPROTO_TCP : IPPROTO_UDP;
	struct flow t = tmpl_v4(proto, c, cport, 514), *fa, *fb;
	unsigned op = (unsigned)(rng() % 8);
	int ra, rb;

	*now += (uint32_t)(rng() % 40);
	if (op == 0) {
		assert_int_equal(flow_expire(a, *now, 64), flow_expire(b, *now, 64));
		return;
	}
	fa = flow_find_in(a, 4, proto, t.client, cport, t.server, 514);
	fb = flow_find_in(b, 4, proto, t.client, cport, t.server, 514);
	assert_int_equal(fa == NULL, fb == NULL);
	if (fa) {
		uint8_t fl = (uint8_t)(rng() & 0x17);
		bool in = rng() % 2;

		flow_update(a, fa, fl, in, *now);
		flow_update(b, fb, fl, in, *now);
		assert_int_equal(fa->tcp_state, fb->tcp_state);
		return;
	}
	if (op < 4) {
		uint8_t pa[16], pb[16];

		memset(pa, 0, 16);
		memset(pb, 0, 16);
		ra = flow_map_pseudonym(a, test_key, rule, 4, t.client, 1, pa);
		rb = flow_map_pseudonym(b, test_key, rule, 4, t.client, 1, pb);
		assert_int_equal(ra, rb);
		if (ra)
			return;
		assert_memory_equal(pa, pb, 16);
		memcpy(t.pseudo, pa, 16);
		t.flags = FLOW_F_MAPPED;
		t.epoch = 1;
	}
	ra = flow_add(a, &t, *now, &fa);
	rb = flow_add(b, &t, *now, &fb);
	assert_int_equal(ra, rb);
	if (ra)
		return;
	assert_int_equal(fa->pport, fb->pport);
	assert_memory_equal(fa->pseudo, fb->pseudo, 16);
}

/*
 * flow_table_clear(): the table behaves as new.  Rounds of random work
 * on a cleared table and on a new one answer alike (flows, pseudonym
 * ports, map-mode pseudonyms, expiry); what was there before a clear is
 * gone; a table filled to capacity again and again still takes as many
 * flows each time (index slots left behind would fill the indexes, and
 * a probe would then never end: the alarm fails the test).
 */
static void test_clear(void **state)
{
	struct rs_addr_rule r30 = map_rule(0x64400004, 30);
	struct rs_addr_rule r27 = map_rule(0x64400020, 27);
	struct flow_table *ft = flow_table_new(64), *fresh;
	uint64_t bytes = flow_table_bytes(ft);
	uint32_t pa, pb, pc, now = 100;
	uint8_t cl[16], out[16];
	struct flow t, *f;

	assert_non_null(ft);
	alarm(60);
	flow_table_clear(ft);		/* a new table: nothing to do */
	assert_int_equal(flow_table_count(ft), 0);

	/* map mode: the /30 has two pseudonyms, both taken */
	assert_int_equal(add_mapped(ft, &r30, 0x0a000001, 1000, 7, 0, &pa), 0);
	assert_int_equal(add_mapped(ft, &r30, 0x0a000002, 1000, 7, 0, &pb), 0);
	put_v4(cl, 0x0a000003);
	assert_int_equal(flow_map_pseudonym(ft, test_key, &r30, 4, cl, 7, out),
			 -ENOSPC);
	t = tmpl_v4(IPPROTO_TCP, 0x0a000001, 1000, 1883);
	assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	flow_table_clear(ft);
	assert_int_equal(flow_table_count(ft), 0);
	assert_int_equal(flow_table_bytes(ft), bytes);
	assert_null(flow_find_in(ft, 4, IPPROTO_TCP, t.client, 1000, t.server,
				 1883));
	assert_null(flow_find_out(ft, 4, IPPROTO_TCP, t.pseudo, f->pport,
				  t.server, 1883));
	put_v4(cl, pa);
	assert_null(flow_find_out(ft, 4, IPPROTO_UDP, cl, 1000,
				  (uint8_t[16]){ 192, 0, 2, 1 }, 514));
	/* the third client now gets what it would from a new table */
	fresh = flow_table_new(64);
	assert_non_null(fresh);
	assert_int_equal(add_mapped(fresh, &r30, 0x0a000003, 1000, 7, 0, &pb), 0);
	assert_int_equal(add_mapped(ft, &r30, 0x0a000003, 1000, 7, 0, &pc), 0);
	assert_int_equal(pb, pc);
	flow_table_free(fresh);

	/* random work, a new table against the cleared one */
	for (unsigned round = 0; round < 20; round++) {
		fresh = flow_table_new(64);
		assert_non_null(fresh);
		flow_table_clear(ft);
		for (unsigned n = 0; n < 300; n++)
			lockstep_op(fresh, ft, &r27, &now);
		assert_int_equal(flow_table_count(ft), flow_table_count(fresh));
		flow_table_free(fresh);
	}

	/* full, cleared, full again: every flow fits every time */
	for (unsigned round = 0; round < 50; round++) {
		flow_table_clear(ft);
		for (uint32_t n = 0; n < 64; n++) {
			t = tmpl_v4(round % 2 ? IPPROTO_TCP : IPPROTO_UDP,
				    0x0a010000 + round * 64 + n,
				    (uint16_t)(2000 + n % 3), 514);
			if (n % 4 == 0) {
				assert_int_equal(flow_map_pseudonym(ft, test_key,
						 &r27, 4, t.client, round,
						 t.pseudo), 0);
				t.flags = FLOW_F_MAPPED;
				t.epoch = round;
			}
			assert_int_equal(flow_add(ft, &t, now, &f), 0);
		}
		assert_int_equal(flow_table_count(ft), 64);
		t = tmpl_v4(IPPROTO_UDP, 0x0b000000, 5, 514);
		assert_int_equal(flow_add(ft, &t, now, &f), -ENOSPC);
	}
	/* and what the last round added expires as usual */
	assert_int_equal(flow_expire(ft, now + FLOW_TIMEOUT_TCP_EST + 1, 64), 64);
	assert_int_equal(flow_table_count(ft), 0);
	alarm(0);
	flow_table_free(ft);
}

static void test_memory_report(void **state)
{
	uint32_t n = 65536;
	struct flow_table *ft = flow_table_new(n);
	struct flow t, *f;
	struct timespec t0, t1;
	double ns;

	assert_non_null(ft);
	printf("sizeof(struct flow) = %zu, table bytes per flow = %.1f\n",
	       sizeof(struct flow), (double)flow_table_bytes(ft) / n);
	for (uint32_t i = 0; i < n / 2; i++) {
		t = tmpl_v4(IPPROTO_TCP, 0x0a000000 + i, (uint16_t)(1024 + i), 443);
		assert_int_equal(flow_add(ft, &t, 0, &f), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < n / 2; i++) {
		t = tmpl_v4(IPPROTO_TCP, 0x0a000000 + i, (uint16_t)(1024 + i), 443);
		f = flow_find_in(ft, 4, IPPROTO_TCP, t.client, t.cport, t.server,
				 443);
		assert_non_null(f);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	      (double)(t1.tv_nsec - t0.tv_nsec)) / (n / 2);
	printf("flow_find_in at load 1/4: %.0f ns\n", ns);
	assert_true(flow_table_bytes(ft) >= (uint64_t)n * sizeof(struct flow));
	flow_table_free(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_free),
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_port_clash),
		cmocka_unit_test(test_port_exhaustion),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_tcp_states),
		cmocka_unit_test(test_expiry_by_state),
		cmocka_unit_test(test_expire_budget),
		cmocka_unit_test(test_churn_vs_model),
		cmocka_unit_test(test_map_small_range),
		cmocka_unit_test(test_map_exhaust_29),
		cmocka_unit_test(test_map_churn_vs_model),
		cmocka_unit_test(test_map_v4mapped),
		cmocka_unit_test(test_map_errors),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_memory_report),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
