/*
 * restore.c - restoring a backup (fr_backup_restore, ferry_rollback):
 * the archive extracted into a staging folder beside the root and checked
 * entry by entry and against its manifest; only then a safety backup, the
 * swap (each selected entry of the root moved aside, the staged one moved
 * in, folders merged, every move journaled in memory so that undoing it
 * needs none), the version recorded and each database put back through
 * its driver. Any failure undoes what was done, in reverse.
 */
#include "backup_int.h"
#include "../util/fs.h"
#include "../version.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/* Flushes the filesystem holding path (one call, not an fsync per file). */
static int sync_fs(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
	if (fd < 0)
		return -1;
	r = syncfs(fd);
	close(fd);
	return r;
}

/* A move made, with both paths ready, so that undoing it needs no memory. */
typedef struct {
	char *live;     /* root/rel */
	char *aside;    /* stage/rel (OP_IN) or old/rel (OP_OUT) */
} fr_op;

typedef struct {
	char *path;         /* root/rel, ready so that undo needs no memory */
	mode_t mode, old_mode;
	struct timespec mtime, old_mtime;
} fr_dirfix;

typedef struct {
	ferry *f;
	const fr_sel *sel;
	const char *root;
	fr_buf stage;       /* <work>/new/files */
	fr_buf old;         /* <work>/old/files */
	fr_op *ops;
	size_t nops, capops;
	fr_dirfix *dirs;
	size_t ndirs, capdirs;
	struct timespec root_mtime;
	fr_buf err;
} fr_swap;

/* A new journal entry for rel (not counted until its move is made); NULL on OOM. */
static fr_op *swap_op(fr_swap *s, const char *aside_top, const char *rel)
{
	fr_op *o;
	if (fr_grow(&s->ops, &s->capops, s->nops + 1, sizeof *s->ops))
		goto oom;
	o = &s->ops[s->nops];
	o->live = bk_join(s->root, rel);
	o->aside = bk_join(aside_top, rel);
	if (o->live && o->aside)
		return o;
	fr_free(o->live);
	fr_free(o->aside);
oom:
	fr_buf_puts(&s->err, "out of memory");
	return NULL;
}

static void swap_op_drop(fr_op *o)
{
	fr_free(o->live);
	fr_free(o->aside);
}

/* Moves root/rel aside into old/rel. */
static int move_out(fr_swap *s, const char *rel)
{
	fr_op *o = swap_op(s, s->old.ptr, rel);
	char *slash;
	if (!o)
		return -1;
	slash = strrchr(o->aside, '/');
	*slash = '\0';
	if (fr_mkdir_p(o->aside, 0700)) {
		fr_buf_printf(&s->err, "cannot make room in '%s': %s", o->aside, strerror(errno));
		swap_op_drop(o);
		return -1;
	}
	*slash = '/';
	if (rename(o->live, o->aside)) {
		fr_buf_printf(&s->err, "cannot move '%s' aside: %s", o->live, strerror(errno));
		swap_op_drop(o);
		return -1;
	}
	s->nops++;
	return 0;
}

/* Moves stage/rel into root/rel. */
static int move_in(fr_swap *s, const char *rel)
{
	fr_op *o = swap_op(s, s->stage.ptr, rel);
	if (!o)
		return -1;
	if (rename(o->aside, o->live)) {
		fr_buf_printf(&s->err, "cannot move '%s' into place: %s%s", o->live, strerror(errno),
		              errno == EXDEV ? " (a folder of the installation is on another "
		                               "filesystem)" : "");
		swap_op_drop(o);
		return -1;
	}
	s->nops++;
	return 0;
}

