/*
 * actions.h - the resolved plan (actions.c): every action a run takes, in
 * order, made from the path, the registry and the run's options; and the
 * plan's documents. The engine (run.c) walks the list it makes.
 */
#ifndef FR_ACTIONS_H
#define FR_ACTIONS_H

#include "ferry_int.h"
#include "plan.h"

#include <jansson.h>

/*
 * Resolves p (a path from fr_plan_compute) into p->acts against the
 * registry (regs, and idx its index by id) and the options o: the pre-run
 * backup, the stop hook, each pending step with its database and
 * transaction, each commit, each version record, each checkpoint, the
 * restart/start/health hooks. No actions: nothing to do. Loads each listed
 * step; FERRY_EINVALID with every load problem in err (one per line),
 * also for an --only/--rerun step the catalog lacks. Also fills p->drift.
 */
int fr_plan_resolve(struct ferry_plan *p, ferry *f, fr_reg **idx, const fr_reg *regs,
                    size_t nregs, const ferry_run_options *o, fr_buf *err);

/*
 * The steps path transition i of p runs, in order: the steps of other
 * tools' folders that transitions the path goes around ship (a shortcut
 * past a version that ships some: they still run, here), placed with the
 * transition's own foreign steps (first, or after its own steps with
 * `foreign: after`), and its own. Applied steps too. fr_free *out.
 * -1 out of memory.
 */
int fr_plan_steps_of(const struct ferry_plan *p, size_t i, fr_step ***out, size_t *n);

/*
 * The pending steps of other tools' folders that the path from cur does not
 * hold: their version is at or below cur (or none is catalogued but
 * 0.0.0). They run schema only, first. fr_free *out; -1 out of memory.
 */
int fr_schema_pending(ferry *f, fr_reg **idx, size_t nregs, const fr_version *cur,
                      fr_step ***out, size_t *n);

/* 1 when step s is to run: not applied, or a repeatable one whose file changed since. */
int fr_step_pending(ferry *f, fr_reg **idx, size_t nregs, fr_step *s);

/* The number of step actions of a resolved plan. */
size_t fr_plan_nsteps(const struct ferry_plan *p);

/* How an applied step's file stands against its record (the drift scan). */
typedef enum {
	FR_DRIFT_NONE,       /* the file is as it was applied */
	FR_DRIFT_NO_FILE,    /* a step of a kind with no file (native): nothing to compare */
	FR_DRIFT_GONE,       /* the file is gone (or the step is above the catalog) */
	FR_DRIFT_UNREADABLE, /* the file cannot be read; errno says why */
	FR_DRIFT_CHANGED,    /* the file's checksum is not the recorded one */
} fr_drift;

/*
 * The drift of applied step r; *s_out (may be NULL) gets its catalog step,
 * or NULL. rehash: read the file's bytes, not the stat-keyed cache (verify).
 */
fr_drift fr_drift_of(ferry *f, const fr_reg *r, fr_step **s_out, int rehash);

/*
 * Appends one line per applied step whose file changed or vanished
 * ("  ID: what"); returns the count.
 */
size_t fr_find_drift(ferry *f, const fr_reg *regs, size_t n, fr_buf *out);
/*
 * Databases kept in a file (SQLite) that are gone although steps are
 * recorded as applied to them: one line each to out (may be NULL; "database 'main':
 * '/path' does not exist, but 12 steps are recorded as applied to it") and,
 * when arr is not NULL, an object each to arr ({database, path,
 * applied_steps}); the count returned. A database not made yet with nothing
 * applied is no finding.
 */
size_t fr_missing_dbs(ferry *f, const fr_reg *regs, size_t n, fr_buf *out, json_t *arr);
/* A bit for each configured database whose file exists (1 for those kept in no file). */
uint64_t fr_dbs_present(ferry *f);

/* The version last set with `version --set` (1), or none (0). */
int fr_baseline(ferry *f, fr_version *out);

/*
 * The steps added later to transitions the installation has already taken
 * (SPEC 5: out_of_order): not applied, in a transition at or below cur and
 * above the baseline, another of whose steps is applied; in the order a run
 * takes them (borrowed pointers; fr_free the array). -1 out of memory.
 */
int fr_out_of_order(ferry *f, fr_reg **idx, size_t nregs, const fr_version *cur,
                    fr_step ***out, size_t *n);

/* The JSON of one action, of a list of them, and the `plan` document. */
json_t *fr_action_json(const fr_action *a);
json_t *fr_actions_json(const fr_action *a, size_t n);

/*
 * An action a run took, with its outcome: what the run document's "actions"
 * lists, kept as a copy (its strings owned, no step) so that the document is
 * made only when it is asked for (record.c, fr_last_run_doc), not a JSON
 * object of a dozen allocations for every step a run takes.
 */
typedef struct fr_taken_s {
	fr_action a;         /* id, database and reuse owned; step NULL */
	char *status, *message;
	int64_t duration_ms;
} fr_taken;
/* Appends a copy of a with its outcome; -1 out of memory. */
int fr_taken_add(fr_taken **v, size_t *n, size_t *cap, const fr_action *a, const char *status,
                 int64_t duration_ms, const char *message);
/* Its JSON: fr_action_json's with status, duration_ms and message. */
json_t *fr_taken_json(const fr_taken *t);
void fr_taken_free(fr_taken *v, size_t n);
/* The same array, written under key (NULL in an array) of w. */
struct fr_jw;
void fr_actions_write(struct fr_jw *w, const char *key, const fr_action *a, size_t n);
/*
 * The plan document (`ferry plan --json`), written into out as
 * json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER) would write it; a step
 * that cannot be read is a line in err. -1 when memory ran out.
 * fr_plan_to_json() is the same document read back as jansson's tree.
 */
int fr_plan_write_json(const struct ferry_plan *p, fr_buf *out, fr_buf *err);
json_t *fr_plan_to_json(const struct ferry_plan *p, fr_buf *err);

/* FERRY_EINVALID unless force when p's target is a major version above the catalog's. */
int fr_plan_check_target(const struct ferry_plan *p, int force, fr_buf *err);

/* Sets p's options, keeping its own copies of the strings. 0, or -1 out of memory. */
int fr_plan_set_options(struct ferry_plan *p, const ferry_run_options *o);

/*
 * For a plan read from a file: FERRY_EINVALID with what moved in err when
 * now (resolved under the lock) is not the run the file described.
 */
int fr_plan_check_file(const struct ferry_plan *file, const struct ferry_plan *now,
                       fr_buf *err);

/* The caller's run options, read only as far as its version of the struct goes. */
ferry_run_options fr_run_options_of(const ferry_run_options *opts);

#endif
