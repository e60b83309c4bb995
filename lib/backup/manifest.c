/*
 * manifest.c - MANIFEST.json, the last entry of an archive: app,
 * version, type, created_at, include and exclude, the databases, the
 * steps applied, and every entry's path, type, size, mode and SHA-256.
 * Written as the entries go in (head, then one line an entry, then the
 * tail), checked against what was read as they come out; after a restore
 * its list of applied steps is given back to the registry.
 */
#include "backup_int.h"
#include "../util/fs.h"
#include "../version.h"

#include <errno.h>
#include <stdlib.h>

int bk_man_entry(fr_writer *w, const char *path, const char *type, const struct stat *st,
                     int64_t size, const char *sha, const char *target)
{
	json_t *o = json_object();
	char mode[8];
	int r;
	snprintf(mode, sizeof mode, "%04o", (unsigned)(st->st_mode & 07777));
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "size", json_integer(size));
	json_object_set_new(o, "mode", json_string(mode));
	json_object_set_new(o, "mtime", json_integer((json_int_t)st->st_mtim.tv_sec));
	if (sha)
		json_object_set_new(o, "sha256", json_string(sha));
	if (target)
		json_object_set_new(o, "target", json_string(target));
	fputs(w->nentries++ ? ",\n    " : "\n    ", w->man);
	r = json_dumpf(o, w->man, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (r || ferror(w->man)) {
		fr_buf_printf(&w->err, "cannot write the manifest: %s", strerror(errno));
		return -1;
	}
	return 0;
}

json_t *bk_db_list(ferry *f, int *missing_driver, fr_buf *err)
{
	json_t *arr = json_array();
	size_t i;
	*missing_driver = 0;
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *c = &f->cfg->dbs[i];
		const fr_db_driver *drv = fr_db_driver_find(c->driver);
		json_t *o = json_object();
		char *rel = NULL, **files = NULL;
		const char *file;
		size_t nfiles = 0;
		if (fr_db_files(c, &files, &nfiles, err))
			*missing_driver = 1;
		file = nfiles ? files[0] : NULL; /* the database's own file, first */
		if (file)
			bk_rel_of(f->root, file, &rel);
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "driver", json_string(c->driver ? c->driver : ""));
		json_object_set_new(o, "path", file ? json_string(rel ? rel : file) : json_null());
		fr_free(rel);
		if (!drv || !drv->snapshot) {
			fr_buf_printf(err, "database '%s': this build cannot copy '%s' databases",
			              c->name, c->driver ? c->driver : "?");
			*missing_driver = 1;
		} else if (strchr(c->name, '/') || !strcmp(c->name, ".") || !strcmp(c->name, "..")) {
			fr_buf_printf(err, "database name '%s' cannot name a file in a backup; rename "
			              "it in ferry.yaml", c->name);
			*missing_driver = 1;
		}
		if (!fr_db_exists(c)) {
			/* Not created yet (its driver says): nothing to copy, and opening would make it. */
			json_object_set_new(o, "entry", json_null());
		} else {
			fr_buf e = FR_BUF_INIT;
			fr_buf_printf(&e, "databases/%s%s", c->name,
			              drv && drv->snapshot_ext ? drv->snapshot_ext : "");
			json_object_set_new(o, "entry", json_string(e.ptr));
			fr_buf_release(&e);
		}
		fr_strv_free(files, nfiles);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/*
 * The steps applied when the backup is taken (state.db's registry). A
 * restore gives the registry back this list: steps on no database (ops,
 * scripts, native steps) have no record in a database to be read again.
 */
static json_t *applied_steps(ferry *f)
{
	json_t *a = json_array();
	fr_reg *regs = NULL;
	size_t n = 0, i;
	if (fr_state_registry_ex(f->state, 0, &regs, &n) == 0) {
		for (i = 0; i < n; i++)
			if (!strcmp(regs[i].status, "applied") || !strcmp(regs[i].status, "skipped"))
				json_array_append_new(a, json_string(regs[i].id));
	}
	fr_regs_free(regs, n);
	return a;
}

