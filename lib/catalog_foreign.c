/*
 * catalog_foreign.c - the sources of ferry.yaml read into the catalog:
 * which layout each is (the one it names, or the one its file names say:
 * lib/layout/layout.c), the folder of ferry's own layout handed to
 * catalog.c, and every other tool's folder read by its layout into one
 * chain of SQL steps, then cut into transitions by versions.yaml's
 * `schema:` (catalog.c's header says the rules). Reads names and stat data
 * only, as the rest of the catalog.
 */
#include "catalog_int.h"
#include "ferry.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A source's path as written, without "./" in front or '/' behind. */
static void norm_rel(const char *s, fr_buf *out)
{
	size_t n;
	fr_buf_reset(out);
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		n--;
	fr_buf_add(out, s, n);
}

/* Appends "<dir>/<file>" (not through printf: it runs a few times for every step at every start). */
static void put_path(fr_buf *b, const char *dir, const char *file)
{
	fr_buf_puts(b, dir);
	fr_buf_putc(b, '/');
	fr_buf_puts(b, file);
}

/*
 * A foreign step in one allocation, as new_step makes ferry's: the struct,
 * then id, name, path, rel, tool_version, tool_name, down_path, meta_path.
 */
static fr_step *new_foreign_step(loader *ld, size_t si, const fr_layout *lay, const char *srel,
                                 const fr_layout_mig *m, const struct stat *st)
{
	const fr_source *src = &ld->src[si];
	fr_buf b = FR_BUF_INIT;
	size_t off[8], i;
	fr_step *s;
	char *base;

	/* The strings one after another, each NUL-terminated, then the block is made. */
	fr_buf_grow(&b, 2 * strlen(src->path) + 3 * strlen(m->file) + 64);
	off[0] = b.len;
	fr_buf_puts(&b, lay->name);
	fr_buf_putc(&b, ':');
	put_path(&b, srel, m->entry);
	fr_buf_putc(&b, '\0');
	off[1] = b.len;
	fr_buf_puts(&b, m->entry);
	fr_buf_putc(&b, '\0');
	off[2] = b.len;
	put_path(&b, src->path, m->file);
	fr_buf_putc(&b, '\0');
	off[3] = b.len;
	put_path(&b, srel, m->file);
	fr_buf_putc(&b, '\0');
	off[4] = b.len;
	fr_buf_puts(&b, m->version ? m->version : "");
	fr_buf_putc(&b, '\0');
	off[5] = b.len;
	fr_buf_puts(&b, m->name ? m->name : "");
	fr_buf_putc(&b, '\0');
	off[6] = b.len;
	if (m->down)
		put_path(&b, src->path, m->down);
	fr_buf_putc(&b, '\0');
	off[7] = b.len;
	if (m->meta)
		put_path(&b, src->path, m->meta);
	fr_buf_putc(&b, '\0');
	if (b.oom || fr_cat_grow(ld, (void **)&ld->c->steps, &ld->csteps, ld->c->nsteps,
	                  sizeof *ld->c->steps) ||
	    !(s = fr_calloc(1, sizeof *s + b.len))) {
		fr_buf_release(&b);
		ld->oom = 1;
		return NULL;
	}
	base = (char *)(s + 1);
	memcpy(base, b.ptr, b.len);
	fr_buf_release(&b);
	s->id = base + off[0];
	s->name = base + off[1];
	s->path = base + off[2];
	s->rel = base + off[3];
	s->tool_version = base + off[4];
	s->tool_name = base + off[5];
	s->down_path = m->down ? base + off[6] : NULL;
	s->meta_path = m->meta ? base + off[7] : NULL;
	s->layout = lay->name;
	s->split = lay->split;
	s->source_db = src->database;
	s->repeatable = m->repeatable;
	s->source = si;
	for (i = strlen(m->file); i > 0 && m->file[i - 1] != '/'; i--)
		;
	s->kind = fr_step_kind_for(m->file + i, 0);
	s->size = (int64_t)st->st_size;
	s->mtime_ns = fr_stamp_ns(st);
	s->ino = (int64_t)st->st_ino;
	ld->c->steps[ld->c->nsteps++] = s;
	return s;
}

