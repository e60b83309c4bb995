/*
 * db.h - the database driver interface: one file per driver behind one
 * struct of function pointers (as SQLite's sqlite3_vfs, curl's Curl_ssl).
 * The run engine and the step kinds see only this header.
 *
 * Everything that depends on a database's kind lives in its driver: the
 * URL forms it reads, where the database is, what opening needs, whether a
 * run could write it, what a script is told. The engine asks through the
 * fr_db_* wrappers below and the capability bits, never from a field of
 * the conf (a path that is NULL does not mean "a server").
 *
 * Each database keeps the record of the steps applied to it in a table of
 * its own, `ferry_steps` (PostgreSQL: schema `ferry`), written by
 * record_put() inside the same transaction as the step (SPEC section 2).
 */
#ifndef FR_DB_H
#define FR_DB_H

#include "../util/buf.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct fr_db_driver;

/*
 * One database of ferry.yaml. name, url and line are the config's; the
 * rest is filled by the driver's url_parse() (through fr_db_url_parse)
 * and read only in lib/db/.
 */
typedef struct fr_dbconf {
	char *name;   /* the key under databases: */
	char *url;    /* as written, after ${ENV} expansion */
	char *driver; /* the driver's name, set by fr_db_url_parse */
	char *path;   /* driver-private: a file database's absolute path */
	int line;
	char *where;  /* driver-private: what describe() tells, when not path */
} fr_dbconf;

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

/*
 * A value of a query's parameter or result column (query() below). Text is
 * NUL-terminated; p and len are valid only during the row callback.
 */
typedef enum { FR_VAL_NULL, FR_VAL_INT, FR_VAL_REAL, FR_VAL_TEXT, FR_VAL_BLOB } fr_val_type;
typedef struct {
	fr_val_type type;
	int64_t i;          /* FR_VAL_INT (a boolean is 0 or 1) */
	double r;           /* FR_VAL_REAL */
	const char *p;      /* FR_VAL_TEXT, FR_VAL_BLOB */
	size_t len;
	/* Result columns only: */
	const char *name;   /* the column's name */
	const char *decl;   /* SQLite: the declared type, or NULL; PostgreSQL: NULL */
	unsigned type_oid;  /* PostgreSQL: the type's OID; SQLite: 0 */
} fr_val;

/* Called for each row of a query with its ncols values; non-zero stops the query with it. */
typedef int (*fr_db_row_fn)(void *arg, const fr_val *cols, size_t ncols);

/*
 * The application's tables, as export and import see them (lib/data/):
 * the columns a row is made of, with the type the schema declares, and
 * the tables its foreign keys point at. Owned by the array, freed with
 * fr_db_tables_free().
 */
typedef struct {
	char *name;    /* the column's name */
	char *type;    /* its declared type as the database spells it ("INTEGER",
	                * "timestamp with time zone", "numeric(20,5)"); "" when none */
	int notnull;   /* declared NOT NULL */
	int pk;        /* its place in the primary key, from 1; 0 when not in it */
} fr_db_column;

typedef struct {
	char *name;        /* as the application names it ("items"; PostgreSQL outside
	                    * schema public: "audit.items") */
	char *sql;         /* the same, quoted for SQL ("\"items\"", "\"audit\".\"items\"") */
	fr_db_column *cols; /* in the table's order; generated columns left out */
	size_t ncols;
	char **refs;       /* the names of the tables its foreign keys reference (not itself) */
	size_t nrefs;
} fr_db_table;

void fr_db_tables_free(fr_db_table *t, size_t n);

/*
 * What a driver can do, asked with fr_db_can(). Each bit comes with the
 * members it names: a driver sets the bit if and only if it provides them
 * (fr_db_open refuses a driver where the two disagree).
 */
#define FR_DB_CAP_SESSION_LOCK   (1u << 0) /* lock, unlock, lock_holder */
#define FR_DB_CAP_SHARED_VERSION (1u << 1) /* version_get, version_set: in the database */
#define FR_DB_CAP_LOCK_TIMEOUT   (1u << 2) /* set_lock_timeout */
#define FR_DB_CAP_SNAPSHOT       (1u << 3) /* snapshot, restore, snapshot_ext */
#define FR_DB_CAP_CLONE          (1u << 4) /* clone, drop_clone: a scratch copy on the server */
#define FR_DB_CAP_FILES          (1u << 5) /* the database is files on this machine */

