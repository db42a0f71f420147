/*
 * sandbox.c — seccomp filters (libseccomp) and capability narrowing for
 * nfredactd's two processes (sandbox.h).
 *
 * The daemon's filter is an allowlist found by tracing the daemon through
 * the end-to-end tests (strace -ff, everything after the privilege drop:
 * traffic on both queues, held segments, reloads good and bad, the
 * control socket, a clean stop), plus the calls the C library makes on
 * paths a test may not reach (a malloc arena for a new thread, a futex
 * under contention, abort()).  The parent's filter is a denylist: it may
 * still run ip(8), and what ip needs is not ours to enumerate.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "sandbox.h"

#ifndef SO_RCVTIMEO_OLD
#define SO_RCVTIMEO_OLD	20
#define SO_SNDTIMEO_OLD	21
#endif
#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW	66
#define SO_SNDTIMEO_NEW	67
#endif
/* O_TMPFILE's own bit: the C library's O_TMPFILE includes O_DIRECTORY. */
#define OPEN_TMPFILE_BIT	020000000

/* clone()'s flags are its first argument, except on s390. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG	1
#else
#define CLONE_FLAGS_ARG	0
#endif

/* Any of these in open flags means more than reading. */
#define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | \
			  OPEN_TMPFILE_BIT)

/* Allowed with any arguments once the daemon serves its queues. */
static const char *const daemon_allowed[] = {
	/* the queues, the control socket and the parent's socket */
	"recvmmsg", "recvmsg", "recvfrom", "sendto", "sendmsg", "accept4",
	"getsockopt", "shutdown", "poll", "ppoll",
	/* stderr, signalfd, eventfds, the policy and key files, counters */
	"read", "readv", "pread64", "write", "writev", "close", "lseek",
	"newfstatat", "fstat", "statx", "eventfd2",
	/* malloc, the flow table, libsodium's guarded pages, PCRE2's JIT */
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap",
	"mlock", "munlock",
	/* threads; clone() is below, with its flags checked */
	"futex", "set_robust_list", "rseq", "sched_yield",
	"sched_getaffinity", "getpid", "gettid",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "restart_syscall",
	/* clocks (outside the vDSO), hold deadlines, keys */
	"clock_gettime", "clock_getres", "gettimeofday", "clock_nanosleep",
	"nanosleep", "getrandom",
	"exit", "exit_group",
};

/*
 * A build with AddressSanitizer (make SANITIZE=1) has a runtime that
 * needs more: an alternate signal stack per thread, and at exit the leak
 * checker clones a tracer that ptrace()s every thread.  Debug builds
 * only; what they allow in addition is listed here.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#ifdef SANDBOX_SANITIZER
static const char *const sanitizer_allowed[] = {
	"sigaltstack", "prctl", "getppid", "clone", "ptrace", "wait4",
	"waitid", "readlink", "readlinkat", "getdents", "getdents64",
	"kill", "tgkill", "tkill",
};
#endif

/*
 * The parent never makes these: a call is an attack, so it dies.  Its
 * capabilities already make most of them fail; the filter also closes
 * what needs none (ptrace of its own children, bpf, io_uring, keyrings)
 * and open_by_handle_at, which CAP_DAC_READ_SEARCH would turn into a
 * way around every directory.
 */
static const char *const parent_denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
	"pidfd_getfd", "kcmp",
	"bpf", "perf_event_open", "userfaultfd", "fanotify_init",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"keyctl", "add_key", "request_key",
	"mount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig",
	"fsmount", "fspick", "mount_setattr", "pivot_root", "chroot",
	"unshare", "setns", "open_by_handle_at", "name_to_handle_at",
	"init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "reboot", "swapon", "swapoff", "acct",
	"quotactl", "syslog", "personality", "uselib", "vhangup",
	"iopl", "ioperm", "lookup_dcookie",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setfsuid", "setfsgid", "setgroups", "capset",
};

/*
 * seccomp_rule_add() for a system call given by name; one that this
 * architecture does not have (poll on arm64, say) is skipped.
 */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
		unsigned n, const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

#define RULE0(ctx, act, name) rule(ctx, act, name, 0, NULL)
#define RULE(ctx, act, name, ...) \
	rule(ctx, act, name, \
	     sizeof((struct scmp_arg_cmp[]){ __VA_ARGS__ }) / \
	     sizeof(struct scmp_arg_cmp), \
	     (struct scmp_arg_cmp[]){ __VA_ARGS__ })

/* open/openat: read-only opens pass; any write flag gives EACCES. */
static int open_rules(scmp_filter_ctx ctx, const char *name, unsigned arg)
{
	static const int wflags[] = {
		O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, OPEN_TMPFILE_BIT,
	};
	int err;

	err = RULE(ctx, SCMP_ACT_ALLOW, name,
		   SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, 0));
	for (size_t i = 0; !err && i < sizeof(wflags) / sizeof(wflags[0]); i++)
		err = RULE(ctx, SCMP_ACT_ERRNO(EACCES), name,
			   SCMP_CMP(arg, SCMP_CMP_MASKED_EQ,
				    (scmp_datum_t)wflags[i],
				    (scmp_datum_t)wflags[i]));
	return err;
}

