/*
 * diag.c — collected diagnostics of the policy language and their
 * nftables-style display: "file:line:col: error: message", the source
 * line, and a caret line under the offending token.
 *
 * A policy names what it protects: literals, patterns, client prefixes.
 * So each diagnostic also keeps its line and message with those masked
 * (letters x, digits 0, lengths kept, so the caret still points right),
 * and that is what is shown unless the original is asked for.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "policy.h"

struct diag_list *diag_list_new(void)
{
	return calloc(1, sizeof(struct diag_list));
}

static struct diag_list nomem_list = { .errors = 1 };

struct diag_list *diag_list_nomem(void)
{
	return &nomem_list;
}

/* The bounds [*start, *end) of the source line holding @offset. */
static void line_bounds(const struct src *src, size_t offset, size_t *start,
			size_t *end)
{
	size_t s, e;

	if (offset > src->len)
		offset = src->len;
	s = offset;
	while (s > 0 && src->text[s - 1] != '\n')
		s--;
	e = offset;
	while (e < src->len && src->text[e] != '\n')
		e++;
	if (e > s && src->text[e - 1] == '\r')
		e--;
	*start = s;
	*end = e;
}

static char mask_byte(char c)
{
	unsigned char u = (unsigned char)c;

	if (u >= '0' && u <= '9')
		return '0';
	if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80 ||
	    (u < ' ' && u != '\t'))
		return 'x';
	return c;
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool word_eq(const char *w, size_t n, const char *kw)
{
	return n == strlen(kw) && !memcmp(w, kw, n);
}

/*
 * Mark in @secret (one flag per byte of @line[0, @n)) what may name a
 * client or an identifier: the contents of every string, the words of a
 * `clients` statement (up to a prefix length), the argument of `redact literal|pattern|header`
 * and `allow pattern` however written, and comments.  The statements
 * are read as the lexer reads them; a line is never more than one
 * statement's worth of context, as statements never span lines.
 */
static void mark_secrets(const char *line, size_t n, bool *secret)
{
	const char *kw = NULL, *second = NULL;
	size_t kw_len = 0, second_len = 0;
	unsigned idx = 0;
	size_t i = 0;

	while (i < n) {
		char c = line[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			i++;
		} else if (c == '#') {
			for (i++; i < n; i++)
				secret[i] = true;
		} else if (c == ';' || c == '{' || c == '}') {
			idx = 0;
			kw = second = NULL;
			i++;
		} else if (c == ',') {
			i++;
		} else if (c == '"') {
			/*
			 * The contents, but for what keeps a pattern readable
			 * and names no one: the letter of an escape (\d, \x
			 * with its digits masked) and option letters ((?i)).
			 */
			for (i++; i < n && line[i] != '"'; i++) {
				if (line[i] == '\\' && i + 1 < n) {
					i++;
					secret[i] = !is_letter(line[i]);
				} else if (line[i] == '(' && i + 2 < n &&
					   line[i + 1] == '?') {
					for (i += 2; i < n && is_letter(line[i]); i++)
						;
					i--;
				} else {
					secret[i] = true;
				}
			}
			i += i < n;
			idx++;
		} else {
			size_t s = i;
			bool hide, kw_is_clients;

			while (i < n && (unsigned char)line[i] > ' ' &&
			       (unsigned char)line[i] < 0x7f &&
			       !strchr("{},\";#", line[i]))
				i++;
			if (i == s) {
				i++;	/* a byte the lexer refuses */
				continue;
			}
			if (idx == 0) {
				kw = line + s;
				kw_len = i - s;
			} else if (idx == 1) {
				second = line + s;
				second_len = i - s;
			}
			kw_is_clients = kw && word_eq(kw, kw_len, "clients");
			hide = kw_is_clients && idx >= 1;
			if (idx == 2 && kw && second &&
			    ((word_eq(kw, kw_len, "redact") &&
			      (word_eq(second, second_len, "literal") ||
			       word_eq(second, second_len, "pattern") ||
			       word_eq(second, second_len, "header"))) ||
			     (word_eq(kw, kw_len, "allow") &&
			      word_eq(second, second_len, "pattern"))))
				hide = true;
			/* a client prefix's length names no one: kept */
			for (size_t k = s; hide && k < i && !(kw_is_clients &&
							     line[k] == '/'); k++)
				secret[k] = true;
			idx++;
		}
	}
}

/*
 * The message with the text of the token at @loc masked as it is masked
 * in its line, wherever the message quotes it (whole, or cut at 64 or 40
 * bytes as the passes quote long tokens).  Return: a new string or NULL.
 */
static char *mask_message(const char *msg, const struct src *src,
			  struct loc loc, size_t ls, const bool *secret,
			  const char *masked_line, size_t line_len)
{
	static const size_t cuts[] = { 0, 64, 40 };
	char *out = strdup(msg);
	size_t off, len;
	bool any = false;

	if (!out || loc.offset < ls || loc.offset >= ls + line_len)
		return out;
	off = loc.offset - ls;
	len = loc.span ? loc.span : 1;
	if (off + len > line_len)
		len = line_len - off;
	for (size_t k = 0; k < len; k++)
		any |= secret[off + k];
	if (!any)
		return out;
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		size_t n = cuts[c] ? cuts[c] : len;
		const char *orig = src->text + loc.offset;

		if (n > len || !n)
			continue;
		for (char *p = out; (p = memmem(p, strlen(p), orig, n)); p += n)
			memcpy(p, masked_line + off, n);
	}
	return out;
}

