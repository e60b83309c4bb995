/* test_plan.c - paths through the version graph: hops, shortcuts, stops, bumps, errors, dot. */
#include "helpers.h"

#include "ferry.h"
#include "plan.h"
#include "util/alloc.h"

#include <string.h>

#define UP "-- ferry:up\nSELECT 1;\n"

typedef struct {
	char *root;
	char *dir;
	fr_catalog *cat;
	struct ferry_plan *plan;
	fr_buf err;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->root = t_tmpdir();
	f->dir = t_path(f->root, "migrations");
	fr_buf_init(&f->err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	fr_plan_free(f->plan);
	fr_catalog_free(f->cat);
	fr_buf_release(&f->err);
	t_rmrf(f->root);
	free(f->dir);
	free(f->root);
	free(f);
	return 0;
}

/*
 * A transition folder with n steps (and transition.yaml text when yaml is
 * not NULL). Step ids are "<to>/<file name>", so folders that lead to the
 * same version need distinct file names: the folder's name is in each.
 */
static void tr(fixture *f, const char *folder, int n, const char *yaml)
{
	char rel[256];
	int i;
	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof rel, "migrations/%s/%03d_%s.sql", folder, i + 1, folder);
		t_write(f->root, rel, UP);
	}
	snprintf(rel, sizeof rel, "migrations/%s/%s", folder, yaml ? "transition.yaml" : ".keep");
	t_write(f->root, rel, yaml ? yaml : "");
}

static void load(fixture *f)
{
	fr_buf_reset(&f->err);
	if (fr_catalog_load(&f->cat, f->dir, f->root, &f->err))
		fail_msg("catalog: %s", f->err.ptr);
}

static int plan(fixture *f, const char *from, const char *to)
{
	fr_version a, b;
	assert_int_equal(fr_version_parse(&a, from, NULL), 0);
	assert_int_equal(fr_version_parse(&b, to, NULL), 0);
	fr_plan_free(f->plan);
	f->plan = NULL;
	fr_buf_reset(&f->err);
	return fr_plan_compute(&f->plan, f->cat, &a, &b, &f->err);
}

static void assert_version(const fr_version *v, const char *want)
{
	char s[FR_VERSION_STR_MAX];
	fr_version_format(v, s, sizeof s);
	assert_string_equal(s, want);
}

/* The path as "from>to>to...", using each transition's name. */
static void assert_path(const struct ferry_plan *p, const char *want)
{
	char buf[1024] = "";
	size_t i, n = 0;
	for (i = 0; i < p->ntrs; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "",
		                      p->trs[i]->name);
	assert_string_equal(buf, want);
}

static void chain(fixture *f)
{
	tr(f, "v0.5.0_to_v0.6.0", 1, NULL);
	tr(f, "v0.6.0_to_v0.7.0", 2, NULL);
	tr(f, "v0.7.0_to_v0.8.0", 1, NULL);
	tr(f, "v0.8.0_to_v0.9.0", 1, NULL);
	tr(f, "v0.9.0_to_v1.0.0", 1, NULL);
}

static void test_multi_hop(void **state)
{
	fixture *f = *state;
	chain(f);
	load(f);

	assert_int_equal(plan(f, "0.5.0", "1.0.0"), 0);
	assert_non_null(f->plan);
	assert_path(f->plan, "v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0 v0.7.0_to_v0.8.0 v0.8.0_to_v0.9.0 "
	                     "v0.9.0_to_v1.0.0");
	assert_version(&f->plan->from, "0.5.0");
	assert_version(&f->plan->to, "1.0.0");
	assert_version(&f->plan->requested, "1.0.0");
	assert_false(f->plan->stopped_at_required);
	assert_ptr_equal(f->plan->cat, f->cat);
	assert_null(f->plan->f);
	assert_true(f->plan->est_seconds == 6 * FR_DEFAULT_STEP_SECONDS);
	assert_true(f->plan->backup_required);
	assert_int_equal(f->plan->nrestarts, 0);

	/* transitions above the target are left out; a target between nodes is recorded */
	assert_int_equal(plan(f, "0.5.0", "0.7.5"), 0);
	assert_path(f->plan, "v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0");
	assert_version(&f->plan->to, "0.7.5");

	/* a current version between nodes starts from the node below it */
	assert_int_equal(plan(f, "0.8.3", "1.0.0"), 0);
	assert_path(f->plan, "v0.8.0_to_v0.9.0 v0.9.0_to_v1.0.0");
	assert_version(&f->plan->from, "0.8.3");
}

