/*
 * cmd_backup.c - `ferry backup create|list|verify|restore|prune` and
 * `ferry rollback` (SPEC sections 5 and 8). SIGINT and SIGTERM ask the
 * library to stop: a backup stopped half-way leaves no archive, a restore
 * stopped before its swap changes nothing.
 */
#include "cli.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static ferry *running;

static void on_signal(int sig)
{
	(void)sig;
	ferry_interrupt(running);
}

static void catch_signals(ferry *f)
{
	struct sigaction sa;
	running = f;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void human_size(char *buf, size_t n, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void human_age(char *buf, size_t n, long long s)
{
	if (s < 120)
		snprintf(buf, n, "%llds", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(buf, n, "%lldm", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, n, "%lldh", s / 3600);
	else
		snprintf(buf, n, "%lldd", s / 86400);
}

/* The backup list as parsed JSON, or NULL after reporting the failure. */
static json_t *list_json(void)
{
	char *doc = NULL;
	json_t *j;
	if (ferry_backup_list(&doc, cli.f)) {
		cli_fail(ferry_errcode(cli.f));
		return NULL;
	}
	j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	return j;
}

/* The entry of backup id in a list, or NULL. */
static json_t *list_find(json_t *list, const char *id)
{
	json_t *b;
	size_t i;
	json_array_foreach(json_object_get(list, "backups"), i, b)
		if (!strcmp(json_string_value(json_object_get(b, "id")), id))
			return b;
	return NULL;
}

static int backup_create(int argc, char **argv)
{
	const char *type = NULL, *name = NULL, *comp = NULL;
	int verify = 0;
	const cli_opt opts[] = {
		OPT_STR_(0, "type", &type, "T", "manual (default), pre-run, checkpoint, safety..."),
		OPT_STR_(0, "name", &name, "N", "a label added to the id"),
		OPT_STR_(0, "compression", &comp, "C", "zstd, gzip or none (default: ferry.yaml's, zstd)"),
		OPT_FLAG_(0, "verify", &verify, "read the archive back whole before saying it is written"),
		OPT_END_
	};
	ferry_backup_options o = FERRY_BACKUP_OPTIONS_INIT;
	char *id = NULL;
	json_t *list, *b;
	int rc = cli_parse("backup create", "Write a backup archive of the installation: the "
	                   "files backup.include names under files/, a consistent copy of each "
	                   "database under databases/, and MANIFEST.json with every entry's "
	                   "SHA-256. Any tar with zstd or gzip can open it.", opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	o.type = type;
	o.name = name;
	o.compression = comp;
	o.verify = verify;
	catch_signals(cli.f);
	if ((rc = ferry_backup_create(&id, cli.f, &o)))
		return cli_fail(rc);
	list = list_json();
	b = list ? list_find(list, id) : NULL;
	if (cli.json) {
		char *s = b ? json_dumps(b, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		cli_print_json(s ? s : "{}");
		free(s);
	} else {
		/* The id alone on stdout, for scripts: id=$(ferry -q backup create) */
		cli_result("%s\n", id);
		if (b && cli.verbose)
			cli_say("  %s\n", json_string_value(json_object_get(b, "path")));
	}
	json_decref(list);
	ferry_free(id);
	return 0;
}

static int backup_list(int argc, char **argv)
{
	const cli_opt opts[] = { OPT_END_ };
	json_t *list, *b, *arr;
	size_t i;
	int rc = cli_parse("backup list", "List the backups, newest first: id, version, type, "
	                   "size, age, and whether it was verified.", opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!(list = list_json()))
		return ferry_errcode(cli.f) ? ferry_errcode(cli.f) : EXIT_FAILED;
	if (cli.json) {
		char *s = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		cli_print_json(s ? s : "{}");
		free(s);
		json_decref(list);
		return 0;
	}
	arr = json_object_get(list, "backups");
	if (!json_array_size(arr))
		cli_say("no backups in '%s' (take one with 'ferry backup create')\n",
		        json_string_value(json_object_get(list, "dir")));
	else
		cli_result("%s%-44s %-10s %-10s %10s %5s  %s%s\n", C_BOLD, "ID", "VERSION", "TYPE", "SIZE",
		        "AGE", "STATUS", C_RESET);
	json_array_foreach(arr, i, b) {
		char size[32], age[32];
		json_t *v = json_object_get(b, "version");
		const char *st = json_string_value(json_object_get(b, "status"));
		human_size(size, sizeof size, (double)json_integer_value(json_object_get(b, "size")));
		human_age(age, sizeof age, json_integer_value(json_object_get(b, "age_seconds")));
		cli_result("%-44s %-10s %-10s %10s %5s  %s%s%s\n",
		        json_string_value(json_object_get(b, "id")),
		        json_is_string(v) ? json_string_value(v) : "?",
		        json_string_value(json_object_get(b, "type")), size, age,
		        !strcmp(st, "damaged") ? C_RED : !strcmp(st, "verified") ? C_GREEN : "", st,
		        C_RESET);
	}
	json_decref(list);
	return 0;
}

static int backup_verify(int argc, char **argv)
{
	const char *id = NULL;
	const cli_opt opts[] = {
		OPT_ARG_("ID", &id, 1, "the backup (an id from 'ferry backup list', or a path)"),
		OPT_END_
	};
	char *doc = NULL;
	json_t *j, *f;
	size_t i, n;
	int rc = cli_parse("backup verify", "Read the whole archive and check every entry's size "
	                   "and SHA-256 against its manifest. Exit 3 naming each bad entry.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	catch_signals(cli.f);
	rc = ferry_backup_verify(&doc, cli.f, id);
	if (rc && rc != FERRY_EVERIFY)
		return cli_fail(rc);
	if (cli.json)
		cli_print_json(doc);
	j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	n = json_array_size(json_object_get(j, "findings"));
	json_array_foreach(json_object_get(j, "findings"), i, f) {
		const char *kind = json_string_value(json_object_get(f, "kind"));
		const char *subject = json_string_value(json_object_get(f, "subject"));
		const char *msg = json_string_value(json_object_get(f, "message"));
		if (cli.json)
			cli_error(0, "%s: %s: %s", kind, subject, msg);
		else
			cli_result("%s%-10s%s %s: %s\n", C_RED, kind, C_RESET, subject, msg);
	}
	if (!rc && !cli.json)
		cli_say("%sok%s backup %s: %lld entries match the manifest\n", C_GREEN, C_RESET,
		        json_string_value(json_object_get(j, "id")),
		        (long long)json_integer_value(json_object_get(j, "entries")));
	else if (rc)
		cli_error(rc, "backup '%s' is damaged: %zu problem%s found; restore another backup",
		          json_string_value(json_object_get(j, "id")), n, n == 1 ? "" : "s");
	json_decref(j);
	return rc;
}

/* Restores id (NULL: the newest) and says what happened. */
static int do_restore(const char *id, int no_safety, int rollback)
{
	ferry_restore_options o = FERRY_RESTORE_OPTIONS_INIT;
	char *version = NULL;
	const char *restored = id, *safety = NULL;
	json_t *before = list_json(), *after = NULL, *b, *newest_safety = NULL;
	size_t i;
	int rc;
	o.no_safety_backup = no_safety;
	catch_signals(cli.f);
	rc = rollback ? ferry_rollback(cli.f, id, &o) : ferry_backup_restore(cli.f, id, &o);
	if (rc) {
		json_decref(before);
		return cli_fail(rc);
	}
	ferry_current_version(&version, cli.f);
	/* The safety backup is the one backup that was not there before. */
	after = list_json();
	json_array_foreach(json_object_get(after, "backups"), i, b) {
		const char *bid = json_string_value(json_object_get(b, "id"));
		if (!list_find(before, bid) &&
		    !strcmp(json_string_value(json_object_get(b, "type")), "safety"))
			newest_safety = b;
	}
	if (newest_safety)
		safety = json_string_value(json_object_get(newest_safety, "id"));
	if (!restored) {
		/* rollback --last: the newest non-safety backup that was there before */
		json_array_foreach(json_object_get(before, "backups"), i, b) {
			if (strcmp(json_string_value(json_object_get(b, "type")), "safety") &&
			    strcmp(json_string_value(json_object_get(b, "status")), "damaged")) {
				restored = json_string_value(json_object_get(b, "id"));
				break;
			}
		}
	}
	if (cli.json) {
		json_t *doc = json_object();
		char *s;
		json_object_set_new(doc, "restored", restored ? json_string(restored) : json_null());
		json_object_set_new(doc, "version", version ? json_string(version) : json_null());
		json_object_set_new(doc, "safety_backup", safety ? json_string(safety) : json_null());
		s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		cli_print_json(s ? s : "{}");
		free(s);
		json_decref(doc);
	} else {
		cli_say("%srestored%s %s: the installation is at %s%s%s%s\n", C_GREEN, C_RESET,
		        restored ? restored : "the newest backup", version ? version : "?",
		        safety ? " (the state before is in " : "", safety ? safety : "",
		        safety ? ")" : "");
	}
	ferry_free(version);
	json_decref(before);
	json_decref(after);
	return 0;
}

static int backup_restore(int argc, char **argv)
{
	const char *id = NULL;
	int no_safety = 0;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "no-safety-backup", &no_safety, "do not back up the current state first"),
		OPT_ARG_("ID", &id, 1, "the backup (an id from 'ferry backup list', or a path)"),
		OPT_END_
	};
	int rc = cli_parse("backup restore", "Restore a backup: check every entry while staging "
	                   "it beside the installation, back up the current state, swap the files "
	                   "in, restore each database and record the backup's version. On any "
	                   "failure the installation is left as it was.", opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	return do_restore(id, no_safety, 0);
}

/* "30d", "12h", "90m", "45s", "2w"; a bare number is days. -1 when invalid. */
static long parse_age(const char *s)
{
	char *end;
	long n, unit = 86400;
	if (!s || !*s)
		return -1;
	n = strtol(s, &end, 10);
	if (end == s || n < 0)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -1;
		}
	}
	if (n > 0 && unit > 0 && n > 1000000000L / unit)
		return -1;
	return n * unit;
}

static int backup_prune(int argc, char **argv)
{
	int keep = -1;
	const char *older = NULL;
	long age = 0;
	const cli_opt opts[] = {
		OPT_INT_(0, "keep", &keep, "N", "keep the newest N (default: backup.keep, 10)"),
		OPT_STR_(0, "older-than", &older, "AGE", "also remove backups older than AGE (30d, "
		         "12h, 2w)"),
		OPT_END_
	};
	char *doc = NULL;
	json_t *j, *v;
	size_t i;
	int rc = cli_parse("backup prune", "Remove old backups: those beyond the newest N and "
	                   "those older than AGE. The newest good backup is always kept.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (older && (age = parse_age(older)) < 0)
		return cli_error(EXIT_USAGE, "backup prune: --older-than takes an age such as 30d, "
		                             "12h or 2w, not '%s'", older);
	if ((rc = ferry_backup_prune(&doc, cli.f, keep, age)))
		return cli_fail(rc);
	if (cli.json) {
		cli_print_json(doc);
		ferry_free(doc);
		return 0;
	}
	j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	json_array_foreach(json_object_get(j, "removed"), i, v)
		if (cli.verbose)
			cli_say("removed %s\n", json_string_value(v));
	cli_say("%zu removed, %zu kept\n", json_array_size(json_object_get(j, "removed")),
	        json_array_size(json_object_get(j, "kept")));
	json_decref(j);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} subs[] = {
	{ "create", backup_create, "write a backup archive of the installation" },
	{ "list", backup_list, "the backups, newest first" },
	{ "verify", backup_verify, "check every entry of a backup against its manifest" },
	{ "restore", backup_restore, "restore a backup and the version it was taken at" },
	{ "prune", backup_prune, "remove old backups, never the newest good one" },
	{ NULL, NULL, NULL }
};

int cmd_backup(int argc, char **argv)
{
	FILE *fp = stderr;
	size_t i;
	if (argc >= 2) {
		for (i = 0; subs[i].name; i++)
			if (!strcmp(argv[1], subs[i].name))
				return subs[i].fn(argc - 1, argv + 1);
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
			fp = stdout;
		else
			cli_error(EXIT_USAGE, "backup: unknown subcommand '%s'", argv[1]);
	} else {
		cli_error(EXIT_USAGE, "backup: a subcommand is needed");
	}
	fputs("usage: ferry backup <subcommand> [options]\n\nsubcommands:\n", fp);
	for (i = 0; subs[i].name; i++)
		fprintf(fp, "    %-10s %s\n", subs[i].name, subs[i].summary);
	fputs("\n'ferry backup <subcommand> --help' for its options\n", fp);
	return fp == stdout ? 0 : EXIT_USAGE;
}

int cmd_rollback(int argc, char **argv)
{
	const char *id = NULL;
	int last = 0, no_safety = 0;
	const cli_opt opts[] = {
		OPT_FLAG_(0, "last", &last, "the newest backup (the default when no ID is given)"),
		OPT_FLAG_(0, "no-safety-backup", &no_safety, "do not back up the current state first"),
		OPT_ARG_("ID", &id, 0, "the backup to go back to"),
		OPT_END_
	};
	int rc = cli_parse("rollback", "Restore a backup and the version it was taken at: the "
	                   "given one, or the newest that is not a safety backup. The current "
	                   "state is backed up first.", opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (id && last)
		return cli_error(EXIT_USAGE, "rollback: give an ID or --last, not both");
	return do_restore(id, no_safety, 1);
}
