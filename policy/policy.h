/*
 * policy.h — the public face of the policy language: load a policy file
 * into a compiled ruleset, report errors with their locations.
 *
 * filter/ and tools/ include this header, engine.h and flow.h only.
 */
#ifndef NFREDACT_POLICY_H
#define NFREDACT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct ruleset;

/* Identifier detectors (doc/design.md §5). */
enum det_kind {
	DET_IPV4,
	DET_IPV6,
	DET_EMAIL,
	DET_PHONE,
	DET_MAC,
	DET_LITERAL,
	DET_PATTERN,
	DET_PROXY,		/* proxy-protocol */
	DET_HEADER,		/* header "Name" */
	DET__COUNT
};

/* Actions applied to a detected identifier. */
enum act_kind {
	ACT_MASK,
	ACT_TOKEN,
	ACT_TRUNCATE,
	ACT_ADDRESS,
	ACT__COUNT
};

/* Address modes of `address ipv4|ipv6 ...` (doc/design.md §4). */
enum addr_mode {
	ADDR_KEEP,
	ADDR_TRUNCATE,
	ADDR_PERMUTE,
	ADDR_MAP,
};

enum diag_severity { DIAG_ERROR, DIAG_WARNING };

/* One diagnostic: file:line:col: severity: msg, the line, a caret. */
struct diag {
	enum diag_severity severity;
	char *file;
	unsigned line, col;	/* 1-based */
	unsigned span;		/* carets to draw, at least 1 */
	char *msg;
	char *src_line;		/* the source line without newline; may be NULL */
	/* the same with what may name a client masked (diag_list_fprint()):
	 * NULL exactly when src_line is */
	char *src_line_masked;
	char *msg_masked;
};

struct diag_list {
	struct diag *v;
	size_t n, cap;
	size_t errors, warnings;
};

/**
 * policy_load() - lex, parse, check and compile the policy file @path
 * @path:     the policy file
 * @previous: the ruleset this one replaces (reload), or NULL; without a
 *            `key` statement the new ruleset inherits @previous's
 *            in-memory random key, so pseudonyms survive a reload
 * @diags:    receives every error and warning of every pass (never NULL
 *            on return; free with diag_list_free())
 *
 * Return: the compiled ruleset (owned by the caller, policy_free()), or
 * NULL when there was at least one error.
 */
struct ruleset *policy_load(const char *path, const struct ruleset *previous,
			    struct diag_list **diags);

/**
 * policy_load_string() - as policy_load(), from memory; @name is the file
 * name used in diagnostics (and the base for relative paths).
 */
struct ruleset *policy_load_string(const char *name, const char *text,
				   const struct ruleset *previous,
				   struct diag_list **diags);

/**
 * policy_key_path() - the key file that the policy @path names, resolved
 * as policy_load() resolves it, without compiling the policy (no key is
 * read).
 * @key_path: set to a malloc'd path, or NULL when the policy names none
 * Return: 0, or -errno when the file cannot be read, -EINVAL when the
 * policy has errors.
 */
int policy_key_path(const char *path, char **key_path);

/**
 * policy_default() - the built-in default policy: every packet on queue 0,
 * address truncate 24/48, mask ipv4, ipv6, email and phone.
 * Return: a ruleset or NULL on allocation failure.
 */
struct ruleset *policy_default(const struct ruleset *previous);

/** policy_free() - free a ruleset; NULL is fine */
void policy_free(struct ruleset *rs);

/* diag_list_fprint() flags */
#define DIAG_PRINT_ORIGINAL	1u	/* literals, prefixes, comments as written */

/**
 * diag_list_fprint() - print every diagnostic, nftables style: the
 * source lines and messages with string literals, client prefixes, rule
 * arguments and comments masked (lengths kept), or as written with
 * DIAG_PRINT_ORIGINAL (`--show-original`; the daemon never asks for it)
 */
void diag_list_fprint(FILE *out, const struct diag_list *dl, unsigned flags);

