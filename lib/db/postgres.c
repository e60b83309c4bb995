/*
 * postgres.c - the PostgreSQL driver (fr_db_postgres), through libpq.
 *
 * libpq is opened on first use (lib/util/dl.h), never linked: its
 * dependencies (GSSAPI, LDAP, OpenSSL) cost a start some 2 ms of
 * relocations, and a no-op start against SQLite calls none of it. The
 * function table is typed from libpq-fe.h, so a prototype mismatch is a
 * compile error.
 *
 * Promises:
 *  - any libpq URI or key=value string opens (connect_timeout 10 s unless
 *    the string or PGCONNECT_TIMEOUT says otherwise); application_name
 *    defaults to "ferry PID@HOST" so a lock holder can be told apart;
 *  - no message ever holds the password: the target is formatted from
 *    PQconninfoParse without it, and every text that comes from libpq or
 *    the server is scrubbed of the password as written and as decoded
 *    (and of PGPASSWORD); tools get it through their environment only;
 *  - exec() inside a transaction sends the whole script at once (one round
 *    trip) and tells the failing statement from the server's position or
 *    from the results that came back; outside one it cuts the script into
 *    statements itself (quotes, dollar quotes, nested comments, BEGIN ATOMIC
 *    bodies) and runs them one by one, so CREATE INDEX CONCURRENTLY runs
 *    alone, and a failure names the statement by number and first line;
 *  - a statement that waits on a lock has the sessions blocking it sampled
 *    on a second connection, so a lock timeout (SQLSTATE 55P03) names the
 *    blocking pid and query;
 *  - the record lives in ferry.ferry_steps, the shared version in
 *    ferry.version (one row); both are created on first write, never by a
 *    read; a record put outside a transaction is written at once (its
 *    insert prepared once per connection); those put in one are sent at
 *    its end, all in one INSERT, in COMMIT's round trip (an INSERT that
 *    fails stops the COMMIT: the transaction stays open, failed, for the
 *    caller's rollback);
 *  - a transaction begins with the lock_timeout last asked for (SET LOCAL
 *    in BEGIN's round trip, on a direct connection as behind a pooler), so
 *    a step of `transaction: step` costs BEGIN, its SQL and COMMIT, as
 *    psql's three statements do; a step that asks another sets its own;
 *  - the run lock is a session advisory lock on FR_PG_LOCK_KEY when
 *    connected to the server directly, so it goes away with the connection
 *    when the holder dies; behind a connection pooler (seen in the lock's
 *    own query) it is a lease in ferry.lock, renewed by a heartbeat thread
 *    and fenced in every transaction; each refuses while the other is held
 *    (docs/locking.md);
 *  - behind a pooler nothing is set for the session: the url's options and
 *    lock_timeout go with each transaction (SET LOCAL, in BEGIN's round
 *    trip) and with each statement outside one, and no statement is
 *    prepared;
 *  - a connection found broken outside a transaction is re-opened once
 *    (and the advisory lock taken again); inside one, the transaction is
 *    reported lost and rollback() succeeds, as the server rolled it back;
 *  - errcode() is the last SQLSTATE packed as PostgreSQL packs it
 *    (MAKE_SQLSTATE: six bits a character); messages end "(SQLSTATE xxxxx)";
 *  - snapshot()/restore() run pg_dump -Fc / pg_restore, found in PATH; a
 *    missing tool names the Debian package for the server's major version.
 *
 * Driver calls return 0 or -1 (lock: the FERRY_E* code). exec() and
 * query_bool() append the server's message alone (the step kind adds the
 * file and line); the other calls name the database.
 */
#include "db.h"
#include "ferry.h"
#include "../util/alloc.h"
#include "../util/dl.h"
#include "../util/fs.h"
#include "../util/proc.h"
#include "../util/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FR_LIBPQ_SONAME
#define FR_LIBPQ_SONAME "libpq.so.5"
#endif


/*
 * The advisory lock key: the bytes of "ferry" read as a big-endian number
 * (0x6665727279). pg_locks shows a bigint key as classid (high 32 bits),
 * objid (low 32 bits) and objsubid 1.
 */
#define FR_PG_LOCK_KEY "439788663417"
#define FR_PG_LOCK_CLASSID "102"
#define FR_PG_LOCK_OBJID "1701999225"

#define PG_CONNECT_TIMEOUT "10"
#define PG_LOCK_POLL_MS 50
#define PG_SAMPLE_FIRST_MS 250 /* first look at blockers (or half the lock timeout) */
#define PG_SAMPLE_EVERY_MS 500

/* OIDs of the built-in types query_bool reads as numbers or booleans. */
#define PG_BOOLOID 16
#define PG_INT8OID 20
#define PG_INT2OID 21
#define PG_INT4OID 23
#define PG_OIDOID 26
#define PG_FLOAT4OID 700
#define PG_FLOAT8OID 701
#define PG_NUMERICOID 1700
#define PG_BYTEAOID 17

#define PG_COLUMNS \
	"id, seq, checksum, kind, from_version, to_version, status, undo, " \
	"applied_at_ms, duration_ms, run_id"
#define PG_CREATE_SCHEMA "CREATE SCHEMA IF NOT EXISTS ferry"
#define PG_CREATE_STEPS \
	"CREATE TABLE IF NOT EXISTS ferry.ferry_steps (" \
	"id text PRIMARY KEY, seq bigint NOT NULL, checksum text, kind text, " \
	"from_version text, to_version text, status text, undo text, " \
	"applied_at_ms bigint, duration_ms bigint, run_id bigint)"
#define PG_CREATE_VERSION \
	"CREATE TABLE IF NOT EXISTS ferry.version (" \
	"id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1), version text NOT NULL, " \
	"updated_at timestamptz NOT NULL DEFAULT now())"
/*
 * The table holds one row (CHECK (id = 1)); without a WHERE a new backend's
 * planner opens no index, a third less time on the start-up path.
 */
#define PG_GET_VERSION "SELECT version FROM ferry.version"
#define PG_PUT_NAME "ferry_record_put"
#define PG_PUT \
	"INSERT INTO ferry.ferry_steps (" PG_COLUMNS ") VALUES ($1, " \
	"CASE WHEN $2::bigint > 0 THEN $2::bigint " \
	"ELSE (SELECT coalesce(max(seq), 0) + 1 FROM ferry.ferry_steps) END, " \
	"$3, $4, $5, $6, $7, $8, $9::bigint, $10::bigint, $11::bigint) " \
	"ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, checksum = EXCLUDED.checksum, " \
	"kind = EXCLUDED.kind, from_version = EXCLUDED.from_version, " \
	"to_version = EXCLUDED.to_version, status = EXCLUDED.status, undo = EXCLUDED.undo, " \
	"applied_at_ms = EXCLUDED.applied_at_ms, duration_ms = EXCLUDED.duration_ms, " \
	"run_id = EXCLUDED.run_id"
/* The records of a transaction, one INSERT: unnest() of one array literal a column (pg_put_sql). */
#define PG_PUT_MANY_HEAD "INSERT INTO ferry.ferry_steps (" PG_COLUMNS ") SELECT * FROM unnest("
#define PG_PUT_MANY_TAIL \
	") ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, checksum = EXCLUDED.checksum, " \
	"kind = EXCLUDED.kind, from_version = EXCLUDED.from_version, " \
	"to_version = EXCLUDED.to_version, status = EXCLUDED.status, undo = EXCLUDED.undo, " \
	"applied_at_ms = EXCLUDED.applied_at_ms, duration_ms = EXCLUDED.duration_ms, " \
	"run_id = EXCLUDED.run_id"
#define PG_HOLDER \
	"SELECT l.pid, coalesce(a.application_name, ''), " \
	"coalesce(host(a.client_addr), 'local'), " \
	"coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') " \
	"FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid " \
	"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = " FR_PG_LOCK_CLASSID \
	" AND l.objid = " FR_PG_LOCK_OBJID " AND l.objsubid = 1 AND l.database = " \
	"(SELECT oid FROM pg_database WHERE datname = current_database()) " \
	"AND l.pid <> pg_backend_pid() LIMIT 1"
/* When the wait was too short to be seen: who held relation locks when it ended. */
#define PG_HOLDERS \
	"SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), " \
	"coalesce(a.state, ''), " \
	"coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200), '') " \
	"FROM pg_stat_activity a WHERE a.pid <> $1::int AND a.xact_start IS NOT NULL " \
	"AND a.datname = current_database() AND a.pid <> pg_backend_pid() AND EXISTS (" \
	"SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'relation' AND " \
	"l.granted) ORDER BY a.xact_start LIMIT 3"
#define PG_BLOCKERS \
	"SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), " \
	"coalesce(a.state, ''), " \
	"coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200), '') " \
	"FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1::int)) ORDER BY a.pid"

/* ---- libpq, opened on first use ---- */

static struct {
	__typeof__(PQconnectdbParams) *PQconnectdbParams;
	__typeof__(PQstatus) *PQstatus;
	__typeof__(PQerrorMessage) *PQerrorMessage;
	__typeof__(PQfinish) *PQfinish;
	__typeof__(PQreset) *PQreset;
	__typeof__(PQexec) *PQexec;
	__typeof__(PQexecParams) *PQexecParams;
	__typeof__(PQprepare) *PQprepare;
	__typeof__(PQexecPrepared) *PQexecPrepared;
	__typeof__(PQresultStatus) *PQresultStatus;
	__typeof__(PQresultErrorField) *PQresultErrorField;
	__typeof__(PQclear) *PQclear;
	__typeof__(PQgetvalue) *PQgetvalue;
	__typeof__(PQgetisnull) *PQgetisnull;
	__typeof__(PQgetlength) *PQgetlength;
	__typeof__(PQntuples) *PQntuples;
	__typeof__(PQnfields) *PQnfields;
	__typeof__(PQftype) *PQftype;
	__typeof__(PQfname) *PQfname;
	__typeof__(PQunescapeBytea) *PQunescapeBytea;
	__typeof__(PQcmdStatus) *PQcmdStatus;
	__typeof__(PQconninfoParse) *PQconninfoParse;
	__typeof__(PQconninfoFree) *PQconninfoFree;
	__typeof__(PQfreemem) *PQfreemem;
	__typeof__(PQsendQuery) *PQsendQuery;
	__typeof__(PQgetResult) *PQgetResult;
	__typeof__(PQconsumeInput) *PQconsumeInput;
	__typeof__(PQisBusy) *PQisBusy;
	__typeof__(PQsocket) *PQsocket;
	__typeof__(PQbackendPID) *PQbackendPID;
	__typeof__(PQtransactionStatus) *PQtransactionStatus;
	__typeof__(PQserverVersion) *PQserverVersion;
	__typeof__(PQsetNoticeProcessor) *PQsetNoticeProcessor;
	__typeof__(PQputCopyEnd) *PQputCopyEnd;
	__typeof__(PQgetCopyData) *PQgetCopyData;
	__typeof__(PQconnectionNeedsPassword) *PQconnectionNeedsPassword;
	__typeof__(PQconnectionUsedPassword) *PQconnectionUsedPassword;
} P;

static const fr_dl_sym pq_syms[] = {
	FR_DL_SYM(P, PQconnectdbParams), FR_DL_SYM(P, PQstatus), FR_DL_SYM(P, PQerrorMessage),
	FR_DL_SYM(P, PQfinish), FR_DL_SYM(P, PQreset), FR_DL_SYM(P, PQexec),
	FR_DL_SYM(P, PQexecParams), FR_DL_SYM(P, PQprepare), FR_DL_SYM(P, PQexecPrepared),
	FR_DL_SYM(P, PQresultStatus), FR_DL_SYM(P, PQresultErrorField), FR_DL_SYM(P, PQclear),
	FR_DL_SYM(P, PQgetvalue), FR_DL_SYM(P, PQgetisnull), FR_DL_SYM(P, PQgetlength),
	FR_DL_SYM(P, PQntuples), FR_DL_SYM(P, PQnfields), FR_DL_SYM(P, PQfname), FR_DL_SYM(P, PQunescapeBytea), FR_DL_SYM(P, PQftype),
	FR_DL_SYM(P, PQcmdStatus), FR_DL_SYM(P, PQconninfoParse), FR_DL_SYM(P, PQconninfoFree),
	FR_DL_SYM(P, PQfreemem), FR_DL_SYM(P, PQsendQuery), FR_DL_SYM(P, PQgetResult),
	FR_DL_SYM(P, PQconsumeInput), FR_DL_SYM(P, PQisBusy), FR_DL_SYM(P, PQsocket),
	FR_DL_SYM(P, PQbackendPID), FR_DL_SYM(P, PQtransactionStatus),
	FR_DL_SYM(P, PQserverVersion), FR_DL_SYM(P, PQsetNoticeProcessor),
	FR_DL_SYM(P, PQputCopyEnd), FR_DL_SYM(P, PQgetCopyData),
	FR_DL_SYM(P, PQconnectionNeedsPassword), FR_DL_SYM(P, PQconnectionUsedPassword),
	{ NULL, NULL }
};

static fr_dl_lib pq_lib = FR_DL_LIB(FR_LIBPQ_SONAME, "libpq.so", pq_syms);

/* ---- the connection ---- */

#define PG_NSECRETS 3

typedef struct {
	fr_db base;             /* first, so an fr_db * is a pg_db * */
	PGconn *c;
	PGconn *side;           /* for blocker queries; opened on demand */
	char *target;           /* the connection string without the password, for messages */
	char *tool_conninfo;    /* the same, quoted for pg_dump/pg_restore */
	char *password;         /* from the url, for the tools' environment; NULL when none */
	char *secrets[PG_NSECRETS]; /* texts scrubbed from every message */
	char appname[64];
	char sqlstate[6];       /* of the last failure; "" when none */
	int have_table;         /* ferry.ferry_steps known to exist on this connection */
	int put_prepared;       /* PG_PUT prepared on this connection */
	int locked;             /* the advisory lock is held */
	int lock_timeout_ms;    /* the last lock timeout asked for; 0 = the server's */
	int lt_session;         /* lock_timeout set for the session; -1 unknown */
	int lt_tx;              /* ... by SET LOCAL in the open transaction; -1 none */
	char *blocker;          /* the blocking sessions last seen; NULL when none */
	fr_record *pend;        /* records put in the open transaction, not sent yet */
	size_t npend, cap_pend;
	int pend_lost;          /* a put failed: the transaction must not commit */
	/* ---- behind a pooler (see "the run lock" below) ---- */
	int pooled;             /* 1 behind a pooler, 0 direct, -1 not known yet */
	int lease;              /* the lock taken is the lease in ferry.lock, not the advisory one */
	char *settings;         /* "SELECT set_config(...)" of the url's options; NULL: none */
	char token[112];        /* this run's holder id in ferry.lock */
	int lease_ms;           /* how long a lease lasts unless renewed */
	PGconn *beat_c;         /* the heartbeat's own connection */
	pthread_t beat;
	pthread_mutex_t beat_mu;
	pthread_cond_t beat_cv;
	int beat_on;            /* the heartbeat thread runs */
	int beat_stop;          /* under beat_mu: the thread is asked to end */
	int lease_lost;         /* under beat_mu: the lease is no longer ours */
	int lease_stale;        /* under beat_mu: no renewal got through for a whole lease */
} pg_db;

static int pg_flush(pg_db *d, fr_buf *err);
static int pg_put_commit(pg_db *d, PGresult **commit, fr_buf *err);
static void pg_put_literal(fr_buf *b, const char *s, size_t n);
static void pg_discard(pg_db *d);
/* behind a pooler, and the lease: in "the run lock" below */
static int pg_try_lock(pg_db *d, int *got, fr_buf *err);
static int pg_per_tx(const pg_db *d);
static int pg_begin_tx(pg_db *d, fr_buf *err);
static void pg_tx_prefix(pg_db *d, fr_buf *b, int fence);
static int pg_lease_lost(pg_db *d);
static int pg_fail_lost(pg_db *d, fr_buf *err);
static int pg_parse_settings(pg_db *d, const char *opts);
static int pg_detect(pg_db *d, fr_buf *err);
static void pg_lease_release(pg_db *d);


static const char *pg_name(const pg_db *d)
{
	return d->base.conf && d->base.conf->name ? d->base.conf->name : "?";
}

static void pg_notice_ignore(void *arg, const char *msg)
{
	/* The library never prints; notices (IF NOT EXISTS ... skipping) are noise. */
	(void)arg;
	(void)msg;
}

/* Replaces every occurrence of s in b->ptr[from..] with "***". */
static void pg_scrub_one(fr_buf *b, size_t from, const char *s)
{
	fr_buf out = FR_BUF_INIT;
	size_t n = s ? strlen(s) : 0;
	const char *p, *hit;
	if (!n || b->len <= from || !strstr(b->ptr + from, s))
		return;
	fr_buf_add(&out, b->ptr, from);
	for (p = b->ptr + from; (hit = strstr(p, s)) != NULL; p = hit + n) {
		fr_buf_add(&out, p, (size_t)(hit - p));
		fr_buf_puts(&out, "***");
	}
	fr_buf_puts(&out, p);
	if (out.oom) {
		/* Never keep what may hold the password: drop the tail instead. */
		fr_buf_release(&out);
		fr_buf_truncate(b, from);
		fr_buf_puts(b, "(message withheld: out of memory)");
		return;
	}
	fr_buf_reset(b);
	fr_buf_add(b, out.ptr, out.len);
	fr_buf_release(&out);
}

static void pg_scrub(const pg_db *d, fr_buf *b, size_t from)
{
	int i;
	for (i = 0; i < PG_NSECRETS; i++)
		pg_scrub_one(b, from, d->secrets[i]);
}

/*
 * Appends text from libpq, one line: newlines become spaces or "; ",
 * runs of spaces one space, the trailing newline goes.
 */
