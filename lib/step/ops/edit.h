/*
 * edit.h - the editors of the ops step kind: one per file format (JSON,
 * YAML, .env), each a pure function of text to text behind one struct of
 * function pointers. An editor sees the bytes of a document and its name
 * (for messages) and gives new bytes; it never touches the filesystem, the
 * run or the ops file.
 *
 * Files are edited as text, never re-serialised: JSON and YAML are parsed
 * with the byte span of every node (edit_tree.c; JSON by a small scanner
 * after jansson has validated it, YAML through libyaml's events), and an
 * edit splices new text into the one span it changes; a .env file is edited
 * line by line (edit_env.c). What every editor promises:
 *  - other keys keep their order and their bytes: indentation, number
 *    spelling, quoting and comments outside the changed node stay as they
 *    are (YAML comments are kept; JSON has none; in a .env file every other
 *    line is kept, comments included);
 *  - new values are written in the file's own style (its indentation, its
 *    quoting; YAML through libyaml's emitter, which knows when a string
 *    must be quoted);
 *  - the result parses again as the same format and holds the edit;
 *  - an edit that has nothing to do (if_missing and the key is there, the
 *    same value already, a key that is not there to remove or rename)
 *    leaves changed at 0, and the caller keeps its text;
 *  - every change appends to undo what restore() needs to put the old
 *    value back on the text as it is then, even after later changes to it.
 *    The entries are each editor's own (they are kept in the ops undo
 *    record, format 1: {"path", "old"|"absent", "insert"} for JSON and
 *    YAML, {"key", "raw"|"raw_base64"|"absent"} for .env, raw_base64 for bytes
 *    that are not UTF-8). Optional members, which older records lack: .env
 *    "lines" ({"at", "text"|"text_base64"}: the whole lines a remove or
 *    rename took, put back at their line numbers, 'export', spacing and
 *    comment included); YAML "src" (and "src_base", "src_col",
 *    "src_block": the old text of a value with a tag, written back as it
 *    was); "null_root" (a null document a set made a mapping: it becomes
 *    null again, its old text "src"); "renamed_from" on the "absent" entry
 *    of a key renamed in its own mapping (its old name: it is renamed back
 *    in place, its comments and text kept; where it cannot be, removed);
 *  - what restore() gives back, restored newest first right after the
 *    edits: the bytes, or where it writes a value in the file's style, or
 *    puts a removed or moved key back at the end of its mapping, the same
 *    value (keys, scalars, YAML tags). YAML anchors (&name) are not put
 *    back: aliases elsewhere may refer to them, so set, remove and rename
 *    refuse to replace, remove or move a node that holds one (or whose key
 *    has an anchor or a tag), and a node with a tag whose text could not
 *    go back in its place as it is. Comments inside a removed YAML or JSON
 *    value, and on the lines of a removed key, are not put back. A tagged
 *    YAML node is moved with its text; rename refuses where that text
 *    cannot go as it is (a flow collection, mappings made on the way), and
 *    remove and rename where the entry is the only one of a block
 *    collection (its undo would go into the "{}" or "[]" left), rather
 *    than drop the tag;
 *  - a YAML block scalar (| or >) takes in what follows its last line (a
 *    line break at the end of the file, blanks, a comment): none is written
 *    after one. A file that ends inside a block scalar with no line break
 *    gets a new entry of that mapping before its last one, a new item of
 *    that list after the scalar's header made strip ("|-", the same
 *    value); a block scalar's old text written at the end of a file gets a
 *    line break after it, blank lines below it go, and a comment after it or
 *    on the lines below goes to a line of its own at its key's column
 *    (the undo entry says "src_bend" when its old text ends in one); the
 *    blank and comment lines after an entry removed behind one go with it.
 */
#ifndef FR_OPS_EDIT_H
#define FR_OPS_EDIT_H

#include "../../util/buf.h"

#include <jansson.h>
#include <stddef.h>

#define ED_MAX_COMPS 64 /* components of a key path */

/* One edit: the document it starts from and what it gives. */
typedef struct {
	const char *file;  /* the document's name, for messages */
	const char *t;     /* its bytes ("" for a file that is not there yet); borrowed */
	size_t len;
	fr_buf *out;       /* the new bytes, when changed */
	int changed;       /* 1 when out holds the edited document */
	json_t *undo;      /* an array: the undo of the change is appended */
	fr_buf *err;       /* why the edit failed */
} fr_edit;

/*
 * An editor. Each member returns 0, or -1 with the reason in e->err (the
 * document is not valid, a key path leads through a value that is not a
 * mapping or list, out of memory). key is a key path "a.b.0" of JSON and
 * YAML (a number indexes a list; set creates the mappings on the way), or
 * a variable name of .env.
 */
typedef struct fr_editor {
	const char *name;  /* "json", "yaml", "env": as the undo record names the format */
	int secret;        /* 1: files of this format hold secrets; a new one is private */
	/* Sets key to value (a .env value: a string, number, boolean or null). */
	int (*set)(fr_edit *e, const char *key, json_t *value, int if_missing);
	/* Removes key (a .env variable: every assignment of it). */
	int (*remove)(fr_edit *e, const char *key);
	/* Renames key from to to; to there already is an error unless if_missing. */
	int (*rename)(fr_edit *e, const char *from, const char *to, int if_missing);
	/*
	 * Puts back what one undo entry of this editor recorded. Its messages:
	 * "the undo record of '<file>' is damaged", "cannot put back '<key>'
	 * in '<file>': <why>".
	 */
	int (*restore)(fr_edit *e, const json_t *entry);
} fr_editor;

extern const fr_editor fr_ed_json; /* edit_json.c */
extern const fr_editor fr_ed_yaml; /* edit_yaml.c */
extern const fr_editor fr_ed_env;  /* edit_env.c */

/* The editor of a file, told by its name (.json, .yaml or .yml, .env), or NULL. */
const fr_editor *fr_ed_for_file(const char *path);
/* The editor called name ("json"), or NULL. */
const fr_editor *fr_ed_named(const char *name);

/* 1 when path is a key path: dot-separated, no empty part, at most ED_MAX_COMPS parts. */
int fr_ed_keypath_ok(const char *path);

/*
 * 1 when name is a .env variable name the editor can find again: letters,
 * digits, '_', '.', '-' (an assignment of any other name is not read back).
 */
int fr_ed_env_name_ok(const char *name);

/*
 * YAML scalars as the YAML editor reads them, for the ops file to read its
 * values the same way: fr_ed_yaml_null() is 1 when a plain scalar means null;
 * fr_ed_yaml_value() is the value of a scalar (new reference; plain ones are
 * resolved by YAML 1.2's core schema: null, bool, int, float), NULL when
 * it is not valid UTF-8 or memory runs out.
 */
int fr_ed_yaml_null(const char *s);
json_t *fr_ed_yaml_value(const char *s, int plain);

#endif
