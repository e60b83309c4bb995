/*
 * layout.h - the migration-folder layout interface: how another tool's
 * folder (dbmate, goose, golang-migrate, Flyway, diesel, sqlx) is read as
 * it is. Each layout is one file of lib/layout/ exposing one const
 * fr_layout, and a line in the table of layout.c; nothing about it is
 * known elsewhere. A layout sees only lib/step/step.h, lib/util/ and
 * version.h (tools/check-layers holds it to that): it turns a folder's
 * listing into an ordered chain of migrations, and a migration's files
 * into up, down and its transaction rule. The catalog (catalog.c) makes
 * SQL steps of the chain; the SQL kind runs them through split.
 */
#ifndef FR_LAYOUT_H
#define FR_LAYOUT_H

#include "../step/step.h"
#include "../util/buf.h"

#include <stddef.h>

/* An entry of a folder's listing (hidden files, README* and *.md left out). */
typedef struct {
	const char *name;
	int dir;           /* 1 for a folder */
} fr_layout_entry;

/* One migration of a tool's folder, as a layout's scan finds it. */
typedef struct {
	char *file;        /* the up file, relative to the folder ("2020-01-01-000000_x/up.sql") */
	char *down;        /* a separate down file, relative to the folder, or NULL */
	char *meta;        /* a file of options, relative to the folder, or NULL */
	char *entry;       /* the migration's own name in step ids: its file, or diesel's folder */
	char *version;     /* the tool's id, as its history table writes it; NULL: repeatable */
	char *name;        /* its name or description, as the tool writes it */
	int repeatable;    /* Flyway's R__: runs after the versioned ones, again on a change */
} fr_layout_mig;

/* A folder's migrations, in the tool's own order. */
typedef struct {
	fr_layout_mig *v;
	size_t n, cap;
} fr_layout_chain;

/*
 * A layout. Every member must be provided (fr_layout_complete() says which
 * one is missing), but marks, which is optional.
 */
typedef struct fr_layout {
	/* The name ferry.yaml's `layout:` gives ("golang-migrate"). */
	const char *name;
	/* What its files look like, for messages ("<version>_<name>.sql with -- migrate:up"). */
	const char *files;
	/*
	 * How well an entry's name fits the layout: 0 not at all, 1 it could be
	 * one of its files, 2 it is one of its own forms (golang-migrate's
	 * .up.sql). A folder is detected as the layout whose smallest score
	 * over the entries is the greatest (ties: content markers, then an error).
	 */
	int (*claims)(const fr_layout_entry *e);
	/*
	 * Optional: 1 when a file's text carries this layout's own markers
	 * (dbmate's -- migrate:up, goose's -- +goose): what settles a tie.
	 */
	int (*marks)(const char *text, size_t len);
	/*
	 * The chain of the folder dir (absolute; rel for messages) from its
	 * listing, in the tool's order. Appends one line per problem to err
	 * ("<rel>/<file>: <what>") and returns -1 after reporting all of them;
	 * a layout may list a subfolder (diesel) but reads no file's text.
	 */
	int (*scan)(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
	            fr_layout_chain *out, fr_buf *err);
	/* A migration's texts into up, down and no-transaction (step.h). */
	fr_step_split_fn split;
} fr_layout;

extern const fr_layout fr_layout_dbmate;
extern const fr_layout fr_layout_goose;
extern const fr_layout fr_layout_golang_migrate;
extern const fr_layout fr_layout_flyway;
extern const fr_layout fr_layout_diesel;
extern const fr_layout fr_layout_sqlx;

/* ---- the table (layout.c) ------------------------------------------------ */

/* The layout called name, or NULL ("ferry" is the catalog's own: NULL too). */
const fr_layout *fr_layout_find(const char *name);
/* Appends the layouts' names, for messages: "dbmate, goose, ...". */
void fr_layout_names(fr_buf *out);
/* 0 when l provides every member it must, else -1 with the missing ones in why. */
int fr_layout_complete(const fr_layout *l, fr_buf *why);

/*
 * The layout of the folder dir from its listing: the one that fits every
 * entry best; a tie is settled by the markers in its .sql files' texts (read
 * here); *ferry = 1 when the entries are ferry's own layout (transition
 * folders, flat VERSION_name files, versions.yaml), or the folder is empty.
 * NULL with *ferry = 0 and a message in err (rel, what fits, "set layout:").
 */
