/*
 * fuzz_catalog.c - transition.yaml and versions.yaml (lib/catalog.c).
 *
 * The input is two files cut at the first NUL byte: a transition.yaml
 * (in migrations/v0.1.0_to_v0.2.0/, beside an SQL step) and a
 * versions.yaml (at the top of migrations/). The catalog is loaded: either
 * it loads and is ordered (versions ascending, 0.0.0 among them, transitions
 * leading up, every vinfo found again), or it fails with a message.
 */
#include "fuzz.h"
#include "catalog.h"
#include "ferry.h"

#include <sys/stat.h>

static char mig[300], tr[340];

static void setup(void)
{
	const char *dir = fz_dir();
	snprintf(mig, sizeof mig, "%s/migrations", dir);
	snprintf(tr, sizeof tr, "%s/v0.1.0_to_v0.2.0", mig);
	check(mkdir(mig, 0700) == 0);
	check(mkdir(tr, 0700) == 0);
	fz_write(tr, "0001_init.sql", "-- ferry:up\nSELECT 1;\n", 22);
}

/* The text each file holds now (NULL: not written yet). */
static char *last[2];

static void write_if_changed(const char *dir, const char *name, const char *text, char **held)
{
	if (*held && !strcmp(*held, text))
		return;
	fz_write(dir, name, text, strlen(text));
	fr_free(*held);
	*held = fr_strdup(text);
	check(*held != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fr_buf err = FR_BUF_INIT;
	fr_catalog *c = NULL;
	char *part[2];
	size_t i;
	int rc;

	if (size > 65536)
		return 0;
	if (!mig[0])
		setup();
	fz_split(data, size, '\0', part, 2);
	/* a mutation changes one of the two, mostly: the other stays as it was written */
	write_if_changed(tr, "transition.yaml", part[0], &last[0]);
	write_if_changed(mig, "versions.yaml", part[1], &last[1]);
	rc = fr_catalog_load(&c, mig, fz_dir(), &err);
	if (rc == 0) {
		fr_version zero;
		memset(&zero, 0, sizeof zero);
		check(c != NULL && c->nversions >= 1);
		/*
		 * 0.0.0 is there; first but for pre-releases of it (0.0.0-rc.1),
		 * which precedence puts below (known, reported: catalog.h says first).
		 */
		check(fr_catalog_vinfo(c, &zero) != NULL);
		check(fr_version_is_zero(&c->versions[0].v) || c->versions[0].v.pre[0]);
		for (i = 1; i < c->nversions; i++)
			check(fr_version_cmp(&c->versions[i - 1].v, &c->versions[i].v) < 0);
		for (i = 0; i < c->nversions; i++)
			check(fr_catalog_vinfo(c, &c->versions[i].v) == &c->versions[i]);
		check(fr_version_cmp(fr_catalog_latest(c), &c->versions[c->nversions - 1].v) == 0);
		for (i = 0; i < c->ntrs; i++) {
			fr_version floor;
			fr_vpattern_floor(&c->trs[i]->from, &floor);
			check(fr_version_cmp(&floor, &c->trs[i]->to) < 0);
			check(c->trs[i]->est_seconds >= 0);
		}
		for (i = 0; i < c->nsteps; i++)
			check(fr_catalog_step(c, c->steps[i]->id) == c->steps[i]);
	} else {
		check(c == NULL);
		check(rc == FERRY_EINVALID || rc == FERRY_EFAILED);
		check(err.len > 0);
	}
	fr_catalog_free(c);
	fr_buf_release(&err);
	fz_free_parts(part, 2);
	return 0;
}
