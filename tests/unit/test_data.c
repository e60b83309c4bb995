/*
 * test_data.c - lib/data/ (export and import, docs/data.md) below the
 * tool: each value's JSON form and back (64-bit integers exact, reals in
 * their shortest exact form, NaN, text that is not UTF-8, bytes with NUL
 * in them, booleans), the order foreign keys want (a cycle too), SQLite's
 * conversion of a timestamp with a zone, and ferry_export/ferry_import
 * through the public API on SQLite: a round trip, a write callback that
 * refuses, and the refusals that leave the database as it was.
 */
#include "helpers.h"

#include "ferry.h"
#include "data/data.h"
#include "util/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* v written as JSON, read back; the text it was written as in *json (freed by the caller). */
static fr_val round_trip(const fr_val *v, const char *decl, char **json, fr_buf *scratch)
{
	fr_buf b = FR_BUF_INIT, err = FR_BUF_INIT;
	json_error_t je;
	json_t *j;
	fr_val out;
	fr_data_put_value(&b, v, decl, 0);
	assert_false(b.oom);
	j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("not JSON: %s (%s)", b.ptr, je.text);
	if (fr_data_get_value(j, &out, scratch, &err))
		fail_msg("%s: %s", b.ptr, err.ptr);
	/* Text and bytes point into j or scratch: copy what the caller compares. */
	if (out.type == FR_VAL_TEXT && out.p != scratch->ptr) {
		fr_buf_reset(scratch);
		fr_buf_add(scratch, out.p, out.len);
		out.p = scratch->ptr;
	}
	json_decref(j);
	*json = fr_buf_detach(&b);
	fr_buf_release(&err);
	return out;
}

static void test_values(void **state)
{
	fr_buf s = FR_BUF_INIT;
	char *json;
	fr_val v = { .type = FR_VAL_INT }, o;
	static const double reals[] = { 0.1, -1e-300, 1e300, 1.0, 123456789.125, 5e-324 };
	size_t i;
	(void)state;

	v.i = INT64_MAX;
	o = round_trip(&v, "INTEGER", &json, &s);
	assert_string_equal(json, "9223372036854775807");
	assert_true(o.type == FR_VAL_INT && o.i == INT64_MAX);
	fr_free(json);
	v.i = INT64_MIN;
	o = round_trip(&v, "bigint", &json, &s);
	assert_true(o.type == FR_VAL_INT && o.i == INT64_MIN);
	fr_free(json);
	/* A boolean column: true and false, read back as 1 and 0. */
	v.i = 1;
	o = round_trip(&v, "boolean", &json, &s);
	assert_string_equal(json, "true");
	assert_true(o.type == FR_VAL_INT && o.i == 1);
	fr_free(json);
	o = round_trip(&v, "BOOLEAN", &json, &s); /* SQLite's: the 0/1 it keeps */
	assert_string_equal(json, "1");
	fr_free(json);

	v.type = FR_VAL_REAL;
	for (i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		v.r = reals[i];
		o = round_trip(&v, "REAL", &json, &s);
		assert_int_equal(o.type, FR_VAL_REAL);
		assert_true(o.r == reals[i]);
		fr_free(json);
	}
	v.r = 0.1;
	o = round_trip(&v, "REAL", &json, &s);
	assert_string_equal(json, "0.1");
	fr_free(json);
	v.r = 1.0;
	o = round_trip(&v, "REAL", &json, &s);
	assert_string_equal(json, "1.0"); /* a real stays a real */
	fr_free(json);
	v.r = NAN;
	o = round_trip(&v, "REAL", &json, &s);
	assert_string_equal(json, "{\"$real\": \"NaN\"}");
	assert_true(o.type == FR_VAL_REAL && isnan(o.r));
	fr_free(json);
	v.r = -INFINITY;
	o = round_trip(&v, "REAL", &json, &s);
	assert_true(o.type == FR_VAL_REAL && isinf(o.r) && o.r < 0);
	fr_free(json);

	v.type = FR_VAL_TEXT;
	v.p = "q\"u\\o\nte\t\x01\xc3\xa9 \xe2\x9c\x93";
	v.len = strlen(v.p);
	o = round_trip(&v, "TEXT", &json, &s);
	assert_int_equal(o.type, FR_VAL_TEXT);
	assert_int_equal(o.len, v.len);
	assert_memory_equal(o.p, v.p, v.len);
	assert_non_null(strstr(json, "\\u0001"));
	fr_free(json);
	/* Text with a NUL, and text that is not UTF-8 (tagged, bytes kept). */
	v.p = "a\0b";
	v.len = 3;
	o = round_trip(&v, "TEXT", &json, &s);
	assert_int_equal(o.len, 3);
	assert_memory_equal(o.p, "a\0b", 3);
	fr_free(json);
	v.p = "bad \xff\xfe";
	v.len = 6;
	o = round_trip(&v, "TEXT", &json, &s);
	assert_non_null(strstr(json, "$text64"));
	assert_int_equal(o.type, FR_VAL_TEXT);
	assert_memory_equal(o.p, v.p, 6);
	fr_free(json);

	v.type = FR_VAL_BLOB;
	v.p = "\0\xff\0A";
	v.len = 4;
	o = round_trip(&v, "BLOB", &json, &s);
	assert_string_equal(json, "{\"$base64\": \"AP8AQQ==\"}");
	assert_int_equal(o.type, FR_VAL_BLOB);
	assert_int_equal(o.len, 4);
	assert_memory_equal(o.p, v.p, 4);
	fr_free(json);
	v.type = FR_VAL_NULL;
	o = round_trip(&v, "TEXT", &json, &s);
	assert_string_equal(json, "null");
	assert_int_equal(o.type, FR_VAL_NULL);
	fr_free(json);
	fr_buf_release(&s);
}

