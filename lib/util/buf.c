/* buf.c - growable strings; see buf.h for the invariants. */
#include "buf.h"
#include "alloc.h"

#include <stdio.h>
#include <string.h>

char fr_buf_empty[1];

void fr_buf_init(fr_buf *b)
{
	b->ptr = fr_buf_empty;
	b->len = 0;
	b->cap = 0;
	b->oom = 0;
}

void fr_buf_release(fr_buf *b)
{
	if (b->cap)
		fr_free(b->ptr);
	fr_buf_init(b);
}

char *fr_buf_detach(fr_buf *b)
{
	char *p;
	if (b->oom) {
		fr_buf_release(b);
		return NULL;
	}
	p = b->cap ? b->ptr : fr_strdup("");
	fr_buf_init(b);
	return p;
}

void fr_buf_reset(fr_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->cap)
		b->ptr[0] = '\0';
}

void fr_buf_truncate(fr_buf *b, size_t len)
{
	if (len < b->len && b->cap) {
		b->len = len;
		b->ptr[len] = '\0';
	}
}

int fr_buf_grow(fr_buf *b, size_t extra)
{
	size_t want, cap;
	char *p;
	if (b->oom)
		return -1;
	if (extra > (size_t)-1 / 2 - b->len - 1) {
		b->oom = 1;
		return -1;
	}
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	p = fr_realloc(b->cap ? b->ptr : NULL, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	if (!b->cap)
		p[0] = '\0';
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int fr_buf_add(fr_buf *b, const void *data, size_t len)
{
	if (fr_buf_grow(b, len))
		return -1;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int fr_buf_puts(fr_buf *b, const char *s)
{
	return fr_buf_add(b, s, strlen(s));
}

int fr_buf_putc(fr_buf *b, char c)
{
	return fr_buf_add(b, &c, 1);
}

int fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t room;
	int n;
	/* Into the room there is, formatted a second time only when it did not fit. */
	if (fr_buf_grow(b, 63))
		return -1;
	room = b->cap - b->len;
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->len, room, fmt, cp);
	va_end(cp);
	if (n >= 0 && (size_t)n < room) {
		b->len += (size_t)n;
		return 0;
	}
	b->ptr[b->len] = '\0';
	if (n < 0 || fr_buf_grow(b, (size_t)n))
		return -1;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int fr_buf_printf(fr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = fr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int fr_buf_setf(fr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;
	fr_buf_reset(b);
	va_start(ap, fmt);
	r = fr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int fr_buf_bytes(fr_buf *b, int64_t n)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	if (n < 1024)
		return fr_buf_printf(b, "%lld bytes", (long long)n);
	while (v >= 1024 && u + 1 < sizeof unit / sizeof *unit) {
		v /= 1024;
		u++;
	}
	/* Two significant digits at least: 1.5 MiB, 12 MiB, never "0 MiB". */
	return fr_buf_printf(b, v < 10 ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* The length of the UTF-8 sequence at p (as jansson's utf8_check_full accepts it), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0], v;
	size_t n, i;
	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0; /* a continuation byte, an overlong start, beyond U+10FFFF */
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	v = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return n;
}

int fr_buf_json_str(fr_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t start = b->len;
	if (fr_buf_putc(b, '"'))
		return -1;
	run = p;
	while (*p) {
		unsigned c = *p;
		char esc[7];
		size_t n;
		if (c >= 0x20 && c != '"' && c != '\\') {
			if (!(n = utf8_len(p))) {
				fr_buf_truncate(b, start);
				return -1;
			}
			p += n;
			continue;
		}
		fr_buf_add(b, run, (size_t)(p - run));
		esc[0] = '\\';
		esc[1] = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f' :
		         c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 'u';
		n = 2;
		if (esc[1] == 'u') {
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		fr_buf_add(b, esc, n);
		run = ++p;
	}
	fr_buf_add(b, run, (size_t)(p - run));
	return fr_buf_putc(b, '"');
}
