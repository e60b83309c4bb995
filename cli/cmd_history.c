/*
 * cmd_history.c - `ferry history`: runs newest first with their duration,
 * one run's steps (history RUN), or the version notes (--versions). All of
 * it is the command's result: printed with -q too.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static const char *status_color(const char *st)
{
	if (!strcmp(st, "success") || !strcmp(st, "applied") || !strcmp(st, "skipped") ||
	    !strcmp(st, "noop"))
		return C_GREEN;
	if (!strcmp(st, "failed") || !strcmp(st, "interrupted"))
		return C_RED;
	return C_YELLOW;
}

/* "1.2s" or "-" for a run that has not finished. */
static const char *run_duration(json_t *r, char *buf, size_t n)
{
	json_t *d = json_object_get(r, "duration_ms");
	if (!json_is_integer(d))
		return "-";
	return cli_duration((long long)json_integer_value(d), buf, n);
}

/* One line per run: "#3    up    0.0.0 -> 0.2.0  success   1.2s  2026-...", its message below. */
static void say_run(json_t *r)
{
	char d[32];
	const char *st = str_or(r, "status", "?");
	json_t *m = json_object_get(r, "message");
	cli_result("#%-4lld %-7s %s -> %s  %s%-11s%s %6s  %s%s%s\n",
	           (long long)json_integer_value(json_object_get(r, "id")), str_or(r, "kind", "?"),
	           str_or(r, "from", "?"), str_or(r, "to", "?"), status_color(st), st, C_RESET,
	           run_duration(r, d, sizeof d), str_or(r, "started_at", ""),
	           json_is_string(m) ? "\n      " : "", json_is_string(m) ? json_string_value(m) : "");
}

static int show_run(const char *arg)
{
	char *doc = NULL, *end, d[32];
	long id;
	json_t *j, *s;
	size_t i;
	int rc;
	errno = 0;
	id = strtol(arg[0] == '#' ? arg + 1 : arg, &end, 10);
	if (errno || *end || end == arg || id <= 0)
		return cli_error(EXIT_USAGE, "history: RUN is a run's number, as 'ferry history' "
		                             "shows it, not '%s'", arg);
	if ((rc = ferry_history_run(&doc, cli.f, id)))
		return cli_fail(rc);
	if (!(j = cli_doc(doc)))
		return 0;
	say_run(json_object_get(j, "run"));
	if (!json_array_size(json_object_get(j, "steps")))
		cli_result("  no steps\n");
	json_array_foreach(json_object_get(j, "steps"), i, s) {
		const char *st = str_or(s, "status", "?");
		json_t *m = json_object_get(s, "message");
		cli_result("  %s%-11s%s %6s  %s%s%s\n", status_color(st), st, C_RESET,
		           cli_duration((long long)json_integer_value(json_object_get(s, "duration_ms")),
		                        d, sizeof d),
		           str_or(s, "id", "?"), json_is_string(m) ? "\n              " : "",
		           json_is_string(m) ? json_string_value(m) : "");
	}
	json_decref(j);
	return 0;
}

int cmd_history(int argc, char **argv)
{
	int versions = 0;
	const char *run = NULL;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "versions", &versions, "the version history of versions.yaml instead"),
		OPT_FLAG_(0, "version", &versions, "the same as --versions (the SPEC's spelling)"),
		OPT_ARG_("RUN", &run, 0, "one run's number: its steps, each outcome, duration, message"),
		OPT_END_
	};
	char *doc = NULL;
	json_t *j, *a, *r;
	size_t i;
	int rc = cli_parse("history", "List the runs, newest first, with their outcome and "
	                              "duration; with RUN, that run's steps.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (run && versions)
		return cli_error(EXIT_USAGE, "history: give RUN or --versions, not both");
	if (run)
		return show_run(run);
	rc = versions ? ferry_versions(&doc, cli.f) : ferry_history(&doc, cli.f);
	if (rc)
		return cli_fail(rc);
	if (!(j = cli_doc(doc)))
		return 0;
	if (versions) {
		a = json_object_get(j, "versions");
		json_array_foreach(a, i, r) {
			json_t *n = json_object_get(r, "notes");
			cli_result("%s%-12s%s%s %s%s\n", json_is_true(json_object_get(r, "current")) ?
			           C_BOLD : "", json_string_value(json_object_get(r, "version")), C_RESET,
			           json_is_true(json_object_get(r, "required_stop")) ?
			                   " (required stop)" : "",
			           json_is_string(n) ? json_string_value(n) : "",
			           json_is_true(json_object_get(r, "current")) ? "  <- current" : "");
		}
	} else {
		a = json_object_get(j, "runs");
		if (!json_array_size(a))
			cli_result("no runs yet\n");
		json_array_foreach(a, i, r)
			say_run(r);
	}
	json_decref(j);
	return 0;
}
