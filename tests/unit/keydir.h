/*
 * keydir.h — what the key tests share: a fresh temporary directory per
 * test (cmocka setup and teardown), and paths inside it.  Include after
 * cmocka.h.
 */
#ifndef NFREDACT_TEST_KEYDIR_H
#define NFREDACT_TEST_KEYDIR_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "key.h"

static char tmpdir[PATH_MAX / 2];

static inline int setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/nfredact-keytest.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return key_init();
}

static inline int teardown_dir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

#endif
