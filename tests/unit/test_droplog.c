/*
 * test_droplog.c — the daemon's rate-limited drop lines: when a counter's
 * gate lets a line out, what the line says, and droplog_check() over a
 * counter snapshot (the lines caught from stderr); and the rendering of
 * the drop counters in the statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The daemon's sources are not in the policy library: build them in. */
#include "../../filter/droplog.c"
#include "../../filter/log.c"
#include "../../filter/stats.c"

static void test_gate(void **state)
{
	struct droplog_gate g;
	uint64_t n = 0, span = 0;

	droplog_gate_init(&g, 0, 0);
	assert_false(droplog_gate_step(&g, 0, 1000, 10000, &n, &span));
	/* the first growth is told at once, over the time since it was still */
	assert_true(droplog_gate_step(&g, 917, 2000, 10000, &n, &span));
	assert_int_equal(n, 917);
	assert_int_equal(span, 1000);
	/* then no more than a line per interval: growth is kept for it */
	assert_false(droplog_gate_step(&g, 950, 3000, 10000, &n, &span));
	assert_false(droplog_gate_step(&g, 990, 11999, 10000, &n, &span));
	assert_true(droplog_gate_step(&g, 1000, 12000, 10000, &n, &span));
	assert_int_equal(n, 83);
	assert_int_equal(span, 10000);
	/* still, then a little: told when the interval is up, over the time
	 * since the counter was last seen still */
	assert_false(droplog_gate_step(&g, 1000, 13000, 10000, &n, &span));
	assert_false(droplog_gate_step(&g, 1001, 14000, 10000, &n, &span));
	assert_false(droplog_gate_step(&g, 1001, 21000, 10000, &n, &span));
	assert_true(droplog_gate_step(&g, 1001, 22000, 10000, &n, &span));
	assert_int_equal(n, 1);
	assert_int_equal(span, 9000);
	/* a long quiet: the next growth is told over the last second only */
	assert_false(droplog_gate_step(&g, 1001, 300000, 10000, &n, &span));
	assert_false(droplog_gate_step(&g, 1001, 301000, 10000, &n, &span));
	assert_true(droplog_gate_step(&g, 1003, 302000, 10000, &n, &span));
	assert_int_equal(n, 2);
	assert_int_equal(span, 1000);
	/* a counter that went back starts over, and says nothing */
	assert_false(droplog_gate_step(&g, 5, 400000, 10000, &n, &span));
	assert_true(droplog_gate_step(&g, 6, 401000, 10000, &n, &span));
	assert_int_equal(n, 1);
}

static void test_gate_growth_within_interval(void **state)
{
	struct droplog_gate g;
	uint64_t n = 0, span = 0;

	droplog_gate_init(&g, 0, 0);
	assert_true(droplog_gate_step(&g, 1, 1000, 10000, &n, &span));
	/* growth right after a line waits for the interval, then is told
	 * as growth since that line */
	assert_false(droplog_gate_step(&g, 2, 2000, 10000, &n, &span));
	assert_false(droplog_gate_step(&g, 2, 5000, 10000, &n, &span));
	assert_true(droplog_gate_step(&g, 2, 11000, 10000, &n, &span));
	assert_int_equal(n, 1);
	assert_int_equal(span, 10000);
}

static void test_format(void **state)
{
	char b[256];

	droplog_format(b, sizeof(b), "mqtt", false, ENGINE_R_TABLE_FULL, 917,
		       10000);
	assert_string_equal(b, "service mqtt: dropped 917 packets (table-full) "
			    "in the last 10 s");
	droplog_format(b, sizeof(b), NULL, false, ENGINE_R_MALFORMED, 1, 200);
	assert_string_equal(b, "traffic no service covers: dropped 1 packet "
			    "(malformed) in the last 1 s");
	droplog_format(b, sizeof(b), "telemetry", true, ENGINE_R_MALFORMED, 3,
		       9600);
	assert_string_equal(b, "service telemetry: passed 3 packets unchanged "
			    "(malformed) by on-error accept in the last 10 s");
	assert_true(droplog_format(b, 8, "mqtt", false, ENGINE_R_HOLD_FULL, 2,
				   1000) > 8);
	assert_int_equal(strlen(b), 7);
}

/* What droplog_check() logs, from stderr. */
static char *check_lines(struct droplog *dl, const struct stats_snapshot *s,
			 uint64_t now_ms)
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	assert_int_equal(droplog_check(dl, s, now_ms), 0);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return buf;
}

