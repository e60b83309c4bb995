/*
 * manage.c - the backups of an installation: the rows of the table
 * `backups` in state.db, and archives in the backup folder the table does
 * not know (state.db lost or replaced); backup list, verify and prune.
 * Also what every room of lib/backup/ shares with the handle: the lock
 * (taken when the handle does not hold it), progress reports and the
 * JSON documents handed to the caller.
 */
#include "backup_int.h"
#include "../util/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- progress ---- */

static void prog_report(fr_prog *p)
{
	if (p->f->progress)
		p->f->progress(p->f->progress_ctx, p->what, (unsigned long)p->done,
		               (unsigned long)p->total);
}

void bk_prog_start(fr_prog *p, ferry *f, const char *what, uint64_t total)
{
	p->f = f;
	p->what = what;
	p->done = 0;
	p->total = total;
	p->next = BK_PROGRESS_STEP;
	prog_report(p);
}

void bk_prog_at(fr_prog *p, uint64_t done)
{
	p->done = p->total && done > p->total ? p->total : done;
	if (p->done >= p->next) {
		p->next = p->done + BK_PROGRESS_STEP;
		prog_report(p);
	}
}

void bk_prog_end(fr_prog *p)
{
	if (!p->total)
		p->total = p->done;
	p->done = p->total;
	prog_report(p);
}

/* ---- the backups known: state.db's table and the folder ---- */

void bk_rows_free(bk_row *r, size_t n)
{
	size_t i;
	for (i = 0; r && i < n; i++)
		bk_row_clear(&r[i]);
	fr_free(r);
}

void bk_row_clear(bk_row *r)
{
	fr_free(r->id);
	fr_free(r->path);
	fr_free(r->version);
	fr_free(r->type);
	memset(r, 0, sizeof *r);
}

int bk_row_put(ferry *f, const bk_row *r)
{
	fr_backup_row t;
	t.id = r->id;
	t.path = r->path;
	t.version = r->version;
	t.type = r->type;
	t.size = r->size;
	t.created_at_ms = r->created_at_ms;
	t.verified = r->verified;
	if (fr_state_backup_put(f->state, &t))
		return fr_fail(f, FERRY_EFAILED, "cannot record backup '%s' in state.db: %s", r->id,
		               fr_state_errmsg(f->state));
	return 0;
}

int bk_row_verified(ferry *f, const char *id, int verified)
{
	if (fr_state_backup_set_verified(f->state, id, verified))
		return fr_fail(f, FERRY_EFAILED, "cannot record backups in state.db: %s",
		               fr_state_errmsg(f->state));
	return 0;
}

/* Drops the rows whose archive is gone (deleted by hand). */
static void tbl_drop_missing(ferry *f)
{
	fr_backup_row *rows = NULL;
	size_t n = 0, i;
	if (fr_state_backups(f->state, &rows, &n))
		return;
	for (i = 0; i < n; i++)
		if (!rows[i].path || !fr_exists(rows[i].path))
			fr_state_backup_delete(f->state, rows[i].id);
	fr_backup_rows_free(rows, n);
}

