/*
 * text.c - byte-level helpers on the text of a file: lines, columns,
 * blanks, splicing one span, re-indenting a multi-line piece. Offsets are
 * bytes; nothing here parses a format.
 */
#include "text.h"

#include <string.h>
#include <strings.h>

int fr_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

const char *fr_base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

int fr_all_in(const char *s, const char *set)
{
	return *s && s[strspn(s, set)] == '\0';
}

size_t fr_line_start(const char *t, size_t off)
{
	size_t ls = off;
	while (ls > 0 && t[ls - 1] != '\n')
		ls--;
	/* the first line starts after a UTF-8 byte order mark: it is no indentation */
	if (ls == 0 && off >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3))
		return 3;
	return ls;
}

size_t fr_line_end(const char *t, size_t len, size_t off)
{
	const char *nl = off < len ? memchr(t + off, '\n', len - off) : NULL;
	return nl ? (size_t)(nl - t) : len;
}

size_t fr_col_of(const char *t, size_t off)
{
	return off - fr_line_start(t, off);
}

size_t fr_indent_len(const char *t, size_t len, size_t off)
{
	size_t ls = fr_line_start(t, off), i = ls;
	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	return i - ls;
}

int fr_blank_between(const char *t, size_t a, size_t b)
{
	for (; a < b; a++)
		if (t[a] != ' ' && t[a] != '\t')
			return 0;
	return 1;
}

int fr_has_newline(const char *t, size_t a, size_t b)
{
	return b > a && memchr(t + a, '\n', b - a) != NULL;
}

int fr_text_splice(fr_buf *out, const char *t, size_t len, size_t a, size_t b, const char *ins,
                   size_t inslen)
{
	fr_buf_reset(out);
	fr_buf_add(out, t, a);
	fr_buf_add(out, ins, inslen);
	fr_buf_add(out, t + b, len - b);
	return out->oom ? -1 : 0;
}

void fr_add_spaces(fr_buf *b, size_t n)
{
	while (n--)
		fr_buf_putc(b, ' ');
}

void fr_add_indented(fr_buf *out, const char *text, size_t len, size_t strip, const char *prefix,
                     size_t plen)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		if (i > 0) {
			size_t k = 0;
			while (k < strip && i + k < e && (text[i + k] == ' ' || text[i + k] == '\t'))
				k++;
			i += k;
			if (i < e)
				fr_buf_add(out, prefix, plen);
		}
		fr_buf_add(out, text + i, e - i);
		if (!nl)
			break;
		fr_buf_putc(out, '\n');
		i = e + 1;
	}
}

