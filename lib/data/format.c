/*
 * format.c - the values of an export's JSON lines, both ways, and the
 * order of tables that foreign keys allow (data.h). Rows are written by
 * hand into one buffer (no tree per row); they are read with jansson.
 */
#include "data.h"
#include "../util/alloc.h"
#include "../util/base64.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the n bytes at s are UTF-8 (no overlong forms, no surrogates). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	while (i < n) {
		unsigned c = s[i];
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

void fr_data_put_string(fr_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	fr_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fr_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
			esc = u;
			break;
		}
		fr_buf_puts(b, esc);
	}
	fr_buf_add(b, s + run, n - run);
	fr_buf_putc(b, '"');
}

/* The shortest of %.15g..%.17g that reads back as r, always with a '.' or an exponent. */
static void put_real(fr_buf *b, double r)
{
	char s[40];
	int p;
	for (p = 15; p <= 17; p++) {
		snprintf(s, sizeof s, "%.*g", p, r);
		if (strtod(s, NULL) == r)
			break;
	}
	fr_buf_puts(b, s);
	if (!strpbrk(s, ".eE"))
		fr_buf_puts(b, ".0");
}

void fr_data_put_value(fr_buf *b, const fr_val *v, const char *decl, unsigned type_oid)
{
	(void)type_oid;
	switch (v->type) {
	case FR_VAL_NULL:
		fr_buf_puts(b, "null");
		break;
	case FR_VAL_INT:
		/* PostgreSQL's boolean (format_type's spelling): true and false. */
		if (decl && !strcmp(decl, "boolean") && (v->i == 0 || v->i == 1))
			fr_buf_puts(b, v->i ? "true" : "false");
		else
			fr_buf_printf(b, "%lld", (long long)v->i);
		break;
	case FR_VAL_REAL:
		if (isnan(v->r))
			fr_buf_puts(b, "{\"$real\": \"NaN\"}");
		else if (isinf(v->r))
			fr_buf_puts(b, v->r > 0 ? "{\"$real\": \"Infinity\"}" :
			                          "{\"$real\": \"-Infinity\"}");
		else
			put_real(b, v->r);
		break;
	case FR_VAL_TEXT:
		if (utf8_ok((const unsigned char *)v->p, v->len)) {
			fr_data_put_string(b, v->p, v->len);
			break;
		}
		fr_buf_puts(b, "{\"$text64\": \"");
		fr_base64_encode(b, v->p, v->len);
		fr_buf_puts(b, "\"}");
		break;
	case FR_VAL_BLOB:
		fr_buf_puts(b, "{\"$base64\": \"");
		fr_base64_encode(b, v->p, v->len);
		fr_buf_puts(b, "\"}");
		break;
	}
}

int fr_data_get_value(const json_t *j, fr_val *v, fr_buf *buf, fr_buf *err)
{
	const char *key, *s;
	json_t *inner;
	memset(v, 0, sizeof *v);
	switch (json_typeof(j)) {
	case JSON_NULL:
		v->type = FR_VAL_NULL;
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = FR_VAL_INT;
		v->i = json_is_true(j);
		return 0;
	case JSON_INTEGER:
		v->type = FR_VAL_INT;
		v->i = (int64_t)json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->type = FR_VAL_REAL;
		v->r = json_real_value(j);
		return 0;
	case JSON_STRING:
		v->type = FR_VAL_TEXT;
		v->p = json_string_value(j);
		v->len = json_string_length(j);
		return 0;
	case JSON_OBJECT:
		if (json_object_size(j) != 1)
			break;
		key = json_object_iter_key(json_object_iter((json_t *)j));
		inner = json_object_iter_value(json_object_iter((json_t *)j));
		s = json_string_value(inner);
		if (!s)
			break;
		if (!strcmp(key, "$base64") || !strcmp(key, "$text64")) {
			fr_buf_reset(buf);
			if (fr_base64_decode(buf, s)) {
				if (buf->oom)
					err->oom = 1;
				else
					fr_buf_printf(err, "bad base64 in %s", key);
				return -1;
			}
			v->type = key[1] == 'b' ? FR_VAL_BLOB : FR_VAL_TEXT;
			v->p = buf->ptr;
			v->len = buf->len;
			return 0;
		}
		if (!strcmp(key, "$real")) {
			v->type = FR_VAL_REAL;
			if (!strcmp(s, "NaN"))
				v->r = NAN;
			else if (!strcmp(s, "Infinity"))
				v->r = INFINITY;
			else if (!strcmp(s, "-Infinity"))
				v->r = -INFINITY;
			else
				break;
			return 0;
		}
		break;
	default:
		break;
	}
	fr_buf_puts(err, "a value of no type an export writes (see docs/data.md)");
	return -1;
}

const fr_db_table *fr_data_table(const fr_db_table *t, size_t n, const char *name)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

/* Depth first: t[i] after what it references, each once; on a cycle the table goes as it is. */
static void visit(const fr_db_table *t, size_t n, size_t i, unsigned char *mark, size_t *order,
                  size_t *k)
{
	size_t r, j;
	if (mark[i])
		return;
	mark[i] = 1; /* on the path */
	for (r = 0; r < t[i].nrefs; r++)
		for (j = 0; j < n; j++)
			if (j != i && !strcmp(t[j].name, t[i].refs[r]))
				visit(t, n, j, mark, order, k);
	mark[i] = 2;
	order[(*k)++] = i;
}

int fr_data_order(const fr_db_table *t, size_t n, size_t *order)
{
	unsigned char *mark = fr_calloc(n ? n : 1, 1);
	size_t i, k = 0;
	if (!mark)
		return -1;
	for (i = 0; i < n; i++)
		visit(t, n, i, mark, order, &k);
	fr_free(mark);
	return 0;
}
