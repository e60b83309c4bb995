/*
 * test_run.c - the run engine (lib/run.c) through the public API, on real
 * installations in a temporary folder: ferry.yaml, a migrations folder and
 * an SQLite database. Multi-hop up, the record in the database and in
 * state.db, undo on failure (group and per-step transactions), irreversible
 * steps, down, recover after a crash, interrupt, check, drift, dry run,
 * only/rerun, keep_going_on_start, the lock and the fast path.
 */
#include "helpers.h"

#include "ferry.h"
#include "ferry_int.h"
#include "util/alloc.h"
#include "util/hash.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- migrations used by the tests ---- */

#define USERS_SQL \
	"-- ferry:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n" \
	"-- ferry:down\nDROP TABLE users;\n"
#define SEED_SQL \
	"-- ferry:up\nINSERT INTO users (name) VALUES ('ann'), ('bob');\n" \
	"-- ferry:down\nDELETE FROM users WHERE name IN ('ann', 'bob');\n"
#define TAGS_SQL \
	"-- ferry:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);\n" \
	"INSERT INTO tags (label) VALUES ('red');\n" \
	"-- ferry:down\nDROP TABLE tags;\n"
#define TAGS_IRREVERSIBLE_SQL \
	"-- ferry:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);\n"
#define NOTES_SQL \
	"-- ferry:up\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n" \
	"INSERT INTO notes (body) VALUES ('hi');\n" \
	"-- ferry:down\nDROP TABLE notes;\n"
#define MORE_SQL \
	"-- ferry:up\nCREATE TABLE more (x INTEGER);\n-- ferry:down\nDROP TABLE more;\n"
/* Fails at run time (a NOT NULL constraint), not as invalid input. */
#define BAD_SQL \
	"-- ferry:up\nINSERT INTO users (name) VALUES (NULL);\n" \
	"-- ferry:down\nSELECT 1;\n"

#define S_USERS "0.1.0/001_users.sql"
#define S_SEED "0.1.0/002_seed.sql"
#define S_TAGS "0.2.0/001_tags.sql"
#define S_NOTES "0.3.0/001_notes.sql"
#define S_MORE "0.3.0/002_more.sql"
#define S_BAD "0.3.0/003_bad.sql"

typedef struct {
	char *root;
	ferry *f;
	char *log;          /* every event, "level|step|message\n" */
	size_t loglen;
	/* Actions taken by the log callback when a step logs "applying" (or as set). */
	const char *interrupt_on;
	const char *exit_on;        /* _exit(42) in the callback (a crash) */
	const char *exit_on_msg;    /* the message prefix that triggers it */
	const char *probe_on;       /* run probe_sql on another connection */
	const char *probe_sql;
	char *probe_result;
} fx;

static void logcb(void *ctx, ferry_log_level level, const char *step_id, const char *message)
{
	fx *x = ctx;
	size_t n = 32 + (step_id ? strlen(step_id) : 0) + strlen(message);
	char *t = realloc(x->log, x->loglen + n + 1);
	if (!t)
		abort();
	x->log = t;
	x->loglen += (size_t)snprintf(x->log + x->loglen, n + 1, "%d|%s|%s\n", (int)level,
	                              step_id ? step_id : "", message);
	if (!step_id)
		return;
	if (x->interrupt_on && !strcmp(step_id, x->interrupt_on) && !strcmp(message, "applying"))
		ferry_interrupt(x->f);
	if (x->exit_on && !strcmp(step_id, x->exit_on) &&
	    !strncmp(message, x->exit_on_msg ? x->exit_on_msg : "applying",
	             strlen(x->exit_on_msg ? x->exit_on_msg : "applying")))
		_exit(42);
	if (x->probe_on && !strcmp(step_id, x->probe_on) && !strcmp(message, "applying")) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		char *p = t_path(x->root, "data/app.db");
		free(x->probe_result);
		x->probe_result = NULL;
		if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
			sqlite3_busy_timeout(db, 2000);
			if (sqlite3_prepare_v2(db, x->probe_sql, -1, &st, NULL) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_ROW)
				x->probe_result = strdup((const char *)sqlite3_column_text(st, 0));
			else
				x->probe_result = strdup(sqlite3_errmsg(db));
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
		free(p);
	}
}

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	x->root = t_tmpdir();
	x->log = strdup("");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	ferry_close(x->f);
	t_rmrf(x->root);
	free(x->root);
	free(x->log);
	free(x->probe_result);
	free(x);
	return 0;
}

/* ferry.yaml; tx is "group" or "step". */
static void config(fx *x, const char *tx)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "app: demo\nmigrations: migrations\ntransaction: %s\n"
	         "version_file: config/version.json\n"
	         "databases:\n  main: sqlite:data/app.db\n",
	         tx);
	t_write(x->root, "ferry.yaml", text);
}

static void step(fx *x, const char *id, const char *text)
{
	/* id "0.2.0/001_tags.sql" -> folder from the previous version. */
	char rel[512], to[32];
	const char *slash = strchr(id, '/');
	const char *from;
	assert_non_null(slash);
	snprintf(to, sizeof to, "%.*s", (int)(slash - id), id);
	from = !strcmp(to, "0.1.0") ? "0.0.0" : !strcmp(to, "0.2.0") ? "0.1.0" :
	       !strcmp(to, "0.3.0") ? "0.2.0" : "0.3.0";
	snprintf(rel, sizeof rel, "migrations/v%s_to_v%s/%s", from, to, slash + 1);
	t_write(x->root, rel, text);
}

