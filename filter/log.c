/*
 * log.c — stderr logging for nfredactd.  One line per event, written with
 * a single write() so lines of different threads do not interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_name = "nfredactd";
static const char *log_prefix;
static int log_verbose;

void log_init(const char *name, int verbose)
{
	log_name = name;
	log_verbose = verbose;
}

void log_setprefix(const char *prefix)
{
	log_prefix = prefix;
}

static void vlog(const char *level, const char *fmt, va_list ap, int err)
{
	char line[1024];
	size_t n;
	int r;

	r = snprintf(line, sizeof(line), "%s%s%s: %s: ", log_name,
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