static int daemon_rules(scmp_filter_ctx ctx)
{
	static const int sockopts[] = {
		SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD, SO_RCVTIMEO_NEW,
		SO_SNDTIMEO_NEW,
	};
	static const int fcntls[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL };
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(daemon_allowed) /
					sizeof(daemon_allowed[0]); i++)
		err = RULE0(ctx, SCMP_ACT_ALLOW, daemon_allowed[i]);
#ifdef SANDBOX_SANITIZER
	for (size_t i = 0; !err && i < sizeof(sanitizer_allowed) /
					sizeof(sanitizer_allowed[0]); i++)
		err = RULE0(ctx, SCMP_ACT_ALLOW, sanitizer_allowed[i]);
#endif
	/* Threads only: a fork() or vfork() is clone() without it. */
	if (!err)
		err = RULE(ctx, SCMP_ACT_ALLOW, "clone",
			   SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ,
				    CLONE_THREAD, CLONE_THREAD));
	/* Its flags are behind a pointer; the C library falls back. */
	if (!err)
		err = RULE0(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3");
	if (!err)
		err = RULE0(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2");
	if (!err)
		err = open_rules(ctx, "openat", 2);
	if (!err)
		err = open_rules(ctx, "open", 1);
	/* The socket's directory is root's: this would fail anyway. */
	if (!err)
		err = RULE0(ctx, SCMP_ACT_ERRNO(EACCES), "unlink");
	if (!err)
		err = RULE0(ctx, SCMP_ACT_ERRNO(EACCES), "unlinkat");
	/* isatty() and the like: none of our descriptors is a terminal. */
	if (!err)
		err = RULE0(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl");
	/* The control connection's timeouts. */
	for (size_t i = 0; !err && i < sizeof(sockopts) / sizeof(sockopts[0]);
	     i++)
		err = RULE(ctx, SCMP_ACT_ALLOW, "setsockopt",
			   SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
			   SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)sockopts[i]));
	for (size_t i = 0; !err && i < sizeof(fcntls) / sizeof(fcntls[0]); i++)
		err = RULE(ctx, SCMP_ACT_ALLOW, "fcntl",
			   SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntls[i]));
	/* abort() and pthread_kill() signal a thread of this process. */
	if (!err)
		err = RULE(ctx, SCMP_ACT_ALLOW, "tgkill",
			   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	return err;
}

bool sandbox_logging(void)
{
	const char *mode = getenv(SANDBOX_ENV);

	return mode && strcmp(mode, "log") == 0;
}

/* A context with the attributes both filters share. */
static scmp_filter_ctx new_filter(uint32_t def_action)
{
	scmp_filter_ctx ctx = seccomp_init(def_action);

	if (!ctx)
		return NULL;
	/* Every thread, not only the caller; a foreign ABI is an attack. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			     SCMP_ACT_KILL_PROCESS) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	/* The kernel's errno from seccomp_load(), not -ECANCELED. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* The audit log names what was refused (kernels since 4.14). */
	if (seccomp_api_get() >= 3)
		(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	return ctx;
}

int sandbox_daemon_apply(void)
{
	const char *mode = getenv(SANDBOX_ENV);
	uint32_t def_action = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int err;

	if (mode && *mode && strcmp(mode, "kill") != 0) {
		if (strcmp(mode, "log") != 0)
			return -EINVAL;
		def_action = SCMP_ACT_LOG;
	}
	ctx = new_filter(def_action);
	if (!ctx)
		return -ENOMEM;
	err = daemon_rules(ctx);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

static int parent_rules(scmp_filter_ctx ctx)
{
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(parent_denied) /
					sizeof(parent_denied[0]); i++) {
#ifdef SANDBOX_SANITIZER
		/* the leak checker's tracer, at exit */
		if (strcmp(parent_denied[i], "ptrace") == 0)
			continue;
#endif
		err = RULE0(ctx, SCMP_ACT_KILL_PROCESS, parent_denied[i]);
	}
	/*
	 * Netlink and UNIX sockets only; an error, not death, for the rest:
	 * the C library probes families (if_nametoindex() in ip(8)).  One
	 * comparison per rule, so AF_UNSPEC and 2..15 one by one.
	 */
	for (int af = 0; !err && af < AF_NETLINK; af++)
		if (af != AF_UNIX)
			err = RULE(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket",
				   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)af));
	if (!err)
		err = RULE(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket",
			   SCMP_A0(SCMP_CMP_GT, AF_NETLINK));
	return err;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

int sandbox_parent_narrow(void)
{
	scmp_filter_ctx ctx;
	int err;

	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (int cap = 0; cap <= 63; cap++) {
		if (SANDBOX_PARENT_CAPS & (UINT64_C(1) << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;	/* past the kernel's last one */
			return -errno;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	err = set_caps(SANDBOX_PARENT_CAPS);
	if (err)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	ctx = new_filter(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	err = parent_rules(ctx);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}
