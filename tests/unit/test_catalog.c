/* test_catalog.c - the migrations folder: both layouts, metadata, errors, step loading. */
#include "helpers.h"

#include "catalog.h"
#include "ferry.h"
#include "util/alloc.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UP "-- ferry:up\nCREATE TABLE t (x INTEGER);\n"

typedef struct {
	char *root;
	char *dir; /* root/migrations */
	fr_catalog *cat;
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
	fr_catalog_free(f->cat);
	fr_buf_release(&f->err);
	t_rmrf(f->root);
	free(f->dir);
	free(f->root);
	free(f);
	return 0;
}

static void w(fixture *f, const char *rel, const char *text)
{
	char *p = t_path("migrations", rel);
	t_write(f->root, p, text);
	free(p);
}

static int load(fixture *f)
{
	fr_catalog_free(f->cat);
	f->cat = NULL;
	fr_buf_reset(&f->err);
	return fr_catalog_load(&f->cat, f->dir, f->root, &f->err);
}

static fr_version V(const char *s)
{
	fr_version v;
	assert_int_equal(fr_version_parse(&v, s, NULL), 0);
	return v;
}

static void assert_version(const fr_version *v, const char *want)
{
	char s[FR_VERSION_STR_MAX];
	fr_version_format(v, s, sizeof s);
	assert_string_equal(s, want);
}

static void assert_from(const fr_transition *t, const char *want)
{
	char s[FR_VERSION_STR_MAX];
	fr_vpattern_format(&t->from, s, sizeof s);
	assert_string_equal(s, want);
}

static void assert_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "missing '%s' in:\n%s\n", needle, hay);
		fail();
	}
}

static size_t count_lines(const char *s)
{
	size_t n = *s ? 1 : 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_missing_folder(void **state)
{
	fixture *f = *state;
	fr_version v = V("3.1.4"), node;

	assert_int_equal(load(f), 0);
	assert_non_null(f->cat);
	assert_int_equal(f->cat->ntrs, 0);
	assert_int_equal(f->cat->nsteps, 0);
	assert_int_equal(f->cat->nversions, 1);
	assert_true(fr_version_is_zero(&f->cat->versions[0].v));
	assert_true(f->cat->versions[0].node);
	assert_true(fr_version_is_zero(fr_catalog_latest(f->cat)));
	fr_catalog_node(f->cat, &v, &node);
	assert_true(fr_version_is_zero(&node));
	assert_null(fr_catalog_step(f->cat, "1.0.0/x.sql"));
	assert_string_equal(f->err.ptr, "");

	/* an empty folder is the same */
	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->cat->ntrs, 0);
	assert_int_equal(f->cat->nversions, 1);
}

