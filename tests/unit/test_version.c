/* test_version.c - semver parsing, precedence, formatting, and version patterns. */
#include "helpers.h"

#include "version.h"

#include <stdio.h>
#include <string.h>

static fr_version V(const char *s)
{
	fr_version v;
	assert_int_equal(fr_version_parse(&v, s, NULL), 0);
	return v;
}

static void assert_invalid(const char *text, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_version v;
	assert_int_equal(fr_version_parse(&v, text, &err), -1);
	if (!strstr(err.ptr, want))
		fail_msg("'%s': got '%s', want '%s'", text, err.ptr, want);
	fr_buf_release(&err);
}

static void test_parse_valid(void **state)
{
	fr_version v;
	char s[FR_VERSION_STR_MAX];

	v = V("1.2.3");
	assert_true(v.major == 1 && v.minor == 2 && v.patch == 3);
	assert_string_equal(v.pre, "");
	assert_string_equal(v.build, "");

	v = V("v10.20.30");
	assert_true(v.major == 10 && v.minor == 20 && v.patch == 30);

	v = V("1.0.0-rc.1+build.5");
	assert_string_equal(v.pre, "rc.1");
	assert_string_equal(v.build, "build.5");

	v = V("1.0.0+001.exp-sha.5114f85"); /* build identifiers may have leading zeros */
	assert_string_equal(v.build, "001.exp-sha.5114f85");
	assert_string_equal(v.pre, "");

	v = V("1.0.0-x-y-z.--");
	assert_string_equal(v.pre, "x-y-z.--");

	v = V("18446744073709551615.0.0");
	assert_true(v.major == UINT64_MAX);

	v = V("0.0.0");
	assert_true(fr_version_is_zero(&v));
	v = V("0.0.0-alpha");
	assert_false(fr_version_is_zero(&v));
	v = V("0.0.1");
	assert_false(fr_version_is_zero(&v));

	v = V("v1.2.3-beta.2+exp");
	fr_version_format(&v, s, sizeof s);
	assert_string_equal(s, "1.2.3-beta.2+exp");
	v = V("v0.10.0");
	fr_version_format(&v, s, sizeof s);
	assert_string_equal(s, "0.10.0");
}

static void test_parse_invalid(void **state)
{
	fr_buf err = FR_BUF_INIT;
	fr_version v;

	assert_int_equal(fr_version_parse(&v, "1.2", &err), -1);
	assert_string_equal(err.ptr, "invalid version '1.2': expected MAJOR.MINOR.PATCH");
	fr_buf_release(&err);

	assert_invalid("", "expected MAJOR.MINOR.PATCH");
	assert_invalid("1", "expected MAJOR.MINOR.PATCH");
	assert_invalid("1.2.3.4", "'1.2.3.4': expected MAJOR.MINOR.PATCH");
	assert_invalid("a.b.c", "expected MAJOR.MINOR.PATCH");
	assert_invalid("vv1.2.3", "expected MAJOR.MINOR.PATCH");
	assert_invalid(" 1.2.3", "expected MAJOR.MINOR.PATCH");
	assert_invalid("1.2.3 ", "expected MAJOR.MINOR.PATCH");
	assert_invalid("-1.2.3", "expected MAJOR.MINOR.PATCH");
	assert_invalid("1..3", "expected MAJOR.MINOR.PATCH");
	assert_invalid("01.2.3", "'01.2.3': numeric parts must not have leading zeros");
	assert_invalid("1.02.3", "leading zeros");
	assert_invalid("1.2.00", "leading zeros");
	assert_invalid("1.2.3-01", "'1.2.3-01': numeric pre-release identifiers must not have");
	assert_invalid("1.2.3-rc.00", "leading zeros");
	assert_invalid("1.2.3-", "empty pre-release identifier");
	assert_invalid("1.2.3-a..b", "empty pre-release identifier");
	assert_invalid("1.2.3-a.", "empty pre-release identifier");
	assert_invalid("1.2.3+", "empty build identifier");
	assert_invalid("1.2.3+a..b", "empty build identifier");
	assert_invalid("1.2.3-rc_1", "pre-release identifiers hold only");
	assert_invalid("1.2.3+b+c", "build identifiers hold only");
	assert_invalid("1.2.3-α", "pre-release identifiers hold only");
	assert_invalid("18446744073709551616.0.0", "too large");
	assert_invalid("1.99999999999999999999.0", "too large");
	assert_invalid("1.x.0", "expected MAJOR.MINOR.PATCH");

	{
		char longpre[200];
		memset(longpre, 'a', sizeof longpre);
		memcpy(longpre, "1.0.0-", 6);
		longpre[sizeof longpre - 1] = '\0';
		assert_invalid(longpre, "pre-release part is too long");
	}
	/* err may be NULL; out is zeroed on failure */
	memset(&v, 0xff, sizeof v);
	assert_int_equal(fr_version_parse(&v, "nope", NULL), -1);
	assert_true(v.major == 0 && v.pre[0] == '\0');
}