/* The file name part of an id: app with anything but [A-Za-z0-9._-] as '-'. */
char *bk_app_token(const char *app)
{
	char *s = fr_strdup(app && *app ? app : "app"), *p;
	for (p = s; p && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			*p = '-';
	return s;
}

const char *const bk_exts[] = { ".tar.zst", ".tar.gz", ".tar", NULL };

/* The extension of an archive name, or NULL. */
const char *bk_archive_ext(const char *name)
{
	size_t i, n = strlen(name);
	for (i = 0; bk_exts[i]; i++) {
		size_t e = strlen(bk_exts[i]);
		if (n > e && !strcmp(name + n - e, bk_exts[i]))
			return name + n - e;
	}
	return NULL;
}

static int row_newest_first(const void *a, const void *b)
{
	const bk_row *x = a, *y = b;
	if (x->created_at_ms != y->created_at_ms)
		return x->created_at_ms < y->created_at_ms ? 1 : -1;
	return strcmp(y->id, x->id);
}

/*
 * What the manifest of an archive state.db does not know says of it: its
 * version, type and time. Read again at each listing until a verify
 * records the archive (it is the last entry: the whole archive is read).
 * *libs: 0 not tried yet, 1 loaded, -1 not there (the row stays as the
 * file name tells).
 */
static void untracked_from_manifest(ferry *f, bk_row *r, int *libs)
{
	json_t *man, *v;
	locale_t old;
	if (!*libs) {
		int code = f->errcode;
		*libs = bk_load_libs(f, 0) ? -1 : 1;
		if (*libs < 0 && !code)
			fr_ok(f); /* listing goes on without it */
	}
	if (*libs < 0)
		return;
	old = bk_utf8_enter();
	man = bk_read_manifest(r->path);
	bk_utf8_leave(old);
	if (!man)
		return;
	if (json_is_string(v = json_object_get(man, "version")))
		r->version = fr_strdup(json_string_value(v));
	if (json_is_string(v = json_object_get(man, "type")))
		r->type = fr_strdup(json_string_value(v));
	if (json_is_integer(v = json_object_get(man, "created_at_ms")) && json_integer_value(v) > 0)
		r->created_at_ms = (int64_t)json_integer_value(v);
	json_decref(man);
}

/*
 * Every backup: rows of the table whose file is there, and archives in the
 * backup folder that the table does not know (state.db lost or replaced),
 * newest first.
 */
int bk_gather(ferry *f, bk_row **out, size_t *n, int describe)
{
	fr_backup_row *t = NULL;
	bk_row *v = NULL;
	size_t len = 0, cap = 0, i, nn = 0, nt = 0;
	char **names = NULL, *app = bk_app_token(f->cfg->app);
	int rc = FERRY_EFAILED, libs = 0;
	*out = NULL;
	*n = 0;
	if (!app)
		goto oom;
	if (fr_state_backups(f->state, &t, &nt)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read backups from state.db: %s",
		             fr_state_errmsg(f->state));
		goto done;
	}
	for (i = 0; i < nt; i++) {
		struct stat sb;
		bk_row r;
		if (!t[i].path || stat(t[i].path, &sb) || !S_ISREG(sb.st_mode))
			continue; /* deleted by hand: prune drops the row */
		if (fr_grow(&v, &cap, len + 1, sizeof *v))
			goto oom;
		memset(&r, 0, sizeof r);
		r.id = t[i].id;
		r.path = t[i].path;
		r.version = t[i].version;
		r.type = t[i].type;
		r.size = sb.st_size;
		r.created_at_ms = t[i].created_at_ms;
		r.verified = t[i].verified;
		r.tracked = 1;
		memset(&t[i], 0, sizeof t[i]);
		v[len++] = r;
	}
	if (bk_list_dir(f->cfg->backup_dir, &names, &nn) && errno != ENOENT) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read backup folder '%s': %s",
		             f->cfg->backup_dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < nn; i++) {
		const char *ext = bk_archive_ext(names[i]), *under;
		size_t al = strlen(app), k;
		struct stat sb;
		bk_row r;
		int known = 0;
		if (names[i][0] == '.' || !ext || strncmp(names[i], app, al) || names[i][al] != '_')
			continue;
		memset(&r, 0, sizeof r);
		r.id = fr_strndup(names[i], (size_t)(ext - names[i]));
		if (!r.id)
			goto oom;
		for (k = 0; k < len && !known; k++)
			known = !strcmp(v[k].id, r.id);
		r.path = known ? NULL : fr_path_join(f->cfg->backup_dir, names[i]);
		if (known || !r.path || stat(r.path, &sb) || !S_ISREG(sb.st_mode)) {
			fr_free(r.id);
			fr_free(r.path);
			if (!known && !r.path)
				goto oom;
			continue;
		}
		under = strrchr(r.id, '_');
		r.size = sb.st_size;
		r.created_at_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
		if (describe)
			untracked_from_manifest(f, &r, &libs);
		if (!r.type)
			r.type = fr_strdup(under ? under + 1 : "manual");
		if (fr_grow(&v, &cap, len + 1, sizeof *v)) {
			bk_row_clear(&r);
			goto oom;
		}
		v[len++] = r;
	}
	if (len)
		qsort(v, len, sizeof *v, row_newest_first);
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	rc = 0;
	goto done;
oom:
	rc = fr_fail(f, FERRY_EFAILED, "out of memory");
done:
	fr_backup_rows_free(t, nt);
	fr_strv_free(names, nn);
	bk_rows_free(v, len);
	fr_free(app);
	return rc;
}

/* 1 when the archive at path (real, absolute) is directly in the backup folder. */
static int in_backup_dir(ferry *f, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	return slash && realpath(f->cfg->backup_dir, dir) && strlen(dir) == n &&
	       !strncmp(dir, path, n);
}

