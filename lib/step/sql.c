/*
 * sql.c - the SQL step kind (fr_step_sql, SPEC section 4): a *.sql file cut
 * into sections by marker lines.
 *
 * Markers (a line that is exactly the marker, surrounding whitespace
 * allowed; the space after "--" is optional):
 *   -- ferry:up | down | check | verify      open a section
 *   -- ferry:database NAME                   the database the step changes
 *   -- ferry:no-transaction                  run up outside a transaction
 *   -- ferry:lock-timeout 30s                how long up may wait for a lock
 *                                            (ms, s or m; default 10s; 0: no
 *                                            limit), where the database has one
 *   -- migrate:up | down [transaction:false] dbmate's synonyms
 *   -- +goose Up | Down | NO TRANSACTION     goose's synonyms (any case);
 *   -- +goose StatementBegin | StatementEnd  accepted and ignored
 * Only blank lines and comments may come before the first section. A
 * section runs to the next section marker; the other markers inside it
 * stay in its text as the SQL comments they are. Each section remembers
 * the file line it starts on, so an error names the line of the failing
 * statement.
 *
 * An up of only comments or blank lines is a placeholder: applied as a
 * no-op and recorded (the plan marks it empty); an untouched `ferry new`
 * template is refused before this kind sees it (step.c).
 *
 * A step of another tool's folder (s->split set, lib/layout/) is read by
 * its layout instead of by these markers: the kind reads the up file, the
 * separate down file and options file when the step has them, and hands
 * the texts to s->split; it runs on the source's database (s->source_db).
 *
 * check: no row means "not needed" (the query's first column is true while
 * the step is still needed; no row is no true). verify: no row is success.
 * forward() never begins or commits: the engine owns transactions.
 */
#include "step.h"
#include "../util/alloc.h"
#include "../util/fs.h"

#include <errno.h>

#include <string.h>
#include <strings.h>

enum { SEC_UP, SEC_DOWN, SEC_CHECK, SEC_VERIFY, SEC_N };

static const char *const sec_names[SEC_N] = { "up", "down", "check", "verify" };

typedef struct {
	char *text; /* NUL-terminated; NULL when the file has no such section */
	int line;   /* file line where the text starts (the line after the marker) */
} sql_sect;

typedef struct {
	sql_sect sec[SEC_N];
	char *database; /* NULL: the default database */
	int no_tx;
	int lock_timeout_ms;
	int empty;      /* up holds only comments or blank lines: a placeholder */
} sql_priv;

/* How long up waits for a lock unless the step says otherwise (SPEC section 4). */
#define SQL_LOCK_TIMEOUT_MS 10000

/* What a line is. */
enum { MK_NONE, MK_SECTION, MK_DATABASE, MK_NOTX, MK_LOCKTIMEOUT, MK_IGNORE };

typedef struct {
	int type;
	int sec;          /* MK_SECTION: SEC_* */
	int no_tx;        /* MK_SECTION: dbmate's "transaction:false" on up */
	char label[48];   /* the marker as the user's family spells it, for messages */
	const char *arg;  /* MK_DATABASE: the name (not NUL-terminated) */
	size_t arg_len;
	int ms;           /* MK_LOCKTIMEOUT */
} sql_marker;

static const char *sql_rel(const fr_step *s)
{
	if (s->rel)
		return s->rel;
	return s->name ? s->name : "(sql step)";
}

static int sql_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Skips whitespace and SQL comments in [p, end); returns the first other byte or end. */
static const char *sql_skip(const char *p, const char *end)
{
	while (p < end) {
		if (sql_isspace(*p)) {
			p++;
		} else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			const char *q = p + 2;
			while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
				q++;
			if (end - q < 2)
				return end; /* an unterminated comment runs to the end */
			p = q + 2;
		} else {
			break;
		}
	}
	return p;
}

/* 1 when text holds something other than whitespace and comments. */
static int sql_has_code(const char *text)
{
	return text && *sql_skip(text, text + strlen(text)) != '\0';
}

static int sql_count_lines(const char *p, const char *end)
{
	int n = 0;
	for (; p < end; p++)
		if (*p == '\n')
			n++;
	return n;
}

/* The next whitespace-separated word of [*p, end); 0 when none. */
static size_t sql_word(const char **p, const char *end, const char **w)
{
	const char *q = *p;
	while (q < end && sql_isspace(*q))
		q++;
	*w = q;
	while (q < end && !sql_isspace(*q))
		q++;
	*p = q;
	return (size_t)(q - *w);
}

