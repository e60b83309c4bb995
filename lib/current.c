/*
 * current.c - the installation's current version (SPEC section 2): kept in
 * state.db and, when the default database keeps one (PostgreSQL: shared by
 * every machine), in that database too, which wins; the version file kept
 * beside them. The version database opens on a thread of its own while the
 * catalog is read (fr_vdb_start), since connecting costs a no-op start most
 * of its time.
 */
#include "ferry_int.h"
#include "db/db.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/thread.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

static int version_from_file(ferry *f, fr_version *out)
{
	fr_buf text = FR_BUF_INIT;
	json_t *doc = NULL, *v;
	int rc = -1;
	if (!f->cfg->version_file || fr_read_file(f->cfg->version_file, &text))
		goto done;
	doc = json_loadb(text.ptr, text.len, 0, NULL);
	v = json_object_get(doc, "version");
	if (json_is_string(v) && fr_version_parse(out, json_string_value(v), NULL) == 0)
		rc = 0;
done:
	json_decref(doc);
	fr_buf_release(&text);
	return rc;
}

/* ---- the version database ---- */

/*
 * Opening PostgreSQL costs a no-op start most of its time: loading libpq
 * and its two dozen libraries, then the server's fork of a backend. Both
 * overlap with reading the migrations folder when a thread does them: the
 * job opens the database and reads the version once, and the first
 * fr_current() takes both. The job touches nothing but its own fields and
 * the read-only configuration; it blocks every signal, so that SIGINT and
 * SIGTERM still reach the thread that runs the engine.
 */
struct fr_vdb_job {
	pthread_t thread;
	const fr_dbconf *conf;
	fr_db *db;
	int open_rc, version_rc;
	fr_buf err;       /* why the open or the read failed */
	fr_buf version;   /* as read, "" when none is recorded */
};

static void *vdb_job_run(void *arg)
{
	struct fr_vdb_job *j = arg;
	j->open_rc = fr_db_open(&j->db, j->conf, &j->err);
	if (!j->open_rc)
		j->version_rc = j->db->drv->version_get(j->db, &j->version, &j->err);
	return NULL;
}

/* 1 when the default database keeps the installation's version. */
static int vdb_driver(ferry *f)
{
	return f->cfg->ndbs && fr_db_can(&f->cfg->dbs[0], FR_DB_CAP_SHARED_VERSION);
}

void fr_vdb_start(ferry *f)
{
	struct fr_vdb_job *j;
	/* Allocation-failure tests count allocations: they keep to one thread. */
	if (f->vdb || f->vdb_tried || f->vdb_job || !vdb_driver(f) || fr_alloc_faults_armed())
		return;
	j = fr_calloc(1, sizeof *j);
	if (!j)
		return; /* fr_version_db() opens it in this thread instead */
	j->conf = &f->cfg->dbs[0];
	fr_buf_init(&j->err);
	fr_buf_init(&j->version);
	if (fr_thread_start(&j->thread, vdb_job_run, j) == 0)
		f->vdb_job = j;
	else
		fr_free(j);
}

static void vdb_job_free(struct fr_vdb_job *j)
{
	fr_db_close(j->db);
	fr_buf_release(&j->err);
	fr_buf_release(&j->version);
	fr_free(j);
}

/* Waits for the job; from then on it is as if fr_version_db() had opened the database. */
static void vdb_join(ferry *f)
{
	if (f->vdb_job)
		pthread_join(f->vdb_job->thread, NULL);
}

/* The default database when its driver keeps the version there; NULL when it keeps none. */
fr_db *fr_version_db(ferry *f, int *rc)
{
	struct fr_vdb_job *j = f->vdb_job;
	*rc = 0;
	if (j) {
		vdb_join(f);
		f->vdb_job = NULL;
		f->vdb_tried = 1;
		if (j->open_rc) {
			*rc = fr_fail_msg(f, FERRY_EINVALID, j->err.ptr);
			f->vdb_tried = 0;
			vdb_job_free(j);
			return NULL;
		}
		f->vdb = j->db;
		j->db = NULL;
		/* The version it read serves the first fr_current() (see there). */
		f->vdb_read = j;
		return f->vdb;
	}
	if (f->vdb || f->vdb_tried)
		return f->vdb;
	f->vdb_tried = 1;
	if (!vdb_driver(f))
		return NULL;
	fr_buf_reset(&f->err);
	if (fr_db_open(&f->vdb, &f->cfg->dbs[0], &f->err)) {
		/* A URL that does not connect (bad host, wrong password) is bad input: exit 2. */
		*rc = fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
		f->vdb_tried = 0;
	}
	return f->vdb;
}

int fr_catalog_and_current(ferry *f, fr_version *cur)
{
	fr_buf saved;
	int rc, code;
	fr_vdb_start(f);
	if (!(rc = fr_load_catalog(f)))
		return fr_current(f, cur);
	/*
	 * A bad catalog still says where the installation is (a refused run's
	 * "from"), and the job's reading is taken now rather than left to go
	 * stale; the catalog's error is the one reported.
	 */
	saved = f->err;
	code = f->errcode;
	fr_buf_init(&f->err);
	fr_current(f, cur);
	fr_buf_release(&f->err);
	f->err = saved;
	f->errcode = code;
	return rc;
}

