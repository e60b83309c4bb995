/*
 * state.c - .ferry/state.db: version, runs, registry, checksum cache.
 *
 * The file is ours and small, so it runs in WAL mode with
 * synchronous=NORMAL: a commit costs no fsync, and the application
 * databases (which carry the authoritative record of each step) keep their
 * own durability. Statements used in loops are prepared once.
 */
#include "state.h"
#include "db/db.h"
#include "../include/ferry.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/proc.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	char *path;
	int64_t size, mtime_ns, ino;
	char checksum[FR_CHECKSUM_LEN + 1];
	int dirty;
	int owned;            /* path was allocated (else it points into cache_blob) */
	int seen;             /* its file was listed since the last save: it exists */
} cache_entry;

struct fr_state {
	sqlite3 *db;
	char *path;           /* .../state.db */
	sqlite3_stmt *reg_put, *reg_put_batch;   /* one row, STATE_BATCH rows */
	sqlite3_stmt *run_step, *run_step_batch;
	sqlite3_stmt *data_version;
	cache_entry *cache;   /* sorted by path as read and as saved; appended to between */
	unsigned char *cache_blob; /* the cache as read; entries' paths point into it */
	size_t ncache, capcache;
	uint32_t *cache_slots; /* open addressing on the path: entry index + 1, 0 empty */
	size_t nslots;        /* a power of two, > 2 * ncache; 0: to be built */
	int cache_loaded;
	int fp_forgotten;     /* the no-op fingerprint was cleared by this connection */
	int cache_sorted;
	int in_tx;
};

