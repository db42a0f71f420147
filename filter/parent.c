/*
 * parent.c — nfredactd's privileged parent (parent.h).
 *
 * The queue rules are a property of the host, not of this process: they
 * are installed before the daemon binds its queues and never removed
 * here.  While the parent lives it owns nfredact's tables, so nobody
 * else can change them and `nft flush ruleset` passes them by, and its
 * keeper (keeper.c) puts them back should they change anyway.  When
 * another process owns them (`nfredact ruleset --apply --hold`), the
 * parent only checks and reports.
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
#include "keeper.h"
#include "keyclock.h"
#include "log.h"
#include "notify.h"
#include "parent.h"
#include "privsep.h"


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

/* The keeper's view, for the daemon's statistics. */
static void publish(const struct parent *p)
{
	atomic_store(&p->shared->rules_present, p->keeper.present ? 1u : 0u);
	atomic_store(&p->shared->rules_restored, p->keeper.restored);
	atomic_store(&p->shared->rules_checks, p->keeper.checks);
}

/* A reload's key: a ratchet state is brought up to date before it is read. */
static int key_prepare(const char *path, const char **why, void *ctx)
{
	return keyclock_reload(ctx, path, why);
}

/* The poll timeout: the sooner of the keeper's and the next epoch's. */
static int parent_timeout_ms(struct parent *p)
{
	int k = keeper_timeout_ms(&p->keeper), r = keyclock_timeout_ms(p->keys);

	if (k < 0)
		return r;
	if (r < 0)
		return k;
	return k < r ? k : r;
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
		if (privsep_serve_key(p->broker, p->policy, msg + 1, p->uid,
				      key_prepare, p->keys) < 0)
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
	uint64_t wd_usec = 0, last_wd = 0;
	int status = 0, nfds;
	char why[96];

	log_setprefix("[privileged]");
	if (!notify_watchdog_interval(&wd_usec))
		wd_usec = 0;
	keeper_start(&p->keeper);
	publish(p);
	for (;;) {
		int r, kfd = keeper_poll_fd(&p->keeper);

		pfd[0] = (struct pollfd){ .fd = p->sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = p->broker, .events = POLLIN };
		nfds = 2;
		if (kfd >= 0)
			pfd[nfds++] = (struct pollfd){ .fd = kfd, .events = POLLIN };
		r = poll(pfd, (nfds_t)nfds, parent_timeout_ms(p));
		if (r < 0 && errno != EINTR)
			fatal("poll");
		keyclock_run(p->keys);
		keeper_run(&p->keeper, r > 0 && kfd >= 0 &&
				       (pfd[2].revents & POLLIN));
		publish(p);
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
	keeper_stop(&p->keeper);
	keyclock_free(p->keys);
	(void)control_unlink(p->control);
	if (p->keeper.manage)
		log_info("nfredactd %s; the queue rules stay installed: covered "
			 "traffic waits for the next start (nfredact ruleset "
			 "--remove takes them out)",
			 describe_exit(status, why, sizeof(why)));
	else
		log_info("nfredactd %s", describe_exit(status, why, sizeof(why)));
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