/* Records an absolute path the chain depends on (a down file, a diesel folder), when it is. */
static void seen_abs(loader *ld, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		fr_cat_seen_add(ld, path, NULL, &st);
}

/* Reads source si, of layout lay (NULL: detect it), into its chain. */
static void load_foreign(loader *ld, size_t si, const fr_layout *lay, const dirlist *l,
                         const char *srel)
{
	const fr_source *src = &ld->src[si];
	fr_layout_entry *ents = NULL;
	fr_layout_chain chain;
	size_t i, nerr0;
	fr_step **v = NULL;

	memset(&chain, 0, sizeof chain);
	if (l->n && !(ents = fr_calloc(l->n, sizeof *ents))) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < l->n; i++) {
		struct stat st;
		ents[i].name = l->names[i];
		ents[i].dir = fstatat(dirfd(l->d), l->names[i], &st, 0) == 0 && S_ISDIR(st.st_mode);
	}
	fr_buf_reset(&ld->msg);
	if (!lay) {
		int is_ferry = 0;
		lay = fr_layout_detect(src->path, srel, ents, l->n, &is_ferry, &ld->msg);
		if (!lay) {
			if (ld->msg.len)
				fr_cat_err(ld, "%s", ld->msg.ptr);
			goto done;
		}
	}
	ld->lay[si] = lay;
	fr_buf_reset(&ld->msg);
	nerr0 = ld->nerr;
	if (lay->scan(src->path, srel, ents, l->n, &chain, &ld->msg)) {
		fr_cat_err(ld, "%s", ld->msg.len ? ld->msg.ptr : srel);
		goto done;
	}
	if (chain.n && !(v = fr_calloc(chain.n, sizeof *v))) {
		ld->oom = 1;
		goto done;
	}
	for (i = 0; i < chain.n && !ld->oom; i++) {
		const fr_layout_mig *m = &chain.v[i];
		struct stat st;
		fr_step *s;
		char *p = fr_path_join(src->path, m->file);
		if (!p) {
			ld->oom = 1;
			break;
		}
		if (stat(p, &st)) {
			fr_cat_err(ld, "%s/%s: %s", srel, m->file, strerror(errno));
		} else if ((s = new_foreign_step(ld, si, lay, srel, m, &st)) != NULL) {
			if (!s->kind)
				fr_cat_err(ld, "%s: cannot tell the step kind", s->rel);
			s->chain = i;
			v[i] = s;
			if (strchr(m->file, '/')) {
				/* diesel: its folder's listing shows a down.sql added or removed */
				char *slash = strrchr(p, '/');
				*slash = '\0';
				seen_abs(ld, p);
			}
			if (s->down_path)
				seen_abs(ld, s->down_path);
			if (s->meta_path)
				seen_abs(ld, s->meta_path);
		}
		fr_free(p);
	}
	if (ld->nerr == nerr0 && !ld->oom) {
		ld->chains[si] = v;
		ld->nchain[si] = chain.n;
		v = NULL;
	}
done:
	fr_free(v);
	fr_free(ents);
	fr_chain_free(&chain);
}

/* The transition into v that takes the steps v ships: from the greatest exact version. */
static fr_transition *transition_into(fr_catalog *c, const fr_version *v)
{
	fr_transition *best = NULL;
	size_t i;
	for (i = 0; i < c->ntrs; i++) {
		fr_transition *t = c->trs[i];
		if (fr_version_cmp(&t->to, v) != 0)
			continue;
		if (!best || (t->from.fixed == 3 &&
		              (best->from.fixed < 3 || fr_version_cmp(&t->from.v, &best->from.v) > 0)))
			best = t;
	}
	return best;
}

