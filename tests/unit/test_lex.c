/*
 * test_lex.c — the policy lexer and the parser's value readers: tokens
 * and their locations, string escapes, prefixes, durations, and the
 * "did you mean" suggestions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lang.h"

struct lexed {
	struct src src;
	struct token_list tl;
	struct diag_list *dl;
};

static void lex_text(struct lexed *lx, const char *text)
{
	memset(lx, 0, sizeof(*lx));
	lx->src.name = "t.conf";
	lx->src.text = text;
	lx->src.len = strlen(text);
	lx->dl = diag_list_new();
	assert_non_null(lx->dl);
	assert_int_equal(lang_lex(&lx->src, &lx->tl, lx->dl), 0);
}

static void lexed_free(struct lexed *lx)
{
	lang_tokens_free(&lx->tl);
	diag_list_free(lx->dl);
}

static void assert_word(const struct token *t, const char *w)
{
	assert_int_equal(t->kind, TOK_WORD);
	assert_int_equal(t->len, strlen(w));
	assert_memory_equal(t->text, w, t->len);
}

static void test_prefix_tokens(void **state)
{
	struct lexed lx;

	(void)state;
	lex_text(&lx, "clients 2001:db8::/32, fd00::/64,100.64.0.0/10, ::ffff:0:0/96\n");
	assert_int_equal(lx.dl->errors, 0);
	assert_int_equal(lx.tl.n, 10);	/* 5 words, 3 commas, EOL, EOF */
	assert_word(&lx.tl.v[0], "clients");
	assert_word(&lx.tl.v[1], "2001:db8::/32");
	assert_int_equal(lx.tl.v[2].kind, TOK_COMMA);
	assert_word(&lx.tl.v[3], "fd00::/64");
	assert_word(&lx.tl.v[5], "100.64.0.0/10");
	assert_word(&lx.tl.v[7], "::ffff:0:0/96");
	assert_int_equal(lx.tl.v[7].loc.col, 49);
	assert_int_equal(lx.tl.v[7].loc.span, 13);
	assert_int_equal(lx.tl.v[8].kind, TOK_EOL);
	lexed_free(&lx);
	/* ... and the EOF token always closes the list */
	lex_text(&lx, "a b");
	assert_int_equal(lx.tl.n, 3);
	assert_int_equal(lx.tl.v[2].kind, TOK_EOF);
	lexed_free(&lx);
}

static void test_locations(void **state)
{
	struct lexed lx;

	(void)state;
	lex_text(&lx, "# comment { \"\n\tservice x {\n  listen tcp 1-2 ; queue 3}");
	assert_int_equal(lx.dl->errors, 0);
	assert_int_equal(lx.tl.v[0].kind, TOK_EOL);	/* the comment's line */
	assert_word(&lx.tl.v[1], "service");
	assert_int_equal(lx.tl.v[1].loc.line, 2);
	assert_int_equal(lx.tl.v[1].loc.col, 2);
	assert_int_equal(lx.tl.v[3].kind, TOK_LBRACE);
	assert_word(&lx.tl.v[7], "1-2");
	assert_int_equal(lx.tl.v[7].loc.line, 3);
	assert_int_equal(lx.tl.v[7].loc.col, 14);
	assert_int_equal(lx.tl.v[8].kind, TOK_EOL);	/* ';' */
	assert_word(&lx.tl.v[10], "3");
	assert_int_equal(lx.tl.v[11].kind, TOK_RBRACE);
	lexed_free(&lx);
}

static void test_crlf(void **state)
{
	struct lexed lx;

	(void)state;
	/* The \r of a CRLF is not shown in a diagnostic's line, so no
	 * location may point past it. */
	lex_text(&lx, "ab\r\n\"x\r\nc\r");
	assert_int_equal(lx.tl.n, 6);
	assert_int_equal(lx.tl.v[1].kind, TOK_EOL);
	assert_int_equal(lx.tl.v[1].loc.col, 3);
	assert_int_equal(lx.tl.v[2].kind, TOK_STRING);
	assert_true(lx.tl.v[2].bad);
	assert_int_equal(lx.tl.v[2].len, 1);	/* the x, not the \r */
	assert_int_equal(lx.tl.v[3].kind, TOK_EOL);
	assert_int_equal(lx.tl.v[3].loc.line, 2);
	assert_int_equal(lx.tl.v[3].loc.col, 3);
	assert_word(&lx.tl.v[4], "c");
	assert_int_equal(lx.tl.v[5].kind, TOK_EOF);
	assert_int_equal(lx.tl.v[5].loc.col, 2);
	lexed_free(&lx);
}