/*
 * A driver. Members marked "must provide" are checked by fr_db_open();
 * an optional member may be NULL, and the fr_db_* wrapper says what NULL
 * means. Members that come with a capability are optional, and present
 * exactly when the capability is set.
 */
typedef struct fr_db_driver {
	/* Must provide: "sqlite", "postgres"; fr_dbconf.driver names it. */
	const char *name;

	/* Must provide (may be 0): the FR_DB_CAP_* bits. */
	unsigned caps;

	/*
	 * Must provide. 2 when url is in the driver's own scheme, 1 when a
	 * weaker sign says it is the driver's (SQLite: a .db, .sqlite or
	 * .sqlite3 name; PostgreSQL: a key=value string), 0 when it is not.
	 * fr_db_url_parse gives a url to the highest claim, the first driver
	 * of the table on a tie.
	 */
	int (*url_claims)(const char *url);

	/*
	 * Must provide. Fills c's driver-private members (path, where) from a
	 * url it claimed; a relative path is relative to root (NULL: kept as
	 * written). Returns 0, or -1 with one line in err (err->oom on out of
	 * memory), leaving c's private members NULL.
	 */
	int (*url_parse)(fr_dbconf *c, const char *url, const char *root, fr_buf *err);

	/* Optional: how the url looks, for "unknown database url" ("sqlite:PATH"). */
	const char *url_form;

	/*
	 * Optional: 1 when the database may hold a record (SQLite: the file
	 * exists), 0 when it cannot (nothing made yet). NULL: 1 (a server).
	 */
	int (*exists)(const fr_dbconf *c);

	/* Optional: what opening needs first (SQLite: the file's folder). 0 or -1. */
	int (*prepare)(const fr_dbconf *c, fr_buf *err);

	/*
	 * Optional: 0 when a run could write the database, FERRY_EINVALID
	 * with a message naming it when it could not (SQLite: the file, or
	 * the nearest folder above it, and the folder for the journal).
	 * NULL: 0 (a server says so itself when asked).
	 */
	int (*writable)(const fr_dbconf *c, fr_buf *err);

	/*
	 * Optional: what scripts get in FERRY_DB_<NAME> (SQLite: the file's
	 * path). NULL: the url. Lives as long as c.
	 */
	const char *(*script_value)(const fr_dbconf *c);

	/*
	 * Optional: a short location for messages, never holding a password
	 * (SQLite: the path; PostgreSQL: the url with its password as "***").
	 * NULL: the database's name. Lives as long as c.
	 */
	const char *(*describe)(const fr_dbconf *c);

	/*
	 * Returns 0, or -1 with a message; FERRY_EINVALID when the fault is
	 * the user's to fix in ferry.yaml (a connection string that does not
	 * parse, credentials the server refused), so the tool exits 2.
	 */
	int (*open)(fr_db **out, const fr_dbconf *conf, fr_buf *err); /* must provide */
	void (*close)(fr_db *db); /* must provide */

	/* Must provide, all three. */
	int (*begin)(fr_db *db, fr_buf *err);
	int (*commit)(fr_db *db, fr_buf *err);
	int (*rollback)(fr_db *db, fr_buf *err);

	/*
	 * Runs a script of one or more statements. On failure appends the
	 * driver's message to err and sets *err_offset (when not NULL) to the
	 * byte offset in sql where the failing statement starts, or where in it
	 * the error is when the driver knows (PostgreSQL's error position).
	 * Outside a transaction each statement commits on its own, and a
	 * failure names the statement (number and first line). Must provide.
	 */
	int (*exec)(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err);

	/*
	 * Runs a query; *out is 1 when the first column of the first row is
	 * true (non-zero number, 't', 'true', non-empty non-"0" text), 0 when
	 * false or NULL, -1 when there is no row. Must provide.
	 */
	int (*query_bool)(fr_db *db, const char *sql, int *out, fr_buf *err);

	/*
	 * Optional (NULL: the driver runs no queries; fr_db_query says so).
	 * Runs one statement with nparams parameters, written $1, $2, ... in
	 * sql for every driver, and calls row() for each result row. Integers
	 * (and PostgreSQL booleans) come as FR_VAL_INT, floating point as
	 * FR_VAL_REAL, bytes (SQLite blobs, PostgreSQL bytea) as FR_VAL_BLOB,
	 * everything else as text in the server's own form. Returns 0, the
	 * non-zero return of row(), or -1 with a message in err. Inside an
	 * open transaction it runs in it; outside, on its own.
	 */
	int (*query)(fr_db *db, const char *sql, const fr_val *params, size_t nparams,
	             fr_db_row_fn row, void *arg, fr_buf *err);

	/*
	 * Optional (`ferry check`): asks the database whether sql (one or more
	 * statements) parses, running none of it and changing nothing. 0: it
	 * parses, as far as the database can tell without running the
	 * statements before each (a name that an earlier statement would make
	 * is no error); 1: a syntax error, its message in err and *err_offset
	 * the byte offset in sql where it is (or where its statement starts);
	 * -1: the database could not be asked (err).
	 */
	int (*parse)(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err);

	/*
	 * Must provide, all three. All records in order of application; none
	 * (and no error) without the table.
	 */
	int (*record_read)(fr_db *db, fr_record **out, size_t *n, fr_buf *err);
	/* Inserts or replaces a record, creating the table when missing. */
	int (*record_put)(fr_db *db, const fr_record *r, fr_buf *err);
	int (*record_delete)(fr_db *db, const char *id, fr_buf *err);

	/* Must provide: integrity checks; appends one line per finding to findings. */
	int (*integrity)(fr_db *db, fr_buf *findings, fr_buf *err);

	/*
	 * The driver's own code of the last error: SQLite's extended result
	 * code; PostgreSQL's SQLSTATE packed as the server packs it (six bits
	 * a character, the first lowest: MAKE_SQLSTATE), and spelled out in
	 * the message as "(SQLSTATE 42601)". Must provide.
	 */
	int (*errcode)(fr_db *db);

	/*
	 * A lock held for the whole run, so that runners on other machines
	 * sharing the database wait for each other (PostgreSQL: a session
	 * advisory lock, or a lease behind a pooler; docs/locking.md). Waits
	 * up to wait_seconds; returns 0, FERRY_ELOCKED
	 * naming the holder, or FERRY_EINTERRUPTED when *stop became non-zero.
	 * With FR_DB_CAP_SESSION_LOCK; SQLite has none (the flock is enough).
	 */
	int (*lock)(fr_db *db, int wait_seconds, volatile sig_atomic_t *stop, fr_buf *err);
	void (*unlock)(fr_db *db);
	/*
	 * Appends who holds that lock (one line, e.g. "session pid 4242
	 * (application 'ferry 1234@web1', ...)"); appends nothing when nobody
	 * else does.
	 */
	int (*lock_holder)(fr_db *db, fr_buf *out, fr_buf *err);
	/*
	 * Optional, with FR_DB_CAP_SESSION_LOCK: which lock lock() takes on
	 * this connection, for check: *kind a static word ("session", "lease")
	 * and one line in detail saying what it is and why. NULL: not said.
	 */
	int (*lock_kind)(fr_db *db, const char **kind, fr_buf *detail, fr_buf *err);

	/*
	 * How long a statement may wait for a lock before it fails (0: no
	 * limit), so DDL queued behind a long reader does not queue the
	 * application behind it. Inside a transaction it lasts until the
	 * transaction ends (PostgreSQL: SET LOCAL lock_timeout); outside, until
	 * set again. A statement that times out fails naming the session that
	 * blocked it. With FR_DB_CAP_LOCK_TIMEOUT.
	 */
	int (*set_lock_timeout)(fr_db *db, int ms, fr_buf *err);

	/*
	 * A consistent copy of the whole database in a file, taken while the
	 * application may still be writing (SQLite: the online backup API;
	 * PostgreSQL: pg_dump -Fc), and its way back: restore() replaces the
	 * database's content with the copy. snapshot_ext names the file kind
	 * (".sqlite", ".dump"). With FR_DB_CAP_SNAPSHOT. snapshot() with
	 * path NULL takes nothing and only tells whether it could (a missing
	 * pg_dump is an error naming the package to install): the pre-flight.
	 */
	int (*snapshot)(fr_db *db, const char *path, fr_buf *err);
	int (*restore)(fr_db *db, const char *path, fr_buf *err);
	const char *snapshot_ext;

	/*
	 * The installation's version kept in the database itself (PostgreSQL:
	 * shared by every machine; SPEC section 2). get puts "" when none is
	 * kept. With FR_DB_CAP_SHARED_VERSION, as version_set below.
	 */
	int (*version_get)(fr_db *db, fr_buf *out, fr_buf *err);

	/*
	 * For up --rehearse: a copy of conf's database as a new database
	 * `name` on the same server, and its removal. *out_url connects to the
	 * copy (it may hold the password: never print it). With
	 * FR_DB_CAP_CLONE; a driver whose databases are files has none (the
	 * rehearsal copies those itself).
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

	/* ---- export and import (lib/data/) ---- */
	/*
	 * Optional (NULL: the driver's data can be neither exported nor
	 * imported; fr_db_tables says so). The application's tables, ferry's
	 * own left out (SQLite: ferry_steps and sqlite_*; PostgreSQL: schema
	 * ferry and the system's), by name, each with its columns and the
	 * tables its foreign keys reference. *out is freed with fr_db_tables_free.
	 */
	int (*tables)(fr_db *db, fr_db_table **out, size_t *n, fr_buf *err);
	/*
	 * Optional (NULL: begin). Opens the transaction an export reads in:
	 * one snapshot of every table, and values in the form the export
	 * writes (PostgreSQL: REPEATABLE READ READ ONLY, TimeZone UTC,
	 * DateStyle ISO, floats in their shortest exact form).
	 */
	int (*read_begin)(fr_db *db, fr_buf *err);
	/*
	 * Optional (NULL: query() of SELECT <every column> FROM <table>, which
	 * must then step through the rows). Calls row() for each row of t, the
	 * columns in t's order, in memory that does not grow with the table
	 * (PostgreSQL: a cursor fetched a thousand rows at a time). Inside
	 * read_begin's transaction.
	 */
	int (*scan)(fr_db *db, const fr_db_table *t, fr_db_row_fn row, void *arg, fr_buf *err);
	/*
	 * Optional (NULL: begin). Opens the transaction an import writes in,
	 * foreign keys checked at its commit where the database can defer them
	 * (SQLite: foreign_keys on, defer_foreign_keys; PostgreSQL: SET
	 * CONSTRAINTS ALL DEFERRED, which defers only the DEFERRABLE ones, and
	 * TimeZone UTC, so a timestamp without a zone is read as UTC).
	 */
	int (*write_begin)(fr_db *db, fr_buf *err);
	/*
	 * Optional: what an import's INSERT says between its column list and
	 * VALUES so that explicit ids are taken (PostgreSQL: "OVERRIDING
	 * SYSTEM VALUE", for GENERATED ALWAYS identities). NULL: nothing.
	 */
	const char *insert_overriding;
	/*
	 * Optional (NULL: values go as they are; the database casts them to
	 * the column's type or says why not). Rewrites a value read from an
	 * export, whose column was declared from_type where it was exported,
	 * into what this database keeps for column to (SQLite: a timestamp with
	 * a zone becomes UTC text without one). Text it makes goes in scratch,
	 * this value's own buffer, which v then points into. 0, or -1 with why
	 * in err.
	 */
	int (*convert)(const fr_db_column *to, const char *from_type, fr_val *v, fr_buf *scratch,
	               fr_buf *err);
	/*
	 * Optional (NULL: nothing to do). After t's rows are in, inside the
	 * import's transaction: what the database keeps beside them is brought
	 * in line (PostgreSQL: each sequence that gives t's ids is moved past
	 * the greatest imported one).
	 */
	int (*after_import)(fr_db *db, const fr_db_table *t, fr_buf *err);
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

/*
 * 0 when drv provides every member it must and its capabilities match the
 * members present; -1 with a message naming the first fault.
 */
int fr_db_driver_check(const fr_db_driver *drv, fr_buf *err);

/*
 * Reads url into c's driver and driver-private members, through the
 * driver that claims it most (see url_claims). Returns 0, or -1 with one
 * line in err ("unknown database url ..." when no driver claims it;
 * err->oom on out of memory), c's members left NULL.
 */
int fr_db_url_parse(fr_dbconf *c, const char *url, const char *root, fr_buf *err);

/* Appends how the drivers' urls look: "sqlite:PATH or postgres://...". */
void fr_db_url_forms(fr_buf *out);

/* Frees what c owns (name, url and the driver's members) and zeroes it; NULL is fine. */
void fr_dbconf_clear(fr_dbconf *c);

/*
 * What the engine asks of a database, through its driver; each handles a
 * missing optional member (see there) and a driver not compiled in (no
 * capabilities; exists 1, so that opening reports it).
 */
unsigned fr_db_caps(const fr_dbconf *c);
int fr_db_can(const fr_dbconf *c, unsigned cap); /* 1 when every bit of cap is set */
int fr_db_exists(const fr_dbconf *c);
int fr_db_prepare(const fr_dbconf *c, fr_buf *err);
int fr_db_writable(const fr_dbconf *c, fr_buf *err);
const char *fr_db_script_value(const fr_dbconf *c);
const char *fr_db_where(const fr_dbconf *c);

/* Opens conf's database with its driver; refuses a driver fr_db_driver_check faults. */
int fr_db_open(fr_db **out, const fr_dbconf *conf, fr_buf *err);
void fr_db_close(fr_db *db);

/* db->drv->query, or -1 with "database driver 'X' runs no queries" when it has none. */
int fr_db_query(fr_db *db, const char *sql, const fr_val *params, size_t nparams,
                fr_db_row_fn row, void *arg, fr_buf *err);

/* ---- export and import: wrappers of the members above ---- */

/* db->drv->tables, or -1 with "database driver 'X' cannot list its tables" when it has none. */
int fr_db_tables(fr_db *db, fr_db_table **out, size_t *n, fr_buf *err);
int fr_db_read_begin(fr_db *db, fr_buf *err);
int fr_db_write_begin(fr_db *db, fr_buf *err);
/* Every row of t through the driver's scan, or a query of its columns. */
int fr_db_scan(fr_db *db, const fr_db_table *t, fr_db_row_fn row, void *arg, fr_buf *err);
/*
 * "INSERT INTO <t> (<cols>) [overriding] VALUES ($1, ...), ..." into out:
 * the n columns given, rows rows of them ($1..$n the first row's).
 */
void fr_db_insert_sql(fr_db *db, const fr_db_table *t, const fr_db_column *const *cols,
                      size_t n, size_t rows, fr_buf *out);
int fr_db_convert(fr_db *db, const fr_db_column *to, const char *from_type, fr_val *v,
                  fr_buf *scratch, fr_buf *err);
int fr_db_after_import(fr_db *db, const fr_db_table *t, fr_buf *err);
/* Appends name as a quoted SQL identifier ("a""b"): the same in every driver's SQL. */
void fr_db_put_ident(fr_buf *b, const char *name);
/* Appends " ORDER BY <t's primary key>" (nothing without one): exports come out the same. */
void fr_db_put_order(fr_buf *b, const fr_db_table *t);

/* conf made again from url (its driver and location): a rehearsal's clone. */
int fr_db_repoint(fr_dbconf *c, const char *url, const char *root, fr_buf *err);
/* conf (FR_DB_CAP_FILES) pointed at another file: a rehearsal's copy. -1 otherwise. */
int fr_db_point_at_file(fr_dbconf *c, const char *path, fr_buf *err);
/* clone()/drop_clone() through conf's driver; -1 (clone) or 0 (drop) without CLONE. */
int fr_db_clone(const fr_dbconf *c, const char *name, char **out_url, fr_buf *err);
int fr_db_drop_clone(const fr_dbconf *c, const char *name, fr_buf *err);

/*
 * conf's database files (see files above): 0 with none for a server or a
 * driver not built in; -1 with a message on err when memory runs out.
 */
int fr_db_files(const fr_dbconf *c, char ***out, size_t *n, fr_buf *err);
/* 1 when conf's driver can copy() its database into a file. */
int fr_db_can_copy(const fr_dbconf *c);
/* copy() through conf's driver; -1 with a message when it cannot copy. */
int fr_db_copy(const fr_dbconf *c, const char *dest, fr_buf *err);

#ifdef FR_TESTING
/*
 * Tests only (the ferry-test library, never the installed one): puts drv
 * in the table's spare slot, after the built-in drivers; NULL empties it.
 */
void fr_db_test_register(const fr_db_driver *drv);
#endif

#endif
