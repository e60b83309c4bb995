/*
 * hooks.c - the child-process runner (see hooks.h) and the service hooks of
 * ferry.yaml built on it. The run engine decides when hooks run; this file
 * only runs one and says how it went.
 */
#include "hooks.h"
#include "ferry_int.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_BYTES 8192 /* a longer line is passed on in pieces */

/* ---- the runner --------------------------------------------------------- */

/* The environment: ours overrides the inherited variable of the same name. */
static char **build_env(const char *const *extra)
{
	size_t n = 0, m = 0, i, j, k = 0;
	char **v;
	while (environ && environ[n])
		n++;
	while (extra && extra[m])
		m++;
	v = fr_calloc(n + m + 1, sizeof *v);
	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		int over = 0;
		for (j = 0; j < m && !over; j++)
			over = strncmp(extra[j], environ[i], len) == 0;
		if (!over)
			v[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		v[k++] = (char *)extra[j];
	return v;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child(const fr_proc *p, int outw, int exw, char **envp, long maxfd)
{
	sigset_t none;
	int sig, fd, e;
	long i;

	setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* SIGKILL and SIGSTOP just fail */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(outw, 1) < 0 || dup2(outw, 2) < 0)
		goto fail;
	/* Nothing of ferry's (the lock, databases) leaks into what the program starts. */
#ifdef SYS_close_range
	if (exw > 3)
		syscall(SYS_close_range, 3U, (unsigned)exw - 1, 0U);
	if (syscall(SYS_close_range, (unsigned)exw + 1, ~0U, 0U) != 0)
#endif
		for (i = 3; i < maxfd; i++)
			if (i != exw)
				close((int)i);
	if (p->cwd && chdir(p->cwd))
		goto fail;
	execve(p->argv[0], (char *const *)p->argv, envp);
fail:
	e = errno;
	if (write(exw, &e, sizeof e) < 0) {
		/* the parent then sees an exit status of 127 */
	}
	_exit(127);
}

typedef struct {
	const fr_proc *p;
	fr_proc_result *r;
	fr_buf line;
} reader;

static void emit(reader *rd)
{
	fr_buf *b = &rd->line;
	size_t n = b->len;
	if (n && b->ptr[n - 1] == '\r')
		fr_buf_truncate(b, --n);
	if (n) {
		size_t k = n < sizeof rd->r->last - 1 ? n : sizeof rd->r->last - 1;
		memcpy(rd->r->last, b->ptr, k);
		rd->r->last[k] = '\0';
	}
	if (rd->p->line)
		rd->p->line(rd->p->line_arg, b->ptr);
	fr_buf_reset(b);
}

static void feed(reader *rd, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (rd->line.len + take > LINE_MAX_BYTES)
			take = LINE_MAX_BYTES - rd->line.len;
		fr_buf_add(&rd->line, data, take);
		data += take;
		len -= take;
		if (len && *data == '\n') {
			data++;
			len--;
			emit(rd);
		} else if (rd->line.len >= LINE_MAX_BYTES) {
			emit(rd);
		}
	}
}

/* Reads what the pipe holds now. Returns 1 at end of file. */
static int drain(reader *rd, int fd)
{
	char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n > 0) {
			feed(rd, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0;
	}
}

/* Waits up to ms for output (or just sleeps, once the pipe is at its end). */
static void wait_output(reader *rd, int fd, int *eof, int ms)
{
	struct pollfd pfd;
	if (ms < 0)
		ms = 0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (*eof) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(&pfd, 1, ms) > 0 && drain(rd, fd))
		*eof = 1;
}

/*
 * SIGTERM to the group, SIGKILL after the grace period; reaps the leader.
 * The group is gone when its leader is reaped and kill(-pgid, 0) finds no
 * one left.
 */
