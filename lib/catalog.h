/*
 * catalog.h - the migrations folder (SPEC section 3) as transitions and
 * steps: both layouts (transition folders v0.1.0_to_v0.2.0/, shortcuts
 * v0.1.x_to_v0.3.0/, flat steps 1.2.2_name.sql), transition.yaml,
 * versions.yaml. Loading reads only names and stat data; step files are
 * read (and hashed) later, on demand. Every layout error is reported at
 * once, one line each with its path.
 */
#ifndef FR_CATALOG_H
#define FR_CATALOG_H

#include "config.h"
#include "step/step.h"
#include "util/buf.h"
#include "version.h"

#include <stddef.h>
#include <stdint.h>

struct fr_transition {
	fr_vpattern from;
	fr_version to;
	char *dir;            /* absolute path of the folder; NULL for flat steps */
	char *name;           /* folder name, or "<to> (flat)" */
	char *description;    /* NULL when none */
	int breaking;
	char **notes;
	size_t nnotes;
	double est_seconds;   /* estimated_duration_seconds, or the default estimate */
	int est_given;        /* 1 when transition.yaml gave it */
	char **restarts;      /* requires_restart */
	size_t nrestarts;
	int backup_required;  /* default 1 */
	fr_step **steps;      /* the foreign steps it ships, then its own in file-name order */
	size_t nsteps;
	int foreign_after;    /* transition.yaml `foreign: after`: its own steps first */
	int schema_only;      /* the catalog's schema_tr: in no path, records no version */
};

typedef struct {
	fr_version v;
	char *notes;          /* NULL when none */
	int required_stop;
	int node;             /* 1 when a transition names it (to, or exact from), or 0.0.0 */
} fr_vinfo;

/* A folder or a YAML file the catalog was read from, as stat saw it before reading. */
typedef struct {
	char *rel;            /* relative to the migrations folder; "" for the folder itself */
	int64_t size, mtime_ns, ino; /* mtime_ns: fr_stamp_ns(), mtime or ctime, the later */
} fr_catalog_seen;

typedef struct fr_catalog fr_catalog;
struct fr_catalog {
	char *dir;            /* absolute path of the migrations folder */
	fr_transition **trs;  /* sorted by to, then from */
	size_t ntrs;
	fr_vinfo *versions;   /* every catalogued version, ascending, 0.0.0 first */
	size_t nversions;
	fr_step **steps;      /* every step, sorted by id */
	size_t nsteps;
	fr_step **foreign;    /* every step of another tool's folder: by source, in its chain */
	size_t nforeign;
	/*
	 * Where the foreign steps no version ships go when no transition is
	 * catalogued at all (only 0.0.0): a transition of none of the graph's
	 * edges, from and to 0.0.0, schema_only set. NULL otherwise.
	 */
	fr_transition *schema_tr;
	fr_catalog_seen *seen; /* the folders and YAML files read (steps keep their own stat) */
	size_t nseen, cseen;
	int64_t loaded_ns;    /* wall clock when the load began */
	fr_catalog *retired;  /* catalogs this one replaced on a handle, freed with it */
};

/* Seconds a transition is estimated to take when transition.yaml says nothing: per step. */
#define FR_DEFAULT_STEP_SECONDS 1.0

/*
 * Loads the catalog of dir (absolute). A missing folder is an empty
 * catalog. Returns 0, or FERRY_EINVALID with every problem appended to err,
 * one line each, "<path>: <what>" (with ":<line>" for YAML files).
 */
int fr_catalog_load(fr_catalog **out, const char *dir, const char *root, fr_buf *err);
/* The one source fr_catalog_load reads: dir in ferry's own layout (pointing at dir, not a copy). */
void fr_catalog_own_source(fr_source *src, const char *dir);

/*
 * Loads every source of ferry.yaml (fr_config.sources): the one of ferry's
 * own layout as fr_catalog_load does (c->dir; NULL when there is none), and
 * each other tool's folder through its layout (lib/layout/, detected from
 * the file names when the source names none) as a chain of SQL steps, cut
 * into the transitions of the versions that ship them (versions.yaml's
 * `schema:`), the rest into the transition into the greatest catalogued
 * node (or schema_tr). The same errors and codes as fr_catalog_load.
 */
int fr_catalog_load_sources(fr_catalog **out, const fr_source *src, size_t nsrc,
                            const char *root, fr_buf *err);
/*
 * The same, taking the stat of an entry of ferry's own layout from memo
 * (the listing the same call just took, lib/util/statmemo.h) when it has
 * it, instead of a stat of its own. memo may be NULL.
 */
struct fr_statmemo;
int fr_catalog_load_memo(fr_catalog **out, const fr_source *src, size_t nsrc, const char *root,
                         struct fr_statmemo *memo, fr_buf *err);
void fr_catalog_free(fr_catalog *c);

/*
 * Adds a native step (no file; registered by the application) to the
 * transition from..to, made when missing. kind and priv become the step's;
 * checksum stands for its content. FERRY_EINVALID for bad versions or a
 * duplicate id.
 */
int fr_catalog_add_native(fr_catalog *c, const char *from, const char *to, const char *name,
                          const fr_step_kind *kind, void *priv, const char *checksum,
                          fr_buf *err);

/*
 * 1 when every folder, YAML file and step file the catalog was read from is
 * as stat saw it then (size, modification time, inode), and each was older
 * than 2 seconds when the load began (git's "racy" rule: a younger one may
 * change again within its timestamp's tick). 0 when the catalog must be
 * read again. Costs one stat per step file (none for what memo, the stats
 * the same call's listing took, holds; memo may be NULL), no listing and no
 * reading: an open handle keeps its catalog while this holds.
 */
int fr_catalog_current(const fr_catalog *c, struct fr_statmemo *memo);

/* The step with that id, or NULL. */
fr_step *fr_catalog_step(const fr_catalog *c, const char *id);

/* The greatest catalogued version (0.0.0 for an empty catalog). */
const fr_version *fr_catalog_latest(const fr_catalog *c);

/* The vinfo of v when versions.yaml or a transition names it, else NULL. */
const fr_vinfo *fr_catalog_vinfo(const fr_catalog *c, const fr_version *v);

/*
 * The greatest version named by a transition (or 0.0.0) that is not above
 * v: where v stands in the graph (a patch release changes no data).
 */
void fr_catalog_node(const fr_catalog *c, const fr_version *v, fr_version *out);

#endif
