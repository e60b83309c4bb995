/*
 * ops.c - the ops step kind (fr_step_ops, SPEC section 4): a *.yaml file of
 * declarative edits that ferry knows how to undo.
 *
 *   description: Add privacy settings, move the cache
 *   ops:
 *     - set:    {file: config/app.json, path: privacy.level, value: x, if_missing: true}
 *     - rename: {file: config/app.yaml, from: db.path, to: database.url, if_missing: true}
 *     - delete: {file: config/app.json, path: legacy.flags}
 *     - env:    {file: .env, key: BACKUP_ENABLED, value: "true", if_missing: true}
 *     - mkdir:  {path: data/cache, mode: "0750"}
 *     - move:   {from: data/old_index, to: data/index, if_missing: true}
 *     - copy:   {from: config/defaults.json, to: config/local.json, if_missing: true}
 *     - chmod:  {path: data, mode: "0750", recursive: true}
 *     - remove: {path: data/tmp}
 *
 * Meaning, chosen so that running a step twice changes nothing the second
 * time: if_missing skips an op whose target (key, variable, destination)
 * exists; rename and move of a source that is gone, delete and remove of
 * what is not there, and a set to the value already there do nothing;
 * rename and move onto an existing target fail unless if_missing; copy
 * replaces an existing target unless if_missing; mkdir of an existing
 * folder does nothing. Key paths are dot-separated, a number indexes a
 * list (`a.b.0.c`); `set` creates the mappings on the way.
 *
 * Files are edited as text, never re-serialised: a JSON or YAML file is
 * parsed with the byte span of every node (JSON by a small scanner after
 * jansson has validated it; YAML through libyaml's events, whose marks give
 * the spans), and an op splices new text into the one span it changes. So
 * key order, indentation, number spelling, quoting and YAML comments
 * outside the changed node stay byte for byte; new values are written in
 * the file's indentation (JSON by our renderer, YAML through libyaml's
 * emitter, which knows when a string must be quoted). A .env file is edited
 * line by line; other lines and comments are kept as they are.
 *
 * Undo. forward() records, for each op that changed something, what it
 * replaced: for a file edit the file's bytes before (or its absence), the
 * SHA-256 of its bytes after, and the old value of each key it touched;
 * for mkdir the folders it created; for move, where the thing went; for
 * chmod every old mode; for remove (and for what copy replaced) the place
 * in the scratch folder the thing was moved to instead of being deleted.
 * undo_text() is that record as JSON; undo() applies it newest first. A
 * file whose bytes are still what the op left gets its old bytes back
 * exactly; a file changed since gets the old values of the keys put back
 * (the rest of the later change stays). A forward() that fails undoes its
 * own earlier ops before it returns.
 *
 * Confinement: every path is relative, without "..", outside .ferry/, and
 * is resolved component by component: a symlink on the way (or at the end,
 * for edits, copy sources and chmod) must point inside the root, or the op
 * is refused naming the op, the path and the link. Trees are walked
 * without following symlinks. Edited files are rewritten with
 * fr_write_atomic() (temporary file, fsync, rename, fsync of the folder),
 * keeping their mode and owner.
 *
 * --dry-run (describe()) lists the ops and prints a unified diff of each
 * file they would change, computed here (a line LCS, 3 lines of context)
 * from the would-be contents, so no diff(1) is needed.
 */
#include "step.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/hash.h"
#include "../util/yaml.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_COMPS 64        /* components of a key path */
#define MAX_DEPTH 256       /* nesting of a JSON or YAML file we edit */
#define UNDO_FORMAT 1       /* "ferry_ops_undo" of the undo text */

/* ---- the ops file -------------------------------------------------------- */

enum { OP_SET, OP_RENAME, OP_DELETE, OP_ENV, OP_MKDIR, OP_MOVE, OP_COPY, OP_CHMOD, OP_REMOVE,
       OP_N };

static const char *const op_names[OP_N] = {
	"set", "rename", "delete", "env", "mkdir", "move", "copy", "chmod", "remove",
};

/* The keys each op takes: required ones first, then optional ones after a "|". */
static const char *const op_keys[OP_N] = {
	"file path value | if_missing",
	"file from to | if_missing",
	"file path",
	"file key value | if_missing",
	"path | mode",
	"from to | if_missing",
	"from to | if_missing",
	"path mode | recursive",
	"path",
};

enum { FMT_NONE, FMT_JSON, FMT_YAML, FMT_ENV };

typedef struct {
	int type;
	int line;
	char *file;       /* set, rename, delete, env */
	int fmt;          /* FMT_* of file */
	char *path;       /* set, delete: key path; mkdir, chmod, remove: a path */
	char *from, *to;  /* rename: key paths; move, copy: paths */
	char *key;        /* env */
	json_t *value;    /* set; env: a string */
	int raw;          /* env (undo only): value is the raw text after '=' */
	int insert;       /* set (undo only): insert into a list rather than replace */
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

static const char *ops_rel(const fr_step *s)
{
	if (s->rel)
		return s->rel;
	return s->name ? s->name : "(ops step)";
}

static void op_clear(op *o)
{
	fr_free(o->file);
	fr_free(o->path);
	fr_free(o->from);
	fr_free(o->to);
	fr_free(o->key);
	json_decref(o->value);
	memset(o, 0, sizeof *o);
}

static void ops_priv_free(ops_priv *p)
{
	size_t i;
	if (!p)
		return;
	for (i = 0; i < p->nops; i++)
		op_clear(&p->ops[i]);
	fr_free(p->ops);
	fr_free(p->description);
	json_decref(p->undo);
	fr_free(p);
}

static void ops_unload(fr_step *s)
{
	ops_priv_free(s->priv);
	s->priv = NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static int ops_claims(const char *filename, int executable)
{
	(void)executable;
	if (!filename || !strcmp(filename, "transition.yaml") || !strcmp(filename, "versions.yaml"))
		return 0;
	return ends_with(filename, ".yaml") || ends_with(filename, ".yml");
}

/* The format of a file an op edits, told by its name. */
static int file_format(const char *path)
{
	const char *b = base_name(path);
	if (ends_with(b, ".json"))
		return FMT_JSON;
	if (ends_with(b, ".yaml") || ends_with(b, ".yml"))
		return FMT_YAML;
	if (!strcmp(b, ".env") || !strncmp(b, ".env.", 5) || ends_with(b, ".env"))
		return FMT_ENV;
	return FMT_NONE;
}

/*
 * A path of the ops file: relative, no "..", not the root itself, not in
 * .ferry. NULL when fine, else why not.
 */
static const char *path_problem(const char *p)
{
	const char *c = p;
	int real = 0;
	if (!*p)
		return "is empty";
	if (*p == '/')
		return "is absolute";
	while (*c) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return "goes up with '..'";
		if (n == 6 && !memcmp(c, ".ferry", 6) && !real)
			return "is inside .ferry (ferry's own state)";
		if (n && !(n == 1 && c[0] == '.'))
			real = 1;
		c += n;
		while (*c == '/')
			c++;
	}
	if (!real)
		return "names the root itself";
	return NULL;
}

/* Splits a key path "a.b.0" into its components (owned). -1 when one is empty. */
static int split_keypath(const char *path, char ***out, size_t *n)
{
	char **v = NULL;
	size_t k = 0;
	const char *c = path;
	*out = NULL;
	*n = 0;
	for (;;) {
		const char *e = strchr(c, '.');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		char **t;
		if (!len || k == MAX_COMPS)
			goto fail;
		t = fr_realloc(v, (k + 1) * sizeof *t);
		if (!t)
			goto fail;
		v = t;
		if (!(v[k] = fr_strndup(c, len)))
			goto fail;
		k++;
		if (!e)
			break;
		c = e + 1;
	}
	*out = v;
	*n = k;
	return 0;
fail:
	while (k)
		fr_free(v[--k]);
	fr_free(v);
	return -1;
}

static void free_comps(char **v, size_t n)
{
	while (n)
		fr_free(v[--n]);
	fr_free(v);
}

/* A mode "0750", "750", "0o750" (or a YAML integer written in octal digits). */
static int parse_mode(const char *s, mode_t *out)
{
	unsigned long v = 0;
	size_t n = 0;
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '7')
			return -1;
		v = v * 8 + (unsigned long)(s[n] - '0');
	}
	if (n < 3 || n > 5 || v > 07777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

/* ---- YAML scalars as values ---------------------------------------------- */

static int all_in(const char *s, const char *set)
{
	return *s && s[strspn(s, set)] == '\0';
}

/* 1 when a plain scalar s means null. */
static int yaml_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int yaml_bool_word(const char *s, int *v)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return *v = 1, 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return *v = 0, 1;
	return 0;
}

/* An integer of YAML 1.2's core schema (a leading zero keeps "0750" a string). */
static int yaml_int_word(const char *s, json_int_t *v)
{
	const char *d = s + (*s == '-' || *s == '+');
	char *end;
	long long x;
	if (!*d || !all_in(d, "0123456789") || (d[0] == '0' && d[1]))
		return 0;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	*v = (json_int_t)x;
	return 1;
}

static int yaml_float_word(const char *s, double *v)
{
	const char *p = s + (*s == '-' || *s == '+');
	int digits = 0;
	char *end;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p)
		return 0;
	*v = strtod(s, &end);
	return *end == '\0';
}

/* The value of a YAML scalar: plain ones are resolved (null, bool, int, float). */
static json_t *yaml_scalar_json(const char *s, int plain)
{
	json_int_t i;
	double d;
	int b;
	if (!plain)
		return json_string(s);
	if (yaml_null_word(s))
		return json_null();
	if (yaml_bool_word(s, &b))
		return json_boolean(b);
	if (yaml_int_word(s, &i))
		return json_integer(i);
	if (yaml_float_word(s, &d))
		return json_real(d);
	return json_string(s);
}

/*
 * 1 when a string written plain would be read as something else by some
 * YAML reader (1.1's yes/no/on/off and octal 0750 included), so it is
 * written quoted.
 */
static int yaml_needs_quotes(const char *s)
{
	static const char *const words[] = {
		"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
		".inf", "-.inf", "+.inf", ".nan",
	};
	json_int_t i;
	double d;
	size_t k;
	if (!*s || yaml_int_word(s, &i) || yaml_float_word(s, &d))
		return 1;
	for (k = 0; k < sizeof words / sizeof *words; k++)
		if (!strcasecmp(s, words[k]))
			return 1;
	/* 0x1f, 0o17, 1_000, 1:30 (sexagesimal), 0750 */
	if (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') &&
	                                     isdigit((unsigned char)s[1])))
		if (all_in(s, "0123456789abcdefABCDEFxXoO_:.+-"))
			return 1;
	return 0;
}

