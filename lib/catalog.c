/*
 * catalog.c - the migrations folder (SPEC section 3) as a catalog of
 * transitions and steps. Loading reads one directory listing per folder and
 * one stat per entry; of file contents only transition.yaml and
 * versions.yaml. Every problem found is reported, one line each with its
 * path, and then the load fails as a whole.
 *
 * Layouts, which may be mixed:
 *  - a folder FROM_to_TO (a leading v optional on either side; FROM may be a
 *    pattern such as v0.1.x) holding steps, run in bytewise file-name order,
 *    and an optional transition.yaml;
 *  - a flat file VERSION_name.ext at the top: a step of the transition into
 *    VERSION from the greatest catalogued version below it, where the
 *    catalogued versions are 0.0.0 and those that any transition (folder or
 *    flat) names as its to or as an exact from. All flat files of one
 *    version make one transition, named "<to> (flat)".
 * Hidden files, README* and *.md are ignored at both levels.
 *
 * versions.yaml is either a top-level sequence of entries or a mapping with
 * the single key `versions` whose value is such a sequence, or a mapping
 * keyed by version:
 *
 *   versions:
 *     - version: 1.0.0                 # required
 *       notes: First stable release    # optional, a string
 *       required_stop: true            # optional, default false
 *     - 1.0.1                          # a bare version: no notes
 *   versions:                          # or keyed by version
 *     1.0.0: First stable release      # the value: notes, or null,
 *     2.0.0: {notes: Rewrite, required_stop: true}  # or an entry without `version`
 *
 * Its versions join the catalog's version list (for notes and required
 * stops) but do not become nodes of the graph: only transitions do that.
 * An entry may say which migrations of another tool's folder the version
 * ships: `schema: "<tool version>"` (the last of them; with one foreign
 * source) or `schema: {<source path>: "<tool version>", ...}`.
 *
 * Other tools' folders (ferry.yaml's sources, lib/layout/) are read by
 * their layout into one chain each, of SQL steps with the id
 * "<layout>:<source path>/<migration>" (dbmate:db/migrations/1_x.sql: no
 * version in it, so that mapping it to another release changes no id, and
 * a ':' no version holds, so that it never meets one of ferry's ids). The
 * chain is cut at each mapped version: the steps after the previous cut up
 * to its schema go into the transition into that version (made, from the
 * greatest catalogued node below it, when none leads there), before the
 * transition's own steps unless its transition.yaml says `foreign: after`;
 * the steps no version ships go into the transition into the greatest
 * node, or into schema_tr when nothing is catalogued but 0.0.0.
 */
#include "catalog.h"
#include "catalog_int.h"
#include "util/statmemo.h"
#include "ferry.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRANSITION_FILE "transition.yaml"
#define VERSIONS_FILE "versions.yaml"

/* ---- folder listings ---------------------------------------------------- */

void fr_cat_dirlist_free(dirlist *l)
{
	if (l->d)
		closedir(l->d);
	l->d = NULL;
	FR_FREE(l->names);
	l->n = 0;
	fr_buf_release(&l->arena);
}

/*
 * qsort, which must not be given a NULL base even for no elements; nothing
 * when the elements are in order already, which costs one comparison each
 * (steps come listed in id order, a chain of flat transitions in version
 * order: sorting them again was most of a no-op's sorting).
 */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *p = base;
	size_t i;
	for (i = 1; i < n && cmp(p + (i - 1) * size, p + i * size) <= 0; i++)
		;
	if (i < n)
		qsort(base, n, size, cmp);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hidden files, README* and *.md are not part of any layout. */
static int ignored(const char *name)
{
	size_t n = strlen(name);
	return name[0] == '.' || strncmp(name, "README", 6) == 0 ||
	       (n >= 3 && strcmp(name + n - 3, ".md") == 0);
}

/* Lists path into l (initialised here). Returns 0, or -1 with errno set; free l either way. */
/* The folder's listing; *st (when not NULL) is its stat taken before the listing is read. */
int fr_cat_dirlist_read(dirlist *l, const char *path, struct stat *st)
{
	size_t *off = NULL, cap = 0, i;
	struct dirent *e;
	int rc = -1;

	memset(l, 0, sizeof *l);
	fr_buf_init(&l->arena);
	if (!(l->d = opendir(path)))
		return -1;
	if (st && fstat(dirfd(l->d), st))
		return -1;
	for (;;) {
		errno = 0;
		if (!(e = readdir(l->d))) {
			if (errno)
				goto done;
			break;
		}
		if (ignored(e->d_name))
			continue;
		if (l->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			size_t *p = fr_realloc(off, ncap * sizeof *off);
			if (!p)
				goto nomem;
			off = p;
			cap = ncap;
		}
		off[l->n++] = l->arena.len;
		if (fr_buf_add(&l->arena, e->d_name, strlen(e->d_name) + 1))
			goto nomem;
	}
	if (!(l->names = fr_calloc(l->n, sizeof *l->names)))
		goto nomem;
	for (i = 0; i < l->n; i++)
		l->names[i] = l->arena.ptr + off[i];
	sort(l->names, l->n, sizeof *l->names, cmp_str);
	rc = 0;
	goto done;
nomem:
	errno = ENOMEM;
done:
	fr_free(off);
	return rc;
}

/* ---- the loader ---------------------------------------------------------- */

void fr_cat_err(loader *ld, const char *fmt, ...)
{
	va_list ap;
	if (ld->nerr++)
		fr_buf_putc(ld->err, '\n');
	va_start(ap, fmt);
	fr_buf_vprintf(ld->err, fmt, ap);
	va_end(ap);
}

