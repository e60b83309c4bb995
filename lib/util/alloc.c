/* alloc.c - allocation wrappers with fault injection for tests. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;
static int struck; /* an allocation was refused since the last arming */

static int should_fail(void)
{
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown == 0)
		return struck = 1;
	fail_countdown--;
	return 0;
}

void fr_alloc_fail_after(long n)
{
	fail_countdown = n;
	if (n >= 0)
		struck = 0;
}

int fr_alloc_fault_struck(void)
{
	return struck;
}

int fr_alloc_faults_armed(void)
{
	return fail_countdown >= 0;
}

void *fr_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *fr_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *fr_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *fr_strndup(const char *s, size_t n)
{
	char *d;
	if (!s)
		return NULL;
	d = fr_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *fr_strdup(const char *s)
{
	return s ? fr_strndup(s, strlen(s)) : NULL;
}

void fr_free(void *p)
{
	free(p);
}

void fr_strv_free(char **v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		fr_free(v[i]);
	fr_free(v);
}

int fr_grow(void *arrp, size_t *cap, size_t n, size_t elem)
{
	void *arr, *t;
	size_t want = *cap ? *cap : 16;
	if (n <= *cap)
		return 0;
	while (want < n) {
		if (want > (size_t)-1 / 2 / elem)
			return -1;
		want *= 2;
	}
	/* The caller's pointer is read and written as bytes: it may be any T *. */
	memcpy(&arr, arrp, sizeof arr);
	t = fr_realloc(arr, want * elem);
	if (!t)
		return -1;
	memcpy(arrp, &t, sizeof t);
	*cap = want;
	return 0;
}