static void pg_put_flat(fr_buf *b, const char *text)
{
	const char *p;
	int space = 0;
	if (!text)
		return;
	for (p = text; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			/* A new line that starts a sentence ("...refused\n\tIs the server") is "; ". */
			const char *q = p + 1;
			while (*p == '\n' && (*q == '\t' || *q == ' '))
				q++;
			if (*p == '\n' && *q >= 'A' && *q <= 'Z')
				space = 2;
			else if (!space)
				space = 1;
			continue;
		}
		if (space && b->len)
			fr_buf_puts(b, space == 2 ? "; " : " ");
		space = 0;
		fr_buf_putc(b, *p);
	}
}

static void pg_set_state(pg_db *d, const char *state)
{
	size_t n = state ? strlen(state) : 0;
	if (n > 5)
		n = 5;
	memcpy(d->sqlstate, state ? state : "", n);
	d->sqlstate[n] = '\0';
}

/*
 * Appends the error of r (or, without one, of the connection): primary
 * message, detail, hint, "(SQLSTATE x)"; keeps the SQLSTATE. Scrubbed.
 */
static void pg_put_error(pg_db *d, const PGresult *r, fr_buf *err)
{
	size_t from = err->len;
	const char *prim = r ? P.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = r ? P.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = r ? P.PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = r ? P.PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
	int lost = P.PQstatus(d->c) == CONNECTION_BAD;

	pg_set_state(d, state ? state : lost ? "08006" : "");
	if (prim) {
		pg_put_flat(err, prim);
		if (detail) {
			fr_buf_puts(err, " (");
			pg_put_flat(err, detail);
			fr_buf_putc(err, ')');
		}
		if (hint) {
			fr_buf_puts(err, " (hint: ");
			pg_put_flat(err, hint);
			fr_buf_putc(err, ')');
		}
	} else {
		const char *m = P.PQerrorMessage(d->c);
		if (!m || !*m)
			m = "unknown error";
		if (!strncmp(m, "ERROR:  ", 8) || !strncmp(m, "FATAL:  ", 8))
			m += 8;
		pg_put_flat(err, m);
	}
	if (state)
		fr_buf_printf(err, " (SQLSTATE %s)", state);
	if (lost)
		fr_buf_puts(err, "; the connection to the server was lost");
	pg_scrub(d, err, from);
}

/* "database 'NAME': what: <error>"; returns -1. */
static int pg_fail(pg_db *d, const PGresult *r, fr_buf *err, const char *what)
{
	fr_buf_printf(err, "database '%s': %s: ", pg_name(d), what);
	pg_put_error(d, r, err);
	return -1;
}

static int pg_ok(const PGresult *r)
{
	ExecStatusType s = r ? P.PQresultStatus(r) : PGRES_FATAL_ERROR;
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

/*
 * Brings in_tx in line with the server. A transaction that ended without
 * our commit() may have taken the record table with it.
 */
static void pg_sync_tx(pg_db *d)
{
	PGTransactionStatusType t = P.PQtransactionStatus(d->c);
	int open = t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
	if (d->base.in_tx && !open)
		d->have_table = 0;
	if (!open) {
		d->lt_tx = -1; /* SET LOCAL ends with the transaction */
		pg_discard(d); /* records not sent went with it */
	}
	d->base.in_tx = open;
}

/* Runs one command; 0, or -1 with "database 'NAME': what: ..." in err. */
static int pg_run(pg_db *d, const char *sql, const char *what, fr_buf *err)
{
	PGresult *r = P.PQexec(d->c, sql);
	int ret = 0;
	if (!pg_ok(r))
		ret = pg_fail(d, r, err, what);
	P.PQclear(r);
	return ret;
}

/* Runs a one-row query with text parameters; *out is the result (PQclear it). */
static int pg_query(pg_db *d, const char *sql, int nparams, const char *const *params,
                    PGresult **out, const char *what, fr_buf *err)
{
	PGresult *r = P.PQexecParams(d->c, sql, nparams, NULL, params, NULL, NULL, 0);
	*out = NULL;
	if (!r || P.PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(d, r, err, what);
		P.PQclear(r);
		return -1;
	}
	*out = r;
	return 0;
}

static PGconn *pg_connect(pg_db *d)
{
	const char *kw[4], *val[4];
	int i = 0;
	if (!getenv("PGCONNECT_TIMEOUT")) {
		/* Before dbname: a connect_timeout in the url itself wins. */
		kw[i] = "connect_timeout";
		val[i++] = PG_CONNECT_TIMEOUT;
	}
	kw[i] = "fallback_application_name";
	val[i++] = d->appname;
	kw[i] = "dbname";
	val[i++] = d->base.conf->url;
	kw[i] = NULL;
	val[i] = NULL;
	return P.PQconnectdbParams(kw, val, 1);
}

/*
 * Where the password is as written in the url: after "user:" in a URI's
 * user part, or the value of a password= key (URI query or key=value).
 * Its length (0: none) and, in *at, its start.
 */
static size_t pg_password_span(const char *url, const char **at)
{
	const char *p = strstr(url, "://"), *q, *end;
	if (p) {
		p += 3;
		end = p + strcspn(p, "@/?");
		if (*end == '@' && (q = memchr(p, ':', (size_t)(end - p))) != NULL && q + 1 < end) {
			*at = q + 1;
			return (size_t)(end - q - 1);
		}
	}
	for (p = url; (p = strstr(p, "password")) != NULL; p += 8) {
		q = p + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\'') {
			q++;
			for (end = q; *end && *end != '\''; end++)
				if (*end == '\\' && end[1])
					end++;
		} else {
			end = q + strcspn(q, " \t&");
		}
		if (end > q) {
			*at = q;
			return (size_t)(end - q);
		}
	}
	return 0;
}

/* The password as written in the url (malloc'd); NULL when none. */
static char *pg_raw_password(const char *url)
{
	const char *at = NULL;
	size_t n = pg_password_span(url, &at);
	return n ? fr_strndup(at, n) : NULL;
}

/* Appends key='value' quoted as libpq reads it. */
static void pg_put_kv(fr_buf *b, const char *key, const char *val)
{
	const char *p;
	if (b->len)
		fr_buf_putc(b, ' ');
	fr_buf_printf(b, "%s='", key);
	for (p = val; *p; p++) {
		if (*p == '\'' || *p == '\\')
			fr_buf_putc(b, '\\');
		fr_buf_putc(b, *p);
	}
	fr_buf_putc(b, '\'');
}

/*
 * From the parsed url: the target for messages (key=value without the
 * password, unquoted when plain), the same quoted for the tools, and the
 * password. 0, or -1 on out of memory.
 */
static int pg_describe(pg_db *d, const PQconninfoOption *opts)
{
	fr_buf target = FR_BUF_INIT, tool = FR_BUF_INIT;
	const PQconninfoOption *o;
	int ret = -1, timeout = 0;
	for (o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		timeout |= !strcmp(o->keyword, "connect_timeout");
		if (!strcmp(o->keyword, "password")) {
			if (*o->val && !(d->password = fr_strdup(o->val)))
				goto done;
			continue;
		}
		pg_put_kv(&tool, o->keyword, o->val);
		if (target.len)
			fr_buf_putc(&target, ' ');
		if (*o->val && !strpbrk(o->val, " '\\\t\n"))
			fr_buf_printf(&target, "%s=%s", o->keyword, o->val);
		else
			fr_buf_printf(&target, "%s='%s'", o->keyword, o->val);
	}
	/* The tools wait no longer than ferry would. */
	if (!timeout && !getenv("PGCONNECT_TIMEOUT"))
		pg_put_kv(&tool, "connect_timeout", PG_CONNECT_TIMEOUT);
	if (target.oom || tool.oom)
		goto done;
	d->target = fr_buf_detach(&target);
	d->tool_conninfo = fr_buf_detach(&tool);
	ret = d->target && d->tool_conninfo ? 0 : -1;
done:
	fr_buf_release(&target);
	fr_buf_release(&tool);
	return ret;
}

static void pg_close(fr_db *db)
{
	pg_db *d = (pg_db *)db;
	int i;
	if (!d)
		return;
	if (d->locked && d->lease)
		pg_lease_release(d); /* the engine unlocks first; this is for every other way out */
	/* PQfinish ends the session: an open transaction rolls back, the lock goes. */
	if (d->c)
		P.PQfinish(d->c);
	if (d->side)
		P.PQfinish(d->side);
	fr_free(d->target);
	fr_free(d->tool_conninfo);
	fr_free(d->password);
	for (i = 0; i < PG_NSECRETS; i++)
		fr_free(d->secrets[i]);
	fr_free(d->blocker);
	fr_free(d->settings);
	pthread_mutex_destroy(&d->beat_mu);
	pthread_cond_destroy(&d->beat_cv);
	pg_discard(d);
	fr_free(d);
}

static int pg_open(fr_db **out, const fr_dbconf *conf, fr_buf *err)
{
	pg_db *d = NULL;
	PQconninfoOption *opts = NULL;
	const char *name = conf->name ? conf->name : "?";
	const char *env_pw = getenv("PGPASSWORD");
	char *perr = NULL, host[40] = "";
	size_t from;
	int ret = -1;

	*out = NULL;
	if (fr_dl_open(&pq_lib)) {
		fr_buf_printf(err, "database '%s': the PostgreSQL client library is missing: %s "
		                   "(install the package 'libpq5')", name, pq_lib.err);
		return -1;
	}
	if (!conf->url || !*conf->url) {
		fr_buf_printf(err, "database '%s': no connection string for postgres", name);
		return FERRY_EINVALID;
	}
	d = fr_calloc(1, sizeof *d);
	if (!d)
		goto oom;
	d->base.drv = &fr_db_postgres;
	d->base.conf = conf;
	d->lt_session = d->lt_tx = -1;
	d->pooled = -1;
	pthread_mutex_init(&d->beat_mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&d->beat_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	d->secrets[0] = pg_raw_password(conf->url);
	if (env_pw && *env_pw && !(d->secrets[2] = fr_strdup(env_pw)))
		goto oom;

	opts = P.PQconninfoParse(conf->url, &perr);
	if (!opts) {
		ret = FERRY_EINVALID;
		from = err->len;
		fr_buf_printf(err, "database '%s': invalid connection string: ", name);
		pg_put_flat(err, perr ? perr : "out of memory");
		fr_buf_puts(err, " (expected postgres://USER@HOST:PORT/DBNAME or key=value "
		                 "pairs such as 'host=HOST dbname=DBNAME'; fix it in ferry.yaml)");
		pg_scrub(d, err, from);
		goto done;
	}
	if (pg_describe(d, opts))
		goto oom;
	{
		const PQconninfoOption *o;
		for (o = opts; o->keyword && strcmp(o->keyword, "options"); o++)
			;
		if (pg_parse_settings(d, o->keyword ? o->val : NULL))
			goto oom;
	}
	if (d->password && !(d->secrets[1] = fr_strdup(d->password)))
		goto oom;

	gethostname(host, sizeof host - 1);
	snprintf(d->appname, sizeof d->appname, "ferry %ld@%s", (long)getpid(),
	         host[0] ? host : "-");
	d->c = pg_connect(d);
	if (!d->c)
		goto oom;
	if (P.PQstatus(d->c) != CONNECTION_OK) {
		const char *m = P.PQerrorMessage(d->c);
		/*
		 * The user's to fix in ferry.yaml: credentials the server refused (or
		 * asked for and did not get), and options refused before any server
		 * was tried ("invalid integer value ... for connection option").
		 */
		if (P.PQconnectionNeedsPassword(d->c) || P.PQconnectionUsedPassword(d->c) ||
		    (m && strncmp(m, "connection to server", 20) != 0))
			ret = FERRY_EINVALID;
		from = err->len;
		pg_set_state(d, "08001");
		fr_buf_printf(err, "database '%s' (%s): cannot connect: ", name, d->target);
		pg_put_flat(err, P.PQerrorMessage(d->c));
		fr_buf_puts(err, "; check the url in ferry.yaml, that the server is running, and the "
		                 "password (put it in an environment variable with ${NAME}, "
		                 "PGPASSWORD or ~/.pgpass)");
		pg_scrub(d, err, from);
		goto done;
	}
	P.PQsetNoticeProcessor(d->c, pg_notice_ignore, NULL);
	*out = &d->base;
	d = NULL;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "database '%s': out of memory", name);
done:
	if (opts)
		P.PQconninfoFree(opts);
	if (perr)
		P.PQfreemem(perr);
	pg_close(d ? &d->base : NULL);
	return ret;
}

static void pg_watch_client(pg_db *d);

/*
 * A connection found broken is re-opened once (outside a transaction: the
 * one it had is gone, and the caller learnt that from the failure), and
 * the advisory lock taken again when it was held.
 */
static int pg_ensure(pg_db *d, fr_buf *err)
{
	int got;
	if (P.PQstatus(d->c) == CONNECTION_OK)
		return 0;
	d->base.in_tx = 0;
	d->have_table = 0;
	d->put_prepared = 0;
	P.PQreset(d->c);
	if (P.PQstatus(d->c) != CONNECTION_OK) {
		size_t from = err->len;
		pg_set_state(d, "08001");
		fr_buf_printf(err, "database '%s' (%s): the connection was lost and cannot be made "
		                   "again: ", pg_name(d), d->target);
		pg_put_flat(err, P.PQerrorMessage(d->c));
		pg_scrub(d, err, from);
		return -1;
	}
	P.PQsetNoticeProcessor(d->c, pg_notice_ignore, NULL);
	d->lock_timeout_ms = 0;
	d->lt_session = d->lt_tx = -1;
	if (d->locked && !d->lease) { /* a lease is not the connection's: nothing to take again */
		pg_watch_client(d);
		if (pg_try_lock(d, &got, err))
			return -1;
		if (!got) {
			d->locked = 0;
			fr_buf_printf(err, "database '%s': the connection was lost, and with it the "
			                   "advisory lock, which another run holds now; nothing more was "
			                   "done (run 'ferry status')", pg_name(d));
			return -1;
		}
	}
	return 0;
}

/* 1 when a direct connection's BEGIN sets the lock_timeout last asked for (the session has another). */
static int pg_carry_lock_timeout(const pg_db *d)
{
	return !pg_per_tx(d) && d->lock_timeout_ms > 0 && d->lt_session != d->lock_timeout_ms;
}

static int pg_begin(fr_db *db, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': a transaction is already open", pg_name(d));
		return -1;
	}
	if (pg_ensure(d, err))
		return -1;
	/*
	 * Settings go in BEGIN's round trip (pg_begin_tx): behind a pooler all
	 * of them; on a direct connection the lock_timeout the last step asked
	 * for, so the next step, which asks the same (a group, or `transaction:
	 * step`), sets nothing of its own.
	 */
	if (pg_per_tx(d) || (d->pooled < 0 && d->settings) || pg_carry_lock_timeout(d))
		return pg_begin_tx(d, err);
	if (pg_run(d, "BEGIN", "cannot begin a transaction", err)) {
		pg_sync_tx(d);
		return -1;
	}
	db->in_tx = 1;
	return 0;
}

