/*
 * hooks.h - service hooks (SPEC section 2 `hooks`, section 6 steps 6 and 9)
 * and the child-process runner they share with the script step kind.
 *
 * The runner starts a program in its own process group, with stdin from
 * /dev/null and stdout and stderr merged into one pipe that is read line
 * by line. At its time limit, or when *interrupted is set, the whole group
 * gets SIGTERM and, after a grace period, SIGKILL, so a script's children
 * do not outlive it. File descriptors other than 0-2 are closed in the
 * child (the run's lock must not leak into a daemon a script starts).
 *
 * Internal only. The library never prints: output goes to callbacks.
 */
#ifndef FR_HOOKS_H
#define FR_HOOKS_H

#include "../include/ferry.h"
#include "util/buf.h"

#include <signal.h>

/* Seconds a hook may run (stop, start, restart); a health attempt gets what is left. */
#define FR_HOOK_TIMEOUT 300
/* Seconds a health check is retried for when the caller gives 0. */
#define FR_HOOK_HEALTH_SECONDS 30

typedef struct {
	const char *const *argv;   /* argv[0]: the program's path (not searched in PATH) */
	const char *cwd;           /* NULL: ferry's own */
	const char *const *env;    /* "NAME=value" to add or override, NULL-terminated; may be NULL */
	int timeout_s;             /* 0: no limit */
	int grace_ms;              /* from SIGTERM to SIGKILL; 0: 5000 */
	void (*line)(void *arg, const char *line); /* each output line, without "\n"; may be NULL */
	void *line_arg;
	volatile sig_atomic_t *interrupted; /* kill the group when it becomes set; may be NULL */
} fr_proc;

typedef struct {
	int status;       /* exit status; -1 when ended by a signal */
	int signo;        /* the signal that ended it, else 0 */
	int timed_out;    /* killed at timeout_s */
	int interrupted;  /* killed because *interrupted was set */
	char last[256];   /* the last non-empty output line, for messages */
} fr_proc_result;

/*
 * Runs p to its end (or its limit). Returns 0 when the program ran (look
 * at r for how it ended), -1 when it could not be started, with the
 * reason ("cannot run '<argv[0]>': <strerror>") appended to err.
 */
int fr_proc_run(const fr_proc *p, fr_proc_result *r, fr_buf *err);

/* 1 when r is a clean exit with status 0. */
int fr_proc_ok(const fr_proc_result *r);

/*
 * Appends how the run ended: "exited with status 3", "was killed by signal
 * 9", "timed out after 300 s (its process group was killed)", "was
 * interrupted (its process group was killed)".
 */
void fr_proc_explain(const fr_proc_result *r, int timeout_s, fr_buf *out);

/*
 * Runs a hook: /bin/sh -c command in the root, FERRY_ROOT and FERRY_HOOK
 * (name) in its environment, each output line to the log (info, "hook
 * '<name>': <line>"), at most FR_HOOK_TIMEOUT seconds. name is what the
 * messages call it ("stop", "restart.api"). Returns 0, or FERRY_EFAILED
 * with the reason, the command and its last output line appended to err.
 * A hook is not cut short by ferry_interrupt(): a half-run stop or start
 * is worse than a finished one.
 */
int fr_hook_run(ferry *f, const char *name, const char *command, fr_buf *err);

/*
 * Runs the health command until it exits 0, once a second, for at most
 * seconds (0: FR_HOOK_HEALTH_SECONDS); each attempt is bounded by the time
 * left. Returns 0, FERRY_EFAILED with the last attempt's outcome and output
 * appended to err, or FERRY_EINTERRUPTED after ferry_interrupt().
 */
int fr_hook_health(ferry *f, const char *command, int seconds, fr_buf *err);

#endif
