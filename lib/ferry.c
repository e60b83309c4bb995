/*
 * ferry.c - the public handle: open/close, errors and logging, init,
 * versions, and the read-only documents (status, list, history, plan).
 * Runs live in run.c, verification in verify.c.
 */
#include "ferry_int.h"
#include "db/db.h"
#include "plan.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors and logging ---- */

int fr_fail(ferry *f, int code, const char *fmt, ...)
{
	fr_buf msg = FR_BUF_INIT;
	va_list ap;
	/* Formatted apart first: the arguments may quote the old message (ferry_errmsg(f)). */
	va_start(ap, fmt);
	fr_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	fr_buf_release(&f->err);
	f->err = msg;
	f->errcode = code;
	return code;
}

int fr_fail_msg(ferry *f, int code, const char *msg)
{
	if (msg < f->err.ptr || msg > f->err.ptr + f->err.len) {
		fr_buf_reset(&f->err);
		fr_buf_puts(&f->err, msg);
	} else if (msg != f->err.ptr) {
		/* A tail of the message itself. */
		memmove(f->err.ptr, msg, strlen(msg) + 1);
		f->err.len = strlen(f->err.ptr);
	}
	/* Messages gathered line by line end in a newline; the caller adds its own. */
	while (f->err.len && f->err.ptr[f->err.len - 1] == '\n')
		fr_buf_truncate(&f->err, f->err.len - 1);
	f->errcode = code;
	return code;
}

void fr_ok(ferry *f)
{
	fr_buf_reset(&f->err);
	f->errcode = 0;
}

const char *ferry_errmsg(const ferry *f)
{
	if (!f)
		return "out of memory";
	return f->err.oom ? "out of memory" : f->err.ptr;
}

int ferry_errcode(const ferry *f)
{
	return f ? f->errcode : FERRY_EFAILED;
}

void ferry_free(void *p)
{
	fr_free(p);
}

void fr_log(ferry *f, ferry_log_level level, const char *step_id, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	fr_buf msg = FR_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	fr_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (f->log)
		f->log(f->log_ctx, level, step_id, msg.ptr);
	/* Everything goes to the log file; the callback decides what the terminal shows. */
	{
		if (f->log_fd < 0) {
			char *dir = fr_path_join(f->ferry_dir, "log");
			char *path = dir ? fr_path_join(dir, "ferry.log") : NULL;
			if (path && fr_mkdir_p(dir, 0755) == 0)
				f->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
			fr_free(dir);
			fr_free(path);
		}
		if (f->log_fd >= 0) {
			json_t *o = json_object();
			char ts[32], *line;
			fr_time_rfc3339(fr_now_ms(), ts, sizeof ts);
			json_object_set_new(o, "time", json_string(ts));
			json_object_set_new(o, "level", json_string(names[level]));
			if (step_id)
				json_object_set_new(o, "step", json_string(step_id));
			json_object_set_new(o, "message", json_string(msg.ptr));
			line = json_dumps(o, JSON_COMPACT);
			if (line) {
				fr_buf_puts(&f->log_buf, line);
				fr_buf_putc(&f->log_buf, '\n');
				free(line);
			}
			json_decref(o);
			/*
			 * Lines are written in batches (a run of 1,000 steps makes 3,000
			 * events); warnings and errors at once, and the rest at the end
			 * of each run and when the handle closes.
			 */
			if (level <= FERRY_LOG_WARN || f->log_buf.len > 65536)
				fr_log_flush(f);
		}
	}
	fr_buf_release(&msg);
}

void fr_log_flush(ferry *f)
{
	if (f->log_fd >= 0 && f->log_buf.len &&
	    write(f->log_fd, f->log_buf.ptr, f->log_buf.len) < 0) {
		/* the log is best effort; the run's record is in state.db */
	}
	fr_buf_reset(&f->log_buf);
}

/* ---- open / close ---- */