/* An fr_yaml node of the ops file as a value. */
static json_t *ynode_json(const fr_yaml *n)
{
	json_t *v;
	size_t i;
	if (n->kind == FR_YAML_SCALAR)
		return yaml_scalar_json(n->scalar, n->plain);
	v = n->kind == FR_YAML_MAP ? json_object() : json_array();
	if (!v)
		return NULL;
	for (i = 0; i < n->n; i++) {
		json_t *c = ynode_json(n->items[i]);
		int bad = !c || (n->kind == FR_YAML_MAP ? json_object_set_new(v, n->keys[i], c)
		                                        : json_array_append_new(v, c));
		if (bad) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

/* ---- load ---------------------------------------------------------------- */

typedef struct {
	const char *rel;
	fr_buf *err;
	int nerr;
} lctx;

static void lerr(lctx *l, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lerr(lctx *l, int line, const char *fmt, ...)
{
	va_list ap;
	if (l->nerr++)
		fr_buf_putc(l->err, '\n');
	if (line > 0)
		fr_buf_printf(l->err, "%s:%d: ", l->rel, line);
	else
		fr_buf_printf(l->err, "%s: ", l->rel);
	va_start(ap, fmt);
	fr_buf_vprintf(l->err, fmt, ap);
	va_end(ap);
}

/* 1 when word is one of the space-separated words of list (up to a "|"). */
static int key_listed(const char *list, const char *word, int required_only)
{
	size_t n = strlen(word);
	const char *c = list;
	while (*c) {
		while (*c == ' ')
			c++;
		if (*c == '|') {
			if (required_only)
				return 0;
			c++;
			continue;
		}
		if (!strncmp(c, word, n) && (c[n] == ' ' || c[n] == '\0'))
			return 1;
		c += strcspn(c, " ");
	}
	return 0;
}

/* The string of a scalar argument, or NULL after reporting. */
static char *arg_string(lctx *l, const fr_yaml *v, const char *opn, const char *key)
{
	char *s;
	if (v->kind != FR_YAML_SCALAR || (v->plain && yaml_null_word(v->scalar))) {
		lerr(l, v->line, "op '%s': '%s' must be a string, not a %s", opn, key,
		     v->kind == FR_YAML_SCALAR ? "null" : fr_yaml_kind_name(v->kind));
		return NULL;
	}
	s = fr_strdup(v->scalar);
	if (!s)
		lerr(l, v->line, "out of memory");
	return s;
}

static char *arg_path(lctx *l, const fr_yaml *v, const char *opn, const char *key)
{
	char *s = arg_string(l, v, opn, key);
	const char *why;
	if (s && (why = path_problem(s)) != NULL) {
		lerr(l, v->line, "op '%s': '%s' must be a path inside the root; '%s' %s", opn, key, s,
		     why);
		FR_FREE(s);
	}
	return s;
}

static char *arg_keypath(lctx *l, const fr_yaml *v, const char *opn, const char *key)
{
	char *s = arg_string(l, v, opn, key);
	char **comps;
	size_t n;
	if (!s)
		return NULL;
	if (split_keypath(s, &comps, &n)) {
		lerr(l, v->line, "op '%s': '%s' is not a key path ('a.b.0.c': dot-separated, no empty "
		     "part, at most %d parts): '%s'", opn, key, MAX_COMPS, s);
		FR_FREE(s);
		return NULL;
	}
	free_comps(comps, n);
	return s;
}

static int arg_bool(lctx *l, const fr_yaml *v, const char *opn, const char *key, int *out)
{
	if (fr_yaml_bool(v, out)) {
		lerr(l, v->line, "op '%s': '%s' must be true or false", opn, key);
		return -1;
	}
	return 0;
}

/* One item of ops: a mapping with the op's name as its only key. */
static void load_op(lctx *l, const fr_yaml *item, op *o)
{
	const fr_yaml *args;
	const char *opn;
	size_t i;
	int t, errs = l->nerr;

	o->line = item->line;
	if (item->kind != FR_YAML_MAP || item->n != 1) {
		lerr(l, item->line, "each op is a mapping with one key, the op's name (%s)",
		     "set, rename, delete, env, mkdir, move, copy, chmod, remove");
		return;
	}
	opn = item->keys[0];
	for (t = 0; t < OP_N && strcmp(op_names[t], opn); t++)
		;
	if (t == OP_N) {
		lerr(l, item->key_lines[0], "unknown op '%s' (known: set, rename, delete, env, "
		     "mkdir, move, copy, chmod, remove)", opn);
		return;
	}
	o->type = t;
	args = item->items[0];
	if (args->kind != FR_YAML_MAP) {
		lerr(l, args->line, "op '%s' takes a mapping of its arguments (%s)", opn, op_keys[t]);
		return;
	}
	for (i = 0; i < args->n; i++)
		if (!key_listed(op_keys[t], args->keys[i], 0))
			lerr(l, args->key_lines[i], "op '%s': unknown key '%s' (it takes: %s)", opn,
			     args->keys[i], op_keys[t]);
	{
		/* the required keys */
		const char *c = op_keys[t];
		while (*c && *c != '|') {
			char word[16];
			size_t n = strcspn(c, " |");
			if (n && n < sizeof word) {
				memcpy(word, c, n);
				word[n] = '\0';
				if (!fr_yaml_get(args, word))
					lerr(l, args->line, "op '%s' needs '%s'", opn, word);
			}
			c += n;
			while (*c == ' ')
				c++;
		}
	}
	if (l->nerr != errs)
		return;
	for (i = 0; i < args->n; i++) {
		const char *k = args->keys[i];
		const fr_yaml *v = args->items[i];
		if (!strcmp(k, "file")) {
			if ((o->file = arg_path(l, v, opn, k)) != NULL) {
				o->fmt = file_format(o->file);
				if (o->fmt == FMT_NONE)
					lerr(l, v->line, "op '%s': cannot tell the format of '%s' (a .json, "
					     ".yaml/.yml or .env file)", opn, o->file);
				else if (t == OP_ENV && o->fmt != FMT_ENV)
					lerr(l, v->line, "op 'env' edits .env files; use 'set' for '%s'",
					     o->file);
			}
		} else if (!strcmp(k, "path")) {
			o->path = t == OP_SET || t == OP_DELETE ? arg_keypath(l, v, opn, k)
			                                        : arg_path(l, v, opn, k);
		} else if (!strcmp(k, "from") || !strcmp(k, "to")) {
			char *s = t == OP_RENAME ? arg_keypath(l, v, opn, k) : arg_path(l, v, opn, k);
			if (k[0] == 'f')
				o->from = s;
			else
				o->to = s;
		} else if (!strcmp(k, "key")) {
			if ((o->key = arg_string(l, v, opn, k)) != NULL &&
			    (!*o->key || strpbrk(o->key, "= \t\r\n#\"'")))
				lerr(l, v->line, "op 'env': '%s' is not a variable name", o->key);
		} else if (!strcmp(k, "value")) {
			if (t == OP_ENV) {
				if (v->kind != FR_YAML_SCALAR)
					lerr(l, v->line, "op 'env': 'value' must be a string, not a %s",
					     fr_yaml_kind_name(v->kind));
				else if (!(o->value = json_string(v->scalar)))
					lerr(l, v->line, "op 'env': 'value' is not valid UTF-8");
			} else if (!(o->value = ynode_json(v))) {
				lerr(l, v->line, "op 'set': 'value' cannot be held (not valid UTF-8?)");
			}
		} else if (!strcmp(k, "mode")) {
			if (v->kind != FR_YAML_SCALAR || parse_mode(v->scalar, &o->mode))
				lerr(l, v->line, "op '%s': 'mode' must be an octal mode such as \"0750\"",
				     opn);
			o->has_mode = 1;
		} else if (!strcmp(k, "if_missing")) {
			arg_bool(l, v, opn, k, &o->if_missing);
		} else if (!strcmp(k, "recursive")) {
			arg_bool(l, v, opn, k, &o->recursive);
		}
	}
	if (l->nerr == errs && (t == OP_SET || t == OP_DELETE || t == OP_RENAME) &&
	    o->fmt == FMT_ENV) {
		const char *kp = t == OP_RENAME ? o->from : o->path;
		if (kp && strpbrk(kp, "= \t#\"'"))
			lerr(l, item->line, "op '%s': '%s' is not a variable name of '%s'", opn, kp,
			     o->file);
	}
	if (l->nerr == errs && (t == OP_MOVE || t == OP_COPY || t == OP_RENAME) && o->from &&
	    o->to && !strcmp(o->from, o->to))
		lerr(l, item->line, "op '%s': 'from' and 'to' are the same", opn);
}

static int ops_load(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	lctx l = { ops_rel(s), err, 0 };
	fr_yaml *doc = NULL;
	const fr_yaml *ops;
	ops_priv *p = NULL;
	size_t i;
	int ret = -1;

	ops_unload(s);
	if (fr_yaml_parse(&doc, l.rel, text, len, err))
		goto done;
	if (doc->kind != FR_YAML_MAP) {
		lerr(&l, doc->line, "an ops step is a mapping with 'description' and 'ops'");
		goto done;
	}
	p = fr_calloc(1, sizeof *p);
	if (!p) {
		lerr(&l, 0, "out of memory");
		goto done;
	}
	for (i = 0; i < doc->n; i++) {
		const fr_yaml *v = doc->items[i];
		if (!strcmp(doc->keys[i], "description")) {
			if (v->kind != FR_YAML_SCALAR)
				lerr(&l, v->line, "'description' must be a string");
			else if (!(p->description = fr_strdup(v->scalar)))
				lerr(&l, v->line, "out of memory");
		} else if (strcmp(doc->keys[i], "ops")) {
			lerr(&l, doc->key_lines[i], "unknown key '%s' (an ops step has 'description' "
			     "and 'ops')", doc->keys[i]);
		}
	}
	ops = fr_yaml_get(doc, "ops");
	if (!ops) {
		lerr(&l, doc->line, "no 'ops' list (an ops step needs one)");
	} else if (ops->kind != FR_YAML_SEQ) {
		lerr(&l, ops->line, "'ops' must be a list of ops, not a %s",
		     fr_yaml_kind_name(ops->kind));
	} else if (ops->n) {
		p->ops = fr_calloc(ops->n, sizeof *p->ops);
		if (!p->ops) {
			lerr(&l, 0, "out of memory");
		} else {
			p->nops = ops->n;
			for (i = 0; i < ops->n; i++)
				load_op(&l, ops->items[i], &p->ops[i]);
		}
	}
	if (l.nerr)
		goto done;
	s->priv = p;
	p = NULL;
	ret = 0;
done:
	ops_priv_free(p);
	fr_yaml_free(doc);
	return ret;
}

static const char *ops_database(const fr_step *s)
{
	(void)s;
	return ""; /* files only */
}

static int ops_transactional(const fr_step *s)
{
	(void)s;
	return 0;
}

static int ops_reversible(const fr_step *s)
{
	(void)s;
	return 1; /* every op records its own undo */
}

/* ---- text helpers -------------------------------------------------------- */

static size_t line_start(const char *t, size_t off)
{
	while (off > 0 && t[off - 1] != '\n')
		off--;
	return off;
}

/* The offset of the '\n' ending the line of off, or len. */
static size_t line_end(const char *t, size_t len, size_t off)
{
	const char *nl = off < len ? memchr(t + off, '\n', len - off) : NULL;
	return nl ? (size_t)(nl - t) : len;
}

static size_t col_of(const char *t, size_t off)
{
	return off - line_start(t, off);
}

/* Leading blanks of the line holding off. */
static size_t indent_len(const char *t, size_t len, size_t off)
{
	size_t ls = line_start(t, off), i = ls;
	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	return i - ls;
}

/* 1 when t[a, b) is blanks only. */
static int blank_between(const char *t, size_t a, size_t b)
{
	for (; a < b; a++)
		if (t[a] != ' ' && t[a] != '\t')
			return 0;
	return 1;
}

static int has_newline(const char *t, size_t a, size_t b)
{
	return b > a && memchr(t + a, '\n', b - a) != NULL;
}

/* out = t[0, a) + ins + t[b, len) */
static int text_splice(fr_buf *out, const char *t, size_t len, size_t a, size_t b, const char *ins,
                  size_t inslen)
{
	fr_buf_reset(out);
	fr_buf_add(out, t, a);
	fr_buf_add(out, ins, inslen);
	fr_buf_add(out, t + b, len - b);
	return out->oom ? -1 : 0;
}

static void add_spaces(fr_buf *b, size_t n)
{
	while (n--)
		fr_buf_putc(b, ' ');
}

/*
 * Appends text with prefix put before every line but the first (blank
 * lines get none), after removing up to strip leading blanks from them:
 * moves a multi-line value from one indentation to another.
 */
static void add_indented(fr_buf *out, const char *text, size_t len, size_t strip,
                         const char *prefix, size_t plen)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		if (i > 0) {
			size_t k = 0;
			while (k < strip && i + k < e && (text[i + k] == ' ' || text[i + k] == '\t'))
				k++;
			i += k;
			if (i < e)
				fr_buf_add(out, prefix, plen);
		}
		fr_buf_add(out, text + i, e - i);
		if (!nl)
			break;
		fr_buf_putc(out, '\n');
		i = e + 1;
	}
}

/* ---- JSON and YAML documents with byte spans ----------------------------- */

enum { T_SCALAR, T_MAP, T_SEQ, T_ALIAS };

typedef struct tnode tnode;
struct tnode {
	int kind;
	int flow;           /* JSON, or a YAML flow collection */
	int empty;          /* YAML: a plain scalar with no text (null) */
	int plain;          /* YAML scalar: plain */
	size_t start, end;  /* the node's text; a block collection ends with its last child */
	size_t open, close; /* flow collections: the brackets */
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

static void tnode_free(tnode *n)
{
	size_t i;
	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		tnode_free(n->kids[i]);
		if (n->keys)
			fr_free(n->keys[i]);
	}
	fr_free(n->kids);
	fr_free(n->keys);
	fr_free(n->kstart);
	fr_free(n->kend);
	fr_free(n->scalar);
	fr_free(n);
}

static void tdoc_free(tdoc *d)
{
	tnode_free(d->root);
	d->root = NULL;
}

/* Adds a child (and for a mapping its key, which is taken over). */
static int tnode_add(tnode *n, tnode *kid, char *key, size_t ks, size_t ke)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 8;
		tnode **k = fr_realloc(n->kids, cap * sizeof *k);
		if (!k)
			return -1;
		n->kids = k;
		if (n->kind == T_MAP) {
			char **ky = fr_realloc(n->keys, cap * sizeof *ky);
			size_t *a, *b;
			if (!ky)
				return -1;
			n->keys = ky;
			if (!(a = fr_realloc(n->kstart, cap * sizeof *a)))
				return -1;
			n->kstart = a;
			if (!(b = fr_realloc(n->kend, cap * sizeof *b)))
				return -1;
			n->kend = b;
		}
		n->cap = cap;
	}
	n->kids[n->n] = kid;
	if (n->kind == T_MAP) {
		n->keys[n->n] = key;
		n->kstart[n->n] = ks;
		n->kend[n->n] = ke;
	}
	n->n++;
	return 0;
}

/* -- JSON: jansson validates, a small scanner finds the spans. -- */

typedef struct {
	const char *t;
	size_t len, pos;
	int depth;
} jscan;

static void jws(jscan *j)
{
	while (j->pos < j->len && (j->t[j->pos] == ' ' || j->t[j->pos] == '\t' ||
	                           j->t[j->pos] == '\n' || j->t[j->pos] == '\r'))
		j->pos++;
}

/* The end of the string starting at pos (after its closing quote). */
static int jstring_end(jscan *j, size_t *end)
{
	size_t p = j->pos + 1;
	while (p < j->len && j->t[p] != '"')
		p += j->t[p] == '\\' ? 2 : 1;
	if (p >= j->len)
		return -1;
	*end = p + 1;
	return 0;
}

static char *jdecode_string(const char *t, size_t a, size_t b)
{
	json_t *v = json_loadb(t + a, b - a, JSON_DECODE_ANY, NULL);
	char *s = v && json_is_string(v) ? fr_strndup(json_string_value(v), json_string_length(v))
	                                 : NULL;
	json_decref(v);
	return s;
}

static tnode *jnode(jscan *j)
{
	tnode *n = fr_calloc(1, sizeof *n);
	char c;
	if (!n || ++j->depth > MAX_DEPTH)
		goto fail;
	jws(j);
	if (j->pos >= j->len)
		goto fail;
	n->start = j->pos;
	c = j->t[j->pos];
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		n->kind = c == '{' ? T_MAP : T_SEQ;
		n->flow = 1;
		n->open = j->pos++;
		jws(j);
		if (j->pos < j->len && j->t[j->pos] == close) {
			n->close = j->pos++;
		} else {
			for (;;) {
				char *key = NULL;
				size_t ks = 0, ke = 0;
				tnode *kid;
				jws(j);
				if (n->kind == T_MAP) {
					if (j->pos >= j->len || j->t[j->pos] != '"' || jstring_end(j, &ke))
						goto fail;
					ks = j->pos;
					if (!(key = jdecode_string(j->t, ks, ke)))
						goto fail;
					j->pos = ke;
					jws(j);
					if (j->pos >= j->len || j->t[j->pos] != ':') {
						fr_free(key);
						goto fail;
					}
					j->pos++;
				}
				kid = jnode(j);
				if (!kid || tnode_add(n, kid, key, ks, ke)) {
					tnode_free(kid);
					fr_free(key);
					goto fail;
				}
				jws(j);
				if (j->pos < j->len && j->t[j->pos] == ',') {
					j->pos++;
					continue;
				}
				if (j->pos < j->len && j->t[j->pos] == close)
					break;
				goto fail;
			}
			n->close = j->pos++;
		}
	} else if (c == '"') {
		n->kind = T_SCALAR;
		if (jstring_end(j, &j->pos))
			goto fail;
	} else {
		n->kind = T_SCALAR;
		while (j->pos < j->len && !strchr(",]} \t\r\n", j->t[j->pos]))
			j->pos++;
	}
	n->end = j->pos;
	j->depth--;
	return n;
fail:
	tnode_free(n);
	return NULL;
}

/* -- YAML: libyaml's event marks count characters; map them to bytes. -- */

typedef struct {
	yaml_parser_t p;
	const char *t;
	size_t len;
	size_t *cmap;    /* character index -> byte offset */
	size_t nchars;
	size_t base;     /* a byte order mark's bytes */
	int depth;
	const char *problem;
	size_t pline;
} yscan;

static size_t ybyte(yscan *y, size_t index)
{
	return index < y->nchars ? y->cmap[index] : y->len;
}

/* The end of a node without the blank lines and spaces libyaml's mark takes in. */
static size_t ytrim(yscan *y, size_t start, size_t end)
{
	while (end > start && strchr(" \t\r\n", y->t[end - 1]))
		end--;
	return end;
}

static int ynext(yscan *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->p, ev)) {
		y->problem = y->p.problem ? y->p.problem : "cannot parse";
		y->pline = y->p.problem_mark.line + 1;
		return -1;
	}
	return 0;
}

static tnode *ynode_read(yscan *y, yaml_event_t *ev);

static tnode *ycollection(yscan *y, yaml_event_t *ev, tnode *n)
{
	yaml_event_t e, k;
	int map = ev->type == YAML_MAPPING_START_EVENT;
	n->kind = map ? T_MAP : T_SEQ;
	n->flow = map ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
	              : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	if (n->flow) {
		size_t o = n->start;
		while (o < y->len && y->t[o] != (map ? '{' : '['))
			o++;
		n->open = o;
	}
	for (;;) {
		char *key = NULL;
		size_t ks = 0, ke = 0;
		tnode *kid;
		if (ynext(y, &k))
			return NULL;
		if (k.type == YAML_MAPPING_END_EVENT || k.type == YAML_SEQUENCE_END_EVENT) {
			n->close = ybyte(y, k.start_mark.index);
			if (n->flow)
				n->end = ybyte(y, k.end_mark.index);
			else
				n->end = n->n ? n->kids[n->n - 1]->end : n->start;
			yaml_event_delete(&k);
			return n;
		}
		if (map) {
			if (k.type != YAML_SCALAR_EVENT) {
				y->problem = "a key that is not a plain string (ops cannot edit it)";
				y->pline = k.start_mark.line + 1;
				yaml_event_delete(&k);
				return NULL;
			}
			ks = ybyte(y, k.start_mark.index);
			ke = ytrim(y, ks, ybyte(y, k.end_mark.index));
			key = fr_strndup((const char *)k.data.scalar.value, k.data.scalar.length);
			yaml_event_delete(&k);
			if (!key || ynext(y, &e)) {
				fr_free(key);
				return NULL;
			}
		} else {
			e = k;
		}
		kid = ynode_read(y, &e);
		yaml_event_delete(&e);
		if (!kid || tnode_add(n, kid, key, ks, ke)) {
			tnode_free(kid);
			fr_free(key);
			return NULL;
		}
	}
}

/* The node that starts with event ev (which the caller deletes). */
static tnode *ynode_read(yscan *y, yaml_event_t *ev)
{
	tnode *n = fr_calloc(1, sizeof *n);
	if (!n)
		return NULL;
	if (++y->depth > MAX_DEPTH) {
		y->problem = "nested too deeply";
		goto fail;
	}
	n->start = ybyte(y, ev->start_mark.index);
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *tag = (const char *)ev->data.scalar.tag;
		n->kind = T_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		           !(tag && !strcmp(tag, YAML_STR_TAG));
		n->scalar = fr_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->scalar)
			goto fail;
		n->end = ytrim(y, n->start, ybyte(y, ev->end_mark.index));
		if (n->plain && !ev->data.scalar.length && n->end == n->start)
			n->empty = 1;
		break;
	}
	case YAML_ALIAS_EVENT:
		n->kind = T_ALIAS;
		n->end = ybyte(y, ev->end_mark.index);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (!ycollection(y, ev, n))
			goto fail;
		break;
	default:
		y->problem = "unexpected event";
		goto fail;
	}
	y->depth--;
	return n;
fail:
	tnode_free(n);
	return NULL;
}

static int yparse(tdoc *d, const char *file, fr_buf *err)
{
	yscan y;
	yaml_event_t ev;
	size_t i, k = 0;
	int ret = -1, started = 0, docs = 0;

	memset(&y, 0, sizeof y);
	y.t = d->t;
	y.len = d->len;
	if (d->len >= 3 && !memcmp(d->t, "\xEF\xBB\xBF", 3))
		y.base = 3;
	y.cmap = fr_malloc((d->len + 1) * sizeof *y.cmap);
	if (!y.cmap || !yaml_parser_initialize(&y.p)) {
		fr_free(y.cmap);
		fr_buf_printf(err, "'%s': out of memory", file);
		return -1;
	}
	for (i = y.base; i < d->len; i++)
		if (((unsigned char)d->t[i] & 0xC0) != 0x80)
			y.cmap[k++] = i;
	y.nchars = k;
	started = 1;
	yaml_parser_set_input_string(&y.p, (const unsigned char *)d->t, d->len);
	yaml_parser_set_encoding(&y.p, YAML_UTF8_ENCODING);
	for (;;) {
		if (ynext(&y, &ev))
			goto done;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			y.problem = "more than one document (ops edit files of one document)";
			y.pline = ev.start_mark.line + 1;
			yaml_event_delete(&ev);
			goto done;
		}
		if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT) {
			d->root = ynode_read(&y, &ev);
			yaml_event_delete(&ev);
			if (!d->root)
				goto done;
			continue;
		}
		yaml_event_delete(&ev);
	}
	/* A document that is only an empty scalar ("---" alone) is no document. */
	if (d->root && d->root->kind == T_SCALAR && d->root->empty) {
		tnode_free(d->root);
		d->root = NULL;
	}
	ret = 0;