/* "<v> (schema)": the transition a version that ships foreign steps, and no other, makes. */
static fr_transition *schema_transition(loader *ld, const fr_version *v)
{
	fr_catalog *c = ld->c;
	fr_version from;
	char text[FR_VERSION_STR_MAX];
	fr_transition *t;
	size_t i;
	memset(&from, 0, sizeof from);
	for (i = 0; i < c->ntrs; i++) {
		const fr_transition *u = c->trs[i];
		if (fr_version_cmp(&u->to, v) < 0 && fr_version_cmp(&u->to, &from) > 0)
			from = u->to;
		if (u->from.fixed == 3 && fr_version_cmp(&u->from.v, v) < 0 &&
		    fr_version_cmp(&u->from.v, &from) > 0)
			from = u->from.v;
	}
	for (i = 0; i < ld->nmaps; i++)
		if (fr_version_cmp(&ld->maps[i].v, v) < 0 && fr_version_cmp(&ld->maps[i].v, &from) > 0)
			from = ld->maps[i].v;
	if (!(t = fr_cat_new_transition(ld)))
		return NULL;
	t->from.v = from;
	t->from.fixed = 3;
	t->to = *v;
	fr_version_format(v, text, sizeof text);
	fr_buf_reset(&ld->msg);
	fr_buf_printf(&ld->msg, "%s (schema)", text);
	if (!(t->name = fr_strdup(ld->msg.ptr)))
		ld->oom = 1;
	return t;
}

/* Puts steps v[0..n) into t: before its own steps, or after them with `foreign: after`. */
static void ship(loader *ld, fr_transition *t, fr_step **v, size_t n)
{
	fr_step **ns;
	size_t i, at;
	if (!n)
		return;
	if (!(ns = fr_realloc(t->steps, (t->nsteps + n) * sizeof *ns))) {
		ld->oom = 1;
		return;
	}
	t->steps = ns;
	/* foreign steps of several sources keep the sources' order: after those shipped before */
	for (at = 0; !t->foreign_after && at < t->nsteps && t->steps[at]->layout; at++)
		;
	if (t->foreign_after)
		at = t->nsteps;
	memmove(ns + at + n, ns + at, (t->nsteps - at) * sizeof *ns);
	for (i = 0; i < n; i++) {
		ns[at + i] = v[i];
		v[i]->tr = t;
		v[i]->from = &t->from;
		v[i]->to = &t->to;
	}
	t->nsteps += n;
}

static int cmp_smap(const void *a, const void *b)
{
	const smap *x = a, *y = b;
	int r = x->si < y->si ? -1 : x->si > y->si;
	return r ? r : fr_version_cmp(&x->v, &y->v);
}

/*
 * One function: resolving versions.yaml's schema: entries against the
 * chains and cutting the chains by them is one walk over each source.
 */