void bk_restore_registry(ferry *f, json_t *man, const char *id)
{
	json_t *list = json_object_get(man, "applied_steps"), *v;
	fr_reg *regs = NULL;
	fr_buf msg = FR_BUF_INIT;
	size_t n = 0, i, k;
	if (!json_is_array(list) || fr_state_registry(f->state, &regs, &n))
		return; /* a backup from before the list was kept: the databases' records decide */
	fr_buf_printf(&msg, "restored from backup '%s'", id);
	fr_state_begin(f->state);
	for (i = 0; i < n; i++) {
		int applied = !strcmp(regs[i].status, "applied") || !strcmp(regs[i].status, "skipped");
		int listed = 0;
		json_array_foreach(list, k, v)
			if (json_is_string(v) && !strcmp(json_string_value(v), regs[i].id))
				listed = 1;
		if (applied == listed)
			continue;
		{
			fr_reg r = regs[i];
			r.status = listed ? "applied" : "rolled_back";
			r.message = msg.ptr;
			fr_state_reg_put(f->state, &r);
		}
	}
	fr_state_commit(f->state);
	fr_regs_free(regs, n);
	fr_buf_release(&msg);
}

int bk_man_head(fr_writer *w, ferry *f, const char *id, const char *type, const char *name,
                    const char *version, const char *compression, json_t *dbs)
{
	json_t *o = json_object();
	char ts[32], *text;
	size_t n;
	int rc = -1;
	fr_time_rfc3339(w->now_ms, ts, sizeof ts);
	json_object_set_new(o, "format", json_string("ferry-backup"));
	json_object_set_new(o, "format_version", json_integer(1));
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "app", json_string(f->cfg->app));
	json_object_set_new(o, "version", json_string(version));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "name", name ? json_string(name) : json_null());
	json_object_set_new(o, "created_at", json_string(ts));
	json_object_set_new(o, "created_at_ms", json_integer(w->now_ms));
	json_object_set_new(o, "ferry", json_string(FERRY_VERSION_STRING));
	json_object_set_new(o, "compression", json_string(compression));
	json_object_set_new(o, "include", f->cfg->n_backup_include ?
	                    strv_json(f->cfg->backup_include, f->cfg->n_backup_include) :
	                    json_null());
	json_object_set_new(o, "exclude", strv_json(f->cfg->backup_exclude,
	                                             f->cfg->n_backup_exclude));
	json_object_set_new(o, "databases", json_incref(dbs));
	json_object_set_new(o, "applied_steps", applied_steps(f));
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text) {
		fr_buf_puts(&w->err, "out of memory");
		return -1;
	}
	/* "{ ... \n}" less its closing brace, then the entries' opening. */
	n = strlen(text);
	while (n && (text[n - 1] == '}' || text[n - 1] == '\n'))
		n--;
	if (fwrite(text, 1, n, w->man) == n && fputs(",\n  \"entries\": [", w->man) >= 0)
		rc = 0;
	else
		fr_buf_printf(&w->err, "cannot write the manifest: %s", strerror(errno));
	free(text);
	return rc;
}

/* Snapshots each database into tmp and adds it under databases/. */