static void test_mixed_layouts(void **state)
{
	fixture *f = *state;
	const fr_transition *t;
	fr_version v, node;
	fr_step *s;
	size_t i;

	w(f, "v0.1.0_to_v0.2.0/010_c.sql", UP);
	w(f, "v0.1.0_to_v0.2.0/002_b.sql", UP);
	w(f, "v0.1.0_to_v0.2.0/001_a.sql", "-- ferry:up\nSELECT 1;\n");
	w(f, "v0.1.0_to_v0.2.0/B_upper.sql", UP);
	w(f, "v0.1.0_to_v0.2.0/README.md", "ignored");
	w(f, "v0.1.0_to_v0.2.0/README", "ignored");
	w(f, "v0.1.0_to_v0.2.0/.hidden.txt", "ignored");
	w(f, "0.2.0_to_0.3.0/001.sql", UP);
	w(f, "v0.1.x_to_v0.3.0/001_all.sql", UP);
	w(f, "1.2.2_b_reindex.sql", UP);
	w(f, "v1.2.2_a_codex.sql", UP); /* a leading v: the same version, the same transition */
	w(f, "1.0.0_x.sql", UP);
	w(f, "0.0.5_first.sql", UP);
	w(f, "README.md", "ignored");
	w(f, "CHANGES.md", "ignored");
	w(f, ".gitkeep", "");

	assert_int_equal(load(f), 0);
	assert_string_equal(f->err.ptr, "");
	assert_int_equal(f->cat->ntrs, 6);
	assert_int_equal(f->cat->nsteps, 10);

	/* sorted by to, then from (a pattern by its floor) */
	t = f->cat->trs[0];
	assert_from(t, "0.0.0");
	assert_version(&t->to, "0.0.5");
	assert_null(t->dir);
	assert_string_equal(t->name, "0.0.5 (flat)");

	t = f->cat->trs[1];
	assert_from(t, "0.1.0");
	assert_version(&t->to, "0.2.0");
	assert_string_equal(t->name, "v0.1.0_to_v0.2.0");
	assert_non_null(t->dir);
	assert_has(t->dir, "/migrations/v0.1.0_to_v0.2.0");
	assert_int_equal(t->nsteps, 4);
	assert_string_equal(t->steps[0]->name, "001_a.sql");
	assert_string_equal(t->steps[1]->name, "002_b.sql");
	assert_string_equal(t->steps[2]->name, "010_c.sql");
	assert_string_equal(t->steps[3]->name, "B_upper.sql"); /* bytewise: digits < upper case */
	for (i = 0; i < t->nsteps; i++)
		assert_ptr_equal(t->steps[i]->tr, t);
	assert_true(t->backup_required);
	assert_false(t->est_given);
	assert_true(t->est_seconds == 4 * FR_DEFAULT_STEP_SECONDS);

	s = t->steps[0];
	assert_string_equal(s->id, "0.2.0/001_a.sql");
	assert_string_equal(s->rel, "migrations/v0.1.0_to_v0.2.0/001_a.sql");
	assert_has(s->path, "/migrations/v0.1.0_to_v0.2.0/001_a.sql");
	assert_int_equal(s->path[0], '/');
	assert_ptr_equal(s->kind, &fr_step_sql);
	assert_int_equal(s->size, (int64_t)strlen("-- ferry:up\nSELECT 1;\n"));
	assert_true(s->mtime_ns > 0);
	assert_true(s->ino > 0);
	assert_false(s->executable);
	assert_string_equal(s->checksum, "");
	assert_false(s->loaded);

	t = f->cat->trs[2];
	assert_from(t, "0.1.x");
	assert_version(&t->to, "0.3.0");
	t = f->cat->trs[3];
	assert_from(t, "0.2.0");
	assert_version(&t->to, "0.3.0");
	assert_string_equal(t->name, "0.2.0_to_0.3.0");

	/* flat 1.0.0 comes from the greatest catalogued version below it */
	t = f->cat->trs[4];
	assert_from(t, "0.3.0");
	assert_version(&t->to, "1.0.0");

	/* all flat files of one version are one transition, in file-name order */
	t = f->cat->trs[5];
	assert_from(t, "1.0.0");
	assert_version(&t->to, "1.2.2");
	assert_string_equal(t->name, "1.2.2 (flat)");
	assert_int_equal(t->nsteps, 2);
	assert_string_equal(t->steps[0]->name, "1.2.2_b_reindex.sql");
	assert_string_equal(t->steps[1]->name, "v1.2.2_a_codex.sql");
	assert_string_equal(t->steps[0]->id, "1.2.2/1.2.2_b_reindex.sql");
	assert_string_equal(t->steps[1]->id, "1.2.2/v1.2.2_a_codex.sql");
	assert_string_equal(t->steps[0]->rel, "migrations/1.2.2_b_reindex.sql");
	assert_true(t->est_seconds == 2 * FR_DEFAULT_STEP_SECONDS);

	/* every step, sorted by id, found by id */
	for (i = 1; i < f->cat->nsteps; i++)
		assert_true(strcmp(f->cat->steps[i - 1]->id, f->cat->steps[i]->id) < 0);
	s = fr_catalog_step(f->cat, "1.2.2/v1.2.2_a_codex.sql");
	assert_non_null(s);
	assert_string_equal(s->name, "v1.2.2_a_codex.sql");
	assert_null(fr_catalog_step(f->cat, "1.2.2/nope.sql"));

	/* versions: 0.0.0 and every version a transition names, ascending */
	{
		static const char *want[] = { "0.0.0", "0.0.5", "0.1.0", "0.2.0", "0.3.0",
		                              "1.0.0", "1.2.2" };
		assert_int_equal(f->cat->nversions, 7);
		for (i = 0; i < 7; i++) {
			assert_version(&f->cat->versions[i].v, want[i]);
			assert_true(f->cat->versions[i].node);
			assert_null(f->cat->versions[i].notes);
		}
	}
	assert_version(fr_catalog_latest(f->cat), "1.2.2");
	v = V("1.1.7");
	fr_catalog_node(f->cat, &v, &node);
	assert_version(&node, "1.0.0");
	v = V("0.1.5");
	fr_catalog_node(f->cat, &v, &node);
	assert_version(&node, "0.1.0");
	v = V("1.2.2");
	fr_catalog_node(f->cat, &v, &node);
	assert_version(&node, "1.2.2");
	v = V("1.2.2-rc.1");
	fr_catalog_node(f->cat, &v, &node);
	assert_version(&node, "1.0.0");
	v = V("0.1.0");
	assert_non_null(fr_catalog_vinfo(f->cat, &v));
	v = V("0.1.1");
	assert_null(fr_catalog_vinfo(f->cat, &v));
}