/* A JSON value an export never writes is refused with a message. */
static void test_bad_values(void **state)
{
	static const char *const bad[] = { "[1]", "{\"$base64\": \"**\"}", "{\"x\": 1}",
	                                   "{\"$real\": \"1.5\"}", "{\"$base64\": 1}" };
	fr_buf s = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_val v;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		fr_buf_reset(&err);
		assert_int_equal(fr_data_get_value(j, &v, &s, &err), -1);
		assert_true(err.len > 0);
		json_decref(j);
	}
	fr_buf_release(&s);
	fr_buf_release(&err);
}

static void test_order(void **state)
{
	char *r_c[] = { (char *)"b" }, *r_b[] = { (char *)"a", (char *)"gone" };
	char *r_x[] = { (char *)"y" }, *r_y[] = { (char *)"x" };
	fr_db_table t[5] = { { 0 } };
	size_t order[5], i, pos[5];
	(void)state;
	t[0].name = (char *)"c", t[0].refs = r_c, t[0].nrefs = 1;
	t[1].name = (char *)"b", t[1].refs = r_b, t[1].nrefs = 2;
	t[2].name = (char *)"a";
	t[3].name = (char *)"x", t[3].refs = r_x, t[3].nrefs = 1;
	t[4].name = (char *)"y", t[4].refs = r_y, t[4].nrefs = 1;
	assert_int_equal(fr_data_order(t, 5, order), 0);
	for (i = 0; i < 5; i++)
		pos[order[i]] = i;
	assert_true(pos[2] < pos[1] && pos[1] < pos[0]); /* a, b, c */
	/* The cycle: each once, broken where it was entered. */
	assert_true(pos[4] < pos[3]);
	assert_non_null(fr_data_table(t, 5, "y"));
	assert_null(fr_data_table(t, 5, "gone"));
}

/* SQLite keeps a timestamp with a zone as UTC text without one. */
static void test_sqlite_timestamps(void **state)
{
	static const char *const cases[][2] = {
		{ "2024-01-02 03:04:05+00", "2024-01-02 03:04:05" },
		{ "2024-01-02 03:04:05.123456+00", "2024-01-02 03:04:05.123456" },
		{ "2024-01-01 01:00:00+05:30", "2023-12-31 19:30:00" },
		{ "2024-02-28T23:30:00-08", "2024-02-29 07:30:00" },
		{ "2024-01-02 03:04:05Z", "2024-01-02 03:04:05" },
		{ "1969-12-31 23:59:59.5+00", "1969-12-31 23:59:59.5" },
	};
	fr_db_column col = { (char *)"at", (char *)"TEXT", 0, 0 };
	fr_buf s = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_val v = { .type = FR_VAL_TEXT };
	size_t i;
	(void)state;
	assert_non_null(fr_db_sqlite.convert);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v.p = cases[i][0];
		v.len = strlen(v.p);
		assert_int_equal(fr_db_sqlite.convert(&col, "timestamp with time zone", &v, &s, &err),
		                 0);
		assert_int_equal(v.len, strlen(cases[i][1]));
		assert_memory_equal(v.p, cases[i][1], v.len);
	}
	/* Other columns' values and types go as they are; a bad timestamp is an error. */
	v.p = "2024-01-02 03:04:05+02";
	v.len = strlen(v.p);
	assert_int_equal(fr_db_sqlite.convert(&col, "text", &v, &s, &err), 0);
	assert_string_equal(v.p, "2024-01-02 03:04:05+02");
	v.p = "soon";
	v.len = 4;
	assert_int_equal(fr_db_sqlite.convert(&col, "timestamptz", &v, &s, &err), -1);
	assert_non_null(strstr(err.ptr, "not a timestamp"));
	fr_buf_release(&s);
	fr_buf_release(&err);
}