static int pg_commit(fr_db *db, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	int ret = 0, with_records;
	if (!db->in_tx) {
		fr_buf_printf(err, "database '%s': no transaction to commit", pg_name(d));
		return -1;
	}
	/* Records still to send go with COMMIT, in its round trip. */
	with_records = d->npend && !d->pend_lost;
	if (with_records ? pg_put_commit(d, &r, err) : pg_flush(d, err)) {
		pg_sync_tx(d);
		return -1; /* the transaction stays open, failed: the caller rolls back */
	}
	if (!with_records)
		r = P.PQexec(d->c, "COMMIT");
	if (!pg_ok(r)) {
		ret = pg_fail(d, r, err, "cannot commit");
		if (P.PQstatus(d->c) == CONNECTION_BAD)
			fr_buf_puts(err, " (whether the transaction committed is unknown; run "
			                 "'ferry verify')");
	} else if (strcmp(P.PQcmdStatus(r), "COMMIT") != 0) {
		/* COMMIT of a failed transaction answers ROLLBACK, without an error. */
		pg_set_state(d, "25P02");
		fr_buf_printf(err, "database '%s': the transaction was rolled back by the server "
		                   "(a statement in it failed)", pg_name(d));
		ret = -1;
	} else {
		db->in_tx = 0; /* committed: the table, if created, stays */
	}
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

static int pg_rollback(fr_db *db, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	int ret = 0;
	if (P.PQstatus(d->c) != CONNECTION_OK) {
		/* The server rolls back the transaction of a connection that is gone. */
		db->in_tx = 0;
		d->have_table = 0;
		return 0;
	}
	pg_sync_tx(d);
	if (!db->in_tx)
		return 0;
	if (pg_run(d, "ROLLBACK", "cannot roll back", err))
		ret = -1;
	pg_sync_tx(d);
	if (P.PQstatus(d->c) != CONNECTION_OK)
		db->in_tx = 0;
	return ret;
}

/* ---- statements ---- */

typedef struct {
	size_t start; /* first byte of the statement's code */
	size_t end;   /* the terminating ';' (or the end of the script) */
} pg_stmt;

static int pg_word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static int pg_word_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

/* Past the quoted text opening at p (quote q; backslash escapes when esc). */
static const char *pg_skip_quoted(const char *p, char q, int esc)
{
	for (p++; *p; p++) {
		if (esc && *p == '\\' && p[1])
			p++;
		else if (*p == q) {
			if (p[1] != q)
				return p + 1;
			p++;
		}
	}
	return p;
}

/* The length of a dollar-quote tag opening at p ("$$", "$body$"), or 0. */
static size_t pg_dollar_tag(const char *p)
{
	const char *q = p + 1;
	if (*q != '$') {
		if (!pg_word_start((unsigned char)*q))
			return 0;
		while (pg_word_char((unsigned char)*q) && *q != '$')
			q++;
		if (*q != '$')
			return 0;
	}
	return (size_t)(q - p + 1);
}

/*
 * Cuts sql into statements by PostgreSQL's lexical rules, as psql does: a
 * ';' ends a statement except inside '...' (E'...' with backslash escapes),
 * "...", $tag$...$tag$, -- and nested block comments, parentheses, and the
 * BEGIN ... END of a CREATE [OR REPLACE] FUNCTION|PROCEDURE body (BEGIN
 * ATOMIC). Statements of only whitespace and comments are left out.
 * Returns 0, or -1 on out of memory.
 */
static int pg_split(const char *sql, pg_stmt **out, size_t *n)
{
	const char *p = sql, *start = NULL;
	pg_stmt *v = NULL;
	size_t len = 0, cap = 0;
	int paren = 0, depth = 0, nword = 0;
	char words[4];

	*out = NULL;
	*n = 0;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			p++;
			continue;
		}
		if (c == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (c == '/' && p[1] == '*') {
			int nest = 1;
			for (p += 2; *p && nest; p++) {
				if (p[0] == '/' && p[1] == '*')
					nest++, p++;
				else if (p[0] == '*' && p[1] == '/')
					nest--, p++;
			}
			continue;
		}
		if (c && !start) {
			if (c == ';') {
				p++; /* an empty statement */
				continue;
			}
			start = p;
			paren = depth = nword = 0;
			memset(words, 0, sizeof words);
		}
		if (!c || (c == ';' && paren == 0 && depth == 0)) {
			if (start) {
				if (len == cap) {
					size_t ncap = cap ? cap * 2 : 16;
					pg_stmt *nv = fr_realloc(v, ncap * sizeof *nv);
					if (!nv) {
						fr_free(v);
						return -1;
					}
					v = nv;
					cap = ncap;
				}
				v[len].start = (size_t)(start - sql);
				v[len].end = (size_t)(p - sql);
				len++;
				start = NULL;
			}
			if (!c)
				break;
			p++;
			continue;
		}
		if (c == '\'') {
			p = pg_skip_quoted(p, '\'', 0);
		} else if (c == '"') {
			p = pg_skip_quoted(p, '"', 0);
		} else if (c == '$' && pg_dollar_tag(p)) {
			size_t t = pg_dollar_tag(p);
			const char *close = NULL, *q;
			for (q = p + t; (q = strchr(q, '$')) != NULL; q++)
				if (!strncmp(q, p, t)) {
					close = q;
					break;
				}
			p = close ? close + t : p + strlen(p);
		} else if (pg_word_char(c)) {
			const char *w = p;
			size_t wl;
			while (pg_word_char((unsigned char)*p))
				p++;
			wl = (size_t)(p - w);
			if (*p == '\'' && wl == 1 && (*w == 'e' || *w == 'E')) {
				p = pg_skip_quoted(p, '\'', 1);
			} else if (pg_word_start(c)) {
				/* psql's heuristic for SQL-standard function bodies */
				if ((wl == 6 && !strncasecmp(w, "create", 6)) ||
				    (wl == 8 && !strncasecmp(w, "function", 8)) ||
				    (wl == 9 && !strncasecmp(w, "procedure", 9)) ||
				    (wl == 2 && !strncasecmp(w, "or", 2)) ||
				    (wl == 7 && !strncasecmp(w, "replace", 7))) {
					if (nword < 4)
						words[nword] = (char)(w[0] | 0x20);
				}
				nword++;
				if (words[0] == 'c' && paren == 0 &&
				    (words[1] == 'f' || words[1] == 'p' ||
				     (words[1] == 'o' && words[2] == 'r' &&
				      (words[3] == 'f' || words[3] == 'p')))) {
					if (wl == 5 && !strncasecmp(w, "begin", 5))
						depth++;
					else if (wl == 4 && !strncasecmp(w, "case", 4) && depth > 0)
						depth++;
					else if (wl == 3 && !strncasecmp(w, "end", 3) && depth > 0)
						depth--;
				}
			}
		} else {
			if (c == '(')
				paren++;
			else if (c == ')' && paren > 0)
				paren--;
			p++;
		}
	}
	*out = v;
	*n = len;
	return 0;
}

/* Appends the first line of statement s, cut at 80 characters. */
static void pg_put_first_line(fr_buf *b, const char *sql, const pg_stmt *s)
{
	size_t n = strcspn(sql + s->start, "\r\n");
	if (n > s->end - s->start)
		n = s->end - s->start;
	while (n && (sql[s->start + n - 1] == ' ' || sql[s->start + n - 1] == '\t'))
		n--;
	if (n > 80) {
		size_t k = 77;
		while (k && ((unsigned char)sql[s->start + k] & 0xC0) == 0x80)
			k--; /* not inside a UTF-8 character */
		fr_buf_printf(b, "%.*s...", (int)k, sql + s->start);
	} else {
		fr_buf_add(b, sql + s->start, n);
	}
}

/* The byte offset of the 1-based character position pos (the server counts characters). */
static size_t pg_char_offset(const char *sql, long pos)
{
	const unsigned char *p = (const unsigned char *)sql;
	long chars = 0;
	while (*p) {
		if ((*p & 0xC0) != 0x80 && ++chars == pos)
			break;
		p++;
	}
	return (size_t)((const char *)p - sql);
}

/* Opens the second connection used to see who blocks the first. */
static PGconn *pg_side(pg_db *d)
{
	if (d->side && P.PQstatus(d->side) == CONNECTION_OK)
		return d->side;
	if (d->side)
		P.PQfinish(d->side);
	d->side = pg_connect(d);
	if (d->side && P.PQstatus(d->side) != CONNECTION_OK) {
		P.PQfinish(d->side);
		d->side = NULL;
	}
	if (d->side)
		P.PQsetNoticeProcessor(d->side, pg_notice_ignore, NULL);
	return d->side;
}

/*
 * Remembers the sessions that block ours right now (kept when none does);
 * with guess, the sessions in a transaction holding relation locks.
 */
static void pg_sample_blockers(pg_db *d, int guess)
{
	PGconn *s = pg_side(d);
	PGresult *r;
	fr_buf b = FR_BUF_INIT;
	char pid[24];
	const char *params[1] = { pid };
	int i, n;
	if (!s)
		return;
	snprintf(pid, sizeof pid, "%d", P.PQbackendPID(d->c));
	r = P.PQexecParams(s, guess ? PG_HOLDERS : PG_BLOCKERS, 1, NULL, params, NULL, NULL, 0);
	if (r && P.PQresultStatus(r) == PGRES_TUPLES_OK && (n = P.PQntuples(r)) > 0) {
		for (i = 0; i < n; i++) {
			const char *state = P.PQgetvalue(r, i, 3);
			fr_buf_printf(&b, "%spid %s (user '%s', application '%s'%s%s, query '%s')",
			              i ? ", " : "", P.PQgetvalue(r, i, 0), P.PQgetvalue(r, i, 1),
			              P.PQgetvalue(r, i, 2), *state ? ", " : "", state,
			              P.PQgetvalue(r, i, 4));
		}
		pg_scrub(d, &b, 0);
		if (!b.oom) {
			fr_free(d->blocker);
			d->blocker = fr_buf_detach(&b);
		}
	}
	P.PQclear(r);
	fr_buf_release(&b);
}

/*
 * Sends sql (one or more statements) and reads every result, looking at
 * the sessions that block it while it waits. *done counts the statements
 * that completed; on failure err holds the server's error and *pos its
 * 1-based character position in sql (0 when the server gave none).
 */
static int pg_send(pg_db *d, const char *sql, size_t *done, long *pos, fr_buf *err)
{
	PGresult *r;
	double now = fr_mono_ms(), next;
	int failed = 0, first = PG_SAMPLE_FIRST_MS;

	*done = 0;
	*pos = 0;
	FR_FREE(d->blocker);
	if (d->lock_timeout_ms > 0 && d->lock_timeout_ms / 2 < first)
		first = d->lock_timeout_ms / 2 > 10 ? d->lock_timeout_ms / 2 : 10;
	next = now + first;
	if (!P.PQsendQuery(d->c, sql)) {
		pg_put_error(d, NULL, err);
		return -1;
	}
	for (;;) {
		while (P.PQisBusy(d->c)) {
			struct pollfd pfd = { P.PQsocket(d->c), POLLIN, 0 };
			int wait, pr;
			if (pfd.fd < 0)
				break;
			now = fr_mono_ms();
			wait = next > now ? (int)(next - now) + 1 : 0;
			pr = poll(&pfd, 1, wait);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				pg_sample_blockers(d, 0);
				next = fr_mono_ms() + PG_SAMPLE_EVERY_MS;
				continue;
			}
			if (!P.PQconsumeInput(d->c))
				break; /* the connection broke: PQgetResult says so */
		}
		r = P.PQgetResult(d->c);
		if (!r)
			break;
		switch (P.PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			if (!failed)
				(*done)++;
			break;
		case PGRES_COPY_IN:
			P.PQputCopyEnd(d->c, "COPY FROM STDIN is not supported in a ferry step");
			break;
		case PGRES_COPY_OUT: {
			char *buf = NULL;
			while (P.PQgetCopyData(d->c, &buf, 0) > 0) {
				P.PQfreemem(buf);
				buf = NULL;
			}
			break;
		}
		default:
			if (!failed) {
				const char *ps = P.PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
				failed = 1;
				*pos = ps ? strtol(ps, NULL, 10) : 0;
				pg_put_error(d, r, err);
			}
			break;
		}
		P.PQclear(r);
		if (P.PQstatus(d->c) == CONNECTION_BAD && !failed) {
			failed = 1;
			pg_put_error(d, NULL, err);
		}
		if (P.PQstatus(d->c) == CONNECTION_BAD)
			break;
	}
	return failed ? -1 : 0;
}

/* After a failure: what to do about its SQLSTATE. */
static void pg_put_advice(pg_db *d, fr_buf *err)
{
	size_t from = err->len;
	if (!strcmp(d->sqlstate, "55P03")) {
		if (d->blocker) {
			fr_buf_printf(err, "; blocked by %s", d->blocker);
		} else if (pg_sample_blockers(d, 1), d->blocker) {
			/* The wait ended before a look: the likely ones, said as such. */
			fr_buf_printf(err, "; probably blocked by %s (in a transaction holding table "
			                   "locks)", d->blocker);
		} else {
			fr_buf_puts(err, "; the blocking session could not be seen");
		}
		fr_buf_printf(err, "; the step waited %d ms for its lock (raise it with "
		                   "'-- ferry:lock-timeout 30s' or end the blocking session, e.g. "
		                   "SELECT pg_terminate_backend(PID))",
		              d->lock_timeout_ms);
	} else if (!strcmp(d->sqlstate, "25001")) {
		fr_buf_puts(err, "; mark the step '-- ferry:no-transaction' to run it outside a "
		                 "transaction");
	}
	pg_scrub(d, err, from);
}

/* The whole script at once, in the open transaction. */
static int pg_exec_tx(pg_db *d, const char *sql, size_t *err_offset, fr_buf *err)
{
	pg_stmt *st = NULL;
	size_t n = 0, done = 0, off = 0, i;
	long pos = 0;
	int ret = 0;

	if (pg_send(d, sql, &done, &pos, err) == 0)
		goto done;
	ret = -1;
	pg_put_advice(d, err);
	if (pos > 0) {
		off = pg_char_offset(sql, pos);
	} else if (pg_split(sql, &st, &n) == 0 && n) {
		i = done < n ? done : n - 1;
		off = st[i].start;
	}
	if (err_offset)
		*err_offset = off;
done:
	fr_free(st);
	return ret;
}