static void test_flat_from_uses_every_transition(void **state)
{
	fixture *f = *state;

	/* 1.1.0 comes from 1.0.5, an exact from named only by a folder; 2.0.0 from 1.1.0 */
	w(f, "v1.0.5_to_v1.0.9/001.sql", UP);
	w(f, "1.1.0_a.sql", UP);
	w(f, "2.0.0_a.sql", UP);
	w(f, "v2.x_to_v3.0.0/001.sql", UP); /* a pattern from names no version */
	w(f, "3.0.1_a.sql", UP);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->cat->ntrs, 5);
	assert_from(f->cat->trs[1], "1.0.9");
	assert_version(&f->cat->trs[1]->to, "1.1.0");
	assert_from(f->cat->trs[2], "1.1.0");
	assert_from(f->cat->trs[3], "2.x");
	assert_from(f->cat->trs[4], "3.0.0");
	/* versions: 0.0.0 1.0.5 1.0.9 1.1.0 2.0.0 3.0.0 3.0.1 (no 2.0.0 floor duplicate) */
	assert_int_equal(f->cat->nversions, 7);
}

static void test_transition_yaml(void **state)
{
	fixture *f = *state;
	const fr_transition *t;

	w(f, "v1.0.0_to_v2.0.0/transition.yaml",
	  "description: Multi-user support and privacy settings\n"
	  "breaking_changes: true\n"
	  "notes: [Environment variable DATABASE_URL replaces DB_PATH, Second note]\n"
	  "estimated_duration_seconds: 30.5\n"
	  "requires_restart: [api, worker]\n"
	  "backup_required: false\n");
	w(f, "v1.0.0_to_v2.0.0/001.sql", UP);
	w(f, "v1.0.0_to_v2.0.0/002.sql", UP);
	w(f, "v2.0.0_to_v3.0.0/transition.yaml", "notes: single note\nrequires_restart: api\n");
	w(f, "v3.0.0_to_v4.0.0/transition.yaml", "");
	w(f, "v3.0.0_to_v4.0.0/001.sql", UP);

	assert_int_equal(load(f), 0);
	assert_int_equal(f->cat->ntrs, 3);
	t = f->cat->trs[0];
	assert_string_equal(t->description, "Multi-user support and privacy settings");
	assert_true(t->breaking);
	assert_int_equal(t->nnotes, 2);
	assert_string_equal(t->notes[0], "Environment variable DATABASE_URL replaces DB_PATH");
	assert_string_equal(t->notes[1], "Second note");
	assert_true(t->est_given);
	assert_true(t->est_seconds == 30.5);
	assert_int_equal(t->nrestarts, 2);
	assert_string_equal(t->restarts[0], "api");
	assert_string_equal(t->restarts[1], "worker");
	assert_false(t->backup_required);
	assert_int_equal(t->nsteps, 2); /* transition.yaml is not a step */

	t = f->cat->trs[1];
	assert_int_equal(t->nsteps, 0);
	assert_null(t->description);
	assert_false(t->breaking);
	assert_int_equal(t->nnotes, 1);
	assert_string_equal(t->notes[0], "single note");
	assert_int_equal(t->nrestarts, 1);
	assert_true(t->backup_required);
	assert_true(t->est_seconds == 0);

	t = f->cat->trs[2];
	assert_int_equal(t->nnotes, 0);
	assert_true(t->backup_required);
	assert_false(t->est_given);
	assert_true(t->est_seconds == 1 * FR_DEFAULT_STEP_SECONDS);
}

