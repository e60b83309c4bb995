/*
 * test_native.c - C steps registered with ferry_register_step(): they join
 * the catalog and the plan, run in order with file steps, are recorded,
 * undone by down and by a failed run, and skipped when their check says
 * they are done.
 */
#include "helpers.h"

#include <ferry.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	int forward, backward, check_done, fail;
} calls;

typedef struct {
	char *dir;
	ferry *f;
	calls c;
} env;

static int cb_check(ferry *f, void *ctx, int *needed)
{
	calls *c = ctx;
	(void)f;
	*needed = !c->check_done;
	return 0;
}

static int cb_forward(ferry *f, void *ctx)
{
	calls *c = ctx;
	if (c->fail) {
		ferry_set_error(f, "the index server said no");
		return 7;
	}
	c->forward++;
	return 0;
}

static int cb_backward(ferry *f, void *ctx)
{
	calls *c = ctx;
	(void)f;
	c->backward++;
	return 0;
}

static ferry_native_step native(env *e, const char *id, const char *from, const char *to)
{
	ferry_native_step s;
	memset(&s, 0, sizeof s);
	s.version = FERRY_NATIVE_STEP_VERSION;
	s.id = id;
	s.from = from;
	s.to = to;
	s.description = "rebuild the index";
	s.check = cb_check;
	s.forward = cb_forward;
	s.backward = cb_backward;
	s.ctx = &e->c;
	return s;
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	e->dir = t_tmpdir();
	t_write(e->dir, "ferry.yaml", "databases:\n  main: sqlite:app.db\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/001_t.sql",
	        "-- ferry:up\nCREATE TABLE t (x);\n-- ferry:down\nDROP TABLE t;\n");
	assert_int_equal(ferry_open(&e->f, e->dir, NULL), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	ferry_close(e->f);
	t_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

static int table_exists(env *e)
{
	return t_sh("test \"$(sqlite3 '%s/app.db' \"SELECT count(*) FROM sqlite_master WHERE "
	            "name = 't'\")\" = 1", e->dir) == 0;
}

static void test_runs_in_plan_and_down(void **state)
{
	env *e = *state;
	ferry_native_step s = native(e, "1.0.0/002_index", "0.0.0", "1.0.0");
	ferry_plan *p = NULL;
	char *doc = NULL, *v = NULL;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	/* It joins the folder transition 0.0.0 -> 1.0.0 after 001_t.sql. */
	assert_int_equal(ferry_plan_new(&p, e->f, NULL), 0);
	assert_int_equal(ferry_plan_step_count(p), 2);
	assert_int_equal(ferry_plan_json(&doc, p), 0);
	assert_non_null(strstr(doc, "\"1.0.0/002_index\""));
	assert_non_null(strstr(doc, "\"native\""));
	ferry_free(doc);
	ferry_plan_free(p);
	assert_int_equal(ferry_up(e->f, NULL, NULL), 0);
	assert_int_equal(e->c.forward, 1);
	assert_true(table_exists(e));
	assert_int_equal(ferry_list(&doc, e->f), 0);
	assert_non_null(strstr(doc, "\"1.0.0/002_index\""));
	ferry_free(doc);
	/* Nothing pending: a second up calls nothing. */
	assert_int_equal(ferry_up(e->f, NULL, NULL), 0);
	assert_int_equal(e->c.forward, 1);
	/* Down undoes it with its backward, newest first, then the SQL step. */
	assert_int_equal(ferry_down(e->f, "0.0.0", NULL), 0);
	assert_int_equal(e->c.backward, 1);
	assert_false(table_exists(e));
	assert_int_equal(ferry_current_version(&v, e->f), 0);
	assert_string_equal(v, "0.0.0");
	ferry_free(v);
}

static void test_failure_rolls_back_the_run(void **state)
{
	env *e = *state;
	ferry_native_step s = native(e, "1.0.0/002_index", "0.0.0", "1.0.0");
	char *doc = NULL;
	e->c.fail = 1;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	assert_int_equal(ferry_up(e->f, NULL, NULL), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(e->f), "the index server said no"));
	assert_false(table_exists(e)); /* the SQL step before it was rolled back */
	assert_int_equal(ferry_last_run(&doc, e->f), 0);
	assert_non_null(strstr(doc, "\"rolled_back\""));
	ferry_free(doc);
}

static void test_check_skips(void **state)
{
	env *e = *state;
	ferry_native_step s = native(e, "1.0.0/002_index", "0.0.0", "1.0.0");
	char *doc = NULL;
	e->c.check_done = 1;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	assert_int_equal(ferry_up(e->f, NULL, NULL), 0);
	assert_int_equal(e->c.forward, 0);
	assert_int_equal(ferry_list(&doc, e->f), 0);
	assert_non_null(strstr(doc, "\"skipped\""));
	ferry_free(doc);
}

static void test_own_transition(void **state)
{
	env *e = *state;
	ferry_native_step s = native(e, "1.1.0/reindex", "1.0.0", "1.1.0");
	char *v = NULL;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	assert_int_equal(ferry_up(e->f, NULL, NULL), 0);
	assert_int_equal(ferry_current_version(&v, e->f), 0);
	assert_string_equal(v, "1.1.0");
	ferry_free(v);
	assert_int_equal(e->c.forward, 1);
}

static void test_bad_registrations(void **state)
{
	env *e = *state;
	ferry_native_step s = native(e, "1.0.0/x", "0.0.0", "1.0.0");
	s.id = "no-slash";
	assert_int_equal(ferry_register_step(e->f, &s), FERRY_EINVALID);
	s.id = "2.0.0/x"; /* the id must start with its to */
	assert_int_equal(ferry_register_step(e->f, &s), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(e->f), "'1.0.0/'"));
	s.id = "1.0.0/x";
	s.forward = NULL;
	assert_int_equal(ferry_register_step(e->f, &s), FERRY_EINVALID);
	s.forward = cb_forward;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	assert_int_equal(ferry_register_step(e->f, &s), FERRY_EINVALID); /* twice */
	s = native(e, "1.0.0/001_t.sql", "0.0.0", "1.0.0"); /* clashes with the file step */
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	assert_int_equal(ferry_up(e->f, NULL, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(e->f), "exists already"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_runs_in_plan_and_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_rolls_back_the_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_registrations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
