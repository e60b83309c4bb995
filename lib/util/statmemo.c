/*
 * statmemo.c - stat results by path for one call (statmemo.h): an open
 * addressing table of indices into an array of entries, the paths in one
 * arena. The key is DIR "/" NAME, hashed and compared in two parts, so no
 * path is built for a lookup.
 */
#include "statmemo.h"
#include "alloc.h"
#include "buf.h"

#include <stdint.h>
#include <string.h>

typedef struct {
	uint64_t hash;
	size_t key;      /* offset of "dir/name" in the arena */
	size_t len;
	struct stat st;
} memo_entry;

struct fr_statmemo {
	memo_entry *e;
	size_t n, cap;
	uint32_t *slot;  /* index + 1 into e; 0: empty */
	size_t nslot;    /* a power of two, at least twice n */
	fr_buf arena;
	int oom;
	size_t hits;
};

/* FNV-1a over the bytes of DIR "/" NAME: the same for any cut of one path into the two. */
static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t key_hash(const char *dir, const char *name)
{
	return fnv(fnv(fnv(14695981039346656037ULL, dir), "/"), name);
}

/* The entry's key is DIR "/" NAME, however the path is cut into the two. */
static int key_is(const fr_statmemo *m, const memo_entry *x, const char *dir, size_t ld,
                  const char *name, size_t ln)
{
	const char *k = m->arena.ptr + x->key;
	return x->len == ld + 1 + ln && memcmp(k, dir, ld) == 0 && k[ld] == '/' &&
	       memcmp(k + ld + 1, name, ln) == 0;
}

fr_statmemo *fr_statmemo_new(void)
{
	return fr_calloc(1, sizeof(fr_statmemo));
}

void fr_statmemo_free(fr_statmemo *m)
{
	if (!m)
		return;
	fr_free(m->e);
	fr_free(m->slot);
	fr_buf_release(&m->arena);
	fr_free(m);
}

static int rehash(fr_statmemo *m, size_t nslot)
{
	uint32_t *s = fr_calloc(nslot, sizeof *s);
	size_t i;
	if (!s)
		return -1;
	for (i = 0; i < m->n; i++) {
		size_t j = (size_t)m->e[i].hash & (nslot - 1);
		while (s[j])
			j = (j + 1) & (nslot - 1);
		s[j] = (uint32_t)(i + 1);
	}
	fr_free(m->slot);
	m->slot = s;
	m->nslot = nslot;
	return 0;
}

int fr_statmemo_put(fr_statmemo *m, const char *dir, const char *name, const struct stat *st)
{
	size_t ld = strlen(dir), ln = strlen(name);
	memo_entry *x;
	if (!m || m->oom)
		return -1;
	if (m->n >= UINT32_MAX - 1 ||
	    ((m->n + 1) * 2 > m->nslot && rehash(m, m->nslot ? m->nslot * 2 : 64)) ||
	    fr_grow(&m->e, &m->cap, m->n + 1, sizeof *m->e))
		goto oom;
	x = &m->e[m->n];
	x->hash = key_hash(dir, name);
	x->key = m->arena.len;
	x->len = ld + 1 + ln;
	fr_buf_add(&m->arena, dir, ld);
	fr_buf_putc(&m->arena, '/');
	fr_buf_add(&m->arena, name, ln);
	if (m->arena.oom)
		goto oom;
	x->st = *st;
	{
		size_t j = (size_t)x->hash & (m->nslot - 1);
		while (m->slot[j]) {
			memo_entry *y = &m->e[m->slot[j] - 1];
			if (y->hash == x->hash && key_is(m, y, dir, ld, name, ln)) {
				y->st = *st; /* the same path again: the later stat */
				m->arena.len = x->key;
				return 0;
			}
			j = (j + 1) & (m->nslot - 1);
		}
		m->slot[j] = (uint32_t)(m->n + 1);
	}
	m->n++;
	return 0;
oom:
	m->oom = 1;
	return -1;
}

int fr_statmemo_get(fr_statmemo *m, const char *dir, const char *name, struct stat *st)
{
	size_t ld, ln, j;
	uint64_t h;
	if (!m || !m->n)
		return 0;
	ld = strlen(dir);
	ln = strlen(name);
	h = key_hash(dir, name);
	for (j = (size_t)h & (m->nslot - 1); m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
		const memo_entry *x = &m->e[m->slot[j] - 1];
		if (x->hash == h && key_is(m, x, dir, ld, name, ln)) {
			*st = x->st;
			m->hits++;
			return 1;
		}
	}
	return 0;
}

size_t fr_statmemo_count(const fr_statmemo *m)
{
	return m ? m->n : 0;
}

size_t fr_statmemo_hits(const fr_statmemo *m)
{
	return m ? m->hits : 0;
}
