/*
 * parent.c — nfredactd's privileged parent (parent.h).
 *
 * The queue rules are a property of the host, not of this process: they
 * are installed before the daemon binds its queues and never removed
 * here.  While the parent lives it owns nfredact's tables, so nobody
 * else can change them and `nft flush ruleset` passes them by; it still
 * checks them at every nf_tables change notification and every second,
 * and puts them back at once when they are not as they should be (a
 * kernel without persistent tables cannot let us own them, and some
 * other failure may come that we have not thought of).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "nftrules.h"
#include "notify.h"
#include "parent.h"
#include "privsep.h"

#define PARENT_CHECK_MS		1000
#define PARENT_LOG_EVERY_S	10	/* repeated failures, at most */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *describe_exit(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
	return buf;
}

/*
 * Check each family's table; with p->manage put back what is not in
 * place.  @event says what made us look, for the log line.
 */
static void rules_watch(struct parent *p, const char *event)
{
	static uint64_t last_fail_log;
	bool present = true;

	if (!p->nft)
		return;
	atomic_fetch_add(&p->shared->rules_checks, 1);
	for (int family = 4; family <= 6; family += 2) {
		unsigned fi = family == 4 ? 0 : 1;
		const char *why;
		uint64_t t0;
		int rc;

		if (!p->plan.n[fi] || (family == 6 && p->v6_skipped))
			continue;
		rc = nftr_check(p->nft, &p->plan, family, p->manage, &why);
		if (rc == 1)
			continue;
		if (rc < 0)
			why = "it cannot be checked";
		if (!p->manage) {
			present = false;
			continue;
		}
		t0 = now_ms();
		rc = nftr_install(p->nft, &p->plan, family, true);
		if (rc) {
			present = false;
			if (now_ms() - last_fail_log >= PARENT_LOG_EVERY_S * 1000) {
				errno = -rc;
				log_warn("queue rules (table ip%s nfredact): %s, "
					 "and restoring them failed",
					 family == 4 ? "" : "6", why);
				last_fail_log = now_ms();
			}
			continue;
		}
		atomic_fetch_add(&p->shared->rules_restored, 1);
		log_warnx("queue rules (table ip%s nfredact): %s (seen %s); "
			  "restored in %llu ms", family == 4 ? "" : "6", why,
			  event, (unsigned long long)(now_ms() - t0));
	}
	atomic_store(&p->shared->rules_present, present ? 1u : 0u);
}

/* One message from the daemon. */
static void broker_read(struct parent *p, uint64_t *last_wd, uint64_t wd_usec)
{
	char msg[PRIVSEP_MSG_MAX + 1];
	ssize_t n;

	n = recv(p->broker, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return;
	msg[n] = '\0';
	switch (msg[0]) {
	case 'K':
		if (privsep_serve_key(p->broker, p->policy, msg + 1, p->uid) < 0)
			log_warn("answering the daemon's key request");
		break;
	case 'R':
		notify_ready();
		break;
	case 'W':
		/* the daemon says every worker is alive: pass it on, as
		 * often as systemd needs it */
		if (wd_usec && now_ms() - *last_wd >= wd_usec / 2000) {
			notify_watchdog();
			*last_wd = now_ms();
		}
		break;
	default:
		break;
	}
}

void parent_run(struct parent *p)
{
	struct pollfd pfd[3];
	uint64_t wd_usec = 0, last_wd = 0, next_check;
	int mon = -1, status = 0, nfds;
	char why[96];

	log_setprefix("[privileged]");
	if (!notify_watchdog_interval(&wd_usec))
		wd_usec = 0;
	if (p->nft) {
		mon = nftr_monitor_open();
		if (mon < 0) {
			errno = -mon;
			log_warn("nf_tables notifications; checking the rules "
				 "every %d ms only", PARENT_CHECK_MS);
		}
	}
	rules_watch(p, "at start");
	next_check = now_ms() + PARENT_CHECK_MS;
	for (;;) {
		uint64_t now = now_ms();
		int timeout = next_check > now ? (int)(next_check - now) : 0;
		int r;

		pfd[0] = (struct pollfd){ .fd = p->sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = p->broker, .events = POLLIN };
		nfds = 2;
		if (mon >= 0)
			pfd[nfds++] = (struct pollfd){ .fd = mon, .events = POLLIN };
		r = poll(pfd, (nfds_t)nfds, timeout);
		if (r < 0 && errno != EINTR)
			fatal("poll");
		if (r > 0 && mon >= 0 && (pfd[2].revents & POLLIN) &&
		    nftr_monitor_drain(mon) > 0)
			rules_watch(p, "on an nf_tables change");
		if (now_ms() >= next_check) {
			rules_watch(p, "by the periodic check");
			next_check = now_ms() + PARENT_CHECK_MS;
		}
		if (r > 0 && (pfd[1].revents & POLLIN))
			broker_read(p, &last_wd, wd_usec);
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			pid_t w;

			if (read(p->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			if (si.ssi_signo != SIGCHLD) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					notify_stopping();
				if (kill(p->child, (int)si.ssi_signo) < 0 &&
				    errno != ESRCH)
					log_warn("forwarding signal %u",
						 si.ssi_signo);
				continue;
			}
			w = waitpid(p->child, &status, WNOHANG);
			if (w == p->child)
				break;
			if (w < 0 && errno != EINTR)
				fatal("waitpid");
		}
	}
	(void)control_unlink(p->control);
	if (p->manage)
		log_info("nfredactd %s; the queue rules stay installed: covered "
			 "traffic waits for the next start (nfredact ruleset "
			 "--remove takes them out)",
			 describe_exit(status, why, sizeof(why)));
	else
		log_info("nfredactd %s", describe_exit(status, why, sizeof(why)));
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
