/*
 * alloc.h - every allocation of libferry goes through these wrappers, so
 * that tests can make the Nth allocation fail (as SQLite's sqlite3_malloc
 * and curl's torture mode do). They return NULL on failure and never abort.
 */
#ifndef FR_ALLOC_H
#define FR_ALLOC_H

#include <stddef.h>

void *fr_malloc(size_t n);
void *fr_calloc(size_t count, size_t size);
void *fr_realloc(void *p, size_t n);
char *fr_strdup(const char *s);            /* NULL in, NULL out */
char *fr_strndup(const char *s, size_t n);
void fr_free(void *p);

/*
 * Makes room for n elements of size elem in the array *arrp (of *cap
 * elements), doubling (from 16) when it must grow, as git's ALLOC_GROW.
 * Returns 0, or -1 with *arrp and *cap as they were when memory runs out.
 */
int fr_grow(void *arrp, size_t *cap, size_t n, size_t elem);

/* Frees each of the n strings of v, then v; v may be NULL. */
void fr_strv_free(char **v, size_t n);

/* Frees *pp and sets it to NULL. */
#define FR_FREE(pp) do { fr_free(pp); (pp) = NULL; } while (0)

/*
 * Tests: after n more successful allocations, every allocation fails until
 * fr_alloc_fail_after(-1). Not thread-safe; for tests only.
 */
void fr_alloc_fail_after(long n);
/* Whether a failure is armed: the engine then keeps to one thread, so that the Nth is the Nth. */
int fr_alloc_faults_armed(void);
/* Whether an armed failure has struck (an allocation was refused) since it was armed. */
int fr_alloc_fault_struck(void);

#endif
