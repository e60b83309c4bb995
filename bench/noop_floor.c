/*
 * noop_floor.c - the floor of a no-op start as one process (bench/floor.h):
 * list and stat the migrations folder, read one row of a one-table SQLite
 * file. bench/run.sh times it beside `ferry up` and `ferry status`.
 *
 * Usage: noop-floor [--read] DIR DB SQL. Exit 0 when the row was read.
 * With --read it also reads every file through: the floor of `ferry plan`,
 * which reads each step it lists.
 */
#include "floor.h"

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--read")) {
		floor_read_files = 1;
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: noop-floor [--read] DIR DB SQL\n");
		return 2;
	}
	return floor_work(argv[1], argv[2], argv[3]) ? 1 : 0;
}
