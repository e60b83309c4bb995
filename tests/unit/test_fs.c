/*
 * test_fs.c - lib/util/fs.c: atomic writes (mode kept or given, no temporary
 * file left behind, even on failure), mkdir -p, path joins, reads, clocks.
 */
#include "helpers.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	char *dir;
	mode_t umask;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->dir = t_tmpdir();
	/* Modes are checked exactly. */
	f->umask = umask(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	umask(f->umask);
	t_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Number of entries in dir, "." and ".." not counted. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_write_atomic_creates_with_mode(void **state)
{
	fixture *f = *state;
	char *p = t_path(f->dir, "new.txt"), *text;
	assert_int_equal(fr_write_atomic(p, "hello\n", 6, 0640), 0);
	assert_int_equal(mode_of(p), 0640);
	text = t_read(f->dir, "new.txt");
	assert_string_equal(text, "hello\n");
	free(text);
	assert_int_equal(count_entries(f->dir), 1);
	free(p);
}

static void test_write_atomic_keeps_mode(void **state)
{
	fixture *f = *state;
	char *p = t_path(f->dir, "old.conf"), *text;
	t_write(f->dir, "old.conf", "old content that is longer\n");
	assert_int_equal(chmod(p, 0751), 0);
	assert_int_equal(fr_write_atomic(p, "new", 3, 0600), 0);
	assert_int_equal(mode_of(p), 0751);
	text = t_read(f->dir, "old.conf");
	assert_string_equal(text, "new");
	free(text);
	assert_int_equal(count_entries(f->dir), 1);

	/* Empty content is a valid write. */
	assert_int_equal(fr_write_atomic(p, "", 0, 0600), 0);
	text = t_read(f->dir, "old.conf");
	assert_string_equal(text, "");
	free(text);
	free(p);
}

static void test_write_atomic_failures_leave_nothing(void **state)
{
	fixture *f = *state;
	char *missing = t_path(f->dir, "no/such/dir/file"), *sub, *text, *oom;

	errno = 0;
	assert_int_equal(fr_write_atomic(missing, "x", 1, 0644), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(f->dir), 0);

	/* Renaming over a folder fails after the temporary file was written. */
	assert_int_equal(t_sh("mkdir '%s/target' && touch '%s/target/keep'", f->dir, f->dir), 0);
	sub = t_path(f->dir, "target");
	errno = 0;
	assert_int_equal(fr_write_atomic(sub, "data", 4, 0644), -1);
	assert_true(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(count_entries(sub), 1);

	/* Out of memory: nothing written, errno says so. */
	oom = t_path(f->dir, "oom.txt");
	fr_alloc_fail_after(0);
	errno = 0;
	assert_int_equal(fr_write_atomic(oom, "x", 1, 0644), -1);
	fr_alloc_fail_after(-1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(fr_exists(oom), 0);
	assert_int_equal(count_entries(f->dir), 1);
	free(oom);

	text = t_read(f->dir, "target/keep");
	assert_string_equal(text, "");
	free(text);
	free(sub);
	free(missing);
}

static void test_read_file(void **state)
{
	fixture *f = *state;
	fr_buf b = FR_BUF_INIT;
	char *p = t_path(f->dir, "r.txt"), *q = t_path(f->dir, "none");
	t_write(f->dir, "r.txt", "line 1\nline 2\n");
	fr_buf_puts(&b, ">");
	assert_int_equal(fr_read_file(p, &b), 0);
	assert_string_equal(b.ptr, ">line 1\nline 2\n"); /* appended */
	errno = 0;
	assert_int_equal(fr_read_file(q, &b), -1);
	assert_int_equal(errno, ENOENT);
	fr_buf_release(&b);
	free(p);
	free(q);
}

static void test_mkdir_p(void **state)
{
	fixture *f = *state;
	char *deep = t_path(f->dir, "a/b/c"), *slash = t_path(f->dir, "x/y/"),
	     *file = t_path(f->dir, "file"), *under_file = t_path(f->dir, "file/sub");
	struct stat st;
	assert_int_equal(fr_mkdir_p(deep, 0750), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	/* Existing folders are fine. */
	assert_int_equal(fr_mkdir_p(deep, 0750), 0);
	assert_int_equal(fr_mkdir_p(f->dir, 0700), 0);
	assert_int_equal(fr_mkdir_p(slash, 0755), 0);
	assert_true(fr_exists(slash));

	t_write(f->dir, "file", "x");
	errno = 0;
	assert_int_equal(fr_mkdir_p(file, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(fr_mkdir_p(under_file, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	free(deep);
	free(slash);
	free(file);
	free(under_file);
}

static void join_is(const char *a, const char *b, const char *want)
{
	char *p = fr_path_join(a, b);
	assert_non_null(p);
	assert_string_equal(p, want);
	fr_free(p);
}

static void test_path_join(void **state)
{
	join_is("/srv/app", "data/app.db", "/srv/app/data/app.db");
	join_is("/srv/app/", "data", "/srv/app/data");
	join_is("/srv/app", "./data", "/srv/app/data");
	join_is("/srv/app", "././data", "/srv/app/data");
	join_is("/srv/app", "/abs/path", "/abs/path");
	join_is("/", "x", "/x");
	join_is("", "rel", "rel");
	join_is(NULL, "rel", "rel");
	join_is("rel", "x", "rel/x");
	fr_alloc_fail_after(0);
	assert_null(fr_path_join("/a", "b"));
	fr_alloc_fail_after(-1);
}

static void test_exists_and_mtime(void **state)
{
	fixture *f = *state;
	char *p = t_path(f->dir, "e"), *link = t_path(f->dir, "dangling");
	struct stat st;
	assert_int_equal(fr_exists(p), 0);
	t_write(f->dir, "e", "");
	assert_int_equal(fr_exists(p), 1);
	assert_int_equal(symlink("/nonexistent/ferry", link), 0);
	assert_int_equal(fr_exists(link), 1); /* the link itself exists */
	assert_int_equal(t_sh("touch -d '2020-01-02 03:04:05.123456789Z' '%s'", p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(fr_mtime_ns(&st) == 1577934245123456789LL);
	assert_int_equal(fr_fsync_parent(p), 0);
	free(p);
	free(link);
}

static void test_clocks(void **state)
{
	char buf[32];
	double a, b;
	fr_time_rfc3339(0, buf, sizeof buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	fr_time_rfc3339(1700000000999LL, buf, sizeof buf);
	assert_string_equal(buf, "2023-11-14T22:13:20Z");
	assert_true(fr_now_ms() > 1600000000000LL);
	a = fr_mono_ms();
	b = fr_mono_ms();
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_atomic_creates_with_mode, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_keeps_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_failures_leave_nothing, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test_setup_teardown(test_exists_and_mtime, setup, teardown),
		cmocka_unit_test(test_clocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
