/*
 * test_daemon.c — daemon_workers_alive(): the watchdog's view of the
 * worker threads' liveness stamps.  The queue and worker functions that
 * daemon.c calls elsewhere are stubs here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The daemon's sources are not in the policy library: build them in. */
#include "../../filter/daemon.c"
#include "../../filter/log.c"
#include "../../filter/nfqstat.c"
#include "../../filter/stats.c"

uint16_t queue_num(const struct queue *q)
{
	(void)q;
	return 0;
}

void queue_get_counters(const struct queue *q, struct queue_counters *c)
{
	(void)q;
	memset(c, 0, sizeof(*c));
}

int worker_handoff(struct worker *w, const struct ruleset *rs,
		   struct engine_worker *ew)
{
	(void)w;
	(void)rs;
	(void)ew;
	return 0;
}

void worker_wake(struct worker *w)
{
	(void)w;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_workers_alive(void **state)
{
	struct worker w[3];
	struct daemon d;
	uint64_t now = now_ms();

	memset(&d, 0, sizeof(d));
	memset(w, 0, sizeof(w));
	d.workers = w;
	d.n_workers = 3;
	/* none started: nothing to be late */
	assert_true(daemon_workers_alive(&d, 3000));

	for (unsigned i = 0; i < 3; i++) {
		w[i].started = true;
		atomic_store(&w[i].alive_ms, now - 100);
	}
	assert_true(daemon_workers_alive(&d, 3000));
	/* one stuck for 5 s */
	atomic_store(&w[1].alive_ms, now - 5000);
	assert_false(daemon_workers_alive(&d, 3000));
	assert_true(daemon_workers_alive(&d, 60000));
	/* a thread that is not (or no longer) started does not count */
	w[1].started = false;
	assert_true(daemon_workers_alive(&d, 3000));
	/* a stamp a little ahead of this thread's clock read is fresh */
	w[1].started = true;
	atomic_store(&w[1].alive_ms, now_ms() + 5);
	assert_true(daemon_workers_alive(&d, 3000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workers_alive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
