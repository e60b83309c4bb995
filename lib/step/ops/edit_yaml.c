/*
 * edit_yaml.c - the YAML editor (fr_ed_yaml): the YAML halves of the span
 * tree of edit_tree.c. libyaml's parser events give each node's span
 * (their marks count characters; a map turns them into bytes); scalars
 * are resolved as YAML 1.2's core schema reads them; new values are
 * written through libyaml's emitter, which knows when a string must be
 * quoted (and here a string some YAML 1.1 reader would take for a
 * boolean, number or null is quoted too). Comments outside the changed
 * node stay, as every byte there does. One document a file; aliases are
 * kept but not followed.
 */
#include "edit_int.h"
#include "../../util/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ---- YAML scalars as values ---------------------------------------------- */


int fr_ed_yaml_null(const char *s)
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
	if (!*d || !fr_all_in(d, "0123456789") || (d[0] == '0' && d[1]))
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

json_t *fr_ed_yaml_value(const char *s, int plain)
{
	json_int_t i;
	double d;
	int b;
	if (!plain)
		return json_string(s);
	if (fr_ed_yaml_null(s))
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
		if (fr_all_in(s, "0123456789abcdefABCDEFxXoO_:.+-"))
			return 1;
	return 0;
}

/* ---- reading: libyaml's event marks count characters; map them to bytes --- */

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

/*
 * 1 when the key at ks is an explicit one, "? key" (or a '?' opening the
 * line above it; not one before lo, the end of the entry before): entries
 * are found, indented and removed by their key's place.
 */
static int yexplicit(const yscan *y, size_t ks, size_t lo)
{
	size_t p = ks;
	int nl = 0;
	for (;;) {
		size_t ls, q, c;
		while (p > 0 && (y->t[p - 1] == ' ' || y->t[p - 1] == '\t' || y->t[p - 1] == '\r' ||
		                 y->t[p - 1] == '\n'))
			nl |= y->t[--p] == '\n';
		if (!nl || p == 0)
			break;
		/* a line above: its comment ("? # c", "# c") is not what stands before the key */
		ls = fr_line_start(y->t, p - 1);
		for (c = ls; c < p && !(y->t[c] == '#' && (c == ls || y->t[c - 1] == ' ' ||
		                                           y->t[c - 1] == '\t')); c++)
			;
		if (c == p)
			break;
		for (q = c; q > ls && (y->t[q - 1] == ' ' || y->t[q - 1] == '\t'); q--)
			;
		p = q;
		if (q > ls)
			break;
	}
	/* a '?' the entry before holds is its value's text ("a: x\n  ?", a plain scalar) */
	if (p == 0 || y->t[p - 1] != '?' || p - 1 < lo)
		return 0;
	if (nl) /* "?" alone, the key below it: the '?' opens its line */
		return fr_blank_between(y->t, fr_line_start(y->t, p - 1), p - 1);
	return p == 1 || strchr(" \t\n{,", y->t[p - 2]) ||
	       fr_blank_between(y->t, fr_line_start(y->t, p - 1), p - 1); /* after a mark */
}

