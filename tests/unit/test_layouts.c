/*
 * test_layouts.c - other tools' folders (lib/layout/): every layout of the
 * table is complete; each fixture folder (tests/fixtures/layouts/<tool>/)
 * read with the tool's ids, order, versions, names, up/down texts and
 * transaction rules; detection from the file names and its errors;
 * ferry.yaml's sources and versions.yaml's schema: and their errors.
 */
#include "helpers.h"

#include "catalog.h"
#include "config.h"
#include "ferry.h"
#include "layout/layout.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#ifndef FR_FIXTURES
#error "FR_FIXTURES: the tests' fixtures folder (tests/unit/meson.build)"
#endif

static void every_layout_is_complete(void **state)
{
	const char *names[] = { "dbmate", "goose", "golang-migrate", "flyway", "diesel", "sqlx" };
	fr_layout broken = fr_layout_dbmate;
	fr_buf why = FR_BUF_INIT, all = FR_BUF_INIT;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof names / sizeof *names; i++) {
		const fr_layout *l = fr_layout_find(names[i]);
		assert_non_null(l);
		assert_string_equal(l->name, names[i]);
		assert_int_equal(fr_layout_complete(l, &why), 0);
		assert_int_equal(why.len, 0);
	}
	assert_null(fr_layout_find("ferry"));
	assert_null(fr_layout_find("liquibase"));
	broken.scan = NULL;
	broken.split = NULL;
	assert_int_equal(fr_layout_complete(&broken, &why), -1);
	assert_string_equal(why.ptr, "scan, split");
	fr_layout_names(&all);
	assert_string_equal(all.ptr, "dbmate, goose, golang-migrate, flyway, diesel, sqlx");
	fr_buf_release(&why);
	fr_buf_release(&all);
}

/* ---- each tool's fixture ---------------------------------------------------- */

typedef struct {
	const char *entry;      /* the migration in its id */
	const char *version;    /* tool_version; NULL: repeatable */
	const char *name;
	int reversible, transactional, empty;
	const char *up_has;     /* a piece of its up (describe) */
} want_mig;

/* Loads tests/fixtures/layouts/<tool> as the only source; layout NULL: detected. */
static fr_catalog *load_fixture(const char *tool, const char *layout, fr_buf *err)
{
	fr_source src;
	fr_catalog *c = NULL;
	char rel[64];
	snprintf(rel, sizeof rel, "layouts/%s", tool);
	memset(&src, 0, sizeof src);
	src.path = t_path(FR_FIXTURES, rel);
	src.rel = rel;
	src.layout = (char *)layout;
	if (fr_catalog_load_sources(&c, &src, 1, FR_FIXTURES, err))
		fail_msg("%s: %s", tool, err->ptr);
	free(src.path);
	return c;
}

static void check_fixture(const char *tool, const char *layout, const want_mig *w, size_t n)
{
	fr_buf err = FR_BUF_INIT, out = FR_BUF_INIT, id = FR_BUF_INIT;
	fr_catalog *c = load_fixture(tool, layout, &err);
	size_t i;

	assert_int_equal(c->nforeign, n);
	/* Nothing catalogued but 0.0.0: every step waits in the schema-only transition. */
	assert_non_null(c->schema_tr);
	assert_int_equal(c->schema_tr->nsteps, n);
	assert_null(c->dir);
	for (i = 0; i < n; i++) {
		fr_step *s = c->foreign[i];
		fr_buf_reset(&id);
		fr_buf_printf(&id, "%s:layouts/%s/%s", layout ? layout : tool, tool, w[i].entry);
		assert_string_equal(s->id, id.ptr);
		assert_ptr_equal(fr_catalog_step(c, id.ptr), s);
		assert_string_equal(s->layout, layout ? layout : tool);
		assert_int_equal(s->chain, i);
		assert_ptr_equal(c->schema_tr->steps[i], s);
		assert_ptr_equal(s->tr, c->schema_tr);
		if (w[i].version) {
			assert_false(s->repeatable);
			assert_string_equal(s->tool_version, w[i].version);
		} else {
			assert_true(s->repeatable);
		}
		assert_string_equal(s->tool_name, w[i].name);
		if (fr_step_load(s, &err))
			fail_msg("%s: %s", s->id, err.ptr);
		assert_int_equal(s->kind->reversible(s), w[i].reversible);
		assert_int_equal(s->kind->transactional(s), w[i].transactional);
		assert_int_equal(fr_step_empty(s), w[i].empty);
		fr_buf_reset(&out);
		assert_int_equal(s->kind->describe(s, &out), 0);
		if (!strstr(out.ptr, w[i].up_has))
			fail_msg("%s: up '%s' lacks '%s'", s->id, out.ptr, w[i].up_has);
		/* No other tool's marker is left in what runs, and no down either. */
		assert_null(strstr(out.ptr, "DROP TABLE"));
		fr_buf_reset(&out);
		assert_int_equal(s->kind->undo_text(s, &out), 0);
		if (w[i].reversible)
			assert_non_null(strstr(out.ptr, "DROP TABLE"));
		else
			assert_int_equal(out.len, 0);
	}
	fr_catalog_free(c);
	fr_buf_release(&err);
	fr_buf_release(&out);
	fr_buf_release(&id);
}

