/*
 * test_base64.c - lib/util/base64.c: the RFC 4648 test vectors both ways,
 * bytes that are not text (NUL and 0xFF included) round-trip, padding,
 * characters outside the alphabet refused.
 */
#include "helpers.h"
#include "util/base64.h"

#include <string.h>

/* RFC 4648 section 10 */
static const char *const vectors[][2] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_encode_vectors(void **state)
{
	size_t i;
	for (i = 0; i < sizeof vectors / sizeof *vectors; i++) {
		fr_buf b = FR_BUF_INIT;
		assert_int_equal(fr_base64_encode(&b, vectors[i][0], strlen(vectors[i][0])), 0);
		assert_string_equal(b.ptr, vectors[i][1]);
		fr_buf_release(&b);
	}
}

static void test_decode_vectors(void **state)
{
	size_t i;
	for (i = 0; i < sizeof vectors / sizeof *vectors; i++) {
		fr_buf b = FR_BUF_INIT;
		assert_int_equal(fr_base64_decode(&b, vectors[i][1]), 0);
		assert_int_equal(b.len, strlen(vectors[i][0]));
		assert_memory_equal(b.ptr, vectors[i][0], b.len);
		fr_buf_release(&b);
	}
}

static void test_binary_round_trip(void **state)
{
	unsigned char bytes[256];
	fr_buf enc = FR_BUF_INIT, dec = FR_BUF_INIT;
	size_t n, i;
	for (i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)(255 - i);
	/* every length mod 3, with NUL and 0xFF bytes in it */
	for (n = 0; n <= sizeof bytes; n += 37) {
		fr_buf_reset(&enc);
		fr_buf_reset(&dec);
		assert_int_equal(fr_base64_encode(&enc, bytes, n), 0);
		assert_int_equal(enc.len, (n + 2) / 3 * 4);
		assert_int_equal(strspn(enc.ptr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                                 "0123456789+/="), enc.len);
		assert_int_equal(fr_base64_decode(&dec, enc.ptr), 0);
		assert_int_equal(dec.len, n);
		assert_memory_equal(dec.ptr, bytes, n);
	}
	fr_buf_release(&enc);
	fr_buf_release(&dec);
}

static void test_decode_appends(void **state)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_puts(&b, "x");
	assert_int_equal(fr_base64_decode(&b, "/w=="), 0);
	assert_int_equal(b.len, 2);
	assert_int_equal((unsigned char)b.ptr[1], 0xFF);
	fr_buf_release(&b);
}

static void test_decode_refuses_bad_characters(void **state)
{
	fr_buf b = FR_BUF_INIT;
	assert_int_equal(fr_base64_decode(&b, "Zm9v!"), -1);
	fr_buf_reset(&b);
	assert_int_equal(fr_base64_decode(&b, "Zm 9v"), -1);
	fr_buf_reset(&b);
	/* decoding stops at the padding: what follows it is not read */
	assert_int_equal(fr_base64_decode(&b, "Zg==!!"), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.ptr[0], 'f');
	fr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_decode_appends),
		cmocka_unit_test(test_decode_refuses_bad_characters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