static int yhas_key(const tnode *n, const char *key)
{
	size_t i;
	for (i = 0; i < n->n; i++)
		if (!strcmp(n->keys[i], key))
			return 1;
	return 0;
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
		/* the bracket ends the event (a search from its start could meet a '#{' comment) */
		size_t o = ybyte(y, ev->end_mark.index);
		o = o > n->start ? o - 1 : n->start;
		while (o < y->len && y->t[o] != (map ? '{' : '['))
			o++;
		n->open = o;
	}
	for (;;) {
		char *key = NULL;
		size_t ks = 0, ke = 0;
		int kprops = 0;
		tnode *kid;
		if (ynext(y, &k))
			return NULL;
		if (k.type == YAML_MAPPING_END_EVENT || k.type == YAML_SEQUENCE_END_EVENT) {
			n->close = ybyte(y, k.start_mark.index);
			if (n->flow) {
				n->end = ybyte(y, k.end_mark.index);
			} else if (n->n) { /* it ends as its last entry does */
				n->end = n->kids[n->n - 1]->end;
				n->unclosed = n->kids[n->n - 1]->unclosed;
				n->chomp = n->kids[n->n - 1]->chomp;
				n->bend = n->kids[n->n - 1]->bend;
			} else {
				n->end = n->start;
			}
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
			/* a key's anchor or tag is its mapping's: a value put back has neither */
			kprops = k.data.scalar.anchor != NULL || k.data.scalar.tag != NULL;
			n->anchor |= k.data.scalar.anchor != NULL;
			n->tagged |= k.data.scalar.tag != NULL;
			ks = ybyte(y, k.start_mark.index);
			ke = ytrim(y, ks, ybyte(y, k.end_mark.index));
			if (yexplicit(y, ks, n->n ? n->kids[n->n - 1]->end : 0)) {
				y->problem = "a key written as '? key' (ops cannot edit it)";
				y->pline = k.start_mark.line + 1;
				yaml_event_delete(&k);
				return NULL;
			}
			key = fr_strndup((const char *)k.data.scalar.value, k.data.scalar.length);
			if (key && yhas_key(n, key)) {
				/* as JSON's editor and ferry's own files: a remove would bring the other back */
				y->problem = "a key given twice (ops cannot edit it)";
				y->pline = k.start_mark.line + 1;
				fr_free(key);
				yaml_event_delete(&k);
				return NULL;
			}
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
		if (kid) {
			n->anchor |= kid->anchor;
			n->tagged |= kid->tagged;
			kid->keyprops = kprops;
		}
		if (!kid || fr_tnode_add(n, kid, key, ks, ke)) {
			fr_tnode_free(kid);
			fr_free(key);
			return NULL;
		}
	}
}

/*
 * A block scalar (| or >) ending at rawend, libyaml's mark. Its text ends
 * at its last line break before that mark (past the spaces of the next
 * line the mark may have taken), not where its last non-blank ends: a line
 * of only spaces deeper than its content is its value, and so are a keep
 * ('+') scalar's trailing empty lines (an entry written after them keeps
 * them). Clip or keep and no line break after its last line at the end of
 * the file: unclosed (a line break after it would join its value), its
 * text all the rest.
 */
static void yblock_scalar(yscan *y, tnode *n, size_t rawend)
{
	size_t p = n->start, c, e = rawend;
	int keep = 0;
	/* its anchor and tag, and the blanks and comment lines between them and the header */
	while (p < rawend && y->t[p] != '|' && y->t[p] != '>') {
		if (y->t[p] == '!' || y->t[p] == '&' || y->t[p] == '#') {
			const char *stop = y->t[p] == '#' ? "\n" : " \t\r\n";
			while (p < rawend && !strchr(stop, y->t[p]))
				p++;
		} else {
			p++;
		}
	}
	if (p >= rawend)
		return;
	n->bend = 1;
	if (rawend < y->len || strchr("\r\n", y->t[y->len - 1])) {
		while (e > n->end && y->t[e - 1] == ' ')
			e--;
		if (e > n->end && y->t[e - 1] == '\n')
			e -= e - 1 > n->end && y->t[e - 2] == '\r' ? 2 : 1;
		else
			e = n->end;
	}
	n->end = e;
	/* the indicators after it: an indentation digit and a chomping one, in either order */
	for (c = p + 1; c < rawend && c < p + 3; c++) {
		if (y->t[c] == '-')
			return; /* strip: a line break after it is none of its value */
		if (y->t[c] == '+') {
			keep = 1;
			break;
		}
		if (y->t[c] < '1' || y->t[c] > '9')
			break;
	}
	if (rawend == y->len && !strchr("\r\n", y->t[y->len - 1])) {
		n->unclosed = 1;
		n->chomp = keep ? c : p + 1;
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
	case YAML_SCALAR_EVENT:
		n->anchor = ev->data.scalar.anchor != NULL;
		n->tagged = ev->data.scalar.tag != NULL; /* "!" too, which libyaml calls implicit */
		break;
	case YAML_MAPPING_START_EVENT:
		n->anchor = ev->data.mapping_start.anchor != NULL;
		n->tagged = ev->data.mapping_start.tag != NULL;
		break;
	case YAML_SEQUENCE_START_EVENT:
		n->anchor = ev->data.sequence_start.anchor != NULL;
		n->tagged = ev->data.sequence_start.tag != NULL;
		break;
	default:
		break;
	}
	n->props = n->anchor || n->tagged;
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
		if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
			yblock_scalar(y, n, ybyte(y, ev->end_mark.index));
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
	fr_tnode_free(n);
	return NULL;
}