static void test_shortcut(void **state)
{
	fixture *f = *state;
	tr(f, "v0.1.0_to_v0.2.0", 2, NULL);
	tr(f, "v0.2.0_to_v0.3.0", 2, NULL);
	tr(f, "v0.1.x_to_v0.3.0", 1, NULL);
	tr(f, "v0.3.0_to_v0.4.0", 1, NULL);
	load(f);

	/* cheaper: 1 s against 4 s */
	assert_int_equal(plan(f, "0.1.0", "0.4.0"), 0);
	assert_path(f->plan, "v0.1.x_to_v0.3.0 v0.3.0_to_v0.4.0");
	assert_true(f->plan->est_seconds == 2);

	/* the pattern matches a patch release of 0.1 too */
	assert_int_equal(plan(f, "0.1.7", "0.3.0"), 0);
	assert_path(f->plan, "v0.1.x_to_v0.3.0");

	/* but not a version past the folders it skips */
	assert_int_equal(plan(f, "0.2.0", "0.3.0"), 0);
	assert_path(f->plan, "v0.2.0_to_v0.3.0");
}

static void test_shortcut_not_taken_when_slower(void **state)
{
	fixture *f = *state;
	tr(f, "v0.1.0_to_v0.2.0", 2, NULL);
	tr(f, "v0.2.0_to_v0.3.0", 2, NULL);
	tr(f, "v0.1.x_to_v0.3.0", 1, "estimated_duration_seconds: 100\n");
	load(f);
	assert_int_equal(plan(f, "0.1.0", "0.3.0"), 0);
	assert_path(f->plan, "v0.1.0_to_v0.2.0 v0.2.0_to_v0.3.0");
	assert_true(f->plan->est_seconds == 4);
}

static void test_equal_cost_fewer_hops(void **state)
{
	fixture *f = *state;
	tr(f, "v0.1.0_to_v0.2.0", 2, NULL);
	tr(f, "v0.2.0_to_v0.3.0", 2, NULL);
	tr(f, "v0.1.x_to_v0.3.0", 9, "estimated_duration_seconds: 4\n");
	load(f);
	assert_int_equal(plan(f, "0.1.0", "0.3.0"), 0);
	assert_path(f->plan, "v0.1.x_to_v0.3.0");
}

static void test_ties_are_deterministic(void **state)
{
	fixture *f = *state;
	/* two paths of two hops and 2 s: the one through the smaller version wins */
	tr(f, "v1.0.0_to_v1.5.0", 1, NULL);
	tr(f, "v1.5.0_to_v2.0.0", 1, NULL);
	tr(f, "v1.0.0_to_v1.1.0", 1, NULL);
	tr(f, "v1.1.0_to_v2.0.0", 1, NULL);
	/* two single hops of equal cost to 3.0.0: by name */
	tr(f, "v2.x_to_v3.0.0", 1, NULL);
	tr(f, "v2.0.x_to_v3.0.0", 1, NULL);
	load(f);
	assert_int_equal(plan(f, "1.0.0", "2.0.0"), 0);
	assert_path(f->plan, "v1.0.0_to_v1.1.0 v1.1.0_to_v2.0.0");
	assert_int_equal(plan(f, "2.0.0", "3.0.0"), 0);
	assert_path(f->plan, "v2.0.x_to_v3.0.0");
}

static void test_version_bump_without_steps(void **state)
{
	fixture *f = *state;
	chain(f);
	load(f);

	assert_int_equal(plan(f, "1.0.0", "1.0.1"), 0);
	assert_int_equal(f->plan->ntrs, 0);
	assert_null(f->plan->trs);
	assert_version(&f->plan->to, "1.0.1");
	assert_true(f->plan->est_seconds == 0);
	assert_false(f->plan->backup_required);

	assert_int_equal(plan(f, "0.9.0", "1.0.1"), 0);
	assert_path(f->plan, "v0.9.0_to_v1.0.0");
	assert_version(&f->plan->to, "1.0.1");

	/* the same version: an empty plan */
	assert_int_equal(plan(f, "0.7.0", "v0.7.0+build.9"), 0);
	assert_int_equal(f->plan->ntrs, 0);
	assert_string_equal(f->err.ptr, "");
}

