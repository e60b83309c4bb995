/*
 * jsonw.h - a JSON document written straight into an fr_buf, byte for byte
 * as jansson's json_dumps(doc, JSON_INDENT(n) | JSON_PRESERVE_ORDER) writes
 * the tree built with the same calls in the same order, with no tree: for
 * documents of thousands of members (a plan of 10,000 steps is 3 MB), where
 * building, dumping and freeing jansson's tree is most of the time.
 * Documents that are read back, small or on no hot path, are jansson's.
 *
 * The calls mirror building with jansson: a member of an object is named
 * (key), one of an array is not (key NULL). A string that is not UTF-8 is
 * left out with its key, as json_string() returns NULL for it and
 * json_object_set_new() then sets nothing. Out of memory sticks in the
 * buffer (b->oom), as fr_buf's does.
 */
#ifndef FR_JSONW_H
#define FR_JSONW_H

#include "buf.h"

#include <stdint.h>

#define FR_JW_DEPTH 32

typedef struct fr_jw {
	fr_buf *b;
	int indent;                 /* spaces a level, as JSON_INDENT(n); 0 for jansson's flags 0 */
	int depth;                  /* open containers */
	int nmembers[FR_JW_DEPTH];  /* members written in each open container */
	char close[FR_JW_DEPTH];    /* each one's closing bracket */
	int overflow;               /* containers opened beyond FR_JW_DEPTH: an error */
} fr_jw;

void fr_jw_init(fr_jw *w, fr_buf *b, int indent);
void fr_jw_object(fr_jw *w, const char *key);
void fr_jw_array(fr_jw *w, const char *key);
void fr_jw_end(fr_jw *w); /* closes the innermost open container */
/* s NULL writes null (as `s ? json_string(s) : json_null()`). */
void fr_jw_str(fr_jw *w, const char *key, const char *s);
void fr_jw_null(fr_jw *w, const char *key);
void fr_jw_bool(fr_jw *w, const char *key, int v);
void fr_jw_int(fr_jw *w, const char *key, int64_t v);
void fr_jw_real(fr_jw *w, const char *key, double v);
/* 0 when the document is whole and every container closed. */
int fr_jw_finish(const fr_jw *w);

#endif
