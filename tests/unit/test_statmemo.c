/*
 * test_statmemo.c - lib/util/statmemo.c: the listing's stats by path, found
 * however the path is cut into a folder and a name, the later stat of a path
 * noted twice, thousands of entries, and nothing found that was not noted.
 */
#include "helpers.h"
#include "util/statmemo.h"

#include <stdio.h>
#include <string.h>

static struct stat st_of(long size)
{
	struct stat st;
	memset(&st, 0, sizeof st);
	st.st_size = size;
	st.st_ino = (ino_t)(size * 7 + 1);
	return st;
}

static void test_cut_anywhere(void **state)
{
	fr_statmemo *m = fr_statmemo_new();
	struct stat st = st_of(42), got;
	int d;
	assert_non_null(m);
	d = fr_statmemo_dir(m, "/srv/app/migrations/v0.1.0_to_v0.2.0");
	assert_true(d >= 0);
	assert_int_equal(fr_statmemo_put(m, d, "001_a.sql", &st), 0);
	memset(&got, 0, sizeof got);
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migrations/v0.1.0_to_v0.2.0", "001_a.sql", &got), 1);
	assert_int_equal(got.st_size, 42);
	/* The catalog's check names it from the migrations folder. */
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migrations", "v0.1.0_to_v0.2.0/001_a.sql", &got), 1);
	assert_int_equal(got.st_ino, st.st_ino);
	/* Not another path, nor a prefix or an extension of it. */
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migrations", "v0.1.0_to_v0.2.0/001_a.sq", &got), 0);
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migrations", "v0.1.0_to_v0.2.0/001_a.sqlx", &got), 0);
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migration", "sv0.1.0_to_v0.2.0/001_a.sql", &got), 0);
	assert_int_equal(fr_statmemo_get(m, "/srv/app/migrations/v0.1.0_to_v0.2.0/001", "a.sql", &got), 0);
	assert_int_equal(fr_statmemo_hits(m), 2);
	fr_statmemo_free(m);
}

static void test_later_stat_wins(void **state)
{
	fr_statmemo *m = fr_statmemo_new();
	struct stat a = st_of(1), b = st_of(2), c = st_of(3), got;
	int d = fr_statmemo_dir(m, "/d"), e = fr_statmemo_dir(m, "/d/e");
	assert_int_equal(fr_statmemo_put(m, d, "f", &a), 0);
	assert_int_equal(fr_statmemo_get(m, "/d", "f", &got), 1); /* a lookup, then more notes */
	assert_int_equal(got.st_size, 1);
	assert_int_equal(fr_statmemo_put(m, d, "f", &b), 0);
	assert_int_equal(fr_statmemo_put(m, e, "f", &c), 0);
	assert_int_equal(fr_statmemo_get(m, "/d", "f", &got), 1);
	assert_int_equal(got.st_size, 2);
	assert_int_equal(fr_statmemo_get(m, "/d", "e/f", &got), 1);
	assert_int_equal(got.st_size, 3);
	/* A folder number it did not give is refused. */
	assert_int_equal(fr_statmemo_put(m, 7, "g", &a), -1);
	fr_statmemo_free(m);
}

static void test_many_and_none(void **state)
{
	fr_statmemo *m = fr_statmemo_new();
	struct stat got;
	char dir[64], name[64];
	int i;
	/* NULL and empty memos find nothing. */
	assert_int_equal(fr_statmemo_get(NULL, "/d", "f", &got), 0);
	assert_int_equal(fr_statmemo_get(m, "/d", "f", &got), 0);
	for (i = 0; i < 20000; i++) {
		struct stat st = st_of(i);
		int d;
		snprintf(dir, sizeof dir, "/m/v0.%d.0_to_v0.%d.0", i % 97, i % 97 + 1);
		snprintf(name, sizeof name, "%05d_step.sql", i);
		d = fr_statmemo_dir(m, dir); /* a folder may come again: another number, the same path */
		assert_true(d >= 0);
		assert_int_equal(fr_statmemo_put(m, d, name, &st), 0);
	}
	assert_int_equal(fr_statmemo_count(m), 20000);
	for (i = 0; i < 20000; i++) {
		snprintf(dir, sizeof dir, "/m/v0.%d.0_to_v0.%d.0", i % 97, i % 97 + 1);
		snprintf(name, sizeof name, "%05d_step.sql", i);
		assert_int_equal(fr_statmemo_get(m, dir, name, &got), 1);
		assert_int_equal(got.st_size, i);
		/* one folder off: not there */
		snprintf(dir, sizeof dir, "/m/v0.%d.0_to_v0.%d.0", (i + 1) % 97, (i + 1) % 97 + 1);
		assert_int_equal(fr_statmemo_get(m, dir, name, &got), 0);
	}
	fr_statmemo_free(m);
	fr_statmemo_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_anywhere),
		cmocka_unit_test(test_later_stat_wins),
		cmocka_unit_test(test_many_and_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
