/*
 * edit.c - what the editors share: which editor a file gets (by its
 * name), key paths, numbers written as text, and restore()'s messages.
 */
#include "edit_int.h"
#include "../../util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fr_editor *const editors[] = { &fr_ed_json, &fr_ed_yaml, &fr_ed_env, NULL };

const fr_editor *fr_ed_for_file(const char *path)
{
	const char *b = fr_base_name(path);
	if (fr_ends_with(b, ".json"))
		return &fr_ed_json;
	if (fr_ends_with(b, ".yaml") || fr_ends_with(b, ".yml"))
		return &fr_ed_yaml;
	if (!strcmp(b, ".env") || !strncmp(b, ".env.", 5) || fr_ends_with(b, ".env"))
		return &fr_ed_env;
	return NULL;
}

const fr_editor *fr_ed_named(const char *name)
{
	size_t i;
	for (i = 0; editors[i]; i++)
		if (!strcmp(editors[i]->name, name))
			return editors[i];
	return NULL;
}

int fr_split_keypath(const char *path, char ***out, size_t *n)
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

void fr_free_comps(char **v, size_t n)
{
	while (n)
		fr_free(v[--n]);
	fr_free(v);
}

int fr_ed_keypath_ok(const char *path)
{
	char **comps;
	size_t n;
	if (fr_split_keypath(path, &comps, &n))
		return 0;
	fr_free_comps(comps, n);
	return 1;
}

void fr_fmt_real(double d, char *buf, size_t n)
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

int fr_ed_restore_failed(fr_edit *e, const char *key, const char *why)
{
	fr_buf_printf(e->err, "cannot put back '%s' in '%s': %s", key, e->file, why);
	return -1;
}

int fr_ed_restore_damaged(fr_edit *e)
{
	fr_buf_printf(e->err, "the undo record of '%s' is damaged", e->file);
	return -1;
}
