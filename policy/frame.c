/*
 * frame.c — the framers' entry: frame_init(), frame_feed() handing the
 * bytes to the framer in force, recognition of the framing from a
 * stream's first client bytes (FRAME_AUTO), and the names.
 *
 * Recognition looks at no more than the 24 bytes frame_state.buf holds.
 * Bytes fed while it is undecided are reported as one field, as with no
 * framing.  Once the bytes seen decide it, the framer is set up as if it
 * had read them from the start (they are fed to it again, silently), and
 * from the first byte not reported yet on its runs are exact: a stream
 * whose first segment decides it (the usual case) is framed from its
 * first byte.  The decision is taken at the first byte that allows it,
 * whatever the segments, so that the same bytes always frame the same.
 */
#include <string.h>

#include "frame.h"
#include "frame_int.h"

static const char *const kind_names[FRAME__COUNT] = {
	[FRAME_NONE] = "none",
	[FRAME_MQTT] = "mqtt",
	[FRAME_HTTP] = "http",
	[FRAME_SIP] = "sip",
	[FRAME_LINE] = "line",
	[FRAME_OCTET] = "octet",
	[FRAME_AUTO] = "auto",
};

static const char *const error_names[FRAME_E__COUNT] = {
	[FRAME_E_NONE] = "none",
	[FRAME_E_SYNTAX] = "syntax",
	[FRAME_E_LIMIT] = "limit",
	[FRAME_E_SWITCH] = "switch",
	[FRAME_E_UNKNOWN] = "unknown",
};

const char *frame_kind_name(enum frame_kind kind)
{
	return (unsigned)kind < FRAME__COUNT ? kind_names[kind] : "?";
}

int frame_kind_of(const char *name, uint32_t len)
{
	for (int k = 0; k < FRAME__COUNT; k++)
		if (strlen(kind_names[k]) == len &&
		    memcmp(kind_names[k], name, len) == 0)
			return k;
	return -1;
}

const char *frame_error_name(enum frame_error e)
{
	return (unsigned)e < FRAME_E__COUNT ? error_names[e] : "?";
}

/* The framer-private state as a new stream's, for @kind. */
static void frame_reset(struct frame_state *fs, enum frame_kind kind)
{
	uint8_t want = fs->want;

	memset(fs, 0, sizeof(*fs));
	fs->want = want;
	fs->kind = (uint8_t)kind;
	fs->run = FRAME_RUN_FIELD;
	if (kind == FRAME_HTTP || kind == FRAME_SIP)
		frame_http_begin(fs, kind, false);
}

void frame_init(struct frame_state *fs, enum frame_kind kind)
{
	if ((unsigned)kind >= FRAME__COUNT)
		kind = FRAME_NONE;
	memset(fs, 0, sizeof(*fs));
	fs->want = (uint8_t)kind;
	frame_reset(fs, kind);
}

/* ---- recognition -------------------------------------------------------- */

enum {
	AUTO_UNDECIDED = -1,
	AUTO_UNKNOWN = -2,
	AUTO_HTTP_BY_VERSION = -3,	/* the HTTP/SIP machine, version decides */
};

/* A candidate's verdict on the bytes seen. */
enum cand { C_DEAD, C_ALIVE, C_YES };

/* MQTT: a CONNECT's fixed header, remaining length and protocol name. */
static enum cand auto_mqtt(const uint8_t *b, uint32_t n)
{
	static const uint8_t v4[] = { 0, 4, 'M', 'Q', 'T', 'T' };
	static const uint8_t v3[] = { 0, 6, 'M', 'Q', 'I', 's', 'd', 'p' };
	uint32_t i = 1, k;
	bool m4 = true, m3 = true;

	if (b[0] != 0x10)
		return C_DEAD;
	for (k = 0;; k++) {
		if (i >= n)
			return C_ALIVE;
		if (!(b[i++] & 0x80))
			break;
		if (k == 3)
			return C_DEAD;
	}
	for (k = 0; i + k < n; k++) {
		if (k >= sizeof(v4) || b[i + k] != v4[k])
			m4 = false;
		if (k >= sizeof(v3) || b[i + k] != v3[k])
			m3 = false;
		if (m4 && k + 1 == sizeof(v4))
			return C_YES;
		if (m3 && k + 1 == sizeof(v3))
			return C_YES;
		if (!m4 && !m3)
			return C_DEAD;
	}
	return C_ALIVE;
}

/* Octet counting: a nonzero digit, digits, SP, and a syslog PRI's "<". */
static enum cand auto_octet(const uint8_t *b, uint32_t n)
{
	uint32_t i;

	if (b[0] < '1' || b[0] > '9')
		return C_DEAD;
	for (i = 1; i < n && b[i] >= '0' && b[i] <= '9'; i++)
		if (i == 9)
			return C_DEAD;
	if (i == n)
		return C_ALIVE;
	if (b[i] != ' ')
		return C_DEAD;
	if (++i == n)
		return C_ALIVE;
	return b[i] == '<' ? C_YES : C_DEAD;
}

