/*
 * test_state.c - .ferry/state.db (lib/state.c) used directly: creation in
 * WAL mode, the version, the registry, runs and their steps, transactions,
 * the checksum cache (hits keyed on size, mtime and inode; racy entries not
 * trusted; persistence through fr_state_cache_save) and allocation failures.
 */
#include "helpers.h"

#include "state.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *root;
	char *fdir;  /* <root>/.ferry */
	char *dbpath;
	fr_state *s;
	fr_buf err;
} env;

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	assert_non_null(e);
	e->root = t_tmpdir();
	e->fdir = t_path(e->root, ".ferry");
	e->dbpath = t_path(e->fdir, "state.db");
	fr_buf_init(&e->err);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_alloc_fail_after(-1);
	fr_state_close(e->s);
	fr_buf_release(&e->err);
	t_rmrf(e->root);
	free(e->root);
	free(e->fdir);
	free(e->dbpath);
	free(e);
	return 0;
}

static fr_state *open_state(env *e)
{
	fr_state_close(e->s);
	e->s = NULL;
	fr_buf_reset(&e->err);
	if (fr_state_open(&e->s, e->fdir, 1, &e->err))
		fail_msg("fr_state_open: %s", e->err.ptr);
	assert_non_null(e->s);
	return e->s;
}

/* ---- open ---- */

static void test_open_creates_wal(void **state)
{
	env *e = *state;
	struct stat st;
	open_state(e);
	assert_int_equal(stat(e->fdir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(e->dbpath, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' 'PRAGMA journal_mode')\" = wal", e->dbpath), 0);
	/* The schema is there. */
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' \"SELECT count(*) FROM sqlite_master WHERE "
	                      "name IN ('meta','runs','run_steps','registry','checksum_cache')\")\" "
	                      "= 5",
	                      e->dbpath), 0);
	/* Opening again works and keeps what is there. */
	assert_int_equal(fr_state_set_version(e->s, "1.0.0"), 0);
	open_state(e);
	{
		fr_buf v = FR_BUF_INIT;
		assert_int_equal(fr_state_get_version(e->s, &v), 0);
		assert_string_equal(v.ptr, "1.0.0");
		fr_buf_release(&v);
	}
}

static void test_open_without_create(void **state)
{
	env *e = *state;
	fr_buf v = FR_BUF_INIT;
	/* A hand-made installation without .ferry: the state is created quietly. */
	assert_int_equal(fr_state_open(&e->s, e->fdir, 0, &e->err), 0);
	assert_non_null(e->s);
	assert_true(fr_exists(e->dbpath));
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "");
	fr_buf_release(&v);
}

static void test_open_fails(void **state)
{
	env *e = *state;
	fr_state *s = (fr_state *)e; /* must be reset */
	char *file = t_path(e->root, "plainfile");
	t_write(e->root, "plainfile", "x");
	/* The .ferry folder is a plain file: no state, a message naming it. */
	assert_int_not_equal(fr_state_open(&s, file, 1, &e->err), 0);
	assert_null(s);
	assert_non_null(strstr(e->err.ptr, file));
	free(file);
}

/* ---- version, transactions ---- */

static void test_version(void **state)
{
	env *e = *state;
	fr_buf v = FR_BUF_INIT;
	open_state(e);
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "");
	assert_int_equal(fr_state_set_version(e->s, "0.2.0"), 0);
	assert_int_equal(fr_state_set_version(e->s, "1.2.3-rc.1+build.5"), 0);
	fr_buf_reset(&v);
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "1.2.3-rc.1+build.5");
	/* Persisted. */
	open_state(e);
	fr_buf_reset(&v);
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "1.2.3-rc.1+build.5");
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' \"SELECT value FROM meta WHERE key='version'\")\""
	                      " = 1.2.3-rc.1+build.5", e->dbpath), 0);
	fr_buf_release(&v);
}

static void test_transactions(void **state)
{
	env *e = *state;
	fr_buf v = FR_BUF_INIT;
	open_state(e);
	assert_int_equal(fr_state_set_version(e->s, "1.0.0"), 0);

	assert_int_equal(fr_state_begin(e->s), 0);
	assert_int_equal(fr_state_begin(e->s), 0); /* already open: a no-op */
	assert_int_equal(fr_state_set_version(e->s, "2.0.0"), 0);
	fr_state_rollback(e->s);
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "1.0.0");

	assert_int_equal(fr_state_begin(e->s), 0);
	assert_int_equal(fr_state_set_version(e->s, "3.0.0"), 0);
	assert_int_equal(fr_state_commit(e->s), 0);
	assert_int_equal(fr_state_commit(e->s), 0); /* nothing open: a no-op */
	fr_state_rollback(e->s);                    /* nothing open: a no-op */
	fr_buf_reset(&v);
	assert_int_equal(fr_state_get_version(e->s, &v), 0);
	assert_string_equal(v.ptr, "3.0.0");
	fr_buf_release(&v);
	/* Another connection sees the committed value. */
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' \"SELECT value FROM meta WHERE key='version'\")\""
	                      " = 3.0.0", e->dbpath), 0);
}

