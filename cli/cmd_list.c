/*
 * cmd_list.c - `ferry list`: every step, its state, when it was applied and
 * how long it took (the command's result: printed with -q too).
 */
#include "cli.h"

#include <jansson.h>
#include <string.h>

static const char *state_color(const char *s)
{
	if (!strcmp(s, "applied") || !strcmp(s, "skipped"))
		return C_GREEN;
	if (!strcmp(s, "pending") || !strcmp(s, "bypassed"))
		return C_DIM;
	if (!strcmp(s, "rolled_back"))
		return C_YELLOW;
	return C_RED;
}

int cmd_list(int argc, char **argv)
{
	static const cli_opt opts[] = { OPT_END_ };
	char *doc = NULL;
	json_t *j, *steps, *s;
	size_t i;
	int rc = cli_parse("list", "List every step with its state: applied, pending, skipped, "
	                           "failed, rolled_back, changed (applied, file differs now), "
	                           "missing (applied, file gone), out_of_order (added to a version "
	                           "already passed: up refuses it until --allow-out-of-order) or "
	                           "bypassed (not applied, at or below the current version: the "
	                           "path went another way, or it is below the baseline).",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = ferry_list(&doc, cli.f)))
		return cli_fail(rc);
	if (!(j = cli_doc(doc)))
		return 0;
	steps = json_object_get(j, "steps");
	if (!json_array_size(steps))
		cli_result("no steps in the migrations folder\n");
	json_array_foreach(steps, i, s) {
		const char *st = json_string_value(json_object_get(s, "state"));
		json_t *at = json_object_get(s, "applied_at"), *base = json_object_get(s, "baseline");
		json_t *dur = json_object_get(s, "duration_ms");
		char d[32];
		cli_result("%s%-12s%s %s%s%s", state_color(st), st, C_RESET,
		           json_string_value(json_object_get(s, "id")),
		           json_is_string(at) ? "  " : "", json_is_string(at) ? json_string_value(at) : "");
		if (json_is_integer(dur))
			cli_result("  %s", cli_duration((long long)json_integer_value(dur), d, sizeof d));
		if (json_is_string(base))
			cli_result("  (below the baseline %s)", json_string_value(base));
		cli_result("\n");
	}
	json_decref(j);
	return 0;
}