int ferry_find_root(char **out, const char *start)
{
	char path[PATH_MAX];
	size_t len;
	*out = NULL;
	if (!realpath(start ? start : ".", path))
		return FERRY_EINVALID;
	for (;;) {
		char probe[PATH_MAX + 16];
		snprintf(probe, sizeof probe, "%s/ferry.yaml", strcmp(path, "/") ? path : "");
		if (access(probe, F_OK) == 0) {
			*out = fr_strdup(path);
			return *out ? 0 : FERRY_EFAILED;
		}
		if (strcmp(path, "/") == 0)
			return FERRY_EINVALID;
		len = strlen(path);
		while (len > 1 && path[len - 1] != '/')
			len--;
		path[len > 1 ? len - 1 : 1] = '\0';
	}
}

static void vdb_join(ferry *f);
static void vdb_job_free(struct fr_vdb_job *j);

int ferry_open(ferry **out, const char *root, const ferry_open_options *opts)
{
	ferry *f;
	char path[PATH_MAX];
	int rc;
	*out = NULL;
	f = fr_calloc(1, sizeof *f);
	if (!f)
		return FERRY_EFAILED;
	fr_buf_init(&f->err);
	fr_buf_init(&f->log_buf);
	f->lock.fd = -1;
	f->log_fd = -1;
	if (opts && opts->version >= 1) {
		f->log = opts->log;
		f->log_ctx = opts->log_ctx;
	}
	if (opts && opts->version >= 2) {
		f->progress = opts->progress;
		f->progress_ctx = opts->progress_ctx;
	}
	*out = f;
	if (!root || !realpath(root, path))
		return fr_fail(f, FERRY_EINVALID, "cannot open installation '%s': %s",
		               root ? root : "(null)", strerror(errno));
	f->root = fr_strdup(path);
	f->ferry_dir = fr_path_join(path, ".ferry");
	if (!f->root || !f->ferry_dir)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	rc = fr_config_load(&f->cfg, f->root, &f->err);
	if (rc)
		return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	if (fr_state_open(&f->state, f->ferry_dir, 0, &f->err))
		return fr_fail_msg(f, FERRY_EFAILED, f->err.ptr);
	fr_ok(f);
	return 0;
}

void ferry_close(ferry *f)
{
	if (!f)
		return;
	fr_lock_release(&f->lock);
	vdb_join(f);
	if (f->vdb_job)
		vdb_job_free(f->vdb_job);
	if (f->vdb_read)
		vdb_job_free(f->vdb_read);
	fr_db_close(f->vdb);
	fr_free(f->natives);
	fr_free(f->native_error);
	fr_catalog_free(f->cat);
	fr_state_close(f->state);
	fr_config_free(f->cfg);
	fr_log_flush(f);
	fr_buf_release(&f->log_buf);
	if (f->log_fd >= 0)
		close(f->log_fd);
	fr_free(f->last_run);
	fr_free(f->root);
	fr_free(f->ferry_dir);
	fr_buf_release(&f->err);
	fr_free(f);
}

int fr_load_catalog(ferry *f)
{
	fr_buf err = FR_BUF_INIT;
	int rc;
	if (f->cat)
		return 0;
	rc = fr_catalog_load(&f->cat, f->cfg->migrations, f->root, &err);
	/* The application's C steps join the catalog like files. */
	for (size_t i = 0; rc == 0 && i < f->nnatives; i++) {
		const ferry_native_step *n = &f->natives[i];
		const char *slash = strchr(n->id, '/');
		char ck[FR_CHECKSUM_LEN + 1];
		fr_buf text = FR_BUF_INIT;
		fr_buf_printf(&text, "native:%s\n%s", n->id, n->description ? n->description : "");
		if (fr_checksum(text.ptr, text.len, ck))
			ck[0] = '\0';
		fr_buf_release(&text);
		rc = fr_catalog_add_native(f->cat, n->from, n->to, slash + 1,
		                           fr_step_kind_with(FR_KIND_NO_FILE), (void *)n, ck, &err);
	}
	if (rc) {
		fr_catalog_free(f->cat);
		f->cat = NULL;
		rc = fr_fail_msg(f, rc, err.ptr);
	}
	fr_buf_release(&err);
	return rc;
}

