/*
 * test_proc.c - the child-process runner (lib/util/proc.c): exit codes and
 * signals, a timeout that kills the whole process group (SIGKILL after the
 * grace period for one that ignores SIGTERM), interruption, output lines
 * (long ones in pieces), stdout apart from stderr, the environment added
 * to, the working folder, start and finish apart, and no file descriptor
 * of ferry's leaking into a child.
 */
#include "helpers.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs /bin/sh -c cmd with p's other fields as given; output lines into out. */
static int sh(fr_proc *p, const char *cmd, fr_buf *out, fr_proc_result *r, fr_buf *err)
{
	static const char *argv[4];
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	p->argv = argv;
	return fr_proc_run(p, r, err);
}

static void lines(void *arg, const char *line)
{
	fr_buf_printf(arg, "%s\n", line);
}

/* A program that ignores SIGTERM gets SIGKILL after the grace period. */
static void test_proc_timeout_sigkill(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; echo waiting; sleep 30; sleep 30",
	                       NULL };
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	double t0 = fr_mono_ms();
	(void)state;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.timeout_s = 1;
	p.grace_ms = 300;
	p.line = lines;
	p.line_arg = &out;
	assert_int_equal(fr_proc_run(&p, &r, &err), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.status, -1);
	assert_int_equal(r.signo, SIGKILL);
	assert_true(fr_mono_ms() - t0 < 4000);
	assert_string_equal(out.ptr, "waiting\n");
	assert_string_equal(r.last, "waiting");
	assert_false(fr_proc_ok(&r));
	fr_buf_reset(&out);
	fr_proc_explain(&r, 1, &out);
	assert_string_equal(out.ptr, "timed out after 1 s (its process group was killed)");
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_proc_cannot_start(void **state)
{
	const char *argv[] = { "/nonexistent/program", NULL };
	fr_buf err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	assert_int_equal(fr_proc_run(&p, &r, &err), -1);
	assert_string_equal(err.ptr, "cannot run '/nonexistent/program': No such file or directory");
	fr_buf_release(&err);
}

/* Descriptors of ferry's (a lock, a database) are not inherited; long lines come in pieces. */
static void test_proc_fds_and_long_lines(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT, cmd = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	(void)state;
	assert_true(fd > 2);
	fr_buf_printf(&cmd, "test -e /proc/self/fd/%d && echo leaked || echo closed; "
	                    "head -c 10000 /dev/zero | tr '\\0' x; echo", fd);
	argv[2] = cmd.ptr;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.line = lines;
	p.line_arg = &out;
	assert_int_equal(fr_proc_run(&p, &r, &err), 0);
	assert_true(fr_proc_ok(&r));
	assert_int_equal(strncmp(out.ptr, "closed\n", 7), 0);
	/* 10000 bytes: a piece of 8192, then the rest */
	assert_int_equal(out.len, 7 + 8192 + 1 + 1808 + 1);
	close(fd);
	fr_buf_release(&out);
	fr_buf_release(&err);
	fr_buf_release(&cmd);
}

static void test_exit_codes_and_signals(void **state)
{
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	memset(&p, 0, sizeof p);
	assert_int_equal(sh(&p, "exit 0", &out, &r, &err), 0);
	assert_true(fr_proc_ok(&r));
	assert_int_equal(r.status, 0);
	assert_int_equal(sh(&p, "exit 3", &out, &r, &err), 0);
	assert_false(fr_proc_ok(&r));
	assert_int_equal(r.status, 3);
	fr_proc_explain(&r, 0, &out);
	assert_string_equal(out.ptr, "exited with status 3");
	fr_buf_reset(&out);
	assert_int_equal(sh(&p, "kill -9 $$", &out, &r, &err), 0);
	assert_int_equal(r.status, -1);
	assert_int_equal(r.signo, SIGKILL);
	assert_false(r.timed_out);
	fr_proc_explain(&r, 0, &out);
	assert_string_equal(out.ptr, "was killed by signal 9 (Killed)");
	assert_string_equal(err.ptr, "");
	fr_buf_release(&out);
	fr_buf_release(&err);
}

