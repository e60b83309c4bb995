/*
 * sqlx.c - sqlx's folder (github.com/launchbadge/sqlx, sqlx-core/src/
 * migrate/source.rs and migration_type.rs), read as sqlx reads it:
 *  - a migration is <version>_<description>.sql (up only), or a pair
 *    <version>_<description>.up.sql / .down.sql; the version is the i64
 *    before the first '_', applied in numeric order; _sqlx_migrations keeps
 *    the i64 and the description with each '_' made a space;
 *  - a file whose text starts with `-- no-transaction` runs outside a
 *    transaction.
 */
#include "layout.h"
#include "../util/alloc.h"

#include <inttypes.h>
#include <string.h>

static int sqlx_claims(const fr_layout_entry *e)
{
	size_t nd = fr_digits(e->name);
	if (e->dir || !nd || e->name[nd] != '_')
		return 0;
	return fr_lay_suffix(e->name, ".sql");
}

static int sqlx_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
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
		int down = fr_lay_suffix(name, ".down.sql"), pair = down || fr_lay_suffix(name, ".up.sql");
		if (!sqlx_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not an sqlx migration (expected "
			              "<version>_<description>.sql, or .up.sql and .down.sql)",
			              bad++ ? "\n" : "", rel, name);
			continue;
		}
		if (!fr_parse_i64(name, fr_digits(name), &v)) {
			fr_buf_printf(err, "%s%s/%s: the version does not fit 64 bits", bad++ ? "\n" : "",
			              rel, name);
			continue;
		}
		j = fr_num_slot(m, &k, v, pair);
		if ((down ? m[j].down : m[j].up) != NULL || m[j].pair != pair) {
			fr_buf_printf(err, "%s%s/%s: a second migration of version %" PRId64 " (also '%s')",
			              bad++ ? "\n" : "", rel, name, v, m[j].up ? m[j].up : m[j].down);
			continue;
		}
		if (down)
			m[j].down = name;
		else
			m[j].up = name;
	}
	if (!bad && fr_num_chain(m, k, 1, rel, out, err))
		bad++;
	fr_free(m);
	return bad ? -1 : 0;
}

static int sqlx_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	static const char mark[] = "-- no-transaction";
	int no_tx = in->up_len >= sizeof mark - 1 && memcmp(in->up, mark, sizeof mark - 1) == 0;
	return fr_split_whole(in, out, no_tx, err);
}

const fr_layout fr_layout_sqlx = {
	.name = "sqlx",
	.files = "<version>_<description>.sql, or .up.sql and .down.sql",
	.claims = sqlx_claims,
	.scan = sqlx_scan,
	.split = sqlx_split,
};
