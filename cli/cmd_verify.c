/* cmd_verify.c - `ferry verify` and `ferry check`: findings, exit 3 when any. */
#include "cli.h"

#include <jansson.h>

static int show_findings(int rc, char *doc, const char *ok_text)
{
	json_t *j, *f;
	size_t i;
	if (rc && rc != FERRY_EVERIFY)
		return cli_fail(rc);
	if (cli.json)
		cli_print_json(doc);
	j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	/* With --json the document is on stdout; the findings are said on stderr too. */
	json_array_foreach(json_object_get(j, "findings"), i, f) {
		const char *kind = json_string_value(json_object_get(f, "kind"));
		const char *subject = json_string_value(json_object_get(f, "subject"));
		const char *msg = json_string_value(json_object_get(f, "message"));
		if (cli.json)
			cli_error(0, "%s: %s: %s", kind, subject, msg);
		else
			cli_result("%s%-12s%s %s: %s\n", C_RED, kind, C_RESET, subject, msg);
	}
	/* check: the lock each database is taken with (PostgreSQL). */
	json_array_foreach(json_object_get(j, "locks"), i, f) {
		if (!cli.json)
			cli_say("lock %s: %s, %s\n",
			        json_string_value(json_object_get(f, "database")),
			        json_string_value(json_object_get(f, "lock")),
			        json_string_value(json_object_get(f, "detail")));
	}
	if (rc == 0) {
		if (!cli.json)
			cli_say("%sok%s %s\n", C_GREEN, C_RESET, ok_text);
	} else {
		cli_error(rc, "%zu problem%s found", json_array_size(json_object_get(j, "findings")),
		          json_array_size(json_object_get(j, "findings")) == 1 ? "" : "s");
	}
	json_decref(j);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static const cli_opt opts[] = { OPT_END_ };
	char *doc = NULL;
	int rc = cli_parse("verify", "Check every applied step's checksum against its file, run "
	                             "each step's verify query, check each database's integrity "
	                             "(integrity_check, foreign_key_check), and that state.db, the "
	                             "databases' records and the version file agree. Exit 3 on any "
	                             "finding.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = ferry_verify(&doc, cli.f);
	return show_findings(rc, doc, "everything applied checks out");
}

int cmd_check(int argc, char **argv)
{
	const char *target = NULL;
	const cli_opt opts[] = {
		OPT_ARG_("TARGET", &target, 0, "the version an upgrade would go to (default: latest)"),
		OPT_END_
	};
	char *doc = NULL;
	int rc = cli_parse("check", "Pre-flight for an upgrade, changing nothing: the lock is free, "
	                            "files parse, a path exists, databases are reachable and "
	                            "writable, no applied step drifted. Exit 3 on any finding.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = ferry_check(&doc, cli.f, target);
	return show_findings(rc, doc, "ready to upgrade");
}