/* Statement by statement, each committed on its own (no-transaction steps). */
static int pg_exec_each(pg_db *d, const char *sql, size_t *err_offset, fr_buf *err)
{
	pg_stmt *st = NULL;
	fr_buf one = FR_BUF_INIT, msg = FR_BUF_INIT;
	size_t n = 0, i, done;
	long pos;
	int ret = -1;

	if (pg_split(sql, &st, &n)) {
		fr_buf_puts(err, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		int bare = !pg_per_tx(d);
		if (d->lease && d->locked && pg_lease_lost(d)) {
			fr_buf_reset(&msg);
			pg_fail_lost(d, &msg);
			fr_buf_printf(err, "before statement %zu of %zu: %s", i + 1, n, msg.ptr);
			goto done;
		}
	again:
		fr_buf_reset(&one);
		/* Per transaction: the settings go with the statement, one implicit transaction. */
		if (!bare)
			pg_tx_prefix(d, &one, 0);
		if (fr_buf_add(&one, sql + st[i].start, st[i].end - st[i].start)) {
			fr_buf_puts(err, "out of memory");
			goto done;
		}
		fr_buf_reset(&msg);
		if (pg_send(d, one.ptr, &done, &pos, &msg) == 0)
			continue;
		if (!bare && !d->settings && !strcmp(d->sqlstate, "25001")) {
			bare = 1; /* it refuses any transaction: it runs without ferry's lock_timeout */
			goto again;
		}
		if (!bare && !strcmp(d->sqlstate, "25001"))
			fr_buf_puts(&msg, "; behind a connection pooler the url's options cannot be given "
			                  "to a statement that refuses any transaction (it would run without "
			                  "them): set them for the role instead (ALTER ROLE ... SET ...), "
			                  "or run this step connected to the server directly");
		else
			pg_put_advice(d, &msg);
		fr_buf_printf(err, "statement %zu of %zu ('", i + 1, n);
		pg_put_first_line(err, sql, &st[i]);
		fr_buf_printf(err, "') failed: %s; ", msg.ptr);
		if (i == 0)
			fr_buf_puts(err, "no statement of the step ran (no-transaction step)");
		else if (i == 1)
			fr_buf_puts(err, "statement 1 ran and stays applied (no-transaction step)");
		else
			fr_buf_printf(err, "statements 1-%zu ran and stay applied (no-transaction step)",
			              i);
		if (err_offset)
			*err_offset = st[i].start;
		goto done;
	}
	ret = 0;
done:
	fr_free(st);
	fr_buf_release(&one);
	fr_buf_release(&msg);
	return ret;
}

/*
 * ---- parse (`ferry check`) ----
 *
 * PostgreSQL has no "parse only" command for every statement (PREPARE
 * takes only SELECT, INSERT, UPDATE, DELETE, MERGE and VALUES, and
 * resolves names). PL/pgSQL does: compiling a block runs the core parser
 * over each SQL statement in it, resolving nothing until the statement
 * runs. So each statement is sent as
 *     DO $ferry_parse$ BEGIN RETURN; <statement>; END $ferry_parse$
 * whose RETURN comes first: the block compiles, then returns before any
 * statement of it runs. It runs in a transaction that is rolled back (or,
 * inside one, under a savepoint rolled back to), so nothing is left even
 * in principle. Statements that PL/pgSQL reads as its own commands rather
 * than SQL (transaction control, cursors, COPY) are passed over, and only
 * errors that say "syntax error" (SQLSTATE 42601) count.
 */

/* 1 when statement s is one PL/pgSQL would read otherwise than the server does. */
static int pg_parse_skips(const char *sql, const pg_stmt *s)
{
	static const char *const words[] = { "begin", "start", "commit", "end", "rollback",
		                             "abort", "savepoint", "release", "copy", "fetch",
		                             "move", "close", "declare", "prepare", "execute",
		                             "deallocate", NULL };
	const char *p = sql + s->start;
	size_t n = 0, i;
	if (*p == '\\')
		return 1; /* a psql command */
	while (n < s->end - s->start && pg_word_char((unsigned char)p[n]))
		n++;
	for (i = 0; words[i]; i++)
		if (strlen(words[i]) == n && !strncasecmp(p, words[i], n))
			return 1;
	return 0;
}

static int pg_parse(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	pg_stmt *st = NULL;
	fr_buf q = FR_BUF_INIT, tag = FR_BUF_INIT;
	size_t n = 0, i, pre;
	int ret = -1, k, outer = !db->in_tx;
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	if (pg_flush(d, err))
		return -1;
	if (pg_split(sql, &st, &n)) {
		fr_buf_puts(err, "out of memory");
		goto done;
	}
	if (pg_run(d, outer ? "BEGIN" : "SAVEPOINT ferry_parse", "cannot begin", err))
		goto done;
	ret = 0;
	for (i = 0; i < n && ret == 0; i++) {
		PGresult *r;
		const char *state, *ps;
		if (pg_parse_skips(sql, &st[i]))
			continue;
		/* A dollar tag the statement does not hold. */
		for (k = 0;; k++) {
			fr_buf_reset(&tag);
			fr_buf_printf(&tag, "$ferry_parse%d$", k);
			if (!strstr(sql + st[i].start, tag.ptr))
				break;
		}
		fr_buf_reset(&q);
		fr_buf_printf(&q, "DO %s BEGIN RETURN; ", tag.ptr);
		pre = q.len;
		fr_buf_add(&q, sql + st[i].start, st[i].end - st[i].start);
		fr_buf_printf(&q, "\n; END %s", tag.ptr);
		if (q.oom) {
			fr_buf_puts(err, "out of memory");
			ret = -1;
			break;
		}
		r = P.PQexec(d->c, q.ptr);
		if (!pg_ok(r)) {
			const char *prim = r ? P.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
			int unended = prim && strstr(prim, "end of function") != NULL;
			state = r ? P.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
			ps = r ? P.PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
			if (!state && P.PQstatus(d->c) == CONNECTION_BAD) {
				pg_put_error(d, r, err);
				P.PQclear(r);
				ret = -1;
				break;
			}
			if (state && !strcmp(state, "42601") && prim &&
			    (strstr(prim, "syntax error") || unended)) {
				size_t at = ps ? pg_char_offset(q.ptr, strtol(ps, NULL, 10)) : 0;
				if (unended)
					fr_buf_puts(err, "syntax error: the statement does not end (an unclosed "
					                 "parenthesis or quote?)");
				else
					pg_put_error(d, r, err);
				if (err_offset)
					*err_offset = at >= pre && at - pre < st[i].end - st[i].start ?
					              st[i].start + (at - pre) : st[i].start;
				ret = 1;
			}
			/* Back to a clean transaction for the next statement. */
			P.PQclear(r);
			r = P.PQexec(d->c, outer ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT ferry_parse");
			P.PQclear(r);
			r = P.PQexec(d->c, outer ? "BEGIN" : "SAVEPOINT ferry_parse");
		}
		P.PQclear(r);
	}
	{
		PGresult *r = P.PQexec(d->c, outer ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT ferry_parse");
		P.PQclear(r);
		if (!outer)
			P.PQclear(P.PQexec(d->c, "RELEASE SAVEPOINT ferry_parse"));
	}
done:
	pg_sync_tx(d);
	fr_free(st);
	fr_buf_release(&q);
	fr_buf_release(&tag);
	return ret;
}

/* A script that may change lock_timeout makes what set_lock_timeout knows stale. */
static void pg_forget_settings(pg_db *d, const char *sql)
{
	if (strcasestr(sql, "lock_timeout") || strcasestr(sql, "reset") ||
	    strcasestr(sql, "discard"))
		d->lt_session = d->lt_tx = -1;
}

static int pg_exec(fr_db *db, const char *sql, size_t *err_offset, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	int ret;
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	if (pg_flush(d, err))
		return -1;
	pg_forget_settings(d, sql);
	if (db->in_tx)
		ret = pg_exec_tx(d, sql, err_offset, err);
	else
		ret = pg_exec_each(d, sql, err_offset, err);
	pg_sync_tx(d);
	return ret;
}

/* Truth of a text value: "", "0", "f", "false", "n", "no", "off" are false. */
static int pg_text_true(const char *s)
{
	static const char *const no[] = { "", "0", "f", "false", "n", "no", "off", NULL };
	size_t i;
	for (i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return 1;
}

static int pg_query_bool(fr_db *db, const char *sql, int *out, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	const char *v;
	int ret = -1;

	*out = -1;
	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	if (!db->in_tx && d->settings && d->pooled != 0) {
		/* Behind a pooler the url's settings hold in a transaction only. */
		if (pg_detect(d, err))
			return -1;
		if (d->pooled == 1) {
			fr_buf ignore = FR_BUF_INIT;
			if (pg_begin(db, err))
				return -1;
			ret = pg_query_bool(db, sql, out, err);
			if (ret || pg_commit(db, err))
				ret = -1;
			pg_rollback(db, &ignore);
			fr_buf_release(&ignore);
			return ret;
		}
	}
	pg_forget_settings(d, sql);
	/* The extended protocol takes one statement only, as the interface wants. */
	r = P.PQexecParams(d->c, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (!pg_ok(r)) {
		pg_put_error(d, r, err);
		goto done;
	}
	ret = 0;
	if (P.PQresultStatus(r) != PGRES_TUPLES_OK || P.PQntuples(r) < 1)
		goto done;
	if (P.PQnfields(r) < 1 || P.PQgetisnull(r, 0, 0)) {
		*out = 0;
		goto done;
	}
	v = P.PQgetvalue(r, 0, 0);
	switch (P.PQftype(r, 0)) {
	case PG_BOOLOID:
		*out = v[0] == 't';
		break;
	case PG_INT2OID:
	case PG_INT4OID:
	case PG_INT8OID:
	case PG_OIDOID:
	case PG_FLOAT4OID:
	case PG_FLOAT8OID:
	case PG_NUMERICOID:
		*out = strtod(v, NULL) != 0.0;
		break;
	default:
		*out = pg_text_true(v);
		break;
	}
done:
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

/*
 * One statement with parameters through the extended protocol: numbers
 * and text are sent as text, bytes in binary; results come as text and
 * are typed from the column's OID.
 */
static int pg_query_rows(fr_db *db, const char *sql, const fr_val *params, size_t nparams,
                         fr_db_row_fn row, void *arg, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	const char **vals = NULL;
	int *lens = NULL, *fmts = NULL;
	char (*num)[32] = NULL;
	fr_val *cols = NULL;
	unsigned char **bytes = NULL; /* each bytea column's value in this row */
	int ret = -1, nf = 0, nt, i, j;
	size_t k;

	if (nparams > 65535) {
		fr_buf_puts(err, "too many query parameters");
		return -1;
	}
	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	pg_forget_settings(d, sql);
	if (nparams && (!(vals = fr_calloc(nparams, sizeof *vals)) ||
	                !(lens = fr_calloc(nparams, sizeof *lens)) ||
	                !(fmts = fr_calloc(nparams, sizeof *fmts)) ||
	                !(num = fr_calloc(nparams, sizeof *num)))) {
		err->oom = 1;
		goto done;
	}
	for (k = 0; k < nparams; k++) {
		const fr_val *v = &params[k];
		switch (v->type) {
		case FR_VAL_NULL:
			break;
		case FR_VAL_INT:
			snprintf(num[k], sizeof num[k], "%lld", (long long)v->i);
			vals[k] = num[k];
			break;
		case FR_VAL_REAL:
			snprintf(num[k], sizeof num[k], "%.17g", v->r);
			vals[k] = num[k];
			break;
		case FR_VAL_TEXT:
			vals[k] = v->p;
			break;
		case FR_VAL_BLOB:
			vals[k] = v->p;
			lens[k] = (int)v->len;
			fmts[k] = 1;
			break;
		}
	}
	r = P.PQexecParams(d->c, sql, (int)nparams, NULL, vals, lens, fmts, 0);
	if (!pg_ok(r)) {
		pg_put_error(d, r, err);
		goto done;
	}
	ret = 0;
	if (P.PQresultStatus(r) != PGRES_TUPLES_OK)
		goto done;
	nf = P.PQnfields(r);
	nt = P.PQntuples(r);
	if (nf > 0 && (!(cols = fr_calloc((size_t)nf, sizeof *cols)) ||
	               !(bytes = fr_calloc((size_t)nf, sizeof *bytes)))) {
		err->oom = 1;
		ret = -1;
		goto done;
	}
	for (j = 0; j < nf; j++) {
		cols[j].name = P.PQfname(r, j);
		cols[j].type_oid = (unsigned)P.PQftype(r, j);
	}
	for (i = 0; i < nt && ret == 0; i++) {
		for (j = 0; j < nf; j++) {
			fr_val *v = &cols[j];
			const char *t = P.PQgetvalue(r, i, j);
			v->p = NULL;
			v->len = 0;
			if (P.PQgetisnull(r, i, j)) {
				v->type = FR_VAL_NULL;
				continue;
			}
			switch (v->type_oid) {
			case PG_BOOLOID:
				v->type = FR_VAL_INT;
				v->i = t[0] == 't';
				break;
			case PG_INT2OID:
			case PG_INT4OID:
			case PG_INT8OID:
			case PG_OIDOID:
				v->type = FR_VAL_INT;
				v->i = strtoll(t, NULL, 10);
				break;
			case PG_FLOAT4OID:
			case PG_FLOAT8OID:
				v->type = FR_VAL_REAL;
				v->r = strtod(t, NULL);
				break;
			case PG_BYTEAOID:
				P.PQfreemem(bytes[j]);
				bytes[j] = P.PQunescapeBytea((const unsigned char *)t, &v->len);
				if (!bytes[j]) {
					err->oom = 1;
					ret = -1;
					goto done;
				}
				v->type = FR_VAL_BLOB;
				v->p = (const char *)bytes[j];
				break;
			default:
				v->type = FR_VAL_TEXT;
				v->p = t;
				v->len = (size_t)P.PQgetlength(r, i, j);
				break;
			}
		}
		ret = row(arg, cols, (size_t)nf);
	}
done:
	for (j = 0; bytes && j < nf; j++)
		P.PQfreemem(bytes[j]);
	fr_free(bytes);
	P.PQclear(r);
	fr_free(cols);
	fr_free(vals);
	fr_free(lens);
	fr_free(fmts);
	fr_free(num);
	pg_sync_tx(d);
	return ret;
}

/* ---- the record ---- */

/* *steps / *version = 1 when ferry.ferry_steps / ferry.version exist. */
static int pg_tables(pg_db *d, int *schema, int *steps, int *version, fr_buf *err)
{
	PGresult *r = NULL;
	if (pg_query(d, "SELECT to_regnamespace('ferry') IS NOT NULL, "
	                "to_regclass('ferry.ferry_steps') IS NOT NULL, "
	                "to_regclass('ferry.version') IS NOT NULL",
	             0, NULL, &r, "cannot read the schema", err))
		return -1;
	*schema = P.PQgetvalue(r, 0, 0)[0] == 't';
	*steps = P.PQgetvalue(r, 0, 1)[0] == 't';
	if (version)
		*version = P.PQgetvalue(r, 0, 2)[0] == 't';
	P.PQclear(r);
	return 0;
}

static int pg_steps_exist(pg_db *d, int *yes, fr_buf *err)
{
	int schema;
	*yes = 0;
	if (d->have_table) {
		*yes = 1;
		return 0;
	}
	if (pg_tables(d, &schema, yes, NULL, err))
		return -1;
	d->have_table = *yes;
	return 0;
}

/* Creates the schema and table create (a CREATE TABLE) when missing. */
static int pg_create(pg_db *d, const char *create, int schema, fr_buf *err)
{
	if (!schema && pg_run(d, PG_CREATE_SCHEMA, "cannot create the schema 'ferry'", err))
		return -1;
	return pg_run(d, create, "cannot create ferry's table", err);
}

static char *pg_dup_col(const PGresult *r, int row, int col, int *oom)
{
	char *s;
	if (P.PQgetisnull(r, row, col))
		return NULL;
	s = fr_strndup(P.PQgetvalue(r, row, col), (size_t)P.PQgetlength(r, row, col));
	if (!s)
		*oom = 1;
	return s;
}

static int pg_record_read(fr_db *db, fr_record **out, size_t *n, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	fr_record *v = NULL;
	int i, rows = 0, yes, oom = 0, ret = -1;

	*out = NULL;
	*n = 0;
	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	if (pg_steps_exist(d, &yes, err))
		goto done;
	if (!yes) {
		ret = 0;
		goto done;
	}
	if (pg_query(d, "SELECT " PG_COLUMNS " FROM ferry.ferry_steps ORDER BY seq, id", 0, NULL,
	             &r, "cannot read ferry.ferry_steps", err))
		goto done;
	rows = P.PQntuples(r);
	if (rows) {
		v = fr_calloc((size_t)rows, sizeof *v);
		if (!v) {
			oom = 1;
			rows = 0;
		}
	}
	for (i = 0; i < rows && !oom; i++) {
		fr_record *rec = &v[i];
		rec->id = pg_dup_col(r, i, 0, &oom);
		rec->seq = strtoll(P.PQgetvalue(r, i, 1), NULL, 10);
		rec->checksum = pg_dup_col(r, i, 2, &oom);
		rec->kind = pg_dup_col(r, i, 3, &oom);
		rec->from = pg_dup_col(r, i, 4, &oom);
		rec->to = pg_dup_col(r, i, 5, &oom);
		rec->status = pg_dup_col(r, i, 6, &oom);
		rec->undo = pg_dup_col(r, i, 7, &oom);
		rec->applied_at_ms = strtoll(P.PQgetvalue(r, i, 8), NULL, 10);
		rec->duration_ms = strtoll(P.PQgetvalue(r, i, 9), NULL, 10);
		rec->run_id = strtoll(P.PQgetvalue(r, i, 10), NULL, 10);
	}
	if (oom) {
		fr_buf_printf(err, "database '%s': out of memory reading ferry.ferry_steps",
		              pg_name(d));
		goto done;
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
	ret = 0;
done:
	fr_records_free(v, (size_t)rows);
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

/* Creates ferry.ferry_steps when this connection has not seen it yet. */
static int pg_need_table(pg_db *d, fr_buf *err)
{
	int schema, yes;
	if (d->have_table)
		return 0;
	if (pg_tables(d, &schema, &yes, NULL, err))
		return -1;
	if (!yes && pg_create(d, PG_CREATE_STEPS, schema, err))
		return -1;
	d->have_table = 1;
	return 0;
}

static void pg_discard(pg_db *d)
{
	fr_records_free(d->pend, d->npend);
	d->pend = NULL;
	d->npend = d->cap_pend = 0;
	d->pend_lost = 0;
}

/* Appends one element of a text[] literal: "..." with \ and " escaped, or NULL. */
static void pg_arr_put(fr_buf *b, const char *s)
{
	const char *p;
	fr_buf_putc(b, b->len ? ',' : '{');
	if (!s) {
		fr_buf_puts(b, "NULL");
		return;
	}
	fr_buf_putc(b, '"');
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fr_buf_putc(b, '\\');
		fr_buf_putc(b, *p);
	}
	fr_buf_putc(b, '"');
}

static void pg_arr_int(fr_buf *b, int64_t v)
{
	fr_buf_printf(b, "%c%lld", b->len ? ',' : '{', (long long)v);
}

#define PG_PUT_NCOLS 11

/* Each column's array type, in PG_COLUMNS' order. */
static const char *const pg_put_types[PG_PUT_NCOLS] = {
	"text[]", "bigint[]", "text[]", "text[]", "text[]", "text[]", "text[]", "text[]",
	"bigint[]", "bigint[]", "bigint[]",
};

/*
 * The pending records as one array literal a column (col[0..10], each
 * fr_buf_init()ed by the caller). 0, or -1 with the message in err.
 */
static int pg_put_arrays(pg_db *d, fr_buf *col, fr_buf *err)
{
	size_t i;
	int k;
	for (i = 0; i < d->npend; i++) {
		const fr_record *rec = &d->pend[i];
		pg_arr_put(&col[0], rec->id);
		pg_arr_int(&col[1], rec->seq);
		pg_arr_put(&col[2], rec->checksum);
		pg_arr_put(&col[3], rec->kind);
		pg_arr_put(&col[4], rec->from);
		pg_arr_put(&col[5], rec->to);
		pg_arr_put(&col[6], rec->status);
		pg_arr_put(&col[7], rec->undo);
		pg_arr_int(&col[8], rec->applied_at_ms);
		pg_arr_int(&col[9], rec->duration_ms);
		pg_arr_int(&col[10], rec->run_id);
	}
	for (k = 0; k < PG_PUT_NCOLS; k++) {
		fr_buf_putc(&col[k], '}');
		if (col[k].oom) {
			fr_buf_printf(err, "database '%s': out of memory recording the steps",
			              pg_name(d));
			return -1;
		}
	}
	return 0;
}

/*
 * The pending records' INSERT into sql, their values as literals: one
 * text, sent alone (pg_flush) or with COMMIT (pg_put_commit). 0, or -1
 * with the message in err.
 */
static int pg_put_sql(pg_db *d, fr_buf *sql, fr_buf *err)
{
	fr_buf col[PG_PUT_NCOLS];
	int k, ret;
	for (k = 0; k < PG_PUT_NCOLS; k++)
		fr_buf_init(&col[k]);
	ret = pg_put_arrays(d, col, err);
	if (!ret) {
		fr_buf_puts(sql, PG_PUT_MANY_HEAD);
		for (k = 0; k < PG_PUT_NCOLS; k++) {
			if (k)
				fr_buf_puts(sql, ", ");
			pg_put_literal(sql, col[k].ptr, col[k].len);
			fr_buf_puts(sql, "::");
			fr_buf_puts(sql, pg_put_types[k]);
		}
		fr_buf_puts(sql, PG_PUT_MANY_TAIL);
		if (sql->oom) {
			fr_buf_printf(err, "database '%s': out of memory recording the steps",
			              pg_name(d));
			ret = -1;
		}
	}
	for (k = 0; k < PG_PUT_NCOLS; k++)
		fr_buf_release(&col[k]);
	return ret;
}

/*
 * Sends the records put in the open transaction as one INSERT (a group of
 * 1,000 steps is recorded in one round trip, as SQLite's driver records it
 * with one prepared statement). Whatever happens, nothing stays pending.
 */
static int pg_flush(pg_db *d, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r = NULL;
	int ret = -1;

	if (d->pend_lost) {
		pg_discard(d);
		fr_buf_printf(err, "database '%s': out of memory recording the steps", pg_name(d));
		return -1;
	}
	if (!d->npend)
		return 0;
	if (pg_put_sql(d, &sql, err))
		goto done;
	pg_discard(d);
	r = P.PQexec(d->c, sql.ptr);
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot record the steps");
		goto done;
	}
	ret = 0;
done:
	pg_discard(d);
	P.PQclear(r);
	fr_buf_release(&sql);
	return ret;
}

/*
 * The pending records' INSERT and then COMMIT, as one query string: one
 * round trip where the two took two (a step of `transaction: step` on
 * PostgreSQL is then BEGIN, its SQL and this, as psql's BEGIN, statement,
 * COMMIT). On success *commit is COMMIT's result (PQclear it; NULL when
 * the connection went before it came); when the INSERT fails the server
 * runs nothing after it, the transaction stays open and failed, and -1
 * says why.
 */
static int pg_put_commit(pg_db *d, PGresult **commit, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r;
	int ret = -1, sent;

	*commit = NULL;
	if (pg_put_sql(d, &sql, err))
		goto done;
	fr_buf_puts(&sql, "; COMMIT");
	if (sql.oom) {
		fr_buf_printf(err, "database '%s': out of memory recording the steps", pg_name(d));
		goto done;
	}
	pg_discard(d);
	sent = P.PQsendQuery(d->c, sql.ptr);
	/* The INSERT's result, then COMMIT's (none when the INSERT failed), then NULL. */
	r = sent ? P.PQgetResult(d->c) : NULL;
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot record the steps");
		P.PQclear(r);
	} else {
		P.PQclear(r);
		*commit = P.PQgetResult(d->c);
		ret = 0;
	}
	while (sent && (r = P.PQgetResult(d->c)) != NULL)
		P.PQclear(r);
	/* Gone in the round trip: the COMMIT after the INSERT may have run. */
	if (ret && P.PQstatus(d->c) == CONNECTION_BAD)
		fr_buf_puts(err, " (whether the transaction committed is unknown; run 'ferry verify')");
done:
	pg_discard(d);
	fr_buf_release(&sql);
	return ret;
}

/* Keeps a copy of rec to send with the others (a later put of the same id replaces it). */
static int pg_pend(pg_db *d, const fr_record *rec)
{
	fr_record *c = NULL;
	size_t i;
	for (i = 0; i < d->npend; i++)
		if (!strcmp(d->pend[i].id, rec->id)) {
			c = &d->pend[i];
			break;
		}
	if (!c) {
		if (d->npend == d->cap_pend) {
			size_t ncap = d->cap_pend ? d->cap_pend * 2 : 64;
			fr_record *nv = fr_realloc(d->pend, ncap * sizeof *nv);
			if (!nv)
				return -1;
			d->pend = nv;
			d->cap_pend = ncap;
		}
		c = &d->pend[d->npend++];
	} else {
		fr_free(c->id);
		fr_free(c->checksum);
		fr_free(c->kind);
		fr_free(c->from);
		fr_free(c->to);
		fr_free(c->status);
		fr_free(c->undo);
	}
	*c = *rec;
	c->id = fr_strdup(rec->id);
	c->checksum = fr_strdup(rec->checksum);
	c->kind = fr_strdup(rec->kind);
	c->from = fr_strdup(rec->from);
	c->to = fr_strdup(rec->to);
	c->status = fr_strdup(rec->status);
	c->undo = fr_strdup(rec->undo);
	if (!c->id || (rec->checksum && !c->checksum) || (rec->kind && !c->kind) ||
	    (rec->from && !c->from) || (rec->to && !c->to) || (rec->status && !c->status) ||
	    (rec->undo && !c->undo))
		return -1;
	return 0;
}

static int pg_record_put(fr_db *db, const fr_record *rec, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	char seq[24], at[24], dur[24], run[24];
	const char *params[11];
	int ret = -1;

	if (!rec->id) {
		fr_buf_printf(err, "database '%s': a record needs a step id", pg_name(d));
		return -1;
	}
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	if (!db->in_tx && pg_per_tx(d)) {
		/* Per transaction: its settings and the lease's fence hold for the record too. */
		if (pg_begin(db, err))
			return -1;
		if (pg_record_put(db, rec, err) || pg_commit(db, err)) {
			fr_buf ignore = FR_BUF_INIT;
			pg_rollback(db, &ignore);
			fr_buf_release(&ignore);
			return -1;
		}
		return 0;
	}
	if (pg_need_table(d, err))
		goto done;
	if (db->in_tx && rec->seq > 0) {
		/* Sent with the others before anything else reads or commits. */
		if (pg_pend(d, rec)) {
			pg_discard(d);
			d->pend_lost = 1; /* until the transaction ends: no commit without them */
			fr_buf_printf(err, "database '%s': out of memory recording the step",
			              pg_name(d));
			goto done;
		}
		ret = 0;
		goto done;
	}
	if (pg_flush(d, err))
		goto done;
	if (pg_per_tx(d)) {
		/* A statement prepared in one server session is unknown to the next one. */
		r = NULL;
	} else if (!d->put_prepared) {
		r = P.PQprepare(d->c, PG_PUT_NAME, PG_PUT, 11, NULL);
		if (!pg_ok(r)) {
			pg_fail(d, r, err, "cannot record the step");
			goto done;
		}
		P.PQclear(r);
		r = NULL;
		d->put_prepared = 1;
	}
	snprintf(seq, sizeof seq, "%lld", (long long)rec->seq);
	snprintf(at, sizeof at, "%lld", (long long)rec->applied_at_ms);
	snprintf(dur, sizeof dur, "%lld", (long long)rec->duration_ms);
	snprintf(run, sizeof run, "%lld", (long long)rec->run_id);
	params[0] = rec->id;
	params[1] = seq;
	params[2] = rec->checksum;
	params[3] = rec->kind;
	params[4] = rec->from;
	params[5] = rec->to;
	params[6] = rec->status;
	params[7] = rec->undo;
	params[8] = at;
	params[9] = dur;
	params[10] = run;
	r = pg_per_tx(d) ? P.PQexecParams(d->c, PG_PUT, 11, NULL, params, NULL, NULL, 0) :
	                   P.PQexecPrepared(d->c, PG_PUT_NAME, 11, params, NULL, NULL, 0);
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot record the step");
		goto done;
	}
	ret = 0;
done:
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

static int pg_record_delete(fr_db *db, const char *id, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	const char *params[1] = { id };
	int yes, ret = -1;

	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	if (pg_steps_exist(d, &yes, err))
		goto done;
	if (!yes) {
		ret = 0;
		goto done;
	}
	r = P.PQexecParams(d->c, "DELETE FROM ferry.ferry_steps WHERE id = $1", 1, NULL, params,
	                   NULL, NULL, 0);
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot delete the record of a step");
		goto done;
	}
	ret = 0;
done:
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

static int pg_integrity(fr_db *db, fr_buf *findings, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	fr_buf msg = FR_BUF_INIT;
	int schema = 0, steps = 0, version = 0;

	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	r = P.PQexec(d->c, "SELECT 1");
	if (!r || P.PQresultStatus(r) != PGRES_TUPLES_OK || P.PQntuples(r) != 1 ||
	    strcmp(P.PQgetvalue(r, 0, 0), "1") != 0) {
		pg_put_error(d, r, &msg);
		fr_buf_printf(findings, "a round trip to the server (SELECT 1) failed: %s\n",
		              msg.ptr);
		goto done;
	}
	P.PQclear(r);
	r = NULL;
	if (pg_tables(d, &schema, &steps, &version, err)) {
		fr_buf_release(&msg);
		return -1;
	}
	if (steps) {
		r = P.PQexec(d->c, "SELECT count(*) FROM ferry.ferry_steps");
		if (!pg_ok(r)) {
			pg_put_error(d, r, &msg);
			fr_buf_printf(findings, "the record table ferry.ferry_steps cannot be read: %s\n",
			              msg.ptr);
		}
		P.PQclear(r);
		r = NULL;
		fr_buf_reset(&msg);
	}
	if (version) {
		r = P.PQexec(d->c, "SELECT count(*) = 1 FROM ferry.version");
		if (!pg_ok(r)) {
			pg_put_error(d, r, &msg);
			fr_buf_printf(findings, "the version table ferry.version cannot be read: %s\n",
			              msg.ptr);
		} else if (P.PQgetvalue(r, 0, 0)[0] != 't') {
			fr_buf_puts(findings, "the version table ferry.version does not hold exactly "
			                      "one row\n");
		}
	}
done:
	P.PQclear(r);
	fr_buf_release(&msg);
	pg_sync_tx(d);
	return 0;
}

static int pg_errcode(fr_db *db)
{
	const char *s = db ? ((pg_db *)db)->sqlstate : "";
	int code = 0, i;
	/* PostgreSQL's MAKE_SQLSTATE: six bits a character, the first lowest. */
	for (i = 0; i < 5 && s[i]; i++)
		code |= ((s[i] - '0') & 0x3F) << (6 * i);
	return code;
}

/* ---- the run lock ---- */

/*
 * Two locks, one of them per run (docs/locking.md says why each is safe):
 *  - session: the advisory lock on FR_PG_LOCK_KEY, held by this
 *    connection's session and gone with it; for a connection straight to
 *    the server;
 *  - lease: the one row of ferry.lock, taken in a short transaction of its
 *    own, renewed by a heartbeat thread on a connection of its own, and
 *    deleted at the end; a crashed holder's row is taken over once its
 *    expiry, kept by the server's clock, has passed. Behind a pooler in
 *    transaction mode, where consecutive transactions of one connection
 *    may run in different server sessions and a session lock holds nothing.
 * FERRY_PG_LOCK picks one (auto, the default: lease when a pooler is seen);
 * each refuses while the other is held, so replicas that reach the server
 * both ways still take turns.
 */
#define PG_LOCK_AUTO 0
#define PG_LOCK_SESSION 1
#define PG_LOCK_LEASE 2
#define PG_LEASE_DEFAULT_S 30
#define PG_TAKE_WAIT_MS 1000 /* one attempt's wait behind a holder's open transaction */
#define PG_NO_TABLE(st) ((st) && (!strcmp((st), "42P01") || !strcmp((st), "3F000")))

#define PG_CREATE_LOCK \
	"CREATE TABLE IF NOT EXISTS ferry.lock (" \
	"holder text PRIMARY KEY, one boolean NOT NULL DEFAULT true UNIQUE CHECK (one), " \
	"application text NOT NULL, host text NOT NULL, pid bigint NOT NULL, " \
	"acquired timestamptz NOT NULL, expires timestamptz NOT NULL)"
/* Any session of this database holding the advisory lock (ours included). */
#define PG_ADVISORY_HELD \
	"SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted " \
	"AND l.classid = " FR_PG_LOCK_CLASSID " AND l.objid = " FR_PG_LOCK_OBJID \
	" AND l.objsubid = 1 AND l.database = " \
	"(SELECT oid FROM pg_database WHERE datname = current_database()))"
/*
 * The advisory side's look at the lease: an expired row is removed as a
 * taker would (waiting, as a taker does, for a transaction that holds it),
 * so that its stalled holder's next transaction fails its fence.
 */
#define PG_LEASE_LIVE \
	"SET LOCAL lock_timeout = 1000; DELETE FROM ferry.lock WHERE expires < now(); " \
	"SELECT EXISTS (SELECT 1 FROM ferry.lock)"

/* FERRY_PG_LOCK: PG_LOCK_*, or -1 when it says something else. */
static int pg_lock_mode(void)
{
	const char *m = getenv("FERRY_PG_LOCK");
	if (!m || !*m || !strcmp(m, "auto"))
		return PG_LOCK_AUTO;
	if (!strcmp(m, "session"))
		return PG_LOCK_SESSION;
	if (!strcmp(m, "lease"))
		return PG_LOCK_LEASE;
	return -1;
}

/* FERRY_PG_LEASE_SECONDS (1 to 3600; default 30), in ms. */
static int pg_lease_length_ms(void)
{
	const char *s = getenv("FERRY_PG_LEASE_SECONDS");
	char *end = NULL;
	long v = s && *s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || v < 1 || v > 3600)
		v = PG_LEASE_DEFAULT_S;
	return (int)v * 1000;
}

/* Appends s as an SQL literal, right whatever standard_conforming_strings says. */
static void pg_put_literal(fr_buf *b, const char *s, size_t n)
{
	size_t i;
	if (memchr(s, '\\', n))
		fr_buf_putc(b, 'E');
	fr_buf_putc(b, '\'');
	for (i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			fr_buf_putc(b, s[i]);
		fr_buf_putc(b, s[i]);
	}
	fr_buf_putc(b, '\'');
}

/*
 * The url's options ("-c search_path=app", "-csearch_path=app",
 * "--search-path=app", words split as the server splits them), or
 * PGOPTIONS when the url has none, as one "SELECT set_config(name, value,
 * true), ..." that gives them to a transaction: a pooler does not keep the
 * session the server was given them in (PgBouncer refuses or ignores the
 * startup parameter). d->settings stays NULL when there are none. 0, or -1
 * on out of memory.
 */
static int pg_parse_settings(pg_db *d, const char *opts)
{
	fr_buf sql = FR_BUF_INIT, word = FR_BUF_INIT;
	const char *p = opts, *w, *eq;
	int want_c = 0, n = 0, ret = 0;
	size_t i;
	if (!p || !*p)
		p = getenv("PGOPTIONS");
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		fr_buf_reset(&word);
		while (*p && !strchr(" \t\n\r", *p)) {
			if (*p == '\\' && p[1])
				p++;
			fr_buf_putc(&word, *p++);
		}
		w = word.ptr;
		if (want_c)
			want_c = 0;
		else if (!strcmp(w, "-c") && (want_c = 1))
			continue;
		else if (!strncmp(w, "-c", 2) || !strncmp(w, "--", 2))
			w += 2;
		else
			continue; /* another switch: nothing ferry keeps per transaction */
		if (!(eq = strchr(w, '=')) || eq == w)
			continue;
		fr_buf_puts(&sql, n++ ? ", set_config(" : "SELECT set_config(");
		for (i = 0; w + i < eq; i++)
			if (w[i] == '-')
				word.ptr[(size_t)(w - word.ptr) + i] = '_'; /* as the server reads a name */
		pg_put_literal(&sql, w, (size_t)(eq - w));
		fr_buf_puts(&sql, ", ");
		pg_put_literal(&sql, eq + 1, strlen(eq + 1));
		fr_buf_puts(&sql, ", true)");
	}
	if (sql.oom || word.oom)
		ret = -1;
	else if (n && !(d->settings = fr_buf_detach(&sql)))
		ret = -1;
	fr_buf_release(&sql);
	fr_buf_release(&word);
	return ret;
}

/* Settings kept per transaction, not per session: behind a pooler, or under a lease. */
static int pg_per_tx(const pg_db *d)
{
	return d->pooled == 1 || d->lease;
}

/*
 * Whether a pooler stands between us and the server: the session that
 * answers is not the one the connection was told of at its start (a pooler
 * hands out a cancel key of its own: PgBouncer, Odyssey, PgCat, Supavisor).
 */
static int pg_detect(pg_db *d, fr_buf *err)
{
	PGresult *r = NULL;
	if (d->pooled >= 0)
		return 0;
	if (pg_query(d, "SELECT pg_backend_pid()", 0, NULL, &r, "cannot ask for the session",
	             err))
		return -1;
	d->pooled = strtol(P.PQgetvalue(r, 0, 0), NULL, 10) != P.PQbackendPID(d->c);
	P.PQclear(r);
	return 0;
}

/*
 * What a transaction is given when settings are per transaction: the url's
 * settings, the lock timeout asked for, and under a lease the fence: the
 * lease row locked FOR KEY SHARE, which no taker's DELETE gets past until
 * the transaction ends, and which the heartbeat's UPDATE does not wait for.
 */
static void pg_tx_prefix(pg_db *d, fr_buf *b, int fence)
{
	if (d->settings)
		fr_buf_printf(b, "%s; ", d->settings);
	if (d->lock_timeout_ms > 0)
		fr_buf_printf(b, "SET LOCAL lock_timeout = %d; ", d->lock_timeout_ms);
	/* A run killed in the middle of a statement: its transaction (and fence) end soon. */
	if (P.PQserverVersion(d->c) >= 140000)
		fr_buf_puts(b, "SET LOCAL client_connection_check_interval = 1000; ");
	if (fence) {
		fr_buf_puts(b, "SELECT 1 FROM ferry.lock WHERE holder = ");
		pg_put_literal(b, d->token, strlen(d->token));
		fr_buf_puts(b, " FOR KEY SHARE; ");
	}
}

/*
 * The heartbeat's verdict, read by the engine's thread: 1 when the lease is
 * gone (its row was taken over), 0 while it holds. When no renewal got
 * through for a whole lease (a pool too busy to serve the heartbeat), the
 * row itself is asked on the engine's connection.
 */
static int pg_lease_lost(pg_db *d)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r;
	int lost, stale;
	if (!d->beat_on)
		return 0;
	pthread_mutex_lock(&d->beat_mu);
	lost = d->lease_lost;
	stale = d->lease_stale;
	pthread_mutex_unlock(&d->beat_mu);
	if (lost || !stale)
		return lost;
	fr_buf_puts(&sql, "SELECT 1 FROM ferry.lock WHERE holder = ");
	pg_put_literal(&sql, d->token, strlen(d->token));
	r = sql.oom ? NULL : P.PQexec(d->c, sql.ptr);
	lost = !r || P.PQresultStatus(r) != PGRES_TUPLES_OK || P.PQntuples(r) != 1;
	P.PQclear(r);
	fr_buf_release(&sql);
	return lost;
}

static int pg_fail_lost(pg_db *d, fr_buf *err)
{
	pg_set_state(d, "55P03");
	fr_buf_printf(err, "database '%s': this run no longer holds its lease in ferry.lock (it "
	                   "was not renewed in time and another run took it over); nothing more "
	                   "was done (run 'ferry status')", pg_name(d));
	return -1;
}

/*
 * BEGIN with what the transaction needs: one round trip. Behind a pooler
 * that is every setting (pg_tx_prefix); on a direct connection, the
 * lock_timeout last asked for (pg_carry_lock_timeout). When it is not
 * known yet whether a pooler is in front and the url has settings, BEGIN
 * asks (and a second round trip gives them when one is).
 */
static int pg_begin_tx(pg_db *d, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r = NULL;
	int fence = d->lease && d->locked, ret = -1, ask = d->pooled < 0 && d->settings;
	int carry = !ask && pg_carry_lock_timeout(d);
	if (fence && pg_lease_lost(d))
		return pg_fail_lost(d, err);
	fr_buf_puts(&sql, "BEGIN; ");
	if (ask)
		fr_buf_puts(&sql, "SELECT pg_backend_pid(); ");
	else if (pg_per_tx(d))
		pg_tx_prefix(d, &sql, fence);
	else if (carry)
		fr_buf_printf(&sql, "SET LOCAL lock_timeout = %d; ", d->lock_timeout_ms);
	if (sql.oom) {
		fr_buf_printf(err, "database '%s': out of memory", pg_name(d));
		goto done;
	}
	r = P.PQexec(d->c, sql.ptr);
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot begin a transaction");
		goto done;
	}
	d->base.in_tx = 1;
	if (ask) {
		d->pooled = strtol(P.PQgetvalue(r, 0, 0), NULL, 10) != P.PQbackendPID(d->c);
		if (pg_per_tx(d)) {
			P.PQclear(r);
			fr_buf_reset(&sql);
			pg_tx_prefix(d, &sql, fence);
			r = P.PQexec(d->c, sql.ptr);
			if (!pg_ok(r)) {
				pg_fail(d, r, err, "cannot give the transaction its settings");
				goto done;
			}
		}
	}
	if ((pg_per_tx(d) && d->lock_timeout_ms > 0) || carry)
		d->lt_tx = d->lock_timeout_ms;
	if (fence && P.PQntuples(r) != 1) {
		pg_fail_lost(d, err);
		goto done;
	}
	ret = 0;
done:
	P.PQclear(r);
	fr_buf_release(&sql);
	/* Begun but not given its settings: not a transaction to go on in. */
	if (ret && (d->base.in_tx || P.PQtransactionStatus(d->c) == PQTRANS_INERROR)) {
		r = P.PQexec(d->c, "ROLLBACK");
		P.PQclear(r);
	}
	pg_sync_tx(d);
	if (!ret)
		d->base.in_tx = 1;
	return ret;
}

/*
 * The lock goes when the session ends; a holder killed in the middle of a
 * long statement would keep its session (and the lock) until the statement
 * ends, as the server looks at the client only when it talks to it. Since
 * PostgreSQL 14 it can look every second; older servers refuse the
 * setting, which changes nothing else. Never behind a pooler: the setting
 * would stay with a server session that others use next.
 */
static void pg_watch_client(pg_db *d)
{
	PGresult *r;
	if (P.PQserverVersion(d->c) < 140000 || pg_per_tx(d))
		return;
	r = P.PQexec(d->c, "SET client_connection_check_interval = 1000");
	P.PQclear(r);
}

/*
 * Takes the advisory lock without waiting; *got = 1 when held. While it
 * is not known whether a pooler is in front, the same query asks, and
 * takes nothing when one is (d->pooled = 1, *got = 0).
 */
static int pg_try_lock(pg_db *d, int *got, fr_buf *err)
{
	PGresult *r = NULL;
	char sql[160];
	*got = 0;
	if (d->pooled < 0)
		snprintf(sql, sizeof sql, "SELECT CASE WHEN pg_backend_pid() = %d THEN "
		                          "pg_try_advisory_lock(" FR_PG_LOCK_KEY ") END",
		         P.PQbackendPID(d->c));
	else
		snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(" FR_PG_LOCK_KEY ")");
	if (pg_query(d, sql, 0, NULL, &r, "cannot take the advisory lock", err))
		return -1;
	if (P.PQntuples(r) == 1 && P.PQgetisnull(r, 0, 0)) {
		d->pooled = 1;
	} else {
		d->pooled = 0;
		*got = P.PQntuples(r) == 1 && P.PQgetvalue(r, 0, 0)[0] == 't';
	}
	P.PQclear(r);
	return 0;
}

/*
 * With the advisory lock held: whether a lease holder runs too (a replica
 * behind a pooler). Asked after the lock was granted, as the lease side
 * asks after its row committed: of two runners, the later one sees the
 * other. One round trip, with client_connection_check_interval, while
 * ferry.lock was never made (a statement that cannot fail: an error would
 * take the SET with it); a second one to read it when it was.
 */
static int pg_lease_live(pg_db *d, int *live, fr_buf *err)
{
	PGresult *r;
	int ret = 0, watch = P.PQserverVersion(d->c) >= 140000, table = 0;
	*live = 0;
	if (!watch)
		pg_watch_client(d);
	r = P.PQexec(d->c, watch ? "SET client_connection_check_interval = 1000; "
	                           "SELECT to_regclass('ferry.lock') IS NOT NULL" :
	                           "SELECT to_regclass('ferry.lock') IS NOT NULL");
	if (!pg_ok(r))
		ret = pg_fail(d, r, err, "cannot read the schema");
	else
		table = P.PQntuples(r) == 1 && P.PQgetvalue(r, 0, 0)[0] == 't';
	P.PQclear(r);
	if (ret || !table)
		return ret;
	r = P.PQexec(d->c, PG_LEASE_LIVE);
	if (pg_ok(r)) {
		*live = P.PQntuples(r) == 1 && P.PQgetvalue(r, 0, 0)[0] == 't';
	} else {
		const char *st = P.PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && (!strcmp(st, "55P03") || !strcmp(st, "40P01")))
			*live = 1; /* a holder's transaction has its row: held */
		else if (!PG_NO_TABLE(st))
			ret = pg_fail(d, r, err, "cannot read ferry.lock");
	}
	P.PQclear(r);
	return ret;
}

