/*
 * base64.c - RFC 4648 base64 into and out of an fr_buf.
 */
#include "base64.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fr_base64_encode(fr_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		fr_buf_putc(out, b64[v >> 18]);
		fr_buf_putc(out, b64[(v >> 12) & 63]);
		fr_buf_putc(out, b64[(v >> 6) & 63]);
		fr_buf_putc(out, b64[v & 63]);
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
		fr_buf_putc(out, b64[v >> 18]);
		fr_buf_putc(out, b64[(v >> 12) & 63]);
		fr_buf_putc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		fr_buf_putc(out, '=');
	}
	return out->oom ? -1 : 0;
}

int fr_base64_decode(fr_buf *out, const char *s)
{
	unsigned v = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		const char *c = strchr(b64, *s);
		if (!c)
			return -1;
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			fr_buf_putc(out, (char)((v >> bits) & 0xFF));
		}
	}
	return out->oom ? -1 : 0;
}
