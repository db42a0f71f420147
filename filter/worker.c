/*
 * worker.c — one thread per queue: wait for packets inside the receive
 * call, read a vector of them, run them through the engine under one
 * hold of the engine lock, then send the verdicts in arrival order.  The
 * time is read once per vector.  After a burst the thread yields once
 * before it blocks again, so that a busy queue costs fewer wake-ups.
 *
 * The queue says the direction: the engine is told ENGINE_DIR_IN for
 * every packet of an inbound queue and ENGINE_DIR_OUT for every packet
 * of an outbound one (struct worker.dir), never left to guess from
 * ports.  A packet from a hook the queue's rules never use (tables of
 * another queue layout) is dropped and counted, not given a direction.
 *
 * Stream scanning may hold a TCP segment back (ENGINE_HOLD): it gets no
 * verdict until the engine releases it, after a later packet or when its
 * hold time passes.  While something is held the thread waits in ppoll()
 * no longer than the earliest hold deadline, so that engine_tick() runs
 * on time.  The verdicts for what a reload or the shutdown decides are
 * sent from here too, since only this thread writes to the queue's
 * socket.
 *
 * Every wait is bounded (QUEUE_WAIT_MS), so the thread goes round its
 * loop at least that often even when idle, and stamps alive_ms each time
 * for the watchdog (daemon_workers_alive()).  The first worker also reads
 * the counters once a second, outside the packet path, and logs what was
 * dropped (droplog.h).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "daemon.h"
#include "droplog.h"
#include "engine.h"
#include "log.h"
#include "queue.h"
#include "stats.h"

/* Vectors read before the accepted run is flushed even if more wait. */
#define WORKER_BURST	4
/* Packets run through the engine per hold of the engine lock. */
#define WORKER_ITEMS	32
/* Packets in one wake-up that make it a burst (see worker_main). */
#define WORKER_YIELD_MIN	8

/* An idle worker still goes round its loop: alive_ms stays fresh. */
_Static_assert(QUEUE_WAIT_MS <= 1000, "the worker must wake every second");

/* A packet of the vector being handled and what the engine made of it. */
struct worker_item {
	struct queue_pkt pkt;
	struct engine_result res;
};

static enum verdict_kind kind_of(enum engine_verdict v)
{
	switch (v) {
	case ENGINE_ACCEPT:
		return VERDICT_ACCEPT;
	case ENGINE_MODIFIED:
		return VERDICT_MODIFIED;
	default:
		return VERDICT_DROP;
	}
}

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

/* The engine's clock: the one epochs and hold deadlines use. */
static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The liveness clock (struct worker.alive_ms), in ms. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned worker_hooks(enum engine_dir dir, bool forward)
{
	if (dir == ENGINE_DIR_IN)
		return 1u << NF_INET_PRE_ROUTING;
	return 1u << NF_INET_LOCAL_OUT |
	       (forward ? 1u << NF_INET_PRE_ROUTING : 0);
}

/*
 * Whether @hook is one the rules queue @w's packets at: a client packet
 * on an outbound queue (or the server's reply on an inbound one) would
 * otherwise be taken the wrong way round.
 */
static bool hook_fits(const struct worker *w, uint8_t hook)
{
	return hook < 32 && (w->hooks >> hook & 1u);
}