static void test_precedence_chain(void **state)
{
	/* semver.org, section 11 */
	static const char *chain[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
		"1.1.0", "2.0.0", "10.0.0",
	};
	size_t n = sizeof chain / sizeof chain[0], i, j;
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			fr_version a = V(chain[i]), b = V(chain[j]);
			int want = i < j ? -1 : i > j;
			if (fr_version_cmp(&a, &b) != want)
				fail_msg("%s vs %s: got %d, want %d", chain[i], chain[j],
				         fr_version_cmp(&a, &b), want);
		}
	}
}

static void test_precedence_rules(void **state)
{
	fr_version a, b;

	/* build metadata is ignored */
	a = V("1.0.0+a");
	b = V("1.0.0+b");
	assert_int_equal(fr_version_cmp(&a, &b), 0);
	a = V("v1.0.0");
	b = V("1.0.0+x.y");
	assert_int_equal(fr_version_cmp(&a, &b), 0);

	/* numeric parts compare as numbers, not text */
	a = V("1.9.0");
	b = V("1.10.0");
	assert_true(fr_version_cmp(&a, &b) < 0);
	a = V("1.0.0-2");
	b = V("1.0.0-10");
	assert_true(fr_version_cmp(&a, &b) < 0);

	/* numeric identifiers are below alphanumeric ones */
	a = V("1.0.0-999");
	b = V("1.0.0-a");
	assert_true(fr_version_cmp(&a, &b) < 0);
	assert_true(fr_version_cmp(&b, &a) > 0);

	/* alphanumeric identifiers compare in ASCII order (upper case first) */
	a = V("1.0.0-Z");
	b = V("1.0.0-a");
	assert_true(fr_version_cmp(&a, &b) < 0);
	a = V("1.0.0-alpha");
	b = V("1.0.0-alpha-1");
	assert_true(fr_version_cmp(&a, &b) < 0);

	/* more fields with an equal prefix is greater */
	a = V("1.0.0-a.b");
	b = V("1.0.0-a.b.c");
	assert_true(fr_version_cmp(&a, &b) < 0);

	/* a pre-release is below its release, above the previous release */
	a = V("2.0.0-rc.1");
	b = V("2.0.0");
	assert_true(fr_version_cmp(&a, &b) < 0);
	b = V("1.99.99");
	assert_true(fr_version_cmp(&a, &b) > 0);

	a = V("18446744073709551615.0.0");
	b = V("18446744073709551614.99.99");
	assert_true(fr_version_cmp(&a, &b) > 0);
}

static void test_format_small_buffer(void **state)
{
	fr_version v = V("123.456.789-rc.1");
	char s[8];
	fr_version_format(&v, s, sizeof s);
	assert_string_equal(s, "123.456");
	fr_version_format(&v, s, 0); /* writes nothing */
}

static fr_vpattern P(const char *s)
{
	fr_vpattern p;
	fr_buf err = FR_BUF_INIT;
	if (fr_vpattern_parse(&p, s, &err))
		fail_msg("'%s': %s", s, err.ptr);
	fr_buf_release(&err);
	return p;
}

static void assert_pattern_invalid(const char *text, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_vpattern p;
	assert_int_equal(fr_vpattern_parse(&p, text, &err), -1);
	if (!strstr(err.ptr, want))
		fail_msg("'%s': got '%s', want '%s'", text, err.ptr, want);
	fr_buf_release(&err);
}

