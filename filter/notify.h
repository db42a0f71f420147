/*
 * notify.h — the systemd notification protocol (sd_notify(3)) without
 * libsystemd: one datagram of "NAME=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET ('@' first: the abstract namespace).  Without
 * $NOTIFY_SOCKET every call does nothing and returns 0, so nfredactd run
 * by hand or by another supervisor behaves the same.
 *
 * With NotifyAccess=main only the main process (nfredactd's privileged
 * parent) is heard; the daemon tells the parent, which tells systemd.
 */
#ifndef NFREDACT_NOTIFY_H
#define NFREDACT_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/**
 * notify_send() - send @state, one or more "NAME=value" lines separated
 * by '\n', to $NOTIFY_SOCKET
 * @state: e.g. "READY=1" or "STATUS=serving\nWATCHDOG=1"
 *
 * A new socket per call: nothing stays open across fork() or exec().
 * Return: 0 (sent, or $NOTIFY_SOCKET unset), -EAFNOSUPPORT when the
 * variable names neither a path nor an abstract name ("vsock:" is not
 * supported), -ENAMETOOLONG, or the -errno of socket()/sendto()
 * (-ECONNREFUSED when nothing listens there any more).
 */
int notify_send(const char *state);

/** notify_ready() - "READY=1": the service is up.  Return: as notify_send(). */
int notify_ready(void);

/**
 * notify_stopping() - "STOPPING=1": the service is shutting down.
 * Return: as notify_send().
 */
int notify_stopping(void);

/**
 * notify_status() - "STATUS=" and the formatted text (one line; a longer
 * text is cut at 255 bytes, a newline in it ends the status)
 * Return: as notify_send().
 */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * notify_watchdog() - "WATCHDOG=1": the keep-alive; send it at least
 * every half of notify_watchdog_interval().  Return: as notify_send().
 */
int notify_watchdog(void);

/**
 * notify_watchdog_interval() - the watchdog period systemd expects of
 * this process ($WATCHDOG_USEC, WatchdogSec= of the unit)
 * @usec: set to the period in microseconds when there is one
 *
 * Return: true when $WATCHDOG_USEC is a positive number and
 * $WATCHDOG_PID is unset or this process's pid; false otherwise
 * (*@usec untouched).
 */
bool notify_watchdog_interval(uint64_t *usec);

#endif
