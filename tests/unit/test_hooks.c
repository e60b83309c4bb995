/*
 * test_hooks.c - the child-process runner and the service hooks
 * (lib/hooks.c): output lines to the log, the root as working folder and
 * the hook's environment, failures with their reason, health retried until
 * it passes or its time is up, the process group killed at a time limit
 * (SIGKILL after the grace period for one that ignores SIGTERM), and no
 * file descriptor of ferry's leaking into a child.
 */
#include "helpers.h"

#include "ferry_int.h"
#include "hooks.h"
#include "util/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	char *root;
	ferry *f;
	fr_buf log;     /* "<level> <message>" lines */
	fr_buf err;
} fx;

static void on_log(void *ctx, ferry_log_level level, const char *step_id, const char *message)
{
	fx *x = ctx;
	(void)step_id;
	fr_buf_printf(&x->log, "%d %s\n", (int)level, message);
}

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	ferry_open_options o = FERRY_OPEN_OPTIONS_INIT;
	assert_non_null(x);
	x->root = t_tmpdir();
	t_write(x->root, "ferry.yaml", "app: hooktest\ndatabases:\n  main: sqlite:data/app.db\n");
	fr_buf_init(&x->log);
	fr_buf_init(&x->err);
	o.log = on_log;
	o.log_ctx = x;
	if (ferry_open(&x->f, x->root, &o))
		fail_msg("ferry_open: %s", ferry_errmsg(x->f));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	ferry_close(x->f);
	fr_buf_release(&x->log);
	fr_buf_release(&x->err);
	t_rmrf(x->root);
	free(x->root);
	free(x);
	return 0;
}

static void assert_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("'%s' does not hold '%s'", text, want);
}

static void test_hook_runs_in_root_with_output_logged(void **state)
{
	fx *x = *state;
	char *got, want[4096];
	assert_int_equal(fr_hook_run(x->f, "stop",
	                             "echo stopping; echo warn >&2; pwd > where.txt; "
	                             "echo \"$FERRY_HOOK $FERRY_ROOT\" >> where.txt", &x->err), 0);
	assert_string_equal(x->err.ptr, "");
	assert_has(x->log.ptr, "2 running hook 'stop': echo stopping;");
	assert_has(x->log.ptr, "2 hook 'stop': stopping\n2 hook 'stop': warn\n");
	assert_has(x->log.ptr, "2 hook 'stop' done in ");
	got = t_read(x->root, "where.txt");
	snprintf(want, sizeof want, "%s\nstop %s\n", x->f->root, x->f->root);
	assert_string_equal(got, want);
	free(got);
}

static void test_hook_failure(void **state)
{
	fx *x = *state;
	assert_int_equal(fr_hook_run(x->f, "restart.api", "echo 'unit not found' >&2; exit 5",
	                             &x->err), FERRY_EFAILED);
	assert_string_equal(x->err.ptr, "hook 'restart.api' exited with status 5 (command "
	                                "'echo 'unit not found' >&2; exit 5'); its last output: "
	                                "'unit not found'; fix hooks.restart.api in ferry.yaml or "
	                                "run with --no-hooks");
}

static void test_health_retries_until_it_passes(void **state)
{
	fx *x = *state;
	double t0 = fr_mono_ms();
	/* fails twice, then passes */
	assert_int_equal(fr_hook_health(x->f, "n=$(cat n 2>/dev/null || echo 0); "
	                                      "echo $((n + 1)) > n; [ $n -ge 2 ]", 10, &x->err), 0);
	assert_true(fr_mono_ms() - t0 >= 1800);
	assert_true(fr_mono_ms() - t0 < 6000);
	assert_has(x->log.ptr, "2 healthy after 3 attempts");
}

static void test_health_gives_up(void **state)
{
	fx *x = *state;
	double t0 = fr_mono_ms();
	assert_int_equal(fr_hook_health(x->f, "echo 'connection refused'; exit 7", 2, &x->err),
	                 FERRY_EFAILED);
	assert_true(fr_mono_ms() - t0 >= 1900);
	assert_true(fr_mono_ms() - t0 < 5000);
	assert_has(x->err.ptr, "health check still failing after 2 s (3 attempts): exited with "
	                       "status 7 (command 'echo 'connection refused'; exit 7'); its last "
	                       "output: 'connection refused'; fix hooks.health in ferry.yaml");
	/* the attempts' output is there for --verbose */
	assert_has(x->log.ptr, "3 hook 'health': connection refused\n");
}

static void test_health_interrupted(void **state)
{
	fx *x = *state;
	x->f->interrupted = 1;
	assert_int_equal(fr_hook_health(x->f, "sleep 30", 30, &x->err), FERRY_EINTERRUPTED);
	x->f->interrupted = 0;
	assert_string_equal(x->err.ptr, "health check interrupted");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hook_runs_in_root_with_output_logged, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hook_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_retries_until_it_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_interrupted, setup, teardown),
		cmocka_unit_test(test_proc_timeout_sigkill),
		cmocka_unit_test(test_proc_cannot_start),
		cmocka_unit_test(test_proc_fds_and_long_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