/* ---- registry ---- */

static fr_reg reg(const char *id, int64_t seq, const char *undo)
{
	fr_reg r;
	memset(&r, 0, sizeof r);
	r.id = (char *)id;
	r.database = "main";
	r.kind = "sql";
	r.from = "0.1.0";
	r.to = "0.2.0";
	r.checksum = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	r.status = "applied";
	r.undo = (char *)undo;
	r.message = NULL;
	r.applied_at_ms = 1700000000000LL + seq;
	r.duration_ms = 10 * seq;
	r.run_id = 7;
	r.seq = seq;
	return r;
}

static void test_registry(void **state)
{
	env *e = *state;
	fr_reg *out = NULL, r;
	size_t n = 99;
	open_state(e);

	assert_int_equal(fr_state_registry(e->s, &out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fr_state_next_seq(e->s), 1);

	r = reg("0.2.0/c.sql", 3, "DROP TABLE c;");
	assert_int_equal(fr_state_reg_put(e->s, &r), 0);
	r = reg("0.2.0/a.sql", 1, NULL);
	r.database = NULL; /* a step on no database */
	r.message = "a message";
	assert_int_equal(fr_state_reg_put(e->s, &r), 0);
	r = reg("0.2.0/b.sql", 2, "DROP TABLE b;");
	r.status = "skipped";
	assert_int_equal(fr_state_reg_put(e->s, &r), 0);
	assert_int_equal(fr_state_next_seq(e->s), 4);

	assert_int_equal(fr_state_registry(e->s, &out, &n), 0);
	assert_int_equal(n, 3);
	/* By seq, not by id or insertion. */
	assert_string_equal(out[0].id, "0.2.0/a.sql");
	assert_string_equal(out[1].id, "0.2.0/b.sql");
	assert_string_equal(out[2].id, "0.2.0/c.sql");
	assert_int_equal(out[0].seq, 1);
	assert_int_equal(out[2].seq, 3);
	/* Fields round-trip. */
	assert_string_equal(out[0].database, "");
	assert_null(out[0].undo);
	assert_string_equal(out[0].message, "a message");
	assert_string_equal(out[1].status, "skipped");
	assert_null(out[1].message);
	assert_string_equal(out[2].database, "main");
	assert_string_equal(out[2].kind, "sql");
	assert_string_equal(out[2].from, "0.1.0");
	assert_string_equal(out[2].to, "0.2.0");
	assert_string_equal(out[2].undo, "DROP TABLE c;");
	assert_string_equal(out[2].status, "applied");
	assert_int_equal(out[2].applied_at_ms, 1700000000003LL);
	assert_int_equal(out[2].duration_ms, 30);
	assert_int_equal(out[2].run_id, 7);
	assert_int_equal(strlen(out[2].checksum), FR_CHECKSUM_LEN);
	fr_regs_free(out, n);

	/* Putting an id again replaces its row (a rollback marks it). */
	r = reg("0.2.0/a.sql", 9, NULL);
	r.status = "rolled_back";
	assert_int_equal(fr_state_reg_put(e->s, &r), 0);
	assert_int_equal(fr_state_registry(e->s, &out, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[2].id, "0.2.0/a.sql");
	assert_string_equal(out[2].status, "rolled_back");
	assert_string_equal(out[2].database, "main");
	fr_regs_free(out, n);
	assert_int_equal(fr_state_next_seq(e->s), 10);

	/* Delete. */
	assert_int_equal(fr_state_reg_delete(e->s, "0.2.0/b.sql"), 0);
	assert_int_equal(fr_state_reg_delete(e->s, "0.2.0/none.sql"), 0);
	open_state(e); /* and it was all written */
	assert_int_equal(fr_state_registry(e->s, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].id, "0.2.0/c.sql");
	assert_string_equal(out[1].id, "0.2.0/a.sql");
	fr_regs_free(out, n);
	fr_regs_free(NULL, 0);
}

/* ---- runs ---- */

static void test_runs(void **state)
{
	env *e = *state;
	fr_run_row *rows = NULL, run;
	size_t n = 0;
	int64_t id1 = 0, id2 = 0, id3 = 0;
	int found = -1;
	char host[256] = "";
	open_state(e);
	gethostname(host, sizeof host - 1);

	assert_int_equal(fr_state_runs(e->s, 0, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fr_state_running(e->s, &run, &found), 0);
	assert_int_equal(found, 0);

	assert_int_equal(fr_state_run_begin(e->s, "up", "0.1.0", "0.3.0", &id1), 0);
	assert_int_equal(fr_state_run_begin(e->s, "down", "0.3.0", "0.2.0", &id2), 0);
	assert_int_equal(fr_state_run_begin(e->s, "up", "0.2.0", "0.4.0", &id3), 0);
	assert_true(id1 > 0 && id2 > id1 && id3 > id2);

	assert_int_equal(fr_state_run_end(e->s, id1, "success", NULL, NULL), 0);
	assert_int_equal(fr_state_run_end(e->s, id3, "rolled_back", "0.2.0", "step x failed"), 0);

	/* Newest first. */
	assert_int_equal(fr_state_runs(e->s, 0, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].id, id3);
	assert_int_equal(rows[1].id, id2);
	assert_int_equal(rows[2].id, id1);
	assert_string_equal(rows[0].kind, "up");
	assert_string_equal(rows[0].from, "0.2.0");
	assert_string_equal(rows[0].to, "0.2.0"); /* run_end's to replaces it */
	assert_string_equal(rows[0].status, "rolled_back");
	assert_string_equal(rows[0].message, "step x failed");
	assert_true(rows[0].finished_at_ms >= rows[0].started_at_ms);
	assert_string_equal(rows[1].kind, "down");
	assert_string_equal(rows[1].status, "running");
	assert_int_equal(rows[1].finished_at_ms, 0);
	assert_null(rows[1].message);
	assert_int_equal(rows[1].pid, (long)getpid());
	assert_string_equal(rows[1].host, host);
	assert_string_equal(rows[2].to, "0.3.0"); /* NULL to keeps it */
	assert_string_equal(rows[2].status, "success");
	assert_null(rows[2].message);
	assert_true(rows[2].started_at_ms > 1600000000000LL);
	assert_null(rows[2].backup_id);
	fr_run_rows_free(rows, n);

	assert_int_equal(fr_state_runs(e->s, 2, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, id3);
	assert_int_equal(rows[1].id, id2);
	fr_run_rows_free(rows, n);

	/* The run still marked running. */
	assert_int_equal(fr_state_running(e->s, &run, &found), 0);
	assert_int_equal(found, 1);
	assert_int_equal(run.id, id2);
	assert_string_equal(run.kind, "down");
	assert_string_equal(run.from, "0.3.0");
	fr_run_row_clear(&run);
	assert_null(run.kind);

	/* Of two running, the newest. */
	{
		int64_t id4 = 0;
		assert_int_equal(fr_state_run_begin(e->s, "recover", "0.3.0", "0.1.0", &id4), 0);
		assert_int_equal(fr_state_running(e->s, &run, &found), 0);
		assert_int_equal(found, 1);
		assert_int_equal(run.id, id4);
		fr_run_row_clear(&run);
		assert_int_equal(fr_state_run_end(e->s, id4, "failed", NULL, ""), 0);
	}
	assert_int_equal(fr_state_run_end(e->s, id2, "interrupted", NULL, NULL), 0);
	assert_int_equal(fr_state_running(e->s, &run, &found), 0);
	assert_int_equal(found, 0);
	fr_run_rows_free(NULL, 0);
}

static void test_run_steps(void **state)
{
	env *e = *state;
	fr_run_step_row *r = NULL;
	size_t n = 0;
	int64_t a = 0, b = 0;
	open_state(e);
	assert_int_equal(fr_state_run_begin(e->s, "up", "0.0.0", "0.2.0", &a), 0);
	assert_int_equal(fr_state_run_begin(e->s, "up", "0.2.0", "0.3.0", &b), 0);
	assert_int_equal(fr_state_run_step(e->s, a, "0.1.0/001.sql", "applied", 12, NULL), 0);
	assert_int_equal(fr_state_run_step(e->s, b, "0.3.0/001.sql", "applied", 1, ""), 0);
	assert_int_equal(fr_state_run_step(e->s, a, "0.2.0/001.sql", "failed", 3, "boom"), 0);
	assert_int_equal(fr_state_run_step(e->s, a, "0.1.0/001.sql", "rolled_back", 0, NULL), 0);

	assert_int_equal(fr_state_run_steps(e->s, a, &r, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(r[0].step_id, "0.1.0/001.sql");
	assert_string_equal(r[0].status, "applied");
	assert_int_equal(r[0].duration_ms, 12);
	assert_null(r[0].message);
	assert_string_equal(r[1].step_id, "0.2.0/001.sql");
	assert_string_equal(r[1].status, "failed");
	assert_string_equal(r[1].message, "boom");
	assert_string_equal(r[2].status, "rolled_back");
	fr_run_step_rows_free(r, n);

	assert_int_equal(fr_state_run_steps(e->s, b, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_null(r[0].message); /* "" is no message */
	fr_run_step_rows_free(r, n);

	assert_int_equal(fr_state_run_steps(e->s, 12345, &r, &n), 0);
	assert_int_equal(n, 0);
	fr_run_step_rows_free(r, n);
	fr_run_step_rows_free(NULL, 0);
}

/*
 * Rows written in batches (fr_state_reg_put_many, fr_state_run_steps_add)
 * read back as the same rows written one call each: at every count around
 * the batch size, an id repeated inside one batch (the later row wins, as
 * with INSERT OR REPLACE in turn), NULL texts, and a run's outcomes
 * numbered after those it already has.
 */
static void test_batched_rows(void **state)
{
	env *e = *state;
	static const size_t counts[] = { 0, 1, 31, 32, 33, 64, 70 };
	size_t c, i;
	open_state(e);
	for (c = 0; c < sizeof counts / sizeof *counts; c++) {
		size_t n = counts[c], got = 0;
		fr_reg *w = calloc(n + 1, sizeof *w), *r = NULL;
		fr_run_step_row *o = calloc(n + 1, sizeof *o), *back = NULL;
		char (*ids)[64] = calloc(n + 1, sizeof *ids), (*undo)[64] = calloc(n + 1, sizeof *undo);
		int64_t run = 0;
		assert_non_null(w);
		assert_non_null(o);
		assert_int_equal(fr_state_registry(e->s, &r, &got), 0); /* the last count's rows gone */
		for (i = 0; i < got; i++)
			assert_int_equal(fr_state_reg_delete(e->s, r[i].id), 0);
		fr_regs_free(r, got);
		r = NULL;
		for (i = 0; i < n; i++) {
			/* Row 5 repeats row 2's id: the registry keeps row 5's values. */
			snprintf(ids[i], sizeof ids[i], "0.%u.0/%03u.sql", (unsigned)(i == 5 ? 2 : i), (unsigned)(i == 5 ? 2 : i));
			snprintf(undo[i], sizeof undo[i], "DROP TABLE t%u;", (unsigned)i);
			w[i].id = ids[i];
			w[i].seq = (int64_t)i + 1;
			w[i].database = i % 3 ? "main" : NULL;
			w[i].kind = "sql";
			w[i].from = "0.0.0";
			w[i].to = "1.0.0";
			w[i].checksum = "sha256:00";
			w[i].status = i % 2 ? "applied" : "skipped";
			w[i].undo = i % 4 ? undo[i] : NULL;
			w[i].message = i % 5 ? NULL : "note";
			w[i].applied_at_ms = 1000 + (int64_t)i;
			w[i].duration_ms = (int64_t)i;
			w[i].run_id = 7;
			o[i].step_id = ids[i];
			o[i].status = i % 2 ? "applied" : "failed";
			o[i].message = i % 3 == 0 ? NULL : i % 3 == 1 ? "" : undo[i];
			o[i].duration_ms = (int64_t)i * 2;
		}
		assert_int_equal(fr_state_reg_put_many(e->s, w, n), 0);
		assert_int_equal(fr_state_registry(e->s, &r, &got), 0);
		assert_int_equal(got, n > 5 ? n - 1 : n);
		for (i = 0; i < got; i++) {
			/* By seq: every row but row 2, whose id row 5 took over. */
			const fr_reg *x = &w[n > 5 && i >= 2 ? i + 1 : i];
			assert_string_equal(r[i].id, x->id);
			assert_int_equal(r[i].seq, x->seq);
			assert_string_equal(r[i].database, x->database ? x->database : "");
			assert_string_equal(r[i].status, x->status);
			if (x->undo)
				assert_string_equal(r[i].undo, x->undo);
			else
				assert_null(r[i].undo);
			if (x->message)
				assert_string_equal(r[i].message, x->message);
			else
				assert_null(r[i].message);
			assert_int_equal(r[i].applied_at_ms, x->applied_at_ms);
			assert_int_equal(r[i].duration_ms, x->duration_ms);
			assert_int_equal(r[i].run_id, 7);
		}
		fr_regs_free(r, got);

		/* A run with one outcome already: the batch follows it. */
		assert_int_equal(fr_state_run_begin(e->s, "up", "0.0.0", "1.0.0", &run), 0);
		assert_int_equal(fr_state_run_step(e->s, run, "first", "applied", 1, "m"), 0);
		assert_int_equal(fr_state_run_steps_add(e->s, run, o, n), 0);
		assert_int_equal(fr_state_run_steps(e->s, run, &back, &got), 0);
		assert_int_equal(got, n + 1);
		assert_string_equal(back[0].step_id, "first");
		for (i = 0; i < n; i++) {
			assert_string_equal(back[i + 1].step_id, o[i].step_id);
			assert_string_equal(back[i + 1].status, o[i].status);
			assert_int_equal(back[i + 1].duration_ms, o[i].duration_ms);
			if (o[i].message && *o[i].message)
				assert_string_equal(back[i + 1].message, o[i].message);
			else
				assert_null(back[i + 1].message); /* "" is no message */
		}
		fr_run_step_rows_free(back, got);
		free(w);
		free(o);
		free(ids);
		free(undo);
	}
}

/* ---- checksum cache ---- */

/* Sets path's mtime to sec seconds (and nsec) since the epoch. */
static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2];
	ts[0].tv_sec = sec;
	ts[0].tv_nsec = nsec;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A step for path with its stat data, as the catalog fills it. */
static fr_step mkstep(const char *path)
{
	fr_step s;
	struct stat st;
	memset(&s, 0, sizeof s);
	s.path = (char *)path;
	s.id = "1.0.0/x.sql";
	s.rel = "x.sql";
	assert_int_equal(stat(path, &st), 0);
	s.size = st.st_size;
	s.mtime_ns = fr_mtime_ns(&st);
	s.ino = (int64_t)st.st_ino;
	return s;
}

/* Overwrites path in place (same inode) with text. */
static void overwrite(const char *path, const char *text)
{
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	fclose(fp);
}

static void checksum_of(const char *text, char out[FR_CHECKSUM_LEN + 1])
{
	assert_int_equal(fr_checksum(text, strlen(text), out), 0);
}

/* The number of entries in the cache blob (its header's count, little-endian u32). */
static int64_t cache_rows(env *e)
{
	char *p = t_path(e->root, "count.txt");
	char *txt;
	unsigned long v;
	assert_int_equal(t_sh("sqlite3 '%s' \"SELECT coalesce((SELECT hex(substr(data, 5, 4))"
	                      " FROM checksum_cache), '00000000')\" > '%s'", e->dbpath, p), 0);
	txt = t_read(e->root, "count.txt");
	assert_non_null(txt);
	assert_true(strlen(txt) >= 8);
	v = strtoul(txt, NULL, 16);
	free(txt);
	free(p);
	/* hex() printed the bytes in file order: little-endian to a number. */
	return (int64_t)(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) |
	                 ((v >> 24) & 0xff));
}

static void test_cache_hit_no_rehash(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "step.sql");
	char ck_a[FR_CHECKSUM_LEN + 1], ck_b[FR_CHECKSUM_LEN + 1], ck_c[FR_CHECKSUM_LEN + 1];
	fr_step s;
	open_state(e);
	checksum_of("-- ferry:up\nSELECT 1;\n", ck_a);
	checksum_of("-- ferry:up\nSELECT 2;\n", ck_b);
	checksum_of("-- ferry:up\nSELECT 33;\n", ck_c);

	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 1;\n");
	assert_int_equal(t_sh("touch -d '2020-01-02 03:04:05' '%s'", path), 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);

	/* Same size, same mtime, same inode, other content: the cache answers, no hashing. */
	overwrite(path, "-- ferry:up\nSELECT 2;\n");
	assert_int_equal(t_sh("touch -d '2020-01-02 03:04:05' '%s'", path), 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);

	/* An already filled checksum is kept as it is. */
	memcpy(s.checksum, ck_c, sizeof ck_c);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_c);

	/* A real change (the mtime moves): hashed again. */
	assert_int_equal(t_sh("touch -d '2021-01-02 03:04:05' '%s'", path), 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b);

	/* A change of size with the mtime put back: hashed again. */
	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 33;\n");
	assert_int_equal(t_sh("touch -d '2021-01-02 03:04:05' '%s'", path), 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_c);
	free(path);
}

static void test_cache_inode(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "step.sql");
	char ck_a[FR_CHECKSUM_LEN + 1], ck_b[FR_CHECKSUM_LEN + 1];
	fr_step s;
	struct stat st;
	int64_t old_ino;
	open_state(e);
	checksum_of("-- ferry:up\nSELECT 1;\n", ck_a);
	checksum_of("-- ferry:up\nSELECT 2;\n", ck_b);
	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 1;\n");
	set_mtime(path, 1577934245, 123456789);
	s = mkstep(path);
	old_ino = s.ino;
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);

	/* Replaced by another file (as an editor or git does): same size and mtime, new inode. */
	t_write(e->root, "step.new", "-- ferry:up\nSELECT 2;\n");
	assert_int_equal(t_sh("mv '%s/step.new' '%s'", e->root, path), 0);
	set_mtime(path, 1577934245, 123456789);
	assert_int_equal(stat(path, &st), 0);
	assert_true((int64_t)st.st_ino != old_ino);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b);
	free(path);
}

static void test_cache_racy(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "step.sql");
	char ck_a[FR_CHECKSUM_LEN + 1], ck_b[FR_CHECKSUM_LEN + 1], ck_c[FR_CHECKSUM_LEN + 1];
	struct timespec now;
	fr_step s;
	open_state(e);
	checksum_of("-- ferry:up\nSELECT 1;\n", ck_a);
	checksum_of("-- ferry:up\nSELECT 2;\n", ck_b);
	checksum_of("-- ferry:up\nSELECT 3;\n", ck_c);

	/* Modified just now: not trusted, so a same-size same-mtime change is seen. */
	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 1;\n");
	clock_gettime(CLOCK_REALTIME, &now);
	set_mtime(path, now.tv_sec, now.tv_nsec);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);
	overwrite(path, "-- ferry:up\nSELECT 2;\n");
	set_mtime(path, now.tv_sec, now.tv_nsec);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b);

	/* A future mtime is racy too. */
	set_mtime(path, now.tv_sec + 3600, 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b);
	overwrite(path, "-- ferry:up\nSELECT 3;\n");
	set_mtime(path, now.tv_sec + 3600, 0);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_c);

	/* Nothing racy reaches state.db. */
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(cache_rows(e), 0);
	free(path);
}

