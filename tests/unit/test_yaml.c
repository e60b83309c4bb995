/*
 * test_yaml.c - lib/util/yaml.c: the tree, 1-based positions, and the
 * errors that name file, line and column.
 */
#include "helpers.h"
#include "util/alloc.h"
#include "util/yaml.h"

#include <stdlib.h>
#include <string.h>

/* Parses text; on success returns the tree, else NULL with the message in err. */
static fr_yaml *parse(const char *text, fr_buf *err)
{
	fr_yaml *y = NULL;
	int r = fr_yaml_parse(&y, "f.yaml", text, strlen(text), err);
	if (r == 0)
		assert_non_null(y);
	else
		assert_null(y);
	return y;
}

/* Asserts that text fails with exactly the message want. */
static void expect_error(const char *text, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_yaml *y = parse(text, &err);
	assert_null(y);
	assert_string_equal(err.ptr, want);
	fr_buf_release(&err);
}

static void test_tree(void **state)
{
	fr_buf err = FR_BUF_INIT;
	const fr_yaml *v;
	fr_yaml *y = parse("# header\n"
	                   "name: ferry\n"
	                   "list:\n"
	                   "  - one\n"
	                   "  - 'two'\n"
	                   "nested:\n"
	                   "    deep: {a: 1, b: [x, y]}\n"
	                   "quoted: \"null\"\n"
	                   "empty:\n", &err);
	assert_string_equal(err.ptr, "");
	assert_int_equal(y->kind, FR_YAML_MAP);
	assert_int_equal(y->n, 5);
	/* Keys in file order, with their lines. */
	assert_string_equal(y->keys[0], "name");
	assert_string_equal(y->keys[1], "list");
	assert_string_equal(y->keys[2], "nested");
	assert_string_equal(y->keys[3], "quoted");
	assert_string_equal(y->keys[4], "empty");
	assert_int_equal(y->key_lines[0], 2);
	assert_int_equal(y->key_lines[4], 9);

	v = fr_yaml_get(y, "name");
	assert_non_null(v);
	assert_int_equal(v->kind, FR_YAML_SCALAR);
	assert_string_equal(v->scalar, "ferry");
	assert_int_equal(v->plain, 1);
	assert_int_equal(v->line, 2);
	assert_int_equal(v->col, 7);

	v = fr_yaml_get(y, "list");
	assert_int_equal(v->kind, FR_YAML_SEQ);
	assert_int_equal(v->n, 2);
	assert_string_equal(v->items[0]->scalar, "one");
	assert_int_equal(v->items[0]->line, 4);
	assert_int_equal(v->items[0]->col, 5);
	assert_string_equal(v->items[1]->scalar, "two");
	assert_int_equal(v->items[1]->plain, 0);

	v = fr_yaml_get(fr_yaml_get(y, "nested"), "deep");
	assert_non_null(v);
	assert_int_equal(v->kind, FR_YAML_MAP);
	assert_int_equal(v->line, 7);
	assert_int_equal(v->col, 11);
	assert_string_equal(fr_yaml_get(v, "a")->scalar, "1");
	assert_int_equal(fr_yaml_get(v, "b")->kind, FR_YAML_SEQ);
	assert_string_equal(fr_yaml_get(v, "b")->items[1]->scalar, "y");

	/* A quoted "null" is a string; an empty value is null. */
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "quoted")), 0);
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "empty")), 1);
	assert_string_equal(fr_yaml_get(y, "empty")->scalar, "");

	assert_null(fr_yaml_get(y, "missing"));
	assert_null(fr_yaml_get(fr_yaml_get(y, "name"), "x")); /* not a mapping */
	assert_null(fr_yaml_get(NULL, "x"));
	fr_yaml_free(y);
	fr_buf_release(&err);
}

static void test_empty_documents(void **state)
{
	static const char *const texts[] = { "", "# only a comment\n", "---\n", "~\n", "\n\n" };
	size_t i;
	for (i = 0; i < sizeof texts / sizeof *texts; i++) {
		fr_buf err = FR_BUF_INIT;
		fr_yaml *y = parse(texts[i], &err);
		assert_int_equal(y->kind, FR_YAML_MAP);
		assert_int_equal(y->n, 0);
		assert_null(fr_yaml_get(y, "a"));
		fr_yaml_free(y);
		fr_buf_release(&err);
	}
}

static void test_root_kinds(void **state)
{
	fr_buf err = FR_BUF_INIT;
	fr_yaml *y = parse("- a\n- b\n", &err);
	assert_int_equal(y->kind, FR_YAML_SEQ);
	assert_int_equal(y->n, 2);
	fr_yaml_free(y);
	y = parse("just text\n", &err);
	assert_int_equal(y->kind, FR_YAML_SCALAR);
	assert_string_equal(y->scalar, "just text");
	fr_yaml_free(y);
	fr_buf_release(&err);
}

