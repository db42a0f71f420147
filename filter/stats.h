/*
 * stats.h — a snapshot of the daemon's counters and its rendering for
 * the control socket: "name value" lines, or the Prometheus text
 * exposition format.  Only counters and service names: never an address.
 */
#ifndef NFREDACT_STATS_H
#define NFREDACT_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

struct stats_service {
	const char *name;	/* NULL: traffic no service covers */
	struct engine_stats st;
};

struct stats_queue {
	uint16_t num;
	bool outbound;		/* server→client packets (else client→server) */
	bool bound;		/* listed by the kernel */
	uint32_t waiting;	/* packets waiting for a verdict */
	uint64_t queue_dropped;	/* kernel: queue full */
	uint64_t user_dropped;	/* kernel: socket full */
	uint64_t packets;	/* packets read */
	uint64_t verdict_errors;	/* errors the kernel acked */
	uint64_t recv_errors;	/* failed reads (ENOBUFS ...) */
	uint64_t send_errors;	/* failed verdict sends */
	uint64_t bad_msgs;	/* messages that could not be used */
	uint64_t wrong_hook;	/* dropped: from a hook the queue never gets */
	uint64_t held;		/* packets held back now (stream scanning) */
	uint64_t held_bytes;	/* their bytes */
};

struct stats_snapshot {
	unsigned n_services;
	struct stats_service *svc;
	unsigned n_queues;
	struct stats_queue *q;
	uint32_t flows;
	uint64_t flow_bytes;
	uint64_t uptime_s;
	uint64_t reloads, reload_failures;
	uint64_t lock_acquired, lock_contended;
	uint64_t control_refused;	/* clients neither root nor in the group */
	uint64_t control_dropped;	/* closed unanswered: deadline, full table */
	bool rules_known;	/* the privileged process reports on the rules */
	bool rules_managed;	/* it installs and restores them */
	bool rules_present;	/* its last check found them in place */
	uint64_t rules_restored;	/* times it put them back */
};

/**
 * stats_add() - add the counters of @src to @dst
 */
void stats_add(struct engine_stats *dst, const struct engine_stats *src);

/**
 * stats_render() - write @s to @out
 * @prometheus: the exposition format (# HELP / # TYPE, nfredact_* names,
 *              service="..." labels) instead of "name value" lines
 * Return: 0 or -EIO when a write failed.
 */
int stats_render(FILE *out, const struct stats_snapshot *s, bool prometheus);

#endif
