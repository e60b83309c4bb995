/*
 * history.c - the table of tools' history tables, what a table says of one
 * migration (fr_history_state), the order of tool versions, and the few
 * queries every tool's file shares (does a table or a column exist, a
 * value as text or as a boolean, a table of one version column read, a
 * version as a parameter).
 *
 * Adding a tool: one file beside this one with its fr_history_tool, a line
 * in tools[] below, and its cases in tests/unit/test_history.c.
 */
#include "history.h"

#include "../util/alloc.h"

#include <stdlib.h>
#include <string.h>

static const fr_history_tool *const tools[] = {
	&fr_history_dbmate,
	&fr_history_goose,
	&fr_history_golang_migrate,
	&fr_history_flyway,
	&fr_history_diesel,
	&fr_history_sqlx,
};

#define NTOOLS (sizeof tools / sizeof tools[0])

const fr_history_tool *fr_history_tool_find(const char *name)
{
	size_t i;
	if (!name)
		return NULL;
	for (i = 0; i < NTOOLS; i++)
		if (!strcmp(tools[i]->name, name))
			return tools[i];
	return NULL;
}

const fr_history_tool *fr_history_tool_at(size_t i)
{
	return i < NTOOLS ? tools[i] : NULL;
}

void fr_history_clear(fr_history *h)
{
	size_t i;
	if (!h)
		return;
	for (i = 0; i < h->n; i++) {
		fr_free(h->rows[i].version);
		fr_free(h->rows[i].name);
		fr_free(h->rows[i].checksum);
	}
	fr_free(h->rows);
	fr_free(h->upto);
	memset(h, 0, sizeof *h);
}

int fr_history_add(fr_history *h, const char *version, const char *name, const char *checksum,
                   int failed, fr_buf *err)
{
	fr_history_row *r, *rows;
	/* Room doubles at each power of two: a table of a thousand rows is read at every start. */
	if (h->n == 0 || (h->n >= 8 && (h->n & (h->n - 1)) == 0)) {
		rows = fr_realloc(h->rows, (h->n ? 2 * h->n : 8) * sizeof *rows);
		if (!rows) {
			err->oom = 1;
			return -1;
		}
		h->rows = rows;
	}
	rows = h->rows;
	h->sorted = 0;
	r = &rows[h->n];
	memset(r, 0, sizeof *r);
	r->failed = failed;
	if ((version && !(r->version = fr_strdup(version))) ||
	    (name && !(r->name = fr_strdup(name))) ||
	    (checksum && !(r->checksum = fr_strdup(checksum)))) {
		fr_free(r->version);
		fr_free(r->name);
		err->oom = 1;
		return -1;
	}
	h->n++;
	return 0;
}

/* ---- what a table says ---- */

/* Rows by version (a repeatable, without one, after every versioned row), then name. */
static int cmp_key(const char *va, const char *na, const char *vb, const char *nb)
{
	if (!va != !vb)
		return va ? -1 : 1;
	if (va)
		return strcmp(va, vb);
	if (!na != !nb)
		return na ? -1 : 1;
	return na ? strcmp(na, nb) : 0;
}

static int cmp_row(const void *a, const void *b)
{
	const fr_history_row *x = a, *y = b;
	return cmp_key(x->version, x->name, y->version, y->name);
}

void fr_history_sort(fr_history *h)
{
	if (h->n > 1)
		qsort(h->rows, h->n, sizeof *h->rows, cmp_row);
	h->sorted = 1;
}