static int sql_word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(w, lit, n) == 0;
}

static int sql_prefix(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return 0;
	*p += n;
	return 1;
}

/* "500ms", "30s", "2m" or "0" into milliseconds; -1 when it is none of those. */
static int sql_duration_ms(const char *w, size_t n)
{
	long v = 0, unit;
	size_t i = 0;
	while (i < n && w[i] >= '0' && w[i] <= '9' && v < 100000000)
		v = v * 10 + (w[i++] - '0');
	if (i == 0 || (i < n && w[i] >= '0' && w[i] <= '9'))
		return -1;
	if (i == n)
		return v == 0 ? 0 : -1; /* a bare number must be 0 */
	if (n - i == 2 && !strncmp(w + i, "ms", 2))
		unit = 1;
	else if (n - i == 1 && w[i] == 's')
		unit = 1000;
	else if (n - i == 1 && w[i] == 'm')
		unit = 60000;
	else
		return -1;
	if (v > 86400000 / unit)
		return -1; /* a day at most */
	return (int)(v * unit);
}

/*
 * Classifies the trimmed line [p, end). Returns 0, or -1 after writing
 * "<what>" (no location) to err for a marker-looking line that is wrong.
 */
static int sql_marker_parse(const char *p, const char *end, sql_marker *m, fr_buf *err)
{
	const char *w, *w2;
	size_t n, n2;

	memset(m, 0, sizeof *m);
	if (!sql_prefix(&p, end, "--"))
		return 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;

	if (sql_prefix(&p, end, "ferry:")) {
		const char *name = p - 6;
		n = sql_word(&p, end, &w);
		if (w != name + 6)
			n = 0; /* "ferry: up" is not a marker word */
		for (m->sec = 0; m->sec < SEC_N; m->sec++)
			if (n == strlen(sec_names[m->sec]) && memcmp(w, sec_names[m->sec], n) == 0)
				break;
		if (m->sec < SEC_N) {
			m->type = MK_SECTION;
			snprintf(m->label, sizeof m->label, "-- ferry:%s", sec_names[m->sec]);
		} else if (n == 14 && memcmp(w, "no-transaction", 14) == 0) {
			m->type = MK_NOTX;
		} else if (n == 12 && memcmp(w, "lock-timeout", 12) == 0) {
			m->type = MK_LOCKTIMEOUT;
			m->arg_len = sql_word(&p, end, &m->arg);
			m->ms = m->arg_len ? sql_duration_ms(m->arg, m->arg_len) : -1;
			if (m->ms < 0) {
				fr_buf_printf(err, "marker 'ferry:lock-timeout' needs a duration such as "
				                   "'30s', '500ms' or '2m' (got '%.*s')",
				              (int)m->arg_len, m->arg ? m->arg : "");
				return -1;
			}
		} else if (n == 8 && memcmp(w, "database", 8) == 0) {
			m->type = MK_DATABASE;
			m->arg_len = sql_word(&p, end, &m->arg);
			if (!m->arg_len) {
				fr_buf_puts(err, "marker 'ferry:database' needs a database name");
				return -1;
			}
		} else {
			fr_buf_printf(err, "unknown marker '%.*s'", (int)(end - name), name);
			return -1;
		}
		n2 = sql_word(&p, end, &w2);
		if (n2) {
			fr_buf_printf(err, "unexpected '%.*s' after marker 'ferry:%.*s'", (int)(end - w2),
			              w2, (int)n, w);
			return -1;
		}
		return 0;
	}

	if (sql_prefix(&p, end, "migrate:")) {
		const char *name = p - 8;
		n = sql_word(&p, end, &w);
		if (w == name + 8 && n == 2 && memcmp(w, "up", 2) == 0)
			m->sec = SEC_UP;
		else if (w == name + 8 && n == 4 && memcmp(w, "down", 4) == 0)
			m->sec = SEC_DOWN;
		else {
			fr_buf_printf(err, "unknown marker '%.*s'", (int)(end - name), name);
			return -1;
		}
		m->type = MK_SECTION;
		snprintf(m->label, sizeof m->label, "-- migrate:%.*s", (int)n, w);
		while ((n2 = sql_word(&p, end, &w2)) != 0) {
			if (sql_word_is(w2, n2, "transaction:false")) {
				/* dbmate's option; it matters for up only (undo has no such flag) */
				m->no_tx = m->sec == SEC_UP;
			} else if (!sql_word_is(w2, n2, "transaction:true")) {
				fr_buf_printf(err, "unknown option '%.*s' of marker 'migrate:%.*s'",
				              (int)n2, w2, (int)n, w);
				return -1;
			}
		}
		return 0;
	}

	if (sql_prefix(&p, end, "+goose")) {
		const char *rest = p;
		while (rest < end && sql_isspace(*rest))
			rest++;
		n = (size_t)(end - rest);
		if (sql_word_is(rest, n, "up") || sql_word_is(rest, n, "down")) {
			m->type = MK_SECTION;
			m->sec = sql_word_is(rest, n, "up") ? SEC_UP : SEC_DOWN;
			snprintf(m->label, sizeof m->label, "-- +goose %.*s", (int)n, rest);
		} else if (sql_word_is(rest, n, "no transaction")) {
			m->type = MK_NOTX;
		} else if (sql_word_is(rest, n, "statementbegin") ||
		           sql_word_is(rest, n, "statementend")) {
			m->type = MK_IGNORE;
		} else {
			fr_buf_printf(err, "unknown marker '+goose %.*s'", (int)n, rest);
			return -1;
		}
		return 0;
	}
	return 0;
}

