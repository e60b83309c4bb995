/*
 * cli.h - what the commands of the ferry tool share: the global options,
 * the open handle, declarative options (one declaration parses and prints
 * --help), and output helpers. The tool uses only include/ferry.h.
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include "../include/ferry.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>

/* Exit codes: SPEC section 5, the same numbers as the library's codes. */
enum {
	EXIT_OK = FERRY_OK,
	EXIT_FAILED = FERRY_EFAILED,
	EXIT_USAGE = FERRY_EINVALID,
	EXIT_VERIFY = FERRY_EVERIFY,
	EXIT_LOCKED = FERRY_ELOCKED,
	EXIT_UNRECOVERED = FERRY_EUNRECOVERED,
	EXIT_INTERRUPTED = FERRY_EINTERRUPTED
};

struct cli_opt;

typedef struct {
	const char *dir;   /* -C */
	int json;
	int quiet;
	int verbose;
	int color;         /* colors allowed: no --no-color, no NO_COLOR; see cli_color_on */
	int printed;       /* a JSON document is out on stdout */
	/*
	 * Set by `ferry completion`: cli_parse hands each command's table here
	 * instead of parsing, and the command returns 0 having done nothing.
	 */
	void (*opts_sink)(const char *cmd, const char *summary, const struct cli_opt *opts);
	ferry *f;          /* open for commands flagged CMD_SETUP */
	char *root;
} cli_globals;

extern cli_globals cli;

typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_ARG, OPT_END } opt_type;

typedef struct cli_opt {
	opt_type type;
	char short_name;        /* 0: none */
	const char *long_name;  /* for OPT_ARG: the name shown in usage */
	void *value;            /* int* for FLAG/INT, const char** for STRING/ARG */
	const char *value_name; /* "SECONDS"; for OPT_ARG: its choices, "bash|zsh|fish", or NULL */
	const char *help;
	int required;           /* OPT_ARG: must be given */
} cli_opt;

#define OPT_FLAG_(s, l, v, h) { OPT_FLAG, s, l, v, NULL, h, 0 }
#define OPT_STR_(s, l, v, n, h) { OPT_STRING, s, l, v, n, h, 0 }
#define OPT_INT_(s, l, v, n, h) { OPT_INT, s, l, v, n, h, 0 }
#define OPT_ARG_(n, v, req, h) { OPT_ARG, 0, n, v, NULL, h, req }
#define OPT_END_ { OPT_END, 0, NULL, NULL, NULL, NULL, 0 }

typedef struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;
	const char *summary;
} cli_cmd;

#define CMD_SETUP 1u /* needs an installation: main opens cli.f first */

/*
 * Parses argv[1..] of a command against opts. Returns 0, EXIT_USAGE after
 * printing what is wrong, or -1 after printing --help (exit 0).
 */
int cli_parse(const char *cmd, const char *summary, const cli_opt *opts, int argc, char **argv);
void cli_help(FILE *fp, const char *cmd, const char *summary, const cli_opt *opts);

/*
 * "ferry: <message>" on stderr; returns code. With code EXIT_USAGE (an error
 * of the command line) under --json, also {"error": "usage", "code": 2,
 * "message": ...} on stdout, unless a document is out already.
 */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "ferry: <message>" on stderr, never a document: failures that are not usage. */
int cli_report(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports the handle's last failure and returns its code. */
int cli_fail(int code);
/*
 * Chatter: progress, confirmations, hints. On stderr when --json holds
 * stdout, else stdout; nothing with -q.
 */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A result: what the command exists to print (status, a list, an id, the
 * version). On stdout even with -q; under --json the document is the result
 * and this text goes to stderr (not with -q).
 */
void cli_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text on fp, its color codes kept only when fp is a terminal and colors are on. */
void cli_print(FILE *fp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_vprint(FILE *fp, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A duration for people: "840ms", "1.2s", "3m05s", "2h10m"; in buf. */
const char *cli_duration(long long ms, char *buf, size_t n);
/* Whether text on fp is colored: colors allowed and fp is a terminal (each stream its own). */
int cli_color_on(FILE *fp);
/* Prints a JSON document (library-made) on stdout. */
void cli_print_json(const char *doc);
/* Prints a JSON object the tool made on stdout, and frees it. */
void cli_print_object(json_t *obj);
/*
 * Takes a library document: with --json prints it and returns NULL; else
 * returns it parsed for the human output. Frees doc either way.
 */
json_t *cli_doc(char *doc);
/* The human list of a plan's actions (plan, dry runs, up -v): one numbered line each, a result. */
void cli_say_actions(json_t *actions);
/*
 * ANSI color around text when colors are allowed; cli_say, cli_result,
 * cli_print and cli_error strip them again for a stream that is no terminal.
 */
const char *cli_c(const char *code);
#define C_RESET cli_c("0")
#define C_BOLD cli_c("1")
#define C_RED cli_c("31")
#define C_GREEN cli_c("32")
#define C_YELLOW cli_c("33")
#define C_DIM cli_c("2")

/* The log callback the tool gives the library: progress on stderr. */
void cli_log(void *ctx, ferry_log_level level, const char *step_id, const char *message);
/* The progress callback: a bar with bytes, rate and time left, on a terminal only. */
void cli_progress(void *ctx, const char *what, unsigned long done, unsigned long total);

int cmd_init(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

/* The command table (main.c), for usage and completion. */
extern const cli_cmd cli_commands[];
/* The global options that shape output (opt.c): before or after the command. */
extern const cli_opt cli_output_opts[];
/* The one of them that a is (--json, -q, --quiet...), or NULL. */
const cli_opt *cli_output_opt(const char *a);

#endif
