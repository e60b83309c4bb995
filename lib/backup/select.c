/*
 * select.c - what an archive holds: the paths of the installation read
 * lexically (inside the root or not, links that stay inside), the globs
 * of backup.include/exclude, the selection (everything, less .ferry/, the
 * backup folder, each database's own files and what cannot be restored
 * safely) and the walk over the root that hands each taken entry to a
 * callback, sorted, so archives are the same for the same tree.
 */
#include "backup_int.h"
#include "../util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <unistd.h>

int bk_valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		        (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (n == 1 && *p < 0xc2))
			return 0;
		p++;
		while (n--) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			p++;
		}
	}
	return 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int bk_list_dir(const char *path, char ***out, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **v = NULL;
	size_t len = 0, cap = 0;
	int e = 0;
	*out = NULL;
	*n = 0;
	if (!d)
		return -1;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nv = fr_realloc(v, ncap * sizeof *nv);
			if (!nv) {
				e = ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[len] = fr_strdup(de->d_name))) {
			e = ENOMEM;
			break;
		}
		len++;
		errno = 0;
	}
	if (!e && errno)
		e = errno;
	closedir(d);
	if (e) {
		fr_strv_free(v, len);
		errno = e;
		return -1;
	}
	if (len)
		qsort(v, len, sizeof *v, name_cmp);
	*out = v;
	*n = len;
	return 0;
}

char *bk_join(const char *a, const char *rel)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_printf(&b, "%s/%s", a, rel);
	return fr_buf_detach(&b);
}

const char *bk_rel_in_root(const char *root, const char *abs)
{
	size_t n = strlen(root);
	if (strncmp(abs, root, n))
		return NULL;
	if (!abs[n])
		return abs + n;
	if (abs[n] == '/' || (n == 1 && root[0] == '/'))
		return abs + n + (abs[n] == '/');
	return NULL;
}

/* abs with ".", ".." and doubled slashes resolved lexically; NULL on OOM. */
static char *lexical(const char *abs)
{
	fr_buf b = FR_BUF_INIT;
	const char *p = abs;
	size_t n;
	for (; *p; p = bk_segnext(p, n)) {
		n = bk_seglen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(b.ptr, '/');
			fr_buf_truncate(&b, slash ? (size_t)(slash - b.ptr) : 0);
			continue;
		}
		fr_buf_putc(&b, '/');
		fr_buf_add(&b, p, n);
	}
	if (!b.len)
		fr_buf_putc(&b, '/');
	return fr_buf_detach(&b);
}

int bk_rel_of(const char *root, const char *abs, char **out)
{
	char *l = lexical(abs);
	const char *rel = l ? bk_rel_in_root(root, l) : NULL;
	*out = rel ? fr_strdup(rel) : NULL;
	fr_free(l);
	return !l || (rel && !*out) ? -1 : 0;
}

/*
 * 1 when the target of a symbolic link at rel (relative to root) stays
 * inside root read lexically: an absolute target must start with root, a
 * relative one never climbs above it.
 */
int bk_link_inside(const char *root, const char *rel, const char *target)
{
	const char *p;
	long depth = 0;
	size_t n;
	if (!*target)
		return 0;
	if (target[0] == '/') {
		p = bk_rel_in_root(root, target);
		if (!p)
			return 0;
	} else {
		for (p = rel; *p; p = bk_segnext(p, n)) {
			n = bk_seglen(p);
			if (n)
				depth++;
		}
		depth--; /* the link's own folder */
		p = target;
	}
	for (; *p; p = bk_segnext(p, n)) {
		n = bk_seglen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else {
			depth++;
		}
	}
	return 1;
}

/* ---- globs and the selection of files ---- */

static int comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	char pb[NAME_MAX * 4 + 1], sb[NAME_MAX * 4 + 1];
	if (pn >= sizeof pb || sn >= sizeof sb)
		return 0;
	memcpy(pb, p, pn);
	pb[pn] = '\0';
	memcpy(sb, s, sn);
	sb[sn] = '\0';
	return fnmatch(pb, sb, 0) == 0;
}

static int is_globstar(const char *p, size_t n)
{
	return n == 2 && p[0] == '*' && p[1] == '*';
}

int fr_backup_glob(const char *p, const char *s)
{
	size_t pn, sn;
	if (!*p)
		return !*s;
	pn = bk_seglen(p);
	if (is_globstar(p, pn)) {
		const char *rest = bk_segnext(p, pn);
		for (;;) {
			if (fr_backup_glob(rest, s))
				return 1;
			if (!*s)
				return 0;
			s = bk_segnext(s, bk_seglen(s));
		}
	}
	if (!*s)
		return 0;
	sn = bk_seglen(s);
	return comp_match(p, pn, s, sn) && fr_backup_glob(bk_segnext(p, pn), bk_segnext(s, sn));
}