/* The backup called id (or an archive's path) into *out. */
int bk_find(ferry *f, const char *id, bk_row *out)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	int rc;
	memset(out, 0, sizeof *out);
	if (!id || !*id)
		return fr_fail(f, FERRY_EINVALID, "no backup named (see 'ferry backup list')");
	if (strchr(id, '/')) {
		char path[PATH_MAX];
		const char *base, *ext;
		struct stat sb;
		if (!realpath(id, path) || stat(path, &sb) || !S_ISREG(sb.st_mode))
			return fr_fail(f, FERRY_EINVALID, "no backup archive at '%s'", id);
		base = strrchr(path, '/') + 1;
		ext = bk_archive_ext(base);
		if (ext && in_backup_dir(f, path)) {
			/* One of ours, named by its path: the same backup as by its id. */
			char *bid = fr_strndup(base, (size_t)(ext - base));
			if (!bid)
				return fr_fail(f, FERRY_EFAILED, "out of memory");
			rc = bk_find(f, bid, out);
			fr_free(bid);
			if (rc != FERRY_EINVALID || out->id)
				return rc;
			fr_ok(f); /* not a name the folder lists: an archive as any other */
		}
		out->path = fr_strdup(path);
		out->id = ext ? fr_strndup(base, (size_t)(ext - base)) : fr_strdup(base);
		out->size = sb.st_size;
		if (!out->path || !out->id)
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		return 0;
	}
	if ((rc = bk_gather(f, &rows, &n, 0)))
		return rc;
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].id, id))
			continue;
		*out = rows[i];
		memset(&rows[i], 0, sizeof rows[i]);
		bk_rows_free(rows, n);
		return 0;
	}
	bk_rows_free(rows, n);
	return fr_fail(f, FERRY_EINVALID, "no backup '%s' (see 'ferry backup list')", id);
}

/* ---- the lock, the documents handed out ---- */

/* Takes the lock unless f holds it; *took says whether to release it. */
int bk_lock_take(ferry *f, int *took)
{
	fr_buf err = FR_BUF_INIT;
	int rc;
	*took = 0;
	if (f->lock.fd >= 0)
		return 0;
	rc = fr_lock_acquire(&f->lock, f->ferry_dir, 0, &f->interrupted, &err);
	if (rc)
		rc = fr_fail_msg(f, rc, err.ptr);
	else
		*took = 1;
	fr_buf_release(&err);
	return rc;
}

void bk_lock_give(ferry *f, int took)
{
	if (took)
		fr_lock_release(&f->lock);
}

/* ---- verify, list, prune ---- */

/*
 * The result of a verify remembered: the row's mark, or, for an archive in
 * the backup folder that state.db does not know, a row made from its
 * manifest (an archive copied there by hand is then a backup as any other).
 */
static void verify_record(ferry *f, bk_row *row, json_t *man, int good)
{
	json_t *v;
	if (row->tracked) {
		bk_row_verified(f, row->id, good ? 1 : -1);
		return;
	}
	if (!good || !in_backup_dir(f, row->path) ||
	    !json_is_string(json_object_get(man, "version")))
		return; /* elsewhere, or not ours to describe: nothing to remember it by */
	fr_free(row->version);
	row->version = fr_strdup(json_string_value(json_object_get(man, "version")));
	if (json_is_string(v = json_object_get(man, "type"))) {
		fr_free(row->type);
		row->type = fr_strdup(json_string_value(v));
	}
	if (json_is_integer(v = json_object_get(man, "created_at_ms")) && json_integer_value(v) > 0)
		row->created_at_ms = (int64_t)json_integer_value(v);
	if (!row->version || !row->type)
		return; /* out of memory: not remembered, as if elsewhere */
	row->verified = 1;
	bk_row_put(f, row);
}

static int verify_impl(char **out, ferry *f, const char *id)
{
	fr_reader r;
	fr_sel sel;
	bk_row row;
	json_t *man = NULL, *doc;
	fr_buf msg = FR_BUF_INIT;
	int rc;
	memset(&r, 0, sizeof r);
	memset(&sel, 0, sizeof sel);
	if ((rc = bk_find(f, id, &row)))
		return rc;
	if ((rc = bk_load_libs(f, 0)))
		goto done;
	/* What the archive may hold is what a restore here would allow. */
	if (bk_sel_init(&sel, f, NULL, NULL, 0)) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	r.f = f;
	r.sel = &sel;
	if ((rc = bk_read_archive(&r, row.path, "verify", &man)))
		goto done;
	verify_record(f, &row, man, r.nfind == 0);
	doc = json_object();
	json_object_set_new(doc, "ok", json_boolean(r.nfind == 0));
	json_object_set_new(doc, "id", json_string(row.id));
	json_object_set_new(doc, "version", json_incref(json_object_get(man, "version")));
	json_object_set_new(doc, "entries", json_integer((json_int_t)r.nrecs));
	json_object_set_new(doc, "findings", json_incref(r.findings));
	if ((rc = fr_publish(f, doc, out)))
		goto done;
	if (r.nfind) {
		bk_findings_text(&r, &msg);
		rc = fr_fail(f, FERRY_EVERIFY, "backup '%s' is damaged: %s", row.id, msg.ptr);
	} else {
		fr_ok(f);
	}
done:
	json_decref(man);
	bk_reader_free(&r);
	bk_sel_free(&sel);
	bk_row_clear(&row);
	fr_buf_release(&msg);
	return rc;
}