static void test_check(void **state)
{
	struct stats_service svc[2] = { { "mqtt", { 0 } }, { NULL, { 0 } } };
	struct stats_snapshot s = { .n_services = 2, .svc = svc };
	struct droplog *dl = droplog_new(0);
	char *out;

	assert_non_null(dl);
	log_init("nfredactd", 0);
	out = check_lines(dl, &s, 1000);
	assert_string_equal(out, "");

	svc[0].st.drops[ENGINE_R_TABLE_FULL] = 917;
	svc[0].st.drops[ENGINE_R_DUPLICATE] = 4;	/* not a warning */
	svc[0].st.reasons[ENGINE_R_MALFORMED] = 3;	/* accepted on error */
	svc[1].st.drops[ENGINE_R_MALFORMED] = 2;
	svc[1].st.reasons[ENGINE_R_MALFORMED] = 2;
	out = check_lines(dl, &s, 2000);
	assert_non_null(strstr(out, " nfredactd: warning: service mqtt: dropped "
			       "917 packets (table-full) in the last 1 s\n"));
	assert_non_null(strstr(out, "service mqtt: passed 3 packets unchanged "
			       "(malformed) by on-error accept in the last 1 s\n"));
	assert_non_null(strstr(out, "traffic no service covers: dropped 2 "
			       "packets (malformed) in the last 1 s\n"));
	assert_null(strstr(out, "duplicate"));
	/* the time stamp: 2026-12-07T06:45:01.123Z */
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[19], '.');
	assert_int_equal(out[23], 'Z');
	assert_int_equal(out[24], ' ');

	/* more drops at once: no second line before 10 s */
	svc[0].st.drops[ENGINE_R_TABLE_FULL] = 1000;
	out = check_lines(dl, &s, 3000);
	assert_string_equal(out, "");
	out = check_lines(dl, &s, 12000);
	assert_non_null(strstr(out, "service mqtt: dropped 83 packets "
			       "(table-full) in the last 10 s\n"));
	assert_null(strstr(out, "malformed"));

	/* a service that a reload brings in starts at 0 */
	svc[1].name = "syslog";
	svc[1].st = (struct engine_stats){ 0 };
	svc[1].st.drops[ENGINE_R_HOLD_FULL] = 1;
	out = check_lines(dl, &s, 13000);
	assert_string_equal(strstr(out, "service syslog"),
			    "service syslog: dropped 1 packet (hold-full) in "
			    "the last 1 s\n");
	droplog_free(dl);
}

/* Packets from a hook their queue never gets: one line for all queues. */
static void test_check_wrong_hook(void **state)
{
	struct stats_queue q[2] = { { .num = 0 }, { .num = 1, .outbound = true } };
	struct stats_snapshot s = { .n_queues = 2, .q = q };
	struct droplog *dl = droplog_new(0);
	char *out;

	(void)state;
	assert_non_null(dl);
	log_init("nfredactd", 0);
	assert_string_equal(check_lines(dl, &s, 1000), "");
	q[0].wrong_hook = 3;
	q[1].wrong_hook = 4;
	out = check_lines(dl, &s, 3000);
	assert_non_null(strstr(out, " nfredactd: warning: queues: dropped 7 "
			       "packets queued at a hook their queue's "
			       "direction never gets in the last 2 s: the "
			       "queue rules are not this version's"));
	q[1].wrong_hook = 5;
	assert_string_equal(check_lines(dl, &s, 4000), "");
	out = check_lines(dl, &s, 13000);
	assert_non_null(strstr(out, "queues: dropped 1 packet queued at"));
	droplog_free(dl);
}

static void test_due(void **state)
{
	struct droplog *dl = droplog_new(5000);

	assert_false(droplog_due(dl, 5000));
	assert_false(droplog_due(dl, 5999));
	assert_true(droplog_due(dl, 6000));
	assert_false(droplog_due(dl, 6500));
	assert_true(droplog_due(dl, 9000));
	droplog_free(dl);
	droplog_free(NULL);
}

static void test_stats_drops_rendered(void **state)
{
	struct stats_service svc[1] = { { "mqtt", { 0 } } };
	struct stats_snapshot s = { .n_services = 1, .svc = svc };
	struct engine_stats a = { 0 }, b = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	a.drops[ENGINE_R_TABLE_FULL] = 900;
	a.not_delivered = 2;
	b.drops[ENGINE_R_TABLE_FULL] = 17;
	b.drops[ENGINE_R_HOLD_FULL] = 1;
	stats_add(&svc[0].st, &a);
	stats_add(&svc[0].st, &b);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(stats_render(f, &s, false), 0);
	fclose(f);
	assert_non_null(strstr(text, "\nservice.mqtt.drop.table-full 917\n"));
	assert_non_null(strstr(text, "\nservice.mqtt.drop.hold-full 1\n"));
	assert_non_null(strstr(text, "\nservice.mqtt.not_delivered 2\n"));
	assert_null(strstr(text, "drop.none"));
	free(text);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(stats_render(f, &s, true), 0);
	fclose(f);
	assert_non_null(strstr(text, "# TYPE nfredact_drops_total counter\n"));
	assert_non_null(strstr(text, "\nnfredact_drops_total{service=\"mqtt\","
			       "reason=\"table-full\"} 917\n"));
	assert_non_null(strstr(text, "\nnfredact_drops_total{service=\"mqtt\","
			       "reason=\"gap\"} 0\n"));
	assert_non_null(strstr(text, "\nnfredact_tcp_not_delivered_total"
			       "{service=\"mqtt\"} 2\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_gate_growth_within_interval),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_wrong_hook),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_stats_drops_rendered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