#define N(a) (sizeof a / sizeof *a)

static void dbmate_folder(void **state)
{
	static const want_mig w[] = {
		{ "20240101000000_create_users.sql", "20240101000000", "create_users", 1, 1, 0,
		  "CREATE INDEX users_name ON users (name);\nINSERT INTO users" },
		{ "20240102000000_placeholder.sql", "20240102000000", "placeholder", 0, 1, 1,
		  "-- A placeholder" },
		{ "20240103000000_create_posts.sql", "20240103000000", "create_posts", 1, 1, 0,
		  "CREATE TABLE posts" },
		{ "20240104000000_create_audit.sql", "20240104000000", "create_audit", 1, 0, 0,
		  "CREATE TABLE audit" },
		{ "20240105000000_create_tags.sql", "20240105000000", "create_tags", 1, 1, 0,
		  "CREATE TABLE tags" },
	};
	(void)state;
	check_fixture("dbmate", NULL, w, N(w));
}

static void goose_folder(void **state)
{
	/* numeric order: 10 after 4; goose_db_version keeps 00010 as 10 */
	static const want_mig w[] = {
		{ "00001_create_users.sql", "1", "create_users", 1, 1, 0, "CREATE INDEX users_name" },
		{ "00002_placeholder.sql", "2", "placeholder", 0, 1, 1, "-- A placeholder" },
		{ "00003_create_posts.sql", "3", "create_posts", 1, 1, 0,
		  "-- +goose StatementBegin\nCREATE TABLE posts" },
		{ "00004_create_audit.sql", "4", "create_audit", 1, 0, 0, "CREATE TABLE audit" },
		{ "00010_create_tags.sql", "10", "create_tags", 1, 1, 0, "CREATE TABLE tags" },
	};
	(void)state;
	check_fixture("goose", NULL, w, N(w));
}

static void golang_migrate_folder(void **state)
{
	static const want_mig w[] = {
		{ "000001_create_users.up.sql", "1", "create_users", 1, 1, 0, "CREATE INDEX" },
		{ "000002_placeholder.up.sql", "2", "placeholder", 0, 1, 1, "-- A placeholder" },
		{ "000003_create_posts.up.sql", "3", "create_posts", 1, 1, 0, "CREATE TABLE posts" },
		{ "000004_create_audit.up.sql", "4", "create_audit", 1, 1, 0, "CREATE TABLE audit" },
		{ "000010_create_tags.up.sql", "10", "create_tags", 1, 1, 0, "CREATE TABLE tags" },
	};
	(void)state;
	check_fixture("golang-migrate", NULL, w, N(w));
}

