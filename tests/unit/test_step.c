/*
 * test_step.c - the step kind table and its wrappers (lib/step/step.c): an
 * incomplete kind is refused, flags and nouns asked through the wrappers,
 * the kind `ferry new` makes by name or extension, the lists messages give,
 * and template filling and matching. What every kind promises (complete,
 * its files, its template refused untouched...) is test_kinds.c's.
 */
#include "helpers.h"

#include "step/step.h"

#include <stdlib.h>
#include <string.h>

static int no_claims(const char *filename, int executable)
{
	(void)filename;
	(void)executable;
	return 0;
}

static void test_incomplete_kind_refused(void **state)
{
	fr_step_kind k;
	fr_buf why = FR_BUF_INIT;
	(void)state;
	memset(&k, 0, sizeof k);
	k.name = "mock";
	k.claims = no_claims;
	assert_int_equal(fr_step_kind_complete(&k, &why), -1);
	assert_string_equal(why.ptr, "noun, load, database, transactional, reversible, forward, "
	                             "undo_text, undo, describe missing in step kind 'mock'");
	/* A kind without files needs no load; a template needs its two partners. */
	k = fr_step_native;
	k.new_ext = "c";
	fr_buf_reset(&why);
	assert_int_equal(fr_step_kind_complete(&k, &why), -1);
	assert_string_equal(why.ptr, "new_template, is_template missing in step kind 'native'");
	fr_buf_release(&why);
}

static void test_flags_and_nouns(void **state)
{
	(void)state;
	assert_true(fr_kind_has(&fr_step_sql, FR_KIND_NEEDS_DB));
	assert_false(fr_kind_has(&fr_step_script, FR_KIND_NEEDS_DB));
	assert_true(fr_kind_has(&fr_step_native, FR_KIND_NO_FILE));
	assert_false(fr_kind_has(&fr_step_ops, FR_KIND_NO_FILE));
	assert_true(fr_kind_has(&fr_step_script, FR_KIND_EXECUTABLE));
	assert_false(fr_kind_has(NULL, FR_KIND_NO_FILE));
	assert_ptr_equal(fr_step_kind_with(FR_KIND_NO_FILE), &fr_step_native);
	assert_string_equal(fr_kind_noun(&fr_step_sql), "SQL step");
	assert_string_equal(fr_kind_noun(&fr_step_ops), "ops step");
	assert_string_equal(fr_kind_noun(&fr_step_native), "native step");
	assert_string_equal(fr_kind_noun(NULL), "step");
}

static void test_kind_for_new(void **state)
{
	fr_buf b = FR_BUF_INIT;
	(void)state;
	assert_ptr_equal(fr_step_kind_for_new(NULL), &fr_step_sql);
	assert_ptr_equal(fr_step_kind_default(), &fr_step_sql);
	assert_ptr_equal(fr_step_kind_for_new("sql"), &fr_step_sql);
	assert_ptr_equal(fr_step_kind_for_new("sh"), &fr_step_script);
	assert_ptr_equal(fr_step_kind_for_new("script"), &fr_step_script);
	assert_ptr_equal(fr_step_kind_for_new("ops"), &fr_step_ops);
	assert_ptr_equal(fr_step_kind_for_new("yaml"), &fr_step_ops);
	assert_null(fr_step_kind_for_new("native")); /* registered in C, never a file */
	assert_null(fr_step_kind_for_new("py"));
	fr_step_kinds_new_list(&b);
	assert_string_equal(b.ptr, "sql, ops (*.yaml), script (*.sh)");
	fr_buf_reset(&b);
	fr_step_kinds_files(&b);
	assert_string_equal(b.ptr, "SQL steps *.sql, ops steps *.yaml or *.yml, and script steps "
	                           "*.sh or any executable file");
	fr_buf_release(&b);
}

static void test_template_matching(void **state)
{
	const char *tmpl = "-- {name}\nbody {name}.\n";
	fr_buf b = FR_BUF_INIT;
	(void)state;
	assert_int_equal(fr_template_fill(&b, tmpl, "a_b-1"), 0);
	assert_string_equal(b.ptr, "-- a_b-1\nbody a_b-1.\n");
	assert_true(fr_template_matches(tmpl, b.ptr, b.len));
	assert_true(fr_template_matches(tmpl, "-- x\nbody y.\n", 13));
	assert_false(fr_template_matches(tmpl, "-- \nbody y.\n", 12));     /* no name */
	assert_false(fr_template_matches(tmpl, "-- x\nbody y.\nz", 14));   /* more after */
	assert_false(fr_template_matches(tmpl, "-- x\nbody y", 11));       /* cut short */
	assert_false(fr_template_matches(tmpl, "-- x y\nbody y.\n", 15));
	fr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incomplete_kind_refused),
		cmocka_unit_test(test_flags_and_nouns),
		cmocka_unit_test(test_kind_for_new),
		cmocka_unit_test(test_template_matching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
