/*
 * plan.c - the path through the version graph (SPEC section 6.3).
 *
 * Nodes are the start (the catalog node of the current version) and every
 * transition's to; a transition is an edge from node u when its from
 * matches u and u < to <= the goal node. Every edge goes up, so the graph
 * is a DAG in version order and one pass over the nodes in ascending order
 * finds the shortest paths (Dijkstra's result without a heap). Cost is
 * (estimated seconds, hops), smaller wins; equal costs are decided by the
 * sequence of (to, transition name) along the path, so the choice never
 * depends on the order of the folder listing.
 *
 * The start node also takes edges whose pattern matches the current version
 * itself: an installation recorded at 0.1.4 takes a v0.1.x_to_v0.3.0
 * shortcut even when no transition names any 0.1.* version.
 */
#include "plan.h"
#include "ferry.h"
#include "util/alloc.h"

#include <stdint.h>
#include <string.h>

typedef struct {
	const fr_version *v;      /* the start's, or a transition's to (no copy: 200 bytes each) */
	int reached;
	double sec;
	size_t hops;
	size_t prev;              /* node index the best path comes from */
	const fr_transition *via; /* its last transition */
} pnode;

static int cost_cmp(double sa, size_t ha, double sb, size_t hb)
{
	if (sa != sb)
		return sa < sb ? -1 : 1;
	return ha < hb ? -1 : ha > hb;
}

/* The path to node i, in order, into seq (capacity: hops). Returns its length. */
static size_t path_of(const pnode *nodes, size_t i, const fr_transition **seq)
{
	size_t n = nodes[i].hops, k = n;
	while (k > 0) {
		seq[--k] = nodes[i].via;
		i = nodes[i].prev;
	}
	return n;
}

static int step_cmp(const fr_transition *a, const fr_transition *b)
{
	int r = fr_version_cmp(&a->to, &b->to);
	return r ? r : strcmp(a->name, b->name);
}

/*
 * Orders two paths of equal cost (so of equal hops) by their sequences of
 * (to, name): path(u) then t against path(p) then v. Both prefixes are
 * branches of the tree of best paths, equal up to where they part, so only
 * the parts after their last common node are walked, not the whole paths.
 */
static int path_cmp(const pnode *nodes, size_t u, const fr_transition *t, size_t p,
                    const fr_transition *v)
{
	size_t cu = SIZE_MAX, cp = SIZE_MAX; /* the nodes just after the parting */
	if (u == p)
		return step_cmp(t, v);
	while (u != p) {
		cu = u;
		cp = p;
		u = nodes[u].prev;
		p = nodes[p].prev;
	}
	return step_cmp(nodes[cu].via, nodes[cp].via);
}

