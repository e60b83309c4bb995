/*
 * cmd_pause.c - `ferry pause` and `ferry resume`: ask the run in progress,
 * whichever process runs it, to wait at its next safe point, and let it go
 * on (ferry_pause, ferry_resume). The confirmation is chatter; under
 * --json a document says what was asked. No run in progress: exit 1.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

static int pause_or_resume(const char *cmd, int pause, int argc, char **argv)
{
	static const cli_opt opts[] = { OPT_END_ };
	char by[64];
	int rc = cli_parse(cmd, pause ? "Pause the run in progress (started by any process) at its "
	                                "next safe point, between actions with no transaction open; "
	                                "it keeps the lock. Exit 1 when no run is in progress."
	                              : "Let a paused run go on. Exit 1 when no run is in progress "
	                                "or it is not paused.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(by, sizeof by, "ferry pause (pid %ld)", (long)getpid());
	rc = pause ? ferry_pause(cli.f, by) : ferry_resume(cli.f);
	if (rc)
		return cli_fail(rc);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, pause ? "pause" : "resume", json_string("requested"));
		if (pause)
			json_object_set_new(j, "by", json_string(by));
		cli_print_object(j);
	} else {
		cli_say(pause ? "pause requested: the run waits at its next safe point "
		                "('ferry status' shows it paused)\n"
		              : "resumed\n");
	}
	return 0;
}

int cmd_pause(int argc, char **argv)
{
	return pause_or_resume("pause", 1, argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return pause_or_resume("resume", 0, argc, argv);
}
