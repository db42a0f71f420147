/*
 * verdict.c — verdict ordering and send coalescing decisions, free of
 * netlink so they can be tested without a kernel.
 */
#include "verdict.h"

void verdict_run_init(struct verdict_run *r)
{
	r->pending = false;
	r->last_id = 0;
	r->count = 0;
	r->held = 0;
}

void verdict_run_add(struct verdict_run *r, uint32_t id,
		     enum verdict_kind kind, struct verdict_plan *plan)
{
	plan->batch = false;
	plan->batch_id = 0;
	plan->own = false;

	if (kind == VERDICT_ACCEPT && r->held == 0) {
		r->pending = true;
		r->last_id = id;
		r->count++;
		return;
	}
	/* The batch must end before this id: flush what came before it. */
	plan->batch = verdict_run_flush(r, &plan->batch_id);
	plan->own = true;
}

void verdict_run_hold(struct verdict_run *r, uint32_t id,
		      struct verdict_plan *plan)
{
	(void)id;
	plan->batch = verdict_run_flush(r, &plan->batch_id);
	plan->own = false;
	r->held++;
}

void verdict_run_release(struct verdict_run *r, uint32_t id,
			 enum verdict_kind kind, struct verdict_plan *plan)
{
	(void)id;
	(void)kind;
	plan->batch = verdict_run_flush(r, &plan->batch_id);
	plan->own = true;
	/* A spurious release must not turn batching off for good. */
	if (r->held)
		r->held--;
}

uint32_t verdict_run_held(const struct verdict_run *r)
{
	return r->held;
}

bool verdict_run_flush(struct verdict_run *r, uint32_t *batch_id)
{
	if (!r->pending)
		return false;
	*batch_id = r->last_id;
	r->pending = false;
	r->count = 0;
	return true;
}

bool verdict_fits(size_t used, size_t add, size_t limit)
{
	return add <= limit && used <= limit - add;
}

size_t verdict_send_limit(int sndbuf, size_t bufsize)
{
	size_t k;

	/* Some headroom beyond the kernel's 32 bytes for skb accounting. */
	if (sndbuf <= 64)
		return 0;
	k = (size_t)sndbuf - 64;
	return k < bufsize ? k : bufsize;
}
