/*
 * keeper.h — keep nfredact's queue rules in place: check the tables at
 * every nf_tables change notification and every second, and put them
 * back at once when they are not as the plan wants them.  Used by
 * nfredactd's privileged parent and by `nfredact ruleset --apply --hold`.
 */
#ifndef NFREDACT_KEEPER_H
#define NFREDACT_KEEPER_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"

#define KEEPER_CHECK_MS	1000

struct nftr;

struct keeper {
	struct nftr *nft;	/* NULL: nf_tables cannot be asked */
	struct rules_plan plan;	/* what the tables should hold */
	bool manage;		/* we own them: restore what is not right */
	bool v6_skipped;	/* no IPv6 on this host: no ip6 table */
	int mon;		/* change notifications, or -1 */
	uint64_t next_check_ms;	/* CLOCK_MONOTONIC */
	uint64_t last_fail_log_ms;
	/* results, for the statistics */
	bool present;
	uint64_t restored, checks;
};

/**
 * keeper_start() - subscribe to change notifications and check once.
 * The caller has filled nft, plan, manage and v6_skipped.
 */
void keeper_start(struct keeper *k);

/**
 * keeper_poll_fd() - the descriptor to poll for POLLIN (-1: none)
 */
int keeper_poll_fd(const struct keeper *k);

/**
 * keeper_timeout_ms() - how long a poll may wait before keeper_run()
 * must be called again
 */
int keeper_timeout_ms(const struct keeper *k);

/**
 * keeper_run() - after a poll: read the notifications if @readable and
 * check when something changed or the periodic check is due.
 */
void keeper_run(struct keeper *k, bool readable);

/** keeper_stop() - close the notification socket (the rules stay) */
void keeper_stop(struct keeper *k);

#endif
