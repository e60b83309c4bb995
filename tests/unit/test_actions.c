/*
 * test_actions.c - the plan is the program, through the public API: the
 * actions of ferry_plan_for() equal the actions ferry_up() executes, for
 * SQL steps on two databases beside native C steps; a failing native step
 * ends the executed list, followed by exactly the plan of its rollback; a
 * plan kept as text (ferry_plan_json, ferry_plan_load) runs with
 * ferry_apply() only while the installation is the one it was made for.
 * Each outcome is checked against the databases themselves.
 */
#include "helpers.h"

#include <ferry.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *dir;
	ferry *f;
	int forward, backward, fail;
} env;

static int cb_forward(ferry *f, void *ctx)
{
	env *e = ctx;
	if (e->fail) {
		ferry_set_error(f, "the index server said no");
		return 7;
	}
	e->forward++;
	return 0;
}

static int cb_backward(ferry *f, void *ctx)
{
	env *e = ctx;
	(void)f;
	e->backward++;
	return 0;
}

static void add_native(env *e, const char *id, const char *from, const char *to)
{
	ferry_native_step s;
	memset(&s, 0, sizeof s);
	s.version = FERRY_NATIVE_STEP_VERSION;
	s.id = id;
	s.from = from;
	s.to = to;
	s.forward = cb_forward;
	s.backward = cb_backward;
	s.ctx = e;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	e->dir = t_tmpdir();
	t_write(e->dir, "ferry.yaml", "databases:\n  main: sqlite:main.db\n  logs: sqlite:logs.db\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/001_a.sql",
	        "-- ferry:up\nCREATE TABLE a (x);\n-- ferry:down\nDROP TABLE a;\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/002_b.sql",
	        "-- ferry:up\nCREATE TABLE b (x);\n-- ferry:down\nDROP TABLE b;\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/004_l.sql",
	        "-- ferry:database logs\n-- ferry:up\nCREATE TABLE l (x);\n"
	        "-- ferry:down\nDROP TABLE l;\n");
	t_write(e->dir, "migrations/v1.0.0_to_v2.0.0/001_c.sql",
	        "-- ferry:up\nCREATE TABLE c (x);\n-- ferry:down\nDROP TABLE c;\n");
	assert_int_equal(ferry_open(&e->f, e->dir, NULL), 0);
	add_native(e, "1.0.0/003_index", "0.0.0", "1.0.0");
	add_native(e, "2.0.0/002_reindex", "1.0.0", "2.0.0");
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

static int has_table(env *e, const char *db, const char *table)
{
	return t_sh("sqlite3 '%s/%s' \"SELECT name FROM sqlite_master WHERE name = '%s'\" | "
	            "grep -q .", e->dir, db, table) == 0;
}

static void test_plan_equals_run_with_native_steps(void **state)
{
	env *e = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_plan *p = NULL;
	char *text = NULL, *want, *got;
	json_t *pj, *rj;
	o.skip_backup = 1;
	assert_int_equal(ferry_plan_for(&p, e->f, NULL, &o), 0);
	assert_int_equal(ferry_plan_step_count(p), 6);
	assert_int_equal(ferry_plan_json(&text, p), 0);
	ferry_plan_free(p);
	pj = t_doc_of(text);
	want = t_actions_shape(json_object_get(pj, "actions"));
	assert_string_equal(want,
	                    "step 1.0.0/001_a.sql main 1\n"
	                    "step 1.0.0/002_b.sql main 1\n"
	                    "commit - main 1\n"
	                    "step 1.0.0/003_index - 0\n"
	                    "step 1.0.0/004_l.sql logs 2\n"
	                    "commit - logs 2\n"
	                    "version 1.0.0 - 0\n"
	                    "step 2.0.0/001_c.sql main 3\n"
	                    "commit - main 3\n"
	                    "step 2.0.0/002_reindex - 0\n"
	                    "version 2.0.0 - 0\n");
	assert_int_equal(ferry_up(e->f, NULL, &o), 0);
	assert_int_equal(ferry_last_run(&text, e->f), 0);
	rj = t_doc_of(text);
	got = t_actions_shape(json_object_get(rj, "actions"));
	assert_string_equal(got, want);
	/* What the list says happened, happened. */
	assert_int_equal(e->forward, 2);
	assert_true(has_table(e, "main.db", "a") && has_table(e, "main.db", "c"));
	assert_true(has_table(e, "logs.db", "l"));
	assert_int_equal(t_sh("sqlite3 '%s/main.db' 'SELECT count(*) FROM ferry_steps' | grep -qx 3",
	                      e->dir), 0);
	free(want);
	free(got);
	json_decref(pj);
	json_decref(rj);
}

static void test_failing_native_step_runs_its_undo_plan(void **state)
{
	env *e = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	char *text = NULL, *ran, *planned;
	json_t *rj, *acts, *tail;
	size_t i, k = 0;
	o.skip_backup = 1;
	assert_int_equal(ferry_up(e->f, "1.0.0", &o), 0);
	e->fail = 1;
	assert_int_equal(ferry_up(e->f, NULL, &o), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(e->f), "the index server said no"));
	assert_int_equal(ferry_last_run(&text, e->f), 0);
	rj = t_doc_of(text);
	acts = json_object_get(rj, "actions");
	for (i = 0; i < json_array_size(acts); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(acts, i), "status")),
		            "failed"))
			k = i;
	assert_string_equal(json_string_value(json_object_get(json_array_get(acts, k), "id")),
	                    "2.0.0/002_reindex");
	/* After the failing action: exactly the undo plan. */
	tail = json_array();
	for (i = k + 1; i < json_array_size(acts); i++)
		json_array_append(tail, json_array_get(acts, i));
	ran = t_actions_shape(tail);
	planned = t_actions_shape(json_object_get(rj, "undo_plan"));
	assert_string_equal(ran, planned);
	assert_string_equal(planned, "undo 2.0.0/001_c.sql main 1\ncommit - main 1\n");
	assert_false(has_table(e, "main.db", "c"));
	assert_true(has_table(e, "main.db", "a"));
	free(ran);
	free(planned);
	json_decref(tail);
	json_decref(rj);
}

static void test_plan_text_applies_only_where_it_was_made(void **state)
{
	env *e = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_plan *p = NULL, *q = NULL;
	char *text = NULL;
	o.skip_backup = 1;
	assert_int_equal(ferry_plan_for(&p, e->f, "1.0.0", &o), 0);
	assert_int_equal(ferry_plan_json(&text, p), 0);
	ferry_plan_free(p);
	assert_int_equal(ferry_plan_load(&q, e->f, text), 0);
	assert_int_equal(ferry_apply(e->f, q, NULL), 0);
	assert_true(has_table(e, "logs.db", "l"));
	assert_false(has_table(e, "main.db", "c"));
	/* Again: the installation moved on, nothing runs. */
	assert_int_equal(ferry_apply(e->f, q, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(e->f), "the version moved"));
	ferry_plan_free(q);
	/* Text that is no plan. */
	assert_int_equal(ferry_plan_load(&q, e->f, "{\"actions\": []}"), FERRY_EINVALID);
	assert_null(q);
	ferry_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_equals_run_with_native_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_native_step_runs_its_undo_plan, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_plan_text_applies_only_where_it_was_made, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