static void test_transition_yaml_errors(void **state)
{
	fixture *f = *state;

	w(f, "v1.0.0_to_v2.0.0/transition.yaml",
	  "description: ok\n"
	  "breaking_changes: maybe\n"
	  "colour: blue\n"
	  "estimated_duration_seconds: -3\n"
	  "notes: {a: b}\n");
	w(f, "v2.0.0_to_v3.0.0/transition.yaml", "estimated_duration_seconds: soon\n");
	w(f, "v3.0.0_to_v4.0.0/transition.yaml", "description: [unclosed\n");
	w(f, "v4.0.0_to_v5.0.0/transition.yaml", "- a list\n");

	assert_int_equal(load(f), FERRY_EINVALID);
	assert_null(f->cat);
	assert_has(f->err.ptr, "migrations/v1.0.0_to_v2.0.0/transition.yaml:2: 'breaking_changes' "
	                       "must be true or false");
	assert_has(f->err.ptr, "migrations/v1.0.0_to_v2.0.0/transition.yaml:3: unknown key "
	                       "'colour' (expected description, ");
	assert_has(f->err.ptr, "migrations/v1.0.0_to_v2.0.0/transition.yaml:4: "
	                       "'estimated_duration_seconds' must be a number of seconds >= 0");
	assert_has(f->err.ptr, "migrations/v1.0.0_to_v2.0.0/transition.yaml:5: 'notes' must be");
	assert_has(f->err.ptr, "migrations/v2.0.0_to_v3.0.0/transition.yaml:1: "
	                       "'estimated_duration_seconds' must be");
	assert_has(f->err.ptr, "migrations/v3.0.0_to_v4.0.0/transition.yaml:");
	assert_has(f->err.ptr,
	           "migrations/v4.0.0_to_v5.0.0/transition.yaml:1: expected a mapping");
}

static void test_versions_yaml(void **state)
{
	fixture *f = *state;
	const fr_vinfo *vi;
	fr_version v;

	w(f, "versions.yaml",
	  "versions:\n"
	  "  - version: 0.1.0\n"
	  "    notes: First public release\n"
	  "  - version: v1.0.0\n"
	  "    notes: \"Stable: run it once\"\n"
	  "    required_stop: true\n"
	  "  - 1.0.1\n"
	  "  - {version: 2.0.0, required_stop: false}\n");
	w(f, "v0.1.0_to_v1.0.0/001.sql", UP);
	assert_int_equal(load(f), 0);

	/* 0.0.0 0.1.0 1.0.0 1.0.1 2.0.0: versions.yaml's join the list, not the graph */
	assert_int_equal(f->cat->nversions, 5);
	v = V("0.1.0");
	vi = fr_catalog_vinfo(f->cat, &v);
	assert_non_null(vi);
	assert_string_equal(vi->notes, "First public release");
	assert_false(vi->required_stop);
	assert_true(vi->node);
	v = V("1.0.0");
	vi = fr_catalog_vinfo(f->cat, &v);
	assert_non_null(vi);
	assert_string_equal(vi->notes, "Stable: run it once");
	assert_true(vi->required_stop);
	assert_true(vi->node);
	v = V("1.0.1");
	vi = fr_catalog_vinfo(f->cat, &v);
	assert_non_null(vi);
	assert_null(vi->notes);
	assert_false(vi->node);
	assert_version(fr_catalog_latest(f->cat), "2.0.0");
	fr_catalog_node(f->cat, &v, &v);
	assert_version(&v, "1.0.0"); /* 1.0.1 is no node of the graph */

	/* a top-level list */
	w(f, "versions.yaml",
	  "- version: 1.0.0\n"
	  "  required_stop: yes\n"
	  "- version: 3.0.0\n"
	  "  notes: Later\n");
	assert_int_equal(load(f), 0);
	v = V("1.0.0");
	assert_true(fr_catalog_vinfo(f->cat, &v)->required_stop);
	v = V("3.0.0");
	assert_string_equal(fr_catalog_vinfo(f->cat, &v)->notes, "Later");

	/* a mapping keyed by version */
	w(f, "versions.yaml",
	  "versions:\n"
	  "  1.0.0: {notes: Stop here, required_stop: true}\n"
	  "  1.5.0: Notes only\n");
	assert_int_equal(load(f), 0);
	v = V("1.0.0");
	vi = fr_catalog_vinfo(f->cat, &v);
	assert_true(vi->required_stop);
	assert_string_equal(vi->notes, "Stop here");
	v = V("1.5.0");
	assert_string_equal(fr_catalog_vinfo(f->cat, &v)->notes, "Notes only");

	/* an empty file */
	w(f, "versions.yaml", "");
	assert_int_equal(load(f), 0);
	assert_int_equal(f->cat->nversions, 3);
}

