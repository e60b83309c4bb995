/*
 * ops_int.h - what the rooms of the ops step kind share: an op as the ops
 * file gave it, the step's parsed form, and the state of one run (forward,
 * undo or describe) over a root. The kind itself is ops.c; the file
 * formats are behind edit.h.
 *
 *   parse.c    the ops file into ops (errors "<file>:<line>: <what>")
 *   confine.c  paths inside the root, the run's root and its messages
 *   content.c  set, rename, delete, env: a file read, edited, written
 *   tree.c     mkdir, move, copy, chmod, remove, and what remove took away
 *   undo.c     the undo record and undoing it
 *   diff.c     --dry-run: the ops listed, a unified diff of each file
 */
#ifndef FR_OPS_INT_H
#define FR_OPS_INT_H

#include "../step.h"
#include "edit.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

enum { OP_SET, OP_RENAME, OP_DELETE, OP_ENV, OP_MKDIR, OP_MOVE, OP_COPY, OP_CHMOD, OP_REMOVE,
       OP_N };

extern const char *const fr_ops_names[OP_N]; /* "set", "rename"...: as the ops file names them */

typedef struct {
	int type;
	int line;
	char *file;       /* set, rename, delete, env */
	const fr_editor *ed; /* the editor of file */
	char *path;       /* set, delete: key path; mkdir, chmod, remove: a path */
	char *from, *to;  /* rename: key paths; move, copy: paths */
	char *key;        /* env */
	json_t *value;    /* set; env: a string */
	mode_t mode;
	int has_mode;
	int if_missing;
	int recursive;
} op;

typedef struct {
	char *description;
	op *ops;
	size_t nops;
	json_t *undo;     /* the actions forward() recorded, in order; NULL before */
} ops_priv;

/* describe(): a file as the ops would leave it */
typedef struct {
	char *abs;
	fr_buf base;         /* before the ops (or as a copy or move brought it) */
	fr_buf cur;
	int base_exists, cur_exists;
	int hidden;          /* moved or removed: no diff of its own */
} ovfile;

typedef struct {
	fr_run_ctx *ctx;     /* NULL in describe() */
	const char *rel;     /* the ops file, for messages */
	const char *step_id;
	char *root;          /* the root, symlinks resolved */
	size_t rootlen;
	fr_buf *err;
	json_t *actions;     /* forward(): what each op did, in order */
	char *stash_dir;     /* where remove and copy put what they take away; made on first use */
	int nstash;
	ovfile *ov;          /* describe(): the would-be contents */
	size_t nov;
} orun;

/* ---- parse.c ---- */

/*
 * Parses the text of the ops file rel into *out (owned; fr_ops_priv_free()).
 * On error appends "<rel>:<line>: <what>" lines to err and returns -1.
 */
int fr_ops_parse(const char *rel, const char *text, size_t len, ops_priv **out, fr_buf *err);
void fr_ops_priv_free(ops_priv *p);

/* ---- confine.c ---- */

/*
 * A path of the ops file: relative, no "..", not the root itself, not in
 * .ferry. NULL when fine, else why not.
 */
const char *fr_ops_path_problem(const char *p);
/* Sets up a run over root (resolved); on error a message in err and -1. */
int fr_ops_orun_init(orun *R, fr_run_ctx *ctx, const char *root, const char *rel,
                     const char *step_id, fr_buf *err);
