/*
 * parse.c — the policy parser: tokens to a syntax tree.
 *
 * Syntax only: keywords, the shape of numbers, ranges, prefixes and
 * durations.  Whether a value fits (port 0, /33, a detector's action) is
 * the checker's business, so the tree keeps values unchecked and every
 * one with its location.  After a syntax error the parser skips to the
 * end of the statement and carries on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "ruleset.h"

#define NUM_SATURATED ((uint64_t)UINT32_MAX + 1)

struct parser {
	const struct src *src;
	const struct token_list *tl;
	struct diag_list *dl;
	size_t i;
	int rc;			/* -ENOMEM once allocation failed */
};

static const char *const top_words[] = { "key", "epoch", "service",
					   "key-grace", NULL };
static const char *const svc_words[] = {
	"listen", "queue", "clients", "address", "redact", "allow", "on-error",
	"hold", "frame", NULL
};
static const char *const proto_words[] = { "tcp", "udp", NULL };
static const char *const family_words[] = { "ipv4", "ipv6", NULL };
static const char *const mode_words[] = {
	"keep", "truncate", "permute", "map", NULL
};
/* In enum det_kind / enum act_kind order. */
static const char *const det_words[] = {
	"ipv4", "ipv6", "email", "phone", "mac", "literal", "pattern",
	"proxy-protocol", "header", NULL
};
static const char *const act_words[] = {
	"mask", "token", "truncate", "address", NULL
};
static const char *const allow_words[] = { "pattern", NULL };
static const char *const verdict_words[] = { "drop", "accept", NULL };
static const char *const hold_end_words[] = { "pass", "mask", NULL };
/* In enum frame_kind order. */
static const char *const frame_words[] = {
	"none", "mqtt", "http", "sip", "line", "octet", "auto", NULL
};
/* Option words after a redact action (which detector takes one: check.c). */
static const char *const redact_opt_words[] = { "hostnames", "relaxed", NULL };

/**
 * policy_det_name() - the language's name of detector @d
 * Return: a static string ("?" for an unknown value)
 */
const char *policy_det_name(enum det_kind d)
{
	return (unsigned)d < DET__COUNT ? det_words[d] : "?";
}

/**
 * policy_act_name() - the language's name of action @a
 * Return: a static string ("?" for an unknown value)
 */
const char *policy_act_name(enum act_kind a)
{
	return (unsigned)a < ACT__COUNT ? act_words[a] : "?";
}

/* ---- small value parsers ----------------------------------------- */

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Optimal string alignment distance, capped at 3 (all we need to know). */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t d[34][34];

	if (la > 32 || lb > 32)
		return 3;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

/**
 * lang_suggest() - see lang.h
 */
const char *lang_suggest(const char *word, size_t len,
			 const char *const *cands)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (; *cands; cands++) {
		size_t cl = strlen(*cands);
		size_t d = edit_distance(word, len, *cands, cl);

		/* A distance as long as the word itself is no resemblance. */
		if (d < best_d && d < cl && d < len) {
			best = *cands;
			best_d = d;
		}
	}
	return best;
}

static bool parse_uint(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > NUM_SATURATED)
			x = NUM_SATURATED;
	}
	*v = x;
	return true;
}

/**
 * lang_parse_duration() - see lang.h
 */
int lang_parse_duration(const char *s, size_t len, uint64_t *seconds,
			const char **why)
{
	size_t digits = 0;
	uint64_t n = 0, mult;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9') {
		if (n > UINT64_MAX / 10) {
			*why = "duration too long";
			return -ERANGE;
		}
		n = n * 10 + (uint64_t)(s[digits] - '0');
		digits++;
	}
	if (!digits) {
		*why = "a duration is a number with a unit s, m, h or d";
		return -EINVAL;
	}
	if (digits == len) {
		if (n == 0) {
			*seconds = 0;
			return 0;
		}
		*why = "missing unit (s, m, h or d)";
		return -EINVAL;
	}
	if (digits + 1 != len) {
		*why = "unknown unit (s, m, h or d)";
		return -EINVAL;
	}
	switch (s[digits]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default:
		*why = "unknown unit (s, m, h or d)";
		return -EINVAL;
	}
	if (n > UINT64_MAX / mult) {
		*why = "duration too long";
		return -ERANGE;
	}
	*seconds = n * mult;
	return 0;
}