done:
	if (ret) {
		if (y.problem)
			fr_buf_printf(err, "'%s' is not valid YAML (line %zu: %s)", file, y.pline,
			              y.problem);
		else
			fr_buf_printf(err, "'%s': out of memory", file);
	}
	if (started)
		yaml_parser_delete(&y.p);
	fr_free(y.cmap);
	return ret;
}

/* The indentation step of a YAML file: the first block nested in a block mapping. */
static size_t yunit(const tdoc *d, const tnode *n)
{
	size_t i, u;
	if (!n || n->flow || (n->kind != T_MAP && n->kind != T_SEQ))
		return 0;
	for (i = 0; i < n->n; i++) {
		const tnode *c = n->kids[i];
		if (n->kind == T_MAP && !c->flow && c->kind == T_MAP && c->n) {
			size_t pc = col_of(d->t, n->kstart[i]), cc = col_of(d->t, c->kstart[0]);
			if (cc > pc && has_newline(d->t, n->kend[i], c->kstart[0]))
				return cc - pc;
		}
		if ((u = yunit(d, c)) != 0)
			return u;
	}
	return 0;
}

/*
 * Parses text as fmt into d (which borrows text). On error appends
 * "'<file>' is not valid JSON|YAML (...)" to err.
 */
static int tdoc_parse(tdoc *d, int fmt, const char *text, size_t len, const char *file,
                      fr_buf *err)
{
	memset(d, 0, sizeof *d);
	d->fmt = fmt;
	d->t = text;
	d->len = len;
	if (fmt == FMT_YAML) {
		size_t u;
		if (yparse(d, file, err)) {
			tdoc_free(d);
			return -1;
		}
		u = yunit(d, d->root);
		if (u < 2 || u > 9)
			u = 2;
		memset(d->unit, ' ', u);
		d->unit[u] = '\0';
		return 0;
	}
	{
		json_error_t je;
		json_t *v;
		jscan j = { text, len, 0, 0 };
		size_t i = 0;
		while (i < len && strchr(" \t\r\n", text[i]))
			i++;
		if (i == len)
			goto unit; /* empty: no document yet */
		v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (!v) {
			fr_buf_printf(err, "'%s' is not valid JSON (line %d: %s)", file, je.line, je.text);
			return -1;
		}
		json_decref(v);
		d->root = jnode(&j);
		if (!d->root) {
			fr_buf_printf(err, "'%s': cannot read its structure (out of memory?)", file);
			return -1;
		}
	}
unit:
	memcpy(d->unit, "  ", 3);
	if (d->root && d->root->kind != T_SCALAR && d->root->n &&
	    has_newline(text, d->root->open, d->root->close)) {
		size_t first = d->root->kind == T_MAP ? d->root->kstart[0] : d->root->kids[0]->start;
		size_t outer = indent_len(text, len, d->root->open);
		size_t inner = indent_len(text, len, first);
		size_t ls = line_start(text, first);
		d->pretty = 1;
		if (inner > outer && inner - outer < sizeof d->unit) {
			memcpy(d->unit, text + ls + outer, inner - outer);
			d->unit[inner - outer] = '\0';
		}
	}
	return 0;
}

/* The value of a node (new reference), or NULL with err set (YAML aliases). */
static json_t *tnode_json(const tdoc *d, const tnode *n, fr_buf *err)
{
	json_t *v;
	size_t i;
	if (d->fmt == FMT_JSON) {
		v = json_loadb(d->t + n->start, n->end - n->start, JSON_DECODE_ANY, NULL);
		if (!v)
			fr_buf_puts(err, "cannot read a value (out of memory?)");
		return v;
	}
	if (n->kind == T_ALIAS) {
		fr_buf_puts(err, "the value is a YAML alias (*name), which ops do not follow");
		return NULL;
	}
	if (n->kind == T_SCALAR) {
		v = yaml_scalar_json(n->scalar, n->plain);
		if (!v)
			fr_buf_puts(err, "a value is not valid UTF-8");
		return v;
	}
	v = n->kind == T_MAP ? json_object() : json_array();
	for (i = 0; v && i < n->n; i++) {
		json_t *c = tnode_json(d, n->kids[i], err);
		if (!c || (n->kind == T_MAP ? json_object_set_new(v, n->keys[i], c)
		                            : json_array_append_new(v, c))) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

static int tnode_is_null(const tdoc *d, const tnode *n)
{
	if (n->kind != T_SCALAR)
		return 0;
	if (d->fmt == FMT_JSON)
		return n->end - n->start == 4 && !memcmp(d->t + n->start, "null", 4);
	return n->plain && yaml_null_word(n->scalar);
}

/* The index of key in a mapping (the last one, as readers take), or -1. */
static long tnode_find(const tnode *n, const char *key)
{
	size_t i = n->n;
	while (i--)
		if (!strcmp(n->keys[i], key))
			return (long)i;
	return -1;
}

/* "3" -> 3; -1 when comp is not an index. */
static long comp_index(const char *c)
{
	long v = 0;
	if (!*c || (c[0] == '0' && c[1]))
		return -1;
	for (; *c; c++) {
		if (!isdigit((unsigned char)*c) || v > 100000000)
			return -1;
		v = v * 10 + (*c - '0');
	}
	return v;
}

/* Where a key path leads: chain[0] is the root, idx[k] the child of chain[k] taken. */
typedef struct {
	tnode *node[MAX_COMPS + 1];
	size_t idx[MAX_COMPS + 1];
	size_t depth;    /* components found */
} tchain;

static void tchain_walk(const tdoc *d, char **comps, size_t nc, tchain *c)
{
	tnode *n = d->root;
	memset(c, 0, sizeof *c);
	c->node[0] = n;
	while (n && c->depth < nc) {
		long i = -1;
		if (n->kind == T_MAP)
			i = tnode_find(n, comps[c->depth]);
		else if (n->kind == T_SEQ) {
			i = comp_index(comps[c->depth]);
			if (i >= (long)n->n)
				i = -1;
		}
		if (i < 0)
			break;
		c->idx[c->depth] = (size_t)i;
		n = n->kids[i];
		c->node[++c->depth] = n;
	}
}

/* ---- writing values ------------------------------------------------------ */

/* A real in the fewest digits that read back the same. */
static void fmt_real(double d, char *buf, size_t n)
{
	int prec;
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		snprintf(buf + strlen(buf), n - strlen(buf), ".0");
}

static void json_add_string(fr_buf *out, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	char *txt = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	if (txt)
		fr_buf_puts(out, txt);
	else
		out->oom = 1;
	free(txt);
	json_decref(v);
}

/*
 * A value as JSON text. pretty: containers over several lines, each level
 * one unit deeper than base (the indentation of the line it starts on).
 */
static void render_json(fr_buf *out, json_t *v, const char *base, const char *unit, int pretty)
{
	char num[40];
	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY: {
		int obj = json_is_object(v);
		size_t n = obj ? json_object_size(v) : json_array_size(v), i = 0;
		fr_buf inner = FR_BUF_INIT;
		const char *k;
		json_t *c;
		fr_buf_putc(out, obj ? '{' : '[');
		if (!n) {
			fr_buf_putc(out, obj ? '}' : ']');
			return;
		}
		fr_buf_printf(&inner, "%s%s", base, unit);
		if (obj) {
			json_object_foreach(v, k, c) {
				if (pretty)
					fr_buf_printf(out, "%s\n%s", i ? "," : "", inner.ptr);
				else if (i)
					fr_buf_puts(out, ", ");
				json_add_string(out, k, strlen(k));
				fr_buf_puts(out, ": ");
				render_json(out, c, inner.ptr, unit, pretty);
				i++;
			}
		} else {
			for (i = 0; i < n; i++) {
				if (pretty)
					fr_buf_printf(out, "%s\n%s", i ? "," : "", inner.ptr);
				else if (i)
					fr_buf_puts(out, ", ");
				render_json(out, json_array_get(v, i), inner.ptr, unit, pretty);
			}
		}
		if (pretty)
			fr_buf_printf(out, "\n%s", base);
		fr_buf_putc(out, obj ? '}' : ']');
		fr_buf_release(&inner);
		return;
	}
	case JSON_STRING:
		json_add_string(out, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		fr_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof num);
		fr_buf_puts(out, num);
		return;
	case JSON_TRUE:
		fr_buf_puts(out, "true");
		return;
	case JSON_FALSE:
		fr_buf_puts(out, "false");
		return;
	default:
		fr_buf_puts(out, "null");
	}
}

static int yemit_handler(void *data, unsigned char *buffer, size_t size)
{
	return fr_buf_add(data, buffer, size) == 0;
}

static int yemit_scalar(yaml_emitter_t *e, const char *s, size_t len, int is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	size_t i;
	if (is_string) {
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
				break;
		if (i < len)
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		else if (memchr(s, '\0', len) == NULL && yaml_needs_quotes(s))
			style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
	} else {
		style = YAML_PLAIN_SCALAR_STYLE;
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int yemit_value(yaml_emitter_t *e, json_t *v, int flow)
{
	yaml_event_t ev;
	char num[40];
	const char *k;
	json_t *c;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, flow ?
		                                         YAML_FLOW_MAPPING_STYLE :
		                                         YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		json_object_foreach(v, k, c)
			if (yemit_scalar(e, k, strlen(k), 1) || yemit_value(e, c, flow))
				return -1;
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev) ? 0 : -1;
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, flow ?
		                                          YAML_FLOW_SEQUENCE_STYLE :
		                                          YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		for (i = 0; i < json_array_size(v); i++)
			if (yemit_value(e, json_array_get(v, i), flow))
				return -1;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev) ? 0 : -1;
	case JSON_STRING:
		return yemit_scalar(e, json_string_value(v), json_string_length(v), 1);
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return yemit_scalar(e, num, strlen(num), 0);
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof num);
		return yemit_scalar(e, num, strlen(num), 0);
	case JSON_TRUE:
		return yemit_scalar(e, "true", 4, 0);
	case JSON_FALSE:
		return yemit_scalar(e, "false", 5, 0);
	default:
		return yemit_scalar(e, "null", 4, 0);
	}
}

/*
 * A value as YAML text through libyaml's emitter: flow (one line) or block
 * (lines at column 0, unit spaces a level). No trailing newline.
 */
static int render_yaml(fr_buf *out, json_t *v, int flow, size_t unit)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	fr_buf b = FR_BUF_INIT;
	int ok;

	if (!yaml_emitter_initialize(&e))
		return -1;
	yaml_emitter_set_output(&e, yemit_handler, &b);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_indent(&e, (int)unit);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	     yaml_emitter_emit(&e, &ev) &&
	     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	     yaml_emitter_emit(&e, &ev) && yemit_value(&e, v, flow) == 0 &&
	     yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
	     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev);
	yaml_emitter_delete(&e);
	if (ok && !b.oom) {
		size_t n = b.len;
		const char *p = b.ptr;
		if (n >= 4 && !memcmp(p, "--- ", 4))
			p += 4, n -= 4;
		while (n && p[n - 1] == '\n')
			n--;
		if (n >= 4 && !memcmp(p + n - 4, "\n...", 4))
			n -= 4;
		while (n && p[n - 1] == '\n')
			n--;
		fr_buf_add(out, p, n);
	}
	fr_buf_release(&b);
	return ok && !out->oom ? 0 : -1;
}

/* A key as it is written: a JSON string, or a YAML scalar (quoted when it must be). */
static int render_key(fr_buf *out, const tdoc *d, const char *key)
{
	json_t *k;
	int rc = 0;
	if (d->fmt == FMT_JSON) {
		json_add_string(out, key, strlen(key));
		return out->oom ? -1 : 0;
	}
	k = json_string(key);
	rc = k ? render_yaml(out, k, 1, 2) : -1;
	json_decref(k);
	return rc;
}

/*
 * What an edit writes: a value, and for a move (rename) also the text it
 * had where it was, so that its spelling and inner comments travel along.
 */
typedef struct {
	json_t *v;
	const char *raw;    /* NULL: render v */
	size_t rawlen;
	size_t raw_base;    /* indentation of the line its key was on */
	size_t raw_col;     /* column its text started at */
	int raw_block;      /* YAML: a block collection (starts on a line of its own) */
} piece;

/* 1 when a value is written on its key's line in a YAML block context. */
static int yinline_value(const json_t *v)
{
	return !(json_is_object(v) && json_object_size(v)) &&
	       !(json_is_array(v) && json_array_size(v));
}

/*
 * JSON: the value's text for a place whose line is indented by base
 * (pretty: over several lines as the file is).
 */
static int jpiece(fr_buf *out, const tdoc *d, const piece *pc, const char *base, size_t blen,
                  int pretty)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_add(&b, base, blen);
	if (pc->raw)
		add_indented(out, pc->raw, pc->rawlen, pc->raw_base, b.ptr, b.len);
	else
		render_json(out, pc->v, b.ptr, d->unit, pretty);
	fr_buf_release(&b);
	return out->oom ? -1 : 0;
}

/* Where a YAML value goes: after "key:", after "- ", or inside a flow collection. */
enum { YP_MAP, YP_SEQ, YP_FLOW };

/*
 * YAML: the value's text for a key (or dash) at column col. Lines after the
 * first come indented already; the first is the caller's to place. Sets
 * *block when the text is a block collection: after a key it goes on a
 * line of its own at column *bcol, after "- " it follows the dash.
 */
static int ypiece(fr_buf *out, const tdoc *d, const piece *pc, size_t col, int where,
                  int *block, size_t *bcol)
{
	size_t unit = strlen(d->unit);
	fr_buf pre = FR_BUF_INIT;
	int rc = 0;
	*block = 0;
	*bcol = where == YP_SEQ ? col + 2 : col + unit;
	if (pc->raw && (where == YP_MAP ? 1 : !pc->raw_block) &&
	    (where != YP_FLOW || !has_newline(pc->raw, 0, pc->rawlen))) {
		/* later lines move by as much as the key moved */
		size_t strip = col < pc->raw_base ? pc->raw_base - col : 0;
		add_spaces(&pre, col > pc->raw_base ? col - pc->raw_base : 0);
		add_indented(out, pc->raw, pc->rawlen, strip, pre.ptr, pre.len);
		*block = pc->raw_block;
		if (pc->raw_block)
			*bcol = pc->raw_col + col - pc->raw_base;
	} else if (where == YP_FLOW || yinline_value(pc->v)) {
		rc = render_yaml(out, pc->v, 1, unit);
	} else {
		fr_buf txt = FR_BUF_INIT;
		rc = render_yaml(&txt, pc->v, 0, unit);
		add_spaces(&pre, *bcol);
		add_indented(out, txt.ptr, txt.len, 0, pre.ptr, pre.len);
		*block = 1;
		fr_buf_release(&txt);
	}
	fr_buf_release(&pre);
	return rc || out->oom ? -1 : 0;
}

/* ---- edits: each splices one span of the text ---------------------------- */

/* The ':' after a YAML key (its end), or the key's end when there is none. */
static size_t ycolon(const tdoc *d, size_t kend)
{
	size_t p = kend;
	while (p < d->len && (d->t[p] == ' ' || d->t[p] == '\t'))
		p++;
	return p < d->len && d->t[p] == ':' ? p : kend;
}

/* The '-' before a YAML block sequence item starting at start, or (size_t)-1. */
static size_t ydash(const tdoc *d, size_t start)
{
	size_t p = start;
	while (p > 0 && (d->t[p - 1] == ' ' || d->t[p - 1] == '\t'))
		p--;
	return p > 0 && d->t[p - 1] == '-' ? p - 1 : (size_t)-1;
}

/* The start of entry i of a collection: its key, or for a block list item its dash. */
static size_t entry_start(const tdoc *d, const tnode *n, size_t i)
{
	size_t dash;
	if (n->kind == T_MAP)
		return n->kstart[i];
	if (!n->flow && (dash = ydash(d, n->kids[i]->start)) != (size_t)-1)
		return dash;
	return n->kids[i]->start;
}

/* The end of entry i's value (an empty YAML value ends at its ':' or '-'). */
static size_t entry_vend(const tdoc *d, const tnode *n, size_t i)
{
	const tnode *k = n->kids[i];
	if (!k->empty)
		return k->end;
	if (n->kind == T_MAP)
		return ycolon(d, n->kend[i]) + 1;
	return entry_start(d, n, i) + 1;
}

