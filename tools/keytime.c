/*
 * keytime.c — times and epoch spans for the key commands (keytime.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keytime.h"
#include "policy.h"

int keytime_parse(const char *s, uint64_t *unix_seconds)
{
	struct tm tm;
	const char *end;
	char *num_end;
	unsigned long long v;
	time_t t;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &num_end, 10);
	if (!*num_end && s[0] >= '0' && s[0] <= '9') {
		if (errno || v > KEY_RATCHET_MAX_TIME)
			return -EINVAL;
		*unix_seconds = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (!end || *end)
			return -EINVAL;
	}
	t = timegm(&tm);
	if (t < 0 || (uint64_t)t > KEY_RATCHET_MAX_TIME)
		return -EINVAL;
	*unix_seconds = (uint64_t)t;
	return 0;
}

char *keytime_format(uint64_t unix_seconds, char *buf, size_t size)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "@%llu", (unsigned long long)unix_seconds);
	return buf;
}

char *keytime_span(const struct key_ratchet_status *st, uint64_t epoch,
		   char *buf, size_t size)
{
	char from[32], to[32];
	uint64_t begin = st->start + epoch * st->epoch_seconds;

	snprintf(buf, size, "%s to %s", keytime_format(begin, from, sizeof(from)),
		 keytime_format(begin + st->epoch_seconds, to, sizeof(to)));
	return buf;
}
