/*
 * privdrop.c — setgroups/setgid/setuid with PR_SET_KEEPCAPS, then capset
 * through the raw system call (no libcap) to keep CAP_NET_ADMIN.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "privdrop.h"

int privdrop_lookup(const char *user, struct privdrop_user *u)
{
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	if (!user)
		user = PRIVDROP_USER;
	if (user[0] == '\0' || strcmp(user, "root") == 0) {
		u->keep_root = true;
		return 0;
	}
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return errno ? -errno : -ENOENT;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (u->uid == 0)
		u->keep_root = true;
	return 0;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

int privdrop_apply(const struct privdrop_user *u)
{
	const uint64_t keep = UINT64_C(1) << CAP_NET_ADMIN;
	int err;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (u->keep_root)
		return 0;
	/* While still privileged: nothing can ever gain the others back. */
	for (int cap = 0; cap <= 63; cap++) {
		if (cap == CAP_NET_ADMIN)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;	/* past the kernel's last capability */
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 ||
	    setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0)
		return -errno;
	err = set_caps(keep);
	if (err)
		return err;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: the switch must not be reversible. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return -EPERM;
	return 0;
}