/* 1 when a YAML node is written on its key's (or dash's) line. */
static int yinline_node(const tnode *n)
{
	return (n->kind == T_SCALAR && !n->empty) || n->kind == T_ALIAS || n->flow;
}

/* The separator written before an appended entry: as between the last two. */
static void flow_sep(const tdoc *d, const tnode *n, fr_buf *sep)
{
	size_t a, b = entry_start(d, n, n->n - 1);
	if (n->n >= 2) {
		a = n->kids[n->n - 2]->end;
		while (a < b && d->t[a] != ',')
			a++;
		a++;
	} else {
		a = n->open + 1;
	}
	if (a < b)
		fr_buf_add(sep, d->t + a, b - a);
	if (!sep->len && d->fmt == FMT_YAML)
		fr_buf_putc(sep, ' ');
}

/* Replaces the value node (child i of parent; parent NULL: the root) with pc. */
static int ed_replace(const tdoc *d, const tnode *parent, size_t i, const tnode *node,
                      const piece *pc, fr_buf *out)
{
	fr_buf txt = FR_BUF_INIT, ins = FR_BUF_INIT;
	size_t a = node->start, b = node->end, bcol;
	int block, rc = -1;

	if (d->fmt == FMT_JSON) {
		size_t at = parent && parent->kind == T_MAP ? parent->kstart[i] : node->start;
		int pretty = parent ? has_newline(d->t, parent->open, parent->close) : 1;
		if (jpiece(&txt, d, pc, d->t + line_start(d->t, at), indent_len(d->t, d->len, at),
		           pretty))
			goto done;
		fr_buf_add(&ins, txt.ptr, txt.len);
	} else if (!parent) {
		if (render_yaml(&ins, pc->v, !yinline_value(pc->v) ? 0 : 1, strlen(d->unit)))
			goto done;
	} else if (parent->flow) {
		if (ypiece(&ins, d, pc, col_of(d->t, node->start), YP_FLOW, &block, &bcol))
			goto done;
	} else if (parent->kind == T_MAP) {
		size_t kc = col_of(d->t, parent->kstart[i]);
		size_t colon = ycolon(d, parent->kend[i]);
		if (ypiece(&txt, d, pc, kc, YP_MAP, &block, &bcol))
			goto done;
		if (block) {
			fr_buf_putc(&ins, '\n');
			add_spaces(&ins, bcol);
		} else if (!yinline_node(node)) {
			fr_buf_putc(&ins, ' ');
		}
		if (block || !yinline_node(node)) {
			a = colon + 1;
			b = entry_vend(d, parent, i);
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
	} else {
		size_t dash = ydash(d, node->start);
		size_t dc = dash != (size_t)-1 ? col_of(d->t, dash) : col_of(d->t, node->start);
		if (ypiece(&txt, d, pc, dc, YP_SEQ, &block, &bcol))
			goto done;
		if (node->empty && dash != (size_t)-1) {
			a = dash + 1;
			b = a;
			fr_buf_putc(&ins, ' ');
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
	}
	rc = ins.oom ? -1 : text_splice(out, d->t, d->len, a, b, ins.ptr, ins.len);
done:
	fr_buf_release(&txt);
	fr_buf_release(&ins);
	return rc;
}

/*
 * Adds an entry to collection n: key (a mapping) or an item before index
 * at (a list; at == n->n appends).
 */
static int ed_insert(const tdoc *d, const tnode *n, const char *key, size_t at, const piece *pc,
                     fr_buf *out)
{
	fr_buf txt = FR_BUF_INIT, ins = FR_BUF_INIT, sep = FR_BUF_INIT;
	size_t pos, bcol;
	int block, rc = -1;

	if (n->flow) {
		/* JSON, or a YAML flow collection */
		size_t ref = n->n ? entry_start(d, n, at < n->n ? at : n->n - 1) : n->open;
		size_t base = indent_len(d->t, d->len, ref);
		int pretty = n->n ? has_newline(d->t, n->open, n->close) : d->pretty;
		fr_buf lead = FR_BUF_INIT;
		if (!n->n && pretty) {
			fr_buf_add(&lead, d->t + line_start(d->t, ref), base);
			fr_buf_puts(&lead, d->unit);
		} else {
			fr_buf_add(&lead, d->t + line_start(d->t, ref), base);
		}
		if (key) {
			if (render_key(&txt, d, key))
				goto flow_done;
			if (d->fmt == FMT_JSON && n->n)
				fr_buf_add(&txt, d->t + n->kend[n->n - 1],
				           n->kids[n->n - 1]->start - n->kend[n->n - 1]);
			else
				fr_buf_puts(&txt, ": ");
		}
		if (d->fmt == FMT_JSON) {
			if (jpiece(&txt, d, pc, lead.ptr, lead.len, pretty))
				goto flow_done;
		} else if (ypiece(&txt, d, pc, 0, YP_FLOW, &block, &bcol)) {
			goto flow_done;
		}
		if (!n->n) {
			fr_buf_putc(&ins, n->kind == T_MAP ? '{' : '[');
			if (pretty) {
				fr_buf_putc(&ins, '\n');
				fr_buf_add(&ins, lead.ptr, lead.len);
			}
			fr_buf_add(&ins, txt.ptr, txt.len);
			if (pretty) {
				fr_buf_putc(&ins, '\n');
				fr_buf_add(&ins, d->t + line_start(d->t, ref), base);
			}
			fr_buf_putc(&ins, n->kind == T_MAP ? '}' : ']');
			rc = text_splice(out, d->t, d->len, n->open, n->close + 1, ins.ptr, ins.len);
		} else if (at >= n->n) {
			flow_sep(d, n, &sep);
			fr_buf_putc(&ins, ',');
			fr_buf_add(&ins, sep.ptr, sep.len);
			fr_buf_add(&ins, txt.ptr, txt.len);
			pos = n->kids[n->n - 1]->end;
			rc = text_splice(out, d->t, d->len, pos, pos, ins.ptr, ins.len);
		} else {
			/* before item at: the item, a comma, and the space that stood before it */
			size_t a = at ? n->kids[at - 1]->end : n->open + 1, b = n->kids[at]->start;
			while (at && a < b && d->t[a] != ',')
				a++;
			if (at)
				a++;
			fr_buf_add(&ins, txt.ptr, txt.len);
			fr_buf_putc(&ins, ',');
			fr_buf_add(&ins, d->t + a, b - a);
			if (a == b && d->fmt == FMT_YAML)
				fr_buf_putc(&ins, ' ');
			rc = text_splice(out, d->t, d->len, b, b, ins.ptr, ins.len);
		}
flow_done:
		fr_buf_release(&lead);
		goto done;
	}

	/* a YAML block collection (never empty) */
	if (n->kind == T_MAP) {
		size_t kc = col_of(d->t, n->kstart[0]);
		if (ypiece(&txt, d, pc, kc, YP_MAP, &block, &bcol))
			goto done;
		pos = line_end(d->t, d->len, entry_vend(d, n, n->n - 1));
		fr_buf_putc(&ins, '\n');
		add_spaces(&ins, kc);
		if (render_key(&ins, d, key))
			goto done;
		fr_buf_putc(&ins, ':');
		if (block) {
			fr_buf_putc(&ins, '\n');
			add_spaces(&ins, bcol);
		} else {
			fr_buf_putc(&ins, ' ');
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
		rc = text_splice(out, d->t, d->len, pos, pos, ins.ptr, ins.len);
	} else {
		size_t ref = at < n->n ? at : n->n - 1;
		size_t dash = entry_start(d, n, ref), dc = col_of(d->t, dash);
		if (ypiece(&txt, d, pc, dc, YP_SEQ, &block, &bcol))
			goto done;
		if (at >= n->n) {
			pos = line_end(d->t, d->len, entry_vend(d, n, n->n - 1));
			fr_buf_putc(&ins, '\n');
			add_spaces(&ins, dc);
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
		} else if (blank_between(d->t, line_start(d->t, dash), dash)) {
			pos = line_start(d->t, dash);
			add_spaces(&ins, dc);
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
			fr_buf_putc(&ins, '\n');
		} else {
			pos = dash;
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
			fr_buf_putc(&ins, '\n');
			add_spaces(&ins, dc);
		}
		rc = text_splice(out, d->t, d->len, pos, pos, ins.ptr, ins.len);
	}
done:
	fr_buf_release(&txt);
	fr_buf_release(&ins);
	fr_buf_release(&sep);
	return rc;
}

/* Removes the node at depth k of chain c (k >= 1). */
static int ed_remove(const tdoc *d, const tchain *c, size_t k, fr_buf *out, fr_buf *err)
{
	const tnode *n = c->node[k - 1];
	size_t i = c->idx[k - 1], a, b;

	if (n->flow) {
		if (n->n == 1) {
			a = n->open + 1;
			b = n->close;
		} else if (i + 1 < n->n) {
			a = entry_start(d, n, i);
			b = entry_start(d, n, i + 1);
		} else {
			a = n->kids[i - 1]->end;
			b = n->kids[i]->end;
		}
		return text_splice(out, d->t, d->len, a, b, "", 0);
	}
	if (n->n == 1 && k >= 2) {
		/* the last entry of a nested block collection: it stays, empty */
		piece pc;
		int rc;
		memset(&pc, 0, sizeof pc);
		pc.v = n->kind == T_MAP ? json_object() : json_array();
		rc = pc.v ? ed_replace(d, c->node[k - 2], c->idx[k - 2], n, &pc, out) : -1;
		json_decref(pc.v);
		return rc;
	}
	a = entry_start(d, n, i);
	if (blank_between(d->t, line_start(d->t, a), a)) {
		a = line_start(d->t, a);
		b = line_end(d->t, d->len, entry_vend(d, n, i));
		if (b < d->len)
			b++;
	} else if (i + 1 < n->n) {
		b = entry_start(d, n, i + 1);
	} else {
		fr_buf_puts(err, "cannot remove an entry written on the line of another");
		return -1;
	}
	return text_splice(out, d->t, d->len, a, b, "", 0);
}

/* "a.b.0" of the first n components. */
static char *join_comps(char **comps, size_t n)
{
	fr_buf b = FR_BUF_INIT;
	size_t i;
	for (i = 0; i < n; i++)
		fr_buf_printf(&b, "%s%s", i ? "." : "", comps[i]);
	return fr_buf_detach(&b);
}

/* The value at a key path, or NULL with "'<path>' in '<file>': <why>" in err. */
static json_t *node_value(const tdoc *d, const tnode *n, char **comps, size_t nc,
                          const char *file, fr_buf *err)
{
	fr_buf why = FR_BUF_INIT;
	json_t *v = tnode_json(d, n, &why);
	if (!v) {
		char *p = join_comps(comps, nc);
		fr_buf_printf(err, "'%s' in '%s': %s", p ? p : "?", file, why.ptr);
		fr_free(p);
	}
	fr_buf_release(&why);
	return v;
}

/* {comps[0]: {comps[1]: ... v}} (new reference). */
static json_t *nest(char **comps, size_t n, json_t *v)
{
	json_t *cur = json_incref(v);
	while (n--) {
		json_t *o = json_object();
		if (!o || json_object_set_new(o, comps[n], cur)) {
			json_decref(o);
			return NULL;
		}
		cur = o;
	}
	return cur;
}

/*
 * Appends a semantic undo entry: {"path": p, "old": v[, "insert": true]}
 * or {"path": p, "absent": true}.
 */
static int sem_add(json_t *sem, char **comps, size_t n, json_t *old, int insert)
{
	json_t *e = json_object();
	char *p = join_comps(comps, n);
	int rc = !e || !p;
	if (!rc) {
		json_object_set_new(e, "path", json_string(p));
		if (old) {
			json_object_set(e, "old", old);
			if (insert)
				json_object_set_new(e, "insert", json_true());
		} else {
			json_object_set_new(e, "absent", json_true());
		}
		rc = json_array_append(sem, e);
	}
	json_decref(e);
	fr_free(p);
	return rc ? -1 : 0;
}

static const char *tnode_kind_name(const tnode *n)
{
	return n->kind == T_MAP ? "mapping" : n->kind == T_SEQ ? "list" :
	       n->kind == T_ALIAS ? "YAML alias" : "plain value";
}

/*
 * Puts pc at the key path into the text t of a JSON or YAML file. Creates
 * the mappings on the way; insert: put it before list item at the last
 * index rather than in its place. *changed is 0 when nothing had to change
 * (if_missing and the key is there, or the same value is). The semantic
 * undo of the change is appended to sem.
 */
static int tree_put(int fmt, const char *t, size_t len, const char *file, char **comps,
                    size_t nc, const piece *pc, int if_missing, int insert, fr_buf *out,
                    int *changed, json_t *sem, fr_buf *err)
{
	tdoc d;
	tchain c;
	json_t *old = NULL, *whole = NULL;
	char *where = NULL;
	int ret = -1;

	*changed = 0;
	if (tdoc_parse(&d, fmt, t, len, file, err))
		return -1;
	tchain_walk(&d, comps, nc, &c);
	if (c.depth == nc) {
		tnode *node = c.node[nc], *parent = c.node[nc - 1];
		size_t i = c.idx[nc - 1];
		if (insert && parent->kind == T_SEQ) {
			if (ed_insert(&d, parent, NULL, i, pc, out) || sem_add(sem, comps, nc, NULL, 0))
				goto oom;
			*changed = 1;
			ret = 0;
			goto done;
		}
		if (if_missing) {
			ret = 0;
			goto done;
		}
		if (!(old = node_value(&d, node, comps, nc, file, err)))
			goto fail;
		if (json_equal(old, pc->v)) {
			ret = 0;
			goto done;
		}
		if (ed_replace(&d, parent, i, node, pc, out) || sem_add(sem, comps, nc, old, 0))
			goto oom;
	} else {
		size_t k = c.depth;
		tnode *cur = c.node[k];
		piece sub;
		memset(&sub, 0, sizeof sub);
		if (!cur) {
			/* no document yet: the file gets one mapping */
			fr_buf_reset(out);
			if (!(whole = nest(comps, nc, pc->v)))
				goto oom;
			if (fmt == FMT_JSON) {
				render_json(out, whole, "", d.unit, 1);
			} else {
				fr_buf_add(out, t, len);
				if (len && t[len - 1] != '\n')
					fr_buf_putc(out, '\n');
				if (render_yaml(out, whole, 0, strlen(d.unit)))
					goto oom;
			}
			fr_buf_putc(out, '\n');
			if (out->oom || sem_add(sem, comps, 1, NULL, 0))
				goto oom;
		} else if (cur->kind == T_MAP || cur->kind == T_SEQ) {
			if (k + 1 == nc) {
				sub = *pc;
			} else if (!(sub.v = whole = nest(comps + k + 1, nc - k - 1, pc->v))) {
				goto oom;
			}
			if (cur->kind == T_SEQ) {
				long idx = comp_index(comps[k]);
				where = join_comps(comps, k);
				if (idx < 0) {
					fr_buf_printf(err, "'%s' in '%s' is a list; '%s' is not an index of it",
					              k ? where : "the document", file, comps[k]);
					goto fail;
				}
				if ((size_t)idx > cur->n) {
					fr_buf_printf(err, "index %ld is past the end of the list '%s' in '%s' "
					              "(%zu items; the next one is %zu)", idx,
					              k ? where : "(the document)", file, cur->n, cur->n);
					goto fail;
				}
			}
			if (ed_insert(&d, cur, cur->kind == T_MAP ? comps[k] : NULL, cur->n, &sub, out) ||
			    sem_add(sem, comps, k + 1, NULL, 0))
				goto oom;
		} else if (tnode_is_null(&d, cur) || cur->empty) {
			/* a null on the way becomes the mapping */
			if (!(sub.v = whole = nest(comps + k, nc - k, pc->v)))
				goto oom;
			if (ed_replace(&d, k ? c.node[k - 1] : NULL, k ? c.idx[k - 1] : 0, cur, &sub, out))
				goto oom;
			old = json_null();
			if (k ? sem_add(sem, comps, k, old, 0) : sem_add(sem, comps, 1, NULL, 0))
				goto oom;
		} else {
			where = join_comps(comps, k);
			fr_buf_printf(err, "'%s' in '%s' is a %s, not a mapping or list, so '%s' cannot "
			              "be set", k ? where : "the document", file, tnode_kind_name(cur),
			              comps[k]);
			goto fail;
		}
	}
	*changed = 1;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "cannot edit '%s': out of memory", file);
fail:
	ret = -1;
done:
	json_decref(old);
	json_decref(whole);
	fr_free(where);
	tdoc_free(&d);
	return ret;
}

static int tree_delete(int fmt, const char *t, size_t len, const char *file, char **comps,
                       size_t nc, fr_buf *out, int *changed, json_t *sem, fr_buf *err)
{
	tdoc d;
	tchain c;
	json_t *old = NULL;
	int ret = -1;

	*changed = 0;
	if (tdoc_parse(&d, fmt, t, len, file, err))
		return -1;
	tchain_walk(&d, comps, nc, &c);
	if (c.depth < nc) {
		ret = 0;
		goto done;
	}
	if (!(old = node_value(&d, c.node[nc], comps, nc, file, err)))
		goto done;
	if (ed_remove(&d, &c, nc, out, err))
		goto done;
	if (sem_add(sem, comps, nc, old, c.node[nc - 1]->kind == T_SEQ)) {
		fr_buf_printf(err, "cannot edit '%s': out of memory", file);
		goto done;
	}
	*changed = 1;
	ret = 0;
done:
	json_decref(old);
	tdoc_free(&d);
	return ret;
}

/* 1 when key path a is b or inside it. */
static int comps_within(char **a, size_t na, char **b, size_t nb)
{
	size_t i;
	if (na < nb)
		return 0;
	for (i = 0; i < nb; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return 1;
}

static int tree_rename(int fmt, const char *t, size_t len, const char *file, char **from,
                       size_t nf, char **to, size_t nt, int if_missing, fr_buf *out,
                       int *changed, json_t *sem, fr_buf *err)
{
	tdoc d;
	tchain cf, ct;
	fr_buf mid = FR_BUF_INIT;
	piece pc;
	char *fs = join_comps(from, nf), *ts = join_comps(to, nt);
	int ret = -1, ch;

	*changed = 0;
	memset(&pc, 0, sizeof pc);
	if (tdoc_parse(&d, fmt, t, len, file, err))
		goto out;
	tchain_walk(&d, from, nf, &cf);
	tchain_walk(&d, to, nt, &ct);
	if (cf.depth < nf) {
		ret = 0; /* nothing to rename (done before, or never there) */
		goto done;
	}
	if (ct.depth == nt) {
		if (if_missing) {
			ret = 0;
			goto done;
		}
		fr_buf_printf(err, "'%s' is already in '%s'; add if_missing: true to keep it and "
		              "leave '%s', or delete it first", ts, file, fs);
		goto done;
	}
	if (comps_within(to, nt, from, nf)) {
		fr_buf_printf(err, "cannot rename '%s' to '%s', which is inside it", fs, ts);
		goto done;
	}
	{
		tnode *node = cf.node[nf], *parent = cf.node[nf - 1];
		size_t i = cf.idx[nf - 1];
		if (!(pc.v = node_value(&d, node, from, nf, file, err)))
			goto done;
		if (nf == nt && parent->kind == T_MAP && comps_within(to, nt - 1, from, nf - 1)) {
			/* a new name in the same mapping: only the key's text changes */
			fr_buf key = FR_BUF_INIT;
			int rc = render_key(&key, &d, to[nt - 1]) ||
			         text_splice(out, t, len, parent->kstart[i], parent->kend[i], key.ptr,
			                     key.len);
			fr_buf_release(&key);
			if (rc || sem_add(sem, from, nf, pc.v, 0) || sem_add(sem, to, nt, NULL, 0)) {
				fr_buf_printf(err, "cannot edit '%s': out of memory", file);
				goto done;
			}
			*changed = 1;
			ret = 0;
			goto done;
		}
		if (!node->empty && (fmt == FMT_JSON || parent->kind == T_MAP || yinline_node(node))) {
			size_t at = parent->kind == T_MAP ? parent->kstart[i] : node->start;
			pc.raw = t + node->start;
			pc.rawlen = node->end - node->start;
			pc.raw_base = fmt == FMT_JSON ? indent_len(t, len, at) : col_of(t, at);
			pc.raw_col = col_of(t, node->start);
			pc.raw_block = fmt == FMT_YAML && !yinline_node(node);
		}
		if (ed_remove(&d, &cf, nf, &mid, err))
			goto done;
		if (sem_add(sem, from, nf, pc.v, parent->kind == T_SEQ))
			goto done;
	}
	if (tree_put(fmt, mid.ptr, mid.len, file, to, nt, &pc, 0, 0, out, &ch, sem, err))
		goto done;
	*changed = 1;
	ret = 0;
done:
	tdoc_free(&d);
out:
	json_decref(pc.v);
	fr_buf_release(&mid);
	fr_free(fs);
	fr_free(ts);
	return ret;
}

/* ---- .env files ------------------------------------------------------------ */

/* One assignment line: [ls, le) the line, [ks, ke) the name, [vs, ve) the value as written. */
typedef struct {
	size_t ls, le, ks, ke, vs, ve;
} envline;

/* Reads the line [ls, le) as "[export ]NAME=value [# comment]". 1 when it is one. */
static int env_line(const char *t, size_t ls, size_t le, envline *e)
{
	size_t p = ls;
	while (p < le && (t[p] == ' ' || t[p] == '\t'))
		p++;
	if (le - p > 7 && !memcmp(t + p, "export", 6) && (t[p + 6] == ' ' || t[p + 6] == '\t')) {
		p += 6;
		while (p < le && (t[p] == ' ' || t[p] == '\t'))
			p++;
	}
	e->ls = ls;
	e->le = le;
	e->ks = p;
	while (p < le && (isalnum((unsigned char)t[p]) || strchr("_.-", t[p])))
		p++;
	e->ke = p;
	if (e->ke == e->ks)
		return 0;
	while (p < le && (t[p] == ' ' || t[p] == '\t'))
		p++;
	if (p >= le || t[p] != '=')
		return 0;
	p++;
	while (p < le && (t[p] == ' ' || t[p] == '\t'))
		p++;
	e->vs = p;
	if (p < le && (t[p] == '"' || t[p] == '\'')) {
		char q = t[p++];
		while (p < le && t[p] != q)
			p += q == '"' && t[p] == '\\' && p + 1 < le ? 2 : 1;
		if (p < le) {
			e->ve = p + 1;
			return 1;
		}
		p = le; /* unterminated: the rest of the line */
	} else {
		while (p < le && !(t[p] == '#' && (t[p - 1] == ' ' || t[p - 1] == '\t')))
			p++;
	}
	while (p > e->vs && (t[p - 1] == ' ' || t[p - 1] == '\t' || t[p - 1] == '\r'))
		p--;
	e->ve = p;
	return 1;
}

/* The assignments of key, in file order; *n of them (the caller frees). */
static envline *env_find(const char *t, size_t len, const char *key, size_t *n)
{
	envline *v = NULL, e;
	size_t ls = 0, kl = strlen(key), cnt = 0;
	while (ls < len) {
		size_t le = line_end(t, len, ls);
		if (env_line(t, ls, le, &e) && e.ke - e.ks == kl && !memcmp(t + e.ks, key, kl)) {
			envline *nv = fr_realloc(v, (cnt + 1) * sizeof *nv);
			if (!nv) {
				fr_free(v);
				*n = (size_t)-1;
				return NULL;
			}
			v = nv;
			v[cnt++] = e;
		}
		ls = le + 1;
	}
	*n = cnt;
	return v;
}

/* A value as it is written after '=': bare when it can be, else quoted in the old style. */
static void env_quote(fr_buf *out, const char *v, const char *old, size_t oldlen)
{
	char q = oldlen && (old[0] == '"' || old[0] == '\'') ? old[0] : 0;
	const char *c;
	if (!q && *v && all_in(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                          "0123456789_./:@%+,=-")) {
		fr_buf_puts(out, v);
		return;
	}
	if (q != '"' && !strchr(v, '\'') && !strchr(v, '\n')) {
		fr_buf_printf(out, "'%s'", v);
		return;
	}
	fr_buf_putc(out, '"');
	for (c = v; *c; c++) {
		if (*c == '\n')
			fr_buf_puts(out, "\\n");
		else if (strchr("\"\\$`", *c))
			fr_buf_printf(out, "\\%c", *c);
		else
			fr_buf_putc(out, *c);
	}
	fr_buf_putc(out, '"');
}

static json_t *env_sem(const char *key, const char *raw, size_t rawlen)
{
	json_t *e = json_object();
	if (!e)
		return NULL;
	json_object_set_new(e, "key", json_string(key));
	if (raw)
		json_object_set_new(e, "raw", json_stringn(raw, rawlen));
	else
		json_object_set_new(e, "absent", json_true());
	return e;
}

/*
 * Sets key to value (raw: value is the text after '=' as it is written).
 * The last assignment is the one that counts, as in a shell.
 */
static int env_set(const char *t, size_t len, const char *file, const char *key,
                   const char *value, int raw, int if_missing, fr_buf *out, int *changed,
                   json_t *sem, fr_buf *err)
{
	fr_buf nv = FR_BUF_INIT;
	size_t n;
	envline *v = env_find(t, len, key, &n);
	int ret = -1;

	*changed = 0;
	if (n == (size_t)-1)
		goto oom;
	if (n && if_missing) {
		ret = 0;
		goto done;
	}
	if (raw)
		fr_buf_puts(&nv, value);
	else
		env_quote(&nv, value, n ? t + v[n - 1].vs : NULL, n ? v[n - 1].ve - v[n - 1].vs : 0);
	if (n) {
		envline *e = &v[n - 1];
		if (e->ve - e->vs == nv.len && !memcmp(t + e->vs, nv.ptr, nv.len)) {
			ret = 0;
			goto done;
		}
		if (text_splice(out, t, len, e->vs, e->ve, nv.ptr, nv.len) ||
		    json_array_append_new(sem, env_sem(key, t + e->vs, e->ve - e->vs)))
			goto oom;
	} else {
		fr_buf_reset(out);
		fr_buf_add(out, t, len);
		if (len && t[len - 1] != '\n')
			fr_buf_putc(out, '\n');
		fr_buf_printf(out, "%s=%s\n", key, nv.ptr);
		if (out->oom || json_array_append_new(sem, env_sem(key, NULL, 0)))
			goto oom;
	}
	*changed = 1;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "cannot edit '%s': out of memory", file);
done:
	fr_free(v);
	fr_buf_release(&nv);
	return ret;
}

/* Removes every assignment of key (their whole lines). */
static int env_delete(const char *t, size_t len, const char *file, const char *key, fr_buf *out,
                      int *changed, json_t *sem, fr_buf *err)
{
	size_t n, i, at = 0;
	envline *v = env_find(t, len, key, &n);
	int ret = -1;

	*changed = 0;
	if (n == (size_t)-1)
		goto oom;
	if (!n) {
		ret = 0;
		goto done;
	}
	fr_buf_reset(out);
	for (i = 0; i < n; i++) {
		fr_buf_add(out, t + at, v[i].ls - at);
		at = v[i].le < len ? v[i].le + 1 : len;
	}
	fr_buf_add(out, t + at, len - at);
	if (out->oom ||
	    json_array_append_new(sem, env_sem(key, t + v[n - 1].vs, v[n - 1].ve - v[n - 1].vs)))
		goto oom;
	*changed = 1;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "cannot edit '%s': out of memory", file);
done:
	fr_free(v);
	return ret;
}

static int env_rename(const char *t, size_t len, const char *file, const char *from,
                      const char *to, int if_missing, fr_buf *out, int *changed, json_t *sem,
                      fr_buf *err)
{
	size_t nf, nt, i, at = 0;
	envline *vf = env_find(t, len, from, &nf), *vt = env_find(t, len, to, &nt);
	int ret = -1;

	*changed = 0;
	if (nf == (size_t)-1 || nt == (size_t)-1)
		goto oom;
	if (!nf) {
		ret = 0;
		goto done;
	}
	if (nt) {
		if (if_missing)
			ret = 0;
		else
			fr_buf_printf(err, "'%s' is already set in '%s'; add if_missing: true to keep it "
			              "and leave '%s', or delete it first", to, file, from);
		goto done;
	}
	fr_buf_reset(out);
	for (i = 0; i < nf; i++) {
		fr_buf_add(out, t + at, vf[i].ks - at);
		fr_buf_puts(out, to);
		at = vf[i].ke;
	}
	fr_buf_add(out, t + at, len - at);
	if (out->oom ||
	    json_array_append_new(sem, env_sem(from, t + vf[nf - 1].vs,
	                                       vf[nf - 1].ve - vf[nf - 1].vs)) ||
	    json_array_append_new(sem, env_sem(to, NULL, 0)))
		goto oom;
	*changed = 1;
	ret = 0;
	goto done;
oom:
	fr_buf_printf(err, "cannot edit '%s': out of memory", file);
done:
	fr_free(vf);
	fr_free(vt);
	return ret;
}

/* ---- one edit of a file's text ------------------------------------------- */

/* The text a .env file gets for a value of the ops file. NULL for a list or mapping. */
static char *env_text(json_t *v)
{
	char num[40];
	switch (json_typeof(v)) {
	case JSON_STRING:
		return fr_strndup(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return fr_strdup(num);
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof num);
		return fr_strdup(num);
	case JSON_TRUE:
		return fr_strdup("true");
	case JSON_FALSE:
		return fr_strdup("false");
	case JSON_NULL:
		return fr_strdup("");
	default:
		return NULL;
	}
}

/*
 * Applies a content op (set, rename, delete, env) to text, the file's bytes
 * ("" when it does not exist). The new bytes go to out when *changed.
 */
static int edit_text(const op *o, const char *text, size_t len, fr_buf *out, int *changed,
                     json_t *sem, fr_buf *err)
{
	char **a = NULL, **b = NULL;
	size_t na = 0, nb = 0;
	char *ev = NULL;
	int ret = -1;
	piece pc;

	*changed = 0;
	memset(&pc, 0, sizeof pc);
	if (o->fmt == FMT_ENV) {
		switch (o->type) {
		case OP_SET:
		case OP_ENV:
			if (o->raw) {
				ret = env_set(text, len, o->file, o->type == OP_ENV ? o->key : o->path,
				              json_string_value(o->value), 1, o->if_missing, out, changed, sem,
				              err);
				break;
			}
			if (!(ev = env_text(o->value))) {
				fr_buf_printf(err, "a value in '%s' must be a string, not a list or mapping",
				              o->file);
				break;
			}
			ret = env_set(text, len, o->file, o->type == OP_ENV ? o->key : o->path, ev, 0,
			              o->if_missing, out, changed, sem, err);
			break;
		case OP_DELETE:
			ret = env_delete(text, len, o->file, o->path, out, changed, sem, err);
			break;
		case OP_RENAME:
			ret = env_rename(text, len, o->file, o->from, o->to, o->if_missing, out, changed,
			                 sem, err);
			break;
		}
		goto done;
	}
	if (split_keypath(o->type == OP_RENAME ? o->from : o->path, &a, &na) ||
	    (o->type == OP_RENAME && split_keypath(o->to, &b, &nb))) {
		fr_buf_printf(err, "not a key path: '%s'", o->type == OP_RENAME ? o->to : o->path);
		goto done;
	}
	switch (o->type) {
	case OP_SET:
		pc.v = o->value;
		ret = tree_put(o->fmt, text, len, o->file, a, na, &pc, o->if_missing, o->insert, out,
		               changed, sem, err);
		break;
	case OP_DELETE:
		ret = tree_delete(o->fmt, text, len, o->file, a, na, out, changed, sem, err);
		break;
	case OP_RENAME:
		ret = tree_rename(o->fmt, text, len, o->file, a, na, b, nb, o->if_missing, out,
		                  changed, sem, err);
		break;
	}
done:
	free_comps(a, na);
	free_comps(b, nb);
	fr_free(ev);
	return ret;
}

/* ---- running: paths inside the root ---------------------------------------- */

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

/* Starts a message about op o (NULL: about the step's undo). */
static void oerr(orun *R, const op *o, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void oerr(orun *R, const op *o, const char *fmt, ...)
{
	va_list ap;
	if (o)
		fr_buf_printf(R->err, "%s:%d: op '%s': ", R->rel, o->line, op_names[o->type]);
	else
		fr_buf_printf(R->err, "%s (undo): ", R->step_id);
	va_start(ap, fmt);
	fr_buf_vprintf(R->err, fmt, ap);
	va_end(ap);
}

static int inside(const orun *R, const char *real)
{
	return !strncmp(real, R->root, R->rootlen) &&
	       (real[R->rootlen] == '/' || real[R->rootlen] == '\0');
}

/* The path relative to the root of an absolute path inside it. */
static const char *rel_of(const orun *R, const char *abs)
{
	return abs[R->rootlen] == '/' ? abs + R->rootlen + 1 : abs + R->rootlen;
}

static int orun_init(orun *R, fr_run_ctx *ctx, const char *root, const char *rel,
                     const char *step_id, fr_buf *err)
{
	memset(R, 0, sizeof *R);
	R->ctx = ctx;
	R->rel = rel;
	R->step_id = step_id;
	R->err = err;
	{
		char *r = realpath(root && *root ? root : ".", NULL);
		if (!r) {
			fr_buf_printf(err, "%s: cannot resolve the root '%s': %s", rel, root,
			              strerror(errno));
			return -1;
		}
		R->root = fr_strdup(r);
		free(r);
	}
	if (!R->root) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	R->rootlen = strlen(R->root);
	if (R->rootlen == 1)
		R->rootlen = 0; /* the root is "/": every path is inside */
	return 0;
}

/*
 * Resolves path (relative to the root, already checked by path_problem())
 * component by component. A symlink on the way must lead inside the root;
 * one at the end is followed when follow is set (then it too must lead
 * inside), else kept (a move or remove takes the link itself). Nothing in
 * .ferry. The absolute path (owned), or NULL with the refusal in R->err.
 */
static char *resolve(orun *R, const op *o, const char *path, int follow)
{
	fr_buf cur = FR_BUF_INIT, ferry = FR_BUF_INIT;
	const char *c = path;
	char *real = NULL;

	fr_buf_puts(&cur, R->root);
	while (*c) {
		const char *e;
		size_t n;
		struct stat st;
		int last;
		while (*c == '/')
			c++;
		e = c + strcspn(c, "/");
		n = (size_t)(e - c);
		if (!n)
			break;
		last = e[strspn(e, "/")] == '\0';
		if (n == 1 && *c == '.') {
			c = e;
			continue;
		}
		fr_buf_putc(&cur, '/');
		fr_buf_add(&cur, c, n);
		c = e;
		if (cur.oom)
			goto oom;
		if (lstat(cur.ptr, &st)) {
			if (errno != ENOENT) {
				oerr(R, o, "cannot look at '%s': %s", path, strerror(errno));
				goto fail;
			}
			/* the rest does not exist yet */
			while (*c) {
				while (*c == '/')
					c++;
				e = c + strcspn(c, "/");
				if (e > c && !(e - c == 1 && *c == '.')) {
					fr_buf_putc(&cur, '/');
					fr_buf_add(&cur, c, (size_t)(e - c));
				}
				c = e;
			}
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t tl = readlink(cur.ptr, target, sizeof target - 1);
			target[tl > 0 ? tl : 0] = '\0';
			real = realpath(cur.ptr, NULL);
			if (!real && last && !follow)
				continue; /* a dangling link, taken as it is */
			if (!real) {
				oerr(R, o, "'%s' goes through the symlink '%s', which points to '%s', which "
				     "does not exist", path, rel_of(R, cur.ptr), target);
				goto fail;
			}
			if (!inside(R, real)) {
				oerr(R, o, "'%s' leads outside the root through the symlink '%s' (-> '%s'); "
				     "ops change only files inside the root", path, rel_of(R, cur.ptr),
				     target);
				goto fail;
			}
			if (!(last && !follow)) {
				fr_buf_reset(&cur);
				fr_buf_puts(&cur, real);
			}
			free(real);
			real = NULL;
		} else if (!last && !S_ISDIR(st.st_mode)) {
			oerr(R, o, "'%s': '%s' is not a folder", path, rel_of(R, cur.ptr));
			goto fail;
		}
	}
	if (cur.oom)
		goto oom;
	fr_buf_printf(&ferry, "%s/.ferry", R->root);
	if (!strncmp(cur.ptr, ferry.ptr, ferry.len) &&
	    (cur.ptr[ferry.len] == '/' || cur.ptr[ferry.len] == '\0')) {
		oerr(R, o, "'%s' is inside .ferry (ferry's own state); ops do not change it", path);
		goto fail;
	}
	if (cur.len <= R->rootlen + 1) {
		oerr(R, o, "'%s' is the root itself", path);
		goto fail;
	}
	fr_buf_release(&ferry);
	return fr_buf_detach(&cur);
oom:
	oerr(R, o, "out of memory");
fail:
	free(real);
	fr_buf_release(&cur);
	fr_buf_release(&ferry);
	return NULL;
}

/* ---- running: files and folders ------------------------------------------ */

/* Copies a file's bytes to dst (new) with mode, through a temporary file and a rename. */
static int copy_file(const char *src, const char *dst, mode_t mode)
{
	fr_buf tmp = FR_BUF_INIT;
	char buf[65536];
	int in = -1, out = -1, e = 0, rc = -1;
	ssize_t n;

	if (fr_buf_printf(&tmp, "%s.ferry-tmp.%ld", dst, (long)getpid())) {
		errno = ENOMEM;
		return -1;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto done;
	out = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		goto done;
	for (;;) {
		char *p = buf;
		n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto done;
			p += w;
			n -= w;
		}
	}
	if (n < 0 || fchmod(out, mode & 07777) || fsync(out))
		goto done;
	if (close(out)) {
		out = -1;
		goto done;
	}
	out = -1;
	if (rename(tmp.ptr, dst))
		goto done;
	rc = 0;
done:
	e = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp.ptr);
	fr_buf_release(&tmp);
	errno = e;
	return rc;
}

/* Copies a file, folder tree or symlink (as a link) to dst, which must not exist. */
static int copy_tree(const char *src, const char *dst)
{
	struct stat st;
	DIR *d = NULL;
	struct dirent *de;
	fr_buf a = FR_BUF_INIT, b = FR_BUF_INIT;
	int rc = -1, e;

	if (lstat(src, &st))
		return -1;
	if (S_ISREG(st.st_mode))
		return copy_file(src, dst, st.st_mode);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		return symlink(target, dst);
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = EINVAL; /* a device, socket or fifo */
		return -1;
	}
	if (mkdir(dst, 0700) || !(d = opendir(src)))
		goto done;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&a, "%s/%s", src, de->d_name);
		fr_buf_setf(&b, "%s/%s", dst, de->d_name);
		if (a.oom || b.oom) {
			errno = ENOMEM;
			goto done;
		}
		if (copy_tree(a.ptr, b.ptr))
			goto done;
	}
	if (errno || chmod(dst, st.st_mode & 07777))
		goto done;
	rc = 0;
