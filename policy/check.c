/*
 * check.c — the meaning of a parsed policy: value ranges, statements
 * that may appear once, services that collide, actions that would break
 * a protocol or change a TCP length, patterns that do not compile, and
 * the key file.  Checks everything and reports every problem; resolves
 * the singleton statements so the compiler need not search for them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "key.h"
#include "lang.h"
#include "ruleset.h"

struct checker {
	const struct src *src;
	struct diag_list *dl;
	int rc;
};

#define ERR(ck, loc, ...) \
	diag_add((ck)->dl, (ck)->src, DIAG_ERROR, (loc), __VA_ARGS__)

static const char *proto_name(uint8_t proto)
{
	return proto == RS_PROTO_TCP ? "tcp" : "udp";
}

static unsigned family_bits(uint8_t family)
{
	return family == 4 ? 32 : 128;
}

/* The source text of @loc, for quoting a token back to the operator. */
static int loc_text_len(const struct loc *l)
{
	return l->span > 64 ? 64 : (int)l->span;
}

static const char *loc_text(const struct checker *ck, const struct loc *l)
{
	return ck->src->text + l->offset;
}

static void dup_error(struct checker *ck, const struct ast_stmt *st,
		      const struct ast_stmt *first, const char *what)
{
	ERR(ck, st->loc, "duplicate \"%s\" statement (first on line %u)", what,
	    first->loc.line);
}

static bool check_len(struct checker *ck, const struct ast_num *n,
		      uint8_t family, const char *what)
{
	unsigned max = family_bits(family);

	if (n->v <= max)
		return true;
	ERR(ck, n->loc, "%s %llu out of range 0..%u for IPv%u", what,
	    (unsigned long long)n->v, max, family);
	return false;
}