/* The row of version (or of the repeatable called name), or NULL. */
static const fr_history_row *find_row(const fr_history *h, const char *version, const char *name)
{
	size_t i, lo = 0, hi = h->n;
	if (!version && !name)
		return NULL;
	if (!h->sorted) {
		for (i = 0; i < h->n; i++) {
			const fr_history_row *r = &h->rows[i];
			if (version ? r->version && !strcmp(r->version, version)
			            : !r->version && r->name && !strcmp(r->name, name))
				return r;
		}
		return NULL;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const fr_history_row *r = &h->rows[mid];
		int c = version ? (r->version ? strcmp(version, r->version) : -1)
		                : cmp_key(NULL, name, r->version, r->name);
		if (c == 0)
			return r;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int fr_history_state(const fr_history *h, const char *version, const char *name,
                     const char **checksum)
{
	const fr_history_row *r;
	if (checksum)
		*checksum = NULL;
	if ((r = find_row(h, version, name))) {
		if (checksum)
			*checksum = r->checksum;
		return r->failed ? FR_HISTORY_FAILED : FR_HISTORY_APPLIED;
	}
	if (version && h->upto) {
		int c = fr_history_cmp(version, h->upto);
		if (c == 0)
			return h->upto_failed ? FR_HISTORY_FAILED : FR_HISTORY_APPLIED;
		if (c < 0)
			return FR_HISTORY_APPLIED;
	}
	return FR_HISTORY_PENDING;
}

static int all_digits(const char *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return n > 0;
}

/* One part of a version: digits as a number of any length, anything else as text. */
static int cmp_part(const char *a, size_t na, const char *b, size_t nb)
{
	int c;
	if (all_digits(a, na) && all_digits(b, nb)) {
		while (na > 1 && *a == '0')
			a++, na--;
		while (nb > 1 && *b == '0')
			b++, nb--;
		if (na != nb)
			return na < nb ? -1 : 1;
	}
	c = memcmp(a, b, na < nb ? na : nb);
	if (c)
		return c < 0 ? -1 : 1;
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

int fr_history_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		int c = cmp_part(na ? a : "0", na ? na : 1, nb ? b : "0", nb ? nb : 1);
		if (c)
			return c;
		a += na;
		b += nb;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

/* ---- shared queries ---- */

int fr_history_is_pg(const fr_db *db)
{
	return !strcmp(db->drv->name, "postgres");
}

int fr_history_run(fr_db *db, const char *sql, const fr_val *params, size_t n, fr_buf *err)
{
	return fr_db_query(db, sql, params, n, NULL, NULL, err) ? -1 : 0;
}

static int count_row(void *arg, const fr_val *cols, size_t n)
{
	*(int *)arg = n > 0 && cols[0].type == FR_VAL_INT && cols[0].i > 0;
	return 0;
}

int fr_history_table_exists(fr_db *db, const char *table, int *yes, fr_buf *err)
{
	fr_val p = { .type = FR_VAL_TEXT, .p = table, .len = strlen(table) };
	const char *sql = fr_history_is_pg(db)
		? "SELECT count(*) FROM information_schema.tables "
		  "WHERE table_schema = current_schema() AND table_name = $1"
		: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1";
	*yes = 0;
	return fr_db_query(db, sql, &p, 1, count_row, yes, err) ? -1 : 0;
}

int fr_history_has_column(fr_db *db, const char *table, const char *column, int *yes,
                          fr_buf *err)
{
	fr_val p[2] = { { .type = FR_VAL_TEXT, .p = table, .len = strlen(table) },
	                { .type = FR_VAL_TEXT, .p = column, .len = strlen(column) } };
	const char *sql = fr_history_is_pg(db)
		? "SELECT count(*) FROM information_schema.columns "
		  "WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
		: "SELECT count(*) FROM pragma_table_info($1) WHERE name = $2";
	*yes = 0;
	return fr_db_query(db, sql, p, 2, count_row, yes, err) ? -1 : 0;
}

int fr_history_table_with(fr_db *db, const char *table, const char *column, int has, int *yes,
                          fr_buf *err)
{
	int col = 0;
	if (fr_history_table_exists(db, table, yes, err))
		return -1;
	if (*yes && fr_history_has_column(db, table, column, &col, err))
		return -1;
	*yes = *yes && col == has;
	return 0;
}

static int version_row(void *arg, const fr_val *cols, size_t n)
{
	fr_history_reader *r = arg;
	char *v = fr_history_text(&cols[0]);
	int rc;
	(void)n;
	if (!v) {
		if (cols[0].type == FR_VAL_NULL)
			return 0;
		r->err->oom = 1;
		return -1;
	}
	rc = fr_history_add(r->h, v, NULL, NULL, 0, r->err);
	fr_free(v);
	return rc;
}

int fr_history_read_rows(fr_db *db, int (*present)(fr_db *db, int *yes, fr_buf *err),
                         const char *sql, fr_db_row_fn row, void *arg, fr_history *out,
                         fr_buf *err)
{
	int yes;
	fr_history_clear(out);
	if (present(db, &yes, err))
		return -1;
	if (!yes)
		return 0;
	if (fr_db_query(db, sql, NULL, 0, row, arg, err)) {
		fr_history_clear(out);
		return -1;
	}
	return 0;
}

int fr_history_read_versions(fr_db *db, int (*present)(fr_db *db, int *yes, fr_buf *err),
                             const char *sql, fr_history *out, fr_buf *err)
{
	fr_history_reader r = { out, err };
	return fr_history_read_rows(db, present, sql, version_row, &r, out, err);
}

fr_val fr_history_val_text(const char *s)
{
	fr_val v = { .type = FR_VAL_TEXT, .p = s, .len = strlen(s) };
	return v;
}

fr_val fr_history_val_int(int64_t i)
{
	fr_val v = { .type = FR_VAL_INT, .i = i };
	return v;
}

int fr_history_int_version(const char *tool, const char *s, fr_val *v, fr_buf *err)
{
	char *end;
	long long x = strtoll(s, &end, 10);
	if (!*s || *end) {
		fr_buf_printf(err, "%s version '%s' is not an integer", tool, s);
		return -1;
	}
	*v = fr_history_val_int(x);
	return 0;
}

int fr_history_no_checksum(const char *text, size_t len, fr_buf *out, fr_buf *err)
{
	(void)text;
	(void)len;
	(void)out;
	(void)err;
	return 0;
}

char *fr_history_text(const fr_val *v)
{
	fr_buf b = FR_BUF_INIT;
	switch (v->type) {
	case FR_VAL_NULL:
		return NULL;
	case FR_VAL_INT:
		fr_buf_printf(&b, "%lld", (long long)v->i);
		break;
	case FR_VAL_REAL:
		fr_buf_printf(&b, "%.17g", v->r);
		break;
	case FR_VAL_TEXT:
	case FR_VAL_BLOB:
		fr_buf_add(&b, v->p, v->len);
		break;
	}
	return fr_buf_detach(&b);
}

int fr_history_bool(const fr_val *v)
{
	switch (v->type) {
	case FR_VAL_INT:
		return v->i != 0;
	case FR_VAL_REAL:
		return v->r != 0;
	case FR_VAL_TEXT:
		return v->len > 0 && (v->p[0] == 't' || v->p[0] == 'T' || v->p[0] == '1');
	default:
		return 0;
	}
}
