/*
 * test_policy_load.c — the policy passes end to end through
 * policy_load_string(): the compiled ruleset's fields, the default
 * policy, error collection across passes, and the diagnostic display.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "ruleset.h"

static struct ruleset *load(const char *text, struct diag_list **dl)
{
	return policy_load_string("t.conf", text, NULL, dl);
}

static void test_compiled_fields(void **state)
{
	static const char text[] =
		"epoch 1h\n"
		"service mail {\n"
		"\tlisten tcp 25, 587\n"
		"\tlisten udp 1000-1002\n"
		"\tqueue 3-5\n"
		"\tclients 10.0.0.0/8, 2001:db8::/32\n"
		"\taddress ipv4 map 100.64.0.0/10\n"
		"\taddress ipv6 permute 56\n"
		"\tredact ipv4 truncate 16\n"
		"\tredact ipv6 mask\n"
		"\tredact literal \"s\\x00cret\" token\n"
		"\tredact pattern \"(a)(b)(c)\" mask\n"
		"\tallow pattern \"(?i)rcpt\"\n"
		"\ton-error accept\n"
		"}\n"
		"service web {\n"
		"\tlisten tcp 80\n"
		"\tredact header \"X-Forwarded-For\" truncate 20\n"
		"\tredact ipv6 truncate 40\n"
		"}\n";
	struct diag_list *dl = NULL;
	struct ruleset *rs = load(text, &dl);
	const struct rs_service *s;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(dl->errors, 0);
	assert_int_equal(dl->warnings, 1);	/* on-error accept */
	assert_non_null(rs->keys);
	assert_int_equal(rs->epoch_seconds, 3600);
	assert_int_equal(policy_epoch_seconds(rs), 3600);
	assert_int_equal(policy_service_count(rs), 2);
	assert_string_equal(policy_service_name(rs, 1), "web");
	assert_null(policy_service_name(rs, 2));
	assert_true(policy_service_on_error_accept(rs, 0));
	assert_false(policy_service_on_error_accept(rs, 1));

	assert_int_equal(rs->port_map[RS_PROTO_TCP][25], 1);
	assert_int_equal(rs->port_map[RS_PROTO_TCP][587], 1);
	assert_int_equal(rs->port_map[RS_PROTO_TCP][80], 2);
	assert_int_equal(rs->port_map[RS_PROTO_UDP][1001], 1);
	assert_int_equal(rs->port_map[RS_PROTO_UDP][1003], 0);
	assert_int_equal(rs->port_map[RS_PROTO_UDP][25], 0);
	assert_int_equal(rs->max_capture, 4);

	s = &rs->services[0];
	assert_int_equal(s->n_ports, 3);
	assert_int_equal(s->ports[2].proto, RS_PROTO_UDP);
	assert_int_equal(s->ports[2].lo, 1000);
	assert_int_equal(s->ports[2].hi, 1002);
	assert_int_equal(s->queue_lo, 3);
	assert_int_equal(s->queue_hi, 5);
	assert_int_equal(s->n_clients, 2);
	assert_int_equal(s->clients[1].family, 6);
	assert_int_equal(s->clients[1].plen, 32);
	assert_int_equal(s->clients[1].addr[1], 0x01);
	assert_int_equal(s->addr4.mode, ADDR_MAP);
	assert_int_equal(s->addr4.range.family, 4);
	assert_int_equal(s->addr4.range.plen, 10);
	assert_int_equal(s->addr4.range.addr[1], 64);
	assert_int_equal(s->addr6.mode, ADDR_PERMUTE);
	assert_int_equal(s->addr6.plen, 56);
	assert_int_equal(s->n_redact, 4);
	assert_int_equal(s->redact[0].det, DET_IPV4);
	assert_int_equal(s->redact[0].act, ACT_TRUNCATE);
	assert_int_equal(s->redact[0].trunc4, 16);
	assert_int_equal(s->redact[0].trunc6, 48);
	/* IPv4 embedded in IPv6 text follows the service's ipv4 rule */
	assert_int_equal(s->redact[1].trunc4, 16);
	assert_int_equal(s->redact[1].trunc6, 48);
	assert_int_equal(s->redact[2].literal_len, 6);
	assert_memory_equal(s->redact[2].literal, "s\0cret", 6);
	assert_non_null(s->redact[3].re);
	assert_int_equal(s->n_allow, 1);
	assert_non_null(s->allow[0]);
	assert_int_equal(s->det_mask, (1u << DET_IPV4) | (1u << DET_IPV6) |
				      (1u << DET_LITERAL) | (1u << DET_PATTERN));

	s = &rs->services[1];
	assert_int_equal(s->addr4.mode, ADDR_TRUNCATE);	/* defaults */
	assert_int_equal(s->addr4.plen, 24);
	assert_int_equal(s->addr6.mode, ADDR_TRUNCATE);
	assert_int_equal(s->addr6.plen, 48);
	assert_false(s->on_error_accept);
	assert_int_equal(s->redact[0].det, DET_HEADER);
	assert_int_equal(s->redact[0].header_len, 15);
	assert_memory_equal(s->redact[0].header, "X-Forwarded-For", 15);
	assert_int_equal(s->redact[0].trunc4, 20);
	assert_int_equal(s->redact[0].trunc6, 48);	/* M omitted */
	assert_int_equal(s->redact[1].trunc6, 40);
	assert_int_equal(s->redact[1].trunc4, 24);
	assert_int_equal(s->det_mask, (1u << DET_HEADER) | (1u << DET_IPV6));

	policy_free(rs);
	diag_list_free(dl);
}

