/*
 * lang.h — internals of the policy language shared by its passes:
 * source locations, tokens (lex.c), the syntax tree (parse.c), the
 * meaning checks (check.c), the compiler to a ruleset (compile.c) and
 * the collected diagnostics (diag.c).
 *
 * Every pass appends to one diag_list and keeps going, so a policy's
 * errors are all reported at once.  Only compile requires an error-free
 * tree.
 */
#ifndef NFREDACT_LANG_H
#define NFREDACT_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct ruleset;

/* A place in the source: 1-based line and column (in bytes), the byte
 * offset of that column, and how many bytes the carets cover. */
struct loc {
	unsigned line, col, span;
	size_t offset;
};

struct src {
	const char *name;	/* file name shown in diagnostics */
	const char *text;
	size_t len;
};

/* ---- diagnostics (diag.c) ---------------------------------------- */

/** diag_list_new() - an empty list.  Return: list or NULL. */
struct diag_list *diag_list_new(void);

/**
 * diag_list_nomem() - a shared, static list that stands for "out of
 * memory" (one error, no entries) when not even a list can be allocated;
 * diag_list_free() leaves it alone.
 */
struct diag_list *diag_list_nomem(void);

/**
 * diag_add() - append a diagnostic located at @loc of @src (the source
 * line is copied for the caret display).  @src may be NULL for a
 * diagnostic without a location.  On allocation failure the error is
 * still counted, so a load never succeeds silently.
 */
void diag_add(struct diag_list *dl, const struct src *src,
	      enum diag_severity sev, struct loc loc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/** diag_sort() - order the diagnostics by line and column, stable */
void diag_sort(struct diag_list *dl);

/* ---- tokens (lex.c) ---------------------------------------------- */

enum tok_kind {
	TOK_WORD,	/* keyword, number, port range, prefix, path ... */
	TOK_STRING,	/* "..." with escapes decoded */
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_EOL,	/* end of a statement: newline or ';' */
	TOK_EOF,
};

struct token {
	enum tok_kind kind;
	struct loc loc;
	const char *text;	/* WORD: slice of the source; STRING: decoded, owned */
	size_t len;
	bool bad;		/* reported by the lexer already (unterminated) */
};

struct token_list {
	struct token *v;
	size_t n, cap;
};

/**
 * lang_lex() - split @src into tokens, always ending with TOK_EOF.
 * Lexical errors go to @dl; lexing continues after them.
 * Return: 0 or -ENOMEM.
 */
int lang_lex(const struct src *src, struct token_list *out,
	     struct diag_list *dl);

/** lang_tokens_free() - free the tokens' decoded strings and the array */
void lang_tokens_free(struct token_list *tl);

/**
 * lang_string_column() - the source column of byte @decoded_off of the
 * decoded string token @tok, walking its escapes.
 */
unsigned lang_string_column(const struct src *src, const struct token *tok,
			    size_t decoded_off);

/* ---- syntax tree (parse.c) --------------------------------------- */

struct ast_str {
	char *s;		/* owned, NUL-terminated; may contain NUL (len) */
	size_t len;
	struct loc loc;
};

struct ast_num {
	uint64_t v;		/* saturates at UINT32_MAX + 1 */
	struct loc loc;
};

struct ast_range {
	struct ast_num lo, hi;	/* hi == lo when not a range */
	bool is_range;
	struct loc loc;		/* the whole word */
};

struct ast_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t addr[16];
	uint64_t plen;		/* unchecked; the family's full length when absent */
	bool has_len;
	struct loc loc, len_loc;
};

enum stmt_kind {
	ST_KEY,
	ST_EPOCH,
	ST_KEY_GRACE,	/* uses .epoch */
	ST_LISTEN,
	ST_QUEUE,
	ST_CLIENTS,
	ST_ADDRESS,
	ST_REDACT,
	ST_ALLOW,
	ST_ON_ERROR,
	ST_HOLD,
	ST_FRAME,
};