/* Creates ferry.lock (and the schema), when replicas race to it too. */
static int pg_lease_table(pg_db *d, fr_buf *err)
{
	PGresult *r = NULL;
	int tries;
	for (tries = 0; tries < 5; tries++) {
		const char *st;
		P.PQclear(r);
		r = P.PQexec(d->c, PG_CREATE_SCHEMA "; " PG_CREATE_LOCK);
		if (pg_ok(r)) {
			P.PQclear(r);
			return 0;
		}
		st = P.PQresultErrorField(r, PG_DIAG_SQLSTATE);
		/* Two IF NOT EXISTS at once: one of them fails on the catalog's unique index. */
		if (!st || (strcmp(st, "23505") && strcmp(st, "42P07") && strcmp(st, "42P06")))
			break;
	}
	pg_fail(d, r, err, "cannot create ferry.lock");
	P.PQclear(r);
	return -1;
}

/* The heartbeat's one renewal: 1 renewed, 0 the row is gone, -1 no answer. */
static int pg_beat_once(pg_db *d, const char *sql)
{
	PGresult *r;
	int ret = -1;
	if (!d->beat_c || P.PQstatus(d->beat_c) != CONNECTION_OK) {
		if (d->beat_c)
			P.PQfinish(d->beat_c);
		d->beat_c = pg_connect(d);
		if (!d->beat_c || P.PQstatus(d->beat_c) != CONNECTION_OK)
			return -1;
		P.PQsetNoticeProcessor(d->beat_c, pg_notice_ignore, NULL);
	}
	r = P.PQexec(d->beat_c, sql);
	if (r && P.PQresultStatus(r) == PGRES_TUPLES_OK)
		ret = P.PQntuples(r) == 1;
	P.PQclear(r);
	return ret;
}

