/*
 * test_jsonw.c - lib/util/jsonw.c writes what jansson's json_dumps writes
 * for the tree built with the same calls: thousands of generated documents
 * (nesting, empty containers, escapes, UTF-8, strings that are not UTF-8,
 * integers at their limits, reals of every size), compared byte for byte
 * with JSON_INDENT(2) and with no indent; unbalanced documents are refused;
 * and the plan document's actions (lib/actions.c) equal fr_actions_json()
 * for every kind of action.
 */
#include "helpers.h"
#include "actions.h"
#include "util/jsonw.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t seed;

static uint32_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

static const char *const strings[] = {
	"", "plain", "quote \" and backslash \\", "tab\tnewline\nreturn\r", "\b\f\x01\x1f\x7f",
	"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2", "slash / stays",
	"\xc3", /* cut short: not UTF-8 */
	"\xed\xa0\x80", /* a surrogate: not UTF-8 */
	"\xc0\xaf", /* overlong: not UTF-8 */
	"0.1.0/0.1.0_create_t00001.sql",
};

static const double reals[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1.0 / 3, 10000.0, 123456789.0, 1e17, 1e21, 1e300, 1e-7,
	2.5e-300, 4.9e-324, -7.25e100, 3.0e-5, 1.7976931348623157e308,
};

static void gen(fr_jw *w, json_t *parent, int depth, int *serial);

/* One member, added to parent (an object when key is set) and written. */
static void add(json_t *parent, const char *key, json_t *v)
{
	if (json_is_object(parent))
		json_object_set_new(parent, key, v);
	else
		json_array_append_new(parent, v);
}

static void gen_member(fr_jw *w, json_t *parent, int depth, int *serial)
{
	char key[32];
	const char *k = NULL;
	uint32_t pick = rnd() % (depth > 3 ? 7 : 9);
	if (json_is_object(parent)) {
		/* Keys are unique (jansson would replace a second one); one needs escaping. */
		int n = (*serial)++;
		snprintf(key, sizeof key, n % 5 ? "k%d" : "k\"\n%d", n);
		k = key;
	}
	switch (pick) {
	case 0: {
		const char *s = strings[rnd() % (sizeof strings / sizeof *strings)];
		add(parent, k, json_string(s)); /* NULL when not UTF-8: nothing added */
		fr_jw_str(w, k, s);
		break;
	}
	case 1:
		add(parent, k, json_null());
		if (rnd() % 2)
			fr_jw_str(w, k, NULL);
		else
			fr_jw_null(w, k);
		break;
	case 2: {
		int b = (int)(rnd() % 2);
		add(parent, k, json_boolean(b));
		fr_jw_bool(w, k, b);
		break;
	}
	case 3: {
		static const int64_t ints[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000000000 };
		int64_t v = ints[rnd() % (sizeof ints / sizeof *ints)];
		add(parent, k, json_integer(v));
		fr_jw_int(w, k, v);
		break;
	}
	case 4:
	case 5: {
		double v = reals[rnd() % (sizeof reals / sizeof *reals)];
		if (rnd() % 4 == 0)
			v = (double)(rnd() % 100000) / (double)(1 + rnd() % 1000);
		add(parent, k, json_real(v));
		fr_jw_real(w, k, v);
		break;
	}
	case 6:
		/* jansson has no NaN or infinity: neither is added. */
		add(parent, k, json_real(rnd() % 2 ? NAN : INFINITY));
		fr_jw_real(w, k, rnd() % 2 ? NAN : -INFINITY);
		break;
	default: {
		json_t *c = pick == 7 ? json_object() : json_array();
		if (pick == 7)
			fr_jw_object(w, k);
		else
			fr_jw_array(w, k);
		gen(w, c, depth + 1, serial);
		fr_jw_end(w);
		add(parent, k, c);
		break;
	}
	}
}

/* Fills container (already open in w) with 0 to 5 members. */
static void gen(fr_jw *w, json_t *container, int depth, int *serial)
{
	uint32_t i, n = rnd() % 6;
	for (i = 0; i < n; i++)
		gen_member(w, container, depth, serial);
}

static void check_one(uint32_t s, int indent)
{
	fr_buf b = FR_BUF_INIT;
	fr_jw w;
	json_t *doc;
	char *want;
	int serial = 0, is_array;
	seed = s;
	is_array = (int)(rnd() % 2);
	doc = is_array ? json_array() : json_object();
	fr_jw_init(&w, &b, indent);
	if (is_array)
		fr_jw_array(&w, NULL);
	else
		fr_jw_object(&w, NULL);
	gen(&w, doc, 0, &serial);
	fr_jw_end(&w);
	assert_int_equal(fr_jw_finish(&w), 0);
	want = json_dumps(doc, (indent ? JSON_INDENT(indent) : 0) | JSON_PRESERVE_ORDER);
	assert_non_null(want);
	if (strcmp(want, b.ptr)) {
		fprintf(stderr, "seed %u indent %d:\njansson:\n%s\njsonw:\n%s\n", s, indent, want,
		        b.ptr);
		fail();
	}
	free(want);
	json_decref(doc);
	fr_buf_release(&b);
}