static void flyway_folder(void **state)
{
	/* 1 < 1.1 < 1.2 < 2 < 10 (part by part), V1_1 written 1.1, then the repeatable */
	static const want_mig w[] = {
		{ "V1__create_users.sql", "1", "create users", 1, 1, 0, "CREATE INDEX" },
		{ "V1_1__placeholder.sql", "1.1", "placeholder", 0, 1, 1, "-- A placeholder" },
		{ "V1.2__create_posts.sql", "1.2", "create posts", 1, 1, 0, "CREATE TABLE posts" },
		{ "V2__create_audit.sql", "2", "create audit", 1, 0, 0, "CREATE TABLE audit" },
		{ "V10__create_tags.sql", "10", "create tags", 1, 1, 0, "CREATE TABLE tags" },
		{ "R__user_names_view.sql", NULL, "user names view", 0, 1, 0, "CREATE VIEW" },
	};
	(void)state;
	check_fixture("flyway", NULL, w, N(w));
}

static void diesel_folder(void **state)
{
	/* the version is the folder's text before '_' without its dashes */
	static const want_mig w[] = {
		{ "2024-01-01-000000_create_users", "20240101000000", "create_users", 1, 1, 0,
		  "CREATE INDEX" },
		{ "2024-01-02-000000_placeholder", "20240102000000", "placeholder", 0, 1, 1,
		  "-- A placeholder" },
		{ "2024-01-03-000000_create_posts", "20240103000000", "create_posts", 1, 1, 0,
		  "CREATE TABLE posts" },
		{ "2024-01-04-000000_create_audit", "20240104000000", "create_audit", 1, 0, 0,
		  "CREATE TABLE audit" },
		{ "2024-01-10-000000_create_tags", "20240110000000", "create_tags", 1, 1, 0,
		  "CREATE TABLE tags" },
	};
	(void)state;
	check_fixture("diesel", NULL, w, N(w));
}

static void sqlx_folder(void **state)
{
	/* pairs of .up.sql/.down.sql are golang-migrate's by their names: layout given */
	static const want_mig w[] = {
		{ "1_create_users.up.sql", "1", "create users", 1, 1, 0, "CREATE INDEX" },
		{ "2_placeholder.up.sql", "2", "placeholder", 0, 1, 1, "-- A placeholder" },
		{ "3_create_posts.up.sql", "3", "create posts", 1, 1, 0, "CREATE TABLE posts" },
		{ "4_create_audit.up.sql", "4", "create audit", 1, 0, 0, "CREATE TABLE audit" },
		{ "10_create_tags.up.sql", "10", "create tags", 1, 1, 0, "CREATE TABLE tags" },
	};
	(void)state;
	check_fixture("sqlx", "sqlx", w, N(w));
}

/* ---- detection and the layouts' errors --------------------------------------- */

/* Loads root/m (written by the caller) as the only source, layout NULL: detected. */
static int load_dir(const char *root, const char *layout, fr_catalog **c, fr_buf *err)
{
	fr_source src;
	int rc;
	memset(&src, 0, sizeof src);
	src.path = t_path(root, "m");
	src.rel = (char *)"m";
	src.layout = (char *)layout;
	fr_buf_reset(err);
	rc = fr_catalog_load_sources(c, &src, 1, root, err);
	free(src.path);
	return rc;
}

static void expect_error(const char *root, const char *layout, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_catalog *c = NULL;
	assert_int_equal(load_dir(root, layout, &c, &err), FERRY_EINVALID);
	assert_null(c);
	assert_string_equal(err.ptr, want);
	fr_buf_release(&err);
}

static void expect_layout(const char *root, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_catalog *c = NULL;
	if (load_dir(root, NULL, &c, &err))
		fail_msg("%s", err.ptr);
	assert_true(c->nforeign > 0);
	assert_string_equal(c->foreign[0]->layout, want);
	fr_catalog_free(c);
	fr_buf_release(&err);
}