/**
 * lang_parse_prefix() - see lang.h
 */
int lang_parse_prefix(const char *s, size_t len, struct ast_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(p->addr, 0, sizeof(p->addr));
	if (memchr(buf, ':', alen)) {
		if (inet_pton(AF_INET6, buf, p->addr) != 1)
			return -EINVAL;
		p->family = 6;
	} else {
		if (inet_pton(AF_INET, buf, p->addr) != 1)
			return -EINVAL;
		p->family = 4;
	}
	p->has_len = slash != NULL;
	if (slash) {
		if (!parse_uint(slash + 1, len - alen - 1, &p->plen))
			return -EINVAL;
	} else {
		p->plen = p->family == 4 ? 32 : 128;
	}
	return 0;
}

/* ---- token helpers ----------------------------------------------- */

static const struct token *peek(const struct parser *ps)
{
	return &ps->tl->v[ps->i];
}

static const struct token *next(struct parser *ps)
{
	const struct token *t = &ps->tl->v[ps->i];

	if (t->kind != TOK_EOF)
		ps->i++;
	return t;
}

static bool at_stmt_end(const struct parser *ps)
{
	enum tok_kind k = peek(ps)->kind;

	return k == TOK_EOL || k == TOK_EOF || k == TOK_RBRACE;
}

static struct loc sub_loc(struct loc l, size_t off, size_t len)
{
	l.col += (unsigned)off;
	l.offset += off;
	l.span = len ? (unsigned)len : 1;
	return l;
}

/* How a token reads in a message. */
static void describe(const struct token *t, char *buf, size_t size)
{
	switch (t->kind) {
	case TOK_WORD:
		snprintf(buf, size, "\"%.*s\"", t->len > 40 ? 40 : (int)t->len,
			 t->text);
		break;
	case TOK_STRING:
		snprintf(buf, size, "a string");
		break;
	case TOK_LBRACE:
		snprintf(buf, size, "\"{\"");
		break;
	case TOK_RBRACE:
		snprintf(buf, size, "\"}\"");
		break;
	case TOK_COMMA:
		snprintf(buf, size, "\",\"");
		break;
	case TOK_EOL:
		snprintf(buf, size, "end of line");
		break;
	case TOK_EOF:
		snprintf(buf, size, "end of file");
		break;
	}
}

