/*
 * golang_migrate.c - golang-migrate's folder (github.com/golang-migrate/
 * migrate, source/parse.go: `^([0-9]+)_(.*)\.(down|up)\.(.*)$`), read as
 * it reads it:
 *  - a migration is <version>_<title>.up.sql, with its undo in
 *    <version>_<title>.down.sql; the version is a uint (leading zeros
 *    allowed: 0001 is 1), applied in numeric order; schema_migrations
 *    keeps the number;
 *  - each file runs whole; there are no markers.
 */
#include "layout.h"
#include "../util/alloc.h"

#include <inttypes.h>
#include <string.h>

static int gm_claims(const fr_layout_entry *e)
{
	size_t nd = fr_digits(e->name);
	if (e->dir || !nd || e->name[nd] != '_')
		return 0;
	return fr_lay_suffix(e->name, ".up.sql") || fr_lay_suffix(e->name, ".down.sql") ? 2 : 0;
}

static int gm_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
                   fr_layout_chain *out, fr_buf *err)
{
	fr_num_mig *m = fr_calloc(n ? n : 1, sizeof *m);
	size_t i, j, k = 0, bad = 0;
	(void)dir;
	if (!m) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i].name;
		int64_t v = 0;
		int up;
		if (!gm_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not a golang-migrate migration (expected "
			              "<version>_<title>.up.sql or .down.sql)", bad++ ? "\n" : "", rel,
			              name);
			continue;
		}
		if (!fr_parse_i64(name, fr_digits(name), &v)) {
			fr_buf_printf(err, "%s%s/%s: the version does not fit 64 bits", bad++ ? "\n" : "",
			              rel, name);
			continue;
		}
		up = fr_lay_suffix(name, ".up.sql");
		j = fr_num_slot(m, &k, v, 0);
		if ((up ? m[j].up : m[j].down) != NULL) {
			fr_buf_printf(err, "%s%s/%s: a second %s file of version %" PRId64 " (also '%s')",
			              bad++ ? "\n" : "", rel, name, up ? "up" : "down", v,
			              up ? m[j].up : m[j].down);
			continue;
		}
		if (up)
			m[j].up = name;
		else
			m[j].down = name;
	}
	if (!bad && fr_num_chain(m, k, 0, rel, out, err))
		bad++;
	fr_free(m);
	return bad ? -1 : 0;
}

static int gm_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	return fr_split_whole(in, out, 0, err);
}

const fr_layout fr_layout_golang_migrate = {
	.name = "golang-migrate",
	.files = "<version>_<title>.up.sql and .down.sql",
	.claims = gm_claims,
	.scan = gm_scan,
	.split = gm_split,
};
