/*
 * engine.h — apply a ruleset to one packet.  The daemon and the dry-run
 * tool call engine_process() for every packet, in arrival order: one code
 * path for both.
 */
#ifndef NFREDACT_ENGINE_H
#define NFREDACT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

struct ruleset;
struct flow_table;
struct engine_worker;

enum engine_dir {
	ENGINE_DIR_AUTO,	/* from the services' ports and the flow table */
	ENGINE_DIR_IN,		/* client → server */
	ENGINE_DIR_OUT,		/* server → client (replies) */
};

enum engine_verdict {
	ENGINE_ACCEPT,		/* pass unchanged */
	ENGINE_MODIFIED,	/* pass the rewritten packet (same buffer) */
	ENGINE_DROP,
	ENGINE_HOLD,		/* a copy is kept: no verdict now (engine_next_release) */
};

/*
 * Why a packet went the way it did, counted per service: reasons[] every
 * packet that failed (and the uncovered ones), drops[] those dropped.
 *
 * `on-error accept` lets a failing packet through unchanged only for the
 * reasons marked [accept]: the packet itself cannot be decoded, or cannot
 * be rewritten as it stands.  Such a failure is in the sender's hands and
 * concerns its own packet only.  Every other reason is a bound on state
 * the engine keeps for all clients (tables, the hold pool, per-flow stream
 * bounds, scan limits), a packet with no state to translate it, or a
 * duplicate: one client's traffic can reach those bounds for everyone, so
 * they always drop, whatever the service says (engine_reason_may_accept()).
 */
enum engine_reason {
	ENGINE_R_NONE,
	ENGINE_R_NOT_COVERED,	/* no service covers it: accepted as is */
	ENGINE_R_MALFORMED,	/* [accept] could not be decoded */
	ENGINE_R_FRAGMENT,	/* [accept] a fragment reached the engine */
	ENGINE_R_TRUNCATED,	/* [accept] captured shorter than it is */
	ENGINE_R_NO_FLOW,	/* a reply to a pseudonym nobody has */
	ENGINE_R_TABLE_FULL,	/* flow table or map-mode client table full */
	ENGINE_R_SCAN_LIMIT,	/* too many matches, or a pattern engine error */
	ENGINE_R_UNSUPPORTED,	/* [accept] cannot be rewritten keeping lengths
				 * (a PROXY header cut short, malformed, or
				 * whose address text cannot be truncated) */
	ENGINE_R_NO_PORT,	/* no free pseudonym port for a new flow */
	ENGINE_R_HOLD_FULL,	/* the worker's pool of held segments is full */
	ENGINE_R_OOO_FULL,	/* the flow has its most out-of-order segments */
	ENGINE_R_EVICTED,	/* held when its flow was removed, or when
				 * a new connection took the tuple over */
	ENGINE_R_DUPLICATE,	/* a TCP segment a held one already carries */
	ENGINE_R_GAP,		/* held out of order, and the gap before it
				 * did not fill in time: the application could
				 * not have read it yet; TCP sends it again */
	ENGINE_R_STOPPING,	/* held when the daemon stopped (TCP sends it
				 * again to whoever reads the queue next) */
	ENGINE_R_BAD_CSUM,	/* the L4 checksum is wrong: the receiver
				 * would discard it */
	ENGINE_R_DISCARDED,	/* TCP data the receiver discards (no ACK) */
	ENGINE_R_STREAM_FULL,	/* no stream slot left for a new stream */
	ENGINE_R_ICMP_MISMATCH,	/* an ICMP error quoting a pseudonym from
				 * where no such error can come */
	ENGINE_R__COUNT
};

/* Input flags. */
#define ENGINE_F_CSUM_NOT_READY	0x1	/* L4 checksum partial: recompute fully */
#define ENGINE_F_TRUNCATED	0x2	/* cap_len < len: may not be modified */
#define ENGINE_F_CSUM_VERIFIED	0x4	/* the kernel verified the L4 checksum */

struct engine_result {
	enum engine_verdict verdict;
	enum engine_reason reason;
	enum engine_dir dir;	/* the direction decided */
	int service;		/* service index, -1 when not covered */
	uint32_t len;		/* packet length after processing */
};

