/*
 * test_handle.c - an open handle keeps its catalog between calls
 * (fr_catalog_current) and still sees every change a new handle would: a
 * second ferry_up() on the same handle notices an applied step changed
 * (FERRY_EVERIFY), the same step put back, a new pending step, a step
 * removed; the catalog itself goes stale on an edit, an added or removed
 * file, a transition.yaml or versions.yaml edit, a file too young to trust.
 * Files are back-dated, as a deployment's are, so that the no-op
 * fingerprint is in play (a young file turns it off).
 *
 * The watch (lib/noop.c): once the files have settled (their change time
 * 2 s old too), a clean no-op arms an inotify watch, and later calls on the
 * handle are answered by it ("noop_check": "watch"): an edit in place that
 * keeps size and times, the file put back, a new step, ferry.yaml, the
 * version moved by another handle, and a step with a second hard link or
 * behind a symbolic link (never watched) are still seen.
 */
#include "helpers.h"

#include "catalog.h"
#include "ferry.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEP_A "-- ferry:up\nCREATE TABLE a (x INTEGER);\n-- ferry:down\nDROP TABLE a;\n"
#define STEP_A2 "-- ferry:up\nCREATE TABLE a (x INTEGER, y TEXT);\n-- ferry:down\nDROP TABLE a;\n"
#define STEP_B "-- ferry:up\nCREATE TABLE b (x INTEGER);\n-- ferry:down\nDROP TABLE b;\n"
#define STEP_C "-- ferry:up\nCREATE TABLE c (x INTEGER);\n-- ferry:down\nDROP TABLE c;\n"

typedef struct {
	char *root;
	ferry *f;
	fr_catalog *cat;
} fx;

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	x->root = t_tmpdir();
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	ferry_close(x->f);
	fr_catalog_free(x->cat);
	t_rmrf(x->root);
	free(x->root);
	free(x);
	return 0;
}

/* Sets rel's (and, when rel is a folder's file, nothing else's) times to secs ago. */
static void age(fx *x, const char *rel, int secs)
{
	char *p = t_path(x->root, rel);
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

/*
 * Waits until what was just written is old enough to be trusted: its
 * change time, which no back-dating moves, 2 s old (the racy rule).
 */
static void settle(void)
{
	struct timespec ts = { 2, 150000000 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Writes rel and back-dates it and its folder secs ago. */
static void put_aged(fx *x, const char *rel, const char *text, int secs)
{
	char dir[512];
	char *slash;
	t_write(x->root, rel, text);
	age(x, rel, secs);
	snprintf(dir, sizeof dir, "%s", rel);
	while ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		age(x, dir, secs);
	}
}

/* 0.0.0 -> 1.0.0 (a) -> 2.0.0 (b), flat steps, everything an hour old. */
static void install(fx *x)
{
	put_aged(x, "ferry.yaml", "app: demo\ndatabases:\n  main: sqlite:data/app.db\n", 3600);
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A, 3600);
	put_aged(x, "migrations/2.0.0_b.sql", STEP_B, 3600);
}

static void open_f(fx *x)
{
	int rc = ferry_open(&x->f, x->root, NULL);
	if (rc)
		fail_msg("ferry_open: %d %s", rc, ferry_errmsg(x->f));
}

static int up(fx *x)
{
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	o.skip_backup = 1;
	return ferry_up(x->f, NULL, &o);
}

static int has_table(fx *x, const char *name)
{
	char *db = t_path(x->root, "data/app.db"), sql[128];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int found;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql, "SELECT 1 FROM sqlite_master WHERE name = '%s'", name);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(db);
	return found;
}

/* Applied once, then two no-ops on the same handle: the second earns the fingerprint. */
static void applied(fx *x)
{
	install(x);
	open_f(x);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "b"));
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
}

static void test_second_up_notices_a_changed_applied_step(void **state)
{
	fx *x = *state;
	applied(x);
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A2, 1800);
	assert_int_equal(up(x), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), "1.0.0_a.sql"));
	/* Still noticed on the next call, not forgotten once reported. */
	assert_int_equal(up(x), FERRY_EVERIFY);
}

