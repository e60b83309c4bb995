/*
 * cmd_data.c - `ferry export` and `ferry import`: an installation's data
 * out as JSON lines and back in, across database kinds (docs/data.md).
 * The work is the library's (ferry_export, ferry_import); this file reads
 * the options, opens the file and says the counts.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Every --table value of argv (repeated, or comma-separated), which the
 * option table (where the last one wins) does not gather. *out is freed
 * with free(), its strings with it (one block).
 */
static int gather_tables(int argc, char **argv, char ***out, size_t *n)
{
	size_t len = 0, k = 0;
	int i, pass;
	char **v = NULL, *text = NULL;
	*out = NULL;
	*n = 0;
	for (pass = 0; pass < 2; pass++) {
		char *at = text;
		for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
			const char *val = NULL;
			if (!strcmp(argv[i], "--table") && i + 1 < argc)
				val = argv[++i];
			else if (!strncmp(argv[i], "--table=", 8))
				val = argv[i] + 8;
			if (!val)
				continue;
			if (pass == 0) {
				len += strlen(val) + 1;
				for (k++; *val; val++)
					k += *val == ',';
				continue;
			}
			memcpy(at, val, strlen(val) + 1);
			for (;;) {
				char *comma = strchr(at, ',');
				if (*at)
					v[(*n)++] = at;
				if (!comma)
					break;
				*comma = '\0';
				at = comma + 1;
			}
			at += strlen(at) + 1;
		}
		if (pass == 0) {
			if (k == 0)
				return 0;
			v = malloc(k * sizeof *v + len);
			if (!v)
				return -1;
			text = (char *)(v + k);
		}
	}
	*out = v;
	return 0;
}

/*
 * Where an export goes. A regular file is written under a temporary name
 * beside it (mode 0600: it holds the application's data) and renamed in
 * when the export is whole, so a failed export leaves what was there; a
 * pipe or a device (-o /dev/stdout) is written as it is.
 */
typedef struct {
	FILE *fp;
	char *tmp;         /* the temporary name; NULL when written in place */
	const char *path;
} output_file;

static int output_open(output_file *o, const char *path)
{
	struct stat st;
	int fd;
	o->path = path;
	o->tmp = NULL;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->fp = fopen(path, "wb");
		return o->fp ? 0 : -1;
	}
	o->tmp = malloc(strlen(path) + 8);
	if (!o->tmp)
		return -1;
	memcpy(o->tmp, path, strlen(path));
	memcpy(o->tmp + strlen(path), ".XXXXXX", 8);
	fd = mkstemp(o->tmp);
	if (fd < 0 || !(o->fp = fdopen(fd, "wb"))) {
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return 0;
}

/* Closes o: renamed in when ok, else removed. 0, or the errno of what failed. */
static int output_close(output_file *o, int ok)
{
	int e = 0;
	if (fflush(o->fp) || (o->tmp && fsync(fileno(o->fp))))
		e = errno;
	if (fclose(o->fp) && !e)
		e = errno;
	if (o->tmp) {
		if (ok && !e && rename(o->tmp, o->path))
			e = errno;
		if (!ok || e)
			unlink(o->tmp);
		free(o->tmp);
	}
	return e;
}

static int write_file(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* The counts of an export or import, for people: one line a table, then the sum. */
static void say_counts(json_t *doc, const char *verb)
{
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(doc, "tables"), i, t)
		cli_say("  %-30s %8lld rows\n", json_string_value(json_object_get(t, "name")),
		        (long long)json_integer_value(json_object_get(t, "rows")));
	cli_result("%s%s%s %lld rows of %zu tables, database '%s'\n", C_GREEN, verb, C_RESET,
	           (long long)json_integer_value(json_object_get(doc, "rows")),
	           json_array_size(json_object_get(doc, "tables")),
	           json_string_value(json_object_get(doc, "database")));
}

