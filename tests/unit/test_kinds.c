/*
 * test_kinds.c - one suite, run against every step kind of the table (sql,
 * script, ops, native) and the mock of mock_kind.c: the kind is complete;
 * it claims its own files and no other kind's; it loads a valid sample and
 * refuses an invalid one with "<file>:<line>: ..."; a step run forward is
 * undone from its undo text alone, without the file, and reversible agrees
 * with that text being non-empty; describe says something and a dry run
 * changes nothing; its `ferry new` template is a template until edited and
 * fr_step_load refuses it untouched; its flags agree with its members.
 * What is a kind's own stays in its test_<kind>.c.
 *
 * Last, the engine with mock steps beside SQL steps on SQLite, by the
 * public API alone: up (its plan's actions are the run's), down, a failing
 * up that undoes itself, verify, backup and restore, a rehearsal, and
 * `ferry new` of a mock step, with nothing about the mock known outside
 * mock_kind.c and its slot in the kind table.
 */
#include "helpers.h"
#include "mock_kind.h"

#include "catalog.h"
#include "db/db.h"
#include "ferry.h"
#include "step/step.h"
#include "util/alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_REL "migrations/v1.0.0_to_v1.1.0/"

typedef struct env env;

/* A kind and its samples. */
typedef struct {
	const fr_step_kind *kind;
	const char *file;         /* the samples' file name (NULL: the kind has no files) */
	const char *valid;        /* loads; forward makes the change done() sees; reversible */
	const char *irreversible; /* loads and runs, with no undo (NULL: every step has one) */
	const char *invalid;      /* refused by load */
	const char *invalid_why;  /* load's message after "<rel>:" */
	int (*done)(env *e);      /* 1 when the valid sample's change is there */
} kind_case;

struct env {
	const kind_case *kc;
	char *root;
	char *rel;       /* DIR_REL + file */
	char *path;
	fr_run_ctx ctx;
	fr_buf err;      /* ctx->err */
	fr_buf lerr;     /* load errors */
	fr_dbconf conf;
	fr_db *db;       /* "main", the default */
	int db_calls;
	fr_step step;
	fr_transition tr;
	/* native: the handle its steps are registered on, and the steps */
	ferry *f;
	ferry_native_step nat, nat_irrev;
	int native_done;
};

/* ---- what each kind's valid sample changes ---- */

static int file_made(env *e, const char *rel)
{
	char *p = t_path(e->root, rel);
	struct stat st;
	int r = lstat(p, &st) == 0;
	free(p);
	return r;
}

static int sql_done(env *e)
{
	return t_qbool(e->db, "SELECT count(*) FROM sqlite_master WHERE name = 'made'");
}

static int made_txt(env *e)
{
	return file_made(e, "made.txt");
}

static int ops_done(env *e)
{
	return file_made(e, "data/made");
}

static int native_done(env *e)
{
	return e->native_done;
}

static const kind_case cases[] = {
	{ &fr_step_sql, "002_made.sql",
	  "-- ferry:up\nCREATE TABLE made (x);\n-- ferry:down\nDROP TABLE made;\n",
	  "-- ferry:up\nCREATE TABLE other (x);\n",
	  "-- ferry:up\nSELECT 1;\n-- ferry:xyz\n", "3: unknown marker 'ferry:xyz'", sql_done },
	{ &fr_step_script, "002_made.sh",
	  "#!/bin/sh\ncase \"$1\" in\nforward) touch made.txt ;;\nbackward) rm made.txt ;;\n"
	  "check) exit 0 ;;\nesac\n",
	  "# ferry:irreversible\n[ \"$1\" = forward ] && touch other.txt\nexit 0\n",
	  "echo\n# ferry:reversible\n",
	  "2: unknown directive 'ferry:reversible' (known: database NAME, irreversible, "
	  "timeout SECONDS)", made_txt },
	{ &fr_step_ops, "002_made.yaml", "ops:\n  - mkdir: {path: data/made}\n", NULL,
	  "ops:\n  - frobnicate: {path: a}\n",
	  "2: unknown op 'frobnicate' (known: set, rename, delete, env, mkdir, move, copy, chmod, "
	  "remove)", ops_done },
	{ &fr_step_native, NULL, NULL, NULL, NULL, NULL, native_done },
	{ &fr_step_mock, "002_made.mock", "touch made.txt\n# down\nrm made.txt\n",
	  "touch other.txt\n", "touch a\nfrob b\n",
	  "2: unknown command 'frob' (known: touch PATH, fail; after '# down': rm PATH)",
	  made_txt },
};