/* 1 when something strictly below folder s could match p. */
static int glob_below(const char *p, const char *s)
{
	size_t pn, sn;
	if (!*p)
		return 0;
	pn = bk_seglen(p);
	if (is_globstar(p, pn) || !*s)
		return 1;
	sn = bk_seglen(s);
	return comp_match(p, pn, s, sn) && glob_below(bk_segnext(p, pn), bk_segnext(s, sn));
}

/* A pattern as written, less a leading "./" or "/" and a trailing "/". */
static char *pattern_norm(const char *p)
{
	size_t n;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	return fr_strndup(p, n);
}

void bk_sel_free(fr_sel *s)
{
	fr_strv_free(s->inc, s->ninc);
	fr_strv_free(s->exc, s->nexc);
	fr_strv_free(s->hard, s->nhard);
	memset(s, 0, sizeof *s);
}

int bk_strv_push(char ***v, size_t *n, char *s)
{
	char **nv;
	if (!s)
		return -1;
	nv = fr_realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv) {
		fr_free(s);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/* Adds abs when inside the root. */
static int sel_hard(fr_sel *s, const char *abs)
{
	char *rel = NULL;
	if (!abs)
		return 0;
	if (bk_rel_of(s->root, abs, &rel))
		return -1;
	if (rel && *rel)
		return bk_strv_push(&s->hard, &s->nhard, rel);
	fr_free(rel);
	return 0;
}

/* Adds the files database c is made of (its driver says which). */
static int sel_hard_db(fr_sel *s, const fr_dbconf *c)
{
	fr_buf err = FR_BUF_INIT;
	char **files = NULL;
	size_t n = 0, i;
	int rc = fr_db_files(c, &files, &n, &err);
	for (i = 0; i < n && !rc; i++)
		rc = sel_hard(s, files[i]);
	fr_strv_free(files, n);
	fr_buf_release(&err);
	return rc;
}

int bk_sel_init(fr_sel *s, ferry *f, json_t *include, json_t *exclude, int copy)
{
	size_t i;
	memset(s, 0, sizeof *s);
	s->root = f->root;
	s->copy = copy;
	if (include && json_is_array(include)) {
		json_t *v;
		json_array_foreach(include, i, v)
			if (json_is_string(v) &&
			    bk_strv_push(&s->inc, &s->ninc, pattern_norm(json_string_value(v))))
				goto oom;
		/* An empty list takes nothing; JSON null (neither branch) takes everything. */
		if (!s->ninc && !(s->inc = fr_calloc(1, sizeof *s->inc)))
			goto oom;
	} else if (!include && f->cfg->n_backup_include) {
		for (i = 0; i < f->cfg->n_backup_include; i++)
			if (bk_strv_push(&s->inc, &s->ninc, pattern_norm(f->cfg->backup_include[i])))
				goto oom;
	}
	if (exclude && json_is_array(exclude)) {
		json_t *v;
		json_array_foreach(exclude, i, v)
			if (json_is_string(v) &&
			    bk_strv_push(&s->exc, &s->nexc, pattern_norm(json_string_value(v))))
				goto oom;
	} else if (!exclude) {
		for (i = 0; i < f->cfg->n_backup_exclude; i++)
			if (bk_strv_push(&s->exc, &s->nexc, pattern_norm(f->cfg->backup_exclude[i])))
				goto oom;
	}
	for (i = 0; i < f->cfg->ndbs; i++)
		if (sel_hard_db(s, &f->cfg->dbs[i]))
			goto oom;
	if (sel_hard(s, f->cfg->backup_dir))
		goto oom;
	return 0;
oom:
	bk_sel_free(s);
	return -1;
}

int bk_sel_is_hard(const fr_sel *s, const char *rel)
{
	size_t i, n;
	if (!strncmp(rel, ".ferry", 6) && (!rel[6] || rel[6] == '/'))
		return 1;
	for (i = 0; i < s->nhard; i++) {
		n = strlen(s->hard[i]);
		if (!strncmp(rel, s->hard[i], n) && (!rel[n] || rel[n] == '/'))
			return 1;
	}
	return 0;
}

/* Why an entry is left out, for the log; NULL when it is left out silently. */
int bk_sel_decide(const fr_sel *s, const char *rel, const struct stat *st, const char *link,
                      int parent_taken, const char **why)
{
	const char *base = strrchr(rel, '/');
	size_t i;
	*why = NULL;
	base = base ? base + 1 : rel;
	if (bk_sel_is_hard(s, rel))
		return SEL_SKIP;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) {
		*why = "not a file, folder or link";
		return SEL_SKIP;
	}
	if (!s->copy && !bk_valid_utf8(rel)) {
		*why = "its name is not UTF-8";
		return SEL_SKIP;
	}
	if (S_ISLNK(st->st_mode) && (!link || !bk_link_inside(s->root, rel, link))) {
		*why = "a symbolic link that leads out of the installation";
		return SEL_SKIP;
	}
	if (s->copy)
		return SEL_TAKE;
	for (i = 0; i < s->nexc; i++) {
		const char *p = s->exc[i];
		if (strchr(p, '/') ? fr_backup_glob(p, rel) : fnmatch(p, base, 0) == 0)
			return SEL_SKIP;
	}
	if (!s->inc || parent_taken)
		return SEL_TAKE;
	for (i = 0; i < s->ninc; i++)
		if (fr_backup_glob(s->inc[i], rel))
			return SEL_TAKE;
	if (S_ISDIR(st->st_mode))
		for (i = 0; i < s->ninc; i++)
			if (glob_below(s->inc[i], rel))
				return SEL_DESCEND;
	return SEL_SKIP;
}