/* 1 when path (relative or absolute) has a ".." or "." component, or an empty one. */
static int path_dotted(const char *p)
{
	if (*p == '/')
		p++;
	for (;;) {
		size_t n = bk_seglen(p);
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/*
 * The manifest's databases, held to the rules a restore relies on: a
 * name that is one word, an entry that is null or a file directly under
 * databases/, a path that is null or names a file without "." or ".."
 * components (ferry writes it relative to the root, or absolute outside
 * it). Each break is an unsafe finding.
 */
static void man_databases_allowed(fr_reader *r, json_t *man)
{
	json_t *dbs = json_object_get(man, "databases"), *o;
	size_t i;
	if (dbs && !json_is_array(dbs)) {
		bk_finding(r, "unsafe", "MANIFEST.json", "'databases' is not a list");
		r->unsafe = 1;
		return;
	}
	json_array_foreach(dbs, i, o) {
		json_t *jn = json_object_get(o, "name"), *je = json_object_get(o, "entry");
		json_t *jp = json_object_get(o, "path");
		const char *nm = json_string_value(jn), *e = json_string_value(je);
		const char *p = json_string_value(jp);
		const char *why = NULL;
		if (!nm || !*nm || strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, ".."))
			why = "a name that is not one word";
		else if ((je && !json_is_null(je) && !e) ||
		         (e && (strncmp(e, "databases/", 10) || !e[10] || strchr(e + 10, '/') ||
		                path_dotted(e + 10))))
			why = "an entry that is not a file under databases/";
		else if ((jp && !json_is_null(jp) && !p) || (p && (!*p || path_dotted(p))))
			why = "a path with '.' or '..' in it";
		if (why) {
			bk_finding(r, "unsafe", "MANIFEST.json", "database %zu (%s): %s", i,
			           nm ? nm : "?", why);
			r->unsafe = 1;
		}
	}
}

static const char *type_word(char t)
{
	return t == 'f' ? "file" : t == 'd' ? "dir" : t == 'l' ? "symlink" : "hardlink";
}

json_t *bk_check_manifest(fr_reader *r)
{
	json_t *man, *entries, *o;
	json_error_t je;
	size_t i;
	if (!r->have_manifest) {
		bk_finding(r, "manifest", "MANIFEST.json", "missing: not a ferry backup, or cut short");
		return NULL;
	}
	man = json_loadb(r->manifest.ptr, r->manifest.len, 0, &je);
	entries = json_object_get(man, "entries");
	if (!json_is_object(man) || !json_is_array(entries) ||
	    !json_is_string(json_object_get(man, "version"))) {
		bk_finding(r, "manifest", "MANIFEST.json", "not a valid manifest: %s",
		        man ? "keys missing" : je.text);
		json_decref(man);
		return NULL;
	}
	/* A second entry of a name was found as it was read (read.c): the records are unique. */
	if (r->nrecs)
		qsort(r->recs, r->nrecs, sizeof *r->recs, bk_rec_cmp);
	man_databases_allowed(r, man);
	json_array_foreach(entries, i, o) {
		const char *path = json_string_value(json_object_get(o, "path"));
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		const char *mode = json_string_value(json_object_get(o, "mode"));
		const char *target = json_string_value(json_object_get(o, "target"));
		json_int_t size = json_integer_value(json_object_get(o, "size"));
		fr_rec *x;
		if (!path || !type) {
			bk_finding(r, "manifest", "MANIFEST.json", "entry %zu has no path or type", i);
			continue;
		}
		x = bk_rec_find(r, path);
		if (!x) {
			bk_finding(r, "missing", path, "listed in the manifest, not in the archive");
			continue;
		}
		x->seen = 1;
		if (strcmp(type, type_word(x->type))) {
			bk_finding(r, "type", path, "a %s in the archive, a %s in the manifest",
			        type_word(x->type), type);
			continue;
		}
		if (x->type == 'f' && (size != x->size || !sha || strcmp(sha, x->sha))) {
			if (size != x->size)
				bk_finding(r, "size", path, "%lld bytes in the archive, %lld in the manifest",
				        (long long)x->size, (long long)size);
			else
				bk_finding(r, "checksum", path, "SHA-256 '%s' does not match the manifest's "
				        "'%s'", x->sha, sha ? sha : "");
			continue;
		}
		if ((x->type == 'l' || x->type == 'h') && (!target || strcmp(target, x->target)))
			bk_finding(r, "target", path, "links to '%s', the manifest says '%s'", x->target,
			        target ? target : "");
		if (mode && x->type != 'l' && strtoul(mode, NULL, 8) != x->mode)
			bk_finding(r, "mode", path, "mode %04o in the archive, %s in the manifest",
			        x->mode, mode);
	}
	for (i = 0; i < r->nrecs; i++)
		if (!r->recs[i].seen && (i == 0 || strcmp(r->recs[i].path, r->recs[i - 1].path)))
			bk_finding(r, "unexpected", r->recs[i].path, "in the archive, not in the manifest");
	return man;
}