/* ---- versions ---- */

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
		return; /* version_db() opens it in this thread instead */
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

/* Waits for the job; from then on it is as if version_db() had opened the database. */
static void vdb_join(ferry *f)
{
	if (f->vdb_job)
		pthread_join(f->vdb_job->thread, NULL);
}

/* The default database when its driver keeps the version there; NULL when it keeps none. */
static fr_db *version_db(ferry *f, int *rc)
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
	vdb = version_db(f, &rc);
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

int fr_record_version(ferry *f, const fr_version *v)
{
	char text[FR_VERSION_STR_MAX];
	fr_version_format(v, text, sizeof text);
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
	if (fr_state_set_version(f->state, text))
		return fr_fail(f, FERRY_EFAILED, "cannot record version '%s': %s", text,
		               fr_state_errmsg(f->state));
	{
		int rc;
		fr_db *vdb = version_db(f, &rc);
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
			if (strcmp(regs[i].status, "applied") && strcmp(regs[i].status, "skipped"))
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
	fr_log(f, FERRY_LOG_INFO, NULL, "version set to %s", version);
	fr_ok(f);
	return 0;
}

/* ---- init ---- */

int ferry_init(const char *root, const ferry_init_options *opts, char **errmsg_out)
{
	fr_buf err = FR_BUF_INIT, yaml = FR_BUF_INIT;
	char path[PATH_MAX];
	char *cfg = NULL, *mig = NULL, *fdir = NULL;
	const char *app = NULL, *db = "sqlite:data/app.db", *ver = "0.0.0";
	fr_version v;
	ferry *f = NULL;
	int rc = FERRY_EFAILED;
	if (errmsg_out)
		*errmsg_out = NULL;
	if (opts && opts->version >= 1) {
		app = opts->app;
		if (opts->version_)
			ver = opts->version_;
		if (opts->database)
			db = opts->database;
	}
	if (fr_version_parse(&v, ver, &err)) {
		rc = FERRY_EINVALID;
		goto done;
	}
	if (fr_mkdir_p(root, 0755) || !realpath(root, path)) {
		fr_buf_printf(&err, "cannot create '%s': %s", root, strerror(errno));
		goto done;
	}
	cfg = fr_path_join(path, "ferry.yaml");
	mig = fr_path_join(path, "migrations");
	fdir = fr_path_join(path, ".ferry");
	if (!cfg || !mig || !fdir)
		goto done;
	if (!fr_exists(cfg)) {
		const char *base = strrchr(path, '/');
		base = base && base[1] ? base + 1 : "app";
		fr_buf_printf(&yaml,
		              "# ferry.yaml - how ferry upgrades this installation (see ferry(1))\n"
		              "app: %s\nmigrations: migrations\ndatabases:\n  main: %s\n",
		              app ? app : base, db);
		if (yaml.oom || fr_write_atomic(cfg, yaml.ptr, yaml.len, 0644)) {
			fr_buf_printf(&err, "cannot write '%s': %s", cfg, strerror(errno));
			goto done;
		}
	}
	if (fr_mkdir_p(mig, 0755) || fr_mkdir_p(fdir, 0755)) {
		fr_buf_printf(&err, "cannot create folders in '%s': %s", path, strerror(errno));
		goto done;
	}
	rc = ferry_open(&f, path, NULL);
	if (rc) {
		fr_buf_puts(&err, ferry_errmsg(f));
		goto done;
	}
	{
		/*
		 * Again on an installation: keep its version unless one is asked
		 * for, and then refuse one below applied steps, as version --set.
		 */
		fr_buf have = FR_BUF_INIT;
		int recorded = fr_state_get_version(f->state, &have) == 0 && have.len;
		fr_buf_release(&have);
		if (!recorded)
			rc = fr_record_version(f, &v);
		else if (opts && opts->version >= 1 && opts->version_)
			rc = ferry_set_version(f, ver, 0);
	}
	if (rc)
		fr_buf_puts(&err, ferry_errmsg(f));
done:
	if (rc && errmsg_out)
		*errmsg_out = fr_strdup(err.len ? err.ptr : "out of memory");
	ferry_close(f);
	fr_free(cfg);
	fr_free(mig);
	fr_free(fdir);
	fr_buf_release(&err);
	fr_buf_release(&yaml);
	return rc;
}

/* ---- documents ---- */

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t ms)
{
	char ts[32];
	if (!ms)
		return json_null();
	fr_time_rfc3339(ms, ts, sizeof ts);
	return json_string(ts);
}

