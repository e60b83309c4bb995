/*
 * plan.h - the version graph and the path to a target (SPEC section 6.3):
 * the chain of transitions from the current version to the greatest
 * catalogued node not above the target, preferring the smallest estimated
 * duration, then the fewest hops, never passing a required_stop version.
 */
#ifndef FR_PLAN_H
#define FR_PLAN_H

#include "catalog.h"
#include "../include/ferry.h"

/*
 * One action of a run, in the order the engine takes them (SPEC 6). The
 * planner resolves the whole list (actions.c); printing a plan, a dry run,
 * a plan file and the run itself all walk it, and the engine decides
 * nothing again. The undo kinds make the plan of a rollback or a down.
 */
typedef enum {
	FR_ACT_BACKUP,   /* id: "pre-run" or "checkpoint" (version: taken at) */
	FR_ACT_HOOK,     /* id: "stop", "restart.NAME", "start", "health" */
	FR_ACT_STEP,     /* step: check, forward, verify, record */
	FR_ACT_COMMIT,   /* tx on database commits, with its steps' records */
	FR_ACT_VERSION,  /* version is recorded (state, version file, shared database) */
	FR_ACT_ROLLBACK, /* tx on database is rolled back: its steps vanish with it */
	FR_ACT_UNDO,     /* id: a committed step undone from its recorded undo */
	FR_ACT_RESTORE,  /* id: a backup restored in place of the undos */
} fr_act_kind;

typedef struct {
	fr_act_kind kind;
	char *id;          /* step id, hook name, backup type or backup id */
	char *database;    /* STEP, COMMIT, ROLLBACK, UNDO: the database; NULL: none */
	int tx;            /* STEP, UNDO: its transaction (1, 2...), 0: none; COMMIT, ROLLBACK: which */
	fr_step *step;     /* STEP: borrowed from the catalog */
	int rerun;         /* STEP: run even if applied, without its check */
	int reversible;    /* STEP, UNDO: it has an undo */
	int empty;         /* STEP: a placeholder (an up of only comments): runs as a no-op */
	fr_version version; /* VERSION; BACKUP checkpoint */
	size_t done;       /* UNDO: the engine's index of the step it undoes */
	char *reuse;       /* BACKUP pre-run: an earlier attempt's unused backup it stands for */
} fr_action;

/* The JSON name of an action kind ("backup", "hook", "step", ...). */
const char *fr_act_name(fr_act_kind k);

struct ferry_plan {
	struct ferry *f;       /* the handle it was made on (NULL in unit tests) */
	const fr_catalog *cat; /* borrowed */
	fr_version from;       /* the current version */
	fr_version to;         /* what the run will record at the end */
	fr_version requested;  /* the target that was asked for */
	int stopped_at_required; /* to is a required_stop below requested */
	fr_transition **trs;   /* the path, in order (borrowed from cat) */
	size_t ntrs;
	/*
	 * Schema only (fr_plan_resolve): the pending steps of other tools'
	 * folders whose version the installation has reached already (or that
	 * no version ships, when only 0.0.0 is catalogued). They run first, and
	 * no version is recorded for them: a transition from a version to
	 * itself is none. Borrowed from cat.
	 */
	fr_step **schema;
	size_t nschema;
	double est_seconds;
	int backup_required;
	char **restarts;       /* union of requires_restart, in order of first mention */
	size_t nrestarts;
	/* The resolved run (fr_plan_resolve): every action, in order. */
	fr_action *acts;
	size_t nacts, capacts;
	int resolved;
	ferry_run_options opts; /* the options it was resolved with */
	char *target_text;     /* the target as asked (NULL: the latest) */
	/* What it was made for (a plan file refuses to run elsewhere): digests. */
	char basis_catalog[65], basis_registry[65];
	int want_basis;        /* make the digests even when there is nothing to do */
	char **drift;          /* applied steps whose file changed or vanished */
	size_t ndrift;
	char **ooo;            /* out-of-order steps: planned only with allow_out_of_order */
	size_t nooo;
	char *opt_only, *opt_rerun; /* owned copies of opts.only and opts.rerun */
	/*
	 * What the plan said it would do when it was made (or read from a
	 * file): ferry_apply() runs it only while that still holds.
	 */
	fr_version file_from;
	char file_catalog[65], file_registry[65];
	char *file_actions;    /* its actions, as compact JSON; NULL: its own acts (made here) */
};

/*
 * Computes the path from from to target in cat. Returns 0, FERRY_EINVALID
 * for a target below from (use down), or FERRY_EFAILED when there is no
 * path, with err saying so and listing the reachable versions.
 */
int fr_plan_compute(struct ferry_plan **out, const fr_catalog *cat, const fr_version *from,
                    const fr_version *target, fr_buf *err);
void fr_plan_free(struct ferry_plan *p);

/* Appends an action (its strings copied); the new one, or NULL out of memory. */
fr_action *fr_plan_add(struct ferry_plan *p, fr_act_kind kind, const char *id, const char *db);
void fr_actions_clear(fr_action *a, size_t n);

/* 1 when a transition of p is breaking or needs a restart: the service stops first. */
int fr_plan_needs_stop(const struct ferry_plan *p);

/*
 * Appends the Graphviz document of cat's graph to out; the transitions of
 * path (may be NULL) are drawn bold.
 */
int fr_plan_dot(const fr_catalog *cat, const struct ferry_plan *path, fr_buf *out);

#endif
