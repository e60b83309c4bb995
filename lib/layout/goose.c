/*
 * goose.c - goose's folder (github.com/pressly/goose, migrate.go's
 * NumericComponent and internal/sqlparser/parser.go), read as goose reads it:
 *  - a migration is <version>_<name>.sql, its version the int64 before the
 *    first '_' (an integer or a timestamp; above zero), applied in numeric
 *    order; goose_db_version keeps the int64 (so 001 is 1);
 *  - sections `-- +goose Up` and `-- +goose Down`; `-- +goose NO
 *    TRANSACTION` anywhere runs the file outside a transaction;
 *    `-- +goose StatementBegin` / `StatementEnd` only guide goose's own
 *    statement splitting: ferry hands a section to the database whole, so
 *    they stay in the text as the comments they are;
 *  - a Go-coded migration (<version>_<name>.go) cannot be read: an error.
 */
#include "layout.h"
#include "../util/alloc.h"

#include <string.h>
#include <strings.h>

static int goose_claims(const fr_layout_entry *e)
{
	size_t nd = fr_digits(e->name);
	if (e->dir || !nd || e->name[nd] != '_')
		return 0;
	if (fr_lay_suffix(e->name, ".up.sql") || fr_lay_suffix(e->name, ".down.sql"))
		return 0;
	return fr_lay_suffix(e->name, ".sql") || fr_lay_suffix(e->name, ".go");
}

/* The goose annotation of a line ("up", "no transaction", ...), or NULL; *n its length. */
static const char *goose_annotation(const char *p, const char *end, size_t *n)
{
	if (end - p < 2 || p[0] != '-' || p[1] != '-')
		return NULL;
	p += 2;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 6 || memcmp(p, "+goose", 6) != 0)
		return NULL;
	p += 6;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*n = (size_t)(end - p);
	return p;
}

static int is(const char *a, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

static int goose_marks(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		size_t n;
		if (!le)
			le = end;
		if (goose_annotation(p, le, &n))
			return 1;
		p = le + 1;
	}
	return 0;
}

static int goose_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
                      fr_layout_chain *out, fr_buf *err)
{
	fr_num_mig *m = fr_calloc(n ? n : 1, sizeof *m);
	size_t i, k = 0, bad = 0;
	(void)dir;
	if (!m) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i].name;
		size_t nd = fr_digits(name);
		int64_t v = 0;
		if (!goose_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not a goose migration (expected <version>_<name>.sql)",
			              bad++ ? "\n" : "", rel, name);
		} else if (fr_lay_suffix(name, ".go")) {
			fr_buf_printf(err, "%s%s/%s: a Go-coded goose migration; ferry runs SQL "
			              "migrations only (rewrite it as <version>_<name>.sql, or run it "
			              "with goose)", bad++ ? "\n" : "", rel, name);
		} else if (!fr_parse_i64(name, nd, &v) || v < 1) {
			fr_buf_printf(err, "%s%s/%s: goose's version must be an integer above 0 that "
			              "fits 64 bits", bad++ ? "\n" : "", rel, name);
		} else {
			m[k].v = v;
			m[k++].up = name;
		}
	}
	/* a second of a version is refused in numeric order, as goose does */
	if (!bad && fr_num_chain(m, k, 0, rel, out, err))
		bad++;
	fr_free(m);
	return bad ? -1 : 0;
}

/* The section a line opens: Up 0, Down 1; NO TRANSACTION (anywhere) sets no_tx. */
static int goose_section(const char *p, const char *le, const char **opts, fr_split_out *out)
{
	size_t n;
	const char *a = goose_annotation(p, le, &n);
	*opts = le;
	if (!a)
		return -1;
	if (is(a, n, "up"))
		return 0;
	if (is(a, n, "down"))
		return 1;
	if (is(a, n, "no transaction"))
		out->no_tx = 1;
	return -1;
}

static const fr_sections goose_sections = {
	.section = goose_section,
	.second = { "'-- +goose Up'", "'-- +goose Down'" },
	.no_up = "no '-- +goose Up' annotation (goose needs one)",
	.before = "statements before the first '-- +goose' section",
};

static int goose_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	return fr_split_sections(in, out, &goose_sections, err);
}

const fr_layout fr_layout_goose = {
	.name = "goose",
	.files = "<version>_<name>.sql with -- +goose Up / -- +goose Down",
	.claims = goose_claims,
	.marks = goose_marks,
	.scan = goose_scan,
	.split = goose_split,
};
