/*
 * version.c - Semantic Versioning 2.0.0 (https://semver.org): parsing with
 * every rule of the grammar (no leading zeros, non-empty identifiers of
 * [0-9A-Za-z-], no uint64 overflow), precedence, formatting; and version
 * patterns (0.1.x, 1.*, 1.x.x) that fix leading parts only.
 *
 * Versions are value types: nothing here allocates, except the messages
 * appended to the caller's err buffer.
 */
#include "version.h"

#include <stdint.h>
#include <string.h>

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

#define PATTERN_EXPECTED "expected MAJOR.MINOR.PATCH or a pattern such as 1.2.x"

static int fail(fr_buf *err, const char *kind, const char *text, const char *what)
{
	if (err)
		fr_buf_printf(err, "invalid %s '%s': %s", kind, text, what);
	return -1;
}

/*
 * Reads one numeric part of MAJOR.MINOR.PATCH at *p. Returns 0 and advances
 * *p, -1 when there are no digits, -2 on a leading zero, -3 on overflow.
 */
static int parse_num(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (!is_digit(*s))
		return -1;
	if (s[0] == '0' && is_digit(s[1]))
		return -2;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -3;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

static int num_error(int r, fr_buf *err, const char *kind, const char *text)
{
	if (r == -2)
		return fail(err, kind, text, "numeric parts must not have leading zeros");
	if (r == -3)
		return fail(err, kind, text, "a numeric part is too large");
	return fail(err, kind, text, "expected MAJOR.MINOR.PATCH");
}

/*
 * Checks the dot-separated identifiers of a pre-release (numeric ones
 * without leading zeros) or build part, [s, s + n). Returns NULL or what is
 * wrong.
 */
static const char *check_idents(const char *s, size_t n, int pre)
{
	size_t i = 0;
	while (i <= n) {
		size_t start = i;
		int numeric = 1;
		while (i < n && s[i] != '.') {
			if (!is_ident_char(s[i]))
				return pre ? "pre-release identifiers hold only [0-9A-Za-z-]"
				           : "build identifiers hold only [0-9A-Za-z-]";
			if (!is_digit(s[i]))
				numeric = 0;
			i++;
		}
		if (i == start)
			return pre ? "empty pre-release identifier" : "empty build identifier";
		if (pre && numeric && i - start > 1 && s[start] == '0')
			return "numeric pre-release identifiers must not have leading zeros";
		i++; /* past the dot, or past the end */
	}
	return NULL;
}

/* Parses the part after PATCH: [-pre][+build], into v. */
static int parse_tail(fr_version *v, const char *s, const char *text, fr_buf *err)
{
	const char *kind = "version";
	const char *what;
	if (*s == '-') {
		size_t n;
		s++;
		n = strcspn(s, "+");
		if ((what = check_idents(s, n, 1)) != NULL)
			return fail(err, kind, text, what);
		if (n >= sizeof v->pre)
			return fail(err, kind, text, "pre-release part is too long");
		memcpy(v->pre, s, n);
		v->pre[n] = '\0';
		s += n;
	}
	if (*s == '+') {
		size_t n = strlen(++s);
		if ((what = check_idents(s, n, 0)) != NULL)
			return fail(err, kind, text, what);
		if (n >= sizeof v->build)
			return fail(err, kind, text, "build part is too long");
		memcpy(v->build, s, n + 1);
		s += n;
	}
	if (*s != '\0')
		return fail(err, kind, text, "expected MAJOR.MINOR.PATCH");
	return 0;
}

int fr_version_parse(fr_version *out, const char *text, fr_buf *err)
{
	fr_version v;
	const char *p = text;
	uint64_t *parts[3];
	int i, r;

	memset(&v, 0, sizeof v);
	memset(out, 0, sizeof *out);
	if (!text)
		return fail(err, "version", "", "expected MAJOR.MINOR.PATCH");
	parts[0] = &v.major;
	parts[1] = &v.minor;
	parts[2] = &v.patch;
	if (*p == 'v')
		p++;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != '.')
				return fail(err, "version", text, "expected MAJOR.MINOR.PATCH");
			p++;
		}
		if ((r = parse_num(&p, parts[i])) != 0)
			return num_error(r, err, "version", text);
	}
	if (parse_tail(&v, p, text, err))
		return -1;
	*out = v;
	return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Compares two pre-release identifiers [a, a + an) and [b, b + bn). */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;
	int anum = 1, bnum = 1, r;
	for (i = 0; i < an; i++)
		anum &= is_digit(a[i]);
	for (i = 0; i < bn; i++)
		bnum &= is_digit(b[i]);
	if (anum && bnum) {
		/* No leading zeros (parse refuses them): the longer number is larger. */
		if (an != bn)
			return an < bn ? -1 : 1;
		r = memcmp(a, b, an);
		return r < 0 ? -1 : r > 0;
	}
	if (anum != bnum)
		return anum ? -1 : 1; /* numeric identifiers have lower precedence */
	r = memcmp(a, b, an < bn ? an : bn);
	if (r)
		return r < 0 ? -1 : 1;
	return cmp_u64(an, bn);
}