/*
 * The offset of the first character at or after from that libyaml reads
 * and the editor's lines and columns (text.c) do not: a line break other
 * than \n and \r\n (a lone \r, NEL, U+2028, U+2029), or a byte order mark
 * after the first (which libyaml skips as a column); len when none.
 */
static size_t yodd_break(const char *t, size_t len, size_t from)
{
	size_t i;
	for (i = from; i < len; i++)
		if ((t[i] == '\r' && (i + 1 == len || t[i + 1] != '\n')) ||
		    (i + 1 < len && !memcmp(t + i, "\xC2\x85", 2)) ||
		    (i + 2 < len && (!memcmp(t + i, "\xE2\x80\xA8", 3) ||
		                     !memcmp(t + i, "\xE2\x80\xA9", 3) ||
		                     (i > 0 && !memcmp(t + i, "\xEF\xBB\xBF", 3)))))
			return i;
	return len;
}

/*
 * 1 when byte p of d is inside a quoted scalar or key of n: a line break
 * there folds nothing and no column after it counts, as the emitter writes
 * such breaks in quoted values.
 */
static int yquoted_at(const tdoc *d, const tnode *n, size_t p)
{
	size_t i;
	if (n->kind == T_SCALAR)
		return p > n->start && p < n->end && strchr("'\"", d->t[n->start]);
	for (i = 0; i < n->n; i++)
		if ((n->kind == T_MAP && p > n->kstart[i] && p < n->kend[i] &&
		     strchr("'\"", d->t[n->kstart[i]])) || yquoted_at(d, n->kids[i], p))
			return 1;
	return 0;
}

/* 1 when byte p of d is inside a scalar, alias, key or flow collection of n. */
static int yin_leaf(const tdoc *d, const tnode *n, size_t p)
{
	size_t i;
	if (n->kind == T_SCALAR || n->kind == T_ALIAS || n->flow)
		return p >= n->start && p < n->end;
	for (i = 0; i < n->n; i++)
		if ((n->kind == T_MAP && p >= n->kstart[i] && p < n->kend[i]) ||
		    yin_leaf(d, n->kids[i], p))
			return 1;
	return 0;
}

/*
 * The offset of the first tab among the blanks that start a line of d and
 * that no scalar, key or flow collection holds, or d->len. libyaml reads
 * such a line only as the blanks after a plain scalar (its text done): once
 * an edit puts another value there, the tab no longer parses.
 */
static size_t ytab_indent(const tdoc *d)
{
	size_t i = 0, k;
	while (i < d->len) {
		for (k = i; k < d->len && (d->t[k] == ' ' || d->t[k] == '\t'); k++)
			if (d->t[k] == '\t' && !(d->root && yin_leaf(d, d->root, k)))
				return k;
		while (k < d->len && d->t[k] != '\n')
			k++;
		i = k + 1;
	}
	return d->len;
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
	/* past the byte order mark: told the encoding, libyaml would read it as a character */
	yaml_parser_set_input_string(&y.p, (const unsigned char *)d->t + y.base, d->len - y.base);
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
	/* Other line breaks, marks after the first: only inside quotes (their columns are not ours). */
	for (i = yodd_break(d->t, d->len, 0); i < d->len; i = yodd_break(d->t, d->len, i + 1)) {
		if (d->root && yquoted_at(d, d->root, i))
			continue;
		y.problem = (unsigned char)d->t[i] == 0xEF
		                    ? "a byte order mark inside the text (ops cannot edit it)"
		                    : "a line break other than \\n or \\r\\n (ops cannot edit it)";
		for (y.pline = 1, k = 0; k < i; k++)
			y.pline += d->t[k] == '\n';
		fr_tnode_free(d->root);
		d->root = NULL;
		goto done;
	}
	if ((i = ytab_indent(d)) < d->len) {
		y.problem = "a line indented with a tab (ops cannot edit it)";
		for (y.pline = 1, k = 0; k < i; k++)
			y.pline += d->t[k] == '\n';
		fr_tnode_free(d->root);
		d->root = NULL;
		goto done;
	}
	/* A document that is only an empty scalar ("---" alone) is no document. */
	if (d->root && d->root->kind == T_SCALAR && d->root->empty) {
		fr_tnode_free(d->root);
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
			size_t pc = fr_col_of(d->t, n->kstart[i]), cc = fr_col_of(d->t, c->kstart[0]);
			if (cc > pc && fr_has_newline(d->t, n->kend[i], c->kstart[0]))
				return cc - pc;
		}
		if ((u = yunit(d, c)) != 0)
			return u;
	}
	return 0;
}

