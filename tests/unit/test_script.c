/*
 * test_script.c - the script step kind (lib/step/script.c): directives,
 * the environment and working folder a script gets, its output, check's
 * exit codes, a failing forward undone by its own backward, the process
 * group killed at the timeout and on interrupt, backward from the recorded
 * text after the file is gone, and what --dry-run shows.
 */
#include "helpers.h"

#include "catalog.h"
#include "step/step.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REL "migrations/v1.0.0_to_v1.1.0/002_reindex.sh"
#define ID "1.1.0/002_reindex.sh"

typedef struct {
	fr_run_ctx ctx;
	fr_buf err;
	fr_buf lerr;
	fr_buf out;      /* output lines, one per line */
	char *root;
	char *scratch;
	char *path;
	fr_step step;
	fr_transition tr;
} env;

static const char *const db_names[] = { "main", "my-reports" };
static const char *const db_urls[] = { "/srv/app/data/app.db", "postgres://app@localhost/r" };

static void on_output(fr_run_ctx *ctx, const char *line)
{
	env *e = (env *)ctx; /* ctx is the first member */
	fr_buf_printf(&e->out, "%s\n", line);
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	fr_buf err = FR_BUF_INIT;
	assert_non_null(e);
	e->root = t_tmpdir();
	e->scratch = t_path(e->root, ".ferry/tmp-run");
	e->path = t_path(e->root, REL);
	fr_buf_init(&e->err);
	fr_buf_init(&e->lerr);
	fr_buf_init(&e->out);
	e->ctx.root = e->root;
	e->ctx.err = &e->err;
	e->ctx.from = "1.0.0";
	e->ctx.to = "1.1.0";
	e->ctx.step_id = ID;
	e->ctx.db_names = db_names;
	e->ctx.db_urls = db_urls;
	e->ctx.ndbs = 2;
	e->ctx.output = on_output;
	e->ctx.scratch_dir = e->scratch;
	assert_int_equal(fr_vpattern_parse(&e->tr.from, "1.0.0", &err), 0);
	assert_int_equal(fr_version_parse(&e->tr.to, "1.1.0", &err), 0);
	fr_buf_release(&err);
	e->step.id = ID;
	e->step.name = "002_reindex.sh";
	e->step.rel = REL;
	e->step.path = e->path;
	e->step.kind = &fr_step_script;
	e->step.tr = &e->tr;
	e->step.from = &e->tr.from;
	e->step.to = &e->tr.to;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_step_script.unload(&e->step);
	assert_null(e->step.priv);
	fr_buf_release(&e->err);
	fr_buf_release(&e->lerr);
	fr_buf_release(&e->out);
	t_rmrf(e->root);
	free(e->root);
	free(e->scratch);
	free(e->path);
	free(e);
	return 0;
}

/* Writes the script (mode: 0 leaves it not executable) and loads it. */
static int load(env *e, const char *text, mode_t mode)
{
	fr_buf_reset(&e->lerr);
	t_write(e->root, REL, text);
	if (mode)
		assert_int_equal(chmod(e->path, mode), 0);
	e->step.executable = mode != 0;
	return fr_step_script.load(&e->step, text, strlen(text), &e->lerr);
}

static void load_ok(env *e, const char *text, mode_t mode)
{
	if (load(e, text, mode))
		fail_msg("load failed: %s", e->lerr.ptr);
}

static int forward(env *e)
{
	fr_buf_reset(&e->err);
	fr_buf_reset(&e->out);
	return fr_step_script.forward(&e->ctx, &e->step);
}

static void assert_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("'%s' does not hold '%s'", text, want);
}

static void test_directives(void **state)
{
	env *e = *state;
	fr_buf u = FR_BUF_INIT;
	load_ok(e, "#!/bin/sh\n# ferry:timeout 300\n#ferry:database reports\necho hi\n", 0);
	assert_string_equal(fr_step_script.database(&e->step), "reports");
	assert_false(fr_step_script.transactional(&e->step));
	assert_true(fr_step_script.reversible(&e->step));
	assert_false(fr_step_script.undo_transactional("x"));
	assert_int_equal(fr_step_script.undo_text(&e->step, &u), 0);
	assert_string_equal(u.ptr, "#!/bin/sh\n# ferry:timeout 300\n#ferry:database reports\n"
	                           "echo hi\n");
	fr_buf_reset(&u);

	/* by default: on no database, reversible */
	load_ok(e, "echo hi\n", 0);
	assert_string_equal(fr_step_script.database(&e->step), "");
	assert_true(fr_step_script.reversible(&e->step));

	load_ok(e, "#!/bin/sh\n  # ferry:irreversible  \necho hi\n", 0);
	assert_false(fr_step_script.reversible(&e->step));
	assert_int_equal(fr_step_script.undo_text(&e->step, &u), 0);
	assert_string_equal(u.ptr, "");
	fr_buf_release(&u);
}

