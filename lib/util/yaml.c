/*
 * yaml.c - YAML text into the small tree of yaml.h, through libyaml's event
 * parser. Owns the tree's memory and the wording of YAML errors.
 *
 * Syntax errors stop the parse (libyaml cannot go on after one). Errors of
 * ours (anchors, aliases, non-scalar keys, duplicate keys) are collected and
 * the parse goes on, so a file's problems are reported at once; the tree is
 * then thrown away. Each problem is one line "<path>:<line>:<col>: <what>";
 * lines are separated by '\n' and the last one has none.
 */
#include "yaml.h"
#include "alloc.h"
#include "fs.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Deeper nesting is refused, so a hostile file cannot exhaust the stack. */
#define MAX_DEPTH 200

typedef struct {
	yaml_parser_t parser;
	const char *path;
	const char *text;
	size_t len;
	fr_buf *err;
	int problems; /* errors of ours so far; the parse goes on */
	int fatal;    /* syntax error or out of memory: stop */
} ctx;

static void add_err(ctx *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_err(ctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	if (c->err->len && c->err->ptr[c->err->len - 1] != '\n')
		fr_buf_putc(c->err, '\n');
	fr_buf_printf(c->err, "%s:%d:%d: ", c->path, line, col);
	va_start(ap, fmt);
	fr_buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	c->problems++;
}

static void oom(ctx *c)
{
	if (!c->fatal)
		add_err(c, 1, 1, "out of memory");
	c->fatal = 1;
}

/* Line and column (1-based) of a byte offset, for reader errors. */
static void offset_pos(const ctx *c, size_t off, int *line, int *col)
{
	size_t i, start = 0;
	*line = 1;
	if (off > c->len)
		off = c->len;
	for (i = 0; i < off; i++) {
		if (c->text[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	}
	*col = (int)(off - start) + 1;
}

static void parser_err(ctx *c)
{
	yaml_parser_t *p = &c->parser;
	const char *problem = p->problem ? p->problem : "cannot parse";
	int line, col;
	if (p->error == YAML_MEMORY_ERROR) {
		oom(c);
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		offset_pos(c, p->problem_offset, &line, &col);
	} else {
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
	}
	if (p->context)
		add_err(c, line, col, "%s (%s at line %d)", problem, p->context,
		        (int)p->context_mark.line + 1);
	else
		add_err(c, line, col, "%s", problem);
	c->fatal = 1;
}

/* The next event, or -1 after reporting a syntax error. */
static int next_event(ctx *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->parser, ev)) {
		parser_err(c);
		return -1;
	}
	return 0;
}

static fr_yaml *new_node(fr_yaml_kind kind, const yaml_event_t *ev)
{
	fr_yaml *n = fr_calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	return n;
}

static void check_anchor(ctx *c, const yaml_event_t *ev, const yaml_char_t *anchor)
{
	if (anchor)
		add_err(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		        "anchors and aliases are not supported");
}

/* Grows the arrays of a collection to hold one more entry. */
static int grow(fr_yaml *n, size_t *cap)
{
	size_t want;
	fr_yaml **items;
	if (n->n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 4;
	items = fr_realloc(n->items, want * sizeof *items);
	if (!items)
		return -1;
	n->items = items;
	if (n->kind == FR_YAML_MAP) {
		char **keys;
		int *lines;
		keys = fr_realloc(n->keys, want * sizeof *keys);
		if (!keys)
			return -1;
		n->keys = keys;
		lines = fr_realloc(n->key_lines, want * sizeof *lines);
		if (!lines)
			return -1;
		n->key_lines = lines;
	}
	*cap = want;
	return 0;
}

static int parse_node(ctx *c, yaml_event_t *ev, int depth, fr_yaml **out);

/* Sequence items up to SEQUENCE_END; ev is the SEQUENCE_START, already consumed. */
static int parse_seq(ctx *c, fr_yaml *n, int depth)
{
	yaml_event_t ev;
	size_t cap = 0;
	for (;;) {
		fr_yaml *item = NULL;
		if (next_event(c, &ev))
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (parse_node(c, &ev, depth + 1, &item))
			return -1;
		if (grow(n, &cap)) {
			fr_yaml_free(item);
			oom(c);
			return -1;
		}
		n->items[n->n++] = item;
	}
}

/* Pairs up to MAPPING_END; ev is the MAPPING_START, already consumed. */
static int parse_map(ctx *c, fr_yaml *n, int depth)
{
	yaml_event_t ev;
	size_t cap = 0, i;
	for (;;) {
		fr_yaml *key = NULL, *value = NULL;
		if (next_event(c, &ev))
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT && ev.type != YAML_ALIAS_EVENT)
			add_err(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
			        "mapping keys must be scalars");
		if (parse_node(c, &ev, depth + 1, &key))
			return -1;
		if (next_event(c, &ev)) {
			fr_yaml_free(key);
			return -1;
		}
		if (parse_node(c, &ev, depth + 1, &value)) {
			fr_yaml_free(key);
			return -1;
		}
		if (key->kind != FR_YAML_SCALAR) {
			/* Reported above; keep parsing for more problems. */
			fr_yaml_free(key);
			fr_yaml_free(value);
			continue;
		}
		for (i = 0; i < n->n; i++) {
			if (strcmp(n->keys[i], key->scalar) == 0) {
				add_err(c, key->line, key->col,
				        "duplicate key '%s' (first at line %d)", key->scalar,
				        n->key_lines[i]);
				break;
			}
		}
		if (grow(n, &cap)) {
			fr_yaml_free(key);
			fr_yaml_free(value);
			oom(c);
			return -1;
		}
		/* The key node gives its string to the mapping. */
		n->keys[n->n] = key->scalar;
		n->key_lines[n->n] = key->line;
		n->items[n->n] = value;
		n->n++;
		key->scalar = NULL;
		fr_yaml_free(key);
	}
}

/*
 * Builds the node that starts with ev (which this takes over and deletes).
 * On a fatal error returns -1 and *out is NULL; errors of ours leave a
 * placeholder node so the parse can go on.
 */
static int parse_node(ctx *c, yaml_event_t *ev, int depth, fr_yaml **out)
{
	fr_yaml *n = NULL;
	int r = -1;
	*out = NULL;
	if (depth > MAX_DEPTH) {
		add_err(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		        "nesting deeper than %d levels", MAX_DEPTH);
		c->fatal = 1;
		goto done;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		check_anchor(c, ev, ev->data.alias.anchor);
		n = new_node(FR_YAML_SCALAR, ev);
		if (!n || !(n->scalar = fr_strdup(""))) {
			oom(c);
			goto done;
		}
		break;
	case YAML_SCALAR_EVENT:
		check_anchor(c, ev, ev->data.scalar.anchor);
		n = new_node(FR_YAML_SCALAR, ev);
		if (!n || !(n->scalar = fr_strndup((const char *)ev->data.scalar.value,
		                                   ev->data.scalar.length))) {
			oom(c);
			goto done;
		}
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		           !ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		check_anchor(c, ev, ev->data.sequence_start.anchor);
		n = new_node(FR_YAML_SEQ, ev);
		if (!n) {
			oom(c);
			goto done;
		}
		if (parse_seq(c, n, depth))
			goto done;
		break;
	case YAML_MAPPING_START_EVENT:
		check_anchor(c, ev, ev->data.mapping_start.anchor);
		n = new_node(FR_YAML_MAP, ev);
		if (!n) {
			oom(c);
			goto done;
		}
		if (parse_map(c, n, depth))
			goto done;
		break;
	default:
		/* libyaml gives only the events above where a node may start. */
		add_err(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		        "unexpected event in the yaml stream");
		c->fatal = 1;
		goto done;
	}
	*out = n;
	n = NULL;
	r = 0;
done:
	yaml_event_delete(ev);
	fr_yaml_free(n);
	return r;
}

static fr_yaml *empty_map(int line, int col)
{
	fr_yaml *n = fr_calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = FR_YAML_MAP;
	n->line = line;
	n->col = col;
	return n;
}

/* The stream: one document (or none), holding one node. */
static int parse_stream(ctx *c, fr_yaml **out)
{
	yaml_event_t ev;
	fr_yaml *root = NULL;
	int r = -1;
	if (next_event(c, &ev)) /* STREAM_START */
		goto done;
	yaml_event_delete(&ev);
	if (next_event(c, &ev))
		goto done;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		root = empty_map(1, 1);
		if (!root)
			oom(c);
		r = root ? 0 : -1;
		goto done;
	}
	yaml_event_delete(&ev); /* DOCUMENT_START */
	if (next_event(c, &ev))
		goto done;
	if (parse_node(c, &ev, 0, &root))
		goto done;
	if (next_event(c, &ev)) /* DOCUMENT_END */
		goto done;
	yaml_event_delete(&ev);
	if (next_event(c, &ev))
		goto done;
	if (ev.type == YAML_DOCUMENT_START_EVENT)
		add_err(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
		        "multiple documents are not supported");
	yaml_event_delete(&ev);
	/* A document holding nothing ("---" alone, or "~") is an empty mapping. */
	if (root->kind == FR_YAML_SCALAR && fr_yaml_is_null(root)) {
		fr_yaml *m = empty_map(root->line, root->col);
		if (!m) {
			oom(c);
			goto done;
		}
		fr_yaml_free(root);
		root = m;
	}
	r = 0;
done:
	if (r == 0 && !c->problems) {
		*out = root;
		return 0;
	}
	fr_yaml_free(root);
	return -1;
}

