/* test_plan.c - paths through the version graph: hops, shortcuts, stops, bumps, errors, dot. */
#include "helpers.h"

#include "ferry.h"
#include "plan.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- big catalogs: the same paths as the planner before it pulled edges per node ---- */

typedef struct {
	fr_version v;
	int reached;
	double sec;
	size_t hops;
	size_t prev;
	const fr_transition *via;
} rnode;

static size_t ref_path_of(const rnode *n, size_t i, const fr_transition *last,
                          const fr_transition **seq)
{
	size_t len = n[i].hops + (last ? 1 : 0), k = len;
	if (last)
		seq[--k] = last;
	while (k > 0) {
		seq[--k] = n[i].via;
		i = n[i].prev;
	}
	return len;
}

/*
 * The reference: plan.c's pass as it was (every transition for every node,
 * ties decided by comparing the whole paths). Fills out with the path from
 * from to goal and returns its length, or (size_t)-1 when there is none.
 */
static size_t ref_plan(const fr_catalog *cat, const fr_version *from, const fr_version *goal,
                       const fr_transition **out)
{
	rnode *n = calloc(cat->ntrs + 1, sizeof *n);
	const fr_transition **sa = calloc(cat->ntrs + 2, sizeof *sa);
	const fr_transition **sb = calloc(cat->ntrs + 2, sizeof *sb);
	fr_version start, eff;
	size_t nn = 0, i, j, gi, len = (size_t)-1;
	assert_true(n && sa && sb);
	fr_catalog_node(cat, from, &start);
	fr_catalog_node(cat, goal, &eff);
	n[nn].v = start;
	n[nn++].reached = 1;
	for (i = 0; i < cat->ntrs; i++) {
		const fr_version *to = &cat->trs[i]->to;
		if (fr_version_cmp(to, &start) <= 0 || fr_version_cmp(to, &eff) > 0)
			continue;
		if (nn > 1 && fr_version_cmp(&n[nn - 1].v, to) == 0)
			continue;
		n[nn++].v = *to;
	}
	for (i = 0; i < nn; i++) {
		if (!n[i].reached)
			continue;
		for (j = 0; j < cat->ntrs; j++) {
			const fr_transition *t = cat->trs[j];
			size_t k;
			double sec;
			int r = 0;
			if (fr_version_cmp(&t->to, &n[i].v) <= 0 || fr_version_cmp(&t->to, &eff) > 0)
				continue;
			if (!fr_vpattern_match(&t->from, &n[i].v) &&
			    !(i == 0 && fr_vpattern_match(&t->from, from)))
				continue;
			for (k = 1; k < nn && fr_version_cmp(&n[k].v, &t->to) != 0; k++)
				;
			sec = n[i].sec + t->est_seconds;
			if (n[k].reached) {
				if (sec != n[k].sec)
					r = sec < n[k].sec ? -1 : 1;
				else if (n[i].hops + 1 != n[k].hops)
					r = n[i].hops + 1 < n[k].hops ? -1 : 1;
				if (r == 0) {
					size_t m = ref_path_of(n, i, t, sa), q;
					ref_path_of(n, k, NULL, sb);
					for (q = 0; q < m && r == 0; q++)
						if ((r = fr_version_cmp(&sa[q]->to, &sb[q]->to)) == 0)
							r = strcmp(sa[q]->name, sb[q]->name);
				}
				if (r >= 0)
					continue;
			}
			n[k].reached = 1;
			n[k].sec = sec;
			n[k].hops = n[i].hops + 1;
			n[k].prev = i;
			n[k].via = t;
		}
	}
	for (gi = 0; gi < nn && fr_version_cmp(&n[gi].v, &eff) != 0; gi++)
		;
	if (gi < nn && n[gi].reached)
		len = ref_path_of(n, gi, NULL, out);
	free(n);
	free(sa);
	free(sb);
	return len;
}

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/* A flat step file of version v (text), named to stay distinct; no shell per file. */
static void flat(fixture *f, const char *v, int k)
{
	char path[1024];
	FILE *fp;
	mkdir(f->dir, 0755);
	snprintf(path, sizeof path, "%s/%s_s%d.sql", f->dir, v, k);
	assert_non_null(fp = fopen(path, "wb"));
	fputs(UP, fp);
	fclose(fp);
}