static void test_cache_save_persists(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "step.sql"), *path2 = t_path(e->root, "other.sql");
	char ck_a[FR_CHECKSUM_LEN + 1], ck_b[FR_CHECKSUM_LEN + 1];
	fr_step s;
	open_state(e);
	checksum_of("-- ferry:up\nSELECT 1;\n", ck_a);
	checksum_of("-- ferry:up\nSELECT 2;\n", ck_b);

	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 1;\n");
	set_mtime(path, 1577934245, 5);
	t_write(e->root, "other.sql", "-- ferry:up\nSELECT 1;\n");
	set_mtime(path2, 1577934245, 6);

	/* Computed but not saved: a new connection has nothing. */
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);
	open_state(e);
	assert_int_equal(cache_rows(e), 0);
	overwrite(path, "-- ferry:up\nSELECT 2;\n");
	set_mtime(path, 1577934245, 5);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b); /* hashed: no cache entry survived */

	/* Saved: the next connection trusts it. */
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(cache_rows(e), 1);
	assert_int_equal(fr_state_cache_save(e->s), 0); /* nothing new: nothing to do */
	open_state(e);
	overwrite(path, "-- ferry:up\nSELECT 1;\n");
	set_mtime(path, 1577934245, 5);
	s = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b); /* from the cache */

	/*
	 * fr_state_cache_note remembers a checksum a load computed, and saving
	 * inside an open transaction works.
	 */
	s = mkstep(path2);
	memcpy(s.checksum, ck_b, sizeof s.checksum);
	fr_state_cache_note(e->s, &s);
	assert_int_equal(fr_state_begin(e->s), 0);
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(fr_state_commit(e->s), 0);
	assert_int_equal(cache_rows(e), 2);
	open_state(e);
	s = mkstep(path2); /* its content is "SELECT 1", the cache says what was given */
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_b);

	/* A changed file replaces its saved entry. */
	set_mtime(path2, 1577934300, 0);
	s = mkstep(path2);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(cache_rows(e), 2);
	open_state(e);
	s = mkstep(path2);
	assert_int_equal(fr_state_checksum(e->s, &s), 0);
	assert_string_equal(s.checksum, ck_a);
	free(path);
	free(path2);
}

