/*
 * test_kcheck.c — the kernel-configuration parser of `nfredact kcheck`
 * (tools/cmd_kcheck.c) on sample .config text, its option table against
 * Kbuild-notes, and the kernel release that keeps owned tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/cmd_kcheck.c"

/* Every required option built in or module, except those listed. */
static char *sample_config(const char *const *drop, size_t n_drop)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fputs("#\n# Automatically generated file; DO NOT EDIT.\n#\n"
	      "CONFIG_NETFILTER_ADVANCED=y\n", f);
	for (size_t i = 0; i < sizeof(kopts) / sizeof(kopts[0]); i++) {
		bool dropped = false;

		for (size_t j = 0; j < n_drop; j++)
			dropped |= !strcmp(drop[j], kopts[i].name);
		if (dropped)
			fprintf(f, "# CONFIG_%s is not set\n", kopts[i].name);
		else if (kopts[i].required)
			fprintf(f, "CONFIG_%s=%s\n", kopts[i].name, i % 2 ? "m" : "y");
	}
	fclose(f);
	return text;
}

/* Whether the line of @out that starts with "  CONFIG_@name " says @word. */
static bool line_says(const char *out, const char *name, const char *word)
{
	char key[64], buf[512];
	const char *line, *eol;

	snprintf(key, sizeof(key), "  CONFIG_%s ", name);
	line = strstr(out, key);
	assert_non_null(line);
	eol = strchr(line, '\n');
	assert_non_null(eol);
	assert_true((size_t)(eol - line) < sizeof(buf));
	memcpy(buf, line, (size_t)(eol - line));
	buf[eol - line] = '\0';
	return strstr(buf, word) != NULL;
}

static void test_states(void **state)
{
	static const char cfg[] =
		"CONFIG_NETFILTER=y\n"
		"CONFIG_NF_CONNTRACK=m\n"
		"# CONFIG_NFT_QUEUE is not set\n"
		"CONFIG_NETFILTER_NETLINK_QUEUE=n\n"
		"CONFIG_NF_DEFRAG_IPV4_EXTRA=y\n"
		"CONFIG_IP_NF_RAW=y\r\n"
		"CONFIG_NETFILTER_NETLINK=\"y\"\n"
		"CONFIG_IP6_NF_RAW=m";	/* no final newline */

	(void)state;
	assert_int_equal(kconfig_state(cfg, "NETFILTER"), KOPT_BUILTIN);
	assert_int_equal(kconfig_state(cfg, "NF_CONNTRACK"), KOPT_MODULE);
	assert_int_equal(kconfig_state(cfg, "NFT_QUEUE"), KOPT_MISSING);
	assert_int_equal(kconfig_state(cfg, "NETFILTER_NETLINK_QUEUE"), KOPT_MISSING);
	/* a longer name with the same start is another option */
	assert_int_equal(kconfig_state(cfg, "NF_DEFRAG_IPV4"), KOPT_MISSING);
	assert_int_equal(kconfig_state(cfg, "IP_NF_RAW"), KOPT_BUILTIN);
	assert_int_equal(kconfig_state(cfg, "NETFILTER_NETLINK"), KOPT_MISSING);
	assert_int_equal(kconfig_state(cfg, "IP6_NF_RAW"), KOPT_MODULE);
	assert_int_equal(kconfig_state(cfg, "IP_NF_MANGLE"), KOPT_MISSING);
	assert_int_equal(kconfig_state("", "NETFILTER"), KOPT_MISSING);
}

static void test_report_all_present(void **state)
{
	char *cfg = sample_config(NULL, 0);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(kcheck_report(cfg, f), 0);
	fclose(f);
	assert_null(strstr(out, "FAIL"));
	assert_non_null(strstr(out, "CONFIG_NF_DEFRAG_IPV6"));
	/* optional and missing: said, but not a failure */
	assert_non_null(strstr(out, "CONFIG_NFT_QUEUE"));
	assert_non_null(strstr(out, "xt NFQUEUE target"));
	free(out);
	free(cfg);
}

