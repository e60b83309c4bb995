/*
 * state.h - .ferry/state.db, ferry's own SQLite database (WAL): the current
 * version, runs and the outcome of each of their steps, the registry of
 * every step ever applied (with checksum and the text to undo it), and the
 * checksum cache keyed on size, mtime and inode. All state changes go
 * through here. The registry mirrors each database's own ferry_steps
 * record, which wins where they differ (see run.c, reconcile).
 */
#ifndef FR_STATE_H
#define FR_STATE_H

#include "step/step.h"
#include "util/buf.h"

#include <stdint.h>

typedef struct fr_state fr_state;

/* Opens (create: and creates) <ferry_dir>/state.db. */
int fr_state_open(fr_state **out, const char *ferry_dir, int create, fr_buf *err);
void fr_state_close(fr_state *s);
const char *fr_state_errmsg(fr_state *s);

/* Groups the writes that follow into one transaction. */
int fr_state_begin(fr_state *s);
/*
 * Opens a read transaction: what follows sees one snapshot, and a write
 * made in it fails (and is dropped) when another process wrote meanwhile.
 */
int fr_state_begin_read(fr_state *s);
int fr_state_commit(fr_state *s);
void fr_state_rollback(fr_state *s);

/* The recorded version into out ("" when none). */
int fr_state_get_version(fr_state *s, fr_buf *out);
int fr_state_set_version(fr_state *s, const char *version);
/*
 * A value kept under key in state.db ("" when none): "baseline", the
 * version last set with `version --set`.
 */
int fr_state_get_meta(fr_state *s, const char *key, fr_buf *out);
int fr_state_set_meta(fr_state *s, const char *key, const char *value);

/* A registry row: a step ever applied, skipped, failed or rolled back. */
typedef struct {
	char *id;
	char *database;     /* "" for steps on no database */
	char *kind;
	char *from, *to;
	char *checksum;
	/*
	 * applied | skipped | adopted (another tool's history table lists it,
	 * lib/adopt.c) | failed | rolled_back
	 */
	char *status;
	char *undo;         /* NULL when irreversible */
	char *message;
	int64_t applied_at_ms;
	int64_t duration_ms;
	int64_t run_id;
	int64_t seq;        /* global order of application */
} fr_reg;

void fr_regs_free(fr_reg *r, size_t n);
/* 1 when a row of that status counts as applied: applied, skipped or adopted. */
int fr_reg_applied(const char *status);
/* Every registry row, by seq, with the undo and message texts. */
int fr_state_registry(fr_state *s, fr_reg **out, size_t *n);
/* The same; without with_text, undo and message are NULL and the order is unset (cheaper). */
int fr_state_registry_ex(fr_state *s, int with_text, fr_reg **out, size_t *n);
/* Writes (INSERT OR REPLACE, by id) one row, or n in order as many calls would. */
int fr_state_reg_put(fr_state *s, const fr_reg *r);
int fr_state_reg_put_many(fr_state *s, const fr_reg *r, size_t n);
/* An index of regs sorted by id (fr_free it; regs must outlive it), and a lookup in it. */
fr_reg **fr_reg_index(fr_reg *regs, size_t n);
const fr_reg *fr_reg_lookup(fr_reg **idx, size_t n, const char *id);
int fr_state_reg_delete(fr_state *s, const char *id);
int64_t fr_state_next_seq(fr_state *s);

/* Runs. */
typedef struct {
	int64_t id;
	char *kind;         /* up | down | recover */
	char *from, *to;
	char *status;       /* running | success | noop | rolled_back | failed | interrupted */
	char *message;
	char *backup_id;
	int64_t started_at_ms, finished_at_ms;
	long pid;
	char *host;
} fr_run_row;

void fr_run_rows_free(fr_run_row *r, size_t n);
/* Frees the strings of one row held by value. */
void fr_run_row_clear(fr_run_row *r);
int fr_state_run_begin(fr_state *s, const char *kind, const char *from, const char *to,
                       int64_t *out_id);
int fr_state_run_end(fr_state *s, int64_t id, const char *status, const char *to,
                     const char *message);
int fr_state_run_set_backup(fr_state *s, int64_t id, const char *backup_id);
/* Runs newest first; limit 0 means all. */
int fr_state_runs(fr_state *s, int limit, fr_run_row **out, size_t *n);
/* The newest run still marked running, if any (*found = 0 otherwise). */
int fr_state_running(fr_state *s, fr_run_row *out, int *found);

/* Outcomes of one run's steps in order, as parallel arrays in a JSON-ready form. */
typedef struct {
	char *step_id, *status, *message;
	int64_t duration_ms;
} fr_run_step_row;
/*
 * Appends outcomes to a run's, after those it has (one, or n in order; an
 * empty message is stored as NULL). The rows go in batches, as the
 * registry's (fr_state_reg_put_many).
 */
int fr_state_run_step(fr_state *s, int64_t run_id, const char *step_id, const char *status,
                      int64_t duration_ms, const char *message);
int fr_state_run_steps_add(fr_state *s, int64_t run_id, const fr_run_step_row *r, size_t n);
int fr_state_run_steps(fr_state *s, int64_t run_id, fr_run_step_row **out, size_t *n);
void fr_run_step_rows_free(fr_run_step_row *r, size_t n);

