/* cmd_list.c - `ferry list`: every step and its state. */
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
		cli_say("no steps in the migrations folder\n");
	json_array_foreach(steps, i, s) {
		const char *st = json_string_value(json_object_get(s, "state"));
		json_t *at = json_object_get(s, "applied_at"), *base = json_object_get(s, "baseline");
		cli_say("%s%-12s%s %s%s%s", state_color(st), st, C_RESET,
		        json_string_value(json_object_get(s, "id")),
		        json_is_string(at) ? "  " : "", json_is_string(at) ? json_string_value(at) : "");
		if (json_is_string(base))
			cli_say("  (below the baseline %s)", json_string_value(base));
		cli_say("\n");
	}
	json_decref(j);
	return 0;
}