static void sql_priv_free(sql_priv *p)
{
	int i;
	if (!p)
		return;
	for (i = 0; i < SEC_N; i++)
		fr_free(p->sec[i].text);
	fr_free(p->database);
	fr_free(p);
}

static void sql_unload(fr_step *s)
{
	sql_priv_free(s->priv);
	s->priv = NULL;
}

static int sql_claims(const char *filename, int executable)
{
	size_t n = filename ? strlen(filename) : 0;
	(void)executable;
	return n > 4 && strcasecmp(filename + n - 4, ".sql") == 0;
}

/* Ends the open section at cut. */
static int sql_close_section(sql_priv *p, int cur, const char *start, const char *cut)
{
	if (cur < 0)
		return 0;
	p->sec[cur].text = fr_strndup(start, (size_t)(cut - start));
	return p->sec[cur].text ? 0 : -1;
}

/* Reads an optional file of the step's into b; 0, or -1 with the reason in err. */
static int sql_read_side(const fr_step *s, const char *path, fr_buf *b, fr_buf *err)
{
	if (fr_read_file(path, b) == 0 && !b->oom)
		return 0;
	fr_buf_printf(err, "%s: cannot read '%s': %s", sql_rel(s), path,
	              b->oom ? strerror(ENOMEM) : strerror(errno));
	return -1;
}

/* A step of another tool's folder: its layout's split says what up, down and no_tx are. */
static int sql_load_split(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	fr_buf down = FR_BUF_INIT, meta = FR_BUF_INIT;
	fr_split_in in;
	fr_split_out o;
	sql_priv *p = NULL;
	int ret = -1;

	memset(&in, 0, sizeof in);
	memset(&o, 0, sizeof o);
	if (memchr(text, '\0', len)) {
		fr_buf_printf(err, "%s: contains a NUL byte (not an SQL text file)", sql_rel(s));
		goto done;
	}
	if (s->down_path && sql_read_side(s, s->down_path, &down, err))
		goto done;
	if (s->meta_path && sql_read_side(s, s->meta_path, &meta, err))
		goto done;
	in.rel = sql_rel(s);
	in.up = text;
	in.up_len = len;
	if (s->down_path) {
		in.down = down.ptr;
		in.down_len = down.len;
	}
	if (s->meta_path) {
		in.meta = meta.ptr;
		in.meta_len = meta.len;
	}
	if (s->split(&in, &o, err))
		goto done;
	if (!(p = fr_calloc(1, sizeof *p)) ||
	    (s->source_db && !(p->database = fr_strdup(s->source_db)))) {
		fr_buf_printf(err, "%s: out of memory", sql_rel(s));
		goto done;
	}
	p->lock_timeout_ms = SQL_LOCK_TIMEOUT_MS;
	p->no_tx = o.no_tx;
	p->sec[SEC_UP].text = o.up;
	p->sec[SEC_UP].line = o.up_line;
	o.up = NULL;
	p->empty = !sql_has_code(p->sec[SEC_UP].text);
	if (sql_has_code(o.down)) {
		p->sec[SEC_DOWN].text = o.down; /* an empty or comment-only down is no down */
		o.down = NULL;
	}
	s->priv = p;
	p = NULL;
	ret = 0;
done:
	sql_priv_free(p);
	fr_free(o.up);
	fr_free(o.down);
	fr_buf_release(&down);
	fr_buf_release(&meta);
	return ret;
}

