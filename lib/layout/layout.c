/*
 * layout.c - the table of migration-folder layouts (a static NULL-terminated
 * array, as step.c's kinds), detection of a folder's layout from its file
 * names (and, on a tie, its files' markers), and the small helpers the
 * layouts share. Adding a layout is one file and one line of layouts[].
 */
#include "layout.h"
#include "../util/alloc.h"
#include "../util/fs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fr_layout *const layouts[] = {
	&fr_layout_dbmate,
	&fr_layout_goose,
	&fr_layout_golang_migrate,
	&fr_layout_flyway,
	&fr_layout_diesel,
	&fr_layout_sqlx,
	NULL,
};

const fr_layout *fr_layout_find(const char *name)
{
	size_t i;
	for (i = 0; name && layouts[i]; i++)
		if (strcmp(layouts[i]->name, name) == 0)
			return layouts[i];
	return NULL;
}

void fr_layout_names(fr_buf *out)
{
	size_t i;
	for (i = 0; layouts[i]; i++)
		fr_buf_printf(out, "%s%s", i ? ", " : "", layouts[i]->name);
}

int fr_layout_complete(const fr_layout *l, fr_buf *why)
{
	int bad = 0;
#define MUST(m)                                                                  \
	do {                                                                     \
		if (!l->m) {                                                     \
			fr_buf_printf(why, "%s" #m, bad++ ? ", " : "");           \
		}                                                                \
	} while (0)
	MUST(name);
	MUST(files);
	MUST(claims);
	MUST(scan);
	MUST(split);
#undef MUST
	return bad ? -1 : 0;
}

/* ---- detection ------------------------------------------------------------ */

/* ferry's own: a transition folder FROM_to_TO, versions.yaml, a flat 1.2.2_name step. */
static int ferry_claims(const fr_layout_entry *e)
{
	const char *p = e->name;
	if (e->dir)
		return strstr(p, "_to_") != NULL;
	if (strcmp(p, "versions.yaml") == 0)
		return 1;
	if (*p == 'v')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '.'; /* a semantic version has dots; no other tool's version does */
}

static int is_sql_file(const fr_layout_entry *e)
{
	size_t n = strlen(e->name);
	return !e->dir && n > 4 && strcmp(e->name + n - 4, ".sql") == 0;
}

/* 1 when some .sql file of the folder carries l's markers (read at most 64 files). */
static int folder_marks(const fr_layout *l, const char *dir, const fr_layout_entry *ents,
                        size_t n)
{
	fr_buf text = FR_BUF_INIT;
	size_t i, read = 0;
	int found = 0;
	for (i = 0; i < n && !found && read < 64; i++) {
		char *p;
		if (!is_sql_file(&ents[i]) || !(p = fr_path_join(dir, ents[i].name)))
			continue;
		fr_buf_reset(&text);
		if (fr_read_file(p, &text) == 0 && !text.oom)
			found = l->marks(text.ptr, text.len);
		read++;
		fr_free(p);
	}
	fr_buf_release(&text);
	return found;
}

/*
 * One function: the scores, the tie and its messages read best in one
 * place. The score of a layout is its smallest claim over the entries.
 */
const fr_layout *fr_layout_detect(const char *dir, const char *rel,
                                  const fr_layout_entry *ents, size_t n, int *is_ferry,
                                  fr_buf *err)
{
	const fr_layout *cand[16], *marked = NULL;
	size_t i, k, ncand = 0, nmarked = 0;
	int best = 0, all_ferry = 1;

	*is_ferry = 0;
	for (i = 0; i < n && all_ferry; i++)
		all_ferry = ferry_claims(&ents[i]);
	if (all_ferry) {
		*is_ferry = 1; /* ferry's own, or an empty folder */
		return NULL;
	}
	for (k = 0; layouts[k]; k++) {
		int score = 2;
		for (i = 0; i < n && score; i++) {
			int c = layouts[k]->claims(&ents[i]);
			if (c < score)
				score = c;
		}
		if (score > best) {
			best = score;
			ncand = 0;
		}
		if (score && score == best && ncand < sizeof cand / sizeof *cand)
			cand[ncand++] = layouts[k];
	}
	if (!ncand) {
		fr_buf_printf(err, "%s: its files match no layout ferry reads (ferry's own, ", rel);
		fr_layout_names(err);
		fr_buf_puts(err, "); set 'layout:' for it in ferry.yaml, or rename what does not fit");
		return NULL;
	}
	if (ncand == 1)
		return cand[0];
	for (k = 0; k < ncand; k++) {
		if (cand[k]->marks && folder_marks(cand[k], dir, ents, n)) {
			marked = cand[k];
			nmarked++;
		}
	}
	if (nmarked == 1)
		return marked;
	fr_buf_printf(err, "%s: cannot tell its layout from the file names (they fit ", rel);
	for (k = 0; k < ncand; k++)
		fr_buf_printf(err, "%s%s", k ? (k + 1 == ncand ? " and " : ", ") : "", cand[k]->name);
	fr_buf_puts(err, ") nor from markers in the files; set 'layout:' for it in ferry.yaml");
	return NULL;
}

/* ---- shared helpers --------------------------------------------------------- */

static char *dup_or_null(const char *s, int *oom)
{
	char *d;
	if (!s)
		return NULL;
	if (!(d = fr_strdup(s)))
		*oom = 1;
	return d;
}

int fr_chain_add(fr_layout_chain *c, const char *file, const char *down, const char *meta,
                 const char *entry, const char *version, const char *name, int repeatable)
{
	fr_layout_mig *m;
	int oom = 0;
	if (fr_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v))
		return -1;
	m = &c->v[c->n];
	memset(m, 0, sizeof *m);
	m->file = dup_or_null(file, &oom);
	m->down = dup_or_null(down, &oom);
	m->meta = dup_or_null(meta, &oom);
	m->entry = dup_or_null(entry, &oom);
	m->version = dup_or_null(version, &oom);
	m->name = dup_or_null(name, &oom);
	m->repeatable = repeatable;
	c->n++;
	return oom ? -1 : 0;
}