/*
 * The methods recognised, HTTP's (RFC 9110, WebDAV, the HTTP/2 preface's
 * PRI) and SIP's (RFC 3261 and its extensions), with the kind a long
 * request line (its version beyond the 24 bytes) is taken for.
 */
static const struct {
	const char *name;
	uint8_t kind;
} auto_methods[] = {
	{ "GET", FRAME_HTTP }, { "POST", FRAME_HTTP }, { "PUT", FRAME_HTTP },
	{ "DELETE", FRAME_HTTP }, { "HEAD", FRAME_HTTP },
	{ "PATCH", FRAME_HTTP }, { "OPTIONS", FRAME_HTTP },
	{ "CONNECT", FRAME_HTTP }, { "TRACE", FRAME_HTTP },
	{ "PRI", FRAME_HTTP }, { "PROPFIND", FRAME_HTTP },
	{ "PROPPATCH", FRAME_HTTP }, { "MKCOL", FRAME_HTTP },
	{ "COPY", FRAME_HTTP }, { "MOVE", FRAME_HTTP }, { "LOCK", FRAME_HTTP },
	{ "UNLOCK", FRAME_HTTP }, { "REPORT", FRAME_HTTP },
	{ "INVITE", FRAME_SIP }, { "REGISTER", FRAME_SIP },
	{ "ACK", FRAME_SIP }, { "BYE", FRAME_SIP }, { "CANCEL", FRAME_SIP },
	{ "SUBSCRIBE", FRAME_SIP }, { "NOTIFY", FRAME_SIP },
	{ "MESSAGE", FRAME_SIP }, { "INFO", FRAME_SIP }, { "PRACK", FRAME_SIP },
	{ "UPDATE", FRAME_SIP }, { "REFER", FRAME_SIP },
	{ "PUBLISH", FRAME_SIP },
};

/*
 * A known method and SP: C_ALIVE while the bytes may still become one,
 * C_YES with *kind once the SP came.
 */
static enum cand auto_method(const uint8_t *b, uint32_t n, uint8_t *kind)
{
	bool alive = false;

	for (size_t m = 0; m < sizeof(auto_methods) / sizeof(auto_methods[0]);
	     m++) {
		const char *name = auto_methods[m].name;
		uint32_t ml = (uint32_t)strlen(name);
		uint32_t k = n < ml ? n : ml;

		if (memcmp(b, name, k) != 0)
			continue;
		if (n <= ml) {
			alive = true;
			continue;
		}
		if (b[ml] == ' ') {
			*kind = auto_methods[m].kind;
			return C_YES;
		}
	}
	return alive ? C_ALIVE : C_DEAD;
}

/* @v (n bytes, CR dropped) is a version the HTTP/SIP machine reads. */
static int auto_version(const uint8_t *v, uint32_t n)
{
	if (n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && v[7] >= '0' &&
	    v[7] <= '9')
		return FRAME_HTTP;
	if (n == 8 && memcmp(v, "HTTP/2.0", 8) == 0)
		return FRAME_HTTP;
	if (n == 7 && memcmp(v, "SIP/2.0", 7) == 0)
		return FRAME_SIP;
	return -1;
}

/*
 * A whole first line (@n bytes up to its LF) is a request line: method SP
 * target SP version; the kind its version says, or -1.
 */
static int auto_request_line(const uint8_t *b, uint32_t n)
{
	uint32_t sp1, sp2, end = n - 1;

	if (end > 0 && b[end - 1] == '\r')
		end--;
	for (sp1 = 0; sp1 < end && fr_is_tchar(b[sp1]); sp1++)
		;
	if (sp1 == 0 || sp1 == end || b[sp1] != ' ')
		return -1;
	for (sp2 = sp1 + 1; sp2 < end && b[sp2] > ' ' && b[sp2] != 0x7f; sp2++)
		;
	if (sp2 == sp1 + 1 || sp2 == end || b[sp2] != ' ')
		return -1;
	return auto_version(b + sp2 + 1, end - sp2 - 1);
}

/*
 * Text: no control byte but TAB and CR, UTF-8 well formed (a character
 * may be cut by the end of the bytes seen).  C_YES once a line ended with
 * LF, or the bytes seen fill the buffer.
 */
static enum cand auto_line(const uint8_t *b, uint32_t n, bool full)
{
	uint32_t cont = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (cont) {
			if ((c & 0xc0) != 0x80)
				return C_DEAD;
			cont--;
			continue;
		}
		if (c == '\n')
			return C_YES;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
				return C_DEAD;
		} else if (c >= 0xc2 && c <= 0xdf) {
			cont = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			cont = 2;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cont = 3;
		} else {
			return C_DEAD;
		}
	}
	return full ? C_YES : C_ALIVE;
}

