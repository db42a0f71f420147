/*
 * cmd_kcheck.c — `nfredact kcheck`: check the running kernel's
 * configuration against Kbuild-notes and say, option by option, what a
 * missing one means for the rules `nfredact ruleset` prints.  Read-only:
 * it never loads a module.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"

enum kopt_state { KOPT_MISSING, KOPT_MODULE, KOPT_BUILTIN };

struct kopt {
	const char *name;	/* without CONFIG_ */
	bool required;
	const char *if_missing;	/* what its absence means */
};

/*
 * Kbuild-notes, in its order; tests/unit/test_kcheck.c keeps them in step.
 * The rules are nf_tables tables of nfredact's own (table ip/ip6
 * nfredact), whichever iptables the host has: native matches, the ct
 * expression, and the xt NFQUEUE target through nft_compat.
 */
static const struct kopt kopts[] = {
	{ "NETFILTER", true,
	  "no netfilter: nothing can be queued, the rules cannot load" },
	{ "NETFILTER_NETLINK", true,
	  "no nfnetlink: nfredactd cannot talk to the queue or to nf_tables" },
	{ "NETFILTER_NETLINK_QUEUE", true,
	  "no netlink queue: nfredactd cannot bind its queues" },
	{ "NF_TABLES", true,
	  "no nf_tables: table ip/ip6 nfredact cannot be made" },
	{ "NF_TABLES_IPV4", true,
	  "no IPv4 nf_tables family: table ip nfredact cannot be made" },
	{ "NF_TABLES_IPV6", true,
	  "no IPv6 nf_tables family: table ip6 nfredact cannot be made" },
	{ "NFT_COMPAT", true,
	  "no nft_compat: the queue statements (the xt NFQUEUE target) cannot load" },
	{ "NETFILTER_XT_TARGET_NFQUEUE", true,
	  "no xt NFQUEUE target: the queue statements cannot load" },
	{ "NFT_CT", true,
	  "no ct expression: the ct state related rules cannot load, and nothing makes conntrack (and defrag) active" },
	{ "NF_CONNTRACK", true,
	  "no conntrack: no defragmentation before the queue, no related ICMP errors" },
	{ "NF_DEFRAG_IPV4", true,
	  "identifiers split across IPv4 fragments can pass" },
	{ "NF_DEFRAG_IPV6", true,
	  "identifiers split across IPv6 fragments can pass" },
	{ "NFT_QUEUE", false,
	  "fine: the rules use the xt NFQUEUE target; only hand-written nft queue rules need it" },
};

/*
 * kconfig_state() - the state of CONFIG_@name in the .config text @cfg:
 * "=y" built in, "=m" module, "is not set" or absent missing.
 */
static enum kopt_state kconfig_state(const char *cfg, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *l = cfg; l && *l;) {
		const char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l) : strlen(l);

		if (len > 7 + nlen + 1 && !memcmp(l, "CONFIG_", 7) &&
		    !memcmp(l + 7, name, nlen) && l[7 + nlen] == '=') {
			const char *v = l + 7 + nlen + 1;
			size_t vlen = len - (7 + nlen + 1);

			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			if (vlen == 1 && *v == 'y')
				return KOPT_BUILTIN;
			if (vlen == 1 && *v == 'm')
				return KOPT_MODULE;
			return KOPT_MISSING;	/* =n, or a non-tristate value */
		}
		l = eol ? eol + 1 : l + len;
	}
	return KOPT_MISSING;
}

/*
 * kcheck_report() - print one line per option of kopts for config text
 * @cfg.
 * Return: the number of required options that are missing.
 */
static unsigned kcheck_report(const char *cfg, FILE *out)
{
	static const char *const state_name[] = {
		[KOPT_MISSING] = "missing", [KOPT_MODULE] = "module",
		[KOPT_BUILTIN] = "built-in",
	};
	unsigned missing = 0;

	for (int pass = 1; pass >= 0; pass--) {
		fprintf(out, "%s:\n", pass ? "required" : "optional");
		for (size_t i = 0; i < sizeof(kopts) / sizeof(kopts[0]); i++) {
			bool required = kopts[i].required;
			enum kopt_state st;

			if (required != (bool)pass)
				continue;
			st = kconfig_state(cfg, kopts[i].name);
			fprintf(out, "  CONFIG_%-30s %-8s", kopts[i].name,
				state_name[st]);
			if (st == KOPT_MISSING) {
				fprintf(out, "  %s%s", kopts[i].if_missing,
					required ? ": FAIL" : "");
				missing += required;
			} else if (st == KOPT_MODULE) {
				fputs("  ok (loaded on demand)", out);
			} else {
				fputs("  ok", out);
			}
			fputc('\n', out);
		}
	}
	return missing;
}