int fr_yaml_parse(fr_yaml **out, const char *path, const char *text, size_t len, fr_buf *err)
{
	ctx c;
	int r;
	*out = NULL;
	/* past a byte order mark: told the encoding, libyaml would read it as a character */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}
	memset(&c, 0, sizeof c);
	c.path = path;
	c.text = text;
	c.len = len;
	c.err = err;
	if (!yaml_parser_initialize(&c.parser)) {
		oom(&c);
		return -1;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&c.parser, YAML_UTF8_ENCODING);
	r = parse_stream(&c, out);
	yaml_parser_delete(&c.parser);
	return r;
}

int fr_yaml_load_file(fr_yaml **out, const char *path, fr_buf *err)
{
	fr_buf text = FR_BUF_INIT;
	int r;
	*out = NULL;
	if (fr_read_file(path, &text)) {
		int e = errno;
		if (err->len && err->ptr[err->len - 1] != '\n')
			fr_buf_putc(err, '\n');
		fr_buf_printf(err, "%s: %s", path, strerror(e));
		fr_buf_release(&text);
		return -1;
	}
	r = fr_yaml_parse(out, path, text.ptr, text.len, err);
	fr_buf_release(&text);
	return r;
}

void fr_yaml_free(fr_yaml *n)
{
	size_t i;
	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys)
			fr_free(n->keys[i]);
		fr_yaml_free(n->items[i]);
	}
	fr_free(n->scalar);
	fr_free(n->keys);
	fr_free(n->key_lines);
	fr_free(n->items);
	fr_free(n);
}

const fr_yaml *fr_yaml_get(const fr_yaml *map, const char *key)
{
	size_t i;
	if (!map || map->kind != FR_YAML_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

int fr_yaml_bool(const fr_yaml *n, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;
	if (!n || n->kind != FR_YAML_SCALAR || !n->plain)
		return -1;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(n->scalar, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(n->scalar, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int fr_yaml_is_null(const fr_yaml *n)
{
	if (!n || n->kind != FR_YAML_SCALAR || !n->plain)
		return 0;
	return !strcmp(n->scalar, "") || !strcmp(n->scalar, "~") || !strcmp(n->scalar, "null") ||
	       !strcmp(n->scalar, "Null") || !strcmp(n->scalar, "NULL");
}

const char *fr_yaml_kind_name(fr_yaml_kind k)
{
	switch (k) {
	case FR_YAML_SCALAR:
		return "scalar";
	case FR_YAML_MAP:
		return "mapping";
	case FR_YAML_SEQ:
		return "sequence";
	}
	return "?";
}