const fr_layout *fr_layout_detect(const char *dir, const char *rel,
                                  const fr_layout_entry *ents, size_t n, int *is_ferry,
                                  fr_buf *err);

/* ---- what the layouts share (layout.c) ------------------------------------ */

/* Appends a migration (copies of the strings; NULL stays NULL). 0, or -1 out of memory. */
int fr_chain_add(fr_layout_chain *c, const char *file, const char *down, const char *meta,
                 const char *entry, const char *version, const char *name, int repeatable);
void fr_chain_free(fr_layout_chain *c);

/* The first byte of [p, p+n) that is no whitespace or SQL comment, or p+n. */
const char *fr_sql_code(const char *p, size_t n);
/* 1 when [p, p+n) holds only whitespace and SQL comments (-- and slash-star). */
int fr_sql_blank(const char *p, size_t n);
/* The number of '\n' in [p, q). */
int fr_count_lines(const char *p, const char *q);
/* s with every '_' made a space, fr_malloc'd (Flyway's and sqlx's descriptions). */
char *fr_underscores_to_spaces(const char *s, size_t n);
/* 1 when s (n bytes) is 1..19 decimal digits whose value fits an int64 (leading zeros: yes). */
int fr_parse_i64(const char *s, size_t n, int64_t *out);
/*
 * The split of a tool that runs each file whole: up is the up file from its
 * first line, down the down file's text (when there is one); -1 out of memory.
 */
int fr_split_whole(const fr_split_in *in, fr_split_out *out, int no_tx, fr_buf *err);
/*
 * A file cut at its tool's section markers (dbmate's -- migrate:up, goose's
 * -- +goose Up): the tool's own rules, for fr_split_sections.
 */
typedef struct {
	/*
	 * The section the line [p, le) opens: 0 up, 1 down, -1 none; *opts: the
	 * rest of its line. It may set out->no_tx (goose's NO TRANSACTION).
	 */
	int (*section)(const char *p, const char *le, const char **opts, fr_split_out *out);
	/* Optional: reads the options [o, le) of section d's marker; -1 with a message. */
	int (*options)(const char *o, const char *le, int d, int line, const fr_split_in *in,
	               fr_split_out *out, fr_buf *err);
	const char *second[2]; /* a marker met twice: "<rel>:<line>: a second <second[d]>" */
	const char *no_up;     /* "<rel>: <no_up>" */
	const char *before;    /* "<rel>:<line>: <before>": code before the first marker */
} fr_sections;
/*
 * The split of a file of sections: up from the line after its up marker to
 * the next marker, down likewise; only comments may come before the first.
 */
int fr_split_sections(const fr_split_in *in, fr_split_out *out, const fr_sections *s,
                      fr_buf *err);
/* A migration of a numbered folder (goose, golang-migrate, sqlx): its version, its files. */
typedef struct {
	int64_t v;
	const char *up, *down;
	int pair;          /* sqlx: an .up.sql/.down.sql pair, not a lone .sql */
} fr_num_mig;
/* The index of version v in m[0, *k); a new one (with pair) is appended when none is. */
size_t fr_num_slot(fr_num_mig *m, size_t *k, int64_t v, int pair);
/*
 * Sorts m[0, k) by version and appends each to out: its version the number
 * in decimal, its name the up file's text between the first '_' and .up.sql
 * (or .sql), each '_' made a space when spaces. A second of a version, or a
 * down without its up, is one line in err ("<rel>/<file>: ...") and -1.
 */
int fr_num_chain(fr_num_mig *m, size_t k, int spaces, const char *rel, fr_layout_chain *out,
                 fr_buf *err);
/*
 * 1 when a line of [p, p+n) says `key = false` (blanks before key and
 * around '='): Flyway's .conf and diesel's metadata.toml.
 */
int fr_key_false(const char *p, size_t n, const char *key);
/* 1 when name ends with suffix. */
int fr_lay_suffix(const char *name, const char *suffix);
/* The leading decimal digits of s: their number. */
size_t fr_digits(const char *s);

#endif