void diag_add(struct diag_list *dl, const struct src *src,
	      enum diag_severity sev, struct loc loc, const char *fmt, ...)
{
	struct diag *d;
	va_list ap;
	int rc;

	/* Count first: a diagnostic lost to a full heap must still fail the load. */
	if (sev == DIAG_ERROR)
		dl->errors++;
	else
		dl->warnings++;

	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 16;
		struct diag *v = realloc(dl->v, cap * sizeof(*v));

		if (!v)
			return;
		dl->v = v;
		dl->cap = cap;
	}
	d = &dl->v[dl->n];
	memset(d, 0, sizeof(*d));
	d->severity = sev;
	d->file = strdup(src && src->name ? src->name : "<input>");
	va_start(ap, fmt);
	rc = vasprintf(&d->msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		d->msg = NULL;
	if (!d->file || !d->msg) {
		free(d->file);
		free(d->msg);
		return;
	}
	if (src && loc.line) {
		size_t ls, le;
		bool *secret;

		d->line = loc.line;
		d->col = loc.col ? loc.col : 1;
		d->span = loc.span ? loc.span : 1;
		line_bounds(src, loc.offset, &ls, &le);
		d->src_line = strndup(src->text + ls, le - ls);
		secret = calloc(le - ls + 1, sizeof(*secret));
		if (d->src_line && secret) {
			d->src_line_masked = strdup(d->src_line);
			mark_secrets(d->src_line, le - ls, secret);
			for (size_t k = 0; d->src_line_masked && k < le - ls; k++)
				if (secret[k])
					d->src_line_masked[k] =
						mask_byte(d->src_line[k]);
			if (d->src_line_masked)
				d->msg_masked = mask_message(d->msg, src, loc, ls,
							     secret,
							     d->src_line_masked,
							     le - ls);
		}
		free(secret);
		if (!d->src_line || !d->src_line_masked || !d->msg_masked) {
			/* nothing is shown rather than an original */
			free(d->src_line);
			free(d->src_line_masked);
			free(d->msg_masked);
			free(d->file);
			free(d->msg);
			return;
		}
	}
	dl->n++;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	/* Diagnostics about the whole file come after the located ones. */
	if (!x->line != !y->line)
		return !x->line ? 1 : -1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

void diag_sort(struct diag_list *dl)
{
	/* Insertion sort: stable, and lists are short. */
	for (size_t i = 1; i < dl->n; i++) {
		struct diag d = dl->v[i];
		size_t j = i;

		while (j > 0 && diag_cmp(&dl->v[j - 1], &d) > 0) {
			dl->v[j] = dl->v[j - 1];
			j--;
		}
		dl->v[j] = d;
	}
}

static void print_carets(FILE *out, const struct diag *d, const char *line)
{
	size_t linelen = strlen(line);
	unsigned span = d->span;

	/* Keep the source's tabs so the carets line up in any tab width. */
	for (unsigned i = 0; i + 1 < d->col; i++)
		fputc(i < linelen && line[i] == '\t' ? '\t' : ' ', out);
	if (d->col - 1 + span > linelen && d->col - 1 < linelen)
		span = linelen - (d->col - 1);
	if (span == 0)
		span = 1;
	for (unsigned i = 0; i < span; i++)
		fputc('^', out);
	fputc('\n', out);
}

/**
 * diag_list_fprint() - print every diagnostic of @dl to @out
 * @out:   the stream (stderr for the tools)
 * @dl:    the list; NULL prints nothing
 * @flags: DIAG_PRINT_ORIGINAL shows the source lines and messages as
 *         written; otherwise string literals, client prefixes, the
 *         arguments of literal, pattern and header rules, and comments
 *         are masked (letters x, digits 0, lengths kept)
 *
 * A located diagnostic is followed by its source line and a caret line.
 */
void diag_list_fprint(FILE *out, const struct diag_list *dl, unsigned flags)
{
	bool orig = flags & DIAG_PRINT_ORIGINAL;

	if (!dl)
		return;
	for (size_t i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->v[i];
		const char *sev = d->severity == DIAG_ERROR ? "error" : "warning";
		const char *msg = orig || !d->msg_masked ? d->msg : d->msg_masked;
		const char *line = orig ? d->src_line : d->src_line_masked;

		if (!d->line) {
			fprintf(out, "%s: %s: %s\n", d->file, sev, d->msg);
			continue;
		}
		fprintf(out, "%s:%u:%u: %s: %s\n", d->file, d->line, d->col,
			sev, msg);
		if (line) {
			fprintf(out, "%s\n", line);
			print_carets(out, d, line);
		}
	}
}

/**
 * diag_list_print() - print every diagnostic of @dl to @out, masked:
 * diag_list_fprint() without DIAG_PRINT_ORIGINAL
 * @out: the stream
 * @dl:  the list; NULL prints nothing
 */
void diag_list_print(FILE *out, const struct diag_list *dl)
{
	diag_list_fprint(out, dl, 0);
}

/**
 * diag_list_free() - free @dl and every diagnostic in it; NULL is fine
 */
void diag_list_free(struct diag_list *dl)
{
	if (!dl || dl == &nomem_list)
		return;
	for (size_t i = 0; i < dl->n; i++) {
		free(dl->v[i].file);
		free(dl->v[i].msg);
		free(dl->v[i].src_line);
		free(dl->v[i].src_line_masked);
		free(dl->v[i].msg_masked);
	}
	free(dl->v);
	free(dl);
}
