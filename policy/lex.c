/*
 * lex.c — the policy lexer: words, "strings", braces, commas and
 * statement ends, with a location on every token.
 *
 * A word is any run of printable characters other than the punctuation
 * below, so prefixes (2001:db8::/32, ::ffff:0:0/96), port ranges
 * (1000-2000), durations (1d) and paths lex as one token; what a word
 * means is for the parser to decide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"

struct lexer {
	const struct src *src;
	struct token_list *out;
	struct diag_list *dl;
	size_t pos;
	unsigned line;
	size_t line_start;
};

static struct loc loc_at(const struct lexer *lx, size_t offset, size_t span)
{
	struct loc l = {
		.line = lx->line,
		.col = (unsigned)(offset - lx->line_start + 1),
		.span = span ? (unsigned)span : 1,
		.offset = offset,
	};
	return l;
}

static int push(struct lexer *lx, enum tok_kind kind, size_t start,
		size_t span, const char *text, size_t len)
{
	struct token_list *tl = lx->out;

	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 256;
		struct token *v = realloc(tl->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		tl->v = v;
		tl->cap = cap;
	}
	tl->v[tl->n++] = (struct token){
		.kind = kind,
		.loc = loc_at(lx, start, span),
		.text = text,
		.len = len,
	};
	return 0;
}

static bool is_word_char(unsigned char c)
{
	if (c <= ' ' || c >= 0x7f)
		return false;
	return !strchr("{},\";#", c);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode one escape at text[i] (the backslash).  Sets *raw to the number
 * of source bytes it takes; returns the byte, or -1 when invalid.
 */
static int decode_escape(const char *text, size_t len, size_t i, size_t *raw)
{
	char c = i + 1 < len ? text[i + 1] : '\0';
	int hi, lo;

	*raw = 2;
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'x':
		hi = i + 2 < len ? hexval(text[i + 2]) : -1;
		lo = i + 3 < len ? hexval(text[i + 3]) : -1;
		if (hi < 0 || lo < 0)
			return -1;
		*raw = 4;
		return hi << 4 | lo;
	default:
		return -1;
	}
}

static int lex_string(struct lexer *lx)
{
	const char *t = lx->src->text;
	size_t len = lx->src->len, start = lx->pos, i = start + 1, n = 0;
	char *buf = malloc(len - start + 1);
	bool bad = false;
	int rc;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (i >= len || t[i] == '\n' ||
		    (t[i] == '\r' && i + 1 < len && t[i + 1] == '\n')) {
			diag_add(lx->dl, lx->src, DIAG_ERROR, loc_at(lx, start, 1),
				 "unterminated string");
			bad = true;
			break;
		}
		if (t[i] == '"') {
			i++;
			break;
		}
		if (t[i] == '\\') {
			size_t raw;
			int c = decode_escape(t, len, i, &raw);

			if (c < 0) {
				/*
				 * Any other escape stays as written, so that
				 * patterns read as PCRE2 syntax: "\\d{15}".
				 */
				if (i + 1 < len && t[i + 1] == 'x')
					diag_add(lx->dl, lx->src, DIAG_ERROR,
						 loc_at(lx, i, 2),
						 "\\x needs two hex digits");
				buf[n++] = t[i++];
				continue;
			}
			buf[n++] = (char)c;
			i += raw;
			continue;
		}
		buf[n++] = t[i++];
	}
	buf[n] = '\0';
	rc = push(lx, TOK_STRING, start, i - start, buf, n);
	if (rc)
		free(buf);
	else
		lx->out->v[lx->out->n - 1].bad = bad;
	lx->pos = i;
	return rc;
}

/**
 * lang_lex() - see lang.h
 */
int lang_lex(const struct src *src, struct token_list *out,
	     struct diag_list *dl)
{
	struct lexer lx = { .src = src, .out = out, .dl = dl, .line = 1 };
	const char *t = src->text;
	int rc = 0;

	while (lx.pos < src->len && !rc) {
		unsigned char c = (unsigned char)t[lx.pos];
		size_t start = lx.pos;

		if (c == '\n' || (c == '\r' && lx.pos + 1 < src->len &&
				   t[lx.pos + 1] == '\n')) {
			/* at the \r of a CRLF, so the column stays on the line */
			rc = push(&lx, TOK_EOL, start, 1, NULL, 0);
			lx.pos += c == '\r' ? 2 : 1;
			lx.line++;
			lx.line_start = lx.pos;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
			   c == '\v') {
			lx.pos++;
		} else if (c == '#') {
			while (lx.pos < src->len && t[lx.pos] != '\n')
				lx.pos++;
		} else if (c == ';') {
			rc = push(&lx, TOK_EOL, start, 1, NULL, 0);
			lx.pos++;
		} else if (c == '{' || c == '}' || c == ',') {
			rc = push(&lx, c == '{' ? TOK_LBRACE :
				  c == '}' ? TOK_RBRACE : TOK_COMMA,
				  start, 1, t + start, 1);
			lx.pos++;
		} else if (c == '"') {
			rc = lex_string(&lx);
		} else if (is_word_char(c)) {
			while (lx.pos < src->len &&
			       is_word_char((unsigned char)t[lx.pos]))
				lx.pos++;
			rc = push(&lx, TOK_WORD, start, lx.pos - start,
				  t + start, lx.pos - start);
		} else {
			diag_add(dl, src, DIAG_ERROR, loc_at(&lx, start, 1),
				 "unexpected character 0x%02x", c);
			lx.pos++;
		}
	}
	if (!rc) {
		size_t at = lx.pos;

		/* a final \r is no part of the line shown in a diagnostic */
		if (at > lx.line_start && t[at - 1] == '\r')
			at--;
		rc = push(&lx, TOK_EOF, at, 1, NULL, 0);
	}
	return rc;
}

/**
 * lang_tokens_free() - see lang.h
 */
void lang_tokens_free(struct token_list *tl)
{
	for (size_t i = 0; i < tl->n; i++)
		if (tl->v[i].kind == TOK_STRING)
			free((char *)tl->v[i].text);
	free(tl->v);
	tl->v = NULL;
	tl->n = tl->cap = 0;
}

/**
 * lang_string_column() - see lang.h
 */
unsigned lang_string_column(const struct src *src, const struct token *tok,
			    size_t decoded_off)
{
	const char *t = src->text;
	size_t i = tok->loc.offset + 1, end = tok->loc.offset + tok->loc.span;
	size_t n = 0;

	while (n < decoded_off && i < end && t[i] != '"') {
		size_t raw = 1;

		if (t[i] == '\\' && decode_escape(t, src->len, i, &raw) < 0)
			raw = 1;
		i += raw;
		n++;
	}
	return tok->loc.col + (unsigned)(i - tok->loc.offset);
}