/* Counters of one service, kept per worker (no locks); add them up. */
struct engine_stats {
	uint64_t packets_in, packets_out;
	uint64_t bytes_in, bytes_out;
	uint64_t changed, dropped, malformed, on_error_accepted;
	uint64_t icmp_translated;
	uint64_t flows_created;
	uint64_t reasons[ENGINE_R__COUNT];
	/* stream-aware TCP: segments held back, and how holds ended */
	uint64_t holds, hold_released, hold_timeouts, hold_timeout_masked, hold_timeout_passed;
	uint64_t hold_stalled;	/* released early: the client sent them again */
	uint64_t hold_bound_hit, hold_pool_full, out_of_order, retrans_patched,
		 retrans_dropped, retrans_no_record;
	uint64_t not_delivered;	/* SYN, RST or data the receiver ignores */
	uint64_t urgent_cleared;	/* urgent pointers taken out */
	uint64_t ack_resumed;	/* streams gone on from the server's ACK */
	/* message framing (`frame`): streams read as messages, segments
	 * that ended on a message boundary, streams that fell back to none */
	uint64_t framed, frame_boundary, frame_fallback;
	uint64_t drops[ENGINE_R__COUNT];	/* dropped, by reason (sum: dropped) */
	uint64_t detector[DET__COUNT];	/* identifiers found */
	uint64_t action[ACT__COUNT];	/* rewrites done */
};

/* Called by engine_scan() and the observer for each identifier found. */
typedef void (*engine_match_cb)(void *ctx, enum det_kind det,
				const uint8_t *text, uint32_t len);

/**
 * engine_worker_new() - per-thread state for @rs: scratch buffers,
 * pattern match data, counters (one struct engine_stats per service plus
 * one for traffic no service covers, at index n_services), and TCP stream
 * state for a flow table of @max_flows flows (a stream slot for each, a
 * hold pool of stream_pool_bytes(); reserved, used as flows come).
 * Return: worker (engine_worker_free()) or NULL.
 */
struct engine_worker *engine_worker_new(const struct ruleset *rs,
				       uint32_t max_flows);

/**
 * engine_worker_reset() - forget every stream, hold, pending release and
 * counter of @w, as engine_worker_new() made it, keeping its memory (the
 * fuzz target reuses one worker across inputs, each with a flow table
 * that is new or cleared).  Held packets are forgotten without a verdict.
 */
void engine_worker_reset(struct engine_worker *w);

/** engine_worker_free() - free; NULL is fine */
void engine_worker_free(struct engine_worker *w);

/** engine_worker_stats() - counters of service @svc (n_services: uncovered) */
const struct engine_stats *engine_worker_stats(const struct engine_worker *w,
					       unsigned svc);

/**
 * engine_set_observer() - have engine_process() report to @cb each
 * identifier of an inbound payload that it is about to rewrite
 * @w:   the worker
 * @cb:  called with the original bytes (inside the packet buffer, before
 *       any rewriting), in the order engine_scan() would report them:
 *       the PROXY header's source address first, then the detectors'
 *       matches that do not lie wholly inside an `allow` range; NULL
 *       stops the reports
 * @ctx: passed to @cb
 *
 * A packet that fails (the verdict's reason is not ENGINE_R_NONE) may
 * have had some of its identifiers reported.  The dry-run learns the
 * identifiers of its input this way instead of scanning each payload a
 * second time; the daemon sets no observer.
 */
void engine_set_observer(struct engine_worker *w, engine_match_cb cb, void *ctx);

/**
 * engine_process() - decide and rewrite one packet
 * @rs:    the ruleset (the worker must have been made for it)
 * @ft:    the flow table (pseudonyms, reverse mappings, stream state)
 * @w:     this thread's worker
 * @pkt:   the packet from its IP header; rewritten in place
 * @len:   its length (also the buffer size: lengths never grow)
 * @dir:   the direction, when the caller knows it
 * @now_ns: wall-clock time in ns (epochs, timeouts); the dry-run passes
 *          the capture's timestamps
 * @flags: ENGINE_F_*
 * @cookie: the caller's name for this packet, handed back by
 *          engine_next_release() when the packet is held
 * @res:   the verdict and what led to it
 *
 * Inbound: the source address becomes the pseudonym of the service's
 * address rule, the payload is redacted.  Outbound: the destination
 * pseudonym becomes the real client again.  ICMP errors about a translated
 * flow get their quoted header translated.  Checksums are made right.
 * A packet that cannot be processed is dropped; it is accepted unchanged
 * instead only when its service says `on-error accept` and the reason is
 * one engine_reason_may_accept() allows.  Every drop is counted in
 * struct engine_stats: dropped, drops[reason] and reasons[reason].
 *
 * Client→server TCP payloads are scanned as a stream: a segment whose end
 * may be the start of an identifier is held (ENGINE_HOLD: the engine
 * keeps a copy, the caller sends no verdict for it now) until the bytes
 * that follow decide it, or its service's hold time passes.  Held
 * segments that become decided are handed out by engine_next_release(),
 * which the caller drains after every engine_process() and engine_tick()
 * BEFORE it verdicts the packet just processed (they precede it in the
 * stream).
 *
 * Return: 0; never fails (the verdict says what to do).
 */