void fr_cat_ship_foreign(loader *ld)
{
	fr_catalog *c = ld->c;
	fr_buf a = FR_BUF_INIT;
	size_t i, j, nforeign = 0, total = 0, single = SIZE_MAX, bad = ld->nerr;
	fr_transition *top = NULL;
	const fr_version *latest;

	for (i = 0; i < ld->nsrc; i++) {
		if (!ld->lay[i])
			continue;
		nforeign++;
		single = i;
	}
	for (i = 0; i < ld->nmaps; i++) {
		smap *m = &ld->maps[i];
		char vt[FR_VERSION_STR_MAX];
		fr_version_format(&m->v, vt, sizeof vt);
		if (!m->src) {
			if (nforeign != 1) {
				fr_cat_err(ld, "%s:%d: 'schema' of '%s' names no source, and ferry.yaml has %zu "
				     "sources of other tools' layouts (write schema: {<source path>: "
				     "\"<version>\"})", ld->vy_rel, m->line, vt, nforeign);
				continue;
			}
			m->si = single;
		} else {
			fr_buf want = FR_BUF_INIT;
			norm_rel(m->src, &want);
			for (m->si = 0; m->si < ld->nsrc; m->si++) {
				norm_rel(ld->src[m->si].rel, &a);
				if (ld->lay[m->si] && !strcmp(a.ptr, want.ptr))
					break;
			}
			fr_buf_release(&want);
			if (m->si == ld->nsrc) {
				fr_cat_err(ld, "%s:%d: 'schema' of '%s' names '%s', which is no source of another "
				     "tool's layout in ferry.yaml", ld->vy_rel, m->line, vt, m->src);
				continue;
			}
		}
		for (j = 0; j < ld->nchain[m->si]; j++)
			if (!ld->chains[m->si][j]->repeatable &&
			    !strcmp(ld->chains[m->si][j]->tool_version, m->tv))
				break;
		if (j == ld->nchain[m->si]) {
			norm_rel(ld->src[m->si].rel, &a);
			fr_cat_err(ld, "%s:%d: 'schema' of '%s' names migration '%s', which '%s' does not hold",
			     ld->vy_rel, m->line, vt, m->tv, a.ptr);
			continue;
		}
		m->cut = j + 1;
	}
	if (ld->nerr > bad || ld->oom)
		goto done;
	if (ld->nmaps)
		qsort(ld->maps, ld->nmaps, sizeof *ld->maps, cmp_smap);
	for (i = 0; i < c->ntrs; i++)
		if (!top || fr_version_cmp(&c->trs[i]->to, &top->to) > 0)
			top = c->trs[i];
	for (i = 0; i < ld->nsrc && !ld->oom; i++) {
		size_t done_n = 0, k;
		if (!ld->lay[i])
			continue;
		for (k = 0; k < ld->nmaps && !ld->oom; k++) {
			smap *m = &ld->maps[k];
			fr_transition *t;
			if (m->si != i)
				continue;
			if (m->cut < done_n) {
				char vt[FR_VERSION_STR_MAX];
				fr_version_format(&m->v, vt, sizeof vt);
				fr_cat_err(ld, "%s:%d: 'schema' of '%s' is '%s', a migration before the one an "
				     "earlier version ships", ld->vy_rel, m->line, vt, m->tv);
				continue;
			}
			if (!(t = transition_into(c, &m->v)) && !(t = schema_transition(ld, &m->v)))
				break;
			ship(ld, t, ld->chains[i] + done_n, m->cut - done_n);
			done_n = m->cut;
			if (!top || fr_version_cmp(&t->to, &top->to) > 0)
				top = t;
		}
		if (done_n == ld->nchain[i] || ld->oom)
			continue;
		/*
		 * The rest ship with the latest catalogued version, even one no
		 * transition names yet (versions.yaml's 2.0.0 after a 1.0.0 that
		 * ships part of the chain): they are what it adds.
		 */
		latest = NULL;
		for (k = 0; k < ld->nvy; k++)
			if (!latest || fr_version_cmp(&ld->vy[k].vi.v, latest) > 0)
				latest = &ld->vy[k].vi.v;
		if (latest && (latest->major || latest->minor || latest->patch) &&
		    (!top || fr_version_cmp(latest, &top->to) > 0)) {
			fr_transition *t = transition_into(c, latest);
			if (!t && !(t = schema_transition(ld, latest)))
				break;
			top = t;
		}
		if (!top && !c->schema_tr) {
			/* Nothing catalogued but 0.0.0: the steps run without a version change. */
			if (!(c->schema_tr = fr_calloc(1, sizeof *c->schema_tr)) ||
			    !(c->schema_tr->name = fr_strdup("(schema only)"))) {
				ld->oom = 1;
				break;
			}
			c->schema_tr->from.fixed = 3;
			c->schema_tr->backup_required = 1;
			c->schema_tr->schema_only = 1;
		}
		ship(ld, top ? top : c->schema_tr, ld->chains[i] + done_n, ld->nchain[i] - done_n);
	}
	/* Every foreign step, by source, in its chain. */
	for (i = 0; i < ld->nsrc; i++)
		total += ld->nchain[i];
	if (total && !(c->foreign = fr_calloc(total, sizeof *c->foreign))) {
		ld->oom = 1;
		goto done;
	}
	for (i = 0; i < ld->nsrc; i++)
		for (j = 0; j < ld->nchain[i]; j++)
			c->foreign[c->nforeign++] = ld->chains[i][j];
done:
	fr_buf_release(&a);
}