/* A UTF-8 byte order mark is no character of the first line (tests/fuzz, fuzz_edit). */
static void test_byte_order_mark(void **state)
{
	fr_buf err = FR_BUF_INIT;
	fr_yaml *y = parse("\xEF\xBB\xBF" "a: 1\nb:\n  c: 2\n", &err);
	assert_int_equal(y->kind, FR_YAML_MAP);
	assert_int_equal(y->n, 2);
	assert_string_equal(fr_yaml_get(y, "a")->scalar, "1");
	assert_int_equal(fr_yaml_get(y, "b")->line, 3);
	fr_yaml_free(y);
	fr_buf_release(&err);
}

static void test_syntax_errors(void **state)
{
	expect_error("a: [1, 2\nb: 3\n",
	             "f.yaml:2:2: did not find expected ',' or ']' "
	             "(while parsing a flow sequence at line 1)");
	expect_error("a: 1\n b: 2\n",
	             "f.yaml:2:3: mapping values are not allowed in this context");
	expect_error("a: 1\nb: 2\n  c: 3\n",
	             "f.yaml:3:4: mapping values are not allowed in this context");
	expect_error("a:\n\t- x\n", "f.yaml:2:1: found character that cannot start any token "
	             "(while scanning for the next token at line 2)");
	expect_error("ok: 1\nkey: 'unterminated\n", "f.yaml:3:1: found unexpected end of stream "
	             "(while scanning a quoted scalar at line 2)");
	expect_error("- a\nb: 1\n", "f.yaml:2:1: did not find expected '-' indicator "
	             "(while parsing a block collection at line 1)");
}

static void test_invalid_utf8(void **state)
{
	expect_error("a: 1\nx: \xff\xfe\n", "f.yaml:2:4: invalid leading UTF-8 octet");
}

static void test_anchors_and_aliases(void **state)
{
	expect_error("a: &x 1\nb: *x\n", "f.yaml:1:4: anchors and aliases are not supported\n"
	             "f.yaml:2:4: anchors and aliases are not supported");
	expect_error("base: &b {k: v}\n", "f.yaml:1:7: anchors and aliases are not supported");
	expect_error("l: &s [1]\n", "f.yaml:1:4: anchors and aliases are not supported");
}

static void test_multi_document(void **state)
{
	expect_error("a: 1\n---\nb: 2\n", "f.yaml:2:1: multiple documents are not supported");
	/* One explicit document is fine. */
	{
		fr_buf err = FR_BUF_INIT;
		fr_yaml *y = parse("---\na: 1\n...\n", &err);
		assert_string_equal(fr_yaml_get(y, "a")->scalar, "1");
		fr_yaml_free(y);
		fr_buf_release(&err);
	}
}

static void test_non_scalar_keys(void **state)
{
	expect_error("? [a]\n: 1\n", "f.yaml:1:3: mapping keys must be scalars");
	expect_error("{[a]: 1, {b: c}: 2}\n", "f.yaml:1:2: mapping keys must be scalars\n"
	             "f.yaml:1:10: mapping keys must be scalars");
}

static void test_duplicate_keys(void **state)
{
	expect_error("a: 1\nb: 2\na: 3\n", "f.yaml:3:1: duplicate key 'a' (first at line 1)");
	expect_error("top:\n  x: 1\n  y: 2\n  x: 3\nother:\n  x: 1\n",
	             "f.yaml:4:3: duplicate key 'x' (first at line 2)");
	/* Every duplicate is reported, not just the first. */
	expect_error("a: 1\nb: 1\na: 2\nb: 2\n",
	             "f.yaml:3:1: duplicate key 'a' (first at line 1)\n"
	             "f.yaml:4:1: duplicate key 'b' (first at line 2)");
	expect_error("{a: 1, a: 2}\n", "f.yaml:1:8: duplicate key 'a' (first at line 1)");
	/* The same key in two mappings is fine. */
	{
		fr_buf err = FR_BUF_INIT;
		fr_yaml *y = parse("- {a: 1}\n- {a: 2}\n", &err);
		assert_int_equal(y->n, 2);
		fr_yaml_free(y);
		fr_buf_release(&err);
	}
}

static void test_errors_append_lines(void **state)
{
	fr_buf err = FR_BUF_INIT;
	fr_yaml *y = NULL;
	fr_buf_puts(&err, "earlier problem");
	assert_int_equal(fr_yaml_parse(&y, "g.yaml", "a: 1\na: 2\n", 10, &err), -1);
	assert_null(y);
	assert_string_equal(err.ptr, "earlier problem\ng.yaml:2:1: duplicate key 'a' "
	                    "(first at line 1)");
	fr_buf_release(&err);
}

static void test_deep_nesting(void **state)
{
	fr_buf err = FR_BUF_INIT, text = FR_BUF_INIT;
	fr_yaml *y;
	int i;
	for (i = 0; i < 5000; i++)
		fr_buf_putc(&text, '[');
	for (i = 0; i < 5000; i++)
		fr_buf_putc(&text, ']');
	assert_int_equal(fr_yaml_parse(&y, "f.yaml", text.ptr, text.len, &err), -1);
	assert_null(y);
	assert_non_null(strstr(err.ptr, "f.yaml:1:"));
	assert_non_null(strstr(err.ptr, "nesting deeper than"));
	fr_buf_release(&err);
	fr_buf_release(&text);

	/* 100 levels are fine. */
	for (i = 0; i < 100; i++)
		fr_buf_putc(&text, '[');
	for (i = 0; i < 100; i++)
		fr_buf_putc(&text, ']');
	assert_int_equal(fr_yaml_parse(&y, "f.yaml", text.ptr, text.len, &err), 0);
	fr_yaml_free(y);
	fr_buf_release(&text);
	fr_buf_release(&err);
}

