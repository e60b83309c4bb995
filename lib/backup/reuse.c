/*
 * reuse.c - when a pre-run backup taken by an earlier attempt may stand
 * for a new run's (issue 11 point 10: a crash-looping `up
 * --keep-going-on-start` must not pile up one backup per attempt).
 *
 * A pre-run backup is "unused" and may be reused only while the
 * installation is still exactly what it holds, which ferry checks through
 * what it can know without reading the archive:
 *   - it is the pre-run backup noted last (state.db meta "prerun_backup",
 *     written right after it was taken), its row is in the table, of type
 *     pre-run, not found damaged, and its archive is still in the folder;
 *   - the installed version and the registry digest (the applied steps
 *     with their checksums, as the plan's basis_registry) are the ones
 *     noted with it;
 *   - the newest run is the one that used it, and it ended rolled back
 *     (a success, a failure part-way, an interruption or any later run
 *     means it is not);
 *   - the fingerprint of the installation is the one noted with it: every
 *     selected file's path, type, mode, size and mtime (the walk a backup
 *     takes, with stat only; folders by path and mode), and each
 *     database's files likewise. A
 *     database without files (a server: PostgreSQL) cannot be fingerprinted
 *     this cheaply, so with one a backup is never reused. The fingerprint
 *     is taken just before the backup, and again when the run that used
 *     it was rolled back to where it began (fr_backup_refresh_prerun): the
 *     installation is then what the backup holds, give or take ferry's own
 *     record table, which a first attempt may have made in a database.
 * Anything that fails to be read means "not reusable": a new backup is
 * taken, as before.
 */
#include "backup_int.h"
#include "../util/fs.h"

#include <errno.h>
#include <stdlib.h>

#define REUSE_META "prerun_backup"

typedef struct {
	fr_sha256 *h;
} fp_ctx;

/*
 * One entry: its name, mode, size and mtime. A folder's size and mtime
 * are left out: they move when a file is made and removed inside (SQLite's
 * rollback journal), and what it holds is listed entry by entry anyway.
 */
static void fp_stat(fr_sha256 *h, const char *name, const struct stat *st, const char *link)
{
	char line[160];
	int dir = S_ISDIR(st->st_mode);
	int n = snprintf(line, sizeof line, "%o %lld %lld.%09ld", (unsigned)st->st_mode,
	                 dir ? 0LL : (long long)st->st_size,
	                 dir ? 0LL : (long long)st->st_mtim.tv_sec, dir ? 0L : (long)st->st_mtim.tv_nsec);
	fr_sha256_update(h, name, strlen(name) + 1);
	fr_sha256_update(h, line, (size_t)n + 1);
	if (link)
		fr_sha256_update(h, link, strlen(link) + 1);
}

static int fp_walked(fr_walk *wk, int event, const char *rel, const char *full,
                     const struct stat *st, const char *link, int sel)
{
	fp_ctx *c = wk->ctx;
	(void)full;
	(void)sel;
	if (event == WALK_LEAVE)
		return 0;
	fp_stat(c->h, rel, st, link);
	return 0;
}

/* Each database's files; 1 when one has none to stat (a server), -1 on error. */
static int fp_databases(ferry *f, fr_sha256 *h)
{
	size_t i, k;
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *c = &f->cfg->dbs[i];
		fr_buf err = FR_BUF_INIT;
		char **files = NULL;
		size_t n = 0;
		int rc = fr_db_files(c, &files, &n, &err);
		fr_buf_release(&err);
		if (rc) {
			fr_strv_free(files, n);
			return -1;
		}
		if (!n) {
			fr_strv_free(files, n);
			return 1;
		}
		fr_sha256_update(h, c->name, strlen(c->name) + 1);
		for (k = 0; k < n; k++) {
			struct stat st;
			size_t len = strlen(files[k]);
			/* SQLite's -shm changes whenever a reader opens the database. */
			if (len > 4 && !strcmp(files[k] + len - 4, "-shm"))
				continue;
			if (stat(files[k], &st) == 0)
				fp_stat(h, files[k], &st, NULL);
			else if (errno != ENOENT)
				rc = -1;
			else
				fr_sha256_update(h, files[k], len + 1);
		}
		fr_strv_free(files, n);
		if (rc)
			return -1;
	}
	return 0;
}

