/*
 * edit_env.c - the .env editor (fr_ed_env): "[export ]NAME=value [# comment]"
 * lines edited one at a time. The last assignment of a name is the one
 * that counts, as in a shell; a value is written bare when it can be,
 * else quoted in the style the old one had. Every other line, comments
 * and blank lines included, stays as it is. The undo of a remove or a
 * rename keeps the whole lines it took away and their line numbers, so
 * that a restore puts them back as they were ('export', spacing, comment)
 * at their place, even after later changes (then at the same line number,
 * or at the end of a file that has fewer lines now).
 */
#include "edit_int.h"
#include "../../util/alloc.h"
#include "../../util/base64.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct {
	size_t ls, le, ks, ke, vs, ve;
} envline;

/* A character of a NAME, as env_line() reads one. */
static int env_name_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("_.-", c));
}

int fr_ed_env_name_ok(const char *name)
{
	const char *c;
	for (c = name; *c && env_name_char(*c); c++)
		;
	return c > name && !*c;
}

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
	while (p < le && env_name_char(t[p]))
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
		size_t le = fr_line_end(t, len, ls);
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
	if (!q && *v && fr_all_in(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
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
	json_t *e = json_object(), *r;
	if (!e)
		return NULL;
	json_object_set_new(e, "key", json_string(key));
	if (!raw) {
		json_object_set_new(e, "absent", json_true());
	} else if ((r = json_stringn(raw, rawlen)) != NULL) {
		json_object_set_new(e, "raw", r);
	} else {
		/* not UTF-8 (a Latin-1 value): its bytes, as the file's are kept */
		fr_buf b = FR_BUF_INIT;
		fr_base64_encode(&b, raw, rawlen);
		json_object_set_new(e, "raw_base64", b.oom ? NULL : json_stringn(b.ptr, b.len));
		fr_buf_release(&b);
	}
	return e;
}

/* A text as a JSON string when it is UTF-8, else its bytes in base64 (NULL: no memory). */
static int env_put_text(json_t *o, const char *name, const char *t, size_t n)
{
	json_t *s = json_stringn(t, n);
	fr_buf k = FR_BUF_INIT, b = FR_BUF_INIT;
	int rc;
	if (s)
		return json_object_set_new(o, name, s);
	fr_buf_printf(&k, "%s_base64", name);
	fr_base64_encode(&b, t, n);
	rc = k.oom || b.oom ? -1 : json_object_set_new(o, k.ptr, json_stringn(b.ptr, b.len));
	fr_buf_release(&k);
	fr_buf_release(&b);
	return rc;
}

/*
 * Adds to undo entry se the n assignment lines v of t as they are, each with
 * its line number: "lines": [{"at": 3, "text": "export A=1 # x"}, ...].
 */
static int env_sem_lines(json_t *se, const char *t, const envline *v, size_t n)
{
	json_t *arr = json_array();
	size_t i, line = 0, p = 0;
	if (!se || !arr || json_object_set_new(se, "lines", arr))
		return -1;
	for (i = 0; i < n; i++) {
		json_t *l = json_object();
		for (; p < v[i].ls; p++)
			line += t[p] == '\n';
		if (!l || json_array_append_new(arr, l) ||
		    json_object_set_new(l, "at", json_integer((json_int_t)line)) ||
		    env_put_text(l, "text", t + v[i].ls, v[i].le - v[i].ls))
			return -1;
	}
	return 0;
}

/* Appends to sem the undo of taking away the assignments v of key (the last one's value). */
static int env_sem_taken(json_t *sem, const char *t, const char *key, const envline *v, size_t n)
{
	json_t *se = env_sem(key, t + v[n - 1].vs, v[n - 1].ve - v[n - 1].vs);
	if (env_sem_lines(se, t, v, n)) {
		json_decref(se);
		return -1;
	}
	return json_array_append_new(sem, se);
}

/*
 * Puts the lines of an undo entry's "lines" back into t at their line
 * numbers (past the end: at the end). -1 when the entry is damaged.
 */
static int env_put_lines(const char *t, size_t len, const json_t *lines, fr_buf *out)
{
	size_t i, pos = 0, at = 0;
	const json_t *l;
	fr_buf_reset(out);
	json_array_foreach(lines, i, l) {
		const json_t *a = json_object_get(l, "at"), *x = json_object_get(l, "text");
		const json_t *x64 = json_object_get(l, "text_base64");
		if (!json_is_integer(a) || json_integer_value(a) < 0 ||
		    !(json_is_string(x) || json_is_string(x64)))
			return -1;
		while (at < (size_t)json_integer_value(a) && pos < len) {
			size_t le = fr_line_end(t, len, pos);
			le = le < len ? le + 1 : len;
			fr_buf_add(out, t + pos, le - pos);
			pos = le;
			at++;
		}
		if (out->len && out->ptr[out->len - 1] != '\n')
			fr_buf_putc(out, '\n');
		if (json_is_string(x))
			fr_buf_add(out, json_string_value(x), json_string_length(x));
		else if (fr_base64_decode(out, json_string_value(x64)))
			return -1;
		fr_buf_putc(out, '\n');
		at++;
	}
	fr_buf_add(out, t + pos, len - pos);
	return 0;
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
		/* an empty value right before its " # comment": keep a blank between them */
		if (nv.len && e->ve < e->le && t[e->ve] == '#')
			fr_buf_putc(&nv, ' ');
		if (fr_text_splice(out, t, len, e->vs, e->ve, nv.ptr, nv.len) ||
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
	if (out->oom || env_sem_taken(sem, t, key, v, n))
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
	if (out->oom || env_sem_taken(sem, t, from, vf, nf) ||
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
		fr_fmt_real(json_real_value(v), num, sizeof num);
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

/* ---- the members of fr_ed_env --------------------------------------------- */

/*
 * 0 when the document is text; -1 with a message when it holds a NUL byte
 * (old values are kept as strings for the undo: a NUL would cut one short).
 */
static int env_is_text(fr_edit *e)
{
	if (!memchr(e->t, '\0', e->len))
		return 0;
	fr_buf_printf(e->err, "'%s' holds a NUL byte (not a .env text file)", e->file);
	return -1;
}

static int env_set_value(fr_edit *e, const char *key, json_t *value, int if_missing)
{
	char *ev;
	int ret;
	if (env_is_text(e))
		return -1;
	ev = env_text(value);
	if (!ev) {
		fr_buf_printf(e->err, "a value in '%s' must be a string, not a list or mapping",
		              e->file);
		return -1;
	}
	ret = env_set(e->t, e->len, e->file, key, ev, 0, if_missing, e->out, &e->changed, e->undo,
	              e->err);
	fr_free(ev);
	return ret;
}

static int env_remove(fr_edit *e, const char *key)
{
	if (env_is_text(e))
		return -1;
	return env_delete(e->t, e->len, e->file, key, e->out, &e->changed, e->undo, e->err);
}

static int env_rename_key(fr_edit *e, const char *from, const char *to, int if_missing)
{
	if (env_is_text(e))
		return -1;
	return env_rename(e->t, e->len, e->file, from, to, if_missing, e->out, &e->changed,
	                  e->undo, e->err);
}

/*
 * An entry of env_sem(): the old text after '=' goes back, or the variable
 * away; a variable that is not there gets its lines back when the entry has
 * them (a remove, a rename), else "NAME=old" at the end.
 */
/* 1 when t has no assignment of key (0 when memory runs out: the set path says so). */
static int env_absent(const char *t, size_t len, const char *key)
{
	size_t n;
	envline *v = env_find(t, len, key, &n);
	fr_free(v);
	return n == 0;
}

static int env_restore(fr_edit *e, const json_t *entry)
{
	const json_t *k = json_object_get(entry, "key"), *r = json_object_get(entry, "raw");
	const char *key = json_is_string(k) ? json_string_value(k) : NULL;
	fr_buf why = FR_BUF_INIT;
	int ret;

	if (!key)
		return fr_ed_restore_damaged(e);
	if (json_is_true(json_object_get(entry, "absent"))) {
		ret = env_delete(e->t, e->len, e->file, key, e->out, &e->changed, e->undo, &why);
	} else if (json_is_array(json_object_get(entry, "lines")) && env_absent(e->t, e->len, key)) {
		if (env_put_lines(e->t, e->len, json_object_get(entry, "lines"), e->out)) {
			fr_buf_release(&why);
			return fr_ed_restore_damaged(e);
		}
		ret = e->out->oom ? -1 : 0;
		if (ret)
			fr_buf_puts(&why, "out of memory");
		e->changed = !ret;
		if (!ret && json_array_append_new(e->undo, env_sem(key, NULL, 0)))
			ret = -1;
	} else {
		const json_t *r64 = json_object_get(entry, "raw_base64");
		fr_buf raw = FR_BUF_INIT;
		if (json_is_string(r64) && fr_base64_decode(&raw, json_string_value(r64))) {
			fr_buf_release(&raw);
			fr_buf_release(&why);
			return fr_ed_restore_damaged(e);
		}
		if (!json_is_string(r64) && json_is_string(r))
			fr_buf_puts(&raw, json_string_value(r));
		ret = env_set(e->t, e->len, e->file, key, raw.ptr, 1, 0, e->out, &e->changed, e->undo,
		              &why);
		fr_buf_release(&raw);
	}
	if (ret)
		fr_ed_restore_failed(e, key, why.ptr);
	fr_buf_release(&why);
	return ret;
}

const fr_editor fr_ed_env = {
	.name = "env",
	.secret = 1,
	.set = env_set_value,
	.remove = env_remove,
	.rename = env_rename_key,
	.restore = env_restore,
};