/* Schema 2 keeps the checksum cache as one blob; schema 1 (never released) had rows. */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, kind TEXT, from_version TEXT,"
	" to_version TEXT, status TEXT, message TEXT, backup_id TEXT, started_at_ms INTEGER,"
	" finished_at_ms INTEGER, pid INTEGER, host TEXT);"
	"CREATE TABLE IF NOT EXISTS run_steps(run_id INTEGER, n INTEGER, step_id TEXT,"
	" status TEXT, duration_ms INTEGER, message TEXT, PRIMARY KEY(run_id, n));"
	"CREATE TABLE IF NOT EXISTS registry(id TEXT PRIMARY KEY, seq INTEGER, database TEXT,"
	" kind TEXT, from_version TEXT, to_version TEXT, checksum TEXT, status TEXT, undo TEXT,"
	" message TEXT, applied_at_ms INTEGER, duration_ms INTEGER, run_id INTEGER);"
	"CREATE TABLE IF NOT EXISTS checksum_cache(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" data BLOB);"
	"CREATE INDEX IF NOT EXISTS registry_seq ON registry(seq);"
	"PRAGMA user_version = 2;";

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int fr_state_open(fr_state **out, const char *ferry_dir, int create, fr_buf *err)
{
	fr_state *s = NULL;
	char *path = NULL;
	int rc = FERRY_EFAILED, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	*out = NULL;
	path = fr_path_join(ferry_dir, "state.db");
	s = fr_calloc(1, sizeof *s);
	if (!path || !s) {
		fr_buf_puts(err, "out of memory");
		goto done;
	}
	if (create) {
		if (fr_mkdir_p(ferry_dir, 0755)) {
			fr_buf_printf(err, "cannot create '%s': %s", ferry_dir, strerror(errno));
			goto done;
		}
		flags |= SQLITE_OPEN_CREATE;
	} else if (!fr_exists(path)) {
		/* No state yet: a fresh installation made by hand. Create it quietly. */
		if (fr_mkdir_p(ferry_dir, 0755) == 0)
			flags |= SQLITE_OPEN_CREATE;
	}
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		fr_buf_printf(err, "cannot open '%s': %s", path,
		              s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto done;
	}
	sqlite3_busy_timeout(s->db, 10000);
	/*
	 * Private: ops steps' undo records keep what files held (a .env's
	 * secrets, say). Only when it is not yet: chmod sets the change time
	 * even when the mode stays, and a no-op start writes nothing.
	 */
	{
		struct stat st;
		if (stat(path, &st) == 0 && (st.st_mode & 07777) != 0600)
			chmod(path, 0600);
	}
	{
		/*
		 * Keep the -wal and -shm files between runs (no create and unlink on
		 * each no-op), but empty: a persistent WAL that keeps its frames is
		 * read back at every open and checkpointed again, with three
		 * fdatasyncs, at every close. journal_size_limit=0 truncates it to
		 * zero bytes once the closing checkpoint has copied it back.
		 */
		int persist = 1;
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	sqlite3_exec(s->db, "PRAGMA journal_size_limit=0", NULL, NULL, NULL);
	/* The schema is written once; later opens only read user_version (the no-op path). */
	if (sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    (schema_version(s->db) < 2 &&
	     (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	      (schema_version(s->db) == 1 &&
	       sqlite3_exec(s->db, "DROP TABLE checksum_cache", NULL, NULL, NULL) != SQLITE_OK) ||
	      sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK))) {
		fr_buf_printf(err, "cannot use '%s': %s (is it writable?)", path,
		              sqlite3_errmsg(s->db));
		goto done;
	}
	s->path = path;
	path = NULL;
	*out = s;
	s = NULL;
	rc = 0;
done:
	fr_state_close(s);
	fr_free(path);
	return rc;
}

void fr_state_close(fr_state *s)
{
	size_t i;
	if (!s)
		return;
	sqlite3_finalize(s->reg_put);
	sqlite3_finalize(s->reg_put_batch);
	sqlite3_finalize(s->run_step);
	sqlite3_finalize(s->run_step_batch);
	sqlite3_finalize(s->data_version);
	sqlite3_close(s->db);
	for (i = 0; i < s->ncache; i++)
		if (s->cache[i].owned)
			fr_free(s->cache[i].path);
	fr_free(s->cache);
	fr_free(s->cache_slots);
	fr_free(s->cache_blob);
	fr_free(s->path);
	fr_free(s);
}

const char *fr_state_errmsg(fr_state *s)
{
	return sqlite3_errmsg(s->db);
}

static int begin(fr_state *s, const char *sql)
{
	if (s->in_tx)
		return 0;
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	s->in_tx = 1;
	return 0;
}

int fr_state_begin(fr_state *s)
{
	return begin(s, "BEGIN IMMEDIATE");
}

int fr_state_begin_read(fr_state *s)
{
	return begin(s, "BEGIN DEFERRED");
}

int fr_state_commit(fr_state *s)
{
	if (!s->in_tx)
		return 0;
	s->in_tx = 0;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

void fr_state_rollback(fr_state *s)
{
	if (!s->in_tx)
		return;
	s->in_tx = 0;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* A column's text (NULL for SQL NULL); *oom is set when a copy cannot be made. */
static char *col_text_oom(sqlite3_stmt *st, int i, int *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *c = t ? fr_strdup((const char *)t) : NULL;
	if (t && !c)
		*oom = 1;
	return c;
}

/* The same, with "" for SQL NULL. */
static char *col_text0_oom(sqlite3_stmt *st, int i, int *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *c = fr_strdup(t ? (const char *)t : "");
	if (!c)
		*oom = 1;
	return c;
}

#define col_text(st, i) col_text_oom(st, i, &oom)
#define col_text0(st, i) col_text0_oom(st, i, &oom)

int fr_state_get_version(fr_state *s, fr_buf *out)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='version'", -1, &st, NULL))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
		fr_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int exec_bind(fr_state *s, const char *sql, int n, const char **texts)
{
	sqlite3_stmt *st = NULL;
	int i, rc;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
		return -1;
	for (i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The first registry or version write of a connection forgets the no-op fingerprint. */
static void forget_fp(fr_state *s)
{
	if (s->fp_forgotten)
		return;
	if (sqlite3_exec(s->db, "DELETE FROM meta WHERE key IN ('noop_fp', 'quick_fp')", NULL, NULL,
	                 NULL) ==
	    SQLITE_OK)
		s->fp_forgotten = 1;
}

static uint64_t meta_u64(fr_state *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strtoull((const char *)sqlite3_column_text(st, 0), NULL, 16);
	sqlite3_finalize(st);
	return v;
}

static void set_meta_u64(fr_state *s, const char *sql, uint64_t fp)
{
	char hexv[24];
	const char *a[1] = { hexv };
	snprintf(hexv, sizeof hexv, "%016llx", (unsigned long long)fp);
	exec_bind(s, sql, 1, a);
	s->fp_forgotten = 0;
}

int fr_state_quick_read(fr_state *s, fr_buf *version, uint64_t *quick, int *running)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	*quick = 0;
	*running = 1;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT (SELECT value FROM meta WHERE key = 'version'),"
	                       " (SELECT value FROM meta WHERE key = 'quick_fp'),"
	                       " EXISTS(SELECT 1 FROM runs WHERE status = 'running')",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_text(st, 0))
			fr_buf_puts(version, (const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_text(st, 1))
			*quick = strtoull((const char *)sqlite3_column_text(st, 1), NULL, 16);
		*running = sqlite3_column_int(st, 2);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int64_t fr_state_data_version(fr_state *s)
{
	int64_t v = -1;
	if (!s->data_version &&
	    sqlite3_prepare_v3(s->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
	                       &s->data_version, NULL))
		return -1;
	if (sqlite3_step(s->data_version) == SQLITE_ROW)
		v = sqlite3_column_int64(s->data_version, 0);
	sqlite3_reset(s->data_version);
	return v;
}

int64_t fr_state_changes(fr_state *s)
{
	return (int64_t)sqlite3_total_changes64(s->db);
}

uint64_t fr_state_noop_fp(fr_state *s)
{
	return meta_u64(s, "SELECT value FROM meta WHERE key = 'noop_fp'");
}

void fr_state_set_noop_fp(fr_state *s, uint64_t fp)
{
	set_meta_u64(s, "INSERT OR REPLACE INTO meta VALUES('noop_fp', ?1)", fp);
}

uint64_t fr_state_quick_fp(fr_state *s)
{
	return meta_u64(s, "SELECT value FROM meta WHERE key = 'quick_fp'");
}

void fr_state_set_quick_fp(fr_state *s, uint64_t fp)
{
	set_meta_u64(s, "INSERT OR REPLACE INTO meta VALUES('quick_fp', ?1)", fp);
}

int fr_state_set_version(fr_state *s, const char *version)
{
	forget_fp(s);
	const char *a[1] = { version };
	return exec_bind(s, "INSERT OR REPLACE INTO meta VALUES('version', ?1)", 1, a);
}

int fr_state_get_meta(fr_state *s, const char *key, fr_buf *out)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
		fr_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int fr_state_set_meta(fr_state *s, const char *key, const char *value)
{
	const char *a[2] = { key, value };
	forget_fp(s);
	return exec_bind(s, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)", 2, a);
}

/* ---- registry ---- */

void fr_regs_free(fr_reg *r, size_t n)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < n; i++) {
		fr_free(r[i].id); /* the block holding id ... status */
		fr_free(r[i].undo);
		fr_free(r[i].message);
	}
	fr_free(r);
}

/*
 * Every registry row (by seq when with_text; in no set order without).
 * Each row's strings live in one allocation (row->id points at its start),
 * so that reading 1,000 rows on the no-op path costs 1,000 mallocs, not
 * 9,000. The undo and message texts are read only when with_text is set.
 */
int fr_state_registry_ex(fr_state *s, int with_text, fr_reg **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	fr_reg *r = NULL, *t;
	size_t cnt = 0, cap = 0;
	int rc, oom = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db,
	                       with_text ?
	                       "SELECT id, database, kind, from_version, to_version, checksum,"
	                       " status, applied_at_ms, duration_ms, run_id, seq, undo, message"
	                       " FROM registry ORDER BY seq" :
	                       "SELECT id, database, kind, from_version, to_version, checksum,"
	                       " status, applied_at_ms, duration_ms, run_id, seq"
	                       " FROM registry",
	                       -1, &st, NULL))
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t len[7], total = 0, k;
		char *block, *p;
		char **dst[7];
		if (fr_grow(&r, &cap, cnt + 1, sizeof *r))
			goto fail;
		t = &r[cnt];
		memset(t, 0, sizeof *t);
		dst[0] = &t->id, dst[1] = &t->database, dst[2] = &t->kind, dst[3] = &t->from;
		dst[4] = &t->to, dst[5] = &t->checksum, dst[6] = &t->status;
		for (k = 0; k < 7; k++) {
			sqlite3_column_text(st, (int)k);
			len[k] = (size_t)sqlite3_column_bytes(st, (int)k);
			total += len[k] + 1;
		}
		block = fr_malloc(total);
		if (!block)
			goto fail;
		for (k = 0, p = block; k < 7; k++) {
			const unsigned char *v = sqlite3_column_text(st, (int)k);
			if (len[k])
				memcpy(p, v, len[k]);
			p[len[k]] = '\0';
			*dst[k] = p;
			p += len[k] + 1;
		}
		t->applied_at_ms = sqlite3_column_int64(st, 7);
		t->duration_ms = sqlite3_column_int64(st, 8);
		t->run_id = sqlite3_column_int64(st, 9);
		t->seq = sqlite3_column_int64(st, 10);
		cnt++;
		if (with_text) {
			t->undo = col_text(st, 11);
			t->message = col_text(st, 12);
			if (oom)
				goto fail;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fr_regs_free(r, cnt);
		return -1;
	}
	*out = r;
	*n = cnt;
	return 0;
fail:
	sqlite3_finalize(st);
	fr_regs_free(r, cnt);
	return -1;
}

int fr_state_registry(fr_state *s, fr_reg **out, size_t *n)
{
	return fr_state_registry_ex(s, 1, out, n);
}

/*
 * Rows written by a run go in STATE_BATCH at a time, one INSERT of that many
 * VALUES, and the rest one by one: the same rows in the same order as an
 * INSERT each, for a third less of SQLite's time per row (a 1,000-step run
 * writes 2,000 rows here). Each statement is prepared once per connection.
 */
#define STATE_BATCH 32

/* The statement "HEAD (?,...),(?,...)" of rows rows of cols values, prepared into *st once. */
static sqlite3_stmt *batch_stmt(fr_state *s, sqlite3_stmt **st, const char *head, int cols,
                                size_t rows)
{
	fr_buf sql = FR_BUF_INIT;
	size_t i;
	int c;
	if (*st)
		return *st;
	fr_buf_puts(&sql, head);
	for (i = 0; i < rows; i++) {
		fr_buf_puts(&sql, i ? ",(" : " VALUES(");
		for (c = 0; c < cols; c++)
			fr_buf_puts(&sql, c ? ",?" : "?");
		fr_buf_putc(&sql, ')');
	}
	if (sql.oom || sqlite3_prepare_v3(s->db, sql.ptr, -1, SQLITE_PREPARE_PERSISTENT, st, NULL))
		*st = NULL;
	fr_buf_release(&sql);
	return *st;
}

/* Steps st once and makes it ready for the next rows. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v, int empty_is_null)
{
	if (v && (!empty_is_null || *v))
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

#define REG_COLS 13
#define REG_INSERT                                                                    \
	"INSERT OR REPLACE INTO registry(id, seq, database, kind, from_version, to_version," \
	" checksum, status, undo, message, applied_at_ms, duration_ms, run_id)"

/* r's values as parameters at+1 .. at+REG_COLS. */
static void reg_bind(sqlite3_stmt *st, int at, const fr_reg *r)
{
	sqlite3_bind_text(st, at + 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, at + 2, r->seq);
	sqlite3_bind_text(st, at + 3, r->database ? r->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, at + 4, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, at + 5, r->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, at + 6, r->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, at + 7, r->checksum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, at + 8, r->status, -1, SQLITE_STATIC);
	bind_text_or_null(st, at + 9, r->undo, 0);
	bind_text_or_null(st, at + 10, r->message, 0);
	sqlite3_bind_int64(st, at + 11, r->applied_at_ms);
	sqlite3_bind_int64(st, at + 12, r->duration_ms);
	sqlite3_bind_int64(st, at + 13, r->run_id);
}

int fr_state_reg_put_many(fr_state *s, const fr_reg *r, size_t n)
{
	sqlite3_stmt *st;
	size_t i, k;
	if (!n)
		return 0;
	forget_fp(s);
	for (i = 0; n - i >= STATE_BATCH; i += STATE_BATCH) {
		if (!(st = batch_stmt(s, &s->reg_put_batch, REG_INSERT, REG_COLS, STATE_BATCH)))
			return -1;
		for (k = 0; k < STATE_BATCH; k++)
			reg_bind(st, (int)k * REG_COLS, &r[i + k]);
		if (step_done(st))
			return -1;
	}
	for (; i < n; i++) {
		if (!(st = batch_stmt(s, &s->reg_put, REG_INSERT, REG_COLS, 1)))
			return -1;
		reg_bind(st, 0, &r[i]);
		if (step_done(st))
			return -1;
	}
	return 0;
}

int fr_state_reg_put(fr_state *s, const fr_reg *r)
{
	return fr_state_reg_put_many(s, r, 1);
}

int fr_state_reg_delete(fr_state *s, const char *id)
{
	forget_fp(s);
	const char *a[1] = { id };
	return exec_bind(s, "DELETE FROM registry WHERE id = ?1", 1, a);
}

int64_t fr_state_next_seq(fr_state *s)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 1;
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) + 1 FROM registry", -1, &st,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ---- runs ---- */

