/*
 * dbmate.c - dbmate's folder (github.com/amacneil/dbmate, pkg/dbmate/
 * migration.go and migration_file.go), read as dbmate reads it:
 *  - a migration is a file <version><anything>.sql whose version is its
 *    leading digits (dbmate: `^(\d+).*\.sql$`), applied in file-name order
 *    (the order os.ReadDir lists them in); schema_migrations keeps the
 *    version text as written (leading zeros and all);
 *  - its text holds `-- migrate:up` and optionally `-- migrate:down`
 *    sections; options follow the marker on its line, and
 *    `transaction:false` on the up line runs up outside a transaction;
 *  - nothing but comments and blank lines may come before the first
 *    marker (dbmate refuses statements outside the blocks).
 * An up of only comments is a placeholder; an empty down is no down.
 */
#include "layout.h"
#include "../util/alloc.h"

#include <stdlib.h>
#include <string.h>

static int dbmate_claims(const fr_layout_entry *e)
{
	if (e->dir || !fr_digits(e->name) || !fr_lay_suffix(e->name, ".sql"))
		return 0;
	/* golang-migrate's and sqlx's pairs fit the pattern too, but are no dbmate file */
	return fr_lay_suffix(e->name, ".up.sql") || fr_lay_suffix(e->name, ".down.sql") ? 0 : 1;
}

/* A marker line: "--" then blanks then "migrate:up" (0) or "migrate:down" (1); *opts: the rest. */
static int dbmate_section(const char *p, const char *end, const char **opts, fr_split_out *out)
{
	(void)out;
	if (end - p < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	p += 2;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p >= 10 && memcmp(p, "migrate:up", 10) == 0 &&
	    (end - p == 10 || p[10] == ' ' || p[10] == '\t' || p[10] == '\r')) {
		*opts = p + 10;
		return 0;
	}
	if (end - p >= 12 && memcmp(p, "migrate:down", 12) == 0 &&
	    (end - p == 12 || p[12] == ' ' || p[12] == '\t' || p[12] == '\r')) {
		*opts = p + 12;
		return 1;
	}
	return -1;
}

static int dbmate_marks(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *o;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			le = end;
		if (dbmate_section(p, le, &o, NULL) == 0)
			return 1;
		p = le + 1;
	}
	return 0;
}

static int dbmate_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
                       fr_layout_chain *out, fr_buf *err)
{
	size_t i, bad = 0;
	(void)dir;
	/* The listing is in bytewise name order: dbmate's own. */
	for (i = 0; i < n; i++) {
		const char *name = ents[i].name;
		size_t nd = fr_digits(name), len = strlen(name);
		char *version, *title;
		int r;
		if (!dbmate_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not a dbmate migration (expected "
			              "<version>_<name>.sql, the version its leading digits)",
			              bad++ ? "\n" : "", rel, name);
			continue;
		}
		if (i && nd == fr_digits(ents[i - 1].name) &&
		    strncmp(ents[i - 1].name, name, nd) == 0) {
			fr_buf_printf(err, "%s%s/%s: a second migration of version '%.*s' (also '%s')",
			              bad++ ? "\n" : "", rel, name, (int)nd, name, ents[i - 1].name);
			continue;
		}
		version = fr_strndup(name, nd);
		title = fr_strndup(name + nd + (name[nd] == '_'),
		                   len - 4 - nd - (name[nd] == '_' && len - 4 > nd));
		r = !version || !title ||
		    fr_chain_add(out, name, NULL, NULL, name, version, title, 0);
		fr_free(version);
		fr_free(title);
		if (r) {
			fr_buf_printf(err, "%s%s: out of memory", bad++ ? "\n" : "", rel);
			break;
		}
	}
	return bad ? -1 : 0;
}

/* A marker's options: transaction:false (dbmate's only one) runs up outside a transaction. */
static int dbmate_options(const char *o, const char *le, int d, int line, const fr_split_in *in,
                          fr_split_out *out, fr_buf *err)
{
	while (o < le) {
		const char *w;
		while (o < le && (*o == ' ' || *o == '\t' || *o == '\r'))
			o++;
		w = o;
		while (o < le && *o != ' ' && *o != '\t' && *o != '\r')
			o++;
		if (o - w == 17 && memcmp(w, "transaction:false", 17) == 0)
			out->no_tx |= !d;
		else if (o > w && !(o - w == 16 && memcmp(w, "transaction:true", 16) == 0)) {
			fr_buf_printf(err, "%s:%d: unknown option '%.*s' of '-- migrate:%s'",
			              in->rel, line, (int)(o - w), w, d ? "down" : "up");
			return -1;
		}
	}
	return 0;
}

static const fr_sections dbmate_sections = {
	.section = dbmate_section,
	.options = dbmate_options,
	.second = { "'-- migrate:up' block", "'-- migrate:down' block" },
	.no_up = "no '-- migrate:up' block (dbmate needs one)",
	.before = "statements before the first '-- migrate:' block (dbmate runs only what is "
	          "inside the blocks)",
};

static int dbmate_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	return fr_split_sections(in, out, &dbmate_sections, err);
}

const fr_layout fr_layout_dbmate = {
	.name = "dbmate",
	.files = "<version>_<name>.sql with -- migrate:up / -- migrate:down",
	.claims = dbmate_claims,
	.marks = dbmate_marks,
	.scan = dbmate_scan,
	.split = dbmate_split,
};