static void detection(void **state)
{
	char *root = t_tmpdir();
	(void)state;
	/* <v>_<n>.sql without markers fits dbmate, goose and sqlx: a clear error */
	t_write(root, "m/1_a.sql", "CREATE TABLE a (x INTEGER);\n");
	t_write(root, "m/2_b.sql", "CREATE TABLE b (x INTEGER);\n");
	expect_error(root, NULL, "m: cannot tell its layout from the file names (they fit dbmate, "
	                         "goose and sqlx) nor from markers in the files; set 'layout:' for "
	                         "it in ferry.yaml");
	/* the markers decide */
	t_write(root, "m/2_b.sql", "-- migrate:up\nCREATE TABLE b (x INTEGER);\n");
	expect_layout(root, "dbmate");
	t_write(root, "m/2_b.sql", "-- +goose Up\nCREATE TABLE b (x INTEGER);\n");
	expect_layout(root, "goose");
	/* given, it is read so: a plain file is an sqlx migration */
	t_write(root, "m/2_b.sql", "-- no-transaction\nVACUUM;\n");
	{
		fr_buf err = FR_BUF_INIT;
		fr_catalog *c = NULL;
		assert_int_equal(load_dir(root, "sqlx", &c, &err), 0);
		assert_int_equal(c->nforeign, 2);
		assert_int_equal(fr_step_load(c->foreign[1], &err), 0);
		assert_false(c->foreign[1]->kind->transactional(c->foreign[1]));
		fr_catalog_free(c);
		fr_buf_release(&err);
	}
	/* golang-migrate's pairs, Flyway's names, diesel's folders */
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/0001_a.up.sql", "SELECT 1;\n");
	t_write(root, "m/0001_a.down.sql", "SELECT 2;\n");
	expect_layout(root, "golang-migrate");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/V1__a.sql", "SELECT 1;\n");
	t_write(root, "m/R__b.sql", "SELECT 1;\n");
	expect_layout(root, "flyway");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/2020-01-01-000000_a/up.sql", "SELECT 1;\n");
	expect_layout(root, "diesel");
	/* what fits nothing */
	t_write(root, "m/notes.txt", "x\n");
	expect_error(root, NULL, "m: its files match no layout ferry reads (ferry's own, dbmate, "
	                         "goose, golang-migrate, flyway, diesel, sqlx); set 'layout:' for "
	                         "it in ferry.yaml, or rename what does not fit");
	/* ferry's own, detected: a flat semantic-version step */
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/1.0.0_a.sql", "-- ferry:up\nSELECT 1;\n");
	{
		fr_buf err = FR_BUF_INIT;
		fr_catalog *c = NULL;
		assert_int_equal(load_dir(root, NULL, &c, &err), 0);
		assert_int_equal(c->nforeign, 0);
		assert_non_null(c->dir);
		assert_non_null(fr_catalog_step(c, "1.0.0/1.0.0_a.sql"));
		fr_catalog_free(c);
		fr_buf_release(&err);
	}
	t_rmrf(root);
	free(root);
}

static void layout_errors(void **state)
{
	char *root = t_tmpdir();
	(void)state;
	t_write(root, "m/1_a.go", "package x\n");
	expect_error(root, "goose", "m/1_a.go: a Go-coded goose migration; ferry runs SQL "
	                            "migrations only (rewrite it as <version>_<name>.sql, or run "
	                            "it with goose)");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/01_a.sql", "-- +goose Up\nSELECT 1;\n");
	t_write(root, "m/1_b.sql", "-- +goose Up\nSELECT 1;\n");
	expect_error(root, "goose", "m/1_b.sql: a second migration of version 1 (also '01_a.sql')");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/1_a.down.sql", "SELECT 1;\n");
	expect_error(root, "golang-migrate", "m/1_a.down.sql: a down file without its up file");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/U1__a.sql", "SELECT 1;\n");
	expect_error(root, "flyway", "m/U1__a.sql: an undo migration without its versioned one");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/2020_a/down.sql", "SELECT 1;\n");
	expect_error(root, "diesel", "m/2020_a: no up.sql in the migration's folder");
	t_sh("rm -rf '%s/m'", root);
	t_write(root, "m/1_a.sql", "SELECT 1;\n");
	t_write(root, "m/x.sql", "SELECT 1;\n");
	expect_error(root, "dbmate", "m/x.sql: not a dbmate migration (expected "
	                             "<version>_<name>.sql, the version its leading digits)");
	t_rmrf(root);
	free(root);
}

