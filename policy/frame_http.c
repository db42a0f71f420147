/*
 * frame_http.c — HTTP/1.0 and 1.1 requests (RFC 9112) and SIP messages
 * over TCP (RFC 3261 §7, §18.3): one machine, as both are a start line,
 * header lines, an empty line and a body.
 *
 * The start line and the header lines, up to and including the empty
 * line, are one header section run.  The body is a field: as long as
 * Content-Length says, or (HTTP) chunked: each chunk-size line framing,
 * each chunk's data a field, the trailer section a header section (an
 * empty one, just the final CRLF, is framing).  A message with neither
 * has no body.  Line ends are CRLF or a bare LF; a CR must be followed
 * by LF.
 *
 * What HTTP does not allow a server to read unambiguously falls back: a
 * Content-Length with Transfer-Encoding (the request smuggling shape),
 * a Transfer-Encoding whose last coding is not chunked, Content-Length
 * values that disagree.  Upgrade, CONNECT and the HTTP/2 preface switch
 * protocol after the header section.
 *
 * SIP differs in: its version (SIP/2.0), responses from the client too
 * (a status line), the compact form "l" of Content-Length, no chunked
 * body, whitespace before a header's colon, and CRLF CRLF keep-alives
 * between messages (RFC 5626 §3.5.1), each a message of its own.  Empty
 * lines before an HTTP request (RFC 9112 §2.2) are each a message of
 * their own too, so that a stream resting after one is on a boundary.
 *
 * State: phase (H_*), flags (HF_*), u[0] (the length of the token being
 * read: method, target, version, header name; chunk-size digits),
 * u[1] (HV_*: the header whose value is read and the value's state),
 * u[2] (the header names a name being read may still be; the status
 * code's digits), u[3] (bytes of the section, for its limit), need (the
 * Content-Length or chunk size being read, then the body or chunk bytes
 * left), left (the Content-Length), nbuf (empty lines at the message's
 * start), buf[0..12) the method, buf[12..24) the version.
 */
#include <string.h>

#include "frame.h"
#include "frame_int.h"

/*
 * A header section (or trailer section, or chunk-size line) of more than
 * 64 KiB is no request a server takes (nginx and Apache refuse at 8 to
 * 64 KiB) and would be scanned as one run: the stream falls back to one
 * field instead.  A body or chunk of more than 1 GiB is an upload, not
 * a message of identifiers; its length is not trusted that far ahead.
 */
#define HTTP_MAX_SECTION	(64u << 10)
#define HTTP_MAX_BODY		(1u << 30)

enum {
	H_MSG = 0,	/* a message's start: empty lines, then the start line */
	H_METHOD,
	H_SIPVER,	/* "SIP/" began a status line: "2.0 " */
	H_STATUS,	/* its status code and SP */
	H_REASON,	/* its reason phrase */
	H_TARGET,
	H_VERSION,
	H_LSTART,	/* a header line's start */
	H_NAME,
	H_NAMEWS,	/* SIP: whitespace between a name and its colon */
	H_VALUE,
	H_BODY,
	H_CSIZE,	/* a chunk size */
	H_CEXT,		/* the rest of the chunk-size line */
	H_CDATA,
	H_CDATA_END,	/* the CRLF after a chunk's data */
	H_TSTART,	/* after the last chunk: trailers or the final CRLF */
};

#define HF_CR		0x0001	/* a CR came: LF must follow */
#define HF_BY_VERSION	0x0002	/* the first start line's version decides
				 * between HTTP and SIP */
#define HF_CL		0x0004	/* a Content-Length came */
#define HF_TE		0x0008	/* a Transfer-Encoding came */
#define HF_CHUNKED	0x0010	/* ... its last coding is chunked */
#define HF_UPGRADE	0x0020	/* an Upgrade header came */
#define HF_CONNECT	0x0040	/* the method is CONNECT */
#define HF_PRI		0x0080	/* the method is PRI */
#define HF_STAR		0x0100	/* the target is "*" */
#define HF_HEADER	0x0200	/* a header line came: a fold may follow */
#define HF_TRAILER	0x0400	/* the lines are a trailer section */
#define HF_SWITCH	0x0800	/* the protocol switches after the section */

