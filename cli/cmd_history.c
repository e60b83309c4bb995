/* cmd_history.c - `ferry history`: runs newest first, or the version notes. */
#include "cli.h"

#include <jansson.h>
#include <string.h>

int cmd_history(int argc, char **argv)
{
	int versions = 0;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "versions", &versions, "the version history of versions.yaml instead"),
		OPT_FLAG_(0, "version", &versions, "the same as --versions (the SPEC's spelling)"),
		OPT_END_
	};
	char *doc = NULL;
	json_t *j, *a, *r;
	size_t i;
	int rc = cli_parse("history", "List the runs, newest first, with their outcome.", opts,
	                   argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = versions ? ferry_versions(&doc, cli.f) : ferry_history(&doc, cli.f);
	if (rc)
		return cli_fail(rc);
	if (!(j = cli_doc(doc)))
		return 0;
	if (versions) {
		a = json_object_get(j, "versions");
		json_array_foreach(a, i, r) {
			json_t *n = json_object_get(r, "notes");
			cli_say("%s%-12s%s%s %s%s\n", json_is_true(json_object_get(r, "current")) ?
			        C_BOLD : "", json_string_value(json_object_get(r, "version")), C_RESET,
			        json_is_true(json_object_get(r, "required_stop")) ? " (required stop)" : "",
			        json_is_string(n) ? json_string_value(n) : "",
			        json_is_true(json_object_get(r, "current")) ? "  <- current" : "");
		}
	} else {
		a = json_object_get(j, "runs");
		if (!json_array_size(a))
			cli_say("no runs yet\n");
		json_array_foreach(a, i, r) {
			json_t *m = json_object_get(r, "message");
			const char *st = json_string_value(json_object_get(r, "status"));
			cli_say("#%-4lld %-5s %s -> %s  %s%s%s  %s%s%s\n",
			        (long long)json_integer_value(json_object_get(r, "id")),
			        json_string_value(json_object_get(r, "kind")),
			        json_string_value(json_object_get(r, "from")),
			        json_string_value(json_object_get(r, "to")),
			        !strcmp(st, "success") ? C_GREEN : C_YELLOW, st, C_RESET,
			        json_is_string(json_object_get(r, "started_at")) ?
			                json_string_value(json_object_get(r, "started_at")) : "",
			        json_is_string(m) ? "\n      " : "", json_is_string(m) ?
			                json_string_value(m) : "");
		}
	}
	json_decref(j);
	return 0;
}