/* Read all of @fd into a NUL-terminated string; NULL on failure. */
static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t r;

		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

/* /proc/config.gz through `gzip -dc` (no zlib in the link). */
static char *read_config_gz(const char *path)
{
	int pfd[2];
	char *text;
	pid_t pid;
	int status;

	if (access(path, R_OK) < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return NULL;
	}
	if (pid == 0) {
		if (dup2(pfd[1], 1) < 0)
			_exit(127);
		execlp("gzip", "gzip", "-dc", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	text = slurp_fd(pfd[0]);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (text && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		free(text);
		text = NULL;
	}
	return text;
}

static char *read_config_plain(const char *path)
{
	char *text;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	text = slurp_fd(fd);
	close(fd);
	return text;
}

static bool file_has_word(const char *path, const char *word)
{
	char line[128];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		found = !strcmp(line, word);
	}
	fclose(f);
	return found;
}

/*
 * Whether kernel release @rel ("6.9.0-1-amd64") keeps a table flagged
 * owner and persist after its owner exits: Linux 6.9 and later.
 */
static bool release_keeps_owned_tables(const char *rel)
{
	unsigned major, minor;

	if (sscanf(rel, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 9);
}

/* What is loaded right now; informational, never changes the verdict. */
static void runtime_report(const char *cfg, FILE *out)
{
	bool q = access("/proc/net/netfilter/nfnetlink_queue", F_OK) == 0;
	struct utsname uts;

	fputs("runtime:\n", out);
	fprintf(out, "  %-37s %s\n", "nfnetlink_queue",
		q ? "loaded (/proc/net/netfilter/nfnetlink_queue)" :
		kconfig_state(cfg, "NETFILTER_NETLINK_QUEUE") == KOPT_MODULE ?
		"not loaded yet: it loads when nfredactd binds a queue" :
		"not present");
	fprintf(out, "  %-37s %s\n", "NFQUEUE target (IPv4, nft_compat)",
		file_has_word("/proc/net/ip_tables_targets", "NFQUEUE") ?
		"registered" : "not registered yet: it loads with the first rule");
	fprintf(out, "  %-37s %s\n", "NFQUEUE target (IPv6, nft_compat)",
		file_has_word("/proc/net/ip6_tables_targets", "NFQUEUE") ?
		"registered" : "not registered yet: it loads with the first rule");
	if (uname(&uts) == 0)
		fprintf(out, "  %-37s %s\n", "owned tables outlive nfredactd",
			release_keeps_owned_tables(uts.release) ?
			"yes (Linux 6.9+)" :
			"no (before Linux 6.9): nfredactd leaves its tables "
			"unowned and watches them");
}

/**
 * cmd_kcheck() - the kcheck subcommand
 * @argc: argument count, argv[0] is "kcheck"
 * @argv: arguments; --config FILE checks a .config file instead of the
 *        running kernel's (plain text, or gzip when it ends in .gz)
 *
 * Return: exit status: 0 every required option is present (built in or
 * module), 1 at least one is missing, 2 no configuration found or usage.
 */
int cmd_kcheck(int argc, char **argv)
{
	char boot[300], *cfg = NULL;
	const char *from = NULL;
	struct utsname uts;
	unsigned missing;
	size_t len;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: nfredact kcheck [--config FILE]\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--config") && argv[2][0]) {
		from = argv[2];
		len = strlen(from);
		cfg = len > 3 && !strcmp(from + len - 3, ".gz") ?
		      read_config_gz(from) : read_config_plain(from);
		if (!cfg) {
			fprintf(stderr, "nfredact kcheck: cannot read %s\n", from);
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: nfredact kcheck [--config FILE]\n");
		return 2;
	} else {
		if (uname(&uts) < 0)
			strcpy(uts.release, "unknown");
		snprintf(boot, sizeof(boot), "/boot/config-%s", uts.release);
		cfg = read_config_gz("/proc/config.gz");
		from = "/proc/config.gz";
		if (!cfg) {
			cfg = read_config_plain(boot);
			from = boot;
		}
		if (!cfg) {
			fprintf(stderr, "nfredact kcheck: no kernel configuration "
				"found: neither /proc/config.gz nor %s is readable\n",
				boot);
			return 2;
		}
	}
	printf("kernel configuration: %s\n", from);
	missing = kcheck_report(cfg, stdout);
	runtime_report(cfg, stdout);
	if (missing)
		printf("result: %u required option%s missing: the filter cannot "
		       "give its guarantee on this kernel\n", missing,
		       missing == 1 ? " is" : "s are");
	else
		printf("result: OK, every required option is present\n");
	free(cfg);
	return missing ? 1 : 0;
}