done:
	e = errno;
	if (d)
		closedir(d);
	fr_buf_release(&a);
	fr_buf_release(&b);
	errno = e;
	return rc;
}

/* rm -rf without following symlinks. */
static int remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	fr_buf a = FR_BUF_INIT;
	int rc = 0, e = 0;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&a, "%s/%s", path, de->d_name);
		if (a.oom || remove_tree(a.ptr)) {
			e = a.oom ? ENOMEM : errno;
			rc = -1;
			break;
		}
	}
	closedir(d);
	fr_buf_release(&a);
	if (rc) {
		errno = e;
		return -1;
	}
	return rmdir(path);
}

/* rename(), or copy and remove across file systems. */
static int move_path(const char *src, const char *dst)
{
	if (rename(src, dst) == 0) {
		fr_fsync_parent(dst); /* best effort: the rename itself is done */
		return 0;
	}
	if (errno != EXDEV)
		return -1;
	if (copy_tree(src, dst)) {
		int e = errno;
		remove_tree(dst);
		errno = e;
		return -1;
	}
	return remove_tree(src);
}

/* mkdir -p of abs (inside the root), appending each folder made (relative) to created. */
static int make_dirs(orun *R, const char *abs, mode_t mode, json_t *created)
{
	fr_buf p = FR_BUF_INIT;
	const char *c = abs + R->rootlen;
	int rc = -1;
	fr_buf_puts(&p, R->root);
	while (*c) {
		const char *e;
		while (*c == '/')
			c++;
		e = c + strcspn(c, "/");
		if (e == c)
			break;
		fr_buf_putc(&p, '/');
		fr_buf_add(&p, c, (size_t)(e - c));
		c = e;
		if (p.oom) {
			errno = ENOMEM;
			goto done;
		}
		if (mkdir(p.ptr, mode) == 0) {
			if (json_array_append_new(created, json_string(rel_of(R, p.ptr)))) {
				errno = ENOMEM;
				goto done;
			}
		} else if (errno != EEXIST) {
			goto done;
		}
	}
	rc = 0;
done:
	fr_buf_release(&p);
	return rc;
}

