/*
 * ferry.c - the public handle: open and close, errors and the log, init,
 * unlock, and the native steps an application registers. The current
 * version lives in current.c, the read-only documents in documents.c,
 * plans in actions.c, runs in run.c and undo.c, `ferry new` in new.c.
 */
#include "ferry_int.h"
#include "db/db.h"
#include "plan.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/statmemo.h"
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
	if (!msg.len)
		msg.oom = 1; /* no words: what was to fill them (a "%s" of a buffer) ran out of memory */
	fr_buf_release(&f->err);
	f->err = msg;
	f->errcode = code;
	return code;
}

int fr_fail_msg(ferry *f, int code, const char *msg)
{
	if (!msg || !*msg) {
		/*
		 * Every failure has its words; none means the buffer that was to
		 * hold them ran out of memory (its oom flag stays with it): say so.
		 */
		fr_buf_reset(&f->err);
		f->err.oom = 1;
		f->errcode = code;
		return code;
	}
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
			/*
			 * The line jansson would write for {time, level, step, message}
			 * (json_dumps, compact), written straight into the buffer: a
			 * run of 1,000 steps logs 2,000 lines. A field that is not
			 * UTF-8 is left out, as json_string() refuses it.
			 */
			fr_buf *b = &f->log_buf;
			int64_t sec = fr_now_ms() / 1000;
			size_t at;
			if (sec != f->log_sec) { /* the time's text once a second, not once a line */
				fr_time_rfc3339(sec * 1000, f->log_time, sizeof f->log_time);
				f->log_sec = sec;
			}
			fr_buf_puts(b, "{\"time\":\"");
			fr_buf_puts(b, f->log_time);
			fr_buf_puts(b, "\",\"level\":\"");
			fr_buf_puts(b, names[level]);
			fr_buf_putc(b, '"');
			/* A field json_str refuses goes with its key. */
			if (step_id) {
				at = b->len;
				fr_buf_puts(b, ",\"step\":");
				if (fr_buf_json_str(b, step_id) && !b->oom)
					fr_buf_truncate(b, at);
			}
			at = b->len;
			fr_buf_puts(b, ",\"message\":");
			if (fr_buf_json_str(b, msg.ptr) && !b->oom)
				fr_buf_truncate(b, at);
			fr_buf_puts(b, "}\n");
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
	if (opts && opts->version >= 4)
		f->one_shot = (opts->flags & FERRY_OPEN_ONE_SHOT) != 0;
	if (opts && opts->version >= 3) {
		f->event = opts->event;
		f->event_ctx = opts->event_ctx;
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
	fr_vdb_close(f);
	fr_noop_close(f);
	fr_free(f->natives);
	fr_free(f->native_error);
	fr_catalog_free(f->cat);
	fr_state_close(f->state);
	fr_config_free(f->cfg);
	fr_log_flush(f);
	fr_buf_release(&f->log_buf);
	if (f->log_fd >= 0)
		close(f->log_fd);
	fr_last_run_clear(f);
	fr_statmemo_end(f);
	fr_free(f->root);
	fr_free(f->ferry_dir);
	fr_buf_release(&f->err);
	fr_free(f);
}

void fr_statmemo_end(ferry *f)
{
	fr_statmemo_free(f->statmemo);
	f->statmemo = NULL;
}

/*
 * The handle's catalog, read once and kept while fr_catalog_current() says
 * the folder is as it was read (a stat per file, no listing); otherwise
 * read again. A replaced catalog is kept until the handle closes, since a
 * plan made from it (ferry_plan_for) points into it. The stats the call's
 * listing just took (f->statmemo) stand for the catalog's own, once.
 * Within one up whose lock came at once (f->cat_keep), no stat: what runs
 * is what was read, and its checksums are what the record keeps, so a file
 * edited meanwhile is drift the next start reports, as after any run.
 */
int fr_load_catalog(ferry *f)
{
	fr_buf err = FR_BUF_INIT;
	fr_catalog *old = f->cat;
	int rc;
	if (old && (f->cat_keep || fr_catalog_current(old, f->statmemo))) {
		fr_statmemo_end(f);
		return 0;
	}
	f->cat = NULL;
	if (f->cfg->nsources) {
		rc = fr_catalog_load_memo(&f->cat, f->cfg->sources, f->cfg->nsources, f->root,
		                          f->statmemo, &err);
	} else {
		fr_source src;
		fr_catalog_own_source(&src, f->cfg->migrations);
		rc = fr_catalog_load_memo(&f->cat, &src, 1, f->root, f->statmemo, &err);
	}
	fr_statmemo_end(f); /* it spoke for this load only */
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
		f->cat = old; /* still what plans made from it point into */
		rc = fr_fail_msg(f, rc, err.ptr);
	} else if (old) {
		f->cat->retired = old;
	}
	fr_buf_release(&err);
	return rc;
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

/* ---- unlock ---- */

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
	fr_noop_forget(f);
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
