/*
 * ferry.h - the whole public API of libferry.
 *
 * ferry moves a self-hosted application's installation (a folder holding a
 * ferry.yaml) from one version to another: it plans the path through the
 * version graph in the migrations folder, applies the steps, records each one
 * in the database it changed, and undoes the run when a step fails.
 *
 * Conventions, for every function below:
 *  - Every fallible call returns an int: FERRY_OK (0) or one of the FERRY_E*
 *    codes, which are also the exit codes of the ferry tool. The message of
 *    the last failure is kept on the handle and read with ferry_errmsg().
 *  - Output parameters come first and are named out. They are set to NULL on
 *    entry and published only on success.
 *  - Strings and documents the library returns are the caller's, freed with
 *    ferry_free(). Handles are freed with their own _close/_free, which
 *    accept NULL.
 *  - Documents are JSON text in the shapes of docs/json.md (the same shapes
 *    the tool prints with --json).
 *  - The library never prints, never exits and never reads the terminal; it
 *    reports through return codes, the message, and the log callback.
 *
 * This header compiles as C89 and as C++.
 */
#ifndef FERRY_H
#define FERRY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_VERSION_STRING "0.1.0"

/* Status codes; they match the exit codes of SPEC section 5. */
#define FERRY_OK 0
#define FERRY_EFAILED 1      /* failed; the installation is as it was before */
#define FERRY_EINVALID 2     /* bad usage or invalid input (config, migrations) */
#define FERRY_EVERIFY 3      /* verification found problems (drift, integrity) */
#define FERRY_ELOCKED 4      /* another run holds the lock */
#define FERRY_EUNRECOVERED 5 /* failed and could not be brought back */
#define FERRY_EINTERRUPTED 130 /* stopped by ferry_interrupt() after a clean undo */

typedef struct ferry ferry;
typedef struct ferry_plan ferry_plan;

typedef enum {
	FERRY_LOG_ERROR = 0,
	FERRY_LOG_WARN = 1,
	FERRY_LOG_INFO = 2,
	FERRY_LOG_DEBUG = 3
} ferry_log_level;

/*
 * Called for each event of a run: a step starts or ends, a transaction
 * commits, an undo happens. step_id is NULL for events that concern no
 * single step. The strings are valid only during the call.
 */
typedef void (*ferry_log_fn)(void *ctx, ferry_log_level level, const char *step_id,
                             const char *message);

/*
 * Called as a long task advances (a backup written, verified or restored):
 * what ("backup", "verify", "restore"), bytes done and in all (total 0 when
 * unknown). Called often; keep it cheap.
 */
typedef void (*ferry_progress_fn)(void *ctx, const char *what, unsigned long done,
                                  unsigned long total);

/*
 * Called at each event of a run, with a JSON object (docs/dashboard.md):
 * {"event": "action_start", "index", "action"}, {"event": "action_end",
 * "index", "action"} (the action as the run's executed list has it, with
 * its status and duration), {"event": "paused", "by", "since"},
 * {"event": "resumed"}, {"event": "finished", "status", "code"}. Called on
 * the thread that runs; the text is valid only during the call.
 */
typedef void (*ferry_event_fn)(void *ctx, const char *event);

typedef struct {
	unsigned int version; /* FERRY_OPEN_OPTIONS_VERSION */
	ferry_log_fn log;     /* may be NULL */
	void *log_ctx;
	ferry_progress_fn progress; /* version >= 2; may be NULL */
	void *progress_ctx;
	ferry_event_fn event; /* version >= 3; may be NULL */
	void *event_ctx;
	unsigned int flags;   /* version >= 4; FERRY_OPEN_* */
} ferry_open_options;

/*
 * The handle runs one command and closes (the ferry tool): no change watch
 * is set up. By default a handle's first clean no-op ferry_up() watches the
 * migrations folders (inotify, docs/design.md), so that later calls on it
 * know nothing changed without a stat of every file.
 */
#define FERRY_OPEN_ONE_SHOT 1u