/*
 * Each source's layout: the one it names, or the one its file names say.
 * The folder of ferry's own layout becomes c->dir (one at most); the
 * others are read into their chains.
 */
void fr_cat_load_sources(loader *ld)
{
	fr_buf rel = FR_BUF_INIT;
	size_t i, ferry_at = SIZE_MAX;

	for (i = 0; i < ld->nsrc && !ld->oom; i++) {
		const fr_source *src = &ld->src[i];
		const fr_layout *lay = NULL;
		int is_ferry = src->layout && !strcmp(src->layout, "ferry");
		dirlist l;
		struct stat st;

		memset(&l, 0, sizeof l);
		norm_rel(src->rel ? src->rel : fr_cat_rel_to_root(src->path, ld->root), &rel);
		if (src->layout && !is_ferry && !(lay = fr_layout_find(src->layout))) {
			fr_cat_err(ld, "%s: unknown layout '%s'", rel.ptr, src->layout);
			continue;
		}
		if (!is_ferry) {
			if (fr_cat_dirlist_read(&l, src->path, &st)) {
				if (errno != ENOENT)
					fr_cat_err(ld, "%s: %s", rel.ptr, strerror(errno));
				else if (!lay && ferry_at == SIZE_MAX)
					is_ferry = 1; /* a missing folder: ferry's own, empty for now */
				else
					fr_cat_seen_add(ld, src->path, NULL, NULL);
				fr_cat_dirlist_free(&l);
				if (!is_ferry)
					continue;
			} else {
				int detected_ferry = 0;
				if (!lay) {
					/* ferry's own when its names say so */
					fr_layout_entry *e = fr_calloc(l.n ? l.n : 1, sizeof *e);
					size_t k;
					if (!e) {
						ld->oom = 1;
						fr_cat_dirlist_free(&l);
						break;
					}
					for (k = 0; k < l.n; k++) {
						struct stat es;
						e[k].name = l.names[k];
						e[k].dir = fstatat(dirfd(l.d), l.names[k], &es, 0) == 0 &&
						           S_ISDIR(es.st_mode);
					}
					fr_buf_reset(&ld->msg);
					lay = fr_layout_detect(src->path, rel.ptr, e, l.n, &detected_ferry,
					                       &ld->msg);
					fr_free(e);
					if (!lay && !detected_ferry) {
						fr_cat_err(ld, "%s", ld->msg.ptr);
						fr_cat_dirlist_free(&l);
						continue;
					}
				}
				if (detected_ferry) {
					is_ferry = 1;
				} else {
					fr_cat_seen_add(ld, src->path, NULL, &st);
					load_foreign(ld, i, lay, &l, rel.ptr);
				}
				fr_cat_dirlist_free(&l);
				if (!is_ferry)
					continue;
			}
		}
		if (ferry_at != SIZE_MAX) {
			fr_cat_err(ld, "%s: a second folder of ferry's own layout (the first is '%s'); give "
			     "each other tool's folder its 'layout:' in ferry.yaml", rel.ptr,
			     ld->c->dir);
			continue;
		}
		ferry_at = i;
		if (!(ld->c->dir = fr_strdup(src->path))) {
			ld->oom = 1;
			break;
		}
		fr_cat_load_ferry(ld);
	}
	fr_buf_release(&rel);
}

