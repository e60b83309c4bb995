/*
 * edit_tree.c - the JSON and YAML editors' shared half: a document as a
 * tree of nodes with the byte span of each (parsed by edit_json.c or
 * edit_yaml.c), walking a key path down it, and the three edits that
 * splice one span: replace a value, insert an entry, remove one. set,
 * remove, rename and restore of both editors are built on them here; what
 * differs between the formats (reading, writing a value) is asked of the
 * format's half.
 */
#include "edit_int.h"
#include "../../util/alloc.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

void fr_tnode_free(tnode *n)
{
	size_t i;
	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		fr_tnode_free(n->kids[i]);
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

void fr_tdoc_free(tdoc *d)
{
	fr_tnode_free(d->root);
	d->root = NULL;
}

int fr_tnode_add(tnode *n, tnode *kid, char *key, size_t ks, size_t ke)
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
	return fmt == FMT_YAML ? fr_ytree_parse(d, file, err) : fr_jtree_parse(d, file, err);
}

/* The value of a node (new reference), or NULL with err set (YAML aliases). */
static json_t *tnode_json(const tdoc *d, const tnode *n, fr_buf *err)
{
	return d->fmt == FMT_JSON ? fr_jtree_value(d, n, err) : fr_ytree_value(d, n, err);
}

static int tnode_is_null(const tdoc *d, const tnode *n)
{
	if (n->kind != T_SCALAR)
		return 0;
	if (d->fmt == FMT_JSON)
		return n->end - n->start == 4 && !memcmp(d->t + n->start, "null", 4);
	return n->plain && fr_ed_yaml_null(n->scalar);
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

/* A key as it is written: a JSON string, or a YAML scalar (quoted when it must be). */
static int render_key(fr_buf *out, const tdoc *d, const char *key)
{
	json_t *k;
	int rc = 0;
	if (d->fmt == FMT_JSON) {
		fr_jadd_string(out, key, strlen(key));
		return out->oom ? -1 : 0;
	}
	k = json_string(key);
	/* as inside a flow mapping, which is right in a block one too */
	rc = k ? fr_render_yaml_flow(out, k, 2) : -1;
	json_decref(k);
	return rc;
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
	if (p > 0 && d->t[p - 1] == '\n' && fr_blank_between(d->t, p, start)) {
		/*
		 * "-" alone on a line above (a comment after it, blank or comment
		 * lines between): the value starts below its dash
		 */
		size_t le = p - 1;
		for (;;) {
			size_t ls = fr_line_start(d->t, le), q = ls;
			while (q < le && (d->t[q] == ' ' || d->t[q] == '\t'))
				q++;
			if (q < le && d->t[q] == '-') {
				size_t r = q + 1;
				while (r < le && (d->t[r] == ' ' || d->t[r] == '\t' || d->t[r] == '\r'))
					r++;
				if (r == le || (d->t[r] == '#' && r > q + 1))
					return q;
				break;
			}
			if (!(q == le || d->t[q] == '#' || (d->t[q] == '\r' && q + 1 == le)) || ls == 0)
				break;
			le = ls - 1; /* a blank or comment line: the one above */
		}
	}
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
		/*
		 * the ',' after it, not one in a comment (" #,x", "{}#,x": past a
		 * node's text a '#' starts one, as libyaml reads it)
		 */
		while (a < b && d->t[a] != ',') {
			if (d->fmt == FMT_YAML && d->t[a] == '#')
				a = fr_line_end(d->t, d->len, a);
			else
				a++;
		}
		a++;
	} else {
		a = n->open + 1;
	}
	if (a < b)
		fr_buf_add(sep, d->t + a, b - a);
	if (!sep->len && d->fmt == FMT_YAML)
		fr_buf_putc(sep, ' ');
}

/*
 * After pc's text written at a place of kind where (YP_*) up to b of d: when
 * that text is its old one ending inside a block scalar, whatever would
 * join that scalar's value goes. The blanks after it on its line (a block
 * scalar's lines keep theirs); the blank lines below it (a keep scalar's
 * value, or a deeper line of spaces); a comment on its line or on the
 * lines below goes to a line of its own at column col (its key's or dash's,
 * where it ends the scalar); a line break when the file ends there (the
 * scalar's last line break is its value's). *b moves past what is taken.
 */
