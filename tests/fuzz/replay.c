/*
 * replay.c — run a fuzz target's LLVMFuzzerTestOneInput() once on each
 * file named on the command line, without libFuzzer, so that `make
 * check` replays the saved reproducers and the seed corpora with the
 * project's own compiler and flags (and with ASan and UBSan under
 * SANITIZE=1).  Arguments that start with '-' (libFuzzer's options) are
 * ignored.  A target that finds a broken invariant aborts.
 *
 * Exit status: 0, or 1 when a file cannot be read.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole of @path in a buffer of its exact size (ASan sees past it). */
static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			nb = realloc(buf, cap);
			if (!nb)
				goto fail;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	nb = malloc(n ? n : 1);
	if (!nb) {
		free(buf);
		return NULL;
	}
	memcpy(nb, buf, n);
	free(buf);
	*size = n;
	return nb;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	int status = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		uint8_t *data;
		size_t size;

		if (argv[i][0] == '-')
			continue;
		data = slurp(argv[i], &size);
		if (!data) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
	}
	return status;
}