#define FERRY_OPEN_OPTIONS_VERSION 4
#define FERRY_OPEN_OPTIONS_INIT \
	{ FERRY_OPEN_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/*
 * Opens the installation at root (a folder holding ferry.yaml). opts may be
 * NULL. Reads and checks ferry.yaml and opens .ferry/state.db; it does not
 * read the migrations folder or open the application's databases.
 *
 * Like sqlite3_open(), *out receives a handle even when opening fails (unless
 * memory runs out), so that ferry_errmsg() can say why; close it either way.
 */
int ferry_open(ferry **out, const char *root, const ferry_open_options *opts);

/* Closes the handle, releasing any lock and connection it holds. NULL is ok. */
void ferry_close(ferry *f);

/* The message of the last failure on f; never NULL; "" after a success. */
const char *ferry_errmsg(const ferry *f);

/* The status code of the last failure on f (0 after a success). */
int ferry_errcode(const ferry *f);

/* Frees a string or document returned by the library. NULL is ok. */
void ferry_free(void *p);

/*
 * Finds the installation root: the nearest folder at or above start that
 * holds a ferry.yaml. *out is an absolute path. Returns FERRY_EINVALID and
 * leaves *out NULL when there is none.
 */
int ferry_find_root(char **out, const char *start);

typedef struct {
	unsigned int version;  /* FERRY_INIT_OPTIONS_VERSION */
	const char *app;       /* NULL: the folder's name */
	const char *version_;  /* the version to record; NULL: 0.0.0 */
	const char *database;  /* the default database URL; NULL: sqlite:data/app.db */
} ferry_init_options;

#define FERRY_INIT_OPTIONS_VERSION 1
#define FERRY_INIT_OPTIONS_INIT { FERRY_INIT_OPTIONS_VERSION, NULL, NULL, NULL }

/*
 * Makes root an installation: writes ferry.yaml (unless present),
 * migrations/ and .ferry/, and records the version. On failure the message
 * is put in *errmsg_out (free it with ferry_free) when errmsg_out is not NULL.
 */
int ferry_init(const char *root, const ferry_init_options *opts, char **errmsg_out);

/* ---- reading the installation ---------------------------------------- */

/* The recorded current version ("0.0.0" when nothing is recorded). */
int ferry_current_version(char **out, ferry *f);

/*
 * Records version as current without running anything (baseline or stamp).
 * Refuses a version below an applied step unless force is set.
 */
int ferry_set_version(ferry *f, const char *version, int force);

/* The `status` document: current, latest, pending, last run, lock holder. */
int ferry_status(char **out, ferry *f);

/* The `list` document: every step with its state. */
int ferry_list(char **out, ferry *f);

/* The `history` document: runs, newest first. */
int ferry_history(char **out, ferry *f);

/*
 * One run of the history: {"run": {...the history entry...}, "steps": [{"id",
 * "status", "duration_ms", "message"}]}, the steps in the order the run took
 * them. FERRY_EINVALID, naming the run, when there is no such run.
 */
int ferry_history_run(char **out, ferry *f, long run_id);

/* The version history of versions.yaml, as {"versions": [...]}. */
int ferry_versions(char **out, ferry *f);

/*
 * Checks everything applied: checksums against files, each step's verify
 * query, database integrity, the registry against each database's record,
 * the version file. *out is the `verify` document. Returns FERRY_EVERIFY
 * when there are findings (the document is still published).
 */
int ferry_verify(char **out, ferry *f);

/*
 * Pre-flight for an upgrade to target (NULL: latest): lock free, files
 * parse, databases reachable and writable, no drift. *out is a document
 * {"ok", "findings"}; returns FERRY_EVERIFY when a check fails, and the code
 * of the failure (FERRY_EINVALID...) when the checks could not run.
 */
int ferry_check(char **out, ferry *f, const char *target);

/* ---- plans -------------------------------------------------------------- */

/*
 * Computes the plan from the current version to target (NULL: the latest
 * catalogued version). Returns FERRY_EFAILED with the reachable versions in
 * the message when there is no path, FERRY_EINVALID for a bad target or bad
 * migrations. The plan is the caller's (ferry_plan_free); it borrows from f
 * and must be freed before f is closed.
 */
int ferry_plan_new(ferry_plan **out, ferry *f, const char *target);
void ferry_plan_free(ferry_plan *p);

/* The `plan` document of p. */
int ferry_plan_json(char **out, const ferry_plan *p);

/* The number of steps p runs (0 for a pure version bump or nothing to do). */
size_t ferry_plan_step_count(const ferry_plan *p);

/* The whole version graph as a Graphviz document; p's path is highlighted. */
int ferry_plan_dot(char **out, const ferry_plan *p);

/* ---- runs ------------------------------------------------------------------ */

typedef struct {
	unsigned int version;      /* FERRY_RUN_OPTIONS_VERSION */
	int dry_run;               /* plan and print, change nothing */
	int force;                 /* run despite drift */
	int wait_seconds;          /* wait this long for the lock; 0: fail at once */
	const char *only;          /* run just this step id (even if applied) */
	const char *rerun;         /* run this step again, then the rest of the plan */
	int keep_going_on_start;   /* start-up use: a failure is logged, 0 returned */
	/* version >= 2: */
	int skip_backup;           /* take no pre-run backup */
	int checkpoint_each_version; /* a backup after each transition */
	int no_hooks;              /* run no stop/start/restart/health hooks */
	int rehearse;              /* run the plan on a throw-away copy, report, discard */
	/* version >= 3: */
	int allow_out_of_order;    /* apply steps added to versions already passed, first */
	int no_recover;            /* after an interrupted run, refuse (exit 5) instead of rolling
	                            * it back first as 'ferry recover' does */
} ferry_run_options;

#define FERRY_RUN_OPTIONS_VERSION 3
#define FERRY_RUN_OPTIONS_INIT \
	{ FERRY_RUN_OPTIONS_VERSION, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 }

/*
 * Migrates to target (NULL: latest). With nothing pending and nothing
 * drifted it returns at once without taking the lock. On a failed step it
 * undoes the run and returns FERRY_EFAILED; FERRY_EUNRECOVERED when that
 * undo was not possible (the message says what state the installation is
 * in); FERRY_EINTERRUPTED after ferry_interrupt(). opts may be NULL.
 * The run's document is kept and read with ferry_last_run().
 */
int ferry_up(ferry *f, const char *target, const ferry_run_options *opts);

/* Migrates back to target through each applied step's recorded down. */
int ferry_down(ferry *f, const char *target, const ferry_run_options *opts);

/*
 * The plan of ferry_up(f, target, opts): every action the run would take,
 * in order (backups, hooks, steps with their database and transaction,
 * commits, version records), shaped by the options that change a run
 * (only, rerun, skip_backup, no_hooks, checkpoint_each_version, force).
 * ferry_plan_new() is this with opts NULL. Reads the registry, takes no
 * lock. The plan is the caller's (ferry_plan_free).
 */
int ferry_plan_for(ferry_plan **out, ferry *f, const char *target,
                   const ferry_run_options *opts);

/*
 * Reads a plan document (ferry_plan_json(), `ferry plan --json`) to run
 * with ferry_apply(). FERRY_EINVALID when text is not such a document.
 */
int ferry_plan_load(ferry_plan **out, ferry *f, const char *text);

/*
 * Runs p as ferry_up() would. A plan read with ferry_plan_load() runs
 * exactly as it was printed: once the lock is held the plan is made again,
 * and when it differs (the version, the migrations on its path, the
 * registry, or its actions moved) nothing runs and FERRY_EINVALID says
 * what moved. opts gives only the options that do not shape the plan
 * (wait_seconds, keep_going_on_start, dry_run); p's own shape the run.
 */
int ferry_apply(ferry *f, const ferry_plan *p, const ferry_run_options *opts);

/* The `up`/`down` document of the last run on f. */
int ferry_last_run(char **out, ferry *f);

/*
 * The same document without its lists (steps, actions, undo_plan,
 * dry_run_steps), and "changed": how many of its steps were applied or
 * rolled back. What a one-line report needs, at a size that does not grow
 * with the run (a 1,000-step run's whole document is some 350 kB).
 */
int ferry_last_run_summary(char **out, ferry *f);

/*
 * Asks a run in progress to stop after the current step and undo itself.
 * Async-signal-safe: it sets a flag, nothing else.
 */
void ferry_interrupt(ferry *f);

/*
 * Asks the run in progress on this installation, whichever process runs it
 * (the tool, a dashboard, an application's ferry_up), to pause at its next
 * safe point: between actions, with no transaction open. It waits there
 * holding the lock until ferry_resume(); ferry_interrupt() (SIGINT,
 * SIGTERM) still stops it cleanly. by says who asks (NULL: "pid N"); the
 * status document shows it under "paused" once the run waits. Returns at
 * once: FERRY_EFAILED, "no run in progress", when nothing holds the lock,
 * and when the holder is a run that does not pause (ferry_down).
 */
int ferry_pause(ferry *f, const char *by);

/*
 * Lets a paused run go on (or takes back a pause not reached yet).
 * FERRY_EFAILED when no run is in progress or it is not paused.
 */
int ferry_resume(ferry *f);

/*
 * After an interrupted run (a crash, kill -9): undo its committed steps
 * (resume == 0) or mark it finished so that `up` carries on (resume != 0).
 */
int ferry_recover(ferry *f, int resume);

/* ---- backups (SPEC section 8) ------------------------------------------- */

typedef struct {
	unsigned int version;     /* FERRY_BACKUP_OPTIONS_VERSION */
	const char *type;         /* "manual" (NULL), "pre-run", "checkpoint", "safety" */
	const char *name;         /* a label added to the id; NULL: none */
	const char *compression;  /* "zstd", "gzip", "none"; NULL: ferry.yaml's (zstd) */
	/* Version 2: */
	int verify;               /* read the archive back whole before it is said written */
} ferry_backup_options;

#define FERRY_BACKUP_OPTIONS_VERSION 2
#define FERRY_BACKUP_OPTIONS_INIT { FERRY_BACKUP_OPTIONS_VERSION, NULL, NULL, NULL, 0 }

/*
 * Writes a backup archive of the installation (files under files/, each
 * database's consistent copy under databases/, MANIFEST.json) and returns
 * its id (the file name without extension) in *out_id.
 */
int ferry_backup_create(char **out_id, ferry *f, const ferry_backup_options *opts);

/* The `backup list` document, newest first. */
int ferry_backup_list(char **out, ferry *f);

/*
 * Re-hashes every entry of backup id against its manifest. *out is a
 * `verify` document; FERRY_EVERIFY when an entry is bad or missing.
 */
int ferry_backup_verify(char **out, ferry *f, const char *id);

typedef struct {
	unsigned int version;     /* FERRY_RESTORE_OPTIONS_VERSION */
	int no_safety_backup;     /* do not back up the current state first */
} ferry_restore_options;

#define FERRY_RESTORE_OPTIONS_VERSION 1
#define FERRY_RESTORE_OPTIONS_INIT { FERRY_RESTORE_OPTIONS_VERSION, 0 }

/*
 * Restores backup id: verifies it, stages the files beside the root,
 * takes a safety backup (unless opts says not to), swaps the files in,
 * restores each database and records the backup's version. On failure the
 * installation is as it was before.
 */
int ferry_backup_restore(ferry *f, const char *id, const ferry_restore_options *opts);

/* ferry_backup_restore() of id, or of the newest backup when id is NULL. */
int ferry_rollback(ferry *f, const char *id, const ferry_restore_options *opts);

/*
 * Deletes backups beyond the newest keep (keep < 0: ferry.yaml's) and those
 * older than older_than_seconds (0: no age limit); never the newest good
 * one. *out is {"removed": [ids], "kept": [ids]}.
 */
int ferry_backup_prune(char **out, ferry *f, int keep, long older_than_seconds);

/* ---- moving data: export and import (docs/data.md) ------------------------ */

/*
 * Called with each piece of an export's text, in order; returns 0, or
 * non-zero to stop the export (which then fails with FERRY_EFAILED).
 */
typedef int (*ferry_write_fn)(void *ctx, const char *data, size_t len);

typedef struct {
	unsigned int version;      /* FERRY_EXPORT_OPTIONS_VERSION */
	const char *database;      /* the database of ferry.yaml; NULL: the default one */
	const char *const *tables; /* only these tables; NULL: every one of the application's */
	size_t ntables;
} ferry_export_options;

#define FERRY_EXPORT_OPTIONS_VERSION 1
#define FERRY_EXPORT_OPTIONS_INIT { FERRY_EXPORT_OPTIONS_VERSION, NULL, NULL, 0 }

/*
 * Writes the data of one database as JSON lines through write (a header,
 * then each table's columns and rows; ferry's own tables left out), read
 * in one transaction, in memory that does not grow with the data.
 * Progress goes to the progress callback ("export", bytes written, 0).
 * *out (may be NULL) gets {"database", "driver", "tables": [{"name",
 * "rows"}], "rows"}. FERRY_EINVALID for an unknown database or table.
 */
int ferry_export(char **out, ferry *f, const ferry_export_options *opts, ferry_write_fn write,
                 void *write_ctx);

typedef struct {
	unsigned int version;      /* FERRY_IMPORT_OPTIONS_VERSION */
	const char *database;      /* NULL: the default one */
	const char *const *tables; /* only these tables of the file; NULL: all it holds */
	size_t ntables;
	int append;                /* add to tables that hold rows already */
} ferry_import_options;

#define FERRY_IMPORT_OPTIONS_VERSION 1
#define FERRY_IMPORT_OPTIONS_INIT { FERRY_IMPORT_OPTIONS_VERSION, NULL, NULL, 0, 0 }

/*
 * Reads the export at path into a database whose schema is there already,
 * in one transaction: every row or none. Each value is converted to its
 * column's type; tables go in the order their foreign keys need; sequences
 * are moved past the ids imported. FERRY_EINVALID, nothing imported, for a
 * file of another application, a table or column the database lacks, a
 * table that holds rows (unless append), or a value that does not convert
 * (the message names table, row and column). A file of another version of
 * the application is imported with a warning (the log callback) when every
 * column it holds exists. Takes the installation's lock. Progress:
 * ("import", bytes read, the file's size). *out (may be NULL) gets the
 * export's document with "warnings" added.
 */
int ferry_import(char **out, ferry *f, const char *path, const ferry_import_options *opts);

/* ---- native steps (SPEC section 4) --------------------------------------- */

/*
 * A native step's callbacks get ctx as given and the handle; they return
 * 0 on success, anything else on failure (with ferry_set_error() to say
 * why). check sets *needed to 1 when the step must run, 0 when done.
 */
typedef struct ferry_native_step {
	unsigned int version;     /* FERRY_NATIVE_STEP_VERSION */
	const char *id;           /* "<to>/<name>": the step id; the name orders it */
	const char *from;         /* the transition's from (version or pattern) */
	const char *to;           /* the transition's to */
	const char *description;  /* may be NULL */
	int (*check)(ferry *f, void *ctx, int *needed);   /* may be NULL */
	int (*forward)(ferry *f, void *ctx);
	int (*backward)(ferry *f, void *ctx);             /* NULL: irreversible */
	void *ctx;
} ferry_native_step;

#define FERRY_NATIVE_STEP_VERSION 1

/*
 * Registers a C step; it joins the catalog, plans, the registry and
 * rollback like a file step. The struct is copied; its strings must stay
 * valid while f is open. Register before the first plan or run.
 */
int ferry_register_step(ferry *f, const ferry_native_step *step);

/* From a native step's callback: the message its failure reports. */
void ferry_set_error(ferry *f, const char *message);

/* Clears a lock whose holder is gone; with force, whoever holds it. */
int ferry_unlock(ferry *f, int force);

/*
 * Creates a step file from a template in the right place for a transition
 * into to_version (from from_version, or the greatest catalogued version
 * below it). kind names a step kind by name or file ending ("sql", "sh", "ops";
 * NULL: sql). *out is the new file's path.
 */
int ferry_new_step(char **out, ferry *f, const char *to_version, const char *name,
                   const char *kind, const char *from_version);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_H */