void fr_chain_free(fr_layout_chain *c)
{
	size_t i;
	for (i = 0; i < c->n; i++) {
		fr_layout_mig *m = &c->v[i];
		fr_free(m->file);
		fr_free(m->down);
		fr_free(m->meta);
		fr_free(m->entry);
		fr_free(m->version);
		fr_free(m->name);
	}
	fr_free(c->v);
	memset(c, 0, sizeof *c);
}

const char *fr_sql_code(const char *p, size_t n)
{
	const char *end = p + n;
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f' || *p == '\v') {
			p++;
		} else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			const char *q = p + 2;
			while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
				q++;
			if (end - q < 2)
				return end;
			p = q + 2;
		} else {
			return p;
		}
	}
	return end;
}

int fr_sql_blank(const char *p, size_t n)
{
	return fr_sql_code(p, n) == p + n;
}

int fr_count_lines(const char *p, const char *q)
{
	int n = 0;
	for (; p < q; p++)
		n += *p == '\n';
	return n;
}

char *fr_underscores_to_spaces(const char *s, size_t n)
{
	char *d = fr_strndup(s, n);
	size_t i;
	for (i = 0; d && i < n; i++)
		if (d[i] == '_')
			d[i] = ' ';
	return d;
}

int fr_parse_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i;
	if (n == 0 || n > 19)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return 0;
	*out = (int64_t)v;
	return 1;
}

int fr_split_whole(const fr_split_in *in, fr_split_out *out, int no_tx, fr_buf *err)
{
	memset(out, 0, sizeof *out);
	out->up = fr_strndup(in->up, in->up_len);
	out->up_line = 1;
	out->no_tx = no_tx;
	if (in->down)
		out->down = fr_strndup(in->down, in->down_len);
	if (!out->up || (in->down && !out->down)) {
		fr_buf_printf(err, "%s: out of memory", in->rel);
		return -1;
	}
	return 0;
}

