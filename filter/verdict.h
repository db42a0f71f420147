/*
 * verdict.h — the order of verdict messages, as a pure state machine.
 *
 * Verdicts go out strictly in arrival order.  A run of unchanged packets
 * is covered by one NFQNL_MSG_VERDICT_BATCH (accept every id <= N); a
 * modified packet needs its own verdict with its payload, and a dropped
 * one its own NF_DROP.  A batch applies to every id up to N, so it must
 * be flushed before any own verdict and never cover a dropped or
 * modified id.  The queue code turns the plan into netlink messages.
 *
 * A packet the engine holds back (stream scanning waits for the next
 * segment) stays in the kernel's queue with no verdict until the engine
 * releases it.  Packet ids only grow, so every packet that arrives while
 * one is held has a higher id than it, and any batch would accept the
 * held packet unredacted: while anything is held, accepted packets get
 * their own verdicts and no batch is sent.
 */
#ifndef NFREDACT_VERDICT_H
#define NFREDACT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum verdict_kind {
	VERDICT_ACCEPT,		/* unchanged: joins the accepted run
				   (own NF_ACCEPT while one is held) */
	VERDICT_MODIFIED,	/* own verdict: NF_ACCEPT + payload */
	VERDICT_DROP,		/* own verdict: NF_DROP */
};

/* The accepted run not yet covered by a batch verdict. */
struct verdict_run {
	bool pending;
	uint32_t last_id;	/* highest id of the run */
	uint32_t count;		/* packets in the run */
	uint32_t held;		/* packets held back, not yet released */
};

/* What to send for one packet, in this order. */
struct verdict_plan {
	bool batch;		/* first a batch verdict: accept <= batch_id */
	uint32_t batch_id;
	bool own;		/* then this packet's own verdict */
};

/** verdict_run_init() - an empty run */
void verdict_run_init(struct verdict_run *r);

/**
 * verdict_run_add() - note the decision for packet @id (in arrival order)
 * @r:    the run
 * @id:   the packet id
 * @kind: what the packet gets
 * @plan: receives the messages to send now (possibly none: an accepted
 *        packet only extends the run)
 */
void verdict_run_add(struct verdict_run *r, uint32_t id,
		     enum verdict_kind kind, struct verdict_plan *plan);

/**
 * verdict_run_hold() - note that packet @id (in arrival order) is held
 * back: it gets no verdict now, and no batch may be sent until it is
 * released
 * @plan: receives the messages to send now: the batch that ends the
 *        accepted run before @id, if any
 */
void verdict_run_hold(struct verdict_run *r, uint32_t id,
		      struct verdict_plan *plan);

/**
 * verdict_run_release() - the decision for held packet @id: always its
 * own verdict (an accepted one too: a batch could not single it out),
 * after the accepted run before it, if any
 * @plan: receives the messages to send now
 */
void verdict_run_release(struct verdict_run *r, uint32_t id,
			 enum verdict_kind kind, struct verdict_plan *plan);

/** verdict_run_held() - packets held back and not yet released */
uint32_t verdict_run_held(const struct verdict_run *r);

/**
 * verdict_run_flush() - end the run, e.g. when the socket is drained
 * Return: true with *@batch_id set when a batch verdict must be sent.
 */
bool verdict_run_flush(struct verdict_run *r, uint32_t *batch_id);

/**
 * verdict_fits() - whether @add more bytes fit in a send buffer holding
 * @used bytes that may carry at most @limit bytes in one sendmsg()
 */
bool verdict_fits(size_t used, size_t add, size_t limit);

/**
 * verdict_send_limit() - bytes one netlink sendmsg() may carry: the
 * kernel refuses messages longer than the socket's send buffer less 32
 * bytes (netlink_sendmsg), and our buffer has @bufsize bytes.
 * @sndbuf: SO_SNDBUF as getsockopt() reports it
 * Return: the limit, 0 when the socket buffer is unusably small.
 */
size_t verdict_send_limit(int sndbuf, size_t bufsize);

#endif