static void count_wrong_hook(struct worker *w)
{
	atomic_store_explicit(&w->wrong_hook,
			      atomic_load_explicit(&w->wrong_hook,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Our name for a packet in the engine: the queue and the packet id. */
static uint64_t cookie_of(const struct worker *w, uint32_t id)
{
	return (uint64_t)queue_num(w->q) << 32 | id;
}

/* The verdicts of items [from, to): a held one gets none now. */
static void put_verdicts(struct worker *w, const struct worker_item *items,
			 unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		const struct worker_item *it = &items[i];

		if (!it->pkt.bad && it->res.verdict == ENGINE_HOLD)
			(void)queue_hold(w->q, it->pkt.id, it->pkt.len);
		else
			(void)queue_verdict(w->q, it->pkt.id, verdict_of(it),
					    it->pkt.data, it->res.len);
	}
}

/*
 * Under the lock: the verdicts of the held packets the engine has just
 * decided, in its order.  Their contents live in the engine worker and
 * last only until its next call (or a reload that frees it), so they are
 * copied into the send buffer now, which sends it when full: rare.
 */
static void put_releases(struct worker *w, struct engine_release *rel)
{
	do {
		/* Holds live in the worker of their own queue. */
		if ((uint16_t)(rel->cookie >> 32) != queue_num(w->q))
			continue;
		(void)queue_release(w->q, (uint32_t)rel->cookie,
				    kind_of(rel->verdict), rel->data, rel->len);
	} while (engine_next_release(w->ew, rel));
}

/*
 * The engine lock is taken once for up to WORKER_ITEMS packets rather
 * than once per packet; the verdicts (which may send) come after it is
 * released, in arrival order.  Only when the engine releases held
 * packets are the verdicts before them put under the lock: the released
 * ones go after those and before the packet that released them (after
 * it when it is held itself).
 */
static unsigned handle_vector(struct worker *w)
{
	struct worker_item items[WORKER_ITEMS];
	struct daemon *d = w->d;
	uint64_t now_ns = wall_ns();
	unsigned n, total = 0;

	do {
		struct engine_release rel;
		unsigned put = 0;

		for (n = 0; n < WORKER_ITEMS && queue_next(w->q, &items[n].pkt);
		     n++)
			;
		if (n == 0)
			break;
		total += n;
		daemon_lock(d);
		for (unsigned i = 0; i < n; i++) {
			struct queue_pkt *p = &items[i].pkt;

			if (!p->bad && !hook_fits(w, p->hook)) {
				/* fail closed: dropped as a bad packet */
				count_wrong_hook(w);
				p->bad = true;
			}
			if (p->bad) {
				items[i].res.len = 0;
				continue;
			}
			engine_process(d->rs, d->ft, w->ew, p->data, p->len,
				       w->dir, now_ns, p->flags,
				       cookie_of(w, p->id), &items[i].res);
			if (engine_next_release(w->ew, &rel)) {
				/*
				 * A packet held now is noted first: the engine
				 * may release it in the same call.
				 */
				unsigned upto = items[i].res.verdict ==
						ENGINE_HOLD ? i + 1 : i;

				put_verdicts(w, items, put, upto);
				put = upto;
				put_releases(w, &rel);
			}
		}
		daemon_unlock(d);
		put_verdicts(w, items, put, n);
	} while (n == WORKER_ITEMS);
	return total;
}

/* Send what a reload left for this queue; the copies are ours to free. */
static void take_handoff(struct worker *w)
{
	struct engine_release *h;
	uint64_t ignored;
	unsigned n;

	if (read(w->wake_fd, &ignored, sizeof(ignored)) < 0 && errno != EAGAIN)
		return;
	daemon_lock(w->d);
	h = w->handoff;
	n = w->n_handoff;
	w->handoff = NULL;
	w->n_handoff = 0;
	w->handoff_cap = 0;
	daemon_unlock(w->d);
	for (unsigned i = 0; i < n; i++) {
		(void)queue_release(w->q, (uint32_t)h[i].cookie,
				    kind_of(h[i].verdict), h[i].data, h[i].len);
		free(h[i].data);
	}
	free(h);
}

/*
 * Decide the holds whose time has passed.  Return: the next hold
 * deadline, 0 when the engine holds nothing.
 */
static uint64_t tick(struct worker *w)
{
	struct engine_release rel;
	struct daemon *d = w->d;
	uint64_t now = wall_ns(), next;

	daemon_lock(d);
	next = engine_hold_deadline(w->ew);
	if (next && next <= now) {
		engine_tick(d->rs, d->ft, w->ew, now);
		if (engine_next_release(w->ew, &rel))
			put_releases(w, &rel);
		next = engine_hold_deadline(w->ew);
	}
	daemon_unlock(d);
	return next;
}

/*
 * Wait for packets while something is held: until the earliest hold
 * deadline at most, or a reload's handoff.  Return: as queue_recv().
 */
static int wait_held(struct worker *w, uint64_t deadline)
{
	struct pollfd pfd[2] = {
		{ .fd = queue_fd(w->q), .events = POLLIN },
		{ .fd = w->wake_fd, .events = POLLIN },
	};
	uint64_t wait = (uint64_t)QUEUE_WAIT_MS * 1000000u, now = wall_ns();
	struct timespec ts;
	int r;

	if (deadline)
		wait = deadline <= now ? 0 :
		       deadline - now < wait ? deadline - now : wait;
	ts.tv_sec = (time_t)(wait / 1000000000u);
	ts.tv_nsec = (long)(wait % 1000000000u);
	r = ppoll(pfd, 2, &ts, NULL);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[1].revents)
		take_handoff(w);
	return pfd[0].revents ? queue_recv(w->q, false) : 0;
}

/*
 * The first worker's: once a second, the counters of every worker added
 * up, and a line for what was dropped (rate-limited per service and
 * reason in droplog.c).  The packet path only counts.
 */
static void log_drops(struct worker *w)
{
	struct stats_snapshot s;
	uint64_t now = mono_ms();

	if (!droplog_due(w->droplog, now) || daemon_snapshot(w->d, &s) < 0)
		return;
	(void)droplog_check(w->droplog, &s, now);
	daemon_snapshot_free(&s);
}

/*
 * Before the thread ends: nothing may stay held with nobody to release
 * it.  Held segments are dropped, not decided: the client's TCP sends
 * them again to the next reader of the queue, which then sees each
 * identifier whole (engine_drop_all()).
 */
static void release_all(struct worker *w)
{
	struct engine_release rel;
	struct daemon *d = w->d;

	take_handoff(w);
	daemon_lock(d);
	engine_drop_all(w->ew);
	if (engine_next_release(w->ew, &rel))
		put_releases(w, &rel);
	daemon_unlock(d);
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
	uint64_t deadline = 0;
	int fatal_err = 0;

	while (!atomic_load(&d->stop)) {
		unsigned handled = 0;
		int n;

		atomic_store_explicit(&w->alive_ms, mono_ms(), memory_order_relaxed);

		/*
		 * Blocks (bounded) only here, with every verdict sent.  With
		 * nothing held (the engine's holds are this queue's held
		 * packets) a reload has nothing to hand over either.
		 */
		if (queue_held(w->q))
			n = wait_held(w, deadline);
		else
			n = queue_recv(w->q, true);

		if (n < 0 && !recv_transient(n)) {
			fatal_err = -n;
			break;
		}
		if (n > 0) {
			handled = handle_vector(w);
			for (unsigned burst = 1; burst < WORKER_BURST &&
			     !queue_drained(w->q) && !atomic_load(&d->stop);
			     burst++) {
				/* ENOBUFS and the like are counted; keep serving. */
				if (queue_recv(w->q, false) <= 0)
					break;
				handled += handle_vector(w);
			}
		}
		deadline = queue_held(w->q) ? tick(w) : 0;
		(void)queue_flush(w->q);
		if (w->droplog)
			log_drops(w);
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
	release_all(w);
	(void)queue_flush(w->q);
	if (fatal_err) {
		errno = fatal_err;
		log_warn("queue %u: receive", queue_num(w->q));
		atomic_store(&d->failed, true);
		atomic_store(&d->stop, true);
	}
	return NULL;
}

int worker_handoff(struct worker *w, const struct ruleset *rs,
		   struct engine_worker *ew)
{
	struct engine_release rel;
	int err = 0;

	engine_release_all(rs, w->d->ft, ew);
	while (engine_next_release(ew, &rel)) {
		struct engine_release *h;

		if (w->n_handoff == w->handoff_cap) {
			unsigned cap = w->handoff_cap ? 2 * w->handoff_cap : 16;

			h = realloc(w->handoff, cap * sizeof(*h));
			if (!h) {
				err = -ENOMEM;
				continue;
			}
			w->handoff = h;
			w->handoff_cap = cap;
		}
		h = &w->handoff[w->n_handoff++];
		*h = rel;
		h->data = NULL;
		if (rel.verdict == ENGINE_MODIFIED) {
			h->data = malloc(rel.len ? rel.len : 1);
			if (h->data)
				memcpy(h->data, rel.data, rel.len);
			else
				h->verdict = ENGINE_DROP;	/* fail closed */
		}
	}
	return err;
}

void worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (w->started && w->wake_fd >= 0)
		(void)!write(w->wake_fd, &one, sizeof(one));
}

int worker_start(struct worker *w)
{
	int err;

	if (w == &w->d->workers[0]) {
		w->droplog = droplog_new(mono_ms());
		if (!w->droplog)
			return -ENOMEM;
	}
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		err = -errno;
		goto fail;
	}
	atomic_store(&w->alive_ms, mono_ms());
	err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		close(w->wake_fd);
		w->wake_fd = -1;
		err = -err;
		goto fail;
	}
	w->started = true;
	return 0;
fail:
	droplog_free(w->droplog);
	w->droplog = NULL;
	return err;
}

void worker_join(struct worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		close(w->wake_fd);
		w->wake_fd = -1;
	}
	w->started = false;
	/* Left only by a reload while the thread could not run. */
	for (unsigned i = 0; i < w->n_handoff; i++)
		free(w->handoff[i].data);
	free(w->handoff);
	w->handoff = NULL;
	w->n_handoff = w->handoff_cap = 0;
	droplog_free(w->droplog);
	w->droplog = NULL;
}