static bool host_bits_clear(const struct ast_prefix *p)
{
	unsigned bytes = p->family == 4 ? 4 : 16;

	for (unsigned bit = (unsigned)p->plen; bit < bytes * 8; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static bool check_prefix(struct checker *ck, const struct ast_prefix *p)
{
	unsigned max = family_bits(p->family);

	if (p->plen > max) {
		ERR(ck, p->len_loc, "prefix length %llu out of range 0..%u for IPv%u",
		    (unsigned long long)p->plen, max, p->family);
		return false;
	}
	if (!host_bits_clear(p)) {
		ERR(ck, p->loc, "host bits set in prefix \"%.*s\" beyond /%u",
		    loc_text_len(&p->loc), loc_text(ck, &p->loc),
		    (unsigned)p->plen);
		return false;
	}
	return true;
}

static bool check_port(struct checker *ck, const struct ast_num *n)
{
	if (n->v >= 1 && n->v <= 65535)
		return true;
	ERR(ck, n->loc, "port %llu out of range 1..65535",
	    (unsigned long long)n->v);
	return false;
}

static bool check_listen_range(struct checker *ck, const struct ast_range *r)
{
	bool ok = check_port(ck, &r->lo);

	if (r->is_range)
		ok = check_port(ck, &r->hi) && ok;
	if (ok && r->lo.v > r->hi.v) {
		ERR(ck, r->loc, "reversed port range %llu-%llu",
		    (unsigned long long)r->lo.v, (unsigned long long)r->hi.v);
		ok = false;
	}
	return ok;
}

static bool check_queue(struct checker *ck, const struct ast_range *r)
{
	const struct ast_num *bad = r->lo.v > 65535 ? &r->lo :
				    r->hi.v > 65535 ? &r->hi : NULL;

	if (bad) {
		ERR(ck, bad->loc, "queue %llu out of range 0..65535",
		    (unsigned long long)bad->v);
		return false;
	}
	if (r->lo.v > r->hi.v) {
		ERR(ck, r->loc, "reversed queue range %llu-%llu",
		    (unsigned long long)r->lo.v, (unsigned long long)r->hi.v);
		return false;
	}
	return true;
}

static void check_address(struct checker *ck, const struct ast_stmt *st)
{
	const struct ast_prefix *range = &st->address.range;
	unsigned max = family_bits(st->address.family);

	switch (st->address.mode) {
	case ADDR_KEEP:
		break;
	case ADDR_TRUNCATE:
	case ADDR_PERMUTE:
		if (st->address.has_len)
			check_len(ck, &st->address.len, st->address.family,
				  "prefix length");
		break;
	case ADDR_MAP:
		if (range->family != st->address.family) {
			ERR(ck, range->loc,
			    "map range \"%.*s\" is IPv%u, not IPv%u",
			    loc_text_len(&range->loc), loc_text(ck, &range->loc),
			    range->family, st->address.family);
			break;
		}
		if (!check_prefix(ck, range))
			break;
		if (range->plen + 2 > max)
			ERR(ck, range->len_loc,
			    "map range /%u leaves fewer than 2 host bits (at most /%u)",
			    (unsigned)range->plen, max - 2);
		break;
	}
}

/*
 * Compile @pat as the engine will; report the error at its character.
 * Return: true when it compiles.
 */
static bool check_pattern(struct checker *ck, const struct ast_str *pat)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE erroff;
	pcre2_code *re;
	int err;

	re = pcre2_compile((PCRE2_SPTR)pat->s, pat->len, 0, &err, &erroff, NULL);
	if (re) {
		pcre2_code_free(re);
		return true;
	}
	if (err == PCRE2_ERROR_NOMEMORY) {
		ck->rc = -ENOMEM;
		return false;
	}
	if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", err);

	struct token tok = { .kind = TOK_STRING, .loc = pat->loc };
	struct loc at = pat->loc;
	unsigned col = lang_string_column(ck->src, &tok, erroff);

	at.offset += col - at.col;
	at.col = col;
	at.span = 1;
	ERR(ck, at, "invalid pattern: %s", (const char *)msg);
	return false;
}

/* ---- allow patterns that may cross a line ------------------------------ */

/*
 * A conservative reading of PCRE2 syntax: can a construct match CR or
 * LF?  It errs towards yes (an extended-mode comment, a \p property it
 * does not know), never towards no.
 */
struct nl_set {
	bool cr, lf;
};

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void nl_add(struct nl_set *n, unsigned long v)
{
	n->cr |= v == '\r';
	n->lf |= v == '\n';
}

static void nl_all(struct nl_set *n)
{
	n->cr = n->lf = true;
}

/*
 * The escape at p[i] (the backslash): what it may match, added to @n;
 * *@byte gets the one byte it stands for, or -1 for a set (\d, \s ...).
 * Return: the bytes it takes.
 */
static size_t nl_escape(const char *p, size_t len, size_t i,
			struct nl_set *n, long *byte)
{
	size_t j = i + 1;
	unsigned long v = 0;
	char c;

	*byte = -1;
	if (j >= len)
		return 1;
	c = p[j++];
	switch (c) {
	case 's': case 'v': case 'R': case 'D': case 'W': case 'H':
	case 'X': case 'C':
		/* whitespace, vertical space, any newline, or their
		 * complements and "any": each holds CR and LF */
		nl_all(n);
		return j - i;
	case 'd': case 'w': case 'h': case 'S': case 'V': case 'b': case 'B':
	case 'A': case 'z': case 'Z': case 'G': case 'K':
		return j - i;
	case 'N':
		if (j < len && p[j] == '{') {	/* \N{U+hh}: a code point */
			nl_all(n);
			while (j < len && p[j] != '}')
				j++;
			j += j < len;
		}
		return j - i;
	case 'p': case 'P': {
		/* letters, numbers, marks, punctuation, symbols hold neither */
		char first = j < len && p[j] == '{' && j + 1 < len ? p[j + 1] :
			     j < len ? p[j] : '\0';

		if (c == 'P' || first == '^' || !strchr("LNMPS", first))
			nl_all(n);
		if (j < len && p[j] == '{') {
			while (j < len && p[j] != '}')
				j++;
		}
		j += j < len;
		return j - i;
	}
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'f': v = '\f'; break;
	case 'a': v = 7; break;
	case 'e': v = 0x1b; break;
	case 'x':
		if (j < len && p[j] == '{') {
			for (j++; j < len && hexdig(p[j]) >= 0; j++)
				v = v * 16 + (unsigned long)hexdig(p[j]);
			j += j < len && p[j] == '}';
		} else {
			for (int k = 0; k < 2 && j < len && hexdig(p[j]) >= 0; k++, j++)
				v = v * 16 + (unsigned long)hexdig(p[j]);
		}
		break;
	case 'o':
		if (j < len && p[j] == '{') {
			for (j++; j < len && p[j] >= '0' && p[j] <= '7'; j++)
				v = v * 8 + (unsigned long)(p[j] - '0');
			j += j < len && p[j] == '}';
		}
		break;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6':
	case '7':
		/* an octal escape, or a back reference to what a group
		 * (checked on its own) matched: read it as octal */
		v = (unsigned long)(c - '0');
		for (int k = 0; k < 2 && j < len && p[j] >= '0' && p[j] <= '7'; k++, j++)
			v = v * 8 + (unsigned long)(p[j] - '0');
		break;
	case 'c':
		if (j < len) {
			char x = p[j++];

			if (x >= 'a' && x <= 'z')
				x = (char)(x - 'a' + 'A');
			v = (unsigned char)x ^ 0x40;
		}
		break;
	default:
		/* an escaped byte stands for itself (\Q is read by the caller) */
		v = (unsigned char)c;
		break;
	}
	nl_add(n, v);
	*byte = (long)(v > 0x10ffff ? 0x10ffff : v);
	return j - i;
}

/* The class at p[i] ('['): whether it may match CR or LF; *end past it. */
static bool nl_class(const char *p, size_t len, size_t i, size_t *end)
{
	static const char *const posix_nl[] = { "space", "cntrl", "ascii", NULL };
	struct nl_set n = { false, false };
	bool neg = false, first = true;
	long prev = -1;
	size_t j = i + 1;

	if (j < len && p[j] == '^') {
		neg = true;
		j++;
	}
	while (j < len && (p[j] != ']' || first)) {
		first = false;
		if (p[j] == '[' && j + 1 < len && p[j + 1] == ':') {
			size_t k = j + 2;
			bool pneg = k < len && p[k] == '^';
			bool holds = false;

			k += pneg;
			for (int w = 0; posix_nl[w]; w++) {
				size_t wl = strlen(posix_nl[w]);

				if (k + wl <= len && !memcmp(p + k, posix_nl[w], wl))
					holds = true;
			}
			if (holds != pneg)
				nl_all(&n);
			while (k < len && !(p[k] == ']' && p[k - 1] == ':'))
				k++;
			j = k + 1;
			prev = -1;
			continue;
		}
		if (p[j] == '-' && prev >= 0 && j + 1 < len && p[j + 1] != ']') {
			struct nl_set e = { false, false };
			long hi;

			j++;
			if (p[j] == '\\')
				j += nl_escape(p, len, j, &e, &hi);
			else
				hi = (unsigned char)p[j++];
			if (hi < 0)	/* [a-\d]: a literal '-' and a set */
				hi = prev;
			n.cr |= e.cr || (prev <= '\r' && hi >= '\r');
			n.lf |= e.lf || (prev <= '\n' && hi >= '\n');
			prev = -1;
			continue;
		}
		if (p[j] == '\\') {
			struct nl_set e = { false, false };

			j += nl_escape(p, len, j, &e, &prev);
			n.cr |= e.cr;
			n.lf |= e.lf;
			continue;
		}
		prev = (unsigned char)p[j];
		nl_add(&n, (unsigned long)prev);
		j++;
	}
	*end = j < len ? j + 1 : len;
	return neg ? !(n.cr && n.lf) : n.cr || n.lf;
}

/*
 * Whether the pattern @p may match a CR or LF byte; @at and @span get
 * the first construct that may (offsets into @p).
 */
static bool pattern_may_match_nl(const char *p, size_t len, size_t *at,
				 size_t *span)
{
	for (size_t i = 0; i < len;) {
		struct nl_set n = { false, false };
		size_t step = 1;

		switch (p[i]) {
		case '\r':
		case '\n':
		case '.':
			nl_all(&n);
			break;
		case '[':
			if (nl_class(p, len, i, &step))
				nl_all(&n);
			step -= i;
			break;
		case '(':
			if (i + 2 < len && p[i + 1] == '?' && p[i + 2] == '#') {
				while (i + step < len && p[i + step] != ')')
					step++;
			}
			break;
		case '\\':
			if (i + 1 < len && p[i + 1] == 'Q') {
				/* quoted text up to \E: only its own bytes */
				size_t k = i + 2;

				while (k < len && !(p[k] == '\\' && k + 1 < len &&
						    p[k + 1] == 'E')) {
					if (p[k] == '\r' || p[k] == '\n') {
						*at = k;
						*span = 1;
						return true;
					}
					k++;
				}
				step = (k < len ? k + 2 : len) - i;
				break;
			}
			{
				long byte;

				step = nl_escape(p, len, i, &n, &byte);
			}
			break;
		default:
			break;
		}
		if (n.cr || n.lf) {
			*at = i;
			*span = step;
			return true;
		}
		i += step;
	}
	return false;
}

/*
 * An allow pattern that may match CR or LF may run across lines: the
 * bytes of a later command line in the same segment would be exempt.
 */
static void check_allow_lines(struct checker *ck, const struct ast_str *pat)
{
	struct token tok = { .kind = TOK_STRING, .loc = pat->loc };
	struct loc at = pat->loc;
	size_t off, span;
	unsigned col, col_end;

	if (!pattern_may_match_nl(pat->s, pat->len, &off, &span))
		return;
	col = lang_string_column(ck->src, &tok, off);
	col_end = lang_string_column(ck->src, &tok, off + span);
	at.offset += col - at.col;
	at.col = col;
	at.span = col_end > col ? col_end - col : 1;
	diag_add(ck->dl, ck->src, DIAG_WARNING, at,
		 "allow pattern may match CR or LF: a match can run across lines and exempt what follows (exclude them, as in [^>\\r\\n])");
}

static bool is_tchar(unsigned char c)
{
	/* RFC 9110 token characters: what a header field name may use */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_redact(struct checker *ck, const struct ast_service *svc,
			 const struct ast_stmt *st, bool listens_tcp)
{
	enum det_kind det = st->redact.det;
	enum act_kind act = st->redact.act;
	const char *dn = policy_det_name(det), *an = policy_act_name(act);
	unsigned max_nums = 0;

	switch (det) {
	case DET_LITERAL:
		if (!st->redact.arg.len)
			ERR(ck, st->redact.arg.loc, "empty literal");
		break;
	case DET_PATTERN:
		if (!st->redact.arg.len)
			ERR(ck, st->redact.arg.loc, "empty pattern");
		else
			check_pattern(ck, &st->redact.arg);
		break;
	case DET_HEADER: {
		const struct ast_str *h = &st->redact.arg;
		bool ok = h->len > 0;

		for (size_t i = 0; ok && i < h->len; i++)
			ok = is_tchar((unsigned char)h->s[i]);
		if (!ok)
			ERR(ck, h->loc,
			    "invalid header name (letters, digits and -, no colon)");
		break;
	}
	default:
		break;
	}

	if (st->redact.hostnames && det != DET_IPV4) {
		ERR(ck, st->redact.hostnames_loc,
		    "option \"hostnames\" does not fit detector \"%s\" (only ipv4)",
		    dn);
		return;
	}
	if (st->redact.relaxed && det != DET_EMAIL)
		ERR(ck, st->redact.relaxed_loc,
		    "option \"relaxed\" does not fit detector \"%s\" (only email)",
		    dn);
	if (det == DET_EMAIL) {
		/* the scan runs the email detector once, as its first rule says */
		for (const struct ast_stmt *e = svc->stmts; e < st; e++)
			if (e->kind == ST_REDACT && e->redact.det == DET_EMAIL) {
				if (st->redact.relaxed && !e->redact.relaxed)
					diag_add(ck->dl, ck->src, DIAG_WARNING,
						 st->redact.relaxed_loc,
						 "\"relaxed\" is ignored: the first \"redact email\" (line %u) decides how addresses are found, and it is not relaxed",
						 e->loc.line);
				else if (!st->redact.relaxed && e->redact.relaxed)
					diag_add(ck->dl, ck->src, DIAG_WARNING,
						 st->redact.det_loc,
						 "the first \"redact email\" (line %u) is relaxed and decides how addresses are found: this rule is relaxed too",
						 e->loc.line);
				break;
			}
	}
	if (det == DET_PROXY && act != ACT_TRUNCATE && act != ACT_ADDRESS) {
		ERR(ck, st->redact.act_loc,
		    "proxy-protocol cannot take \"%s\": it would break the PROXY header (use truncate or address)",
		    an);
		return;
	}
	if (act == ACT_TRUNCATE && det != DET_IPV4 && det != DET_IPV6 &&
	    det != DET_PROXY && det != DET_HEADER) {
		ERR(ck, st->redact.act_loc,
		    "action \"truncate\" does not fit detector \"%s\" (only ipv4, ipv6, proxy-protocol, header)",
		    dn);
		return;
	}
	if (act == ACT_ADDRESS && det != DET_PROXY && det != DET_HEADER) {
		ERR(ck, st->redact.act_loc,
		    "action \"address\" does not fit detector \"%s\" (only proxy-protocol, header)",
		    dn);
		return;
	}
	if (act == ACT_ADDRESS && listens_tcp) {
		for (int f = 0; f < 2; f++) {
			const struct ast_stmt *a = svc->addr[f];

			if (a && (a->address.mode == ADDR_MAP ||
				  a->address.mode == ADDR_PERMUTE)) {
				ERR(ck, st->redact.act_loc,
				    "cannot keep TCP lengths: action \"address\" needs address ipv%u keep or truncate in a TCP service, not %s",
				    f ? 6 : 4,
				    a->address.mode == ADDR_MAP ? "map" : "permute");
				return;
			}
		}
	}

	if (act == ACT_TRUNCATE)
		max_nums = det == DET_IPV4 || det == DET_IPV6 ? 1 : 2;
	if (st->redact.n_nums > max_nums) {
		const struct ast_num *extra = &st->redact.nums[max_nums];

		if (max_nums == 0)
			ERR(ck, extra->loc, "action \"%s\" takes no length", an);
		else
			ERR(ck, extra->loc,
			    "\"redact %s truncate\" takes one length", dn);
		return;
	}
	for (unsigned i = 0; i < st->redact.n_nums; i++) {
		uint8_t fam = det == DET_IPV6 || i == 1 ? 6 : 4;

		check_len(ck, &st->redact.nums[i], fam, "truncate length");
	}
}

/* Pass one over a service: the statements each on their own. */
static void check_service_stmts(struct checker *ck, struct ast_service *svc,
				bool *listens, bool *listens_tcp)
{
	for (size_t i = 0; i < svc->n; i++) {
		const struct ast_stmt *st = &svc->stmts[i];

		switch (st->kind) {
		case ST_LISTEN:
			*listens = true;
			if (st->listen.proto == RS_PROTO_TCP)
				*listens_tcp = true;
			for (size_t j = 0; j < st->listen.n; j++)
				check_listen_range(ck, &st->listen.ports[j]);
			break;
		case ST_QUEUE:
			if (svc->queue)
				dup_error(ck, st, svc->queue, "queue");
			else
				svc->queue = st;
			check_queue(ck, &st->queue);
			break;
		case ST_CLIENTS:
			for (size_t j = 0; j < st->clients.n; j++)
				check_prefix(ck, &st->clients.v[j]);
			break;
		case ST_ADDRESS: {
			int f = st->address.family == 6;

			if (svc->addr[f])
				ERR(ck, st->loc,
				    "duplicate \"address ipv%u\" statement (first on line %u)",
				    st->address.family, svc->addr[f]->loc.line);
			else
				svc->addr[f] = st;
			check_address(ck, st);
			break;
		}
		case ST_ALLOW:
			if (!st->allow.len)
				ERR(ck, st->allow.loc, "empty pattern");
			else if (check_pattern(ck, &st->allow))
				check_allow_lines(ck, &st->allow);
			break;
		case ST_HOLD:
			if (svc->hold)
				dup_error(ck, st, svc->hold, "hold");
			else
				svc->hold = st;
			if (st->hold.ms > 10000)
				ERR(ck, st->hold.loc, "hold time above 10s");
			break;
		case ST_FRAME:
			if (svc->frame)
				dup_error(ck, st, svc->frame, "frame");
			else
				svc->frame = st;
			break;
		case ST_ON_ERROR:
			if (svc->on_error)
				dup_error(ck, st, svc->on_error, "on-error");
			else
				svc->on_error = st;
			if (st->on_error.accept)
				diag_add(ck->dl, ck->src, DIAG_WARNING,
					 st->on_error.loc,
					 "on-error accept passes packets unredacted when they cannot be processed");
			break;
		default:
			break;
		}
	}
}

/*
 * A framing reads a TCP stream: on a service that listens on UDP only
 * it would frame nothing (`none` and `auto` fit any service).
 */
static void check_frame(struct checker *ck, const struct ast_service *svc,
			bool listens, bool listens_tcp)
{
	const struct ast_stmt *st = svc->frame;

	if (!st || listens_tcp || !listens || st->frame.kind == FRAME_NONE ||
	    st->frame.kind == FRAME_AUTO)
		return;
	ERR(ck, st->frame.loc,
	    "\"frame %s\" reads a TCP stream, and service \"%s\" listens on UDP only",
	    frame_kind_name(st->frame.kind), svc->name);
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static void check_overlaps(struct checker *ck, const struct ast_policy *ast)
{
	/* owner[proto][port]: service index + 1 of the first listener */
	uint16_t (*owner)[65536] = calloc(2, sizeof(*owner));

	if (!owner) {
		ck->rc = -ENOMEM;
		return;
	}
	for (size_t si = 0; si < ast->n_svcs && si < UINT16_MAX; si++) {
		const struct ast_service *svc = &ast->svcs[si];

		for (size_t i = 0; i < svc->n; i++) {
			const struct ast_stmt *st = &svc->stmts[i];

			if (st->kind != ST_LISTEN)
				continue;
			for (size_t j = 0; j < st->listen.n; j++) {
				const struct ast_range *r = &st->listen.ports[j];
				uint16_t *own = owner[st->listen.proto];
				unsigned clash = 0, clash_port = 0;

				if (r->lo.v < 1 || r->hi.v > 65535 ||
				    r->lo.v > r->hi.v)
					continue;
				for (unsigned p = (unsigned)r->lo.v; p <= r->hi.v; p++) {
					if (own[p] && own[p] != si + 1) {
						if (!clash) {
							clash = own[p];
							clash_port = p;
						}
						continue;
					}
					own[p] = (uint16_t)(si + 1);
				}
				if (clash)
					ERR(ck, r->loc,
					    "service \"%s\" overlaps service \"%s\" on %s port %u",
					    svc->name, ast->svcs[clash - 1].name,
					    proto_name(st->listen.proto), clash_port);
			}
		}
	}
	free(owner);
}

/*
 * Room for the outbound queues (policy_service_queues_out()): they are
 * the inbound block moved up by its own width, so its highest queue H and
 * lowest L must leave 2H - L + 1 <= 65535.  Services whose queue
 * statement is out of range were reported already and are left out.
 */
static void check_queue_room(struct checker *ck, const struct ast_policy *ast)
{
	const struct ast_stmt *top = NULL;
	uint64_t lo = 65535, hi = 0;

	for (size_t si = 0; si < ast->n_svcs; si++) {
		const struct ast_stmt *q = ast->svcs[si].queue;
		uint64_t qlo = q ? q->queue.lo.v : 0, qhi = q ? q->queue.hi.v : 0;

		if (!ast->svcs[si].name || qhi > 65535 || qlo > qhi)
			continue;
		if (qlo < lo)
			lo = qlo;
		/* without a statement the queue is 0: never the highest */
		if (q && qhi >= hi) {
			hi = qhi;
			top = q;
		}
	}
	if (top && 2 * hi - lo + 1 > 65535) {
		char block[32];

		if (lo == hi)
			snprintf(block, sizeof(block), "%llu",
				 (unsigned long long)lo);
		else
			snprintf(block, sizeof(block), "%llu-%llu",
				 (unsigned long long)lo, (unsigned long long)hi);
		ERR(ck, top->queue.loc,
		    "no room for the outbound queues: they follow the inbound "
		    "queues %s and would end at %llu (at most 65535)", block,
		    (unsigned long long)(2 * hi - lo + 1));
	}
}

static int resolve_key_path(struct ast_policy *ast, const struct src *src)
{
	const char *path = ast->key->key.s;
	const char *slash = src->name ? strrchr(src->name, '/') : NULL;

	if (path[0] == '/' || !slash)
		ast->key_path = strdup(path);
	else if (asprintf(&ast->key_path, "%.*s/%s",
			  (int)(slash - src->name), src->name, path) < 0)
		ast->key_path = NULL;
	return ast->key_path ? 0 : -ENOMEM;
}

static void check_key(struct checker *ck, struct ast_policy *ast)
{
	const struct ast_str *k = &ast->key->key;
	const char *why = NULL;
	int rc;

	if (!k->len || memchr(k->s, '\0', k->len)) {
		ERR(ck, k->loc, "invalid key file path");
		return;
	}
	rc = resolve_key_path(ast, ck->src);
	if (rc) {
		ck->rc = rc;
		return;
	}
	rc = key_file_check(ast->key_path, &why);
	if (!rc)
		return;
	if (!why)
		why = strerror(-rc);
	ERR(ck, k->loc, "key file \"%s\": %s", k->s, why);
}

/**
 * lang_check() - see lang.h
 */
int lang_check(const struct src *src, struct ast_policy *ast,
	       struct diag_list *dl)
{
	struct checker ck = { .src = src, .dl = dl };

	for (size_t i = 0; i < ast->n_top; i++) {
		const struct ast_stmt *st = &ast->top[i];

		if (st->kind == ST_KEY) {
			if (ast->key)
				dup_error(&ck, st, ast->key, "key");
			else
				ast->key = st;
		} else if (st->kind == ST_EPOCH) {
			if (ast->epoch)
				dup_error(&ck, st, ast->epoch, "epoch");
			else
				ast->epoch = st;
		} else if (st->kind == ST_KEY_GRACE) {
			if (ast->key_grace)
				dup_error(&ck, st, ast->key_grace, "key-grace");
			else
				ast->key_grace = st;
			/* the old key stays for the grace: seconds, not hours */
			if (st->epoch.seconds > KEY_GRACE_MAX)
				ERR(&ck, st->epoch.loc, "key-grace at most %us "
				    "(the previous epoch's key is kept that long)",
				    (unsigned)KEY_GRACE_MAX);
		}
	}
	if (ast->key)
		check_key(&ck, ast);

	for (size_t si = 0; si < ast->n_svcs; si++) {
		struct ast_service *svc = &ast->svcs[si];
		bool listens = false, listens_tcp = false;

		if (!svc->name)
			continue;
		if (!valid_name(svc->name))
			ERR(&ck, svc->name_loc,
			    "invalid service name \"%s\" (letters, digits, -, _ and .)",
			    svc->name);
		for (size_t j = 0; j < si; j++) {
			if (ast->svcs[j].name &&
			    !strcmp(ast->svcs[j].name, svc->name)) {
				ERR(&ck, svc->name_loc,
				    "duplicate service name \"%s\" (first on line %u)",
				    svc->name, ast->svcs[j].name_loc.line);
				break;
			}
		}
		if (si == RS_MAX_SERVICES)
			ERR(&ck, svc->name_loc, "too many services (at most %u)",
			    RS_MAX_SERVICES);

		check_service_stmts(&ck, svc, &listens, &listens_tcp);
		check_frame(&ck, svc, listens, listens_tcp);
		for (size_t i = 0; i < svc->n; i++)
			if (svc->stmts[i].kind == ST_REDACT)
				check_redact(&ck, svc, &svc->stmts[i], listens_tcp);
		/* A broken listen line was reported already. */
		if (!listens && !svc->damaged)
			ERR(&ck, svc->name_loc,
			    "service \"%s\" has no \"listen\" statement",
			    svc->name);
		if (ck.rc)
			return ck.rc;
	}
	if (!ast->n_svcs)
		diag_add(dl, src, DIAG_WARNING, (struct loc){ 0 },
			 "no service: the policy covers no traffic");
	check_overlaps(&ck, ast);
	check_queue_room(&ck, ast);
	return ck.rc;
}
