/*
 * cmd_plan.c - `ferry plan`: the path to a version, step by step, as text,
 * JSON or Graphviz (--dot). All of it is the result: printed with -q too.
 */
#include "cli.h"

#include <jansson.h>
#include <string.h>

/* A step as a transition lists it: kind, id, its database, what it is. */
static void say_step(json_t *s)
{
	json_t *db = json_object_get(s, "database");
	cli_result("  %-4s %s%s%s%s%s\n", json_string_value(json_object_get(s, "kind")),
	           json_string_value(json_object_get(s, "id")), json_is_string(db) ? "  on " : "",
	           json_is_string(db) ? json_string_value(db) : "",
	           json_is_true(json_object_get(s, "empty")) ? "  (empty)" : "",
	           json_is_false(json_object_get(s, "reversible")) ? "  (irreversible)" : "");
}

/* Other tools' steps of versions reached: they run at the version, which stays. */
static void say_schema_only(json_t *so)
{
	size_t k;
	json_t *s;
	if (!json_is_object(so))
		return;
	cli_result("\n%sschema only at %s%s  (other tools' migrations; the version stays)\n", C_BOLD,
	           json_string_value(json_object_get(so, "version")), C_RESET);
	json_array_foreach(json_object_get(so, "steps"), k, s)
		say_step(s);
}

int cmd_plan(int argc, char **argv)
{
	const char *target = NULL;
	int dot = 0;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "dot", &dot, "print the version graph for Graphviz, the path in bold"),
		OPT_STR_(0, "only", &o.only, "STEP_ID", "plan just this step, even if applied"),
		OPT_STR_(0, "rerun", &o.rerun, "STEP_ID", "plan this step again, then the rest"),
		OPT_FLAG_(0, "skip-backup", &o.skip_backup, "plan no pre-run backup"),
		OPT_FLAG_(0, "no-hooks", &o.no_hooks, "plan no stop/restart/start/health hooks"),
		OPT_FLAG_(0, "checkpoint-each-version", &o.checkpoint_each_version,
		          "plan a backup after each version"),
		OPT_FLAG_(0, "force", &o.force, "plan despite drift (up --force runs it)"),
		OPT_FLAG_(0, "allow-out-of-order", &o.allow_out_of_order,
		          "plan the steps added to versions already passed, first"),
		OPT_ARG_("TARGET", &target, 0, "the version to reach (default: the latest)"),
		OPT_END_
	};
	ferry_plan *p = NULL;
	char *doc = NULL;
	json_t *j, *trs, *t, *s;
	size_t i, k;
	int rc = cli_parse("plan", "Show the path from the current version to TARGET: each "
	                           "transition and step, breaking changes, restarts, whether a "
	                           "backup is needed, and the estimated duration.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (dot && cli.json)
		return cli_error(EXIT_USAGE, "plan: --dot and --json are two formats; give one");
	if ((rc = ferry_plan_for(&p, cli.f, target, &o)))
		return cli_fail(rc);
	rc = dot ? ferry_plan_dot(&doc, p) : ferry_plan_json(&doc, p);
	ferry_plan_free(p);
	if (rc)
		return cli_fail(rc);
	if (dot || cli.json) {
		cli.printed = 1;
		fputs(doc, stdout);
		if (!dot)
			fputc('\n', stdout);
		ferry_free(doc);
		return 0;
	}
	j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	trs = json_object_get(j, "transitions");
	if (json_array_size(json_object_get(j, "drift"))) {
		cli_result("%s%zu applied step%s drifted%s (up refuses without --force):\n", C_YELLOW,
		        json_array_size(json_object_get(j, "drift")),
		        json_array_size(json_object_get(j, "drift")) == 1 ? "" : "s", C_RESET);
		json_array_foreach(json_object_get(j, "drift"), i, s)
			cli_result("  %s\n", json_string_value(s));
	}
	if (json_array_size(json_object_get(j, "out_of_order")) &&
	    !json_is_true(json_object_get(json_object_get(j, "options"), "allow_out_of_order"))) {
		cli_result("%s%zu step%s out of order%s (up refuses without --allow-out-of-order):\n",
		        C_YELLOW, json_array_size(json_object_get(j, "out_of_order")),
		        json_array_size(json_object_get(j, "out_of_order")) == 1 ? "" : "s", C_RESET);
		json_array_foreach(json_object_get(j, "out_of_order"), i, s)
			cli_result("  %s\n", json_string_value(s));
	}
	if (!json_array_size(json_object_get(j, "actions"))) {
		cli_result("at %s: nothing to do\n", json_string_value(json_object_get(j, "from")));
		json_decref(j);
		return 0;
	}
	if (!json_array_size(trs)) {
		if (strcmp(json_string_value(json_object_get(j, "from")),
		           json_string_value(json_object_get(j, "to"))))
			cli_result("%s -> %s: no steps, the version is recorded\n",
			        json_string_value(json_object_get(j, "from")),
			        json_string_value(json_object_get(j, "to")));
		say_schema_only(json_object_get(j, "schema_only"));
		cli_result("\nwhat a run does, in order:\n");
		cli_say_actions(json_object_get(j, "actions"));
		json_decref(j);
		return 0;
	}
	cli_result("%splan%s %s -> %s via", C_BOLD, C_RESET,
	        json_string_value(json_object_get(j, "from")),
	        json_string_value(json_object_get(j, "to")));
	json_array_foreach(json_object_get(j, "path"), i, s)
		cli_result(" %s", json_string_value(s));
	cli_result("\n");
	say_schema_only(json_object_get(j, "schema_only"));
	json_array_foreach(trs, i, t) {
		json_t *d = json_object_get(t, "description");
		cli_result("\n%s%s -> %s%s%s%s%s\n", C_BOLD, json_string_value(json_object_get(t, "from")),
		        json_string_value(json_object_get(t, "to")), C_RESET,
		        json_is_string(d) ? "  " : "", json_is_string(d) ? json_string_value(d) : "",
		        json_is_true(json_object_get(t, "breaking_changes")) ? "  [breaking]" : "");
		json_array_foreach(json_object_get(t, "notes"), k, s)
			cli_result("  note: %s\n", json_string_value(s));
		json_array_foreach(json_object_get(t, "steps"), k, s)
			say_step(s);
	}
	cli_result("\nestimated %.0f s; backup %s",
	        json_real_value(json_object_get(j, "estimated_duration_seconds")),
	        json_is_true(json_object_get(j, "backup_required")) ? "needed" : "not needed");
	if (json_array_size(json_object_get(j, "restarts"))) {
		cli_result("; restarts:");
		json_array_foreach(json_object_get(j, "restarts"), i, s)
			cli_result(" %s", json_string_value(s));
	}
	if (json_array_size(json_object_get(j, "hooks"))) {
		cli_result("; hooks:");
		json_array_foreach(json_object_get(j, "hooks"), i, s)
			cli_result(" %s", json_string_value(s));
	}
	cli_result("\n\nwhat a run does, in order:\n");
	cli_say_actions(json_object_get(j, "actions"));
	if (json_is_string(json_object_get(j, "required_stop")))
		cli_result("%sstops at %s%s, a required stop: the application must run at that version "
		        "before going on to %s\n", C_YELLOW, json_string_value(json_object_get(j, "to")),
		        C_RESET, json_string_value(json_object_get(j, "requested")));
	json_decref(j);
	return 0;
}
