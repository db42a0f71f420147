/*
 * worker.c — one thread per queue: wait for packets inside the receive
 * call, read a vector of them, run them through the engine under one
 * hold of the engine lock, then send the verdicts in arrival order.  The
 * time is read once per vector.  After a burst the thread yields once
 * before it blocks again, so that a busy queue costs fewer wake-ups.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sched.h>
#include <time.h>

#include <linux/netfilter.h>

#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "queue.h"

/* Vectors read before the accepted run is flushed even if more wait. */
#define WORKER_BURST	4
/* Packets run through the engine per hold of the engine lock. */
#define WORKER_ITEMS	32
/* Packets in one wake-up that make it a burst (see worker_main). */
#define WORKER_YIELD_MIN	8

/* A packet of the vector being handled and what the engine made of it. */
struct worker_item {
	struct queue_pkt pkt;
	struct engine_result res;
};

static enum verdict_kind verdict_of(const struct worker_item *it)
{
	const struct queue_pkt *p = &it->pkt;

	if (p->bad)
		return VERDICT_DROP;
	switch (it->res.verdict) {
	case ENGINE_ACCEPT:
		return VERDICT_ACCEPT;
	case ENGINE_MODIFIED:
		/* A truncated packet must never be replaced by its stub. */
		return (p->flags & ENGINE_F_TRUNCATED) || it->res.len > p->len ?
		       VERDICT_DROP : VERDICT_MODIFIED;
	default:
		return VERDICT_DROP;
	}
}

/* Engine time for a vector: read once, all its packets share it. */
static uint64_t vector_time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The engine lock is taken once for up to WORKER_ITEMS packets rather
 * than once per packet; the verdicts (which may send) come after it is
 * released, in arrival order.
 */
static unsigned handle_vector(struct worker *w)
{
	struct worker_item items[WORKER_ITEMS];
	struct daemon *d = w->d;
	uint64_t now_ns = vector_time_ns();
	unsigned n, total = 0;

	do {
		for (n = 0; n < WORKER_ITEMS && queue_next(w->q, &items[n].pkt);
		     n++)
			;
		if (n == 0)
			break;
		total += n;
		daemon_lock(d);
		for (unsigned i = 0; i < n; i++) {
			struct queue_pkt *p = &items[i].pkt;

			if (p->bad) {
				items[i].res.len = 0;
				continue;
			}
			engine_process(d->rs, d->ft, w->ew, p->data, p->len,
				       p->hook == NF_INET_LOCAL_OUT ?
				       ENGINE_DIR_OUT : ENGINE_DIR_AUTO,
				       now_ns, p->flags, &items[i].res);
		}
		daemon_unlock(d);
		for (unsigned i = 0; i < n; i++)
			(void)queue_verdict(w->q, items[i].pkt.id,
					    verdict_of(&items[i]),
					    items[i].pkt.data, items[i].res.len);
	} while (n == WORKER_ITEMS);
	return total;
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
		unsigned handled;
		int n;

		/* Blocks (bounded) only here, with every verdict sent. */
		n = queue_recv(w->q, true);

		if (n < 0 && !recv_transient(n)) {
			fatal_err = -n;
			break;
		}
		if (n <= 0)
			continue;
		handled = handle_vector(w);
		for (unsigned burst = 1; burst < WORKER_BURST &&
		     !queue_drained(w->q) && !atomic_load(&d->stop); burst++) {
			/* ENOBUFS and the like are counted; keep serving. */
			if (queue_recv(w->q, false) <= 0)
				break;
			handled += handle_vector(w);
		}
		(void)queue_flush(w->q);
		/*
		 * Under a burst, let the receivers just woken by our verdicts
		 * run before we block: their answers then come back in the
		 * next vector instead of each waking us again.  Once per
		 * wake-up, never when idle: a lone packet still waits in
		 * recvmmsg() at once.
		 */
		if (handled >= WORKER_YIELD_MIN)
			sched_yield();
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