static void test_pattern_is_bytes(void **state)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs = load("service a {\n listen tcp 1\n"
				  " redact pattern \"\\xff[\\x80-\\xfe]\" mask\n}\n",
				  &dl);
	pcre2_match_data *md;
	const uint8_t subject[] = { 'a', 0xff, 0x90, 'b' };

	(void)state;
	/* No UTF mode: a byte pattern that is no valid UTF-8 compiles and
	 * matches raw bytes. */
	assert_non_null(rs);
	md = pcre2_match_data_create(rs->max_capture, NULL);
	assert_int_equal(pcre2_match(rs->services[0].redact[0].re, subject,
				     sizeof(subject), 0, 0, md, NULL), 1);
	assert_int_equal(pcre2_get_ovector_pointer(md)[0], 1);
	pcre2_match_data_free(md);
	policy_free(rs);
	diag_list_free(dl);
}

static void test_default_policy(void **state)
{
	struct ruleset *rs = policy_default(NULL), *again;
	const struct rs_service *s;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(rs->n_services, 1);
	s = &rs->services[0];
	assert_string_equal(s->name, "default");
	assert_int_equal(rs->port_map[RS_PROTO_TCP][1], 1);
	assert_int_equal(rs->port_map[RS_PROTO_UDP][65535], 1);
	assert_int_equal(rs->port_map[RS_PROTO_TCP][0], 0);
	assert_int_equal(s->queue_lo, 0);
	assert_int_equal(s->queue_hi, 0);
	assert_int_equal(s->addr4.plen, 24);
	assert_int_equal(s->addr6.plen, 48);
	assert_int_equal(s->n_redact, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(s->redact[i].act, ACT_MASK);
	assert_int_equal(s->det_mask, (1u << DET_IPV4) | (1u << DET_IPV6) |
				      (1u << DET_EMAIL) | (1u << DET_PHONE));
	assert_int_equal(rs->epoch_seconds, 0);
	/* a reload without a key file keeps the in-memory key */
	again = policy_default(rs);
	assert_non_null(again);
	assert_non_null(again->keys);
	assert_ptr_not_equal(again->keys, rs->keys);
	policy_free(again);
	policy_free(rs);
}

static void test_all_errors_reported(void **state)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs = load("epoch 5x\n"
				  "service a {\n"
				  " listen tcp 0\n"
				  " redact pattern \"(\" mask \"junk\n"
				  " redact emial mask\n"
				  "}\n"
				  "service a {\n"
				  "}\n", &dl);

	(void)state;
	assert_null(rs);
	/* lex, parse and check errors together, in source order */
	assert_int_equal(dl->errors, 6);
	assert_int_equal(dl->n, 6);
	assert_int_equal(dl->v[0].line, 1);	/* parse: epoch */
	assert_int_equal(dl->v[1].line, 3);	/* check: port 0 */
	assert_int_equal(dl->v[2].line, 4);	/* lex: unterminated */
	assert_int_equal(dl->v[2].col, 26);	/* and nothing more on line 4 */
	assert_int_equal(dl->v[3].line, 5);	/* parse: detector */
	assert_int_equal(dl->v[4].line, 7);	/* check: duplicate name */
	assert_int_equal(dl->v[5].line, 7);	/* check: no listen */
	assert_string_equal(dl->v[5].msg,
			    "service \"a\" has no \"listen\" statement");
	for (size_t i = 1; i < dl->n; i++)
		assert_true(dl->v[i - 1].line < dl->v[i].line ||
			    (dl->v[i - 1].line == dl->v[i].line &&
			     dl->v[i - 1].col <= dl->v[i].col));
	diag_list_free(dl);
}