static void test_second_up_notices_a_restored_step(void **state)
{
	fx *x = *state;
	applied(x);
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A2, 1800);
	assert_int_equal(up(x), FERRY_EVERIFY);
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A, 1200);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
}

static void test_second_up_notices_a_young_edit(void **state)
{
	fx *x = *state;
	applied(x);
	/* Same size, written just now: only the racy rule and the mtime can tell. */
	t_write(x->root, "migrations/1.0.0_a.sql", STEP_A "-- x\n");
	assert_int_equal(up(x), FERRY_EVERIFY);
}

static void test_second_up_applies_a_new_pending_step(void **state)
{
	fx *x = *state;
	applied(x);
	assert_false(has_table(x, "c"));
	put_aged(x, "migrations/3.0.0_c.sql", STEP_C, 600);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "c"));
	assert_int_equal(up(x), 0);
}

static void test_second_up_applies_a_new_transition_folder(void **state)
{
	fx *x = *state;
	applied(x);
	put_aged(x, "migrations/v2.0.0_to_v3.0.0/001_c.sql", STEP_C, 600);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "c"));
}

static void test_second_status_sees_a_removed_step(void **state)
{
	fx *x = *state;
	char *doc = NULL, *p;
	applied(x);
	p = t_path(x->root, "migrations/2.0.0_b.sql");
	assert_int_equal(unlink(p), 0);
	free(p);
	age(x, "migrations", 600);
	assert_int_equal(ferry_status(&doc, x->f), 0);
	assert_non_null(doc);
	/* 2.0.0 is no longer in the catalog: the latest is 1.0.0. */
	assert_non_null(strstr(doc, "\"latest\": \"1.0.0\""));
	ferry_free(doc);
}

/* ---- the watch ---- */

/* What decided the last no-op ("listing", "watch", ...), or "" when it was not one. */
static char *noop_check(fx *x)
{
	static char out[32];
	char *doc = NULL, *p;
	out[0] = '\0';
	assert_int_equal(ferry_last_run(&doc, x->f), 0);
	assert_non_null(doc);
	if ((p = strstr(doc, "\"noop_check\": \"")) != NULL)
		sscanf(p + strlen("\"noop_check\": \""), "%31[a-z]", out);
	ferry_free(doc);
	return out;
}

/* install(), settled (change times 2 s old), applied; then the watch answers. */
static void watched(fx *x)
{
	install(x);
	settle();
	open_f(x);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "b"));
	assert_int_equal(up(x), 0); /* the first clean no-op: the digest, the watch armed */
	assert_int_equal(up(x), 0);
	assert_string_equal(noop_check(x), "watch");
	assert_int_equal(up(x), 0);
	assert_string_equal(noop_check(x), "watch");
}

/* Writes text over rel in place (same inode) and puts its times back. */
static void edit_in_place(fx *x, const char *rel, const char *text)
{
	char *p = t_path(x->root, rel);
	struct stat st;
	struct timespec ts[2];
	int fd;
	assert_int_equal(stat(p, &st), 0);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

#define STEP_A_SAME "-- ferry:up\nCREATE TABLE z (x INTEGER);\n-- ferry:down\nDROP TABLE a;\n"

static void test_watch_sees_an_edit_in_place_and_the_file_put_back(void **state)
{
	fx *x = *state;
	watched(x);
	assert_int_equal(strlen(STEP_A_SAME), strlen(STEP_A));
	edit_in_place(x, "migrations/1.0.0_a.sql", STEP_A_SAME);
	assert_int_equal(up(x), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), "1.0.0_a.sql"));
	assert_int_equal(up(x), FERRY_EVERIFY);
	edit_in_place(x, "migrations/1.0.0_a.sql", STEP_A);
	assert_int_equal(up(x), 0);
	assert_string_not_equal(noop_check(x), "watch");
}

/* No watch looks at the database's folder: its file gone is seen all the same. */
static void test_watch_sees_the_database_file_gone(void **state)
{
	fx *x = *state;
	char *db, *aside;
	watched(x);
	db = t_path(x->root, "data/app.db");
	aside = t_path(x->root, "app.db.aside");
	assert_int_equal(rename(db, aside), 0);
	assert_int_equal(up(x), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), "does not exist, but 2 steps are recorded"));
	assert_int_equal(access(db, F_OK), -1); /* not made again */
	assert_int_equal(up(x), FERRY_EVERIFY);
	assert_int_equal(rename(aside, db), 0);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "b"));
	free(db);
	free(aside);
}

