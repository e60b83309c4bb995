/*
 * verify.c - `verify` (is what was applied still what the files say, do the
 * steps' verify queries hold, are the databases sound, do the registry,
 * the databases' records and the version file agree) and `check` (the
 * pre-flight of an upgrade: lock, parse, plan, databases, permissions,
 * drift). Both report findings as {kind, subject, message}.
 */
#include "backup.h"
#include "ferry_int.h"
#include "actions.h"
#include "engine.h"
#include "plan.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	ferry *f;
	engine e;        /* its pool of database connections, opened on demand */
	fr_buf err;
	fr_run_ctx ctx;
	json_t *findings;
	/* check: empty stand-ins for file databases not made yet, in scratch_dir */
	fr_db **scratch;
	fr_dbconf *scratch_conf;
	char *scratch_dir;
	json_t *locks;   /* check: how each database with a lock of its own is locked */
} checker;

static void finding(checker *c, const char *kind, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void finding(checker *c, const char *kind, const char *subject, const char *fmt, ...)
{
	fr_buf m = FR_BUF_INIT;
	va_list ap;
	json_t *o = json_object();
	va_start(ap, fmt);
	fr_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	while (m.len && m.ptr[m.len - 1] == '\n')
		fr_buf_truncate(&m, m.len - 1);
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "subject", json_string(subject));
	json_object_set_new(o, "message", json_string(m.ptr));
	json_array_append_new(c->findings, o);
	fr_buf_release(&m);
}

static int db_index(checker *c, const char *name)
{
	size_t i;
	if (!name || !*name)
		return c->f->cfg->ndbs ? 0 : -1;
	for (i = 0; i < c->f->cfg->ndbs; i++)
		if (!strcmp(c->f->cfg->dbs[i].name, name))
			return (int)i;
	return -1;
}