static void test_cache_missing_file(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "gone.sql");
	fr_step s;
	t_write(e->root, "gone.sql", "x");
	set_mtime(path, 1577934245, 0);
	open_state(e);
	s = mkstep(path);
	assert_int_equal(unlink(path), 0);
	errno = 0;
	assert_int_equal(fr_state_checksum(e->s, &s), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(s.checksum, "");
	free(path);
}

/* A step whose file does not exist: only the cache can give its checksum. */
static fr_step fake_step(char *path, size_t cap, size_t i)
{
	fr_step s;
	memset(&s, 0, sizeof s);
	snprintf(path, cap, "/nonexistent-ferry-test/%05zu_create.sql", i);
	s.path = path;
	s.id = "1.0.0/x.sql";
	s.rel = "x.sql";
	s.size = (int64_t)i + 40;
	s.mtime_ns = 1577934245000000000LL + (int64_t)i;
	s.ino = (int64_t)i + 7;
	return s;
}

static void fake_checksum(size_t i, char out[FR_CHECKSUM_LEN + 1])
{
	char text[64];
	snprintf(text, sizeof text, "-- ferry:up\nSELECT %zu;\n", i);
	checksum_of(text, out);
}

/* Each of n fake steps gets its checksum from the cache (a miss would read a missing file). */
static void all_cached(env *e, size_t n)
{
	char path[128], ck[FR_CHECKSUM_LEN + 1];
	size_t i;
	for (i = 0; i < n; i++) {
		fr_step s = fake_step(path, sizeof path, i);
		fake_checksum(i, ck);
		if (fr_state_checksum(e->s, &s))
			fail_msg("%s: not found in a cache of %zu entries", path, n);
		assert_string_equal(s.checksum, ck);
	}
}

