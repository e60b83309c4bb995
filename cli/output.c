/*
 * output.c - how the tool talks: errors on stderr with the "ferry: "
 * prefix (and, for a usage error under --json, a JSON object on stdout),
 * results on stdout even with -q, chatter on stdout (stderr when --json
 * holds stdout) and never with -q, JSON documents on stdout, progress from
 * the library's log callback. Colors are decided per stream at the moment
 * of writing: the codes cli_c() hands out are stripped from any text bound
 * for a stream that is not a terminal.
 */
#include "cli.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int cli_color_on(FILE *fp)
{
	static int tty[3] = { -1, -1, -1 };
	int fd = fileno(fp);
	if (!cli.color || fd < 0)
		return 0;
	if (fd > 2)
		return isatty(fd);
	if (tty[fd] < 0)
		tty[fd] = isatty(fd);
	return tty[fd];
}

/* Writes s to fp, without its color codes when fp gets none. */
static void put_text(FILE *fp, const char *s)
{
	const char *esc;
	if (cli_color_on(fp)) {
		fputs(s, fp);
		return;
	}
	while ((esc = strchr(s, '\033')) != NULL) {
		const char *end = esc + 1;
		fwrite(s, 1, (size_t)(esc - s), fp);
		if (*end == '[') {
			end++;
			while (*end && (*end == ';' || (*end >= '0' && *end <= '9')))
				end++;
			if (*end == 'm')
				end++;
		}
		s = end;
	}
	fputs(s, fp);
}

void cli_vprint(FILE *fp, const char *fmt, va_list ap)
{
	char small[1024], *s = small;
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(small, sizeof small, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof small) {
		if (!(s = malloc((size_t)n + 1)))
			return;
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	}
	put_text(fp, s);
	if (s != small)
		free(s);
}

void cli_print(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_vprint(fp, fmt, ap);
	va_end(ap);
}