/* The usual installation: 0.1.0 (users, seed), 0.2.0 (tags), 0.3.0 (notes). */
static void standard(fx *x, const char *tx)
{
	config(x, tx);
	step(x, S_USERS, USERS_SQL);
	step(x, S_SEED, SEED_SQL);
	step(x, S_TAGS, TAGS_SQL);
	step(x, S_NOTES, NOTES_SQL);
}

static ferry *open_f(fx *x)
{
	ferry_open_options o = FERRY_OPEN_OPTIONS_INIT;
	int rc;
	ferry_close(x->f);
	x->f = NULL;
	o.log = logcb;
	o.log_ctx = x;
	rc = ferry_open(&x->f, x->root, &o);
	if (rc)
		fail_msg("ferry_open: %d %s", rc, ferry_errmsg(x->f));
	return x->f;
}

static void reset_log(fx *x)
{
	x->loglen = 0;
	x->log[0] = '\0';
}

static char *current(fx *x)
{
	static char buf[64];
	char *v = NULL;
	assert_int_equal(ferry_current_version(&v, x->f), 0);
	snprintf(buf, sizeof buf, "%s", v);
	ferry_free(v);
	return buf;
}

/* Rows of a query on the application's database, "a|b\n" each; malloc'd. */
static char *q(fx *x, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *p = t_path(x->root, "data/app.db");
	size_t cap = 256, len = 0;
	char *out = malloc(cap);
	int rc, i;
	assert_non_null(out);
	out[0] = '\0';
	/* Read-write: a crashed writer's hot journal may need rolling back. */
	assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("query '%s': %s", sql, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st); i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);
			size_t n = strlen(t ? t : "NULL") + 2;
			if (len + n + 1 > cap) {
				cap = (len + n + 1) * 2;
				out = realloc(out, cap);
				assert_non_null(out);
			}
			len += (size_t)snprintf(out + len, cap - len, "%s%s", t ? t : "NULL",
			                        i + 1 < sqlite3_column_count(st) ? "|" : "\n");
		}
	}
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(p);
	return out;
}

static void assert_q(fx *x, const char *sql, const char *want)
{
	char *got = q(x, sql);
	if (strcmp(got, want))
		fail_msg("query '%s':\n got: '%s'\nwant: '%s'", sql, got, want);
	free(got);
}

static int has_table(fx *x, const char *name)
{
	char sql[256], *r;
	int yes;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
	r = q(x, sql);
	yes = r[0] == '1';
	free(r);
	return yes;
}

/* .dump of the application's database into root/<name>; returns its text. */
static char *dump(fx *x, const char *name)
{
	char *d;
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' .dump > '%s/%s'", x->root, x->root, name), 0);
	d = t_read(x->root, name);
	assert_non_null(d);
	return d;
}

static void assert_same_dump(fx *x, const char *before)
{
	char *after = dump(x, "after.sql");
	if (strcmp(before, after))
		fail_msg("the database changed:\n--- before\n%s\n--- after\n%s", before, after);
	free(after);
}

static json_t *last_run(fx *x)
{
	char *doc = NULL;
	json_t *j;
	json_error_t je;
	assert_int_equal(ferry_last_run(&doc, x->f), 0);
	assert_non_null(doc);
	j = json_loads(doc, 0, &je);
	if (!j)
		fail_msg("last run is not JSON: %s\n%s", je.text, doc);
	ferry_free(doc);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fail_msg("key '%s' is not a string", key);
	return json_string_value(v);
}

/* "id:status,id:status" of the last run's steps. */
static char *run_steps(json_t *run)
{
	static char buf[4096];
	size_t i, len = 0;
	json_t *s;
	buf[0] = '\0';
	json_array_foreach(json_object_get(run, "steps"), i, s)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s:%s", i ? "," : "",
		                        jstr(s, "id"), jstr(s, "status"));
	return buf;
}

static void assert_run(fx *x, const char *status, const char *steps)
{
	json_t *r = last_run(x);
	if (strcmp(jstr(r, "status"), status) || (steps && strcmp(run_steps(r), steps)))
		fail_msg("last run: status '%s' steps '%s'; want '%s' '%s'", jstr(r, "status"),
		         run_steps(r), status, steps ? steps : "(any)");
	json_decref(r);
}

/* The registry in state.db, "id:status\n" each, by seq. */
static char *registry(fx *x)
{
	static char buf[4096];
	fr_reg *r = NULL;
	size_t n = 0, i, len = 0;
	assert_int_equal(fr_state_registry(x->f->state, &r, &n), 0);
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s:%s\n", r[i].id, r[i].status);
	fr_regs_free(r, n);
	return buf;
}

