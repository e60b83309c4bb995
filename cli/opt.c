/*
 * opt.c - declarative options: the table a command declares is both what
 * parses its arguments, what prints its --help and what `ferry completion`
 * reads (through cli.opts_sink) to complete it (after libgit2's
 * src/cli/opt.c and git's parse-options).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void usage_line(FILE *fp, const char *cmd, const cli_opt *opts)
{
	const cli_opt *o;
	fprintf(fp, "usage: ferry %s", cmd);
	for (o = opts; o->type != OPT_END; o++)
		if (o->type != OPT_ARG) {
			fputs(" [options]", fp);
			break;
		}
	for (o = opts; o->type != OPT_END; o++)
		if (o->type == OPT_ARG)
			fprintf(fp, o->required ? " <%s>" : " [%s]", o->long_name);
	fputc('\n', fp);
}

void cli_help(FILE *fp, const char *cmd, const char *summary, const cli_opt *opts)
{
	const cli_opt *o;
	int any = 0;
	usage_line(fp, cmd, opts);
	fprintf(fp, "\n%s\n", summary);
	for (o = opts; o->type != OPT_END; o++) {
		if (o->type != OPT_ARG)
			continue;
		if (!any++)
			fputs("\narguments:\n", fp);
		fprintf(fp, "    %-26s %s\n", o->long_name, o->help);
	}
	any = 0;
	for (o = opts; o->type != OPT_END; o++) {
		char left[64];
		if (o->type == OPT_ARG)
			continue;
		if (!any++)
			fputs("\noptions:\n", fp);
		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->long_name,
			         o->value_name ? " " : "", o->value_name ? o->value_name : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->long_name,
			         o->value_name ? " " : "", o->value_name ? o->value_name : "");
		fprintf(fp, "    %-26s %s\n", left, o->help);
	}
	fputs("    -h, --help                 show this help\n", fp);
	fputs("\nglobal options (before the command): -C DIR, --json, -q, -v, --no-color\n"
	      "see ferry(1) for exit codes and the JSON documents\n", fp);
}

/* The global options that shape output, also understood after the command. */
const cli_opt cli_output_opts[] = {
	OPT_FLAG_(0, "json", &cli.json, "machine output on stdout, one JSON document"),
	OPT_FLAG_('q', "quiet", &cli.quiet, "no progress or chatter; results still print"),
	OPT_FLAG_('v', "verbose", &cli.verbose, "every event"),
	OPT_FLAG_(0, "no-color", &cli.color, "no colors (also NO_COLOR=1)"),
	OPT_END_
};

const cli_opt *cli_output_opt(const char *a)
{
	const cli_opt *o;
	for (o = cli_output_opts; o->type != OPT_END; o++)
		if ((a[0] == '-' && a[1] == '-' && !strcmp(a + 2, o->long_name)) ||
		    (o->short_name && a[0] == '-' && a[1] == o->short_name && !a[2]))
			return o;
	return NULL;
}

static int set_value(const char *cmd, const cli_opt *o, const char *val)
{
	if (o->type == OPT_STRING || o->type == OPT_ARG) {
		*(const char **)o->value = val;
	} else if (o->type == OPT_INT) {
		char *end;
		long v;
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 0 || v > INT_MAX)
			return cli_error(EXIT_USAGE, "%s: --%s takes a whole number, not '%s'", cmd,
			                 o->long_name, val);
		*(int *)o->value = (int)v;
	}
	return 0;
}

int cli_parse(const char *cmd, const char *summary, const cli_opt *opts, int argc, char **argv)
{
	const cli_opt *o, *next_arg = opts;
	int i, only_args = 0;
	/* `ferry completion` reads the table without running the command. */
	if (cli.opts_sink) {
		cli.opts_sink(cmd, summary, opts);
		return -1;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_args && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			cli_help(stdout, cmd, summary, opts);
			return -1;
		}
		if (!only_args && !strcmp(a, "--")) {
			only_args = 1;
			continue;
		}
		/* The global output flags are also understood after the command. */
		if (!only_args && (o = cli_output_opt(a)) != NULL) {
			*(int *)o->value = o->value != &cli.color;
			continue;
		}
		if (!only_args && a[0] == '-' && a[1]) {
			const char *val = NULL;
			size_t nlen;
			int is_long = a[1] == '-';
			const char *name = a + (is_long ? 2 : 1);
			const char *eq = is_long ? strchr(name, '=') : NULL;
			nlen = eq ? (size_t)(eq - name) : strlen(name);
			for (o = opts; o->type != OPT_END; o++) {
				if (o->type == OPT_ARG)
					continue;
				if (is_long ? (strlen(o->long_name) == nlen &&
				               !strncmp(o->long_name, name, nlen)) :
				              (o->short_name && name[0] == o->short_name && !name[1]))
					break;
			}
			if (o->type == OPT_END)
				return cli_error(EXIT_USAGE, "%s: unknown option '%s' (see 'ferry %s --help')",
				                 cmd, a, cmd);
			if (o->type == OPT_FLAG) {
				if (eq)
					return cli_error(EXIT_USAGE, "%s: --%s takes no value", cmd,
					                 o->long_name);
				*(int *)o->value = 1;
				continue;
			}
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_error(EXIT_USAGE, "%s: --%s needs a value (%s)", cmd, o->long_name,
				                 o->value_name ? o->value_name : "VALUE");
			if (set_value(cmd, o, val))
				return EXIT_USAGE;
			continue;
		}
		while (next_arg->type != OPT_END && next_arg->type != OPT_ARG)
			next_arg++;
		if (next_arg->type == OPT_END)
			return cli_error(EXIT_USAGE, "%s: unexpected argument '%s' (see 'ferry %s --help')",
			                 cmd, a, cmd);
		*(const char **)next_arg->value = a;
		next_arg++;
	}
	for (; next_arg->type != OPT_END; next_arg++)
		if (next_arg->type == OPT_ARG && next_arg->required)
			return cli_error(EXIT_USAGE, "%s: missing <%s> (see 'ferry %s --help')", cmd,
			                 next_arg->long_name, cmd);
	return 0;
}