static void yafter_raw(fr_buf *ins, const tdoc *d, const piece *pc, int where, size_t *b,
                       size_t col)
{
	size_t p = *b;
	if (d->fmt != FMT_YAML || !pc->raw_bend || !fr_yraw_fits(pc, where))
		return;
	for (;;) {
		size_t e;
		while (p < d->len && (d->t[p] == ' ' || d->t[p] == '\t'))
			p++;
		e = fr_line_end(d->t, d->len, p);
		if (p < d->len && d->t[p] == '#') {
			size_t ce = e > p && d->t[e - 1] == '\r' ? e - 1 : e;
			fr_buf_putc(ins, '\n');
			fr_add_spaces(ins, col);
			fr_buf_add(ins, d->t + p, ce - p);
		} else if (p < e && d->t[p] != '\r') {
			break; /* a line of content: it ends the scalar (or is the next entry) */
		}
		*b = e;
		if (e >= d->len) {
			fr_buf_putc(ins, '\n');
			*b = d->len;
			return;
		}
		p = e + 1; /* the next line */
	}
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
		int pretty = parent ? fr_has_newline(d->t, parent->open, parent->close) : 1;
		if (fr_jpiece(&txt, d, pc, d->t + fr_line_start(d->t, at), fr_indent_len(d->t, d->len, at),
		              pretty))
			goto done;
		fr_buf_add(&ins, txt.ptr, txt.len);
	} else if (!parent) {
		/*
		 * a block value's later lines at the column its first starts at; on
		 * a line of its own when text stands before it ("--- ", properties)
		 */
		fr_buf pre = FR_BUF_INIT;
		size_t col = fr_col_of(d->t, node->start);
		int bad;
		if (!fr_yinline_value(pc->v) &&
		    !fr_blank_between(d->t, fr_line_start(d->t, node->start), node->start)) {
			fr_buf_putc(&ins, '\n');
			col = 0;
		}
		fr_add_spaces(&pre, col);
		bad = fr_render_yaml(&txt, pc->v, !fr_yinline_value(pc->v) ? 0 : 1, strlen(d->unit));
		if (!bad)
			fr_add_indented(&ins, txt.ptr, txt.len, 0, pre.ptr, pre.len);
		fr_buf_release(&pre);
		if (bad)
			goto done;
	} else if (parent->flow) {
		size_t colon = parent->kind == T_MAP ? ycolon(d, parent->kend[i]) : 0;
		if (parent->kind == T_MAP && node->empty &&
		    (colon >= d->len || d->t[colon] != ':')) {
			/* a key without a value ({a, b: 1}): its ':' first, right after the key */
			a = b = parent->kend[i];
			fr_buf_puts(&ins, ": ");
		}
		if (fr_ypiece(&ins, d, pc, fr_col_of(d->t, node->start), YP_FLOW, &block, &bcol))
			goto done;
	} else if (parent->kind == T_MAP) {
		size_t kc = fr_col_of(d->t, parent->kstart[i]);
		size_t colon = ycolon(d, parent->kend[i]);
		/*
		 * an old value on a line below its key, not right of it (a block
		 * scalar's text may be): the new one goes on the key's line
		 */
		int low = fr_has_newline(d->t, colon, node->start) &&
		          fr_col_of(d->t, node->start) <= kc;
		if (fr_ypiece(&txt, d, pc, kc, YP_MAP, &block, &bcol))
			goto done;
		if (block) {
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, bcol);
		} else if (!yinline_node(node) || low) {
			fr_buf_putc(&ins, ' ');
		}
		if (block || !yinline_node(node) || low) {
			a = colon + 1;
			b = entry_vend(d, parent, i);
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
		yafter_raw(&ins, d, pc, YP_MAP, &b, kc);
	} else {
		size_t dash = ydash(d, node->start);
		size_t dc = dash != (size_t)-1 ? fr_col_of(d->t, dash) : fr_col_of(d->t, node->start);
		if (fr_ypiece(&txt, d, pc, dc, YP_SEQ, &block, &bcol))
			goto done;
		if (node->empty && dash != (size_t)-1) {
			a = dash + 1;
			b = a;
			fr_buf_putc(&ins, ' ');
		} else if (dash != (size_t)-1 &&
		           (block ? fr_col_of(d->t, node->start) != bcol
		                  : fr_has_newline(d->t, dash, node->start) &&
		                    fr_col_of(d->t, node->start) <= dc)) {
			/*
			 * at another column than a block's lines ("-   {a, b}"), or below
			 * its dash not right of it (a block scalar's text may be): after
			 * the dash
			 */
			a = dash + 1;
			fr_buf_putc(&ins, ' ');
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
		yafter_raw(&ins, d, pc, YP_SEQ, &b, dc);
	}
	/* a comment touching the old value ("{}#", which libyaml allows) would join a plain one */
	if (d->fmt == FMT_YAML && b < d->len && d->t[b] == '#' && ins.len &&
	    !strchr(" \t\n", ins.ptr[ins.len - 1]))
		fr_buf_putc(&ins, ' ');
	rc = ins.oom ? -1 : fr_text_splice(out, d->t, d->len, a, b, ins.ptr, ins.len);
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
	size_t pos, end, bcol;
	int block, rc = -1;

	if (n->flow) {
		/* JSON, or a YAML flow collection */
		size_t ref = n->n ? entry_start(d, n, at < n->n ? at : n->n - 1) : n->open;
		size_t base = fr_indent_len(d->t, d->len, ref);
		int pretty = n->n ? fr_has_newline(d->t, n->open, n->close) : d->pretty;
		fr_buf lead = FR_BUF_INIT;
		if (!n->n && pretty) {
			fr_buf_add(&lead, d->t + fr_line_start(d->t, ref), base);
			fr_buf_puts(&lead, d->unit);
		} else {
			fr_buf_add(&lead, d->t + fr_line_start(d->t, ref), base);
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
			if (fr_jpiece(&txt, d, pc, lead.ptr, lead.len, pretty))
				goto flow_done;
		} else if (fr_ypiece(&txt, d, pc, 0, YP_FLOW, &block, &bcol)) {
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
				fr_buf_add(&ins, d->t + fr_line_start(d->t, ref), base);
			}
			fr_buf_putc(&ins, n->kind == T_MAP ? '}' : ']');
			rc = fr_text_splice(out, d->t, d->len, n->open, n->close + 1, ins.ptr, ins.len);
		} else if (at >= n->n) {
			flow_sep(d, n, &sep);
			fr_buf_putc(&ins, ',');
			fr_buf_add(&ins, sep.ptr, sep.len);
			fr_buf_add(&ins, txt.ptr, txt.len);
			pos = n->kids[n->n - 1]->end;
			rc = fr_text_splice(out, d->t, d->len, pos, pos, ins.ptr, ins.len);
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
			rc = fr_text_splice(out, d->t, d->len, b, b, ins.ptr, ins.len);
		}
flow_done:
		fr_buf_release(&lead);
		goto done;
	}

	/* a YAML block collection (never empty) */
	if (n->kind == T_MAP) {
		size_t kc = fr_col_of(d->t, n->kstart[0]);
		if (fr_ypiece(&txt, d, pc, kc, YP_MAP, &block, &bcol))
			goto done;
		/*
		 * at the end; before the last entry when the mapping ends the file
		 * inside a block scalar a line break after it would join (unclosed)
		 */
		pos = n->unclosed ? n->kstart[n->n - 1]
		                  : fr_line_end(d->t, d->len, entry_vend(d, n, n->n - 1));
		end = pos;
		if (!n->unclosed) {
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, kc);
		}
		if (render_key(&ins, d, key))
			goto done;
		fr_buf_putc(&ins, ':');
		if (block) {
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, bcol);
		} else {
			fr_buf_putc(&ins, ' ');
		}
		fr_buf_add(&ins, txt.ptr, txt.len);
		if (!n->unclosed) {
			yafter_raw(&ins, d, pc, YP_MAP, &end, kc);
		} else {
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, kc);
		}
		rc = fr_text_splice(out, d->t, d->len, pos, end, ins.ptr, ins.len);
	} else {
		size_t ref = at < n->n ? at : n->n - 1;
		size_t dash = entry_start(d, n, ref), dc = fr_col_of(d->t, dash);
		if (fr_ypiece(&txt, d, pc, dc, YP_SEQ, &block, &bcol))
			goto done;
		if (at >= n->n) {
			pos = fr_line_end(d->t, d->len, entry_vend(d, n, n->n - 1));
			end = pos;
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, dc);
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
			yafter_raw(&ins, d, pc, YP_SEQ, &end, dc);
			if (n->unclosed) {
				/*
				 * the list ends the file inside a block scalar a line break
				 * after it would join: its header made strip, the same value
				 */
				fr_buf_reset(out);
				fr_yclosed_text(out, d->t, 0, pos, n);
				fr_buf_add(out, ins.ptr, ins.len);
				fr_buf_add(out, d->t + end, d->len - end);
				rc = out->oom || ins.oom ? -1 : 0;
				goto done;
			}
		} else if (fr_blank_between(d->t, fr_line_start(d->t, dash), dash)) {
			pos = fr_line_start(d->t, dash);
			end = pos;
			fr_add_spaces(&ins, dc);
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
			fr_buf_putc(&ins, '\n');
		} else {
			pos = dash;
			end = pos;
			fr_buf_puts(&ins, "- ");
			fr_buf_add(&ins, txt.ptr, txt.len);
			fr_buf_putc(&ins, '\n');
			fr_add_spaces(&ins, dc);
		}
		rc = fr_text_splice(out, d->t, d->len, pos, end, ins.ptr, ins.len);
	}