static void test_patterns(void **state)
{
	char s[FR_VERSION_STR_MAX];
	fr_version v, f;
	fr_vpattern p;

	p = P("0.1.x");
	assert_int_equal(p.fixed, 2);
	fr_vpattern_format(&p, s, sizeof s);
	assert_string_equal(s, "0.1.x");
	v = V("0.1.0");
	assert_true(fr_vpattern_match(&p, &v));
	v = V("0.1.17-rc.1");
	assert_true(fr_vpattern_match(&p, &v));
	v = V("0.2.0");
	assert_false(fr_vpattern_match(&p, &v));
	v = V("1.1.0");
	assert_false(fr_vpattern_match(&p, &v));
	fr_vpattern_floor(&p, &f);
	fr_version_format(&f, s, sizeof s);
	assert_string_equal(s, "0.1.0");

	p = P("0.1.*");
	assert_int_equal(p.fixed, 2);
	fr_vpattern_format(&p, s, sizeof s);
	assert_string_equal(s, "0.1.x");

	p = P("1.x");
	assert_int_equal(p.fixed, 1);
	fr_vpattern_format(&p, s, sizeof s);
	assert_string_equal(s, "1.x");
	v = V("1.99.3");
	assert_true(fr_vpattern_match(&p, &v));
	v = V("2.0.0");
	assert_false(fr_vpattern_match(&p, &v));
	fr_vpattern_floor(&p, &f);
	fr_version_format(&f, s, sizeof s);
	assert_string_equal(s, "1.0.0");

	p = P("1.x.x");
	assert_int_equal(p.fixed, 1);
	p = P("1.*.*");
	assert_int_equal(p.fixed, 1);
	p = P("v2.*");
	assert_int_equal(p.fixed, 1);
	assert_true(p.v.major == 2);

	/* an exact version is a pattern of three fixed parts, matched by precedence */
	p = P("v1.2.3-rc.1+b");
	assert_int_equal(p.fixed, 3);
	fr_vpattern_format(&p, s, sizeof s);
	assert_string_equal(s, "1.2.3-rc.1+b");
	v = V("1.2.3-rc.1");
	assert_true(fr_vpattern_match(&p, &v));
	v = V("1.2.3");
	assert_false(fr_vpattern_match(&p, &v));
	fr_vpattern_floor(&p, &f);
	assert_int_equal(fr_version_cmp(&f, &p.v), 0);

	assert_pattern_invalid("1.x.3", "'1.x.3': a wildcard may only stand for trailing parts");
	assert_pattern_invalid("x", "the major version cannot be a wildcard");
	assert_pattern_invalid("*.1.0", "the major version cannot be a wildcard");
	assert_pattern_invalid("1.2", "invalid version pattern '1.2'");
	assert_pattern_invalid("1.2.x-rc", "no pre-release or build part");
	assert_pattern_invalid("1.x-rc", "invalid version pattern '1.x-rc'");
	assert_pattern_invalid("01.x", "leading zeros");
	assert_pattern_invalid("1.xx", "invalid version pattern");
	assert_pattern_invalid("1.2.3-01", "leading zeros");
}

/*
 * The formatters write what snprintf wrote before them, at every buffer
 * size: versions with big numbers, pre-releases, builds, and patterns.
 */
static void test_format_as_snprintf(void **state)
{
	static const char *const texts[] = {
		"0.0.0", "1.2.3", "10.20.30", "18446744073709551615.0.18446744073709551615",
		"1.0.0-rc.1", "1.0.0+build.7", "2.0.0-alpha.beta+exp.sha.5114f85", "0.1.0-0",
	};
	static const char *const pats[] = { "1.x", "0.3.x", "12.x", "1.2.3", "4.5.x" };
	char want[FR_VERSION_STR_MAX], got[FR_VERSION_STR_MAX];
	size_t i, n;
	for (i = 0; i < sizeof texts / sizeof *texts; i++) {
		fr_version v;
		assert_int_equal(fr_version_parse(&v, texts[i], NULL), 0);
		for (n = 1; n <= strlen(texts[i]) + 2; n++) {
			memset(got, 'Z', sizeof got);
			snprintf(want, n, "%llu.%llu.%llu%s%s%s%s", (unsigned long long)v.major,
			         (unsigned long long)v.minor, (unsigned long long)v.patch,
			         v.pre[0] ? "-" : "", v.pre, v.build[0] ? "+" : "", v.build);
			fr_version_format(&v, got, n);
			assert_string_equal(got, want);
		}
		fr_version_format(&v, got, sizeof got);
		assert_string_equal(got, texts[i]);
	}
	for (i = 0; i < sizeof pats / sizeof *pats; i++) {
		fr_vpattern p;
		assert_int_equal(fr_vpattern_parse(&p, pats[i], NULL), 0);
		for (n = 1; n <= strlen(pats[i]) + 2; n++) {
			memset(got, 'Z', sizeof got);
			snprintf(want, n, "%s", pats[i]);
			fr_vpattern_format(&p, got, n);
			assert_string_equal(got, want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_precedence_chain),
		cmocka_unit_test(test_precedence_rules),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_format_as_snprintf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