/*
 * File names and the kind whose step each is (NULL: none). Only that kind
 * claims a file that is not executable; an executable one the catch-all
 * script kind claims too, and the table's order gives it to its kind.
 */
static const struct {
	const char *name;
	int executable;
	const fr_step_kind *kind;
} names[] = {
	{ "001_init.sql", 0, &fr_step_sql },
	{ "001_init.SQL", 1, &fr_step_sql },
	{ "001_init.sql.orig", 0, NULL },
	{ ".sql", 0, NULL },
	{ "002_reindex.sh", 0, &fr_step_script },
	{ "002_REINDEX.SH", 0, &fr_step_script },
	{ "002_reindex", 1, &fr_step_script },
	{ "002_reindex.py", 1, &fr_step_script },
	{ "002_notes.txt", 0, NULL },
	{ "", 1, NULL },
	{ "003_config.yaml", 0, &fr_step_ops },
	{ "003_config.YML", 0, &fr_step_ops },
	{ "003_config.yml", 1, &fr_step_ops },  /* an executable *.yml is still an ops step */
	{ "003_config.yaml.orig", 0, NULL },
	{ "transition.yaml", 0, NULL },
	{ "versions.yaml", 0, NULL },
	{ "004_files.mock", 0, &fr_step_mock },
	{ "004_files.mock", 1, &fr_step_mock }, /* before the catch-all script kind */
	{ ".mock", 0, NULL },
};

/* ---- set-up: a root, a SQLite database, a step of the group's kind ---- */

static fr_db *ctx_db(fr_run_ctx *ctx, const char *name)
{
	env *e = ctx->engine;
	e->db_calls++;
	if (!name || strcmp(name, "main") == 0)
		return e->db;
	fr_buf_printf(ctx->err, "database '%s' is not in ferry.yaml", name);
	return NULL;
}

static int cb_forward(ferry *f, void *ctx)
{
	env *e = ctx;
	(void)f;
	e->native_done = 1;
	return 0;
}

static int cb_backward(ferry *f, void *ctx)
{
	env *e = ctx;
	(void)f;
	e->native_done = 0;
	return 0;
}

static void native_steps(env *e)
{
	t_write(e->root, "ferry.yaml", "databases:\n  main: sqlite:app.db\n");
	assert_int_equal(ferry_open(&e->f, e->root, NULL), 0);
	memset(&e->nat, 0, sizeof e->nat);
	e->nat.version = FERRY_NATIVE_STEP_VERSION;
	e->nat.id = "1.1.0/002_made";
	e->nat.from = "1.0.0";
	e->nat.to = "1.1.0";
	e->nat.description = "make it";
	e->nat.forward = cb_forward;
	e->nat.backward = cb_backward;
	e->nat.ctx = e;
	e->nat_irrev = e->nat;
	e->nat_irrev.id = "1.1.0/003_other";
	e->nat_irrev.backward = NULL;
	assert_int_equal(ferry_register_step(e->f, &e->nat), 0);
	assert_int_equal(ferry_register_step(e->f, &e->nat_irrev), 0);
	e->ctx.handle = e->f;
}