done:
	fr_buf_release(&txt);
	fr_buf_release(&ins);
	fr_buf_release(&sep);
	return rc;
}

/*
 * 1 when removing the last entry of the top-level block collection n
 * leaves it as "[]" or "{}" rather than no document: a list; a mapping
 * with an anchor or tag of its own ("&a !t {}" keeps them); or one a
 * document end marker ("...") follows, which libyaml refuses after nothing.
 */
static int yleaves_flow(const tdoc *d, const tnode *n)
{
	size_t p;
	if (n != d->root || n->flow || n->n != 1 || d->fmt != FMT_YAML)
		return 0;
	if (n->kind == T_SEQ || n->props)
		return 1;
	for (p = fr_line_end(d->t, d->len, n->end); p < d->len; p = fr_line_end(d->t, d->len, p)) {
		p++;
		if (d->len - p >= 3 && !memcmp(d->t + p, "...", 3))
			return 1;
	}
	return 0;
}

/*
 * 1 when the last word of text t may end in a tag ("!t", "a:!!t", "!<x>"):
 * it holds a '!' (a blank more than needed after a value that only has one).
 */
static int ytag_ends(const char *t, size_t n)
{
	size_t i = n;
	while (i > 0 && !strchr(" \t\r\n", t[i - 1]))
		if (t[--i] == '!')
			return 1;
	return 0;
}

/* The start of the first line of t that is a document end marker ("..."), or len. */
static size_t ydoc_end(const char *t, size_t len)
{
	size_t p;
	for (p = 0; p < len; p = fr_line_end(t, len, p) + 1)
		if (len - p >= 3 && !memcmp(t + p, "...", 3) &&
		    (len - p == 3 || strchr(" \t\r\n", t[p + 3])))
			return p;
	return len;
}

/* Removes the node at depth k of chain c (k >= 1). */
/* The anchor and tag of block collection n, each followed by a blank ("&a !t "). */
static void yprops_text(const tdoc *d, const tnode *n, fr_buf *out)
{
	size_t p = n->start, end = entry_start(d, n, 0);
	while (p < end) {
		size_t q = p;
		if (d->t[p] == '#') {
			p = fr_line_end(d->t, d->len, p);
			continue;
		}
		if (d->t[p] != '!' && d->t[p] != '&') {
			p++;
			continue;
		}
		while (q < end && !strchr(" \t\r\n", d->t[q]))
			q++;
		fr_buf_add(out, d->t + p, q - p);
		fr_buf_putc(out, ' ');
		p = q;
	}
}