/* At the time limit the whole group goes: a grandchild in the background too. */
static void test_timeout_kills_the_group(void **state)
{
	char *dir = t_tmpdir(), *pidfile = t_path(dir, "pid"), *pidtext;
	fr_buf cmd = FR_BUF_INIT, out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	double t0 = fr_mono_ms();
	pid_t gc;
	(void)state;
	fr_buf_printf(&cmd, "sleep 60 & echo $! > '%s'; wait", pidfile);
	memset(&p, 0, sizeof p);
	p.timeout_s = 1;
	assert_int_equal(sh(&p, cmd.ptr, &out, &r, &err), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.signo, SIGTERM);
	assert_true(fr_mono_ms() - t0 < 4000);
	pidtext = t_read(dir, "pid");
	assert_non_null(pidtext);
	gc = (pid_t)atol(pidtext);
	assert_true(gc > 0);
	/* The grandchild got SIGTERM with its group (it is reaped by init, so wait a little). */
	for (int i = 0; i < 100 && kill(gc, 0) == 0; i++)
		usleep(20000);
	assert_int_not_equal(kill(gc, 0), 0);
	free(pidtext);
	free(pidfile);
	t_rmrf(dir);
	free(dir);
	fr_buf_release(&cmd);
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_interrupted(void **state)
{
	volatile sig_atomic_t stop = 1;
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	memset(&p, 0, sizeof p);
	p.interrupted = &stop;
	assert_int_equal(sh(&p, "sleep 30", &out, &r, &err), 0);
	assert_true(r.interrupted);
	assert_false(fr_proc_ok(&r));
	fr_proc_explain(&r, 0, &out);
	assert_string_equal(out.ptr, "was interrupted (its process group was killed)");
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_lines_env_and_cwd(void **state)
{
	char *dir = t_tmpdir();
	const char *env[] = { "FR_PROC_A=one", "HOME=/nowhere", NULL };
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT, want = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	setenv("FR_PROC_B", "inherited", 1);
	memset(&p, 0, sizeof p);
	p.env = env;
	p.cwd = dir;
	p.line = lines;
	p.line_arg = &out;
	assert_int_equal(sh(&p, "echo \"$FR_PROC_A $FR_PROC_B $HOME\"; pwd; printf 'a\\r\\n\\n'; "
	                        "echo err >&2; printf 'no newline'", &out, &r, &err), 0);
	assert_true(fr_proc_ok(&r));
	fr_buf_printf(&want, "one inherited /nowhere\n%s\na\n\nerr\nno newline\n", dir);
	assert_string_equal(out.ptr, want.ptr);
	assert_string_equal(r.last, "no newline");
	unsetenv("FR_PROC_B");
	t_rmrf(dir);
	free(dir);
	fr_buf_release(&out);
	fr_buf_release(&err);
	fr_buf_release(&want);
}

/* With out set, stdout is kept raw (a large output too) and only stderr comes in lines. */
static void test_stdout_apart(void **state)
{
	fr_buf data = FR_BUF_INIT, out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	memset(&p, 0, sizeof p);
	p.out = &data;
	p.line = lines;
	p.line_arg = &out;
	p.same_pgroup = 1;
	assert_int_equal(sh(&p, "echo warning >&2; head -c 200000 /dev/zero | tr '\\0' y; "
	                        "echo; echo bye >&2", &out, &r, &err), 0);
	assert_true(fr_proc_ok(&r));
	assert_int_equal(data.len, 200001);
	assert_int_equal(data.ptr[0], 'y');
	assert_string_equal(out.ptr, "warning\nbye\n");
	assert_string_equal(r.last, "bye");
	fr_buf_release(&data);
	fr_buf_release(&out);
	fr_buf_release(&err);
}

/* start, then finish: the program runs in between. */
static void test_start_then_finish(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "read x; echo \"got '$x'\"; exit 4", NULL };
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_proc_result r;
	fr_proc p;
	(void)state;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.line = lines;
	p.line_arg = &out;
	assert_int_equal(fr_proc_start(&p, &err), 0);
	assert_true(p.pid > 0);
	assert_int_equal(fr_proc_finish(&p, &r), 0);
	assert_int_equal(r.status, 4);
	assert_string_equal(out.ptr, "got ''\n"); /* stdin is /dev/null */
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static int journaled_pgid;

static int note_pgid(void *arg, pid_t pgid, fr_buf *err)
{
	(void)err;
	*(int *)arg = (int)pgid;
	return 0;
}

static int refuse_pgid(void *arg, pid_t pgid, fr_buf *err)
{
	(void)arg;
	(void)pgid;
	fr_buf_puts(err, "no journal");
	return -1;
}

/* ferry killed outright (here a forked stand-in): its child's whole group dies with it. */
static void test_group_dies_with_ferry(void **state)
{
	char *dir = t_tmpdir(), *pidfile = t_path(dir, "pid"), *pidtext = NULL;
	int pfd[2], st, i;
	pid_t stand_in, bg = 0, pgid = 0;
	(void)state;
	assert_int_equal(pipe(pfd), 0);
	stand_in = fork();
	assert_true(stand_in >= 0);
	if (stand_in == 0) {
		fr_buf cmd = FR_BUF_INIT, err = FR_BUF_INIT;
		const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
		fr_proc p;
		close(pfd[0]);
		/* Written aside, then renamed: the file is whole once it exists. */
		fr_buf_printf(&cmd, "sleep 30 & echo $! >%s.tmp && mv %s.tmp %s; wait", pidfile,
		              pidfile, pidfile);
		argv[2] = cmd.ptr;
		memset(&p, 0, sizeof p);
		p.argv = argv;
		p.started = note_pgid;
		p.started_arg = &journaled_pgid;
		if (fr_proc_start(&p, &err))
			_exit(1);
		if (write(pfd[1], &journaled_pgid, sizeof journaled_pgid) < 0)
			_exit(1);
		for (i = 0; i < 2000 && !fr_exists(pidfile); i++) /* 20 s: a loaded machine */
			usleep(10000);
		raise(SIGKILL); /* dies without fr_proc_finish() */
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &pgid, sizeof pgid), (ssize_t)sizeof pgid);
	close(pfd[0]);
	assert_int_equal(waitpid(stand_in, &st, 0), stand_in);
	assert_true(WIFSIGNALED(st));
	assert_true(pgid > 0);
	pidtext = t_read(dir, "pid");
	bg = (pid_t)atoi(pidtext);
	assert_true(bg > 0);
	/* The group is gone within a moment, without anybody's help. */
	for (i = 0; i < 3000 && kill(-pgid, 0) == 0; i++)
		usleep(10000);
	assert_int_not_equal(kill(-pgid, 0), 0);
	assert_int_equal(fr_proc_group_gone(pgid, 100), 0);
	free(pidtext);
	free(pidfile);
	t_rmrf(dir);
	free(dir);
}

/* A group the journal could not write down never runs its program. */
static void test_unjournaled_never_runs(void **state)
{
	char *dir = t_tmpdir(), *mark = t_path(dir, "ran");
	fr_buf cmd = FR_BUF_INIT, err = FR_BUF_INIT;
	const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	fr_proc p;
	(void)state;
	fr_buf_printf(&cmd, "touch %s", mark);
	argv[2] = cmd.ptr;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.started = refuse_pgid;
	assert_int_equal(fr_proc_start(&p, &err), -1);
	assert_non_null(strstr(err.ptr, "no journal"));
	usleep(50000);
	assert_false(fr_exists(mark));
	fr_buf_release(&cmd);
	fr_buf_release(&err);
	free(mark);
	t_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes_and_signals),
		cmocka_unit_test(test_proc_timeout_sigkill),
		cmocka_unit_test(test_timeout_kills_the_group),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_proc_cannot_start),
		cmocka_unit_test(test_proc_fds_and_long_lines),
		cmocka_unit_test(test_lines_env_and_cwd),
		cmocka_unit_test(test_stdout_apart),
		cmocka_unit_test(test_start_then_finish),
		cmocka_unit_test(test_group_dies_with_ferry),
		cmocka_unit_test(test_unjournaled_never_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
