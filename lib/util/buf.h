/*
 * buf.h - the one growable string of libferry, for SQL, paths and messages
 * (after git's strbuf and curl's dynbuf).
 *
 * Invariants:
 *  - after fr_buf_init() or FR_BUF_INIT, ptr is never NULL and always
 *    NUL-terminated, even when len is 0;
 *  - out of memory sticks: once an append fails, oom is set, every later
 *    append is a no-op returning -1, and the content is what it was;
 *  - fr_buf_release() frees and re-initialises, so a buffer may be released
 *    twice; fr_buf_detach() hands the string over (NULL after OOM).
 */
#ifndef FR_BUF_H
#define FR_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	char *ptr;
	size_t len;
	size_t cap; /* 0 while ptr points at the shared empty string */
	int oom;
} fr_buf;

extern char fr_buf_empty[1];
#define FR_BUF_INIT { fr_buf_empty, 0, 0, 0 }

void fr_buf_init(fr_buf *b);
void fr_buf_release(fr_buf *b);
char *fr_buf_detach(fr_buf *b);
void fr_buf_reset(fr_buf *b);          /* len = 0, keeps memory, clears oom */
void fr_buf_truncate(fr_buf *b, size_t len);
int fr_buf_grow(fr_buf *b, size_t extra);
int fr_buf_add(fr_buf *b, const void *data, size_t len);
int fr_buf_puts(fr_buf *b, const char *s);
int fr_buf_putc(fr_buf *b, char c);
int fr_buf_printf(fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n bytes in the largest unit that keeps it above 1 ("900 bytes", "1.5 MiB"). */
int fr_buf_bytes(fr_buf *b, int64_t n);
int fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/*
 * Appends s as a quoted JSON string, escaped as jansson's json_dumps writes
 * it (\" \\ \b \f \n \r \t, other control characters as \u00XX, UTF-8
 * as it is). -1, with b unchanged, when s is not valid UTF-8 (which jansson
 * refuses too) or memory runs out.
 */
int fr_buf_json_str(fr_buf *b, const char *s);
/* Replaces the content with a formatted string. */
int fr_buf_setf(fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
