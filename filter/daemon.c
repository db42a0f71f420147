/*
 * daemon.c — the shared state's operations: the engine lock, the counter
 * snapshot for the control socket, and the atomic policy reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "engine.h"
#include "flow.h"
#include "log.h"
#include "nfqstat.h"
#include "policy.h"
#include "privsep.h"
#include "queue.h"
#include "stats.h"

#define DAEMON_MAX_NFQ	1024	/* lines of the proc file we look at */

void daemon_lock(struct daemon *d)
{
	bool waited = false;

	if (pthread_mutex_trylock(&d->lock) != 0) {
		pthread_mutex_lock(&d->lock);
		waited = true;
	}
	d->lock_acquired++;
	if (waited)
		d->lock_contended++;
}

void daemon_unlock(struct daemon *d)
{
	pthread_mutex_unlock(&d->lock);
}

bool daemon_workers_alive(struct daemon *d, uint64_t max_age_ms)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (unsigned i = 0; i < d->n_workers; i++) {
		const struct worker *w = &d->workers[i];
		uint64_t seen;

		if (!w->started)
			continue;
		seen = atomic_load_explicit(&w->alive_ms, memory_order_relaxed);
		/* a stamp from after @now (another CPU's clock read) is fresh */
		if (seen < now && now - seen > max_age_ms)
			return false;
	}
	return true;
}

