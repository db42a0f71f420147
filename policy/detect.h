/*
 * detect.h — identifier detectors over a byte range (doc/design.md §5).
 *
 * detect_scan() runs every redact rule of a service over a payload and
 * returns the matches sorted by start (at the same start the longer one
 * first; at the same span the earlier rule).  Overlapping matches are all
 * kept: the engine merges them (doc/design.md §5).  Allow ranges
 * (`allow pattern`) are found by detect_allow(); detect_range_covers()
 * says whether a match lies wholly inside one.
 * Nothing here allocates after detect_scratch_new().
 */
#ifndef NFREDACT_DETECT_H
#define NFREDACT_DETECT_H

#include <stdbool.h>
#include <stdint.h>

struct ruleset;
struct rs_service;
struct detect_scratch;

struct detect_match {
	uint32_t start, end;	/* [start, end) in the scanned buffer */
	uint16_t rule;		/* index into svc->redact */
	uint8_t det;		/* enum det_kind */
};

struct detect_range {
	uint32_t start, end;
};

/* Matches per scan a scratch holds; more is reported as overflow. */
#define DETECT_MAX_MATCHES 16384

/**
 * detect_scratch_new() - per-worker scratch for @rs: match arrays and
 * PCRE2 match data sized for the largest pattern.
 * Return: scratch (detect_scratch_free()) or NULL.
 */
struct detect_scratch *detect_scratch_new(const struct ruleset *rs);

/** detect_scratch_free() - free; NULL is fine */
void detect_scratch_free(struct detect_scratch *s);

/* detect_scan() and detect_tail() flags */
#define DETECT_LINE_START 0x1	/* @buf begins at a line start: header
				 * rules may match its first line */
#define DETECT_NO_HEADERS 0x2	/* header rules are not run at all (a
				 * message body) */

/**
 * detect_scan() - every identifier of @svc's redact rules in @buf
 * @flags:         DETECT_LINE_START, DETECT_NO_HEADERS, or 0
 * @out:           receives a pointer to the matches (inside @s), valid
 *                 until the next detect_scan() on @s (detect_allow() keeps
 *                 its ranges in a separate array: both may be used together);
 *                 sorted, overlaps kept, a span one rule found twice once
 * Return: number of matches, or -ENOSPC when there were more than
 * DETECT_MAX_MATCHES, or -EIO on a PCRE2 matching error (resource limit).
 */
int detect_scan(const struct rs_service *svc, struct detect_scratch *s,
		const uint8_t *buf, uint32_t len, unsigned flags,
		const struct detect_match **out);

/**
 * detect_allow() - the byte ranges of @buf that `allow pattern` rules
 * match, one per match (never merged), sorted by start; a match inside
 * an earlier one is left out, so starts and ends both rise.
 * Return: count, -ENOSPC or -EIO as detect_scan().
 */
int detect_allow(const struct rs_service *svc, struct detect_scratch *s,
		 const uint8_t *buf, uint32_t len,
		 const struct detect_range **out);

/**
 * detect_range_covers() - whether [@start, @end) lies wholly inside one
 * of @r[0, @n) (rising starts and ends, as detect_allow() gives them).
 * @pos is a cursor, 0 at first; successive calls must not decrease @start.
 */
bool detect_range_covers(const struct detect_range *r, int n, int *pos,
			 uint32_t start, uint32_t end);

/**
 * detect_tail() - where the candidates that later bytes could still
 * complete or extend begin in @buf (the end of a stream so far)
 * @flags:   as detect_scan()'s; with DETECT_NO_HEADERS no header line
 *           under way is held
 * @suspect: receives the start of the earliest candidate that already
 *           looks like an identifier, or @len
 * Return: the offset of the earliest candidate, @len when the tail is
 * clean.
 */
uint32_t detect_tail(const struct rs_service *svc, struct detect_scratch *s,
		     const uint8_t *buf, uint32_t len, unsigned flags,
		     uint32_t *suspect);

/*
 * Single detectors, for the scan and for tests.  Each looks for the
 * leftmost identifier of its kind in buf[from, len) and returns true with
 * [*start, *end) set, or false.  A match is never part of a longer run
 * that would make it something else (1.2.3.4.5 is no IPv4 address).
 */
bool detect_ipv4(const uint8_t *buf, uint32_t len, uint32_t from,
		 uint32_t *start, uint32_t *end);
bool detect_ipv6(const uint8_t *buf, uint32_t len, uint32_t from,
		 uint32_t *start, uint32_t *end);
bool detect_email(const uint8_t *buf, uint32_t len, uint32_t from,
		  uint32_t *start, uint32_t *end);
bool detect_phone(const uint8_t *buf, uint32_t len, uint32_t from,
		  uint32_t *start, uint32_t *end);
bool detect_mac(const uint8_t *buf, uint32_t len, uint32_t from,
		uint32_t *start, uint32_t *end);

/**
 * detect_ip_text() - parse the IPv4 or IPv6 text at buf[0, len) (as a
 * detector matched it) into @addr (16 bytes; IPv4 in the first 4).
 * Return: 4, 6, or 0 when it is not an address.
 */
int detect_ip_text(const uint8_t *buf, uint32_t len, uint8_t addr[static 16]);

#endif
