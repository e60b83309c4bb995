/*
 * jsonw.c - see jsonw.h. The layout is jansson 2.14's dump.c: an open
 * bracket; before the first member a newline and the indent of the level
 * inside; between members a comma, then the same; after the last a newline
 * and the indent of the container's own level; an empty container is `[]`
 * or `{}`. Keys and values are separated by ": ". With no indent the
 * newline and indent are a space between members and nothing around them.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void fr_jw_init(fr_jw *w, fr_buf *b, int indent)
{
	memset(w, 0, sizeof *w);
	w->b = b;
	w->indent = indent < 0 ? 0 : indent > 31 ? 31 : indent;
}

static void newline(fr_jw *w, int depth, int space)
{
	static const char spaces[] = "                                ";
	const int chunk = (int)sizeof spaces - 1;
	int n;
	if (!w->indent) {
		if (space)
			fr_buf_putc(w->b, ' ');
		return;
	}
	fr_buf_putc(w->b, '\n');
	for (n = depth * w->indent; n > 0; n -= chunk)
		fr_buf_add(w->b, spaces, (size_t)(n < chunk ? n : chunk));
}

/* What comes before a member: the separator and, in an object, its key. */
static void member(fr_jw *w, const char *key)
{
	if (w->depth > 0) {
		int first = w->nmembers[w->depth - 1]++ == 0;
		if (!first)
			fr_buf_putc(w->b, ',');
		newline(w, w->depth, !first);
	}
	if (key) {
		fr_buf_json_str(w->b, key);
		fr_buf_add(w->b, ": ", 2);
	}
}

static void open_container(fr_jw *w, const char *key, char open, char close)
{
	if (w->overflow || w->depth >= FR_JW_DEPTH) {
		w->overflow = 1;
		return;
	}
	member(w, key);
	fr_buf_putc(w->b, open);
	w->close[w->depth] = close;
	w->nmembers[w->depth++] = 0;
}

void fr_jw_object(fr_jw *w, const char *key)
{
	open_container(w, key, '{', '}');
}

void fr_jw_array(fr_jw *w, const char *key)
{
	open_container(w, key, '[', ']');
}

void fr_jw_end(fr_jw *w)
{
	if (w->overflow || w->depth <= 0) {
		w->overflow = 1;
		return;
	}
	w->depth--;
	if (w->nmembers[w->depth])
		newline(w, w->depth, 0);
	fr_buf_putc(w->b, w->close[w->depth]);
}

/* A scalar's text after its separator and key. */
static void scalar(fr_jw *w, const char *key, const char *text, size_t n)
{
	if (w->overflow)
		return;
	member(w, key);
	fr_buf_add(w->b, text, n);
}

void fr_jw_str(fr_jw *w, const char *key, const char *s)
{
	size_t at = w->b->len;
	if (!s) {
		fr_jw_null(w, key);
		return;
	}
	if (w->overflow)
		return;
	member(w, key);
	/* Not UTF-8: jansson has no string, so no member; out of memory sticks. */
	if (fr_buf_json_str(w->b, s) && !w->b->oom) {
		fr_buf_truncate(w->b, at);
		if (w->depth > 0)
			w->nmembers[w->depth - 1]--;
	}
}

void fr_jw_null(fr_jw *w, const char *key)
{
	scalar(w, key, "null", 4);
}

void fr_jw_bool(fr_jw *w, const char *key, int v)
{
	if (v)
		scalar(w, key, "true", 4);
	else
		scalar(w, key, "false", 5);
}

void fr_jw_int(fr_jw *w, const char *key, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%" PRId64, v);
	scalar(w, key, t, (size_t)n);
}

/*
 * As jansson's jsonp_dtostr: %.17g; ".0" when that reads as an integer; no
 * '+' and no leading zeros in the exponent. jansson has no value for NaN
 * or an infinity (json_real() returns NULL): no member, as for a string.
 */
void fr_jw_real(fr_jw *w, const char *key, double v)
{
	char t[40], *e, *from;
	int n;
	if (v != v || v - v != 0)
		return;
	n = snprintf(t, sizeof t, "%.17g", v);
	if (n < 0 || (size_t)n + 3 > sizeof t)
		return;
	if (!strchr(t, '.') && !strchr(t, 'e')) {
		t[n++] = '.';
		t[n++] = '0';
		t[n] = '\0';
	}
	if ((e = strchr(t, 'e'))) {
		e++;
		from = e + 1;
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e) {
			memmove(e, from, (size_t)(t + n + 1 - from));
			n -= (int)(from - e);
		}
	}
	scalar(w, key, t, (size_t)n);
}

int fr_jw_finish(const fr_jw *w)
{
	return w->overflow || w->depth || w->b->oom ? -1 : 0;
}