static void test_watch_sees_a_new_pending_step(void **state)
{
	fx *x = *state;
	watched(x);
	put_aged(x, "migrations/3.0.0_c.sql", STEP_C, 600);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "c"));
	assert_string_equal(noop_check(x), "");
}

static void test_watch_sees_ferry_yaml(void **state)
{
	fx *x = *state;
	char *p;
	FILE *fp;
	watched(x);
	p = t_path(x->root, "ferry.yaml");
	fp = fopen(p, "a");
	assert_non_null(fp);
	fputs("# a comment\n", fp);
	fclose(fp);
	free(p);
	assert_int_equal(up(x), 0);
	assert_string_not_equal(noop_check(x), "watch");
}

static void test_watch_sees_the_version_another_handle_moved(void **state)
{
	fx *x = *state;
	ferry *g = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	o.skip_backup = 1;
	watched(x);
	assert_int_equal(ferry_open(&g, x->root, NULL), 0);
	assert_int_equal(ferry_down(g, "1.0.0", &o), 0);
	ferry_close(g);
	assert_false(has_table(x, "b"));
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "b"));
	assert_string_equal(noop_check(x), "");
}

static void test_watch_not_trusted_for_a_hard_linked_step(void **state)
{
	fx *x = *state;
	char *a, *other;
	install(x);
	a = t_path(x->root, "migrations/1.0.0_a.sql");
	other = t_path(x->root, "other-name.sql");
	assert_int_equal(link(a, other), 0);
	settle();
	open_f(x);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_string_equal(noop_check(x), "listing"); /* every call lists: no watch */
	edit_in_place(x, "other-name.sql", STEP_A_SAME);
	assert_int_equal(up(x), FERRY_EVERIFY);
	free(a);
	free(other);
}

static void test_watch_not_trusted_through_a_symlink(void **state)
{
	fx *x = *state;
	char *a, *target;
	install(x);
	a = t_path(x->root, "migrations/1.0.0_a.sql");
	target = t_path(x->root, "a-elsewhere.sql");
	assert_int_equal(rename(a, target), 0);
	assert_int_equal(symlink(target, a), 0);
	settle();
	open_f(x);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_string_equal(noop_check(x), "listing");
	/* written where the link points: no watched folder hears of it */
	edit_in_place(x, "a-elsewhere.sql", STEP_A_SAME);
	assert_int_equal(up(x), FERRY_EVERIFY);
	free(a);
	free(target);
}

static void test_watch_sees_the_migrations_folder_appear(void **state)
{
	fx *x = *state;
	put_aged(x, "ferry.yaml", "app: demo\ndatabases:\n  main: sqlite:data/app.db\n", 3600);
	settle();
	open_f(x);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_int_equal(up(x), 0);
	assert_string_not_equal(noop_check(x), "watch"); /* a missing folder is not watched */
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A, 3600);
	assert_int_equal(up(x), 0);
	assert_true(has_table(x, "a"));
}

/* ---- the catalog's own check ---- */

static void load(fx *x)
{
	char *dir = t_path(x->root, "migrations");
	fr_buf err = FR_BUF_INIT;
	fr_catalog_free(x->cat);
	x->cat = NULL;
	if (fr_catalog_load(&x->cat, dir, x->root, &err))
		fail_msg("catalog: %s", err.ptr);
	fr_buf_release(&err);
	free(dir);
}

static void folders(fx *x)
{
	put_aged(x, "migrations/v0.0.0_to_v1.0.0/001_a.sql", STEP_A, 3600);
	put_aged(x, "migrations/v0.0.0_to_v1.0.0/transition.yaml", "description: A\n", 3600);
	put_aged(x, "migrations/versions.yaml", "versions:\n  - 1.0.0\n", 3600);
	put_aged(x, "migrations/2.0.0_b.sql", STEP_B, 3600);
	age(x, "migrations", 3600);
	settle();
	load(x);
	assert_true(fr_catalog_current(x->cat, NULL));
	assert_true(fr_catalog_current(x->cat, NULL));
}

