/*
 * log.c — stderr logging for nfredactd.  One line per event, written with
 * a single write() so lines of different threads do not interleave, and
 * begun with the time in UTC (ISO 8601, milliseconds):
 *
 *   2026-12-07T06:45:01.123Z nfredactd: warning: ...
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* "2026-12-07T06:45:01.123Z" and room to spare */
#define LOG_STAMP_LEN	48

static const char *log_name = "nfredactd";
static const char *log_prefix;
static int log_verbose;

/* The line's time stamp: UTC, so that lines of hosts in other zones and
 * across a change of summer time compare as they are. */
static void log_stamp(char out[static LOG_STAMP_LEN])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = gmtime_r(&ts.tv_sec, &tm) ?
	    strftime(out, LOG_STAMP_LEN, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
	if (!n)
		n = (size_t)snprintf(out, LOG_STAMP_LEN, "%s",
				     "0000-00-00T00:00:00");
	snprintf(out + n, LOG_STAMP_LEN - n, ".%03uZ",
		 (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

void log_init(const char *name, int verbose)
{
	char stamp[LOG_STAMP_LEN];

	log_name = name;
	log_verbose = verbose;
	/*
	 * The C library reads its time zone data at the first gmtime_r():
	 * now, before any sandbox, not at the first line after it.
	 */
	log_stamp(stamp);
}

void log_setprefix(const char *prefix)
{
	log_prefix = prefix;
}

static void vlog(const char *level, const char *fmt, va_list ap, int err)
{
	char line[1024], stamp[LOG_STAMP_LEN];
	size_t n;
	int r;

	log_stamp(stamp);
	r = snprintf(line, sizeof(line), "%s %s%s%s: %s: ", stamp, log_name,
		     log_prefix ? " " : "", log_prefix ? log_prefix : "", level);
	n = r < 0 ? 0 : (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (err >= 0 && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ?
			     (size_t)r : sizeof(line) - n - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* Nothing useful can be done about a failed write to stderr. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug", fmt, ap, -1);
	va_end(ap);
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog("info", fmt, ap, -1);
	va_end(ap);
	errno = saved;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog("warning", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog("warning", fmt, ap, -1);
	va_end(ap);
	errno = saved;
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog("fatal", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", fmt, ap, -1);
	va_end(ap);
	exit(1);
}
