/*
 * frame_octet.c — syslog over TCP with octet counting (RFC 6587 §3.4.1),
 * as rsyslog reads it: MSG-LEN SP SYSLOG-MSG, frame after frame.  The
 * count and its SP are framing, the message a field.  Non-transparent
 * framing (a frame ended by LF) is the line framer's, not this one's: a
 * frame that does not start with a count falls back.
 *
 * State: phase (O_*), u[0] (digits of the count read), need (the count,
 * then the message bytes left).
 */
#include "frame.h"
#include "frame_int.h"

/*
 * A syslog message of more than 1 MiB is none a relay forwards (rsyslog
 * takes 8 KiB unless configured, RFC 5425 asks for 2 KiB to 8 KiB); a
 * larger count is not trusted that far ahead.
 */
#define OCTET_MAX_MSG		(1u << 20)
#define OCTET_MAX_DIGITS	9u

enum {
	O_COUNT = 0,	/* the count's first digit */
	O_DIGITS,	/* its other digits and the SP */
	O_MSG,
};

void frame_octet_feed(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	while (e->pos < e->len && fs->kind == FRAME_OCTET) {
		uint8_t b = e->buf[e->pos];
		uint32_t avail = e->len - e->pos, n;

		switch (fs->phase) {
		case O_COUNT:
			if (b < '1' || b > '9') {
				fr_fail(e, FRAME_E_SYNTAX);
				return;
			}
			fs->need = b - '0';
			fs->u[0] = 1;
			fs->phase = O_DIGITS;
			fr_take(e, FRAME_RUN_STRUCT, 1);
			break;
		case O_DIGITS:
			if (b >= '0' && b <= '9' && fs->u[0] < OCTET_MAX_DIGITS) {
				fs->need = fs->need * 10 + (b - '0');
				fs->u[0]++;
			} else if (b == ' ' && fs->need <= OCTET_MAX_MSG) {
				fs->phase = O_MSG;
			} else {
				fr_fail(e, b == ' ' ? FRAME_E_LIMIT :
					   FRAME_E_SYNTAX);
				return;
			}
			fr_take(e, FRAME_RUN_STRUCT, 1);
			break;
		case O_MSG:
			n = fs->need < avail ? (uint32_t)fs->need : avail;
			fr_take(e, FRAME_RUN_FIELD, n);
			fs->need -= n;
			if (fs->need == 0) {
				fr_msg_end(e);
				fs->phase = O_COUNT;
			}
			break;
		}
	}
}
