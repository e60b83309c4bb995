/*
 * main.c - the ferry tool: global options, then one command from the
 * table below. Set-up that commands share (finding the root, opening the
 * installation) is driven by each command's flags, not repeated.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cli_globals cli;

const cli_cmd cli_commands[] = {
	{ "init", cmd_init, 0, "create ferry.yaml, migrations/ and .ferry/ here" },
	{ "new", cmd_new, CMD_SETUP, "create a numbered step file for a version" },
	{ "status", cmd_status, CMD_SETUP, "current and latest version, pending work, lock" },
	{ "list", cmd_list, CMD_SETUP, "every step with its state" },
	{ "history", cmd_history, CMD_SETUP, "runs, newest first; history RUN: one run's steps" },
	{ "plan", cmd_plan, CMD_SETUP, "the path to a version, step by step (--json, --dot)" },
	{ "up", cmd_up, CMD_SETUP, "migrate to a version (default: the latest)" },
	{ "down", cmd_down, CMD_SETUP, "migrate back to a version through each step's down" },
	{ "verify", cmd_verify, CMD_SETUP, "check applied steps, databases and state" },
	{ "check", cmd_check, CMD_SETUP, "pre-flight for an upgrade; changes nothing" },
	{ "backup", cmd_backup, CMD_SETUP, "create, list, verify, restore or prune backups" },
	{ "export", cmd_export, CMD_SETUP, "write a database's data as JSON lines (-o FILE)" },
	{ "import", cmd_import, CMD_SETUP, "read an export into a database, all rows or none" },
	{ "rollback", cmd_rollback, CMD_SETUP, "restore a backup and its version (--last: newest)" },
	{ "version", cmd_version, CMD_SETUP, "print the current version (--set V: record one)" },
	{ "unlock", cmd_unlock, CMD_SETUP, "clear the lock file (--force: even if held)" },
	{ "recover", cmd_recover, CMD_SETUP, "after an interrupted run: roll it back (or --resume)" },
	{ "pause", cmd_pause, CMD_SETUP, "pause the run in progress at its next safe point" },
	{ "resume", cmd_resume, CMD_SETUP, "let a paused run go on" },
	{ "serve", cmd_serve, CMD_SETUP, "the migration dashboard: a local web page and its API" },
	{ "completion", cmd_completion, 0, "print the shell completion script (bash, zsh, fish)" },
	{ NULL, NULL, 0, NULL }
};

static void usage(FILE *fp)
{
	const cli_cmd *c;
	const cli_opt *o;
	fputs("usage: ferry [global options] <command> [options] [arguments]\n\n"
	      "ferry upgrades a self-hosted application's installation between versions:\n"
	      "it plans the path, applies each migration step, records it, and undoes the\n"
	      "run when a step fails.\n\ncommands:\n", fp);
	for (c = cli_commands; c->name; c++)
		fprintf(fp, "    %-10s %s\n", c->name, c->summary);
	fputs("\nglobal options:\n"
	      "    -C DIR          the installation (default: the nearest folder up with ferry.yaml)\n",
	      fp);
	for (o = cli_output_opts; o->type != OPT_END; o++) {
		char left[32];
		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->long_name);
		else
			snprintf(left, sizeof left, "--%s", o->long_name);
		fprintf(fp, "    %-15s %s\n", left, o->help);
	}
	fputs("    --version       print ferry's version\n"
	      "    -h, --help      this help; 'ferry <command> --help' for a command\n"
	      "\nexit codes: 0 ok, 1 failed and rolled back, 2 bad input, 3 verification found\n"
	      "problems, 4 locked, 5 failed and not brought back, 130 interrupted\n", fp);
}

static int open_installation(void)
{
	ferry_open_options o = FERRY_OPEN_OPTIONS_INIT;
	int rc;
	o.flags = FERRY_OPEN_ONE_SHOT; /* one command a process: no change watch to pay for */
	if (cli.dir) {
		if (access(cli.dir, F_OK) != 0)
			return cli_error(EXIT_USAGE, "no folder '%s'", cli.dir);
		rc = ferry_find_root(&cli.root, cli.dir);
	} else {
		rc = ferry_find_root(&cli.root, ".");
	}
	if (rc)
		return cli_report(EXIT_USAGE, "no ferry.yaml in '%s' or any folder above it "
		                             "(run 'ferry init' to make one, or use -C DIR)",
		                 cli.dir ? cli.dir : ".");
	o.log = cli_log;
	o.progress = cli_progress;
	rc = ferry_open(&cli.f, cli.root, &o);
	if (rc)
		return cli_fail(rc);
	return 0;
}

int main(int argc, char **argv)
{
	const cli_cmd *c;
	int i, rc;
	const char *nc = getenv("NO_COLOR");
	/* Colors allowed; each stream then gets them only if it is a terminal (cli_color_on). */
	cli.color = !(nc && *nc);
	/* --json anywhere (before a "--"): a usage error is then a document too. */
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		cli.json |= !strcmp(argv[i], "--json");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-C")) {
			if (++i >= argc)
				return cli_error(EXIT_USAGE, "-C needs a folder");
			cli.dir = argv[i];
		} else if (!strncmp(a, "-C", 2)) {
			cli.dir = a + 2;
		} else if (cli_output_opt(a)) {
			const cli_opt *o = cli_output_opt(a);
			*(int *)o->value = o->value != &cli.color;
		} else if (!strcmp(a, "--version")) {
			if (cli.json)
				printf("{\n  \"ferry_version\": \"%s\"\n}\n", FERRY_VERSION_STRING);
			else
				printf("ferry %s\n", FERRY_VERSION_STRING);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			cli_error(EXIT_USAGE, "unknown global option '%s'", a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return cli.json ? cli_error(EXIT_USAGE, "no command given (see 'ferry --help')") :
		                  EXIT_USAGE;
	}
	for (c = cli_commands; c->name; c++)
		if (!strcmp(c->name, argv[i]))
			break;
	if (!c->name) {
		cli_error(EXIT_USAGE, "unknown command '%s' (see 'ferry --help')", argv[i]);
		return EXIT_USAGE;
	}
	/* A command's --help needs no installation. */
	if (c->flags & CMD_SETUP) {
		int j, help = 0;
		for (j = i + 1; j < argc; j++)
			help |= !strcmp(argv[j], "-h") || !strcmp(argv[j], "--help");
		if (!help && (rc = open_installation()) != 0) {
			ferry_close(cli.f);
			free(cli.root);
			return rc;
		}
	}
	rc = c->fn(argc - i, argv + i);
	ferry_close(cli.f);
	free(cli.root);
	fflush(stdout);
	return rc;
}
