/*
 * nfredactd.c — the live filter: load the policy, bind its queues, drop
 * privileges, serve each queue in its own thread, reload on SIGHUP, stop
 * cleanly on SIGTERM/SIGINT.
 *
 * With --install-rules the process forks after binding: the privileged
 * parent only waits for the daemon, forwards SIGTERM/SIGINT/SIGHUP, and
 * removes the rules when the daemon exits cleanly.  After a crash (or any
 * non-zero exit) the rules stay: with no reader on the queues covered
 * traffic stops instead of passing unredacted (fail closed).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "engine.h"
#include "flow.h"
#include "log.h"
#include "nfqstat.h"
#include "policy.h"
#include "privdrop.h"
#include "queue.h"
#include "rules.h"

#define FLOW_TABLE_SIZE	(1u << 20)	/* default --max-flows */
#define MAX_QUEUES	128

struct options {
	const char *policy;	/* NULL: built-in default */
	bool install_rules;
	const char *dev;
	const char *control;
	const char *user;	/* NULL: nobody */
	uint32_t queue_maxlen;
	uint32_t max_flows;
	bool forward;		/* --forward: relay to a backend */
	int verbose;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: nfredactd [-c POLICY] [--install-rules] [--dev IFACE] [--forward]\n"
		"                 [--control PATH] [--user USER] "
		"[--queue-maxlen N] [--max-flows N] [-v]\n");
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "install-rules", no_argument, NULL, 'I' },
		{ "dev", required_argument, NULL, 'd' },
		{ "forward", no_argument, NULL, 'F' },
		{ "control", required_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'u' },
		{ "queue-maxlen", required_argument, NULL, 'q' },
		{ "max-flows", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->control = CONTROL_PATH_DEFAULT;
	o->queue_maxlen = QUEUE_MAXLEN_DEFAULT;
	o->max_flows = FLOW_TABLE_SIZE;
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->policy = optarg;
			break;
		case 'I':
			o->install_rules = true;
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'F':
			o->forward = true;
			break;
		case 'C':
			o->control = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'q':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 ||
			    v > UINT32_MAX / 2) {
				fprintf(stderr, "nfredactd: bad --queue-maxlen\n");
				exit(2);
			}
			o->queue_maxlen = (uint32_t)v;
			break;
		case 'M':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 ||
			    v > (1ul << 26)) {
				fprintf(stderr, "nfredactd: bad --max-flows "
					"(1 to 67108864)\n");
				exit(2);
			}
			o->max_flows = (uint32_t)v;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
}

static struct ruleset *load_policy(const char *path)
{
	struct diag_list *dl = NULL;
	struct ruleset *rs;

	if (!path) {
		rs = policy_default(NULL);
		if (!rs)
			fatalx("built-in policy: out of memory");
		log_info("no -c: built-in default policy (queue 0)");
		return rs;
	}
	rs = policy_load(path, NULL, &dl);
	if (dl && (dl->errors || dl->warnings))
		diag_list_print(stderr, dl);
	diag_list_free(dl);
	if (!rs)
		fatalx("%s: policy has errors", path);
	return rs;
}

/* The queue numbers of every service, each once, ascending. */
static unsigned queue_set(const struct ruleset *rs, uint16_t *out)
{
	static uint8_t seen[65536 / 8];
	unsigned n = 0;

	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < policy_service_count(rs); i++) {
		uint16_t lo, hi;

		policy_service_queues(rs, i, &lo, &hi);
		for (uint32_t q = lo; q <= hi; q++)
			seen[q / 8] |= (uint8_t)(1u << (q % 8));
	}
	for (uint32_t q = 0; q < 65536; q++) {
		if (!(seen[q / 8] & (1u << (q % 8))))
			continue;
		if (n == MAX_QUEUES)
			fatalx("the policy uses more than %d queues", MAX_QUEUES);
		out[n++] = (uint16_t)q;
	}
	return n;
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
 * The privileged parent: forward signals to the daemon, and when it is
 * gone remove the rules only if it stopped cleanly.
 */
static void __attribute__((noreturn))
parent_run(pid_t child, int sfd, const struct ruleset *rs,
	   const struct rules_opts *ro, const char *control)
{
	char why[96];
	int status = 0, err;

	log_setprefix("[privileged]");
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof(si));
		pid_t r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			fatal("signalfd");
		if (si.ssi_signo != SIGCHLD) {
			if (kill(child, (int)si.ssi_signo) < 0 && errno != ESRCH)
				log_warn("forwarding signal %u", si.ssi_signo);
			continue;
		}
		r = waitpid(child, &status, WNOHANG);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			fatal("waitpid");
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		err = rules_remove(rs, ro);
		if (err) {
			errno = -err;
			log_warn("removing the queue rules (run nfredact "
				 "ruleset --remove)");
		} else {
			log_info("queue rules removed");
		}
		(void)unlink(control);
		exit(err ? 1 : 0);
	}
	log_warnx("nfredactd %s: the queue rules stay installed, so covered "
		  "traffic is blocked until nfredactd is restarted or "
		  "'nfredact ruleset --remove' is run",
		  describe_exit(status, why, sizeof(why)));
	(void)unlink(control);
	exit(1);
}