/* Past the lines from p (a line's start) to end that hold only blanks or a comment. */
static size_t yskip_loose_lines(const tdoc *d, size_t p, size_t end)
{
	while (p < end) {
		size_t q = p, e = fr_line_end(d->t, d->len, p);
		while (q < e && (d->t[q] == ' ' || d->t[q] == '\t'))
			q++;
		if (q < e && d->t[q] != '#' && d->t[q] != '\r')
			break;
		p = e < d->len ? e + 1 : e;
	}
	return p;
}

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
			/*
			 * a tag with nothing after it ("a: !!str,", "a:!!t,", "!!str,") would
			 * take in the '}': a blank stays
			 */
			size_t es = entry_start(d, n, i - 1);
			a = n->kids[i - 1]->end;
			b = n->kids[i]->end;
			if (d->fmt == FMT_YAML && es < a && ytag_ends(d->t + es, a - es))
				return fr_text_splice(out, d->t, d->len, a, b, " ", 1);
		}
		return fr_text_splice(out, d->t, d->len, a, b, "", 0);
	}
	if (n->n == 1 && k >= 2) {
		/* the last entry of a nested block collection: it stays, empty, its tag and anchor too */
		piece pc;
		fr_buf props = FR_BUF_INIT;
		int rc;
		memset(&pc, 0, sizeof pc);
		pc.v = n->kind == T_MAP ? json_object() : json_array();
		if (pc.v && d->fmt == FMT_YAML && n->props) {
			yprops_text(d, n, &props);
			fr_buf_puts(&props, n->kind == T_MAP ? "{}" : "[]");
			pc.raw = props.ptr;
			pc.rawlen = props.len;
			pc.raw_base = fr_col_of(d->t, entry_start(d, c->node[k - 2], c->idx[k - 2]));
			pc.raw_col = fr_col_of(d->t, n->start);
		}
		rc = pc.v && !props.oom ? ed_replace(d, c->node[k - 2], c->idx[k - 2], n, &pc, out) : -1;
		json_decref(pc.v);
		fr_buf_release(&props);
		return rc;
	}
	if (n->n == 1 && n->kind == T_SEQ) {
		/*
		 * the last item of a top-level block list: the list stays, "[]" (not
		 * no document), after its anchor and tag ("&a !t" above the dash)
		 */
		return fr_text_splice(out, d->t, d->len, entry_start(d, n, 0), entry_vend(d, n, 0),
		                      "[]", 2);
	}
	if (n->n == 1 && n->kind == T_MAP && yleaves_flow(d, n)) {
		/* the last key of a top-level mapping (an anchor or tag, a "..."): "{}" stays */
		return fr_text_splice(out, d->t, d->len, n->kstart[0], entry_vend(d, n, 0), "{}", 2);
	}
	a = entry_start(d, n, i);
	if (fr_blank_between(d->t, fr_line_start(d->t, a), a)) {
		a = fr_line_start(d->t, a);
		b = fr_line_end(d->t, d->len, entry_vend(d, n, i));
		if (b < d->len)
			b++;
		/*
		 * after an entry whose value ends in a block scalar, the blank and
		 * comment lines that follow would join that scalar's value: they go
		 */
		if (i && n->kids[i - 1]->bend) {
			size_t next = i + 1 < n->n ? fr_line_start(d->t, entry_start(d, n, i + 1)) : d->len;
			b = yskip_loose_lines(d, b, next);
		}
	} else if (i + 1 < n->n) {
		b = entry_start(d, n, i + 1);
	} else {
		fr_buf_puts(err, "cannot remove an entry written on the line of another");
		return -1;
	}
	return fr_text_splice(out, d->t, d->len, a, b, "", 0);
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
 * 0, or -1 with a message when node (at the first nc components) holds a
 * YAML anchor: aliases elsewhere may refer to it, so replacing, removing or
 * moving it would leave them pointing at nothing (or past their anchor).
 */
static int anchor_refused(const tnode *node, char **comps, size_t nc, const char *file,
                          fr_buf *err)
{
	char *p;
	if (!node->anchor)
		return 0;
	p = join_comps(comps, nc);
	fr_buf_printf(err, "'%s' in '%s' holds a YAML anchor (&name) that aliases may refer to; "
	              "ops do not replace, remove or move it", nc && p ? p : "the document",
	              file);
	fr_free(p);
	return -1;
}

/*
 * 0, or -1 with a message when the key of node has an anchor or a tag
 * (&k a:, !!str a:): removing or renaming the entry would lose it.
 */
static int keyprops_refused(const tnode *node, char **comps, size_t nc, const char *file,
                            fr_buf *err)
{
	char *p;
	if (!node->keyprops)
		return 0;
	p = join_comps(comps, nc);
	fr_buf_printf(err, "the key '%s' in '%s' has a YAML anchor or tag (&name, !name); ops do "
	              "not remove or rename it", p ? p : "?", file);
	fr_free(p);
	return -1;
}

/* The text of node (child i of parent) as a piece can carry it (pc->raw), or 0 when none. */
static int raw_of(const tdoc *d, const tnode *parent, size_t i, const tnode *node, piece *pc)
{
	size_t at;
	if (node->empty || !(d->fmt == FMT_JSON || parent->kind == T_MAP || yinline_node(node)))
		return 0;
	/* the key's or the dash's place: where the text goes back is told by it */
	at = entry_start(d, parent, i);
	pc->raw = d->t + node->start;
	pc->rawlen = node->end - node->start;
	pc->raw_base = d->fmt == FMT_JSON ? fr_indent_len(d->t, d->len, at) : fr_col_of(d->t, at);
	pc->raw_col = fr_col_of(d->t, node->start);
	pc->raw_block = d->fmt == FMT_YAML && !yinline_node(node);
	pc->raw_chomp = node->unclosed ? node->chomp - node->start + 1 : 0;
	pc->raw_bend = node->bend;
	return 1;
}

/*
 * 0, or -1 with a message when node (child i of parent, at the first nc
 * components) holds a YAML tag (!t) and its old text could not go back in
 * its place as it is: the undo would put back the value without its tag.
 * leaves: the entry goes (a remove, a move).
 */