/* The folder holding abs, made if missing (folders made are appended to created). */
static int make_parent(orun *R, const char *abs, json_t *created)
{
	char *dir = fr_strdup(abs), *slash;
	int rc;
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	rc = strlen(dir) > R->rootlen ? make_dirs(R, dir, 0755, created) : 0;
	fr_free(dir);
	return rc;
}

/* Where the next thing taken away goes: <scratch>/<step>-XXXXXX/<n>-<name>. */
static char *stash_path(orun *R, const op *o, const char *abs)
{
	fr_buf p = FR_BUF_INIT;
	if (!R->stash_dir) {
		const char *scratch = R->ctx && R->ctx->scratch_dir && *R->ctx->scratch_dir
		                      ? R->ctx->scratch_dir : NULL;
		const char *c;
		char *real;
		if (scratch)
			fr_buf_puts(&p, scratch);
		else
			fr_buf_printf(&p, "%s/.ferry/scratch", R->root);
		if (p.oom || fr_mkdir_p(p.ptr, 0700)) {
			oerr(R, o, "cannot create the scratch folder '%s': %s", p.ptr,
			     p.oom ? strerror(ENOMEM) : strerror(errno));
			goto fail;
		}
		fr_buf_putc(&p, '/');
		for (c = R->step_id; *c; c++)
			fr_buf_putc(&p, isalnum((unsigned char)*c) || strchr("._-", *c) ? *c : '_');
		fr_buf_puts(&p, "-XXXXXX");
		if (p.oom || !mkdtemp(p.ptr)) {
			oerr(R, o, "cannot create a folder in the scratch folder: %s",
			     p.oom ? strerror(ENOMEM) : strerror(errno));
			goto fail;
		}
		real = realpath(p.ptr, NULL);
		R->stash_dir = fr_strdup(real ? real : p.ptr);
		free(real);
		if (!R->stash_dir)
			goto oom;
		fr_buf_reset(&p);
	}
	fr_buf_printf(&p, "%s/%d-%s", R->stash_dir, ++R->nstash, base_name(abs));
	if (p.oom)
		goto oom;
	return fr_buf_detach(&p);
oom:
	oerr(R, o, "out of memory");
fail:
	fr_buf_release(&p);
	return NULL;
}

/* How a stash is recorded: relative to the root when inside it (the root may move). */
static json_t *stash_json(const orun *R, const char *abs)
{
	return json_string(inside(R, abs) ? rel_of(R, abs) : abs);
}

static char *stash_abs(const orun *R, const char *rec)
{
	fr_buf p = FR_BUF_INIT;
	if (rec[0] == '/')
		fr_buf_puts(&p, rec);
	else
		fr_buf_printf(&p, "%s/%s", R->root, rec);
	return fr_buf_detach(&p);
}

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* ---- base64, for file bytes that are not UTF-8 text ----------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(fr_buf *out, const unsigned char *p, size_t n)
{
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		fr_buf_putc(out, b64[v >> 18]);
		fr_buf_putc(out, b64[(v >> 12) & 63]);
		fr_buf_putc(out, b64[(v >> 6) & 63]);
		fr_buf_putc(out, b64[v & 63]);
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
		fr_buf_putc(out, b64[v >> 18]);
		fr_buf_putc(out, b64[(v >> 12) & 63]);
		fr_buf_putc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		fr_buf_putc(out, '=');
	}
}

static int b64_decode(fr_buf *out, const char *s)
{
	unsigned v = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		const char *c = strchr(b64, *s);
		if (!c || !*s)
			return -1;
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			fr_buf_putc(out, (char)((v >> bits) & 0xFF));
		}
	}
	return out->oom ? -1 : 0;
}

/* ---- running: the ops ------------------------------------------------------ */

