/*
 * proc.h - the one runner of child processes (after git's run-command.h):
 * hooks, script steps and tools such as pg_dump all start their programs
 * through it.
 *
 * A child gets stdin from /dev/null; stdout and stderr merged into one pipe
 * read line by line (or, with p->out set, stdout raw into that buffer and
 * stderr alone line by line). It runs in its own process group unless
 * p->same_pgroup: at its time limit, or when *interrupted becomes set, the
 * whole group gets SIGTERM and, after a grace period, SIGKILL, so its own
 * children do not outlive it. Signal dispositions and the signal mask are
 * reset in the child; file descriptors other than 0-2 are closed (the run's
 * lock must not leak into a daemon a script starts).
 *
 * A child never outlives ferry unnoticed. A child in its own group has a
 * supervisor: a small process forked beside it that holds a pipe from
 * ferry and, reading its end (ferry died, by kill -9 or otherwise), kills
 * the whole group with SIGKILL; fr_proc_finish() tells it to leave quietly
 * instead. The child waits before exec until the supervisor is there and
 * p->started (the caller's journal of the group) has returned, so no
 * program runs unwatched or unjournaled. A child in ferry's own group gets
 * PR_SET_PDEATHSIG instead (it is the only process of its own).
 *
 * util depends on nothing of ours but util: no handle, no printing; what a
 * child writes goes to the line callback, failures into the caller's fr_buf.
 */
#ifndef FR_PROC_H
#define FR_PROC_H

#include "buf.h"

#include <signal.h>
#include <sys/types.h>

typedef struct fr_proc {
	/* What to run; the caller zeroes the struct and sets these. */
	const char *const *argv;   /* argv[0]: the program's path (not searched in PATH) */
	const char *const *env;    /* "NAME=value" to add or override, NULL-terminated; may be NULL */
	const char *cwd;           /* NULL: ferry's own */
	int timeout_s;             /* 0: no limit */
	int grace_ms;              /* from SIGTERM to SIGKILL; 0: 5000 */
	int same_pgroup;           /* 1: stay in ferry's process group (a terminal's ^C reaches it) */
	void (*line)(void *arg, const char *line); /* each output line, without "\n"; may be NULL */
	void *line_arg;
	fr_buf *out;               /* set: stdout raw into it, only stderr to line */
	volatile sig_atomic_t *interrupted; /* kill the group when it becomes set; may be NULL */
	/*
	 * Called once the child's group exists and before its program starts
	 * (the crash journal writes pgid down); -1 stops the child, and
	 * fr_proc_start() fails with the callback's message in err. May be NULL.
	 */
	int (*started)(void *arg, pid_t pgid, fr_buf *err);
	/* Called by fr_proc_finish() once the child is reaped (the journal forgets it). May be NULL. */
	void (*ended)(void *arg, pid_t pgid);
	void *started_arg;         /* for started and ended */

	/* Set by fr_proc_start() for fr_proc_finish(); not the caller's. */
	pid_t pid;
	int fd_lines;              /* merged output, or stderr with out set */
	int fd_out;                /* stdout with out set, else -1 */
	double deadline;           /* fr_mono_ms() of the time limit, 0: none */
	pid_t watcher;             /* the supervisor, or -1 */
	int fd_watch;              /* ferry's end of the supervisor's pipe, or -1 */
} fr_proc;

typedef struct {
	int status;       /* exit status; -1 when ended by a signal */
	int signo;        /* the signal that ended it, else 0 */
	int timed_out;    /* killed at timeout_s */
	int interrupted;  /* killed because *interrupted was set */
	char last[256];   /* the last non-empty output line (stderr with out set), for messages */
} fr_proc_result;

/*
 * Starts p. Returns 0 once the program runs (exec succeeded), or -1 with
 * "cannot run '<argv[0]>': <strerror>" appended to err; nothing is left
 * running then. A started p must be given to fr_proc_finish().
 */
int fr_proc_start(fr_proc *p, fr_buf *err);

/*
 * Reads the output of a started p, enforces its limit and interruption,
 * and reaps it; r says how it ended. Returns 0.
 */
int fr_proc_finish(fr_proc *p, fr_proc_result *r);

/* fr_proc_start() then fr_proc_finish(): 0 when the program ran (see r), -1 with err set. */
int fr_proc_run(fr_proc *p, fr_proc_result *r, fr_buf *err);

/* 1 when r is a clean exit with status 0. */
int fr_proc_ok(const fr_proc_result *r);

/*
 * Appends how the run ended: "exited with status 3", "was killed by signal
 * 9 (Killed)", "timed out after 300 s (its process group was killed)", "was
 * interrupted (its process group was killed)".
 */
void fr_proc_explain(const fr_proc_result *r, int timeout_s, fr_buf *out);

/*
 * Makes sure the process group pgid (a child of a ferry that died) is gone:
 * SIGKILL to the group, then waits up to wait_ms for it to vanish. 0 when
 * it is gone (or never was), -1 when something of it still runs.
 */
int fr_proc_group_gone(pid_t pgid, int wait_ms);

/*
 * This boot's id (/proc/sys/kernel/random/boot_id) into out, "" when it
 * cannot be read: a process group journaled in another boot died with the
 * machine, and its number may name someone else's group now.
 */
void fr_boot_id(char out[64]);

/*
 * Fault injection for the crash tests: when the environment variable
 * FERRY_CRASH_AT names this point, the process kills itself (SIGKILL).
 * FERRY_CRASH_AT=N counts every point passed (1 is the first);
 * FERRY_CRASH_AT=EVENT:N counts only the points called event ("action",
 * "undo", "op"). Unset (every real run), it costs a getenv once.
 */
void fr_crash_point(const char *event);

#endif