int engine_process(const struct ruleset *rs, struct flow_table *ft,
		   struct engine_worker *w, uint8_t *pkt, uint32_t len,
		   enum engine_dir dir, uint64_t now_ns, unsigned flags,
		   uint64_t cookie, struct engine_result *res);

/* A held packet that is now decided. */
struct engine_release {
	uint64_t cookie;		/* as given to engine_process() */
	enum engine_verdict verdict;	/* ACCEPT, MODIFIED or DROP */
	uint8_t *data;			/* the packet (the engine's copy) */
	uint32_t len;
	int service;
};

/**
 * engine_next_release() - the next held packet that is decided, in the
 * order the verdicts must be sent
 * @w:   the worker that held it
 * @out: filled; @out->data is valid until the next engine call on @w
 * Return: true with @out filled, false when there is none (left).
 */
bool engine_next_release(struct engine_worker *w, struct engine_release *out);

/**
 * engine_tick() - decide the holds of @w whose hold time has passed at
 * @now_ns (conservatively: a tail that already looks like an identifier
 * is masked, anything else goes as is); engine_next_release() then hands
 * them out.
 */
void engine_tick(const struct ruleset *rs, struct flow_table *ft,
		 struct engine_worker *w, uint64_t now_ns);

/**
 * engine_hold_deadline() - the earliest hold deadline of @w in ns (the
 * caller sleeps no longer than that), 0 when nothing is held
 */
uint64_t engine_hold_deadline(const struct engine_worker *w);

/**
 * engine_worker_adopt() - carry the TCP stream state (context bytes,
 * records of rewrites for retransmissions) of @from over to @to, a
 * worker made for a reloaded ruleset, so that streams go on being
 * scanned with their context.  Call after engine_release_all(@from) and
 * after its releases were taken.  Services are found again by port; a
 * stream whose service is gone is forgotten.
 */
void engine_worker_adopt(struct engine_worker *to, struct engine_worker *from);

/**
 * engine_release_all() - decide every hold of @w now, by the rule of
 * engine_tick() (before a reload, at the end of a capture)
 */
void engine_release_all(const struct ruleset *rs, struct flow_table *ft,
			struct engine_worker *w);

/**
 * engine_drop_all() - drop every segment @w holds, counted as
 * ENGINE_R_STOPPING, and forget the streams' holds (at shutdown).
 *
 * Deciding a held tail at shutdown would pass the start of an identifier
 * whose end the next reader of the queue sees without it.  Dropped, the
 * segments are sent again by the client's TCP and reach the next reader
 * whole, in order, with what follows them.
 */
void engine_drop_all(struct engine_worker *w);


/**
 * engine_scan() - run the detectors of service @svc over a payload, as
 * engine_process() would, and report each identifier not wholly inside
 * one `allow` match to @cb, overlapping ones each on its own.  Nothing is changed.  The dry-run uses it to
 * remember the identifiers of its input and to find any that survive in
 * its output.
 * Return: the number of identifiers reported, or -ENOSPC / -EIO as
 * detect_scan().
 */
int engine_scan(const struct ruleset *rs, struct engine_worker *w,
		unsigned svc, const uint8_t *payload, uint32_t len,
		engine_match_cb cb, void *ctx);

/**
 * engine_payload_may_be_proxy() - whether @payload starts like a PROXY
 * protocol header (whole, cut short or malformed), which engine_scan()
 * reads wherever it stands but engine_process() only at a stream's start
 * Return: true when it may be one.
 */
bool engine_payload_may_be_proxy(const uint8_t *payload, uint32_t len);

/**
 * engine_reason_name() - the name of @r in statistics and logs
 * ("table-full"); "?" for a value out of range
 */
const char *engine_reason_name(enum engine_reason r);

/**
 * engine_reason_may_accept() - whether `on-error accept` may let a packet
 * that failed for @r through unchanged: only when the packet itself
 * cannot be decoded or rewritten (MALFORMED, FRAGMENT, TRUNCATED,
 * UNSUPPORTED), never for a bound on the engine's state
 * Return: true for those reasons.
 */
bool engine_reason_may_accept(enum engine_reason r);

#endif
