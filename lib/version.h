/*
 * version.h - Semantic Versioning 2.0.0: parse, compare by precedence,
 * format; and version patterns (0.1.x, 1.*, 1.x.x) that match every version
 * with the same leading parts.
 *
 * A version is a value type (no allocation): pre-release and build metadata
 * are kept inline, and longer ones are refused with a clear error.
 */
#ifndef FR_VERSION_H
#define FR_VERSION_H

#include "util/buf.h"

#include <stdint.h>

#define FR_VERSION_TEXT_MAX 96
#define FR_VERSION_STR_MAX (3 * 21 + 2 * FR_VERSION_TEXT_MAX + 8)

typedef struct {
	uint64_t major, minor, patch;
	char pre[FR_VERSION_TEXT_MAX];   /* "" when none; without the '-' */
	char build[FR_VERSION_TEXT_MAX]; /* "" when none; without the '+' */
} fr_version;

/*
 * Parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build.5". Returns 0, or -1 after
 * appending to err (when err is not NULL) a message quoting the text, e.g.
 * "invalid version '1.2': expected MAJOR.MINOR.PATCH".
 */
int fr_version_parse(fr_version *out, const char *text, fr_buf *err);

/* Semver precedence: <0, 0, >0. Build metadata is ignored. */
int fr_version_cmp(const fr_version *a, const fr_version *b);

/* "1.2.3-rc.1+b" (no leading v) into buf of size n (FR_VERSION_STR_MAX is enough). */
void fr_version_format(const fr_version *v, char *buf, size_t n);

/* A version with exactly 0.0.0 and no pre-release. */
int fr_version_is_zero(const fr_version *v);

typedef struct {
	fr_version v;   /* the fixed leading parts; the rest is 0 */
	int fixed;      /* how many leading parts are fixed: 1, 2, or 3 (an exact version) */
} fr_vpattern;

/*
 * Parses an exact version or a pattern: "0.1.x", "0.1.*", "1.x", "1.x.x",
 * "v2.*". A wildcard may only stand for trailing parts ("1.x.3" is refused)
 * and a pattern has no pre-release or build part.
 */
int fr_vpattern_parse(fr_vpattern *out, const char *text, fr_buf *err);

/* 1 when v matches p (for fixed == 3: precedence-equal). */
int fr_vpattern_match(const fr_vpattern *p, const fr_version *v);

/* "0.1.x", "1.x", or the exact version. */
void fr_vpattern_format(const fr_vpattern *p, char *buf, size_t n);

/* The least version the pattern matches (its fixed parts, zeros after). */
void fr_vpattern_floor(const fr_vpattern *p, fr_version *out);

#endif