static int tag_refused(const tdoc *d, const tnode *parent, size_t i, const tnode *node,
                       int leaves, char **comps, size_t nc, const char *file, fr_buf *err)
{
	piece pc;
	char *p;
	/*
	 * the last entry of a top-level block list, or of a top-level block
	 * mapping with an anchor or tag, leaves "[]" or "{}": it would go back
	 * into that (ed_remove())
	 */
	int to_flow = yleaves_flow(d, parent);
	memset(&pc, 0, sizeof pc);
	/* a remove or move: a block collection's only entry leaves "{}" or "[]" in a value */
	if (leaves && parent != d->root && !parent->flow && parent->n == 1)
		to_flow = 1;
	if (!node->tagged || (raw_of(d, parent, i, node, &pc) &&
	                      fr_yraw_fits(&pc, parent->flow ? YP_FLOW :
	                                   parent->kind == T_MAP ? YP_MAP : YP_SEQ) &&
	                      (!to_flow || fr_yraw_fits(&pc, YP_FLOW))))
		return 0;
	p = join_comps(comps, nc);
	fr_buf_printf(err, "'%s' in '%s' holds a YAML tag (!name) that its undo could not put "
	              "back; ops do not replace or remove it", p ? p : "?", file);
	fr_free(p);
	return -1;
}

/*
 * 0, or -1 with a message when node is the missing value of a key in a YAML
 * flow mapping ({a, b}) whose text spans lines ("!t" above "b"): a ':'
 * after it makes it an implicit key, which must stand on one line.
 */
static int split_key_refused(const tdoc *d, const tnode *parent, size_t i, const tnode *node,
                             char **comps, size_t nc, const char *file, fr_buf *err)
{
	char *p;
	if (d->fmt != FMT_YAML || !parent->flow || parent->kind != T_MAP || !node->empty ||
	    !fr_has_newline(d->t, parent->kstart[i], parent->kend[i]))
		return 0;
	p = join_comps(comps, nc);
	fr_buf_printf(err, "cannot give '%s' in '%s' a value: its key is written over more than "
	              "one line in a flow mapping ({...}), where a key with a value must stand on "
	              "one line; write it on one line first", p ? p : "?", file);
	fr_free(p);
	return -1;
}

/*
 * For a YAML value with a tag (!t), which its value alone does not say:
 * the last undo entry of sem gets the old text, so that a restore writes it
 * back as it was ("src", "src_base", "src_col", "src_block": raw_of()).
 */
static int sem_src(json_t *sem, const tdoc *d, const tnode *parent, size_t i,
                   const tnode *node)
{
	json_t *e = json_array_get(sem, json_array_size(sem) - 1), *txt;
	fr_buf raw = FR_BUF_INIT;
	piece pc;
	memset(&pc, 0, sizeof pc);
	if (!node->tagged || !raw_of(d, parent, i, node, &pc))
		return 0;
	/* an unclosed block scalar's text is kept made strip: it goes back anywhere */
	fr_yclosed_text(&raw, d->t, node->start, node->end, node);
	if (raw.oom) {
		fr_buf_release(&raw);
		return -1;
	}
	txt = json_stringn(raw.ptr ? raw.ptr : "", raw.len);
	fr_buf_release(&raw);
	if (!txt)
		return 0; /* not UTF-8: libyaml did not read it either */
	return json_object_set_new(e, "src", txt) ||
	       json_object_set_new(e, "src_base", json_integer((json_int_t)pc.raw_base)) ||
	       json_object_set_new(e, "src_col", json_integer((json_int_t)pc.raw_col)) ||
	       json_object_set_new(e, "src_block", json_boolean(pc.raw_block)) ||
	       (pc.raw_bend && json_object_set_new(e, "src_bend", json_true())) ? -1 : 0;
}

/*
 * The last undo entry of sem, the new name of a key renamed in its own
 * mapping, gets "renamed_from": its restore renames it back in place, so
 * that its value, its comments and its text stay as they are (an optional
 * member: without it, or where the rename back cannot be made, the new
 * name is removed and the older entry writes the old one again).
 */
static int sem_renamed_from(json_t *sem, const char *from)
{
	json_t *s;
	if (!from)
		return -1; /* out of memory joining the name */
	if (!(s = json_string(from)))
		return 0; /* not UTF-8: the remove and the set do it */
	return json_object_set_new(json_array_get(sem, json_array_size(sem) - 1), "renamed_from", s)
	               ? -1
	               : 0;
}

/*
 * The last undo entry of sem is the set that made a null document (root) a
 * mapping: "null_root" and the root's old text ("src": "null", "~", "!t"),
 * which the restore puts back once the mapping is gone.
 */