static int setup_kind(void **state, const fr_step_kind *k)
{
	env *e = calloc(1, sizeof *e);
	fr_buf err = FR_BUF_INIT;
	size_t i;
	assert_non_null(e);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (cases[i].kind == k)
			e->kc = &cases[i];
	assert_non_null(e->kc);
	e->root = t_tmpdir();
	e->conf.name = "main";
	e->conf.url = "sqlite:app.db";
	e->conf.driver = "sqlite";
	e->conf.path = t_path(e->root, "app.db");
	if (fr_db_open(&e->db, &e->conf, &err))
		fail_msg("open: %s", err.ptr);
	fr_buf_release(&err);
	fr_buf_init(&e->err);
	fr_buf_init(&e->lerr);
	e->ctx.root = e->root;
	e->ctx.db = ctx_db;
	e->ctx.err = &e->err;
	e->ctx.engine = e;
	e->ctx.from = "1.0.0";
	e->ctx.to = "1.1.0";
	assert_int_equal(fr_vpattern_parse(&e->tr.from, "1.0.0", &err), 0);
	assert_int_equal(fr_version_parse(&e->tr.to, "1.1.0", &err), 0);
	fr_buf_release(&err);
	e->step.kind = k;
	e->step.tr = &e->tr;
	e->step.from = &e->tr.from;
	e->step.to = &e->tr.to;
	if (e->kc->file) {
		e->rel = t_path("migrations/v1.0.0_to_v1.1.0", e->kc->file);
		e->path = t_path(e->root, e->rel);
		e->step.name = (char *)e->kc->file;
		e->step.rel = e->rel;
		e->step.path = e->path;
		e->step.id = t_path("1.1.0", e->kc->file);
	} else {
		native_steps(e);
		e->step.id = strdup(e->nat.id);
	}
	e->ctx.step_id = e->step.id;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	if (e->step.loaded && e->step.kind->unload)
		e->step.kind->unload(&e->step);
	fr_db_close(e->db);
	ferry_close(e->f);
	fr_buf_release(&e->err);
	fr_buf_release(&e->lerr);
	t_rmrf(e->root);
	free(e->root);
	free(e->rel);
	free(e->path);
	free(e->step.id);
	free(e->conf.path);
	free(e);
	return 0;
}

#define SETUP(name, kind) \
	static int setup_##name(void **state) \
	{ \
		return setup_kind(state, &kind); \
	}
SETUP(sql, fr_step_sql)
SETUP(script, fr_step_script)
SETUP(ops, fr_step_ops)
SETUP(native, fr_step_native)
SETUP(mock, fr_step_mock)

/* ---- loading a sample ---- */

static void unload(env *e)
{
	if (e->step.loaded && e->step.kind->unload)
		e->step.kind->unload(&e->step);
	e->step.loaded = 0;
	e->step.priv = NULL;
	e->step.checksum[0] = '\0';
}

/*
 * Writes text as the step's file and loads it through fr_step_load (for a
 * kind without files: the registered step, irrev picking the one without
 * a backward). Returns fr_step_load's result, the message in e->lerr.
 */
static int load(env *e, const char *text, int irrev)
{
	unload(e);
	fr_buf_reset(&e->lerr);
	if (!e->kc->file) {
		e->step.priv = irrev ? &e->nat_irrev : &e->nat;
		free(e->step.id);
		e->step.id = strdup(irrev ? e->nat_irrev.id : e->nat.id);
		e->ctx.step_id = e->step.id;
	} else {
		t_write(e->root, e->rel, text);
	}
	return fr_step_load(&e->step, &e->lerr);
}

static void load_ok(env *e, const char *text, int irrev)
{
	if (load(e, text, irrev))
		fail_msg("load failed: %s", e->lerr.ptr);
	assert_true(e->step.loaded);
}

static void forward_ok(env *e)
{
	fr_buf_reset(&e->err);
	if (e->step.kind->forward(&e->ctx, &e->step))
		fail_msg("forward failed: %s", e->err.ptr);
}

/* The database name the engine gives undo: the record's ("main"), "" for a step on none. */
static const char *undo_db(env *e)
{
	const char *db = e->step.kind->database(&e->step);
	return db && !*db ? "" : "main";
}

/* ---- the cases ---- */

static void test_complete(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	fr_buf why = FR_BUF_INIT;
	if (fr_step_kind_complete(k, &why))
		fail_msg("%s", why.ptr);
	fr_buf_release(&why);
	assert_ptr_equal(fr_step_kind_find(k->name), k);
	assert_true(strlen(k->noun) > 0);
	assert_string_equal(fr_kind_noun(k), k->noun);
}

