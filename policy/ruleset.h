/*
 * ruleset.h — the compiled policy: flat arrays that the engine reads.
 *
 * Internal to policy/: produced by compile.c, read by the engine (engine.c,
 * redact.c, pseudonym.c, stream.c) and the detectors.  Immutable once
 * compiled (a reload builds a new one).
 */
#ifndef NFREDACT_RULESET_H
#define NFREDACT_RULESET_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

struct keyring;
typedef struct pcre2_real_code_8 pcre2_code_8;

#define RS_MAX_SERVICES 254
#define RS_PROTO_TCP 0
#define RS_PROTO_UDP 1
#define RS_HOLD_DEFAULT_NS (40ull * 1000000)	/* `hold 40ms` */

struct rs_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
};

struct rs_addr_rule {
	enum addr_mode mode;
	uint8_t plen;		/* truncate/permute: prefix kept */
	struct rs_prefix range;	/* map: the pseudonym range */
};

struct rs_redact {
	enum det_kind det;
	enum act_kind act;
	uint8_t trunc4, trunc6;	/* truncate lengths (defaults 24, 48) */
	bool hostnames;		/* ipv4: also in host names (`hostnames`) */
	bool relaxed;		/* DET_EMAIL `relaxed`: single-label domains,
				 * percent-encoded '@' */
	const uint8_t *literal;	/* DET_LITERAL: the text */
	uint32_t literal_len;
	pcre2_code_8 *re;	/* DET_PATTERN (JIT-compiled) */
	const char *header;	/* DET_HEADER: the header name, no colon */
	uint32_t header_len;
};

struct rs_port_range {
	uint8_t proto;		/* RS_PROTO_TCP / RS_PROTO_UDP */
	uint16_t lo, hi;
};

struct rs_service {
	char *name;
	struct rs_port_range *ports;
	unsigned n_ports;
	uint16_t queue_lo, queue_hi;
	struct rs_prefix *clients;	/* none: every client */
	unsigned n_clients;
	struct rs_addr_rule addr4, addr6;
	struct rs_redact *redact;
	unsigned n_redact;
	pcre2_code_8 **allow;		/* `allow pattern` exceptions */
	unsigned n_allow;
	bool on_error_accept;
	uint64_t hold_ns;		/* TCP hold-back limit; 0: never hold */
	bool hold_mask;			/* `hold ... mask`: an undecided tail is
					 * masked when the hold ends without it */
	uint32_t det_mask;		/* bit (1u << det) per detector used */
	uint8_t frame;			/* enum frame_kind: `frame`, AUTO default */
};

struct ruleset {
	struct keyring *keys;		/* never NULL in a compiled ruleset */
	uint64_t epoch_seconds;		/* 0: one epoch forever */
	uint64_t key_grace;		/* seconds (ratchet) */
	struct rs_service *services;
	unsigned n_services;
	/* service index + 1 by [proto][port]; 0 = not covered */
	uint8_t port_map[2][65536];
	unsigned max_capture;		/* largest pcre2 ovector any pattern needs */
};

#endif
