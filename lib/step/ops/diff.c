/*
 * diff.c - --dry-run (describe()): each op listed, played on an overlay of
 * the files it would change (nothing on disk is touched), with a note when
 * it would do nothing or be refused; then a unified diff of each file,
 * computed here (a line LCS, 3 lines of context) from the would-be
 * contents, so no diff(1) is needed.
 */
#include "ops_int.h"
#include "text.h"
#include "../../util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- unified diff -------------------------------------------------------- */

typedef struct {
	const char *p;
	size_t n;    /* with its '\n', when it has one */
} dline;

static dline *split_lines(const char *t, size_t len, size_t *n)
{
	size_t cnt = 0, i = 0, k = 0;
	dline *v;
	while (i < len) {
		i = fr_line_end(t, len, i) + 1;
		cnt++;
	}
	v = fr_calloc(cnt + 1, sizeof *v);
	if (!v)
		return NULL;
	for (i = 0; i < len; k++) {
		size_t e = fr_line_end(t, len, i);
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

/* ---- the ops played on an overlay ----------------------------------------- */

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
		fr_ops_err(R, o, "out of memory");
		return NULL;
	}
	R->ov = t;
	f = &R->ov[R->nov];
	memset(f, 0, sizeof *f);
	fr_buf_init(&f->base);
	fr_buf_init(&f->cur);
	if (!(f->abs = fr_strdup(abs))) {
		fr_ops_err(R, o, "out of memory");
		return NULL;
	}
	R->nov++;
	if (load) {
		if (fr_ops_read_target(R, o, abs, fr_ops_rel_of(R, abs), &f->cur, &f->cur_exists))
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
		if (!fr_ops_redact_value(o->file, o->path))
			v = json_dumps(o->value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
		fr_buf_printf(out, "set '%s' = %s in %s", o->path,
		              fr_ops_redact_value(o->file, o->path) ? "<redacted>" : v ? v : "?",
		              o->file);
		break;
	case OP_RENAME:
		fr_buf_printf(out, "rename '%s' to '%s' in %s", o->from, o->to, o->file);
		break;
	case OP_DELETE:
		fr_buf_printf(out, "delete '%s' from %s", o->path, o->file);
		break;
	case OP_ENV:
		/* A .env value is a secret as often as not: never shown. */
		fr_buf_printf(out, "env %s=<redacted> in %s", o->key, o->file);
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
		if (!(x = fr_ops_resolve(R, o, o->file, 1)) || !(f = ov_get(R, o, x, 1)))
			break;
		if (!f->cur_exists && (o->type == OP_DELETE || o->type == OP_RENAME)) {
			fr_buf_printf(out, "  (no change: %s does not exist)\n", o->file);
			break;
		}
		if (fr_ops_edit_text(o, f->cur.ptr, f->cur.len, &next, &ch, sem, &msg)) {
			fr_ops_err(R, o, "%s", msg.ptr);
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
		if (!(x = fr_ops_resolve(R, o, o->from, o->type == OP_COPY)) ||
		    !(y = fr_ops_resolve(R, o, o->to, 0)))
			break;
		/* a file carried along keeps the edits made to it; later ones show on its new name */
		if (stat(x, &st) == 0 && S_ISREG(st.st_mode) && (f = ov_get(R, o, x, 1)) != NULL &&
		    f->cur_exists && !(o->if_missing && fr_ops_exists(y)) && (g = ov_get(R, o, y, 0)) != NULL) {
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
		if ((x = fr_ops_resolve(R, o, o->path, 0)) != NULL) {
			size_t i;
			if (!fr_ops_exists(x))
				fr_buf_printf(out, "  (no change: %s does not exist)\n", o->path);
			for (i = 0; i < R->nov; i++)
				if (!strcmp(R->ov[i].abs, x))
					R->ov[i].hidden = 1;
		}
		break;
	default:
		x = fr_ops_resolve(R, o, o->path, 1);
	}
	if (R->err->len)
		fr_buf_printf(out, "  refused: %s\n", R->err->ptr);
	json_decref(sem);
	fr_free(x);
	fr_free(y);
	fr_buf_release(&msg);
	fr_buf_release(&next);
}

int fr_ops_dry_run(const ops_priv *p, const char *rel, const char *step_id, const char *root,
                   fr_buf *out)
{
	fr_buf err = FR_BUF_INIT;
	orun R;
	size_t i;
	int have = 0;

	fr_buf_printf(out, "# ops %s: %s (%zu op%s)\n", rel,
	              p->description ? p->description : "no description", p->nops,
	              p->nops == 1 ? "" : "s");
	if (root && fr_ops_orun_init(&R, NULL, root, rel, step_id, &err) == 0)
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
			{
				fr_buf d = FR_BUF_INIT;
				const char *label = fr_ops_rel_of(&R, f->abs);
				udiff(&d, label, f->base_exists, f->base.ptr, f->base.len, f->cur_exists,
				      f->cur.ptr, f->cur.len);
				fr_ops_redact_diff(out, label, d.ptr, d.len);
				if (d.oom)
					out->oom = 1;
				fr_buf_release(&d);
			}
		}
		fr_ops_orun_free(&R);
	}
	fr_buf_release(&err);
	return out->oom ? -1 : 0;
}