static void test_catalog_current_until_a_step_changes(void **state)
{
	fx *x = *state;
	folders(x);
	put_aged(x, "migrations/v0.0.0_to_v1.0.0/001_a.sql", STEP_A2, 1800);
	settle(); /* the change is seen by the stat, not only by the racy rule */
	assert_false(fr_catalog_current(x->cat, NULL));
	load(x);
	assert_true(fr_catalog_current(x->cat, NULL));
}

static void test_catalog_stale_on_an_added_or_removed_file(void **state)
{
	fx *x = *state;
	char *p;
	folders(x);
	put_aged(x, "migrations/v0.0.0_to_v1.0.0/002_more.sql", STEP_C, 1800);
	settle();
	assert_false(fr_catalog_current(x->cat, NULL));
	load(x);
	assert_true(fr_catalog_current(x->cat, NULL));
	p = t_path(x->root, "migrations/2.0.0_b.sql");
	assert_int_equal(unlink(p), 0);
	free(p);
	age(x, "migrations", 1200);
	settle();
	assert_false(fr_catalog_current(x->cat, NULL));
}

static void test_catalog_stale_on_a_yaml_edit(void **state)
{
	fx *x = *state;
	folders(x);
	put_aged(x, "migrations/v0.0.0_to_v1.0.0/transition.yaml", "description: B\n", 1800);
	settle();
	assert_false(fr_catalog_current(x->cat, NULL));
	load(x);
	put_aged(x, "migrations/versions.yaml", "versions:\n  - 1.0.1\n", 1800);
	settle();
	assert_false(fr_catalog_current(x->cat, NULL));
}

static void test_catalog_stale_on_a_renamed_file(void **state)
{
	fx *x = *state;
	char *a, *b;
	folders(x);
	a = t_path(x->root, "migrations/2.0.0_b.sql");
	b = t_path(x->root, "migrations/2.0.0_b2.sql");
	assert_int_equal(rename(a, b), 0);
	/* The folder's time put back as it was: the file itself is gone from its path. */
	age(x, "migrations", 3600);
	settle();
	assert_false(fr_catalog_current(x->cat, NULL));
	free(a);
	free(b);
}

static void test_catalog_young_files_are_never_trusted(void **state)
{
	fx *x = *state;
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A, 3600);
	t_write(x->root, "migrations/2.0.0_b.sql", STEP_B); /* just now */
	load(x);
	assert_false(fr_catalog_current(x->cat, NULL));
}

static void test_catalog_missing_folder(void **state)
{
	fx *x = *state;
	load(x);
	assert_int_equal(x->cat->nsteps, 0);
	assert_true(fr_catalog_current(x->cat, NULL));
	put_aged(x, "migrations/1.0.0_a.sql", STEP_A, 3600);
	assert_false(fr_catalog_current(x->cat, NULL));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_second_up_notices_a_changed_applied_step),
		T(test_second_up_notices_a_restored_step),
		T(test_second_up_notices_a_young_edit),
		T(test_second_up_applies_a_new_pending_step),
		T(test_second_up_applies_a_new_transition_folder),
		T(test_second_status_sees_a_removed_step),
		T(test_watch_sees_an_edit_in_place_and_the_file_put_back),
		T(test_watch_sees_the_database_file_gone),
		T(test_watch_sees_a_new_pending_step),
		T(test_watch_sees_ferry_yaml),
		T(test_watch_sees_the_version_another_handle_moved),
		T(test_watch_not_trusted_for_a_hard_linked_step),
		T(test_watch_not_trusted_through_a_symlink),
		T(test_watch_sees_the_migrations_folder_appear),
		T(test_catalog_current_until_a_step_changes),
		T(test_catalog_stale_on_an_added_or_removed_file),
		T(test_catalog_stale_on_a_yaml_edit),
		T(test_catalog_stale_on_a_renamed_file),
		T(test_catalog_young_files_are_never_trusted),
		T(test_catalog_missing_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
