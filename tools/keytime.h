/*
 * keytime.h — times and epoch spans for the key commands, in UTC.
 */
#ifndef NFREDACT_KEYTIME_H
#define NFREDACT_KEYTIME_H

#include <stddef.h>
#include <stdint.h>

struct key_ratchet_status;

/**
 * keytime_parse() - Unix seconds, or an ISO 8601 UTC time
 * "YYYY-MM-DDTHH:MM:SSZ" (or "YYYY-MM-DD", midnight UTC)
 * Return: 0 or -EINVAL.
 */
int keytime_parse(const char *s, uint64_t *unix_seconds);

/**
 * keytime_format() - @unix_seconds as "YYYY-MM-DDTHH:MM:SSZ" in @buf
 * Return: @buf.
 */
char *keytime_format(uint64_t unix_seconds, char *buf, size_t size);

/**
 * keytime_span() - "FROM to TO" (UTC) of epoch @epoch of the state @st
 * Return: @buf.
 */
char *keytime_span(const struct key_ratchet_status *st, uint64_t epoch,
		   char *buf, size_t size);

#endif