static void test_claims(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int want = names[i].kind == k;
		if (k->claims(names[i].name, names[i].executable) != want &&
		    (want || !names[i].executable))
			fail_msg("%s %s '%s' (executable: %d)", k->name, want ? "does not claim" :
			         "claims", names[i].name, names[i].executable);
		assert_ptr_equal(fr_step_kind_for(names[i].name, names[i].executable), names[i].kind);
	}
	if (e->kc->file)
		assert_ptr_equal(fr_step_kind_for(e->kc->file, 0), k);
}

static void test_load(void **state)
{
	env *e = *state;
	fr_buf want = FR_BUF_INIT;
	if (!e->kc->file) {
		assert_null(e->kc->kind->load); /* nothing to read */
		load_ok(e, NULL, 0);
		return;
	}
	load_ok(e, e->kc->valid, 0);
	assert_int_equal(load(e, e->kc->invalid, 0), -1);
	assert_false(e->step.loaded);
	fr_buf_printf(&want, "%s:%s", e->rel, e->kc->invalid_why);
	assert_string_equal(e->lerr.ptr, want.ptr);
	fr_buf_release(&want);
}

/* Forward, then undo from the recorded text alone: the file unloaded and gone. */
static void test_undo_roundtrip(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	fr_buf u = FR_BUF_INIT;
	load_ok(e, e->kc->valid, 0);
	assert_false(e->kc->done(e));
	forward_ok(e);
	assert_true(e->kc->done(e));
	assert_int_equal(k->undo_text(&e->step, &u), 0);
	assert_true(u.len > 0);
	assert_true(k->reversible(&e->step));
	{
		char db[16];
		snprintf(db, sizeof db, "%s", undo_db(e));
		unload(e);
		if (e->path)
			assert_int_equal(unlink(e->path), 0);
		fr_buf_reset(&e->err);
		if (k->undo(&e->ctx, e->step.id, db, u.ptr))
			fail_msg("undo failed: %s", e->err.ptr);
	}
	assert_false(e->kc->done(e));
	fr_buf_release(&u);
}

/* reversible() is 1 exactly when the text undo() needs is not empty. */
static void test_reversible_agrees(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	fr_buf u = FR_BUF_INIT;
	int irrev;
	for (irrev = 0; irrev < 2; irrev++) {
		if (irrev && !e->kc->irreversible && e->kc->file)
			continue;
		load_ok(e, irrev ? e->kc->irreversible : e->kc->valid, irrev);
		forward_ok(e);
		fr_buf_reset(&u);
		assert_int_equal(k->undo_text(&e->step, &u), 0);
		assert_int_equal(k->reversible(&e->step), u.len > 0);
		assert_int_equal(k->reversible(&e->step), !irrev);
	}
	fr_buf_release(&u);
}

static void test_describe(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	fr_buf d = FR_BUF_INIT;
	load_ok(e, e->kc->valid, 0);
	assert_int_equal(k->describe(&e->step, &d), 0);
	assert_true(d.len > 0);
	if (k->describe_in) {
		/* With the run's context: the values it gives, as db_shown spells them. */
		static const char *const dbn[] = { "main", "other-db" };
		static const char *const urls[] = { "/srv/app.db", "postgres://u:pw@h/x" };
		static const char *const shown[] = { "/srv/app.db", "postgres://u:***@h/x" };
		fr_run_ctx c = e->ctx;
		c.db_names = dbn;
		c.db_urls = urls;
		c.db_shown = shown;
		c.ndbs = 2;
		fr_buf_reset(&d);
		assert_int_equal(k->describe_in(&c, &e->step, &d), 0);
		assert_true(d.len > 0);
		if (k == &fr_step_script) {
			assert_non_null(strstr(d.ptr, "FERRY_DB_MAIN='/srv/app.db'"));
			assert_non_null(strstr(d.ptr, "FERRY_DB_OTHER_DB='postgres://u:***@h/x'"));
			assert_null(strstr(d.ptr, ":pw@"));
		}
	}
	fr_buf_release(&d);
	/* a dry run changes nothing */
	e->ctx.dry_run = 1;
	forward_ok(e);
	e->ctx.dry_run = 0;
	assert_false(e->kc->done(e));
}

