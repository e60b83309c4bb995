/*
 * test_hash.c - lib/util/hash.c: step checksums are "sha256:" and the hex
 * SHA-256 that sha256sum prints, with CRLF read as LF (SPEC section 1).
 */
#include "helpers.h"
#include "util/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The hex digest sha256sum prints for the bytes printf(1) makes of fmt. */
static void sha256sum(const char *printf_fmt, char out[65])
{
	char cmd[512];
	FILE *p;
	snprintf(cmd, sizeof cmd, "printf '%s' | sha256sum", printf_fmt);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 65, p));
	assert_int_equal(pclose(p), 0);
	assert_int_equal(strlen(out), 64);
}

static void checksum_of(const char *data, size_t len, char out[FR_CHECKSUM_LEN + 1])
{
	memset(out, 'Z', FR_CHECKSUM_LEN + 1);
	assert_int_equal(fr_checksum(data, len, out), 0);
	assert_int_equal(strlen(out), FR_CHECKSUM_LEN);
	assert_memory_equal(out, FR_CHECKSUM_PREFIX, 7);
}

static void test_known_text(void **state)
{
	static const char text[] = "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\n";
	char sum[FR_CHECKSUM_LEN + 1], want[65];
	checksum_of("abc", 3, sum);
	assert_string_equal(sum, "sha256:"
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	checksum_of(text, sizeof text - 1, sum);
	sha256sum("CREATE TABLE t (id INTEGER);\\nINSERT INTO t VALUES (1);\\n", want);
	assert_string_equal(sum + 7, want);
}

static void test_empty(void **state)
{
	char sum[FR_CHECKSUM_LEN + 1], hex[65], want[65];
	checksum_of("", 0, sum);
	assert_string_equal(sum, "sha256:" EMPTY_SHA256);
	assert_int_equal(fr_sha256_hex("", 0, hex), 0);
	assert_string_equal(hex, EMPTY_SHA256);
	sha256sum("", want);
	assert_string_equal(want, EMPTY_SHA256);
}

static void test_crlf_same_as_lf(void **state)
{
	char lf[FR_CHECKSUM_LEN + 1], crlf[FR_CHECKSUM_LEN + 1], want[65];
	checksum_of("a\nb\n", 4, lf);
	checksum_of("a\r\nb\r\n", 6, crlf);
	assert_string_equal(lf, crlf);
	sha256sum("a\\nb\\n", want);
	assert_string_equal(lf + 7, want);
	/* Mixed endings, and CRLF first and last. */
	checksum_of("\r\nx\ny\r\n", 7, crlf);
	checksum_of("\nx\ny\n", 5, lf);
	assert_string_equal(lf, crlf);
}

static void test_lone_cr_kept(void **state)
{
	char sum[FR_CHECKSUM_LEN + 1], other[FR_CHECKSUM_LEN + 1], want[65];
	checksum_of("a\rb", 3, sum);
	sha256sum("a\\rb", want);
	assert_string_equal(sum + 7, want);
	checksum_of("ab", 2, other);
	assert_string_not_equal(sum, other);
	/* A CR at the very end is kept. */
	checksum_of("a\r", 2, sum);
	sha256sum("a\\r", want);
	assert_string_equal(sum + 7, want);
	/* CR CR LF: only the CR before the LF goes. */
	checksum_of("a\r\r\n", 4, sum);
	sha256sum("a\\r\\n", want);
	assert_string_equal(sum + 7, want);
	/* LF CR is not a CRLF. */
	checksum_of("a\n\rb", 4, sum);
	sha256sum("a\\n\\rb", want);
	assert_string_equal(sum + 7, want);
}

static void test_large_input(void **state)
{
	size_t n = 200000, i;
	char *lf = malloc(n), *crlf = malloc(n + n / 10);
	size_t j = 0;
	char a[FR_CHECKSUM_LEN + 1], b[FR_CHECKSUM_LEN + 1];
	assert_non_null(lf);
	assert_non_null(crlf);
	for (i = 0; i < n; i++) {
		lf[i] = (i % 10 == 9) ? '\n' : (char)('a' + i % 7);
		if (lf[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = lf[i];
	}
	checksum_of(lf, n, a);
	checksum_of(crlf, j, b);
	assert_string_equal(a, b);
	free(lf);
	free(crlf);
}

static void test_sha256_hex_not_normalised(void **state)
{
	char hex[65], want[65], sum[FR_CHECKSUM_LEN + 1];
	assert_int_equal(fr_sha256_hex("a\r\n", 3, hex), 0);
	sha256sum("a\\r\\n", want);
	assert_string_equal(hex, want);
	checksum_of("a\r\n", 3, sum);
	assert_string_not_equal(sum + 7, hex);
}

static void test_checksum_file(void **state)
{
	char *dir = t_tmpdir(), *p = t_path(dir, "001.sql"), *q = t_path(dir, "none");
	char a[FR_CHECKSUM_LEN + 1], b[FR_CHECKSUM_LEN + 1];
	t_write(dir, "001.sql", "SELECT 1;\r\nSELECT 2;\r\n");
	assert_int_equal(fr_checksum_file(p, a), 0);
	checksum_of("SELECT 1;\nSELECT 2;\n", 20, b);
	assert_string_equal(a, b);
	errno = 0;
	assert_int_equal(fr_checksum_file(q, a), -1);
	assert_int_equal(errno, ENOENT);
	t_rmrf(dir);
	free(dir);
	free(p);
	free(q);
}

/* The streaming digest gives what the one-shot one gives, chunk by chunk, and starts over. */
static void test_streaming(void **state)
{
	static const char text[] = "ferry streams backups through SHA-256\n";
	char whole[65], streamed[65], again[65];
	fr_sha256 *h;
	size_t i;
	(void)state;
	assert_int_equal(fr_crypto_load(), 0);
	assert_string_equal(fr_crypto_error(), "");
	assert_int_equal(fr_sha256_hex(text, sizeof text - 1, whole), 0);
	h = fr_sha256_new();
	assert_non_null(h);
	for (i = 0; i < sizeof text - 1; i += 5)
		assert_int_equal(fr_sha256_update(h, text + i,
		                                  i + 5 <= sizeof text - 1 ? 5 : sizeof text - 1 - i), 0);
	assert_int_equal(fr_sha256_hex_reset(h, streamed), 0);
	assert_string_equal(streamed, whole);
	/* After the reset it is a fresh digest: the empty input's. */
	assert_int_equal(fr_sha256_hex_reset(h, again), 0);
	assert_string_equal(again,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	fr_sha256_free(h);
	fr_sha256_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_known_text),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_crlf_same_as_lf),
		cmocka_unit_test(test_lone_cr_kept),
		cmocka_unit_test(test_large_input),
		cmocka_unit_test(test_sha256_hex_not_normalised),
		cmocka_unit_test(test_checksum_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