static void pg_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * The heartbeat: renews the lease every third of its length, on its own
 * connection, so that a long statement of the engine's thread does not
 * delay it; the lease is lost when its row is gone, or when no renewal got
 * through for a whole lease.
 */
static void *pg_beat_main(void *arg)
{
	pg_db *d = arg;
	fr_buf sql = FR_BUF_INIT;
	struct timespec ts;
	double last_ok = fr_mono_ms();
	int every = d->lease_ms / 3 > 100 ? d->lease_ms / 3 : 100, got;
	fr_buf_printf(&sql, "UPDATE ferry.lock SET expires = now() + interval '%d milliseconds' "
	                    "WHERE holder = ", d->lease_ms);
	pg_put_literal(&sql, d->token, strlen(d->token));
	fr_buf_puts(&sql, " RETURNING 1");
	pthread_mutex_lock(&d->beat_mu);
	while (!d->beat_stop) {
		pg_deadline(&ts, every);
		while (!d->beat_stop &&
		       pthread_cond_timedwait(&d->beat_cv, &d->beat_mu, &ts) != ETIMEDOUT)
			;
		if (d->beat_stop)
			break;
		pthread_mutex_unlock(&d->beat_mu);
		got = sql.oom ? -1 : pg_beat_once(d, sql.ptr);
		pthread_mutex_lock(&d->beat_mu);
		if (got == 1)
			last_ok = fr_mono_ms();
		d->lease_lost |= got == 0;
		d->lease_stale = got != 1 && fr_mono_ms() - last_ok > d->lease_ms;
	}
	pthread_mutex_unlock(&d->beat_mu);
	fr_buf_release(&sql);
	return NULL;
}

static void pg_beat_end(pg_db *d)
{
	if (!d->beat_on)
		return;
	pthread_mutex_lock(&d->beat_mu);
	d->beat_stop = 1;
	pthread_cond_signal(&d->beat_cv);
	pthread_mutex_unlock(&d->beat_mu);
	pthread_join(d->beat, NULL);
	d->beat_on = 0;
}

/*
 * One attempt at the lease, in a transaction of its own: a row whose
 * expiry passed (by the server's clock) is deleted, then ours inserted
 * unless another one is there. A holder's open transaction keeps its row
 * locked (the fence), so the DELETE waits: at most PG_TAKE_WAIT_MS, then
 * the attempt counts as "held". After the commit, a session holding the
 * advisory lock (a replica connected directly) makes us give it back.
 */
static int pg_lease_take(pg_db *d, int *got, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r = NULL;
	char host[64] = "";
	int ret = -1, tries;
	*got = 0;
	gethostname(host, sizeof host - 1);
	fr_buf_printf(&sql, "SET LOCAL lock_timeout = %d; "
	                    "DELETE FROM ferry.lock WHERE expires < now(); "
	                    "INSERT INTO ferry.lock (holder, application, host, pid, acquired, "
	                    "expires) VALUES (", PG_TAKE_WAIT_MS);
	pg_put_literal(&sql, d->token, strlen(d->token));
	fr_buf_puts(&sql, ", ");
	pg_put_literal(&sql, d->appname, strlen(d->appname));
	fr_buf_puts(&sql, ", ");
	pg_put_literal(&sql, host[0] ? host : "-", strlen(host[0] ? host : "-"));
	fr_buf_printf(&sql, ", %ld, now(), now() + interval '%d milliseconds') "
	                    "ON CONFLICT DO NOTHING RETURNING 1", (long)getpid(), d->lease_ms);
	if (sql.oom) {
		fr_buf_printf(err, "database '%s': out of memory", pg_name(d));
		goto done;
	}
	for (tries = 0; tries < 2; tries++) {
		const char *st;
		P.PQclear(r);
		r = P.PQexec(d->c, sql.ptr);
		if (pg_ok(r))
			break;
		st = P.PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && (!strcmp(st, "55P03") || !strcmp(st, "40P01") || !strcmp(st, "40001"))) {
			ret = 0; /* a holder's transaction is open: held */
			goto done;
		}
		if (tries || !PG_NO_TABLE(st)) {
			pg_fail(d, r, err, "cannot take the lease in ferry.lock");
			goto done;
		}
		if (pg_lease_table(d, err))
			goto done;
	}
	*got = P.PQntuples(r) == 1;
	P.PQclear(r);
	r = NULL;
	if (*got) {
		r = P.PQexec(d->c, PG_ADVISORY_HELD);
		if (!pg_ok(r) || P.PQgetvalue(r, 0, 0)[0] == 't') {
			P.PQclear(r);
			fr_buf_reset(&sql);
			fr_buf_puts(&sql, "DELETE FROM ferry.lock WHERE holder = ");
			pg_put_literal(&sql, d->token, strlen(d->token));
			r = P.PQexec(d->c, sql.ptr);
			*got = 0;
		}
	}
	ret = 0;
done:
	P.PQclear(r);
	fr_buf_release(&sql);
	return ret;
}

/* Starts the heartbeat of the lease just taken. 0, or -1 (the lease given back). */
static int pg_beat_start(pg_db *d, fr_buf *err)
{
	int e;
	d->beat_stop = d->lease_lost = d->lease_stale = 0;
	if ((e = fr_thread_start(&d->beat, pg_beat_main, d)) != 0) {
		fr_buf_printf(err, "database '%s': cannot start the lease's heartbeat: %s",
		              pg_name(d), strerror(e));
		return -1;
	}
	d->beat_on = 1;
	return 0;
}

/* Gives the lease back: the heartbeat ends, the row goes. */
static void pg_lease_release(pg_db *d)
{
	fr_buf sql = FR_BUF_INIT;
	PGconn *c = P.PQstatus(d->c) == CONNECTION_OK ? d->c : d->beat_c;
	PGresult *r;
	pg_beat_end(d);
	fr_buf_puts(&sql, "DELETE FROM ferry.lock WHERE holder = ");
	pg_put_literal(&sql, d->token, strlen(d->token));
	if (c && !sql.oom && P.PQstatus(c) == CONNECTION_OK) {
		r = P.PQexec(c, sql.ptr);
		P.PQclear(r);
	}
	fr_buf_release(&sql);
	if (d->beat_c)
		P.PQfinish(d->beat_c);
	d->beat_c = NULL;
}

/* Appends who holds the advisory lock; nothing when nobody (else) does. */
static int pg_holder(pg_db *d, fr_buf *out, fr_buf *err)
{
	PGresult *r = NULL;
	size_t from = out->len;
	if (pg_query(d, PG_HOLDER, 0, NULL, &r, "cannot read pg_locks", err))
		return -1;
	if (P.PQntuples(r) == 1) {
		const char *app = P.PQgetvalue(r, 0, 1), *since = P.PQgetvalue(r, 0, 3);
		fr_buf_printf(out, "session pid %s", P.PQgetvalue(r, 0, 0));
		if (*app)
			fr_buf_printf(out, " (application '%s'", app);
		else
			fr_buf_puts(out, " (");
		fr_buf_printf(out, "%sfrom '%s'", *app ? ", " : "", P.PQgetvalue(r, 0, 2));
		if (*since)
			fr_buf_printf(out, ", connected since %s", since);
		fr_buf_putc(out, ')');
		pg_scrub(d, out, from);
	}
	P.PQclear(r);
	return 0;
}

/* Appends who holds a live lease (not this run); nothing when nobody does. */
static int pg_lease_holder(pg_db *d, fr_buf *out, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGresult *r;
	size_t from = out->len;
	int ret = 0;
	fr_buf_puts(&sql, "SELECT application, host, pid, to_char(acquired AT TIME ZONE 'UTC', "
	                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	                  "ceil(extract(epoch FROM expires - now()))::bigint "
	                  "FROM ferry.lock WHERE expires > now() AND holder <> ");
	pg_put_literal(&sql, d->token, strlen(d->token));
	r = P.PQexec(d->c, sql.ptr);
	if (!pg_ok(r)) {
		if (!PG_NO_TABLE(P.PQresultErrorField(r, PG_DIAG_SQLSTATE)))
			ret = pg_fail(d, r, err, "cannot read ferry.lock");
	} else if (P.PQntuples(r) == 1) {
		fr_buf_printf(out, "lease of '%s' in ferry.lock (pid %s on '%s', since %s; expires "
		                   "in %s s unless renewed)", P.PQgetvalue(r, 0, 0),
		              P.PQgetvalue(r, 0, 2), P.PQgetvalue(r, 0, 1), P.PQgetvalue(r, 0, 3),
		              P.PQgetvalue(r, 0, 4));
		pg_scrub(d, out, from);
	}
	P.PQclear(r);
	fr_buf_release(&sql);
	return ret;
}

/* Either lock's holder: the advisory lock's first, then a lease's. */
static int pg_any_holder(pg_db *d, fr_buf *out, fr_buf *err)
{
	size_t from = out->len;
	if (pg_holder(d, out, err))
		return -1;
	return out->len > from ? 0 : pg_lease_holder(d, out, err);
}

static int pg_lock(fr_db *db, int wait_seconds, volatile sig_atomic_t *stop, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	fr_buf who = FR_BUF_INIT;
	double deadline = fr_mono_ms() + (wait_seconds > 0 ? wait_seconds : 0) * 1000.0;
	int got, live, rc = FERRY_EFAILED, mode = pg_lock_mode();

	if (d->locked)
		return 0;
	if (mode < 0) {
		fr_buf_printf(err, "FERRY_PG_LOCK is '%s': use auto, session or lease",
		              getenv("FERRY_PG_LOCK"));
		return FERRY_EINVALID;
	}
	if (!db->in_tx && pg_ensure(d, err))
		return FERRY_EFAILED;
	d->lease = mode == PG_LOCK_LEASE;
	d->lease_ms = pg_lease_length_ms();
	if (!d->token[0])
		snprintf(d->token, sizeof d->token, "%s#%lld", d->appname, (long long)fr_now_ms());
	for (;;) {
		struct timespec ts = { 0, PG_LOCK_POLL_MS * 1000000L };
		if (!d->lease) {
			if (pg_try_lock(d, &got, err))
				goto done;
			if (d->pooled == 1 && mode == PG_LOCK_AUTO) {
				d->lease = 1; /* a pooler in front: a session lock would hold nothing */
				continue;
			}
			if (got && pg_lease_live(d, &live, err)) {
				P.PQclear(P.PQexec(d->c, "SELECT pg_advisory_unlock(" FR_PG_LOCK_KEY ")"));
				goto done;
			}
			if (got && !live) {
				d->locked = 1;
				rc = 0;
				goto done;
			}
			if (got) /* a lease holder runs: give the advisory lock back, wait */
				P.PQclear(P.PQexec(d->c, "SELECT pg_advisory_unlock(" FR_PG_LOCK_KEY ")"));
		} else {
			if (pg_lease_take(d, &got, err))
				goto done;
			if (got) {
				if (pg_beat_start(d, err)) {
					pg_lease_release(d);
					goto done;
				}
				d->locked = 1;
				rc = 0;
				goto done;
			}
		}
		if (stop && *stop) {
			fr_buf_printf(err, "database '%s': interrupted while waiting for its %s; nothing "
			                   "was changed", pg_name(d),
			              d->lease ? "lease in ferry.lock" : "advisory lock");
			rc = FERRY_EINTERRUPTED;
			goto done;
		}
		if (fr_mono_ms() >= deadline) {
			fr_buf ignore = FR_BUF_INIT;
			pg_any_holder(d, &who, &ignore);
			fr_buf_release(&ignore);
			fr_buf_printf(err, "database '%s': another ferry run holds its %s%s%s; "
			                   "wait for it, or use --wait SECONDS", pg_name(d),
			              d->lease ? "lock (lease in ferry.lock)" : "advisory lock",
			              who.len ? ": " : "", who.ptr);
			rc = FERRY_ELOCKED;
			goto done;
		}
		nanosleep(&ts, NULL);
	}
done:
	fr_buf_release(&who);
	pg_sync_tx(d);
	return rc;
}

static void pg_unlock(fr_db *db)
{
	pg_db *d = (pg_db *)db;
	PGresult *r;
	if (!d || !d->locked)
		return;
	d->locked = 0;
	if (d->lease) {
		pg_lease_release(d);
		pg_sync_tx(d);
		return;
	}
	if (P.PQstatus(d->c) != CONNECTION_OK)
		return; /* the lock went with the session */
	r = P.PQexec(d->c, "SELECT pg_advisory_unlock(" FR_PG_LOCK_KEY ")");
	P.PQclear(r);
	pg_sync_tx(d);
}

static int pg_lock_holder(fr_db *db, fr_buf *out, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	int ret;
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	ret = pg_any_holder(d, out, err);
	pg_sync_tx(d);
	return ret;
}

