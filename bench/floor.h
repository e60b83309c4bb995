/*
 * floor.h - the least a no-op start must do, shared by noop-floor (as a
 * process) and bench-inproc (inside the process that also runs ferry):
 * list the migrations folder and its folders, stat every entry, open a
 * one-table SQLite file and read its one row. No sorting, no parsing, no
 * allocation beyond SQLite's own: what SPEC section 2 leaves a no-op to do.
 */
#ifndef FR_BENCH_FLOOR_H
#define FR_BENCH_FLOOR_H
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Set, the listing also reads every file through (open, read, close): the
 * floor of a command that must read each step, as `ferry plan` does.
 */
static int floor_read_files;

/* Reads the file name in dir through. 0 when read. */
__attribute__((unused)) static int floor_read_through(int dir, const char *name)
{
	char buf[65536];
	ssize_t r;
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		;
	close(fd);
	return r < 0 ? -1 : 0;
}

/* Lists and stats dir and the folders in it. Returns the entries seen, -1 on error. */
__attribute__((unused)) static long floor_list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	long n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
			n = -1;
			break;
		}
		n++;
		if (floor_read_files && S_ISREG(st.st_mode) &&
		    floor_read_through(dirfd(d), e->d_name) != 0) {
			n = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			char sub[4096];
			long k;
			snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
			if ((k = floor_list(sub)) < 0) {
				n = -1;
				break;
			}
			n += k;
		}
	}
	closedir(d);
	return n;
}

/* Reads the first column of the one row of sql from db (read-only). 0 when read. */
__attribute__((unused)) static int floor_read(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int ok;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	ok = sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL;
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok ? 0 : -1;
}

__attribute__((unused)) static int floor_work(const char *dir, const char *db, const char *sql)
{
	return floor_list(dir) < 0 || floor_read(db, sql) ? -1 : 0;
}
#endif