static void test_versions_yaml_errors(void **state)
{
	fixture *f = *state;

	w(f, "versions.yaml",
	  "versions:\n"
	  "  - version: 1.0\n"
	  "  - version: 2.0.0\n"
	  "    required_stop: perhaps\n"
	  "  - version: 3.0.0\n"
	  "    date: 2024-01-01\n"
	  "  - notes: no version\n"
	  "  - version: 4.0.0\n"
	  "  - version: v4.0.0\n");
	assert_int_equal(load(f), FERRY_EINVALID);
	assert_has(f->err.ptr, "migrations/versions.yaml:2: invalid version '1.0': expected "
	                       "MAJOR.MINOR.PATCH");
	assert_has(f->err.ptr,
	           "migrations/versions.yaml:4: 'required_stop' must be true or false");
	assert_has(f->err.ptr, "migrations/versions.yaml:6: unknown key 'date'");
	assert_has(f->err.ptr, "migrations/versions.yaml:7: entry without a 'version'");
	assert_has(f->err.ptr, "migrations/versions.yaml:9: version '4.0.0' is listed twice "
	                       "(first on line 8)");
	assert_int_equal(count_lines(f->err.ptr), 5);

	w(f, "versions.yaml", "history: []\n");
	assert_int_equal(load(f), FERRY_EINVALID);
	assert_string_equal(f->err.ptr, "migrations/versions.yaml:1: unknown key 'history' "
	                                "(expected versions)");
}

static void test_layout_errors_all_at_once(void **state)
{
	fixture *f = *state;

	w(f, "notes.txt", "x");
	w(f, "1.2_x.sql", UP);
	w(f, "0.0.0_x.sql", UP);
	w(f, "0.2.0_dup.sql", UP); /* flat 0.1.0 -> 0.2.0, as the folder below */
	w(f, "random_folder/001.sql", UP);
	w(f, "v0.1_to_v0.2.0/001.sql", UP);
	w(f, "v0.3.0_to_v0.2.5/001.sql", UP);
	w(f, "v0.1.x_to_v0.1.0/001.sql", UP);
	w(f, "v0.1.0_to_v0.2.0/001.sql", UP);
	w(f, "0.1.0_to_0.2.0/001.sql", UP);
	w(f, "v0.4.0_to_v0.5.0/bad.txt", "x");
	w(f, "v0.4.0_to_v0.5.0/sub/001.sql", UP);
	w(f, "v0.4.0_to_v0.5.0/002_good.sql", UP);
	w(f, "1.0.0_notes.txt", "x");

	assert_int_equal(load(f), FERRY_EINVALID);
	assert_null(f->cat);
	assert_has(f->err.ptr, "migrations/notes.txt: does not match a layout");
	assert_has(f->err.ptr, "migrations/1.2_x.sql: invalid version '1.2': expected "
	                       "MAJOR.MINOR.PATCH");
	assert_has(f->err.ptr, "migrations/0.0.0_x.sql: no catalogued version below '0.0.0'");
	assert_has(f->err.ptr, "migrations/random_folder: does not match a layout (expected a "
	                       "folder FROM_to_TO");
	assert_has(f->err.ptr, "migrations/v0.1_to_v0.2.0: invalid version pattern 'v0.1'");
	assert_has(f->err.ptr, "migrations/v0.3.0_to_v0.2.5: the version it leads to, '0.2.5', is "
	                       "not above '0.3.0'");
	assert_has(f->err.ptr, "migrations/v0.1.x_to_v0.1.0: the version it leads to, '0.1.0', is "
	                       "not above '0.1.x'");
	assert_has(f->err.ptr, "migrations/v0.1.0_to_v0.2.0: a second transition from '0.1.0' to "
	                       "'0.2.0' (the first is 'migrations/0.1.0_to_0.2.0')");
	assert_has(f->err.ptr, "migrations/0.2.0_dup.sql: a second transition from '0.1.0' to "
	                       "'0.2.0'");
	assert_has(f->err.ptr, "migrations/v0.1.0_to_v0.2.0/001.sql: duplicate step id "
	                       "'0.2.0/001.sql' (also 'migrations/0.1.0_to_0.2.0/001.sql')");
	assert_has(f->err.ptr, "cannot tell the step kind of "
	                       "'migrations/v0.4.0_to_v0.5.0/bad.txt' (this build runs SQL steps "
	                       "*.sql, ops steps *.yaml or *.yml, and script steps *.sh or any "
	                       "executable file)");
	assert_has(f->err.ptr, "cannot tell the step kind of 'migrations/1.0.0_notes.txt'");
	assert_has(f->err.ptr, "migrations/v0.4.0_to_v0.5.0/sub: unexpected folder inside a "
	                       "transition folder");
	assert_int_equal(count_lines(f->err.ptr), 13);
}