static bool same_name(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Under the lock. */
static struct svc_total *retired_find(struct daemon *d, const char *name)
{
	for (unsigned i = 0; i < d->n_retired; i++)
		if (same_name(d->retired[i].name, name))
			return &d->retired[i];
	return NULL;
}

int daemon_snapshot(struct daemon *d, struct stats_snapshot *s)
{
	struct nfqstat nfq[DAEMON_MAX_NFQ];
	struct timespec now;
	unsigned n;
	int nn;

	memset(s, 0, sizeof(*s));
	s->q = calloc(d->n_workers ? d->n_workers : 1, sizeof(*s->q));
	if (!s->q)
		return -ENOMEM;
	s->n_queues = d->n_workers;

	daemon_lock(d);
	n = policy_service_count(d->rs);
	s->svc = calloc(n + 1, sizeof(*s->svc));
	if (!s->svc) {
		daemon_unlock(d);
		daemon_snapshot_free(s);
		return -ENOMEM;
	}
	s->n_services = n + 1;
	for (unsigned i = 0; i <= n; i++) {
		struct stats_service *ss = &s->svc[i];
		const struct svc_total *t;

		if (i < n) {
			/* The ruleset may be freed by a reload after unlock. */
			ss->name = strdup(policy_service_name(d->rs, i));
			if (!ss->name) {
				daemon_unlock(d);
				daemon_snapshot_free(s);
				return -ENOMEM;
			}
		}
		t = retired_find(d, ss->name);
		if (t)
			stats_add(&ss->st, &t->st);
		for (unsigned w = 0; w < d->n_workers; w++) {
			const struct engine_stats *es =
				engine_worker_stats(d->workers[w].ew, i);

			if (es)
				stats_add(&ss->st, es);
		}
	}
	s->flows = flow_table_count(d->ft);
	s->flow_bytes = flow_table_bytes(d->ft);
	s->reloads = d->reloads;
	s->reload_failures = d->reload_failures;
	s->lock_acquired = d->lock_acquired;
	s->lock_contended = d->lock_contended;
	daemon_unlock(d);

	if (d->shared) {
		s->rules_known = true;
		s->rules_managed = atomic_load(&d->shared->rules_managed) != 0;
		s->rules_present = atomic_load(&d->shared->rules_present) != 0;
		s->rules_restored = atomic_load(&d->shared->rules_restored);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->uptime_s = (uint64_t)(now.tv_sec - d->started.tv_sec);
	nn = d->nfq_fd >= 0 ? nfqstat_read(d->nfq_fd, nfq, DAEMON_MAX_NFQ) : -EBADF;
	for (unsigned w = 0; w < d->n_workers; w++) {
		struct stats_queue *sq = &s->q[w];
		const struct nfqstat *k;
		struct queue_counters c;

		sq->num = queue_num(d->workers[w].q);
		sq->outbound = d->workers[w].dir == ENGINE_DIR_OUT;
		sq->wrong_hook = atomic_load_explicit(&d->workers[w].wrong_hook,
						      memory_order_relaxed);
		queue_get_counters(d->workers[w].q, &c);
		sq->packets = c.packets;
		sq->verdict_errors = c.verdict_errors;
		sq->recv_errors = c.recv_errors;
		sq->send_errors = c.send_errors;
		sq->bad_msgs = c.bad_msgs;
		sq->held = c.held;
		sq->held_bytes = c.held_bytes;
		k = nn > 0 ? nfqstat_find(nfq, (unsigned)nn, sq->num) : NULL;
		if (k) {
			sq->bound = true;
			sq->waiting = k->total;
			sq->queue_dropped = k->queue_dropped;
			sq->user_dropped = k->user_dropped;
		}
	}
	return 0;
}

void daemon_snapshot_free(struct stats_snapshot *s)
{
	if (s->svc)
		for (unsigned i = 0; i < s->n_services; i++)
			free((char *)s->svc[i].name);
	free(s->svc);
	free(s->q);
	memset(s, 0, sizeof(*s));
}

void daemon_warn_policy(const struct ruleset *rs)
{
	for (unsigned i = 0; i < policy_service_count(rs); i++)
		if (policy_service_on_error_accept(rs, i))
			log_warnx("service %s: on-error accept: packets it "
				  "cannot process pass unredacted",
				  policy_service_name(rs, i));
}

/* The queues of service @svc of @rs in direction @dir (0 when none). */
static int svc_queues(const struct ruleset *rs, unsigned svc,
		      enum engine_dir dir, uint16_t *lo, uint16_t *hi)
{
	if (dir == ENGINE_DIR_OUT)
		return policy_service_queues_out(rs, svc, lo, hi);
	policy_service_queues(rs, svc, lo, hi);
	return 0;
}

/*
 * Whether @rs asks for a queue no worker serves in that direction, or
 * leaves one unused: inbound and outbound queues both, since the
 * outbound ones move with every inbound range.
 */
static bool queue_set_changed(const struct daemon *d, const struct ruleset *rs)
{
	static const enum engine_dir dirs[] = { ENGINE_DIR_IN, ENGINE_DIR_OUT };
	unsigned n = policy_service_count(rs);

	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < 2; k++) {
			uint16_t lo, hi;

			if (svc_queues(rs, i, dirs[k], &lo, &hi) < 0)
				return true;
			for (uint32_t qn = lo; qn <= hi; qn++) {
				bool have = false;

				for (unsigned w = 0; w < d->n_workers && !have; w++)
					have = queue_num(d->workers[w].q) == qn &&
					       d->workers[w].dir == dirs[k];
				if (!have)
					return true;
			}
		}
	}
	for (unsigned w = 0; w < d->n_workers; w++) {
		uint16_t num = queue_num(d->workers[w].q);
		bool used = false;

		for (unsigned i = 0; i < n && !used; i++) {
			uint16_t lo, hi;

			used = svc_queues(rs, i, d->workers[w].dir, &lo, &hi) == 0 &&
			       num >= lo && num <= hi;
		}
		if (!used)
			return true;
	}
	return false;
}

/* Whether the listening ports differ: the installed rules would not match. */
static bool ports_changed(const struct ruleset *a, const struct ruleset *b)
{
	unsigned n = policy_service_count(a);

	if (n != policy_service_count(b))
		return true;
	for (unsigned i = 0; i < n; i++) {
		struct policy_ports pa[64], pb[64];
		unsigned na = policy_service_ports(a, i, pa, 64);
		unsigned nb = policy_service_ports(b, i, pb, 64);

		if (na != nb || na > 64)
			return true;
		for (unsigned k = 0; k < na; k++)
			if (pa[k].proto != pb[k].proto || pa[k].lo != pb[k].lo ||
			    pa[k].hi != pb[k].hi)
				return true;
	}
	return false;
}