int fr_backup_fingerprint(ferry *f, char out[65])
{
	fr_walk wk;
	fr_sel sel;
	fp_ctx c;
	int rc;
	out[0] = '\0';
	if (!(c.h = fr_sha256_new()))
		return -1;
	memset(&wk, 0, sizeof wk);
	if (bk_sel_init(&sel, f, NULL, NULL, 0)) {
		fr_sha256_free(c.h);
		return -1;
	}
	wk.f = f;
	wk.sel = &sel;
	wk.fn = fp_walked;
	wk.ctx = &c;
	wk.quiet = 1;
	fr_buf_init(&wk.err);
	rc = bk_walk(&wk) ? -1 : fp_databases(f, c.h);
	if (rc == 0 && fr_sha256_hex_reset(c.h, out))
		rc = -1;
	if (rc)
		out[0] = '\0';
	fr_buf_release(&wk.err);
	bk_sel_free(&sel);
	fr_sha256_free(c.h);
	return rc;
}

void fr_backup_note_prerun(ferry *f, const char *id, const char *version, const char *registry,
                           const char *fingerprint)
{
	json_t *o;
	char *text;
	if (!id || !version || !fingerprint || !*fingerprint || !registry || !*registry) {
		fr_state_set_meta(f->state, REUSE_META, "");
		return;
	}
	o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "version", version, "registry", registry,
	              "fingerprint", fingerprint);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	fr_state_set_meta(f->state, REUSE_META, text ? text : "");
	free(text); /* jansson's allocation */
	json_decref(o);
}

/* The noted backup's JSON object (a new reference), or NULL. */
static json_t *noted(ferry *f)
{
	fr_buf b = FR_BUF_INIT;
	json_t *o = NULL;
	if (fr_state_get_meta(f->state, REUSE_META, &b) == 0 && b.len)
		o = json_loads(b.ptr, 0, NULL);
	fr_buf_release(&b);
	return json_is_object(o) ? o : (json_decref(o), NULL);
}

void fr_backup_refresh_prerun(ferry *f, const char *id)
{
	json_t *o = noted(f);
	const char *nid = json_string_value(json_object_get(o, "id"));
	char fp[65];
	if (nid && !strcmp(nid, id)) {
		if (fr_backup_fingerprint(f, fp))
			fp[0] = '\0';
		fr_backup_note_prerun(f, id, json_string_value(json_object_get(o, "version")),
		                      json_string_value(json_object_get(o, "registry")), fp);
	}
	json_decref(o);
}

/* 1 when the newest run used backup id and ended leaving the installation as it was. */
static int newest_run_used(ferry *f, const char *id)
{
	fr_run_row *r = NULL;
	size_t n = 0;
	int ok;
	if (fr_state_runs(f->state, 1, &r, &n))
		return 0;
	ok = n == 1 && r[0].backup_id && !strcmp(r[0].backup_id, id) && r[0].status &&
	     !strcmp(r[0].status, "rolled_back");
	fr_run_rows_free(r, n);
	return ok;
}

/* 1 when the table knows id as a pre-run backup of version, not damaged, its archive there. */
static int row_usable(ferry *f, const char *id, const char *version)
{
	fr_backup_row *rows = NULL;
	size_t n = 0, i;
	int ok = 0;
	struct stat st;
	if (fr_state_backups(f->state, &rows, &n))
		return 0;
	for (i = 0; i < n; i++) {
		const fr_backup_row *r = &rows[i];
		if (strcmp(r->id, id))
			continue;
		ok = r->type && !strcmp(r->type, "pre-run") && r->version &&
		     !strcmp(r->version, version) && r->verified >= 0 && r->path &&
		     stat(r->path, &st) == 0 && S_ISREG(st.st_mode);
		break;
	}
	fr_backup_rows_free(rows, n);
	return ok;
}

char *fr_backup_reusable(ferry *f, const char *version, const char *registry)
{
	json_t *o = noted(f);
	const char *id, *v, *reg, *fp;
	char now[65];
	char *out = NULL;
	if (!o)
		goto done;
	id = json_string_value(json_object_get(o, "id"));
	v = json_string_value(json_object_get(o, "version"));
	reg = json_string_value(json_object_get(o, "registry"));
	fp = json_string_value(json_object_get(o, "fingerprint"));
	if (!id || !v || !reg || !fp || strcmp(v, version) || strcmp(reg, registry))
		goto done;
	if (!newest_run_used(f, id) || !row_usable(f, id, version))
		goto done;
	/* The walk last: it is the only part that costs more than a few reads of state.db. */
	if (fr_backup_fingerprint(f, now) || strcmp(now, fp))
		goto done;
	out = fr_strdup(id);
done:
	json_decref(o);
	return out;
}