/*
 * The backups ferry wrote (lib/backup/), one row each in the table
 * `backups`, made by the first call that needs it. verified: 1 checked by
 * a verify or a restore, 0 not checked yet, -1 found damaged. These return
 * 0, or -1 with the message in fr_state_errmsg().
 */
typedef struct {
	char *id, *path, *version, *type;
	int64_t size, created_at_ms;
	int verified;
} fr_backup_row;

void fr_backup_rows_free(fr_backup_row *r, size_t n);
/* Every row, in no particular order. */
int fr_state_backups(fr_state *s, fr_backup_row **out, size_t *n);
/* Inserts r, or replaces the row of r->id. */
int fr_state_backup_put(fr_state *s, const fr_backup_row *r);
int fr_state_backup_set_verified(fr_state *s, const char *id, int verified);
int fr_state_backup_delete(fr_state *s, const char *id);
/*
 * The paused run (lib/pause.c): at most one row, the run waiting at a safe
 * point, the pid walking it, since when and who asked. Set with by, cleared
 * with by NULL; 0 or -1. _get: 1 and *out filled (out->by freed by the
 * caller), 0 when nothing is paused, -1 out of memory.
 */
typedef struct {
	int64_t run_id, since_ms;
	long pid;
	char *by;
} fr_pause_row;
int fr_state_pause_set(fr_state *s, int64_t run_id, int64_t since_ms, const char *by);
int fr_state_pause_get(fr_state *s, fr_pause_row *out);
/* A consistent copy of state.db into the new file dest (a rehearsal's). -1 with err appended. */
int fr_state_copy(fr_state *s, const char *dest, fr_buf *err);

/*
 * The crash journal: what a run has under way that a crash could cut in
 * half, written down (and committed) before it starts. An entry is a step
 * outside any transaction whose forward runs (what, kind, db: its id, kind
 * and database; undo: the undo of what it did so far) or a child process
 * group (pgid; what names the step or hook). Recovery kills each group,
 * undoes each unfinished forward, and forgets the entries.
 */
typedef struct {
	int64_t id;
	int64_t run_id;
	char *what;   /* the step id, or "hook NAME" */
	char *kind;   /* the step kind's name; "" for a bare process group */
	char *db;     /* the step's database; "" for none */
	char *undo;   /* the undo of the forward so far; "" for none */
	int64_t pgid; /* 0: none */
	char *boot;   /* the boot the group was started in (fr_boot_id) */
} fr_journal_row;

void fr_journal_rows_free(fr_journal_row *r, size_t n);
/* A new entry; *id names it for the calls below. */
int fr_state_journal_add(fr_state *s, int64_t run_id, const char *what, const char *kind,
                         const char *db, const char *undo, int64_t *id);
/* Replaces the entry's undo text (an ops step, before each of its ops). */
int fr_state_journal_undo(fr_state *s, int64_t id, const char *undo);
/* Sets the entry's process group (the supervised child about to start), with this boot's id. */
int fr_state_journal_pgid(fr_state *s, int64_t id, int64_t pgid);
/* Forgets an entry (the step is recorded, the child reaped). */
int fr_state_journal_drop(fr_state *s, int64_t id);
/* Every entry, oldest first. */
int fr_state_journal(fr_state *s, fr_journal_row **out, size_t *n);


/*
 * Fills st->checksum: from the cache when size, mtime and inode match,
 * else by hashing the file (and remembering it for fr_state_cache_save).
 * Returns 0, or -1 with errno set when the file cannot be read.
 */
int fr_state_checksum(fr_state *s, fr_step *st);
/*
 * Remembers st->checksum, computed from the bytes a load read, under the
 * stat data the catalog took before that read (a file changed in between
 * has another stat the next time, so the entry is not used). Files changed
 * in the last 2 s are not remembered (racy); errors only cost a later hash.
 */
void fr_state_cache_note(fr_state *s, const fr_step *st);
/* Writes the cache entries computed since open. */
int fr_state_cache_save(fr_state *s);

/*
 * The no-op fingerprint: a digest of the catalog's stat data that the last
 * full no-op check found clean (nothing pending, nothing drifted). Any
 * write to the registry or the version forgets it. get gives 0 when none.
 */
uint64_t fr_state_noop_fp(fr_state *s);
void fr_state_set_noop_fp(fr_state *s, uint64_t fp);
/*
 * The listing fingerprint of the same clean no-op (lib/noop.c), which
 * decides before the catalog is read; forgotten with noop_fp.
 */
uint64_t fr_state_quick_fp(fr_state *s);
/*
 * The start-up check's one query: the recorded version (appended to
 * version, nothing when none), the listing digest (0 when none) and
 * whether a run row says running. 0, or -1.
 */
int fr_state_quick_read(fr_state *s, fr_buf *version, uint64_t *quick, int *running);
/*
 * What tells that state.db is as it was: PRAGMA data_version (moves when
 * another connection commits; -1 on error) and the rows this connection
 * changed so far.
 */
int64_t fr_state_data_version(fr_state *s);
int64_t fr_state_changes(fr_state *s);
void fr_state_set_quick_fp(fr_state *s, uint64_t fp);

#endif
