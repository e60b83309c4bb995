/*
 * cmd_up.c - `ferry up` and `ferry down`. SIGINT and SIGTERM ask the
 * library to stop after the current step and undo the run (exit 130).
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

static ferry *running;

static void on_signal(int sig)
{
	(void)sig;
	ferry_interrupt(running);
}

static void catch_signals(ferry *f)
{
	struct sigaction sa;
	running = f;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void print_dry_run(json_t *j)
{
	json_t *steps = json_object_get(j, "dry_run_steps"), *s;
	size_t i;
	if (!json_array_size(steps)) {
		cli_result("dry run: no steps; the version would be recorded as %s\n",
		        json_string_value(json_object_get(j, "to")));
		if (json_array_size(json_object_get(j, "actions"))) {
			cli_result("\nwhat the run would do, in order:\n");
			cli_say_actions(json_object_get(j, "actions"));
		}
		return;
	}
	cli_result("%sdry run%s %s -> %s: %zu step%s, nothing changed\n", C_BOLD, C_RESET,
	        json_string_value(json_object_get(j, "from")),
	        json_string_value(json_object_get(j, "to")), json_array_size(steps),
	        json_array_size(steps) == 1 ? "" : "s");
	cli_result("\nwhat the run would do, in order:\n");
	cli_say_actions(json_object_get(j, "actions"));
	json_array_foreach(steps, i, s) {
		json_t *st = json_object_get(s, "statements");
		json_t *db = json_object_get(s, "database");
		cli_result("\n%s== %s%s%s%s\n", C_BOLD, json_string_value(json_object_get(s, "id")),
		        json_is_string(db) ? " on " : "", json_is_string(db) ? json_string_value(db) : "",
		        C_RESET);
		if (json_is_false(json_object_get(s, "needed")))
			cli_result("-- skipped: its check says it is done\n");
		cli_result("%s", json_is_string(st) ? json_string_value(st) : "-- (no down: irreversible)\n");
		if (json_is_string(st) && json_string_length(st) &&
		    json_string_value(st)[json_string_length(st) - 1] != '\n')
			cli_result("\n");
	}
}

/*
 * The line after a run, from the run's summary (its whole document only
 * for --json and a dry run, which print their lists).
 */
static int report(int rc)
{
	char *doc = NULL;
	json_t *j;
	if (cli.json) {
		if (ferry_last_run(&doc, cli.f) == 0)
			cli_print_json(doc);
	} else if (ferry_last_run_summary(&doc, cli.f) == 0) {
		const char *st;
		j = json_loads(doc, 0, NULL);
		st = json_string_value(json_object_get(j, "status"));
		if (st && !strcmp(st, "dry_run")) {
			json_decref(j);
			ferry_free(doc);
			doc = NULL;
			j = ferry_last_run(&doc, cli.f) == 0 ? json_loads(doc, 0, NULL) : NULL;
			print_dry_run(j);
		} else if (st && !strcmp(st, "noop"))
			cli_say("nothing to do: at %s\n", json_string_value(json_object_get(j, "from")));
		else if (st && !strcmp(st, "success")) {
			size_t n = (size_t)json_integer_value(json_object_get(j, "changed"));
			json_t *b = json_object_get(j, "backup_id");
			const char *from = json_string_value(json_object_get(j, "from"));
			const char *to = json_string_value(json_object_get(j, "to"));
			if (from && to && !strcmp(from, to) && n)
				/* steps at the version reached (another tool's, or --only): it stays */
				cli_say("%s%s%s at %s, the version stays (%zu step%s)%s%s\n",
				        C_GREEN, json_is_true(json_object_get(j, "rehearsal")) ?
				                "rehearsed" : "done", C_RESET, from, n,
				        n == 1 ? "" : "s", json_is_string(b) ? "; backup " : "",
				        json_is_string(b) ? json_string_value(b) : "");
			else
				cli_say("%s%s%s %s -> %s (%zu step%s)%s%s\n", C_GREEN,
				        json_is_true(json_object_get(j, "rehearsal")) ?
				                "rehearsed" : "done", C_RESET,
				        json_string_value(json_object_get(j, "from")),
				        json_string_value(json_object_get(j, "to")), n, n == 1 ? "" : "s",
				        json_is_string(b) ? "; backup " : "",
				        json_is_string(b) ? json_string_value(b) : "");
			if (json_is_true(json_object_get(j, "rehearsal")))
				cli_say("the copy was discarded; the installation is unchanged\n");
			if (json_is_string(json_object_get(j, "required_stop")))
				cli_say("%sstopped at %s, a required stop:%s start the application at this "
				        "version once, then run 'ferry up' again to reach %s\n", C_YELLOW,
				        json_string_value(json_object_get(j, "required_stop")), C_RESET,
				        json_string_value(json_object_get(j, "requested")));
		}
		json_decref(j);
	}
	ferry_free(doc);
	return cli_fail(rc);
}