static int sql_load(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	const char *rel = sql_rel(s);
	const char *end = text + len, *ls, *le, *a, *b, *sec_start = NULL;
	const char *first_marker = NULL;
	sql_priv *p = NULL;
	sql_marker m;
	fr_buf msg = FR_BUF_INIT;
	int line, cur = -1, ret = -1, i, seen_lt = 0;
	int seen[SEC_N] = { 0 };

	sql_unload(s);
	if (s->split)
		return sql_load_split(s, text, len, err);
	if (memchr(text, '\0', len)) {
		fr_buf_printf(err, "%s: contains a NUL byte (not an SQL text file)", rel);
		goto done;
	}
	p = fr_calloc(1, sizeof *p);
	if (!p)
		goto oom;
	p->lock_timeout_ms = SQL_LOCK_TIMEOUT_MS;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3; /* a UTF-8 byte order mark */

	for (ls = text, line = 1; ls < end; ls = le + 1, line++) {
		le = memchr(ls, '\n', (size_t)(end - ls));
		if (!le)
			le = end;
		for (a = ls; a < le && sql_isspace(*a); a++)
			;
		for (b = le; b > a && sql_isspace(b[-1]); b--)
			;
		fr_buf_reset(&msg);
		if (sql_marker_parse(a, b, &m, &msg)) {
			fr_buf_printf(err, "%s:%d: %s", rel, line, msg.ptr);
			goto done;
		}
		if (m.type == MK_NONE || m.type == MK_IGNORE)
			continue;
		if (m.type == MK_DATABASE) {
			if (p->database) {
				fr_buf_printf(err, "%s:%d: second '-- ferry:database' marker", rel, line);
				goto done;
			}
			p->database = fr_strndup(m.arg, m.arg_len);
			if (!p->database)
				goto oom;
			continue;
		}
		if (m.type == MK_NOTX) {
			p->no_tx = 1;
			continue;
		}
		if (m.type == MK_LOCKTIMEOUT) {
			if (seen_lt) {
				fr_buf_printf(err, "%s:%d: second '-- ferry:lock-timeout' marker", rel, line);
				goto done;
			}
			seen_lt = 1;
			p->lock_timeout_ms = m.ms;
			continue;
		}
		/* a section marker */
		if (m.no_tx)
			p->no_tx = 1;
		if (seen[m.sec]) {
			fr_buf_printf(err, "%s:%d: second '%s' section", rel, line, m.label);
			goto done;
		}
		seen[m.sec] = 1;
		if (!first_marker)
			first_marker = ls;
		if (sql_close_section(p, cur, sec_start, ls))
			goto oom;
		cur = m.sec;
		sec_start = le < end ? le + 1 : end;
		p->sec[cur].line = line + 1;
	}
	if (sql_close_section(p, cur, sec_start, end))
		goto oom;

	/* Only blank lines and comments before the first section (a file without one has no up). */
	a = first_marker ? sql_skip(text, first_marker) : NULL;
	if (a && a < first_marker) {
		fr_buf_printf(err, "%s:%d: SQL before the first section marker "
		              "(put it under '-- ferry:up')", rel, 1 + sql_count_lines(text, a));
		goto done;
	}
	if (!seen[SEC_UP]) {
		fr_buf_printf(err, "%s: no '-- ferry:up' section (every SQL step needs one)", rel);
		goto done;
	}
	/* Only comments or blank lines: a placeholder, run as a no-op and recorded. */
	p->empty = !sql_has_code(p->sec[SEC_UP].text);
	/* An empty down, check or verify is the same as none. */
	for (i = SEC_DOWN; i < SEC_N; i++)
		if (!sql_has_code(p->sec[i].text))
			FR_FREE(p->sec[i].text);
	s->priv = p;
	p = NULL;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "%s: out of memory", rel);
done:
	sql_priv_free(p);
	fr_buf_release(&msg);
	return ret;
}

static const char *sql_database(const fr_step *s)
{
	const sql_priv *p = s->priv;
	return p ? p->database : NULL;
}

static int sql_transactional(const fr_step *s)
{
	const sql_priv *p = s->priv;
	return p ? !p->no_tx : 1;
}

static int sql_empty(const fr_step *s)
{
	const sql_priv *p = s->priv;
	return p && p->empty;
}

static int sql_reversible(const fr_step *s)
{
	const sql_priv *p = s->priv;
	return p && p->sec[SEC_DOWN].text != NULL;
}