static void test_directive_errors(void **state)
{
	env *e = *state;
	assert_int_equal(load(e, "#!/bin/sh\n\n# ferry:timeout soon\n", 0), -1);
	assert_string_equal(e->lerr.ptr, REL ":3: '# ferry:timeout' needs a number of seconds from "
	                                 "1 to 604800, not 'soon'");
	assert_int_equal(load(e, "# ferry:timeout 0\n", 0), -1);
	assert_has(e->lerr.ptr, REL ":1: '# ferry:timeout' needs a number of seconds");
	assert_int_equal(load(e, "echo\n# ferry:reversible\n", 0), -1);
	assert_string_equal(e->lerr.ptr, REL ":2: unknown directive 'ferry:reversible' (known: "
	                                 "database NAME, irreversible, timeout SECONDS)");
	assert_int_equal(load(e, "# ferry:database\n", 0), -1);
	assert_string_equal(e->lerr.ptr, REL ":1: '# ferry:database' needs one database name");
	assert_int_equal(load(e, "# ferry:irreversible now\n", 0), -1);
	assert_string_equal(e->lerr.ptr, REL ":1: '# ferry:irreversible' takes nothing after it");
	assert_int_equal(load(e, "# ferry:database a\n# ferry:database b\n", 0), -1);
	assert_string_equal(e->lerr.ptr, REL ":2: second '# ferry:database' line");
	assert_null(e->step.priv);
}

#define ENV_SCRIPT \
	"case \"$1\" in\n" \
	"forward)\n" \
	"  { pwd; echo \"$FERRY_ROOT|$FERRY_FROM|$FERRY_TO|$FERRY_STEP|$FERRY_DRY_RUN\";\n" \
	"    echo \"$FERRY_DB_MAIN|$FERRY_DB_MY_REPORTS|$1\"; } > env.txt\n" \
	"  echo to stdout\n" \
	"  echo to stderr >&2\n" \
	"  printf 'no newline'\n" \
	"  ;;\n" \
	"esac\n"

static void test_environment_and_output(void **state)
{
	env *e = *state;
	char *got, want[4096];

	/* a .sh that is not executable runs under /bin/sh */
	load_ok(e, ENV_SCRIPT, 0);
	assert_int_equal(forward(e), 0);
	got = t_read(e->root, "env.txt");
	snprintf(want, sizeof want, "%s\n%s|1.0.0|1.1.0|" ID "|0\n/srv/app/data/app.db|"
	         "postgres://app@localhost/r|forward\n", e->root, e->root);
	assert_string_equal(got, want);
	free(got);
	assert_string_equal(e->out.ptr, "to stdout\nto stderr\nno newline\n");

	/* an executable with a "#!" line runs itself */
	load_ok(e, "#!/bin/sh\n" ENV_SCRIPT, 0755);
	assert_int_equal(forward(e), 0);
	assert_string_equal(e->out.ptr, "to stdout\nto stderr\nno newline\n");

	/* stdin is empty; variables of ferry's own environment are kept, ours win */
	setenv("FERRY_TO", "9.9.9", 1);
	setenv("FERRY_TEST_KEPT", "kept", 1);
	load_ok(e, "read x; echo \"[$x] $FERRY_TO $FERRY_TEST_KEPT\"\n", 0);
	assert_int_equal(forward(e), 0);
	assert_string_equal(e->out.ptr, "[] 1.1.0 kept\n");
	unsetenv("FERRY_TO");
	unsetenv("FERRY_TEST_KEPT");
}

static void test_check(void **state)
{
	env *e = *state;
	int needed = -1;
	load_ok(e, "[ \"$1\" = check ] && exit \"$(cat code)\"\nexit 0\n", 0);
	t_write(e->root, "code", "0");
	assert_int_equal(fr_step_script.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 1);
	t_write(e->root, "code", "1");
	assert_int_equal(fr_step_script.check(&e->ctx, &e->step, &needed), 0);
	assert_int_equal(needed, 0);
	t_write(e->root, "code", "3");
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_script.check(&e->ctx, &e->step, &needed), -1);
	assert_string_equal(e->err.ptr, REL ": 'check' exited with status 3 (check exits 0 when "
	                                "the step is needed, 1 when it is done; anything else is "
	                                "an error)");
}

