/*
 * test_hooks.c - the service hooks (lib/hooks.c): output lines to the log,
 * the root as working folder and the hook's environment, failures with
 * their reason, health retried until it passes or its time is up. The
 * runner under them is tests/unit/test_proc.c's.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hook_runs_in_root_with_output_logged, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hook_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_retries_until_it_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_interrupted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