static void test_diag_print(void **state)
{
	struct diag_list *dl = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_null(load("service a {\n\t listen\ttcp 99999\n}\n", &dl));
	f = open_memstream(&out, &len);
	assert_non_null(f);
	diag_list_print(f, dl);
	fclose(f);
	assert_string_equal(out,
			    "t.conf:2:14: error: port 99999 out of range 1..65535\n"
			    "\t listen\ttcp 99999\n"
			    "\t       \t    ^^^^^\n");
	free(out);
	diag_list_free(dl);
}

/* Print @dl with @flags into a new string. */
static char *print_str(const struct diag_list *dl, unsigned flags)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	diag_list_fprint(f, dl, flags);
	fclose(f);
	return out;
}

/*
 * Diagnostics show the source line and message with what may name a
 * client masked, lengths kept so the caret still points right; the
 * originals only with DIAG_PRINT_ORIGINAL.
 */
static void test_diag_masked(void **state)
{
	static const char policy[] =
		"service a {\t# for alice\n"
		"\tlisten tcp 25; clients 192.0.2.9/24\n"
		"\tredact literal \"alice@example.org\" mask x\n"
		"\tredact pattern alice.\\d+ token\n"
		"\tallow pattern \"(?i)bob\\x40ex(\"\n"
		"}\n";
	static const char *const originals[] = {
		"alice", "192.0.2.9", "bob", "\\x40ex", NULL,
	};
	struct diag_list *dl = NULL;
	char *out;

	(void)state;
	assert_null(load(policy, &dl));
	out = print_str(dl, 0);
	assert_string_equal(out,
		"t.conf:2:25: error: host bits set in prefix \"000.0.0.0/24\" beyond /24\n"
		"\tlisten tcp 25; clients 000.0.0.0/24\n"
		"\t                       ^^^^^^^^^^^^\n"
		"t.conf:3:42: error: unknown redact option \"x\"\n"
		"\tredact literal \"xxxxx@xxxxxxx.xxx\" mask x\n"
		"\t                                        ^\n"
		"t.conf:4:17: error: expected a quoted regex after \"pattern\", got \"xxxxx.\\x+\"\n"
		"\tredact pattern xxxxx.\\x+ token\n"
		"\t               ^^^^^^^^^\n"
		"t.conf:5:31: error: invalid pattern: missing closing parenthesis\n"
		"\tallow pattern \"(?i)xxx\\x00xx(\"\n"
		"\t                             ^\n");
	for (int k = 0; originals[k]; k++)
		if (strstr(out, originals[k]))
			fail_msg("\"%s\" shown:\n%s", originals[k], out);
	free(out);

	out = print_str(dl, DIAG_PRINT_ORIGINAL);
	for (int k = 0; originals[k]; k++)
		if (!strstr(out, originals[k]))
			fail_msg("\"%s\" not shown with DIAG_PRINT_ORIGINAL:\n%s",
				 originals[k], out);
	assert_non_null(strstr(out, "\tlisten tcp 25; clients 192.0.2.9/24\n"
				    "\t                       ^^^^^^^^^^^^\n"));
	free(out);
	/* the stored fields: originals, and their masked twins */
	assert_string_equal(dl->v[0].src_line, "\tlisten tcp 25; clients 192.0.2.9/24");
	assert_string_equal(dl->v[0].src_line_masked,
			    "\tlisten tcp 25; clients 000.0.0.0/24");
	diag_list_free(dl);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(policy_det_name(DET_PROXY), "proxy-protocol");
	assert_string_equal(policy_det_name(DET_HEADER), "header");
	assert_string_equal(policy_det_name(DET_IPV4), "ipv4");
	assert_string_equal(policy_act_name(ACT_ADDRESS), "address");
	assert_string_equal(policy_act_name(ACT_MASK), "mask");
	assert_string_equal(policy_det_name(DET__COUNT), "?");
}