static void test_template(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	fr_buf t = FR_BUF_INIT, u = FR_BUF_INIT, name = FR_BUF_INIT, want = FR_BUF_INIT;
	const char *ext;
	if (!k->new_template) {
		assert_null(k->new_ext);
		assert_null(k->is_template);
		assert_null(fr_step_kind_for_new(k->name));
		assert_int_equal(fr_kind_new_template(k, "x", &t, &ext), -1);
		assert_null(ext);
		return;
	}
	assert_ptr_equal(fr_step_kind_for_new(k->name), k);
	assert_ptr_equal(fr_step_kind_for_new(k->new_ext), k);
	assert_int_equal(fr_kind_new_template(k, "add_pins-2", &t, &ext), 0);
	assert_string_equal(ext, k->new_ext);
	assert_non_null(strstr(t.ptr, "add_pins-2"));
	fr_buf_printf(&name, "001_add_pins-2.%s", ext);
	assert_ptr_equal(fr_step_kind_for(name.ptr, fr_kind_has(k, FR_KIND_EXECUTABLE)), k);
	/* any name is the template; any edit is not */
	assert_true(k->is_template(t.ptr, t.len));
	assert_int_equal(fr_kind_new_template(k, "other", &u, &ext), 0);
	assert_true(k->is_template(u.ptr, u.len));
	fr_buf_puts(&u, "x\n");
	assert_false(k->is_template(u.ptr, u.len));
	assert_false(k->is_template(t.ptr, t.len - 1));
	/* fr_step_load refuses it untouched, naming the file; edited, it loads */
	assert_int_equal(load(e, t.ptr, 0), -1);
	assert_true(fr_step_untouched(&e->step));
	fr_buf_printf(&want, "%s: still the untouched template of 'ferry new'; write the %s's "
	                     "change in it (or delete the file)", e->rel, k->noun);
	assert_string_equal(e->lerr.ptr, want.ptr);
	assert_false(e->step.loaded);
	load_ok(e, e->kc->valid, 0);
	assert_false(fr_step_untouched(&e->step));
	fr_buf_release(&t);
	fr_buf_release(&u);
	fr_buf_release(&name);
	fr_buf_release(&want);
}

static void test_flags(void **state)
{
	env *e = *state;
	const fr_step_kind *k = e->kc->kind;
	const char *db;
	if (fr_kind_has(k, FR_KIND_NO_FILE)) {
		assert_null(k->load);
		assert_null(k->files);
		assert_null(k->new_ext);
		assert_non_null(fr_step_kind_with(FR_KIND_NO_FILE));
		assert_true(fr_kind_has(fr_step_kind_with(FR_KIND_NO_FILE), FR_KIND_NO_FILE));
	} else {
		assert_non_null(k->load);
		assert_non_null(k->files);
	}
	if (fr_kind_has(k, FR_KIND_EXECUTABLE))
		assert_non_null(k->new_template);
	/* NEEDS_DB: a step naming no database asks for the default one; the others for none */
	load_ok(e, e->kc->valid, 0);
	db = k->database(&e->step);
	e->db_calls = 0;
	forward_ok(e);
	if (fr_kind_has(k, FR_KIND_NEEDS_DB)) {
		assert_true(!db || *db);
		assert_true(e->db_calls > 0);
	} else {
		assert_string_equal(db, "");
		assert_int_equal(e->db_calls, 0);
		assert_false(k->transactional(&e->step));
	}
}

/* ---- the mock's own: its check, its failing forward, its language ---- */