/* u[1]: the header, the state of its value, "chunked" matched so far */
enum { HD_OTHER = 0, HD_CL, HD_TE, HD_UPGRADE };
#define HV_ID(u)	((u) & 0xff)
#define HV_STATE(u)	(((u) >> 8) & 0xff)
#define HV_MATCH(u)	((u) >> 16)
#define HV(id, st, m)	((uint32_t)(id) | (uint32_t)(st) << 8 | \
			 (uint32_t)(m) << 16)
#define HV_NOMATCH	0xff

/* value states: before a number or coding, in it, after it */
enum { V_PRE = 0, V_IN, V_POST };

static const struct {
	const char *name;
	uint8_t len;
	uint8_t id;
} http_names[] = {
	{ "content-length", 14, HD_CL },
	{ "transfer-encoding", 17, HD_TE },
	{ "upgrade", 7, HD_UPGRADE },		/* HTTP only */
	{ "l", 1, HD_CL },			/* SIP only */
};
#define NAMES_HTTP	0x7u
#define NAMES_SIP	0xbu

static const char chunked[] = "chunked";

void frame_http_begin(struct frame_state *fs, enum frame_kind kind,
		      bool by_version)
{
	fs->kind = (uint8_t)kind;
	fs->phase = H_MSG;
	fs->flags = by_version ? HF_BY_VERSION : 0;
}

static bool is_ows(uint8_t b)
{
	return b == ' ' || b == '\t';
}

/* The value of the header just ended is a complete Content-Length. */
static bool cl_value_end(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	if (HV_STATE(fs->u[1]) == V_PRE) {
		fr_fail(e, FRAME_E_SYNTAX);
		return false;
	}
	if ((fs->flags & HF_CL) && fs->left != fs->need) {
		fr_fail(e, FRAME_E_SYNTAX);
		return false;
	}
	fs->flags |= HF_CL;
	fs->left = fs->need;
	fs->need = 0;
	fs->u[1] = HV(HD_CL, V_PRE, 0);
	return true;
}

/* A transfer coding ended: chunked only once, and only last. */
static bool te_coding_end(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;
	bool is_chunked = HV_MATCH(fs->u[1]) == sizeof(chunked) - 1;

	if (fs->flags & HF_CHUNKED) {
		fr_fail(e, FRAME_E_SYNTAX);
		return false;
	}
	if (is_chunked)
		fs->flags |= HF_CHUNKED;
	fs->u[1] = HV(HD_TE, V_PRE, 0);
	return true;
}

/* The header line before (with its folds) is complete. */
static bool header_end(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;
	bool ok = true;

	switch (HV_ID(fs->u[1])) {
	case HD_CL:
		ok = cl_value_end(e);
		break;
	case HD_TE:
		if (HV_STATE(fs->u[1]) != V_PRE)
			ok = te_coding_end(e);
		break;
	}
	fs->u[1] = 0;
	return ok;
}

static void message_begin(struct frame_state *fs)
{
	fs->phase = H_MSG;
	fs->flags &= HF_BY_VERSION;
	fs->need = 0;
	fs->left = 0;
	fs->u[0] = fs->u[1] = fs->u[2] = fs->u[3] = 0;
	fs->nbuf = 0;
}

/*
 * The section's empty line was taken: the body, the message's end, or a
 * fall back.
 */