static int cmp_pre(const char *a, const char *b)
{
	if (!*a || !*b)
		return *a ? -1 : (*b ? 1 : 0); /* a pre-release is below the release */
	for (;;) {
		size_t an = strcspn(a, "."), bn = strcspn(b, ".");
		int r = cmp_ident(a, an, b, bn);
		if (r)
			return r;
		a += an;
		b += bn;
		if (!*a || !*b)
			return *a ? 1 : (*b ? -1 : 0); /* more fields is larger */
		a++;
		b++;
	}
}

int fr_version_cmp(const fr_version *a, const fr_version *b)
{
	int r;
	if ((r = cmp_u64(a->major, b->major)) != 0)
		return r;
	if ((r = cmp_u64(a->minor, b->minor)) != 0)
		return r;
	if ((r = cmp_u64(a->patch, b->patch)) != 0)
		return r;
	return cmp_pre(a->pre, b->pre);
}

/* x in decimal at p; the end. */
static char *put_u64(char *p, uint64_t x)
{
	char d[20];
	int k = 0;
	do
		d[k++] = (char)('0' + x % 10);
	while ((x /= 10) != 0);
	while (k)
		*p++ = d[--k];
	return p;
}

static char *put_text(char *p, char lead, const char *t)
{
	if (*t) {
		*p++ = lead;
		while (*t)
			*p++ = *t++;
	}
	return p;
}

/* What buf (of n bytes) takes of text (len bytes), cut as snprintf cuts it. */
static void put_cut(char *buf, size_t n, const char *text, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/*
 * As snprintf("%llu.%llu.%llu-%s+%s") would, without it: a run formats the
 * versions of every step it takes, and a plan of every action.
 */
void fr_version_format(const fr_version *v, char *buf, size_t n)
{
	char t[FR_VERSION_STR_MAX], *p = t;
	if (!n)
		return;
	p = put_u64(p, v->major);
	*p++ = '.';
	p = put_u64(p, v->minor);
	*p++ = '.';
	p = put_u64(p, v->patch);
	p = put_text(p, '-', v->pre);
	p = put_text(p, '+', v->build);
	put_cut(buf, n, t, (size_t)(p - t));
}

int fr_version_is_zero(const fr_version *v)
{
	return v->major == 0 && v->minor == 0 && v->patch == 0 && !v->pre[0];
}

static int is_wild(const char *p)
{
	return (*p == 'x' || *p == 'X' || *p == '*') &&
	       (p[1] == '.' || p[1] == '\0' || p[1] == '-' || p[1] == '+');
}

int fr_vpattern_parse(fr_vpattern *out, const char *text, fr_buf *err)
{
	const char *kind = "version pattern";
	const char *p = text;
	fr_vpattern pat;
	uint64_t *parts[3];
	int i, r;

	memset(&pat, 0, sizeof pat);
	memset(out, 0, sizeof *out);
	if (!text)
		return fail(err, kind, "", PATTERN_EXPECTED);
	parts[0] = &pat.v.major;
	parts[1] = &pat.v.minor;
	parts[2] = &pat.v.patch;
	if (*p == 'v')
		p++;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (pat.fixed && (*p == '\0' || *p == '-' || *p == '+'))
				break; /* "1.x": the missing parts are wild too */
			if (*p != '.')
				return fail(err, kind, text, PATTERN_EXPECTED);
			p++;
		}
		if (is_wild(p)) {
			if (i == 0)
				return fail(err, kind, text,
				            "the major version cannot be a wildcard");
			if (pat.fixed == 0)
				pat.fixed = i;
			p++;
			continue;
		}
		if (pat.fixed)
			return fail(err, kind, text,
			            "a wildcard may only stand for trailing parts");
		if ((r = parse_num(&p, parts[i])) != 0)
			return num_error(r, err, kind, text);
	}
	if (pat.fixed) {
		if (*p != '\0')
			return fail(err, kind, text, "a pattern has no pre-release or build part");
		*out = pat;
		return 0;
	}
	/* An exact version: re-parse it whole for the pre-release and build rules. */
	if (fr_version_parse(&pat.v, text, err))
		return -1;
	pat.fixed = 3;
	*out = pat;
	return 0;
}

int fr_vpattern_match(const fr_vpattern *p, const fr_version *v)
{
	if (p->fixed >= 3)
		return fr_version_cmp(&p->v, v) == 0;
	if (p->v.major != v->major)
		return 0;
	return p->fixed < 2 || p->v.minor == v->minor;
}

void fr_vpattern_format(const fr_vpattern *p, char *buf, size_t n)
{
	if (!n)
		return;
	if (p->fixed >= 3) {
		fr_version_format(&p->v, buf, n);
	} else {
		char t[3 * 21 + 4], *q = put_u64(t, p->v.major);
		*q++ = '.';
		if (p->fixed == 2) {
			q = put_u64(q, p->v.minor);
			*q++ = '.';
		}
		*q++ = 'x';
		put_cut(buf, n, t, (size_t)(q - t));
	}
}

void fr_vpattern_floor(const fr_vpattern *p, fr_version *out)
{
	*out = p->v;
	if (p->fixed < 3) {
		out->pre[0] = '\0';
		out->build[0] = '\0';
		out->patch = 0;
		if (p->fixed < 2)
			out->minor = 0;
	}
}
