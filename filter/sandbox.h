/*
 * sandbox.h — what nfredactd's processes may still do once they run:
 * a seccomp allowlist for the unprivileged daemon, and for the privileged
 * parent a narrowed capability set, no_new_privs and a seccomp denylist.
 *
 * NFREDACT_SECCOMP=log in the environment makes the daemon's filter log a
 * system call it does not allow (to the audit log) and let it run, where
 * it would otherwise kill the process: for finding what a change needs.
 */
#ifndef NFREDACT_SANDBOX_H
#define NFREDACT_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/capability.h>

#define SANDBOX_ENV "NFREDACT_SECCOMP"

/**
 * sandbox_daemon_apply() - confine the daemon (the process that reads the
 * queues) to the system calls it needs, for all its threads
 *
 * Call after privdrop_apply(), when every file and socket the daemon
 * keeps is open; best before the first thread starts (the filter is
 * synchronised to threads that exist already).  Allowed: netlink and
 * control socket I/O on descriptors already open (recvmmsg, recvmsg,
 * recvfrom, sendto, sendmsg, accept4, a few SOL_SOCKET options), poll,
 * read and write, memory management including PROT_EXEC (PCRE2's JIT),
 * threads (clone with CLONE_THREAD only), futexes, signals to itself,
 * clocks and sleeps, getrandom, and openat() for reading only (the
 * policy and key files at a reload).  openat() for writing and unlink()
 * fail with EACCES, ioctl() with ENOTTY, clone3() and openat2() with
 * ENOSYS (the C library then uses clone() and openat()); any other call,
 * socket(), execve(), ptrace() and fork() among them, kills the whole
 * process (SIGSYS), or is only logged with NFREDACT_SECCOMP=log.  A
 * sanitizer build (make SANITIZE=1) also allows what the ASan runtime
 * and its leak checker need, fork() and ptrace() among them.
 *
 * Return: 0, -EINVAL for an unknown NFREDACT_SECCOMP value, -ENOMEM, or
 * the -errno of loading the filter (-EINVAL, -EACCES when the kernel
 * lacks seccomp or a needed action).
 */
int sandbox_daemon_apply(void);

/**
 * sandbox_parent_narrow() - narrow the privileged parent (uid 0) once the
 * daemon is forked: capabilities, bounding set included, cut to
 * SANDBOX_PARENT_CAPS; no inheritable or ambient ones; no_new_privs; and
 * a seccomp denylist that kills the process on calls it never makes
 * (ptrace, process_vm_*, bpf, perf_event_open, io_uring, userfaultfd,
 * keyctl, mount and namespace calls, module and kexec loading,
 * open_by_handle_at, setuid and friends, clock and host name changes).
 * socket() is refused with EAFNOSUPPORT for families other than
 * AF_NETLINK and AF_UNIX.  fork() and execve() stay allowed, so the
 * parent may still run ip(8); what it runs inherits all of this.
 *
 * Needs CAP_SETPCAP (to reduce the bounding set); call it before the
 * parent starts any thread.
 * Return: 0 or -errno (-EPERM without CAP_SETPCAP, -ENOMEM, or the
 * -errno of loading the filter).
 */
int sandbox_parent_narrow(void);

/*
 * What the parent keeps: nf_tables netlink (CAP_NET_ADMIN); signals to
 * the daemon, which runs as another user (CAP_KILL); and opening a key
 * file that the daemon's user owns, mode 0600, for a reload
 * (CAP_DAC_READ_SEARCH: reading only, no writing, no chown).  Rewriting
 * a ratchet state (keyclock.c) needs no capability: the parent is uid 0
 * and writes only in a directory root owns; one owned by the daemon's
 * user and closed to others is refused at start, as it cannot be
 * written.
 */
#define SANDBOX_PARENT_CAPS	(UINT64_C(1) << CAP_NET_ADMIN | \
				 UINT64_C(1) << CAP_KILL | \
				 UINT64_C(1) << CAP_DAC_READ_SEARCH)

/**
 * sandbox_logging() - NFREDACT_SECCOMP=log is set: the daemon's filter
 * logs instead of killing
 */
bool sandbox_logging(void);

#endif