void fr_run_row_clear(fr_run_row *r)
{
	fr_free(r->kind);
	fr_free(r->from);
	fr_free(r->to);
	fr_free(r->status);
	fr_free(r->message);
	fr_free(r->backup_id);
	fr_free(r->host);
	memset(r, 0, sizeof *r);
}

void fr_run_rows_free(fr_run_row *r, size_t n)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < n; i++)
		fr_run_row_clear(&r[i]);
	fr_free(r);
}

int fr_state_run_begin(fr_state *s, const char *kind, const char *from, const char *to,
                       int64_t *out_id)
{
	sqlite3_stmt *st = NULL;
	char host[256] = "";
	int rc;
	gethostname(host, sizeof host - 1);
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO runs(kind, from_version, to_version, status,"
	                       " started_at_ms, pid, host) VALUES(?, ?, ?, 'running', ?, ?, ?)",
	                       -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, fr_now_ms());
	sqlite3_bind_int64(st, 5, (sqlite3_int64)getpid());
	sqlite3_bind_text(st, 6, host, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	*out_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int fr_state_run_end(fr_state *s, int64_t id, const char *status, const char *to,
                     const char *message)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(s->db,
	                       "UPDATE runs SET status = ?, finished_at_ms = ?, message = ?,"
	                       " to_version = coalesce(?, to_version) WHERE id = ?",
	                       -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, fr_now_ms());
	if (message && *message)
		sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
	if (to)
		sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int read_runs(fr_state *s, const char *where, int limit, fr_run_row **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	fr_run_row *r = NULL, *t;
	size_t cnt = 0, cap = 0;
	fr_buf sql = FR_BUF_INIT;
	int rc = -1, oom = 0;
	*out = NULL;
	*n = 0;
	fr_buf_printf(&sql,
	              "SELECT id, kind, from_version, to_version, status, message, backup_id,"
	              " started_at_ms, finished_at_ms, pid, host FROM runs %s ORDER BY id DESC",
	              where);
	if (limit > 0)
		fr_buf_printf(&sql, " LIMIT %d", limit);
	if (sql.oom || sqlite3_prepare_v2(s->db, sql.ptr, -1, &st, NULL))
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fr_grow(&r, &cap, cnt + 1, sizeof *r)) {
			rc = SQLITE_NOMEM;
			break;
		}
		t = &r[cnt++];
		memset(t, 0, sizeof *t);
		t->id = sqlite3_column_int64(st, 0);
		t->kind = col_text0(st, 1);
		t->from = col_text0(st, 2);
		t->to = col_text0(st, 3);
		t->status = col_text0(st, 4);
		t->message = col_text(st, 5);
		t->backup_id = col_text(st, 6);
		t->started_at_ms = sqlite3_column_int64(st, 7);
		t->finished_at_ms = sqlite3_column_int64(st, 8);
		t->pid = (long)sqlite3_column_int64(st, 9);
		t->host = col_text0(st, 10);
		if (oom) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		fr_run_rows_free(r, cnt);
		rc = -1;
		goto done;
	}
	*out = r;
	*n = cnt;
	rc = 0;
done:
	sqlite3_finalize(st);
	fr_buf_release(&sql);
	return rc;
}