/* ---- walking the installation ---- */

/* rel and full (the folder's, rl and fl long) with name below them; -1 on OOM. */
static int walk_name(fr_buf *rel, fr_buf *full, size_t rl, size_t fl, const char *name)
{
	fr_buf_truncate(rel, rl);
	fr_buf_truncate(full, fl);
	if (rl)
		fr_buf_putc(rel, '/');
	fr_buf_puts(rel, name);
	fr_buf_putc(full, '/');
	fr_buf_puts(full, name);
	return rel->oom || full->oom ? -1 : 0;
}

static int walk_dir(fr_walk *w, fr_buf *rel, fr_buf *full, int parent_taken)
{
	char **names = NULL, link[PATH_MAX];
	size_t n = 0, i, rl = rel->len, fl = full->len;
	int rc = 0;
	if (bk_list_dir(full->ptr, &names, &n)) {
		fr_buf_printf(&w->err, "cannot read folder '%s': %s", full->ptr, strerror(errno));
		return -1;
	}
	for (i = 0; i < n && !rc; i++) {
		struct stat st;
		const char *why, *lk = NULL;
		int sel;
		if (walk_name(rel, full, rl, fl, names[i])) {
			fr_buf_puts(&w->err, "out of memory");
			rc = -1;
			break;
		}
		if (w->f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			break;
		}
		if (lstat(full->ptr, &st)) {
			if (errno == ENOENT)
				continue; /* gone since the listing */
			fr_buf_printf(&w->err, "cannot read '%s': %s", full->ptr, strerror(errno));
			rc = -1;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlink(full->ptr, link, sizeof link - 1);
			if (k >= 0) {
				link[k] = '\0';
				lk = link;
			}
		}
		sel = bk_sel_decide(w->sel, rel->ptr, &st, lk, parent_taken, &why);
		if (sel == SEL_SKIP) {
			if (why && !w->quiet)
				fr_log(w->f, FERRY_LOG_WARN, NULL, "left out of the backup: '%s' (%s)",
				       rel->ptr, why);
			continue;
		}
		rc = w->fn(w, WALK_ENTRY, rel->ptr, full->ptr, &st, lk, sel);
		if (!rc && S_ISDIR(st.st_mode)) {
			rc = walk_dir(w, rel, full, sel == SEL_TAKE);
			/* The walk below left rel and full as they were: no allocation here. */
			if (!rc && !walk_name(rel, full, rl, fl, names[i]))
				rc = w->fn(w, WALK_LEAVE, rel->ptr, full->ptr, &st, NULL, sel);
		}
	}
	fr_buf_truncate(rel, rl);
	fr_buf_truncate(full, fl);
	fr_strv_free(names, n);
	return rc;
}

int bk_walk(fr_walk *w)
{
	fr_buf rel = FR_BUF_INIT, full = FR_BUF_INIT;
	int rc;
	fr_buf_puts(&full, w->f->root);
	if (full.len > 1 && full.ptr[full.len - 1] == '/')
		fr_buf_truncate(&full, full.len - 1);
	rc = walk_dir(w, &rel, &full, 0);
	fr_buf_release(&rel);
	fr_buf_release(&full);
	return rc;
}
