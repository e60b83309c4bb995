/*
 * plan.c - the planner alone on a big catalog: fr_catalog_load (listing and
 * stat, for scale) and fr_plan_compute from 0.0.0 to the latest version.
 * Prints "load MS", "path MS" (medians of REPS runs) and "hops N".
 *
 * Usage: bench-plan MIGRATIONS_DIR REPS
 */
#include "catalog.h"
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	fr_buf err = FR_BUF_INIT;
	fr_catalog *cat = NULL;
	struct ferry_plan *p = NULL;
	fr_version zero = { 0 };
	double *tl, *tp, t0;
	size_t hops = 0;
	int reps, i;

	if (argc != 3 || (reps = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench-plan MIGRATIONS_DIR REPS\n");
		return 2;
	}
	tl = calloc((size_t)reps, sizeof *tl);
	tp = calloc((size_t)reps, sizeof *tp);
	if (!tl || !tp)
		return 1;
	for (i = -1; i < reps; i++) {
		t0 = now_ms();
		if (fr_catalog_load(&cat, argv[1], NULL, &err)) {
			fprintf(stderr, "bench-plan: %s\n", err.ptr);
			return 1;
		}
		if (i >= 0)
			tl[i] = now_ms() - t0;
		t0 = now_ms();
		if (fr_plan_compute(&p, cat, &zero, fr_catalog_latest(cat), &err)) {
			fprintf(stderr, "bench-plan: %s\n", err.ptr);
			return 1;
		}
		if (i >= 0)
			tp[i] = now_ms() - t0;
		hops = p->ntrs;
		fr_plan_free(p);
		fr_catalog_free(cat);
		p = NULL;
		cat = NULL;
	}
	printf("load %.4f\npath %.4f\nhops %zu\n", median(tl, reps), median(tp, reps), hops);
	free(tl);
	free(tp);
	fr_buf_release(&err);
	return 0;
}