static void test_string_escapes(void **state)
{
	struct lexed lx;

	(void)state;
	lex_text(&lx, "\"a\\\"b\\\\c\\x41\\t\\n\\r\" x");
	assert_int_equal(lx.dl->errors, 0);
	assert_int_equal(lx.tl.v[0].kind, TOK_STRING);
	assert_int_equal(lx.tl.v[0].len, 9);
	assert_memory_equal(lx.tl.v[0].text, "a\"b\\cA\t\n\r", 9);
	assert_int_equal(lx.tl.v[0].loc.span, 19);
	assert_word(&lx.tl.v[1], "x");
	/* decoded byte 5 (the A of \\x41) stands at source column 9 */
	assert_int_equal(lang_string_column(&lx.src, &lx.tl.v[0], 5), 9);
	assert_int_equal(lang_string_column(&lx.src, &lx.tl.v[0], 0), 2);
	lexed_free(&lx);
}

static void test_string_errors(void **state)
{
	struct lexed lx;

	(void)state;
	lex_text(&lx, "\"open\nx \"a\\q\\x4\" \x01 y");
	assert_int_equal(lx.dl->errors, 3);
	assert_int_equal(lx.dl->v[0].line, 1);
	assert_string_equal(lx.dl->v[0].msg, "unterminated string");
	assert_true(lx.tl.v[0].bad);
	assert_int_equal(lx.tl.v[1].kind, TOK_EOL);
	/* \q is no escape: it stays as written, for patterns */
	assert_memory_equal(lx.tl.v[3].text, "a\\q", 3);
	assert_int_equal(lx.dl->v[1].col, 7);	/* the \x4 */
	assert_string_equal(lx.dl->v[1].msg, "\\x needs two hex digits");
	assert_string_equal(lx.dl->v[2].msg, "unexpected character 0x01");
	/* lexing went on to the end */
	assert_word(&lx.tl.v[lx.tl.n - 2], "y");
	lexed_free(&lx);
}

static void test_duration(void **state)
{
	const char *why;
	uint64_t s;

	(void)state;
	assert_int_equal(lang_parse_duration("1d", 2, &s, &why), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(lang_parse_duration("3600s", 5, &s, &why), 0);
	assert_int_equal(s, 3600);
	assert_int_equal(lang_parse_duration("30m", 3, &s, &why), 0);
	assert_int_equal(s, 1800);
	assert_int_equal(lang_parse_duration("2h", 2, &s, &why), 0);
	assert_int_equal(s, 7200);
	s = 5;
	assert_int_equal(lang_parse_duration("0", 1, &s, &why), 0);
	assert_int_equal(s, 0);
	assert_int_equal(lang_parse_duration("60", 2, &s, &why), -EINVAL);
	assert_int_equal(lang_parse_duration("1w", 2, &s, &why), -EINVAL);
	assert_int_equal(lang_parse_duration("1dd", 3, &s, &why), -EINVAL);
	assert_int_equal(lang_parse_duration("d", 1, &s, &why), -EINVAL);
	assert_int_equal(lang_parse_duration("999999999999999999d", 19, &s, &why),
			 -ERANGE);
}

static void test_prefix_values(void **state)
{
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };
	struct ast_prefix p;

	(void)state;
	assert_int_equal(lang_parse_prefix("::ffff:0:0/96", 13, &p), 0);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.plen, 96);
	assert_true(p.has_len);
	assert_memory_equal(p.addr, mapped, 16);
	assert_int_equal(lang_parse_prefix("100.64.0.0/10", 13, &p), 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.addr[0], 100);
	assert_int_equal(p.addr[1], 64);
	assert_int_equal(p.plen, 10);
	assert_int_equal(lang_parse_prefix("192.0.2.1", 9, &p), 0);
	assert_false(p.has_len);
	assert_int_equal(p.plen, 32);
	assert_int_equal(lang_parse_prefix("2001:db8::/200", 14, &p), 0);
	assert_int_equal(p.plen, 200);	/* range is the checker's job */
	assert_int_equal(lang_parse_prefix("10.0.0/8", 8, &p), -EINVAL);
	assert_int_equal(lang_parse_prefix("10.0.0.0/x", 10, &p), -EINVAL);
	assert_int_equal(lang_parse_prefix("10.0.0.0/", 9, &p), -EINVAL);
	assert_int_equal(lang_parse_prefix("/8", 2, &p), -EINVAL);
}

static void test_suggest(void **state)
{
	static const char *const det[] = {
		"ipv4", "ipv6", "email", "phone", "mac", "literal", "pattern",
		"proxy-protocol", "header", NULL
	};
	static const char *const stmt[] = {
		"listen", "queue", "clients", "address", "redact", "allow",
		"on-error", NULL
	};

	(void)state;
	assert_string_equal(lang_suggest("emial", 5, det), "email");
	assert_string_equal(lang_suggest("proxy-protcol", 13, det),
			    "proxy-protocol");
	assert_string_equal(lang_suggest("heder", 5, det), "header");
	assert_string_equal(lang_suggest("lisen", 5, stmt), "listen");
	assert_string_equal(lang_suggest("onerror", 7, stmt), "on-error");
	assert_null(lang_suggest("frobnicate", 10, stmt));
	assert_null(lang_suggest("x", 1, det));
	assert_null(lang_suggest("rdctx", 5, stmt));	/* distance 3 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_tokens),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_prefix_values),
		cmocka_unit_test(test_suggest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
