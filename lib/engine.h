/*
 * engine.h - what the rooms of the run engine share: the engine's state
 * while it walks a plan's actions (run.c: up; undo.c: rollback, down,
 * recover; record.c: the run's records and documents). Internal only.
 */
#ifndef FR_ENGINE_H
#define FR_ENGINE_H

#include "ferry_int.h"
#include "plan.h"
#include "actions.h"

#include <jansson.h>

typedef struct {
	const fr_dbconf *conf;
	fr_db *db;
	int reconciled;
	int locked;          /* holds the driver's session lock (PostgreSQL advisory lock) */
	int checked;         /* preflight saw it writable (once a run, not once a step) */
} run_db;

/* A step this run did (or an applied step that down/recover undoes). */
typedef struct {
	char *id;
	char *kind;          /* kind name, to find the undo */
	char *from, *to;
	char *checksum;
	char *undo;          /* NULL: irreversible */
	run_db *rdb;         /* NULL: on no database */
	int transactional;
	int committed;
	int mirrored;        /* its applied row is in state.db's registry */
	int undone;          /* undone in the open transaction, not committed yet */
	int skipped;
	int64_t duration_ms;
	int64_t seq;         /* -1: no longer applied (rolled back or undone) */
	int64_t applied_at_ms;
} done_step;

typedef struct {
	char *id, *status, *message;
	int64_t duration_ms;
} outcome;

typedef struct {
	ferry *f;
	const ferry_run_options *opts;
	run_db *dbs;
	size_t ndbs;
	run_db *tx;          /* the database with an open transaction */
	int txnum;           /* the plan's number of that transaction */
	done_step *done;
	size_t ndone, capdone;
	outcome *out;
	size_t nout, capout;
	json_t *executed;    /* a dry run's actions, as its document lists them; or NULL */
	fr_taken *taken;     /* a run's actions taken, in order, each with its outcome */
	size_t ntaken, captaken;
	int taken_given;     /* taken is the handle's now (fr_set_result) */
	int taken_lost;      /* one could not be kept (out of memory): none are listed */
	json_t *undo_plan;   /* the plan of the rollback, when a run failed */
	int64_t run_id;
	int64_t next_seq;
	fr_run_ctx ctx;
	fr_buf err;
	fr_version from;     /* where the run started */
	fr_version recorded; /* the version last recorded */
	int stopped;         /* the stop hook ran: the service is down */
	int touched;         /* a restart, start or health hook ran: the new version is up */
	size_t unmirrored;   /* committed steps whose registry rows are not written yet */
	const char **db_names, **db_urls; /* what scripts get as FERRY_DB_<NAME> */
	const char **db_shown; /* db_urls for display, passwords hidden (fr_db_where) */
	char *scratch;       /* .ferry/scratch: what ops steps took away, kept until undone */
	char *backup_id;     /* the pre-run backup */
	int backup_reused;   /* backup_id is an earlier attempt's, reused (reuse.c) */
	char *restore_id;    /* what a failure restores: the pre-run or last checkpoint backup */
	size_t floor;        /* a failure undoes done[floor..]: 0, or after the last checkpoint */
	fr_version floor_version; /* and the version it goes back to */
	const char *undo_why; /* the registry's message for what an undo takes back */
	int shared_only;     /* reconcile only the databases other machines share */
	int keep_target;     /* recover: the run's record keeps the version it was going to */
	fr_buf *lost;        /* reconcile appends "ID\tDATABASE\n" of each applied row a record lacks */
	int64_t jid;         /* the crash journal's entry of the step running now, 0: none */
	int64_t pg_jid;      /* the entry of a child started outside a journaled step, 0: none */
} engine;

/* run.c: the engine's databases, set-up and the lock. */
int fr_engine_init(engine *e, ferry *f, const ferry_run_options *opts);
void fr_engine_free(engine *e);
run_db *fr_engine_db(engine *e, const char *name);