/* A script that fails after half its work: its backward undoes that half. */
#define HALF_SCRIPT \
	"#!/bin/sh\n" \
	"case \"$1\" in\n" \
	"forward)\n" \
	"  mkdir -p data/index && echo one > data/index/part1\n" \
	"  echo 'building part 2'\n" \
	"  echo 'disk full' >&2\n" \
	"  exit 4 ;;\n" \
	"backward)\n" \
	"  rm -rf data/index\n" \
	"  echo undone > backward.ran ;;\n" \
	"esac\n"

static void test_failure_runs_backward(void **state)
{
	env *e = *state;
	char *got;
	load_ok(e, HALF_SCRIPT, 0755);
	assert_int_equal(forward(e), -1);
	assert_string_equal(e->err.ptr, REL ": 'forward' exited with status 4; its last output: "
	                                "'disk full'; its backward ran and undid what it had done");
	assert_string_equal(e->out.ptr, "building part 2\ndisk full\n");
	assert_int_equal(t_sh("test ! -e '%s/data/index'", e->root), 0);
	got = t_read(e->root, "backward.ran");
	assert_string_equal(got, "undone\n");
	free(got);

	/* a backward that fails too says so */
	load_ok(e, "#!/bin/sh\n[ \"$1\" = forward ] && exit 1\necho nope; exit 2\n", 0755);
	assert_int_equal(forward(e), -1);
	assert_string_equal(e->err.ptr, REL ": 'forward' exited with status 1; its backward "
	                                "failed too ('backward' exited with status 2; its last "
	                                "output: 'nope'), so part of its work may remain: fix the "
	                                "script and run its backward by hand, or restore the "
	                                "run's backup");

	/* an irreversible one has no backward to run */
	load_ok(e, "# ferry:irreversible\necho half > half.txt\nexit 1\n", 0);
	assert_int_equal(forward(e), -1);
	assert_has(e->err.ptr, "it has no backward (# ferry:irreversible)");
}

static int pid_alive(env *e, const char *file)
{
	char *got = t_read(e->root, file);
	long pid;
	int alive;
	assert_non_null(got);
	pid = strtol(got, NULL, 10);
	free(got);
	assert_true(pid > 1);
	alive = kill((pid_t)pid, 0) == 0;
	return alive;
}

static void test_timeout_kills_the_group(void **state)
{
	env *e = *state;
	double t0;
	/* the script and a child it left in the background both go */
	load_ok(e, "# ferry:timeout 2\n"
	           "case \"$1\" in\n"
	           "forward)\n"
	           "  sleep 60 & echo $! > child.pid\n"
	           "  echo started\n"
	           "  sleep 60 ;;\n"
	           "backward) echo backward > backward.ran ;;\n"
	           "esac\n", 0);
	t0 = fr_mono_ms();
	assert_int_equal(forward(e), -1);
	assert_true(fr_mono_ms() - t0 >= 1900);
	assert_true(fr_mono_ms() - t0 < 8000);
	assert_string_equal(e->err.ptr, REL ": 'forward' timed out after 2 s (its process group "
	                                "was killed) (# ferry:timeout 2); its last output: "
	                                "'started'; its backward ran and undid what it had done");
	assert_false(pid_alive(e, "child.pid"));
	assert_int_equal(t_sh("test -f '%s/backward.ran'", e->root), 0);
}

static void test_interrupted(void **state)
{
	env *e = *state;
	volatile sig_atomic_t flag = 1;
	double t0 = fr_mono_ms();
	load_ok(e, "[ \"$1\" = forward ] && sleep 60\nexit 0\n", 0);
	e->ctx.interrupted = &flag;
	assert_int_equal(forward(e), -1);
	e->ctx.interrupted = NULL;
	assert_true(fr_mono_ms() - t0 < 5000);
	assert_string_equal(e->err.ptr, REL ": 'forward' was interrupted (its process group was "
	                                "killed); its backward ran and undid what it had done");
}

static void test_killed_by_signal(void **state)
{
	env *e = *state;
	load_ok(e, "# ferry:irreversible\nkill -9 $$\n", 0);
	assert_int_equal(forward(e), -1);
	assert_has(e->err.ptr, REL ": 'forward' was killed by signal 9");
}

