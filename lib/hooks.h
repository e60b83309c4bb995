/*
 * hooks.h - service hooks (SPEC section 2 `hooks`, section 6 steps 6 and 9):
 * the hooks' policy on top of the child-process runner (util/proc.h): each
 * runs under /bin/sh -c in the root, in its own process group, killed as a
 * whole at its time limit.
 *
 * Internal only. The library never prints: output goes to the log.
 */
#ifndef FR_HOOKS_H
#define FR_HOOKS_H

#include "../include/ferry.h"
#include "util/buf.h"

/* Seconds a hook may run (stop, start, restart); a health attempt gets what is left. */
#define FR_HOOK_TIMEOUT 300
/* Seconds a health check is retried for when the caller gives 0. */
#define FR_HOOK_HEALTH_SECONDS 30

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