static int publish(ferry *f, json_t *doc, char **out)
{
	char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!s)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	*out = fr_strdup(s);
	free(s);
	if (!*out)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	fr_ok(f);
	return 0;
}

json_t *fr_run_json(const fr_run_row *r);
json_t *fr_run_json(const fr_run_row *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "kind", json_string(r->kind));
	json_object_set_new(o, "started_at", jtime(r->started_at_ms));
	json_object_set_new(o, "finished_at", jtime(r->finished_at_ms));
	json_object_set_new(o, "from", json_string(r->from));
	json_object_set_new(o, "to", json_string(r->to));
	json_object_set_new(o, "status", json_string(r->status));
	json_object_set_new(o, "backup_id", jstr_or_null(r->backup_id));
	json_object_set_new(o, "message", jstr_or_null(r->message));
	if (r->finished_at_ms)
		json_object_set_new(o, "duration_ms",
		                    json_integer(r->finished_at_ms - r->started_at_ms));
	return o;
}

static int applied_status(const char *status)
{
	return !strcmp(status, "applied") || !strcmp(status, "skipped");
}


int ferry_status(char **out, ferry *f)
{
	json_t *doc = NULL, *pend, *locked = json_null();
	fr_version cur;
	struct ferry_plan *plan = NULL;
	fr_buf err = FR_BUF_INIT;
	fr_reg *regs = NULL, **idx = NULL;
	fr_run_row *runs = NULL, running;
	fr_lock_holder h;
	size_t nregs = 0, nruns = 0, i, j, npending = 0;
	char text[FR_VERSION_STR_MAX];
	int rc, found = 0, held;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)))
		return rc;
	/* At the latest version nothing can be pending: no need to read the registry. */
	if ((fr_version_cmp(&cur, fr_catalog_latest(f->cat)) < 0 &&
	     (fr_state_registry_ex(f->state, 0, &regs, &nregs) ||
	      !(idx = fr_reg_index(regs, nregs)))) ||
	    fr_state_runs(f->state, 1, &runs, &nruns) ||
	    fr_state_running(f->state, &running, &found)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
		goto done;
	}
	doc = json_object();
	json_object_set_new(doc, "app", json_string(f->cfg->app));
	fr_version_format(&cur, text, sizeof text);
	json_object_set_new(doc, "current", json_string(text));
	fr_version_format(fr_catalog_latest(f->cat), text, sizeof text);
	json_object_set_new(doc, "latest", json_string(text));
	pend = json_array();
	if (fr_version_cmp(&cur, fr_catalog_latest(f->cat)) < 0 &&
	    fr_plan_compute(&plan, f->cat, &cur, fr_catalog_latest(f->cat), &err) == 0) {
		for (i = 0; i < plan->ntrs; i++) {
			fr_transition *t = plan->trs[i];
			json_t *o = json_object();
			fr_vpattern_format(&t->from, text, sizeof text);
			json_object_set_new(o, "from", json_string(text));
			fr_version_format(&t->to, text, sizeof text);
			json_object_set_new(o, "to", json_string(text));
			json_array_append_new(pend, o);
			for (j = 0; j < t->nsteps; j++) {
				const fr_reg *r = fr_reg_lookup(idx, nregs, t->steps[j]->id);
				if (!r || !applied_status(r->status))
					npending++;
			}
		}
	}
	json_object_set_new(doc, "pending_transitions", pend);
	json_object_set_new(doc, "pending_steps", json_integer((json_int_t)npending));
	if (err.len)
		json_object_set_new(doc, "plan_error", json_string(err.ptr));
	json_object_set_new(doc, "last_run", nruns ? fr_run_json(&runs[0]) : json_null());
	held = fr_lock_probe(f->ferry_dir, &h);
	if (held > 0) {
		locked = json_object();
		json_object_set_new(locked, "pid", h.pid ? json_integer(h.pid) : json_null());
		json_object_set_new(locked, "host", h.host[0] ? json_string(h.host) : json_null());
		json_object_set_new(locked, "since", h.since[0] ? json_string(h.since) : json_null());
	}
	/* A runner on another machine holds the database's own lock (PostgreSQL). */
	if (held <= 0) {
		int vrc;
		fr_db *vdb = version_db(f, &vrc);
		fr_buf who = FR_BUF_INIT, werr = FR_BUF_INIT;
		if (vdb && fr_db_can(vdb->conf, FR_DB_CAP_SESSION_LOCK) &&
		    vdb->drv->lock_holder(vdb, &who, &werr) == 0 && who.len) {
			json_decref(locked);
			locked = json_object();
			json_object_set_new(locked, "pid", json_null());
			json_object_set_new(locked, "host", json_null());
			json_object_set_new(locked, "since", json_null());
			json_object_set_new(locked, "database", json_string(f->cfg->dbs[0].name));
			json_object_set_new(locked, "holder", json_string(who.ptr));
		}
		fr_buf_release(&who);
		fr_buf_release(&werr);
	}
	json_object_set_new(doc, "locked_by", locked);
	json_object_set_new(doc, "interrupted", json_boolean(found && held <= 0));
	if (found && held <= 0)
		json_object_set_new(doc, "interrupted_run", fr_run_json(&running));
	rc = publish(f, doc, out);
	doc = NULL;
