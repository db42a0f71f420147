/*
 * log.h — the daemon's one logging path: stderr, each line begun with a
 * UTC time stamp (2026-12-07T06:45:01.123Z), the name and a level,
 * printf-checked formats (OpenBSD log.c style).  Messages carry counters
 * and names only: never an original identifier or a client address.
 */
#ifndef NFREDACT_LOG_H
#define NFREDACT_LOG_H

#include <stdarg.h>

/**
 * log_init() - set the verbosity and the name printed before each line
 * @name:    program name ("nfredactd")
 * @verbose: 0 info and up, 1 also debug
 */
void log_init(const char *name, int verbose);

/** log_setprefix() - a word printed after the name ("parent"); NULL: none */
void log_setprefix(const char *prefix);

/** log_debug() - only with -v */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** log_info() - an event worth a line */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** log_warn() - a warning with strerror(errno) appended */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** log_warnx() - a warning without errno */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** fatal() - log with strerror(errno) and exit(1) */
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/** fatalx() - log and exit(1) */
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
