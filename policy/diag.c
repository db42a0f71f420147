/*
 * diag.c — collected diagnostics of the policy language and their
 * nftables-style display: "file:line:col: error: message", the source
 * line, and a caret line under the offending token.
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

static char *source_line(const struct src *src, size_t offset)
{
	size_t start, end;

	if (offset > src->len)
		offset = src->len;
	start = offset;
	while (start > 0 && src->text[start - 1] != '\n')
		start--;
	end = offset;
	while (end < src->len && src->text[end] != '\n')
		end++;
	if (end > start && src->text[end - 1] == '\r')
		end--;
	return strndup(src->text + start, end - start);
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
		d->line = loc.line;
		d->col = loc.col ? loc.col : 1;
		d->span = loc.span ? loc.span : 1;
		d->src_line = source_line(src, loc.offset);
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

static void print_carets(FILE *out, const struct diag *d)
{
	size_t linelen = strlen(d->src_line);
	unsigned span = d->span;

	/* Keep the source's tabs so the carets line up in any tab width. */
	for (unsigned i = 0; i + 1 < d->col; i++)
		fputc(i < linelen && d->src_line[i] == '\t' ? '\t' : ' ', out);
	if (d->col - 1 + span > linelen && d->col - 1 < linelen)
		span = linelen - (d->col - 1);
	if (span == 0)
		span = 1;
	for (unsigned i = 0; i < span; i++)
		fputc('^', out);
	fputc('\n', out);
}

/**
 * diag_list_print() - print every diagnostic of @dl to @out
 * @out: the stream (stderr for the tools)
 * @dl:  the list; NULL prints nothing
 *
 * A located diagnostic is followed by its source line and a caret line.
 */
void diag_list_print(FILE *out, const struct diag_list *dl)
{
	if (!dl)
		return;
	for (size_t i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->v[i];
		const char *sev = d->severity == DIAG_ERROR ? "error" : "warning";

		if (!d->line) {
			fprintf(out, "%s: %s: %s\n", d->file, sev, d->msg);
			continue;
		}
		fprintf(out, "%s:%u:%u: %s: %s\n", d->file, d->line, d->col,
			sev, d->msg);
		if (d->src_line) {
			fprintf(out, "%s\n", d->src_line);
			print_carets(out, d);
		}
	}
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
	}
	free(dl->v);
	free(dl);
}
