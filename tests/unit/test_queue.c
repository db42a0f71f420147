/*
 * test_queue.c — the daemon's kernel-free parts: verdict ordering and
 * batching (against a model of the kernel's queue), send coalescing
 * limits, the /proc/net/netfilter/nfnetlink_queue parser, and the stats
 * rendering of the control socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The daemon's sources are not in the policy library: build them in. */
#include "../../filter/nfqstat.c"
#include "../../filter/stats.c"
#include "../../filter/verdict.c"

/* ---- verdict ordering ---------------------------------------------- */

#define MODEL_MAX 4096

enum model_state { M_PENDING, M_ACCEPTED, M_MODIFIED, M_DROPPED };

/*
 * The kernel's side: every id is pending until a verdict; a batch verdict
 * accepts every pending id up to its id; an own verdict must find its id
 * still pending.  The engine's side: a held id must still be pending when
 * it is released (a batch that took it passed it unredacted).
 */
struct model {
	enum model_state st[MODEL_MAX];
	bool held[MODEL_MAX];	/* held back, release not yet applied */
	uint32_t n;		/* ids 1..n queued */
	unsigned batches, owns;
	bool own_on_decided;
	bool batch_took_held;
};

static void model_batch(struct model *m, uint32_t upto)
{
	for (uint32_t id = 1; id <= upto && id <= m->n; id++)
		if (m->st[id] == M_PENDING) {
			if (m->held[id])
				m->batch_took_held = true;
			m->st[id] = M_ACCEPTED;
		}
	m->batches++;
}

static void model_own(struct model *m, uint32_t id, enum verdict_kind k)
{
	if (m->st[id] != M_PENDING)
		m->own_on_decided = true;
	m->st[id] = k == VERDICT_DROP ? M_DROPPED :
		    k == VERDICT_MODIFIED ? M_MODIFIED : M_ACCEPTED;
	m->owns++;
}

static void apply_plan(struct model *m, uint32_t id, enum verdict_kind k,
		       const struct verdict_plan *p)
{
	if (p->batch)
		model_batch(m, p->batch_id);
	if (p->own)
		model_own(m, id, k);
}

static enum model_state expected(enum verdict_kind k)
{
	return k == VERDICT_ACCEPT ? M_ACCEPTED :
	       k == VERDICT_MODIFIED ? M_MODIFIED : M_DROPPED;
}

static void test_verdict_sequence(void **state)
{
	/* A A M A D A A, then the socket is drained. */
	static const enum verdict_kind seq[] = {
		VERDICT_ACCEPT, VERDICT_ACCEPT, VERDICT_MODIFIED,
		VERDICT_ACCEPT, VERDICT_DROP, VERDICT_ACCEPT, VERDICT_ACCEPT,
	};
	struct verdict_run r;
	struct verdict_plan p;
	uint32_t batch;

	verdict_run_init(&r);
	verdict_run_add(&r, 1, seq[0], &p);
	assert_false(p.batch);
	assert_false(p.own);
	verdict_run_add(&r, 2, seq[1], &p);
	assert_false(p.batch);
	assert_false(p.own);
	/* The run 1..2 is closed by a batch before the modified packet. */
	verdict_run_add(&r, 3, seq[2], &p);
	assert_true(p.batch);
	assert_int_equal(p.batch_id, 2);
	assert_true(p.own);
	verdict_run_add(&r, 4, seq[3], &p);
	assert_false(p.batch);
	verdict_run_add(&r, 5, seq[4], &p);
	assert_true(p.batch);
	assert_int_equal(p.batch_id, 4);
	assert_true(p.own);
	verdict_run_add(&r, 6, seq[5], &p);
	verdict_run_add(&r, 7, seq[6], &p);
	assert_true(verdict_run_flush(&r, &batch));
	assert_int_equal(batch, 7);
	assert_false(verdict_run_flush(&r, &batch));
}