static void test_mock_check_and_fail(void **state)
{
	env *e = *state;
	int needed = -1;
	load_ok(e, "touch a.txt\ntouch sub/b.txt\n# down\nrm a.txt\nrm sub/b.txt\n", 0);
	assert_int_equal(fr_step_mock.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 1);
	t_write(e->root, "a.txt", "");
	assert_int_equal(fr_step_mock.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 1);
	t_write(e->root, "sub/b.txt", "");
	assert_int_equal(fr_step_mock.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 0);
	/* a failing forward removes what it made, not what was there */
	load_ok(e, "touch a.txt\ntouch c.txt\n\nfail\n", 0);
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_mock.forward(&e->ctx, &e->step), -1);
	assert_string_equal(e->err.ptr, DIR_REL "002_made.mock:4: fail (the step says so); the "
	                                "step's earlier touches were undone");
	assert_true(file_made(e, "a.txt"));
	assert_false(file_made(e, "c.txt"));
	/* the language's refusals */
	assert_int_equal(load(e, "# down\nrm a\n", 0), -1);
	assert_non_null(strstr(e->lerr.ptr, ": no 'touch' or 'fail' line"));
	assert_int_equal(load(e, "touch ../a\n", 0), -1);
	assert_non_null(strstr(e->lerr.ptr, ":1: 'touch' needs a path inside the root, not '../a'"));
	assert_int_equal(load(e, "touch a\n# down\ntouch b\n", 0), -1);
	assert_non_null(strstr(e->lerr.ptr, ":3: 'touch' belongs before '# down'"));
	assert_int_equal(load(e, "rm a\n", 0), -1);
	assert_non_null(strstr(e->lerr.ptr, ":1: 'rm' belongs after '# down'"));
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_mock.undo(&e->ctx, "x", "", "touch a\n"), -1);
	assert_string_equal(e->err.ptr, "x (undo):1: 'touch' belongs before '# down'");
}

/* ---- the engine with mock steps beside SQL steps, by the public API ---- */

#define MOCK_FILES "touch data/one.txt\ntouch data/sub/two.txt\n# down\nrm data/one.txt\n" \
                   "rm data/sub/two.txt\n"

static char *install(void)
{
	char *root = t_tmpdir();
	t_write(root, "ferry.yaml", "app: demo\nversion_file: version.json\n"
	                            "databases:\n  main: sqlite:data/app.db\n");
	t_write(root, "migrations/v0.0.0_to_v1.0.0/001_a.sql",
	        "-- ferry:up\nCREATE TABLE a (x);\n-- ferry:down\nDROP TABLE a;\n");
	t_write(root, "migrations/v0.0.0_to_v1.0.0/002_files.mock", MOCK_FILES);
	t_write(root, "migrations/v0.0.0_to_v1.0.0/003_b.sql",
	        "-- ferry:up\nCREATE TABLE b (x);\n-- ferry:down\nDROP TABLE b;\n");
	return root;
}

/* A second transition whose last step fails, after a mock step and an SQL step. */
static void add_failing(const char *root)
{
	t_write(root, "migrations/v1.0.0_to_v2.0.0/001_c.sql",
	        "-- ferry:up\nCREATE TABLE c (x);\n-- ferry:down\nDROP TABLE c;\n");
	t_write(root, "migrations/v1.0.0_to_v2.0.0/002_three.mock",
	        "touch data/three.txt\n# down\nrm data/three.txt\n");
	t_write(root, "migrations/v1.0.0_to_v2.0.0/003_bad.mock",
	        "touch data/four.txt\nfail\n# down\nrm data/four.txt\n");
}

static int has(const char *root, const char *rel)
{
	return t_sh("test -e '%s/%s'", root, rel) == 0;
}

static int has_table(const char *root, const char *table)
{
	return t_sh("test -f '%s/data/app.db' && sqlite3 '%s/data/app.db' "
	            "\"SELECT name FROM sqlite_master WHERE name = '%s'\" | grep -q .", root, root,
	            table) == 0;
}

static void version_is(ferry *f, const char *want)
{
	char *v = NULL;
	assert_int_equal(ferry_current_version(&v, f), 0);
	assert_string_equal(v, want);
	ferry_free(v);
}