/* One function: one pass over the lines keeps the two sections and their lines. */
int fr_split_sections(const fr_split_in *in, fr_split_out *out, const fr_sections *s,
                      fr_buf *err)
{
	const char *p = in->up, *end = in->up + in->up_len, *first = NULL;
	const char *start[2] = { NULL, NULL }, *stop[2] = { NULL, NULL };
	int line = 1, cur = -1, lines[2] = { 0, 0 };

	memset(out, 0, sizeof *out);
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p)), *o = NULL;
		int d;
		if (!le)
			le = end;
		if ((d = s->section(p, le, &o, out)) >= 0) {
			if (start[d]) {
				fr_buf_printf(err, "%s:%d: a second %s", in->rel, line, s->second[d]);
				return -1;
			}
			if (!first)
				first = p;
			if (cur >= 0)
				stop[cur] = p;
			cur = d;
			start[d] = le < end ? le + 1 : end;
			lines[d] = line + 1;
			if (s->options && s->options(o, le, d, line, in, out, err))
				return -1;
		}
		p = le + 1;
		line++;
	}
	if (cur >= 0)
		stop[cur] = end;
	if (!start[0]) {
		fr_buf_printf(err, "%s: %s", in->rel, s->no_up);
		return -1;
	}
	if (!fr_sql_blank(in->up, (size_t)(first - in->up))) {
		fr_buf_printf(err, "%s:%d: %s", in->rel,
		              1 + fr_count_lines(in->up, fr_sql_code(in->up, (size_t)(first - in->up))),
		              s->before);
		return -1;
	}
	out->up = fr_strndup(start[0], (size_t)(stop[0] - start[0]));
	out->up_line = lines[0];
	if (start[1])
		out->down = fr_strndup(start[1], (size_t)(stop[1] - start[1]));
	if (!out->up || (start[1] && !out->down)) {
		fr_buf_printf(err, "%s: out of memory", in->rel);
		return -1;
	}
	return 0;
}

size_t fr_num_slot(fr_num_mig *m, size_t *k, int64_t v, int pair)
{
	size_t j;
	for (j = 0; j < *k && m[j].v != v; j++)
		;
	if (j == *k) {
		m[j].pair = pair;
		m[(*k)++].v = v;
	}
	return j;
}

static int cmp_num(const void *a, const void *b)
{
	const fr_num_mig *x = a, *y = b;
	return x->v < y->v ? -1 : x->v > y->v;
}

int fr_num_chain(fr_num_mig *m, size_t k, int spaces, const char *rel, fr_layout_chain *out,
                 fr_buf *err)
{
	size_t i;
	qsort(m, k, sizeof *m, cmp_num);
	for (i = 0; i < k; i++) {
		char ver[24];
		char *title;
		const char *t;
		size_t n;
		if (i && m[i].v == m[i - 1].v) {
			fr_buf_printf(err, "%s/%s: a second migration of version %" PRId64 " (also '%s')",
			              rel, m[i].up, m[i].v, m[i - 1].up);
			return -1;
		}
		if (!m[i].up) {
			fr_buf_printf(err, "%s/%s: a down file without its up file", rel, m[i].down);
			return -1;
		}
		t = strchr(m[i].up, '_') + 1;
		n = strlen(t) - strlen(fr_lay_suffix(t, ".up.sql") ? ".up.sql" : ".sql");
		snprintf(ver, sizeof ver, "%" PRId64, m[i].v);
		title = spaces ? fr_underscores_to_spaces(t, n) : fr_strndup(t, n);
		if (!title || fr_chain_add(out, m[i].up, m[i].down, NULL, m[i].up, ver, title, 0)) {
			fr_free(title);
			fr_buf_printf(err, "%s: out of memory", rel);
			return -1;
		}
		fr_free(title);
	}
	return 0;
}

int fr_key_false(const char *p, size_t n, const char *key)
{
	const char *end = p + n;
	size_t kl = strlen(key);
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p)), *q;
		if (!le)
			le = end;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(le - p) > kl && !memcmp(p, key, kl)) {
			q = p + kl;
			while (q < le && (*q == ' ' || *q == '\t'))
				q++;
			if (q < le && *q == '=') {
				q++;
				while (q < le && (*q == ' ' || *q == '\t'))
					q++;
				if (le - q >= 5 && !memcmp(q, "false", 5))
					return 1;
			}
		}
		p = le + 1;
	}
	return 0;
}

int fr_lay_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);
	return n >= k && strcmp(name + n - k, suffix) == 0;
}

size_t fr_digits(const char *s)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}
