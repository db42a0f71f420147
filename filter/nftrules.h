/*
 * nftrules.h — nfredact's own nf_tables tables, through netlink (libnftnl
 * builds the messages, libmnl carries them).
 *
 * `table ip nfredact` and `table ip6 nfredact` hold the queue rules of a
 * rules plan (rules.h).  They are flagged persistent, so they outlive the
 * process that made them, and — for the daemon — owned: while the owning
 * socket is open, no other process can change or delete them, and
 * `nft flush ruleset` from another process skips them.  Queueing is the
 * xt NFQUEUE target through nft_compat, which works where the kernel has
 * no nft_queue.
 */
#ifndef NFREDACT_NFTRULES_H
#define NFREDACT_NFTRULES_H

#include <stdbool.h>
#include <stdint.h>

struct rules_plan;
struct nftr;

/**
 * nftr_open() - a netlink socket to nf_tables.  Tables installed with
 * @own through it belong to it until nftr_close().
 * Return: the handle (nftr_close()) or NULL with errno set.
 */
struct nftr *nftr_open(void);

/** nftr_close() - close the socket (owned tables stay: persistent); NULL ok */
void nftr_close(struct nftr *n);

/**
 * nftr_install() - replace @family's table (4 or 6) with @p's rules in one
 * transaction: traffic never sees a moment without them.
 * @own: flag the table as owned by this socket (with persistence).  On a
 *       kernel without persistent tables (before 6.9) an owned table would
 *       vanish with the socket, so the table is then left unowned and the
 *       caller must watch it (nftr_persist_supported() tells).
 * Return: 0 or -errno; -EPERM when another process owns the table.
 */
int nftr_install(struct nftr *n, const struct rules_plan *p, int family,
		 bool own);

/**
 * nftr_delete() - delete @family's table.
 * Return: 0 (also when there was none) or -errno; -EPERM when another
 * process owns it.
 */
int nftr_delete(struct nftr *n, int family);

/**
 * nftr_check() - whether @family's table is in place as @p wants it: it
 * exists, carries @p's digest in its user data (the rules' fields and
 * the queue layout of this version), holds as many rules in each chain,
 * and with @own is owned by this socket.
 * @why: when not in place, a static reason
 * Return: 1 in place, 0 not, -errno when the kernel cannot be asked.
 */
int nftr_check(struct nftr *n, const struct rules_plan *p, int family,
	       bool own, const char **why);

/** nftr_persist_supported() - the kernel keeps owned tables (6.9+) */
bool nftr_persist_supported(const struct nftr *n);

/**
 * nftr_monitor_open() - a netlink socket subscribed to nf_tables change
 * notifications (every committed transaction, anyone's).
 * Return: a non-blocking descriptor or -errno.
 */
int nftr_monitor_open(void);

/**
 * nftr_monitor_drain() - read every pending notification from @fd.
 * Return: the number of notifications read (or 1 after an overrun, which
 * means some were lost), 0 when none, -errno on failure.
 */
int nftr_monitor_drain(int fd);

#endif