static void test_bool_and_null(void **state)
{
	fr_buf err = FR_BUF_INIT;
	int b = -1;
	fr_yaml *y = parse("t1: true\nt2: Yes\nt3: ON\nf1: false\nf2: no\nf3: Off\n"
	                   "q: 'true'\nn: 1\nm: {}\nn1: null\nn2: ~\nn3: NULL\nn4: 'null'\n"
	                   "tagged: !!str true\n", &err);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "t1"), &b), 0);
	assert_int_equal(b, 1);
	b = -1;
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "t2"), &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "t3"), &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "f1"), &b), 0);
	assert_int_equal(b, 0);
	b = -1;
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "f2"), &b), 0);
	assert_int_equal(b, 0);
	b = -1;
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "f3"), &b), 0);
	assert_int_equal(b, 0);
	b = 7;
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "q"), &b), -1);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "n"), &b), -1);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "m"), &b), -1);
	assert_int_equal(fr_yaml_bool(fr_yaml_get(y, "tagged"), &b), -1);
	assert_int_equal(fr_yaml_bool(NULL, &b), -1);
	assert_int_equal(b, 7);

	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "n1")), 1);
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "n2")), 1);
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "n3")), 1);
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "n4")), 0);
	assert_int_equal(fr_yaml_is_null(fr_yaml_get(y, "m")), 0);
	assert_int_equal(fr_yaml_is_null(NULL), 0);

	assert_string_equal(fr_yaml_kind_name(FR_YAML_SCALAR), "scalar");
	assert_string_equal(fr_yaml_kind_name(FR_YAML_MAP), "mapping");
	assert_string_equal(fr_yaml_kind_name(FR_YAML_SEQ), "sequence");
	fr_yaml_free(y);
	fr_buf_release(&err);
}

static void test_load_file(void **state)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "x.yaml"), *missing = t_path(dir, "no.yaml");
	fr_buf err = FR_BUF_INIT, want = FR_BUF_INIT;
	fr_yaml *y = NULL;
	t_write(dir, "x.yaml", "a: 1\nb:\n  - c\n  - c: d\n    c: e\n");
	assert_int_equal(fr_yaml_load_file(&y, path, &err), -1);
	assert_null(y);
	fr_buf_printf(&want, "%s:5:5: duplicate key 'c' (first at line 4)", path);
	assert_string_equal(err.ptr, want.ptr);

	fr_buf_reset(&err);
	fr_buf_reset(&want);
	assert_int_equal(fr_yaml_load_file(&y, missing, &err), -1);
	fr_buf_printf(&want, "%s: No such file or directory", missing);
	assert_string_equal(err.ptr, want.ptr);

	fr_buf_reset(&err);
	t_write(dir, "x.yaml", "a: 1\r\nb: two\r\n");
	assert_int_equal(fr_yaml_load_file(&y, path, &err), 0);
	assert_string_equal(fr_yaml_get(y, "b")->scalar, "two");
	assert_int_equal(fr_yaml_get(y, "b")->line, 2);
	fr_yaml_free(y);

	fr_yaml_free(NULL);
	fr_buf_release(&err);
	fr_buf_release(&want);
	t_rmrf(dir);
	free(dir);
	free(path);
	free(missing);
}

/* Every allocation failing in turn: no crash, no leak, "out of memory". */
static void test_out_of_memory(void **state)
{
	static const char text[] = "a: 1\nb: [x, y, z, w, v]\nc:\n  d: {e: f}\n  g: h\n";
	long n;
	int done = 0;
	for (n = 0; !done && n < 1000; n++) {
		fr_buf err = FR_BUF_INIT;
		fr_yaml *y = NULL;
		int r;
		fr_alloc_fail_after(n);
		r = fr_yaml_parse(&y, "f.yaml", text, sizeof text - 1, &err);
		fr_alloc_fail_after(-1);
		if (r == 0) {
			assert_string_equal(fr_yaml_get(fr_yaml_get(y, "c"), "g")->scalar, "h");
			done = 1;
		} else {
			assert_null(y);
			/* The message itself may not have fitted. */
			assert_true(err.oom || strstr(err.ptr, "out of memory"));
		}
		fr_yaml_free(y);
		fr_buf_release(&err);
	}
	assert_true(done);
	assert_true(n > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_empty_documents),
		cmocka_unit_test(test_root_kinds),
		cmocka_unit_test(test_byte_order_mark),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_anchors_and_aliases),
		cmocka_unit_test(test_multi_document),
		cmocka_unit_test(test_non_scalar_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_errors_append_lines),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_bool_and_null),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
