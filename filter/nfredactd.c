/*
 * nfredactd.c — the live filter: load the policy, put the queue rules in
 * place, bind the queues, split into a privileged parent and the
 * unprivileged daemon, serve each queue in its own thread, reload on
 * SIGHUP, stop cleanly on SIGTERM/SIGINT.
 *
 * The queue rules are a property of the host: with --install-rules they
 * are installed (idempotently) before the queues are bound, the parent
 * owns and watches them while it lives (parent.c), and nothing here ever
 * removes them.  When nfredactd is not running, covered traffic waits in
 * or is dropped by the kernel's queue; it never passes untranslated.
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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "engine.h"
#include "flow.h"
#include "keyclock.h"
#include "log.h"
#include "nfqstat.h"
#include "policy.h"
#include "privdrop.h"
#include "queue.h"
#include "nftrules.h"
#include "keeper.h"
#include "parent.h"
#include "privsep.h"
#include "rules.h"
#include "sandbox.h"

#define FLOW_TABLE_SIZE	(1u << 20)	/* default --max-flows */
/* inbound and outbound queues: twice the 128 inbound ones allowed before */
#define MAX_QUEUES	256
/* a worker silent this long stops the keep-alives to systemd */
#define WORKER_STALL_MS	5000

struct options {
	const char *policy;	/* NULL: built-in default */
	bool install_rules;
	const char *dev;
	const char *control;
	const char *user;	/* NULL: PRIVDROP_USER */
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
		log_info("no -c: built-in default policy (inbound queue 0, "
			 "outbound queue 1)");
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

/*
 * A ratchet state is brought up to the current epoch before anything is
 * served (hashing forward after downtime), and the loaded keyring
 * follows, wiping the key it was read with.  A state that is corrupt,
 * ahead of the clock, or of the wrong mode or owner stops the start.
 */
static void start_keyclock(struct keyclock *kc, const char *policy,
			   const struct ruleset *rs, uid_t uid)
{
	const char *why = NULL;
	char *key_path = NULL;
	int err;

	if (policy && policy_key_path(policy, &key_path) < 0)
		fatalx("%s: cannot read the policy's key statement", policy);
	err = keyclock_start(kc, key_path, uid, policy_key_grace(rs), &why);
	if (err)
		fatalx("key %s: %s", key_path, why ? why : strerror(-err));
	free(key_path);
	policy_key_tick(rs, (uint64_t)time(NULL));
	if (policy && !kc->active && !policy_key_ratchet(rs) &&
	    policy_key_path(policy, &key_path) == 0 && key_path) {
		log_info("key %s is a static master key: whoever holds it can "
			 "recompute every epoch's pseudonyms and tokens "
			 "(nfredact keygen --ratchet makes one that cannot)",
			 key_path);
		free(key_path);
	}
}

/* A queue to serve and the direction of its packets. */
struct queue_want {
	uint16_t num;
	enum engine_dir dir;
};

/*
 * The queue numbers of every service, each once, ascending: the inbound
 * ones (the `queue` statements), then the outbound ones, which lie above
 * them (policy_service_queues_out()).  A number in both would leave the
 * direction of its packets unknown: never for a checked policy, and
 * refused.
 */
static unsigned queue_set(const struct ruleset *rs, struct queue_want *out)
{
	static uint8_t seen[2][65536 / 8];
	unsigned n = 0;

	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < policy_service_count(rs); i++) {
		uint16_t lo, hi, olo, ohi;

		policy_service_queues(rs, i, &lo, &hi);
		if (policy_service_queues_out(rs, i, &olo, &ohi) < 0)
			fatalx("service %s: no room for its outbound queues",
			       policy_service_name(rs, i));
		for (uint32_t q = lo; q <= hi; q++)
			seen[0][q / 8] |= (uint8_t)(1u << (q % 8));
		for (uint32_t q = olo; q <= ohi; q++)
			seen[1][q / 8] |= (uint8_t)(1u << (q % 8));
	}
	for (unsigned k = 0; k < 2; k++) {
		for (uint32_t q = 0; q < 65536; q++) {
			if (!(seen[k][q / 8] & (1u << (q % 8))))
				continue;
			if (seen[!k][q / 8] & (1u << (q % 8)))
				fatalx("queue %u would be inbound and outbound", q);
			if (n == MAX_QUEUES)
				fatalx("the policy uses more than %d queues, "
				       "inbound and outbound", MAX_QUEUES);
			out[n].num = (uint16_t)q;
			out[n++].dir = k ? ENGINE_DIR_OUT : ENGINE_DIR_IN;
		}
	}
	return n;
}

/* "0..1" for the numbers of direction @dir in @qs, "none" without any. */
static void queue_span(const struct queue_want *qs, unsigned n,
		       enum engine_dir dir, char *buf, size_t size)
{
	int lo = -1, hi = -1;

