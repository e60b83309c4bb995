/*
 * flyway.c - Flyway's folder (flyway-core's MigrationInfoHelper and
 * MigrationVersion; "SQL-based migrations" naming), read as Flyway reads it:
 *  - V<version>__<description>.sql is a versioned migration; the version's
 *    parts are separated by '.' or '_' (V1_2 is 1.2), compared part by part
 *    as numbers, trailing zero parts ignored (1.0 is 1); the history table
 *    keeps the version with dots and the description with each '_' a space;
 *  - U<version>__<description>.sql is the undo of V<version>: its down;
 *  - R__<description>.sql is repeatable: no version, run after every
 *    versioned one (in description order), and again whenever its
 *    checksum changes;
 *  - <file>.conf beside a migration may say executeInTransaction=false.
 * Each file runs whole.
 */
#include "layout.h"
#include "../util/alloc.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 16

/* The length of the version of V..__ / U..__ (after the prefix), or 0 when there is none. */
static size_t fw_version_len(const char *s)
{
	const char *sep = strstr(s, "__");
	size_t i, n;
	if (!sep || sep == s)
		return 0;
	n = (size_t)(sep - s);
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || ((s[i] == '.' || s[i] == '_') && i &&
		                                       s[i - 1] >= '0' && s[i - 1] <= '9')))
			return 0;
	return s[n - 1] >= '0' && s[n - 1] <= '9' ? n : 0;
}

static int fw_claims(const fr_layout_entry *e)
{
	const char *s = e->name;
	if (e->dir)
		return 0;
	if (fr_lay_suffix(s, ".sql.conf"))
		return 2;
	if (!fr_lay_suffix(s, ".sql"))
		return 0;
	if (s[0] == 'R' && s[1] == '_' && s[2] == '_' && s[3] != '.')
		return 2;
	return (s[0] == 'V' || s[0] == 'U') && fw_version_len(s + 1) ? 2 : 0;
}

typedef struct {
	const char *v, *u, *conf; /* file names */
	unsigned long long part[MAX_PARTS];
	size_t nparts;
	char *version; /* with dots */
	int repeatable;
} fw_mig;

static int fw_parse(const char *s, size_t n, fw_mig *m)
{
	size_t i;
	m->nparts = 0;
	for (i = 0; i < n;) {
		unsigned long long v = 0;
		if (m->nparts == MAX_PARTS)
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (v > 1844674407370955160ULL)
				return -1;
			v = v * 10 + (unsigned)(s[i++] - '0');
		}
		m->part[m->nparts++] = v;
		i++; /* the separator */
	}
	while (m->nparts > 1 && m->part[m->nparts - 1] == 0)
		m->nparts--; /* 1.0 is 1 */
	return 0;
}

static int cmp_fw(const void *a, const void *b)
{
	const fw_mig *x = a, *y = b;
	size_t i;
	if (x->repeatable != y->repeatable)
		return x->repeatable ? 1 : -1;
	if (x->repeatable)
		return strcmp(x->v, y->v);
	for (i = 0; i < x->nparts || i < y->nparts; i++) {
		unsigned long long p = i < x->nparts ? x->part[i] : 0, q = i < y->nparts ? y->part[i] : 0;
		if (p != q)
			return p < q ? -1 : 1;
	}
	return 0;
}

/* The description of a name (after "__", before ".sql"), '_' made spaces. */
static char *fw_desc(const char *name)
{
	const char *d = strstr(name, "__") + 2;
	return fr_underscores_to_spaces(d, strlen(d) - 4);
}

