/*
 * cmd_misc.c - `ferry unlock` and `ferry recover`. What they print is
 * chatter (a confirmation, hidden by -q); under --json each prints a
 * document saying what was done.
 */
#include "cli.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

int cmd_unlock(int argc, char **argv)
{
	int force = 0;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "force", &force, "remove the lock file even though a process holds it"),
		OPT_END_
	};
	int rc = cli_parse("unlock", "Clear the lock file. A lock dies with its holder, so this is "
	                             "needed only with --force, for a holder that is stuck.",
	                   opts, argc, argv);
	char path[4096];
	int had;
	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(path, sizeof path, "%s/.ferry/lock", cli.root);
	had = access(path, F_OK) == 0;
	if ((rc = ferry_unlock(cli.f, force)))
		return cli_fail(rc);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, "unlocked", json_true());
		json_object_set_new(j, "removed", json_boolean(had));
		json_object_set_new(j, "force", json_boolean(force));
		json_object_set_new(j, "lock_file", json_string(path));
		cli_print_object(j);
	} else {
		cli_say(had ? "unlocked\n" : "unlocked (there was no lock file)\n");
	}
	return 0;
}

int cmd_recover(int argc, char **argv)
{
	int resume = 0;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "resume", &resume, "keep what the run applied; 'ferry up' goes on from it"),
		OPT_END_
	};
	char *doc = NULL;
	int rc = cli_parse("recover", "After an interrupted run (kill -9, power loss): roll back the "
	                              "steps it committed, from their recorded down.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = ferry_recover(cli.f, resume);
	if (rc)
		return cli_fail(rc);
	if (ferry_last_run(&doc, cli.f) == 0) {
		if (cli.json) {
			cli_print_json(doc);
		} else {
			json_t *j = json_loads(doc, 0, NULL);
			const char *st = json_string_value(json_object_get(j, "status"));
			if (st && !strcmp(st, "noop"))
				cli_say("no interrupted run\n");
			else
				cli_say("recovered: the installation is at %s\n",
				        json_string_value(json_object_get(j, "to")));
			json_decref(j);
		}
		ferry_free(doc);
	}
	return 0;
}