static void kill_group(reader *rd, pid_t pid, int fd, int *eof, int *st, int *reaped)
{
	int grace = rd->p->grace_ms > 0 ? rd->p->grace_ms : 5000;
	double t0 = fr_mono_ms();
	kill(-pid, SIGTERM);
	while (fr_mono_ms() - t0 < grace) {
		if (!*reaped && waitpid(pid, st, WNOHANG) == pid)
			*reaped = 1;
		if (*reaped && kill(-pid, 0) != 0 && errno == ESRCH)
			return;
		wait_output(rd, fd, eof, 20);
	}
	kill(-pid, SIGKILL);
	if (!*reaped) {
		while (waitpid(pid, st, 0) < 0 && errno == EINTR)
			;
		*reaped = 1;
	}
}

int fr_proc_run(const fr_proc *p, fr_proc_result *r, fr_buf *err)
{
	reader rd;
	char **envp = NULL;
	int out[2] = { -1, -1 }, ex[2] = { -1, -1 };
	int st = 0, reaped = 0, eof = 0, e = 0, ret = -1;
	long maxfd = sysconf(_SC_OPEN_MAX);
	double deadline = 0;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof *r);
	memset(&rd, 0, sizeof rd);
	rd.p = p;
	rd.r = r;
	fr_buf_init(&rd.line);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	/* The common failure, told before forking (the child's report covers the rest). */
	if (access(p->argv[0], X_OK)) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto done;
	}
	envp = build_env(p->env);
	if (!envp) {
		fr_buf_printf(err, "cannot run '%s': out of memory", p->argv[0]);
		goto done;
	}
	if (pipe2(out, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto done;
	}
	if (pid == 0)
		child(p, out[1], ex[1], envp, maxfd);
	setpgid(pid, pid); /* also here, so that a kill never races the child's own call */
	close(out[1]);
	close(ex[1]);
	out[1] = ex[1] = -1;

	/* The exec pipe closes on a successful exec; the child writes errno otherwise. */
	while ((n = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(e));
		goto done;
	}

	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	if (p->timeout_s > 0)
		deadline = fr_mono_ms() + 1000.0 * p->timeout_s;
	for (;;) {
		double now;
		int ms;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			/*
			 * What it wrote before it ended is in the pipe; the later output
			 * of a child it left in the background is not waited for.
			 */
			reaped = 1;
			drain(&rd, out[0]);
			break;
		}
		if (p->interrupted && *p->interrupted) {
			r->interrupted = 1;
			kill_group(&rd, pid, out[0], &eof, &st, &reaped);
			break;
		}
		now = fr_mono_ms();
		if (deadline && now >= deadline) {
			r->timed_out = 1;
			kill_group(&rd, pid, out[0], &eof, &st, &reaped);
			break;
		}
		ms = eof ? 5 : 100;
		if (deadline && deadline - now < ms)
			ms = (int)(deadline - now) + 1;
		wait_output(&rd, out[0], &eof, ms);
	}
	if (rd.line.len)
		emit(&rd);
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else {
		r->status = -1;
		r->signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
	ret = 0;
done:
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (ex[0] >= 0)
		close(ex[0]);
	if (ex[1] >= 0)
		close(ex[1]);
	fr_free(envp);
	fr_buf_release(&rd.line);
	return ret;
}

int fr_proc_ok(const fr_proc_result *r)
{
	return !r->timed_out && !r->interrupted && r->status == 0;
}

void fr_proc_explain(const fr_proc_result *r, int timeout_s, fr_buf *out)
{
	if (r->timed_out)
		fr_buf_printf(out, "timed out after %d s (its process group was killed)", timeout_s);
	else if (r->interrupted)
		fr_buf_puts(out, "was interrupted (its process group was killed)");
	else if (r->status >= 0)
		fr_buf_printf(out, "exited with status %d", r->status);
	else
		fr_buf_printf(out, "was killed by signal %d (%s)", r->signo, strsignal(r->signo));
}

/* ---- hooks --------------------------------------------------------------- */

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

/* One run of command; *r says how it ended. -1 when it could not start (err set). */
static int hook_exec(ferry *f, const char *name, const char *command, int timeout_s,
                     ferry_log_level level, volatile sig_atomic_t *interrupted,
                     fr_proc_result *r, fr_buf *err)
{
	fr_buf root = FR_BUF_INIT, hook = FR_BUF_INIT;
	const char *argv[] = { "/bin/sh", "-c", command, NULL };
	const char *env[3];
	hook_out h;
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