/* A layout's split: markers, options, text before the first block. */
static void splits(void **state)
{
	fr_split_in in;
	fr_split_out o;
	fr_buf err = FR_BUF_INIT;
	const char *t;
	(void)state;
	memset(&in, 0, sizeof in);
	in.rel = "m/1_a.sql";

	t = "-- header\n-- migrate:up transaction:false\nVACUUM;\n-- migrate:down\nSELECT 2;\n";
	in.up = t;
	in.up_len = strlen(t);
	assert_int_equal(fr_layout_dbmate.split(&in, &o, &err), 0);
	assert_string_equal(o.up, "VACUUM;\n");
	assert_int_equal(o.up_line, 3);
	assert_string_equal(o.down, "SELECT 2;\n");
	assert_true(o.no_tx);
	fr_free(o.up);
	fr_free(o.down);

	t = "SELECT 0;\n-- migrate:up\nSELECT 1;\n";
	in.up = t;
	in.up_len = strlen(t);
	assert_int_equal(fr_layout_dbmate.split(&in, &o, &err), -1);
	assert_string_equal(err.ptr, "m/1_a.sql:1: statements before the first '-- migrate:' block "
	                             "(dbmate runs only what is inside the blocks)");
	fr_buf_reset(&err);
	t = "-- migrate:up mode:x\nSELECT 1;\n";
	in.up = t;
	in.up_len = strlen(t);
	assert_int_equal(fr_layout_dbmate.split(&in, &o, &err), -1);
	assert_string_equal(err.ptr, "m/1_a.sql:1: unknown option 'mode:x' of '-- migrate:up'");
	fr_buf_reset(&err);
	t = "SELECT 1;\n";
	in.up = t;
	in.up_len = strlen(t);
	assert_int_equal(fr_layout_goose.split(&in, &o, &err), -1);
	assert_string_equal(err.ptr, "m/1_a.sql: no '-- +goose Up' annotation (goose needs one)");
	fr_buf_reset(&err);

	/* goose: Down before Up is fine; case does not matter */
	t = "-- +goose down\nSELECT 2;\n-- +goose up\nSELECT 1;\n";
	in.up = t;
	in.up_len = strlen(t);
	assert_int_equal(fr_layout_goose.split(&in, &o, &err), 0);
	assert_string_equal(o.up, "SELECT 1;\n");
	assert_string_equal(o.down, "SELECT 2;\n");
	assert_false(o.no_tx);
	fr_free(o.up);
	fr_free(o.down);

	/* whole files: flyway's conf, diesel's metadata */
	in.up = "SELECT 1;\n";
	in.up_len = strlen(in.up);
	in.meta = "# a comment\nexecuteInTransaction = false\n";
	in.meta_len = strlen(in.meta);
	assert_int_equal(fr_layout_flyway.split(&in, &o, &err), 0);
	assert_true(o.no_tx);
	assert_null(o.down);
	fr_free(o.up);
	in.meta = "run_in_transaction=false\n";
	in.meta_len = strlen(in.meta);
	assert_int_equal(fr_layout_diesel.split(&in, &o, &err), 0);
	assert_true(o.no_tx);
	fr_free(o.up);
	in.meta = "run_in_transaction = true\n";
	in.meta_len = strlen(in.meta);
	assert_int_equal(fr_layout_diesel.split(&in, &o, &err), 0);
	assert_false(o.no_tx);
	fr_free(o.up);
	fr_buf_release(&err);
}

/* ---- ferry.yaml's sources ------------------------------------------------------ */

static void config_error(const char *root, const char *yaml, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_config *c = NULL;
	char *p = t_path(root, "ferry.yaml");
	t_write(root, "ferry.yaml", yaml);
	assert_int_equal(fr_config_load(&c, root, &err), FERRY_EINVALID);
	assert_non_null(strstr(err.ptr, p));
	if (!strstr(err.ptr, want))
		fail_msg("'%s' lacks '%s'", err.ptr, want);
	free(p);
	fr_buf_release(&err);
}

