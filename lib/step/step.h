/*
 * step.h - the step kind interface: one file per kind (sql.c, script.c,
 * ops.c, native.c) behind one struct of function pointers, looked up by
 * file name in step.c's table. The engine sees steps only through it, and
 * asks a kind's properties through the wrappers here, never by its name.
 * A kind includes only this header, lib/util/, lib/db/db.h and public
 * headers (tools/check-layers holds it to that).
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

/*
 * A step of another tool's folder has its up, down and transaction rule
 * told by that tool's layout (lib/layout/) rather than by ferry's markers:
 * the SQL kind hands the texts it read to the step's split function.
 */
typedef struct {
	const char *rel;                /* the step, for messages */
	const char *up;                 /* the up file's text (NUL-terminated), up_len bytes */
	size_t up_len;
	const char *down;               /* a separate down file's text, or NULL */
	size_t down_len;
	const char *meta;               /* a file of options beside it (metadata.toml), or NULL */
	size_t meta_len;
} fr_split_in;

typedef struct {
	char *up;        /* fr_malloc'd; never NULL on success ("" for an empty up) */
	int up_line;     /* the file line up starts on */
	char *down;      /* fr_malloc'd, or NULL: no down */
	int no_tx;       /* 1: up runs outside a transaction */
} fr_split_out;

/* 0, or -1 with "<rel>:<line>: <what>" appended to err; out is the caller's to free. */
typedef int (*fr_step_split_fn)(const fr_split_in *in, fr_split_out *out, fr_buf *err);

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
	const char *const *db_shown; /* the same for display: passwords hidden (NULL: none) */
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
	/*
	 * The crash journal (the engine's, in state.db; each member may be
	 * NULL: no journal). journal_undo writes down, before forward() makes
	 * its next change, the undo of what it did so far (as undo_text()
	 * would give it): a forward cut short by a crash is undone from it.
	 * proc_started and proc_ended go to fr_proc's started and ended with
	 * proc_arg: the process group of a child is written down before its
	 * program starts, so that recovery makes sure it is gone.
	 */
	int (*journal_undo)(fr_run_ctx *ctx, const char *undo);
	int (*proc_started)(void *arg, pid_t pgid, fr_buf *err);
	void (*proc_ended)(void *arg, pid_t pgid);
	void *proc_arg;
};

/* Kind flags (fr_step_kind.flags), asked through fr_kind_has(). */
#define FR_KIND_NEEDS_DB    0x1u /* a step that names no database needs the default one (SQL) */
#define FR_KIND_NO_FILE     0x2u /* registered in code: no file to read, hash or drift (native) */
#define FR_KIND_EXECUTABLE  0x4u /* the file `ferry new` writes is made executable (script) */

/*
 * A step kind (after libgit2's sys/refdb_backend.h): each member says
 * whether a kind must provide it; fr_step_kind_complete() refuses a kind
 * that lacks one, and the engine reaches the optional ones through the
 * wrappers below, which handle their absence.
 */