static int sem_null_root(json_t *sem, const tdoc *d, const tnode *root)
{
	json_t *e = json_array_get(sem, json_array_size(sem) - 1);
	json_t *txt = json_stringn(d->t + root->start, root->end - root->start);
	if (!txt)
		return -1;
	return json_object_set_new(e, "null_root", json_true()) ||
	       json_object_set_new(e, "src", txt) ? -1 : 0;
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
		if (anchor_refused(node, comps, nc, file, err) ||
		    tag_refused(&d, parent, i, node, 0, comps, nc, file, err) ||
		    split_key_refused(&d, parent, i, node, comps, nc, file, err))
			goto fail;
		if (ed_replace(&d, parent, i, node, pc, out) || sem_add(sem, comps, nc, old, 0) ||
		    sem_src(sem, &d, parent, i, node))
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
				fr_render_json(out, whole, "", d.unit, 1);
			} else {
				/* before a document end marker ("..."): after it, it would be another */
				size_t at = ydoc_end(t, len);
				fr_buf_add(out, t, at);
				if (at && t[at - 1] != '\n')
					fr_buf_putc(out, '\n');
				if (nc == 1 && pc->raw) {
					/* a value put back with its old text (its tag): "key: <text>" */
					fr_buf txt = FR_BUF_INIT;
					size_t bcol = 0;
					int block = 0, bad = render_key(out, &d, comps[0]) ||
					                 fr_ypiece(&txt, &d, pc, 0, YP_MAP, &block, &bcol);
					fr_buf_putc(out, ':');
					if (block) {
						fr_buf_putc(out, '\n');
						fr_add_spaces(out, bcol);
					} else {
						fr_buf_putc(out, ' ');
					}
					fr_buf_add(out, txt.ptr, txt.len);
					fr_buf_release(&txt);
					if (bad)
						goto oom;
				} else if (fr_render_yaml(out, whole, 0, strlen(d.unit))) {
					goto oom;
				}
			}
			fr_buf_putc(out, '\n');
			if (fmt == FMT_YAML)
				fr_buf_add(out, t + ydoc_end(t, len), len - ydoc_end(t, len));
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
			if (anchor_refused(cur, comps, k, file, err) ||
			    (k && tag_refused(&d, c.node[k - 1], c.idx[k - 1], cur, 0, comps, k, file, err)) ||
			    (k && split_key_refused(&d, c.node[k - 1], c.idx[k - 1], cur, comps, k, file,
			                            err)))
				goto fail;
			if (!(sub.v = whole = nest(comps + k, nc - k, pc->v)))
				goto oom;
			if (ed_replace(&d, k ? c.node[k - 1] : NULL, k ? c.idx[k - 1] : 0, cur, &sub, out))
				goto oom;
			old = json_null();
			if (k ? sem_add(sem, comps, k, old, 0) ||
			        sem_src(sem, &d, c.node[k - 1], c.idx[k - 1], cur)
			      : sem_add(sem, comps, 1, NULL, 0))
				goto oom;
			/* a document that was null: its undo makes it null again, not {} */
			if (!k && sem_null_root(sem, &d, cur))
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
	fr_tdoc_free(&d);
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
	if (anchor_refused(c.node[nc], comps, nc, file, err) ||
	    keyprops_refused(c.node[nc], comps, nc, file, err) ||
	    tag_refused(&d, c.node[nc - 1], c.idx[nc - 1], c.node[nc], 1, comps, nc, file, err) ||
	    ed_remove(&d, &c, nc, out, err))
		goto done;
	if (sem_add(sem, comps, nc, old, c.node[nc - 1]->kind == T_SEQ) ||
	    sem_src(sem, &d, c.node[nc - 1], c.idx[nc - 1], c.node[nc])) {
		fr_buf_printf(err, "cannot edit '%s': out of memory", file);
		goto done;
	}
	*changed = 1;
	ret = 0;
done:
	json_decref(old);
	fr_tdoc_free(&d);
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

static const char *yvalue_key_refused(const json_t *value);

/* 1 when a and b have tags (and anchors) at the same nodes. */
static int tags_same(const tnode *a, const tnode *b)
{
	size_t i;
	if (a->props != b->props || a->tagged != b->tagged || a->kind != b->kind || a->n != b->n)
		return 0;
	for (i = 0; a->tagged && i < a->n; i++)
		if (!tags_same(a->kids[i], b->kids[i]))
			return 0;
	return 1;
}

/*
 * 1 when node of d, moved to the key path to in the text out, has its tags
 * there still; 0 when not, -1 with a message (out not valid, out of memory).
 */
static int moved_tags_kept(const tnode *node, const fr_buf *out, char **to, size_t nt,
                           const char *file, fr_buf *err)
{
	tdoc e;
	tchain c;
	int kept;
	if (tdoc_parse(&e, FMT_YAML, out->ptr ? out->ptr : "", out->len, file, err))
		return -1;
	tchain_walk(&e, to, nt, &c);
	kept = c.depth == nt && tags_same(node, c.node[nt]);
	fr_tdoc_free(&e);
	return kept;
}

static int tree_rename_comps(int fmt, const char *t, size_t len, const char *file, char **from,
                       size_t nf, char **to, size_t nt, int if_missing, fr_buf *out,
                       int *changed, json_t *sem, fr_buf *err)
{
	tdoc d;
	tchain cf, ct;
	fr_buf mid = FR_BUF_INIT;
	piece pc;
	char *fs = join_comps(from, nf), *ts = join_comps(to, nt);
	const char *bad;
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
		int in_place = nf == nt && parent->kind == T_MAP && comps_within(to, nt - 1, from, nf - 1);
		if (!(pc.v = node_value(&d, node, from, nf, file, err)) ||
		    anchor_refused(node, from, nf, file, err) ||
		    keyprops_refused(node, from, nf, file, err) ||
		    tag_refused(&d, parent, i, node, !in_place, from, nf, file, err))
			goto done;
		if (in_place) {
			/* a new name in the same mapping: only the key's text changes */
			fr_buf key = FR_BUF_INIT;
			size_t kend = parent->kend[i];
			size_t colon = d.fmt == FMT_YAML ? ycolon(&d, kend) : kend;
			int rc = render_key(&key, &d, to[nt - 1]);
			/*
			 * a ':' right before the value ("port":false) follows a quoted key
			 * only: after a plain one it is part of the text (seort:false, a key
			 * without a value), so a blank goes after it
			 */
			if (!rc && colon + 1 < len && t[colon] == ':' &&
			    !strchr(" \t\r\n", t[colon + 1]) && key.len && key.ptr[0] != '"' &&
			    key.ptr[0] != '\'') {
				fr_buf_add(&key, t + kend, colon + 1 - kend);
				fr_buf_putc(&key, ' ');
				kend = colon + 1;
				rc = key.oom ? -1 : 0;
			}
			rc = rc || fr_text_splice(out, t, len, parent->kstart[i], kend, key.ptr,
			                          key.len);
			fr_buf_release(&key);
			if (rc || sem_add(sem, from, nf, pc.v, 0) || sem_src(sem, &d, parent, i, node) ||
			    sem_add(sem, to, nt, NULL, 0) || sem_renamed_from(sem, fs)) {
				fr_buf_printf(err, "cannot edit '%s': out of memory", file);
				goto done;
			}
			*changed = 1;
			ret = 0;
			goto done;
		}
		/* moved, the value is written again: keys libyaml would write as "? key" are not */
		if (fmt == FMT_YAML && (bad = yvalue_key_refused(pc.v)) != NULL) {
			fr_buf_printf(err, "cannot write the key '%.40s' in '%s': a YAML key of "
			              "more than 128 bytes or with a line break", bad, file);
			goto done;
		}
		raw_of(&d, parent, i, node, &pc);
		if (ed_remove(&d, &cf, nf, &mid, err))
			goto done;
		if (sem_add(sem, from, nf, pc.v, parent->kind == T_SEQ) ||
		    sem_src(sem, &d, parent, i, node))
			goto done;
	}
	if (tree_put(fmt, mid.ptr, mid.len, file, to, nt, &pc, 0, 0, out, &ch, sem, err))
		goto done;
	if (fmt == FMT_YAML && cf.node[nf]->tagged) {
		/* where its text could not go as it is, it was written anew: without its tags? */
		int kept = moved_tags_kept(cf.node[nf], out, to, nt, file, err);
		if (kept <= 0) {
			if (!kept)
				fr_buf_printf(err, "cannot move '%s' to '%s' in '%s': it holds a YAML tag "
				              "(!name) that would be lost there, where its text cannot go "
				              "as it is (into a flow collection, or where the mappings on "
				              "the way are made); move it into a block mapping or list that "
				              "is there already", fs, ts, file);
			goto done;
		}
	}
	*changed = 1;
	ret = 0;
