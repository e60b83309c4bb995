/*
 * fuzz.h - what every libFuzzer target of tests/fuzz/ shares: the input as
 * a NUL-terminated copy, the input cut into parts at a separator byte, a
 * private temporary folder made once per process (for the parsers that
 * read a folder), and check(), which aborts so libFuzzer keeps the input
 * as a crash when a property does not hold.
 *
 * Each target is one file, int LLVMFuzzerTestOneInput(data, size), and
 * links the static library (its internal functions); docs/fuzzing.md.
 */
#ifndef FR_FUZZ_H
#define FR_FUZZ_H

#include "util/alloc.h"
#include "util/fs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold: when not, say which and abort (a finding). */
#define check(cond) \
	((cond) ? (void)0 : (fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, \
	                             __LINE__, #cond), abort()))

/* data as a string of exactly size bytes and a NUL (fr_free it); ASan sees a read past it. */
static inline char *fz_str(const uint8_t *data, size_t size)
{
	char *s = fr_malloc(size + 1);
	check(s != NULL);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Cuts data at the first n - 1 bytes sep into n parts (the last keeps the
 * rest, NUL bytes included; missing ones are empty), each a string of its
 * own (fz_free_parts); lens (NULL: not wanted) gets their lengths.
 */
static inline void fz_split_n(const uint8_t *data, size_t size, char sep, char **parts,
                              size_t *lens, size_t n)
{
	size_t i, at = 0;
	for (i = 0; i < n; i++) {
		size_t end = at;
		while (i + 1 < n && end < size && data[end] != (uint8_t)sep)
			end++;
		if (i + 1 == n)
			end = size;
		parts[i] = fz_str(data + at, end - at);
		if (lens)
			lens[i] = end - at;
		at = end < size ? end + 1 : size;
	}
}

static inline void fz_split(const uint8_t *data, size_t size, char sep, char **parts, size_t n)
{
	fz_split_n(data, size, sep, parts, NULL, n);
}

static inline void fz_free_parts(char **parts, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		fr_free(parts[i]);
}

/* The process's own temporary folder (absolute), made on the first call, removed at exit. */
static char fz_dir_path[256];

static inline void fz_dir_remove(void)
{
	if (fz_dir_path[0])
		fr_rmtree(fz_dir_path);
}

static inline const char *fz_dir(void)
{
	if (!fz_dir_path[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(fz_dir_path, sizeof fz_dir_path, "%s/ferry-fuzz-XXXXXX",
		         t && *t == '/' ? t : "/tmp");
		check(mkdtemp(fz_dir_path) != NULL);
		atexit(fz_dir_remove);
	}
	return fz_dir_path;
}

/* Writes len bytes to dir/name (made or truncated); aborts when it cannot. */
static inline void fz_write(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	check(f != NULL);
	check(len == 0 || fwrite(p, 1, len, f) == len);
	check(fclose(f) == 0);
}

#endif
