/*
 * frame_line.c — LF-terminated lines (SMTP and IMAP commands, IRC,
 * syslog without octet counting): each line, its LF included, is a
 * message of one field.  A line has no length limit: a long one just has
 * no boundary yet.
 *
 * The first words of each line are looked at for a protocol switch after
 * which the stream is no longer lines: SMTP STARTTLS (RFC 3207) and BDAT
 * (RFC 3030, binary chunks follow), IMAP "tag STARTTLS" (RFC 9051
 * §6.2.1).  A line starting with a control byte (a NUL, a TLS record's
 * 0x16) is not text: the stream falls back.  Both are looked for in a
 * line's first bytes only; the rest of a line is a memchr() for its LF.
 * A line inside an SMTP DATA body that reads like one of them makes the
 * stream fall back too, which only costs the framing.
 *
 * State: phase (L_*), flags (LF_SWITCH), u[0] (bytes of the line read
 * word by word), u[1] (the word: 0 first, 1 second), u[2] (its length),
 * buf (the word in capitals, up to 8 bytes).
 */
#include <string.h>

#include "frame.h"
#include "frame_int.h"

enum {
	L_START = 0,	/* a line's first byte */
	L_HEAD,		/* its first words */
	L_REST,		/* the rest, to the LF */
};

#define LF_SWITCH	0x1	/* the line switches protocol */

/* how far into a line its words are looked at (an IMAP tag is short) */
#define LINE_HEAD	40u
#define WORD_MAX	8u

static bool word_is(const struct frame_state *fs, const char *w)
{
	size_t n = strlen(w);

	return fs->u[2] == n && memcmp(fs->buf, w, n) == 0;
}

/* The word read ended with @b (SP, CR or LF): still worth reading on? */
static bool word_end(struct frame_state *fs, uint8_t b)
{
	if (word_is(fs, "STARTTLS") || (fs->u[1] == 0 && b == ' ' &&
					word_is(fs, "BDAT")))
		fs->flags |= LF_SWITCH;
	if (b != ' ' || fs->u[1] == 1 || (fs->flags & LF_SWITCH))
		return false;
	fs->u[1] = 1;
	fs->u[2] = 0;
	return true;
}

static void line_end(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	if (fs->flags & LF_SWITCH) {
		fr_close(e);
		fr_fail(e, FRAME_E_SWITCH);
		return;
	}
	fr_msg_end(e);
	fs->phase = L_START;
}

void frame_line_feed(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	while (e->pos < e->len && fs->kind == FRAME_LINE) {
		const uint8_t *p = e->buf + e->pos, *lf;
		uint32_t avail = e->len - e->pos;
		uint8_t b = *p;

		switch (fs->phase) {
		case L_START:
			if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') ||
			    b == 0x7f) {
				fr_fail(e, FRAME_E_SYNTAX);
				return;
			}
			fs->phase = L_HEAD;
			fs->flags = 0;
			fs->u[0] = fs->u[1] = fs->u[2] = 0;
			/* fall through */
		case L_HEAD:
			fr_take(e, FRAME_RUN_FIELD, 1);
			fs->u[0]++;
			if (b == ' ' || b == '\r' || b == '\n') {
				if (!word_end(fs, b))
					fs->phase = L_REST;
			} else if (fs->u[2] <= WORD_MAX) {
				if (fs->u[2] < WORD_MAX)
					fs->buf[fs->u[2]] = b >= 'a' && b <= 'z' ?
						(uint8_t)(b - 0x20) : b;
				fs->u[2]++;
			}
			if (b == '\n')
				line_end(e);
			else if (fs->u[0] >= LINE_HEAD)
				fs->phase = L_REST;
			break;
		case L_REST:
			lf = memchr(p, '\n', avail);
			if (!lf) {
				fr_take(e, FRAME_RUN_FIELD, avail);
				break;
			}
			fr_take(e, FRAME_RUN_FIELD, (uint32_t)(lf - p) + 1);
			line_end(e);
			break;
		}
	}
}
