/*
 * load.c — the policy loader: read the file and run the passes (lex,
 * parse, check, compile) in order, collecting every diagnostic; and the
 * built-in default policy, which goes through the same passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang.h"
#include "ruleset.h"

/* Larger than any sensible policy; keeps a mistaken path from eating memory. */
#define POLICY_MAX_BYTES (4u << 20)

static const char default_policy[] =
	"service default {\n"
	"\tlisten tcp 1-65535\n"
	"\tlisten udp 1-65535\n"
	"\tqueue 0\n"
	"\taddress ipv4 truncate 24\n"
	"\taddress ipv6 truncate 48\n"
	"\tredact ipv4 mask\n"
	"\tredact ipv6 mask\n"
	"\tredact email mask\n"
	"\tredact phone mask\n"
	"}\n";

static struct ruleset *run_passes(const struct src *src,
				  const struct ruleset *previous,
				  struct diag_list *dl)
{
	struct token_list tl = { 0 };
	struct ast_policy ast = { 0 };
	struct ruleset *rs = NULL;
	int rc;

	rc = lang_lex(src, &tl, dl);
	if (!rc)
		rc = lang_parse(src, &tl, &ast, dl);
	if (!rc)
		rc = lang_check(src, &ast, dl);
	if (rc)
		diag_add(dl, src, DIAG_ERROR, (struct loc){ 0 },
			 "out of memory reading the policy");
	else if (!dl->errors)
		rs = lang_compile(src, &ast, previous, dl);
	lang_ast_free(&ast);
	lang_tokens_free(&tl);
	diag_sort(dl);
	return rs;
}

/**
 * policy_load_string() - see policy.h
 */
struct ruleset *policy_load_string(const char *name, const char *text,
				   const struct ruleset *previous,
				   struct diag_list **diags)
{
	struct src src = {
		.name = name ? name : "<input>",
		.text = text,
		.len = strlen(text),
	};
	struct diag_list *dl = diag_list_new();

	*diags = dl ? dl : diag_list_nomem();
	if (!dl)
		return NULL;
	return run_passes(&src, previous, dl);
}

static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	buf = malloc(POLICY_MAX_BYTES + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, POLICY_MAX_BYTES + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > POLICY_MAX_BYTES) {
			err = -EFBIG;
			break;
		}
	}
	if (err) {
		free(buf);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
out:
	close(fd);
	return err;
}

/**
 * policy_load() - see policy.h
 */
struct ruleset *policy_load(const char *path, const struct ruleset *previous,
			    struct diag_list **diags)
{
	struct diag_list *dl = diag_list_new();
	struct src src = { .name = path };
	struct ruleset *rs;
	char *text = NULL;
	int rc;

	*diags = dl ? dl : diag_list_nomem();
	if (!dl)
		return NULL;
	rc = read_file(path, &text, &src.len);
	if (rc) {
		diag_add(dl, &src, DIAG_ERROR, (struct loc){ 0 },
			 "cannot read the policy: %s", strerror(-rc));
		return NULL;
	}
	if (memchr(text, '\0', src.len)) {
		diag_add(dl, &src, DIAG_ERROR, (struct loc){ 0 },
			 "the policy is not a text file (NUL byte)");
		free(text);
		return NULL;
	}
	src.text = text;
	rs = run_passes(&src, previous, dl);
	free(text);
	return rs;
}

/**
 * policy_default() - see policy.h
 */
struct ruleset *policy_default(const struct ruleset *previous)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs;

	rs = policy_load_string("<default>", default_policy, previous, &dl);
	diag_list_free(dl);
	return rs;
}

/**
 * policy_key_path() - see policy.h
 */
int policy_key_path(const char *path, char **key_path)
{
	struct src src = { .name = path };
	struct token_list tl = { 0 };
	struct ast_policy ast = { 0 };
	struct diag_list *dl;
	char *text = NULL;
	int rc;

	*key_path = NULL;
	dl = diag_list_new();
	if (!dl)
		return -ENOMEM;
	rc = read_file(path, &text, &src.len);
	if (rc)
		goto out;
	if (memchr(text, '\0', src.len)) {
		rc = -EINVAL;
		goto out;
	}
	src.text = text;
	rc = lang_lex(&src, &tl, dl);
	if (!rc)
		rc = lang_parse(&src, &tl, &ast, dl);
	if (!rc)
		rc = lang_check(&src, &ast, dl);
	if (!rc && dl->errors)
		rc = -EINVAL;
	if (!rc && ast.key_path) {
		*key_path = strdup(ast.key_path);
		if (!*key_path)
			rc = -ENOMEM;
	}
	lang_ast_free(&ast);
	lang_tokens_free(&tl);
out:
	free(text);
	diag_list_free(dl);
	return rc;
}

/**
 * policy_parse_duration() - see policy.h
 */
int policy_parse_duration(const char *s, uint64_t *seconds, const char **why)
{
	return lang_parse_duration(s, strlen(s), seconds, why);
}