done:
	if (found)
		fr_run_row_clear(&running);
	json_decref(doc);
	fr_plan_free(plan);
	fr_buf_release(&err);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	fr_run_rows_free(runs, nruns);
	return rc;
}

/* Steps in the order they run: by version (semver precedence), then by id. */
static int step_order(const void *a, const void *b)
{
	const fr_step *x = *(fr_step *const *)a, *y = *(fr_step *const *)b;
	int c = fr_version_cmp(&x->tr->to, &y->tr->to);
	return c ? c : strcmp(x->id, y->id);
}

int ferry_list(char **out, ferry *f)
{
	fr_step **order = NULL;
	fr_version cur;
	json_t *doc, *arr;
	fr_reg *regs = NULL, **idx = NULL;
	size_t nregs = 0, i;
	char text[FR_VERSION_STR_MAX];
	int rc;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)))
		return rc;
	if (fr_state_registry(f->state, &regs, &nregs))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	if (!(idx = fr_reg_index(regs, nregs))) {
		fr_regs_free(regs, nregs);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	order = fr_malloc((f->cat->nsteps ? f->cat->nsteps : 1) * sizeof *order);
	if (!order) {
		fr_free(idx);
		fr_regs_free(regs, nregs);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	if (f->cat->nsteps)
		memcpy(order, f->cat->steps, f->cat->nsteps * sizeof *order);
	qsort(order, f->cat->nsteps, sizeof *order, step_order);
	doc = json_object();
	arr = json_array();
	for (i = 0; i < f->cat->nsteps; i++) {
		fr_step *s = order[i];
		const fr_reg *r = fr_reg_lookup(idx, nregs, s->id);
		json_t *o = json_object();
		const char *state = "pending";
		int ck = fr_state_checksum(f->state, s);
		/* Not applied, and at or below the current version: the path went another way. */
		if (fr_version_cmp(&s->tr->to, &cur) <= 0)
			state = "bypassed";
		if (r && (applied_status(r->status) || strcmp(state, "bypassed"))) {
			state = r->status;
			if (applied_status(r->status) && (ck || strcmp(s->checksum, r->checksum)))
				state = "changed";
		}
		json_object_set_new(o, "id", json_string(s->id));
		fr_vpattern_format(&s->tr->from, text, sizeof text);
		json_object_set_new(o, "from", json_string(text));
		fr_version_format(&s->tr->to, text, sizeof text);
		json_object_set_new(o, "to", json_string(text));
		json_object_set_new(o, "kind", json_string(s->kind->name));
		json_object_set_new(o, "state", json_string(state));
		json_object_set_new(o, "checksum", ck ? json_null() : json_string(s->checksum));
		json_object_set_new(o, "applied_at", r && applied_status(r->status) ?
		                                         jtime(r->applied_at_ms) : json_null());
		json_object_set_new(o, "duration_ms", r ? json_integer(r->duration_ms) : json_null());
		if (r && strcmp(state, r->status) == 0 && r->message)
			json_object_set_new(o, "message", json_string(r->message));
		json_array_append_new(arr, o);
	}
	/* Applied steps whose files are gone. */
	for (i = 0; i < nregs; i++) {
		json_t *o;
		if (fr_catalog_step(f->cat, regs[i].id) || !applied_status(regs[i].status))
			continue;
		o = json_object();
		json_object_set_new(o, "id", json_string(regs[i].id));
		json_object_set_new(o, "from", json_string(regs[i].from));
		json_object_set_new(o, "to", json_string(regs[i].to));
		json_object_set_new(o, "kind", json_string(regs[i].kind));
		/* A native step registered by the application, not by this program: applied. */
		json_object_set_new(o, "state", json_string(fr_kind_has(fr_step_kind_find(regs[i].kind),
		                                                        FR_KIND_NO_FILE) ?
		                                            "applied" : "missing"));
		json_object_set_new(o, "checksum", json_string(regs[i].checksum));
		json_object_set_new(o, "applied_at", jtime(regs[i].applied_at_ms));
		json_object_set_new(o, "duration_ms", json_integer(regs[i].duration_ms));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "steps", arr);
	fr_state_cache_save(f->state);
	fr_free(order);
	fr_free(idx);
	fr_regs_free(regs, nregs);
	return publish(f, doc, out);
}

int ferry_history(char **out, ferry *f)
{
	fr_run_row *runs = NULL;
	size_t n = 0, i;
	json_t *doc, *arr;
	*out = NULL;
	if (fr_state_runs(f->state, 0, &runs, &n))
		return fr_fail(f, FERRY_EFAILED, "cannot read state: %s", fr_state_errmsg(f->state));
	doc = json_object();
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, fr_run_json(&runs[i]));
	json_object_set_new(doc, "runs", arr);
	fr_run_rows_free(runs, n);
	return publish(f, doc, out);
}