/*
 * What a run's loads hashed is remembered (fr_state_cache_note), in any
 * number: thousands of entries added to a cache, before and after a save,
 * are each found, and noting one again with other stat data replaces it.
 */
static void test_cache_note_many(void **state)
{
	env *e = *state;
	char path[128];
	size_t i;
	open_state(e);
	for (i = 0; i < 3000; i++) {
		fr_step s = fake_step(path, sizeof path, i);
		fake_checksum(i, s.checksum);
		fr_state_cache_note(e->s, &s);
	}
	all_cached(e, 3000);
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(cache_rows(e), 3000);
	all_cached(e, 3000); /* the save sorted the entries: found again after it */
	open_state(e);
	all_cached(e, 3000);
	for (i = 3000; i < 5000; i++) { /* added to the cache as read */
		fr_step s = fake_step(path, sizeof path, i);
		fake_checksum(i, s.checksum);
		fr_state_cache_note(e->s, &s);
	}
	{
		fr_step s = fake_step(path, sizeof path, 17);
		s.size++; /* the file changed: its entry is replaced, not doubled */
		fake_checksum(17, s.checksum);
		fr_state_cache_note(e->s, &s);
	}
	all_cached(e, 17);
	assert_int_equal(fr_state_cache_save(e->s), 0);
	assert_int_equal(cache_rows(e), 5000);
	open_state(e);
	{
		fr_step s = fake_step(path, sizeof path, 17);
		assert_int_equal(fr_state_checksum(e->s, &s), -1); /* the old stat: no entry */
	}
	for (i = 18; i < 5000; i++) {
		char ck[FR_CHECKSUM_LEN + 1];
		fr_step s = fake_step(path, sizeof path, i);
		fake_checksum(i, ck);
		assert_int_equal(fr_state_checksum(e->s, &s), 0);
		assert_string_equal(s.checksum, ck);
	}
}