static void test_other_errors(void **state)
{
	fixture *f = *state;

	/* the migrations path is a file */
	t_write(f->root, "migrations", "not a folder");
	assert_int_equal(load(f), FERRY_EINVALID);
	assert_has(f->err.ptr, "migrations: ");

	/* err may be NULL */
	fr_catalog_free(f->cat);
	f->cat = NULL;
	assert_int_equal(fr_catalog_load(&f->cat, f->dir, f->root, NULL), FERRY_EINVALID);
	assert_null(f->cat);

	/* without a root, paths are absolute */
	t_sh("rm -f '%s'", f->dir);
	w(f, "junk", "x");
	fr_buf_reset(&f->err);
	assert_int_equal(fr_catalog_load(&f->cat, f->dir, NULL, &f->err), FERRY_EINVALID);
	assert_has(f->err.ptr, f->dir);
	assert_has(f->err.ptr, "/junk: does not match a layout");
}

static void test_executable_and_stat(void **state)
{
	fixture *f = *state;
	char *p;
	struct stat st;
	const fr_step *s;

	w(f, "v1.0.0_to_v1.1.0/001.sql", UP);
	p = t_path(f->dir, "v1.0.0_to_v1.1.0/001.sql");
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(load(f), 0);
	s = fr_catalog_step(f->cat, "1.1.0/001.sql");
	assert_non_null(s);
	assert_true(s->executable);
	assert_ptr_equal(s->kind, &fr_step_sql);
	assert_int_equal(s->ino, (int64_t)st.st_ino);
	assert_int_equal(s->size, (int64_t)st.st_size);
	/*
	 * the later of the modification and the change time (fr_stamp_ns): the
	 * chmod above moves the change time past the write's when a clock tick
	 * falls between them
	 */
	{
		int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		int64_t c = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		assert_int_equal(s->mtime_ns, c > m ? c : m);
	}
	free(p);
}

static void test_step_load(void **state)
{
	fixture *f = *state;
	fr_step *s;
	char *p;

	assert_ptr_equal(fr_step_kind_find("sql"), &fr_step_sql);
	assert_null(fr_step_kind_find("cobol"));
	assert_ptr_equal(fr_step_kind_for("001_x.sql", 0), &fr_step_sql);
	assert_null(fr_step_kind_for("001_x.txt", 0));
	assert_null(fr_step_kind_for(NULL, 0));

	w(f, "v1.0.0_to_v1.1.0/001.sql", UP);
	w(f, "v1.0.0_to_v1.1.0/002.sql", UP);
	w(f, "v1.0.0_to_v1.1.0/003.sql", "SELECT 1; -- no up section\n");
	assert_int_equal(load(f), 0);

	s = fr_catalog_step(f->cat, "1.1.0/001.sql");
	assert_int_equal(fr_step_load(s, &f->err), 0);
	assert_true(s->loaded);
	assert_non_null(s->priv);
	assert_int_equal(strncmp(s->checksum, "sha256:", 7), 0);
	assert_int_equal(strlen(s->checksum), FR_CHECKSUM_LEN);
	assert_int_equal(fr_step_load(s, &f->err), 0); /* once */

	/* unreadable: "<rel>: <strerror>" */
	s = fr_catalog_step(f->cat, "1.1.0/002.sql");
	p = t_path(f->dir, "v1.0.0_to_v1.1.0/002.sql");
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(fr_step_load(s, &f->err), -1);
	assert_false(s->loaded);
	assert_string_equal(f->err.ptr,
	                    "migrations/v1.0.0_to_v1.1.0/002.sql: No such file or directory");

	/* the kind's own error */
	fr_buf_reset(&f->err);
	s = fr_catalog_step(f->cat, "1.1.0/003.sql");
	assert_int_equal(fr_step_load(s, &f->err), -1);
	assert_false(s->loaded);
	assert_true(f->err.len > 0);
	/* fr_catalog_free unloads loaded steps (checked by the sanitizers) */
}

