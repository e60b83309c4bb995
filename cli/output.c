/*
 * output.c - how the tool talks: errors on stderr with the "ferry: "
 * prefix, human text on stdout (stderr when --json holds stdout), JSON
 * documents on stdout, colors only on a terminal, progress from the
 * library's log callback.
 */
#include "cli.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_c(const char *code)
{
	static char buf[8][16];
	static int slot;
	if (!cli.color)
		return "";
	slot = (slot + 1) % 8;
	snprintf(buf[slot], sizeof buf[slot], "\033[%sm", code);
	return buf[slot];
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("ferry: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_fail(int code)
{
	const char *msg = ferry_errmsg(cli.f);
	if (!code)
		return 0;
	return cli_error(code, "%s", *msg ? msg : "failed");
}

void cli_say(const char *fmt, ...)
{
	va_list ap;
	if (cli.quiet)
		return;
	va_start(ap, fmt);
	vfprintf(cli.json ? stderr : stdout, fmt, ap);
	va_end(ap);
}

void cli_print_json(const char *doc)
{
	fputs(doc, stdout);
	fputc('\n', stdout);
}

void cli_print_object(json_t *obj)
{
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		cli_print_json(s);
	free(s);
	json_decref(obj);
}

json_t *cli_doc(char *doc)
{
	json_t *j = NULL;
	if (cli.json)
		cli_print_json(doc);
	else
		j = json_loads(doc, 0, NULL);
	ferry_free(doc);
	return j;
}

void cli_log(void *ctx, ferry_log_level level, const char *step_id, const char *message)
{
	const char *color = C_DIM;
	(void)ctx;
	if (level == FERRY_LOG_DEBUG && !cli.verbose)
		return;
	if (level >= FERRY_LOG_INFO && cli.quiet)
		return;
	if (level == FERRY_LOG_WARN) {
		fprintf(stderr, "%swarning:%s %s\n", C_YELLOW, C_RESET, message);
		return;
	}
	if (!step_id) {
		/* Run-level events: the start, commits and versions are worth a line. */
		if (level == FERRY_LOG_ERROR)
			fprintf(stderr, "%s%s%s\n", C_RED, message, C_RESET);
		else if (cli.verbose || !strncmp(message, "run ", 4) ||
		         !strncmp(message, "version", 7) || !strncmp(message, "rolled back", 11))
			fprintf(stderr, "%s%s%s\n", C_DIM, message, C_RESET);
		return;
	}
	if (!strcmp(message, "applying") && !cli.verbose)
		return;
	if (level == FERRY_LOG_ERROR)
		color = C_RED;
	else if (!strncmp(message, "applied", 7))
		color = C_GREEN;
	else if (!strncmp(message, "undo", 4))
		color = C_YELLOW;
	fprintf(stderr, "  %s%s%s %s\n", color, step_id, C_RESET, message);
}