/* ---- allocation failures ---- */

static void test_oom_registry(void **state)
{
	env *e = *state;
	fr_reg *out = NULL, r;
	size_t n = 0, i;
	long k;
	int rc = -1;
	char id[64];
	open_state(e);
	for (i = 0; i < 70; i++) { /* more than one growth of the array */
		snprintf(id, sizeof id, "1.0.0/%03zu.sql", i);
		r = reg(id, (int64_t)i + 1, i % 2 ? "DROP TABLE t;" : NULL);
		r.message = i % 3 ? "m" : NULL;
		assert_int_equal(fr_state_reg_put(e->s, &r), 0);
	}
	for (k = 0; k < 2000 && rc != 0; k++) {
		out = (fr_reg *)&r;
		n = 99;
		fr_alloc_fail_after(k);
		rc = fr_state_registry(e->s, &out, &n);
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_int_equal(rc, -1);
			assert_null(out);
			assert_int_equal(n, 0);
		}
	}
	assert_true(k > 1); /* failures were injected */
	assert_int_equal(rc, 0);
	assert_int_equal(n, 70);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "1.0.0/%03zu.sql", i);
		assert_string_equal(out[i].id, id);
		if ((i % 2 && !out[i].undo) || (i % 3 && !out[i].message)) {
			fr_regs_free(out, n);
			fail_msg("fr_state_registry returned 0 but lost the undo text or message of %s "
			         "(allocation %ld failed)", id, k - 1);
		}
		if (i % 2)
			assert_string_equal(out[i].undo, "DROP TABLE t;");
		else
			assert_null(out[i].undo);
	}
	fr_regs_free(out, n);
}