static void test_unreachable(void **state)
{
	fixture *f = *state;
	tr(f, "v0.5.0_to_v0.6.0", 1, NULL);
	tr(f, "v0.6.0_to_v0.7.0", 1, NULL);
	tr(f, "v0.8.0_to_v1.0.0", 1, NULL);
	load(f);

	assert_int_equal(plan(f, "0.5.0", "1.0.0"), FERRY_EFAILED);
	assert_null(f->plan);
	assert_string_equal(f->err.ptr, "no path from '0.5.0' to '1.0.0'; "
	                                "reachable from '0.5.0': 0.6.0, 0.7.0");

	assert_int_equal(plan(f, "0.7.0", "1.0.0"), FERRY_EFAILED);
	assert_string_equal(f->err.ptr, "no path from '0.7.0' to '1.0.0'; "
	                                "reachable from '0.7.0': none");

	/* nothing below the target's node needs a path: 0.7.0 -> 0.7.9 is a bump */
	assert_int_equal(plan(f, "0.7.0", "0.7.9"), 0);
	assert_int_equal(f->plan->ntrs, 0);
}

static void test_pattern_matches_current_version(void **state)
{
	fixture *f = *state;
	/* no transition names any 1.1.* version; an installation at 1.1.3 still takes 1.1.x */
	tr(f, "v0.9.0_to_v1.0.0", 1, NULL);
	tr(f, "v1.1.x_to_v2.0.0", 1, NULL);
	load(f);
	assert_int_equal(plan(f, "1.1.3", "2.0.0"), 0);
	assert_path(f->plan, "v1.1.x_to_v2.0.0");
	/* but 1.0.0 cannot */
	assert_int_equal(plan(f, "1.0.0", "2.0.0"), FERRY_EFAILED);
}

static void test_required_stop(void **state)
{
	fixture *f = *state;
	chain(f);
	tr(f, "v0.5.x_to_v0.9.0", 1, NULL); /* a cheap shortcut over the stop */
	t_write(f->root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.7.0\n    required_stop: true\n");
	load(f);

	assert_int_equal(plan(f, "0.5.0", "1.0.0"), 0);
	assert_true(f->plan->stopped_at_required);
	assert_version(&f->plan->to, "0.7.0");
	assert_version(&f->plan->requested, "1.0.0");
	assert_path(f->plan, "v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0");

	/* from the stop on, the shortcut is gone but the path goes on */
	assert_int_equal(plan(f, "0.7.0", "1.0.0"), 0);
	assert_false(f->plan->stopped_at_required);
	assert_path(f->plan, "v0.7.0_to_v0.8.0 v0.8.0_to_v0.9.0 v0.9.0_to_v1.0.0");

	/* a target at the stop is no stop */
	assert_int_equal(plan(f, "0.5.0", "0.7.0"), 0);
	assert_false(f->plan->stopped_at_required);
	assert_version(&f->plan->to, "0.7.0");

	/* a stop no transition names: the path ends below it, the run records it */
	t_write(f->root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.8.5\n    required_stop: true\n");
	fr_catalog_free(f->cat);
	f->cat = NULL;
	load(f);
	assert_int_equal(plan(f, "0.5.0", "1.0.0"), 0);
	assert_true(f->plan->stopped_at_required);
	assert_version(&f->plan->to, "0.8.5");
	assert_path(f->plan, "v0.5.0_to_v0.6.0 v0.6.0_to_v0.7.0 v0.7.0_to_v0.8.0");
}

static void test_target_below_from(void **state)
{
	fixture *f = *state;
	chain(f);
	load(f);
	assert_int_equal(plan(f, "0.9.0", "0.6.0"), FERRY_EINVALID);
	assert_null(f->plan);
	assert_string_equal(f->err.ptr, "target '0.6.0' is below the current version '0.9.0' "
	                                "(use 'ferry down 0.6.0')");
	assert_int_equal(plan(f, "1.0.0", "1.0.0-rc.1"), FERRY_EINVALID);
}

static void test_summary(void **state)
{
	fixture *f = *state;
	tr(f, "v1.0.0_to_v1.1.0", 3, "requires_restart: [api, worker]\nbackup_required: false\n");
	tr(f, "v1.1.0_to_v1.2.0", 1,
	   "requires_restart: [worker, db]\nbackup_required: true\n"
	   "estimated_duration_seconds: 7\n");
	tr(f, "v1.2.0_to_v1.3.0", 1, "backup_required: false\n");
	load(f);

	assert_int_equal(plan(f, "1.0.0", "1.3.0"), 0);
	assert_true(f->plan->est_seconds == 3 + 7 + 1);
	assert_true(f->plan->backup_required);
	assert_int_equal(f->plan->nrestarts, 3);
	assert_string_equal(f->plan->restarts[0], "api");
	assert_string_equal(f->plan->restarts[1], "worker");
	assert_string_equal(f->plan->restarts[2], "db");

	assert_int_equal(plan(f, "1.2.0", "1.3.0"), 0);
	assert_false(f->plan->backup_required);
	assert_int_equal(f->plan->nrestarts, 0);
}

static void test_empty_catalog(void **state)
{
	fixture *f = *state;
	load(f);
	assert_int_equal(plan(f, "0.0.0", "1.0.0"), 0); /* nothing to run: record 1.0.0 */
	assert_int_equal(f->plan->ntrs, 0);
	assert_version(&f->plan->to, "1.0.0");
}

static void assert_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "missing '%s' in:\n%s\n", needle, hay);
		fail();
	}
}