int fr_state_runs(fr_state *s, int limit, fr_run_row **out, size_t *n)
{
	return read_runs(s, "", limit, out, n);
}

int fr_state_running(fr_state *s, fr_run_row *out, int *found)
{
	fr_run_row *r = NULL;
	size_t n = 0;
	*found = 0;
	memset(out, 0, sizeof *out);
	if (read_runs(s, "WHERE status = 'running'", 1, &r, &n))
		return -1;
	if (n) {
		*out = r[0];
		*found = 1;
		fr_free(r);
	}
	return 0;
}

#define RUN_STEP_COLS 6
#define RUN_STEP_INSERT "INSERT INTO run_steps(run_id, n, step_id, status, duration_ms, message)"

int fr_state_run_steps_add(fr_state *s, int64_t run_id, const fr_run_step_row *r, size_t n)
{
	sqlite3_stmt *st = NULL;
	int64_t last = -1;
	size_t i, k, rows;
	if (!n)
		return 0;
	/* They follow the run's rows already there: numbered from its last one. */
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(n), 0) FROM run_steps WHERE run_id = ?",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run_id);
		if (sqlite3_step(st) == SQLITE_ROW)
			last = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (last < 0)
		return -1;
	for (i = 0; i < n; i += rows) {
		rows = n - i >= STATE_BATCH ? STATE_BATCH : 1;
		if (!(st = batch_stmt(s, rows > 1 ? &s->run_step_batch : &s->run_step,
		                      RUN_STEP_INSERT, RUN_STEP_COLS, rows)))
			return -1;
		for (k = 0; k < rows; k++) {
			const fr_run_step_row *x = &r[i + k];
			int at = (int)k * RUN_STEP_COLS;
			sqlite3_bind_int64(st, at + 1, run_id);
			sqlite3_bind_int64(st, at + 2, last + (int64_t)(i + k) + 1);
			sqlite3_bind_text(st, at + 3, x->step_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, at + 4, x->status, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, at + 5, x->duration_ms);
			bind_text_or_null(st, at + 6, x->message, 1);
		}
		if (step_done(st))
			return -1;
	}
	return 0;
}