/* Number of runs in history and the status of the newest. */
static int history(fx *x, char *newest_status, size_t cap)
{
	char *doc = NULL;
	json_t *j, *runs;
	int n;
	assert_int_equal(ferry_history(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_non_null(j);
	runs = json_object_get(j, "runs");
	assert_true(json_is_array(runs));
	n = (int)json_array_size(runs);
	if (newest_status)
		snprintf(newest_status, cap, "%s",
		         n ? json_string_value(json_object_get(json_array_get(runs, 0), "status")) : "");
	json_decref(j);
	ferry_free(doc);
	return n;
}

static int log_has(fx *x, const char *needle)
{
	return strstr(x->log, needle) != NULL;
}

static void up_ok(fx *x, const char *target)
{
	int rc = ferry_up(x->f, target, NULL);
	if (rc)
		fail_msg("ferry_up(%s): %d %s", target ? target : "latest", rc, ferry_errmsg(x->f));
}

/* ---- up ---- */

static void test_up_multi_hop(void **state)
{
	fx *x = *state;
	char ck[FR_CHECKSUM_LEN + 1], *p, *recs, st[32];
	fr_reg *regs = NULL;
	size_t n = 0, i;
	json_t *r;
	standard(x, "group");
	t_write(x->root, "config/version.json", "{\"version\": \"0.0.0\", \"build\": \"abc\"}\n");
	open_f(x);
	assert_string_equal(current(x), "0.0.0");

	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	assert_string_equal(ferry_errmsg(x->f), "");
	assert_int_equal(ferry_errcode(x->f), 0);
	assert_q(x, "SELECT name FROM users ORDER BY id", "ann\nbob\n");
	assert_q(x, "SELECT label FROM tags", "red\n");
	assert_q(x, "SELECT body FROM notes", "hi\n");

	/* The record in the database, in order. */
	assert_q(x, "SELECT id, status FROM ferry_steps ORDER BY seq",
	         S_USERS "|applied\n" S_SEED "|applied\n" S_TAGS "|applied\n" S_NOTES "|applied\n");
	/* ... matches state.db's registry, checksum for checksum. */
	recs = q(x, "SELECT id, checksum, seq, run_id FROM ferry_steps ORDER BY seq");
	assert_int_equal(fr_state_registry(x->f->state, &regs, &n), 0);
	assert_int_equal(n, 4);
	{
		char buf[4096];
		size_t len = 0;
		for (i = 0; i < n; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s|%s|%lld|%lld\n",
			                        regs[i].id, regs[i].checksum, (long long)regs[i].seq,
			                        (long long)regs[i].run_id);
		assert_string_equal(recs, buf);
	}
	for (i = 0; i < n; i++) {
		assert_string_equal(regs[i].status, "applied");
		assert_string_equal(regs[i].database, "main");
		assert_string_equal(regs[i].kind, "sql");
		assert_non_null(regs[i].undo);
	}
	/* The checksum is the file's. */
	p = t_path(x->root, "migrations/v0.1.0_to_v0.2.0/001_tags.sql");
	assert_int_equal(fr_checksum_file(p, ck), 0);
	assert_string_equal(regs[2].checksum, ck);
	assert_string_equal(regs[2].from, "0.1.0");
	assert_string_equal(regs[2].to, "0.2.0");
	assert_non_null(strstr(regs[2].undo, "DROP TABLE tags"));
	free(p);
	free(recs);

	/* The run's document and history. */
	r = last_run(x);
	assert_string_equal(jstr(r, "status"), "success");
	assert_string_equal(jstr(r, "from"), "0.0.0");
	assert_string_equal(jstr(r, "to"), "0.3.0");
	assert_int_equal(json_integer_value(json_object_get(r, "run_id")), regs[0].run_id);
	assert_string_equal(run_steps(r), S_USERS ":applied," S_SEED ":applied," S_TAGS
	                    ":applied," S_NOTES ":applied");
	json_decref(r);
	fr_regs_free(regs, n);
	assert_int_equal(history(x, st, sizeof st), 1);
	assert_string_equal(st, "success");

	/* The version file is rewritten, its other keys kept. */
	p = t_read(x->root, "config/version.json");
	r = json_loads(p, 0, NULL);
	assert_non_null(r);
	assert_string_equal(jstr(r, "version"), "0.3.0");
	assert_string_equal(jstr(r, "build"), "abc");
	json_decref(r);
	free(p);

	/* The log callback saw the run. */
	assert_true(log_has(x, "|" S_NOTES "|applying"));
	assert_true(log_has(x, "version 0.3.0 recorded"));

	/* Again: nothing to do. */
	reset_log(x);
	up_ok(x, NULL);
	assert_run(x, "noop", "");
	assert_int_equal(history(x, NULL, 0), 1);
	assert_false(log_has(x, "applying"));
}

static void test_up_step_by_step(void **state)
{
	fx *x = *state;
	standard(x, "group");
	open_f(x);
	up_ok(x, "0.1.0");
	assert_string_equal(current(x), "0.1.0");
	assert_false(has_table(x, "tags"));
	assert_q(x, "SELECT id FROM ferry_steps ORDER BY seq", S_USERS "\n" S_SEED "\n");
	up_ok(x, "0.2.0");
	assert_string_equal(current(x), "0.2.0");
	assert_true(has_table(x, "tags"));
	assert_false(has_table(x, "notes"));
	/* A version between catalogued ones: recorded, no steps. */
	up_ok(x, "0.2.5");
	assert_string_equal(current(x), "0.2.5");
	assert_false(has_table(x, "notes"));
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	assert_q(x, "SELECT count(*) FROM ferry_steps", "4\n");
	assert_string_equal(registry(x), S_USERS ":applied\n" S_SEED ":applied\n" S_TAGS
	                    ":applied\n" S_NOTES ":applied\n");
}

/* A failing step in a group transaction: everything is as before. */
static void test_failure_undoes_everything(void **state)
{
	fx *x = *state;
	char *before, st[32];
	standard(x, "group");
	step(x, S_MORE, MORE_SQL);
	step(x, S_BAD, BAD_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");

	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EFAILED);
	assert_int_equal(ferry_errcode(x->f), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(x->f), "003_bad.sql"));
	assert_non_null(strstr(ferry_errmsg(x->f), "NOT NULL"));
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_run(x, "rolled_back", S_TAGS ":rolled_back," S_NOTES ":rolled_back," S_MORE
	           ":rolled_back," S_BAD ":failed");
	assert_int_equal(history(x, st, sizeof st), 2);
	assert_string_equal(st, "rolled_back");
	assert_null(strstr(registry(x), S_TAGS ":applied"));
	{
		char *v = t_read(x->root, "config/version.json");
		assert_non_null(strstr(v, "\"0.1.0\""));
		free(v);
	}
	/* The installation still works: fix the step and go on. */
	step(x, S_BAD, "-- ferry:up\nSELECT 1;\n-- ferry:down\nSELECT 1;\n");
	open_f(x);
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	free(before);
}

/* transaction: step commits after each step; a failure undoes the committed ones by their downs. */
static void test_tx_per_step(void **state)
{
	fx *x = *state;
	char *before;
	standard(x, "step");
	step(x, S_MORE, MORE_SQL);
	step(x, S_BAD, BAD_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");

	/* When notes starts, tags is committed: another connection sees it. */
	x->probe_on = S_NOTES;
	x->probe_sql = "SELECT count(*) FROM sqlite_master WHERE name = 'tags'";
	reset_log(x);
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EFAILED);
	assert_non_null(x->probe_result);
	assert_string_equal(x->probe_result, "1");
	assert_true(log_has(x, "committed 1 step on 'main'"));
	/* Undone step by step, by their downs, newest first. */
	{
		const char *a = strstr(x->log, "|" S_MORE "|undoing");
		const char *b = strstr(x->log, "|" S_NOTES "|undoing");
		const char *c = strstr(x->log, "|" S_TAGS "|undoing");
		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(c);
		assert_true(a < b && b < c);
	}
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_run(x, "rolled_back", NULL);
	free(before);
}

/* In a group transaction the same probe sees nothing yet: one commit at the end. */
static void test_tx_group_commits_once(void **state)
{
	fx *x = *state;
	standard(x, "group");
	step(x, S_MORE, MORE_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	x->probe_on = S_MORE;
	x->probe_sql = "SELECT count(*) FROM sqlite_master WHERE name IN ('tags', 'notes')";
	reset_log(x);
	up_ok(x, NULL);
	assert_non_null(x->probe_result);
	assert_string_equal(x->probe_result, "0");
	assert_true(log_has(x, "committed 3 steps on 'main'"));
	assert_false(log_has(x, "committed 1 step on"));
	assert_true(has_table(x, "more"));
}

/* An irreversible step committed, then a failure: cannot be brought back. */
static void test_irreversible_unrecovered(void **state)
{
	fx *x = *state;
	char st[32];
	config(x, "step");
	step(x, S_USERS, USERS_SQL);
	step(x, S_SEED, SEED_SQL);
	step(x, S_TAGS, TAGS_IRREVERSIBLE_SQL);
	step(x, S_NOTES, NOTES_SQL);
	step(x, S_BAD, BAD_SQL);
	open_f(x);
	up_ok(x, "0.1.0");

	/* No backup to restore (with one the run ends restored: tests/cli/run_backups.bats). */
	{
		ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
		o.skip_backup = 1;
		assert_int_equal(ferry_up(x->f, NULL, &o), FERRY_EUNRECOVERED);
	}
	assert_int_equal(ferry_errcode(x->f), FERRY_EUNRECOVERED);
	assert_non_null(strstr(ferry_errmsg(x->f), S_TAGS));
	assert_run(x, "failed", NULL);
	assert_int_equal(history(x, st, sizeof st), 2);
	assert_string_equal(st, "failed");
	/* What stays applied is recorded as applied, in the database and in state. */
	assert_true(has_table(x, "tags"));
	assert_q(x, "SELECT count(*) FROM ferry_steps WHERE id = '" S_TAGS "'", "1\n");
	assert_non_null(strstr(registry(x), S_TAGS ":applied"));
	/* notes (reversible, after tags) was undone. */
	assert_false(has_table(x, "notes"));
	assert_q(x, "SELECT count(*) FROM ferry_steps WHERE id = '" S_NOTES "'", "0\n");
}

/* The same in a group transaction: the irreversible step goes with the rollback. */
static void test_irreversible_in_group_rolls_back(void **state)
{
	fx *x = *state;
	char *before;
	config(x, "group");
	step(x, S_USERS, USERS_SQL);
	step(x, S_SEED, SEED_SQL);
	step(x, S_TAGS, TAGS_IRREVERSIBLE_SQL);
	step(x, S_BAD, BAD_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EFAILED);
	assert_same_dump(x, before);
	assert_string_equal(current(x), "0.1.0");
	free(before);
}

/* ---- down ---- */

static void test_down(void **state)
{
	fx *x = *state;
	char *at1, st[32];
	standard(x, "group");
	open_f(x);
	up_ok(x, "0.1.0");
	at1 = dump(x, "at1.sql");
	up_ok(x, NULL);

	assert_int_equal(ferry_down(x->f, NULL, NULL), FERRY_EINVALID);
	assert_int_equal(ferry_down(x->f, "0.4.0", NULL), FERRY_EINVALID);
	assert_int_equal(ferry_down(x->f, "not-a-version", NULL), FERRY_EINVALID);
	assert_string_equal(current(x), "0.3.0");

	/* Dry run: nothing changes. */
	{
		ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
		char *d = dump(x, "at3.sql");
		o.dry_run = 1;
		assert_int_equal(ferry_down(x->f, "0.1.0", &o), 0);
		assert_run(x, "dry_run", NULL);
		assert_string_equal(current(x), "0.3.0");
		assert_same_dump(x, d);
		free(d);
	}

	reset_log(x);
	assert_int_equal(ferry_down(x->f, "0.1.0", NULL), 0);
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, at1);
	assert_run(x, "success", S_NOTES ":rolled_back," S_TAGS ":rolled_back");
	assert_int_equal(history(x, st, sizeof st), 3);
	assert_string_equal(st, "success");
	assert_string_equal(registry(x), S_USERS ":applied\n" S_SEED ":applied\n" S_TAGS
	                    ":rolled_back\n" S_NOTES ":rolled_back\n");
	{
		char *v = t_read(x->root, "config/version.json");
		assert_non_null(strstr(v, "\"0.1.0\""));
		free(v);
	}
	/* Down to where it is: nothing to do. */
	assert_int_equal(ferry_down(x->f, "0.1.0", NULL), 0);
	assert_run(x, "noop", NULL);

	/* Up again works. */
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	assert_true(has_table(x, "notes"));

	/* All the way down. */
	assert_int_equal(ferry_down(x->f, "0.0.0", NULL), 0);
	assert_string_equal(current(x), "0.0.0");
	assert_false(has_table(x, "users"));
	assert_q(x, "SELECT count(*) FROM ferry_steps", "0\n");
	free(at1);
}

static void test_down_irreversible_refused(void **state)
{
	fx *x = *state;
	char *before;
	config(x, "group");
	step(x, S_USERS, USERS_SQL);
	step(x, S_TAGS, TAGS_IRREVERSIBLE_SQL);
	step(x, S_NOTES, NOTES_SQL);
	open_f(x);
	up_ok(x, NULL);
	before = dump(x, "before.sql");
	assert_int_equal(ferry_down(x->f, "0.1.0", NULL), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(x->f), S_TAGS));
	assert_string_equal(current(x), "0.3.0");
	assert_same_dump(x, before);
	/* Above the irreversible step it works. */
	assert_int_equal(ferry_down(x->f, "0.2.0", NULL), 0);
	assert_false(has_table(x, "notes"));
	assert_true(has_table(x, "tags"));
	free(before);
}