/* A finding for each step added later to a version the installation already passed. */
static int ooo_findings(checker *c, ferry *f, fr_reg *regs, size_t nregs, const fr_version *cur)
{
	fr_reg **idx = fr_reg_index(regs, nregs);
	fr_step **ooo = NULL;
	size_t i, n = 0;
	char v[FR_VERSION_STR_MAX];
	if (!idx || fr_out_of_order(f, idx, nregs, cur, &ooo, &n)) {
		fr_free(idx);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	for (i = 0; i < n; i++) {
		fr_version_format(&ooo[i]->tr->to, v, sizeof v);
		finding(c, "out_of_order", ooo[i]->id, "added to version '%s', which this installation "
		        "already passed, and never applied ('ferry up --allow-out-of-order' applies it)",
		        v);
	}
	fr_free(ooo);
	fr_free(idx);
	return 0;
}

/* The connection of database i, or NULL (message in c->err). Does not create SQLite files. */
static fr_db *get_db(checker *c, int i)
{
	const fr_dbconf *conf;
	if (i < 0)
		return NULL;
	conf = &c->f->cfg->dbs[i];
	if (c->e.dbs[i].db)
		return c->e.dbs[i].db;
	if (!fr_db_exists(conf)) {
		fr_buf_printf(&c->err, "database '%s': '%s' does not exist", conf->name,
		              fr_db_where(conf));
		return NULL;
	}
	if (fr_engine_open_db(&c->e, &c->e.dbs[i])) {
		fr_buf_puts(&c->err, c->e.err.ptr);
		return NULL;
	}
	return c->e.dbs[i].db;
}

static fr_db *ctx_db(fr_run_ctx *ctx, const char *name)
{
	checker *c = ctx->engine;
	int i = db_index(c, name);
	if (i < 0) {
		fr_buf_printf(&c->err, "database '%s' is not defined in ferry.yaml", name ? name : "");
		return NULL;
	}
	if (c->scratch && c->scratch[i])
		return c->scratch[i];
	return get_db(c, i);
}

/*
 * An empty database of database i's driver in a private temporary folder
 * (never in the installation), for asking it to parse the steps of a
 * database that is not made yet; 0, or -1 when the driver keeps no files.
 */
static int scratch_db(checker *c, int i)
{
	const fr_dbconf *orig = &c->f->cfg->dbs[i];
	const char *tmp = getenv("TMPDIR");
	fr_buf dir = FR_BUF_INIT, err = FR_BUF_INIT;
	char *path = NULL;
	size_t n = c->f->cfg->ndbs;
	int rc = -1;
	if (!fr_db_can(orig, FR_DB_CAP_FILES))
		return -1;
	if (!c->scratch && (!(c->scratch = fr_calloc(n, sizeof *c->scratch)) ||
	                    !(c->scratch_conf = fr_calloc(n, sizeof *c->scratch_conf))))
		return -1;
	if (!c->scratch_dir) {
		fr_buf_printf(&dir, "%s/ferry-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (dir.oom || !mkdtemp(dir.ptr) || !(c->scratch_dir = fr_strdup(dir.ptr)))
			goto done;
	}
	if (!(path = fr_path_join(c->scratch_dir, orig->name)) ||
	    fr_db_url_parse(&c->scratch_conf[i], orig->url, c->f->root, &err) ||
	    !(c->scratch_conf[i].name = fr_strdup(orig->name)) ||
	    fr_db_point_at_file(&c->scratch_conf[i], path, &err) ||
	    fr_db_open(&c->scratch[i], &c->scratch_conf[i], &err))
		goto done;
	rc = 0;
done:
	fr_free(path);
	fr_buf_release(&dir);
	fr_buf_release(&err);
	return rc;
}

static void scratch_free(checker *c)
{
	size_t i;
	DIR *dh;
	struct dirent *de;
	for (i = 0; c->scratch && i < c->f->cfg->ndbs; i++) {
		if (c->scratch[i])
			c->scratch[i]->drv->close(c->scratch[i]);
		fr_dbconf_clear(&c->scratch_conf[i]);
	}
	fr_free(c->scratch);
	fr_free(c->scratch_conf);
	/* The stand-ins and whatever their driver made beside them (journals). */
	if (c->scratch_dir && (dh = opendir(c->scratch_dir))) {
		while ((de = readdir(dh))) {
			char *p;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if ((p = fr_path_join(c->scratch_dir, de->d_name)))
				unlink(p);
			fr_free(p);
		}
		closedir(dh);
	}
	if (c->scratch_dir)
		rmdir(c->scratch_dir);
	fr_free(c->scratch_dir);
}

static int checker_init(checker *c, ferry *f)
{
	static const ferry_run_options defaults = FERRY_RUN_OPTIONS_INIT;
	int rc;
	memset(c, 0, sizeof *c);
	c->f = f;
	fr_buf_init(&c->err);
	c->findings = json_array();
	if ((rc = fr_engine_init(&c->e, f, &defaults)))
		return rc;
	c->ctx.root = f->root;
	c->ctx.db = ctx_db;
	c->ctx.err = &c->err;
	c->ctx.engine = c;
	c->ctx.handle = f;
	return c->findings ? 0 : fr_fail(f, FERRY_EFAILED, "out of memory");
}

static void checker_free(checker *c)
{
	scratch_free(c);
	if (c->e.f)
		fr_engine_free(&c->e);
	json_decref(c->findings);
	json_decref(c->locks);
	fr_buf_release(&c->err);
}

static int finish(checker *c, char **out)
{
	ferry *f = c->f;
	json_t *doc = json_object();
	size_t n = json_array_size(c->findings);
	char *s;
	json_object_set_new(doc, "ok", json_boolean(n == 0));
	json_object_set_new(doc, "findings", json_incref(c->findings));
	if (c->locks)
		json_object_set_new(doc, "locks", json_incref(c->locks));
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	*out = s ? fr_strdup(s) : NULL;
	free(s);
	if (!*out)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	if (n)
		return fr_fail(f, FERRY_EVERIFY, "%zu finding%s", n, n == 1 ? "" : "s");
	fr_ok(f);
	return 0;
}


int ferry_verify(char **out, ferry *f)
{
	fr_buf lost = FR_BUF_INIT;
	checker c;
	fr_reg *regs = NULL;
	size_t nregs = 0, i, j;
	fr_version cur;
	int rc;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)) || (rc = fr_registry_refresh(f, &lost))) {
		fr_buf_release(&lost);
		return rc;
	}
	if ((rc = checker_init(&c, f)))
		goto done;
	/* Steps a shared database's record lost: another machine undid them, or it was edited. */
	for (const char *l = lost.ptr; l && *l;) {
		const char *tab = strchr(l, '\t'), *nl = strchr(l, '\n');
		if (!tab || !nl)
			break;
		{
			char *id = fr_strndup(l, (size_t)(tab - l)), *db = fr_strndup(tab + 1,
			                                                        (size_t)(nl - tab - 1));
			if (id && db)
				finding(&c, "registry", id, "state.db had it applied, and the record of "
				        "database '%s' no longer holds it (undone on another machine, or the "
				        "record edited); it counts as not applied now", db);
			fr_free(id);
			fr_free(db);
		}
		l = nl + 1;
	}
	if (fr_state_registry(f->state, &regs, &nregs)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	/* Checksums and each step's verify. */
	for (i = 0; i < nregs; i++) {
		fr_step *s;
		if (!fr_reg_applied(regs[i].status))
			continue;
		switch (fr_drift_of(f, &regs[i], &s, 1)) {
		case FR_DRIFT_NO_FILE:
			continue; /* a C step of the application: no file to check */
		case FR_DRIFT_GONE:
			finding(&c, "missing", regs[i].id, "applied, but its file is gone");
			continue;
		case FR_DRIFT_UNREADABLE:
			finding(&c, "unreadable", regs[i].id, "cannot read '%s': %s", s->rel,
			        strerror(errno));
			continue;
		case FR_DRIFT_CHANGED:
			finding(&c, "changed", regs[i].id, "file changed since it was applied (%s, now %s)",
			        regs[i].checksum, s->checksum);
			continue;
		case FR_DRIFT_NONE:
			break;
		}
		if (!strcmp(regs[i].status, "skipped") || !s->kind->verify)
			continue;
		fr_buf_reset(&c.err);
		if (fr_step_load(s, &c.err) || s->kind->verify(&c.ctx, s))
			finding(&c, "verify", regs[i].id, "%s", c.err.ptr);
	}
	fr_state_cache_save(f->state);
	if ((rc = ooo_findings(&c, f, regs, nregs, &cur)))
		goto done;
	/* Each database: integrity, and its record against the registry. */
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *conf = &f->cfg->dbs[i];
		fr_record *recs = NULL;
		size_t nrecs = 0;
		fr_buf found = FR_BUF_INIT;
		fr_db *db;
		int any_reg = 0;
		for (j = 0; j < nregs; j++)
			any_reg |= fr_reg_applied(regs[j].status) && !strcmp(regs[j].database, conf->name);
		fr_buf_reset(&c.err);
		if (!fr_db_exists(conf) && !any_reg)
			continue; /* not created yet, and nothing applied to it */
		db = get_db(&c, (int)i);
		if (!db) {
			finding(&c, "database", conf->name, "%s", c.err.ptr);
			continue;
		}
		if (db->drv->integrity(db, &found, &c.err))
			finding(&c, "database", conf->name, "%s", c.err.ptr);
		else if (found.len)
			finding(&c, "integrity", conf->name, "%s", found.ptr);
		fr_buf_release(&found);
		if (db->drv->record_read(db, &recs, &nrecs, &c.err)) {
			finding(&c, "database", conf->name, "%s", c.err.ptr);
			continue;
		}
		for (j = 0; j < nrecs; j++) {
			size_t k;
			int ok = 0;
			for (k = 0; k < nregs && !ok; k++)
				ok = !strcmp(regs[k].id, recs[j].id) && fr_reg_applied(regs[k].status);
			if (!ok)
				finding(&c, "registry", recs[j].id,
				        "recorded in database '%s' but not in .ferry/state.db "
				        "(state.db is behind; the next 'ferry up' or 'ferry down' reads the "
				        "database's record again and brings it up to date)",
				        conf->name);
		}
		for (j = 0; j < nregs; j++) {
			size_t k;
			int ok = 0;
			if (!fr_reg_applied(regs[j].status) || strcmp(regs[j].database, conf->name))
				continue;
			for (k = 0; k < nrecs && !ok; k++)
				ok = !strcmp(regs[j].id, recs[k].id);
			if (!ok)
				finding(&c, "registry", regs[j].id,
				        "applied according to .ferry/state.db, but database '%s' has no "
				        "record of it", conf->name);
		}
		fr_records_free(recs, nrecs);
	}
	/* The version file. */
	if (f->cfg->version_file) {
		fr_buf text = FR_BUF_INIT;
		char want[FR_VERSION_STR_MAX];
		fr_version_format(&cur, want, sizeof want);
		if (fr_read_file(f->cfg->version_file, &text)) {
			finding(&c, "version_file", f->cfg->version_file, "cannot read: %s",
			        strerror(errno));
		} else {
			json_t *doc = json_loadb(text.ptr, text.len, 0, NULL);
			json_t *v = json_object_get(doc, "version");
			if (!json_is_string(v) || strcmp(json_string_value(v), want))
				finding(&c, "version_file", f->cfg->version_file,
				        "says '%s', but the recorded version is '%s'",
				        json_is_string(v) ? json_string_value(v) : "(no version key)", want);
			json_decref(doc);
		}
		fr_buf_release(&text);
	}
	rc = finish(&c, out);