int fr_state_run_step(fr_state *s, int64_t run_id, const char *step_id, const char *status,
                      int64_t duration_ms, const char *message)
{
	fr_run_step_row r;
	r.step_id = (char *)step_id;
	r.status = (char *)status;
	r.message = (char *)message;
	r.duration_ms = duration_ms;
	return fr_state_run_steps_add(s, run_id, &r, 1);
}

void fr_run_step_rows_free(fr_run_step_row *r, size_t n)
{
	size_t i;
	if (!r)
		return;
	for (i = 0; i < n; i++) {
		fr_free(r[i].step_id);
		fr_free(r[i].status);
		fr_free(r[i].message);
	}
	fr_free(r);
}

int fr_state_run_steps(fr_state *s, int64_t run_id, fr_run_step_row **out, size_t *n)
{
	int oom = 0;
	sqlite3_stmt *st = NULL;
	fr_run_step_row *r = NULL, *t;
	size_t cnt = 0, cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT step_id, status, duration_ms, message FROM run_steps"
	                       " WHERE run_id = ? ORDER BY n",
	                       -1, &st, NULL))
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fr_grow(&r, &cap, cnt + 1, sizeof *r)) {
			rc = SQLITE_NOMEM;
			break;
		}
		t = &r[cnt++];
		t->step_id = col_text0(st, 0);
		t->status = col_text0(st, 1);
		t->duration_ms = sqlite3_column_int64(st, 2);
		t->message = col_text(st, 3);
		if (oom) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fr_run_step_rows_free(r, cnt);
		return -1;
	}
	*out = r;
	*n = cnt;
	return 0;
}

/* ---- checksum cache ---- */

static int cache_cmp(const void *a, const void *b)
{
	return strcmp(((const cache_entry *)a)->path, ((const cache_entry *)b)->path);
}

/*
 * The checksum cache is one blob (as git keeps its index in one file): a
 * no-op start reads one row and walks it, instead of stepping through a
 * row per file. Layout, native byte order (it is a cache, rebuilt when it
 * does not parse): "FRC1", u32 count, then per entry u32 path length, the
 * path and a NUL, i64 size, i64 mtime_ns, i64 ino, the 71-byte checksum;
 * entries sorted by path.
 */
#define CACHE_MAGIC "FRC1"
#define CACHE_FIXED (3 * 8 + FR_CHECKSUM_LEN)

static int cache_reserve(fr_state *s, size_t n)
{
	return fr_grow(&s->cache, &s->capcache, n, sizeof *s->cache);
}

static int cache_load(fr_state *s)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *p, *end;
	uint32_t count, k;
	int bytes;
	if (s->cache_loaded)
		return 0;
	s->cache_loaded = 1;
	s->cache_sorted = 1;
	if (sqlite3_prepare_v2(s->db, "SELECT data FROM checksum_cache WHERE id = 1", -1, &st,
	                       NULL))
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW || (bytes = sqlite3_column_bytes(st, 0)) < 8)
		goto done;
	s->cache_blob = fr_malloc((size_t)bytes);
	if (!s->cache_blob)
		goto done;
	memcpy(s->cache_blob, sqlite3_column_blob(st, 0), (size_t)bytes);
	p = s->cache_blob;
	end = p + bytes;
	if (memcmp(p, CACHE_MAGIC, 4))
		goto done;
	memcpy(&count, p + 4, 4);
	p += 8;
	if (cache_reserve(s, count))
		goto done;
	for (k = 0; k < count; k++) {
		cache_entry *e = &s->cache[s->ncache];
		uint32_t len;
		if (end - p < 4)
			break;
		memcpy(&len, p, 4);
		p += 4;
		if ((size_t)(end - p) < (size_t)len + 1 + CACHE_FIXED || p[len] != '\0')
			break;
		e->path = (char *)p;
		p += len + 1;
		memcpy(&e->size, p, 8);
		memcpy(&e->mtime_ns, p + 8, 8);
		memcpy(&e->ino, p + 16, 8);
		memcpy(e->checksum, p + 24, FR_CHECKSUM_LEN);
		e->checksum[FR_CHECKSUM_LEN] = '\0';
		p += CACHE_FIXED;
		e->dirty = 0;
		e->owned = 0;
		e->seen = 0;
		s->ncache++;
	}