/*
 * The verdict on the first @n bytes of a stream: a frame_kind,
 * AUTO_HTTP_BY_VERSION, or AUTO_UNDECIDED (only while !@full) or
 * AUTO_UNKNOWN.  The candidates never both say yes on the same bytes but
 * in the order tried: a request line is a line too, and wins.
 */
static int auto_classify(const uint8_t *b, uint32_t n, bool full,
			 uint8_t *method_kind)
{
	enum cand mqtt, octet, method, line;
	const uint8_t *lf;

	mqtt = auto_mqtt(b, n);
	if (mqtt == C_YES)
		return FRAME_MQTT;
	octet = auto_octet(b, n);
	if (octet == C_YES)
		return FRAME_OCTET;
	if (n >= 8 && memcmp(b, "SIP/2.0 ", 8) == 0)
		return FRAME_SIP;
	method = auto_method(b, n, method_kind);
	lf = memchr(b, '\n', n);
	if (method == C_YES) {
		if (lf) {
			int k = auto_request_line(b, (uint32_t)(lf - b) + 1);

			if (k >= 0)
				return k;
		} else if (full) {
			return AUTO_HTTP_BY_VERSION;
		} else {
			return AUTO_UNDECIDED;
		}
	}
	line = auto_line(b, n, full);
	/* a shape still growing is waited for (none is longer than buf) */
	if (!full && (mqtt == C_ALIVE || octet == C_ALIVE ||
		      method == C_ALIVE ||
		      (n < 8 && memcmp(b, "SIP/2.0 ", n) == 0)))
		return AUTO_UNDECIDED;
	if (line == C_YES)
		return FRAME_LINE;
	if (line == C_ALIVE)
		return AUTO_UNDECIDED;
	return AUTO_UNKNOWN;
}

static void feed_loop(struct frame_emit *e);

/*
 * The first bytes of the stream, into fs->buf until they decide.  Called
 * at the start of a call only (AUTO never comes back), so e->pos is where
 * this call's bytes begin.
 */
static void auto_feed(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;
	uint8_t seen[sizeof(fs->buf)], method_kind = FRAME_HTTP;
	uint32_t before = fs->nbuf, i = e->pos;
	int verdict = AUTO_UNDECIDED;

	while (i < e->len && verdict == AUTO_UNDECIDED) {
		fs->buf[fs->nbuf++] = e->buf[i++];
		verdict = auto_classify(fs->buf, fs->nbuf,
					fs->nbuf == sizeof(fs->buf),
					&method_kind);
	}
	if (verdict == AUTO_UNDECIDED) {
		fr_take(e, FRAME_RUN_FIELD, e->len - e->pos);
		return;
	}
	if (verdict == AUTO_UNKNOWN) {
		fr_fail(e, FRAME_E_UNKNOWN);
		return;
	}

	/*
	 * The bytes of earlier calls, reported as a field, are fed again
	 * without reports; this call's are fed from e->pos as they are.
	 */
	memcpy(seen, fs->buf, before);
	if (verdict == AUTO_HTTP_BY_VERSION) {
		frame_reset(fs, FRAME_HTTP);
		frame_http_begin(fs, (enum frame_kind)method_kind, true);
	} else {
		frame_reset(fs, (enum frame_kind)verdict);
		if (verdict == FRAME_HTTP || verdict == FRAME_SIP)
			frame_http_begin(fs, (enum frame_kind)verdict, true);
	}
	if (before) {
		struct frame_emit replay = {
			.fs = fs, .buf = seen, .len = before,
		};

		feed_loop(&replay);
		/*
		 * What was reported is a field open since the first byte:
		 * a field open in the framer goes on as part of it; anything
		 * else begins a run of its own.
		 */
		if (fs->kind == FRAME_NONE ||
		    (fs->run == FRAME_RUN_FIELD && fs->run_pos)) {
			fs->run = FRAME_RUN_FIELD;
			fs->run_pos = before;
		} else {
			fs->run_pos = 0;
		}
	}
}

static void feed_loop(struct frame_emit *e)
{
	while (e->pos < e->len) {
		switch (e->fs->kind) {
		case FRAME_MQTT:
			frame_mqtt_feed(e);
			break;
		case FRAME_HTTP:
		case FRAME_SIP:
			frame_http_feed(e);
			break;
		case FRAME_LINE:
			frame_line_feed(e);
			break;
		case FRAME_OCTET:
			frame_octet_feed(e);
			break;
		case FRAME_AUTO:
			auto_feed(e);
			break;
		default:
			e->fs->kind = FRAME_NONE;
			fr_take(e, FRAME_RUN_FIELD, e->len - e->pos);
			break;
		}
	}
}

void frame_feed(struct frame_state *fs, const uint8_t *buf, uint32_t len,
		frame_cb cb, void *ctx)
{
	struct frame_emit e = {
		.fs = fs, .buf = buf, .len = len, .cb = cb, .ctx = ctx,
	};

	feed_loop(&e);
	fr_flush(&e, 0);
}