struct ast_stmt {
	enum stmt_kind kind;
	struct loc loc;		/* the keyword */
	union {
		struct ast_str key;
		struct {
			uint64_t seconds;
			struct loc loc;
		} epoch;
		struct {
			uint8_t proto;	/* RS_PROTO_TCP / RS_PROTO_UDP */
			struct ast_range *ports;
			size_t n;
		} listen;
		struct ast_range queue;
		struct {
			struct ast_prefix *v;
			size_t n;
		} clients;
		struct {
			uint8_t family;	/* 4 or 6 */
			enum addr_mode mode;
			struct loc mode_loc;
			bool has_len;
			struct ast_num len;		/* truncate, permute */
			struct ast_prefix range;	/* map */
		} address;
		struct {
			enum det_kind det;
			struct loc det_loc;
			bool has_arg;
			struct ast_str arg;	/* literal, pattern, header */
			enum act_kind act;
			struct loc act_loc;
			unsigned n_nums;
			struct ast_num nums[2];
			bool hostnames;		/* ipv4: in host names too */
			struct loc hostnames_loc;
			bool relaxed;		/* email: option word `relaxed` */
			struct loc relaxed_loc;
		} redact;
		struct ast_str allow;
		struct {
			bool accept;
			struct loc loc;
		} on_error;
		struct {
			uint64_t ms;	/* TCP hold-back limit */
			bool mask;	/* an undecided tail is masked */
			struct loc loc;
		} hold;
		struct {
			uint8_t kind;	/* enum frame_kind */
			struct loc loc;
		} frame;
	};
};

struct ast_service {
	char *name;
	struct loc name_loc;
	struct ast_stmt *stmts;
	size_t n, cap;
	bool damaged;		/* a statement failed to parse */

	/* resolved by the checker for the compiler */
	const struct ast_stmt *queue, *on_error, *addr[2];	/* [0] ipv4 */
	const struct ast_stmt *hold;
	const struct ast_stmt *frame;
};

struct ast_policy {
	struct ast_stmt *top;	/* key, epoch, key-grace */
	size_t n_top, cap_top;
	struct ast_service *svcs;
	size_t n_svcs, cap_svcs;

	/* resolved by the checker */
	const struct ast_stmt *key, *epoch, *key_grace;
	char *key_path;		/* the key path resolved against the policy's dir */
};

/**
 * lang_parse() - build the syntax tree from @tl.  Syntax errors go to
 * @dl; parsing resumes at the next statement.
 * Return: 0 or -ENOMEM (@ast is then partly filled; free it anyway).
 */
int lang_parse(const struct src *src, const struct token_list *tl,
	       struct ast_policy *ast, struct diag_list *dl);

/** lang_ast_free() - free what lang_parse() and lang_check() allocated */
void lang_ast_free(struct ast_policy *ast);

/**
 * lang_suggest() - the candidate within edit distance 2 of @word (a
 * transposition counts 1) that is closest, or NULL.
 * @cands: NULL-terminated list
 */
const char *lang_suggest(const char *word, size_t len,
			 const char *const *cands);

/**
 * lang_parse_duration() - "1d", "3600s", "30m", "2h", or "0".
 * Return: 0, -EINVAL (syntax; @why says what), -ERANGE (overflow).
 */
int lang_parse_duration(const char *s, size_t len, uint64_t *seconds,
			const char **why);

/**
 * lang_parse_prefix() - "10.0.0.0/8", "2001:db8::/32", "::1" into @p
 * (address, family, length; the length is not range-checked).
 * Return: 0 or -EINVAL.
 */
int lang_parse_prefix(const char *s, size_t len, struct ast_prefix *p);

/* ---- meaning (check.c) and compiled form (compile.c) ------------- */

/**
 * lang_check() - every semantic check on @ast: ranges, conflicts,
 * detector/action fit, patterns, the key file.  Resolves the singleton
 * statements for the compiler.
 * Return: 0 or -ENOMEM.
 */
int lang_check(const struct src *src, struct ast_policy *ast,
	       struct diag_list *dl);

/**
 * lang_compile() - the ruleset of a checked, error-free @ast.
 * Return: ruleset (policy_free()) or NULL, with the reason in @dl.
 */
struct ruleset *lang_compile(const struct src *src,
			     const struct ast_policy *ast,
			     const struct ruleset *previous,
			     struct diag_list *dl);

#endif
