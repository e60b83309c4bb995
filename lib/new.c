/*
 * new.c - `ferry new`: a step file made from its kind's template, named and
 * numbered so that it sorts after the transition's other steps, in the
 * transition folder (or flat) where a step into that version belongs.
 */
#include "ferry_int.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ferry_new_step(char **out, ferry *f, const char *to_version, const char *name,
                   const char *kind, const char *from_version)
{
	fr_version to, node;
	fr_vpattern from;
	fr_transition *tr = NULL;
	fr_buf dir = FR_BUF_INIT, file = FR_BUF_INIT, text = FR_BUF_INIT;
	char tv[FR_VERSION_STR_MAX], fv[FR_VERSION_STR_MAX];
	const fr_step_kind *sk = fr_step_kind_for_new(kind);
	const char *ext = NULL, *mig;
	size_t i;
	int rc = FERRY_EFAILED, have_from = 0, made = 0;
	*out = NULL;
	if (!sk) {
		fr_step_kinds_new_list(&text);
		rc = fr_fail(f, FERRY_EINVALID, "unknown step kind '%s' (this build makes: %s)", kind,
		             text.ptr);
		fr_buf_release(&text);
		return rc;
	}
	if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789_-") != strlen(name))
		return fr_fail(f, FERRY_EINVALID, "invalid step name '%s' (use letters, digits, _ and -)",
		               name);
	if (fr_version_parse(&to, to_version, &f->err))
		return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
	if (from_version) {
		if (fr_vpattern_parse(&from, from_version, &f->err))
			return fr_fail_msg(f, FERRY_EINVALID, f->err.ptr);
		have_from = 1;
	}
	if ((rc = fr_load_catalog(f)))
		return rc;
	/* The folder of ferry's own layout: ferry.yaml's, or the source detected as one. */
	if (!(mig = f->cfg->migrations ? f->cfg->migrations : f->cat->dir))
		return fr_fail(f, FERRY_EINVALID, "ferry.yaml's migrations name no folder of ferry's "
		               "own layout to write the step in (add a source with layout: ferry)");
	if (fr_kind_new_template(sk, name, &text, &ext)) {
		fr_buf_release(&text);
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	}
	/* An existing transition into to (from from, when given) takes the step. */
	for (i = 0; i < f->cat->ntrs; i++) {
		fr_transition *t = f->cat->trs[i];
		char a[FR_VERSION_STR_MAX], b[FR_VERSION_STR_MAX];
		if (fr_version_cmp(&t->to, &to))
			continue;
		if (have_from) {
			fr_vpattern_format(&t->from, a, sizeof a);
			fr_vpattern_format(&from, b, sizeof b);
			if (strcmp(a, b))
				continue;
		}
		tr = t;
		break;
	}
	fr_version_format(&to, tv, sizeof tv);
	if (tr && !tr->dir) {
		/* A flat transition: the new step is one more flat file of that version. */
		fr_buf_printf(&file, "%s/%s_%s.%s", mig, tv, name, ext);
		goto write;
	}
	if (tr) {
		fr_buf_puts(&dir, tr->dir);
	} else {
		if (!have_from) {
			fr_version below = to;
			/* The greatest catalogued node below to. */
			fr_catalog_node(f->cat, &to, &node);
			if (fr_version_cmp(&node, &to) == 0) {
				size_t k;
				memset(&below, 0, sizeof below);
				for (k = 0; k < f->cat->nversions; k++)
					if (fr_version_cmp(&f->cat->versions[k].v, &to) < 0)
						below = f->cat->versions[k].v;
				node = below;
			}
			memset(&from, 0, sizeof from);
			from.v = node;
			from.fixed = 3;
		}
		if (fr_version_cmp(&from.v, &to) >= 0 && from.fixed == 3) {
			rc = fr_fail(f, FERRY_EINVALID, "'%s' is not above '%s'", tv, from_version);
			goto done;
		}
		fr_vpattern_format(&from, fv, sizeof fv);
		fr_buf_printf(&dir, "%s/v%s_to_v%s", mig, fv, tv);
	}
	made = !dir.oom && !fr_exists(dir.ptr);
	if (dir.oom || fr_mkdir_p(dir.ptr, 0755)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot create '%s': %s", dir.oom ? "" : dir.ptr,
		             dir.oom ? "out of memory" : strerror(errno));
		goto done;
	}
	{
		/* One past the highest leading number in the folder, so it sorts last. */
		unsigned long top = 0;
		for (i = 0; tr && i < tr->nsteps; i++) {
			unsigned long n = strtoul(tr->steps[i]->name, NULL, 10);
			if (n > top)
				top = n;
		}
		fr_buf_printf(&file, "%s/%03lu_%s.%s", dir.ptr, top + 1, name, ext);
	}
write:
	if (fr_exists(file.ptr)) {
		rc = fr_fail(f, FERRY_EINVALID, "'%s' exists already", file.ptr);
		goto done;
	}
	if (file.oom || text.oom ||
	    fr_write_atomic(file.ptr, text.ptr, text.len,
	                    fr_kind_has(sk, FR_KIND_EXECUTABLE) ? 0755 : 0644)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot write '%s': %s", file.ptr, strerror(errno));
		goto done;
	}
	*out = fr_buf_detach(&file);
	rc = 0;
	/* A step below what is installed will not run by itself: say so now, not at the next up. */
	{
		fr_version cur;
		char cv[FR_VERSION_STR_MAX];
		if (fr_current(f, &cur) == 0 && fr_version_cmp(&to, &cur) <= 0) {
			fr_version_format(&cur, cv, sizeof cv);
			fr_log(f, FERRY_LOG_WARN, NULL, "'%s' is at or below the installed version '%s': "
			       "the new step is out of order ('ferry up' refuses it until "
			       "--allow-out-of-order; or make it a step of a new version)", tv, cv);
		}
	}
	fr_ok(f);
	/*
	 * The catalog changed under us; the handle notices (the folder's stat)
	 * and reads it again, keeping this one for the plans that point into it.
	 */
done:
	/*
	 * A transition folder made for a step that was not written goes again:
	 * left empty, it would be a version of its own to the next up.
	 */
	if (rc && made)
		rmdir(dir.ptr);
	fr_buf_release(&dir);
	fr_buf_release(&file);
	fr_buf_release(&text);
	return rc;
}