static int pg_lock_kind(fr_db *db, const char **kind, fr_buf *detail, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	int mode = pg_lock_mode(), ret = 0;
	*kind = NULL;
	if (mode < 0) {
		fr_buf_printf(err, "FERRY_PG_LOCK is '%s': use auto, session or lease",
		              getenv("FERRY_PG_LOCK"));
		return -1;
	}
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	if (mode != PG_LOCK_LEASE && (ret = pg_detect(d, err)) != 0)
		goto done;
	if (mode == PG_LOCK_LEASE || (mode == PG_LOCK_AUTO && d->pooled == 1)) {
		*kind = "lease";
		fr_buf_printf(detail, "a lease in ferry.lock (%d s, renewed every %d s; settings per "
		                      "transaction)", pg_lease_length_ms() / 1000,
		              pg_lease_length_ms() / 3000 ? pg_lease_length_ms() / 3000 : 1);
		fr_buf_puts(detail, mode == PG_LOCK_LEASE ? ": FERRY_PG_LOCK=lease" :
		                                            ": a connection pooler is in front of the "
		                                            "server");
	} else {
		*kind = "session";
		fr_buf_puts(detail, "a session advisory lock (key " FR_PG_LOCK_KEY ")");
		if (mode == PG_LOCK_AUTO)
			fr_buf_puts(detail, ": connected to the server directly");
		else if (d->pooled == 1)
			fr_buf_puts(detail, ": FERRY_PG_LOCK=session, though a connection pooler is in "
			                    "front of the server, where this lock holds nothing");
		else
			fr_buf_puts(detail, ": FERRY_PG_LOCK=session");
	}
done:
	pg_sync_tx(d);
	return ret;
}

static int pg_set_lock_timeout(fr_db *db, int ms, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	char sql[64];
	if (ms < 0)
		ms = 0;
	if (!db->in_tx && pg_ensure(d, err))
		return -1;
	d->lock_timeout_ms = ms;
	/* Per transaction: each transaction, and each statement outside one, is given it. */
	if (!db->in_tx && pg_per_tx(d))
		return 0;
	/*
	 * Already in force: a group of 1,000 steps sets it once, not 1,000
	 * round trips. Scripts that may change it make the driver forget.
	 */
	if (db->in_tx ? d->lt_tx == ms || (!pg_per_tx(d) && d->lt_tx < 0 && d->lt_session == ms) :
	                d->lt_session == ms)
		return 0;
	/* SET LOCAL ends with the transaction; outside one, the next step sets its own. */
	snprintf(sql, sizeof sql, "SET %slock_timeout = %d", db->in_tx ? "LOCAL " : "", ms);
	if (pg_run(d, sql, "cannot set lock_timeout", err)) {
		pg_sync_tx(d);
		return -1;
	}
	if (db->in_tx)
		d->lt_tx = ms;
	else
		d->lt_session = ms;
	return 0;
}

/* ---- the shared version ---- */

static int pg_version_get(fr_db *db, fr_buf *out, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	int schema, steps, version, ret = -1;

	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	if (!db->in_tx) {
		/* One round trip on the start-up path: a missing table is just no version. */
		r = P.PQexec(d->c, PG_GET_VERSION);
		if (pg_ok(r)) {
			ret = 0;
			if (P.PQntuples(r) == 1)
				fr_buf_puts(out, P.PQgetvalue(r, 0, 0));
			goto done;
		}
		{
			const char *st = P.PQresultErrorField(r, PG_DIAG_SQLSTATE);
			if (st && (!strcmp(st, "42P01") || !strcmp(st, "3F000"))) {
				ret = 0;
				goto done;
			}
		}
		pg_fail(d, r, err, "cannot read the version from ferry.version");
		goto done;
	}
	if (pg_tables(d, &schema, &steps, &version, err))
		goto done;
	ret = 0;
	if (!version)
		goto done;
	if (pg_query(d, PG_GET_VERSION, 0, NULL, &r,
	             "cannot read the version from ferry.version", err)) {
		ret = -1;
		goto done;
	}
	if (P.PQntuples(r) == 1)
		fr_buf_puts(out, P.PQgetvalue(r, 0, 0));
done:
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

static int pg_version_set(fr_db *db, const char *v, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	PGresult *r = NULL;
	const char *params[1] = { v };
	int schema, steps, version, ret = -1;

	if ((!db->in_tx && pg_ensure(d, err)) || pg_flush(d, err))
		return -1;
	if (pg_tables(d, &schema, &steps, &version, err))
		goto done;
	if (!version && pg_create(d, PG_CREATE_VERSION, schema, err))
		goto done;
	r = P.PQexecParams(d->c, "INSERT INTO ferry.version (id, version, updated_at) "
	                         "VALUES (1, $1, now()) ON CONFLICT (id) DO UPDATE SET "
	                         "version = EXCLUDED.version, updated_at = EXCLUDED.updated_at",
	                   1, NULL, params, NULL, NULL, 0);
	if (!pg_ok(r)) {
		pg_fail(d, r, err, "cannot record the version in ferry.version");
		goto done;
	}
	ret = 0;
done:
	P.PQclear(r);
	pg_sync_tx(d);
	return ret;
}

/* ---- snapshot and restore: pg_dump and pg_restore ---- */

/* The absolute path of tool found in PATH, or NULL. */
static char *pg_which(const char *tool)
{
	const char *path = getenv("PATH"), *p, *end;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		fr_buf b = FR_BUF_INIT;
		struct stat sb;
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		if (end > p) {
			fr_buf_printf(&b, "%.*s/%s", (int)(end - p), p, tool);
			if (!b.oom && stat(b.ptr, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    access(b.ptr, X_OK) == 0)
				return fr_buf_detach(&b);
		}
		fr_buf_release(&b);
		if (!*end)
			return NULL;
	}
}

static char *pg_find_tool(pg_db *d, const char *tool, fr_buf *err)
{
	char *path = pg_which(tool);
	if (!path) {
		int major = P.PQserverVersion(d->c) / 10000;
		if (major < 10)
			major = 15;
		fr_buf_printf(err, "database '%s': '%s' is not installed (not found in PATH); install "
		                   "the package 'postgresql-client-%d' (Debian, Ubuntu) or your "
		                   "system's PostgreSQL %d client tools",
		              pg_name(d), tool, major, major);
	}
	return path;
}

/* Each line a tool writes to stderr, into diag (its first 8 KiB). */
static void pg_tool_line(void *arg, const char *line)
{
	fr_buf *diag = arg;
	if (diag->len < 8192) {
		fr_buf_puts(diag, line);
		fr_buf_putc(diag, '\n');
	}
}

/*
 * Runs argv (argv[0] an absolute path) through util/proc.h, with PGPASSWORD
 * set to the url's password when it has one, stdin from /dev/null; its
 * stdout into out (NULL: discarded), its stderr (first 8 KiB) into diag.
 * The tool stays in ferry's process group, so a terminal's ^C stops it too.
 * Returns the exit status (-1 with err set when it could not run or was
 * killed).
 */
static int pg_spawn(pg_db *d, char *const argv[], fr_buf *out, fr_buf *diag, fr_buf *err)
{
	fr_buf pw = FR_BUF_INIT, sink = FR_BUF_INIT;
	const char *env[2] = { NULL, NULL };
	fr_proc p;
	fr_proc_result r;
	int ret = -1;

	if (d->password) {
		fr_buf_printf(&pw, "PGPASSWORD=%s", d->password);
		if (pw.oom) {
			fr_buf_puts(err, "out of memory");
			goto done;
		}
		env[0] = pw.ptr;
	}
	memset(&p, 0, sizeof p);
	p.argv = (const char *const *)argv;
	p.env = env;
	p.same_pgroup = 1;
	p.line = pg_tool_line;
	p.line_arg = diag;
	p.out = out ? out : &sink;
	if (fr_proc_run(&p, &r, err))
		goto done;
	if (r.status >= 0)
		ret = r.status;
	else
		fr_buf_printf(err, "'%s' was killed by signal %d", argv[0], r.signo);
done:
	/* The buffer held the password: wipe it before it goes back. */
	if (pw.cap)
		memset(pw.ptr, 0, pw.cap);
	fr_buf_release(&pw);
	fr_buf_release(&sink);
	pg_scrub(d, err, 0);
	pg_scrub(d, diag, 0);
	return ret;
}

static int pg_snapshot(fr_db *db, const char *path, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	fr_buf file = FR_BUF_INIT, dbarg = FR_BUF_INIT, diag = FR_BUF_INIT, msg = FR_BUF_INIT;
	char *tool = NULL;
	int fd, st, ret = -1;

	tool = pg_find_tool(d, "pg_dump", err);
	if (!tool || !path) {
		ret = tool ? 0 : -1; /* no path: only tell whether a snapshot can be taken */
		goto done;
	}
	/* Created private first: pg_dump truncates it and keeps the mode. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fr_buf_printf(err, "database '%s': cannot create '%s': %s", pg_name(d), path,
		              strerror(errno));
		goto done;
	}
	close(fd);
	fr_buf_printf(&file, "--file=%s", path);
	fr_buf_printf(&dbarg, "--dbname=%s", d->tool_conninfo);
	if (file.oom || dbarg.oom) {
		fr_buf_printf(err, "database '%s': out of memory", pg_name(d));
		goto done;
	}
	{
		char *argv[] = { tool, "--format=custom", "--no-password", file.ptr, dbarg.ptr, NULL };
		st = pg_spawn(d, argv, NULL, &diag, &msg);
	}
	if (st != 0) {
		fr_buf_printf(err, "database '%s': pg_dump failed", pg_name(d));
		if (st > 0)
			fr_buf_printf(err, " (exit %d)", st);
		fr_buf_puts(err, ": ");
		pg_put_flat(err, msg.len ? msg.ptr : diag.len ? diag.ptr : "no message");
		unlink(path);
		goto done;
	}
	ret = 0;
done:
	pg_scrub(d, err, 0);
	fr_free(tool);
	fr_buf_release(&file);
	fr_buf_release(&dbarg);
	fr_buf_release(&diag);
	fr_buf_release(&msg);
	return ret;
}

/* Adds "catalog:oid" of each entry of a pg_restore -l listing to keys (one per line). */
static void pg_toc_keys(const char *list, fr_buf *keys)
{
	const char *p = list;
	while (*p) {
		const char *eol = strchr(p, '\n');
		unsigned long cat, oid;
		int used = 0;
		if (!eol)
			eol = p + strlen(p);
		if (*p != ';' && sscanf(p, "%*d; %lu %lu %n", &cat, &oid, &used) == 2 && used > 0 &&
		    oid)
			fr_buf_printf(keys, "%lu:%lu\n", cat, oid);
		p = *eol ? eol + 1 : eol;
	}
}

/*
 * Drops what the database holds now and the snapshot does not (tables,
 * views, sequences, functions, types, schemas made after it), so the
 * restore gives the database exactly as it was. Objects are told by their
 * OIDs, which the snapshot's listing keeps; an object recreated since has
 * a new OID and is dropped too (pg_restore makes it again). Extension
 * members and the public schema stay.
 */
static int pg_drop_extras(pg_db *d, const char *toc, fr_buf *err)
{
	static const char *const sql =
		"WITH keep(k) AS (SELECT unnest(string_to_array($1, E'\\n'))), "
		"ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN "
		"('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\\_%') "
		"SELECT 1 AS o, format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname) FROM ns n "
		"WHERE n.nspname <> 'public' AND NOT EXISTS (SELECT 1 FROM keep WHERE k = "
		"'2615:' || n.oid) AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = "
		"'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e') "
		"UNION ALL "
		"SELECT 2, format('DROP %s IF EXISTS %I.%I CASCADE', CASE c.relkind WHEN 'v' THEN "
		"'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN "
		"'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname) FROM pg_class c JOIN ns n "
		"ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
		"AND NOT EXISTS (SELECT 1 FROM keep WHERE k = '1259:' || c.oid) "
		"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "
		"AND e.objid = c.oid AND e.deptype IN ('e', 'i')) "
		"UNION ALL "
		"SELECT 3, format('DROP %s IF EXISTS %s CASCADE', CASE p.prokind WHEN 'a' THEN "
		"'AGGREGATE' ELSE 'ROUTINE' END, p.oid::regprocedure) FROM pg_proc p JOIN ns n ON "
		"n.oid = p.pronamespace WHERE NOT EXISTS (SELECT 1 FROM keep WHERE k = '1255:' || "
		"p.oid) AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = "
		"'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e') "
		"UNION ALL "
		"SELECT 4, format('DROP %s IF EXISTS %s CASCADE', CASE t.typtype WHEN 'd' THEN "
		"'DOMAIN' ELSE 'TYPE' END, t.oid::regtype) FROM pg_type t JOIN ns n ON n.oid = "
		"t.typnamespace WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND "
		"(SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) "
		"AND NOT EXISTS (SELECT 1 FROM keep WHERE k = '1247:' || t.oid) "
		"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass "
		"AND e.objid = t.oid AND e.deptype = 'e') "
		"ORDER BY 1";
	PGresult *r = NULL;
	const char *params[1] = { toc };
	int i, n, ret = -1;

	if (pg_query(d, sql, 1, params, &r, "cannot list what the snapshot does not hold", err))
		return -1;
	n = P.PQntuples(r);
	if (n == 0) {
		ret = 0;
		goto done;
	}
	if (pg_run(d, "BEGIN", "cannot begin a transaction", err))
		goto done;
	for (i = 0; i < n; i++)
		if (pg_run(d, P.PQgetvalue(r, i, 1), "cannot drop what the snapshot does not hold",
		           err))
			break;
	if (i < n) {
		PGresult *rb = P.PQexec(d->c, "ROLLBACK");
		P.PQclear(rb);
		goto done;
	}
	ret = pg_run(d, "COMMIT", "cannot commit", err);
done:
	P.PQclear(r);
	return ret;
}

static int pg_restore(fr_db *db, const char *path, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	fr_buf dbarg = FR_BUF_INIT, diag = FR_BUF_INIT, msg = FR_BUF_INIT, list = FR_BUF_INIT;
	fr_buf keys = FR_BUF_INIT;
	char *tool = NULL;
	int st, ret = -1;

	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': cannot restore while a transaction is open",
		              pg_name(d));
		return -1;
	}
	if (pg_ensure(d, err))
		return -1;
	tool = pg_find_tool(d, "pg_restore", err);
	if (!tool)
		goto done;
	if (access(path, R_OK) != 0) {
		fr_buf_printf(err, "database '%s': cannot read the snapshot '%s': %s", pg_name(d),
		              path, strerror(errno));
		goto done;
	}
	{
		char *argv[] = { tool, "--list", (char *)path, NULL };
		st = pg_spawn(d, argv, &list, &diag, &msg);
	}
	if (st != 0 || list.oom) {
		fr_buf_printf(err, "database '%s': pg_restore cannot read '%s': ", pg_name(d), path);
		pg_put_flat(err, msg.len ? msg.ptr : diag.len ? diag.ptr : "out of memory");
		goto done;
	}
	pg_toc_keys(list.ptr, &keys);
	if (keys.oom || pg_drop_extras(d, keys.ptr, err))
		goto done;
	fr_buf_printf(&dbarg, "--dbname=%s", d->tool_conninfo);
	fr_buf_reset(&diag);
	if (dbarg.oom) {
		fr_buf_printf(err, "database '%s': out of memory", pg_name(d));
		goto done;
	}
	{
		char *argv[] = { tool, "--clean", "--if-exists", "--no-owner", "--single-transaction",
		                 "--exit-on-error", "--no-password", dbarg.ptr, (char *)path, NULL };
		st = pg_spawn(d, argv, NULL, &diag, &msg);
	}
	/* Whatever happened, the tables may be new objects now. */
	d->have_table = 0;
	if (st != 0) {
		fr_buf_printf(err, "database '%s': pg_restore of '%s' failed", pg_name(d), path);
		if (st > 0)
			fr_buf_printf(err, " (exit %d; it ran in one transaction, so nothing of the "
			                   "snapshot was applied)", st);
		fr_buf_puts(err, ": ");
		pg_put_flat(err, msg.len ? msg.ptr : diag.len ? diag.ptr : "no message");
		goto done;
	}
	ret = 0;
done:
	pg_scrub(d, err, 0);
	fr_free(tool);
	fr_buf_release(&dbarg);
	fr_buf_release(&diag);
	fr_buf_release(&msg);
	fr_buf_release(&list);
	fr_buf_release(&keys);
	pg_sync_tx(d);
	return ret;
}

/* ---- rehearsal clones ---- */

/* conf's connection string as key='value' pairs, with dbname set to db (password kept). */
static int pg_conninfo_for(const char *url, const char *db, fr_buf *out, fr_buf *err)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	opts = P.PQconninfoParse(url, &perr);
	if (!opts) {
		fr_buf_puts(err, "invalid connection string");
		if (perr)
			P.PQfreemem(perr);
		return -1;
	}
	for (o = opts; o->keyword; o++) {
		const char *v = strcmp(o->keyword, "dbname") ? o->val : db;
		const char *c;
		if (!v || !*v)
			continue;
		fr_buf_printf(out, "%s%s='", out->len ? " " : "", o->keyword);
		for (c = v; *c; c++) {
			if (*c == '\\' || *c == '\'')
				fr_buf_putc(out, '\\');
			fr_buf_putc(out, *c);
		}
		fr_buf_putc(out, '\'');
	}
	if (!strstr(out->ptr, "dbname="))
		fr_buf_printf(out, " dbname='%s'", db);
	P.PQconninfoFree(opts);
	return out->oom ? -1 : 0;
}

/* A connection to the server's maintenance database, for CREATE and DROP DATABASE. */
static PGconn *pg_maint(const fr_dbconf *conf, fr_buf *err)
{
	fr_buf ci = FR_BUF_INIT;
	const char *kw[2] = { "dbname", NULL }, *val[2] = { NULL, NULL };
	PGconn *c = NULL;
	if (pg_conninfo_for(conf->url, "postgres", &ci, err) == 0) {
		val[0] = ci.ptr;
		c = P.PQconnectdbParams(kw, val, 1);
		if (c)
			P.PQsetNoticeProcessor(c, pg_notice_ignore, NULL);
		if (c && P.PQstatus(c) != CONNECTION_OK) {
			fr_buf_puts(err, "cannot reach the server's 'postgres' database to make the "
			                 "rehearsal copy");
			P.PQfinish(c);
			c = NULL;
		}
	}
	fr_buf_release(&ci);
	return c;
}