/* ---- crash, recover ---- */

/* Forks a child that runs up and dies (_exit) in the log callback when exit_on logs exit_msg. */
static void crash_during_up(fx *x, const char *exit_on, const char *exit_msg)
{
	pid_t pid;
	int status = 0;
	ferry_close(x->f);
	x->f = NULL;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		x->exit_on = exit_on;
		x->exit_on_msg = exit_msg;
		open_f(x);
		ferry_up(x->f, NULL, NULL);
		_exit(0); /* not reached when the crash happens */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	open_f(x);
}

/*
 * The standard installation (step mode) with 0.3.0/002_more.sql, at 0.1.0,
 * then an up killed after 'more' ran inside its open transaction: tags and
 * notes committed. Returns the database's dump from before that up.
 */
static char *crashed_run(fx *x)
{
	char *before;
	standard(x, "step");
	step(x, S_MORE, MORE_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	crash_during_up(x, S_MORE, "applied");
	return before;
}

static void test_recover_after_crash(void **state)
{
	fx *x = *state;
	char *before, *doc = NULL;
	json_t *j;
	/* Dies after 'more' ran inside its open transaction; tags and notes are committed. */
	before = crashed_run(x);
	assert_true(has_table(x, "tags"));
	assert_true(has_table(x, "notes"));
	assert_false(has_table(x, "more")); /* the open transaction died with the process */
	assert_q(x, "SELECT id FROM ferry_steps ORDER BY seq",
	         S_USERS "\n" S_SEED "\n" S_TAGS "\n" S_NOTES "\n");

	/* status says so; up with no_recover refuses and points to recover. */
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "interrupted")));
	json_decref(j);
	ferry_free(doc);
	{
		ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
		o.no_recover = 1;
		assert_int_equal(ferry_up(x->f, NULL, &o), FERRY_EUNRECOVERED);
		assert_non_null(strstr(ferry_errmsg(x->f), "ferry recover"));
	}

	/* Recover rolls the run back. */
	assert_int_equal(ferry_recover(x->f, 0), 0);
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	{
		fr_run_row r;
		int found = 1;
		assert_int_equal(fr_state_running(x->f->state, &r, &found), 0);
		assert_int_equal(found, 0);
	}
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_true(json_is_false(json_object_get(j, "interrupted")));
	json_decref(j);
	ferry_free(doc);
	/* Nothing more to recover. */
	assert_int_equal(ferry_recover(x->f, 0), 0);
	assert_run(x, "noop", NULL);

	/* And up goes through now. */
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	assert_true(has_table(x, "more"));
	free(before);
}

