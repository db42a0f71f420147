/*
 * droplog.h — log lines about dropped packets, made from the growth of
 * the engine's counters (drops[] per service and reason): the packet path
 * only counts, it formats nothing and takes no lock for this.  At most one
 * line per service and reason every DROPLOG_INTERVAL_MS:
 *
 *   service mqtt: dropped 917 packets (table-full) in the last 10 s
 *
 * Packets that `on-error accept` let through get a line of their own,
 * and so do packets the workers dropped for coming from a hook their
 * queue never gets (the queues' wrong_hook counters, all together).
 * Lines carry a service name, a reason and a count: never an address or
 * an identifier.
 */
#ifndef NFREDACT_DROPLOG_H
#define NFREDACT_DROPLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct droplog;
struct stats_snapshot;

#define DROPLOG_INTERVAL_MS	10000	/* lines of one service and reason */
#define DROPLOG_POLL_MS		1000	/* how often the counters are read */

/* When the growth of one counter is worth a line. */
struct droplog_gate {
	uint64_t count;		/* the counter when last told or seen still */
	uint64_t since_ms;	/* the time of that */
	uint64_t logged_ms;	/* the last line, when @logged */
	bool logged;
};

/**
 * droplog_gate_init() - start @g with the counter at @count at @now_ms
 */
void droplog_gate_init(struct droplog_gate *g, uint64_t count, uint64_t now_ms);

/**
 * droplog_gate_step() - look at a counter again; a pure function of @g
 * and the arguments
 * @g:           the counter's gate
 * @count:       the counter now (a smaller one than before starts over)
 * @now_ms:      a monotonic clock in ms, never going back
 * @interval_ms: lines of one gate are at least this far apart
 * @delta:       set, when a line is due, to the growth to tell
 * @span_ms:     set, when a line is due, to the time it grew in: since
 *               the last line, or since the counter was last seen still
 *
 * Growth within @interval_ms of the last line is kept for the next one.
 * Return: true when a line is due now.
 */
bool droplog_gate_step(struct droplog_gate *g, uint64_t count, uint64_t now_ms,
		       uint64_t interval_ms, uint64_t *delta, uint64_t *span_ms);

/**
 * droplog_format() - one line, without the log's own prefix
 * @buf, @size: where to write it (always terminated when @size > 0)
 * @service:    the service's name, NULL for traffic no service covers
 * @accepted:   the packets passed by `on-error accept` (not dropped)
 * @reason:     why
 * @n:          how many packets
 * @span_ms:    in what time (told in whole seconds, at least 1)
 * Return: the length of the whole line, as snprintf().
 */
int droplog_format(char *buf, size_t size, const char *service, bool accepted,
		   enum engine_reason reason, uint64_t n, uint64_t span_ms);

/**
 * droplog_new() - the gates of every service and reason, all at 0 from
 * @now_ms (the counters of a daemon that has just started)
 * Return: the droplog (droplog_free()) or NULL.
 */
struct droplog *droplog_new(uint64_t now_ms);

/** droplog_free() - free; NULL is fine */
void droplog_free(struct droplog *dl);

/**
 * droplog_due() - whether the counters should be read at @now_ms (at
 * most every DROPLOG_POLL_MS); when true, the next is due a poll later
 * Return: true when droplog_check() should run now.
 */
bool droplog_due(struct droplog *dl, uint64_t now_ms);

/**
 * droplog_check() - log the lines that the counters of @s (per service
 * name, as daemon_snapshot() adds them up) make due at @now_ms.  A
 * service new to @dl starts at 0 from the previous check.
 * Return: 0, or -ENOMEM when a new service could not be remembered (its
 * lines come at a later check).
 */
int droplog_check(struct droplog *dl, const struct stats_snapshot *s,
		  uint64_t now_ms);

#endif