static void test_oom_runs(void **state)
{
	env *e = *state;
	fr_run_row *rows = NULL;
	fr_run_step_row *steps = NULL;
	size_t n = 0, i;
	int64_t id = 0;
	long k;
	int rc = -1;
	open_state(e);
	for (i = 0; i < 20; i++) {
		assert_int_equal(fr_state_run_begin(e->s, "up", "0.1.0", "0.2.0", &id), 0);
		assert_int_equal(fr_state_run_step(e->s, id, "0.2.0/a.sql", "applied", 1, "m"), 0);
		assert_int_equal(fr_state_run_end(e->s, id, "success", NULL, "ok"), 0);
	}
	for (i = 0; i < 40; i++)
		assert_int_equal(fr_state_run_step(e->s, id, "0.2.0/b.sql", "applied", 1, NULL), 0);

	/* Runs: an error, or every row complete. */
	for (k = 0; k < 2000 && rc != 0; k++) {
		fr_alloc_fail_after(k);
		rc = fr_state_runs(e->s, 0, &rows, &n);
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(rows);
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, 20);
		for (i = 0; i < n; i++) {
			if (!rows[i].kind || !rows[i].from || !rows[i].to || !rows[i].status ||
			    !rows[i].host || !rows[i].message) {
				fr_run_rows_free(rows, n);
				fail_msg("fr_state_runs returned 0 with a missing string in row %zu after "
				         "%ld allocations", i, k);
			}
		}
		fr_run_rows_free(rows, n);
	}
	assert_int_equal(rc, 0);

	/* Steps of a run: the same. */
	rc = -1;
	for (k = 0; k < 2000 && rc != 0; k++) {
		fr_alloc_fail_after(k);
		rc = fr_state_run_steps(e->s, id, &steps, &n);
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(steps);
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, 41);
		for (i = 0; i < n; i++) {
			if (!steps[i].step_id || !steps[i].status) {
				fr_run_step_rows_free(steps, n);
				fail_msg("fr_state_run_steps returned 0 with a missing string in row %zu "
				         "after %ld allocations", i, k);
			}
		}
		fr_run_step_rows_free(steps, n);
	}
	assert_int_equal(rc, 0);
}