/* The file line of byte off of section sec's text. */
static int sql_line_at(const sql_sect *sec, size_t off)
{
	return sec->line + sql_count_lines(sec->text, sec->text + off);
}

/* The step's database (name NULL or "": the default), or NULL with ctx->err set. */
static fr_db *sql_db(fr_run_ctx *ctx, const char *name)
{
	return ctx->db(ctx, name && *name ? name : NULL);
}

/* Runs a bool query of section sec; *v as query_bool gives it. */
static int sql_query(fr_run_ctx *ctx, fr_step *s, int sec, int *v)
{
	sql_priv *p = s->priv;
	fr_buf msg = FR_BUF_INIT;
	fr_db *db;
	int ret = -1;

	db = sql_db(ctx, p->database);
	if (!db)
		goto done;
	if (db->drv->query_bool(db, p->sec[sec].text, v, &msg)) {
		fr_buf_printf(ctx->err, "%s:%d: %s query failed: %s", sql_rel(s), p->sec[sec].line,
		              sec_names[sec], msg.ptr);
		goto done;
	}
	ret = 0;
done:
	fr_buf_release(&msg);
	return ret;
}

static int sql_check(fr_run_ctx *ctx, fr_step *s, int *needed)
{
	sql_priv *p = s->priv;
	int v = -1;
	*needed = 1;
	if (!p->sec[SEC_CHECK].text)
		return 0;
	if (sql_query(ctx, s, SEC_CHECK, &v))
		return -1;
	*needed = v == 1; /* no row: nothing says the step is still needed */
	return 0;
}

static int sql_forward(fr_run_ctx *ctx, fr_step *s)
{
	sql_priv *p = s->priv;
	fr_buf msg = FR_BUF_INIT;
	size_t off = 0;
	fr_db *db;
	int ret = -1;

	if (ctx->dry_run || p->empty)
		return 0; /* describe() tells what would run; a placeholder runs nothing */
	db = sql_db(ctx, p->database);
	if (!db)
		goto done;
	if (p->no_tx && db->in_tx) {
		fr_buf_printf(ctx->err, "%s: step is marked no-transaction but a transaction is open "
		              "on its database", sql_rel(s));
		goto done;
	}
	if (db->drv->set_lock_timeout &&
	    db->drv->set_lock_timeout(db, p->lock_timeout_ms, &msg)) {
		fr_buf_printf(ctx->err, "%s: %s", sql_rel(s), msg.ptr);
		goto done;
	}
	if (db->drv->exec(db, p->sec[SEC_UP].text, &off, &msg)) {
		fr_buf_printf(ctx->err, "%s:%d: %s", sql_rel(s), sql_line_at(&p->sec[SEC_UP], off),
		              msg.ptr);
		/* Both SQLite and PostgreSQL say "syntax error" for text that does not parse. */
		if (strstr(msg.ptr, "syntax error") || strstr(msg.ptr, "incomplete input") ||
		    strstr(msg.ptr, "unrecognized token"))
			ctx->invalid_input = 1;
		goto done;
	}
	ret = 0;
done:
	fr_buf_release(&msg);
	return ret;
}

/*
 * The up section asked of its database through the driver's parse: a
 * syntax error is "<file>:<line>: syntax error near X" (SQLite says
 * 'near "X": syntax error'; the words are put in one order for both).
 */
static int sql_lint(fr_run_ctx *ctx, fr_step *s)
{
	sql_priv *p = s->priv;
	fr_buf msg = FR_BUF_INIT;
	size_t off = 0;
	fr_db *db;
	int rc;
	const char *m, *near;
	if (!p->sec[SEC_UP].text || !sql_has_code(p->sec[SEC_UP].text))
		return 0;
	if (!(db = sql_db(ctx, p->database)))
		return -1;
	if (!db->drv->parse)
		return 0; /* the driver cannot tell without running it */
	rc = db->drv->parse(db, p->sec[SEC_UP].text, &off, &msg);
	if (rc == 1) {
		m = msg.ptr;
		fr_buf_printf(ctx->err, "%s:%d: ", sql_rel(s), sql_line_at(&p->sec[SEC_UP], off));
		near = !strncmp(m, "near ", 5) ? strstr(m, ": syntax error") : NULL;
		if (near)
			fr_buf_printf(ctx->err, "syntax error near %.*s%s", (int)(near - m - 5), m + 5,
			              near + strlen(": syntax error"));
		else
			fr_buf_puts(ctx->err, m);
	} else if (rc) {
		fr_buf_printf(ctx->err, "%s: cannot ask the database to parse it: %s", sql_rel(s),
		              msg.ptr);
	}
	fr_buf_release(&msg);
	return rc;
}

