/*
 * fuzz_policy.c — libFuzzer target for the policy language: arbitrary
 * text through lex, parse, check and compile.
 *
 * The loader must never crash, must fail exactly when it reports an
 * error, and every located diagnostic must point inside the text: its
 * line exists, its column is on that line (or just past its end), and the
 * source line it quotes is that line.  The diagnostics are printed to a
 * memory stream, as `nfredact check` prints them to stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_policy: invariant failed: %s (line %d)\n", \
		#cond, __LINE__); abort(); } } while (0)

/*
 * Line @n (1-based) of @text: start, length without "\n" / "\r\n"
 * (as diagnostics quote it), and @raw_len, with the "\r" (a token at
 * the end of a CRLF line may stand on it).
 */
static bool line_of(const char *text, unsigned n, const char **start,
		    size_t *len, size_t *raw_len)
{
	const char *p = text, *nl;

	for (unsigned i = 1; i < n; i++) {
		nl = strchr(p, '\n');
		if (!nl)
			return false;
		p = nl + 1;
	}
	nl = strchr(p, '\n');
	*start = p;
	*len = nl ? (size_t)(nl - p) : strlen(p);
	*raw_len = *len;
	if (*len && p[*len - 1] == '\r')
		--*len;
	return true;
}

static void check_diags(const char *text, const struct diag_list *dl)
{
	size_t errors = 0;

	for (size_t i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->v[i];
		const char *line;
		size_t len, raw_len;

		CHECK(d->severity == DIAG_ERROR || d->severity == DIAG_WARNING);
		errors += d->severity == DIAG_ERROR;
		CHECK(d->msg && d->file);
		CHECK(strcmp(d->file, "fuzz.conf") == 0);
		if (!d->line)
			continue;
		CHECK(line_of(text, d->line, &line, &len, &raw_len));
		CHECK(d->col >= 1 && d->col <= raw_len + 1);
		CHECK(d->span >= 1);
		if (d->src_line) {
			CHECK(strlen(d->src_line) == len);
			CHECK(memcmp(d->src_line, line, len) == 0);
		}
	}
	/* a diagnostic may be lost to a full heap, never invented */
	CHECK(errors <= dl->errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs;
	char *text, *out = NULL;
	size_t out_len = 0;
	FILE *mem;

	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	rs = policy_load_string("fuzz.conf", text, NULL, &dl);
	CHECK(dl != NULL);
	CHECK((rs == NULL) == (dl->errors > 0));
	check_diags(text, dl);

	mem = open_memstream(&out, &out_len);
	if (!mem)
		abort();
	diag_list_print(mem, dl);
	fclose(mem);
	CHECK((out_len > 0) == (dl->n > 0));
	free(out);

	if (rs) {
		unsigned n = policy_service_count(rs);
		struct engine_worker *w;

		for (unsigned i = 0; i < n; i++)
			CHECK(policy_service_name(rs, i) != NULL);
		/* a compiled ruleset must be usable by the engine as is */
		w = engine_worker_new(rs, 64);
		CHECK(w != NULL);
		engine_worker_free(w);
	}
	policy_free(rs);
	diag_list_free(dl);
	free(text);
	return 0;
}
