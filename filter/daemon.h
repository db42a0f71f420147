/*
 * daemon.h — the state nfredactd's threads share.
 *
 * Concurrency: the flow table is not thread-safe and the two directions
 * of one flow may arrive on different queues, so one mutex (lock) guards
 * the engine: the ruleset pointer, the flow table (with the keyring the
 * ruleset holds) and every worker's engine_worker.  A worker holds it
 * around the engine_process() calls of one vector of packets (a
 * bounded number), and when the engine releases held packets, while it
 * copies them and the verdicts before them into its send buffer (they
 * live in the engine worker, which a reload frees); that may send the
 * buffer when it is full, otherwise there is no netlink I/O under the
 * lock.  Its counters
 * live in its own engine_worker, so they need no further locking.  The
 * lock counts how often it had to wait (stats: lock.contended), which
 * tells when finer-grained locking would pay.
 */
#ifndef NFREDACT_DAEMON_H
#define NFREDACT_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"

struct queue;
struct droplog;
struct flow_table;
struct ruleset;
struct stats_snapshot;
struct privsep_shared;

/* Counters of services gone by a reload, kept by service name. */
struct svc_total {
	char *name;		/* NULL: traffic no service covers */
	struct engine_stats st;
};

struct worker {
	struct daemon *d;
	struct queue *q;
	/*
	 * The direction of every packet of @q: the queue rules send
	 * client→server packets to the inbound queues and everything going
	 * back to clients to the outbound ones (rules.h), so the engine is
	 * told, never left to guess (ENGINE_DIR_IN or ENGINE_DIR_OUT).
	 */
	enum engine_dir dir;
	/*
	 * Bit (1u << NF_INET_*) of each hook the rules queue @q's packets
	 * at: prerouting for an inbound queue; output, and prerouting with
	 * --forward, for an outbound one.  A packet from another hook was
	 * queued by rules of another layout: it is dropped and counted in
	 * @wrong_hook (written by the worker's thread only).
	 */
	unsigned hooks;
	_Atomic uint64_t wrong_hook;
	struct engine_worker *ew;	/* guarded by d->lock */
	pthread_t thread;
	bool started;
	/*
	 * Held packets that a reload decided when it retired @ew: copies
	 * (data malloc'd, NULL unless MODIFIED) that only this worker may
	 * verdict, since only it writes to its queue's socket.  Guarded by
	 * d->lock; wake_fd (an eventfd) tells the worker they are there.
	 */
	struct engine_release *handoff;
	unsigned n_handoff, handoff_cap;
	int wake_fd;
	/* CLOCK_MONOTONIC ms of the thread's last loop (at least every 1 s) */
	_Atomic uint64_t alive_ms;
	/* the first worker's: logs drops, rate-limited (droplog.h) */
	struct droplog *droplog;
};

struct daemon {
	pthread_mutex_t lock;
	/* guarded by lock; only the main thread replaces rs */
	struct ruleset *rs;
	struct flow_table *ft;
	struct svc_total *retired;
	unsigned n_retired;
	uint64_t lock_acquired, lock_contended;
	uint64_t reloads, reload_failures;

	struct worker *workers;
	unsigned n_workers;
	atomic_bool stop;
	atomic_bool failed;	/* a thread gave up: exit non-zero */
	struct timespec started;	/* CLOCK_MONOTONIC */

	int control_fd;
	struct privsep_shared *shared;	/* the parent's view of the rules */
	/* the control thread's own: it counts them and it takes snapshots */
	uint64_t control_refused, control_dropped;
	int nfq_fd;		/* the kernel's queue counters, or -1 */
	pthread_t control_thread;
	bool control_started;
};

/** daemon_lock() - take the engine lock, counting contention */
void daemon_lock(struct daemon *d);

/** daemon_unlock() - release the engine lock */
void daemon_unlock(struct daemon *d);

/**
 * daemon_workers_alive() - whether every started worker thread went
 * round its loop within the last @max_age_ms (struct worker.alive_ms),
 * for the service manager's watchdog.  A worker loops at least once a
 * second while it runs, so @max_age_ms should be a few seconds.
 * Return: false when a started worker's stamp is older.
 */
bool daemon_workers_alive(struct daemon *d, uint64_t max_age_ms);

/**
 * daemon_snapshot() - every counter, added up over the workers and the
 * services retired by reloads, with the kernel's queue drop counters
 * @s: filled; free with daemon_snapshot_free()
 * Return: 0 or -ENOMEM.
 */
int daemon_snapshot(struct daemon *d, struct stats_snapshot *s);

/** daemon_snapshot_free() - free what daemon_snapshot() allocated */
void daemon_snapshot_free(struct stats_snapshot *s);

/**
 * daemon_reload() - load @path and, if it has no errors, swap it in for
 * the current ruleset under the lock; counters are carried over by
 * service name; the flow table stays.  Diagnostics go to stderr.  A
 * changed queue set is not rebound: a warning says to restart.
 * Return: 0, or -EINVAL (the old policy stays), -ENOMEM.
 */
int daemon_reload(struct daemon *d, const char *path);

/**
 * daemon_warn_policy() - log the policy's risky settings (on-error accept)
 */
void daemon_warn_policy(const struct ruleset *rs);

/**
 * worker_start() - start the thread serving @w->q.  Before it stops, the
 * thread drops every packet its engine worker still holds
 * (engine_drop_all(): TCP sends them again to the next reader).  The first worker
 * (d->workers[0]) also logs the drops of all, rate-limited (droplog.h).
 * Return: 0 or -errno (-ENOMEM, or what eventfd() and pthread_create()
 * return).
 */
int worker_start(struct worker *w);

/**
 * worker_hooks() - the hooks (bit 1u << NF_INET_*) at which the queue
 * rules (rules.h) send packets to a queue of direction @dir: prerouting
 * (chain inbound) for ENGINE_DIR_IN; output (chain outbound), and with
 * @forward prerouting (chain replies), for ENGINE_DIR_OUT.  For struct
 * worker.hooks.
 */
unsigned worker_hooks(enum engine_dir dir, bool forward);

/** worker_join() - wait for the worker (after d->stop is set) */
void worker_join(struct worker *w);

/**
 * worker_handoff() - under the lock, before a reload frees @ew (the
 * engine worker that @w used): decide everything @ew holds and leave
 * copies of the verdicts for @w's thread, which sends them before its
 * next packets; then call worker_wake().
 * Return: 0, or -ENOMEM (the packets that could not be recorded stay in
 * the kernel's queue until it is unbound).
 */
int worker_handoff(struct worker *w, const struct ruleset *rs,
		   struct engine_worker *ew);

/** worker_wake() - have the worker look at its handoff now */
void worker_wake(struct worker *w);

/**
 * control_start() - serve d->control_fd in a thread until d->stop: up to
 * 16 clients at once, each closed 2 s after it was accepted; only root
 * and members of CONTROL_GROUP are answered (SO_PEERCRED, SO_PEERGROUPS)
 * Return: 0 or -errno.
 */
int control_start(struct daemon *d);

/** control_join() - wait for the control thread */
void control_join(struct daemon *d);

#endif