static void error_at(struct parser *ps, struct loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void error_at(struct parser *ps, struct loc loc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(ps->dl, ps->src, DIAG_ERROR, loc, "%s", msg);
}

static void expected(struct parser *ps, const struct token *t, const char *what)
{
	char got[64];

	if (t->bad)
		return;		/* the lexer reported it; an echo would only confuse */
	describe(t, got, sizeof(got));
	error_at(ps, t->loc, "expected %s, got %s", what, got);
}

/*
 * Skip an unknown top-level statement, with its block if it opens one,
 * so that a misspelt "service" does not spill its body to the top level.
 */
static void skip_top_stmt(struct parser *ps)
{
	unsigned depth = 0;

	for (;;) {
		enum tok_kind k = peek(ps)->kind;

		if (k == TOK_EOF)
			return;
		if (depth == 0 && (k == TOK_EOL || k == TOK_RBRACE))
			return;
		if (k == TOK_LBRACE)
			depth++;
		else if (k == TOK_RBRACE && --depth == 0) {
			next(ps);
			return;
		}
		next(ps);
	}
}

/* Skip the rest of a broken statement; stop before a '}' so blocks hold. */
static void skip_stmt(struct parser *ps)
{
	while (!at_stmt_end(ps))
		next(ps);
}

static bool word_is(const struct token *t, const char *w)
{
	return t->kind == TOK_WORD && t->len == strlen(w) &&
	       !memcmp(t->text, w, t->len);
}

static int word_index(const struct token *t, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (word_is(t, words[i]))
			return i;
	return -1;
}

/*
 * Read a keyword of @words; on anything else report "unknown @what" with
 * a suggestion, or "expected @what".  Return: the index or -1.
 */
static int keyword(struct parser *ps, const char *const *words,
		   const char *what)
{
	const struct token *t = peek(ps);
	int k;

	if (t->kind != TOK_WORD) {
		expected(ps, t, what);
		return -1;
	}
	k = word_index(t, words);
	if (k >= 0) {
		next(ps);
		return k;
	}
	const char *hint = lang_suggest(t->text, t->len, words);
	if (hint)
		error_at(ps, t->loc, "unknown %s \"%.*s\"; did you mean \"%s\"?",
			 what, (int)t->len, t->text, hint);
	else
		error_at(ps, t->loc, "unknown %s \"%.*s\"", what, (int)t->len,
			 t->text);
	return -1;
}

static bool want_eos(struct parser *ps)
{
	const struct token *t = peek(ps);
	char got[64];

	if (at_stmt_end(ps))
		return true;
	if (t->bad)
		return false;
	describe(t, got, sizeof(got));
	error_at(ps, t->loc, "unexpected %s at end of statement", got);
	return false;
}

static char *dup_mem(struct parser *ps, const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (!d) {
		ps->rc = -ENOMEM;
		return NULL;
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static bool take_string(struct parser *ps, struct ast_str *out,
			const char *what)
{
	const struct token *t = peek(ps);

	if (t->kind != TOK_STRING) {
		expected(ps, t, what);
		return false;
	}
	if (t->bad)
		return false;	/* the lexer said why; the rest would only echo it */
	next(ps);
	out->s = dup_mem(ps, t->text, t->len);
	out->len = t->len;
	out->loc = t->loc;
	return out->s != NULL;
}

static bool take_number(struct parser *ps, struct ast_num *out,
			const char *what)
{
	const struct token *t = peek(ps);

	if (t->kind != TOK_WORD || !parse_uint(t->text, t->len, &out->v)) {
		expected(ps, t, what);
		return false;
	}
	out->loc = t->loc;
	next(ps);
	return true;
}

/* "N" or "N-M" */
static bool take_range(struct parser *ps, struct ast_range *r,
		       const char *what)
{
	const struct token *t = peek(ps);
	const char *dash;

	if (t->kind != TOK_WORD) {
		expected(ps, t, what);
		return false;
	}
	r->loc = t->loc;
	dash = memchr(t->text, '-', t->len);
	if (!dash) {
		if (!parse_uint(t->text, t->len, &r->lo.v))
			goto bad;
		r->lo.loc = t->loc;
		r->hi = r->lo;
		r->is_range = false;
	} else {
		size_t l1 = (size_t)(dash - t->text), l2 = t->len - l1 - 1;

		if (!parse_uint(t->text, l1, &r->lo.v) ||
		    !parse_uint(dash + 1, l2, &r->hi.v))
			goto bad;
		r->lo.loc = sub_loc(t->loc, 0, l1);
		r->hi.loc = sub_loc(t->loc, l1 + 1, l2);
		r->is_range = true;
	}
	next(ps);
	return true;
bad:
	error_at(ps, t->loc, "invalid %s \"%.*s\"", what, (int)t->len, t->text);
	return false;
}

static bool take_prefix(struct parser *ps, struct ast_prefix *p)
{
	const struct token *t = peek(ps);

	if (t->kind != TOK_WORD) {
		expected(ps, t, "an address prefix");
		return false;
	}
	if (lang_parse_prefix(t->text, t->len, p) < 0) {
		error_at(ps, t->loc, "invalid address prefix \"%.*s\"",
			 (int)t->len, t->text);
		return false;
	}
	p->loc = t->loc;
	if (p->has_len) {
		const char *slash = memchr(t->text, '/', t->len);
		size_t off = (size_t)(slash - t->text) + 1;

		p->len_loc = sub_loc(t->loc, off, t->len - off);
	} else {
		p->len_loc = t->loc;
	}
	next(ps);
	return true;
}

/* ---- statements --------------------------------------------------- */

static struct ast_stmt *new_stmt(struct parser *ps, struct ast_stmt **v,
				 size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct ast_stmt *nv = realloc(*v, c * sizeof(*nv));

		if (!nv) {
			ps->rc = -ENOMEM;
			return NULL;
		}
		*v = nv;
		*cap = c;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

static bool parse_key(struct parser *ps, struct ast_stmt *st)
{
	const struct token *t = peek(ps);

	if (t->kind == TOK_STRING)
		return take_string(ps, &st->key, "a key file path");
	if (t->kind != TOK_WORD) {
		expected(ps, t, "a key file path");
		return false;
	}
	st->key.s = dup_mem(ps, t->text, t->len);
	st->key.len = t->len;
	st->key.loc = t->loc;
	next(ps);
	return st->key.s != NULL;
}

static bool parse_epoch(struct parser *ps, struct ast_stmt *st)
{
	const struct token *t = peek(ps);
	const char *why = NULL;
	const char *what = st->kind == ST_KEY_GRACE ? "key-grace" : "epoch";

	if (t->kind != TOK_WORD) {
		expected(ps, t, "a duration such as 1d");
		return false;
	}
	if (lang_parse_duration(t->text, t->len, &st->epoch.seconds, &why)) {
		error_at(ps, t->loc, "invalid %s \"%.*s\": %s", what,
			 (int)t->len, t->text, why);
		return false;
	}
	st->epoch.loc = t->loc;
	next(ps);
	return true;
}

static bool parse_listen(struct parser *ps, struct ast_stmt *st)
{
	int proto = keyword(ps, proto_words, "protocol");

	if (proto < 0)
		return false;
	st->listen.proto = proto == 0 ? RS_PROTO_TCP : RS_PROTO_UDP;
	for (;;) {
		struct ast_range r;
		struct ast_range *v;

		if (!take_range(ps, &r, "port"))
			return false;
		v = realloc(st->listen.ports, (st->listen.n + 1) * sizeof(*v));
		if (!v) {
			ps->rc = -ENOMEM;
			return false;
		}
		v[st->listen.n++] = r;
		st->listen.ports = v;
		if (peek(ps)->kind != TOK_COMMA)
			return true;
		next(ps);
	}
}

static bool parse_clients(struct parser *ps, struct ast_stmt *st)
{
	for (;;) {
		struct ast_prefix p;
		struct ast_prefix *v;

		if (!take_prefix(ps, &p))
			return false;
		v = realloc(st->clients.v, (st->clients.n + 1) * sizeof(*v));
		if (!v) {
			ps->rc = -ENOMEM;
			return false;
		}
		v[st->clients.n++] = p;
		st->clients.v = v;
		if (peek(ps)->kind != TOK_COMMA)
			return true;
		next(ps);
	}
}

static bool parse_address(struct parser *ps, struct ast_stmt *st)
{
	int fam = keyword(ps, family_words, "address family");
	int mode;

	if (fam < 0)
		return false;
	st->address.family = fam == 0 ? 4 : 6;
	st->address.mode_loc = peek(ps)->loc;
	mode = keyword(ps, mode_words, "address mode");
	if (mode < 0)
		return false;
	st->address.mode = (enum addr_mode)mode;	/* same order */
	switch (st->address.mode) {
	case ADDR_KEEP:
		return true;
	case ADDR_TRUNCATE:
	case ADDR_PERMUTE:
		if (at_stmt_end(ps))
			return true;
		st->address.has_len = true;
		return take_number(ps, &st->address.len, "a prefix length");
	case ADDR_MAP:
		return take_prefix(ps, &st->address.range);
	}
	return false;
}

/* Options after a redact action: `redact ipv4 mask hostnames`. */

static bool parse_redact(struct parser *ps, struct ast_stmt *st)
{
	int det, act;

	st->redact.det_loc = peek(ps)->loc;
	if (word_index(peek(ps), act_words) >= 0 &&
	    word_index(peek(ps), det_words) < 0) {
		error_at(ps, peek(ps)->loc, "missing detector before action \"%.*s\"",
			 (int)peek(ps)->len, peek(ps)->text);
		return false;
	}
	det = keyword(ps, det_words, "detector");
	if (det < 0)
		return false;
	st->redact.det = (enum det_kind)det;
	switch (st->redact.det) {
	case DET_LITERAL:
		if (!take_string(ps, &st->redact.arg, "a quoted text after \"literal\""))
			return false;
		st->redact.has_arg = true;
		break;
	case DET_PATTERN:
		if (!take_string(ps, &st->redact.arg, "a quoted regex after \"pattern\""))
			return false;
		st->redact.has_arg = true;
		break;
	case DET_HEADER:
		if (!take_string(ps, &st->redact.arg, "a quoted header name after \"header\""))
			return false;
		st->redact.has_arg = true;
		break;
	default:
		if (peek(ps)->kind == TOK_STRING) {
			error_at(ps, peek(ps)->loc,
				 "detector \"%s\" takes no argument",
				 det_words[det]);
			return false;
		}
		break;
	}
	st->redact.act_loc = peek(ps)->loc;
	act = keyword(ps, act_words, "action");
	if (act < 0)
		return false;
	st->redact.act = (enum act_kind)act;
	while (!at_stmt_end(ps)) {
		const struct token *t = peek(ps);
		struct ast_num n;

		if (t->kind == TOK_WORD && !parse_uint(t->text, t->len, &n.v)) {
			/* the option word ends the statement */
			struct loc at = t->loc;
			int o = keyword(ps, redact_opt_words, "redact option");

			if (o < 0)
				return false;
			if (o == 0) {
				st->redact.hostnames = true;
				st->redact.hostnames_loc = at;
			} else {
				st->redact.relaxed = true;
				st->redact.relaxed_loc = at;
			}
			return want_eos(ps);
		}
		if (st->redact.n_nums == 2) {
			char got[64];

			describe(peek(ps), got, sizeof(got));
			error_at(ps, peek(ps)->loc,
				 "unexpected %s: at most two lengths", got);
			return false;
		}
		if (!take_number(ps, &n, "a prefix length"))
			return false;
		st->redact.nums[st->redact.n_nums++] = n;
	}
	return true;
}

static bool parse_on_error(struct parser *ps, struct ast_stmt *st)
{
	int v;

	st->on_error.loc = peek(ps)->loc;
	v = keyword(ps, verdict_words, "on-error verdict");
	if (v < 0)
		return false;
	st->on_error.accept = v == 1;
	return true;
}

/*
 * `hold 40ms [pass|mask]`: how long a TCP segment may wait for the bytes
 * after it, and what its undecided tail becomes when they do not come.
 */
static bool parse_hold(struct parser *ps, struct ast_stmt *st)
{
	const struct token *t = peek(ps);
	uint64_t n = 0;
	size_t k = 0;

	if (t->kind != TOK_WORD) {
		expected(ps, t, "a hold time such as 40ms");
		return false;
	}
	while (k < t->len && t->text[k] >= '0' && t->text[k] <= '9' && n < 100000)
		n = n * 10 + (uint64_t)(t->text[k++] - '0');
	if (!k || (k < t->len && !(t->len - k == 2 && !memcmp(t->text + k, "ms", 2)) &&
		   !(t->len - k == 1 && t->text[k] == 's')) ||
	    (k == t->len && n)) {
		error_at(ps, t->loc, "invalid hold time \"%.*s\": a number of ms or s",
			 (int)t->len, t->text);
		return false;
	}
	st->hold.ms = k < t->len && t->text[k] == 's' ? n * 1000 : n;
	st->hold.loc = t->loc;
	next(ps);
	if (!at_stmt_end(ps)) {
		int v = keyword(ps, hold_end_words, "hold ending (pass or mask)");

		if (v < 0)
			return false;
		st->hold.mask = v == 1;
	}
	return true;
}

static bool parse_service_stmt(struct parser *ps, struct ast_service *svc)
{
	const struct token *kw = peek(ps);
	struct ast_stmt *st;
	bool ok = false;
	int k;

	if (word_index(kw, top_words) >= 0 && !word_is(kw, "service")) {
		error_at(ps, kw->loc,
			 "\"%.*s\" belongs at the top level, not in a service",
			 (int)kw->len, kw->text);
		return false;
	}
	k = keyword(ps, svc_words, "statement");
	if (k < 0)
		return false;
	st = new_stmt(ps, &svc->stmts, &svc->n, &svc->cap);
	if (!st)
		return false;
	st->loc = kw->loc;
	switch (k) {
	case 0:
		st->kind = ST_LISTEN;
		ok = parse_listen(ps, st);
		break;
	case 1:
		st->kind = ST_QUEUE;
		ok = take_range(ps, &st->queue, "queue number");
		break;
	case 2:
		st->kind = ST_CLIENTS;
		ok = parse_clients(ps, st);
		break;
	case 3:
		st->kind = ST_ADDRESS;
		ok = parse_address(ps, st);
		break;
	case 4:
		st->kind = ST_REDACT;
		ok = parse_redact(ps, st);
		break;
	case 5:
		st->kind = ST_ALLOW;
		if (keyword(ps, allow_words, "exception kind") < 0)
			break;
		ok = take_string(ps, &st->allow, "a quoted regex after \"pattern\"");
		break;
	case 6:
		st->kind = ST_ON_ERROR;
		ok = parse_on_error(ps, st);
		break;
	case 7:
		st->kind = ST_HOLD;
		ok = parse_hold(ps, st);
		break;
	case 8: {
		const struct token *t = peek(ps);
		int v = keyword(ps, frame_words,
				"framing (mqtt, http, sip, line, octet, none or auto)");

		st->kind = ST_FRAME;
		st->frame.loc = t->loc;
		if (v >= 0)
			st->frame.kind = (uint8_t)v;
		ok = v >= 0;
		break;
	}
	}
	ok = ok && want_eos(ps);
	if (!ok) {
		/* A half-parsed statement stays out of the tree. */
		struct ast_stmt dead = *st;

		svc->n--;
		if (dead.kind == ST_LISTEN)
			free(dead.listen.ports);
		else if (dead.kind == ST_CLIENTS)
			free(dead.clients.v);
		else if (dead.kind == ST_REDACT)
			free(dead.redact.arg.s);
		else if (dead.kind == ST_ALLOW)
			free(dead.allow.s);
	}
	return ok;
}

static void parse_service(struct parser *ps, struct ast_policy *ast,
			  const struct token *kw)
{
	const struct token *name = peek(ps), *open;
	struct ast_service *svc;

	if (name->kind != TOK_WORD) {
		expected(ps, name, "a service name");
		skip_top_stmt(ps);	/* with its block: one error, not one a line */
		return;
	}
	next(ps);
	if (ast->n_svcs == ast->cap_svcs) {
		size_t c = ast->cap_svcs ? ast->cap_svcs * 2 : 8;
		struct ast_service *v = realloc(ast->svcs, c * sizeof(*v));

		if (!v) {
			ps->rc = -ENOMEM;
			return;
		}
		ast->svcs = v;
		ast->cap_svcs = c;
	}
	svc = &ast->svcs[ast->n_svcs++];
	memset(svc, 0, sizeof(*svc));
	svc->name = dup_mem(ps, name->text, name->len);
	svc->name_loc = name->loc;

	while (peek(ps)->kind == TOK_EOL)
		next(ps);
	open = peek(ps);
	if (open->kind == TOK_LBRACE) {
		next(ps);
	} else {
		/* Read on as if the brace were there: the body is likelier
		 * than not a service body. */
		expected(ps, open, "\"{\" after the service name");
		svc->damaged = true;
		skip_stmt(ps);
	}

	for (;;) {
		const struct token *t = peek(ps);

		if (ps->rc)
			return;
		if (t->kind == TOK_EOL) {
			next(ps);
			continue;
		}
		if (t->kind == TOK_RBRACE) {
			next(ps);
			if (!want_eos(ps))
				skip_stmt(ps);
			return;
		}
		if (t->kind == TOK_EOF) {
			error_at(ps, open->kind == TOK_LBRACE ? open->loc : kw->loc,
				 "missing \"}\" to close service \"%s\"",
				 svc->name ? svc->name : "");
			svc->damaged = true;
			return;
		}
		if (word_is(t, "service")) {
			error_at(ps, t->loc,
				 "missing \"}\" to close service \"%s\" before the next service",
				 svc->name ? svc->name : "");
			svc->damaged = true;
			return;
		}
		if (!parse_service_stmt(ps, svc)) {
			svc->damaged = true;
			skip_stmt(ps);
		}
	}
}

/**
 * lang_parse() - see lang.h
 */
int lang_parse(const struct src *src, const struct token_list *tl,
	       struct ast_policy *ast, struct diag_list *dl)
{
	struct parser ps = { .src = src, .tl = tl, .dl = dl };

	for (;;) {
		const struct token *t = peek(&ps);
		struct ast_stmt *st;
		bool ok = false;
		int k;

		if (ps.rc)
			return ps.rc;
		if (t->kind == TOK_EOF)
			return 0;
		if (t->kind == TOK_EOL) {
			next(&ps);
			continue;
		}
		if (t->kind == TOK_RBRACE) {
			error_at(&ps, t->loc, "unexpected \"}\" outside a service");
			next(&ps);
			continue;
		}
		if (word_index(t, svc_words) >= 0) {
			error_at(&ps, t->loc,
				 "\"%.*s\" belongs inside a service block",
				 (int)t->len, t->text);
			skip_stmt(&ps);
			continue;
		}
		k = keyword(&ps, top_words, "statement");
		if (k < 0) {
			skip_top_stmt(&ps);
			continue;
		}
		if (k == 2) {
			parse_service(&ps, ast, t);
			continue;
		}
		st = new_stmt(&ps, &ast->top, &ast->n_top, &ast->cap_top);
		if (!st)
			return ps.rc;
		st->loc = t->loc;
		st->kind = k == 0 ? ST_KEY : k == 1 ? ST_EPOCH : ST_KEY_GRACE;
		ok = k == 0 ? parse_key(&ps, st) : parse_epoch(&ps, st);
		ok = ok && want_eos(&ps);
		if (!ok) {
			if (st->kind == ST_KEY)
				free(st->key.s);
			ast->n_top--;
			skip_stmt(&ps);
		}
	}
}

static void stmt_free(struct ast_stmt *st)
{
	switch (st->kind) {
	case ST_KEY:
		free(st->key.s);
		break;
	case ST_LISTEN:
		free(st->listen.ports);
		break;
	case ST_CLIENTS:
		free(st->clients.v);
		break;
	case ST_REDACT:
		free(st->redact.arg.s);
		break;
	case ST_ALLOW:
		free(st->allow.s);
		break;
	default:
		break;
	}
}

/**
 * lang_ast_free() - see lang.h
 */
void lang_ast_free(struct ast_policy *ast)
{
	for (size_t i = 0; i < ast->n_top; i++)
		stmt_free(&ast->top[i]);
	free(ast->top);
	for (size_t i = 0; i < ast->n_svcs; i++) {
		struct ast_service *svc = &ast->svcs[i];

		for (size_t j = 0; j < svc->n; j++)
			stmt_free(&svc->stmts[j]);
		free(svc->stmts);
		free(svc->name);
	}
	free(ast->svcs);
	free(ast->key_path);
	memset(ast, 0, sizeof(*ast));
}