/*
 * Versions 1.0.0 .. 3.39.0 (and some patch releases) as a chain of flat
 * steps (one file each for odd seeds, 1 to 3 for even ones), plus 150
 * shortcuts: exact ones and 1.x / 2.5.x patterns, most with a
 * transition.yaml cost as small as the flat steps', so that many paths tie
 * and are decided by their names.
 */
/* tr() without a shell per file: the folder, n steps, transition.yaml when yaml is given. */
static void tr_fast(fixture *f, const char *folder, int n, const char *yaml)
{
	char path[1024];
	FILE *fp;
	int i;
	mkdir(f->dir, 0755);
	snprintf(path, sizeof path, "%s/%s", f->dir, folder);
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i <= n; i++) {
		if (i == n && !yaml)
			break;
		if (i < n)
			snprintf(path, sizeof path, "%s/%s/%03d_%s.sql", f->dir, folder, i + 1, folder);
		else
			snprintf(path, sizeof path, "%s/%s/transition.yaml", f->dir, folder);
		assert_non_null(fp = fopen(path, "wb"));
		fputs(i < n ? UP : yaml, fp);
		fclose(fp);
	}
}

static void random_catalog(fixture *f, unsigned seed)
{
	char v[64], a[24], b[24], folder[64];
	unsigned s = seed;
	int ma, mi, k, n, i;
	for (ma = 1; ma <= 3; ma++)
		for (mi = 0; mi < 40; mi++) {
			snprintf(v, sizeof v, "%d.%d.%d", ma, mi, rnd(&s) % 7 == 0 ? 1 : 0);
			n = seed % 2 ? 1 : 1 + (int)(rnd(&s) % 3);
			for (k = 0; k < n; k++)
				flat(f, v, k);
		}
	for (i = 0; i < 150; i++) {
		int fa = 1 + (int)(rnd(&s) % 3), fm = (int)(rnd(&s) % 40);
		int ta = fa + (int)(rnd(&s) % 4 == 0), tm = (int)(rnd(&s) % 40);
		int kind = (int)(rnd(&s) % 4), steps = 1 + (int)(rnd(&s) % 4);
		char yaml[64], *p;
		/* Two minors at least: never the same edge as a flat step's. */
		if (ta == fa)
			tm = fm + 2 + (int)(rnd(&s) % 3);
		if (kind == 0)
			snprintf(a, sizeof a, "v%d.x", fa);
		else if (kind == 1)
			snprintf(a, sizeof a, "v%d.%d.x", fa, fm);
		else
			snprintf(a, sizeof a, "v%d.%d.0", fa, fm);
		snprintf(b, sizeof b, "v%d.%d.0", ta, tm);
		snprintf(folder, sizeof folder, "%s_to_%s", a, b);
		p = t_path(f->dir, folder);
		if (access(p, F_OK) == 0) {
			free(p);
			continue; /* drawn twice */
		}
		free(p);
		/* Costs as small as the flat steps' (1 s a file), so that ties are many. */
		snprintf(yaml, sizeof yaml, "estimated_duration_seconds: %d\n",
		         1 + (int)(rnd(&s) % 3));
		tr_fast(f, folder, steps, rnd(&s) % 4 ? yaml : NULL);
	}
}

