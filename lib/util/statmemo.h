/*
 * statmemo.h - the stat of each entry a listing just took, by path, for the
 * catalog read right after it in the same call (lib/noop.c fills it,
 * lib/catalog.c reads it): a file is stat'ed once per start-up check, not
 * once by the listing and again by the catalog. A memo lives for one call
 * (ferry_up, ferry_status) and is then thrown away: it speaks for the
 * moment of the listing, and the catalog's rule "the stat before the read"
 * holds with it as it does with a stat of its own.
 */
#ifndef FR_UTIL_STATMEMO_H
#define FR_UTIL_STATMEMO_H

#include <stddef.h>
#include <sys/stat.h>

typedef struct fr_statmemo fr_statmemo;

fr_statmemo *fr_statmemo_new(void);
void fr_statmemo_free(fr_statmemo *m);
/* A folder the next notes are in: its number, or -1 out of memory (the memo then takes no more). */
int fr_statmemo_dir(fr_statmemo *m, const char *dir);
/*
 * Notes the stat of DIR/NAME, DIR a number fr_statmemo_dir gave. -1 out of
 * memory. It keeps what the catalog reads: st_mode, st_size, st_ino,
 * st_mtim and st_ctim.
 */
int fr_statmemo_put(fr_statmemo *m, int dir, const char *name, const struct stat *st);
/* 1 with *st (those fields; the others zero) when DIR/NAME was noted, else 0 (m may be NULL). */
int fr_statmemo_get(fr_statmemo *m, const char *dir, const char *name, struct stat *st);
/* How many entries it holds, and how many lookups found one (for the tests). */
size_t fr_statmemo_count(const fr_statmemo *m);
size_t fr_statmemo_hits(const fr_statmemo *m);

#endif