done:
	fr_buf_release(&lost);
	fr_regs_free(regs, nregs);
	checker_free(&c);
	return rc;
}

/* check: which lock a run would take on database i (PostgreSQL: session or lease). */
static void lock_kind(checker *c, int i)
{
	fr_db *db = c->e.dbs[i].db;
	fr_buf detail = FR_BUF_INIT;
	const char *kind = NULL;
	json_t *o;
	if (!db || !fr_db_can(db->conf, FR_DB_CAP_SESSION_LOCK) || !db->drv->lock_kind)
		return;
	fr_buf_reset(&c->err);
	if (db->drv->lock_kind(db, &kind, &detail, &c->err) || !kind) {
		finding(c, "lock", db->conf->name, "%s", c->err.ptr);
	} else if ((c->locks || (c->locks = json_array())) && (o = json_object())) {
		json_object_set_new(o, "database", json_string(db->conf->name));
		json_object_set_new(o, "lock", json_string(kind));
		json_object_set_new(o, "detail", json_string(detail.ptr));
		json_array_append_new(c->locks, o);
	}
	fr_buf_release(&detail);
}

static void check_writable(checker *c, const char *path, const char *what)
{
	if (access(path, W_OK) != 0 && errno != ENOENT)
		finding(c, "permission", path, "%s is not writable: %s", what, strerror(errno));
}