done:
	sqlite3_finalize(st);
	return 0;
}

/*
 * Entries are found through a hash table of their paths, not by bisection:
 * a run that checksums 1,000 files the cache does not hold appends 1,000
 * entries, and a sorted array would be sorted again before every lookup
 * after an append (1,000 sorts: 93% of a 1,000-step no-op that re-reads
 * the registry). The array is sorted once, when it is saved.
 */
static size_t cache_slot(const fr_state *s, const char *path)
{
	return (size_t)fr_mix64(14695981039346656037ULL, path, strlen(path)) & (s->nslots - 1);
}

static void cache_slot_put(fr_state *s, size_t i)
{
	size_t k = cache_slot(s, s->cache[i].path);
	while (s->cache_slots[k])
		k = (k + 1) & (s->nslots - 1);
	s->cache_slots[k] = (uint32_t)i + 1;
}

/* Builds the table for n entries (and those to come): -1 when out of memory. */
static int cache_index(fr_state *s, size_t n)
{
	size_t want = 64, i;
	uint32_t *slots;
	while (want <= 2 * n)
		want *= 2;
	if (!(slots = fr_calloc(want, sizeof *slots)))
		return -1;
	fr_free(s->cache_slots);
	s->cache_slots = slots;
	s->nslots = want;
	for (i = 0; i < s->ncache; i++)
		cache_slot_put(s, i);
	return 0;
}

static cache_entry *cache_find(fr_state *s, const char *path)
{
	size_t k;
	if (!s->ncache)
		return NULL;
	if (!s->nslots && cache_index(s, s->ncache))
		return NULL;
	for (k = cache_slot(s, path); s->cache_slots[k]; k = (k + 1) & (s->nslots - 1)) {
		cache_entry *e = &s->cache[s->cache_slots[k] - 1];
		if (!strcmp(e->path, path))
			return e;
	}
	return NULL;
}

static int cache_store(fr_state *s, const fr_step *st)
{
	cache_entry *e = cache_find(s, st->path);
	if (!e) {
		if (cache_reserve(s, s->ncache + 1))
			return -1;
		if (s->nslots && 2 * (s->ncache + 1) >= s->nslots &&
		    cache_index(s, 2 * (s->ncache + 1)))
			s->nslots = 0;
		e = &s->cache[s->ncache];
		e->path = fr_strdup(st->path);
		if (!e->path)
			return -1;
		e->owned = 1;
		s->ncache++;
		if (s->nslots)
			cache_slot_put(s, s->ncache - 1);
		s->cache_sorted = 0;
	}
	e->size = st->size;
	e->mtime_ns = st->mtime_ns;
	e->ino = st->ino;
	memcpy(e->checksum, st->checksum, FR_CHECKSUM_LEN + 1);
	e->dirty = 1;
	e->seen = 1;
	return 0;
}

/*
 * A file modified in the same clock tick as our stat could change again
 * without changing its mtime (git's "racy" entries); such entries are not
 * trusted. We only cache files whose mtime is at least 2 s in the past.
 */
static int racy(const fr_step *st)
{
	int64_t now_ns = fr_now_ms() * 1000000LL;
	return st->mtime_ns > now_ns - 2000000000LL;
}

int fr_state_checksum(fr_state *s, fr_step *st)
{
	cache_entry *e;
	if (st->checksum[0])
		return 0;
	if (cache_load(s) == 0 && (e = cache_find(s, st->path)) && e->size == st->size &&
	    e->mtime_ns == st->mtime_ns && e->ino == st->ino) {
		memcpy(st->checksum, e->checksum, FR_CHECKSUM_LEN + 1);
		e->seen = 1;
		return 0;
	}
	if (fr_checksum_file(st->path, st->checksum))
		return -1;
	if (!racy(st))
		cache_store(s, st);
	return 0;
}

void fr_state_cache_note(fr_state *s, const fr_step *st)
{
	cache_entry *e;
	if (!st->checksum[0] || cache_load(s) || racy(st))
		return;
	e = cache_find(s, st->path);
	if (e && e->size == st->size && e->mtime_ns == st->mtime_ns && e->ino == st->ino &&
	    !strcmp(e->checksum, st->checksum)) {
		e->seen = 1;
		return;
	}
	cache_store(s, st);
}