static void assert_same_as_reference(fixture *f, const char *from, const char *to)
{
	const fr_transition **want = calloc(f->cat->ntrs + 1, sizeof *want);
	fr_version a, b;
	size_t n, i;
	int rc;
	assert_non_null(want);
	assert_int_equal(fr_version_parse(&a, from, NULL), 0);
	assert_int_equal(fr_version_parse(&b, to, NULL), 0);
	n = ref_plan(f->cat, &a, &b, want);
	rc = plan(f, from, to);
	if (n == (size_t)-1) {
		assert_int_equal(rc, FERRY_EFAILED);
	} else {
		if (rc)
			fail_msg("%s -> %s: %s", from, to, f->err.ptr);
		if (f->plan->ntrs != n)
			fail_msg("%s -> %s: %zu transitions, the reference %zu", from, to,
			         f->plan->ntrs, n);
		for (i = 0; i < n; i++)
			if (f->plan->trs[i] != want[i])
				fail_msg("%s -> %s: hop %zu is %s, the reference's %s", from, to, i,
				         f->plan->trs[i]->name, want[i]->name);
	}
	free(want);
}

static void test_random_catalogs_same_paths_as_reference(void **state)
{
	static const char *const froms[] = { "0.0.0", "1.0.0", "1.3.0", "1.3.7", "1.17.0",
	                                     "2.0.0", "2.5.0", "2.5.4", "2.39.0", "3.12.0" };
	static const char *const tos[] = { "1.39.0", "2.0.0", "2.20.0", "3.0.0", "3.39.0",
	                                   "3.39.5", "9.0.0" };
	fixture *f = *state;
	unsigned seed;
	size_t i, j;
	for (seed = 1; seed <= 4; seed++) {
		t_rmrf(f->dir);
		random_catalog(f, seed);
		fr_catalog_free(f->cat);
		f->cat = NULL;
		load(f);
		for (i = 0; i < sizeof froms / sizeof *froms; i++)
			for (j = 0; j < sizeof tos / sizeof *tos; j++) {
				fr_version a, b;
				fr_version_parse(&a, froms[i], NULL);
				fr_version_parse(&b, tos[j], NULL);
				if (fr_version_cmp(&a, &b) <= 0)
					assert_same_as_reference(f, froms[i], tos[j]);
			}
	}
}

/*
 * 10,000 flat versions 0.1.0 .. 0.10000.0 and three shortcuts: an exact one
 * (0.100.0 -> 0.5000.0, 1 s for 4,900), a pattern (0.5000.x -> 0.9000.0),
 * and one slower than the flat steps it skips (5,000 s for 3,999).
 */
static void test_ten_thousand_versions(void **state)
{
	fixture *f = *state;
	char v[32];
	size_t i;
	for (i = 1; i <= 10000; i++) {
		snprintf(v, sizeof v, "0.%zu.0", i);
		flat(f, v, 0);
	}
	tr_fast(f, "v0.100.0_to_v0.5000.0", 1, NULL);
	tr_fast(f, "v0.5000.x_to_v0.9000.0", 1, NULL);
	tr_fast(f, "v0.6000.0_to_v0.9999.0", 1, "estimated_duration_seconds: 5000\n");
	load(f);
	assert_int_equal(plan(f, "0.0.0", "0.10000.0"), 0);
	assert_int_equal(f->plan->ntrs, 100 + 1 + 1 + 1000);
	for (i = 0; i < 100; i++) {
		snprintf(v, sizeof v, "0.%zu.0 (flat)", i + 1);
		assert_string_equal(f->plan->trs[i]->name, v);
	}
	assert_string_equal(f->plan->trs[100]->name, "v0.100.0_to_v0.5000.0");
	assert_string_equal(f->plan->trs[101]->name, "v0.5000.x_to_v0.9000.0");
	for (i = 0; i < 1000; i++) {
		snprintf(v, sizeof v, "0.%zu.0 (flat)", 9001 + i);
		assert_string_equal(f->plan->trs[102 + i]->name, v);
	}
	assert_true(f->plan->est_seconds == 1102);
	/* From inside the pattern's range, and from a patch release the graph does not name. */
	assert_int_equal(plan(f, "0.5000.3", "0.9002.0"), 0);
	assert_int_equal(f->plan->ntrs, 3);
	assert_string_equal(f->plan->trs[0]->name, "v0.5000.x_to_v0.9000.0");
	assert_same_as_reference(f, "0.9990.0", "0.10000.0");
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
		T(test_random_catalogs_same_paths_as_reference),
		T(test_ten_thousand_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
