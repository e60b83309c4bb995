/*
 * proc.c - the child-process runner (see proc.h): fork and exec with the
 * environment, folder and process group asked for, output read line by
 * line, the group killed at the time limit or on interruption, and the
 * supervisor that kills it when ferry dies.
 */
#include "proc.h"
#include "alloc.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_BYTES 8192 /* a longer line is passed on in pieces */

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
/* Closes every descriptor from 3 up but keep (async-signal-safe). */
static void close_from_3(int keep, long maxfd)
{
	long i;
#ifdef SYS_close_range
	if (keep > 3)
		syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U);
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	for (i = 3; i < maxfd; i++)
		if (i != keep)
			close((int)i);
}

static void child(const fr_proc *p, int linew, int outw, int exw, const int gp[2],
                  const int wp[2], pid_t parent, char **envp, long maxfd)
{
	sigset_t none;
	int sig, fd, e;
	char go = 0;
	ssize_t n;

	if (!p->same_pgroup)
		setpgid(0, 0);
	else if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(127); /* ferry is already gone */
	/*
	 * Not before ferry says so: its supervisor runs and the journal has the
	 * group. Ours of the pipes' other ends closed first, so that ferry's
	 * death is the end of the pipe here, and there.
	 */
	close(gp[1]);
	if (wp[0] >= 0)
		close(wp[0]);
	if (wp[1] >= 0)
		close(wp[1]);
	while ((n = read(gp[0], &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(127);
	close(gp[0]);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* SIGKILL and SIGSTOP just fail */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(outw >= 0 ? outw : linew, 1) < 0 ||
	    dup2(linew, 2) < 0)
		goto fail;
	/* Nothing of ferry's (the lock, databases) leaks into what the program starts. */
	close_from_3(exw, maxfd);
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

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The supervisor, in a process of its own (and a group of its own, so that
 * a kill of ferry's group does not take it along): it blocks on the pipe
 * from ferry. A byte is ferry's "done, leave"; the end of the pipe is
 * ferry's death, and the child's whole group is killed. It ignores the
 * terminal's signals: only ferry's going ends its watch.
 */
static void watcher(int watchr, pid_t pgid, long maxfd)
{
	char c;
	ssize_t n;
	int sig, null = open("/dev/null", O_RDWR);
	/* Nothing of ferry's is kept open: not its terminal or output pipe either. */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	close_from_3(watchr, maxfd);
	setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	while ((n = read(watchr, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		kill(-pgid, SIGKILL);
	_exit(0);
}

/* Tells the supervisor to leave and reaps it. */
static void watcher_stop(fr_proc *p)
{
	int st;
	if (p->fd_watch >= 0) {
		char c = 'q';
		if (write(p->fd_watch, &c, 1) < 0) {
			/* gone already: the pipe's end tells it the same */
		}
	}
	close_fd(&p->fd_watch);
	if (p->watcher > 0)
		while (waitpid(p->watcher, &st, 0) < 0 && errno == EINTR)
			;
	p->watcher = -1;
}

int fr_proc_group_gone(pid_t pgid, int wait_ms)
{
	double t0 = fr_mono_ms();
	if (pgid <= 1)
		return 0;
	if (kill(-pgid, SIGKILL) && errno == ESRCH)
		return 0;
	while (fr_mono_ms() - t0 < wait_ms) {
		if (kill(-pgid, 0) && errno == ESRCH)
			return 0;
		poll(NULL, 0, 10);
		kill(-pgid, SIGKILL);
	}
	return -1;
}

void fr_boot_id(char out[64])
{
	fr_buf b = FR_BUF_INIT;
	out[0] = '\0';
	if (fr_read_file("/proc/sys/kernel/random/boot_id", &b) == 0 && b.len && b.len < 64) {
		size_t n = strcspn(b.ptr, "\n");
		memcpy(out, b.ptr, n);
		out[n] = '\0';
	}
	fr_buf_release(&b);
}

static int crash_seen, crash_at = -1;
static const char *crash_event;
static size_t crash_event_len;

void fr_crash_point(const char *event)
{
	static int read_env;
	if (!read_env) {
		const char *v = getenv("FERRY_CRASH_AT"), *colon;
		read_env = 1;
		if (v && *v) {
			colon = strchr(v, ':');
			if (colon) {
				crash_event = v;
				crash_event_len = (size_t)(colon - v);
				v = colon + 1;
			}
			crash_at = atoi(v);
		}
	}
	if (crash_at < 0)
		return;
	if (crash_event && (strlen(event) != crash_event_len ||
	                    strncmp(event, crash_event, crash_event_len)))
		return;
	if (++crash_seen == crash_at)
		raise(SIGKILL);
}

int fr_proc_start(fr_proc *p, fr_buf *err)
{
	char **envp = NULL;
	int lp[2] = { -1, -1 }, op[2] = { -1, -1 }, ex[2] = { -1, -1 };
	int gp[2] = { -1, -1 }, wp[2] = { -1, -1 };
	int st, e = 0, ret = -1;
	long maxfd = sysconf(_SC_OPEN_MAX);
	pid_t pid, self = getpid();
	ssize_t n;
	char go = 'g';

	p->pid = -1;
	p->fd_lines = p->fd_out = -1;
	p->watcher = -1;
	p->fd_watch = -1;
	p->deadline = 0;
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
	if (pipe2(lp, O_CLOEXEC) || (p->out && pipe2(op, O_CLOEXEC)) || pipe2(ex, O_CLOEXEC) ||
	    pipe2(gp, O_CLOEXEC) || (!p->same_pgroup && pipe2(wp, O_CLOEXEC))) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto done;
	}
	if (pid == 0)
		child(p, lp[1], op[1], ex[1], gp, wp, self, envp, maxfd);
	close_fd(&gp[0]);
	close_fd(&lp[1]);
	close_fd(&op[1]);
	close_fd(&ex[1]);
	if (!p->same_pgroup) {
		setpgid(pid, pid); /* also here, so that a kill never races the child's own call */
		p->watcher = fork();
		if (p->watcher == 0)
			watcher(wp[0], pid, maxfd);
		close_fd(&wp[0]);
		if (p->watcher < 0) {
			fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
			goto unstarted;
		}
		p->fd_watch = wp[1];
		wp[1] = -1;
	}
	if (p->started && p->started(p->started_arg, pid, err))
		goto unstarted;
	if (write(gp[1], &go, 1) != 1) {
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(errno));
		goto unstarted;
	}
	close_fd(&gp[1]);

	/* The exec pipe closes on a successful exec; the child writes errno otherwise. */
	while ((n = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		watcher_stop(p);
		fr_buf_printf(err, "cannot run '%s': %s", p->argv[0], strerror(e));
		goto done;
	}
	fcntl(lp[0], F_SETFL, fcntl(lp[0], F_GETFL) | O_NONBLOCK);
	if (op[0] >= 0)
		fcntl(op[0], F_SETFL, fcntl(op[0], F_GETFL) | O_NONBLOCK);
	p->pid = pid;
	p->fd_lines = lp[0];
	p->fd_out = op[0];
	lp[0] = op[0] = -1;
	if (p->timeout_s > 0)
		p->deadline = fr_mono_ms() + 1000.0 * p->timeout_s;
	ret = 0;
	goto done;
unstarted:
	/* The child sees its pipe end before exec and leaves. */
	close_fd(&gp[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	watcher_stop(p);
done:
	close_fd(&gp[0]);
	close_fd(&gp[1]);
	close_fd(&wp[0]);
	close_fd(&wp[1]);
	close_fd(&lp[0]);
	close_fd(&lp[1]);
	close_fd(&op[0]);
	close_fd(&op[1]);
	close_fd(&ex[0]);
	close_fd(&ex[1]);
	fr_free(envp);
	return ret;
}

/* ---- reading and waiting ------------------------------------------------- */

typedef struct {
	fr_proc *p;
	fr_proc_result *r;
	fr_buf line;
	int eof[2];       /* [0] the line pipe, [1] the stdout pipe */
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

/* Reads what pipe i holds now; sets eof[i] at its end. */
static void drain(reader *rd, int i)
{
	int fd = i ? rd->p->fd_out : rd->p->fd_lines;
	char tmp[4096];
	if (fd < 0 || rd->eof[i])
		return;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n > 0) {
			if (i)
				fr_buf_add(rd->p->out, tmp, (size_t)n);
			else
				feed(rd, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			rd->eof[i] = 1;
		return;
	}
}

/* Waits up to ms for output (or just sleeps, once the pipes are at their end). */
static void wait_output(reader *rd, int ms)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	int which[2], i;
	if (ms < 0)
		ms = 0;
	for (i = 0; i < 2; i++) {
		int fd = i ? rd->p->fd_out : rd->p->fd_lines;
		if (fd < 0 || rd->eof[i])
			continue;
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		which[n++] = i;
	}
	if (!n) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(pfd, n, ms) <= 0)
		return;
	for (i = 0; i < (int)n; i++)
		if (pfd[i].revents)
			drain(rd, which[i]);
}

/*
 * SIGTERM to the group, SIGKILL after the grace period; reaps the leader.
 * The group is gone when its leader is reaped and kill(-pgid, 0) finds no
 * one left. Without a group of its own, only the child is signalled.
 */
static void kill_group(reader *rd, int *st, int *reaped)
{
	pid_t pid = rd->p->pid, target = rd->p->same_pgroup ? pid : -pid;
	int grace = rd->p->grace_ms > 0 ? rd->p->grace_ms : 5000;
	double t0 = fr_mono_ms();
	kill(target, SIGTERM);
	while (fr_mono_ms() - t0 < grace) {
		if (!*reaped && waitpid(pid, st, WNOHANG) == pid)
			*reaped = 1;
		if (*reaped && kill(target, 0) != 0 && errno == ESRCH)
			return;
		wait_output(rd, 20);
	}
	kill(target, SIGKILL);
	if (!*reaped) {
		while (waitpid(pid, st, 0) < 0 && errno == EINTR)
			;
		*reaped = 1;
	}
}

int fr_proc_finish(fr_proc *p, fr_proc_result *r)
{
	reader rd;
	int st = 0, reaped = 0;

	memset(r, 0, sizeof *r);
	memset(&rd, 0, sizeof rd);
	rd.p = p;
	rd.r = r;
	fr_buf_init(&rd.line);
	for (;;) {
		double now;
		int ms;
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			/*
			 * What it wrote before it ended is in the pipes; the later output
			 * of a child it left in the background is not waited for.
			 */
			reaped = 1;
			drain(&rd, 0);
			drain(&rd, 1);
			break;
		}
		if (p->interrupted && *p->interrupted) {
			r->interrupted = 1;
			kill_group(&rd, &st, &reaped);
			break;
		}
		now = fr_mono_ms();
		if (p->deadline && now >= p->deadline) {
			r->timed_out = 1;
			kill_group(&rd, &st, &reaped);
			break;
		}
		ms = rd.eof[0] && (p->fd_out < 0 || rd.eof[1]) ? 5 : 100;
		if (p->deadline && p->deadline - now < ms)
			ms = (int)(p->deadline - now) + 1;
		wait_output(&rd, ms);
	}
	if (rd.line.len)
		emit(&rd);
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else {
		r->status = -1;
		r->signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	}
	close_fd(&p->fd_lines);
	close_fd(&p->fd_out);
	watcher_stop(p);
	if (p->ended)
		p->ended(p->started_arg, p->pid);
	p->pid = -1;
	fr_buf_release(&rd.line);
	return 0;
}

int fr_proc_run(fr_proc *p, fr_proc_result *r, fr_buf *err)
{
	memset(r, 0, sizeof *r);
	if (fr_proc_start(p, err))
		return -1;
	return fr_proc_finish(p, r);
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