	for (unsigned i = 0; i < n; i++) {
		if (qs[i].dir != dir)
			continue;
		if (lo < 0)
			lo = qs[i].num;
		hi = qs[i].num;
	}
	if (lo < 0)
		snprintf(buf, size, "none");
	else if (lo == hi)
		snprintf(buf, size, "%d", lo);
	else
		snprintf(buf, size, "%d..%d", lo, hi);
}

/*
 * The daemon's main thread: signals, and a keep-alive to the parent each
 * second while every worker goes round its loop (the systemd watchdog).
 */
static int run(struct daemon *d, int sfd, int broker, const char *policy)
{
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };

	while (!atomic_load(&d->stop)) {
		struct signalfd_siginfo si;
		int r = poll(&pfd, 1, 1000);

		if (atomic_load(&d->failed))
			break;
		if (daemon_workers_alive(d, WORKER_STALL_MS))
			(void)privsep_tell(broker, 'W');
		/* a ratchet's old key goes at the boundary, traffic or not */
		daemon_lock(d);
		policy_key_tick(d->rs, (uint64_t)time(NULL));
		daemon_unlock(d);
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

/*
 * Put the queue rules in place before anything is bound: from here on
 * covered traffic is queued, and waits (or is dropped by the kernel)
 * until a worker reads it.  Exits when a family in use cannot be
 * covered.  When another process owns the tables (`nfredact ruleset
 * --apply --hold`) and they hold what this policy needs, they are left
 * to it: @k->manage is then false.
 */
static void install_rules(const struct ruleset *rs, const struct rules_opts *ro,
			  struct keeper *k)
{
	int err;

	k->manage = true;
	k->nft = nftr_open();
	if (!k->nft)
		fatal("nf_tables netlink socket");
	err = rules_install(k->nft, &k->plan, true, &k->v6_skipped);
	if (err == -EPERM) {
		const char *why = NULL;

		for (int family = 4; family <= 6 && !why; family += 2) {
			unsigned fi = family == 4 ? 0 : 1;

			if (k->plan.n[fi] &&
			    nftr_check(k->nft, &k->plan, family, false, &why) != 1 &&
			    !why)
				why = "they cannot be checked";
		}
		if (why)
			fatalx("installing the queue rules: table nfredact is "
			       "owned by another process, and %s (is nfredactd "
			       "running already? does the rules keeper need a "
			       "reload, systemctl reload nfredact-rules, or "
			       "after an upgrade a restart?)", why);
		k->manage = false;
		log_info("queue rules in place, owned by another process "
			 "(nfredact ruleset --hold): checked, not managed here");
	} else if (err) {
		errno = -err;
		fatal("installing the queue rules (IPv4 and, since this host "
		      "has IPv6 addresses, IPv6); refusing to start with a "
		      "family uncovered");
	}
	/* the rules keeper may have started before any route existed */
	err = rules_apply_routes(rs, ro);
	if (err) {
		errno = -err;
		fatal("routes for the pseudonym ranges%s",
		      err == -ENODEV ? " (no default route: give --dev IFACE)"
				     : "");
	}
	if (!k->manage)
		return;
	if (!nftr_persist_supported(k->nft))
		log_warnx("this kernel cannot keep an owned table after its "
			  "owner exits (Linux 6.9+ can): the queue rules are "
			  "unowned, watched and restored when they vanish");
	log_info("queue rules in place: table ip nfredact%s, owned by this "
		 "process", k->v6_skipped ? " (no IPv6 on this host)"
					 : " and table ip6 nfredact");
}

int main(int argc, char **argv)
{
	static int broker_fd = -1;
	static struct keyclock keyclock;
	struct queue *queues[MAX_QUEUES] = { 0 };
	struct queue_want qs[MAX_QUEUES];
	struct rules_opts ro = { 0 };
	struct keeper keeper = { .mon = -1 };
	struct privdrop_user pu;
	struct privsep_shared *shared;
	struct options o;
	struct daemon d;
	struct ruleset *rs;
	struct flow_table *ft;
	sigset_t set;
	unsigned nq;
	int sfd, cfd, nfq_fd, err, rc, sp[2];
	pid_t pid, parent_pid;

	parse_args(argc, argv, &o);
	log_init("nfredactd", o.verbose);
	signal(SIGPIPE, SIG_IGN);

	err = privdrop_lookup(o.user, &pu);
	if (err) {
		errno = -err;
		fatal("user %s (create it with 'make install', or choose "
		      "one with --user)", o.user ? o.user : PRIVDROP_USER);
	}
	/* the daemon's user may own the key file */
	if (!pu.keep_root)
		key_set_allowed_uid(pu.uid);
	rs = load_policy(o.policy);
	daemon_warn_policy(rs);
	start_keyclock(&keyclock, o.policy, rs, pu.keep_root ? 0 : pu.uid);
	nq = queue_set(rs, qs);
	if (nq == 0)
		fatalx("the policy uses no queue");
	ro.dev = o.dev;
	ro.forward = o.forward;
	err = rules_plan_build(rs, &ro, &keeper.plan);
	if (err) {
		errno = -err;
		fatal("queue rules");
	}
	shared = privsep_shared_new();
	if (!shared)
		fatal("shared page");
	if (o.install_rules) {
		install_rules(rs, &ro, &keeper);
	} else {
		/* someone else installs them: check and report only */
		keeper.nft = nftr_open();
		if (!keeper.nft)
			log_warn("nf_tables netlink socket: the queue rules "
				 "cannot be checked");
		keeper.v6_skipped = rules_ipv6_in_use() == 0;
	}
	atomic_store(&shared->rules_managed, keeper.manage ? 1u : 0u);
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

	cfd = control_open(o.control);
	if (cfd < 0) {
		errno = -cfd;
		fatal("control socket %s", o.control);
	}
	for (unsigned i = 0; i < nq; i++) {
		err = queue_open(&queues[i], qs[i].num, o.queue_maxlen, 0);
		if (err) {
			errno = -err;
			if (err == -EBUSY)
				log_warnx("%s queue %u is bound by another process",
					  qs[i].dir == ENGINE_DIR_IN ? "inbound" :
					  "outbound", qs[i].num);
			else
				log_warn("queue %u", qs[i].num);
			for (unsigned k = 0; k < i; k++)
				queue_close(queues[k]);
			(void)control_unlink(o.control);
			exit(1);
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		fatal("socketpair");

	parent_pid = getpid();
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		struct parent p = {
			.child = pid, .sfd = sfd, .broker = sp[0],
			.keeper = keeper, .policy = o.policy,
			.control = o.control, .uid = pu.keep_root ? 0 : pu.uid,
			.shared = shared, .keys = &keyclock,
		};

		/* The daemon alone holds the queues, the socket, the key. */
		close(sp[1]);
		for (unsigned i = 0; i < nq; i++)
			queue_forget(queues[i]);
		close(cfd);
		flow_table_free(ft);
		policy_free(rs);
		err = sandbox_parent_narrow();
		if (err) {
			/* the daemon dies with us (PR_SET_PDEATHSIG) */
			errno = -err;
			fatal("narrowing the privileged process");
		}
		parent_run(&p);
	}

	/* The daemon: the parent keeps the rules; it never touches them. */
	close(sp[0]);
	broker_fd = sp[1];
	keyclock_free(&keyclock);	/* the parent's; the daemon never writes */
	nftr_close(keeper.nft);
	rules_plan_free(&keeper.plan);
	log_setprefix("[daemon]");

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
	/* set after the drop, which clears it; the parent may be gone */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent_pid)
		fatalx("the privileged process is gone");
	/* reloads get key files from the parent from now on */
	keyring_set_opener(privsep_key_open, &broker_fd);
	err = sandbox_daemon_apply();
	if (err) {
		errno = -err;
		fatal("seccomp filter");
	}

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &d.started);
	d.rs = rs;
	d.ft = ft;
	d.control_fd = cfd;
	d.nfq_fd = nfq_fd;
	d.shared = shared;
	d.n_workers = nq;
	d.workers = calloc(nq, sizeof(*d.workers));
	if (!d.workers)
		fatalx("out of memory");
	for (unsigned i = 0; i < nq; i++) {
		d.workers[i].d = &d;
		d.workers[i].q = queues[i];
		d.workers[i].dir = qs[i].dir;
		d.workers[i].hooks = worker_hooks(qs[i].dir, o.forward);
		d.workers[i].ew = engine_worker_new(rs, o.max_flows);
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
	if (!atomic_load(&d.failed)) {
		char in[16], out[16];

		queue_span(qs, nq, ENGINE_DIR_IN, in, sizeof(in));
		queue_span(qs, nq, ENGINE_DIR_OUT, out, sizeof(out));
		log_info("serving %u queues (inbound %s, outbound %s), "
			 "%u service%s, control %s%s", nq, in, out,
			 policy_service_count(rs),
			 policy_service_count(rs) == 1 ? "" : "s", o.control,
			 pu.keep_root ? ", running as root" : "");
		(void)privsep_tell(broker_fd, 'R');
	}

	rc = run(&d, sfd, broker_fd, o.policy);

	for (unsigned i = 0; i < nq; i++)
		worker_join(&d.workers[i]);
	control_join(&d);
	for (unsigned i = 0; i < nq; i++) {
		queue_close(d.workers[i].q);
		engine_worker_free(d.workers[i].ew);
	}
	close(cfd);
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
