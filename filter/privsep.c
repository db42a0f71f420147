/*
 * privsep.c — the messages between nfredactd's privileged parent and its
 * unprivileged daemon (privsep.h), and the page they share.
 *
 * A key file descriptor crosses the socket with SCM_RIGHTS, so the key
 * file may stay root's with mode 0600 and the daemon can still reload.
 * The parent answers only for the key that the policy file names when
 * it is asked: a daemon that has been taken over cannot use it to open
 * other files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy.h"
#include "privsep.h"

/* The parent's answer to "K": errno (0: a descriptor is attached). */
struct key_reply {
	int32_t err;
	char why[PRIVSEP_WHY_MAX];
};

struct privsep_shared *privsep_shared_new(void)
{
	void *p = mmap(NULL, sizeof(struct privsep_shared),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(struct privsep_shared));
	return p;
}

int privsep_tell(int fd, char what)
{
	ssize_t w;

	do
		w = send(fd, &what, 1, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == 1 ? 0 : -errno;
}

int privsep_key_open(const char *path, const char **why, void *ctx)
{
	static char reason[PRIVSEP_WHY_MAX];
	int fd = *(const int *)ctx, got = -1;
	char req[PRIVSEP_MSG_MAX];
	struct key_reply rep;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	size_t len = strlen(path);
	ssize_t r;

	if (len + 1 > sizeof(req)) {
		*why = "key file name too long";
		return -ENAMETOOLONG;
	}
	req[0] = 'K';
	memcpy(req + 1, path, len);
	do
		r = send(fd, req, len + 1, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)(len + 1)) {
		*why = "the privileged process does not answer";
		return -EIO;
	}
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(rep)) {
		*why = "the privileged process does not answer";
		return -EIO;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	if (rep.err == 0 && got >= 0)
		return got;
	if (got >= 0)
		close(got);
	rep.why[sizeof(rep.why) - 1] = '\0';
	snprintf(reason, sizeof(reason), "%s",
		 rep.why[0] ? rep.why : "refused by the privileged process");
	*why = reason;
	return rep.err < 0 ? rep.err : -EIO;
}

static int send_reply(int fd, int err, const char *why, int keyfd)
{
	struct key_reply rep = { .err = err };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t w;

	if (why)
		snprintf(rep.why, sizeof(rep.why), "%s", why);
	if (keyfd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &keyfd, sizeof(int));
	}
	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)sizeof(rep) ? 0 : -errno;
}

int privsep_serve_key(int fd, const char *policy, const char *path, uid_t uid,
		      int (*prepare)(const char *path, const char **why,
				     void *ctx),
		      void *ctx)
{
	const char *why = NULL;
	char *named = NULL;
	int keyfd, rc;

	rc = policy ? policy_key_path(policy, &named) : -ENOENT;
	if (rc || !named || strcmp(named, path)) {
		free(named);
		return send_reply(fd, -EPERM, "not the key file the policy names",
				  -1);
	}
	free(named);
	if (prepare) {
		rc = prepare(path, &why, ctx);
		if (rc)
			return send_reply(fd, rc, why, -1);
	}
	keyfd = key_file_open(path, uid, &why);
	if (keyfd < 0)
		return send_reply(fd, keyfd, why, -1);
	rc = send_reply(fd, 0, NULL, keyfd);
	close(keyfd);
	return rc;
}