/*
 * recover after a crash with an allocation refused at every point: it
 * fails with a message or succeeds; either way a fresh handle's recover
 * then succeeds and the database is exactly as before the crashed run,
 * at 0.1.0 (an undo half done is never called done).
 */
static void test_recover_alloc_failures(void **state)
{
	fx *x = *state;
	char *before = NULL;
	long n;
	int rc, struck = 1;
	for (n = 0; n < 200000 && struck; n += 1 + n / 16) {
		ferry_close(x->f);
		x->f = NULL;
		t_rmrf(x->root);
		assert_int_equal(t_sh("mkdir -p '%s'", x->root), 0);
		free(before);
		before = crashed_run(x);
		fr_alloc_fail_after(n);
		rc = ferry_recover(x->f, 0);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc && !*ferry_errmsg(x->f))
			fail_msg("after %ld allocations: %d and no message", n, rc);
		if (rc && !struck)
			fail_msg("with memory: %d %s", rc, ferry_errmsg(x->f));
		open_f(x);
		if ((rc = ferry_recover(x->f, 0)))
			fail_msg("after %ld allocations: the next recover: %d %s", n, rc, ferry_errmsg(x->f));
		assert_string_equal(current(x), "0.1.0");
		assert_same_dump(x, before);
	}
	assert_false(struck);
	free(before);
}

