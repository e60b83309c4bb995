/*
 * ferry_int.h - the handle behind the public `ferry *`, and the helpers
 * every module of the engine uses to fail and to log. Internal only.
 */
#ifndef FR_FERRY_INT_H
#define FR_FERRY_INT_H

#include "../include/ferry.h"
#include "catalog.h"
#include "config.h"
#include "lock.h"
#include "state.h"
#include "util/buf.h"

#include <signal.h>

struct json_t;
/* Drops the last run's document (record.c). */
void fr_last_run_clear(ferry *f);
/* The last up/down document, whole: its actions put in if they are not yet. */
struct json_t *fr_last_run_doc(ferry *f);

struct ferry {
	char *root;        /* absolute */
	char *ferry_dir;   /* <root>/.ferry */
	fr_config *cfg;
	fr_state *state;
	fr_catalog *cat;   /* loaded on demand by fr_load_catalog() */
	/*
	 * up's locked pass, when the lock came at once: the catalog its first
	 * pass read a moment ago is used as it is (run.c, lock_for_up).
	 */
	int cat_keep;
	/*
	 * The stat of every entry the no-op listing (noop.c) took in this call,
	 * for the catalog read after it (fr_load_catalog); freed when the call
	 * ends (fr_statmemo_end).
	 */
	struct fr_statmemo *statmemo;
	fr_lock lock;
	fr_buf err;
	int errcode;
	ferry_log_fn log;
	void *log_ctx;
	volatile sig_atomic_t interrupted;
	/*
	 * The document of the last up/down (record.c), kept as it was built;
	 * its text is made when ferry_last_run() first asks (last_run_text).
	 */
	struct json_t *last_run;
	char *last_run_text;
	/*
	 * The run's actions taken, for that document's "actions": put in
	 * (fr_last_run_doc) only when the document is first read, as most
	 * runs' documents never are (the tool prints a summary).
	 */
	struct fr_taken_s *last_taken;
	size_t nlast_taken;
	int last_taken_pending;
	int log_fd;        /* .ferry/log/ferry.log, opened on the first event; -1 */
	fr_buf log_buf;    /* log lines not written yet (fr_log_flush) */
	int64_t log_sec;   /* the second log_time says (fr_log); 0 before the first line */
	char log_time[32];
	/*
	 * The default database, when its driver keeps the version (PostgreSQL:
	 * every machine sees the version its shared data is at). Opened on
	 * first use; NULL otherwise.
	 */
	struct fr_db *vdb;
	int vdb_tried;
	/*
	 * The version database being opened by a thread of its own while this
	 * one reads the migrations folder (fr_vdb_start); joined by the first
	 * fr_current() or by ferry_close(). NULL when none runs.
	 */
	struct fr_vdb_job *vdb_job;
	struct fr_vdb_job *vdb_read; /* its version, not taken yet by fr_current() */
	ferry_progress_fn progress;
	void *progress_ctx;
	ferry_event_fn event; /* the run's events (lib/pause.c: fr_event) */
	void *event_ctx;
	/* Native steps registered by the application (ferry_register_step). */
	ferry_native_step *natives;
	size_t nnatives;
	char *native_error; /* set by ferry_set_error() from a callback */
	int one_shot;       /* FERRY_OPEN_ONE_SHOT: no change watch (noop.c) */
	struct fr_noop *noop; /* the change watch and the clean no-op it vouches for */
};