static void test_same_bytes_as_jansson(void **state)
{
	uint32_t s;
	(void)state;
	for (s = 1; s <= 3000; s++) {
		check_one(s, 2);
		check_one(s, 0);
		check_one(s, 4);
	}
}

static void test_reals_as_jansson(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof reals / sizeof *reals; i++) {
		fr_buf b = FR_BUF_INIT;
		fr_jw w;
		json_t *v = json_real(reals[i]);
		char *want = json_dumps(v, JSON_ENCODE_ANY);
		fr_jw_init(&w, &b, 2);
		fr_jw_real(&w, NULL, reals[i]);
		assert_string_equal(b.ptr, want);
		/* and it reads back as the same double */
		assert_true(strtod(b.ptr, NULL) == reals[i]);
		free(want);
		json_decref(v);
		fr_buf_release(&b);
	}
}

static void test_unbalanced_is_refused(void **state)
{
	fr_buf b = FR_BUF_INIT;
	fr_jw w;
	int i;
	(void)state;
	fr_jw_init(&w, &b, 2);
	fr_jw_object(&w, NULL);
	fr_jw_array(&w, "open");
	fr_jw_end(&w);
	assert_int_not_equal(fr_jw_finish(&w), 0); /* the object is still open */
	fr_jw_end(&w);
	assert_int_equal(fr_jw_finish(&w), 0);
	fr_jw_end(&w); /* one end too many */
	assert_int_not_equal(fr_jw_finish(&w), 0);
	fr_buf_reset(&b);
	fr_jw_init(&w, &b, 2);
	for (i = 0; i < FR_JW_DEPTH + 3; i++)
		fr_jw_array(&w, NULL);
	for (i = 0; i < FR_JW_DEPTH + 3; i++)
		fr_jw_end(&w);
	assert_int_not_equal(fr_jw_finish(&w), 0); /* deeper than it keeps */
	fr_buf_release(&b);
}

/* Every kind of action, with and without its optional fields. */
static void test_actions_as_fr_actions_json(void **state)
{
	fr_action a[12];
	fr_buf b = FR_BUF_INIT;
	fr_jw w;
	json_t *tree;
	char *want;
	(void)state;
	memset(a, 0, sizeof a);
	a[0].kind = FR_ACT_BACKUP, a[0].id = "pre-run";
	a[1].kind = FR_ACT_BACKUP, a[1].id = "pre-run", a[1].reuse = "20261204T010203Z-ab12";
	a[2].kind = FR_ACT_BACKUP, a[2].id = "checkpoint", a[2].version.minor = 3;
	a[3].kind = FR_ACT_HOOK, a[3].id = "restart.web";
	a[4].kind = FR_ACT_STEP, a[4].id = "0.1.0/001_a.sql", a[4].database = "main", a[4].tx = 1,
	a[4].reversible = 1;
	a[5].kind = FR_ACT_STEP, a[5].id = "0.1.0/002_b.sh", a[5].rerun = 1, a[5].empty = 1;
	a[6].kind = FR_ACT_COMMIT, a[6].database = "main", a[6].tx = 1;
	a[7].kind = FR_ACT_VERSION, a[7].version.major = 1, a[7].version.minor = 2;
	a[8].kind = FR_ACT_ROLLBACK, a[8].database = "logs", a[8].tx = 2;
	a[9].kind = FR_ACT_UNDO, a[9].id = "0.1.0/001_a.sql", a[9].database = "main", a[9].tx = 3;
	a[10].kind = FR_ACT_RESTORE, a[10].id = "20261204T010203Z-ab12";
	a[11].kind = FR_ACT_STEP, a[11].id = "caf\xc3\xa9\n\"x\".sql", a[11].database = "main";
	tree = fr_actions_json(a, 12);
	want = json_dumps(tree, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fr_jw_init(&w, &b, 2);
	fr_actions_write(&w, NULL, a, 12);
	assert_int_equal(fr_jw_finish(&w), 0);
	assert_string_equal(b.ptr, want);
	free(want);
	json_decref(tree);
	fr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_as_jansson),
		cmocka_unit_test(test_reals_as_jansson),
		cmocka_unit_test(test_unbalanced_is_refused),
		cmocka_unit_test(test_actions_as_fr_actions_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