/* Writes dir/rel without t_write's mkdir -p (a shell per file is too slow for 1,000). */
static void quick_write(const char *dir, const char *rel)
{
	char *p = t_path(dir, rel);
	FILE *fp = fopen(p, "wb");
	assert_non_null(fp);
	fputs(UP, fp);
	fclose(fp);
	free(p);
}

static void test_large_catalog(void **state)
{
	fixture *f = *state;
	char name[64];
	int v, k;

	/* 1,000 steps: 50 flat versions of 10 files, 50 folders of 10 files */
	assert_int_equal(mkdir(f->dir, 0755), 0);
	for (v = 1; v <= 50; v++) {
		snprintf(name, sizeof name, "v2.%d.0_to_v2.%d.0", v - 1, v);
		{
			char *p = t_path(f->dir, name);
			assert_int_equal(mkdir(p, 0755), 0);
			free(p);
		}
		for (k = 0; k < 10; k++) {
			snprintf(name, sizeof name, "1.%d.0_%03d.sql", v, 9 - k);
			quick_write(f->dir, name);
			snprintf(name, sizeof name, "v2.%d.0_to_v2.%d.0/%03d.sql", v - 1, v,
			         9 - k);
			quick_write(f->dir, name);
		}
	}
	assert_int_equal(load(f), 0);
	assert_int_equal(f->cat->nsteps, 1000);
	assert_int_equal(f->cat->ntrs, 100);
	assert_from(f->cat->trs[0], "0.0.0");
	assert_from(f->cat->trs[1], "1.1.0");
	assert_version(&f->cat->trs[49]->to, "1.50.0");
	assert_from(f->cat->trs[50], "2.0.0");
	assert_string_equal(f->cat->trs[7]->steps[0]->name, "1.8.0_000.sql");
	assert_string_equal(f->cat->trs[7]->steps[9]->name, "1.8.0_009.sql");
	assert_int_equal(f->cat->nversions, 102); /* 0.0.0, 1.1.0..1.50.0, 2.0.0..2.50.0 */
}

/* Each allocation failing in turn: an error, never a crash or a leak (the sanitizers check). */
static void test_out_of_memory(void **state)
{
	fixture *f = *state;
	long n;
	int rc = -1;

	w(f, "v0.1.0_to_v0.2.0/001_a.sql", UP);
	w(f, "v0.1.0_to_v0.2.0/transition.yaml", "notes: [a, b]\nrequires_restart: [api]\n"
	                                          "description: d\n");
	w(f, "v0.1.x_to_v0.3.0/001_b.sql", UP);
	w(f, "1.2.2_a.sql", UP);
	w(f, "1.2.2_b.sql", UP);
	w(f, "versions.yaml", "- version: 1.0.0\n  notes: n\n  required_stop: true\n");
	for (n = 0; n < 10000; n++) {
		fr_alloc_fail_after(n);
		rc = load(f);
		fr_alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_null(f->cat);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 10);
	assert_int_equal(f->cat->ntrs, 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_missing_folder),
		T(test_mixed_layouts),
		T(test_flat_from_uses_every_transition),
		T(test_transition_yaml),
		T(test_transition_yaml_errors),
		T(test_versions_yaml),
		T(test_versions_yaml_errors),
		T(test_layout_errors_all_at_once),
		T(test_other_errors),
		T(test_executable_and_stat),
		T(test_step_load),
		T(test_large_catalog),
		T(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