/* Merges the staged folder rel into the live one (both exist, rel "" is the root). */
static int merge(fr_swap *s, const char *rel, int taken)
{
	char **lv = NULL, **sv = NULL, *sdir = NULL, *ldir = NULL, link[PATH_MAX];
	size_t nl = 0, ns = 0, i = 0, j = 0;
	int rc = -1, stage_there;
	struct stat sst;
	sdir = *rel ? bk_join(s->stage.ptr, rel) : fr_strdup(s->stage.ptr);
	ldir = *rel ? bk_join(s->root, rel) : fr_strdup(s->root);
	if (!sdir || !ldir)
		goto oom;
	stage_there = lstat(sdir, &sst) == 0 && S_ISDIR(sst.st_mode);
	if (*rel && stage_there) {
		/* The staged folder's mode and time, before moving its entries changes the time. */
		struct stat lst;
		fr_dirfix *d;
		if (s->ndirs == s->capdirs) {
			size_t ncap = s->capdirs ? s->capdirs * 2 : 32;
			fr_dirfix *nv = fr_realloc(s->dirs, ncap * sizeof *nv);
			if (!nv)
				goto oom;
			s->dirs = nv;
			s->capdirs = ncap;
		}
		if (lstat(ldir, &lst))
			goto fail_stat;
		d = &s->dirs[s->ndirs];
		if (!(d->path = fr_strdup(ldir)))
			goto oom;
		d->mode = sst.st_mode & 07777;
		d->mtime = sst.st_mtim;
		d->old_mode = lst.st_mode & 07777;
		d->old_mtime = lst.st_mtim;
		s->ndirs++;
	}
	if (bk_list_dir(ldir, &lv, &nl) || (stage_there && bk_list_dir(sdir, &sv, &ns)))
		goto fail_list;
	/* Both lists are sorted: walk their union. */
	while (i < nl || j < ns) {
		int c = i >= nl ? 1 : j >= ns ? -1 : strcmp(lv[i], sv[j]);
		const char *nm = c <= 0 ? lv[i] : sv[j];
		char *r = *rel ? bk_join(rel, nm) : fr_strdup(nm), *lp = NULL;
		struct stat lst, st2;
		int live = 0, staged = c >= 0, sel = SEL_SKIP, ok = 0;
		if (!r)
			goto oom;
		if (c <= 0 && (lp = bk_join(s->root, r)) && lstat(lp, &lst) == 0) {
			const char *why, *lk = NULL;
			live = 1;
			if (S_ISLNK(lst.st_mode)) {
				ssize_t k = readlink(lp, link, sizeof link - 1);
				if (k >= 0) {
					link[k] = '\0';
					lk = link;
				}
			}
			sel = bk_sel_decide(s->sel, r, &lst, lk, taken, &why);
		}
		if (staged) {
			char *sp = bk_join(s->stage.ptr, r);
			staged = sp && lstat(sp, &st2) == 0;
			fr_free(sp);
		}
		if (live && staged && S_ISDIR(lst.st_mode) && S_ISDIR(st2.st_mode))
			ok = !merge(s, r, sel == SEL_TAKE);
		else if (staged)
			ok = !(live && move_out(s, r)) && !move_in(s, r);
		else if (live && sel == SEL_TAKE)
			ok = !move_out(s, r);
		else if (live && sel == SEL_DESCEND && S_ISDIR(lst.st_mode))
			ok = !merge(s, r, 0);
		else
			ok = 1; /* not ours: left alone */
		fr_free(lp);
		fr_free(r);
		if (!ok)
			goto done;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	rc = 0;
	goto done;
fail_stat:
fail_list:
	fr_buf_printf(&s->err, "cannot read '%s': %s", ldir, strerror(errno));
	goto done;
oom:
	fr_buf_puts(&s->err, "out of memory");
done:
	fr_strv_free(lv, nl);
	fr_strv_free(sv, ns);
	fr_free(sdir);
	fr_free(ldir);
	return rc;
}

static void dirs_apply(fr_swap *s, int undo)
{
	size_t i;
	for (i = s->ndirs; i-- > 0;) {
		fr_dirfix *d = &s->dirs[i];
		struct timespec ts[2];
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = undo ? d->old_mtime : d->mtime;
		chmod(d->path, undo ? d->old_mode : d->mode);
		utimensat(AT_FDCWD, d->path, ts, AT_SYMLINK_NOFOLLOW);
	}
	if (undo && s->root_mtime.tv_sec) {
		struct timespec ts[2];
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = s->root_mtime;
		utimensat(AT_FDCWD, s->root, ts, 0);
	}
}

/* Puts every moved entry back; 0, or -1 naming what could not be. */
static int swap_undo(fr_swap *s, fr_buf *err)
{
	int rc = 0;
	while (s->nops) {
		fr_op *o = &s->ops[--s->nops];
		/* An entry moved in goes back to staging; one moved aside comes back. */
		int in = !strncmp(o->aside, s->stage.ptr, s->stage.len) &&
		         o->aside[s->stage.len] == '/';
		if (in ? rename(o->live, o->aside) : rename(o->aside, o->live)) {
			fr_buf_printf(err, "%scannot put '%s' back: %s", rc ? "; " : "", o->live,
			              strerror(errno));
			rc = -1;
		}
		swap_op_drop(o);
	}
	/* Last: moving entries back changed their folders' times. */
	dirs_apply(s, 1);
	return rc;
}

static void swap_free(fr_swap *s)
{
	size_t i;
	for (i = 0; i < s->nops; i++)
		swap_op_drop(&s->ops[i]);
	for (i = 0; i < s->ndirs; i++)
		fr_free(s->dirs[i].path);
	fr_free(s->ops);
	fr_free(s->dirs);
	fr_buf_release(&s->stage);
	fr_buf_release(&s->old);
	fr_buf_release(&s->err);
}

/*
 * The work folder of a restore: beside the root (<parent>/.<name>.ferry-
 * restore.<pid>), on the root's filesystem so that moves are renames, or
 * in .ferry/ when the parent is not ours to write. Absolute and free of
 * links, as the secure extraction wants.
 */
static int work_dir(ferry *f, fr_buf *out)
{
	char *slash = strrchr(f->root, '/'), real[PATH_MAX];
	fr_buf p = FR_BUF_INIT;
	int rc = -1;
	if (slash && slash != f->root && slash[1]) {
		fr_buf_printf(&p, "%.*s/.%s.ferry-restore.%ld", (int)(slash - f->root), f->root,
		              slash + 1, (long)getpid());
		if (!p.oom)
			fr_rmtree(p.ptr);
		if (!p.oom && mkdir(p.ptr, 0700) == 0)
			goto made;
	}
	fr_buf_reset(&p);
	fr_buf_printf(&p, "%s/restore.%ld", f->ferry_dir, (long)getpid());
	if (!p.oom)
		fr_rmtree(p.ptr);
	if (p.oom || mkdir(p.ptr, 0700)) {
		fr_fail(f, FERRY_EFAILED, "cannot create a staging folder beside '%s': %s",
		        f->root, strerror(errno));
		goto done;
	}
made:
	if (!realpath(p.ptr, real)) {
		fr_fail(f, FERRY_EFAILED, "cannot use staging folder '%s': %s", p.ptr,
		        strerror(errno));
		fr_rmtree(p.ptr);
		goto done;
	}
	fr_buf_puts(out, real);
	if (out->oom) {
		fr_fail(f, FERRY_EFAILED, "out of memory");
		fr_rmtree(p.ptr); /* made a moment ago, for nothing */
		goto done;
	}
	rc = 0;
done:
	fr_buf_release(&p);
	return rc;
}

/* One database the restore replaces, and where its current content is kept meanwhile. */
typedef struct {
	const fr_dbconf *conf;
	char *staged;
	char *saved;        /* its content before, for undo (NULL for the last) */
	int restored;
} fr_dbjob;

static int db_undo(fr_dbjob *jobs, size_t n, fr_buf *err)
{
	int rc = 0;
	while (n--) {
		fr_db *db = NULL;
		if (!jobs[n].restored)
			continue;
		if (!jobs[n].saved || fr_db_open(&db, jobs[n].conf, err) ||
		    db->drv->restore(db, jobs[n].saved, err)) {
			if (!jobs[n].saved)
				fr_buf_printf(err, "database '%s' cannot be put back", jobs[n].conf->name);
			rc = -1;
		}
		fr_db_close(db);
	}
	return rc;
}

/*
 * Extracts the archive at path into r's staging folder (r->f, stage and
 * sel set), checking each entry, then the links among the staged files
 * (stage_files: the staged root) and the whole against the manifest.
 * Returns 0 with *man when read (findings may be there), or a code.
 */
static int extract(fr_reader *r, const char *path, const char *stage_files, json_t **man)
{
	fr_buf name = FR_BUF_INIT;
	size_t i;
	int rc, flags;
	r->disk = bk_ar.archive_write_disk_new();
	flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	        ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	        ARCHIVE_EXTRACT_NO_OVERWRITE;
	/*
	 * Not ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: each name gets the staging
	 * folder's absolute path in front; read_entry() refuses absolute names
	 * in the archive itself first.
	 */
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER; /* as root, files keep their owners, as with tar */
	if (!r->disk || bk_ar.archive_write_disk_set_options(r->disk, flags) != ARCHIVE_OK)
		return fr_fail(r->f, FERRY_EFAILED, "out of memory");
	rc = bk_read_archive(r, path, "restore", man);
	if (!rc && !r->stop && bk_ar.archive_write_close(r->disk) != ARCHIVE_OK) {
		char eb[512];
		bk_finding(r, "write", "staging", "cannot finish the extraction: %s",
		           bk_disk_error(r->disk, eb, sizeof eb));
		r->write_failed = 1;
	}
	bk_ar.archive_write_free(r->disk);
	r->disk = NULL;
	if (rc)
		return rc;
	for (i = 0; !r->stop && i < r->nlinks; i++) {
		if (!bk_resolves_inside(stage_files, r->f->root, r->links[i])) {
			fr_buf_reset(&name);
			fr_buf_printf(&name, "files/%s", r->links[i]);
			bk_finding(r, "unsafe", name.ptr, "a symbolic link that leads out of the "
			           "installation through other links");
			r->unsafe = 1;
		}
	}
	fr_buf_release(&name);
	return 0;
}

/*
 * The databases of the manifest, each one ferry.yaml names and whose
 * driver can restore it, with its staged copy: checked before anything
 * changes. *jobs (freed by the caller, *n of them) is set even on failure.
 */
static int db_jobs(ferry *f, fr_reader *r, json_t *man, const char *id, fr_dbjob **jobs,
                   size_t *n)
{
	json_t *dbs = json_object_get(man, "databases"), *o;
	size_t i;
	*n = 0;
	*jobs = fr_calloc(json_array_size(dbs) + 1, sizeof **jobs);
	if (!*jobs)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	json_array_foreach(dbs, i, o) {
		const char *nm = json_string_value(json_object_get(o, "name"));
		const char *entry = json_string_value(json_object_get(o, "entry"));
		const fr_dbconf *c = nm ? fr_config_db(f->cfg, nm) : NULL;
		const fr_db_driver *drv = c ? fr_db_driver_find(c->driver) : NULL;
		if (!entry)
			continue;
		if (!c || !drv || !drv->restore || !bk_rec_find(r, entry))
			return fr_fail(f, FERRY_EINVALID, "backup '%s' holds database '%s', which %s; "
			               "nothing was changed", id, nm ? nm : "?",
			               !c ? "ferry.yaml does not name" : !bk_rec_find(r, entry) ?
			               "is missing from the archive" : "this build cannot restore");
		(*jobs)[*n].conf = c;
		if (!((*jobs)[*n].staged = bk_join(r->stage, entry)))
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		(*n)++;
	}
	return 0;
}

/*
 * The restore, in its order: stage and check (1), the safety backup (2),
 * then the swap (3), the version (4) and the databases (5). One function
 * because steps 3 to 5 share one journal of what was done, which the
 * undo label walks back in reverse, and one single exit frees it all.
 */
static int restore_impl(ferry *f, const char *id, int safety)
{
	fr_reader r;
	fr_swap s;
	fr_sel sel;
	bk_row row;
	fr_buf work = FR_BUF_INIT, newdir = FR_BUF_INIT, msg = FR_BUF_INIT, undo = FR_BUF_INIT;
	json_t *man = NULL;
	fr_dbjob *jobs = NULL;
	fr_version v, before;
	char *safety_id = NULL, vtext[FR_VERSION_STR_MAX];
	size_t njobs = 0, i;
	int rc, took = 0, have_work = 0, recorded = 0;

	memset(&r, 0, sizeof r);
	memset(&s, 0, sizeof s);
	memset(&sel, 0, sizeof sel);
	memset(&row, 0, sizeof row);
	fr_buf_init(&s.err);
	if ((rc = bk_lock_take(f, &took)))
		return rc;
	if ((rc = bk_find(f, id, &row)) || (rc = bk_load_libs(f, 0)) ||
	    (rc = fr_current(f, &before)))
		goto done;
	if (work_dir(f, &work)) {
		rc = f->errcode ? f->errcode : FERRY_EFAILED;
		goto done;
	}
	have_work = 1;
	fr_buf_printf(&s.stage, "%s/new/files", work.ptr);
	fr_buf_printf(&s.old, "%s/old/files", work.ptr);
	fr_buf_printf(&newdir, "%s/new", work.ptr);
	if (s.stage.oom || s.old.oom || newdir.oom || mkdir(newdir.ptr, 0700) ||
	    mkdir(s.stage.ptr, 0700) || bk_sel_init(&sel, f, NULL, NULL, 0)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot stage the restore in '%s': %s", work.ptr,
		             strerror(errno));
		goto done;
	}

	/* 1. Extract into staging, checking each entry, then the whole against the manifest. */
	r.f = f;
	r.stage = newdir.ptr;
	r.sel = &sel;
	if ((rc = extract(&r, row.path, s.stage.ptr, &man)))
		goto done;
	if (r.nfind) {
		json_t *first = json_array_get(r.findings, 0);
		const char *k = json_string_value(json_object_get(first, "kind"));
		fr_buf_reset(&msg);
		bk_findings_text(&r, &msg);
		/* Free the space first: a full disk is the likely cause, and state.db is next. */
		if (fr_rmtree(work.ptr) == 0)
			have_work = 0;
		if (row.tracked && !r.unsafe && !r.write_failed)
			bk_row_verified(f, row.id, -1);
		rc = fr_fail(f, k && !strcmp(k, "write") ? FERRY_EFAILED : FERRY_EVERIFY,
		             "cannot restore backup '%s'; nothing was changed: %s%s", row.id, msg.ptr,
		             k && !strcmp(k, "write") ? " (is the disk full?)" : "");
		goto done;
	}
	if (strcmp(json_string_value(json_object_get(man, "app")) ?
	           json_string_value(json_object_get(man, "app")) : "", f->cfg->app)) {
		rc = fr_fail(f, FERRY_EINVALID, "backup '%s' is of app '%s', not '%s'; nothing was "
		             "changed", row.id, json_string_value(json_object_get(man, "app")),
		             f->cfg->app);
		goto done;
	}
	if (fr_version_parse(&v, json_string_value(json_object_get(man, "version")), &msg)) {
		rc = fr_fail(f, FERRY_EVERIFY, "backup '%s': its manifest's version is invalid: %s",
		             row.id, msg.ptr);
		goto done;
	}
	fr_version_format(&v, vtext, sizeof vtext);
	/*
	 * The swap selects as the backup did: a path ferry.yaml has taken in
	 * since is not in the archive, and must not be removed for it.
	 */
	bk_sel_free(&sel);
	{
		json_t *inc = json_object_get(man, "include"), *exc = json_object_get(man, "exclude");
		if (bk_sel_init(&sel, f, inc ? inc : json_null(), exc ? exc : json_null(), 0)) {
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
	}

	if ((rc = db_jobs(f, &r, man, row.id, &jobs, &njobs)))
		goto done;
	if (sync_fs(s.stage.ptr)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot sync the staged files: %s", strerror(errno));
		goto done;
	}
	if (f->interrupted) {
		rc = fr_fail(f, FERRY_EINTERRUPTED, "interrupted; nothing was changed");
		goto done;
	}

	/* 2. The current state, backed up first. */
	if (safety) {
		rc = bk_create(f, "safety", NULL, NULL, 0, &safety_id);
		if (rc) {
			fr_buf_reset(&msg);
			fr_buf_puts(&msg, ferry_errmsg(f));
			rc = fr_fail(f, rc, "cannot take the safety backup, so nothing was restored: %s "
			             "(or restore with --no-safety-backup)", msg.ptr);
			goto done;
		}
		fr_log(f, FERRY_LOG_INFO, NULL, "safety backup '%s' taken", safety_id);
	}

	/* 3. Swap the files in; 4. the version; 5. the databases. Any failure undoes it all. */
	s.f = f;
	s.sel = &sel;
	s.root = f->root;
	{
		char *oldtop = bk_join(work.ptr, "old");
		int bad = !oldtop || mkdir(oldtop, 0700) || mkdir(s.old.ptr, 0700);
		fr_free(oldtop);
		if (bad) {
			rc = fr_fail(f, FERRY_EFAILED, "cannot stage the restore in '%s': %s", work.ptr,
			             strerror(errno));
			goto done;
		}
	}
	{
		struct stat rst;
		if (stat(f->root, &rst) == 0)
			s.root_mtime = rst.st_mtim;
	}
	if (merge(&s, "", 0))
		goto undo;
	dirs_apply(&s, 0);
	/* Before, not after: a recording that fails half-way (state.db, not the version file) is undone too. */
	recorded = 1;
	if (fr_record_version(f, &v)) {
		fr_buf_puts(&s.err, ferry_errmsg(f));
		goto undo;
	}
	for (i = 0; i + 1 < njobs; i++) {
		/* All but the last: the last one's restore is one transaction, so it needs none. */
		fr_db *db = NULL;
		fr_buf b = FR_BUF_INIT;
		int bad;
		fr_buf_printf(&b, "%s/old/db-%zu", work.ptr, i);
		jobs[i].saved = fr_buf_detach(&b);
		bad = !jobs[i].saved || fr_db_open(&db, jobs[i].conf, &s.err) ||
		      db->drv->snapshot(db, jobs[i].saved, &s.err);
		fr_db_close(db);
		if (bad)
			goto undo;
	}
	for (i = 0; i < njobs; i++) {
		fr_db *db = NULL;
		int bad = fr_db_open(&db, jobs[i].conf, &s.err) ||
		          db->drv->restore(db, jobs[i].staged, &s.err);
		fr_db_close(db);
		if (bad)
			goto undo;
		jobs[i].restored = 1;
	}
	sync_fs(f->root);
	bk_restore_registry(f, man, row.id);
	bk_row_verified(f, row.id, 1);
	fr_log(f, FERRY_LOG_INFO, NULL, "restored backup '%s': version %s", row.id, vtext);
	fr_ok(f);
	rc = 0;
	goto done;

undo:
	fr_buf_reset(&msg);
	fr_buf_puts(&msg, s.err.len ? s.err.ptr : "unknown error");
	{
		int bad = db_undo(jobs, njobs, &undo);
		if (recorded && fr_record_version(f, &before)) {
			fr_buf_printf(&undo, "%sversion: %s", undo.len ? "; " : "", ferry_errmsg(f));
			bad = 1;
		}
		if (swap_undo(&s, &undo))
			bad = 1;
		if (bad) {
			have_work = 0; /* what could not be put back is still there */
			rc = fr_fail(f, FERRY_EUNRECOVERED, "restore of backup '%s' failed (%s) and "
			             "could not put everything back: %s; the previous files are in "
			             "'%s/old'%s%s%s", row.id, msg.ptr, undo.ptr, work.ptr,
			             safety_id ? ", and in safety backup '" : "",
			             safety_id ? safety_id : "", safety_id ? "'" : "");
			goto done;
		}
	}
	rc = fr_fail(f, FERRY_EFAILED, "cannot restore backup '%s': %s; everything was put back "
	             "as it was", row.id, msg.ptr);
done:
	if (r.disk)
		bk_ar.archive_write_free(r.disk);
	if (have_work && fr_rmtree(work.ptr))
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot remove staging folder '%s': %s", work.ptr,
		       strerror(errno));
	for (i = 0; jobs && i < njobs; i++) {
		fr_free(jobs[i].staged);
		fr_free(jobs[i].saved);
	}
	fr_free(jobs);
	fr_free(safety_id);
	json_decref(man);
	bk_reader_free(&r);
	swap_free(&s);
	bk_sel_free(&sel);
	bk_row_clear(&row);
	fr_buf_release(&work);
	fr_buf_release(&newdir);
	fr_buf_release(&msg);
	fr_buf_release(&undo);
	bk_lock_give(f, took);
	return rc;
}

