/*
 * frame_check.h — a recorder of what frame_feed() reports, and the
 * promises of policy/frame.h checked on it as it comes; shared by the
 * fuzz target (fuzz_frame.c) and the unit tests (test_frame.c).
 *
 * The runs are recorded byte by byte (its type, whether a run begins at
 * it, whether a message ends with it), so that feeds of the same bytes
 * cut differently can be compared: runs joined again where a run without
 * FRAME_F_START goes on with the one before must be the same.
 *
 * Checked as the runs come: they cover each call's bytes in order, with
 * no empty run; a run without FRAME_F_START continues the last run of
 * the call before (same type, no message end between); after the framer
 * fell back, only fields and no message end; while recognition is
 * undecided, every byte so far a field.  Checked after each call: msg_pos counts the bytes since
 * the last message end reported, run_pos the bytes of the run left open
 * (0: none open, and the next run begins with FRAME_F_START), run its
 * type; an error means FRAME_NONE.
 */
#ifndef NFREDACT_FRAME_CHECK_H
#define NFREDACT_FRAME_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

struct fc_rec {
	uint32_t cap;
	uint32_t total;		/* bytes fed */
	uint8_t *type;		/* per byte: enum frame_run */
	uint8_t *start;		/* per byte: a run begins with it */
	uint8_t *end;		/* per byte: a message ends with it */
	uint32_t call_len;
	uint32_t next;		/* the next offset the call must report */
	uint32_t msg_begin;	/* stream offset after the last message end */
	uint32_t open_len;	/* length of the last run, joined */
	uint32_t auto_p;	/* bytes fed in calls that left AUTO undecided */
	uint8_t last_type;
	bool any;		/* a run was reported */
	bool last_end;		/* the last run ended a message */
	bool need_start;	/* the next run must begin with FRAME_F_START */
	bool only_fields;	/* the call began after a fall back */
	int bad;		/* the line of the first broken promise, or 0 */
};

#define FC_FAIL(r) do { if (!(r)->bad) (r)->bad = __LINE__; } while (0)

static inline void fc_init(struct fc_rec *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	r->type = calloc(cap ? cap : 1, 1);
	r->start = calloc(cap ? cap : 1, 1);
	r->end = calloc(cap ? cap : 1, 1);
	if (!r->type || !r->start || !r->end)
		abort();
	r->need_start = true;
}

static inline void fc_free(struct fc_rec *r)
{
	free(r->type);
	free(r->start);
	free(r->end);
}

static inline void fc_cb(void *ctx, uint32_t off, uint32_t len,
			 enum frame_run type, unsigned flags)
{
	struct fc_rec *r = ctx;
	uint32_t base = r->total;

	if (len == 0 || off != r->next || len > r->call_len - off ||
	    (unsigned)type > FRAME_RUN_HEADERS ||
	    (flags & ~(unsigned)(FRAME_F_START | FRAME_F_MSG_END))) {
		FC_FAIL(r);
		return;
	}
	if (!(flags & FRAME_F_START) &&
	    (off != 0 || !r->any || r->last_end || r->last_type != type ||
	     r->need_start))
		FC_FAIL(r);
	if (r->only_fields &&
	    (type != FRAME_RUN_FIELD || (flags & FRAME_F_MSG_END)))
		FC_FAIL(r);
	if (base + off + len > r->cap) {
		FC_FAIL(r);
		return;
	}
	for (uint32_t i = 0; i < len; i++) {
		r->type[base + off + i] = (uint8_t)type;
		r->start[base + off + i] = 0;
		r->end[base + off + i] = 0;
	}
	if (flags & FRAME_F_START)
		r->start[base + off] = 1;
	if (flags & FRAME_F_MSG_END) {
		r->end[base + off + len - 1] = 1;
		r->msg_begin = base + off + len;
	}
	r->open_len = (flags & FRAME_F_START) ? len : r->open_len + len;
	r->next = off + len;
	r->last_type = (uint8_t)type;
	r->last_end = flags & FRAME_F_MSG_END;
	r->any = true;
	r->need_start = false;
}

/*
 * fc_feed() - @len bytes through frame_feed() from a buffer of their
 * exact size (so that a read beyond them is seen by ASan), recorded.
 */
static inline void fc_feed(struct fc_rec *r, struct frame_state *fs,
			   const uint8_t *bytes, uint32_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	if (len)
		memcpy(copy, bytes, len);
	r->call_len = len;
	r->next = 0;
	r->only_fields = fs->kind == FRAME_NONE;
	frame_feed(fs, copy, len, fc_cb, r);
	free(copy);
	if (r->next != len)
		FC_FAIL(r);
	r->total += len;
	if (fs->msg_pos != r->total - r->msg_begin)
		FC_FAIL(r);
	if (fs->error && fs->kind != FRAME_NONE)
		FC_FAIL(r);
	if (fs->kind == FRAME_AUTO) {
		r->auto_p = r->total;
		for (uint32_t i = 0; i < r->total; i++)
			if (r->type[i] != FRAME_RUN_FIELD || r->end[i])
				FC_FAIL(r);
	}
	if (fs->run_pos == 0) {
		r->need_start = true;
	} else if (!r->any || r->last_end || fs->run != r->last_type ||
		   fs->run_pos != r->open_len) {
		FC_FAIL(r);
	}
}

/*
 * fc_same() - @b (cut otherwise) reports what @a did.  With @a_auto the
 * bytes @b reported while recognition was undecided are fields, and the
 * first byte after them may begin a run in one and not the other.
 */
static inline bool fc_same(const struct fc_rec *a, const struct fc_rec *b,
			   bool is_auto)
{
	uint32_t p = 0;

	if (a->total != b->total)
		return false;
	if (is_auto) {
		p = a->auto_p > b->auto_p ? a->auto_p : b->auto_p;
		for (uint32_t i = 0; i < p && i < b->total; i++)
			if (b->type[i] != FRAME_RUN_FIELD || b->end[i])
				return false;
	}
	for (uint32_t i = p; i < a->total; i++) {
		if (a->type[i] != b->type[i] || a->end[i] != b->end[i])
			return false;
		if ((i > p || !is_auto || p == 0) && a->start[i] != b->start[i])
			return false;
	}
	return true;
}

/*
 * fc_runs() - the runs, joined, as text: a letter (S, F, H) and a length
 * each, "e" after a run a message ends with, separated by spaces.
 */
static inline void fc_runs(const struct fc_rec *r, char *out, size_t cap)
{
	static const char letter[] = "SFH";
	size_t o = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < r->total;) {
		uint32_t j = i + 1;
		int w;

		while (j < r->total && !r->start[j] && !r->end[j - 1] &&
		       r->type[j] == r->type[i])
			j++;
		w = snprintf(out + o, cap - o, "%s%c%u%s", o ? " " : "",
			     letter[r->type[i] % 3], j - i,
			     r->end[j - 1] ? "e" : "");
		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
		i = j;
	}
}

#endif