int cmd_export(int argc, char **argv)
{
	const char *database = NULL, *table = NULL, *output = NULL;
	const cli_opt opts[] = {
		OPT_STR_(0, "database", &database, "NAME", "the database of ferry.yaml (default: the "
		                                            "first)"),
		OPT_STR_(0, "table", &table, "TABLE", "only this table (repeat it, or a,b,c)"),
		OPT_STR_('o', "output", &output, "FILE", "write to FILE, whole or not at all "
		                                         "(default: stdout)"),
		OPT_END_
	};
	ferry_export_options o = FERRY_EXPORT_OPTIONS_INIT;
	char **tables = NULL, *doc = NULL;
	size_t ntables = 0;
	FILE *fp = stdout;
	output_file of = { NULL, NULL, NULL };
	json_t *j;
	int closed = 0;
	int rc = cli_parse("export", "Write a database's data as JSON lines: a header, then each "
	                             "table's columns with their declared types and one object per "
	                             "row (docs/data.md). Every table of the application, ferry's "
	                             "own left out; read in one transaction, in constant memory.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (cli.json && !output)
		return cli_error(EXIT_USAGE, "export: --json prints the counts on stdout: give the "
		                             "data a file with -o FILE");
	if (gather_tables(argc, argv, &tables, &ntables))
		return cli_report(EXIT_FAILED, "out of memory");
	if (output && !strcmp(output, "-"))
		output = NULL;
	if (output && output_open(&of, output)) {
		free(tables);
		return cli_report(EXIT_USAGE, "export: cannot write '%s': %s", output,
		                  strerror(errno));
	}
	if (output)
		fp = of.fp;
	o.database = database;
	o.tables = (const char *const *)tables;
	o.ntables = ntables;
	rc = ferry_export(&doc, cli.f, &o, write_file, fp);
	if (fp == stdout)
		fflush(stdout);
	else
		closed = output_close(&of, rc == 0);
	free(tables);
	if (rc || closed) {
		ferry_free(doc);
		if (closed)
			return cli_report(EXIT_FAILED, "export: cannot write '%s': %s", output,
			                  strerror(closed));
		return cli_fail(rc);
	}
	j = cli_doc(doc);
	/* The data may be on stdout: the counts then go to stderr, as chatter. */
	if (j && output)
		say_counts(j, "exported");
	else if (j && !cli.quiet)
		fprintf(stderr, "exported %lld rows of %zu tables\n",
		        (long long)json_integer_value(json_object_get(j, "rows")),
		        json_array_size(json_object_get(j, "tables")));
	json_decref(j);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	const char *database = NULL, *table = NULL, *file = NULL;
	int append = 0;
	const cli_opt opts[] = {
		OPT_ARG_("FILE", &file, 1, "an export (ferry export -o FILE)"),
		OPT_STR_(0, "database", &database, "NAME", "the database of ferry.yaml (default: the "
		                                            "first)"),
		OPT_STR_(0, "table", &table, "TABLE", "only this table of the file (repeat it, or "
		                                      "a,b,c)"),
		OPT_FLAG_(0, "append", &append, "add to tables that hold rows already"),
		OPT_END_
	};
	ferry_import_options o = FERRY_IMPORT_OPTIONS_INIT;
	char **tables = NULL, *doc = NULL;
	size_t ntables = 0;
	json_t *j;
	int rc = cli_parse("import", "Read an export into a database whose schema is there "
	                             "already (the application's migrations made it), in one "
	                             "transaction: every row or none. Values are converted to each "
	                             "column's type; another application's file, a missing table or "
	                             "column, a table that holds rows (without --append) or a value "
	                             "that does not convert: exit 2, nothing imported.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (gather_tables(argc, argv, &tables, &ntables))
		return cli_report(EXIT_FAILED, "out of memory");
	o.database = database;
	o.tables = (const char *const *)tables;
	o.ntables = ntables;
	o.append = append;
	rc = ferry_import(&doc, cli.f, file, &o);
	free(tables);
	if (rc)
		return cli_fail(rc);
	j = cli_doc(doc);
	if (j)
		say_counts(j, "imported");
	json_decref(j);
	return 0;
}
