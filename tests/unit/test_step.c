/*
 * test_step.c - the step kind table and its wrappers (lib/step/step.c):
 * every kind in the table provides what it must and an incomplete one is
 * refused, flags and nouns asked through the wrappers, the kind `ferry new`
 * makes by name or extension, and each kind's template: filled with a
 * name, told apart from an edited file, refused by fr_step_load naming the
 * file.
 */
#include "helpers.h"

#include "step/step.h"

#include <stdlib.h>
#include <string.h>

static const fr_step_kind *const all[] = {
	&fr_step_sql, &fr_step_script, &fr_step_ops, &fr_step_native, NULL,
};

static void test_every_kind_is_complete(void **state)
{
	fr_buf why = FR_BUF_INIT;
	(void)state;
	for (size_t i = 0; all[i]; i++)
		if (fr_step_kind_complete(all[i], &why))
			fail_msg("%s", why.ptr);
	fr_buf_release(&why);
}

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

/* Each kind's template holds the name, in a file its kind claims; any name is the template. */
static void test_templates(void **state)
{
	static const fr_step_kind *const makers[] = { &fr_step_sql, &fr_step_script, &fr_step_ops };
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		int (*is)(const char *, size_t) = makers[i]->is_template;
		fr_buf t = FR_BUF_INIT, u = FR_BUF_INIT, name = FR_BUF_INIT;
		const char *ext;
		assert_non_null(is);
		assert_int_equal(fr_kind_new_template(makers[i], "add_pins-2", &t, &ext), 0);
		assert_non_null(strstr(t.ptr, "add_pins-2"));
		fr_buf_printf(&name, "001_x.%s", ext);
		assert_ptr_equal(fr_step_kind_for(name.ptr, makers[i] == &fr_step_script), makers[i]);
		assert_true(is(t.ptr, t.len));
		assert_int_equal(fr_kind_new_template(makers[i], "other", &u, &ext), 0);
		assert_true(is(u.ptr, u.len));
		fr_buf_puts(&u, "# edited\n");
		assert_false(is(u.ptr, u.len));
		assert_false(is(t.ptr, t.len - 1));
		fr_buf_release(&t);
		fr_buf_release(&u);
		fr_buf_release(&name);
	}
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

/* fr_step_load refuses an untouched template naming the file; once edited it loads. */
static void test_load_refuses_untouched(void **state)
{
	static const fr_step_kind *const makers[] = { &fr_step_sql, &fr_step_script, &fr_step_ops };
	char *dir = t_tmpdir();
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		fr_buf t = FR_BUF_INIT, err = FR_BUF_INIT, want = FR_BUF_INIT;
		const char *ext;
		fr_step s;
		char rel[64];
		memset(&s, 0, sizeof s);
		assert_int_equal(fr_kind_new_template(makers[i], "thing", &t, &ext), 0);
		snprintf(rel, sizeof rel, "001_thing.%s", ext);
		t_write(dir, rel, t.ptr);
		s.kind = makers[i];
		s.path = t_path(dir, rel);
		s.rel = rel;
		s.name = rel;
		s.id = rel;
		s.executable = 1;
		assert_true(fr_step_untouched(&s));
		assert_int_equal(fr_step_load(&s, &err), -1);
		fr_buf_printf(&want, "%s: still the untouched template of 'ferry new'; write the %s's "
		                     "change in it (or delete the file)", rel, fr_kind_noun(makers[i]));
		assert_string_equal(err.ptr, want.ptr);
		assert_false(s.loaded);
		/* edited: the SQL one gets a statement, the others an uncommented line */
		fr_buf_reset(&t);
		if (makers[i] == &fr_step_sql)
			fr_buf_puts(&t, "-- ferry:up\nCREATE TABLE t (x);\n");
		else if (makers[i] == &fr_step_ops)
			fr_buf_puts(&t, "ops:\n  - mkdir: {path: data/x}\n");
		else
			fr_buf_puts(&t, "#!/bin/sh\nexit 0\n");
		t_write(dir, rel, t.ptr);
		s.checksum[0] = '\0';
		assert_false(fr_step_untouched(&s));
		fr_buf_reset(&err);
		if (fr_step_load(&s, &err))
			fail_msg("%s", err.ptr);
		assert_true(s.loaded);
		if (s.kind->unload)
			s.kind->unload(&s);
		free(s.path);
		fr_buf_release(&t);
		fr_buf_release(&err);
		fr_buf_release(&want);
	}
	t_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_is_complete),
		cmocka_unit_test(test_incomplete_kind_refused),
		cmocka_unit_test(test_flags_and_nouns),
		cmocka_unit_test(test_kind_for_new),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_template_matching),
		cmocka_unit_test(test_load_refuses_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
