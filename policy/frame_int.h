/*
 * frame_int.h — what the framers (policy/frame*.c) share: the emitter
 * that turns "the next n bytes are of this type" into the runs frame_cb
 * gets, and each framer's entry point.
 *
 * A framer reads at e->pos and hands the bytes over with fr_take(); it
 * never reports a run itself.  Consecutive bytes of one type are one
 * run until the framer closes it (fr_close(): the field or header
 * section is complete), ends the message (fr_msg_end()), or a byte of
 * another type comes.  So framing bytes in a row (a fixed header and its
 * remaining length, a chunk-size line and the next) are one STRUCT run,
 * while each field is a run of its own, and whether a run is reported in
 * one piece or cut by the ends of frame_feed() calls depends only on
 * where the calls end: the runs, joined again, are the same.
 */
#ifndef NFREDACT_FRAME_INT_H
#define NFREDACT_FRAME_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

struct frame_emit {
	struct frame_state *fs;
	const uint8_t *buf;
	uint32_t len;
	uint32_t pos;		/* the next byte not handed over */
	uint32_t run_off;	/* where the run not reported yet began */
	unsigned run_flags;	/* FRAME_F_START: it began in this call */
	bool pending;		/* bytes [run_off, pos) wait to be reported */
	frame_cb cb;		/* NULL: a silent replay */
	void *ctx;
};

/* a + b, held at UINT32_MAX: a position never wraps back to 0 */
static inline uint32_t fr_sat_add(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;

	return s < a ? UINT32_MAX : s;
}

static inline void fr_flush(struct frame_emit *e, unsigned flags)
{
	if (!e->pending)
		return;
	e->pending = false;
	if (e->cb)
		e->cb(e->ctx, e->run_off, e->pos - e->run_off,
		      (enum frame_run)e->fs->run, e->run_flags | flags);
}

/* The next @n bytes (n >= 1) at e->pos are of type @t. */
static inline void fr_take(struct frame_emit *e, enum frame_run t,
			   uint32_t n)
{
	struct frame_state *fs = e->fs;

	if (fs->run_pos == 0 || fs->run != t) {
		fr_flush(e, 0);
		fs->run = (uint8_t)t;
		fs->run_pos = 0;
		e->run_off = e->pos;
		e->run_flags = FRAME_F_START;
		e->pending = true;
	} else if (!e->pending) {
		/* the run left open by the previous call goes on */
		e->run_off = e->pos;
		e->run_flags = 0;
		e->pending = true;
	}
	e->pos += n;
	fs->run_pos = fr_sat_add(fs->run_pos, n);
	fs->msg_pos = fr_sat_add(fs->msg_pos, n);
}

/* The field or header section ended with the last byte taken. */
static inline void fr_close(struct frame_emit *e)
{
	fr_flush(e, 0);
	e->fs->run_pos = 0;
}

/* The message ended with the last byte taken (in this call). */
static inline void fr_msg_end(struct frame_emit *e)
{
	fr_flush(e, FRAME_F_MSG_END);
	e->fs->run_pos = 0;
	e->fs->msg_pos = 0;
}

/*
 * The framing does not hold from e->pos on: the rest of the stream is
 * FRAME_NONE, one field (frame_feed() hands it over).
 */
static inline void fr_fail(struct frame_emit *e, enum frame_error err)
{
	e->fs->kind = FRAME_NONE;
	e->fs->error = (uint8_t)err;
}

static inline uint8_t fr_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* RFC 9110 §5.6.2 tchar */
static inline bool fr_is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return true;
	}
	return false;
}

/*
 * Each framer reads from e->pos while fs->kind is its own and bytes are
 * left, and returns when either stops being so.
 */
void frame_mqtt_feed(struct frame_emit *e);
void frame_http_feed(struct frame_emit *e);	/* HTTP and SIP */
void frame_line_feed(struct frame_emit *e);
void frame_octet_feed(struct frame_emit *e);

/*
 * frame_http_begin() - the HTTP/SIP machine's state for a new stream of
 * @kind (FRAME_HTTP or FRAME_SIP); @by_version: the first start line's
 * version decides between the two (the stream was recognised by its
 * method, which both share).
 */
void frame_http_begin(struct frame_state *fs, enum frame_kind kind,
		      bool by_version);

#endif