/** diag_list_print() - diag_list_fprint() masked: what every caller shows */
void diag_list_print(FILE *out, const struct diag_list *dl);

/** diag_list_free() - free the list; NULL is fine */
void diag_list_free(struct diag_list *dl);

/* Read-only accessors for tools and the daemon. */
unsigned policy_service_count(const struct ruleset *rs);
const char *policy_service_name(const struct ruleset *rs, unsigned svc);
bool policy_service_on_error_accept(const struct ruleset *rs, unsigned svc);
uint64_t policy_epoch_seconds(const struct ruleset *rs);

/**
 * policy_parse_duration() - a duration as the policy writes one ("1d",
 * "3600s", "30m", "2h", "0") into seconds
 * @why: on failure, a static message
 * Return: 0 or -EINVAL.
 */
int policy_parse_duration(const char *s, uint64_t *seconds, const char **why);

/**
 * policy_keygen() - write a new random master key to @path (mode 0600,
 * refusing to overwrite).  Return: 0 or -errno.
 */
int policy_keygen(const char *path);

/*
 * Ratchet states (forward secrecy).  A ratchet state file holds one
 * epoch's ratchet key K_e and no earlier one; the next is
 * KDF(K_e, "ratchet"), so a key that has moved on cannot recompute the
 * pseudonyms of the epochs before it (policy/key.c has the layout and
 * the labels).  The file checks are those of a key file below, with the
 * state's size instead of 32 bytes.
 */
#define KEY_RATCHET_FILE_LEN	88
#define KEY_RATCHET_VERSION	1
#define KEY_RATCHET_MAX_EPOCH	(UINT64_C(366) * 86400)	/* a year */
#define KEY_RATCHET_MAX_TIME	(UINT64_C(1) << 40)	/* Unix seconds */
#define KEY_GRACE_DEFAULT	5	/* seconds; policy `key-grace` */
#define KEY_GRACE_MAX		300
#define KEY_FPR_HEX		17	/* 8 bytes in hex, and a NUL */

/* What a ratchet state shows: never a key. */
struct key_ratchet_status {
	unsigned version;
	uint64_t epoch_seconds;
	uint64_t start;		/* Unix time of epoch 0 */
	uint64_t epoch;		/* the state's epoch (after advancing) */
	uint64_t from;		/* the epoch the file held before */
	char fingerprint[KEY_FPR_HEX];	/* of K_epoch, one-way */
};

/**
 * key_ratchet_new() - write a new ratchet state to @path: a random key
 * for the epoch that @now falls in (epoch 0 before @start), mode 0600;
 * an existing file is never replaced.
 * @epoch_seconds: 1 .. KEY_RATCHET_MAX_EPOCH
 * @start: Unix time at which epoch 0 begins
 * @why: on failure, a static message
 * Return: 0 or -errno (-EEXIST, -EINVAL, the directory checks' errors).
 */
int key_ratchet_new(const char *path, uint64_t epoch_seconds, uint64_t start,
		    uint64_t now, const char **why);

/**
 * key_ratchet_advance() - move the ratchet state @path on to the epoch of
 * @now and write it in place atomically (temporary file, fsync, rename,
 * fsync of the directory); the old key is wiped from memory.  Nothing is
 * written when the state is already current.
 * @allowed_uid: as key_file_open()
 * @grace: how far the state may be ahead of @now, in seconds
 * @not_before: the newest epoch already in use (0: none known); a state
 *              behind it is refused as rolled back
 * @st: if not NULL, what the state shows afterwards
 * @why: on failure, a static message (never a key byte)
 * Return: 0 or -errno: -EBADMSG corrupt, -EMEDIUMTYPE a static 32-byte
 * key, -EINVAL not a ratchet state,
 * -ESTALE behind @not_before, -ERANGE ahead of the clock, the checks of
 * key_file_open(), or a write error.
 */