static void say_error(const char *fmt, va_list ap)
{
	fputs("ferry: ", stderr);
	cli_vprint(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap, cp;
	va_start(ap, fmt);
	va_copy(cp, ap);
	say_error(fmt, ap);
	/* A usage error under --json is a document too, unless one is out already. */
	if (code == EXIT_USAGE && cli.json && !cli.printed) {
		char msg[1024];
		json_t *j = json_object();
		vsnprintf(msg, sizeof msg, fmt, cp);
		json_object_set_new(j, "error", json_string("usage"));
		json_object_set_new(j, "code", json_integer(code));
		json_object_set_new(j, "message", json_string(msg));
		cli_print_object(j);
	}
	va_end(cp);
	va_end(ap);
	return code;
}

int cli_report(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_error(fmt, ap);
	va_end(ap);
	return code;
}

int cli_fail(int code)
{
	const char *msg = ferry_errmsg(cli.f);
	if (!code)
		return 0;
	return cli_report(code, "%s", *msg ? msg : "failed");
}

void cli_say(const char *fmt, ...)
{
	va_list ap;
	if (cli.quiet)
		return;
	va_start(ap, fmt);
	cli_vprint(cli.json ? stderr : stdout, fmt, ap);
	va_end(ap);
}

void cli_result(const char *fmt, ...)
{
	va_list ap;
	/* Under --json the document is the result; the text is chatter on stderr. */
	if (cli.json && cli.quiet)
		return;
	va_start(ap, fmt);
	cli_vprint(cli.json ? stderr : stdout, fmt, ap);
	va_end(ap);
}

void cli_print_json(const char *doc)
{
	cli.printed = 1;
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
		cli_print(stderr, "%swarning:%s %s\n", C_YELLOW, C_RESET, message);
		return;
	}
	if (!step_id) {
		/* Run-level events: the start, commits and versions are worth a line. */
		if (level == FERRY_LOG_ERROR)
			cli_print(stderr, "%s%s%s\n", C_RED, message, C_RESET);
		else if (cli.verbose || strncmp(message, "committed", 9))
			cli_print(stderr, "%s%s%s\n", C_DIM, message, C_RESET);
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
	cli_print(stderr, "  %s%s%s %s\n", color, step_id, C_RESET, message);
}

void cli_progress(void *ctx, const char *what, unsigned long done, unsigned long total)
{
	static int tty = -1;
	static char task[16];
	static double start, last;
	static int drawn;
	struct timespec ts;
	char line[160];
	int n;
	double now, rate, pct;
	char bar[31];
	int i, fill;
	(void)ctx;
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	if (!tty || cli.quiet)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (strncmp(task, what, sizeof task - 1)) {
		snprintf(task, sizeof task, "%s", what);
		start = now;
		last = 0;
	}
	if (total && done >= total) {
		/* The task is over: the bar goes (spaces, no escape codes, for any terminal). */
		if (drawn)
			fprintf(stderr, "\r%79s\r", "");
		drawn = 0;
		task[0] = '\0';
		return;
	}
	if (now - last < 0.1)
		return;
	last = now;
	pct = total ? (double)done / (double)total : 0;
	fill = (int)(pct * 30);
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[30] = '\0';
	rate = now > start ? (double)done / (now - start) : 0;
	if (total)
		n = snprintf(line, sizeof line, "%-8s [%s] %3.0f%% %7.1f / %.1f MiB  %6.1f MiB/s",
		             what, bar, pct * 100, (double)done / 1048576, (double)total / 1048576,
		             rate / 1048576);
	else /* the size is not known (an export): what is done so far */
		n = snprintf(line, sizeof line, "%-8s %7.1f MiB  %6.1f MiB/s", what,
		             (double)done / 1048576, rate / 1048576);
	if (rate > 0 && total > done && n > 0 && (size_t)n < sizeof line)
		snprintf(line + n, sizeof line - (size_t)n, "  %.0fs left",
		         (double)(total - done) / rate);
	fprintf(stderr, "\r%-79s", line);
	drawn = 1;
	fflush(stderr);
}

const char *cli_duration(long long ms, char *buf, size_t n)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, n, "%lldms", ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, n, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, n, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
	return buf;
}

/* One line of an action: "step 1.0.0/001_x.sql on main, transaction 1". */
static void say_action(size_t n, json_t *a)
{
	const char *k = json_string_value(json_object_get(a, "kind"));
	json_t *db = json_object_get(a, "database"), *tx = json_object_get(a, "transaction");
	json_t *st = json_object_get(a, "status");
	const char *what = "";
	if (!k)
		return;
	if (!strcmp(k, "backup"))
		what = json_string_value(json_object_get(a, "type"));
	else if (!strcmp(k, "hook"))
		what = json_string_value(json_object_get(a, "hook"));
	else if (!strcmp(k, "step") || !strcmp(k, "undo"))
		what = json_string_value(json_object_get(a, "id"));
	else if (!strcmp(k, "version"))
		what = json_string_value(json_object_get(a, "version"));
	else if (!strcmp(k, "restore"))
		what = json_string_value(json_object_get(a, "backup"));
	cli_result("  %2zu. %-8s %s", n, k, what ? what : "");
	if (json_is_string(db))
		cli_result("%son %s", *what ? " " : "", json_string_value(db));
	if (json_is_integer(tx))
		cli_result(", transaction %lld", (long long)json_integer_value(tx));
	if (json_is_true(json_object_get(a, "empty")))
		cli_result("  (empty)");
	if (json_is_false(json_object_get(a, "reversible")))
		cli_result("  (irreversible)");
	if (json_is_string(json_object_get(a, "reuse")))
		cli_result("  (reuse backup %s)", json_string_value(json_object_get(a, "reuse")));
	if (json_is_string(st))
		cli_result("  [%s]", json_string_value(st));
	cli_result("\n");
}

void cli_say_actions(json_t *actions)
{
	size_t i;
	json_t *a;
	json_array_foreach(actions, i, a)
		say_action(i + 1, a);
}