int fr_ytree_parse(tdoc *d, const char *file, fr_buf *err)
{
	size_t u;
	if (yparse(d, file, err)) {
		fr_tdoc_free(d);
		return -1;
	}
	u = yunit(d, d->root);
	if (u < 2 || u > 9)
		u = 2;
	memset(d->unit, ' ', u);
	d->unit[u] = '\0';
	return 0;
}

json_t *fr_ytree_value(const tdoc *d, const tnode *n, fr_buf *err)
{
	json_t *v;
	size_t i;
	if (n->kind == T_ALIAS) {
		fr_buf_puts(err, "the value is a YAML alias (*name), which ops do not follow");
		return NULL;
	}
	if (n->kind == T_SCALAR) {
		v = fr_ed_yaml_value(n->scalar, n->plain);
		if (!v)
			fr_buf_puts(err, "a value is not valid UTF-8");
		return v;
	}
	v = n->kind == T_MAP ? json_object() : json_array();
	for (i = 0; v && i < n->n; i++) {
		json_t *c = fr_ytree_value(d, n->kids[i], err);
		if (!c || (n->kind == T_MAP ? json_object_set_new(v, n->keys[i], c)
		                            : json_array_append_new(v, c))) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

/* ---- writing values ------------------------------------------------------ */

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
		fr_fmt_real(json_real_value(v), num, sizeof num);
		return yemit_scalar(e, num, strlen(num), 0);
	case JSON_TRUE:
		return yemit_scalar(e, "true", 4, 0);
	case JSON_FALSE:
		return yemit_scalar(e, "false", 5, 0);
	default:
		return yemit_scalar(e, "null", 4, 0);
	}
}

int fr_render_yaml(fr_buf *out, json_t *v, int flow, size_t unit)
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

int fr_yinline_value(const json_t *v)
{
	return !(json_is_object(v) && json_object_size(v)) &&
	       !(json_is_array(v) && json_array_size(v));
}

/*
 * 1 when raw text of a node can stand inside a flow collection as it is:
 * quoted, a flow collection, or a plain scalar without the indicators
 * that end one there (a plain "a, b" from a block would become two items),
 * and not a block scalar ("!!str >" is the text ">" there).
 */
static int yflow_safe(const char *raw, size_t n)
{
	size_t i = 0;
	/* after its properties (&a !t), no block scalar (| >) nor another indicator */
	while (i < n && (raw[i] == '!' || raw[i] == '&')) {
		while (i < n && raw[i] != ' ' && raw[i] != '\t')
			i++;
		while (i < n && (raw[i] == ' ' || raw[i] == '\t'))
			i++;
	}
	if (i < n && (strchr("|>@`%?", raw[i]) ||
	              (raw[i] == '-' && (i + 1 == n || raw[i + 1] == ' ' || raw[i + 1] == '\t'))))
		return 0;
	if (n && strchr("'\"[{", raw[0]))
		return 1;
	/* ':' in any place: libyaml reads ":x" in a flow collection otherwise than in a block */
	for (i = 0; i < n; i++)
		if (strchr(",[]{}#:", raw[i]))
			return 0;
	return 1;
}

int fr_render_yaml_flow(fr_buf *out, json_t *v, size_t unit)
{
	fr_buf b = FR_BUF_INIT;
	json_t *wrap = json_array();
	int rc = wrap && !json_array_append(wrap, v) ? fr_render_yaml(&b, wrap, 1, unit) : -1;
	if (!rc && b.len >= 2 && b.ptr[0] == '[' && b.ptr[b.len - 1] == ']')
		fr_buf_add(out, b.ptr + 1, b.len - 2);
	else
		rc = -1;
	json_decref(wrap);
	fr_buf_release(&b);
	return rc;
}