void fr_ops_orun_free(orun *R);
/* Starts a message about op o (NULL: about the step's undo) in R->err. */
void fr_ops_err(orun *R, const op *o, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when the resolved path real is the root or inside it. */
int fr_ops_inside(const orun *R, const char *real);
/* The path relative to the root of an absolute path inside it. */
const char *fr_ops_rel_of(const orun *R, const char *abs);
/*
 * Resolves path (relative to the root, already checked by
 * fr_ops_path_problem()) component by component. A symlink on the way must
 * lead inside the root; one at the end is followed when follow is set
 * (then it too must lead inside), else kept (a move or remove takes the
 * link itself). Nothing in .ferry. The absolute path (owned), or NULL with
 * the refusal in R->err.
 */
char *fr_ops_resolve(orun *R, const op *o, const char *path, int follow);

/* ---- content.c ---- */

/*
 * Applies a content op (set, rename, delete, env) to text, the file's
 * bytes ("" when it does not exist), through the file's editor. The new
 * bytes go to out when *changed; the undo of the change is appended to undo.
 */
int fr_ops_edit_text(const op *o, const char *text, size_t len, fr_buf *out, int *changed,
                     json_t *undo, fr_buf *err);
/* Reads a file an op edits: *exists 0 when it is not there. */
int fr_ops_read_target(orun *R, const op *o, const char *abs, const char *rel, fr_buf *text,
                       int *exists);
/* Writes a file an op edits, atomically (mode and owner kept; a new secret one is private). */
int fr_ops_write_target(orun *R, const op *o, const char *abs, const char *rel,
                        const fr_editor *ed, const char *data, size_t len);
/* set, rename, delete, env */
int fr_ops_edit(orun *R, const op *o);

/* ---- tree.c ---- */

int fr_ops_mkdir(orun *R, const op *o);
int fr_ops_move(orun *R, const op *o);
int fr_ops_copy(orun *R, const op *o);
int fr_ops_chmod(orun *R, const op *o);
int fr_ops_remove(orun *R, const op *o);
/* 1 when something (a dangling symlink too) is at p. */
int fr_ops_exists(const char *p);
/* rename(), or copy and remove across file systems. */
int fr_ops_move_path(const char *src, const char *dst);
/* rm -rf without following symlinks. */
int fr_ops_remove_tree(const char *path);
/* The absolute path of a stash as the undo record holds it (owned). */
char *fr_ops_stash_abs(const orun *R, const char *rec);

/* ---- undo.c ---- */

/* A new action of the undo record for op o: {"op", "line"} (NULL out of memory). */
json_t *fr_ops_action(const op *o);
/* Appends action a (taken over; NULL: out of memory) to R->actions. */
int fr_ops_record(orun *R, const op *o, json_t *a);
/* The crash journal gets the actions so far (fr_ops_journal), or them and a, not kept. */
int fr_ops_journal(orun *R, const op *o);
int fr_ops_journal_ahead(orun *R, const op *o, json_t *a);
/* Undoes the actions, newest first; stops at the first that fails. */
int fr_ops_undo_actions(orun *R, const json_t *actions);
/* The undo text of the actions forward() recorded (NULL: none), appended to out. */
int fr_ops_undo_dump(json_t *actions, fr_buf *out);
/* Undoes a step from the text fr_ops_undo_dump() gave. */
int fr_ops_undo_replay(fr_run_ctx *ctx, const char *step_id, const char *text);

/* ---- diff.c ---- */

/*
 * Appends the --dry-run text of the step: each op, what it would not do
 * or be refused, then a unified diff of each file the ops would change.
 * root NULL: not known, no diff.
 */
int fr_ops_dry_run(const ops_priv *p, const char *rel, const char *step_id, const char *root,
                   fr_buf *out);

/* template.c: the file `ferry new --kind ops` writes, and telling it untouched. */
int fr_ops_new_template(fr_buf *out, const char *name);
int fr_ops_is_template(const char *text, size_t len);

/* redact.c: secrets kept off the terminal and out of the log (dry runs). */
int fr_ops_secret_name(const char *name, size_t len);
int fr_ops_secret_path(const char *path);
/* 1 when a value set at path in file is shown as <redacted>: any .env value, a secret key's. */
int fr_ops_redact_value(const char *file, const char *path);
/* Appends diff (a unified diff of file) with the values of secret lines redacted. */
void fr_ops_redact_diff(fr_buf *out, const char *file, const char *diff, size_t len);
/* Appends what an undo record puts back, key by key, without a value. */
int fr_ops_describe_undo(const char *text, fr_buf *out);

#endif