/* Under the lock: add @ew's counters (made for @rs) to the retired totals. */
static void retire(struct daemon *d, const struct ruleset *rs,
		   const struct engine_worker *ew)
{
	unsigned n = policy_service_count(rs);

	for (unsigned i = 0; i <= n; i++) {
		const char *name = i < n ? policy_service_name(rs, i) : NULL;
		const struct engine_stats *es = engine_worker_stats(ew, i);
		struct svc_total *t;

		if (!es)
			continue;
		t = retired_find(d, name);
		if (!t) {
			struct svc_total *v;
			char *copy = NULL;

			if (name && !(copy = strdup(name)))
				continue;
			v = realloc(d->retired,
				    (d->n_retired + 1) * sizeof(*v));
			if (!v) {
				free(copy);
				continue;
			}
			d->retired = v;
			t = &v[d->n_retired++];
			memset(t, 0, sizeof(*t));
			t->name = copy;
		}
		stats_add(&t->st, es);
	}
}

int daemon_reload(struct daemon *d, const char *path)
{
	struct engine_worker **ews = NULL;
	struct diag_list *dl = NULL;
	struct ruleset *rs, *old;
	bool handoff_lost = false;
	int err = 0;

	/* Only this thread replaces d->rs: reading it unlocked is safe. */
	rs = path ? policy_load(path, d->rs, &dl) : policy_default(d->rs);
	if (dl && (dl->errors || dl->warnings))
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	if (!rs) {
		log_warnx("reload: the policy has errors; the old policy stays");
		err = -EINVAL;
		goto out;
	}
	ews = calloc(d->n_workers ? d->n_workers : 1, sizeof(*ews));
	if (!ews) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned w = 0; w < d->n_workers; w++) {
		ews[w] = engine_worker_new(rs, flow_table_capacity(d->ft));
		if (!ews[w]) {
			err = -ENOMEM;
			goto out;
		}
	}

	daemon_lock(d);
	for (unsigned w = 0; w < d->n_workers; w++) {
		struct engine_worker *prev = d->workers[w].ew;

		/* What the old worker holds is decided by the old policy. */
		if (worker_handoff(&d->workers[w], d->rs, prev) < 0)
			handoff_lost = true;
		retire(d, d->rs, prev);
		/* Streams keep their context, so a reload opens no gap. */
		engine_worker_adopt(ews[w], prev);
		d->workers[w].ew = ews[w];
		ews[w] = prev;
	}
	old = d->rs;
	d->rs = rs;
	d->reloads++;
	daemon_unlock(d);
	for (unsigned w = 0; w < d->n_workers; w++)
		worker_wake(&d->workers[w]);
	if (handoff_lost)
		log_warnx("reload: out of memory: some held packets stay "
			  "queued without a verdict");

	/* No worker can still use the old ones: they only do under the lock. */
	if (queue_set_changed(d, rs))
		log_warnx("reload: the policy's queue numbers changed (its "
			  "inbound queues, or the outbound ones that follow "
			  "them); restart nfredactd to bind them, after the "
			  "rules (packets on queues nobody serves are dropped)");
	if (ports_changed(old, rs))
		log_warnx("reload: the services' ports changed; the queue "
			  "rules still cover the old ones: reload the rules "
			  "keeper (systemctl reload nfredact-rules), or restart "
			  "nfredactd when it keeps them itself");
	policy_free(old);
	rs = NULL;
	daemon_warn_policy(d->rs);
	log_info("reload: policy %s in effect (%u services)",
		 path ? path : "(built-in)", policy_service_count(d->rs));
out:
	if (ews)
		for (unsigned w = 0; w < d->n_workers; w++)
			engine_worker_free(ews[w]);
	free(ews);
	policy_free(rs);
	if (err) {
		daemon_lock(d);
		d->reload_failures++;
		daemon_unlock(d);
	}
	return err;
}
