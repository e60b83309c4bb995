/*
 * catalog_int.h - what catalog.c (ferry's own layout, versions.yaml, the
 * entry points) and catalog_foreign.c (other tools' folders, cut into
 * transitions) share while they load a catalog: the folder listing, the
 * loader's state and its reporting. Nothing outside those two sees it.
 */
#ifndef FR_CATALOG_INT_H
#define FR_CATALOG_INT_H

#include "catalog.h"
#include "layout/layout.h"

#include <dirent.h>
#include <sys/stat.h>

/* A folder's entry names, sorted bytewise, in one arena; the folder stays open for fstatat. */
typedef struct {
	DIR *d;
	char **names;
	size_t n;
	fr_buf arena;
} dirlist;

typedef struct {
	fr_version v;
	fr_step *s;
} flat_entry;

typedef struct {
	fr_vinfo vi;
	int line;     /* line in versions.yaml; 0 for versions named by transitions */
} ventry;

/* A versions.yaml `schema:`: version v ships src's chain up to its migration tv. */
typedef struct {
	fr_version v;
	char *src;    /* the source as written; NULL: the only foreign one */
	char *tv;     /* the tool's version of its last migration */
	int line;
	size_t si;    /* resolved: the source */
	size_t cut;   /* resolved: how many of its chain's steps are shipped by v or before */
} smap;

typedef struct {
	fr_catalog *c;
	const char *reldir;  /* the folder relative to the root ("" for the root itself) */
	fr_buf *err;
	size_t nerr;
	int oom;
	size_t ctrs, csteps;
	fr_buf msg;          /* a callee's message, before it is prefixed with a path */
	flat_entry *flats;
	size_t nflats, cflats;
	ventry *vy;          /* versions.yaml entries, then every version */
	size_t nvy, cvy;
	char *vy_rel;        /* versions.yaml's path for messages */
	smap *maps;          /* versions.yaml's schema: entries */
	size_t nmaps, cmaps;
	const char *root;
	const fr_source *src; /* ferry.yaml's sources */
	size_t nsrc;
	const fr_layout **lay; /* each source's layout; NULL: ferry's own or none */
	fr_step ***chains;   /* each source's steps, in its chain */
	size_t *nchain;
	struct fr_statmemo *memo; /* the stats the call's listing took, or NULL */
} loader;

/* The stat of DIR/NAME (a folder of ferry's own layout, open as dfd): from the memo, or fstatat. */
int fr_cat_stat(loader *ld, int dfd, const char *dir, const char *name, struct stat *st);


/* Lists path into l, sorted, hidden files, README* and *.md left out; *st: its stat first. */
int fr_cat_dirlist_read(dirlist *l, const char *path, struct stat *st);
void fr_cat_dirlist_free(dirlist *l);
/* Appends a problem to the load's errors, one line each. */
void fr_cat_err(loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows *arr (of *cap elements of size sz) to hold one more than n; -1 sets ld->oom. */
int fr_cat_grow(loader *ld, void **arr, size_t *cap, size_t n, size_t sz);
/* Records a folder or file read ("a/b", or an absolute a), with its stat; st NULL: missing. */
void fr_cat_seen_add(loader *ld, const char *a, const char *b, const struct stat *st);
/* A new transition in the catalog (backup_required set), or NULL out of memory. */
fr_transition *fr_cat_new_transition(loader *ld);
/* dir relative to root, or dir itself when it is not below root. */
const char *fr_cat_rel_to_root(const char *dir, const char *root);
/* ferry's own layout: the folder ld->c->dir, its transitions, flat steps and YAML files. */
void fr_cat_load_ferry(loader *ld);

/* catalog_foreign.c: each source into ld->c->dir or its chain; the chains into transitions. */
void fr_cat_load_sources(loader *ld);
void fr_cat_ship_foreign(loader *ld);

#endif
