/*
 * db.h - the database driver interface: one file per driver behind one
 * struct of function pointers (as SQLite's sqlite3_vfs, curl's Curl_ssl).
 * The run engine and the step kinds see only this header.
 *
 * Each database keeps the record of the steps applied to it in a table of
 * its own, `ferry_steps` (PostgreSQL: schema `ferry`), written by
 * record_put() inside the same transaction as the step (SPEC section 2).
 */
#ifndef FR_DB_H
#define FR_DB_H

#include "../config.h"
#include "../util/buf.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fr_db fr_db;

/* One row of ferry_steps. Strings are owned by the record array. */
typedef struct {
	char *id;          /* step id "<to>/<file>" */
	char *checksum;    /* "sha256:..." */
	char *kind;        /* "sql", ... */
	char *from;        /* the transition's from (version or pattern) */
	char *to;          /* the transition's to */
	char *status;      /* "applied" or "skipped" */
	char *undo;        /* the down text (or recorded undo); NULL when irreversible */
	int64_t applied_at_ms;
	int64_t duration_ms;
	int64_t run_id;
	int64_t seq;       /* order of application, increasing; set by record_put when 0 */
} fr_record;

void fr_records_free(fr_record *r, size_t n);

typedef struct fr_db_driver {
	const char *name; /* "sqlite", "postgres" */

	/*
	 * Returns 0, or -1 with a message; FERRY_EINVALID when the fault is
	 * the user's to fix in ferry.yaml (a connection string that does not
	 * parse, credentials the server refused), so the tool exits 2.
	 */
	int (*open)(fr_db **out, const fr_dbconf *conf, fr_buf *err);
	void (*close)(fr_db *db);

	int (*begin)(fr_db *db, fr_buf *err);
	int (*commit)(fr_db *db, fr_buf *err);
	int (*rollback)(fr_db *db, fr_buf *err);

	/*
	 * Runs a script of one or more statements. On failure appends the
	 * driver's message to err and sets *err_offset (when not NULL) to the
	 * byte offset in sql where the failing statement starts, or where in it
	 * the error is when the driver knows (PostgreSQL's error position).
	 * Outside a transaction each statement commits on its own, and a
	 * failure names the statement (number and first line).
	 */
	int (*exec)(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err);

	/*
	 * Runs a query; *out is 1 when the first column of the first row is
	 * true (non-zero number, 't', 'true', non-empty non-"0" text), 0 when
	 * false or NULL, -1 when there is no row.
	 */
	int (*query_bool)(fr_db *db, const char *sql, int *out, fr_buf *err);

	/* All records in order of application; none (and no error) without the table. */
	int (*record_read)(fr_db *db, fr_record **out, size_t *n, fr_buf *err);
	/* Inserts or replaces a record, creating the table when missing. */
	int (*record_put)(fr_db *db, const fr_record *r, fr_buf *err);
	int (*record_delete)(fr_db *db, const char *id, fr_buf *err);

	/* Integrity checks; appends one line per finding to findings. */
	int (*integrity)(fr_db *db, fr_buf *findings, fr_buf *err);

	/*
	 * The driver's own code of the last error: SQLite's extended result
	 * code; PostgreSQL's SQLSTATE packed as the server packs it (six bits
	 * a character, the first lowest: MAKE_SQLSTATE), and spelled out in
	 * the message as "(SQLSTATE 42601)".
	 */
	int (*errcode)(fr_db *db);

	/*
	 * A session-level lock held for the whole run, so that runners on
	 * other machines sharing the database wait for each other (PostgreSQL
	 * advisory lock). Waits up to wait_seconds; returns 0, FERRY_ELOCKED
	 * naming the holder, or FERRY_EINTERRUPTED when *stop became non-zero.
	 * NULL when the database needs none (SQLite: the flock is enough).
	 */
	int (*lock)(fr_db *db, int wait_seconds, volatile sig_atomic_t *stop, fr_buf *err);
	void (*unlock)(fr_db *db);
	/*
	 * Appends who holds that lock (one line, e.g. "session pid 4242
	 * (application 'ferry 1234@web1', ...)"); appends nothing when nobody
	 * else does. NULL with lock.
	 */
	int (*lock_holder)(fr_db *db, fr_buf *out, fr_buf *err);

	/*
	 * How long a statement may wait for a lock before it fails (0: no
	 * limit), so DDL queued behind a long reader does not queue the
	 * application behind it. Inside a transaction it lasts until the
	 * transaction ends (PostgreSQL: SET LOCAL lock_timeout); outside, until
	 * set again. A statement that times out fails naming the session that
	 * blocked it. NULL when the database has no such setting (SQLite).
	 */
	int (*set_lock_timeout)(fr_db *db, int ms, fr_buf *err);

	/*
	 * A consistent copy of the whole database in a file, taken while the
	 * application may still be writing (SQLite: the online backup API;
	 * PostgreSQL: pg_dump -Fc), and its way back: restore() replaces the
	 * database's content with the copy. snapshot_ext names the file kind
	 * (".sqlite", ".dump"). NULL when the driver cannot. snapshot() with
	 * path NULL takes nothing and only tells whether it could (a missing
	 * pg_dump is an error naming the package to install): the pre-flight.
	 */
	int (*snapshot)(fr_db *db, const char *path, fr_buf *err);
	int (*restore)(fr_db *db, const char *path, fr_buf *err);
	const char *snapshot_ext;

	/*
	 * The installation's version kept in the database itself (PostgreSQL:
	 * shared by every machine; SPEC section 2). get puts "" when none is
	 * kept. NULL for drivers that keep none.
	 */
	int (*version_get)(fr_db *db, fr_buf *out, fr_buf *err);

	/*
	 * For up --rehearse: a copy of conf's database as a new database
	 * `name` on the same server, and its removal. *out_url connects to the
	 * copy (it may hold the password: never print it). NULL when the
	 * driver's databases are files (the rehearsal copies those itself).
	 */
	int (*clone)(const fr_dbconf *conf, const char *name, char **out_url, fr_buf *err);
	int (*drop_clone)(const fr_dbconf *conf, const char *name, fr_buf *err);
	int (*version_set)(fr_db *db, const char *version, fr_buf *err);

	/* ---- backups and copies (lib/backup/) ---- */
	/*
	 * The files the database is made of on this machine, absolute, the
	 * database's own file first (SQLite: the file and its -wal, -shm and
	 * -journal, each named whether it exists at the moment or not, as they
	 * come and go with the application's transactions): a backup leaves
	 * them out of its files, a restore never writes them. *out is freed
	 * with fr_strv_free(). NULL for a server (no files here).
	 */
	int (*files)(const fr_dbconf *c, char ***out, size_t *n, fr_buf *err);
	/*
	 * A consistent copy of a file database into the new file dest (mode
	 * 0600), taken while the application may be writing (SQLite: the
	 * online backup API, as snapshot()). NULL for servers: they clone().
	 */
	int (*copy)(const fr_dbconf *c, const char *dest, fr_buf *err);
} fr_db_driver;

/* Every driver embeds this as its first member. */
struct fr_db {
	const fr_db_driver *drv;
	const fr_dbconf *conf; /* borrowed from the config */
	int in_tx;             /* a transaction is open */
};

/* The drivers, one file each (postgres.c only when the build found libpq). */
extern const fr_db_driver fr_db_sqlite;
#ifdef FR_HAVE_PQ
extern const fr_db_driver fr_db_postgres;
#endif

/* The driver called name, from the static table; NULL when not compiled in. */
const fr_db_driver *fr_db_driver_find(const char *name);

/* Opens conf's database with its driver. */
int fr_db_open(fr_db **out, const fr_dbconf *conf, fr_buf *err);
void fr_db_close(fr_db *db);

/*
 * conf's database files (see files above): 0 with none for a server or a
 * driver not built in; -1 with a message on err when memory runs out.
 */
int fr_db_files(const fr_dbconf *c, char ***out, size_t *n, fr_buf *err);
/* 1 when conf's driver can copy() its database into a file. */
int fr_db_can_copy(const fr_dbconf *c);
/* copy() through conf's driver; -1 with a message when it cannot copy. */
int fr_db_copy(const fr_dbconf *c, const char *dest, fr_buf *err);

#endif