done:
	fr_tdoc_free(&d);
out:
	json_decref(pc.v);
	fr_buf_release(&mid);
	fr_free(fs);
	fr_free(ts);
	return ret;
}



/* One assignment line: [ls, le) the line, [ks, ke) the name, [vs, ve) the value as written. */

/* ---- the members of fr_ed_json and fr_ed_yaml ------------------------------ */

/*
 * 1 when libyaml's emitter writes key as a simple key. One of more than 128
 * bytes or with a line break it writes as "? key", which the YAML editor
 * refuses to edit (edit_yaml.c): set and rename refuse to write it.
 */
static int ykey_simple(const char *key)
{
	return strlen(key) <= 128 && !strpbrk(key, "\r\n") && !strstr(key, "\xC2\x85") &&
	       !strstr(key, "\xE2\x80\xA8") && !strstr(key, "\xE2\x80\xA9");
}

/* The first key of value's mappings (at any depth) that is not simple, or NULL. */
static const char *yvalue_key_refused(const json_t *value)
{
	const char *k, *bad;
	const json_t *v;
	size_t i;
	json_object_foreach((json_t *)value, k, v)
		if (!ykey_simple(k) || (bad = yvalue_key_refused(v)) != NULL)
			return ykey_simple(k) ? bad : k;
	json_array_foreach(value, i, v)
		if ((bad = yvalue_key_refused(v)) != NULL)
			return bad;
	return NULL;
}

/* 0, or -1 with a message when a YAML edit would write a key the editor cannot read back. */
static int ykeys_check(int fmt, fr_edit *e, char **comps, size_t n, const json_t *value)
{
	const char *bad = NULL;
	size_t i;
	if (fmt != FMT_YAML)
		return 0;
	for (i = 0; i < n && !bad; i++)
		if (!ykey_simple(comps[i]))
			bad = comps[i];
	if (!bad && value)
		bad = yvalue_key_refused(value);
	if (!bad)
		return 0;
	fr_buf_printf(e->err, "cannot write the key '%.40s' in '%s': a YAML key of more than 128 "
	              "bytes or with a line break", bad, e->file);
	return -1;
}

/*
 * set of pc (pc->raw: its text as it was, when it fits where it goes);
 * insert: put the value before the list item at key rather than in its place.
 */
static int tree_set_piece(int fmt, fr_edit *e, const char *key, const piece *pc,
                          int if_missing, int insert)
{
	char **a;
	size_t na;
	int ret;

	if (fr_split_keypath(key, &a, &na)) {
		fr_buf_printf(e->err, "not a key path: '%s'", key);
		return -1;
	}
	ret = tree_put(fmt, e->t, e->len, e->file, a, na, pc, if_missing, insert, e->out,
	               &e->changed, e->undo, e->err);
	fr_free_comps(a, na);
	return ret;
}

static int tree_set_at(int fmt, fr_edit *e, const char *key, json_t *value, int if_missing,
                       int insert)
{
	piece pc;
	memset(&pc, 0, sizeof pc);
	pc.v = value;
	return tree_set_piece(fmt, e, key, &pc, if_missing, insert);
}

int fr_tree_set(int fmt, fr_edit *e, const char *key, json_t *value, int if_missing)
{
	char **a;
	size_t na;
	int bad;
	if (fr_split_keypath(key, &a, &na) == 0) {
		bad = ykeys_check(fmt, e, a, na, value);
		fr_free_comps(a, na);
		if (bad)
			return -1;
	}
	return tree_set_at(fmt, e, key, value, if_missing, 0);
}

int fr_tree_remove(int fmt, fr_edit *e, const char *key)
{
	char **a;
	size_t na;
	int ret;

	if (fr_split_keypath(key, &a, &na)) {
		fr_buf_printf(e->err, "not a key path: '%s'", key);
		return -1;
	}
	ret = tree_delete(fmt, e->t, e->len, e->file, a, na, e->out, &e->changed, e->undo, e->err);
	fr_free_comps(a, na);
	return ret;
}