typedef struct fr_step_kind {
	/* Must provide: the kind's name, as the registry records it ("sql"). */
	const char *name;
	/* Must provide: what messages call one step of it ("SQL step", "script step"). */
	const char *noun;
	/* Optional: the files it claims, for messages ("*.sql"); NULL for a kind without files. */
	const char *files;
	/* Optional: FR_KIND_* bits; 0 for none. */
	unsigned flags;

	/* Must provide: 1 when a file of this name (executable or not) is a step of this kind. */
	int (*claims)(const char *filename, int executable);

	/*
	 * Must provide, unless FR_KIND_NO_FILE: parses the step's text into
	 * s->priv. On error appends "<file>:<line>: <what>" to err and returns -1.
	 */
	int (*load)(fr_step *s, const char *text, size_t len, fr_buf *err);
	/* Optional: frees s->priv. */
	void (*unload)(fr_step *s);

	/* Must provide: the database the step changes (NULL: the default), or "" for none. */
	const char *(*database)(const fr_step *s);
	/* Must provide: 1 when the step may share a transaction with its neighbours. */
	int (*transactional)(const fr_step *s);
	/* Must provide: 1 when the step has a down / backward / recorded undo. */
	int (*reversible)(const fr_step *s);

	/* Optional: *needed = 1 when the step must run, 0 when it is already done. */
	int (*check)(fr_run_ctx *ctx, fr_step *s, int *needed);
	/* Must provide: runs the step. */
	int (*forward)(fr_run_ctx *ctx, fr_step *s);
	/* Optional: the step's verify (0 when it has none). */
	int (*verify)(fr_run_ctx *ctx, fr_step *s);

	/*
	 * Must provide: the text the registry keeps so that undo() works
	 * without the file; "" when irreversible.
	 */
	int (*undo_text)(const fr_step *s, fr_buf *out);
	/* Must provide: undoes a step from the text undo_text() gave, on database db_name. */
	int (*undo)(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text);
	/* Optional: 1 when that undo may run inside a transaction (NULL: it may). */
	int (*undo_transactional)(const char *text);

	/*
	 * Optional (`ferry check`): asks the step's database whether the text
	 * forward() would run parses, running none of it (the driver's parse).
	 * 0: it does, or nothing can tell; 1: it does not, with
	 * "<file>:<line>: syntax error ..." in ctx->err; -1: could not ask
	 * (ctx->err).
	 */
	int (*lint)(fr_run_ctx *ctx, fr_step *s);

	/* Must provide: appends what forward() would do (every statement) for --dry-run. */
	int (*describe)(const fr_step *s, fr_buf *out);
	/*
	 * Optional: describe() with the run's context (ctx->from, to, step_id,
	 * the databases' db_shown values): what forward() would do with what
	 * this run gives it, passwords hidden. NULL: describe().
	 */
	int (*describe_in)(fr_run_ctx *ctx, const fr_step *s, fr_buf *out);

	/*
	 * Optional, together: the file `ferry new` writes, <NNN>_<name>.<new_ext>
	 * holding what new_template() appends for name (NULL: `ferry new`
	 * cannot make this kind), and is_template(), 1 when a step's text is
	 * that template untouched (whatever the name), so that plan and up
	 * refuse it, naming the file.
	 */
	const char *new_ext;
	int (*new_template)(fr_buf *out, const char *name);
	int (*is_template)(const char *text, size_t len);

	/*
	 * Optional: 0 with the reason in ctx->err when undo() could not undo
	 * that recorded text here (a native step this program did not register,
	 * or registered without a backward), so that a down refuses before it
	 * changes anything. NULL: undo() can whenever the text is not empty.
	 */
	int (*can_undo)(fr_run_ctx *ctx, const char *step_id, const char *text);

	/*
	 * Optional: appends what undo() of that recorded text would do, for
	 * `down --dry-run`, without a secret value in it. NULL: the text is
	 * shown as it is (an SQL down, a script).
	 */
	int (*describe_undo)(const char *text, fr_buf *out);

	/*
	 * Optional: 1 when the loaded step's forward() does nothing (an up of
	 * only comments or blank lines: a placeholder, applied as a no-op and
	 * recorded). NULL: never.
	 */
	int (*empty)(const fr_step *s);
} fr_step_kind;