int fr_backup_restore(ferry *f, const char *id, int safety_backup)
{
	locale_t old = bk_utf8_enter();
	int rc = restore_impl(f, id, safety_backup);
	bk_utf8_leave(old);
	return rc;
}

int ferry_backup_restore(ferry *f, const char *id, const ferry_restore_options *opts)
{
	return fr_backup_restore(f, id, !(opts && opts->version >= 1 && opts->no_safety_backup));
}

int ferry_rollback(ferry *f, const char *id, const ferry_restore_options *opts)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	char *pick = NULL;
	int rc;
	if (id)
		return ferry_backup_restore(f, id, opts);
	if ((rc = bk_gather(f, &rows, &n, 0)))
		return rc;
	/* The newest not known bad; safety backups are a restore's own, named by id to undo one. */
	for (i = 0; i < n && !pick && !rc; i++)
		if (rows[i].verified >= 0 && strcmp(rows[i].type, "safety") &&
		    !(pick = fr_strdup(rows[i].id)))
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
	bk_rows_free(rows, n);
	if (rc)
		return rc;
	if (!pick)
		return fr_fail(f, FERRY_EINVALID, "no backup to roll back to (see 'ferry backup "
		               "list'; a safety backup is restored by its id)");
	rc = ferry_backup_restore(f, pick, opts);
	fr_free(pick);
	return rc;
}