/* up --plan FILE: the plan `plan --json` wrote, run only if it still holds. */
static int up_from_file(const char *path, const ferry_run_options *o)
{
	ferry_plan *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!fp)
		return cli_error(EXIT_USAGE, "cannot read the plan file '%s': %s", path,
		                 strerror(errno));
	{
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
			char *t = realloc(text, len + n + 1);
			if (!t) {
				free(text);
				if (fp != stdin)
					fclose(fp);
				return cli_error(1, "out of memory");
			}
			text = t;
			memcpy(text + len, chunk, n);
			len += n;
		}
	}
	if (fp != stdin)
		fclose(fp);
	if (!text)
		return cli_error(EXIT_USAGE, "the plan file '%s' is empty", path);
	text[len] = '\0';
	rc = ferry_plan_load(&p, cli.f, text);
	free(text);
	if (rc)
		return report(rc);
	rc = ferry_apply(cli.f, p, o);
	ferry_plan_free(p);
	return report(rc);
}

int cmd_up(int argc, char **argv)
{
	const char *target = NULL, *plan_file = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	const cli_opt opts[] = {
		OPT_STR_(0, "plan", &plan_file, "FILE",
		         "run exactly the plan 'ferry plan --json' wrote, or refuse if it moved"),
		OPT_FLAG_(0, "dry-run", &o.dry_run, "print every step and statement, change nothing"),
		OPT_FLAG_(0, "force", &o.force, "run despite drift (said loudly)"),
		OPT_INT_(0, "wait", &o.wait_seconds, "SECONDS", "wait this long for the lock"),
		OPT_STR_(0, "only", &o.only, "STEP_ID", "run just this step, even if applied"),
		OPT_STR_(0, "rerun", &o.rerun, "STEP_ID", "run this step again, then the rest"),
		OPT_FLAG_(0, "keep-going-on-start", &o.keep_going_on_start,
		          "start-up use: a failure is a warning, exit 0"),
		OPT_FLAG_(0, "no-hooks", &o.no_hooks, "run no stop/restart/start/health hooks"),
		OPT_FLAG_(0, "skip-backup", &o.skip_backup, "take no pre-run backup"),
		OPT_FLAG_(0, "checkpoint-each-version", &o.checkpoint_each_version,
		          "a backup after each version; a failure rolls back to the last one"),
		OPT_FLAG_(0, "rehearse", &o.rehearse,
		          "run the plan on a throw-away copy, report, change nothing"),
		OPT_FLAG_(0, "allow-out-of-order", &o.allow_out_of_order,
		          "apply steps added to versions already passed, first"),
		OPT_FLAG_(0, "no-recover", &o.no_recover,
		          "after an interrupted run, refuse (exit 5) rather than roll it back first"),
		OPT_ARG_("TARGET", &target, 0, "the version to reach (default: the latest)"),
		OPT_END_
	};
	int rc = cli_parse("up", "Migrate the installation to TARGET: plan the path, apply each "
	                         "step and record it; on a failure undo the run (exit 1).",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	catch_signals(cli.f);
	if (plan_file) {
		if (target || o.only || o.rerun || o.skip_backup || o.no_hooks ||
		    o.checkpoint_each_version || o.force || o.rehearse || o.allow_out_of_order)
			return cli_error(EXIT_USAGE, "--plan runs the plan file as it is: give TARGET and "
			                 "the options that shape a plan to 'ferry plan' instead");
		return up_from_file(plan_file, &o);
	}
	rc = ferry_up(cli.f, target, &o);
	return report(rc);
}

int cmd_down(int argc, char **argv)
{
	const char *target = NULL;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "dry-run", &o.dry_run, "print every undo statement, change nothing"),
		OPT_INT_(0, "wait", &o.wait_seconds, "SECONDS", "wait this long for the lock"),
		OPT_ARG_("TARGET", &target, 1, "the version to go back to"),
		OPT_END_
	};
	int rc = cli_parse("down", "Migrate back to TARGET through the recorded down of every step "
	                           "applied above it, newest first.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	catch_signals(cli.f);
	rc = ferry_down(cli.f, target, &o);
	return report(rc);
}
