/*
 * edit_int.h - what the editors share and nobody else sees: the JSON and
 * YAML documents as trees of nodes with byte spans (edit_tree.c), the
 * format-specific halves of reading and writing them (edit_json.c,
 * edit_yaml.c), and the helpers of every editor (edit.c).
 */
#ifndef FR_OPS_EDIT_INT_H
#define FR_OPS_EDIT_INT_H

#include "edit.h"
#include "text.h"

#include <stddef.h>

#define MAX_COMPS ED_MAX_COMPS
#define MAX_DEPTH 256       /* nesting of a JSON or YAML file we edit */

/* edit.c */

/* Splits a key path "a.b.0" into its components (owned). -1 when one is empty. */
int fr_split_keypath(const char *path, char ***out, size_t *n);
void fr_free_comps(char **v, size_t n);
/* A real in the fewest digits that read back the same. */
void fr_fmt_real(double d, char *buf, size_t n);
/* restore()'s failure: "cannot put back '<key>' in '<file>': <why>" in e->err. */
int fr_ed_restore_failed(fr_edit *e, const char *key, const char *why);
/* restore()'s entry without what it needs: "the undo record of '<file>' is damaged". */
int fr_ed_restore_damaged(fr_edit *e);

/* ---- JSON and YAML documents with byte spans (edit_tree.c) ---- */

enum { FMT_JSON = 1, FMT_YAML };
enum { T_SCALAR, T_MAP, T_SEQ, T_ALIAS };

typedef struct tnode tnode;
struct tnode {
	int kind;
	int flow;           /* JSON, or a YAML flow collection */
	int empty;          /* YAML: a plain scalar with no text (null) */
	int plain;          /* YAML scalar: plain */
	int anchor;         /* YAML: it, or a node inside it, has an anchor (&name) */
	int tagged;         /* YAML: it, or a node inside it, has a tag (!t) */
	int keyprops;       /* YAML: the key it is the value of has an anchor or a tag */
	int props;          /* YAML: it has an anchor or a tag of its own */
	size_t start, end;  /* the node's text; a block collection ends with its last child */
	size_t open, close; /* flow collections: the brackets */
	/*
	 * YAML: its text ends the file inside a block scalar (| or >, clip or
	 * keep chomping) with no line break after its last line, so that a line
	 * break written after it would join that scalar's value. chomp: where
	 * the scalar's header takes a '-' (strip: the same value with a line
	 * break after it), or the '+' that '-' replaces.
	 */
	int unclosed;
	size_t chomp;
	/*
	 * YAML: its text ends inside a block scalar (any chomping): blanks or
	 * a comment written after it on its last line would join its value.
	 */
	int bend;
	char *scalar;       /* YAML scalar: its value */
	size_t n, cap;
	char **keys;        /* MAP */
	size_t *kstart, *kend;
	tnode **kids;
};

typedef struct {
	int fmt;            /* FMT_JSON or FMT_YAML */
	const char *t;
	size_t len;
	tnode *root;        /* NULL: no document (an empty file, only comments) */
	char unit[16];      /* one level of indentation: JSON as found, YAML spaces */
	int pretty;         /* JSON: the root spans lines */
} tdoc;

/*
 * What an edit writes: a value, and for a move (rename) also the text it
 * had where it was, so that its spelling and inner comments travel along.
 */
typedef struct {
	json_t *v;
	const char *raw;    /* NULL: render v */
	size_t rawlen;
	size_t raw_base;    /* the column of its key or dash (JSON: that line's indentation) */
	size_t raw_col;     /* column its text started at */
	int raw_block;      /* YAML: a block collection (starts on a line of its own) */
	size_t raw_chomp;   /* YAML: 1 + the offset in raw of its unclosed scalar's chomp (0: none) */
	int raw_bend;       /* YAML: raw ends inside a block scalar (tnode.bend) */
} piece;

/* Where a YAML value goes: after "key:", after "- ", or inside a flow collection. */
enum { YP_MAP, YP_SEQ, YP_FLOW };

void fr_tnode_free(tnode *n);
void fr_tdoc_free(tdoc *d);
/* Adds a child (and for a mapping its key, which is taken over). */
int fr_tnode_add(tnode *n, tnode *kid, char *key, size_t ks, size_t ke);

/* The JSON and YAML editors' members, for the format fmt. */
int fr_tree_set(int fmt, fr_edit *e, const char *key, json_t *value, int if_missing);
int fr_tree_remove(int fmt, fr_edit *e, const char *key);
int fr_tree_rename(int fmt, fr_edit *e, const char *from, const char *to, int if_missing);
int fr_tree_restore(int fmt, fr_edit *e, const json_t *entry);

/* ---- JSON (edit_json.c) ---- */

/* Parses d->t into d (set up by tdoc_parse()); "'<file>' is not valid JSON (...)" in err. */
int fr_jtree_parse(tdoc *d, const char *file, fr_buf *err);
/* The value of a node (new reference), or NULL with err set. */
json_t *fr_jtree_value(const tdoc *d, const tnode *n, fr_buf *err);
void fr_jadd_string(fr_buf *out, const char *s, size_t len);
/*
 * A value as JSON text. pretty: containers over several lines, each level
 * one unit deeper than base (the indentation of the line it starts on).
 */
void fr_render_json(fr_buf *out, json_t *v, const char *base, const char *unit, int pretty);
/*
 * The value's text for a place whose line is indented by base (pretty:
 * over several lines as the file is).
 */
int fr_jpiece(fr_buf *out, const tdoc *d, const piece *pc, const char *base, size_t blen,
              int pretty);

/* ---- YAML (edit_yaml.c) ---- */

/* Parses d->t into d (set up by tdoc_parse()); "'<file>' is not valid YAML (...)" in err. */
int fr_ytree_parse(tdoc *d, const char *file, fr_buf *err);
/* The value of a node (new reference), or NULL with err set (aliases are not followed). */
json_t *fr_ytree_value(const tdoc *d, const tnode *n, fr_buf *err);
/*
 * A value as YAML text through libyaml's emitter: flow (one line) or block
 * (lines at column 0, unit spaces a level). No trailing newline.
 */
int fr_render_yaml(fr_buf *out, json_t *v, int flow, size_t unit);
/* v as it is written inside a flow collection (quoted where it must be there); 0 or -1. */
int fr_render_yaml_flow(fr_buf *out, json_t *v, size_t unit);
/* 1 when a value is written on its key's line in a YAML block context. */
int fr_yinline_value(const json_t *v);
/* 1 when pc's old text (pc->raw) is written as it is at a place of kind where (YP_*). */
int fr_yraw_fits(const piece *pc, int where);
/*
 * Appends t[a, b) with the header of node's unclosed block scalar made
 * strip ('-') when it lies in that span (the same value, and a line
 * break may follow it now); t[a, b) as it is otherwise.
 */
void fr_yclosed_text(fr_buf *out, const char *t, size_t a, size_t b, const tnode *node);
/*
 * The value's text for a key (or dash) at column col. Lines after the
 * first come indented already; the first is the caller's to place. Sets
 * *block when the text is a block collection: after a key it goes on a
 * line of its own at column *bcol, after "- " it follows the dash.
 */
int fr_ypiece(fr_buf *out, const tdoc *d, const piece *pc, size_t col, int where, int *block,
              size_t *bcol);

#endif