/* Reads a file an op edits: *exists 0 when it is not there. */
static int read_target(orun *R, const op *o, const char *abs, const char *rel, fr_buf *text,
                       int *exists)
{
	struct stat st;
	*exists = 0;
	if (stat(abs, &st)) {
		if (errno == ENOENT)
			return 0;
		oerr(R, o, "cannot read '%s': %s", rel, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		oerr(R, o, "'%s' is not a regular file", rel);
		return -1;
	}
	if (fr_read_file(abs, text)) {
		oerr(R, o, "cannot read '%s': %s", rel, strerror(errno));
		return -1;
	}
	*exists = 1;
	return 0;
}

static int sha_hex(const void *p, size_t n, char out[65])
{
	return fr_sha256_hex(p, n, out);
}

/* Writes a file an op edits, atomically (mode and owner kept; a new .env is private). */
static int write_target(orun *R, const op *o, const char *abs, const char *rel, int fmt,
                        const char *data, size_t len)
{
	if (fr_write_atomic(abs, data, len, fmt == FMT_ENV ? 0600 : 0644)) {
		oerr(R, o, "cannot write '%s': %s%s", rel, strerror(errno),
		     errno == ENOENT ? " (its folder does not exist: add a mkdir op before)" : "");
		return -1;
	}
	return 0;
}

static int record(orun *R, const op *o, json_t *a)
{
	if (!a || json_array_append_new(R->actions, a)) {
		oerr(R, o, "out of memory");
		return -1;
	}
	return 0;
}

static json_t *action(const op *o)
{
	json_t *a = json_object();
	if (a) {
		json_object_set_new(a, "op", json_string(op_names[o->type]));
		json_object_set_new(a, "line", json_integer(o->line));
	}
	return a;
}

/* set, rename, delete, env */
static int op_edit(orun *R, const op *o)
{
	fr_buf text = FR_BUF_INIT, out = FR_BUF_INIT, msg = FR_BUF_INIT;
	json_t *sem = json_array(), *a = NULL, *before;
	char *abs = NULL, sha[65];
	int ex, changed = 0, ret = -1;

	if (!sem || !(abs = resolve(R, o, o->file, 1)))
		goto done;
	if (read_target(R, o, abs, o->file, &text, &ex))
		goto done;
	if (!ex && (o->type == OP_DELETE || o->type == OP_RENAME)) {
		ret = 0; /* nothing to delete or rename */
		goto done;
	}
	if (edit_text(o, text.ptr, text.len, &out, &changed, sem, &msg)) {
		oerr(R, o, "%s", msg.ptr);
		goto done;
	}
	if (!changed) {
		ret = 0;
		goto done;
	}
	if (sha_hex(out.ptr, out.len, sha)) {
		oerr(R, o, "cannot compute a checksum (libcrypto)");
		goto done;
	}
	a = action(o);
	if (!a)
		goto oom;
	json_object_set_new(a, "file", json_string(o->file));
	json_object_set_new(a, "format", json_string(o->fmt == FMT_JSON ? "json" :
	                                            o->fmt == FMT_YAML ? "yaml" : "env"));
	before = ex ? json_stringn(text.ptr, text.len) : json_null();
	if (!before) {
		fr_buf enc = FR_BUF_INIT;
		b64_encode(&enc, (const unsigned char *)text.ptr, text.len);
		json_object_set_new(a, "before_base64", json_stringn(enc.ptr, enc.len));
		fr_buf_release(&enc);
	} else {
		json_object_set_new(a, "before", before);
	}
	json_object_set_new(a, "after_sha256", json_string(sha));
	json_object_set(a, "keys", sem);
	/*
	 * Recorded before the write: a write that fails after its rename (the
	 * folder's fsync) has still changed the file, and the undo must see it.
	 */
	ret = record(R, o, a);
	a = NULL;
	if (ret == 0)
		ret = write_target(R, o, abs, o->file, o->fmt, out.ptr, out.len);
	goto done;
oom:
	oerr(R, o, "out of memory");
done:
	json_decref(a);
	json_decref(sem);
	fr_free(abs);
	fr_buf_release(&text);
	fr_buf_release(&out);
	fr_buf_release(&msg);
	return ret;
}

static int op_mkdir(orun *R, const op *o)
{
	json_t *created = json_array(), *a;
	struct stat st;
	char *abs = resolve(R, o, o->path, 1);
	int ret = -1, failed = 0;

	if (!abs || !created)
		goto done;
	if (stat(abs, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			ret = 0;
		else
			oerr(R, o, "'%s' exists and is not a folder", o->path);
		goto done;
	}
	if (make_dirs(R, abs, 0755, created) || (o->has_mode && chmod(abs, o->mode))) {
		oerr(R, o, "cannot create '%s': %s", o->path, strerror(errno));
		failed = 1;
	}
	if (json_array_size(created)) {
		/* recorded even after a failure: what was made is undone with the rest */
		a = action(o);
		if (a)
			json_object_set(a, "created", created);
		if (record(R, o, a))
			goto done;
	}
	ret = failed ? -1 : 0;
done:
	json_decref(created);
	fr_free(abs);
	return ret;
}

static int op_move(orun *R, const op *o)
{
	json_t *created = json_array(), *a;
	char *src = resolve(R, o, o->from, 0), *dst = src ? resolve(R, o, o->to, 0) : NULL;
	size_t sl;
	int ret = -1;

	if (!src || !dst || !created)
		goto done;
	if (!exists(src)) {
		if (exists(dst))
			ret = 0; /* moved before */
		else
			oerr(R, o, "'%s' does not exist: nothing to move", o->from);
		goto done;
	}
	if (exists(dst)) {
		if (o->if_missing)
			ret = 0;
		else
			oerr(R, o, "'%s' already exists; add if_missing: true to keep it and leave '%s', "
			     "or remove it first", o->to, o->from);
		goto done;
	}
	sl = strlen(src);
	if (!strncmp(dst, src, sl) && dst[sl] == '/') {
		oerr(R, o, "cannot move '%s' into itself ('%s')", o->from, o->to);
		goto done;
	}
	if (make_parent(R, dst, created) || move_path(src, dst)) {
		oerr(R, o, "cannot move '%s' to '%s': %s", o->from, o->to, strerror(errno));
		if (!json_array_size(created))
			goto done;
		ret = -2;
	}
	a = action(o);
	if (a) {
		json_object_set_new(a, "from", json_string(rel_of(R, src)));
		json_object_set_new(a, "to", json_string(rel_of(R, dst)));
		json_object_set(a, "created", created);
		if (ret == -2)
			json_object_set_new(a, "failed", json_true());
	}
	if (record(R, o, a) || ret == -2) {
		ret = -1;
		goto done;
	}
	ret = 0;
done:
	json_decref(created);
	fr_free(src);
	fr_free(dst);
	return ret;
}

static int op_copy(orun *R, const op *o)
{
	json_t *created = json_array(), *a = NULL;
	char *src = resolve(R, o, o->from, 1), *dst = src ? resolve(R, o, o->to, 0) : NULL;
	char *stash = NULL;
	size_t sl;
	int ret = -1;

	if (!src || !dst || !created)
		goto done;
	if (!exists(src)) {
		oerr(R, o, "'%s' does not exist: nothing to copy", o->from);
		goto done;
	}
	sl = strlen(src);
	if (!strcmp(src, dst) || (!strncmp(dst, src, sl) && dst[sl] == '/')) {
		oerr(R, o, "cannot copy '%s' into itself ('%s')", o->from, o->to);
		goto done;
	}
	if (!(a = action(o)))
		goto oom;
	json_object_set_new(a, "to", json_string(rel_of(R, dst)));
	if (exists(dst)) {
		if (o->if_missing) {
			ret = 0;
			goto done;
		}
		/* what it replaces is kept, for undo */
		if (!(stash = stash_path(R, o, dst)))
			goto done;
		if (move_path(dst, stash)) {
			oerr(R, o, "cannot move '%s' aside to '%s': %s", o->to, stash, strerror(errno));
			goto done;
		}
		json_object_set_new(a, "stash", stash_json(R, stash));
	}
	json_object_set(a, "created", created);
	if (make_parent(R, dst, created) || copy_tree(src, dst)) {
		int e = errno;
		remove_tree(dst);
		oerr(R, o, "cannot copy '%s' to '%s': %s", o->from, o->to, strerror(e));
		record(R, o, a); /* so that the undo puts back what was moved aside */
		a = NULL;
		goto done;
	}
	ret = record(R, o, a);
	a = NULL;
	goto done;
oom:
	oerr(R, o, "out of memory");
done:
	json_decref(a);
	json_decref(created);
	fr_free(src);
	fr_free(dst);
	fr_free(stash);
	return ret;
}

/* chmod of abs, and of everything under it when recursive (symlinks left alone). */
static int chmod_walk(orun *R, const op *o, const char *abs, int recursive, json_t *modes)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	fr_buf p = FR_BUF_INIT;
	int rc = 0;

	if (lstat(abs, &st)) {
		oerr(R, o, "cannot change the mode of '%s': %s", rel_of(R, abs), strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode))
		return 0;
	if ((st.st_mode & 07777) != o->mode) {
		json_t *pair = json_pack("[s,i]", rel_of(R, abs), (int)(st.st_mode & 07777));
		if (!pair || json_array_append_new(modes, pair)) {
			oerr(R, o, "out of memory");
			return -1;
		}
		if (chmod(abs, o->mode)) {
			oerr(R, o, "cannot change the mode of '%s': %s", rel_of(R, abs), strerror(errno));
			return -1;
		}
	}
	if (!recursive || !S_ISDIR(st.st_mode))
		return 0;
	if (!(d = opendir(abs))) {
		oerr(R, o, "cannot list '%s': %s", rel_of(R, abs), strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && !rc) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fr_buf_setf(&p, "%s/%s", abs, de->d_name);
		if (p.oom) {
			oerr(R, o, "out of memory");
			rc = -1;
		} else {
			rc = chmod_walk(R, o, p.ptr, 1, modes);
		}
	}
	closedir(d);
	fr_buf_release(&p);
	return rc;
}

static int op_chmod(orun *R, const op *o)
{
	json_t *modes = json_array(), *a;
	char *abs = resolve(R, o, o->path, 1);
	int ret = -1, rc;

	if (!abs || !modes)
		goto done;
	if (!exists(abs)) {
		oerr(R, o, "'%s' does not exist", o->path);
		goto done;
	}
	rc = chmod_walk(R, o, abs, o->recursive, modes);
	if (json_array_size(modes)) {
		/* recorded even after a failure, so that the modes changed so far are undone */
		a = action(o);
		if (a)
			json_object_set(a, "modes", modes);
		if (record(R, o, a))
			goto done;
	}
	ret = rc;
done:
	json_decref(modes);
	fr_free(abs);
	return ret;
}

static int op_remove(orun *R, const op *o)
{
	json_t *a;
	char *abs = resolve(R, o, o->path, 0), *stash = NULL;
	int ret = -1;

	if (!abs)
		goto done;
	if (!exists(abs)) {
		ret = 0;
		goto done;
	}
	if (!(stash = stash_path(R, o, abs)))
		goto done;
	if (move_path(abs, stash)) {
		oerr(R, o, "cannot remove '%s' (moving it to '%s'): %s", o->path, stash,
		     strerror(errno));
		goto done;
	}
	a = action(o);
	if (a) {
		json_object_set_new(a, "path", json_string(rel_of(R, abs)));
		json_object_set_new(a, "stash", stash_json(R, stash));
	}
	ret = record(R, o, a);
done:
	fr_free(abs);
	fr_free(stash);
	return ret;
}

static int op_apply(orun *R, const op *o)
{
	switch (o->type) {
	case OP_SET:
	case OP_RENAME:
	case OP_DELETE:
	case OP_ENV:
		return op_edit(R, o);
	case OP_MKDIR:
		return op_mkdir(R, o);
	case OP_MOVE:
		return op_move(R, o);
	case OP_COPY:
		return op_copy(R, o);
	case OP_CHMOD:
		return op_chmod(R, o);
	default:
		return op_remove(R, o);
	}
}

/* ---- undo ------------------------------------------------------------------ */

static const char *jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Puts back the old values of the keys an edit changed (newest first), on text. */
static int undo_keys(orun *R, int fmt, const char *file, const json_t *keys, const char *text,
                     size_t len, fr_buf *out, int *changed)
{
	fr_buf cur = FR_BUF_INIT, next = FR_BUF_INIT, msg = FR_BUF_INIT;
	json_t *sem = json_array();
	size_t i = json_array_size(keys);
	int ret = -1, ch;

	*changed = 0;
	fr_buf_add(&cur, text, len);
	while (i--) {
		const json_t *e = json_array_get(keys, i);
		const char *name = jstr(e, fmt == FMT_ENV ? "key" : "path");
		json_t *val = NULL;
		op o;
		memset(&o, 0, sizeof o);
		o.fmt = fmt;
		o.file = (char *)file;
		if (!name) {
			oerr(R, NULL, "the undo record of '%s' is damaged", file);
			goto done;
		}
		if (json_is_true(json_object_get(e, "absent"))) {
			o.type = OP_DELETE;
			o.path = (char *)name;
		} else if (fmt == FMT_ENV) {
			o.type = OP_ENV;
			o.key = (char *)name;
			o.value = val = json_string(jstr(e, "raw") ? jstr(e, "raw") : "");
			o.raw = 1;
		} else {
			o.type = OP_SET;
			o.path = (char *)name;
			o.value = json_object_get(e, "old");
			o.insert = json_is_true(json_object_get(e, "insert"));
		}
		fr_buf_reset(&msg);
		if (!o.value && o.type != OP_DELETE) {
			oerr(R, NULL, "the undo record of '%s' is damaged", file);
			goto done;
		}
		if (edit_text(&o, cur.ptr, cur.len, &next, &ch, sem, &msg)) {
			json_decref(val);
			oerr(R, NULL, "cannot put back '%s' in '%s': %s", name, file, msg.ptr);
			goto done;
		}
		json_decref(val);
		if (ch) {
			fr_buf t = cur;
			cur = next;
			next = t;
			*changed = 1;
		}
	}
	fr_buf_release(out);
	*out = cur;
	fr_buf_init(&cur);
	ret = 0;
done:
	fr_buf_release(&cur);
	fr_buf_release(&next);
	fr_buf_release(&msg);
	json_decref(sem);
	return ret;
}

/* Undoes the file edit all[self]. */
static int undo_edit(orun *R, const json_t *all, size_t self)
{
	const json_t *a = json_array_get(all, self);
	const char *file = jstr(a, "file"), *fmts = jstr(a, "format");
	const char *after = jstr(a, "after_sha256");
	const json_t *bj = json_object_get(a, "before");
	fr_buf cur = FR_BUF_INIT, before = FR_BUF_INIT, out = FR_BUF_INIT;
	char *abs = NULL, sha[65];
	int fmt, ex, has_before, ch, ret = -1;
	size_t k;

	if (!file || !fmts || !after) {
		oerr(R, NULL, "an undo record is damaged (no file)");
		return -1;
	}
	fmt = !strcmp(fmts, "json") ? FMT_JSON : !strcmp(fmts, "yaml") ? FMT_YAML : FMT_ENV;
	has_before = !json_is_null(bj);
	if (json_is_string(bj))
		fr_buf_add(&before, json_string_value(bj), json_string_length(bj));
	else if (jstr(a, "before_base64"))
		b64_decode(&before, jstr(a, "before_base64"));
	else if (bj)
		has_before = 0;
	if (!(abs = resolve(R, NULL, file, 1)) || read_target(R, NULL, abs, file, &cur, &ex))
		goto done;
	if (!ex) {
		/* gone since: it comes back as it was before the step */
		ret = has_before ? write_target(R, NULL, abs, file, fmt, before.ptr, before.len) : 0;
		goto done;
	}
	if (sha_hex(cur.ptr, cur.len, sha)) {
		oerr(R, NULL, "cannot compute a checksum (libcrypto)");
		goto done;
	}
	if (!strcmp(sha, after)) {
		/* as the step left it: the old bytes, exactly */
		if (has_before) {
			ret = write_target(R, NULL, abs, file, fmt, before.ptr, before.len);
		} else if (unlink(abs)) {
			oerr(R, NULL, "cannot remove '%s': %s", file, strerror(errno));
		} else {
			fr_fsync_parent(abs);
			ret = 0;
		}
		goto done;
	}
	/* undone already: the bytes are what they were before this op or an earlier one */
	for (k = 0; k <= self; k++) {
		const json_t *b = json_array_get(all, k);
		const char *bt = jstr(b, "before"), *bf = jstr(b, "file");
		if (bt && bf && !strcmp(bf, file) && strlen(bt) == cur.len &&
		    !memcmp(bt, cur.ptr, cur.len)) {
			ret = 0;
			goto done;
		}
	}
	if (has_before && cur.len == before.len && !memcmp(cur.ptr, before.ptr, cur.len)) {
		ret = 0;
		goto done;
	}
	/* changed since: only the keys the step touched go back */
	if (undo_keys(R, fmt, file, json_object_get(a, "keys"), cur.ptr, cur.len, &out, &ch))
		goto done;
	ret = ch ? write_target(R, NULL, abs, file, fmt, out.ptr, out.len) : 0;
done:
	fr_free(abs);
	fr_buf_release(&cur);
	fr_buf_release(&before);
	fr_buf_release(&out);
	return ret;
}

/* rmdir of the folders an op made, newest first. strict: a folder not empty is an error. */
static int undo_created(orun *R, const json_t *created, const char *opn, int strict)
{
	size_t i = json_array_size(created);
	fr_buf p = FR_BUF_INIT;
	int ret = 0;
	while (i--) {
		const char *rel = json_string_value(json_array_get(created, i));
		if (!rel)
			continue;
		fr_buf_setf(&p, "%s/%s", R->root, rel);
		if (rmdir(p.ptr) && errno != ENOENT && strict) {
			oerr(R, NULL, "cannot undo '%s': cannot remove the folder '%s' it made: %s%s", opn,
			     rel, strerror(errno), errno == ENOTEMPTY || errno == EEXIST ?
			     " (something was put in it since; empty it, then run 'ferry recover')" : "");
			ret = -1;
			break;
		}
	}
	fr_buf_release(&p);
	return ret;
}

static int undo_action(orun *R, const json_t *all, size_t self)
{
	const json_t *a = json_array_get(all, self);
	const char *opn = jstr(a, "op");
	char *x = NULL, *y = NULL;
	int ret = -1;

	if (!opn) {
		oerr(R, NULL, "an undo record is damaged (no op)");
		return -1;
	}
	if (!strcmp(opn, "set") || !strcmp(opn, "rename") || !strcmp(opn, "delete") ||
	    !strcmp(opn, "env"))
		return undo_edit(R, all, self);
	if (!strcmp(opn, "mkdir"))
		return undo_created(R, json_object_get(a, "created"), opn, 1);
	if (!strcmp(opn, "chmod")) {
		const json_t *modes = json_object_get(a, "modes");
		size_t i = json_array_size(modes);
		fr_buf p = FR_BUF_INIT;
		ret = 0;
		while (i--) {
			const json_t *m = json_array_get(modes, i);
			const char *rel = json_string_value(json_array_get(m, 0));
			struct stat st;
			if (!rel)
				continue;
			fr_buf_setf(&p, "%s/%s", R->root, rel);
			if (lstat(p.ptr, &st) || S_ISLNK(st.st_mode))
				continue; /* gone since */
			if (chmod(p.ptr, (mode_t)json_integer_value(json_array_get(m, 1)))) {
				oerr(R, NULL, "cannot give '%s' its old mode back: %s", rel, strerror(errno));
				ret = -1;
				break;
			}
		}
		fr_buf_release(&p);
		return ret;
	}
	if (!strcmp(opn, "move")) {
		const char *from = jstr(a, "from"), *to = jstr(a, "to");
		if (!from || !to || !(x = resolve(R, NULL, from, 0)) || !(y = resolve(R, NULL, to, 0)))
			goto damaged;
		if (exists(y) && !exists(x)) {
			if (move_path(y, x)) {
				oerr(R, NULL, "cannot move '%s' back to '%s': %s", to, from, strerror(errno));
				goto done;
			}
		} else if (exists(x) && exists(y)) {
			oerr(R, NULL, "cannot move '%s' back: '%s' exists again; move one of them away, "
			     "then run 'ferry recover'", to, from);
			goto done;
		} else if (!exists(x)) {
			oerr(R, NULL, "cannot move '%s' back to '%s': it is gone", to, from);
			goto done;
		}
		ret = undo_created(R, json_object_get(a, "created"), opn, 0);
		goto done;
	}
	if (!strcmp(opn, "copy") || !strcmp(opn, "remove")) {
		const char *path = jstr(a, !strcmp(opn, "copy") ? "to" : "path");
		const char *st = jstr(a, "stash");
		if (!path || !(x = resolve(R, NULL, path, 0)))
			goto damaged;
		if (!strcmp(opn, "copy") && remove_tree(x)) {
			oerr(R, NULL, "cannot remove the copy '%s': %s", path, strerror(errno));
			goto done;
		}
		if (st) {
			if (!(y = stash_abs(R, st)))
				goto damaged;
			if (!exists(x) && exists(y)) {
				if (move_path(y, x)) {
					oerr(R, NULL, "cannot put '%s' back from '%s': %s", path, y,
					     strerror(errno));
					goto done;
				}
				{
					char *slash = strrchr(y, '/');
					if (slash) {
						*slash = '\0';
						rmdir(y); /* the step's scratch folder, once empty */
					}
				}
			} else if (exists(x) && exists(y)) {
				oerr(R, NULL, "cannot put back '%s': it exists again; move it away, then run "
				     "'ferry recover'", path);
				goto done;
			} else if (!exists(x)) {
				oerr(R, NULL, "cannot put back '%s': what was taken away was kept at '%s', "
				     "which is gone", path, y);
				goto done;
			}
		}
		ret = strcmp(opn, "copy") ? 0 : undo_created(R, json_object_get(a, "created"), opn, 0);
		goto done;
	}
damaged:
	if (!R->err->len)
		oerr(R, NULL, "an undo record of op '%s' is damaged", opn);
done:
	fr_free(x);
	fr_free(y);
	return ret;
}

/* Undoes the actions, newest first; stops at the first that fails. */
static int undo_actions(orun *R, const json_t *actions)
{
	size_t i = json_array_size(actions);
	while (i--)
		if (undo_action(R, actions, i))
			return -1;
	return 0;
}

static void orun_free(orun *R)
{
	size_t i;
	for (i = 0; i < R->nov; i++) {
		fr_free(R->ov[i].abs);
		fr_buf_release(&R->ov[i].base);
		fr_buf_release(&R->ov[i].cur);
	}
	fr_free(R->ov);
	R->ov = NULL;
	R->nov = 0;
	fr_free(R->root);
	fr_free(R->stash_dir);
	R->root = R->stash_dir = NULL;
}

static int ops_forward(fr_run_ctx *ctx, fr_step *s)
{
	ops_priv *p = s->priv;
	const char *id = ctx->step_id ? ctx->step_id : s->id;
	orun R;
	size_t i;
	int ret = -1;

	if (ctx->dry_run)
		return 0; /* describe() tells what would change */
	json_decref(p->undo);
	if (!(p->undo = json_array())) {
		fr_buf_printf(ctx->err, "%s: out of memory", ops_rel(s));
		return -1;
	}
	if (orun_init(&R, ctx, ctx->root, ops_rel(s), id, ctx->err))
		return -1;
	R.actions = p->undo;
	for (i = 0; i < p->nops; i++) {
		if (ctx->interrupted && *ctx->interrupted) {
			oerr(&R, &p->ops[i], "interrupted before this op");
			break;
		}
		if (op_apply(&R, &p->ops[i]))
			break;
	}
	if (i == p->nops) {
		ret = 0;
	} else if (json_array_size(p->undo)) {
		/* the engine undoes completed steps only: this one's earlier ops are undone here */
		fr_buf uerr = FR_BUF_INIT;
		R.err = &uerr;
		if (undo_actions(&R, p->undo)) {
			fr_buf_puts(ctx->err, "; undoing the step's earlier ops failed too: ");
			fr_buf_puts(ctx->err, uerr.oom ? "out of memory" : uerr.ptr);
			fr_buf_puts(ctx->err, "; restore the run's backup");
		} else {
			fr_buf_puts(ctx->err, "; the step's earlier ops were undone");
		}
		fr_buf_release(&uerr);
		json_array_clear(p->undo);
	}
	orun_free(&R);
	return ret;
}

static int ops_undo_text(const fr_step *s, fr_buf *out)
{
	const ops_priv *p = s->priv;
	json_t *doc = json_object(), *acts = p && p->undo ? json_incref(p->undo) : json_array();
	char *txt = NULL;
	int rc = -1;
	if (doc && acts) {
		json_object_set_new(doc, "ferry_ops_undo", json_integer(UNDO_FORMAT));
		json_object_set(doc, "actions", acts);
		txt = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT);
	}
	if (txt)
		rc = fr_buf_puts(out, txt);
	free(txt);
	json_decref(acts);
	json_decref(doc);
	return rc;
}

