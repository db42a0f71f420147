/*
 * engine_int.h — what engine.c and stream.c share inside the engine: the
 * worker, a packet's pending checksum work, and a redaction job.  Not an
 * interface for anything outside policy/engine.c and policy/stream.c.
 */
#ifndef NFREDACT_ENGINE_INT_H
#define NFREDACT_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "engine.h"
#include "packet.h"
#include "ruleset.h"

struct stream_set;

struct engine_worker {
	const struct ruleset *rs;
	struct detect_scratch *scratch;
	struct engine_stats *stats;	/* n_services + 1 */
	unsigned n_stats;
	engine_match_cb observe;	/* engine_set_observer(); NULL: none */
	void *observe_ctx;
	uint8_t span[65536];		/* original bytes of a span being rewritten */
	uint32_t expire_tick;		/* packets, for the expiry pace */
	struct stream_set *ss;		/* TCP stream state (stream.c) */
};

/*
 * A packet's pending checksum work: the L4 checksum field, whether it is
 * updated incrementally or recomputed at the end, and whether the IPv4
 * header checksum needs it.
 */
struct csum_ctx {
	struct packet *p;
	uint8_t *l4_check;	/* NULL: the protocol has none / not present */
	bool full;		/* recompute the L4 checksum at the end */
	bool touched_l3, touched_l4;
};

void csum_ctx_init(struct csum_ctx *c, struct packet *p, unsigned flags);
void csum_ctx_finish(struct csum_ctx *c);

/*
 * patch() - replace @len bytes at @at (inside the packet) with @new,
 * keeping the checksums that cover them right.  @in_l3: part of the IPv4
 * header; @in_pseudo: part of the L4 pseudo-header (addresses).
 */
void patch(struct csum_ctx *c, uint8_t *at, const void *new, size_t len,
	   bool in_l3, bool in_pseudo);

/* Account for a payload span already rewritten in place; @old is a copy.
 * @c NULL: a stream window, not a packet (nothing to do). */
void patched_payload(struct csum_ctx *c, const uint8_t *old, uint8_t *at,
		     size_t len);

/* Redacting one inbound payload (or a stream window) of one service. */
struct redact_job {
	const struct ruleset *rs;
	struct flow_table *ft;
	struct engine_worker *w;
	const struct rs_service *svc;
	struct engine_stats *st;
	const uint8_t *epoch_key;
	uint32_t epoch;
	struct csum_ctx *cc;
	bool mask_tail;		/* a timeout decision masks the whole
				 * undecided tail */
};

/* A job for service @svc at @now_ns, with no packet (cc NULL). */
void job_for(struct redact_job *j, const struct ruleset *rs,
	     struct flow_table *ft, struct engine_worker *w, int svc,
	     uint64_t now_ns);

/*
 * What redact_matches() leaves alone and what it reports.  Offsets in
 * @after, @allow and @done count from @base bytes before the payload
 * (a stream window's start); all zero: a packet's payload on its own.
 */
struct redact_scope {
	uint32_t base;
	uint32_t after;			/* groups ending at or before: released */
	const struct detect_range *allow;	/* detect_allow(): exempt */
	int n_allow;
	const struct detect_range *done;	/* spans an earlier scan rewrote:
						 * a match touching one is left out */
	int n_done;
	struct detect_range *spans;	/* NULL, or receives the spans rewritten */
	unsigned spans_cap, n_spans;
};

/*
 * Rewrite the matches @m[0, @n) of one scan of @payload (doc/design.md
 * §5): a match wholly inside one allow range is exempt, one that
 * touches a @done span is left out; the rest, merged where they overlap,
 * are rewritten group by group (the union of each group).
 */
void redact_matches(struct redact_job *j, uint8_t *payload,
		    const struct detect_match *m, int n,
		    struct redact_scope *sc);

/* The first redact rule of the service for detector @det, or NULL. */
const struct rs_redact *rule_for(const struct rs_service *svc, enum det_kind det);

/*
 * A PROXY header at the start of @payload: its source address as the
 * proxy-protocol rule says, its other fields by the detectors, its
 * CRC32c TLV updated.  @prefix: a retransmission from the stream's
 * start, whose header may be cut short (its whole fields are redacted).
 * Return: bytes the header takes (0: none), or -errno to fail closed.
 */
int redact_proxy(struct redact_job *j, uint8_t *payload, uint32_t len,
		 bool prefix);

/* The reason to fail closed with for redact_proxy()'s -errno @rc. */
enum engine_reason proxy_reason(int rc);

/* Counters of service @svc (an index the ruleset lacks: uncovered). */
struct engine_stats *stats_of(struct engine_worker *w, int svc);

/* A packet dropped for @why, counted. */
void count_drop(struct engine_stats *st, enum engine_reason why);

/* The verdict of a packet of @svc that failed for @why, counted. */
enum engine_verdict fail_verdict(const struct rs_service *svc,
				 struct engine_stats *st, enum engine_reason why);

#endif
