/*
 * worker.c — one thread per queue: wait for packets inside the receive
 * call, read a vector of them, run each through the engine under the
 * engine lock, and send the verdicts in arrival order.  The time is read
 * once per vector.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include <linux/netfilter.h>

#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "queue.h"

/* Vectors read before the accepted run is flushed even if more wait. */
#define WORKER_BURST	4

static void handle(struct worker *w, struct queue_pkt *p, uint64_t now_ns)
{
	struct daemon *d = w->d;
	struct engine_result res;
	enum verdict_kind kind;
	enum engine_dir dir;

	if (p->bad) {
		(void)queue_verdict(w->q, p->id, VERDICT_DROP, NULL, 0);
		return;
	}
	dir = p->hook == NF_INET_LOCAL_OUT ? ENGINE_DIR_OUT : ENGINE_DIR_AUTO;

	daemon_lock(d);
	engine_process(d->rs, d->ft, w->ew, p->data, p->len, dir, now_ns,
		       p->flags, &res);
	daemon_unlock(d);

	switch (res.verdict) {
	case ENGINE_ACCEPT:
		kind = VERDICT_ACCEPT;
		break;
	case ENGINE_MODIFIED:
		/* A truncated packet must never be replaced by its stub. */
		kind = (p->flags & ENGINE_F_TRUNCATED) || res.len > p->len ?
		       VERDICT_DROP : VERDICT_MODIFIED;
		break;
	default:
		kind = VERDICT_DROP;
		break;
	}
	(void)queue_verdict(w->q, p->id, kind, p->data, res.len);
}

/* Engine time for a vector: read once, all its packets share it. */
static uint64_t vector_time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void handle_vector(struct worker *w)
{
	uint64_t now_ns = vector_time_ns();
	struct queue_pkt p;

	while (queue_next(w->q, &p))
		handle(w, &p, now_ns);
}

/* Errors of a blocking receive that say nothing about the socket itself. */
static bool recv_transient(int err)
{
	return err == -ENOBUFS || err == -ENOMEM || err == -EINTR;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	int fatal_err = 0;

	while (!atomic_load(&d->stop)) {
		/* Blocks (bounded) only here, with every verdict sent. */
		int n = queue_recv(w->q, true);

		if (n < 0 && !recv_transient(n)) {
			fatal_err = -n;
			break;
		}
		if (n <= 0)
			continue;
		handle_vector(w);
		for (unsigned burst = 1; burst < WORKER_BURST &&
		     !queue_drained(w->q) && !atomic_load(&d->stop); burst++) {
			/* ENOBUFS and the like are counted; keep serving. */
			if (queue_recv(w->q, false) <= 0)
				break;
			handle_vector(w);
		}
		(void)queue_flush(w->q);
	}
	(void)queue_flush(w->q);
	if (fatal_err) {
		errno = fatal_err;
		log_warn("queue %u: receive", queue_num(w->q));
		atomic_store(&d->failed, true);
		atomic_store(&d->stop, true);
	}
	return NULL;
}

int worker_start(struct worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	if (err)
		return -err;
	w->started = true;
	return 0;
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}