int fr_current(ferry *f, fr_version *out)
{
	fr_buf v = FR_BUF_INIT;
	fr_db *vdb;
	int rc = 0;
	memset(out, 0, sizeof *out);
	vdb = fr_version_db(f, &rc);
	if (rc)
		return rc;
	if (vdb) {
		/* The shared database wins over this machine's state.db. */
		fr_buf err = FR_BUF_INIT;
		struct fr_vdb_job *pre = f->vdb_read;
		int vrc;
		if (pre) {
			/* Read by the job a moment ago: this call's first reading (its buffers move). */
			f->vdb_read = NULL;
			vrc = pre->version_rc;
			v = pre->version;
			err = pre->err;
			fr_buf_init(&pre->version);
			fr_buf_init(&pre->err);
			vdb_job_free(pre);
		} else {
			vrc = vdb->drv->version_get(vdb, &v, &err);
		}
		if (vrc) {
			rc = fr_fail(f, FERRY_EFAILED, "cannot read the version from database '%s': %s",
			             f->cfg->dbs[0].name, err.ptr);
			fr_buf_release(&err);
			fr_buf_release(&v);
			return rc;
		}
		fr_buf_release(&err);
		if (v.len) {
			if (fr_version_parse(out, v.ptr, &f->err))
				rc = fr_fail_msg(f, FERRY_EFAILED, f->err.ptr);
			fr_buf_release(&v);
			return rc;
		}
	}
	if (fr_state_get_version(f->state, &v)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	} else if (v.len) {
		if (fr_version_parse(out, v.ptr, &f->err))
			rc = fr_fail_msg(f, FERRY_EFAILED, f->err.ptr);
	} else if (version_from_file(f, out) == 0) {
		/* An installation from before ferry: its version file says where it is. */
	}
	fr_buf_release(&v);
	return rc;
}

/*
 * One order of writes: the record (state.db, then the shared database)
 * first, the version file last. The file only follows the record: a crash
 * between them leaves the file behind, and recovery writes it again from
 * the record (fr_recover_journal).
 */
int fr_record_version(ferry *f, const fr_version *v)
{
	char text[FR_VERSION_STR_MAX];
	fr_version_format(v, text, sizeof text);
	if (fr_state_set_version(f->state, text))
		return fr_fail(f, FERRY_EFAILED, "cannot record version '%s': %s", text,
		               fr_state_errmsg(f->state));
	{
		int rc;
		fr_db *vdb = fr_version_db(f, &rc);
		fr_buf err = FR_BUF_INIT;
		if (rc)
			return rc;
		if (vdb && vdb->drv->version_set(vdb, text, &err)) {
			rc = fr_fail(f, FERRY_EFAILED, "cannot record version '%s' in database '%s': %s",
			             text, f->cfg->dbs[0].name, err.ptr);
			fr_buf_release(&err);
			return rc;
		}
		fr_buf_release(&err);
	}
	if (f->cfg->version_file) {
		fr_buf old = FR_BUF_INIT;
		json_t *doc = NULL;
		char *out;
		int r;
		if (fr_read_file(f->cfg->version_file, &old) == 0)
			doc = json_loadb(old.ptr, old.len, 0, NULL);
		fr_buf_release(&old);
		if (!json_is_object(doc)) {
			json_decref(doc);
			doc = json_object();
		}
		json_object_set_new(doc, "version", json_string(text));
		out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(doc);
		if (!out)
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		{
			size_t n = strlen(out);
			char *dir = fr_strdup(f->cfg->version_file);
			char *slash = dir ? strrchr(dir, '/') : NULL;
			if (slash) {
				*slash = '\0';
				fr_mkdir_p(dir, 0755);
			}
			fr_free(dir);
			out[n] = '\n';
			r = fr_write_atomic(f->cfg->version_file, out, n + 1, 0644);
		}
		free(out);
		if (r)
			return fr_fail(f, FERRY_EFAILED, "cannot write version file '%s': %s",
			               f->cfg->version_file, strerror(errno));
	}
	return 0;
}

int ferry_current_version(char **out, ferry *f)
{
	fr_version v;
	char text[FR_VERSION_STR_MAX];
	int rc;
	*out = NULL;
	if ((rc = fr_current(f, &v)))
		return rc;
	fr_version_format(&v, text, sizeof text);
	*out = fr_strdup(text);
	if (!*out)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_ok(f);
	return 0;
}

int ferry_set_version(ferry *f, const char *version, int force)
{
	fr_version v;
	fr_reg *regs = NULL;
	size_t n = 0, i;
	int rc;
	if (fr_version_parse(&v, version, &f->err))
		return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	if (!force) {
		if (fr_state_registry(f->state, &regs, &n))
			return fr_fail(f, FERRY_EFAILED, "cannot read state: %s",
			               fr_state_errmsg(f->state));
		for (i = 0; i < n; i++) {
			fr_version to;
			if (!fr_reg_applied(regs[i].status))
				continue;
			if (fr_version_parse(&to, regs[i].to, NULL) == 0 && fr_version_cmp(&to, &v) > 0) {
				rc = fr_fail(f, FERRY_EINVALID,
				             "step '%s' of version '%s' is applied, above '%s'; "
				             "use 'ferry down %s' to undo it, or --force to record anyway",
				             regs[i].id, regs[i].to, version, version);
				fr_regs_free(regs, n);
				return rc;
			}
		}
		fr_regs_free(regs, n);
	}
	if ((rc = fr_record_version(f, &v)))
		return rc;
	/* The baseline: steps at or below it that were never applied stay bypassed. */
	{
		char text[FR_VERSION_STR_MAX];
		fr_version_format(&v, text, sizeof text);
		if (fr_state_set_meta(f->state, "baseline", text))
			return fr_fail(f, FERRY_EFAILED, "cannot record the baseline: %s",
			               fr_state_errmsg(f->state));
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "version set to %s", version);
	fr_ok(f);
	return 0;
}

void fr_vdb_close(ferry *f)
{
	vdb_join(f);
	if (f->vdb_job)
		vdb_job_free(f->vdb_job);
	if (f->vdb_read)
		vdb_job_free(f->vdb_read);
	fr_db_close(f->vdb);
	f->vdb_job = f->vdb_read = NULL;
	f->vdb = NULL;
}