int fr_state_cache_save(fr_state *s)
{
	sqlite3_stmt *st = NULL;
	fr_buf blob = FR_BUF_INIT;
	size_t i;
	uint32_t count = 0;
	int any = 0, rc = -1;
	for (i = 0; i < s->ncache; i++)
		any |= s->cache[i].dirty;
	if (!any)
		return 0;
	if (!s->cache_sorted) {
		qsort(s->cache, s->ncache, sizeof *s->cache, cache_cmp);
		s->cache_sorted = 1;
		s->nslots = 0; /* the indices moved: built again at the next lookup */
	}
	fr_buf_add(&blob, CACHE_MAGIC, 4);
	fr_buf_add(&blob, &count, 4);
	for (i = 0; i < s->ncache; i++) {
		const cache_entry *e = &s->cache[i];
		uint32_t len = (uint32_t)strlen(e->path);
		/*
		 * Only files that still exist are worth remembering: asked of
		 * those the catalog did not list since the last save (a run of
		 * 1,000 new steps stats none of them a third time).
		 */
		if (!e->seen && !fr_exists(e->path))
			continue;
		fr_buf_add(&blob, &len, 4);
		fr_buf_add(&blob, e->path, len + 1);
		fr_buf_add(&blob, &e->size, 8);
		fr_buf_add(&blob, &e->mtime_ns, 8);
		fr_buf_add(&blob, &e->ino, 8);
		fr_buf_add(&blob, e->checksum, FR_CHECKSUM_LEN);
		count++;
	}
	if (blob.oom)
		goto done;
	memcpy(blob.ptr + 4, &count, 4);
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO checksum_cache VALUES(1, ?)", -1,
	                       &st, NULL))
		goto done;
	sqlite3_bind_blob(st, 1, blob.ptr, (int)blob.len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto done;
	for (i = 0; i < s->ncache; i++)
		s->cache[i].dirty = s->cache[i].seen = 0;
	rc = 0;
done:
	sqlite3_finalize(st);
	fr_buf_release(&blob);
	return rc;
}

/* ---- registry lookups by id ---- */

static int reg_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(fr_reg *const *)a)->id, (*(fr_reg *const *)b)->id);
}

int fr_reg_applied(const char *status)
{
	return !strcmp(status, "applied") || !strcmp(status, "skipped") ||
	       !strcmp(status, "adopted");
}

fr_reg **fr_reg_index(fr_reg *regs, size_t n)
{
	fr_reg **idx = fr_malloc((n ? n : 1) * sizeof *idx);
	size_t i;
	if (!idx)
		return NULL;
	for (i = 0; i < n; i++)
		idx[i] = &regs[i];
	qsort(idx, n, sizeof *idx, reg_ptr_cmp);
	return idx;
}

const fr_reg *fr_reg_lookup(fr_reg **idx, size_t n, const char *id)
{
	fr_reg key, *kp = &key, **hit;
	if (!idx || !n)
		return NULL;
	key.id = (char *)id;
	hit = bsearch(&kp, idx, n, sizeof *idx, reg_ptr_cmp);
	return hit ? *hit : NULL;
}

/* ---- backups (lib/backup/) ---- */

#define BACKUPS_TABLE \
	"CREATE TABLE IF NOT EXISTS backups(id TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL," \
	" version TEXT, type TEXT, size INTEGER, created_at_ms INTEGER," \
	" verified INTEGER NOT NULL DEFAULT 0)"

void fr_backup_rows_free(fr_backup_row *r, size_t n)
{
	size_t i;
	for (i = 0; r && i < n; i++) {
		fr_free(r[i].id);
		fr_free(r[i].path);
		fr_free(r[i].version);
		fr_free(r[i].type);
	}
	fr_free(r);
}

/* Runs sql on the table (made when missing), with ?1 id and ?3 n. */
static int backups_exec(fr_state *s, const char *sql, const char *id, int64_t n)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;
	if (sqlite3_exec(s->db, BACKUPS_TABLE, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, n);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int fr_state_backups(fr_state *s, fr_backup_row **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	fr_backup_row *r = NULL, *t;
	size_t cnt = 0, cap = 0;
	int rc = SQLITE_ERROR, oom = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_exec(s->db, BACKUPS_TABLE, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT id, path, version, type, size, created_at_ms, verified"
	                              " FROM backups", -1, &st, NULL) != SQLITE_OK)
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fr_grow(&r, &cap, cnt + 1, sizeof *r)) {
			rc = SQLITE_NOMEM;
			break;
		}
		t = &r[cnt++];
		t->id = col_text0(st, 0);
		t->path = col_text(st, 1);
		t->version = col_text(st, 2);
		t->type = col_text(st, 3);
		t->size = sqlite3_column_int64(st, 4);
		t->created_at_ms = sqlite3_column_int64(st, 5);
		t->verified = sqlite3_column_int(st, 6);
		if (oom) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
done:
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fr_backup_rows_free(r, cnt);
		return -1;
	}
	*out = r;
	*n = cnt;
	return 0;
}

