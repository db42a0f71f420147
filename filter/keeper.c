/*
 * keeper.c — keep the queue rules in place (keeper.h).
 *
 * While the keeper owns the tables nobody else can change them and
 * `nft flush ruleset` passes them by, so a check normally finds them as
 * they were.  It checks anyway: on a kernel without persistent tables
 * they cannot be owned, and a failure we have not thought of must be
 * seen and mended, not assumed away.  Every restore is logged with its
 * reason and counted; repeated failures are logged at most every 10 s.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"
#include "log.h"
#include "nftrules.h"

#define KEEPER_LOG_EVERY_MS	10000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void check(struct keeper *k, const char *event)
{
	bool present = true;

	k->checks++;
	for (int family = 4; family <= 6; family += 2) {
		unsigned fi = family == 4 ? 0 : 1;
		const char *why;
		uint64_t t0;
		int rc;

		if (!k->plan.n[fi] || (family == 6 && k->v6_skipped))
			continue;
		rc = nftr_check(k->nft, &k->plan, family, k->manage, &why);
		if (rc == 1)
			continue;
		if (rc < 0)
			why = "it cannot be checked";
		if (!k->manage) {
			present = false;
			continue;
		}
		t0 = now_ms();
		rc = nftr_install(k->nft, &k->plan, family, true);
		if (rc) {
			present = false;
			if (now_ms() - k->last_fail_log_ms >= KEEPER_LOG_EVERY_MS) {
				errno = -rc;
				log_warn("queue rules (table ip%s nfredact): %s, "
					 "and restoring them failed",
					 family == 4 ? "" : "6", why);
				k->last_fail_log_ms = now_ms();
			}
			continue;
		}
		k->restored++;
		log_warnx("queue rules (table ip%s nfredact): %s (seen %s); "
			  "restored in %llu ms", family == 4 ? "" : "6", why,
			  event, (unsigned long long)(now_ms() - t0));
	}
	k->present = present;
	k->next_check_ms = now_ms() + KEEPER_CHECK_MS;
}

void keeper_start(struct keeper *k)
{
	k->mon = -1;
	k->present = false;
	if (!k->nft)
		return;
	k->mon = nftr_monitor_open();
	if (k->mon < 0) {
		errno = -k->mon;
		log_warn("nf_tables notifications; checking the queue rules "
			 "every %d ms only", KEEPER_CHECK_MS);
		k->mon = -1;
	}
	check(k, "at start");
}

int keeper_poll_fd(const struct keeper *k)
{
	return k->mon;
}

int keeper_timeout_ms(const struct keeper *k)
{
	uint64_t now = now_ms();

	if (!k->nft)
		return -1;
	return k->next_check_ms > now ? (int)(k->next_check_ms - now) : 0;
}

void keeper_run(struct keeper *k, bool readable)
{
	if (!k->nft)
		return;
	if (readable && k->mon >= 0 && nftr_monitor_drain(k->mon) > 0)
		check(k, "on an nf_tables change");
	else if (now_ms() >= k->next_check_ms)
		check(k, "by the periodic check");
}

void keeper_stop(struct keeper *k)
{
	if (k->mon >= 0)
		close(k->mon);
	k->mon = -1;
}