/* Sets f's message and code; returns code, so that failing is one line. */
int fr_fail(ferry *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with the message taken from msg. */
int fr_fail_msg(ferry *f, int code, const char *msg);
void fr_ok(ferry *f);

/* Reports an event to the caller's callback and to .ferry/log/ferry.log. */
void fr_log(ferry *f, ferry_log_level level, const char *step_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes the log lines gathered so far. */
void fr_log_flush(ferry *f);

/*
 * Starts opening the version database (and reading the version) on a
 * thread, when the default database keeps one and is not open yet; the
 * start-up path then waits for PostgreSQL while it scans the folder.
 */
void fr_vdb_start(ferry *f);

/*
 * The catalog (fr_load_catalog) and the current version (fr_current),
 * the version database opening on a thread meanwhile (fr_vdb_start).
 * When the catalog fails, *cur is still the version if it can be read
 * (else 0.0.0) and the error is the catalog's.
 */
int fr_catalog_and_current(ferry *f, fr_version *cur);

/* ferry_plan_new(), which also gives the current version it read, even when it fails after. */
int fr_plan_new(ferry_plan **out, ferry *f, const char *target, fr_version *current);

/*
 * The version database (the default one, when its driver keeps the
 * version), opened once or taken from its thread; NULL when there is none
 * or it failed (*rc then says how).
 */
struct fr_db *fr_version_db(ferry *f, int *rc);

/* Closes the version database and its thread (ferry_close). */
void fr_vdb_close(ferry *f);

/*
 * Hands the document doc (consumed) to the caller as text in *out (JSON,
 * indented, keys in order). 0, or FERRY_EFAILED out of memory.
 */
struct json_t;
int fr_publish(ferry *f, struct json_t *doc, char **out);

/* The `history` document's object of one run. */
struct json_t *fr_run_json(const fr_run_row *r);

/*
 * state.db's mirror of the registry takes the record of every database
 * other machines share (a PostgreSQL database of several replicas), so a
 * replica's list, status and verify tell what another one applied. Takes
 * no lock; a no-op without such a database. lost (may be NULL) gets
 * "ID\tDATABASE\n" for each step the mirror had applied and the record no
 * longer holds (undone elsewhere, or the record edited): verify reports them.
 */
int fr_registry_refresh(ferry *f, fr_buf *lost);

/* 1 when a database keeps a record other machines share (PostgreSQL). */
int fr_shared_record(ferry *f);

/*
 * 1 when the stat fingerprint of a clean no-op at cur (run.c) still holds:
 * nothing can be pending, drifted or out of order, and the registry need
 * not be read.
 */
int fr_noop_is_clean(ferry *f, const fr_version *cur);

/*
 * The no-op start before the catalog (noop.c). fr_noop_listing is the
 * digest of what the catalog is made from (every entry of the migrations
 * folders with its stat, ferry.yaml's, the native steps, target (NULL: the
 * latest), this build), 0 when an entry is too fresh to trust or a folder
 * cannot be read. fr_noop_quick_fp folds the current version into it: what
 * a clean no-op stores (fr_state_set_quick_fp). fr_noop_quick_read reads,
 * before the listing, what it is compared with (the stored digest, the
 * version state.db keeps, whether a run row says running), in a read
 * transaction of state.db it leaves open; with no digest stored, the
 * catalog will be read, so the listing notes its stats for it (memo,
 * f->statmemo). fr_noop_quick is 1 when the stored digest matches: *cur is
 * then the current version (read from a shared database now), *running
 * says whether a run row says running (the caller asks whether it was
 * interrupted), and the read transaction is still open (the caller commits
 * it); 0 after committing it.
 */
typedef struct {
	int ok;          /* state.db was read */
	uint64_t stored; /* the digest a clean no-op stored; 0: none */
	fr_version cur;  /* the version state.db keeps (not with a shared record) */
	int running;
} fr_noop_state;
void fr_noop_quick_read(ferry *f, fr_noop_state *q);
uint64_t fr_noop_listing(ferry *f, const char *target, int watch, int memo);
/*
 * The open handle's watch (noop.c): fr_noop_listing arms it when asked
 * (watch: ferry_up's listing) and the handle is not one-shot. fr_noop_remember notes a clean no-op at cur for
 * target after a listing; fr_noop_again is 1 when nothing the watch sees
 * moved since, nor state.db, nor a shared version (then *cur is the
 * version); fr_noop_forget drops what was noted; fr_noop_close gives the
 * descriptor back to the process's pool (ferry_close).
 */
void fr_noop_remember(ferry *f, const char *target, const fr_version *cur);
int fr_noop_again(ferry *f, const char *target, fr_version *cur);
void fr_noop_forget(ferry *f);
void fr_noop_close(ferry *f);
uint64_t fr_noop_quick_fp(uint64_t listing, const fr_version *cur);
int fr_noop_quick(ferry *f, uint64_t listing, const fr_noop_state *q, fr_version *cur,
                  int *running);

/* Loads the catalog once (FERRY_EINVALID with every problem in the message). */
int fr_load_catalog(ferry *f);
/* Forgets the listing's stats (f->statmemo): at the end of each call that took them. */
void fr_statmemo_end(ferry *f);

/* The current version from state (0.0.0 when none recorded). */
int fr_current(ferry *f, fr_version *out);

/* Writes the version file (when configured) and records v in state. */
int fr_record_version(ferry *f, const fr_version *v);

#endif