/*
 * A recover whose rollback stops part-way (tags' recorded undo fails: the
 * table went behind ferry's back) says so and leaves the run interrupted,
 * never "rolled back": status still says interrupted, up still refuses,
 * the record is at 0.2.0 with tags applied. With the cause fixed, the next
 * recover finishes: 0.1.0, the database as before the run.
 */
static void test_recover_part_way_stays_interrupted(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	char *before, *doc = NULL;
	json_t *j;
	before = crashed_run(x);
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' 'DROP TABLE tags'", x->root), 0);
	assert_int_equal(ferry_recover(x->f, 0), FERRY_EUNRECOVERED);
	assert_non_null(strstr(ferry_errmsg(x->f), "tags"));
	assert_non_null(strstr(ferry_errmsg(x->f), "still interrupted"));
	assert_non_null(strstr(ferry_errmsg(x->f), "'0.2.0'"));
	/* notes was undone, tags was not: the record says exactly that */
	assert_false(has_table(x, "notes"));
	assert_q(x, "SELECT id FROM ferry_steps ORDER BY seq", S_USERS "\n" S_SEED "\n" S_TAGS "\n");
	open_f(x);
	assert_string_equal(current(x), "0.2.0");
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_true(json_is_true(json_object_get(j, "interrupted")));
	json_decref(j);
	ferry_free(doc);
	o.no_recover = 1;
	assert_int_equal(ferry_up(x->f, NULL, &o), FERRY_EUNRECOVERED);
	/* the cause fixed, recover finishes the job */
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' 'CREATE TABLE tags (id INTEGER PRIMARY KEY, "
	                      "label TEXT)'", x->root), 0);
	assert_int_equal(ferry_recover(x->f, 0), 0);
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_true(json_is_false(json_object_get(j, "interrupted")));
	json_decref(j);
	ferry_free(doc);
	free(before);
}

static void test_recover_resume(void **state)
{
	fx *x = *state;
	standard(x, "step");
	step(x, S_MORE, MORE_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	crash_during_up(x, S_NOTES, "applying");
	assert_true(has_table(x, "tags"));
	assert_string_equal(current(x), "0.2.0");

	assert_int_equal(ferry_recover(x->f, 1), 0);
	assert_true(has_table(x, "tags"));
	assert_string_equal(current(x), "0.2.0");
	{
		char st[32];
		history(x, st, sizeof st);
		assert_string_equal(st, "interrupted");
	}
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	assert_true(has_table(x, "notes"));
	assert_true(has_table(x, "more"));
	assert_q(x, "SELECT count(*) FROM ferry_steps", "5\n");
}

/* ---- interrupt ---- */

static void test_interrupt(void **state)
{
	fx *x = *state;
	char *before, st[32];
	standard(x, "step");
	step(x, S_MORE, MORE_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");

	x->interrupt_on = S_NOTES; /* the 2nd step of the run */
	reset_log(x);
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EINTERRUPTED);
	assert_int_equal(ferry_errcode(x->f), FERRY_EINTERRUPTED);
	assert_false(log_has(x, "|" S_MORE "|applying")); /* stopped after the current step */
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_run(x, "rolled_back", NULL);
	assert_int_equal(history(x, st, sizeof st), 2);
	assert_string_equal(st, "interrupted");

	/* The flag does not stick to the handle: the next run goes through. */
	x->interrupt_on = NULL;
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.3.0");
	free(before);
}

static void test_interrupt_group(void **state)
{
	fx *x = *state;
	char *before;
	standard(x, "group");
	step(x, S_MORE, MORE_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	x->interrupt_on = S_NOTES;
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EINTERRUPTED);
	assert_same_dump(x, before);
	assert_string_equal(current(x), "0.1.0");
	free(before);
}

/* ---- check ---- */

static void test_check_skips(void **state)
{
	fx *x = *state;
	standard(x, "group");
	step(x, S_TAGS,
	     "-- ferry:check\nSELECT count(*) = 0 FROM sqlite_master WHERE name = 'tags';\n"
	     TAGS_SQL);
	step(x, S_NOTES,
	     "-- ferry:check\nSELECT count(*) = 0 FROM sqlite_master WHERE name = 'notes';\n"
	     NOTES_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	/* Someone made tags by hand already. */
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' 'CREATE TABLE tags (id INTEGER PRIMARY KEY, "
	                      "label TEXT)'", x->root), 0);
	up_ok(x, NULL);
	assert_run(x, "success", S_TAGS ":skipped," S_NOTES ":applied");
	assert_q(x, "SELECT count(*) FROM tags", "0\n"); /* its up did not run */
	assert_q(x, "SELECT body FROM notes", "hi\n");
	assert_q(x, "SELECT id, status FROM ferry_steps WHERE seq > 2 ORDER BY seq",
	         S_TAGS "|skipped\n" S_NOTES "|applied\n");
	assert_non_null(strstr(registry(x), S_TAGS ":skipped\n"));
	assert_string_equal(current(x), "0.3.0");
	/* A skipped step's down does not run on the way down. */
	assert_int_equal(ferry_down(x->f, "0.1.0", NULL), 0);
	assert_true(has_table(x, "tags"));
	assert_false(has_table(x, "notes"));
}

/* ---- drift ---- */

static void test_drift(void **state)
{
	fx *x = *state;
	char *before;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	standard(x, "group");
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	/* An applied step's file changes. */
	step(x, S_SEED, SEED_SQL "-- edited later\n");
	open_f(x);
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EVERIFY);
	assert_int_equal(ferry_errcode(x->f), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), S_SEED));
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);

	/* Drift with nothing pending is no fast path either. */
	assert_int_equal(ferry_up(x->f, "0.1.0", NULL), FERRY_EVERIFY);

	/* A vanished file is drift too. */
	assert_int_equal(t_sh("rm '%s/migrations/v0.0.0_to_v0.1.0/002_seed.sql'", x->root), 0);
	open_f(x);
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), S_SEED));
	assert_same_dump(x, before);

	/* force goes on. */
	step(x, S_SEED, SEED_SQL "-- edited later\n");
	open_f(x);
	o.force = 1;
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_string_equal(current(x), "0.3.0");
	assert_true(has_table(x, "notes"));
	free(before);
}

