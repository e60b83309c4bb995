/*
 * plan.h - the version graph and the path to a target (SPEC section 6.3):
 * the chain of transitions from the current version to the greatest
 * catalogued node not above the target, preferring the smallest estimated
 * duration, then the fewest hops, never passing a required_stop version.
 */
#ifndef FR_PLAN_H
#define FR_PLAN_H

#include "catalog.h"

struct ferry_plan {
	struct ferry *f;       /* the handle it was made on (NULL in unit tests) */
	const fr_catalog *cat; /* borrowed */
	fr_version from;       /* the current version */
	fr_version to;         /* what the run will record at the end */
	fr_version requested;  /* the target that was asked for */
	int stopped_at_required; /* to is a required_stop below requested */
	fr_transition **trs;   /* the path, in order (borrowed from cat) */
	size_t ntrs;
	double est_seconds;
	int backup_required;
	char **restarts;       /* union of requires_restart, in order of first mention */
	size_t nrestarts;
};

/*
 * Computes the path from from to target in cat. Returns 0, FERRY_EINVALID
 * for a target below from (use down), or FERRY_EFAILED when there is no
 * path, with err saying so and listing the reachable versions.
 */
int fr_plan_compute(struct ferry_plan **out, const fr_catalog *cat, const fr_version *from,
                    const fr_version *target, fr_buf *err);
void fr_plan_free(struct ferry_plan *p);

/* 1 when a transition of p is breaking or needs a restart: the service stops first. */
int fr_plan_needs_stop(const struct ferry_plan *p);

/*
 * Appends the Graphviz document of cat's graph to out; the transitions of
 * path (may be NULL) are drawn bold.
 */
int fr_plan_dot(const fr_catalog *cat, const struct ferry_plan *path, fr_buf *out);

#endif
