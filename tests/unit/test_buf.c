/*
 * test_buf.c - lib/util/buf.c: the invariants of buf.h (never NULL, always
 * NUL-terminated, OOM sticks, release twice, detach hands over).
 */
#include "helpers.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_init(void **state)
{
	fr_buf a = FR_BUF_INIT, b;
	fr_buf_init(&b);
	assert_non_null(a.ptr);
	assert_string_equal(a.ptr, "");
	assert_int_equal(a.len, 0);
	assert_int_equal(a.oom, 0);
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	fr_buf_release(&a);
	fr_buf_release(&b);
}

static void test_append(void **state)
{
	fr_buf b = FR_BUF_INIT;
	assert_int_equal(fr_buf_add(&b, "abc", 3), 0);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(fr_buf_add(&b, "xyz", 0), 0);
	assert_int_equal(fr_buf_add(&b, NULL, 0), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(fr_buf_puts(&b, "def"), 0);
	assert_int_equal(fr_buf_putc(&b, '!'), 0);
	assert_string_equal(b.ptr, "abcdef!");
	assert_int_equal(b.len, 7);
	/* Binary data, NUL included, is kept with its length. */
	assert_int_equal(fr_buf_add(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.ptr + 7, "a\0b", 3);
	assert_int_equal(b.ptr[10], '\0');
	fr_buf_release(&b);
}

static void test_growth(void **state)
{
	fr_buf b = FR_BUF_INIT;
	char want[10001];
	int i;
	for (i = 0; i < 10000; i++) {
		assert_int_equal(fr_buf_putc(&b, (char)('a' + i % 26)), 0);
		want[i] = (char)('a' + i % 26);
		assert_int_equal(b.ptr[b.len], '\0');
		assert_true(b.cap > b.len);
	}
	want[10000] = '\0';
	assert_int_equal(b.len, 10000);
	assert_string_equal(b.ptr, want);
	fr_buf_release(&b);
}

static void test_printf(void **state)
{
	fr_buf b = FR_BUF_INIT;
	char big[300];
	assert_int_equal(fr_buf_printf(&b, "%s=%d", "n", 42), 0);
	assert_int_equal(fr_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(fr_buf_printf(&b, ", '%s'", "q"), 0);
	assert_string_equal(b.ptr, "n=42, 'q'");
	assert_int_equal(b.len, strlen("n=42, 'q'"));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(fr_buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 9 + 2 + 299);
	assert_int_equal(b.ptr[b.len - 1], ']');
	assert_int_equal(b.ptr[b.len], '\0');
	assert_int_equal(fr_buf_setf(&b, "%05d", 7), 0);
	assert_string_equal(b.ptr, "00007");
	assert_int_equal(b.len, 5);
	fr_buf_release(&b);
}

static void test_reset_truncate(void **state)
{
	fr_buf b = FR_BUF_INIT;
	size_t cap;
	fr_buf_puts(&b, "hello world");
	cap = b.cap;
	fr_buf_truncate(&b, 5);
	assert_string_equal(b.ptr, "hello");
	assert_int_equal(b.len, 5);
	fr_buf_truncate(&b, 50); /* longer: no change */
	assert_string_equal(b.ptr, "hello");
	assert_int_equal(b.len, 5);
	fr_buf_reset(&b);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap); /* memory kept */
	fr_buf_release(&b);
	/* On an empty buffer these do nothing. */
	fr_buf_reset(&b);
	fr_buf_truncate(&b, 0);
	assert_string_equal(b.ptr, "");
}

static void test_detach(void **state)
{
	fr_buf b = FR_BUF_INIT;
	char *s;
	fr_buf_puts(&b, "owned");
	s = fr_buf_detach(&b);
	assert_string_equal(s, "owned");
	/* The buffer is empty and usable again. */
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	fr_free(s);
	fr_buf_puts(&b, "again");
	assert_string_equal(b.ptr, "again");
	fr_buf_release(&b);

	/* An empty buffer detaches to an allocated "". */
	s = fr_buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_true(s != fr_buf_empty);
	fr_free(s);
}

static void test_release_twice(void **state)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_puts(&b, "x");
	fr_buf_release(&b);
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	fr_buf_release(&b);
	assert_string_equal(b.ptr, "");
	/* The shared empty string is never written to. */
	assert_int_equal(fr_buf_empty[0], '\0');
}

static void test_oom_sticks(void **state)
{
	fr_buf b = FR_BUF_INIT;
	char big[200];
	memset(big, 'y', sizeof big);
	fr_buf_puts(&b, "abc");
	fr_alloc_fail_after(0);
	assert_int_equal(fr_buf_add(&b, big, sizeof big), -1);
	fr_alloc_fail_after(-1);
	assert_int_equal(b.oom, 1);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(b.len, 3);
	/* Allocation works again, but the buffer stays failed. */
	assert_int_equal(fr_buf_putc(&b, 'd'), -1);
	assert_int_equal(fr_buf_puts(&b, "d"), -1);
	assert_int_equal(fr_buf_printf(&b, "%d", 1), -1);
	assert_int_equal(fr_buf_grow(&b, 1), -1);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(b.len, 3);
	/* Detach after OOM gives NULL and releases. */
	assert_null(fr_buf_detach(&b));
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.oom, 0);
	fr_buf_release(&b);

	/* The first allocation failing leaves a valid empty string. */
	fr_alloc_fail_after(0);
	assert_int_equal(fr_buf_printf(&b, "%s", "zzz"), -1);
	fr_alloc_fail_after(-1);
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.oom, 1);
	/* reset clears it. */
	fr_buf_reset(&b);
	assert_int_equal(b.oom, 0);
	assert_int_equal(fr_buf_puts(&b, "ok"), 0);
	assert_string_equal(b.ptr, "ok");
	fr_buf_release(&b);
}

