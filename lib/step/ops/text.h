/*
 * text.h - byte-level helpers on the text of a file (text.c), shared by the
 * editors and the dry-run diff: lines, columns, blanks, splicing one span.
 * Offsets are bytes into t; len is t's length.
 */
#ifndef FR_OPS_TEXT_H
#define FR_OPS_TEXT_H

#include "../../util/buf.h"

#include <stddef.h>

/* 1 when s ends with suffix, letters compared without case (".YML"). */
int fr_ends_with(const char *s, const char *suffix);
/* The last component of a path (after its last '/'). */
const char *fr_base_name(const char *path);
/* 1 when s is not empty and every byte of it is in set. */
int fr_all_in(const char *s, const char *set);

/* The offset of the first byte of the line holding off (after a UTF-8 byte order mark). */
size_t fr_line_start(const char *t, size_t off);
/* The offset of the '\n' ending the line of off, or len. */
size_t fr_line_end(const char *t, size_t len, size_t off);
/* The column of off (bytes since its line's start). */
size_t fr_col_of(const char *t, size_t off);
/* Leading blanks of the line holding off. */
size_t fr_indent_len(const char *t, size_t len, size_t off);
/* 1 when t[a, b) is blanks only. */
int fr_blank_between(const char *t, size_t a, size_t b);
/* 1 when t[a, b) holds a '\n'. */
int fr_has_newline(const char *t, size_t a, size_t b);

/* out = t[0, a) + ins + t[b, len). 0, or -1 out of memory. */
int fr_text_splice(fr_buf *out, const char *t, size_t len, size_t a, size_t b, const char *ins,
                   size_t inslen);
void fr_add_spaces(fr_buf *b, size_t n);
/*
 * Appends text with prefix put before every line but the first (blank
 * lines get none), after removing up to strip leading blanks from them:
 * moves a multi-line value from one indentation to another.
 */
void fr_add_indented(fr_buf *out, const char *text, size_t len, size_t strip, const char *prefix,
                     size_t plen);

#endif