int key_ratchet_advance(const char *path, uid_t allowed_uid, uint64_t now,
			uint64_t grace, uint64_t not_before,
			struct key_ratchet_status *st, const char **why);

/**
 * key_ratchet_status() - what the ratchet state @path holds, as stored
 * (version, epoch length, start, epoch, fingerprint).  Reads only.
 * Return: 0 or -errno as key_ratchet_advance().
 */
int key_ratchet_status(const char *path, struct key_ratchet_status *st,
		       const char **why);

/**
 * key_ratchet_export() - write the ratchet state @path, moved on in
 * memory to the epoch of @now (never an earlier one), to the new file
 * @out (mode 0600, never replacing one).  @path is not changed.
 * Return: 0 or -errno as key_ratchet_advance(), -EEXIST for @out.
 */
int key_ratchet_export(const char *path, const char *out, uint64_t now,
		       struct key_ratchet_status *st, const char **why);

/**
 * policy_key_ratchet() - the ruleset's key is a ratchet state
 */
bool policy_key_ratchet(const struct ruleset *rs);

/**
 * policy_key_erased() - the key of the epoch that @unix_seconds falls in
 * is gone from @rs's ratchet (never true with a static key)
 * @epoch: set to that epoch; @first: the oldest epoch still held
 * @span: set to the Unix time at which that epoch begins
 */
bool policy_key_erased(const struct ruleset *rs, uint64_t unix_seconds,
		       uint64_t *epoch, uint64_t *first, uint64_t *span);

/**
 * policy_key_tick() - let @rs's ratchet keyring follow the clock: move on
 * to the epoch of @unix_seconds (wiping the older key) and wipe the
 * previous epoch's key once the grace is over.  The engine does the
 * same for every packet; this is for when no packet comes.  Nothing for
 * a static key.  Callers serialise it with the engine.
 */
void policy_key_tick(const struct ruleset *rs, uint64_t unix_seconds);

/**
 * policy_key_grace() - seconds the previous epoch's key is kept after a
 * ratchet boundary (`key-grace`, default KEY_GRACE_DEFAULT)
 */
uint64_t policy_key_grace(const struct ruleset *rs);

/*
 * Key files.  A key file is refused unless it is a regular file (not a
 * symbolic link) of exactly 32 bytes, owned by root, by the caller's
 * effective user or by the one allowed user, with no permission for
 * group or others, in a directory owned by one of those users that
 * others cannot write to (its group only when that group is root's).
 */

/* No allowed user besides root and the caller's effective user. */
#define KEY_UID_NONE ((uid_t)-1)

/**
 * typedef key_open_fn - opens key files for the policy library, in place
 * of its own key_file_open() (see keyring_set_opener())
 * @path: the key file named by the policy (a relative name already
 *        resolved against the policy file's directory)
 * @why:  on failure, set to a static message naming what is wrong (it
 *        may be left alone: the library then names the errno)
 * @ctx:  the pointer given to keyring_set_opener()
 *
 * The opener answers for where the descriptor comes from: the owner of
 * the file and its directory (key_file_open() checks both).  The library
 * checks again what it can see through the descriptor: a regular file
 * of exactly 32 bytes, no permission for group or others.  It reads with
 * pread() from offset 0, so the descriptor's offset does not matter.
 *
 * Return: a readable descriptor, which the library owns from then on and
 * closes, or -errno.
 */
typedef int (*key_open_fn)(const char *path, const char **why, void *ctx);

/**
 * key_file_open() - open and check a key file, for reading its 32 bytes
 * @path:        the key file
 * @allowed_uid: a user, besides root and the caller's effective user,
 *               who may own the file and its directory (KEY_UID_NONE:
 *               nobody else)
 * @why:         on failure, a static message naming what is wrong, never
 *               a byte of the key (NULL: not wanted)
 *
 * The checks are those described above.  The immediate directory is
 * opened first (symbolic links above the file are followed, so /etc may
 * be one), checked, and the file is opened relative to it with
 * O_NOFOLLOW; the file's checks are made again on the open descriptor.
 * This is what keyring_load() and key_file_check() use when no opener
 * is set, and what a privileged process calls to open a key file for an
 * unprivileged one.
 *
 * Return: a descriptor (O_RDONLY, O_CLOEXEC; the caller closes it) or
 * -errno: -EINVAL (no name, not a regular file, wrong size), -ELOOP
 * (symbolic link), -EPERM (owner or mode of the file or its directory),
 * -ENOENT, -ENOTDIR, -EACCES, -ENAMETOOLONG, or another open() error.
 */