int ferry_versions(char **out, ferry *f)
{
	json_t *doc, *arr;
	fr_version cur;
	char text[FR_VERSION_STR_MAX];
	size_t i;
	int rc;
	*out = NULL;
	if ((rc = fr_catalog_and_current(f, &cur)))
		return rc;
	doc = json_object();
	arr = json_array();
	for (i = 0; i < f->cat->nversions; i++) {
		const fr_vinfo *vi = &f->cat->versions[i];
		json_t *o = json_object();
		fr_version_format(&vi->v, text, sizeof text);
		json_object_set_new(o, "version", json_string(text));
		json_object_set_new(o, "notes", jstr_or_null(vi->notes));
		json_object_set_new(o, "required_stop", json_boolean(vi->required_stop));
		json_object_set_new(o, "current", json_boolean(fr_version_cmp(&vi->v, &cur) == 0));
		json_array_append_new(arr, o);
	}
	json_object_set_new(doc, "versions", arr);
	return publish(f, doc, out);
}

/* ---- unlock, new ---- */

int ferry_unlock(ferry *f, int force)
{
	fr_lock_holder h;
	int held = fr_lock_probe(f->ferry_dir, &h);
	if (held < 0)
		return fr_fail(f, FERRY_EFAILED, "cannot read the lock in '%s': %s", f->ferry_dir,
		               strerror(errno));
	/* flock locks die with their holder, so a held lock has a live holder. */
	if (held && !force) {
		return fr_fail(f, FERRY_ELOCKED,
		               "the lock is held by a live process (pid %ld on '%s' since %s); "
		               "wait for it, or use --force if you are sure it is stuck",
		               h.pid, h.host[0] ? h.host : "?", h.since[0] ? h.since : "?");
	}
	if (fr_lock_remove(f->ferry_dir))
		return fr_fail(f, FERRY_EFAILED, "cannot remove the lock: %s", strerror(errno));
	fr_log(f, FERRY_LOG_WARN, NULL, "lock cleared%s", held ? " by force" : "");
	fr_ok(f);
	return 0;
}

