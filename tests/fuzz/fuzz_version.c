/*
 * fuzz_version.c - versions and version patterns (lib/version.h).
 *
 * The input is up to three lines. Each is parsed as a version and as a
 * pattern; what parses must format to text that parses again to an equal
 * value (build metadata included), and format the same again. A pattern
 * matches its own floor, and an exact pattern matches its version. On the
 * versions of the lines, compare is reflexive, antisymmetric and
 * transitive.
 */
#include "fuzz.h"
#include "version.h"

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static int same(const fr_version *a, const fr_version *b)
{
	return a->major == b->major && a->minor == b->minor && a->patch == b->patch &&
	       !strcmp(a->pre, b->pre) && !strcmp(a->build, b->build);
}

static void one_version(const char *text, fr_version *v, int *ok)
{
	char out[FR_VERSION_STR_MAX], again[FR_VERSION_STR_MAX];
	fr_buf err = FR_BUF_INIT;
	fr_version w;

	*ok = fr_version_parse(v, text, &err) == 0;
	check(*ok || err.len > 0); /* a refusal says why */
	fr_buf_release(&err);
	if (!*ok)
		return;
	fr_version_format(v, out, sizeof out);
	check(fr_version_parse(&w, out, NULL) == 0);
	check(same(v, &w));
	check(fr_version_cmp(v, &w) == 0);
	fr_version_format(&w, again, sizeof again);
	check(!strcmp(out, again));
	check(fr_version_is_zero(v) == (v->major == 0 && v->minor == 0 && v->patch == 0 &&
	                                !v->pre[0]));
}

static void one_pattern(const char *text, const fr_version *v, int vok)
{
	char out[FR_VERSION_STR_MAX];
	fr_buf err = FR_BUF_INIT;
	fr_vpattern p, q;
	fr_version floor;

	if (fr_vpattern_parse(&p, text, &err)) {
		check(err.len > 0);
		fr_buf_release(&err);
		return;
	}
	fr_buf_release(&err);
	check(p.fixed >= 1 && p.fixed <= 3);
	fr_vpattern_format(&p, out, sizeof out);
	check(fr_vpattern_parse(&q, out, NULL) == 0);
	check(q.fixed == p.fixed && fr_version_cmp(&q.v, &p.v) == 0);
	fr_vpattern_floor(&p, &floor);
	check(fr_vpattern_match(&p, &floor));
	if (vok && p.fixed == 3)
		check(fr_vpattern_match(&p, v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[3];
	fr_version v[3];
	int ok[3];
	size_t i, j, k;

	if (size > 4096)
		return 0;
	fz_split(data, size, '\n', part, 3);
	for (i = 0; i < 3; i++) {
		one_version(part[i], &v[i], &ok[i]);
		one_pattern(part[i], &v[i], ok[i]);
	}
	for (i = 0; i < 3; i++) {
		if (!ok[i])
			continue;
		check(fr_version_cmp(&v[i], &v[i]) == 0);
		for (j = 0; j < 3; j++) {
			if (!ok[j])
				continue;
			check(sign(fr_version_cmp(&v[i], &v[j])) == -sign(fr_version_cmp(&v[j], &v[i])));
			for (k = 0; k < 3; k++)
				if (ok[k] && fr_version_cmp(&v[i], &v[j]) <= 0 &&
				    fr_version_cmp(&v[j], &v[k]) <= 0)
					check(fr_version_cmp(&v[i], &v[k]) <= 0);
		}
	}
	fz_free_parts(part, 3);
	return 0;
}
