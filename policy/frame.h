/*
 * frame.h — message framing of a client→server TCP stream (doc/design.md
 * §5, "Framing").
 *
 * A framer reads the stream's bytes in order, once, as they become part
 * of the stream, and tells where each message ends and which bytes are
 * its fields.  Nothing is buffered but a few header bytes in the state:
 * a framer never holds or copies the stream.
 *
 * The bytes of a stream are cut into runs:
 *   FRAME_RUN_STRUCT   framing bytes (a fixed header, a remaining length,
 *                      a string's length prefix, flags, a packet id, an
 *                      octet count, a chunk-size line): never part of an
 *                      identifier, never rewritten
 *   FRAME_RUN_FIELD    a field's bytes (a string, a payload, a message
 *                      body, a line): scanned on their own, the field's
 *                      first byte taken as the start of a buffer
 *   FRAME_RUN_HEADERS  a header section (HTTP, SIP): scanned with the
 *                      header rules, its first byte at a line start
 * Anything a framer does not know byte by byte (an MQTT 5 property block,
 * a reserved packet type's body) is a FIELD: scanned, never skipped.
 *
 * A framer that meets bytes its framing does not allow (garbage, a
 * length beyond its limits, a protocol switch: HTTP Upgrade or CONNECT,
 * SMTP BDAT or STARTTLS) falls back to FRAME_NONE for the rest of the
 * stream: every later byte is one FIELD run with no message end, which
 * is how the stream was read before framing.
 */
#ifndef NFREDACT_FRAME_H
#define NFREDACT_FRAME_H

#include <stdbool.h>
#include <stdint.h>

enum frame_kind {
	FRAME_NONE = 0,		/* no framing: the stream is one field */
	FRAME_MQTT,		/* MQTT 3.1, 3.1.1 and 5 */
	FRAME_HTTP,		/* HTTP/1.0 and 1.1 requests */
	FRAME_SIP,		/* SIP over TCP (RFC 3261 §18.3) */
	FRAME_LINE,		/* LF-terminated lines */
	FRAME_OCTET,		/* RFC 6587 octet counting */
	FRAME_AUTO,		/* recognised from the first client bytes */
	FRAME__COUNT
};

enum frame_run {
	FRAME_RUN_STRUCT,
	FRAME_RUN_FIELD,
	FRAME_RUN_HEADERS,
};

/* Why a framer fell back to FRAME_NONE (frame_state.error). */
enum frame_error {
	FRAME_E_NONE = 0,
	FRAME_E_SYNTAX,		/* bytes the framing does not allow */
	FRAME_E_LIMIT,		/* a length beyond the framer's limits */
	FRAME_E_SWITCH,		/* a protocol switch (Upgrade, STARTTLS, BDAT) */
	FRAME_E_UNKNOWN,	/* auto: the first bytes are no framing known */
	FRAME_E__COUNT
};

/* Run flags (frame_cb's @flags). */
#define FRAME_F_START	0x1	/* the run begins a field or a header section
				 * (not the continuation of one cut by the end
				 * of the previous frame_feed()) */
#define FRAME_F_MSG_END	0x2	/* a message ends with the run */

/*
 * One stream's framing state: zeroed and frame_init()ed when the stream
 * is seen from its first byte; plain data, copied freely (a copy fed
 * ahead answers "what if these bytes came", and is dropped).
 */
struct frame_state {
	uint8_t kind;		/* enum frame_kind in force; AUTO until the
				 * first bytes decide, NONE after an error */
	uint8_t want;		/* the kind the policy asked for */
	uint8_t error;		/* enum frame_error (kind NONE after one) */
	uint8_t phase;		/* the framer's own */
	uint8_t run;		/* enum frame_run of the run open at the end
				 * of the bytes fed so far */
	uint8_t nbuf;		/* bytes in buf */
	uint16_t flags;		/* the framer's own */
	uint32_t msg_pos;	/* bytes since the current message began;
				 * 0: the bytes fed so far end on a message
				 * boundary (or none came yet) */
	uint32_t run_pos;	/* bytes since the open run began */
	uint64_t need;		/* the framer's own (bytes left of an element) */
	uint64_t left;		/* the framer's own (bytes left of a message) */
	uint32_t u[4];		/* the framer's own */
	uint8_t buf[24];	/* the framer's own: header bytes cut short */
};

/*
 * frame_cb - one run of bytes fed: @off and @len in the buffer given to
 * frame_feed(), @type an enum frame_run, @flags FRAME_F_*.  Runs come in
 * order and cover the buffer without gaps; a run of length 0 only
 * carries FRAME_F_MSG_END (a message whose last run ended in an earlier
 * call, never: the flag always comes with the run's last byte).
 */
typedef void (*frame_cb)(void *ctx, uint32_t off, uint32_t len,
			 enum frame_run type, unsigned flags);

/* frame_init() - @fs reads a new stream as @kind (AUTO: recognised). */
void frame_init(struct frame_state *fs, enum frame_kind kind);

/*
 * frame_feed() - the next @len bytes of the stream, in order, each
 * exactly once.  @cb (may be NULL) gets the runs.  After it, @fs says
 * where the stream stands: fs->msg_pos == 0 and fs->kind != FRAME_NONE
 * and != FRAME_AUTO: the bytes end exactly on a message boundary.
 */
void frame_feed(struct frame_state *fs, const uint8_t *buf, uint32_t len,
		frame_cb cb, void *ctx);

/*
 * frame_at_boundary() - the bytes fed so far end exactly where a message
 * ends, under a framing in force (not NONE, not AUTO undecided).
 */
static inline bool frame_at_boundary(const struct frame_state *fs)
{
	return fs->kind != FRAME_NONE && fs->kind != FRAME_AUTO &&
	       fs->msg_pos == 0;
}

/* The name of @kind as the policy writes it ("mqtt"), and back (-1: none). */
const char *frame_kind_name(enum frame_kind kind);
int frame_kind_of(const char *name, uint32_t len);

/* The name of @e, for stats and logs ("syntax", "limit", ...). */
const char *frame_error_name(enum frame_error e);

#endif
