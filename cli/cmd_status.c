/*
 * cmd_status.c - `ferry status`: where the installation is and what is
 * pending (the command's result: printed with -q too).
 */
#include "cli.h"

#include <jansson.h>
#include <string.h>

int cmd_status(int argc, char **argv)
{
	static const cli_opt opts[] = { OPT_END_ };
	char *doc = NULL;
	json_t *j, *v, *lock, *last;
	size_t i;
	int missing;
	int rc = cli_parse("status", "Show the current and latest version, pending transitions and "
	                             "steps, the last run, the lock holder and any interrupted run.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = ferry_status(&doc, cli.f)))
		return cli_fail(rc);
	if (!(j = cli_doc(doc)))
		return 0;
	cli_result("%s%s%s at %s%s%s (latest %s)\n", C_BOLD, json_string_value(json_object_get(j, "app")),
	        C_RESET, C_BOLD, json_string_value(json_object_get(j, "current")), C_RESET,
	        json_string_value(json_object_get(j, "latest")));
	v = json_object_get(j, "missing_databases");
	for (i = 0; i < json_array_size(v); i++) {
		json_t *d = json_array_get(v, i);
		json_int_t n = json_integer_value(json_object_get(d, "applied_steps"));
		cli_result("%sdatabase '%s' is missing:%s '%s' does not exist, but %lld step%s "
		           "recorded as applied to it ('ferry up' refuses; restore it from a backup)\n",
		           C_RED, json_string_value(json_object_get(d, "database")), C_RESET,
		           json_string_value(json_object_get(d, "path")), (long long)n,
		           n == 1 ? " is" : "s are");
	}
	missing = json_array_size(v) > 0;
	v = json_object_get(j, "pending_transitions");
	if (json_array_size(v)) {
		cli_result("pending: %zu transition%s, %lld step%s\n", json_array_size(v),
		        json_array_size(v) == 1 ? "" : "s",
		        (long long)json_integer_value(json_object_get(j, "pending_steps")),
		        json_integer_value(json_object_get(j, "pending_steps")) == 1 ? "" : "s");
		for (i = 0; i < json_array_size(v); i++) {
			json_t *t = json_array_get(v, i);
			cli_result("  %s -> %s\n", json_string_value(json_object_get(t, "from")),
			        json_string_value(json_object_get(t, "to")));
		}
	} else if (json_integer_value(json_object_get(j, "schema_only_steps")) > 0) {
		/* other tools' steps at the version reached: they run, the version stays */
		long long n = (long long)json_integer_value(json_object_get(j, "schema_only_steps"));
		cli_result("pending: %lld step%s schema only (other tools' migrations; the version "
		           "stays %s)\n", n, n == 1 ? "" : "s",
		           json_string_value(json_object_get(j, "current")));
	} else if (json_object_get(j, "plan_error")) {
		cli_result("%spending: no path to the latest version:%s %s\n", C_YELLOW, C_RESET,
		        json_string_value(json_object_get(j, "plan_error")));
	} else if (!missing) {
		cli_result("%sup to date%s\n", C_GREEN, C_RESET);
	}
	last = json_object_get(j, "last_run");
	if (json_is_object(last))
		cli_result("last run: #%lld %s %s -> %s, %s, %s\n",
		        (long long)json_integer_value(json_object_get(last, "id")),
		        json_string_value(json_object_get(last, "kind")),
		        json_string_value(json_object_get(last, "from")),
		        json_string_value(json_object_get(last, "to")),
		        json_string_value(json_object_get(last, "status")),
		        json_is_string(json_object_get(last, "started_at")) ?
		                json_string_value(json_object_get(last, "started_at")) : "?");
	lock = json_object_get(j, "locked_by");
	if (json_is_object(lock) && json_is_string(json_object_get(lock, "holder")))
		cli_result("%slocked%s on database '%s' by %s\n", C_YELLOW, C_RESET,
		        json_string_value(json_object_get(lock, "database")),
		        json_string_value(json_object_get(lock, "holder")));
	else if (json_is_object(lock))
		cli_result("%slocked%s by pid %lld on %s since %s\n", C_YELLOW, C_RESET,
		        (long long)json_integer_value(json_object_get(lock, "pid")),
		        json_is_string(json_object_get(lock, "host")) ?
		                json_string_value(json_object_get(lock, "host")) : "?",
		        json_is_string(json_object_get(lock, "since")) ?
		                json_string_value(json_object_get(lock, "since")) : "?");
	v = json_object_get(j, "paused");
	if (json_is_object(v))
		cli_result("%spaused%s since %s by %s ('ferry resume' lets it go on)\n", C_YELLOW,
		        C_RESET, json_string_value(json_object_get(v, "since")),
		        json_string_value(json_object_get(v, "by")));
	if (json_array_size(json_object_get(j, "out_of_order"))) {
		json_t *o;
		size_t k;
		cli_result("%sout of order:%s added to versions already passed, never applied ('ferry up "
		        "--allow-out-of-order' applies them):\n", C_YELLOW, C_RESET);
		json_array_foreach(json_object_get(j, "out_of_order"), k, o)
			cli_result("  %s\n", json_string_value(o));
	}
	if (json_is_true(json_object_get(j, "interrupted")))
		cli_result("%sinterrupted run:%s run 'ferry recover' to roll it back "
		        "(or 'ferry recover --resume')\n", C_RED, C_RESET);
	json_decref(j);
	return 0;
}