static int ops_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text)
{
	json_error_t je;
	json_t *doc = text ? json_loads(text, 0, &je) : NULL;
	const json_t *acts = json_object_get(doc, "actions");
	orun R;
	int ret = -1;

	(void)db_name;
	if (!doc || !json_is_array(acts) ||
	    json_integer_value(json_object_get(doc, "ferry_ops_undo")) != UNDO_FORMAT) {
		fr_buf_printf(ctx->err, "%s (undo): the recorded undo is not one this build reads "
		              "(ops undo format %d)", step_id, UNDO_FORMAT);
		goto done;
	}
	if (ctx->dry_run) {
		ret = 0;
		goto done;
	}
	if (orun_init(&R, ctx, ctx->root, step_id, step_id, ctx->err))
		goto done;
	ret = undo_actions(&R, acts);
	orun_free(&R);
done:
	json_decref(doc);
	return ret;
}

static int ops_undo_transactional(const char *text)
{
	(void)text;
	return 0;
}

/* ---- unified diff (describe) ----------------------------------------------- */

typedef struct {
	const char *p;
	size_t n;    /* with its '\n', when it has one */
} dline;

static dline *split_lines(const char *t, size_t len, size_t *n)
{
	size_t cnt = 0, i = 0, k = 0;
	dline *v;
	while (i < len) {
		i = line_end(t, len, i) + 1;
		cnt++;
	}
	v = fr_calloc(cnt + 1, sizeof *v);
	if (!v)
		return NULL;
	for (i = 0; i < len; k++) {
		size_t e = line_end(t, len, i);
		v[k].p = t + i;
		v[k].n = (e < len ? e + 1 : len) - i;
		i = e + 1;
	}
	*n = cnt;
	return v;
}

static int dline_eq(const dline *a, const dline *b)
{
	return a->n == b->n && !memcmp(a->p, b->p, a->n);
}

typedef struct {
	char type;   /* ' ', '-', '+' */
	size_t ai, bi;
} dop;

static void diff_line(fr_buf *out, char type, const dline *l)
{
	fr_buf_putc(out, type);
	if (l->n && l->p[l->n - 1] == '\n') {
		fr_buf_add(out, l->p, l->n);
	} else {
		fr_buf_add(out, l->p, l->n);
		fr_buf_puts(out, "\n\\ No newline at end of file\n");
	}
}

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS 4000000 /* the LCS table's size limit; past it, one change */

/*
 * A unified diff of a -> b with 3 lines of context: the common head and
 * tail are cut, the middle is an LCS of lines (a table of uint32), which
 * is plenty for configuration files.
 */
static int udiff(fr_buf *out, const char *label, int a_ex, const char *a, size_t alen, int b_ex,
                 const char *b, size_t blen)
{
	dline *la = NULL, *lb = NULL;
	dop *ops = NULL;
	uint32_t *L = NULL;
	size_t na = 0, nb = 0, pre = 0, suf = 0, n, m, i, j, k = 0, nops;
	int ret = -1;

	if (!(la = split_lines(a, alen, &na)) || !(lb = split_lines(b, blen, &nb)))
		goto done;
	while (pre < na && pre < nb && dline_eq(&la[pre], &lb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && dline_eq(&la[na - 1 - suf], &lb[nb - 1 - suf]))
		suf++;
	n = na - pre - suf;
	m = nb - pre - suf;
	if (!(ops = fr_calloc(na + nb + 1, sizeof *ops)))
		goto done;
	for (i = 0; i < pre; i++)
		ops[k++] = (dop){ ' ', i, i };
	if (n && m && (n + 1) * (m + 1) <= DIFF_MAX_CELLS &&
	    (L = fr_calloc((n + 1) * (m + 1), sizeof *L)) != NULL) {
#define LL(x, y) L[(x) * (m + 1) + (y)]
		for (i = n; i-- > 0;)
			for (j = m; j-- > 0;)
				LL(i, j) = dline_eq(&la[pre + i], &lb[pre + j]) ? LL(i + 1, j + 1) + 1 :
				           LL(i + 1, j) >= LL(i, j + 1) ? LL(i + 1, j) : LL(i, j + 1);
		i = j = 0;
		while (i < n || j < m) {
			if (i < n && j < m && dline_eq(&la[pre + i], &lb[pre + j])) {
				ops[k++] = (dop){ ' ', pre + i, pre + j };
				i++, j++;
			} else if (i < n && (j == m || LL(i + 1, j) >= LL(i, j + 1))) {
				ops[k++] = (dop){ '-', pre + i, pre + j };
				i++;
			} else {
				ops[k++] = (dop){ '+', pre + i, pre + j };
				j++;
			}
		}
#undef LL
	} else {
		for (i = 0; i < n; i++)
			ops[k++] = (dop){ '-', pre + i, pre };
		for (j = 0; j < m; j++)
			ops[k++] = (dop){ '+', pre + n, pre + j };
	}
	for (i = 0; i < suf; i++)
		ops[k++] = (dop){ ' ', na - suf + i, nb - suf + i };
	nops = k;

	if (a_ex)
		fr_buf_printf(out, "--- a/%s\n", label);
	else
		fr_buf_puts(out, "--- /dev/null\n");
	if (b_ex)
		fr_buf_printf(out, "+++ b/%s\n", label);
	else
		fr_buf_puts(out, "+++ /dev/null\n");
	for (i = 0; i < nops;) {
		size_t first, last, s, e, ac = 0, bc = 0, as, bs;
		while (i < nops && ops[i].type == ' ')
			i++;
		if (i == nops)
			break;
		first = last = i;
		for (j = i + 1; j < nops; j++) {
			if (ops[j].type == ' ')
				continue;
			if (j - last > 2 * DIFF_CONTEXT)
				break;
			last = j;
		}
		s = first > DIFF_CONTEXT ? first - DIFF_CONTEXT : 0;
		e = last + 1 + DIFF_CONTEXT < nops ? last + 1 + DIFF_CONTEXT : nops;
		for (j = s; j < e; j++) {
			ac += ops[j].type != '+';
			bc += ops[j].type != '-';
		}
		as = ops[s].ai + (ac ? 1 : 0);
		bs = ops[s].bi + (bc ? 1 : 0);
		fr_buf_printf(out, "@@ -%zu", as);
		if (ac != 1)
			fr_buf_printf(out, ",%zu", ac);
		fr_buf_printf(out, " +%zu", bs);
		if (bc != 1)
			fr_buf_printf(out, ",%zu", bc);
		fr_buf_puts(out, " @@\n");
		for (j = s; j < e; j++)
			diff_line(out, ops[j].type, ops[j].type == '+' ? &lb[ops[j].bi] : &la[ops[j].ai]);
		i = e;
	}
	ret = out->oom ? -1 : 0;
done:
	fr_free(la);
	fr_free(lb);
	fr_free(ops);
	fr_free(L);
	return ret;
}

/* ---- describe (--dry-run) --------------------------------------------------- */

/* The overlay file at abs, read from disk the first time (load). NULL on error. */
static ovfile *ov_get(orun *R, const op *o, const char *abs, int load)
{
	ovfile *f, *t;
	size_t i;
	for (i = 0; i < R->nov; i++)
		if (!strcmp(R->ov[i].abs, abs))
			return &R->ov[i];
	t = fr_realloc(R->ov, (R->nov + 1) * sizeof *t);
	if (!t) {
		oerr(R, o, "out of memory");
		return NULL;
	}
	R->ov = t;
	f = &R->ov[R->nov];
	memset(f, 0, sizeof *f);
	fr_buf_init(&f->base);
	fr_buf_init(&f->cur);
	if (!(f->abs = fr_strdup(abs))) {
		oerr(R, o, "out of memory");
		return NULL;
	}
	R->nov++;
	if (load) {
		if (read_target(R, o, abs, rel_of(R, abs), &f->cur, &f->cur_exists))
			return NULL;
		fr_buf_add(&f->base, f->cur.ptr, f->cur.len);
		f->base_exists = f->cur_exists;
	}
	return f;
}

static void describe_op(fr_buf *out, const op *o)
{
	char *v = NULL;
	switch (o->type) {
	case OP_SET:
		v = json_dumps(o->value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
		fr_buf_printf(out, "set '%s' = %s in %s", o->path, v ? v : "?", o->file);
		break;
	case OP_RENAME:
		fr_buf_printf(out, "rename '%s' to '%s' in %s", o->from, o->to, o->file);
		break;
	case OP_DELETE:
		fr_buf_printf(out, "delete '%s' from %s", o->path, o->file);
		break;
	case OP_ENV:
		fr_buf_printf(out, "env %s=%s in %s", o->key, json_string_value(o->value), o->file);
		break;
	case OP_MKDIR:
		fr_buf_printf(out, "mkdir %s", o->path);
		if (o->has_mode)
			fr_buf_printf(out, " (mode %04o)", (unsigned)o->mode);
		break;
	case OP_MOVE:
		fr_buf_printf(out, "move %s to %s", o->from, o->to);
		break;
	case OP_COPY:
		fr_buf_printf(out, "copy %s to %s", o->from, o->to);
		break;
	case OP_CHMOD:
		fr_buf_printf(out, "chmod %04o %s%s", (unsigned)o->mode, o->path,
		              o->recursive ? " (recursive)" : "");
		break;
	default:
		fr_buf_printf(out, "remove %s (kept in the scratch folder until the step is undone)",
		              o->path);
	}
	if (o->if_missing)
		fr_buf_puts(out, " (if missing)");
	fr_buf_putc(out, '\n');
	free(v);
}

/* Plays op o on the overlay; a note for out when it would do nothing or be refused. */
static void describe_play(orun *R, const op *o, fr_buf *out)
{
	fr_buf msg = FR_BUF_INIT, next = FR_BUF_INIT;
	json_t *sem = json_array();
	char *x = NULL, *y = NULL;
	ovfile *f, *g;
	struct stat st;
	int ch;

	fr_buf_reset(R->err);
	switch (o->type) {
	case OP_SET:
	case OP_RENAME:
	case OP_DELETE:
	case OP_ENV:
		if (!(x = resolve(R, o, o->file, 1)) || !(f = ov_get(R, o, x, 1)))
			break;
		if (!f->cur_exists && (o->type == OP_DELETE || o->type == OP_RENAME)) {
			fr_buf_printf(out, "  (no change: %s does not exist)\n", o->file);
			break;
		}
		if (edit_text(o, f->cur.ptr, f->cur.len, &next, &ch, sem, &msg)) {
			oerr(R, o, "%s", msg.ptr);
			break;
		}
		if (!ch) {
			fr_buf_puts(out, "  (no change)\n");
			break;
		}
		fr_buf_release(&f->cur);
		f->cur = next;
		fr_buf_init(&next);
		f->cur_exists = 1;
		break;
	case OP_MOVE:
	case OP_COPY:
		if (!(x = resolve(R, o, o->from, o->type == OP_COPY)) || !(y = resolve(R, o, o->to, 0)))
			break;
		/* a file carried along keeps the edits made to it; later ones show on its new name */
		if (stat(x, &st) == 0 && S_ISREG(st.st_mode) && (f = ov_get(R, o, x, 1)) != NULL &&
		    f->cur_exists && !(o->if_missing && exists(y)) && (g = ov_get(R, o, y, 0)) != NULL) {
			f = ov_get(R, o, x, 1);
			fr_buf_reset(&g->cur);
			fr_buf_add(&g->cur, f->cur.ptr, f->cur.len);
			fr_buf_reset(&g->base);
			fr_buf_add(&g->base, f->cur.ptr, f->cur.len);
			g->cur_exists = g->base_exists = 1;
			g->hidden = 0;
			if (o->type == OP_MOVE)
				f->hidden = 1;
		}
		break;
	case OP_REMOVE:
		if ((x = resolve(R, o, o->path, 0)) != NULL) {
			size_t i;
			if (!exists(x))
				fr_buf_printf(out, "  (no change: %s does not exist)\n", o->path);
			for (i = 0; i < R->nov; i++)
				if (!strcmp(R->ov[i].abs, x))
					R->ov[i].hidden = 1;
		}
		break;
	default:
		x = resolve(R, o, o->path, 1);
	}
	if (R->err->len)
		fr_buf_printf(out, "  refused: %s\n", R->err->ptr);
	json_decref(sem);
	fr_free(x);
	fr_free(y);
	fr_buf_release(&msg);
	fr_buf_release(&next);
}

/* The root a step's files are under: its path without its relative path. */
static char *step_root(const fr_step *s)
{
	size_t lp = s->path ? strlen(s->path) : 0, lr = s->rel ? strlen(s->rel) : 0;
	if (lp > lr + 1 && lr && !strcmp(s->path + lp - lr, s->rel) && s->path[lp - lr - 1] == '/')
		return fr_strndup(s->path, lp - lr - 1);
	return NULL;
}

static int ops_describe(const fr_step *s, fr_buf *out)
{
	const ops_priv *p = s->priv;
	fr_buf err = FR_BUF_INIT;
	char *root = step_root(s);
	orun R;
	size_t i;
	int have = 0;

	fr_buf_printf(out, "# ops %s: %s (%zu op%s)\n", ops_rel(s),
	              p->description ? p->description : "no description", p->nops,
	              p->nops == 1 ? "" : "s");
	if (root && orun_init(&R, NULL, root, ops_rel(s), s->id, &err) == 0)
		have = 1;
	for (i = 0; i < p->nops; i++) {
		describe_op(out, &p->ops[i]);
		if (have)
			describe_play(&R, &p->ops[i], out);
	}
	if (!have) {
		fr_buf_puts(out, "  (the root is not known here: no diff)\n");
	} else {
		for (i = 0; i < R.nov; i++) {
			ovfile *f = &R.ov[i];
			if (f->hidden || (f->base_exists == f->cur_exists && f->base.len == f->cur.len &&
			                  !memcmp(f->base.ptr, f->cur.ptr, f->cur.len)))
				continue;
			udiff(out, rel_of(&R, f->abs), f->base_exists, f->base.ptr, f->base.len,
			      f->cur_exists, f->cur.ptr, f->cur.len);
		}
		orun_free(&R);
	}
	fr_free(root);
	fr_buf_release(&err);
	return out->oom ? -1 : 0;
}

const fr_step_kind fr_step_ops = {
	.name = "ops",
	.claims = ops_claims,
	.load = ops_load,
	.unload = ops_unload,
	.database = ops_database,
	.transactional = ops_transactional,
	.reversible = ops_reversible,
	.check = NULL,
	.forward = ops_forward,
	.verify = NULL,
	.undo_text = ops_undo_text,
	.undo = ops_undo,
	.undo_transactional = ops_undo_transactional,
	.describe = ops_describe,
};