/* 1 when the last word of raw text is a tag ("!t", "!!str"): an empty value with a tag. */
static int yends_in_tag(const char *raw, size_t n)
{
	size_t i = n;
	while (i > 0 && raw[i - 1] != ' ' && raw[i - 1] != '\t')
		i--;
	return i < n && raw[i] == '!';
}

int fr_yraw_fits(const piece *pc, int where)
{
	return pc->raw && (where == YP_MAP ? 1 : !pc->raw_block) &&
	       (where != YP_FLOW || (!fr_has_newline(pc->raw, 0, pc->rawlen) &&
	                             yflow_safe(pc->raw, pc->rawlen)));
}

/* t[a, b) with a '-' at c (in place of a '+' there) when a <= c < b. */
static void yadd_closed(fr_buf *out, const char *t, size_t a, size_t b, size_t c)
{
	if (c < a || c >= b) {
		fr_buf_add(out, t + a, b - a);
		return;
	}
	fr_buf_add(out, t + a, c - a);
	fr_buf_putc(out, '-');
	c += t[c] == '+';
	fr_buf_add(out, t + c, b - c);
}

void fr_yclosed_text(fr_buf *out, const char *t, size_t a, size_t b, const tnode *node)
{
	yadd_closed(out, t, a, b, node->unclosed ? node->chomp : (size_t)-1);
}

int fr_ypiece(fr_buf *out, const tdoc *d, const piece *pc, size_t col, int where, int *block,
              size_t *bcol)
{
	size_t unit = strlen(d->unit);
	fr_buf pre = FR_BUF_INIT;
	int rc = 0;
	*block = 0;
	*bcol = where == YP_SEQ ? col + 2 : col + unit;
	if (fr_yraw_fits(pc, where)) {
		/* later lines move by as much as the key moved */
		size_t strip = col < pc->raw_base ? pc->raw_base - col : 0;
		fr_buf raw = FR_BUF_INIT; /* an unclosed block scalar's text made strip */
		fr_add_spaces(&pre, col > pc->raw_base ? col - pc->raw_base : 0);
		yadd_closed(&raw, pc->raw, 0, pc->rawlen, pc->raw_chomp - 1);
		fr_add_indented(out, raw.ptr, raw.len, strip, pre.ptr, pre.len);
		if (raw.oom)
			rc = -1;
		fr_buf_release(&raw);
		/* a tag with nothing after it would take in a ',' or ']' that follows */
		if (where == YP_FLOW && yends_in_tag(pc->raw, pc->rawlen))
			fr_buf_putc(out, ' ');
		*block = pc->raw_block;
		if (pc->raw_block)
			*bcol = pc->raw_col + col - pc->raw_base;
	} else if (where == YP_FLOW) {
		rc = fr_render_yaml_flow(out, pc->v, unit);
	} else if (fr_yinline_value(pc->v)) {
		rc = fr_render_yaml(out, pc->v, 1, unit);
	} else {
		fr_buf txt = FR_BUF_INIT;
		rc = fr_render_yaml(&txt, pc->v, 0, unit);
		fr_add_spaces(&pre, *bcol);
		fr_add_indented(out, txt.ptr, txt.len, 0, pre.ptr, pre.len);
		*block = 1;
		fr_buf_release(&txt);
	}
	fr_buf_release(&pre);
	return rc || out->oom ? -1 : 0;
}

static int ytree_set(fr_edit *e, const char *key, json_t *value, int if_missing)
{
	return fr_tree_set(FMT_YAML, e, key, value, if_missing);
}

static int ytree_remove(fr_edit *e, const char *key)
{
	return fr_tree_remove(FMT_YAML, e, key);
}

static int ytree_rename(fr_edit *e, const char *from, const char *to, int if_missing)
{
	return fr_tree_rename(FMT_YAML, e, from, to, if_missing);
}

static int ytree_restore(fr_edit *e, const json_t *entry)
{
	return fr_tree_restore(FMT_YAML, e, entry);
}

const fr_editor fr_ed_yaml = {
	.name = "yaml",
	.secret = 0,
	.set = ytree_set,
	.remove = ytree_remove,
	.rename = ytree_rename,
	.restore = ytree_restore,
};
