/*
 * test_rules.c — rule generation (filter/rules.c): the iptables-restore
 * input per family, multiport splitting, client prefixes per family,
 * related ICMP errors, the routes, and finding an earlier installation
 * in iptables-save output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../filter/rules.c"

static struct ruleset *load(const char *text)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs = policy_load_string("t.conf", text, NULL, &dl);

	if (!rs)
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	assert_non_null(rs);
	return rs;
}

static char *render(const struct ruleset *rs, const struct rules_opts *o,
		    int family)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(rules_render(rs, o, family, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The lines of @text that start with "-A @chain". */
static unsigned rules_in(const char *text, const char *chain)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "\n-A %s ", chain);
	return count(text, prefix);
}

static const char policy_text[] =
	"service mqtt {\n"
	"\tlisten tcp 1883, 8883\n"
	"\tqueue 0\n"
	"}\n"
	"service syslog {\n"
	"\tlisten udp 514\n"
	"\tlisten tcp 514\n"
	"\tqueue 1-3\n"
	"\tclients 10.0.0.0/8, 172.16.0.0/12, 2001:db8::/32\n"
	"\taddress ipv4 map 100.64.0.0/10\n"
	"\taddress ipv6 map fd00:1:2:3::/64\n"
	"}\n"
	"service v4only {\n"
	"\tlisten tcp 7000\n"
	"\tqueue 5\n"
	"\tclients 192.0.2.0/24\n"
	"}\n";

static void test_ipv4(void **state)
{
	struct ruleset *rs = load(policy_text);
	char *t = render(rs, NULL, 4);

	(void)state;
	assert_non_null(strstr(t, "# iptables-restore --noflush (IPv4)\n"));
	assert_non_null(strstr(t, "\n*raw\n:NFREDACT-IN - [0:0]\n"));
	assert_non_null(strstr(t, "\n*mangle\n:NFREDACT-OUT - [0:0]\n"));
	assert_int_equal(count(t, "-I PREROUTING 1 -m comment --comment nfredact -j NFREDACT-IN\n"), 1);
	assert_int_equal(count(t, "-I OUTPUT 1 -m comment --comment nfredact -j NFREDACT-OUT\n"), 1);
	assert_int_equal(count(t, "COMMIT\n"), 2);
	assert_non_null(strstr(t, "-A NFREDACT-IN -p tcp -m multiport --dports 1883,8883 -j NFQUEUE --queue-num 0\n"));
	assert_non_null(strstr(t, "-A NFREDACT-OUT -p tcp -m multiport --sports 1883,8883 -j NFQUEUE --queue-num 0\n"));
	/* one inbound rule per IPv4 client prefix; no IPv6 prefix here */
	assert_non_null(strstr(t, "-A NFREDACT-IN -s 10.0.0.0/8 -p udp -m multiport --dports 514 -j NFQUEUE --queue-balance 1:3\n"));
	assert_non_null(strstr(t, "-A NFREDACT-IN -s 172.16.0.0/12 -p tcp -m multiport --dports 514 -j NFQUEUE --queue-balance 1:3\n"));
	assert_null(strstr(t, "2001:db8"));
	/* outbound rules carry no client prefix */
	assert_non_null(strstr(t, "-A NFREDACT-OUT -p udp -m multiport --sports 514 -j NFQUEUE --queue-balance 1:3\n"));
	assert_int_equal(count(t, "-A NFREDACT-OUT -s "), 0);
	assert_non_null(strstr(t, "-A NFREDACT-IN -s 192.0.2.0/24 -p tcp -m multiport --dports 7000 -j NFQUEUE --queue-num 5\n"));
	/* ICMP errors to the first service's queue, in and out */
	for (unsigned type = 0; type < 256; type++) {
		char in[128], out[160];
		bool want = type == 3 || type == 4 || type == 11 || type == 12;

		snprintf(in, sizeof(in), "-A NFREDACT-IN -p icmp -m icmp --icmp-type %u -j NFQUEUE --queue-num 0\n", type);
		snprintf(out, sizeof(out), "-A NFREDACT-OUT -p icmp -m conntrack --ctstate RELATED -m icmp --icmp-type %u -j NFQUEUE --queue-num 0\n", type);
		assert_int_equal(strstr(t, in) != NULL, want);
		assert_int_equal(strstr(t, out) != NULL, want);
	}
	/* mqtt 2, syslog 2 prefixes x 2 protocols, v4only 1, ICMP 4 */
	assert_int_equal(rules_in(t, "NFREDACT-IN"), 1 + 4 + 1 + 4);
	assert_int_equal(rules_in(t, "NFREDACT-OUT"), 1 + 2 + 1 + 4);
	assert_null(strstr(t, "--queue-bypass"));
	assert_non_null(strstr(t, "defragmentation"));
	free(t);
	policy_free(rs);
}

