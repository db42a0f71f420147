/*
 * droplog.c — rate-limited log lines about dropped packets, from the
 * growth of the counters in a stats snapshot.  One gate per service and
 * reason (and one per reason that `on-error accept` may let through)
 * decides when a line is due; services are known by name, so that their
 * gates survive a reload as their counters do.  One more gate watches
 * the packets the workers dropped for coming from a hook their queue
 * never gets (queue rules of another layout).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "droplog.h"
#include "engine.h"
#include "log.h"
#include "stats.h"

struct droplog_svc {
	char *name;		/* NULL: traffic no service covers */
	struct droplog_gate dropped[ENGINE_R__COUNT];
	struct droplog_gate accepted[ENGINE_R__COUNT];
};

struct droplog {
	struct droplog_svc *svc;
	unsigned n_svc;
	struct droplog_gate wrong_hook;	/* all queues together */
	uint64_t next_poll_ms;
	uint64_t last_check_ms;
};

void droplog_gate_init(struct droplog_gate *g, uint64_t count, uint64_t now_ms)
{
	*g = (struct droplog_gate){ .count = count, .since_ms = now_ms };
}

bool droplog_gate_step(struct droplog_gate *g, uint64_t count, uint64_t now_ms,
		       uint64_t interval_ms, uint64_t *delta, uint64_t *span_ms)
{
	if (count < g->count) {
		droplog_gate_init(g, count, now_ms);
		return false;
	}
	if (count == g->count) {
		/* quiet until now: the next growth is told from here */
		g->since_ms = now_ms;
		return false;
	}
	if (g->logged && now_ms - g->logged_ms < interval_ms)
		return false;
	*delta = count - g->count;
	*span_ms = now_ms - g->since_ms;
	g->count = count;
	g->since_ms = now_ms;
	g->logged_ms = now_ms;
	g->logged = true;
	return true;
}

int droplog_format(char *buf, size_t size, const char *service, bool accepted,
		   enum engine_reason reason, uint64_t n, uint64_t span_ms)
{
	uint64_t s = (span_ms + 500) / 1000;
	char who[160];

	if (service)
		snprintf(who, sizeof(who), "service %s", service);
	else
		snprintf(who, sizeof(who), "traffic no service covers");
	if (accepted)
		return snprintf(buf, size, "%s: passed %" PRIu64 " packet%s "
				"unchanged (%s) by on-error accept in the last "
				"%" PRIu64 " s", who, n, n == 1 ? "" : "s",
				engine_reason_name(reason), s ? s : 1);
	return snprintf(buf, size, "%s: dropped %" PRIu64 " packet%s (%s) in "
			"the last %" PRIu64 " s", who, n, n == 1 ? "" : "s",
			engine_reason_name(reason), s ? s : 1);
}

struct droplog *droplog_new(uint64_t now_ms)
{
	struct droplog *dl = calloc(1, sizeof(*dl));

	if (!dl)
		return NULL;
	dl->next_poll_ms = now_ms + DROPLOG_POLL_MS;
	dl->last_check_ms = now_ms;
	droplog_gate_init(&dl->wrong_hook, 0, now_ms);
	return dl;
}

void droplog_free(struct droplog *dl)
{
	if (!dl)
		return;
	for (unsigned i = 0; i < dl->n_svc; i++)
		free(dl->svc[i].name);
	free(dl->svc);
	free(dl);
}

bool droplog_due(struct droplog *dl, uint64_t now_ms)
{
	if (now_ms < dl->next_poll_ms)
		return false;
	dl->next_poll_ms = now_ms + DROPLOG_POLL_MS;
	return true;
}

static bool same_name(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The gates of service @name; new ones start at 0 from the last check. */
static struct droplog_svc *svc_of(struct droplog *dl, const char *name)
{
	struct droplog_svc *v, *e;
	char *copy = NULL;

	for (unsigned i = 0; i < dl->n_svc; i++)
		if (same_name(dl->svc[i].name, name))
			return &dl->svc[i];
	if (name && !(copy = strdup(name)))
		return NULL;
	v = realloc(dl->svc, (dl->n_svc + 1) * sizeof(*v));
	if (!v) {
		free(copy);
		return NULL;
	}
	dl->svc = v;
	e = &v[dl->n_svc++];
	e->name = copy;
	for (unsigned r = 0; r < ENGINE_R__COUNT; r++) {
		droplog_gate_init(&e->dropped[r], 0, dl->last_check_ms);
		droplog_gate_init(&e->accepted[r], 0, dl->last_check_ms);
	}
	return e;
}

static void emit(const char *service, bool accepted, enum engine_reason r,
		 uint64_t n, uint64_t span_ms)
{
	char line[256];

	droplog_format(line, sizeof(line), service, accepted, r, n, span_ms);
	/* TCP sends duplicates as a matter of course: no warning */
	if (r == ENGINE_R_DUPLICATE)
		log_debug("%s", line);
	else
		log_warnx("%s", line);
}

int droplog_check(struct droplog *dl, const struct stats_snapshot *s,
		  uint64_t now_ms)
{
	uint64_t wrong = 0, n, span;
	int err = 0;

	for (unsigned i = 0; i < s->n_queues; i++)
		wrong += s->q[i].wrong_hook;
	if (droplog_gate_step(&dl->wrong_hook, wrong, now_ms,
			      DROPLOG_INTERVAL_MS, &n, &span))
		log_warnx("queues: dropped %" PRIu64 " packet%s queued at a "
			  "hook their queue's direction never gets in the last "
			  "%" PRIu64 " s: the queue rules are not this "
			  "version's (compare nft list table ip nfredact with "
			  "nfredact ruleset)", n, n == 1 ? "" : "s",
			  (span + 500) / 1000 ? (span + 500) / 1000 : 1);

	for (unsigned i = 0; i < s->n_services; i++) {
		const struct stats_service *ss = &s->svc[i];
		struct droplog_svc *e = svc_of(dl, ss->name);

		if (!e) {
			err = -ENOMEM;
			continue;
		}
		for (unsigned r = ENGINE_R_NONE + 1; r < ENGINE_R__COUNT; r++) {
			uint64_t acc;

			if (droplog_gate_step(&e->dropped[r], ss->st.drops[r],
					      now_ms, DROPLOG_INTERVAL_MS, &n,
					      &span))
				emit(ss->name, false, (enum engine_reason)r, n,
				     span);
			if (!engine_reason_may_accept((enum engine_reason)r))
				continue;
			/* the failures of that reason that were not dropped */
			acc = ss->st.reasons[r] > ss->st.drops[r] ?
			      ss->st.reasons[r] - ss->st.drops[r] : 0;
			if (droplog_gate_step(&e->accepted[r], acc, now_ms,
					      DROPLOG_INTERVAL_MS, &n, &span))
				emit(ss->name, true, (enum engine_reason)r, n,
				     span);
		}
	}
	dl->last_check_ms = now_ms;
	return err;
}