/* backward from the registry's text, after the file changed and was removed */
static void test_undo_from_text(void **state)
{
	env *e = *state;
	fr_buf u = FR_BUF_INIT;
	load_ok(e, "#!/bin/sh\n"
	           "case \"$1\" in\n"
	           "forward) echo made > made.txt ;;\n"
	           "backward) echo \"undo $FERRY_STEP\"; rm made.txt ;;\n"
	           "esac\n", 0755);
	assert_int_equal(forward(e), 0);
	assert_int_equal(t_sh("test -f '%s/made.txt'", e->root), 0);
	assert_int_equal(fr_step_script.undo_text(&e->step, &u), 0);
	fr_step_script.unload(&e->step);
	assert_int_equal(unlink(e->path), 0);
	fr_buf_reset(&e->out);
	fr_buf_reset(&e->err);
	if (fr_step_script.undo(&e->ctx, ID, "", u.ptr))
		fail_msg("undo: %s", e->err.ptr);
	assert_string_equal(e->out.ptr, "undo " ID "\n");
	assert_int_equal(t_sh("test ! -e '%s/made.txt'", e->root), 0);
	/* the private copy is gone */
	assert_int_equal(t_sh("test -z \"$(ls -A '%s')\"", e->scratch), 0);

	/* a script without "#!" runs under /bin/sh there too; a failure names the step */
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_script.undo(&e->ctx, ID, "", "echo bad; exit 3\n"), -1);
	assert_string_equal(e->err.ptr, ID " (backward): 'backward' exited with status 3; its "
	                                "last output: 'bad'");
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_script.undo(&e->ctx, ID, "", "# ferry:irreversible\n"), -1);
	assert_has(e->err.ptr, "marked '# ferry:irreversible'");
	fr_buf_release(&u);

	/* without the engine's scratch folder: <root>/.ferry/tmp */
	e->ctx.scratch_dir = NULL;
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_script.undo(&e->ctx, ID, "", "exit 0\n"), 0);
	assert_int_equal(t_sh("test -d '%s/.ferry/tmp'", e->root), 0);
}

static void test_describe(void **state)
{
	env *e = *state;
	fr_buf d = FR_BUF_INIT;
	char want[4096];
	load_ok(e, "# ferry:timeout 30\necho ran > ran.txt\n", 0);
	assert_int_equal(fr_step_script.describe(&e->step, &d), 0);
	snprintf(want, sizeof want,
	         "# script " REL ": forward, timeout 30 s, reversible (backward), on no database\n"
	         "cd '%s'\n"
	         "FERRY_ROOT='%s' FERRY_FROM='1.0.0' FERRY_TO='1.1.0' FERRY_STEP='" ID "' "
	         "FERRY_DRY_RUN=0 FERRY_DB_<NAME>=<each database's path or URI> \\\n"
	         "  /bin/sh '%s' forward\n", e->root, e->root, e->path);
	assert_string_equal(d.ptr, want);
	fr_buf_release(&d);
}

static void test_cannot_run(void **state)
{
	env *e = *state;
	/* executable, with a "#!" naming no interpreter */
	load_ok(e, "#!/nonexistent/interpreter\necho\n", 0755);
	assert_int_equal(forward(e), -1);
	assert_string_equal(e->err.ptr, REL ": cannot run it: its '#!' line names "
	                                "'/nonexistent/interpreter', which cannot be run (No such "
	                                "file or directory); fix the line or install the "
	                                "interpreter");
	/* nothing ran, so no backward either */
	assert_string_equal(e->out.ptr, "");
}

/* Every allocation failing in turn: no crash, no leak; a failure says something. */
static void test_allocation_failures(void **state)
{
	env *e = *state;
	long n;
	int rc = -1;
	load_ok(e, "#!/bin/sh\n[ \"$1\" = forward ] && echo ran >> ran.txt\nexit 0\n", 0755);
	for (n = 0; n < 1000 && rc; n++) {
		fr_buf_reset(&e->err);
		fr_buf_grow(&e->err, 4096);
		fr_alloc_fail_after(n);
		rc = fr_step_script.forward(&e->ctx, &e->step);
		fr_alloc_fail_after(-1);
		if (rc)
			assert_true(e->err.len > 0);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(t_sh("test \"$(cat '%s/ran.txt')\" = ran", e->root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_directives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directive_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment_and_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_runs_backward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_from_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