static void test_ipv6(void **state)
{
	struct ruleset *rs = load(policy_text);
	char *t = render(rs, NULL, 6);

	(void)state;
	assert_non_null(strstr(t, "# ip6tables-restore --noflush (IPv6)\n"));
	assert_non_null(strstr(t, "-A NFREDACT-IN -s 2001:db8::/32 -p tcp -m multiport --dports 514 -j NFQUEUE --queue-balance 1:3\n"));
	assert_null(strstr(t, "10.0.0.0"));
	/* clients all IPv4: no IPv6 rules for that service */
	assert_null(strstr(t, "7000"));
	assert_null(strstr(t, "--icmp-type"));
	for (unsigned type = 0; type < 256; type++) {
		char in[128], out[160];
		bool want = type >= 1 && type <= 4;

		snprintf(in, sizeof(in), "-A NFREDACT-IN -p ipv6-icmp -m icmp6 --icmpv6-type %u -j", type);
		snprintf(out, sizeof(out), "-A NFREDACT-OUT -p ipv6-icmp -m conntrack --ctstate RELATED -m icmp6 --icmpv6-type %u -j", type);
		assert_int_equal(strstr(t, in) != NULL, want);
		assert_int_equal(strstr(t, out) != NULL, want);
	}
	free(t);
	policy_free(rs);
}

static void test_family_without_service(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n"
				  "\tclients 2001:db8::/32\n}\n");
	char *t4 = render(rs, NULL, 4), *t6 = render(rs, NULL, 6);

	(void)state;
	assert_null(strstr(t4, "*raw"));
	assert_null(strstr(t4, "COMMIT"));
	assert_non_null(strstr(t4, "no service covers IPv4 clients"));
	assert_int_equal(count(t6, "COMMIT\n"), 2);
	free(t4);
	free(t6);
	policy_free(rs);
}

static void test_multiport_split(void **state)
{
	struct ruleset *rs = load(
		"service many {\n"
		"\tlisten tcp 2000,2002,2004,2006,2008,2010,2012,2014,2016,"
		"2018,2020,2022,2024,2026,2028,2030, 3000-3010\n"
		"\tlisten udp 100-101, 200-201, 300-301, 400-401, 500-501, "
		"600-601, 700-701, 800-801\n"
		"}\n");
	char *t = render(rs, NULL, 4);

	(void)state;
	/* 15 single ports fill one rule; the 16th and a range go on */
	assert_non_null(strstr(t, "--dports 2000,2002,2004,2006,2008,2010,2012,2014,2016,2018,2020,2022,2024,2026,2028 -j"));
	assert_non_null(strstr(t, "--dports 2030,3000:3010 -j"));
	/* a range counts twice: 7 ranges (14) fit, the 8th does not */
	assert_non_null(strstr(t, "-p udp -m multiport --dports 100:101,200:201,300:301,400:401,500:501,600:601,700:701 -j"));
	assert_non_null(strstr(t, "-p udp -m multiport --dports 800:801 -j"));
	assert_int_equal(count(t, "-m multiport --dports"), 4);
	assert_int_equal(count(t, "-m multiport --sports"), 4);
	free(t);
	policy_free(rs);
}

static void test_default_policy(void **state)
{
	struct ruleset *rs = policy_default(NULL);
	char *t4, *t6;

	(void)state;
	assert_non_null(rs);
	t4 = render(rs, NULL, 4);
	t6 = render(rs, NULL, 6);
	assert_null(strstr(t4, "multiport"));
	assert_non_null(strstr(t4, "-A NFREDACT-IN -p tcp -j NFQUEUE --queue-num 0\n"));
	assert_non_null(strstr(t4, "-A NFREDACT-IN -p udp -j NFQUEUE --queue-num 0\n"));
	assert_non_null(strstr(t4, "-A NFREDACT-OUT -p udp -j NFQUEUE --queue-num 0\n"));
	assert_non_null(strstr(t6, "-A NFREDACT-OUT -p tcp -j NFQUEUE --queue-num 0\n"));
	assert_non_null(strstr(t6, "--ctstate RELATED"));
	free(t4);
	free(t6);
	policy_free(rs);
}

static void test_fail_open_is_explicit(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_opts o = { .fail_open = true };
	char *t = render(rs, &o, 4);

	(void)state;
	assert_non_null(strstr(t, "--dports 25 -j NFQUEUE --queue-num 0 --queue-bypass\n"));
	free(t);
	policy_free(rs);
}

static void test_forward_translates_replies_before_routing(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n}\n");
	struct rules_opts relay = { .forward = true }, local = { 0 };
	char *t = render(rs, &relay, 4), *u = render(rs, &local, 4);
	const char *mangle = strstr(t, "*mangle");

	(void)state;
	assert_non_null(mangle);
	assert_non_null(strstr(mangle, "-I PREROUTING 1 -m comment --comment nfredact -j NFREDACT-OUT\n"));
	assert_non_null(strstr(mangle, "-I OUTPUT 1 -m comment --comment nfredact -j NFREDACT-OUT\n"));
	assert_null(strstr(strstr(u, "*mangle"), "PREROUTING"));
	free(t);
	free(u);
	policy_free(rs);
}