/* One function: names pair up (V with U, each with its .conf) before they are sorted. */
static int fw_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
                   fr_layout_chain *out, fr_buf *err)
{
	fw_mig *m = fr_calloc(n ? n : 1, sizeof *m);
	size_t i, j, k = 0, bad = 0;
	(void)dir;
	if (!m) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	for (i = 0; i < n && !bad; i++) {
		const char *name = ents[i].name;
		fw_mig t;
		size_t vl;
		if (!fw_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not a Flyway migration (expected V<version>__<desc>"
			              ".sql, U<version>__<desc>.sql or R__<desc>.sql)", bad++ ? "\n" : "",
			              rel, name);
			continue;
		}
		if (fr_lay_suffix(name, ".sql.conf"))
			continue; /* paired below */
		memset(&t, 0, sizeof t);
		if (name[0] == 'R') {
			t.repeatable = 1;
			t.v = name;
			m[k++] = t;
			continue;
		}
		vl = fw_version_len(name + 1);
		if (fw_parse(name + 1, vl, &t)) {
			fr_buf_printf(err, "%s%s/%s: a version of too many parts or too large a part",
			              bad++ ? "\n" : "", rel, name);
			continue;
		}
		for (j = 0; j < k && (m[j].repeatable || cmp_fw(&m[j], &t)); j++)
			;
		if (j == k) {
			if (!(t.version = fr_strndup(name + 1, vl))) {
				bad++;
				break;
			}
			for (vl = 0; t.version[vl]; vl++)
				if (t.version[vl] == '_')
					t.version[vl] = '.';
			m[k++] = t;
		}
		if (name[0] == 'V' ? m[j].v != NULL : m[j].u != NULL) {
			fr_buf_printf(err, "%s%s/%s: a second %s migration of version %s (also '%s')",
			              bad++ ? "\n" : "", rel, name, name[0] == 'V' ? "versioned" : "undo",
			              m[j].version, name[0] == 'V' ? m[j].v : m[j].u);
			continue;
		}
		if (name[0] == 'V')
			m[j].v = name;
		else
			m[j].u = name;
	}
	/* A .conf goes with the file it is named after (an undo's says nothing ferry uses). */
	for (i = 0; i < n && !bad; i++) {
		const char *name = ents[i].name;
		size_t l = strlen(name) - 5;
		int found = 0;
		if (!fr_lay_suffix(name, ".sql.conf"))
			continue;
		for (j = 0; j < k && !found; j++) {
			if (m[j].v && strlen(m[j].v) == l && !strncmp(m[j].v, name, l)) {
				m[j].conf = name;
				found = 1;
			}
			found |= m[j].u && strlen(m[j].u) == l && !strncmp(m[j].u, name, l);
		}
		if (!found)
			fr_buf_printf(err, "%s%s/%s: a configuration of no migration here",
			              bad++ ? "\n" : "", rel, name);
	}
	qsort(m, k, sizeof *m, cmp_fw);
	for (i = 0; i < k && !bad; i++) {
		char *desc;
		if (!m[i].v) {
			fr_buf_printf(err, "%s%s/%s: an undo migration without its versioned one",
			              bad++ ? "\n" : "", rel, m[i].u);
			continue;
		}
		desc = fw_desc(m[i].v);
		if (!desc || fr_chain_add(out, m[i].v, m[i].u, m[i].conf, m[i].v, m[i].version, desc,
		                          m[i].repeatable)) {
			fr_free(desc);
			fr_buf_printf(err, "%s%s: out of memory", bad++ ? "\n" : "", rel);
			break;
		}
		fr_free(desc);
	}
	for (i = 0; i < k; i++)
		fr_free(m[i].version);
	fr_free(m);
	return bad ? -1 : 0;
}

/* executeInTransaction=false in a script configuration (key=value lines, # comments). */
static int fw_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	int no_tx = in->meta && fr_key_false(in->meta, in->meta_len, "executeInTransaction");
	return fr_split_whole(in, out, no_tx, err);
}

const fr_layout fr_layout_flyway = {
	.name = "flyway",
	.files = "V<version>__<desc>.sql, U<version>__<desc>.sql, R__<desc>.sql",
	.claims = fw_claims,
	.scan = fw_scan,
	.split = fw_split,
};