int fr_tree_rename(int fmt, fr_edit *e, const char *from, const char *to, int if_missing)
{
	char **a = NULL, **b = NULL;
	size_t na = 0, nb = 0;
	int ret = -1;

	if (fr_split_keypath(from, &a, &na) || fr_split_keypath(to, &b, &nb))
		fr_buf_printf(e->err, "not a key path: '%s'", to);
	else if (ykeys_check(fmt, e, b, nb, NULL) == 0)
		ret = tree_rename_comps(fmt, e->t, e->len, e->file, a, na, b, nb, if_missing, e->out,
		                        &e->changed, e->undo, e->err);
	fr_free_comps(a, na);
	fr_free_comps(b, nb);
	return ret;
}

/*
 * After the restore of an entry with "null_root" (a document that was null
 * until a set made it a mapping): the document, e->out when changed, gets
 * its old text back ("src") once its mapping is empty or gone. 0 or -1.
 */
static int tree_null_root(int fmt, fr_edit *e, const json_t *entry)
{
	tdoc d;
	fr_buf err = FR_BUF_INIT, tmp = FR_BUF_INIT;
	const json_t *src = json_object_get(entry, "src");
	const char *t = e->changed ? e->out->ptr : e->t, *old = "null";
	size_t len = e->changed ? e->out->len : e->len, olen = 4;
	int rc = 0, parsed;
	if (json_is_string(src)) {
		old = json_string_value(src);
		olen = json_string_length(src);
	}
	parsed = tdoc_parse(&d, fmt, t, len, e->file, &err) == 0;
	if (parsed && !d.root && fmt == FMT_YAML) {
		/* after what is left (comments): on a line of its own, but right after a BOM */
		fr_buf_add(&tmp, t, len);
		if (len && t[len - 1] != '\n' && !(len == 3 && !memcmp(t, "\xEF\xBB\xBF", 3)))
			fr_buf_putc(&tmp, '\n');
		fr_buf_add(&tmp, old, olen);
		rc = tmp.oom ? -1 : 0;
	}
	if (parsed && d.root && d.root->kind == T_MAP && !d.root->n && d.root->flow)
		rc = fr_text_splice(&tmp, t, len, d.root->start, d.root->end, old, olen);
	if (parsed && tmp.len) {
		if (!rc) {
			fr_buf_reset(e->out);
			fr_buf_add(e->out, tmp.ptr, tmp.len);
			rc = e->out->oom ? -1 : 0;
			e->changed = !rc;
		}
	}
	fr_tdoc_free(&d);
	fr_buf_release(&err);
	fr_buf_release(&tmp);
	return rc;
}

/* The piece an undo entry puts back: its old value, and its old text when sem_src() kept it. */
static const piece *entry_piece(const json_t *entry, json_t *old, piece *pc)
{
	const json_t *src = json_object_get(entry, "src");
	const json_t *base = json_object_get(entry, "src_base");
	const json_t *col = json_object_get(entry, "src_col");
	memset(pc, 0, sizeof *pc);
	pc->v = old;
	if (json_is_string(src) && json_is_integer(base) && json_is_integer(col) &&
	    json_integer_value(base) >= 0 && json_integer_value(col) >= 0) {
		pc->raw = json_string_value(src);
		pc->rawlen = json_string_length(src);
		pc->raw_base = (size_t)json_integer_value(base);
		pc->raw_col = (size_t)json_integer_value(col);
		pc->raw_block = json_is_true(json_object_get(entry, "src_block"));
		pc->raw_bend = json_is_true(json_object_get(entry, "src_bend"));
	}
	return pc;
}

/*
 * 1 when entry (key absent, "renamed_from": its old name) was put back by
 * renaming key to its old name in place, e->out the text; 0 when that
 * could not be done (the old name is there again, the key is gone): the
 * caller removes the key as for any other entry.
 */
static int tree_rename_back(int fmt, fr_edit *e, const json_t *entry, const char *key)
{
	const json_t *rf = json_object_get(entry, "renamed_from");
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *scratch;
	fr_edit sub = *e;
	int done = 0;
	if (!json_is_string(rf) || !(scratch = json_array()))
		return 0;
	sub.out = &out;
	sub.err = &err;
	sub.undo = scratch;
	sub.changed = 0;
	if (fr_tree_rename(fmt, &sub, key, json_string_value(rf), 0) == 0 && sub.changed &&
	    !out.oom) {
		fr_buf_reset(e->out);
		fr_buf_add(e->out, out.ptr, out.len);
		done = !e->out->oom;
		e->changed = done;
	}
	json_decref(scratch);
	fr_buf_release(&out);
	fr_buf_release(&err);
	return done;
}

/*
 * An entry of sem_add(): the old value goes back (into its list, when
 * insert), or away (and with "null_root" the document is null again).
 */
int fr_tree_restore(int fmt, fr_edit *e, const json_t *entry)
{
	const json_t *p = json_object_get(entry, "path");
	const char *key = json_is_string(p) ? json_string_value(p) : NULL;
	json_t *old = json_object_get(entry, "old");
	fr_buf why = FR_BUF_INIT;
	fr_edit sub = *e;
	piece pc;
	int ret;

	if (!key)
		return fr_ed_restore_damaged(e);
	sub.err = &why;
	if (json_is_true(json_object_get(entry, "absent")))
		ret = tree_rename_back(fmt, &sub, entry, key) ? 0 : fr_tree_remove(fmt, &sub, key);
	else if (!old)
		return fr_ed_restore_damaged(e);
	else
		ret = tree_set_piece(fmt, &sub, key, entry_piece(entry, old, &pc), 0,
		                     json_is_true(json_object_get(entry, "insert")));
	e->changed = sub.changed;
	if (!ret && json_is_true(json_object_get(entry, "null_root")) &&
	    tree_null_root(fmt, e, entry)) {
		fr_buf_puts(&why, "out of memory");
		ret = -1;
	}
	if (ret)
		fr_ed_restore_failed(e, key, why.ptr);
	fr_buf_release(&why);
	return ret;
}