static void test_routes(void **state)
{
	struct ruleset *rs = load(policy_text);
	struct rules_opts o = { .dev = "eth7" };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&text, &len);
	assert_int_equal(rules_render_routes(rs, &o, f), 0);
	fclose(f);
	assert_int_equal(count(text, "ip route replace 100.64.0.0/10 dev eth7\n"), 1);
	assert_int_equal(count(text, "ip -6 route replace fd00:1:2:3::/64 dev eth7\n"), 1);
	assert_int_equal(count(text, "\nip "), 2);
	assert_non_null(strstr(text, "# service mqtt: IPv4 truncate 24:"));
	/* v4only has no IPv6 rules, so nothing to say about IPv6 routes */
	assert_null(strstr(text, "# service v4only: IPv6"));
	free(text);

	o.dev = "bad dev";
	text = NULL;
	f = open_memstream(&text, &len);
	assert_int_equal(rules_render_routes(rs, &o, f), -EINVAL);
	fclose(f);
	assert_null(strstr(text, "bad dev"));
	free(text);
	policy_free(rs);
}

static void test_prefix_masked(void **state)
{
	uint8_t a[16] = { 10, 1, 2, 3 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	print_prefix(f, 4, a, 12);
	fputc(' ', f);
	a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8; a[4] = 0xff;
	print_prefix(f, 6, a, 36);
	fclose(f);
	assert_string_equal(text, "10.0.0.0/12 2001:db8:f000::/36");
	free(text);
}

static const char saved_text[] =
	"# Generated by iptables-save v1.8.9 (nf_tables)\n"
	"*mangle\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":NFREDACT-OUT - [0:0]\n"
	"-A OUTPUT -m comment --comment nfredact -j NFREDACT-OUT\n"
	"-A OUTPUT -p udp -m udp --sport 53 -j ACCEPT\n"
	"-A OUTPUT -j NFREDACT-OUTER\n"
	"-A NFREDACT-OUT -p tcp -m multiport --sports 25 -j NFQUEUE --queue-num 0\n"
	"COMMIT\n"
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":NFREDACT-IN - [0:0]\n"
	"-A PREROUTING -m comment --comment nfredact -j NFREDACT-IN\n"
	"-A PREROUTING -p tcp -m tcp --dport 22 -j ACCEPT\n"
	"-A PREROUTING -s 10.0.0.0/8 -g NFREDACT-IN\n"
	"COMMIT\n"
	"*filter\n"
	":INPUT ACCEPT [0:0]\n"
	"-A INPUT -j NFREDACT-IN\n"
	"COMMIT\n";

static void test_saved_jumps(void **state)
{
	char *text = NULL;
	size_t len = 0;
	bool exists = false;
	FILE *f;

	(void)state;
	f = open_memstream(&text, &len);
	assert_int_equal(saved_jumps(saved_text, "raw", CHAIN_IN, f, &exists), 2);
	assert_true(exists);
	fclose(f);
	assert_string_equal(text,
		"-D PREROUTING -m comment --comment nfredact -j NFREDACT-IN\n"
		"-D PREROUTING -s 10.0.0.0/8 -g NFREDACT-IN\n");
	free(text);

	/* NFREDACT-OUTER is someone else's chain */
	assert_int_equal(saved_jumps(saved_text, "mangle", CHAIN_OUT, NULL, &exists), 1);
	assert_true(exists);
	assert_int_equal(saved_jumps(saved_text, "mangle", CHAIN_IN, NULL, &exists), 0);
	assert_false(exists);
	assert_int_equal(saved_jumps(saved_text, "nat", CHAIN_IN, NULL, &exists), 0);
	assert_false(exists);
	assert_int_equal(saved_jumps("", "raw", CHAIN_IN, NULL, &exists), 0);
	assert_false(exists);
}

/* The apply input deletes the old jump before inserting the new one. */
static void test_render_replaces_saved(void **state)
{
	struct ruleset *rs = load("service a {\n\tlisten tcp 25\n}\n");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *del, *ins;

	(void)state;
	assert_int_equal(render_family(rs, NULL, 4, saved_text, f), 0);
	fclose(f);
	del = strstr(text, "-D PREROUTING -m comment --comment nfredact -j NFREDACT-IN\n");
	ins = strstr(text, "-I PREROUTING 1 -m comment --comment nfredact -j NFREDACT-IN\n");
	assert_non_null(del);
	assert_non_null(ins);
	assert_true(del < ins);
	assert_int_equal(count(text, "-D OUTPUT -m comment --comment nfredact -j NFREDACT-OUT\n"), 1);
	assert_null(strstr(text, "NFREDACT-OUTER"));
	assert_null(strstr(text, "-D INPUT"));
	free(text);
	policy_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_family_without_service),
		cmocka_unit_test(test_multiport_split),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_fail_open_is_explicit),
		cmocka_unit_test(test_forward_translates_replies_before_routing),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_prefix_masked),
		cmocka_unit_test(test_saved_jumps),
		cmocka_unit_test(test_render_replaces_saved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