static int run(struct daemon *d, int sfd, const char *policy)
{
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };

	while (!atomic_load(&d->stop)) {
		struct signalfd_siginfo si;
		int r = poll(&pfd, 1, 1000);

		if (atomic_load(&d->failed))
			break;
		if (r <= 0)
			continue;
		if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGHUP:
			if (!policy)
				log_info("SIGHUP: no policy file; the built-in "
					 "policy stays");
			else
				(void)daemon_reload(d, policy);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: stopping", si.ssi_signo);
			atomic_store(&d->stop, true);
			break;
		default:
			break;
		}
	}
	atomic_store(&d->stop, true);
	return atomic_load(&d->failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct queue *queues[MAX_QUEUES] = { 0 };
	uint16_t nums[MAX_QUEUES];
	struct rules_opts ro = { 0 };
	struct privdrop_user pu;
	struct options o;
	struct daemon d;
	struct ruleset *rs;
	struct flow_table *ft;
	sigset_t set;
	unsigned nq;
	int sfd, cfd, nfq_fd, err, rc;

	parse_args(argc, argv, &o);
	log_init("nfredactd", o.verbose);
	signal(SIGPIPE, SIG_IGN);

	rs = load_policy(o.policy);
	daemon_warn_policy(rs);
	nq = queue_set(rs, nums);
	if (nq == 0)
		fatalx("the policy uses no queue");
	err = privdrop_lookup(o.user, &pu);
	if (err) {
		errno = -err;
		fatal("user %s", o.user ? o.user : "nobody");
	}
	ft = flow_table_new(o.max_flows);
	if (!ft)
		fatalx("flow table: out of memory");

	/* Every thread inherits the mask; signals arrive on the signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fatal("sigprocmask");
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		fatal("signalfd");

	cfd = control_listen(o.control, pu.keep_root ? 0 : pu.uid,
			     pu.keep_root ? 0 : pu.gid);
	if (cfd < 0) {
		errno = -cfd;
		fatal("control socket %s", o.control);
	}
	for (unsigned i = 0; i < nq; i++) {
		err = queue_open(&queues[i], nums[i], o.queue_maxlen, 0);
		if (err) {
			errno = -err;
			if (err == -EBUSY)
				log_warnx("queue %u is bound by another process",
					  nums[i]);
			else
				log_warn("queue %u", nums[i]);
			for (unsigned k = 0; k < i; k++)
				queue_close(queues[k]);
			(void)unlink(o.control);
			exit(1);
		}
	}
	if (o.install_rules) {
		pid_t pid;

		ro.dev = o.dev;
		ro.forward = o.forward;
		ro.fail_open = false;
		err = rules_apply(rs, &ro);
		if (err) {
			errno = -err;
			log_warn("installing the queue rules");
			for (unsigned i = 0; i < nq; i++)
				queue_close(queues[i]);
			(void)unlink(o.control);
			exit(1);
		}
		log_info("queue rules installed");
		pid = fork();
		if (pid < 0) {
			log_warn("fork");
			for (unsigned i = 0; i < nq; i++)
				queue_close(queues[i]);
			/* Nothing reads the queues now: removing is safe. */
			(void)rules_remove(rs, &ro);
			(void)unlink(o.control);
			exit(1);
		}
		if (pid > 0) {
			/* The daemon alone holds the queues and the socket. */
			for (unsigned i = 0; i < nq; i++)
				queue_forget(queues[i]);
			close(cfd);
			parent_run(pid, sfd, rs, &ro, o.control);
		}
	}

	/* Root's file: opened before the drop, read from the start later. */
	nfq_fd = nfqstat_open(NFQSTAT_PATH);
	if (nfq_fd < 0)
		log_debug("%s: cannot open; no kernel queue counters",
			  NFQSTAT_PATH);

	err = privdrop_apply(&pu);
	if (err) {
		errno = -err;
		fatal("dropping privileges");
	}

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &d.started);
	d.rs = rs;
	d.ft = ft;
	d.control_fd = cfd;
	d.nfq_fd = nfq_fd;
	d.n_workers = nq;
	d.workers = calloc(nq, sizeof(*d.workers));
	if (!d.workers)
		fatalx("out of memory");
	for (unsigned i = 0; i < nq; i++) {
		d.workers[i].d = &d;
		d.workers[i].q = queues[i];
		d.workers[i].ew = engine_worker_new(rs);
		if (!d.workers[i].ew)
			fatalx("engine worker: out of memory");
	}
	for (unsigned i = 0; i < nq; i++) {
		err = worker_start(&d.workers[i]);
		if (err) {
			errno = -err;
			log_warn("worker thread");
			atomic_store(&d.failed, true);
			break;
		}
	}
	if (!atomic_load(&d.failed)) {
		err = control_start(&d);
		if (err) {
			errno = -err;
			log_warn("control thread");
			atomic_store(&d.failed, true);
		}
	}
	if (!atomic_load(&d.failed))
		log_info("serving %u queue%s (%u..%u), %u service%s, "
			 "control %s%s", nq, nq == 1 ? "" : "s", nums[0],
			 nums[nq - 1], policy_service_count(rs),
			 policy_service_count(rs) == 1 ? "" : "s", o.control,
			 pu.keep_root ? ", running as root" : "");

	rc = run(&d, sfd, o.policy);

	for (unsigned i = 0; i < nq; i++)
		worker_join(&d.workers[i]);
	control_join(&d);
	for (unsigned i = 0; i < nq; i++) {
		queue_close(d.workers[i].q);
		engine_worker_free(d.workers[i].ew);
	}
	close(cfd);
	/* Fails after the privilege drop when the directory is root's. */
	(void)unlink(o.control);
	free(d.workers);
	for (unsigned i = 0; i < d.n_retired; i++)
		free(d.retired[i].name);
	free(d.retired);
	flow_table_free(d.ft);
	policy_free(d.rs);
	pthread_mutex_destroy(&d.lock);
	close(sfd);
	if (nfq_fd >= 0)
		close(nfq_fd);
	log_info("stopped");
	return rc;
}