/* ---- through the public API ---- */

typedef struct {
	fr_buf text;
	int refuse;   /* the write callback fails */
} sink;

static int to_sink(void *ctx, const char *data, size_t len)
{
	sink *k = ctx;
	if (k->refuse)
		return -1;
	return fr_buf_add(&k->text, data, len);
}

static ferry *install(const char *root)
{
	ferry *f = NULL;
	t_write(root, "ferry.yaml", "app: shop\nmigrations: migrations\ndatabases:\n"
	                            "  main: sqlite:data/app.db\n  copy: sqlite:data/copy.db\n");
	t_write(root, "migrations/.keep", "");
	assert_int_equal(t_sh("mkdir -p '%s/data' && cd '%s/data' && for d in app copy; do "
	                      "sqlite3 $d.db 'CREATE TABLE p (id INTEGER PRIMARY KEY, s TEXT);"
	                      "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id),"
	                      " b BLOB)'; done && sqlite3 app.db \"INSERT INTO p VALUES (1, 'x'),"
	                      " (2, NULL); INSERT INTO c VALUES (9, 2, x'0001')\"", root, root),
	                 0);
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	return f;
}

static void test_api_round_trip(void **state)
{
	char *root = t_tmpdir(), *doc = NULL, *path = NULL;
	ferry *f = install(root);
	ferry_export_options eo = FERRY_EXPORT_OPTIONS_INIT;
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	sink k = { FR_BUF_INIT, 0 };
	json_t *j;
	(void)state;

	assert_int_equal(ferry_export(&doc, f, NULL, to_sink, &k), 0);
	j = t_doc_of(doc);
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")), (json_int_t)k.text.len);
	/* p before c: its foreign key. */
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(j, "tables"), 0), "name")), "p");
	json_decref(j);
	path = t_path(root, "x.jsonl");
	t_write(root, "x.jsonl", k.text.ptr);

	io.database = "copy";
	assert_int_equal(ferry_import(&doc, f, path, &io), 0);
	j = t_doc_of(doc);
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 3);
	json_decref(j);
	assert_int_equal(t_sh("cd '%s/data' && test \"$(sqlite3 app.db .dump)\" = "
	                      "\"$(sqlite3 copy.db .dump)\"", root), 0);
	/* Again: the tables hold rows now. */
	assert_int_equal(ferry_import(NULL, f, path, &io), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "holds rows already"));

	/* One table; an unknown one; an unknown database. */
	fr_buf_reset(&k.text);
	{
		const char *only[] = { "c" };
		eo.tables = only;
		eo.ntables = 1;
		assert_int_equal(ferry_export(NULL, f, &eo, to_sink, &k), 0);
		assert_null(strstr(k.text.ptr, "\"$table\":\"p\""));
		only[0] = "nope";
		assert_int_equal(ferry_export(NULL, f, &eo, to_sink, &k), FERRY_EINVALID);
		assert_non_null(strstr(ferry_errmsg(f), "no table 'nope'"));
		eo.tables = NULL;
		eo.database = "nope";
		assert_int_equal(ferry_export(NULL, f, &eo, to_sink, &k), FERRY_EINVALID);
	}
	/* A write callback that refuses stops the export. */
	k.refuse = 1;
	assert_int_equal(ferry_export(&doc, f, NULL, to_sink, &k), FERRY_EFAILED);
	assert_null(doc);
	assert_non_null(strstr(ferry_errmsg(f), "writing the export failed"));
	assert_int_equal(ferry_import(NULL, f, "/nonexistent/x.jsonl", &io), FERRY_EINVALID);
	fr_buf_release(&k.text);
	free(path);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

/* A row that breaks the file's shape, deep in it: nothing before it stays. */
static void test_api_bad_row(void **state)
{
	char *root = t_tmpdir(), *path;
	ferry *f = install(root);
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	sink k = { FR_BUF_INIT, 0 };
	char *at;
	(void)state;
	assert_int_equal(ferry_export(NULL, f, NULL, to_sink, &k), 0);
	at = strstr(k.text.ptr, "{\"id\": 9");
	assert_non_null(at);
	memcpy(at, "[\"id\"  ", 7);
	t_write(root, "x.jsonl", k.text.ptr);
	path = t_path(root, "x.jsonl");
	io.database = "copy";
	assert_int_equal(ferry_import(NULL, f, path, &io), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "table 'c'"));
	assert_int_equal(t_sh("test \"$(sqlite3 '%s/data/copy.db' 'SELECT count(*) FROM p')\" = 0",
	                      root), 0);
	fr_buf_release(&k.text);
	free(path);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_sqlite_timestamps),
		cmocka_unit_test(test_api_round_trip),
		cmocka_unit_test(test_api_bad_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