int key_file_open(const char *path, uid_t allowed_uid, const char **why);

/**
 * key_set_allowed_uid() - the allowed user that key_file_check(),
 * keyring_load() and policy_keygen() pass to key_file_open() when no
 * opener is set
 * @uid: the user (the daemon's), or KEY_UID_NONE (the default)
 *
 * Process-wide; set it before any thread loads a policy.
 */
void key_set_allowed_uid(uid_t uid);

/**
 * keyring_set_opener() - make the policy library get key file
 * descriptors from @fn instead of opening key files itself
 * @fn:  the opener, or NULL to go back to key_file_open()
 * @ctx: passed to @fn unchanged
 *
 * Process-wide; set it before any thread loads a policy.  Every load and
 * check of a `key` statement (policy_load(), policy_load_string()) goes
 * through @fn: a daemon that has given up root asks a privileged process
 * for the descriptor.  policy_keygen() never uses @fn.
 */
void keyring_set_opener(key_open_fn fn, void *ctx);

/* A listening port range of a service, for rule generation. */
struct policy_ports {
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t lo, hi;
};

/**
 * policy_service_ports() - the port ranges service @svc listens on
 * @out: receives up to @max ranges
 * Return: the number of ranges the service has (may exceed @max).
 */
unsigned policy_service_ports(const struct ruleset *rs, unsigned svc,
			      struct policy_ports *out, unsigned max);

/**
 * policy_service_queues() - the inbound queue range of service @svc: its
 * `queue` statement (default 0), where its client→server packets and the
 * ICMP errors that clients send are queued
 */
void policy_service_queues(const struct ruleset *rs, unsigned svc,
			   uint16_t *lo, uint16_t *hi);

/**
 * policy_service_queues_out() - the outbound queue range of service @svc,
 * where its server→client packets and the ICMP errors that leave for
 * clients are queued: its inbound range moved up by the width of the
 * policy's whole inbound block (lowest to highest queue of any service),
 * so that every outbound queue lies above every inbound one and the
 * ranges keep their widths.  `queue 0` everywhere gives outbound queue 1;
 * `queue 4-7` gives 8-11.  The checker refuses a policy whose outbound
 * queues would pass 65535.
 * Return: 0, or -ERANGE (never for a checked policy) with @lo and @hi 0.
 */
int policy_service_queues_out(const struct ruleset *rs, unsigned svc,
			      uint16_t *lo, uint16_t *hi);

/**
 * policy_service_address() - the address rule of service @svc for
 * @family (4 or 6): its mode, prefix length, and for map mode the range
 * (@range: 16 bytes, IPv4 in the first 4).
 * Return: 0 or -EINVAL.
 */
int policy_service_address(const struct ruleset *rs, unsigned svc, int family,
			   enum addr_mode *mode, unsigned *plen,
			   uint8_t range[16], unsigned *range_plen);

/* A client prefix of a service (`clients`), for rule generation. */
struct policy_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
};

/**
 * policy_service_clients() - the `clients` prefixes of service @svc
 * @out: receives up to @max prefixes
 * Return: the number of prefixes the service has (may exceed @max);
 * 0 means every client is covered.
 */
unsigned policy_service_clients(const struct ruleset *rs, unsigned svc,
				struct policy_prefix *out, unsigned max);

const char *policy_det_name(enum det_kind d);
const char *policy_act_name(enum act_kind a);

#endif
