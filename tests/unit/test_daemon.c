/*
 * test_daemon.c — daemon_workers_alive(): the watchdog's view of the
 * worker threads' liveness stamps; a failed reload's diagnostics.  The
 * queue and worker functions that daemon.c calls elsewhere are stubs here.
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

/*
 * A reload of a policy with errors keeps the old one and reports the
 * errors on stderr, with the policy's literals, patterns, client prefixes
 * and comments masked: the daemon never shows them.
 */
static void test_reload_diagnostics_masked(void **state)
{
	static const char *const originals[] = {
		"198.51.100.77", "alice", "example.org", "imei", "bob", NULL,
	};
	char path[] = "/tmp/test_daemon_policy.XXXXXX";
	char errpath[] = "/tmp/test_daemon_err.XXXXXX";
	struct daemon d;
	char out[4096];
	FILE *f;
	int fd, efd, saved;
	size_t n;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("service s {\t# bob's relay\n"
	      "\tlisten tcp 25\n"
	      "\tclients 198.51.100.77/24\n"
	      "\tredact literal \"alice@example.org\" mask twice\n"
	      "\tredact pattern \"imei=(\" mask\n"
	      "}\n", f);
	fclose(f);
	efd = mkstemp(errpath);
	assert_true(efd >= 0);

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(efd, 2), 2);
	assert_int_equal(daemon_reload(&d, path), -EINVAL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(d.reload_failures, 1);
	assert_null(d.rs);

	n = (size_t)pread(efd, out, sizeof(out) - 1, 0);
	out[n] = '\0';
	close(efd);
	unlink(errpath);
	unlink(path);
	assert_non_null(strstr(out, "\tclients 000.00.000.00/24\n"));
	assert_non_null(strstr(out, "\tredact literal \"xxxxx@xxxxxxx.xxx\" mask twice\n"));
	assert_non_null(strstr(out, "\tredact pattern \"xxxx=(\" mask\n"));
	assert_non_null(strstr(out, "the old policy stays"));
	for (int k = 0; originals[k]; k++)
		if (strstr(out, originals[k]))
			fail_msg("\"%s\" in the daemon's output:\n%s", originals[k], out);
	pthread_mutex_destroy(&d.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workers_alive),
		cmocka_unit_test(test_reload_diagnostics_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
