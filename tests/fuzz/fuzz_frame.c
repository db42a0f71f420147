/*
 * fuzz_frame.c — libFuzzer target for the message framers
 * (policy/frame*.c): arbitrary bytes as a client→server stream, read
 * whole, cut where the input says, and one byte at a time.
 *
 * Input: byte 0 the framing (its value modulo FRAME__COUNT: none, mqtt,
 * http, sip, line, octet, auto), byte 1 the number of cuts (low 4
 * bits), then one byte per cut, the length of a frame_feed() call (0
 * too: an empty call), then the stream; what the cuts leave is the last
 * call.
 *
 * Besides "never crash, never read beyond a call's bytes" (each call's
 * bytes are a buffer of their own size) it checks frame.h's promises
 * (tests/fuzz/frame_check.h) on each feed, and that the feeds agree: the
 * same runs joined, message ends and final state, whatever the cuts
 * (with recognition, from the first byte after those fed while it was
 * undecided); and that a feed without a callback ends in the same state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "frame_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must survive -DNDEBUG */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MAX_STREAM	(1u << 16)

/* The framer's own state: equal whatever the cuts. */
static bool same_state(const struct frame_state *a,
		       const struct frame_state *b, bool is_auto)
{
	if (!is_auto)
		return memcmp(a, b, sizeof(*a)) == 0;
	return a->kind == b->kind && a->error == b->error &&
	       a->msg_pos == b->msg_pos &&
	       (a->kind == FRAME_AUTO ||
		(a->phase == b->phase && a->flags == b->flags &&
		 a->need == b->need && a->left == b->left &&
		 memcmp(a->u, b->u, sizeof(a->u)) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_state whole, cut, bytewise, silent;
	struct fc_rec rw, rc, rb;
	enum frame_kind kind;
	const uint8_t *cuts, *s;
	uint32_t ncuts, n, at;
	bool is_auto;

	if (size < 2)
		return 0;
	kind = (enum frame_kind)(data[0] % FRAME__COUNT);
	ncuts = data[1] & 15;
	if (size < 2 + ncuts)
		return 0;
	cuts = data + 2;
	s = data + 2 + ncuts;
	n = (uint32_t)(size - 2 - ncuts);
	if (n > MAX_STREAM)
		n = MAX_STREAM;
	is_auto = kind == FRAME_AUTO;

	fc_init(&rw, n);
	fc_init(&rc, n);
	fc_init(&rb, n);

	frame_init(&whole, kind);
	fc_feed(&rw, &whole, s, n);
	CHECK(!rw.bad);

	frame_init(&cut, kind);
	at = 0;
	for (uint32_t i = 0; i < ncuts; i++) {
		uint32_t l = cuts[i] < n - at ? cuts[i] : n - at;

		fc_feed(&rc, &cut, s + at, l);
		at += l;
	}
	fc_feed(&rc, &cut, s + at, n - at);
	CHECK(!rc.bad);

	frame_init(&bytewise, kind);
	for (uint32_t i = 0; i < n; i++)
		fc_feed(&rb, &bytewise, s + i, 1);
	CHECK(!rb.bad);

	frame_init(&silent, kind);
	frame_feed(&silent, s, n, NULL, NULL);

	CHECK(fc_same(&rw, &rc, is_auto));
	CHECK(fc_same(&rw, &rb, is_auto));
	CHECK(same_state(&whole, &cut, is_auto));
	CHECK(same_state(&whole, &bytewise, is_auto));
	CHECK(memcmp(&whole, &silent, sizeof(whole)) == 0);
	/* once fallen back, the framing never comes back */
	CHECK(whole.kind != FRAME_NONE || kind == FRAME_NONE || whole.error);

	fc_free(&rw);
	fc_free(&rc);
	fc_free(&rb);
	return 0;
}