static void test_setf_after_oom(void **state)
{
	fr_buf b = FR_BUF_INIT;
	fr_alloc_fail_after(0);
	fr_buf_puts(&b, "x");
	fr_alloc_fail_after(-1);
	assert_int_equal(b.oom, 1);
	/* setf replaces the content, so it starts afresh. */
	assert_int_equal(fr_buf_setf(&b, "n=%d", 3), 0);
	assert_string_equal(b.ptr, "n=3");
	fr_buf_release(&b);
}

static void test_size_overflow(void **state)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_puts(&b, "keep");
	assert_int_equal(fr_buf_grow(&b, SIZE_MAX), -1);
	assert_int_equal(b.oom, 1);
	assert_string_equal(b.ptr, "keep");
	fr_buf_release(&b);
	assert_int_equal(fr_buf_grow(&b, SIZE_MAX - 2), -1);
	assert_string_equal(b.ptr, "");
	fr_buf_release(&b);
}

/* fr_grow: doubles from 16, keeps the content, fails without losing the array. */
static void test_grow(void **state)
{
	int *v = NULL;
	size_t cap = 0, i;
	(void)state;
	assert_int_equal(fr_grow(&v, &cap, 1, sizeof *v), 0);
	assert_int_equal(cap, 16);
	for (i = 0; i < 100; i++) {
		assert_int_equal(fr_grow(&v, &cap, i + 1, sizeof *v), 0);
		v[i] = (int)i;
	}
	assert_int_equal(cap, 128);
	for (i = 0; i < 100; i++)
		assert_int_equal(v[i], (int)i);
	assert_int_equal(fr_grow(&v, &cap, 100, sizeof *v), 0); /* room already */
	fr_alloc_fail_after(0);
	assert_int_equal(fr_grow(&v, &cap, 1000, sizeof *v), -1);
	fr_alloc_fail_after(-1);
	assert_int_equal(cap, 128);
	assert_int_equal(v[99], 99);
	assert_int_equal(fr_grow(&v, &cap, (size_t)-1 / 2, sizeof *v), -1); /* overflow */
	fr_free(v);
}

/* Sizes in a unit that never rounds them to 0: what a disk-space message says. */
static void test_bytes(void **state)
{
	static const struct { int64_t n; const char *text; } cases[] = {
		{ 0, "0 bytes" }, { 900, "900 bytes" }, { 1024, "1.0 KiB" }, { 1536, "1.5 KiB" },
		{ 300 * 1024, "300 KiB" }, { 5 * 1024 * 1024 + 512 * 1024, "5.5 MiB" },
		{ 3LL << 30, "3.0 GiB" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		fr_buf b = FR_BUF_INIT;
		fr_buf_bytes(&b, cases[i].n);
		assert_string_equal(b.ptr, cases[i].text);
		fr_buf_release(&b);
	}
}

/*
 * A JSON string as jansson's json_dumps writes it (the log's lines are made
 * without it, lib/ferry.c): byte for byte, and refused where jansson
 * refuses the text (not UTF-8: a stray continuation byte, an overlong
 * form, a surrogate, a cut sequence, beyond U+10FFFF).
 */
static void test_json_str(void **state)
{
	static const char *const cases[] = {
		"", "plain", "a \"quoted\" word", "back\\slash", "tab\there\nnew line\r",
		"\b\f\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2", "/slash/",
		"\xc3", "\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"ok then \xff", "\xe2\x82",
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		fr_buf b = FR_BUF_INIT;
		json_t *j = json_string(cases[i]), *a = json_array();
		char *want = NULL;
		fr_buf_puts(&b, "x");
		if (j) {
			json_array_append_new(a, j);
			want = json_dumps(a, JSON_COMPACT);
			assert_int_equal(fr_buf_json_str(&b, cases[i]), 0);
			/* "[...]" around jansson's string, "x" before ours */
			assert_int_equal(b.len - 1, strlen(want) - 2);
			assert_memory_equal(b.ptr + 1, want + 1, b.len - 1);
		} else {
			assert_int_equal(fr_buf_json_str(&b, cases[i]), -1);
			assert_string_equal(b.ptr, "x");
		}
		free(want);
		json_decref(a);
		fr_buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reset_truncate),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_release_twice),
		cmocka_unit_test(test_oom_sticks),
		cmocka_unit_test(test_setf_after_oom),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_grow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