static void section_end(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;
	uint16_t f = fs->flags;

	if (f & HF_TRAILER) {
		fr_msg_end(e);
		message_begin(fs);
		return;
	}
	if (fs->kind == FRAME_SIP) {
		if (f & HF_CHUNKED) {
			fr_close(e);
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		f &= (uint16_t)~HF_TE;
	}
	if (f & (HF_SWITCH | HF_UPGRADE)) {
		fr_close(e);
		fr_fail(e, FRAME_E_SWITCH);
		return;
	}
	if (f & HF_TE) {
		fr_close(e);
		if (!(f & HF_CHUNKED) || (f & HF_CL)) {
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		fs->phase = H_CSIZE;
		fs->need = 0;
		fs->u[0] = 0;
		fs->u[3] = 0;
		return;
	}
	if (fs->left) {
		fr_close(e);
		fs->need = fs->left;
		fs->phase = H_BODY;
		return;
	}
	fr_msg_end(e);
	message_begin(fs);
}

/* The version at the request line's end: what it is, and what it does. */
static bool version_ok(struct frame_state *fs)
{
	const uint8_t *v = fs->buf + 12;
	uint32_t n = fs->u[0];
	bool http1 = n == 8 && memcmp(v, "HTTP/1.", 7) == 0 &&
		     v[7] >= '0' && v[7] <= '9';
	bool http2 = n == 8 && memcmp(v, "HTTP/2.0", 8) == 0;
	bool sip = n == 7 && strncasecmp((const char *)v, "SIP/2.0", 7) == 0;

	if (fs->flags & HF_BY_VERSION) {
		if (http1 || http2)
			fs->kind = FRAME_HTTP;
		else if (sip)
			fs->kind = FRAME_SIP;
	}
	if (fs->kind == FRAME_SIP)
		return sip;
	if (http1) {
		if (fs->flags & HF_CONNECT)
			fs->flags |= HF_SWITCH;
		return true;
	}
	/* "PRI * HTTP/2.0": the prior-knowledge preface (RFC 9113 §3.4) */
	if (http2 && (fs->flags & HF_PRI) && (fs->flags & HF_STAR)) {
		fs->flags |= HF_SWITCH;
		return true;
	}
	return false;
}

/* The start line ended (its LF taken): header lines follow. */
static void start_line_end(struct frame_state *fs)
{
	fs->flags &= (uint16_t)~(HF_BY_VERSION | HF_HEADER);
	fs->phase = H_LSTART;
}

/* A byte of a header value; false: the framing fell back. */
static bool value_byte(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;
	uint32_t u = fs->u[1];
	unsigned st = HV_STATE(u), m = HV_MATCH(u);

	switch (HV_ID(u)) {
	case HD_CL:
		if (b >= '0' && b <= '9' && st != V_POST) {
			fs->need = (st == V_PRE ? 0 : fs->need * 10) +
				   (uint32_t)(b - '0');
			if (fs->need > HTTP_MAX_BODY) {
				fr_fail(e, FRAME_E_LIMIT);
				return false;
			}
			fs->u[1] = HV(HD_CL, V_IN, 0);
		} else if (is_ows(b)) {
			if (st == V_IN)
				fs->u[1] = HV(HD_CL, V_POST, 0);
		} else if (b == ',' && st != V_PRE) {
			/* "5, 5": a list of the same value (RFC 9110 §8.6) */
			return cl_value_end(e);
		} else {
			fr_fail(e, FRAME_E_SYNTAX);
			return false;
		}
		return true;
	case HD_TE:
		if (b == ',') {
			if (st != V_PRE)
				return te_coding_end(e);
		} else if (is_ows(b)) {
			if (st == V_IN)
				fs->u[1] = HV(HD_TE, V_POST, m);
		} else {
			if (st == V_PRE)
				m = 0;
			else if (st == V_POST)
				m = HV_NOMATCH;
			if (m < sizeof(chunked) - 1 && fr_lower(b) == chunked[m])
				m++;
			else
				m = HV_NOMATCH;
			fs->u[1] = HV(HD_TE, V_IN, m);
		}
		return true;
	}
	return true;
}

/* A header name's byte: the known names it may still be. */
static void name_byte(struct frame_state *fs, uint8_t b)
{
	uint32_t k = fs->u[0], mask = fs->u[2];

	for (unsigned i = 0; mask >> i; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (k >= http_names[i].len ||
		    fr_lower(b) != (uint8_t)http_names[i].name[k])
			mask &= ~(1u << i);
	}
	fs->u[2] = mask;
	if (k < UINT32_MAX)
		fs->u[0] = k + 1;
}

/* The colon after a header name. */
static void name_end(struct frame_state *fs)
{
	uint32_t id = HD_OTHER;

	for (unsigned i = 0; fs->u[2] >> i; i++)
		if ((fs->u[2] & (1u << i)) && http_names[i].len == fs->u[0])
			id = http_names[i].id;
	if (id == HD_TE)
		fs->flags |= HF_TE;
	if (id == HD_UPGRADE)
		fs->flags |= HF_UPGRADE;
	fs->u[1] = HV(id, V_PRE, 0);
	fs->phase = H_VALUE;
}

/* A byte of the start line or of a header or trailer line. */
static void header_byte(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;

	if (++fs->u[3] > HTTP_MAX_SECTION) {
		fr_fail(e, FRAME_E_LIMIT);
		return;
	}
	switch (fs->phase) {
	case H_METHOD:
		if (fr_is_tchar(b)) {
			if (fs->u[0] < 12)
				fs->buf[fs->u[0]] = b;
			fs->u[0]++;
			break;
		}
		if (b == '/' && fs->u[0] == 3 && memcmp(fs->buf, "SIP", 3) == 0 &&
		    (fs->kind == FRAME_SIP || (fs->flags & HF_BY_VERSION))) {
			fs->phase = H_SIPVER;
			fs->u[0] = 0;
			break;
		}
		if (b != ' ' || fs->u[0] == 0)
			goto syntax;
		if (fs->u[0] == 7 && memcmp(fs->buf, "CONNECT", 7) == 0)
			fs->flags |= HF_CONNECT;
		if (fs->u[0] == 3 && memcmp(fs->buf, "PRI", 3) == 0)
			fs->flags |= HF_PRI;
		fs->phase = H_TARGET;
		fs->u[0] = 0;
		break;
	case H_SIPVER:
		if (b != (uint8_t)"2.0 "[fs->u[0]])
			goto syntax;
		if (++fs->u[0] == 4) {
			fs->phase = H_STATUS;
			fs->u[2] = 0;
		}
		break;
	case H_STATUS:
		if (fs->u[2] < 3 && b >= '0' && b <= '9')
			fs->u[2]++;
		else if (fs->u[2] == 3 && b == ' ')
			fs->phase = H_REASON;
		else
			goto syntax;
		break;
	case H_REASON:
		if (b == 0)
			goto syntax;
		if (b == '\r') {
			fs->flags |= HF_CR;
		} else if (b == '\n') {
			if (fs->flags & HF_BY_VERSION)
				fs->kind = FRAME_SIP;
			start_line_end(fs);
		}
		break;
	case H_TARGET:
		if (b == ' ') {
			if (fs->u[0] == 0)
				goto syntax;
			fs->phase = H_VERSION;
			fs->u[0] = 0;
			break;
		}
		if (b <= ' ' || b == 0x7f)
			goto syntax;
		if (fs->u[0] == 0 && b == '*')
			fs->flags |= HF_STAR;
		else
			fs->flags &= (uint16_t)~HF_STAR;
		fs->u[0]++;
		break;
	case H_VERSION:
		if (b == '\r') {
			fs->flags |= HF_CR;
		} else if (b == '\n') {
			if (!version_ok(fs))
				goto syntax;
			start_line_end(fs);
		} else if (fs->u[0] < 8 && b > ' ' && b < 0x7f) {
			fs->buf[12 + fs->u[0]++] = b;
		} else {
			goto syntax;
		}
		break;
	case H_LSTART:
		if (is_ows(b)) {
			/* obs-fold: the header before goes on */
			if (!(fs->flags & HF_HEADER))
				goto syntax;
			fs->phase = H_VALUE;
			if (!value_byte(e, b))
				return;
			break;
		}
		if (!header_end(e))
			return;
		if (b == '\r') {
			fs->flags |= HF_CR;
			break;
		}
		if (b == '\n') {
			fr_take(e, FRAME_RUN_HEADERS, 1);
			section_end(e);
			return;
		}
		if (!fr_is_tchar(b))
			goto syntax;
		fs->flags |= HF_HEADER;
		fs->phase = H_NAME;
		fs->u[0] = 0;
		fs->u[2] = (fs->flags & HF_TRAILER) ? 0 :
			   fs->kind == FRAME_SIP ? NAMES_SIP : NAMES_HTTP;
		name_byte(fs, b);
		break;
	case H_NAME:
		if (fr_is_tchar(b)) {
			name_byte(fs, b);
		} else if (b == ':') {
			name_end(fs);
		} else if (is_ows(b) && fs->kind == FRAME_SIP) {
			fs->phase = H_NAMEWS;
		} else {
			goto syntax;
		}
		break;
	case H_NAMEWS:
		if (b == ':')
			name_end(fs);
		else if (!is_ows(b))
			goto syntax;
		break;
	case H_VALUE:
		if (b == 0)
			goto syntax;
		if (b == '\r') {
			fs->flags |= HF_CR;
		} else if (b == '\n') {
			fs->phase = H_LSTART;
		} else if (!value_byte(e, b)) {
			return;
		}
		break;
	}
	fr_take(e, FRAME_RUN_HEADERS, 1);
	return;
syntax:
	fr_fail(e, FRAME_E_SYNTAX);
}

static int hex_value(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = fr_lower(b);
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

/* A byte of framing: before a start line, of a chunk-size line, a CRLF. */
static void struct_byte(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;
	int h;

	switch (fs->phase) {
	case H_MSG:
		if (b == '\r') {
			fs->flags |= HF_CR;
			break;
		}
		if (b != '\n') {
			/* the start line */
			fs->phase = H_METHOD;
			fs->u[0] = 0;
			fs->u[3] = 0;
			header_byte(e, b);
			return;
		}
		fr_take(e, FRAME_RUN_STRUCT, 1);
		if (fs->kind == FRAME_HTTP || ++fs->nbuf == 2) {
			fr_msg_end(e);
			message_begin(fs);
		}
		return;
	case H_CSIZE:
	case H_CEXT:
		if (++fs->u[3] > HTTP_MAX_SECTION) {
			fr_fail(e, FRAME_E_LIMIT);
			return;
		}
		h = fs->phase == H_CSIZE ? hex_value(b) : -1;
		if (h >= 0) {
			fs->need = fs->need * 16 + (unsigned)h;
			if (fs->need > HTTP_MAX_BODY) {
				fr_fail(e, FRAME_E_LIMIT);
				return;
			}
			fs->u[0]++;
			break;
		}
		if (fs->phase == H_CSIZE && fs->u[0] == 0)
			goto syntax;
		if (b == '\r') {
			fs->flags |= HF_CR;
			break;
		}
		if (b == '\n') {
			fr_take(e, FRAME_RUN_STRUCT, 1);
			if (fs->need) {
				fs->phase = H_CDATA;
				return;
			}
			fs->phase = H_TSTART;
			fs->flags |= HF_TRAILER;
			fs->flags &= (uint16_t)~HF_HEADER;
			fs->u[3] = 0;
			return;
		}
		if (b == 0 || (fs->phase == H_CSIZE && b != ';' && !is_ows(b)))
			goto syntax;
		fs->phase = H_CEXT;
		break;
	case H_CDATA_END:
		if (b == '\r') {
			fs->flags |= HF_CR;
			break;
		}
		if (b != '\n')
			goto syntax;
		fs->phase = H_CSIZE;
		fs->need = 0;
		fs->u[0] = 0;
		fs->u[3] = 0;
		break;
	case H_TSTART:
		if (b == '\r') {
			fs->flags |= HF_CR;
			break;
		}
		if (b == '\n') {
			fr_take(e, FRAME_RUN_STRUCT, 1);
			fr_msg_end(e);
			message_begin(fs);
			return;
		}
		/* a trailer section: header lines */
		fs->phase = H_LSTART;
		header_byte(e, b);
		return;
	}
	fr_take(e, FRAME_RUN_STRUCT, 1);
	return;
syntax:
	fr_fail(e, FRAME_E_SYNTAX);
}

void frame_http_feed(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	while (e->pos < e->len &&
	       (fs->kind == FRAME_HTTP || fs->kind == FRAME_SIP)) {
		uint8_t b = e->buf[e->pos];
		uint32_t avail = e->len - e->pos, n;

		if (fs->flags & HF_CR) {
			if (b != '\n') {
				fr_fail(e, FRAME_E_SYNTAX);
				return;
			}
			fs->flags &= (uint16_t)~HF_CR;
		}
		switch (fs->phase) {
		case H_BODY:
		case H_CDATA:
			n = fs->need < avail ? (uint32_t)fs->need : avail;
			fr_take(e, FRAME_RUN_FIELD, n);
			fs->need -= n;
			if (fs->need)
				break;
			if (fs->phase == H_CDATA) {
				fr_close(e);
				fs->phase = H_CDATA_END;
			} else {
				fr_msg_end(e);
				message_begin(fs);
			}
			break;
		case H_VALUE:
			if (HV_ID(fs->u[1]) == HD_OTHER) {
				/* a value no one reads: to its line's end */
				const uint8_t *p = e->buf + e->pos;

				for (n = 0; n < avail && p[n] != '\r' &&
				     p[n] != '\n' && p[n] != 0; n++)
					;
				if (n) {
					if ((uint64_t)fs->u[3] + n > HTTP_MAX_SECTION) {
						n = HTTP_MAX_SECTION - fs->u[3];
						if (n == 0) {
							fr_fail(e, FRAME_E_LIMIT);
							break;
						}
					}
					fs->u[3] += n;
					fr_take(e, FRAME_RUN_HEADERS, n);
					break;
				}
			}
			header_byte(e, b);
			break;
		case H_MSG:
		case H_CSIZE:
		case H_CEXT:
		case H_CDATA_END:
		case H_TSTART:
			struct_byte(e, b);
			break;
		default:
			header_byte(e, b);
			break;
		}
	}
}