static void test_missing_file(void **state)
{
	struct diag_list *dl = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_null(policy_load("/nonexistent/policy.conf", NULL, &dl));
	assert_non_null(dl);
	assert_int_equal(dl->errors, 1);
	f = open_memstream(&out, &len);
	diag_list_print(f, dl);
	fclose(f);
	assert_string_equal(out, "/nonexistent/policy.conf: error: cannot read "
				 "the policy: No such file or directory\n");
	free(out);
	diag_list_free(dl);
	policy_free(NULL);
	diag_list_free(NULL);
}

/* The outbound queues follow the policy's inbound block, keeping widths. */
static void test_queues_out(void **state)
{
	static const char text[] =
		"service a {\n\tlisten tcp 25\n\tqueue 2\n}\n"
		"service b {\n\tlisten tcp 26\n\tqueue 4-6\n}\n"
		"service c {\n\tlisten tcp 27\n\tqueue 3\n}\n";
	struct diag_list *dl = NULL;
	struct ruleset *rs = load(text, &dl), *def = policy_default(NULL);
	uint16_t lo, hi;

	(void)state;
	assert_non_null(rs);
	assert_non_null(def);
	/* the inbound block is 2-6: everything moves up by 5 */
	policy_service_queues(rs, 1, &lo, &hi);
	assert_int_equal(lo, 4);
	assert_int_equal(hi, 6);
	assert_int_equal(policy_service_queues_out(rs, 0, &lo, &hi), 0);
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
	assert_int_equal(policy_service_queues_out(rs, 1, &lo, &hi), 0);
	assert_int_equal(lo, 9);
	assert_int_equal(hi, 11);
	assert_int_equal(policy_service_queues_out(rs, 2, &lo, &hi), 0);
	assert_int_equal(lo, 8);
	assert_int_equal(hi, 8);
	assert_int_equal(policy_service_queues_out(rs, 3, &lo, &hi), -ERANGE);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	/* the built-in policy: queue 0 in, queue 1 out */
	assert_int_equal(policy_service_queues_out(def, 0, &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 1);
	/* a ruleset that did not pass the checker still never wraps */
	rs->services[1].queue_hi = 65535;
	assert_int_equal(policy_service_queues_out(rs, 1, &lo, &hi), -ERANGE);
	assert_int_equal(hi, 0);
	diag_list_free(dl);
	policy_free(rs);
	policy_free(def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compiled_fields),
		cmocka_unit_test(test_pattern_is_bytes),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_queues_out),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_diag_print),
		cmocka_unit_test(test_diag_masked),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