static void test_engine_up_down_verify(void **state)
{
	char *root = install(), *text = NULL, *want, *got;
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_plan *p = NULL;
	json_t *pj, *rj, *st;
	(void)state;
	o.skip_backup = 1;
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_plan_for(&p, f, NULL, &o), 0);
	assert_int_equal(ferry_plan_step_count(p), 3);
	assert_int_equal(ferry_plan_json(&text, p), 0);
	ferry_plan_free(p);
	pj = t_doc_of(text);
	want = t_actions_shape(json_object_get(pj, "actions"));
	assert_string_equal(want, "step 1.0.0/001_a.sql main 1\n"
	                          "commit - main 1\n"
	                          "step 1.0.0/002_files.mock - 0\n"
	                          "step 1.0.0/003_b.sql main 2\n"
	                          "commit - main 2\n"
	                          "version 1.0.0 - 0\n");
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	assert_int_equal(ferry_last_run(&text, f), 0);
	rj = t_doc_of(text);
	got = t_actions_shape(json_object_get(rj, "actions"));
	assert_string_equal(got, want);
	assert_true(has(root, "data/one.txt") && has(root, "data/sub/two.txt"));
	assert_true(has_table(root, "a") && has_table(root, "b"));
	version_is(f, "1.0.0");
	/* verify finds nothing, from a new handle as a new process would */
	ferry_close(f);
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_verify(&text, f), 0);
	ferry_free(text);
	/* the registry keeps the mock step's down: down works from it alone */
	t_sh("rm '%s/migrations/v0.0.0_to_v1.0.0/002_files.mock'", root);
	assert_int_equal(ferry_down(f, "0.0.0", &o), 0);
	assert_false(has(root, "data/one.txt") || has(root, "data/sub/two.txt"));
	assert_false(has_table(root, "a") || has_table(root, "b"));
	version_is(f, "0.0.0");
	/* its check: with every file there already, the step is skipped */
	t_write(root, "migrations/v0.0.0_to_v1.0.0/002_files.mock", MOCK_FILES);
	t_write(root, "data/one.txt", "kept");
	t_write(root, "data/sub/two.txt", "kept");
	ferry_close(f);
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	json_decref(rj);
	assert_int_equal(ferry_last_run(&text, f), 0);
	rj = t_doc_of(text);
	st = json_array_get(json_object_get(rj, "steps"), 1);
	assert_string_equal(json_string_value(json_object_get(st, "id")), "1.0.0/002_files.mock");
	assert_string_equal(json_string_value(json_object_get(st, "status")), "skipped");
	text = t_read(root, "data/one.txt");
	assert_string_equal(text, "kept");
	free(text);
	free(want);
	free(got);
	json_decref(pj);
	json_decref(rj);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

static void test_engine_failing_up_undoes_itself(void **state)
{
	char *root = install(), *text = NULL, *ran, *planned;
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	json_t *rj, *acts, *tail;
	size_t i, k = 0;
	(void)state;
	o.skip_backup = 1;
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	ferry_close(f);
	add_failing(root);
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_up(f, NULL, &o), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(f), "003_bad.mock:2: fail (the step says so)"));
	/* the failing step's own touch, the earlier mock step's and the SQL step's are gone */
	assert_false(has(root, "data/four.txt"));
	assert_false(has(root, "data/three.txt"));
	assert_false(has_table(root, "c"));
	assert_true(has(root, "data/one.txt") && has_table(root, "a"));
	version_is(f, "1.0.0");
	/* after the failing action: exactly the plan of its rollback */
	assert_int_equal(ferry_last_run(&text, f), 0);
	rj = t_doc_of(text);
	acts = json_object_get(rj, "actions");
	for (i = 0; i < json_array_size(acts); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(acts, i), "status")),
		            "failed"))
			k = i;
	assert_string_equal(json_string_value(json_object_get(json_array_get(acts, k), "id")),
	                    "2.0.0/003_bad.mock");
	tail = json_array();
	for (i = k + 1; i < json_array_size(acts); i++)
		json_array_append(tail, json_array_get(acts, i));
	ran = t_actions_shape(tail);
	planned = t_actions_shape(json_object_get(rj, "undo_plan"));
	assert_string_equal(ran, planned);
	assert_string_equal(planned, "undo 2.0.0/002_three.mock - 0\n"
	                             "undo 2.0.0/001_c.sql main 1\n"
	                             "commit - main 1\n");
	free(ran);
	free(planned);
	json_decref(tail);
	json_decref(rj);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

static void test_engine_backup_restore(void **state)
{
	char *root = install(), *id = NULL;
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_restore_options r = FERRY_RESTORE_OPTIONS_INIT;
	(void)state;
	o.skip_backup = 1;
	r.no_safety_backup = 1;
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_up(f, NULL, &o), 0);
	if (ferry_backup_create(&id, f, NULL))
		fail_msg("backup: %s", ferry_errmsg(f));
	assert_int_equal(ferry_down(f, "0.0.0", &o), 0);
	assert_false(has(root, "data/one.txt"));
	if (ferry_backup_restore(f, id, &r))
		fail_msg("restore: %s", ferry_errmsg(f));
	assert_true(has(root, "data/one.txt") && has(root, "data/sub/two.txt"));
	assert_true(has_table(root, "a") && has_table(root, "b"));
	version_is(f, "1.0.0");
	ferry_free(id);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

