/*
 * base64.h - RFC 4648 base64 (the standard alphabet, '=' padding), for
 * bytes that must travel inside JSON text: the ops step kind records a
 * file's old bytes this way when they are not UTF-8.
 */
#ifndef FR_BASE64_H
#define FR_BASE64_H

#include "buf.h"

#include <stddef.h>

/* Appends the base64 of the n bytes at p to out. 0, or -1 when out ran out of memory. */
int fr_base64_encode(fr_buf *out, const void *p, size_t n);

/*
 * Appends the bytes the base64 text s stands for to out; decoding stops at
 * the first '=' or at the end of s. 0, or -1 on a character outside the
 * alphabet (what came before it stays appended) or out of memory.
 */
int fr_base64_decode(fr_buf *out, const char *s);

#endif
