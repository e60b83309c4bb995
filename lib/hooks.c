/*
 * hooks.c - the service hooks of ferry.yaml, run through util/proc.h: which
 * hook, under /bin/sh -c in the root with FERRY_ROOT and FERRY_HOOK, its
 * output to the log, its time limit, health retried until it passes. The
 * run engine decides when hooks run; this file only runs one and says how
 * it went.
 */
#include "hooks.h"
#include "ferry_int.h"
#include "util/fs.h"
#include "util/proc.h"

#include <poll.h>
#include <signal.h>
#include <string.h>

typedef struct {
	ferry *f;
	const char *name;
	ferry_log_level level;
} hook_out;

static void hook_line(void *arg, const char *line)
{
	hook_out *h = arg;
	fr_log(h->f, h->level, NULL, "hook '%s': %s", h->name, line);
}

/* A hook's process group in the crash journal, from before it starts until it is reaped. */
typedef struct {
	ferry *f;
	const char *name;
	int64_t jid;
} hook_journal;

static int hook_started(void *arg, pid_t pgid, fr_buf *err)
{
	hook_journal *j = arg;
	fr_buf what = FR_BUF_INIT;
	int rc = 0;
	if (!j->f->state)
		return 0;
	fr_buf_printf(&what, "hook %s", j->name);
	if (what.oom || fr_state_journal_add(j->f->state, 0, what.ptr, "", "", "", &j->jid) ||
	    fr_state_journal_pgid(j->f->state, j->jid, pgid)) {
		fr_buf_printf(err, "hook '%s': cannot write the crash journal: %s", j->name,
		              fr_state_errmsg(j->f->state));
		rc = -1;
	}
	fr_buf_release(&what);
	return rc;
}

static void hook_ended(void *arg, pid_t pgid)
{
	hook_journal *j = arg;
	(void)pgid;
	if (j->jid)
		fr_state_journal_drop(j->f->state, j->jid);
	j->jid = 0;
}

/* One run of command; *r says how it ended. -1 when it could not start (err set). */
static int hook_exec(ferry *f, const char *name, const char *command, int timeout_s,
                     ferry_log_level level, volatile sig_atomic_t *interrupted,
                     fr_proc_result *r, fr_buf *err)
{
	fr_buf root = FR_BUF_INIT, hook = FR_BUF_INIT;
	const char *argv[] = { "/bin/sh", "-c", command, NULL };
	const char *env[3];
	hook_out h;
	hook_journal j = { f, name, 0 };
	fr_proc p;
	int rc;

	fr_buf_printf(&root, "FERRY_ROOT=%s", f->root);
	fr_buf_printf(&hook, "FERRY_HOOK=%s", name);
	if (root.oom || hook.oom) {
		fr_buf_printf(err, "hook '%s': out of memory", name);
		rc = -1;
		goto done;
	}
	env[0] = root.ptr;
	env[1] = hook.ptr;
	env[2] = NULL;
	h.f = f;
	h.name = name;
	h.level = level;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.cwd = f->root;
	p.env = env;
	p.timeout_s = timeout_s;
	p.line = hook_line;
	p.line_arg = &h;
	p.interrupted = interrupted;
	p.started = hook_started;
	p.ended = hook_ended;
	p.started_arg = &j;
	rc = fr_proc_run(&p, r, err);
done:
	fr_buf_release(&root);
	fr_buf_release(&hook);
	return rc;
}

static void hook_failure(fr_buf *err, const char *what, const char *name, const char *command,
                         const fr_proc_result *r, int timeout_s)
{
	fr_buf_printf(err, "%s '%s' ", what, name);
	fr_proc_explain(r, timeout_s, err);
	fr_buf_printf(err, " (command '%s')", command);
	if (r->last[0])
		fr_buf_printf(err, "; its last output: '%s'", r->last);
	fr_buf_printf(err, "; fix hooks.%s in ferry.yaml or run with --no-hooks", name);
}

int fr_hook_run(ferry *f, const char *name, const char *command, fr_buf *err)
{
	fr_proc_result r;
	double t0 = fr_mono_ms();

	fr_log(f, FERRY_LOG_INFO, NULL, "running hook '%s': %s", name, command);
	if (hook_exec(f, name, command, FR_HOOK_TIMEOUT, FERRY_LOG_INFO, NULL, &r, err))
		return FERRY_EFAILED;
	if (!fr_proc_ok(&r)) {
		hook_failure(err, "hook", name, command, &r, FR_HOOK_TIMEOUT);
		return FERRY_EFAILED;
	}
	fr_log(f, FERRY_LOG_INFO, NULL, "hook '%s' done in %.0f ms", name, fr_mono_ms() - t0);
	return 0;
}

int fr_hook_health(ferry *f, const char *command, int seconds, fr_buf *err)
{
	fr_proc_result r;
	double t0 = fr_mono_ms(), deadline;
	int attempts = 0, limit = 0;

	if (seconds <= 0)
		seconds = FR_HOOK_HEALTH_SECONDS;
	deadline = t0 + 1000.0 * seconds;
	fr_log(f, FERRY_LOG_INFO, NULL, "checking health (for up to %d s): %s", seconds, command);
	for (;;) {
		double left = deadline - fr_mono_ms();
		limit = left > 1000 ? (int)(left / 1000) : 1;
		attempts++;
		if (hook_exec(f, "health", command, limit, FERRY_LOG_DEBUG, &f->interrupted, &r, err))
			return FERRY_EFAILED;
		if (fr_proc_ok(&r)) {
			fr_log(f, FERRY_LOG_INFO, NULL, "healthy after %d attempt%s (%.1f s)", attempts,
			       attempts == 1 ? "" : "s", (fr_mono_ms() - t0) / 1000);
			return 0;
		}
		if (r.interrupted || f->interrupted) {
			fr_buf_puts(err, "health check interrupted");
			return FERRY_EINTERRUPTED;
		}
		if (fr_mono_ms() >= deadline)
			break;
		/* One attempt a second, the last one when the time is up; ferry_interrupt() cuts in. */
		while (fr_mono_ms() - t0 < 1000.0 * attempts && fr_mono_ms() < deadline &&
		       !f->interrupted)
			poll(NULL, 0, 20);
	}
	fr_buf_printf(err, "health check still failing after %d s (%d attempt%s): ", seconds,
	              attempts, attempts == 1 ? "" : "s");
	fr_proc_explain(&r, limit, err);
	fr_buf_printf(err, " (command '%s')", command);
	if (r.last[0])
		fr_buf_printf(err, "; its last output: '%s'", r.last);
	fr_buf_puts(err, "; fix hooks.health in ferry.yaml or run with --no-hooks");
	return FERRY_EFAILED;
}