static void test_engine_rehearsal(void **state)
{
	char *root = install(), *text = NULL;
	json_t *rj, *st;
	ferry *f = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	(void)state;
	o.rehearse = 1;
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	if (ferry_up(f, NULL, &o))
		fail_msg("rehearsal: %s", ferry_errmsg(f));
	/* the mock step ran (on the copy: the real installation is untouched) */
	assert_int_equal(ferry_last_run(&text, f), 0);
	rj = t_doc_of(text);
	assert_true(json_is_true(json_object_get(rj, "rehearsal")));
	st = json_array_get(json_object_get(rj, "steps"), 1);
	assert_string_equal(json_string_value(json_object_get(st, "id")), "1.0.0/002_files.mock");
	assert_string_equal(json_string_value(json_object_get(st, "status")), "applied");
	json_decref(rj);
	assert_false(has(root, "data/one.txt") || has(root, "data/sub"));
	assert_false(has_table(root, "a"));
	version_is(f, "0.0.0");
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

static void test_engine_new_mock_step(void **state)
{
	char *root = install(), *path = NULL, *text;
	ferry *f = NULL;
	ferry_plan *p = NULL;
	fr_buf want = FR_BUF_INIT;
	const char *ext;
	(void)state;
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	if (ferry_new_step(&path, f, "1.0.0", "more_files", "mock", NULL))
		fail_msg("new: %s", ferry_errmsg(f));
	assert_non_null(strstr(path, "/migrations/v0.0.0_to_v1.0.0/004_more_files.mock"));
	text = t_read(root, "migrations/v0.0.0_to_v1.0.0/004_more_files.mock");
	assert_int_equal(fr_kind_new_template(&fr_step_mock, "more_files", &want, &ext), 0);
	assert_string_equal(text, want.ptr);
	free(text);
	/* untouched, plans refuse it, naming it */
	assert_int_equal(ferry_plan_new(&p, f, NULL), FERRY_EINVALID);
	assert_null(p);
	assert_non_null(strstr(ferry_errmsg(f), "004_more_files.mock: still the untouched template "
	                                        "of 'ferry new'; write the mock step's change"));
	t_write(root, "migrations/v0.0.0_to_v1.0.0/004_more_files.mock", "touch data/more.txt\n");
	ferry_close(f);
	assert_int_equal(ferry_open(&f, root, NULL), 0);
	assert_int_equal(ferry_plan_new(&p, f, NULL), 0);
	assert_int_equal(ferry_plan_step_count(p), 4);
	ferry_plan_free(p);
	/* the tool's messages list it from the table */
	ferry_free(path);
	assert_int_equal(ferry_new_step(&path, f, "1.0.0", "x", "py", NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "mock"));
	fr_buf_release(&want);
	ferry_close(f);
	t_rmrf(root);
	free(root);
}

#define CASE(kind, fn) { #kind ": " #fn, fn, setup_##kind, teardown, NULL }
#define KIND_CASES(kind)                                                     \
	CASE(kind, test_complete), CASE(kind, test_claims), CASE(kind, test_load), \
	CASE(kind, test_undo_roundtrip), CASE(kind, test_reversible_agrees),     \
	CASE(kind, test_describe), CASE(kind, test_template), CASE(kind, test_flags)

int main(void)
{
	const struct CMUnitTest tests[] = {
		KIND_CASES(sql),
		KIND_CASES(script),
		KIND_CASES(ops),
		KIND_CASES(native),
		KIND_CASES(mock),
		CASE(mock, test_mock_check_and_fail),
		cmocka_unit_test(test_engine_up_down_verify),
		cmocka_unit_test(test_engine_failing_up_undoes_itself),
		cmocka_unit_test(test_engine_backup_restore),
		cmocka_unit_test(test_engine_rehearsal),
		cmocka_unit_test(test_engine_new_mock_step),
	};
	fr_step_kind_test_register(&fr_step_mock);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
