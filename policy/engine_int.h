/*
 * engine_int.h — what the parts of the engine share: the worker, a
 * packet's pending checksum work (patch.c), a redaction job (redact.c),
 * pseudonyms (pseudonym.c), the counters and verdicts (engine.c).  The
 * TCP streams (stream.c) use it too.  Not an interface for anything
 * outside those files.
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

struct flow_table;
struct rs_addr_rule;
struct rs_redact;
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

/* ---- patch.c ----------------------------------------------------------- */

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

/* Start the checksum work of @p; @flags: engine_process()'s. */
void csum_ctx_init(struct csum_ctx *c, struct packet *p, unsigned flags);

/* Recompute the L4 checksum when it was to be (@c->full) and bytes changed. */
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

/*
 * In the header an ICMP error quotes, replace the address at @addr with
 * @to and the port at @port_at with @port_net (network order), keeping
 * the quote's own checksums (IPv4 header, L4) and the ICMP one right.
 * @scratch: room for a copy of the quote (up to 65535 bytes).
 */
void patch_quote(struct csum_ctx *c, uint8_t *addr, const uint8_t *to,
		 uint8_t *port_at, uint16_t port_net, uint8_t *scratch);

/* ---- redact.c ---------------------------------------------------------- */

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

/*
 * Scan and redact the payload of an inbound datagram (a PROXY header at
 * its start included).
 * Return: 0, or an engine_reason to fail closed with (nothing changed).
 */
enum engine_reason redact_payload(struct redact_job *j, struct packet *p);

/* ---- pseudonym.c ------------------------------------------------------- */

/* @a, an address of @family, into 16 bytes (IPv4 in the first 4). */
void addr_load(uint8_t out[16], const uint8_t *a, uint8_t family);

/*
 * The address the server sees for @client (16 bytes, of @family) under
 * @svc's address rule at @epoch, into @out.
 * Return: 0, or -ENOSPC (map table full); *@mapped: set for map mode.
 */
int make_pseudonym(const struct ruleset *rs, struct flow_table *ft,
		   const struct rs_service *svc, uint8_t family,
		   const uint8_t *client, uint32_t epoch, uint8_t out[16],
		   bool *mapped);

/*
 * A reply to @pseudo with no flow: can it be translated without state?
 * Return: 1 translated into @real, 0 not a pseudonym (pass as is),
 * -ENOENT a pseudonym nobody has.
 */
int reverse_stateless(const struct ruleset *rs, const struct rs_service *svc,
		      uint8_t family, const uint8_t *pseudo, uint32_t epoch,
		      uint8_t real[16]);

/* The `address` action on the address text @t[0, @len) (masked when it
 * is none): what the service's address rule makes of it, as text. */
void act_address_text(struct redact_job *j, const struct rs_redact *r,
		      uint8_t *t, uint32_t len);

/*
 * The redact rule of a binary address of @family at @a other than the
 * client's (a PROXY v2 header's): the ipv4 or ipv6 detector's, or NULL.
 * @off, @alen: receive the bytes the rule works on.
 */
const struct rs_redact *addr_bytes_rule(const struct rs_service *svc,
					int family, const uint8_t *a,
					unsigned *off, unsigned *alen);

/* A detector's action @r on the binary address @a[0, @alen), in place. */
void act_address_bytes(struct redact_job *j, const struct rs_redact *r,
		       uint8_t *a, unsigned alen);

/* ---- engine.c ---------------------------------------------------------- */

/* A job for service @svc at @now_ns, with no packet (cc NULL). */
void job_for(struct redact_job *j, const struct ruleset *rs,
	     struct flow_table *ft, struct engine_worker *w, int svc,
	     uint64_t now_ns);

/* Counters of service @svc (an index the ruleset lacks: uncovered). */
struct engine_stats *stats_of(struct engine_worker *w, int svc);

/* A packet dropped for @why, counted. */
void count_drop(struct engine_stats *st, enum engine_reason why);

/* The verdict of a packet of @svc that failed for @why, counted. */
enum engine_verdict fail_verdict(const struct rs_service *svc,
				 struct engine_stats *st, enum engine_reason why);

#endif