static void test_oom_open_and_cache(void **state)
{
	env *e = *state;
	char *path = t_path(e->root, "step.sql");
	char ck[FR_CHECKSUM_LEN + 1];
	fr_state *s = NULL;
	fr_step st;
	long k;
	int rc = -1;
	open_state(e);
	fr_state_close(e->s);
	e->s = NULL;
	for (k = 0; k < 100 && rc != 0; k++) {
		fr_buf_reset(&e->err);
		s = (fr_state *)e;
		fr_alloc_fail_after(k);
		rc = fr_state_open(&s, e->fdir, 1, &e->err);
		fr_alloc_fail_after(-1);
		if (rc)
			assert_null(s);
	}
	assert_int_equal(rc, 0);
	e->s = s;

	/* The cache under failing allocations still answers right (it may just hash). */
	t_write(e->root, "step.sql", "-- ferry:up\nSELECT 1;\n");
	set_mtime(path, 1577934245, 0);
	checksum_of("-- ferry:up\nSELECT 1;\n", ck);
	for (k = 0; k < 20; k++) {
		open_state(e);
		st = mkstep(path);
		fr_alloc_fail_after(k);
		rc = fr_state_checksum(e->s, &st);
		if (rc == 0)
			fr_state_cache_save(e->s);
		fr_alloc_fail_after(-1);
		if (rc == 0)
			assert_string_equal(st.checksum, ck);
	}
	open_state(e);
	st = mkstep(path);
	assert_int_equal(fr_state_checksum(e->s, &st), 0);
	assert_string_equal(st.checksum, ck);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batched_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit_no_rehash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_racy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_save_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_note_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_open_and_cache, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