static void test_dot(void **state)
{
	fixture *f = *state;
	fr_buf out = FR_BUF_INIT;
	chain(f);
	tr(f, "v0.5.x_to_v0.9.0", 3, "estimated_duration_seconds: 100\n");
	tr(f, "v0.6.x_to_v0.8.0", 1, "estimated_duration_seconds: 100\n");
	t_write(f->root, "migrations/versions.yaml", "- version: 1.0.0\n  required_stop: true\n");
	load(f);
	assert_int_equal(plan(f, "0.5.0", "0.9.0"), 0);

	assert_int_equal(fr_plan_dot(f->cat, f->plan, &out), 0);
	assert_int_equal(strncmp(out.ptr, "digraph ferry {\n", 16), 0);
	assert_string_equal(out.ptr + out.len - 2, "}\n");
	assert_has(out.ptr, "\t\"0.0.0\";\n");
	assert_has(out.ptr, "\t\"1.0.0\" [shape=doublecircle];\n");
	assert_has(out.ptr, "\t\"0.5.x\" [shape=box, style=dashed];\n");
	assert_has(out.ptr, "\"0.5.0\" -> \"0.6.0\" [label=\"1 step\", style=bold, color=blue];");
	assert_has(out.ptr, "\"0.6.0\" -> \"0.7.0\" [label=\"2 steps\", style=bold, color=blue];");
	assert_has(out.ptr, "\"0.7.0\" -> \"0.8.0\" [label=\"1 step\", style=bold, color=blue];");
	assert_has(out.ptr, "\"0.8.0\" -> \"0.9.0\" [label=\"1 step\", style=bold, color=blue];");
	assert_has(out.ptr, "\"0.9.0\" -> \"1.0.0\" [label=\"1 step\"];");
	assert_has(out.ptr, "\"0.5.x\" -> \"0.9.0\" [label=\"3 steps\"];");
	assert_has(out.ptr, "\"0.6.x\" -> \"0.8.0\" [label=\"1 step\"];");

	/* without a path, nothing is bold */
	fr_buf_reset(&out);
	assert_int_equal(fr_plan_dot(f->cat, NULL, &out), 0);
	assert_null(strstr(out.ptr, "bold"));
	assert_has(out.ptr, "\"0.5.0\" -> \"0.6.0\" [label=\"1 step\"];");
	fr_buf_release(&out);
}

static void test_out_of_memory(void **state)
{
	fixture *f = *state;
	fr_buf out = FR_BUF_INIT;
	long n;
	int rc = -1;

	tr(f, "v1.0.0_to_v1.1.0", 1, "requires_restart: [api, worker]\n");
	tr(f, "v1.1.0_to_v1.2.0", 1, "requires_restart: [db]\n");
	load(f);
	for (n = 0; n < 1000; n++) {
		fr_alloc_fail_after(n);
		rc = plan(f, "1.0.0", "1.2.0");
		fr_alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, FERRY_EFAILED);
		assert_null(f->plan);
		/* the message itself may not fit in memory; when it does, it says why */
		assert_true(f->err.len == 0 ||
		            strcmp(f->err.ptr, "out of memory while planning") == 0);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(f->plan->nrestarts, 3);
	fr_alloc_fail_after(0);
	assert_int_equal(fr_plan_dot(f->cat, f->plan, &out), -1);
	fr_alloc_fail_after(-1);
	fr_buf_release(&out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_multi_hop),
		T(test_shortcut),
		T(test_shortcut_not_taken_when_slower),
		T(test_equal_cost_fewer_hops),
		T(test_ties_are_deterministic),
		T(test_version_bump_without_steps),
		T(test_unreachable),
		T(test_pattern_matches_current_version),
		T(test_required_stop),
		T(test_target_below_from),
		T(test_summary),
		T(test_empty_catalog),
		T(test_dot),
		T(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