/* ---- dry run ---- */

static void test_dry_run(void **state)
{
	fx *x = *state;
	char *before;
	json_t *r, *steps;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	standard(x, "group");
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	o.dry_run = 1;
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_int_equal(history(x, NULL, 0), 1); /* no run recorded */
	assert_string_equal(registry(x), S_USERS ":applied\n" S_SEED ":applied\n");
	r = last_run(x);
	assert_string_equal(jstr(r, "status"), "dry_run");
	steps = json_object_get(r, "dry_run_steps");
	assert_int_equal(json_array_size(steps), 2);
	assert_string_equal(jstr(json_array_get(steps, 0), "id"), S_TAGS);
	assert_non_null(strstr(jstr(json_array_get(steps, 0), "statements"), "CREATE TABLE tags"));
	assert_string_equal(jstr(json_array_get(steps, 1), "id"), S_NOTES);
	json_decref(r);
	{
		char *v = t_read(x->root, "config/version.json");
		assert_non_null(strstr(v, "\"0.1.0\""));
		free(v);
	}
	free(before);
}

/* ---- only, rerun ---- */

#define HIT_SQL \
	"-- ferry:up\nCREATE TABLE IF NOT EXISTS hits (n INTEGER);\nINSERT INTO hits VALUES (1);\n" \
	"-- ferry:down\nDROP TABLE hits;\n"
#define S_HIT "0.2.0/001_hit.sql"

static void test_only_rerun(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	config(x, "group");
	step(x, S_USERS, USERS_SQL);
	step(x, S_HIT, HIT_SQL);
	step(x, S_NOTES, NOTES_SQL);
	open_f(x);
	up_ok(x, NULL);
	assert_q(x, "SELECT count(*) FROM hits", "1\n");

	/* only: that one step, even though it is applied. */
	o.only = S_HIT;
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_q(x, "SELECT count(*) FROM hits", "2\n");
	assert_run(x, "success", S_HIT ":applied");
	assert_string_equal(current(x), "0.3.0");
	assert_q(x, "SELECT count(*) FROM ferry_steps WHERE id = '" S_HIT "'", "1\n");

	/* rerun: that step again, then the rest (nothing else here). */
	o.only = NULL;
	o.rerun = S_HIT;
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_q(x, "SELECT count(*) FROM hits", "3\n");
	assert_run(x, "success", S_HIT ":applied");
	assert_q(x, "SELECT count(*) FROM notes", "1\n");

	/* An unknown step id. */
	o.rerun = NULL;
	o.only = "9.9.9/nothing.sql";
	assert_int_equal(ferry_up(x->f, NULL, &o), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(x->f), "9.9.9/nothing.sql"));
	assert_q(x, "SELECT count(*) FROM hits", "3\n");
}

static void test_rerun_then_rest(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	config(x, "group");
	step(x, S_USERS, USERS_SQL);
	step(x, S_HIT, HIT_SQL);
	step(x, S_NOTES, NOTES_SQL);
	open_f(x);
	up_ok(x, "0.2.0");
	o.rerun = S_HIT;
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_run(x, "success", S_HIT ":applied," S_NOTES ":applied");
	assert_q(x, "SELECT count(*) FROM hits", "2\n");
	assert_string_equal(current(x), "0.3.0");
}