static void config_sources(void **state)
{
	char *root = t_tmpdir();
	fr_buf err = FR_BUF_INIT;
	fr_config *c = NULL;
	(void)state;
	t_write(root, "ferry.yaml", "migrations:\n  - path: db/migrations\n    layout: dbmate\n"
	                            "    database: reports\n  - path: upgrade\n  - path: x\n"
	                            "    layout: ferry\ndatabases:\n  main: sqlite:a.db\n"
	                            "  reports: sqlite:r.db\n");
	if (fr_config_load(&c, root, &err))
		fail_msg("%s", err.ptr);
	assert_int_equal(c->nsources, 3);
	assert_string_equal(c->sources[0].rel, "db/migrations");
	assert_string_equal(c->sources[0].layout, "dbmate");
	assert_string_equal(c->sources[0].database, "reports");
	assert_int_equal(c->sources[0].line, 2);
	assert_null(c->sources[1].layout);
	assert_null(c->sources[1].database);
	assert_string_equal(c->sources[2].layout, "ferry");
	assert_non_null(strstr(c->migrations, "/x"));
	fr_config_free(c);
	c = NULL;
	/* a string is today's folder of ferry's own layout */
	t_write(root, "ferry.yaml", "migrations: up\n");
	assert_int_equal(fr_config_load(&c, root, &err), 0);
	assert_int_equal(c->nsources, 1);
	assert_string_equal(c->sources[0].layout, "ferry");
	fr_config_free(c);
	c = NULL;

	config_error(root, "migrations:\n  - path: a\n    kind: dbmate\n",
	             ":3: unknown key 'kind' in 'migrations' (expected one of: path, layout, "
	             "database)");
	config_error(root, "migrations:\n  - path: a\n    layout: liquibase\n",
	             ":3: unknown layout 'liquibase' in 'migrations' (expected one of: ferry, "
	             "dbmate, goose, golang-migrate, flyway, diesel, sqlx)");
	config_error(root, "migrations:\n  - path: a\n    database: nope\ndatabases:\n"
	                   "  main: sqlite:a.db\n",
	             ":3: source 'a' names database 'nope', which 'databases' does not list");
	config_error(root, "migrations:\n  - path: a\n    layout: ferry\n  - path: b\n"
	                   "    layout: ferry\n",
	             ":4: a second source of layout 'ferry' in 'migrations' (the first is 'a', "
	             "line 2)");
	config_error(root, "migrations:\n  - path: db\n    layout: dbmate\n  - path: db/\n"
	                   "    layout: goose\n",
	             ":4: source 'db/' is the folder of source 'db' (line 2) again");
	config_error(root, "migrations:\n  - layout: dbmate\n",
	             ":2: a source in 'migrations' needs a 'path'");
	fr_buf_release(&err);
	t_rmrf(root);
	free(root);
}

/* ---- versions.yaml's schema: ------------------------------------------------------ */

static int load_two(const char *root, fr_catalog **c, fr_buf *err, int with_second)
{
	fr_source src[3];
	int rc;
	memset(src, 0, sizeof src);
	src[0].path = t_path(root, "db");
	src[0].rel = (char *)"db";
	src[0].layout = (char *)"dbmate";
	src[1].path = t_path(root, "upgrade");
	src[1].rel = (char *)"upgrade";
	src[2].path = t_path(root, "db2");
	src[2].rel = (char *)"./db2/";
	src[2].layout = (char *)"goose";
	fr_buf_reset(err);
	rc = fr_catalog_load_sources(c, src, with_second ? 3 : 2, root, err);
	free(src[0].path);
	free(src[1].path);
	free(src[2].path);
	return rc;
}

