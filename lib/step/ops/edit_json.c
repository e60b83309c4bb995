/*
 * edit_json.c - the JSON editor (fr_ed_json): the JSON halves of the span
 * tree of edit_tree.c. jansson validates a document (duplicate keys
 * refused) and a small scanner here finds the span of every node; values
 * are written by our renderer in the file's own indentation (compact when
 * the collection is on one line), so number spelling and key order
 * elsewhere stay as they are.
 */
#include "edit_int.h"
#include "../../util/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
				if (!kid || fr_tnode_add(n, kid, key, ks, ke)) {
					fr_tnode_free(kid);
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
	fr_tnode_free(n);
	return NULL;
}

int fr_jtree_parse(tdoc *d, const char *file, fr_buf *err)
{
	const char *text = d->t;
	size_t len = d->len;
	{
		json_error_t je;
		json_t *v;
		jscan j = { text, len, 0, 0 };
		size_t i = 0;
		while (i < len && text[i] && strchr(" \t\r\n", text[i]))
			i++;
		if (i == len)
			goto unit; /* empty: no document yet */
		if (memchr(text, '\0', len)) {
			/* jansson stops at a NUL: what follows would be kept unread */
			fr_buf_printf(err, "'%s' is not valid JSON (it holds a NUL byte)", file);
			return -1;
		}
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
	    fr_has_newline(text, d->root->open, d->root->close)) {
		size_t first = d->root->kind == T_MAP ? d->root->kstart[0] : d->root->kids[0]->start;
		size_t outer = fr_indent_len(text, len, d->root->open);
		size_t inner = fr_indent_len(text, len, first);
		size_t ls = fr_line_start(text, first);
		d->pretty = 1;
		if (inner > outer && inner - outer < sizeof d->unit) {
			memcpy(d->unit, text + ls + outer, inner - outer);
			d->unit[inner - outer] = '\0';
		}
	}
	return 0;
}

json_t *fr_jtree_value(const tdoc *d, const tnode *n, fr_buf *err)
{
	json_t *v = json_loadb(d->t + n->start, n->end - n->start, JSON_DECODE_ANY, NULL);
	if (!v)
		fr_buf_puts(err, "cannot read a value (out of memory?)");
	return v;
}

void fr_jadd_string(fr_buf *out, const char *s, size_t len)
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

void fr_render_json(fr_buf *out, json_t *v, const char *base, const char *unit, int pretty)
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
				fr_jadd_string(out, k, strlen(k));
				fr_buf_puts(out, ": ");
				fr_render_json(out, c, inner.ptr, unit, pretty);
				i++;
			}
		} else {
			for (i = 0; i < n; i++) {
				if (pretty)
					fr_buf_printf(out, "%s\n%s", i ? "," : "", inner.ptr);
				else if (i)
					fr_buf_puts(out, ", ");
				fr_render_json(out, json_array_get(v, i), inner.ptr, unit, pretty);
			}
		}
		if (pretty)
			fr_buf_printf(out, "\n%s", base);
		fr_buf_putc(out, obj ? '}' : ']');
		fr_buf_release(&inner);
		return;
	}
	case JSON_STRING:
		fr_jadd_string(out, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		fr_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		fr_fmt_real(json_real_value(v), num, sizeof num);
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

int fr_jpiece(fr_buf *out, const tdoc *d, const piece *pc, const char *base, size_t blen,
              int pretty)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_add(&b, base, blen);
	if (pc->raw)
		fr_add_indented(out, pc->raw, pc->rawlen, pc->raw_base, b.ptr, b.len);
	else
		fr_render_json(out, pc->v, b.ptr, d->unit, pretty);
	fr_buf_release(&b);
	return out->oom ? -1 : 0;
}

static int jtree_set(fr_edit *e, const char *key, json_t *value, int if_missing)
{
	return fr_tree_set(FMT_JSON, e, key, value, if_missing);
}

static int jtree_remove(fr_edit *e, const char *key)
{
	return fr_tree_remove(FMT_JSON, e, key);
}

static int jtree_rename(fr_edit *e, const char *from, const char *to, int if_missing)
{
	return fr_tree_rename(FMT_JSON, e, from, to, if_missing);
}

static int jtree_restore(fr_edit *e, const json_t *entry)
{
	return fr_tree_restore(FMT_JSON, e, entry);
}

const fr_editor fr_ed_json = {
	.name = "json",
	.secret = 0,
	.set = jtree_set,
	.remove = jtree_remove,
	.rename = jtree_rename,
	.restore = jtree_restore,
};