struct fr_step {
	char *id;      /* "<to>/<file name>"; another tool's: "<layout>:<source path>/<migration>" */
	char *name;    /* file name (another tool's: the migration, diesel's folder) */
	char *path;    /* absolute path of the file */
	char *rel;     /* path relative to the root, for messages */
	const fr_step_kind *kind;
	fr_transition *tr;  /* the engine's; a kind reads from and to instead */
	const fr_vpattern *from; /* the transition's from and to (what --dry-run shows) */
	const fr_version *to;
	int64_t size;
	int64_t mtime_ns;  /* fr_stamp_ns(): the later of mtime and ctime */
	int64_t ino;
	int executable;
	char checksum[FR_CHECKSUM_LEN + 1]; /* "" until computed */
	int loaded;    /* load() has run */
	void *priv;    /* the kind's parsed form */
	/* A step of another tool's folder (lib/layout/): NULL for ferry's own layout. */
	const char *layout;   /* the layout's name: "dbmate", "goose", ... */
	char *tool_version;   /* the tool's id of the migration, as its history table writes it */
	char *tool_name;      /* the migration's name or description, as the tool writes it */
	fr_step_split_fn split; /* the layout's reading of its files (NULL: ferry's markers) */
	char *down_path;      /* absolute: a down file apart from path, or NULL */
	char *meta_path;      /* absolute: a file of options (metadata.toml, V1__x.sql.conf), or NULL */
	const char *source_db; /* the database its source names (NULL: the default) */
	int repeatable;       /* Flyway's R__: runs again when its checksum changes */
	size_t chain;         /* its place in its source's chain (the tool's order) */
	size_t source;        /* which source of ferry.yaml it comes from */
};

/* The kind that claims filename, or NULL. */
const fr_step_kind *fr_step_kind_for(const char *filename, int executable);
/* The kind called name ("sql"), or NULL. */
const fr_step_kind *fr_step_kind_find(const char *name);
/* The first kind of the table with flag (FR_KIND_NO_FILE: the kind of steps registered in C). */
const fr_step_kind *fr_step_kind_with(unsigned flag);
/*
 * The kind `ferry new --kind name` makes: name is a kind's name or its
 * new_ext ("sql", "script", "sh", "ops"); NULL gives fr_step_kind_default().
 * NULL when no kind of that name can be made.
 */
const fr_step_kind *fr_step_kind_for_new(const char *name);
/*
 * The kind a step is when nothing names one: `ferry new` without --kind,
 * and a registry row written before rows recorded their kind (SQL then).
 */
const fr_step_kind *fr_step_kind_default(void);

/* 1 when the loaded step s does nothing when it runs (a placeholder: kind->empty). */
int fr_step_empty(const fr_step *s);

/* 1 when k (may be NULL: 0) has every bit of flag. */
int fr_kind_has(const fr_step_kind *k, unsigned flag);
/* What messages call a step of k ("SQL step"); "step" for NULL. */
const char *fr_kind_noun(const fr_step_kind *k);
/*
 * Appends the template of `ferry new` for a step called name, and sets *ext
 * to the file's extension. -1 when k cannot make one (or out of memory).
 */
int fr_kind_new_template(const fr_step_kind *k, const char *name, fr_buf *out,
                         const char **ext);
/* Appends the kinds `ferry new` makes, for messages: "sql, ops (*.yaml), script (*.sh)". */
void fr_step_kinds_new_list(fr_buf *out);
/*
 * Appends the file kinds and what they claim, for messages: "SQL steps
 * *.sql, script steps *.sh or any executable file, and ops steps *.yaml".
 */
void fr_step_kinds_files(fr_buf *out);
/*
 * 0 when k provides every member it must (see fr_step_kind), else -1 with
 * the missing ones appended to why: the table refuses such a kind.
 */
int fr_step_kind_complete(const fr_step_kind *k, fr_buf *why);

/*
 * Reads the step's file and runs kind->load once. A file that is still the
 * untouched template of `ferry new` is refused: "<rel>: ...".
 */
int fr_step_load(fr_step *s, fr_buf *err);
/* 1 when the step's file is its kind's untouched `ferry new` template (reads it; cheap). */
int fr_step_untouched(const fr_step *s);

/*
 * Templates: "{name}" in tmpl stands for the step's name. fill appends tmpl
 * with name put in; matches is 1 when text is tmpl with any name (letters,
 * digits, '_' and '-') put in. For the kinds' new_template and is_template.
 */
int fr_template_fill(fr_buf *out, const char *tmpl, const char *name);
int fr_template_matches(const char *tmpl, const char *text, size_t len);

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

#ifdef FR_TESTING
/* The tests' library only: adds k to the table, before the catch-all kind (mock_kind.c). */
void fr_step_kind_test_register(const fr_step_kind *k);
#endif

#endif