int ferry_backup_verify(char **out, ferry *f, const char *id)
{
	locale_t old;
	int rc;
	*out = NULL;
	old = bk_utf8_enter();
	rc = verify_impl(out, f, id);
	bk_utf8_leave(old);
	return rc;
}

static json_t *row_json(const bk_row *r, int64_t now)
{
	json_t *o = json_object();
	char ts[32];
	fr_time_rfc3339(r->created_at_ms, ts, sizeof ts);
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "version", r->version ? json_string(r->version) : json_null());
	json_object_set_new(o, "type", json_string(r->type ? r->type : "manual"));
	json_object_set_new(o, "size", json_integer(r->size));
	json_object_set_new(o, "created_at", json_string(ts));
	json_object_set_new(o, "path", json_string(r->path));
	json_object_set_new(o, "verified", json_boolean(r->verified > 0));
	json_object_set_new(o, "status", json_string(r->verified > 0 ? "verified" :
	                                             r->verified < 0 ? "damaged" : "unverified"));
	json_object_set_new(o, "age_seconds", json_integer((now - r->created_at_ms) / 1000));
	json_object_set_new(o, "tracked", json_boolean(r->tracked));
	return o;
}

int ferry_backup_list(char **out, ferry *f)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	json_t *doc, *arr;
	int64_t now = fr_now_ms();
	int rc;
	*out = NULL;
	if ((rc = bk_gather(f, &rows, &n, 1)))
		return rc;
	doc = json_object();
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, row_json(&rows[i], now));
	json_object_set_new(doc, "backups", arr);
	json_object_set_new(doc, "dir", json_string(f->cfg->backup_dir));
	bk_rows_free(rows, n);
	if ((rc = fr_publish(f, doc, out)))
		return rc;
	fr_ok(f);
	return 0;
}

int ferry_backup_prune(char **out, ferry *f, int keep, long older_than_seconds)
{
	bk_row *rows = NULL;
	size_t n = 0, i, keep_i = (size_t)-1;
	json_t *doc = NULL, *removed, *kept;
	int64_t now = fr_now_ms();
	int rc, took = 0;
	*out = NULL;
	if (keep < 0)
		keep = f->cfg->backup_keep;
	if ((rc = bk_lock_take(f, &took)))
		return rc;
	if ((rc = bk_gather(f, &rows, &n, 0)))
		goto done;
	/* The newest good one stays: verified, else the newest not known damaged. */
	for (i = 0; i < n && keep_i == (size_t)-1; i++)
		if (rows[i].verified > 0)
			keep_i = i;
	for (i = 0; i < n && keep_i == (size_t)-1; i++)
		if (rows[i].verified == 0)
			keep_i = i;
	doc = json_object();
	removed = json_array();
	kept = json_array();
	for (i = 0; i < n; i++) {
		int old = older_than_seconds > 0 &&
		          now - rows[i].created_at_ms > (int64_t)older_than_seconds * 1000;
		if (i == keep_i || ((long)i < keep && !old)) {
			json_array_append_new(kept, json_string(rows[i].id));
			continue;
		}
		if (unlink(rows[i].path) && errno != ENOENT) {
			fr_log(f, FERRY_LOG_WARN, NULL, "cannot remove backup '%s': %s", rows[i].path,
			       strerror(errno));
			json_array_append_new(kept, json_string(rows[i].id));
			continue;
		}
		fr_state_backup_delete(f->state, rows[i].id);
		fr_log(f, FERRY_LOG_INFO, NULL, "backup '%s' removed", rows[i].id);
		json_array_append_new(removed, json_string(rows[i].id));
	}
	tbl_drop_missing(f);
	json_object_set_new(doc, "removed", removed);
	json_object_set_new(doc, "kept", kept);
	rc = fr_publish(f, doc, out);
	doc = NULL;
	if (!rc)
		fr_ok(f);
done:
	json_decref(doc);
	bk_rows_free(rows, n);
	bk_lock_give(f, took);
	return rc;
}