static void schema_mapping(void **state)
{
	char *root = t_tmpdir();
	fr_buf err = FR_BUF_INIT;
	fr_catalog *c = NULL;
	const fr_transition *t;
	(void)state;
	t_write(root, "db/1_a.sql", "-- migrate:up\nCREATE TABLE a (x INTEGER);\n");
	t_write(root, "db/2_b.sql", "-- migrate:up\nCREATE TABLE b (x INTEGER);\n");
	t_write(root, "db/3_c.sql", "-- migrate:up\nCREATE TABLE c (x INTEGER);\n");
	t_write(root, "upgrade/versions.yaml", "- version: 1.4.0\n  schema: \"2\"\n- 2.0.0\n");
	t_write(root, "upgrade/v1.4.0_to_v2.0.0/001_x.sql", "-- ferry:up\nSELECT 1;\n");
	if (load_two(root, &c, &err, 0))
		fail_msg("%s", err.ptr);
	/* 1.4.0 ships 1 and 2: a transition of its own, from 0.0.0 */
	t = c->foreign[0]->tr;
	assert_ptr_equal(c->foreign[1]->tr, t);
	assert_string_equal(t->name, "1.4.0 (schema)");
	assert_int_equal(t->nsteps, 2);
	assert_int_equal(t->to.major, 1);
	assert_int_equal(t->to.minor, 4);
	/* the rest goes into the transition into the greatest node, before its own step */
	t = c->foreign[2]->tr;
	assert_string_equal(t->name, "v1.4.0_to_v2.0.0");
	assert_int_equal(t->nsteps, 2);
	assert_ptr_equal(t->steps[0], c->foreign[2]);
	assert_string_equal(t->steps[1]->id, "2.0.0/001_x.sql");
	assert_null(c->schema_tr);
	fr_catalog_free(c);
	c = NULL;

	/* foreign: after puts them after its own */
	t_write(root, "upgrade/v1.4.0_to_v2.0.0/transition.yaml", "foreign: after\n");
	assert_int_equal(load_two(root, &c, &err, 0), 0);
	t = c->foreign[2]->tr;
	assert_string_equal(t->steps[0]->id, "2.0.0/001_x.sql");
	assert_ptr_equal(t->steps[1], c->foreign[2]);
	fr_catalog_free(c);
	c = NULL;

	/* errors: a migration the folder lacks; no source named with two foreign ones */
	t_write(root, "upgrade/versions.yaml", "- version: 1.4.0\n  schema: \"9\"\n");
	assert_int_equal(load_two(root, &c, &err, 0), FERRY_EINVALID);
	assert_string_equal(err.ptr, "upgrade/versions.yaml:2: 'schema' of '1.4.0' names migration "
	                             "'9', which 'db' does not hold");
	t_write(root, "db2/1_a.sql", "-- +goose Up\nSELECT 1;\n");
	t_write(root, "upgrade/versions.yaml", "- version: 1.4.0\n  schema: \"2\"\n");
	assert_int_equal(load_two(root, &c, &err, 1), FERRY_EINVALID);
	assert_string_equal(err.ptr, "upgrade/versions.yaml:2: 'schema' of '1.4.0' names no source, "
	                             "and ferry.yaml has 2 sources of other tools' layouts (write "
	                             "schema: {<source path>: \"<version>\"})");
	/* named, each source is cut on its own */
	t_write(root, "upgrade/versions.yaml", "- version: 1.4.0\n  schema: {db: \"2\", db2: \"1\"}\n");
	if (load_two(root, &c, &err, 1))
		fail_msg("%s", err.ptr);
	assert_int_equal(c->nforeign, 4);
	assert_ptr_equal(c->foreign[3]->tr, c->foreign[0]->tr);
	assert_string_equal(c->foreign[3]->id, "goose:db2/1_a.sql");
	fr_catalog_free(c);
	c = NULL;
	t_write(root, "upgrade/versions.yaml", "- version: 1.4.0\n  schema: {nope: \"2\"}\n");
	assert_int_equal(load_two(root, &c, &err, 1), FERRY_EINVALID);
	assert_string_equal(err.ptr, "upgrade/versions.yaml:2: 'schema' of '1.4.0' names 'nope', "
	                             "which is no source of another tool's layout in ferry.yaml");
	fr_buf_release(&err);
	t_rmrf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_layout_is_complete),
		cmocka_unit_test(dbmate_folder),
		cmocka_unit_test(goose_folder),
		cmocka_unit_test(golang_migrate_folder),
		cmocka_unit_test(flyway_folder),
		cmocka_unit_test(diesel_folder),
		cmocka_unit_test(sqlx_folder),
		cmocka_unit_test(detection),
		cmocka_unit_test(layout_errors),
		cmocka_unit_test(splits),
		cmocka_unit_test(config_sources),
		cmocka_unit_test(schema_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