/*
 * A pending step's text asked of its database (the kind's lint): SQL that
 * does not parse is a finding. Nothing runs: SQLite prepares each
 * statement and steps none, PostgreSQL compiles each inside a PL/pgSQL
 * block that returns first, in a transaction rolled back (the drivers'
 * parse). A file database not made yet is never made by check: an empty
 * one in a temporary folder stands in for it (scratch_db).
 */
static void check_parses(checker *c, fr_step *s)
{
	int i;
	if (!s->kind->lint)
		return;
	i = db_index(c, s->kind->database(s));
	if (i < 0)
		return;
	if (!fr_db_exists(&c->f->cfg->dbs[i]) && !(c->scratch && c->scratch[i]) &&
	    scratch_db(c, i))
		return;
	fr_buf_reset(&c->err);
	if (s->kind->lint(&c->ctx, s) == 1)
		finding(c, "syntax", s->id, "%s", c->err.ptr);
}

int ferry_check(char **out, ferry *f, const char *target)
{
	fr_version cur;
	checker c;
	ferry_plan *p = NULL;
	fr_reg *regs = NULL;
	fr_lock_holder h;
	fr_reg **idx = NULL;
	size_t nregs = 0, i, j;
	int rc, have_regs;
	*out = NULL;
	if ((rc = checker_init(&c, f)))
		goto done;
	if (fr_lock_probe(f->ferry_dir, &h) > 0)
		finding(&c, "lock", ".ferry/lock", "held by pid %ld on '%s' since %s", h.pid, h.host,
		        h.since);
	check_writable(&c, f->root, "the installation folder");
	check_writable(&c, f->ferry_dir, "the .ferry folder");
	if (f->cfg->version_file)
		check_writable(&c, f->cfg->version_file, "the version file");
	if ((rc = fr_load_catalog(f)))
		goto done; /* bad migrations: invalid input, the message lists them */
	rc = fr_plan_new(&p, f, target, &cur); /* the path alone: its steps are checked below */
	if (rc == FERRY_EINVALID)
		goto done;
	if (rc) {
		finding(&c, "plan", target ? target : "latest", "%s", ferry_errmsg(f));
		rc = 0;
	}
	/* Room for the pre-run backup, from the installation's size. */
	if (p && p->ntrs && p->backup_required) {
		int64_t need = fr_backup_estimate(f), have = fr_free_bytes(f->cfg->backup_dir);
		if (need >= 0 && have >= 0 && have < need) {
			fr_buf nb = FR_BUF_INIT, hb = FR_BUF_INIT;
			fr_buf_bytes(&nb, need);
			fr_buf_bytes(&hb, have);
			finding(&c, "disk", f->cfg->backup_dir,
			        "the pre-run backup needs up to %s, %s are free", nb.ptr, hb.ptr);
			fr_buf_release(&nb);
			fr_buf_release(&hb);
		}
	}
	have_regs = fr_state_registry(f->state, &regs, &nregs) == 0;
	if (have_regs && !(idx = fr_reg_index(regs, nregs)) && nregs) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	for (i = 0; p && i < p->ntrs; i++) {
		for (j = 0; j < p->trs[i]->nsteps; j++) {
			fr_step *s = p->trs[i]->steps[j];
			const fr_reg *r;
			const char *db;
			fr_buf_reset(&c.err);
			if (fr_step_load(s, &c.err)) {
				finding(&c, "parse", s->id, "%s", c.err.ptr);
				continue;
			}
			db = s->kind->database(s);
			if (db && *db && db_index(&c, db) < 0) {
				finding(&c, "database", s->id, "names database '%s', which ferry.yaml does "
				                              "not define", db);
				continue;
			}
			r = idx ? fr_reg_lookup(idx, nregs, s->id) : NULL;
			if (r && fr_reg_applied(r->status))
				continue;
			check_parses(&c, s);
		}
	}
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *conf = &f->cfg->dbs[i];
		fr_buf_reset(&c.err);
		/* What the run's pre-flight would refuse; a database not made yet is not opened. */
		if (fr_db_exists(conf) && !get_db(&c, (int)i))
			finding(&c, "database", conf->name, "%s", c.err.ptr);
		else if (fr_db_writable(conf, &c.err))
			finding(&c, "permission", fr_db_where(conf), "%s", c.err.ptr);
		else
			lock_kind(&c, (int)i);
	}
	if (have_regs) {
		for (i = 0; i < nregs; i++) {
			fr_drift d;
			if (!fr_reg_applied(regs[i].status))
				continue;
			d = fr_drift_of(f, &regs[i], NULL, 0);
			if (d == FR_DRIFT_GONE)
				finding(&c, "drift", regs[i].id, "applied, but its file is gone");
			else if (d == FR_DRIFT_UNREADABLE || d == FR_DRIFT_CHANGED)
				finding(&c, "drift", regs[i].id, "file changed since it was applied");
		}
		fr_state_cache_save(f->state);
		if ((rc = ooo_findings(&c, f, regs, nregs, &cur)))
			goto done;
		/* What up refuses first: a database file gone with steps recorded on it. */
		{
			json_t *gone = json_array();
			fr_missing_dbs(f, regs, nregs, NULL, gone);
			for (i = 0; i < json_array_size(gone); i++) {
				json_t *g = json_array_get(gone, i);
				json_int_t n = json_integer_value(json_object_get(g, "applied_steps"));
				finding(&c, "database", json_string_value(json_object_get(g, "database")),
				        "'%s' does not exist, but %lld step%s recorded as applied to it: "
				        "'ferry up' refuses until it is restored",
				        json_string_value(json_object_get(g, "path")), (long long)n,
				        n == 1 ? " is" : "s are");
			}
			json_decref(gone);
		}
	}
	rc = finish(&c, out);
done:
	ferry_plan_free(p);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	checker_free(&c);
	return rc;
}