int fr_state_backup_put(fr_state *s, const fr_backup_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;
	if (sqlite3_exec(s->db, BACKUPS_TABLE, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO backups(id, path, version, type, size,"
	                              " created_at_ms, verified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->version, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->size);
		sqlite3_bind_int64(st, 6, r->created_at_ms);
		sqlite3_bind_int(st, 7, r->verified);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int fr_state_backup_set_verified(fr_state *s, const char *id, int verified)
{
	return backups_exec(s, "UPDATE backups SET verified = ?3 WHERE id = ?1", id, verified);
}

int fr_state_backup_delete(fr_state *s, const char *id)
{
	return backups_exec(s, "DELETE FROM backups WHERE id = ?1", id, 0);
}

/* state.db is a SQLite file like any other: its driver copies it, online. */
int fr_state_copy(fr_state *s, const char *dest, fr_buf *err)
{
	fr_dbconf c;
	memset(&c, 0, sizeof c);
	c.name = (char *)"state.db";
	c.driver = (char *)"sqlite";
	c.path = s->path;
	return fr_db_copy(&c, dest, err);
}

int fr_state_run_set_backup(fr_state *s, int64_t id, const char *backup_id)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(s->db, "UPDATE runs SET backup_id = ? WHERE id = ?", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, backup_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the crash journal ---- */

#define JOURNAL_TABLE \
	"CREATE TABLE IF NOT EXISTS journal(id INTEGER PRIMARY KEY, run_id INTEGER, what TEXT," \
	" kind TEXT, db TEXT, undo TEXT, pgid INTEGER, boot TEXT)"

void fr_journal_rows_free(fr_journal_row *r, size_t n)
{
	size_t i;
	for (i = 0; r && i < n; i++) {
		fr_free(r[i].what);
		fr_free(r[i].kind);
		fr_free(r[i].db);
		fr_free(r[i].undo);
		fr_free(r[i].boot);
	}
	fr_free(r);
}

/* Runs sql on the table (made when missing): ?1..?4 texts, ?5 and ?6 integers. */
static int journal_exec(fr_state *s, const char *sql, const char *const t[4], int64_t a,
                        int64_t b)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR, i;
	if (sqlite3_exec(s->db, JOURNAL_TABLE, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		for (i = 0; t && i < 4; i++)
			sqlite3_bind_text(st, i + 1, t[i] ? t[i] : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, a);
		sqlite3_bind_int64(st, 6, b);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int fr_state_journal_add(fr_state *s, int64_t run_id, const char *what, const char *kind,
                         const char *db, const char *undo, int64_t *id)
{
	const char *t[4] = { what, kind, db, undo };
	if (journal_exec(s, "INSERT INTO journal(run_id, what, kind, db, undo, pgid)"
	                    " VALUES(?5, ?1, ?2, ?3, ?4, 0)", t, run_id, 0))
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int fr_state_journal_undo(fr_state *s, int64_t id, const char *undo)
{
	const char *t[4] = { undo, NULL, NULL, NULL };
	return journal_exec(s, "UPDATE journal SET undo = ?1 WHERE id = ?5", t, id, 0);
}

int fr_state_journal_pgid(fr_state *s, int64_t id, int64_t pgid)
{
	char boot[64];
	const char *t[4] = { boot, NULL, NULL, NULL };
	fr_boot_id(boot);
	return journal_exec(s, "UPDATE journal SET pgid = ?6, boot = ?1 WHERE id = ?5", t, id, pgid);
}

int fr_state_journal_drop(fr_state *s, int64_t id)
{
	return journal_exec(s, "DELETE FROM journal WHERE id = ?5", NULL, id, 0);
}

int fr_state_journal(fr_state *s, fr_journal_row **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	fr_journal_row *v = NULL;
	size_t cap = 0;
	int rc = -1, oom = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_exec(s->db, JOURNAL_TABLE, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT id, run_id, what, kind, db, undo, pgid, boot"
	                              " FROM journal"
	                              " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fr_journal_row *r;
		if (*n == cap && fr_grow(&v, &cap, *n + 1, sizeof *v)) {
			oom = 1;
			break;
		}
		r = &v[(*n)++];
		memset(r, 0, sizeof *r);
		r->id = sqlite3_column_int64(st, 0);
		r->run_id = sqlite3_column_int64(st, 1);
		r->what = col_text0_oom(st, 2, &oom);
		r->kind = col_text0_oom(st, 3, &oom);
		r->db = col_text0_oom(st, 4, &oom);
		r->undo = col_text0_oom(st, 5, &oom);
		r->pgid = sqlite3_column_int64(st, 6);
		r->boot = col_text0_oom(st, 7, &oom);
	}
	rc = rc == SQLITE_DONE && !oom ? 0 : -1;
done:
	sqlite3_finalize(st);
	if (rc) {
		fr_journal_rows_free(v, *n);
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- a paused run (lib/pause.c) ---- */

/* One row at most: the run waiting at a safe point, the pid that walks it, since, who asked. */
#define PAUSE_TABLE \
	"CREATE TABLE IF NOT EXISTS pause(id INTEGER PRIMARY KEY CHECK (id = 1), run_id INTEGER," \
	" pid INTEGER, since_ms INTEGER, by TEXT)"

int fr_state_pause_set(fr_state *s, int64_t run_id, int64_t since_ms, const char *by)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;
	const char *sql = by ? "INSERT OR REPLACE INTO pause(id, run_id, pid, since_ms, by)"
	                       " VALUES (1, ?1, ?2, ?3, ?4)"
	                     : "DELETE FROM pause";
	if (sqlite3_exec(s->db, PAUSE_TABLE, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (by) {
			sqlite3_bind_int64(st, 1, run_id);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)getpid());
			sqlite3_bind_int64(st, 3, since_ms);
			sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
		}
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int fr_state_pause_get(fr_state *s, fr_pause_row *out)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, oom = 0;
	memset(out, 0, sizeof *out);
	/* A state.db that never saw a pause has no table: nothing is paused. */
	if (sqlite3_prepare_v2(s->db, "SELECT run_id, pid, since_ms, by FROM pause WHERE id = 1",
	                       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->run_id = sqlite3_column_int64(st, 0);
		out->pid = (long)sqlite3_column_int64(st, 1);
		out->since_ms = sqlite3_column_int64(st, 2);
		out->by = col_text0(st, 3);
		rc = out->by && !oom ? 1 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}