/* ---- start-up use ---- */

static void test_keep_going_on_start(void **state)
{
	fx *x = *state;
	char *before;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	standard(x, "group");
	step(x, S_BAD, BAD_SQL);
	open_f(x);
	up_ok(x, "0.1.0");
	before = dump(x, "before.sql");
	o.keep_going_on_start = 1;
	reset_log(x);
	assert_int_equal(ferry_up(x->f, NULL, &o), 0);
	assert_string_equal(current(x), "0.1.0");
	assert_same_dump(x, before);
	assert_true(log_has(x, "1||migrations failed at start-up")); /* a warning */
	assert_true(log_has(x, "NOT NULL"));
	/* A locked installation at start-up is not an error either. */
	{
		char *lp = t_path(x->root, ".ferry/lock");
		int fd = open(lp, O_RDWR | O_CREAT, 0644);
		assert_true(fd >= 0);
		assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
		assert_int_equal(ferry_up(x->f, NULL, &o), 0);
		close(fd);
		free(lp);
	}
	assert_same_dump(x, before);
	free(before);
}

/* ---- the lock, the fast path ---- */

static void test_lock(void **state)
{
	fx *x = *state;
	char *lp, *before;
	int fd;
	double t0, t1;
	struct timespec ts;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	standard(x, "group");
	open_f(x);
	up_ok(x, NULL);

	/* Another runner holds the lock. */
	lp = t_path(x->root, ".ferry/lock");
	fd = open(lp, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);

	/* Nothing pending: the fast path takes no lock. */
	assert_int_equal(ferry_up(x->f, NULL, NULL), 0);
	assert_run(x, "noop", NULL);

	/* Something pending: locked, at once with wait 0. */
	step(x, "0.4.0/001_more.sql", MORE_SQL);
	open_f(x);
	before = dump(x, "before.sql");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_ELOCKED);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	assert_true(t1 - t0 < 0.9);
	assert_int_equal(ferry_errcode(x->f), FERRY_ELOCKED);
	assert_non_null(strstr(ferry_errmsg(x->f), "lock"));
	assert_string_equal(current(x), "0.3.0");
	assert_same_dump(x, before);

	/* With a wait, it waits that long, then gives up. */
	o.wait_seconds = 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	assert_int_equal(ferry_up(x->f, NULL, &o), FERRY_ELOCKED);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	assert_true(t1 - t0 >= 0.9);

	/* down and recover lock too. */
	assert_int_equal(ferry_down(x->f, "0.2.0", NULL), FERRY_ELOCKED);
	assert_true(has_table(x, "notes"));

	/* Released: it runs. */
	close(fd);
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.4.0");
	assert_true(has_table(x, "more"));
	/* The handle let go of the lock after the run. */
	fd = open(lp, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	free(lp);
	free(before);
}

/* ---- apply a plan ---- */

static void test_apply_plan(void **state)
{
	fx *x = *state;
	ferry_plan *p = NULL, *stale = NULL;
	standard(x, "group");
	open_f(x);
	assert_int_equal(ferry_plan_new(&p, x->f, "0.2.0"), 0);
	assert_int_equal(ferry_plan_new(&stale, x->f, "0.3.0"), 0);
	assert_int_equal(ferry_plan_step_count(p), 3);
	assert_int_equal(ferry_apply(x->f, p, NULL), 0);
	assert_string_equal(current(x), "0.2.0");
	assert_true(has_table(x, "tags"));
	assert_false(has_table(x, "notes"));
	/* A plan made from 0.0.0 no longer fits: invalid input, saying what moved. */
	assert_int_equal(ferry_apply(x->f, stale, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(x->f), "new plan"));
	assert_non_null(strstr(ferry_errmsg(x->f), "the version moved"));
	assert_string_equal(current(x), "0.2.0");
	ferry_plan_free(p);
	ferry_plan_free(stale);
}

/*
 * A plan made in the process keeps its own actions as what it expects (their
 * text is made only when it is applied): applied on a handle whose
 * configuration now plans other actions (a commit per step), it refuses and
 * changes nothing; on the handle it was made with, it runs.
 */
static void test_apply_own_plan_checks_its_actions(void **state)
{
	fx *x = *state;
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry_plan *p = NULL;
	ferry *g = NULL;
	standard(x, "group");
	open_f(x);
	assert_int_equal(ferry_plan_new(&p, x->f, "0.2.0"), 0);
	config(x, "step");
	oo.flags = FERRY_OPEN_ONE_SHOT;
	assert_int_equal(ferry_open(&g, x->root, &oo), 0);
	assert_int_equal(ferry_apply(g, p, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(g), "the configuration moved"));
	ferry_close(g);
	assert_string_equal(current(x), "0.0.0");
	{
		char *db = t_path(x->root, "data/app.db"); /* not even made */
		assert_int_not_equal(access(db, F_OK), 0);
		free(db);
	}
	assert_int_equal(ferry_apply(x->f, p, NULL), 0);
	assert_string_equal(current(x), "0.2.0");
	assert_true(has_table(x, "tags"));
	ferry_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_multi_hop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_up_step_by_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_undoes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_per_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_group_commits_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irreversible_unrecovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irreversible_in_group_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_irreversible_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_after_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_part_way_stays_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_rerun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rerun_then_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_going_on_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_plan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_own_plan_checks_its_actions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