/*
 * adopt.c: other tools' history tables. fr_engine_adopt brings the
 * registry in line with them after fr_engine_reconcile (re-reading *regs
 * when it changed it); locked: a run holds the lock, so a failed mark
 * refuses it (FERRY_EVERIFY) and ferry's record follows the tool's table.
 * fr_adopt_record / fr_adopt_unrecord write the tool's row of step id on
 * db in the open transaction (nothing for ferry's own steps).
 */
int fr_engine_adopt(engine *e, fr_reg **regs, size_t *nregs, int locked);
int fr_adopt_record(engine *e, const char *id, fr_db *db, int64_t duration_ms);
int fr_adopt_unrecord(engine *e, const char *id, fr_db *db);
/* What other tools' tables list, as text, for the no-op fingerprint; -1: read them the long way. */
int fr_adopt_tables_text(ferry *f, fr_buf *out);
int fr_engine_open_db(engine *e, run_db *r);
/* Lock, each database's own lock, refuse after an interrupted run (unless recovering). */
int fr_engine_lock(engine *e, int wait, int recovering);
/* Each database's record replaces state.db's mirror of it; regs is read again. */
int fr_engine_reconcile(engine *e, fr_reg **regs, size_t *nregs);
/* Runs hook name ("stop", "restart.api", "start", "health"). */
int fr_engine_hook(engine *e, const char *name);

static inline void vfmt(const fr_version *v, char *buf)
{
	fr_version_format(v, buf, FR_VERSION_STR_MAX);
}

/* record.c: outcomes, the registry, the version, the run's document. */
int fr_outcome_add(engine *e, const char *id, const char *status, int64_t ms, const char *msg);
void fr_outcome_set(engine *e, const char *id, const char *status);
done_step *fr_done_add(engine *e);
void fr_done_clear(done_step *d);
/* Appends a to the actions taken, with its outcome. */
void fr_exec_add(engine *e, const fr_action *a, const char *status, double t0, const char *msg);
int fr_reg_write(engine *e, const done_step *d, const char *status, const char *msg);
int fr_record_put(engine *e, done_step *d);
void fr_mirror(engine *e);
int fr_engine_record_version(engine *e, const fr_version *v);
/* The run's steps into state.db's run record. */
void fr_run_steps_save(engine *e);
/* The up/down document, kept on the handle (ferry_last_run); extra is merged in. */
void fr_set_result(engine *e, const char *status, const char *backup_id, json_t *extra);

/* pause.c: a run's safe points and its events (ferry_event_fn). */
/* Waits while a pause is asked for this run; 0, or FERRY_EINTERRUPTED (stopped meanwhile). */
int fr_pause_point(engine *e);
/* Removes a pause request (the run that holds the lock ends). */
void fr_pause_forget(ferry *f);
/* Sends ev (freed) to the caller's event callback. */
void fr_event(ferry *f, json_t *ev);
/* action_start (end 0) or action_end (end 1: the executed list's last entry) of a->index. */
void fr_event_action(engine *e, size_t index, const fr_action *a, int end);
/* The run's end: its document's status and the code. */
void fr_event_finished(ferry *f, int rc);

/* undo.c: the plan of a rollback, and walking an undo plan. */
int fr_plan_rollback(engine *e, struct ferry_plan *u, int hooks_on, const done_step **blocked);
/*
 * Walks an undo plan (rollback, undo, commit, restore, version, hook);
 * stops at the first failing undo with its message in e->err. check_stop:
 * an interrupt stops it between actions (down); a rollback runs to the end.
 */
int fr_walk_undo(engine *e, const struct ferry_plan *u, int check_stop);
/*
 * Puts right what the crash journal holds (undo.c): every child process
 * group journaled is made sure gone, every forward that did not finish is
 * undone from its journaled undo, ferry's temporary files are removed, and
 * the entries are forgotten. 0, or FERRY_EUNRECOVERED with f's message.
 */
int fr_recover_journal(engine *e, const fr_reg *regs, size_t nregs);
/* Rolls back the open transaction of an undo; its undone steps stay applied. */
void fr_abort_undo(engine *e);

#endif