static void test_verdict_drop_without_run(void **state)
{
	struct verdict_run r;
	struct verdict_plan p;
	uint32_t batch = 99;

	verdict_run_init(&r);
	verdict_run_add(&r, 10, VERDICT_DROP, &p);
	assert_false(p.batch);	/* nothing before it: no batch at all */
	assert_true(p.own);
	verdict_run_add(&r, 11, VERDICT_DROP, &p);
	assert_false(p.batch);
	assert_true(p.own);
	assert_false(verdict_run_flush(&r, &batch));
	assert_int_equal(batch, 99);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/*
 * Random decisions with random drain points: every packet ends with the
 * verdict it was given, no own verdict hits an id a batch already took,
 * and there is exactly one batch per maximal accepted run between drains.
 */
static void test_verdict_random_model(void **state)
{
	for (int round = 0; round < 200; round++) {
		static struct model m;
		static enum verdict_kind want[MODEL_MAX];
		struct verdict_run r;
		struct verdict_plan p;
		unsigned runs = 0, owns = 0;
		bool in_run = false;
		uint32_t n = 1 + rng() % (MODEL_MAX - 1), b;

		memset(&m, 0, sizeof(m));
		m.n = n;
		verdict_run_init(&r);
		for (uint32_t id = 1; id <= n; id++) {
			uint32_t x = rng() % 10;
			enum verdict_kind k = x < 7 ? VERDICT_ACCEPT :
					      x < 9 ? VERDICT_MODIFIED :
						      VERDICT_DROP;

			want[id] = k;
			verdict_run_add(&r, id, k, &p);
			apply_plan(&m, id, k, &p);
			if (k == VERDICT_ACCEPT) {
				in_run = true;
			} else {
				runs += in_run;
				in_run = false;
				owns++;
			}
			if (rng() % 16 == 0) {
				if (verdict_run_flush(&r, &b))
					model_batch(&m, b);
				runs += in_run;
				in_run = false;
			}
		}
		if (verdict_run_flush(&r, &b))
			model_batch(&m, b);
		runs += in_run;
		assert_false(m.own_on_decided);
		for (uint32_t id = 1; id <= n; id++)
			assert_int_equal(m.st[id], expected(want[id]));
		assert_int_equal(m.batches, runs);
		assert_int_equal(m.owns, owns);
	}
}

/*
 * Holds: an accepted packet after a held one gets its own verdict, the
 * release of the held one is its own verdict too, and batching resumes
 * once nothing is held.
 */
static void test_verdict_hold_sequence(void **state)
{
	static struct model m;
	struct verdict_run r;
	struct verdict_plan p;
	uint32_t batch;

	memset(&m, 0, sizeof(m));
	m.n = 8;
	verdict_run_init(&r);
	verdict_run_add(&r, 1, VERDICT_ACCEPT, &p);
	apply_plan(&m, 1, VERDICT_ACCEPT, &p);
	verdict_run_add(&r, 2, VERDICT_ACCEPT, &p);
	apply_plan(&m, 2, VERDICT_ACCEPT, &p);
	/* The run 1..2 ends before the held id. */
	verdict_run_hold(&r, 3, &p);
	m.held[3] = true;
	assert_true(p.batch);
	assert_int_equal(p.batch_id, 2);
	assert_false(p.own);
	apply_plan(&m, 3, VERDICT_ACCEPT, &p);
	assert_int_equal(verdict_run_held(&r), 1);
	/* 4 is accepted while 3 is held: never by a batch. */
	verdict_run_add(&r, 4, VERDICT_ACCEPT, &p);
	assert_false(p.batch);
	assert_true(p.own);
	apply_plan(&m, 4, VERDICT_ACCEPT, &p);
	verdict_run_hold(&r, 5, &p);
	m.held[5] = true;
	assert_false(p.batch);
	assert_false(p.own);
	assert_int_equal(verdict_run_held(&r), 2);
	/* Drained with both held: nothing to flush. */
	assert_false(verdict_run_flush(&r, &batch));
	/* 6 completes the stream: 3 and 5 go first, then 6 itself. */
	verdict_run_release(&r, 3, VERDICT_MODIFIED, &p);
	assert_true(p.own);
	assert_false(p.batch);
	m.held[3] = false;
	apply_plan(&m, 3, VERDICT_MODIFIED, &p);
	verdict_run_add(&r, 6, VERDICT_ACCEPT, &p);
	assert_true(p.own);	/* 5 is still held */
	apply_plan(&m, 6, VERDICT_ACCEPT, &p);
	verdict_run_release(&r, 5, VERDICT_ACCEPT, &p);
	assert_true(p.own);	/* an accepted release is singled out too */
	m.held[5] = false;
	apply_plan(&m, 5, VERDICT_ACCEPT, &p);
	assert_int_equal(verdict_run_held(&r), 0);
	verdict_run_add(&r, 7, VERDICT_ACCEPT, &p);
	assert_false(p.own);
	apply_plan(&m, 7, VERDICT_ACCEPT, &p);
	verdict_run_add(&r, 8, VERDICT_ACCEPT, &p);
	assert_false(p.own);
	assert_true(verdict_run_flush(&r, &batch));
	assert_int_equal(batch, 8);
	model_batch(&m, batch);
	assert_false(m.batch_took_held);
	assert_false(m.own_on_decided);
	assert_int_equal(m.st[3], M_MODIFIED);
	for (uint32_t id = 1; id <= 8; id++)
		if (id != 3)
			assert_int_equal(m.st[id], M_ACCEPTED);
	/* 1..2 and 7..8 by batches; 3, 4, 5, 6 by their own verdicts. */
	assert_int_equal(m.batches, 2);
	assert_int_equal(m.owns, 4);
}

/* A release of a packet never held leaves the count at zero. */
static void test_verdict_spurious_release(void **state)
{
	struct verdict_run r;
	struct verdict_plan p;
	uint32_t batch;

	verdict_run_init(&r);
	verdict_run_release(&r, 9, VERDICT_DROP, &p);
	assert_true(p.own);
	assert_int_equal(verdict_run_held(&r), 0);
	verdict_run_add(&r, 10, VERDICT_ACCEPT, &p);
	assert_false(p.own);
	assert_true(verdict_run_flush(&r, &batch));
	assert_int_equal(batch, 10);
}

/*
 * Random decisions with holds, as the worker makes them: after each
 * packet's engine call, the releases the engine reports (held ids in any
 * order) go first, then the packet's own decision, which may be a hold;
 * drain points at random; at the end (shutdown) everything still held is
 * released.  No batch ever takes a held packet, every packet ends with
 * the verdict it was given, and nothing gets two verdicts.
 */
static void test_verdict_random_holds(void **state)
{
	for (int round = 0; round < 300; round++) {
		static struct model m;
		static enum verdict_kind want[MODEL_MAX];
		static uint32_t held[MODEL_MAX];
		struct verdict_run r;
		struct verdict_plan p;
		uint32_t n = 1 + rng() % (MODEL_MAX - 1), b, nheld = 0;
		unsigned holds = 0, hold_pct = 1 + rng() % 40;

		memset(&m, 0, sizeof(m));
		m.n = n;
		verdict_run_init(&r);
		for (uint32_t id = 1; id <= n; id++) {
			uint32_t x = rng() % 100;
			enum verdict_kind k;

			/* the engine decides some held packets now */
			while (nheld && rng() % 3 == 0) {
				uint32_t i = rng() % nheld, hid = held[i];
				uint32_t y = rng() % 10;

				held[i] = held[--nheld];
				k = y < 6 ? VERDICT_MODIFIED :
				    y < 9 ? VERDICT_ACCEPT : VERDICT_DROP;
				want[hid] = k;
				verdict_run_release(&r, hid, k, &p);
				m.held[hid] = false;
				apply_plan(&m, hid, k, &p);
			}
			if (x < hold_pct) {
				held[nheld++] = id;
				holds++;
				verdict_run_hold(&r, id, &p);
				assert_false(p.own);
				m.held[id] = true;
				apply_plan(&m, id, VERDICT_ACCEPT, &p);
			} else {
				k = x < 80 ? VERDICT_ACCEPT :
				    x < 95 ? VERDICT_MODIFIED : VERDICT_DROP;
				want[id] = k;
				verdict_run_add(&r, id, k, &p);
				apply_plan(&m, id, k, &p);
			}
			assert_int_equal(verdict_run_held(&r), nheld);
			if (rng() % 16 == 0 && verdict_run_flush(&r, &b))
				model_batch(&m, b);
		}
		while (nheld) {
			uint32_t hid = held[--nheld];

			want[hid] = VERDICT_ACCEPT;
			verdict_run_release(&r, hid, VERDICT_ACCEPT, &p);
			m.held[hid] = false;
			apply_plan(&m, hid, VERDICT_ACCEPT, &p);
		}
		if (verdict_run_flush(&r, &b))
			model_batch(&m, b);
		assert_false(m.batch_took_held);
		assert_false(m.own_on_decided);
		for (uint32_t id = 1; id <= n; id++)
			assert_int_equal(m.st[id], expected(want[id]));
		assert_int_equal(verdict_run_held(&r), 0);
		(void)holds;
	}
}

/* The model sees a batch that takes a held packet. */
static void test_verdict_model_catches_held(void **state)
{
	static struct model m;

	memset(&m, 0, sizeof(m));
	m.n = 4;
	m.held[2] = true;
	model_batch(&m, 1);
	assert_false(m.batch_took_held);
	model_batch(&m, 4);
	assert_true(m.batch_took_held);
}

/* A plan applied in the wrong order would let the batch take a drop. */
static void test_verdict_model_catches_misorder(void **state)
{
	static struct model m;

	memset(&m, 0, sizeof(m));
	m.n = 3;
	model_batch(&m, 3);	/* batch covering id 3 first ... */
	model_own(&m, 3, VERDICT_DROP);	/* ... then its drop: too late */
	assert_true(m.own_on_decided);
}

static void test_verdict_fits(void **state)
{
	assert_true(verdict_fits(0, 100, 100));
	assert_false(verdict_fits(1, 100, 100));
	assert_true(verdict_fits(60, 40, 100));
	assert_false(verdict_fits(61, 40, 100));
	assert_false(verdict_fits(0, 101, 100));
	/* No wrap-around when used is past the limit. */
	assert_false(verdict_fits(SIZE_MAX - 1, 4, 100));
	assert_false(verdict_fits(200, 0, 100));
}

static void test_verdict_send_limit(void **state)
{
	assert_int_equal(verdict_send_limit(425984, 524288), 425984 - 64);
	assert_int_equal(verdict_send_limit(2097152, 524288), 524288);
	assert_int_equal(verdict_send_limit(64, 524288), 0);
	assert_int_equal(verdict_send_limit(-1, 524288), 0);
}

/* ---- /proc/net/netfilter/nfnetlink_queue -------------------------- */

static const char proc_sample[] =
	"    0  20683     3 2 65531     7    11       12  1\n"
	"    1 4294967295     0 2 65531     0     0        0  1\n"
	"65535  31337   1024 2  1500 18446744073709551615     2   4000000000  1\n";

static void test_nfqstat_parse(void **state)
{
	struct nfqstat v[8];
	const struct nfqstat *e;
	int n = nfqstat_parse(proc_sample, v, 8);

	assert_int_equal(n, 3);
	assert_int_equal(v[0].queue, 0);
	assert_int_equal(v[0].portid, 20683);
	assert_int_equal(v[0].total, 3);
	assert_int_equal(v[0].copy_mode, 2);
	assert_int_equal(v[0].copy_range, 65531);
	assert_int_equal(v[0].queue_dropped, 7);
	assert_int_equal(v[0].user_dropped, 11);
	assert_int_equal(v[0].id_sequence, 12);
	assert_int_equal(v[1].portid, 4294967295u);
	e = nfqstat_find(v, (unsigned)n, 65535);
	assert_non_null(e);
	assert_int_equal(e->total, 1024);
	assert_true(e->queue_dropped == UINT64_MAX);
	assert_int_equal(e->id_sequence, 4000000000u);
	assert_null(nfqstat_find(v, (unsigned)n, 2));

	/* Fewer slots than lines: the first ones only. */
	assert_int_equal(nfqstat_parse(proc_sample, v, 1), 1);
	assert_int_equal(v[0].queue, 0);
	assert_int_equal(nfqstat_parse("", v, 8), 0);
	assert_int_equal(nfqstat_parse("\n  \n", v, 8), 0);
	/* No trailing newline. */
	assert_int_equal(nfqstat_parse("  4 1 0 2 65531 0 0 9 1", v, 8), 1);
	assert_int_equal(v[0].queue, 4);
}

static void test_nfqstat_malformed(void **state)
{
	struct nfqstat v[8];

	assert_int_equal(nfqstat_parse("0 1 2 3\n", v, 8), -EINVAL);
	assert_int_equal(nfqstat_parse("0 1 2 3 4 5 6 7 1 extra\n", v, 8),
			 -EINVAL);
	assert_int_equal(nfqstat_parse("queue 1 2 3 4 5 6 7 1\n", v, 8),
			 -EINVAL);
	assert_int_equal(nfqstat_parse("    0  20683     3 2 65531     7"
				       "    11       12  1\nbad\n", v, 8),
			 -EINVAL);
}

/* ---- stats rendering ---------------------------------------------- */

static char *render(const struct stats_snapshot *s, bool prom)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(stats_render(out, s, prom), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

static unsigned occurrences(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void fill_snapshot(struct stats_snapshot *s, struct stats_service *svc,
			  struct stats_queue *q)
{
	memset(s, 0, sizeof(*s));
	memset(svc, 0, 3 * sizeof(*svc));
	memset(q, 0, sizeof(*q));
	svc[0].name = "mqtt";
	svc[0].st.packets_in = 5;
	svc[0].st.packets_out = 4;
	svc[0].st.changed = 3;
	svc[0].st.detector[DET_EMAIL] = 2;
	svc[0].st.action[ACT_MASK] = 2;
	svc[0].st.reasons[ENGINE_R_MALFORMED] = 1;
	svc[0].st.holds = 23;
	svc[0].st.hold_timeout_masked = 29;
	svc[0].st.retrans_patched = 31;
	svc[1].name = "we\"ird";
	svc[1].st.dropped = 9;
	svc[2].name = NULL;
	svc[2].st.reasons[ENGINE_R_NOT_COVERED] = 7;
	s->n_services = 3;
	s->svc = svc;
	q->num = 3;
	q->bound = true;
	q->queue_dropped = 13;
	q->user_dropped = 17;
	q->send_errors = 19;
	q->held = 2;
	q->held_bytes = 37;
	q->outbound = true;
	q->wrong_hook = 41;
	s->n_queues = 1;
	s->q = q;
	s->flows = 42;
	s->uptime_s = 100;
	s->reloads = 2;
}

static void test_stats_text(void **state)
{
	struct stats_service svc[3];
	struct stats_queue q;
	struct stats_snapshot s;
	char *t;

	fill_snapshot(&s, svc, &q);
	t = render(&s, false);
	assert_non_null(strstr(t, "\nservice.mqtt.packets_in 5\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.packets_out 4\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.changed 3\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.detector.email 2\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.action.mask 2\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.reason.malformed 1\n"));
	assert_non_null(strstr(t, "\nuncovered.reason.not-covered 7\n"));
	assert_non_null(strstr(t, "\nqueue.3.queue_dropped 13\n"));
	assert_non_null(strstr(t, "\nqueue.3.user_dropped 17\n"));
	assert_non_null(strstr(t, "\nqueue.3.bound 1\n"));
	assert_non_null(strstr(t, "\nqueue.3.send_errors 19\n"));
	assert_non_null(strstr(t, "\nqueue.3.held 2\n"));
	assert_non_null(strstr(t, "\nqueue.3.held_bytes 37\n"));
	assert_non_null(strstr(t, "\nqueue.3.outbound 1\n"));
	assert_non_null(strstr(t, "\nqueue.3.wrong_hook 41\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.holds 23\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.hold_timeout_masked 29\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.retrans_patched 31\n"));
	assert_non_null(strstr(t, "\nservice.mqtt.hold_timeout_passed 0\n"));
	assert_non_null(strstr(t, "\nflows.live 42\n"));
	assert_non_null(strstr(t, "\nreloads 2\n"));
	assert_true(strncmp(t, "uptime_seconds 100\n", 19) == 0);
	/* "none" is not a reason anyone needs to see. */
	assert_null(strstr(t, "reason.none"));
	/* Every line is "name value". */
	for (char *line = t; *line;) {
		char *nl = strchr(line, '\n'), *sp;

		assert_non_null(nl);
		sp = memchr(line, ' ', (size_t)(nl - line));
		assert_non_null(sp);
		assert_ptr_equal(memchr(sp + 1, ' ', (size_t)(nl - sp - 1)), NULL);
		assert_true(strspn(sp + 1, "0123456789") == (size_t)(nl - sp - 1));
		line = nl + 1;
	}
	free(t);
}

static void test_stats_prometheus(void **state)
{
	struct stats_service svc[3];
	struct stats_queue q;
	struct stats_snapshot s;
	char *t;

	fill_snapshot(&s, svc, &q);
	t = render(&s, true);
	assert_non_null(strstr(t,
		"nfredact_packets_total{service=\"mqtt\",direction=\"in\"} 5\n"));
	assert_non_null(strstr(t,
		"nfredact_packets_total{service=\"mqtt\",direction=\"out\"} 4\n"));
	assert_non_null(strstr(t,
		"nfredact_identifiers_total{service=\"mqtt\",detector=\"email\"} 2\n"));
	assert_non_null(strstr(t,
		"nfredact_reasons_total{service=\"(none)\",reason=\"not-covered\"} 7\n"));
	assert_non_null(strstr(t,
		"nfredact_packets_dropped_total{service=\"we\\\"ird\"} 9\n"));
	assert_non_null(strstr(t, "nfredact_queue_dropped_total{queue=\"3\"} 13\n"));
	assert_non_null(strstr(t,
		"nfredact_queue_user_dropped_total{queue=\"3\"} 17\n"));
	assert_non_null(strstr(t, "nfredact_flows 42\n"));
	assert_non_null(strstr(t,
		"nfredact_queue_send_errors_total{queue=\"3\"} 19\n"));
	assert_non_null(strstr(t, "nfredact_queue_held_bytes{queue=\"3\"} 37\n"));
	assert_non_null(strstr(t, "nfredact_queue_held_packets{queue=\"3\"} 2\n"));
	assert_non_null(strstr(t, "nfredact_queue_outbound{queue=\"3\"} 1\n"));
	assert_non_null(strstr(t, "nfredact_queue_bound{queue=\"3\"} 1\n"));
	assert_non_null(strstr(t,
		"nfredact_queue_wrong_hook_total{queue=\"3\"} 41\n"));
	assert_int_equal(occurrences(t, "# TYPE nfredact_queue_outbound gauge\n"), 1);
	assert_non_null(strstr(t,
		"nfredact_holds_total{service=\"mqtt\"} 23\n"));
	assert_non_null(strstr(t,
		"nfredact_hold_ends_total{service=\"mqtt\",how=\"timeout-masked\"} 29\n"));
	assert_non_null(strstr(t,
		"nfredact_tcp_retransmissions_total{service=\"mqtt\",how=\"patched\"} 31\n"));
	assert_int_equal(occurrences(t, "# TYPE nfredact_hold_ends_total counter\n"), 1);
	assert_int_equal(occurrences(t, "# TYPE nfredact_queue_held_bytes gauge\n"), 1);
	/* One HELP and one TYPE per family, even with several services. */
	assert_int_equal(occurrences(t, "# TYPE nfredact_packets_total counter\n"), 1);
	assert_int_equal(occurrences(t, "# HELP nfredact_packets_total "), 1);
	assert_int_equal(occurrences(t, "# TYPE nfredact_flows gauge\n"), 1);
	assert_int_equal(occurrences(t, "# TYPE "), occurrences(t, "# HELP "));
	/* Every sample line is an nfredact_ metric. */
	for (char *line = t; *line;) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		assert_true(line[0] == '#' ||
			    strncmp(line, "nfredact_", 9) == 0);
		line = nl + 1;
	}
	free(t);
}

static void test_stats_add(void **state)
{
	struct engine_stats a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.packets_in = 1;
	a.reasons[ENGINE_R_NO_FLOW] = 2;
	a.action[ACT_TOKEN] = 3;
	b.packets_in = 10;
	b.reasons[ENGINE_R_NO_FLOW] = 20;
	b.action[ACT_TOKEN] = 30;
	b.flows_created = 5;
	a.hold_timeout_passed = 6;
	b.hold_timeout_passed = 60;
	b.retrans_no_record = 7;
	b.detector[DET__COUNT - 1] = 4;
	stats_add(&a, &b);
	assert_int_equal(a.packets_in, 11);
	assert_int_equal(a.reasons[ENGINE_R_NO_FLOW], 22);
	assert_int_equal(a.action[ACT_TOKEN], 33);
	assert_int_equal(a.flows_created, 5);
	assert_int_equal(a.hold_timeout_passed, 66);
	assert_int_equal(a.retrans_no_record, 7);
	assert_int_equal(a.detector[DET__COUNT - 1], 4);
	assert_int_equal(b.packets_in, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_sequence),
		cmocka_unit_test(test_verdict_drop_without_run),
		cmocka_unit_test(test_verdict_random_model),
		cmocka_unit_test(test_verdict_model_catches_misorder),
		cmocka_unit_test(test_verdict_hold_sequence),
		cmocka_unit_test(test_verdict_spurious_release),
		cmocka_unit_test(test_verdict_random_holds),
		cmocka_unit_test(test_verdict_model_catches_held),
		cmocka_unit_test(test_verdict_fits),
		cmocka_unit_test(test_verdict_send_limit),
		cmocka_unit_test(test_nfqstat_parse),
		cmocka_unit_test(test_nfqstat_malformed),
		cmocka_unit_test(test_stats_text),
		cmocka_unit_test(test_stats_prometheus),
		cmocka_unit_test(test_stats_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
