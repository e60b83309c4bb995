/*
 * parse.c - reading an ops file into ops: a mapping with 'description'
 * and 'ops', a list of one-key mappings (the op's name, then its
 * arguments). Every problem is reported, each as "<file>:<line>: <what>"
 * on a line of its own; a file with any is refused whole. Paths are
 * checked here against fr_ops_path_problem() (confine.c) and key paths
 * against edit.h; each file an op edits gets its editor by its name.
 */
#include "ops_int.h"
#include "../../util/alloc.h"
#include "../../util/yaml.h"

#include <stdarg.h>
#include <string.h>

const char *const fr_ops_names[OP_N] = {
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

void fr_ops_priv_free(ops_priv *p)
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

/* An fr_yaml node of the ops file as a value. */
static json_t *ynode_json(const fr_yaml *n)
{
	json_t *v;
	size_t i;
	if (n->kind == FR_YAML_SCALAR)
		return fr_ed_yaml_value(n->scalar, n->plain);
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
	if (v->kind != FR_YAML_SCALAR || (v->plain && fr_ed_yaml_null(v->scalar))) {
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
	if (s && (why = fr_ops_path_problem(s)) != NULL) {
		lerr(l, v->line, "op '%s': '%s' must be a path inside the root; '%s' %s", opn, key, s,
		     why);
		FR_FREE(s);
	}
	return s;
}

static char *arg_keypath(lctx *l, const fr_yaml *v, const char *opn, const char *key)
{
	char *s = arg_string(l, v, opn, key);
	if (!s)
		return NULL;
	if (!fr_ed_keypath_ok(s)) {
		lerr(l, v->line, "op '%s': '%s' is not a key path ('a.b.0.c': dot-separated, no empty "
		     "part, at most %d parts): '%s'", opn, key, ED_MAX_COMPS, s);
		FR_FREE(s);
		return NULL;
	}
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
	for (t = 0; t < OP_N && strcmp(fr_ops_names[t], opn); t++)
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
				o->ed = fr_ed_for_file(o->file);
				if (!o->ed)
					lerr(l, v->line, "op '%s': cannot tell the format of '%s' (a .json, "
					     ".yaml/.yml or .env file)", opn, o->file);
				else if (t == OP_ENV && o->ed != &fr_ed_env)
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
			    !fr_ed_env_name_ok(o->key))
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
	    o->ed == &fr_ed_env) {
		/* a name the editor would write but never find again (a newline cuts the line) */
		const char *kp = t == OP_RENAME ? o->from : o->path;
		if (kp && !fr_ed_env_name_ok(kp))
			lerr(l, item->line, "op '%s': '%s' is not a variable name of '%s'", opn, kp,
			     o->file);
		else if (t == OP_RENAME && o->to && !fr_ed_env_name_ok(o->to))
			lerr(l, item->line, "op '%s': '%s' is not a variable name of '%s'", opn,
			     o->to, o->file);
	}
	if (l->nerr == errs && (t == OP_MOVE || t == OP_COPY || t == OP_RENAME) && o->from &&
	    o->to && !strcmp(o->from, o->to))
		lerr(l, item->line, "op '%s': 'from' and 'to' are the same", opn);
}

int fr_ops_parse(const char *rel, const char *text, size_t len, ops_priv **out, fr_buf *err)
{
	lctx l = { rel, err, 0 };
	fr_yaml *doc = NULL;
	const fr_yaml *ops;
	ops_priv *p = NULL;
	size_t i;
	int ret = -1;

	*out = NULL;
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
	*out = p;
	p = NULL;
	ret = 0;
done:
	fr_ops_priv_free(p);
	fr_yaml_free(doc);
	return ret;
}

