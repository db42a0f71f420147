/*
 * control.h — the daemon's control socket: a UNIX stream socket, mode
 * 0600.  A client sends one request line and reads the answer until the
 * daemon closes the connection.
 *
 *   "stats\n"             counters as text, one "name value" a line
 *   "stats prometheus\n"  the Prometheus text exposition format
 */
#ifndef NFREDACT_CONTROL_H
#define NFREDACT_CONTROL_H

#define CONTROL_PATH_DEFAULT "/run/nfredact/control.sock"
#define CONTROL_REQ_STATS "stats\n"
#define CONTROL_REQ_PROMETHEUS "stats prometheus\n"

#endif