static int sql_verify(fr_run_ctx *ctx, fr_step *s)
{
	sql_priv *p = s->priv;
	int v = -1;
	if (!p->sec[SEC_VERIFY].text)
		return 0;
	if (sql_query(ctx, s, SEC_VERIFY, &v))
		return -1;
	if (v == 0) {
		fr_buf_printf(ctx->err, "%s:%d: verify query returned false", sql_rel(s),
		              p->sec[SEC_VERIFY].line);
		return -1;
	}
	return 0; /* true, or no row */
}

#define NO_TX_MARK "-- ferry:no-transaction\n"

/*
 * The down text the registry keeps. A no-transaction step's down is kept
 * behind its marker line, so that down and recover run it outside a
 * transaction too, even after the file is gone.
 */
static int sql_undo_text(const fr_step *s, fr_buf *out)
{
	const sql_priv *p = s->priv;
	if (p && p->sec[SEC_DOWN].text) {
		if (p->no_tx)
			fr_buf_puts(out, NO_TX_MARK);
		return fr_buf_puts(out, p->sec[SEC_DOWN].text);
	}
	return out->oom ? -1 : 0;
}

static int sql_undo_transactional(const char *text)
{
	return !text || strncmp(text, NO_TX_MARK, sizeof NO_TX_MARK - 1) != 0;
}

static int sql_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text)
{
	fr_buf msg = FR_BUF_INIT;
	fr_db *db;
	int ret = -1;

	if (!sql_has_code(text)) {
		fr_buf_printf(ctx->err, "%s (down): nothing to run (the step has no down section)",
		              step_id);
		goto done;
	}
	db = sql_db(ctx, db_name);
	if (!db)
		goto done;
	/*
	 * A down waits for a lock as long as an up does by default (its step's
	 * marker is the up's), whatever ran on the connection before it.
	 */
	if (db->drv->set_lock_timeout &&
	    db->drv->set_lock_timeout(db, SQL_LOCK_TIMEOUT_MS, &msg)) {
		fr_buf_printf(ctx->err, "%s (down): %s", step_id, msg.ptr);
		goto done;
	}
	if (db->drv->exec(db, text, NULL, &msg)) {
		fr_buf_printf(ctx->err, "%s (down): %s", step_id, msg.ptr);
		goto done;
	}
	ret = 0;
done:
	fr_buf_release(&msg);
	return ret;
}

static int sql_describe(const fr_step *s, fr_buf *out)
{
	const sql_priv *p = s->priv;
	const char *up = p->sec[SEC_UP].text;
	size_t n = strlen(up);

	if (p->database)
		fr_buf_printf(out, "-- database %s", p->database);
	else
		fr_buf_puts(out, "-- default database");
	fr_buf_puts(out, p->no_tx ? " (no transaction)\n" : " (transaction)\n");
	fr_buf_puts(out, up);
	if (n == 0 || up[n - 1] != '\n')
		fr_buf_putc(out, '\n');
	return out->oom ? -1 : 0;
}

/* ---- ferry new ------------------------------------------------------------ */

static const char sql_template[] =
	"-- {name}\n"
	"-- ferry:up\n"
	"-- Write the change here, e.g. ALTER TABLE notes ADD COLUMN pinned INTEGER;\n"
	"\n"
	"-- ferry:down\n"
	"-- Write what undoes it, e.g. ALTER TABLE notes DROP COLUMN pinned;\n"
	"\n";

static int sql_new_template(fr_buf *out, const char *name)
{
	return fr_template_fill(out, sql_template, name);
}

static int sql_is_template(const char *text, size_t len)
{
	return fr_template_matches(sql_template, text, len);
}

const fr_step_kind fr_step_sql = {
	.name = "sql",
	.noun = "SQL step",
	.files = "*.sql",
	.flags = FR_KIND_NEEDS_DB,
	.new_ext = "sql",
	.new_template = sql_new_template,
	.is_template = sql_is_template,
	.claims = sql_claims,
	.load = sql_load,
	.unload = sql_unload,
	.database = sql_database,
	.transactional = sql_transactional,
	.reversible = sql_reversible,
	.check = sql_check,
	.forward = sql_forward,
	.verify = sql_verify,
	.undo_text = sql_undo_text,
	.undo = sql_undo,
	.undo_transactional = sql_undo_transactional,
	.describe = sql_describe,
	.lint = sql_lint,
	.empty = sql_empty,
};