/* The index of the node v in nodes[0..n) (ascending from index 1), or n. */
static size_t node_index(const pnode *nodes, size_t n, const fr_version *v)
{
	size_t lo = 1, hi = n;
	if (n && fr_version_cmp(nodes[0].v, v) == 0)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = fr_version_cmp(nodes[mid].v, v);
		if (r == 0)
			return mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* <0, 0, >0: v's fixed leading parts against the pattern's (0: v matches a wide pattern). */
static int pattern_side(const fr_vpattern *p, const fr_version *v)
{
	if (v->major != p->v.major)
		return v->major < p->v.major ? -1 : 1;
	if (p->fixed < 2 || v->minor == p->v.minor)
		return 0;
	return v->minor < p->v.minor ? -1 : 1;
}

/* The nodes in [1, n) a pattern (fixed < 3) matches: [*lo, *hi), contiguous in version order. */
static void pattern_range(const pnode *nodes, size_t n, const fr_vpattern *p, size_t *lo,
                          size_t *hi)
{
	size_t a = 1, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (pattern_side(p, nodes[mid].v) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (pattern_side(p, nodes[mid].v) <= 0)
			a = mid + 1;
		else
			b = mid;
	}
	*hi = a;
}

/* The path to node u, then t, when it beats node k's best so far. */
static void relax(pnode *nodes, size_t u, size_t k, const fr_transition *t)
{
	pnode *d = &nodes[k];
	double sec;
	int r;
	if (!nodes[u].reached)
		return;
	sec = nodes[u].sec + t->est_seconds;
	if (d->reached) {
		r = cost_cmp(sec, nodes[u].hops + 1, d->sec, d->hops);
		if (r == 0)
			r = path_cmp(nodes, u, t, d->prev, d->via);
		if (r >= 0)
			return;
	}
	d->reached = 1;
	d->sec = sec;
	d->hops = nodes[u].hops + 1;
	d->prev = u;
	d->via = t;
}

/*
 * The best paths to every node, in ascending order: node k takes each
 * transition into its version (the catalog's are sorted by to) from every
 * node below k that the transition's from matches: one node for an exact
 * from (a binary search), a contiguous range for a pattern. So the pass is
 * O(transitions x log nodes) plus the ranges of the patterns, instead of
 * every transition for every node.
 */
static void shortest_paths(pnode *nodes, size_t nn, const fr_catalog *cat, const fr_version *from)
{
	size_t j = 0, k;
	for (k = 1; k < nn; k++) {
		while (j < cat->ntrs && fr_version_cmp(&cat->trs[j]->to, nodes[k].v) < 0)
			j++;
		for (; j < cat->ntrs && fr_version_cmp(&cat->trs[j]->to, nodes[k].v) == 0; j++) {
			const fr_transition *t = cat->trs[j];
			size_t u, lo, hi;
			/* The start, by its node or by the current version itself. */
			if (fr_vpattern_match(&t->from, nodes[0].v) || fr_vpattern_match(&t->from, from))
				relax(nodes, 0, k, t);
			if (t->from.fixed >= 3) {
				u = node_index(nodes, nn, &t->from.v);
				if (u > 0 && u < k)
					relax(nodes, u, k, t);
				continue;
			}
			pattern_range(nodes, nn, &t->from, &lo, &hi);
			for (u = lo; u < hi && u < k; u++)
				relax(nodes, u, k, t);
		}
	}
}

static int add_restart(struct ferry_plan *p, const char *name)
{
	size_t i;
	char **r;
	for (i = 0; i < p->nrestarts; i++)
		if (strcmp(p->restarts[i], name) == 0)
			return 0;
	if (!(r = fr_realloc(p->restarts, (p->nrestarts + 1) * sizeof *r)))
		return -1;
	p->restarts = r;
	if (!(r[p->nrestarts] = fr_strdup(name)))
		return -1;
	p->nrestarts++;
	return 0;
}

/* One function: the shortest-path pass and its bookkeeping share the node table. */
int fr_plan_compute(struct ferry_plan **out, const fr_catalog *cat, const fr_version *from,
                    const fr_version *target, fr_buf *err)
{
	struct ferry_plan *p = NULL;
	pnode *nodes = NULL;
	char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	fr_version start, goal, eff;
	size_t nn = 0, i, j, gi;
	int rc = FERRY_EFAILED;

	*out = NULL;
	if (fr_version_cmp(target, from) < 0) {
		fr_version_format(target, a, sizeof a);
		fr_version_format(from, b, sizeof b);
		if (err)
			fr_buf_printf(err, "target '%s' is below the current version '%s' "
			                   "(use 'ferry down %s')", a, b, a);
		return FERRY_EINVALID;
	}
	if (!(p = fr_calloc(1, sizeof *p)))
		goto nomem;
	p->cat = cat;
	p->from = *from;
	p->requested = *target;
	p->to = *target;

	/* The goal: the target, or the first required stop above from on the way. */
	goal = *target;
	for (i = 0; i < cat->nversions; i++) {
		const fr_vinfo *vi = &cat->versions[i];
		if (fr_version_cmp(&vi->v, target) > 0)
			break;
		if (vi->required_stop && fr_version_cmp(&vi->v, from) > 0) {
			if (fr_version_cmp(&vi->v, target) < 0) {
				goal = vi->v;
				p->to = vi->v;
				p->stopped_at_required = 1;
			}
			break;
		}
	}
	if (fr_version_cmp(target, from) == 0) {
		rc = 0;
		goto done;
	}
	fr_catalog_node(cat, from, &start);
	fr_catalog_node(cat, &goal, &eff);

	/* Nodes: start, then each distinct to in (start, eff], ascending (trs are by to). */
	if (!(nodes = fr_calloc(cat->ntrs + 1, sizeof *nodes)))
		goto nomem;
	nodes[nn].v = &start;
	nodes[nn++].reached = 1;
	for (i = 0; i < cat->ntrs; i++) {
		const fr_version *to = &cat->trs[i]->to;
		if (fr_version_cmp(to, &start) <= 0 || fr_version_cmp(to, &eff) > 0)
			continue;
		if (nn > 1 && fr_version_cmp(nodes[nn - 1].v, to) == 0)
			continue;
		nodes[nn++].v = to;
	}
	shortest_paths(nodes, nn, cat, from);

	gi = node_index(nodes, nn, &eff);
	if (gi == nn || !nodes[gi].reached) {
		int any = 0;
		fr_version_format(from, a, sizeof a);
		fr_version_format(&goal, b, sizeof b);
		if (err) {
			fr_buf_printf(err, "no path from '%s' to '%s'; reachable from '%s': ",
			              a, b, a);
			for (i = 1; i < nn; i++) {
				if (!nodes[i].reached)
					continue;
				fr_version_format(nodes[i].v, b, sizeof b);
				fr_buf_printf(err, "%s%s", any++ ? ", " : "", b);
			}
			if (!any)
				fr_buf_puts(err, "none");
		}
		rc = FERRY_EFAILED;
		goto done;
	}
	if (nodes[gi].hops) {
		if (!(p->trs = fr_calloc(nodes[gi].hops, sizeof *p->trs)))
			goto nomem;
		p->ntrs = path_of(nodes, gi, (const fr_transition **)p->trs);
	}
	for (i = 0; i < p->ntrs; i++) {
		const fr_transition *t = p->trs[i];
		p->est_seconds += t->est_seconds;
		p->backup_required |= t->backup_required;
		for (j = 0; j < t->nrestarts; j++)
			if (add_restart(p, t->restarts[j]))
				goto nomem;
	}
	rc = 0;
	goto done;
nomem:
	if (err)
		fr_buf_puts(err, "out of memory while planning");
	rc = FERRY_EFAILED;
done:
	if (rc == 0)
		*out = p;
	else
		fr_plan_free(p);
	fr_free(nodes);
	return rc;
}

void fr_plan_free(struct ferry_plan *p)
{
	size_t i;
	if (!p)
		return;
	for (i = 0; i < p->nrestarts; i++)
		fr_free(p->restarts[i]);
	fr_free(p->restarts);
	fr_free(p->trs);
	fr_free(p->schema);
	fr_actions_clear(p->acts, p->nacts);
	fr_free(p->acts);
	fr_free(p->target_text);
	fr_free(p->opt_only);
	fr_free(p->opt_rerun);
	fr_free(p->file_actions);
	for (i = 0; i < p->ndrift; i++)
		fr_free(p->drift[i]);
	fr_free(p->drift);
	for (i = 0; i < p->nooo; i++)
		fr_free(p->ooo[i]);
	fr_free(p->ooo);
	fr_free(p);
}

const char *fr_act_name(fr_act_kind k)
{
	static const char *const names[] = {
		[FR_ACT_BACKUP] = "backup", [FR_ACT_HOOK] = "hook",         [FR_ACT_STEP] = "step",
		[FR_ACT_COMMIT] = "commit", [FR_ACT_VERSION] = "version",   [FR_ACT_ROLLBACK] = "rollback",
		[FR_ACT_UNDO] = "undo",     [FR_ACT_RESTORE] = "restore",
	};
	return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

fr_action *fr_plan_add(struct ferry_plan *p, fr_act_kind kind, const char *id, const char *db)
{
	fr_action *a;
	if (fr_grow(&p->acts, &p->capacts, p->nacts + 1, sizeof *p->acts))
		return NULL;
	a = &p->acts[p->nacts];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	if ((id && !(a->id = fr_strdup(id))) || (db && !(a->database = fr_strdup(db)))) {
		fr_free(a->id);
		return NULL;
	}
	p->nacts++;
	return a;
}

void fr_actions_clear(fr_action *a, size_t n)
{
	size_t i;
	for (i = 0; a && i < n; i++) {
		fr_free(a[i].id);
		fr_free(a[i].database);
		fr_free(a[i].reuse);
	}
}

static int on_path(const struct ferry_plan *path, const fr_transition *t)
{
	size_t i;
	for (i = 0; path && i < path->ntrs; i++)
		if (path->trs[i] == t)
			return 1;
	return 0;
}

int fr_plan_dot(const fr_catalog *cat, const struct ferry_plan *path, fr_buf *out)
{
	char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
	size_t i, j;

	fr_buf_puts(out, "digraph ferry {\n\trankdir=LR;\n\tnode [shape=circle];\n");
	for (i = 0; i < cat->nversions; i++) {
		fr_version_format(&cat->versions[i].v, a, sizeof a);
		fr_buf_printf(out, "\t\"%s\"%s;\n", a,
		              cat->versions[i].required_stop ? " [shape=doublecircle]" : "");
	}
	/* Pattern froms are nodes of their own, drawn as dashed boxes, each once. */
	for (i = 0; i < cat->ntrs; i++) {
		const fr_vpattern *pf = &cat->trs[i]->from;
		int seen = 0;
		if (pf->fixed >= 3)
			continue;
		for (j = 0; j < i && !seen; j++)
			seen = cat->trs[j]->from.fixed == pf->fixed &&
			       fr_version_cmp(&cat->trs[j]->from.v, &pf->v) == 0;
		if (seen)
			continue;
		fr_vpattern_format(pf, a, sizeof a);
		fr_buf_printf(out, "\t\"%s\" [shape=box, style=dashed];\n", a);
	}
	for (i = 0; i < cat->ntrs; i++) {
		const fr_transition *t = cat->trs[i];
		fr_vpattern_format(&t->from, a, sizeof a);
		fr_version_format(&t->to, b, sizeof b);
		fr_buf_printf(out, "\t\"%s\" -> \"%s\" [label=\"%zu step%s\"%s];\n", a, b,
		              t->nsteps, t->nsteps == 1 ? "" : "s",
		              on_path(path, t) ? ", style=bold, color=blue" : "");
	}
	fr_buf_puts(out, "}\n");
	return out->oom ? -1 : 0;
}

int fr_plan_needs_stop(const struct ferry_plan *p)
{
	size_t i;
	for (i = 0; i < p->ntrs; i++)
		if (p->trs[i]->breaking || p->trs[i]->nrestarts)
			return 1;
	return 0;
}