int ferry_new_step(char **out, ferry *f, const char *to_version, const char *name,
                   const char *kind, const char *from_version)
{
	fr_version to, node;
	fr_vpattern from;
	fr_transition *tr = NULL;
	fr_buf dir = FR_BUF_INIT, file = FR_BUF_INIT, text = FR_BUF_INIT;
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	const fr_step_kind *sk = fr_step_kind_for_new(kind);
	const char *ext = NULL;
	size_t i;
	int rc = FERRY_EFAILED, have_from = 0;
	*out = NULL;
	if (!sk) {
		fr_step_kinds_new_list(&text);
		rc = fr_fail(f, FERRY_EINVALID, "unknown step kind '%s' (this build makes: %s)", kind,
		             text.ptr);
		fr_buf_release(&text);
		return rc;
	}
	if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789_-") != strlen(name))
		return fr_fail(f, FERRY_EINVALID, "invalid step name '%s' (use letters, digits, _ and -)",
		               name);
	if (fr_version_parse(&to, to_version, &f->err))
		return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	if (from_version) {
		if (fr_vpattern_parse(&from, from_version, &f->err))
			return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
		have_from = 1;
	}
	if ((rc = fr_load_catalog(f)))
		return rc;
	if (fr_kind_new_template(sk, name, &text, &ext)) {
		fr_buf_release(&text);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	/* An existing transition into to (from from, when given) takes the step. */
	for (i = 0; i < f->cat->ntrs; i++) {
		fr_transition *t = f->cat->trs[i];
		char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
		if (fr_version_cmp(&t->to, &to))
			continue;
		if (have_from) {
			fr_vpattern_format(&t->from, a, sizeof a);
			fr_vpattern_format(&from, b, sizeof b);
			if (strcmp(a, b))
				continue;
		}
		tr = t;
		break;
	}
	fr_version_format(&to, tv, sizeof tv);
	if (tr && !tr->dir) {
		/* A flat transition: the new step is one more flat file of that version. */
		fr_buf_printf(&file, "%s/%s_%s.%s", f->cfg->migrations, tv, name, ext);
		goto write;
	}
	if (tr) {
		fr_buf_puts(&dir, tr->dir);
	} else {
		if (!have_from) {
			fr_version below = to;
			/* The greatest catalogued node below to. */
			fr_catalog_node(f->cat, &to, &node);
			if (fr_version_cmp(&node, &to) == 0) {
				size_t k;
				memset(&below, 0, sizeof below);
				for (k = 0; k < f->cat->nversions; k++)
					if (fr_version_cmp(&f->cat->versions[k].v, &to) < 0)
						below = f->cat->versions[k].v;
				node = below;
			}
			memset(&from, 0, sizeof from);
			from.v = node;
			from.fixed = 3;
		}
		if (fr_version_cmp(&from.v, &to) >= 0 && from.fixed == 3) {
			rc = fr_fail(f, FERRY_EINVALID, "'%s' is not above '%s'", tv, from_version);
			goto done;
		}
		fr_vpattern_format(&from, fv, sizeof fv);
		fr_buf_printf(&dir, "%s/v%s_to_v%s", f->cfg->migrations, fv, tv);
	}
	if (fr_mkdir_p(dir.ptr, 0755)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot create '%s': %s", dir.ptr, strerror(errno));
		goto done;
	}
	{
		/* One past the highest leading number in the folder, so it sorts last. */
		unsigned long top = 0;
		for (i = 0; tr && i < tr->nsteps; i++) {
			unsigned long n = strtoul(tr->steps[i]->name, NULL, 10);
			if (n > top)
				top = n;
		}
		fr_buf_printf(&file, "%s/%03lu_%s.%s", dir.ptr, top + 1, name, ext);
	}
write:
	if (fr_exists(file.ptr)) {
		rc = fr_fail(f, FERRY_EINVALID, "'%s' exists already", file.ptr);
		goto done;
	}
	if (file.oom || text.oom ||
	    fr_write_atomic(file.ptr, text.ptr, text.len,
	                    fr_kind_has(sk, FR_KIND_EXECUTABLE) ? 0755 : 0644)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot write '%s': %s", file.ptr, strerror(errno));
		goto done;
	}
	*out = fr_buf_detach(&file);
	rc = 0;
	fr_ok(f);
	/* The catalog changed under us. */
	fr_catalog_free(f->cat);
	f->cat = NULL;
done:
	fr_buf_release(&dir);
	fr_buf_release(&file);
	fr_buf_release(&text);
	return rc;
}

/* ---- native steps ---- */

int ferry_register_step(ferry *f, const ferry_native_step *step)
{
	fr_version to, idv;
	fr_vpattern from;
	ferry_native_step *t;
	const char *slash;
	char tv[FR_VERSION_STR_MAX];
	size_t i;
	if (!step || step->version < 1 || !step->id || !step->from || !step->to || !step->forward)
		return fr_fail(f, FERRY_EINVALID, "native step: id, from, to and forward are needed");
	slash = strchr(step->id, '/');
	if (!slash || !slash[1] || strchr(slash + 1, '/'))
		return fr_fail(f, FERRY_EINVALID, "native step '%s': the id is '<to-version>/<name>'",
		               step->id);
	if (fr_vpattern_parse(&from, step->from, &f->err) || fr_version_parse(&to, step->to, &f->err))
		return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	{
		char *head = fr_strndup(step->id, (size_t)(slash - step->id));
		int bad = !head || fr_version_parse(&idv, head, NULL) || fr_version_cmp(&idv, &to);
		fr_free(head);
		fr_version_format(&to, tv, sizeof tv);
		if (bad)
			return fr_fail(f, FERRY_EINVALID, "native step '%s': the id must start with its "
			                                  "to version, '%s/'", step->id, tv);
	}
	for (i = 0; i < f->nnatives; i++)
		if (!strcmp(f->natives[i].id, step->id))
			return fr_fail(f, FERRY_EINVALID, "native step '%s' is registered already",
			               step->id);
	t = fr_realloc(f->natives, (f->nnatives + 1) * sizeof *t);
	if (!t)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	f->natives = t;
	f->natives[f->nnatives++] = *step;
	/* Catalog pointers into natives moved with the realloc: load it again. */
	fr_catalog_free(f->cat);
	f->cat = NULL;
	fr_ok(f);
	return 0;
}

const ferry_native_step *fr_native_find(ferry *f, const char *id)
{
	size_t i;
	for (i = 0; f && id && i < f->nnatives; i++)
		if (!strcmp(f->natives[i].id, id))
			return &f->natives[i];
	return NULL;
}

char *fr_native_take_error(ferry *f)
{
	char *msg;
	if (!f)
		return NULL;
	msg = f->native_error;
	f->native_error = NULL;
	return msg;
}

void ferry_set_error(ferry *f, const char *message)
{
	if (!f)
		return;
	fr_free(f->native_error);
	f->native_error = fr_strdup(message ? message : "");
}
