/*
 * inproc.c - the no-op inside one process: what an application that links
 * libferry pays at start-up, against the floor measured in the same process
 * (bench/floor.h), so that process start-up and dynamic loading are out of
 * both. Prints one "KEY MILLISECONDS" line a measurement, each the median of
 * REPS runs after a warm-up:
 *
 *   floor          list and stat the migrations folder, read one SQLite row
 *   cycle          ferry_open + ferry_up + ferry_close, nothing to do; timed
 *                  in the same rounds as the floor, in turns, and each
 *                  round's two times printed too ("floor_run", "cycle_run")
 *   second         the second ferry_up on a handle (the first is the open's):
 *                  answered by the handle's watch (lib/noop.c)
 *   again          each later ferry_up on the same open handle
 *   second_stat    the second ferry_up on a handle opened FERRY_OPEN_ONE_SHOT
 *                  (no watch): the listing and a stat of every file again
 *
 * Each second call's document must say what decided it ("watch", and
 * "listing" without one); the program fails when it does not.
 *
 * Usage: bench-inproc ROOT FLOOR_DB REPS
 */
#include "floor.h"
#include "ferry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* 0 when the last run's document says the no-op was decided by how. */
static int decided_by(ferry *f, const char *how)
{
	char *doc = NULL, want[64];
	int ok;
	snprintf(want, sizeof want, "\"noop_check\": \"%s\"", how);
	ok = ferry_last_run(&doc, f) == 0 && doc && strstr(doc, want);
	if (!ok)
		fprintf(stderr, "bench-inproc: expected a no-op decided by %s, got: %s\n", how,
		        doc ? doc : "(none)");
	ferry_free(doc);
	return ok ? 0 : 1;
}

static double median(double *v, int n);
static int up(ferry *f);

/*
 * The second ferry_up on a fresh handle opened with flags, REPS times after
 * warm ones, into t; each must be a no-op decided by how.
 */
static int second(const char *root, double *t, int reps, int warm, unsigned flags,
                  const char *how)
{
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry *f = NULL;
	double t0;
	int i;
	oo.flags = flags;
	for (i = -warm; i < reps; i++) {
		if (ferry_open(&f, root, &oo)) {
			fprintf(stderr, "bench-inproc: ferry_open: %s\n", ferry_errmsg(f));
			return 1;
		}
		if (up(f))
			return 1;
		t0 = now_ms();
		if (up(f))
			return 1;
		if (i >= 0)
			t[i] = now_ms() - t0;
		if (decided_by(f, how))
			return 1;
		ferry_close(f);
		f = NULL;
	}
	return 0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int up(ferry *f)
{
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	int rc = ferry_up(f, NULL, &o);
	if (rc)
		fprintf(stderr, "bench-inproc: ferry_up: %d %s\n", rc, ferry_errmsg(f));
	return rc;
}

static int open_f(ferry **f, const char *root)
{
	int rc = ferry_open(f, root, NULL);
	if (rc)
		fprintf(stderr, "bench-inproc: ferry_open: %d %s\n", rc, ferry_errmsg(*f));
	return rc;
}



int main(int argc, char **argv)
{
	const char *root, *db;
	char dir[4096];
	double *t, *tfl, t0;
	int reps, i, warm = 3;
	ferry *f = NULL;

	if (argc != 4 || (reps = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: bench-inproc ROOT FLOOR_DB REPS\n");
		return 2;
	}
	root = argv[1];
	db = argv[2];
	snprintf(dir, sizeof dir, "%s/migrations", root);
	if (!(t = calloc((size_t)reps, sizeof *t)) || !(tfl = calloc((size_t)reps, sizeof *tfl)))
		return 1;

	/*
	 * The floor and the cycle in the same rounds, in turns (which goes
	 * first alternates): a change of the machine's speed hits both.
	 */
	for (i = -warm; i < reps; i++) {
		double tf = 0, tc = 0;
		for (int k = 0; k < 2; k++) {
			if ((k == 0) == (i % 2 == 0)) {
				t0 = now_ms();
				if (floor_work(dir, db, "SELECT * FROM t")) {
					fprintf(stderr, "bench-inproc: the floor failed on %s, %s\n", dir, db);
					return 1;
				}
				tf = now_ms() - t0;
			} else {
				t0 = now_ms();
				if (open_f(&f, root) || up(f))
					return 1;
				ferry_close(f);
				f = NULL;
				tc = now_ms() - t0;
			}
		}
		if (i >= 0) {
			tfl[i] = tf;
			t[i] = tc;
		}
	}
	for (i = 0; i < reps; i++)
		printf("floor_run %.4f\ncycle_run %.4f\n", tfl[i], t[i]);
	printf("floor %.4f\n", median(tfl, reps));
	printf("cycle %.4f\n", median(t, reps));

	if (second(root, t, reps, warm, 0, "watch"))
		return 1;
	printf("second %.4f\n", median(t, reps));
	if (second(root, t, reps, warm, FERRY_OPEN_ONE_SHOT, "listing"))
		return 1;
	printf("second_stat %.4f\n", median(t, reps));

	if (open_f(&f, root) || up(f) || up(f))
		return 1;
	for (i = -warm; i < reps; i++) {
		t0 = now_ms();
		if (up(f))
			return 1;
		if (i >= 0)
			t[i] = now_ms() - t0;
	}
	printf("again %.4f\n", median(t, reps));
	ferry_close(f);
	free(t);
	free(tfl);
	return 0;
}
