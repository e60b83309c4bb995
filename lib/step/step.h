/*
 * step.h - the step kind interface: one file per kind (sql.c, later
 * script.c, ops.c, native.c) behind one struct of function pointers,
 * looked up by file name. The run engine sees steps only through it.
 */
#ifndef FR_STEP_H
#define FR_STEP_H

#include "../db/db.h"
#include "../util/buf.h"
#include "../util/hash.h"
#include "../version.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct fr_step fr_step;
typedef struct fr_transition fr_transition;
typedef struct fr_run_ctx fr_run_ctx;

/* What a step kind gets from the engine while it runs. */
struct fr_run_ctx {
	const char *root;
	int dry_run;
	/* The open connection of database name (NULL: the default), or NULL with ctx->err set. */
	fr_db *(*db)(fr_run_ctx *ctx, const char *name);
	fr_buf *err;  /* where a failing call writes its message */
	/*
	 * Set by a kind when a failure is the step's own text being invalid
	 * (an SQL syntax error): the run is undone and ends as invalid input
	 * (exit 2) rather than as a failed run (exit 1).
	 */
	int invalid_input;
	void *engine; /* the engine's own */

	/* What scripts see (SPEC section 4): FERRY_FROM, FERRY_TO, FERRY_STEP. */
	const char *from;     /* the transition's from, as written (a version or pattern) */
	const char *to;
	const char *step_id;  /* the step running now */
	/* Database names and URLs (FERRY_DB_<NAME>), ndbs of them. */
	const char *const *db_names;
	const char *const *db_urls;
	size_t ndbs;
	/*
	 * A line a step printed (a script's stdout/stderr): to the log,
	 * prefixed with the step id, and to the terminal with --verbose.
	 */
	void (*output)(fr_run_ctx *ctx, const char *line);
	/* A folder of the engine's for the run's own files (ops: what remove took away). */
	const char *scratch_dir;
	volatile sig_atomic_t *interrupted; /* set by ferry_interrupt() */
	struct ferry *handle; /* for native steps' callbacks */
};

typedef struct fr_step_kind {
	const char *name; /* "sql" */

	/* 1 when a file of this name (executable or not) is a step of this kind. */
	int (*claims)(const char *filename, int executable);

	/*
	 * Parses the step's text into s->priv. On error appends
	 * "<file>:<line>: <what>" to err and returns -1.
	 */
	int (*load)(fr_step *s, const char *text, size_t len, fr_buf *err);
	void (*unload)(fr_step *s);

	/* The database the step changes (NULL: the default), or "" for none. */
	const char *(*database)(const fr_step *s);
	/* 1 when the step may share a transaction with its neighbours on its database. */
	int (*transactional)(const fr_step *s);
	/* 1 when the step has a down / backward / recorded undo. */
	int (*reversible)(const fr_step *s);

	/* check: *needed = 1 when the step must run, 0 when it is already done. */
	int (*check)(fr_run_ctx *ctx, fr_step *s, int *needed);
	int (*forward)(fr_run_ctx *ctx, fr_step *s);
	/* The step's verify (0 when it has none). */
	int (*verify)(fr_run_ctx *ctx, fr_step *s);

	/* The text the registry keeps so that undo() works without the file; "" when irreversible. */
	int (*undo_text)(const fr_step *s, fr_buf *out);
	/* Undoes a step from the text undo_text() gave, on database db_name. */
	int (*undo)(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text);
	/* 1 when that undo may run inside a transaction (0: a no-transaction step's down). */
	int (*undo_transactional)(const char *text);

	/* Appends what forward() would do (every statement) for --dry-run. */
	int (*describe)(const fr_step *s, fr_buf *out);
} fr_step_kind;

struct fr_step {
	char *id;      /* "<to>/<file name>" */
	char *name;    /* file name */
	char *path;    /* absolute path of the file */
	char *rel;     /* path relative to the root, for messages */
	const fr_step_kind *kind;
	fr_transition *tr;  /* the engine's; a kind reads from and to instead */
	const fr_vpattern *from; /* the transition's from and to (what --dry-run shows) */
	const fr_version *to;
	int64_t size;
	int64_t mtime_ns;
	int64_t ino;
	int executable;
	char checksum[FR_CHECKSUM_LEN + 1]; /* "" until computed */
	int loaded;    /* load() has run */
	int no_file;   /* a native step: no file to read; priv is set at registration */
	void *priv;    /* the kind's parsed form */
};

/* The kind that claims filename, or NULL. */
const fr_step_kind *fr_step_kind_for(const char *filename, int executable);
/* The kind called name ("sql"), or NULL. */
const fr_step_kind *fr_step_kind_find(const char *name);

/* Reads the step's file and runs kind->load once. */
int fr_step_load(fr_step *s, fr_buf *err);

/*
 * What the library gives the native kind about the steps an application
 * registered on its handle (defined in lib/ferry.c, where they are kept):
 * a kind reaches the handle only through these and the public API.
 */
struct ferry_native_step;
/* The step registered on f with that id, or NULL. */
const struct ferry_native_step *fr_native_find(struct ferry *f, const char *id);
/* The message a callback left with ferry_set_error(), handed over (fr_free it), or NULL. */
char *fr_native_take_error(struct ferry *f);

extern const fr_step_kind fr_step_sql;
extern const fr_step_kind fr_step_script;
extern const fr_step_kind fr_step_ops;
extern const fr_step_kind fr_step_native;

#endif
