/*
 * pause.c - pausing a run in progress, and the run's events.
 *
 * A pause travels through the installation, so that any process may ask for
 * one: ferry_pause() writes .ferry/pause, "PID SINCE\nBY\n" (the lock holder
 * it is meant for and who asks). The walker (run.c) calls fr_pause_point()
 * at each safe point: between actions, no transaction open. That is one
 * stat() while no pause is asked. When the file names the lock this run
 * holds, the run waits there, lock kept, its pause recorded in state.db
 * (the status document's "paused"), until ferry_resume() removes the file
 * or ferry_interrupt() stops the run. A request meant for another holder
 * (a run that ended before it reached a safe point) is stale and removed.
 *
 * The events (fr_event) go to the caller's ferry_event_fn as JSON objects.
 */
#include "engine.h"
#include "actions.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *request_path(const ferry *f)
{
	return fr_path_join(f->ferry_dir, "pause");
}

void fr_event(ferry *f, json_t *ev)
{
	char *s;
	if (f->event && ev && (s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		f->event(f->event_ctx, s);
		free(s);
	}
	json_decref(ev);
}

void fr_event_action(engine *e, size_t index, const fr_action *a, int end)
{
	json_t *ev, *act;
	if (!e->f->event)
		return;
	if (end) {
		act = e->ntaken ? fr_taken_json(&e->taken[e->ntaken - 1]) : fr_action_json(a);
	} else {
		act = fr_action_json(a);
	}
	ev = json_object();
	json_object_set_new(ev, "event", json_string(end ? "action_end" : "action_start"));
	json_object_set_new(ev, "index", json_integer((json_int_t)index));
	json_object_set_new(ev, "run", json_integer(e->run_id));
	json_object_set_new(ev, "action", act);
	fr_event(e->f, ev);
}

void fr_event_finished(ferry *f, int rc)
{
	json_t *ev, *doc;
	const char *status = NULL;
	if (!f->event)
		return;
	doc = json_incref(f->last_run);
	if (doc && json_is_string(json_object_get(doc, "status")))
		status = json_string_value(json_object_get(doc, "status"));
	ev = json_object();
	json_object_set_new(ev, "event", json_string("finished"));
	json_object_set_new(ev, "status", json_string(status ? status : rc ? "failed" : "success"));
	json_object_set_new(ev, "code", json_integer(rc));
	json_decref(doc);
	fr_event(f, ev);
}

/* The request's "PID SINCE" and who asked, parsed; 0, or -1 when there is none. */
static int read_request(const ferry *f, long *pid, fr_buf *since, fr_buf *by)
{
	char *path = request_path(f);
	fr_buf text = FR_BUF_INIT;
	char *sp, *nl;
	int rc = -1;
	if (path && fr_read_file(path, &text) == 0 && text.len) {
		*pid = strtol(text.ptr, &sp, 10);
		while (*sp == ' ')
			sp++;
		nl = strchr(sp, '\n');
		fr_buf_add(since, sp, nl ? (size_t)(nl - sp) : strlen(sp));
		if (nl) {
			char *end = strchr(nl + 1, '\n');
			fr_buf_add(by, nl + 1, end ? (size_t)(end - nl - 1) : strlen(nl + 1));
		}
		rc = 0;
	}
	fr_buf_release(&text);
	fr_free(path);
	return rc;
}

void fr_pause_forget(ferry *f)
{
	char *path = request_path(f);
	if (path)
		unlink(path);
	fr_free(path);
}

static int requested(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/*
 * Waits at a safe point while a pause meant for this run is asked. 0 when
 * the run goes on (resumed, or no pause), FERRY_EINTERRUPTED when it was
 * stopped while it waited.
 */
int fr_pause_point(engine *e)
{
	ferry *f = e->f;
	char *path = request_path(f);
	fr_buf since = FR_BUF_INIT, by = FR_BUF_INIT;
	fr_lock_holder h;
	long pid = 0;
	int rc = 0;
	int64_t t0;
	char ts[32];
	if (!path || !requested(path))
		goto done;
	/* Meant for this lock? Reading our own lock file's line says who holds it. */
	if (read_request(f, &pid, &since, &by) || fr_lock_probe(f->ferry_dir, &h) != 1 ||
	    pid != (long)getpid() || h.pid != pid || strcmp(since.ptr, h.since)) {
		unlink(path);
		goto done;
	}
	t0 = fr_now_ms();
	fr_time_rfc3339(t0, ts, sizeof ts);
	fr_state_pause_set(f->state, e->run_id, t0, by.len ? by.ptr : "someone");
	fr_log(f, FERRY_LOG_INFO, NULL, "paused by %s; waiting for 'ferry resume'",
	       by.len ? by.ptr : "someone");
	fr_log_flush(f);
	{
		json_t *ev = json_object();
		json_object_set_new(ev, "event", json_string("paused"));
		json_object_set_new(ev, "run", json_integer(e->run_id));
		json_object_set_new(ev, "by", json_string(by.len ? by.ptr : "someone"));
		json_object_set_new(ev, "since", json_string(ts));
		fr_event(f, ev);
	}
	while (!f->interrupted && requested(path)) {
		struct timespec ns = { 0, 50 * 1000 * 1000 };
		nanosleep(&ns, NULL);
	}
	fr_state_pause_set(f->state, 0, 0, NULL);
	if (f->interrupted) {
		rc = FERRY_EINTERRUPTED;
		fr_buf_setf(&e->err, "interrupted while paused");
		fr_pause_forget(f);
	} else {
		json_t *ev = json_object();
		fr_log(f, FERRY_LOG_INFO, NULL, "resumed after %.1fs",
		       (double)(fr_now_ms() - t0) / 1000.0);
		json_object_set_new(ev, "event", json_string("resumed"));
		json_object_set_new(ev, "run", json_integer(e->run_id));
		fr_event(f, ev);
	}
done:
	fr_buf_release(&since);
	fr_buf_release(&by);
	fr_free(path);
	return rc;
}

int ferry_pause(ferry *f, const char *by)
{
	fr_lock_holder h;
	fr_buf text = FR_BUF_INIT;
	char *path = NULL;
	int rc;
	fr_run_row r;
	int found = 0;
	if (fr_lock_probe(f->ferry_dir, &h) != 1 || !h.pid)
		return fr_fail(f, FERRY_EFAILED, "no run in progress (nothing holds the lock)");
	/* Only up walks a plan with safe points; a down or a recover holding the lock does not. */
	if (fr_state_running(f->state, &r, &found) == 0 && found) {
		int other = r.pid == h.pid && strcmp(r.kind, "up");
		char kind[16];
		snprintf(kind, sizeof kind, "%s", r.kind);
		fr_run_row_clear(&r);
		if (other)
			return fr_fail(f, FERRY_EFAILED, "the run in progress (pid %ld) is a '%s', which "
			               "does not pause; only 'up' does", h.pid, kind);
	}
	fr_buf_printf(&text, "%ld %s\n", h.pid, h.since);
	if (by)
		fr_buf_printf(&text, "%s\n", by);
	else
		fr_buf_printf(&text, "pid %ld\n", (long)getpid());
	path = request_path(f);
	if (text.oom || !path)
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
	else if (fr_write_atomic(path, text.ptr, text.len, 0644))
		rc = fr_fail(f, FERRY_EFAILED, "cannot write '%s': %s", path, strerror(errno));
	else
		rc = 0;
	if (!rc)
		fr_ok(f);
	fr_buf_release(&text);
	fr_free(path);
	return rc;
}

int ferry_resume(ferry *f)
{
	fr_lock_holder h;
	char *path = request_path(f);
	int held = fr_lock_probe(f->ferry_dir, &h) == 1, asked;
	if (!path)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	asked = requested(path);
	if (asked)
		unlink(path);
	fr_free(path);
	if (!held)
		return fr_fail(f, FERRY_EFAILED, "no run in progress (nothing holds the lock)");
	if (!asked)
		return fr_fail(f, FERRY_EFAILED, "the run in progress (pid %ld) is not paused", h.pid);
	fr_ok(f);
	return 0;
}