static int pg_maint_exec(PGconn *c, const char *sql, char *state, fr_buf *err)
{
	PGresult *r = P.PQexec(c, sql);
	int ok = r && P.PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok) {
		const char *s = r ? P.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		if (state)
			snprintf(state, 6, "%s", s ? s : "");
		if (err) {
			fr_buf_reset(err);
			pg_put_flat(err, P.PQerrorMessage(c));
		}
	}
	P.PQclear(r);
	return ok ? 0 : -1;
}

/*
 * Makes database `name` a copy of conf's database on the same server:
 * CREATE DATABASE ... TEMPLATE when no session uses the source, else an
 * empty database filled with pg_dump and pg_restore. *out_url connects to
 * it (a key=value string, password included: never to be printed).
 */
static int pg_clone(const fr_dbconf *conf, const char *name, char **out_url, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT, ci = FR_BUF_INIT, msg = FR_BUF_INIT, dump = FR_BUF_INIT;
	PQconninfoOption *opts = NULL, *o;
	const char *src = NULL;
	char state[6] = "", *perr = NULL;
	fr_dbconf cc;
	fr_db *from = NULL, *to = NULL;
	PGconn *m;
	int rc = -1;
	*out_url = NULL;
	if (fr_dl_open(&pq_lib)) {
		fr_buf_puts(err, pq_lib.err);
		return -1;
	}
	if (!(m = pg_maint(conf, err)))
		return -1;
	opts = P.PQconninfoParse(conf->url, &perr);
	for (o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "dbname") && o->val && *o->val)
			src = o->val;
	if (!src)
		src = getenv("PGDATABASE");
	if (!src) {
		fr_buf_puts(err, "the connection string names no database to copy");
		goto done;
	}
	fr_buf_printf(&sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
	pg_maint_exec(m, sql.ptr, NULL, NULL);
	fr_buf_reset(&sql);
	fr_buf_printf(&sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", name, src);
	if (pg_maint_exec(m, sql.ptr, state, &msg)) {
		/* 55006: the source is in use by other sessions; copy it by dump and restore. */
		if (strcmp(state, "55006")) {
			fr_buf_printf(err, "cannot create the rehearsal database '%s': %s (the role needs "
			                   "CREATEDB)", name, msg.ptr);
			goto done;
		}
		fr_buf_reset(&sql);
		fr_buf_printf(&sql, "CREATE DATABASE \"%s\"", name);
		if (pg_maint_exec(m, sql.ptr, NULL, &msg)) {
			fr_buf_printf(err, "cannot create the rehearsal database '%s': %s", name, msg.ptr);
			goto done;
		}
		if (pg_conninfo_for(conf->url, name, &ci, err))
			goto done;
		memset(&cc, 0, sizeof cc);
		cc.name = conf->name;
		cc.driver = conf->driver;
		cc.url = ci.ptr;
		{
			const char *t = getenv("TMPDIR");
			fr_buf_printf(&dump, "%s/ferry-rehearsal-%ld.dump", t && *t ? t : "/tmp",
			              (long)getpid());
		}
		if (pg_open(&from, conf, err) || pg_snapshot(from, dump.ptr, err) ||
		    pg_open(&to, &cc, err) || pg_restore(to, dump.ptr, err))
			goto done;
	} else if (pg_conninfo_for(conf->url, name, &ci, err)) {
		goto done;
	}
	*out_url = fr_buf_detach(&ci);
	rc = *out_url ? 0 : -1;
done:
	if (dump.len)
		unlink(dump.ptr);
	pg_close(from);
	pg_close(to);
	if (opts)
		P.PQconninfoFree(opts);
	if (perr)
		P.PQfreemem(perr);
	P.PQfinish(m);
	fr_buf_release(&sql);
	fr_buf_release(&ci);
	fr_buf_release(&msg);
	fr_buf_release(&dump);
	return rc;
}

/* Drops the rehearsal database `name` (also while sessions still use it). */
static int pg_drop_clone(const fr_dbconf *conf, const char *name, fr_buf *err)
{
	fr_buf sql = FR_BUF_INIT;
	PGconn *m;
	int rc;
	if (fr_dl_open(&pq_lib) || !(m = pg_maint(conf, err)))
		return -1;
	fr_buf_printf(&sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
	rc = pg_maint_exec(m, sql.ptr, NULL, err);
	P.PQfinish(m);
	fr_buf_release(&sql);
	return rc;
}

/* ---- where the database is: the url ---- */

static int pg_url_claims(const char *url)
{
	if (strncasecmp(url, "postgres://", 11) == 0 || strncasecmp(url, "postgresql://", 13) == 0)
		return 2;
	return strchr(url, '=') ? 1 : 0; /* a libpq key=value string */
}

/* Keeps, for messages, the url with its password (as written) replaced by "***". */
/* Keeps, for messages, the url with its password (as written) as "***". */
static int pg_url_parse(fr_dbconf *c, const char *url, const char *root, fr_buf *err)
{
	fr_buf b = FR_BUF_INIT;
	const char *at = NULL;
	size_t n = pg_password_span(url, &at);
	if (n) {
		fr_buf_add(&b, url, (size_t)(at - url));
		fr_buf_puts(&b, "***");
		fr_buf_puts(&b, at + n);
	} else {
		fr_buf_puts(&b, url);
	}
	c->where = fr_buf_detach(&b);
	if (!c->where) {
		fr_buf_puts(err, "out of memory");
		err->oom = 1;
		return -1;
	}
	return 0;
}

static const char *pg_where(const fr_dbconf *c)
{
	return c->where;
}

/* ---- export and import ---- */

/* The catalogue queries of tables(); ferry's schema, the system's and extensions' left out. */
#define PG_EXP_TABLES \
	"SELECT c.oid::int8, n.nspname, c.relname FROM pg_catalog.pg_class c " \
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname <> 'ferry' " \
	"AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' " \
	"AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = " \
	"'pg_catalog.pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e') " \
	"ORDER BY n.nspname <> 'public', n.nspname, c.relname"
#define PG_EXP_COLUMNS \
	"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, " \
	"coalesce((SELECT u.k FROM pg_catalog.pg_index i, " \
	"unnest(i.indkey::int2[]) WITH ORDINALITY AS u(att, k) WHERE i.indrelid = a.attrelid " \
	"AND i.indisprimary AND u.att = a.attnum), 0) " \
	"FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 " \
	"AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum"
#define PG_EXP_REFS \
	"SELECT DISTINCT n.nspname, c.relname FROM pg_catalog.pg_constraint k " \
	"JOIN pg_catalog.pg_class c ON c.oid = k.confrelid " \
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
	"WHERE k.contype = 'f' AND k.conrelid = $1::int8::oid AND k.confrelid <> k.conrelid"
#define PG_EXP_SEQUENCES \
	"SELECT a.attname, pg_catalog.pg_get_serial_sequence($1::text, a.attname) " \
	"FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 " \
	"AND NOT a.attisdropped AND pg_catalog.pg_get_serial_sequence($1::text, a.attname) " \
	"IS NOT NULL"
/* The form an export's values are written in, whatever the server's or role's settings. */
#define PG_EXP_SETTINGS \
	"SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; " \
	"SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3; " \
	"SET LOCAL bytea_output = 'hex'"
#define PG_EXP_CURSOR "ferry_export"
#define PG_EXP_FETCH "FETCH FORWARD 1000 FROM " PG_EXP_CURSOR

typedef struct {
	fr_db_table *t;    /* the tables read so far */
	size_t n, cap, ocap, ccap, rcap;
	int64_t *oids;     /* each one's oid */
	int oom;
} pg_exp_list;

/* "name" in schema public, "schema.name" elsewhere; *sql the same quoted. */
static int pg_exp_names(const char *nsp, const char *rel, char **name, char **sql)
{
	fr_buf b = FR_BUF_INIT, q = FR_BUF_INIT;
	if (strcmp(nsp, "public")) {
		fr_buf_printf(&b, "%s.", nsp);
		fr_db_put_ident(&q, nsp);
		fr_buf_putc(&q, '.');
	}
	fr_buf_puts(&b, rel);
	fr_db_put_ident(&q, rel);
	*name = fr_buf_detach(&b);
	*sql = fr_buf_detach(&q);
	return *name && *sql ? 0 : -1;
}

static int pg_exp_table_row(void *arg, const fr_val *v, size_t n)
{
	pg_exp_list *l = arg;
	fr_db_table *t;
	(void)n;
	if (fr_grow(&l->t, &l->cap, l->n + 1, sizeof *l->t) ||
	    fr_grow(&l->oids, &l->ocap, l->n + 1, sizeof *l->oids))
		return l->oom = -1;
	t = &l->t[l->n];
	memset(t, 0, sizeof *t);
	l->oids[l->n++] = v[0].i;
	if (pg_exp_names(v[1].p, v[2].p, &t->name, &t->sql))
		return l->oom = -1;
	return 0;
}

static int pg_exp_column_row(void *arg, const fr_val *v, size_t n)
{
	pg_exp_list *l = arg;
	fr_db_table *t = &l->t[l->n];
	fr_db_column *c;
	(void)n;
	if (fr_grow(&t->cols, &l->ccap, t->ncols + 1, sizeof *t->cols))
		return l->oom = -1;
	c = &t->cols[t->ncols++];
	memset(c, 0, sizeof *c);
	c->name = fr_strdup(v[0].p);
	c->type = fr_strdup(v[1].p);
	c->notnull = v[2].type == FR_VAL_INT && v[2].i;
	c->pk = v[3].type == FR_VAL_INT ? (int)v[3].i : 0;
	return c->name && c->type ? 0 : (l->oom = -1);
}

static int pg_exp_ref_row(void *arg, const fr_val *v, size_t n)
{
	pg_exp_list *l = arg;
	fr_db_table *t = &l->t[l->n];
	char *name = NULL, *sql = NULL;
	(void)n;
	if (pg_exp_names(v[0].p, v[1].p, &name, &sql) ||
	    fr_grow(&t->refs, &l->rcap, t->nrefs + 1, sizeof *t->refs)) {
		fr_free(name);
		fr_free(sql);
		return l->oom = -1;
	}
	fr_free(sql);
	t->refs[t->nrefs++] = name;
	return 0;
}

static int pg_exp_tables(fr_db *db, fr_db_table **out, size_t *n, fr_buf *err)
{
	pg_exp_list l = { 0 };
	size_t i, nt;
	int rc = -1;
	*out = NULL;
	*n = 0;
	if (pg_query_rows(db, PG_EXP_TABLES, NULL, 0, pg_exp_table_row, &l, err))
		goto done;
	/* l.n counts the tables listed; each detail query fills the table at l.n. */
	nt = l.n;
	for (i = 0; i < nt; i++) {
		fr_val oid = { .type = FR_VAL_INT };
		oid.i = l.oids[i];
		l.n = i;
		l.ccap = l.rcap = 0;
		if (pg_query_rows(db, PG_EXP_COLUMNS, &oid, 1, pg_exp_column_row, &l, err) ||
		    pg_query_rows(db, PG_EXP_REFS, &oid, 1, pg_exp_ref_row, &l, err))
			break;
	}
	l.n = nt;
	if (i == nt)
		rc = 0;
done:
	if (l.oom) {
		err->oom = 1;
		rc = -1;
	}
	fr_free(l.oids);
	if (rc) {
		fr_db_tables_free(l.t, l.n);
		return -1;
	}
	*out = l.t;
	*n = l.n;
	return 0;
}

static int pg_exp_read_begin(fr_db *db, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	if (db->in_tx) {
		fr_buf_printf(err, "database '%s': a transaction is already open", pg_name(d));
		return -1;
	}
	if (pg_ensure(d, err))
		return -1;
	if (pg_run(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	           "cannot begin a transaction", err) ||
	    pg_run(d, PG_EXP_SETTINGS, "cannot set the export's value forms", err)) {
		pg_sync_tx(d);
		return -1;
	}
	pg_sync_tx(d);
	return 0;
}

static int pg_exp_write_begin(fr_db *db, fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	if (pg_begin(db, err))
		return -1;
	if (pg_run(d, "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; "
	              "SET CONSTRAINTS ALL DEFERRED", "cannot set up the import", err)) {
		pg_sync_tx(d);
		return -1;
	}
	return 0;
}

typedef struct {
	fr_db_row_fn row;
	void *arg;
	size_t got;
} pg_exp_fetch;

static int pg_exp_fetched(void *arg, const fr_val *cols, size_t n)
{
	pg_exp_fetch *f = arg;
	f->got++;
	return f->row(f->arg, cols, n);
}

/* A cursor read a thousand rows at a time: memory stays that of a thousand rows. */
static int pg_exp_scan(fr_db *db, const fr_db_table *t, fr_db_row_fn row, void *arg,
                       fr_buf *err)
{
	pg_db *d = (pg_db *)db;
	pg_exp_fetch f = { row, arg, 0 };
	fr_buf sql = FR_BUF_INIT;
	size_t i;
	int rc;
	if (!db->in_tx) {
		fr_buf_printf(err, "database '%s': a table is read inside a transaction", pg_name(d));
		return -1;
	}
	fr_buf_puts(&sql, "DECLARE " PG_EXP_CURSOR " NO SCROLL CURSOR FOR SELECT ");
	for (i = 0; i < t->ncols; i++) {
		if (i)
			fr_buf_puts(&sql, ", ");
		fr_db_put_ident(&sql, t->cols[i].name);
	}
	fr_buf_printf(&sql, " FROM %s", t->sql);
	fr_db_put_order(&sql, t);
	if (sql.oom) {
		fr_buf_release(&sql); /* what it held before the append failed */
		err->oom = 1;
		return -1;
	}
	rc = pg_run(d, sql.ptr, "cannot read the table", err);
	fr_buf_release(&sql);
	if (rc)
		return -1;
	do {
		f.got = 0;
		rc = pg_query_rows(db, PG_EXP_FETCH, NULL, 0, pg_exp_fetched, &f, err);
	} while (rc == 0 && f.got == 1000);
	if (rc == 0 && pg_run(d, "CLOSE " PG_EXP_CURSOR, "cannot close the cursor", err))
		rc = -1;
	pg_sync_tx(d);
	return rc;
}

typedef struct {
	char **v;     /* column, sequence, column, sequence, ... */
	size_t n, cap;
	int oom;
} pg_exp_seqs;

static int pg_exp_seq_row(void *arg, const fr_val *v, size_t n)
{
	pg_exp_seqs *s = arg;
	(void)n;
	if (fr_grow(&s->v, &s->cap, s->n + 2, sizeof *s->v))
		return s->oom = -1;
	s->v[s->n] = fr_strdup(v[0].p);
	s->v[s->n + 1] = fr_strdup(v[1].p);
	s->n += 2;
	return s->v[s->n - 2] && s->v[s->n - 1] ? 0 : (s->oom = -1);
}

static int pg_exp_ignore(void *arg, const fr_val *v, size_t n)
{
	(void)arg;
	(void)v;
	(void)n;
	return 0;
}

/* Each sequence behind t's columns (serial, identity) set to the greatest id there is. */
static int pg_exp_after_import(fr_db *db, const fr_db_table *t, fr_buf *err)
{
	pg_exp_seqs s = { 0 };
	fr_val p = { .type = FR_VAL_TEXT };
	fr_buf sql = FR_BUF_INIT;
	size_t i;
	int rc;
	p.p = t->sql;
	p.len = strlen(t->sql);
	rc = pg_query_rows(db, PG_EXP_SEQUENCES, &p, 1, pg_exp_seq_row, &s, err);
	for (i = 0; rc == 0 && i < s.n; i += 2) {
		fr_buf_reset(&sql);
		fr_buf_puts(&sql, "SELECT pg_catalog.setval($1::text::regclass, max(");
		fr_db_put_ident(&sql, s.v[i]);
		fr_buf_printf(&sql, ")) FROM %s HAVING max(", t->sql);
		fr_db_put_ident(&sql, s.v[i]);
		fr_buf_puts(&sql, ") IS NOT NULL");
		p.p = s.v[i + 1];
		p.len = strlen(p.p);
		rc = sql.oom ? -1 : pg_query_rows(db, sql.ptr, &p, 1, pg_exp_ignore, NULL, err);
	}
	if (s.oom || sql.oom) {
		err->oom = 1;
		rc = -1;
	}
	fr_strv_free(s.v, s.n);
	fr_buf_release(&sql);
	return rc;
}

const fr_db_driver fr_db_postgres = {
	.name = "postgres",
	.caps = FR_DB_CAP_SESSION_LOCK | FR_DB_CAP_SHARED_VERSION | FR_DB_CAP_LOCK_TIMEOUT |
	        FR_DB_CAP_SNAPSHOT | FR_DB_CAP_CLONE,
	.url_claims = pg_url_claims,
	.url_parse = pg_url_parse,
	.url_form = "postgres://...",
	.describe = pg_where,
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.parse = pg_parse,
	.query_bool = pg_query_bool,
	.query = pg_query_rows,
	.record_read = pg_record_read,
	.record_put = pg_record_put,
	.record_delete = pg_record_delete,
	.integrity = pg_integrity,
	.errcode = pg_errcode,
	.lock = pg_lock,
	.unlock = pg_unlock,
	.lock_holder = pg_lock_holder,
	.lock_kind = pg_lock_kind,
	.set_lock_timeout = pg_set_lock_timeout,
	.snapshot = pg_snapshot,
	.restore = pg_restore,
	.snapshot_ext = ".dump",
	.version_get = pg_version_get,
	.version_set = pg_version_set,
	.clone = pg_clone,
	.drop_clone = pg_drop_clone,
	.files = NULL, /* a server: no file of it here */
	.copy = NULL,  /* clone() instead */
	.tables = pg_exp_tables,
	.read_begin = pg_exp_read_begin,
	.scan = pg_exp_scan,
	.write_begin = pg_exp_write_begin,
	.insert_overriding = "OVERRIDING SYSTEM VALUE",
	.after_import = pg_exp_after_import,
};