static void test_report_missing(void **state)
{
	static const char *const drop[] = { "NF_DEFRAG_IPV6", "NF_TABLES_IPV4",
					    "NFT_QUEUE" };
	char *cfg = sample_config(drop, 3);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(kcheck_report(cfg, f), 2);
	fclose(f);
	assert_int_not_equal(kconfig_state(cfg, "NF_DEFRAG_IPV4"), KOPT_MISSING);
	assert_true(line_says(out, "NF_DEFRAG_IPV6", "missing"));
	assert_true(line_says(out, "NF_DEFRAG_IPV6", "fragments can pass: FAIL"));
	assert_true(line_says(out, "NF_TABLES_IPV4", "missing"));
	assert_true(line_says(out, "NF_TABLES_IPV4", "table ip nfredact cannot be made: FAIL"));
	assert_true(line_says(out, "NFT_QUEUE", "missing"));
	assert_true(line_says(out, "NFT_QUEUE", "fine"));
	assert_false(line_says(out, "NFT_QUEUE", "FAIL"));
	assert_false(line_says(out, "NF_CONNTRACK", "missing"));
	assert_false(line_says(out, "NF_TABLES_IPV6", "FAIL"));
	free(out);
	free(cfg);
}

/*
 * The nf_tables pieces the tables are made of are required whatever
 * iptables the host has (the tool no longer asks it); each one missing
 * alone fails, and no iptables table or xt match is asked for.
 */
static void test_nf_tables_always_required(void **state)
{
	static const char *const needed[] = {
		"NF_TABLES", "NF_TABLES_IPV4", "NF_TABLES_IPV6", "NFT_COMPAT",
		"NETFILTER_XT_TARGET_NFQUEUE", "NFT_CT",
		"NETFILTER_NETLINK_QUEUE",
	};
	static const char *const gone[] = {
		"IP_NF_RAW", "IP6_NF_RAW", "IP_NF_MANGLE", "IP6_NF_MANGLE",
		"NETFILTER_XT_MATCH_CONNTRACK", "NETFILTER_XT_MATCH_MULTIPORT",
		"NETFILTER_XT_MATCH_COMMENT", "IP_NF_IPTABLES",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		char *cfg = sample_config(&needed[i], 1);
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		assert_int_equal(kcheck_report(cfg, f), 1);
		fclose(f);
		assert_true(line_says(out, needed[i], "missing"));
		assert_true(line_says(out, needed[i], ": FAIL"));
		free(out);
		free(cfg);
	}
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		for (size_t j = 0; j < sizeof(kopts) / sizeof(kopts[0]); j++)
			assert_string_not_equal(kopts[j].name, gone[i]);
	for (size_t j = 0; j < sizeof(kopts) / sizeof(kopts[0]); j++)
		assert_int_equal(kopts[j].required,
				 strcmp(kopts[j].name, "NFT_QUEUE") != 0);
}

static void test_release_keeps_owned_tables(void **state)
{
	(void)state;
	assert_true(release_keeps_owned_tables("6.9.0"));
	assert_true(release_keeps_owned_tables("6.18.44-fc-v1272"));
	assert_true(release_keeps_owned_tables("7.0-rc1"));
	assert_false(release_keeps_owned_tables("6.8.12-amd64"));
	assert_false(release_keeps_owned_tables("5.15.0"));
	assert_false(release_keeps_owned_tables("unknown"));
}

/* Every option Kbuild-notes names is checked, required ones as required. */
static void test_table_follows_kbuild_notes(void **state)
{
	FILE *f = fopen("Kbuild-notes", "r");
	char line[256];
	bool optional = false;
	unsigned seen = 0;

	(void)state;
	if (!f)
		f = fopen("../../Kbuild-notes", "r");
	if (!f)
		skip();
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "CONFIG_"), *end;
		bool found = false;

		if (strstr(line, "--- optional"))
			optional = true;
		if (!p)
			continue;
		p += 7;
		end = p + strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		*end = '\0';
		for (size_t i = 0; i < sizeof(kopts) / sizeof(kopts[0]); i++) {
			if (strcmp(kopts[i].name, p))
				continue;
			found = true;
			assert_int_equal(kopts[i].required, !optional);
		}
		if (!found)
			fail_msg("CONFIG_%s of Kbuild-notes is not checked", p);
		seen++;
	}
	fclose(f);
	/* and every option checked is named there, once */
	assert_int_equal(seen, sizeof(kopts) / sizeof(kopts[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_report_all_present),
		cmocka_unit_test(test_report_missing),
		cmocka_unit_test(test_nf_tables_always_required),
		cmocka_unit_test(test_release_keeps_owned_tables),
		cmocka_unit_test(test_table_follows_kbuild_notes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