/* Grows *arr (of *cap elements of size sz) to hold one more than n. */
int fr_cat_grow(loader *ld, void **arr, size_t *cap, size_t n, size_t sz)
{
	void *p;
	size_t ncap;
	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 16;
	if (!(p = fr_realloc(*arr, ncap * sz))) {
		ld->oom = 1;
		return -1;
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * Records a folder or YAML file read, a/b relative to the migrations folder
 * ("" for the folder itself), with the stat taken before reading it; st NULL:
 * the folder is missing (ino -1).
 */
void fr_cat_seen_add(loader *ld, const char *a, const char *b, const struct stat *st)
{
	fr_catalog *c = ld->c;
	fr_catalog_seen *e;
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	if (fr_grow(&c->seen, &c->cseen, c->nseen + 1, sizeof *c->seen)) {
		ld->oom = 1;
		return;
	}
	e = &c->seen[c->nseen];
	if (!(e->rel = fr_malloc(la + 1 + lb + 1))) {
		ld->oom = 1;
		return;
	}
	memcpy(e->rel, a, la);
	e->rel[la] = '\0';
	if (b) {
		e->rel[la] = '/';
		memcpy(e->rel + la + 1, b, lb + 1);
	}
	e->size = st ? (int64_t)st->st_size : -1;
	e->mtime_ns = st ? fr_stamp_ns(st) : -1;
	e->ino = st ? (int64_t)st->st_ino : -1;
	c->nseen++;
}

/* "<reldir>/<a>[/<b>]" into a fresh string, for messages and fr_step.rel. */
static char *rel_of(loader *ld, const char *a, const char *b)
{
	fr_buf r = FR_BUF_INIT;
	char *s;
	if (*ld->reldir)
		fr_buf_printf(&r, "%s/", ld->reldir);
	fr_buf_puts(&r, a);
	if (b)
		fr_buf_printf(&r, "/%s", b);
	if (!(s = fr_buf_detach(&r)))
		ld->oom = 1;
	return s;
}

fr_transition *fr_cat_new_transition(loader *ld)
{
	fr_catalog *c = ld->c;
	fr_transition *t;
	if (fr_cat_grow(ld, (void **)&c->trs, &ld->ctrs, c->ntrs, sizeof *c->trs))
		return NULL;
	if (!(t = fr_calloc(1, sizeof *t))) {
		ld->oom = 1;
		return NULL;
	}
	t->backup_required = 1;
	c->trs[c->ntrs++] = t;
	return t;
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/*
 * A step in one allocation: the struct, then id, name, path and rel. sub is
 * the transition folder's name, or NULL for a flat step; tostr is the to
 * version as formatted (without v). No printf: this runs once per file.
 */
static fr_step *new_step(loader *ld, const char *sub, const char *name, const char *tostr,
                         const struct stat *st, const fr_step_kind *kind)
{
	const char *dir = ld->c->dir, *rd = ld->reldir;
	size_t lto = strlen(tostr), lname = strlen(name), lsub = sub ? strlen(sub) : 0;
	size_t ldir = strlen(dir), lrd = strlen(rd), total;
	fr_step *s;
	char *p;

	total = (lto + 1 + lname + 1) + (lname + 1) + (ldir + 1 + lsub + 1 + lname + 1) +
	        (lrd + 1 + lsub + 1 + lname + 1);
	if (fr_cat_grow(ld, (void **)&ld->c->steps, &ld->csteps, ld->c->nsteps, sizeof *ld->c->steps))
		return NULL;
	if (!(s = fr_calloc(1, sizeof *s + total))) {
		ld->oom = 1;
		return NULL;
	}
	p = (char *)(s + 1);
	s->id = p;
	p = put(p, tostr, lto);
	p = put(p, "/", 1);
	p = put(p, name, lname + 1);
	s->name = p;
	p = put(p, name, lname + 1);
	s->path = p;
	p = put(p, dir, ldir);
	p = put(p, "/", 1);
	if (sub) {
		p = put(p, sub, lsub);
		p = put(p, "/", 1);
	}
	p = put(p, name, lname + 1);
	s->rel = p;
	if (lrd) {
		p = put(p, rd, lrd);
		p = put(p, "/", 1);
	}
	if (sub) {
		p = put(p, sub, lsub);
		p = put(p, "/", 1);
	}
	put(p, name, lname + 1);
	s->kind = kind;
	s->size = (int64_t)st->st_size;
	s->mtime_ns = fr_stamp_ns(st);
	s->ino = (int64_t)st->st_ino;
	s->executable = (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
	ld->c->steps[ld->c->nsteps++] = s;
	return s;
}

/* Reports a problem of the entry [sub/]name of the migrations folder: "<rel>: <what>". */
static void lerr_at(loader *ld, const char *sub, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void lerr_at(loader *ld, const char *sub, const char *name, const char *fmt, ...)
{
	va_list ap;
	if (ld->nerr++)
		fr_buf_putc(ld->err, '\n');
	fr_buf_printf(ld->err, "%s%s%s%s%s: ", ld->reldir, *ld->reldir ? "/" : "",
	              sub ? sub : "", sub ? "/" : "", name);
	va_start(ap, fmt);
	fr_buf_vprintf(ld->err, fmt, ap);
	va_end(ap);
}

/* The kind of a step file, or NULL after reporting it. */
static const fr_step_kind *kind_of(loader *ld, const char *sub, const char *name,
                                   const struct stat *st)
{
	const fr_step_kind *k;
	k = fr_step_kind_for(name, (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0);
	if (k)
		return k;
	if (ld->nerr++)
		fr_buf_putc(ld->err, '\n');
	fr_buf_printf(ld->err, "cannot tell the step kind of '%s%s%s%s%s' (this build runs ",
	              ld->reldir, *ld->reldir ? "/" : "", sub ? sub : "", sub ? "/" : "", name);
	fr_step_kinds_files(ld->err);
	fr_buf_putc(ld->err, ')');
	return NULL;
}

/* ---- YAML files ---------------------------------------------------------- */

/* Reads and parses a YAML file, reporting under rel. */
static fr_yaml *load_yaml(loader *ld, const char *path, const char *rel)
{
	fr_buf text = FR_BUF_INIT;
	fr_yaml *doc = NULL;
	if (fr_read_file(path, &text)) {
		fr_cat_err(ld, "%s: %s", rel, strerror(errno));
		goto done;
	}
	fr_buf_reset(&ld->msg);
	if (fr_yaml_parse(&doc, rel, text.ptr, text.len, &ld->msg)) {
		doc = NULL;
		fr_cat_err(ld, "%s", ld->msg.len ? ld->msg.ptr : rel);
	}
done:
	fr_buf_release(&text);
	return doc;
}

/* A string value (NULL for null). 0, or -1 after reporting. */
static int y_str(loader *ld, const char *rel, const char *key, const fr_yaml *v, char **out)
{
	if (v->kind != FR_YAML_SCALAR) {
		fr_cat_err(ld, "%s:%d: '%s' must be a string, not a %s", rel, v->line, key,
		     fr_yaml_kind_name(v->kind));
		return -1;
	}
	fr_free(*out);
	*out = NULL;
	if (fr_yaml_is_null(v))
		return 0;
	if (!(*out = fr_strdup(v->scalar)))
		ld->oom = 1;
	return 0;
}

static int y_bool(loader *ld, const char *rel, const char *key, const fr_yaml *v, int *out)
{
	if (v->kind != FR_YAML_SCALAR || fr_yaml_bool(v, out)) {
		fr_cat_err(ld, "%s:%d: '%s' must be true or false", rel, v->line, key);
		return -1;
	}
	return 0;
}

/* A list of strings; a single string is a list of one, null an empty list. */
static int y_list(loader *ld, const char *rel, const char *key, const fr_yaml *v, char ***out,
                  size_t *n)
{
	size_t i, cnt = v->kind == FR_YAML_SEQ ? v->n : (fr_yaml_is_null(v) ? 0 : 1);
	char **arr;
	if (v->kind == FR_YAML_MAP) {
		fr_cat_err(ld, "%s:%d: '%s' must be a list of strings, not a mapping", rel, v->line,
		     key);
		return -1;
	}
	for (i = 0; v->kind == FR_YAML_SEQ && i < v->n; i++) {
		if (v->items[i]->kind != FR_YAML_SCALAR) {
			fr_cat_err(ld, "%s:%d: '%s' must be a list of strings", rel, v->items[i]->line,
			     key);
			return -1;
		}
	}
	for (i = 0; i < *n; i++)
		fr_free((*out)[i]);
	FR_FREE(*out);
	*n = 0;
	if (!cnt)
		return 0;
	if (!(arr = fr_calloc(cnt, sizeof *arr))) {
		ld->oom = 1;
		return -1;
	}
	*out = arr;
	for (i = 0; i < cnt; i++) {
		const fr_yaml *it = v->kind == FR_YAML_SEQ ? v->items[i] : v;
		if (!(arr[i] = fr_strdup(it->scalar))) {
			ld->oom = 1;
			break;
		}
		(*n)++;
	}
	return 0;
}

static int y_seconds(loader *ld, const char *rel, const char *key, const fr_yaml *v, double *out)
{
	const char *s = v->kind == FR_YAML_SCALAR ? v->scalar : "";
	char *end = NULL;
	double d;
	errno = 0;
	d = *s && strspn(s, "0123456789.eE+-") == strlen(s) ? strtod(s, &end) : -1.0;
	if (v->kind != FR_YAML_SCALAR || !end || *end || errno || !isfinite(d) || d < 0) {
		fr_cat_err(ld, "%s:%d: '%s' must be a number of seconds >= 0", rel, v->line, key);
		return -1;
	}
	*out = d;
	return 0;
}

static void load_transition_yaml(loader *ld, fr_transition *t, const char *path, const char *rel)
{
	static const char keys[] = "description, breaking_changes, notes, "
	                           "estimated_duration_seconds, requires_restart, backup_required, "
	                           "foreign";
	fr_yaml *doc = load_yaml(ld, path, rel);
	size_t i;

	if (!doc)
		return;
	if (doc->kind != FR_YAML_MAP) {
		fr_cat_err(ld, "%s:%d: expected a mapping of %s, not a %s", rel, doc->line, keys,
		     fr_yaml_kind_name(doc->kind));
		goto done;
	}
	for (i = 0; i < doc->n; i++) {
		const char *k = doc->keys[i];
		const fr_yaml *v = doc->items[i];
		if (strcmp(k, "description") == 0)
			y_str(ld, rel, k, v, &t->description);
		else if (strcmp(k, "breaking_changes") == 0)
			y_bool(ld, rel, k, v, &t->breaking);
		else if (strcmp(k, "notes") == 0)
			y_list(ld, rel, k, v, &t->notes, &t->nnotes);
		else if (strcmp(k, "estimated_duration_seconds") == 0) {
			if (y_seconds(ld, rel, k, v, &t->est_seconds) == 0)
				t->est_given = 1;
		} else if (strcmp(k, "requires_restart") == 0)
			y_list(ld, rel, k, v, &t->restarts, &t->nrestarts);
		else if (strcmp(k, "backup_required") == 0)
			y_bool(ld, rel, k, v, &t->backup_required);
		else if (strcmp(k, "foreign") == 0) {
			/* where the steps of other tools' folders it ships run: before (default) */
			if (v->kind == FR_YAML_SCALAR && !strcmp(v->scalar, "after"))
				t->foreign_after = 1;
			else if (!(v->kind == FR_YAML_SCALAR && !strcmp(v->scalar, "before")))
				fr_cat_err(ld, "%s:%d: 'foreign' must be 'before' or 'after'", rel, v->line);
		} else
			fr_cat_err(ld, "%s:%d: unknown key '%s' (expected %s)", rel,
			     doc->key_lines[i], k, keys);
	}
done:
	fr_yaml_free(doc);
}

static int add_map(loader *ld, const char *src, const fr_yaml *v)
{
	smap *m;
	if (fr_cat_grow(ld, (void **)&ld->maps, &ld->cmaps, ld->nmaps, sizeof *ld->maps))
		return -1;
	m = &ld->maps[ld->nmaps];
	memset(m, 0, sizeof *m);
	m->line = v->line;
	if ((src && !(m->src = fr_strdup(src))) || !(m->tv = fr_strdup(v->scalar))) {
		fr_free(m->src);
		ld->oom = 1;
		return -1;
	}
	ld->nmaps++;
	return 0;
}

/* schema: "<tool version>" or {<source>: "<tool version>", ...}. 0, or -1 after reporting. */
static int schema_entry(loader *ld, const char *rel, const fr_yaml *v)
{
	size_t i;
	if (v->kind == FR_YAML_SCALAR && !fr_yaml_is_null(v) && *v->scalar)
		return add_map(ld, NULL, v);
	if (v->kind == FR_YAML_MAP) {
		for (i = 0; i < v->n; i++) {
			if (v->items[i]->kind != FR_YAML_SCALAR || !*v->items[i]->scalar) {
				fr_cat_err(ld, "%s:%d: 'schema' of '%s' must be a migration's version", rel,
				     v->items[i]->line, v->keys[i]);
				return -1;
			}
			if (add_map(ld, v->keys[i], v->items[i]))
				return -1;
		}
		return 0;
	}
	fr_cat_err(ld, "%s:%d: 'schema' must be the version of the last migration of another tool's "
	     "folder the version ships, or a mapping of source path to that version", rel,
	     v->line);
	return -1;
}

/* One entry of versions.yaml; version_node is the version's own node when keyed by version. */
static void versions_entry(loader *ld, const char *rel, const fr_yaml *e, const fr_yaml *key_node,
                           const char *key)
{
	const fr_yaml *vnode = NULL;
	ventry ve;
	size_t i, first = ld->nmaps;

	memset(&ve, 0, sizeof ve);
	if (key) {
		vnode = key_node;
		ve.line = key_node->line;
	} else {
		ve.line = e->line;
	}
	if (e->kind == FR_YAML_SCALAR && key) {
		/* 1.0.0: notes */
		if (y_str(ld, rel, "notes", e, &ve.vi.notes))
			goto fail;
	} else if (e->kind == FR_YAML_SCALAR) {
		vnode = e; /* - 1.0.0 */
	} else if (e->kind == FR_YAML_MAP) {
		for (i = 0; i < e->n; i++) {
			const char *k = e->keys[i];
			const fr_yaml *v = e->items[i];
			if (strcmp(k, "version") == 0 && !key) {
				if (v->kind != FR_YAML_SCALAR) {
					fr_cat_err(ld, "%s:%d: 'version' must be a string", rel,
					     v->line);
					goto fail;
				}
				vnode = v;
			} else if (strcmp(k, "notes") == 0) {
				if (y_str(ld, rel, k, v, &ve.vi.notes))
					goto fail;
			} else if (strcmp(k, "required_stop") == 0) {
				if (y_bool(ld, rel, k, v, &ve.vi.required_stop))
					goto fail;
			} else if (strcmp(k, "schema") == 0) {
				if (schema_entry(ld, rel, v))
					goto fail;
			} else {
				fr_cat_err(ld, "%s:%d: unknown key '%s' (expected %snotes, "
				     "required_stop, schema)", rel, e->key_lines[i], k,
				     key ? "" : "version, ");
				goto fail;
			}
		}
	} else {
		fr_cat_err(ld, "%s:%d: expected a version entry, not a %s", rel, e->line,
		     fr_yaml_kind_name(e->kind));
		goto fail;
	}
	if (!vnode) {
		fr_cat_err(ld, "%s:%d: entry without a 'version'", rel, e->line);
		goto fail;
	}
	fr_buf_reset(&ld->msg);
	if (fr_version_parse(&ve.vi.v, key ? key : vnode->scalar, &ld->msg)) {
		fr_cat_err(ld, "%s:%d: %s", rel, vnode->line, ld->msg.ptr);
		goto fail;
	}
	if (fr_cat_grow(ld, (void **)&ld->vy, &ld->cvy, ld->nvy, sizeof *ld->vy))
		goto fail;
	ld->vy[ld->nvy++] = ve;
	for (i = first; i < ld->nmaps; i++)
		ld->maps[i].v = ve.vi.v;
	return;
fail:
	fr_free(ve.vi.notes);
	while (ld->nmaps > first) {
		ld->nmaps--;
		fr_free(ld->maps[ld->nmaps].src);
		fr_free(ld->maps[ld->nmaps].tv);
	}
}

static void load_versions_yaml(loader *ld, const char *path, const char *rel)
{
	fr_yaml *doc = load_yaml(ld, path, rel);
	const fr_yaml *list;
	size_t i;

	if (!doc)
		return;
	list = doc;
	if (doc->kind == FR_YAML_MAP) {
		for (i = 0; i < doc->n; i++) {
			if (strcmp(doc->keys[i], "versions") != 0) {
				fr_cat_err(ld, "%s:%d: unknown key '%s' (expected versions)", rel,
				     doc->key_lines[i], doc->keys[i]);
				goto done;
			}
		}
		list = fr_yaml_get(doc, "versions");
		if (!list || fr_yaml_is_null(list))
			goto done; /* an empty file, or versions: ~ */
	}
	if (list->kind == FR_YAML_SEQ) {
		for (i = 0; i < list->n; i++)
			versions_entry(ld, rel, list->items[i], NULL, NULL);
	} else if (list->kind == FR_YAML_MAP) {
		for (i = 0; i < list->n; i++) {
			fr_yaml key;
			memset(&key, 0, sizeof key);
			key.line = list->key_lines[i];
			versions_entry(ld, rel, list->items[i], &key, list->keys[i]);
		}
	} else {
		fr_cat_err(ld, "%s:%d: expected a list of versions", rel, list->line);
	}
done:
	fr_yaml_free(doc);
}

/* ---- the two layouts ----------------------------------------------------- */

/* A transition folder FROM_to_TO. */
static void load_folder(loader *ld, const char *name)
{
	const char *sep = strstr(name, "_to_");
	fr_transition *t = NULL;
	char *rel = NULL, *from_text = NULL;
	const char *tostr;
	dirlist l;
	fr_vpattern from;
	fr_version to, floor;
	struct stat dst;
	size_t i;

	memset(&l, 0, sizeof l);
	if (!(rel = rel_of(ld, name, NULL)))
		goto done;
	if (!sep) {
		fr_cat_err(ld, "%s: does not match a layout (expected a folder FROM_to_TO such as "
		         "v0.1.0_to_v0.2.0)", rel);
		goto done;
	}
	if (!(from_text = fr_strndup(name, (size_t)(sep - name)))) {
		ld->oom = 1;
		goto done;
	}
	fr_buf_reset(&ld->msg);
	if (fr_vpattern_parse(&from, from_text, &ld->msg) ||
	    fr_version_parse(&to, sep + 4, &ld->msg)) {
		fr_cat_err(ld, "%s: %s", rel, ld->msg.ptr);
		goto done;
	}
	if (!(t = fr_cat_new_transition(ld)))
		goto done;
	tostr = sep[4] == 'v' ? sep + 5 : sep + 4; /* as parsed: the format without v */
	t->from = from;
	t->to = to;
	if (!(t->dir = fr_path_join(ld->c->dir, name)) || !(t->name = fr_strdup(name))) {
		ld->oom = 1;
		goto done;
	}
	fr_vpattern_floor(&t->from, &floor);
	if (fr_version_cmp(&t->to, &floor) <= 0) {
		char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
		fr_version_format(&t->to, a, sizeof a);
		fr_vpattern_format(&t->from, b, sizeof b);
		fr_cat_err(ld, "%s: the version it leads to, '%s', is not above '%s'", rel, a, b);
	}
	if (fr_cat_dirlist_read(&l, t->dir, &dst)) {
		fr_cat_err(ld, "%s: %s", rel, strerror(errno));
		goto done;
	}
	fr_cat_seen_add(ld, name, NULL, &dst);
	if (l.n && !(t->steps = fr_calloc(l.n, sizeof *t->steps))) {
		ld->oom = 1;
		goto done;
	}
	for (i = 0; i < l.n && !ld->oom; i++) {
		const char *fn = l.names[i];
		const fr_step_kind *k;
		struct stat st;
		fr_step *s;
		if (fr_cat_stat(ld, dirfd(l.d), t->dir, fn, &st)) {
			lerr_at(ld, name, fn, "%s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			lerr_at(ld, name, fn, "unexpected folder inside a transition folder");
		} else if (!S_ISREG(st.st_mode)) {
			lerr_at(ld, name, fn, "not a regular file");
		} else if (strcmp(fn, TRANSITION_FILE) == 0) {
			char *p = fr_path_join(t->dir, fn), *srel = rel_of(ld, name, fn);
			fr_cat_seen_add(ld, name, fn, &st);
			if (!p || !srel)
				ld->oom = 1;
			else
				load_transition_yaml(ld, t, p, srel);
			fr_free(p);
			fr_free(srel);
		} else if ((k = kind_of(ld, name, fn, &st)) != NULL) {
			if ((s = new_step(ld, name, fn, tostr, &st, k)) != NULL) {
				s->tr = t;
				s->from = &t->from;
				s->to = &t->to;
				t->steps[t->nsteps++] = s;
			}
		}
	}
done:
	fr_cat_dirlist_free(&l);
	fr_free(from_text);
	fr_free(rel);
}

/* A file at the top: versions.yaml or a flat step VERSION_name.ext. */
static void load_top_file(loader *ld, const char *name, const struct stat *st)
{
	const char *us = strchr(name, '_');
	char vtext[FR_VERSION_STR_MAX];
	const fr_step_kind *k;
	fr_version v;
	fr_step *s;
	size_t n;

	if (strcmp(name, VERSIONS_FILE) == 0) {
		char *p = fr_path_join(ld->c->dir, name), *rel = rel_of(ld, name, NULL);
		fr_cat_seen_add(ld, name, NULL, st);
		if (!p || !rel)
			ld->oom = 1;
		else
			load_versions_yaml(ld, p, rel);
		fr_free(p);
		fr_free(rel);
		return;
	}
	if (!us || !us[1] ||
	    !((name[0] >= '0' && name[0] <= '9') ||
	      (name[0] == 'v' && name[1] >= '0' && name[1] <= '9'))) {
		lerr_at(ld, NULL, name, "does not match a layout (expected a flat step "
		        "VERSION_name.ext such as 1.2.2_reindex.sql, a transition folder, or "
		        VERSIONS_FILE ")");
		return;
	}
	n = (size_t)(us - name);
	if (n >= sizeof vtext) {
		lerr_at(ld, NULL, name, "invalid version '%.*s': too long", (int)n, name);
		return;
	}
	memcpy(vtext, name, n);
	vtext[n] = '\0';
	fr_buf_reset(&ld->msg);
	if (fr_version_parse(&v, vtext, &ld->msg)) {
		lerr_at(ld, NULL, name, "%s", ld->msg.ptr);
		return;
	}
	if (!(k = kind_of(ld, NULL, name, st)))
		return;
	/* as parsed, the text is the version's format, but for a leading v */
	if (!(s = new_step(ld, NULL, name, vtext[0] == 'v' ? vtext + 1 : vtext, st, k)))
		return;
	if (fr_cat_grow(ld, (void **)&ld->flats, &ld->cflats, ld->nflats, sizeof *ld->flats))
		return;
	ld->flats[ld->nflats].v = v;
	ld->flats[ld->nflats].s = s;
	ld->nflats++;
}

/* ---- whole-catalog work -------------------------------------------------- */

/* Versions are sorted as pointers: a version is some 200 bytes, and a chain is all versions. */
static int cmp_version_pp(const void *a, const void *b)
{
	return fr_version_cmp(*(const fr_version *const *)a, *(const fr_version *const *)b);
}

static const fr_version version_zero;

static int cmp_flat(const void *a, const void *b)
{
	const flat_entry *x = a, *y = b;
	int r = fr_version_cmp(&x->v, &y->v);
	return r ? r : strcmp(x->s->name, y->s->name);
}

/* Pattern order: by floor, then wider patterns first. */
static int cmp_pattern(const fr_vpattern *a, const fr_vpattern *b)
{
	fr_version fa, fb;
	int r;
	fr_vpattern_floor(a, &fa);
	fr_vpattern_floor(b, &fb);
	if ((r = fr_version_cmp(&fa, &fb)) != 0)
		return r;
	return a->fixed < b->fixed ? -1 : a->fixed > b->fixed;
}

static int cmp_tr(const void *a, const void *b)
{
	const fr_transition *x = *(fr_transition *const *)a, *y = *(fr_transition *const *)b;
	int r = fr_version_cmp(&x->to, &y->to);
	if (r || (r = cmp_pattern(&x->from, &y->from)) != 0)
		return r;
	return strcmp(x->name, y->name);
}

static int cmp_step(const void *a, const void *b)
{
	const fr_step *x = *(fr_step *const *)a, *y = *(fr_step *const *)b;
	int r = strcmp(x->id, y->id);
	return r ? r : strcmp(x->rel, y->rel);
}

static int cmp_ventry(const void *a, const void *b)
{
	const ventry *x = a, *y = b;
	int r = fr_version_cmp(&x->vi.v, &y->vi.v);
	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * "<to> (flat)", the name of a version's flat transition (it runs once per
 * version, and a chain of flat steps is all versions: fr_version_format
 * writes without printf).
 */
static char *flat_name(const fr_version *v)
{
	char buf[FR_VERSION_STR_MAX + 8];
	size_t n;
	fr_version_format(v, buf, FR_VERSION_STR_MAX);
	n = strlen(buf);
	memcpy(buf + n, " (flat)", sizeof " (flat)");
	return fr_strndup(buf, n + sizeof " (flat)" - 1);
}

/*
 * Flat files grouped by version into transitions, each from the greatest
 * catalogued version below it.
 */
static void make_flat_transitions(loader *ld)
{
	fr_catalog *c = ld->c;
	const fr_version **named = NULL;
	size_t nn = 0, i, j;

	if (!ld->nflats)
		return;
	sort(ld->flats, ld->nflats, sizeof *ld->flats, cmp_flat);
	if (!(named = fr_calloc(2 * c->ntrs + ld->nflats + ld->nmaps + 1, sizeof *named))) {
		ld->oom = 1;
		return;
	}
	named[nn++] = &version_zero;
	for (i = 0; i < c->ntrs; i++) {
		named[nn++] = &c->trs[i]->to;
		if (c->trs[i]->from.fixed == 3)
			named[nn++] = &c->trs[i]->from.v;
	}
	for (i = 0; i < ld->nflats; i++)
		named[nn++] = &ld->flats[i].v;
	for (i = 0; i < ld->nmaps; i++)
		named[nn++] = &ld->maps[i].v; /* a version that ships foreign steps is a node */
	sort(named, nn, sizeof *named, cmp_version_pp);

	for (i = 0; i < ld->nflats && !ld->oom; i = j) {
		const fr_version *to = &ld->flats[i].v;
		char tostr[FR_VERSION_STR_MAX];
		size_t lo = 0, hi = nn, k;
		fr_transition *t;

		for (j = i + 1; j < ld->nflats && fr_version_cmp(&ld->flats[j].v, to) == 0; j++)
			;
		/* lo = the first named version not below to */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (fr_version_cmp(named[mid], to) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0) {
			fr_version_format(to, tostr, sizeof tostr);
			fr_cat_err(ld, "%s: no catalogued version below '%s' to come from",
			     ld->flats[i].s->rel, tostr);
			continue;
		}
		t = fr_cat_new_transition(ld);
		if (!t || !(t->steps = fr_calloc(j - i, sizeof *t->steps))) {
			ld->oom = 1;
			break;
		}
		t->from.v = *named[lo - 1];
		t->from.fixed = 3;
		t->to = *to;
		if (!(t->name = flat_name(to))) {
			ld->oom = 1;
			break;
		}
		for (k = i; k < j; k++) {
			ld->flats[k].s->tr = t;
			ld->flats[k].s->from = &t->from;
			ld->flats[k].s->to = &t->to;
			t->steps[t->nsteps++] = ld->flats[k].s;
		}
	}
	fr_free((void *)named);
}

/* Where a transition comes from, for messages: its folder, or its first flat file. */
static void where(loader *ld, const fr_transition *t, fr_buf *out)
{
	fr_buf_reset(out);
	if (t->dir)
		fr_buf_printf(out, "%s%s%s", ld->reldir, *ld->reldir ? "/" : "", t->name);
	else
		fr_buf_puts(out, t->nsteps ? t->steps[0]->rel : t->name);
}

/* Adjacent equals after sorting; each repeat is reported against the first of its run. */
static void check_duplicates(loader *ld)
{
	fr_catalog *c = ld->c;
	fr_buf a = FR_BUF_INIT;
	size_t i, first;

	for (i = 1, first = 0; i < c->ntrs; i++) {
		const fr_transition *x = c->trs[first], *y = c->trs[i];
		if (fr_version_cmp(&x->to, &y->to) == 0 && cmp_pattern(&x->from, &y->from) == 0) {
			char f[FR_VERSION_STR_MAX], t[FR_VERSION_STR_MAX];
			where(ld, x, &a);
			where(ld, y, &ld->msg);
			fr_vpattern_format(&y->from, f, sizeof f);
			fr_version_format(&y->to, t, sizeof t);
			fr_cat_err(ld, "%s: a second transition from '%s' to '%s' (the first is '%s')",
			     ld->msg.ptr, f, t, a.ptr);
		} else {
			first = i;
		}
	}
	for (i = 1, first = 0; i < c->nsteps; i++) {
		if (strcmp(c->steps[first]->id, c->steps[i]->id) == 0)
			fr_cat_err(ld, "%s: duplicate step id '%s' (also '%s')", c->steps[i]->rel,
			     c->steps[i]->id, c->steps[first]->rel);
		else
			first = i;
	}
	fr_buf_release(&a);
}

/*
 * Every catalogued version, ascending: 0.0.0, the transitions' versions,
 * versions.yaml's. The transitions' are sorted as pointers and merged with
 * versions.yaml's entries (sorted by version, then line); on a tie the
 * transition's comes first, as if it were on line 0.
 */
static void make_versions(loader *ld)
{
	fr_catalog *c = ld->c;
	const fr_version **tv;
	size_t i, j, k, nt = 0;

	sort(ld->vy, ld->nvy, sizeof *ld->vy, cmp_ventry);
	for (i = 1; i < ld->nvy; i++) {
		if (fr_version_cmp(&ld->vy[i - 1].vi.v, &ld->vy[i].vi.v) == 0) {
			char s[FR_VERSION_STR_MAX];
			fr_version_format(&ld->vy[i].vi.v, s, sizeof s);
			fr_cat_err(ld, "%s:%d: version '%s' is listed twice (first on line %d)",
			     ld->vy_rel, ld->vy[i].line, s, ld->vy[i - 1].line);
		}
	}
	if (!(tv = fr_calloc(4 * c->ntrs + 2, sizeof *tv))) {
		ld->oom = 1;
		return;
	}
	{
		/* The tos in order (trs are sorted by to), the exact froms sorted, then merged. */
		const fr_version **tos = tv + 2 * c->ntrs + 1, **froms = tos + c->ntrs + 1;
		size_t nto = 0, nfrom = 0, a = 0, b = 0;
		tos[nto++] = &version_zero;
		for (i = 0; i < c->ntrs; i++)
			tos[nto++] = &c->trs[i]->to;
		for (i = 0; i < c->ntrs; i++)
			if (c->trs[i]->from.fixed == 3)
				froms[nfrom++] = &c->trs[i]->from.v;
		sort(froms, nfrom, sizeof *froms, cmp_version_pp);
		while (a < nto || b < nfrom)
			tv[nt++] = b == nfrom || (a < nto && fr_version_cmp(tos[a], froms[b]) <= 0)
			                   ? tos[a++] : froms[b++];
	}
	if (!(c->versions = fr_calloc(nt + ld->nvy, sizeof *c->versions))) {
		fr_free((void *)tv);
		ld->oom = 1;
		return;
	}
	for (i = 0, j = 0, k = 0; i < ld->nvy || j < nt;) {
		fr_vinfo *in = NULL, *o = k ? &c->versions[k - 1] : NULL;
		const fr_version *v;
		if (j < nt && (i == ld->nvy || fr_version_cmp(tv[j], &ld->vy[i].vi.v) <= 0))
			v = tv[j++];
		else
			v = &(in = &ld->vy[i++].vi)->v;
		if (!o || fr_version_cmp(&o->v, v) != 0) {
			o = &c->versions[k++];
			o->v = *v;
			o->node = !in;
		} else {
			o->node |= !in;
		}
		if (in) {
			o->required_stop |= in->required_stop;
			if (!o->notes) {
				o->notes = in->notes;
				in->notes = NULL; /* moved */
			}
		}
	}
	c->nversions = k;
	fr_free((void *)tv);
}

/* ---- the entry points ---------------------------------------------------- */

void fr_catalog_own_source(fr_source *src, const char *dir)
{
	memset(src, 0, sizeof *src);
	src->path = (char *)dir;
	src->rel = (char *)dir;
	src->layout = (char *)"ferry";
}

int fr_catalog_load(fr_catalog **out, const char *dir, const char *root, fr_buf *err)
{
	fr_source src;
	fr_catalog_own_source(&src, dir);
	return fr_catalog_load_sources(out, &src, 1, root, err);
}

/* dir relative to root, or dir itself when it is not below root. */
const char *fr_cat_rel_to_root(const char *dir, const char *root)
{
	size_t rl = root ? strlen(root) : 0;
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (rl && strncmp(dir, root, rl) == 0 && (dir[rl] == '/' || !dir[rl])) {
		dir += rl;
		while (*dir == '/')
			dir++;
	}
	return dir;
}

/* ferry's own layout: the folder c->dir, its transitions, flat steps and YAML files. */
void fr_cat_load_ferry(loader *ld)
{
	fr_catalog *c = ld->c;
	dirlist top;
	struct stat tst;
	size_t i;

	memset(&top, 0, sizeof top);
	ld->reldir = fr_cat_rel_to_root(c->dir, ld->root);
	if (!(ld->vy_rel = rel_of(ld, VERSIONS_FILE, NULL)))
		return;
	if (fr_cat_dirlist_read(&top, c->dir, &tst)) {
		if (errno != ENOENT) {
			fr_cat_err(ld, "%s: %s", *ld->reldir ? ld->reldir : c->dir, strerror(errno));
			goto done;
		}
		fr_cat_seen_add(ld, "", NULL, NULL); /* missing: the folder's appearing is a change */
	} else {
		fr_cat_seen_add(ld, "", NULL, &tst);
	}
	for (i = 0; i < top.n && !ld->oom; i++) {
		const char *name = top.names[i];
		struct stat st;
		if (fr_cat_stat(ld, dirfd(top.d), c->dir, name, &st)) {
			lerr_at(ld, NULL, name, "%s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			load_folder(ld, name);
		} else if (S_ISREG(st.st_mode)) {
			load_top_file(ld, name, &st);
		} else {
			lerr_at(ld, NULL, name, "not a regular file or folder");
		}
	}
done:
	fr_cat_dirlist_free(&top);
}

int fr_cat_stat(loader *ld, int dfd, const char *dir, const char *name, struct stat *st)
{
	if (dir && fr_statmemo_get(ld->memo, dir, name, st))
		return 0;
	return fstatat(dfd, name, st, 0);
}

int fr_catalog_load_sources(fr_catalog **out, const fr_source *src, size_t nsrc,
                            const char *root, fr_buf *err)
{
	return fr_catalog_load_memo(out, src, nsrc, root, NULL, err);
}

int fr_catalog_load_memo(fr_catalog **out, const fr_source *src, size_t nsrc, const char *root,
                         struct fr_statmemo *memo, fr_buf *err)
{
	fr_buf scratch_err = FR_BUF_INIT;
	fr_catalog *c = NULL;
	loader ld;
	size_t i;
	int rc = FERRY_EINVALID;

	*out = NULL;
	memset(&ld, 0, sizeof ld);
	fr_buf_init(&ld.msg);
	ld.err = err ? err : &scratch_err;
	ld.root = root;
	ld.reldir = "";
	ld.src = src;
	ld.nsrc = nsrc;
	ld.memo = memo;
	if (!(c = fr_calloc(1, sizeof *c)) ||
	    (nsrc && (!(ld.lay = fr_calloc(nsrc, sizeof *ld.lay)) ||
	              !(ld.chains = fr_calloc(nsrc, sizeof *ld.chains)) ||
	              !(ld.nchain = fr_calloc(nsrc, sizeof *ld.nchain))))) {
		ld.oom = 1;
		goto done;
	}
	ld.c = c;
	{
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		c->loaded_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	}
	fr_cat_load_sources(&ld);
	if (ld.oom)
		goto done;
	if (!ld.vy_rel && !(ld.vy_rel = fr_strdup(VERSIONS_FILE))) {
		ld.oom = 1;
		goto done;
	}
	make_flat_transitions(&ld);
	if (!ld.oom)
		fr_cat_ship_foreign(&ld);
	for (i = 0; i < c->ntrs; i++) {
		fr_transition *t = c->trs[i];
		if (!t->est_given)
			t->est_seconds = (double)t->nsteps * FR_DEFAULT_STEP_SECONDS;
	}
	if (c->schema_tr)
		c->schema_tr->est_seconds = (double)c->schema_tr->nsteps * FR_DEFAULT_STEP_SECONDS;
	if (ld.oom)
		goto done;
	/* Transitions are made whole or not at all, so the checks below run even after errors. */
	sort(c->trs, c->ntrs, sizeof *c->trs, cmp_tr);
	sort(c->steps, c->nsteps, sizeof *c->steps, cmp_step);
	check_duplicates(&ld);
	make_versions(&ld);
	if (!ld.nerr && !ld.oom)
		rc = 0;
done:
	if (ld.oom) {
		fr_cat_err(&ld, "%s", "out of memory while reading the migrations folder");
		rc = FERRY_EFAILED;
	}
	if (rc == 0)
		*out = c;
	else
		fr_catalog_free(c);
	for (i = 0; i < ld.nvy; i++)
		fr_free(ld.vy[i].vi.notes);
	fr_free(ld.vy);
	fr_free(ld.vy_rel);
	fr_free(ld.flats);
	for (i = 0; i < ld.nmaps; i++) {
		fr_free(ld.maps[i].src);
		fr_free(ld.maps[i].tv);
	}
	fr_free(ld.maps);
	for (i = 0; i < nsrc && ld.chains; i++)
		fr_free(ld.chains[i]);
	fr_free(ld.chains);
	fr_free(ld.nchain);
	fr_free((void *)ld.lay);
	fr_buf_release(&ld.msg);
	fr_buf_release(&scratch_err);
	return rc;
}

void fr_catalog_free(fr_catalog *c)
{
	size_t i;
	if (!c)
		return;
	fr_catalog_free(c->retired);
	for (i = 0; i < c->nseen; i++)
		fr_free(c->seen[i].rel);
	fr_free(c->seen);
	for (i = 0; i < c->ntrs; i++) {
		fr_transition *t = c->trs[i];
		fr_free(t->dir);
		fr_free(t->name);
		fr_free(t->description);
		fr_strv_free(t->notes, t->nnotes);
		fr_strv_free(t->restarts, t->nrestarts);
		fr_free(t->steps);
		fr_free(t);
	}
	fr_free(c->trs);
	if (c->schema_tr) {
		fr_free(c->schema_tr->name);
		fr_free(c->schema_tr->steps);
		fr_free(c->schema_tr);
	}
	fr_free(c->foreign);
	for (i = 0; i < c->nsteps; i++) {
		fr_step *s = c->steps[i];
		if (s->loaded && s->kind && s->kind->unload)
			s->kind->unload(s);
		fr_free(s); /* id, name, path and rel live in the same block */
	}
	fr_free(c->steps);
	for (i = 0; i < c->nversions; i++)
		fr_free(c->versions[i].notes);
	fr_free(c->versions);
	fr_free(c->dir);
	fr_free(c);
}

/* The stat of what was read then against now's, and old enough then to be trusted. */
static int same_file(int64_t size, int64_t mtime_ns, int64_t ino, int64_t trusted_before,
                     const struct stat *st)
{
	return mtime_ns < trusted_before && size == (int64_t)st->st_size &&
	       mtime_ns == fr_stamp_ns(st) && ino == (int64_t)st->st_ino;
}

/*
 * A folder's listing changes its modification time, so a step added,
 * removed or renamed shows on its folder; an edit shows on the file. Every
 * stat is made relative to the migrations folder, opened once.
 */
int fr_catalog_current(const fr_catalog *c, struct fr_statmemo *memo)
{
	const int64_t trusted_before = c->loaded_ns - 2000000000LL;
	size_t i, ldir = c->dir ? strlen(c->dir) : 0;
	struct stat st;
	int dfd = AT_FDCWD, ok = 1;

	if (!c->nseen)
		return 0;
	/* Without a folder of ferry's own, every path recorded is absolute. */
	if (c->dir && (dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT && c->seen[0].ino == -1; /* missing then and now */
	for (i = 0; ok && i < c->nseen; i++) {
		const fr_catalog_seen *e = &c->seen[i];
		ok = e->ino != -1 &&
		     (*e->rel ? (c->dir && fr_statmemo_get(memo, c->dir, e->rel, &st)) ||
		                    fstatat(dfd, e->rel, &st, 0) == 0
		              : fstat(dfd, &st) == 0) &&
		     same_file(e->size, e->mtime_ns, e->ino, trusted_before, &st);
	}
	for (i = 0; ok && i < c->nsteps; i++) {
		const fr_step *s = c->steps[i];
		const char *p = s->path;
		if (fr_kind_has(s->kind, FR_KIND_NO_FILE))
			continue;
		/* A file step's path is the folder's, then '/' and its name under it; or absolute. */
		if (ldir && strncmp(s->path, c->dir, ldir) == 0 && s->path[ldir] == '/')
			p = s->path + ldir + 1;
		ok = ((p != s->path && fr_statmemo_get(memo, c->dir, p, &st)) ||
		      fstatat(dfd, p, &st, 0) == 0) &&
		     same_file(s->size, s->mtime_ns, s->ino, trusted_before, &st);
	}
	if (dfd != AT_FDCWD)
		close(dfd);
	return ok;
}

static int cmp_step_key(const void *key, const void *elem)
{
	return strcmp(key, (*(fr_step *const *)elem)->id);
}

fr_step *fr_catalog_step(const fr_catalog *c, const char *id)
{
	fr_step **p;
	if (!c || !id || !c->nsteps)
		return NULL;
	p = bsearch(id, c->steps, c->nsteps, sizeof *c->steps, cmp_step_key);
	return p ? *p : NULL;
}

const fr_version *fr_catalog_latest(const fr_catalog *c)
{
	static const fr_version zero;
	return c && c->nversions ? &c->versions[c->nversions - 1].v : &zero;
}

/* The number of catalogued versions not above v. */
static size_t upper_bound(const fr_catalog *c, const fr_version *v)
{
	size_t lo = 0, hi = c->nversions;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (fr_version_cmp(&c->versions[mid].v, v) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const fr_vinfo *fr_catalog_vinfo(const fr_catalog *c, const fr_version *v)
{
	size_t i;
	if (!c)
		return NULL;
	i = upper_bound(c, v);
	return i && fr_version_cmp(&c->versions[i - 1].v, v) == 0 ? &c->versions[i - 1] : NULL;
}

void fr_catalog_node(const fr_catalog *c, const fr_version *v, fr_version *out)
{
	size_t i = c ? upper_bound(c, v) : 0;
	memset(out, 0, sizeof *out);
	while (i > 0) {
		if (c->versions[i - 1].node) {
			*out = c->versions[i - 1].v;
			return;
		}
		i--;
	}
}

/* ---- native steps -------------------------------------------------------- */

static int cmp_tr_name_step(const void *a, const void *b)
{
	return strcmp((*(fr_step *const *)a)->name, (*(fr_step *const *)b)->name);
}

/* Marks v a node of the graph, adding it to the versions when it is new. */
static int add_node(fr_catalog *c, const fr_version *v)
{
	size_t i = 0;
	fr_vinfo *t;
	while (i < c->nversions && fr_version_cmp(&c->versions[i].v, v) < 0)
		i++;
	if (i < c->nversions && fr_version_cmp(&c->versions[i].v, v) == 0) {
		c->versions[i].node = 1;
		return 0;
	}
	t = fr_realloc(c->versions, (c->nversions + 1) * sizeof *t);
	if (!t)
		return -1;
	c->versions = t;
	memmove(&t[i + 1], &t[i], (c->nversions - i) * sizeof *t);
	memset(&t[i], 0, sizeof *t);
	t[i].v = *v;
	t[i].node = 1;
	c->nversions++;
	return 0;
}

int fr_catalog_add_native(fr_catalog *c, const char *from, const char *to, const char *name,
                          const fr_step_kind *kind, void *priv, const char *checksum,
                          fr_buf *err)
{
	fr_vpattern fp;
	fr_version tv;
	fr_transition *t = NULL;
	fr_step *s, **ns;
	char tostr[FR_VERSION_STR_MAX], a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	size_t i, lto, lname, lkind, total;
	char *p;

	if (fr_vpattern_parse(&fp, from, err) || fr_version_parse(&tv, to, err))
		return FERRY_EINVALID;
	fr_version_format(&tv, tostr, sizeof tostr);
	fr_vpattern_format(&fp, a, sizeof a);
	if (fp.fixed == 3 && fr_version_cmp(&fp.v, &tv) >= 0) {
		fr_buf_printf(err, "%s '%s/%s': '%s' is not above '%s'", fr_kind_noun(kind), tostr,
		              name, tostr, a);
		return FERRY_EINVALID;
	}
	for (i = 0; i < c->ntrs && !t; i++) {
		fr_vpattern_format(&c->trs[i]->from, b, sizeof b);
		if (!strcmp(a, b) && !fr_version_cmp(&c->trs[i]->to, &tv))
			t = c->trs[i];
	}
	lto = strlen(tostr);
	lname = strlen(name);
	lkind = strlen(kind->name);
	total = (lto + 1 + lname + 1) + (lname + 1) + (lkind + 3 + lto + 1 + lname + 1) * 2;
	if (!(s = fr_calloc(1, sizeof *s + total)))
		goto oom;
	p = (char *)(s + 1);
	s->id = p;
	p = put(p, tostr, lto);
	p = put(p, "/", 1);
	p = put(p, name, lname + 1);
	if (fr_catalog_step(c, s->id)) {
		fr_buf_printf(err, "%s '%s': a step with that id exists already", fr_kind_noun(kind),
		              s->id);
		fr_free(s);
		return FERRY_EINVALID;
	}
	s->name = p;
	p = put(p, name, lname + 1);
	/* No file: path and rel only name it, for messages and the fingerprint. */
	s->path = p;
	/* "(<kind>) <id>" */
	p = put(p, "(", 1);
	p = put(p, kind->name, lkind);
	p = put(p, ") ", 2);
	p = put(p, s->id, lto + 1 + lname + 1);
	s->rel = s->path;
	s->kind = kind;
	s->priv = priv;
	memcpy(s->checksum, checksum, FR_CHECKSUM_LEN + 1);
	if (!t) {
		fr_transition **nt = fr_realloc(c->trs, (c->ntrs + 1) * sizeof *nt);
		if (!nt || !(t = fr_calloc(1, sizeof *t))) {
			if (nt)
				c->trs = nt;
			fr_free(s);
			goto oom;
		}
		c->trs = nt;
		t->from = fp;
		t->to = tv;
		t->backup_required = 1;
		t->name = fr_malloc(lkind + 3);
		if (t->name)
			put(put(put(t->name, "(", 1), kind->name, lkind), ")", 2);
		c->trs[c->ntrs++] = t;
		qsort(c->trs, c->ntrs, sizeof *c->trs, cmp_tr);
		if (add_node(c, &tv) || (fp.fixed == 3 && add_node(c, &fp.v)))
			goto oom_s;
	}
	ns = fr_realloc(t->steps, (t->nsteps + 1) * sizeof *ns);
	if (!ns)
		goto oom_s;
	t->steps = ns;
	t->steps[t->nsteps++] = s;
	qsort(t->steps, t->nsteps, sizeof *t->steps, cmp_tr_name_step);
	if (!t->est_given)
		t->est_seconds = (double)t->nsteps * FR_DEFAULT_STEP_SECONDS;
	s->tr = t;
	s->from = &t->from;
	s->to = &t->to;
	ns = fr_realloc(c->steps, (c->nsteps + 1) * sizeof *ns);
	if (!ns) {
		t->nsteps--;
		goto oom_s;
	}
	c->steps = ns;
	c->steps[c->nsteps++] = s;
	qsort(c->steps, c->nsteps, sizeof *c->steps, cmp_step);
	return 0;
oom_s:
	fr_free(s);
oom:
	fr_buf_puts(err, "out of memory");
	return FERRY_EFAILED;
}
