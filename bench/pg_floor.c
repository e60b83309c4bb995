/*
 * pg_floor.c - the least any program can do for a no-op start on
 * PostgreSQL: load libpq as ferry does (dlopen, RTLD_LAZY), connect, read
 * the version row, disconnect. bench/postgres.sh times it beside
 * `ferry up` with nothing to do, so the table shows what ferry adds to it.
 *
 * Usage: pg-floor CONNINFO [DIR]. Exit 0 when the row was read. With DIR,
 * the rest of a no-op start runs beside it, as ferry runs it: a thread
 * loads libpq, connects and reads while the main thread lists DIR and stats
 * every entry (bench/floor.h). SPEC section 2 asks both of a no-op, so this
 * is the floor of ferry's PostgreSQL no-op over a migrations folder.
 */
#include "floor.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

static int pg_work(const char *conninfo);

static void *pg_thread(void *arg)
{
	static int rc;
	rc = pg_work(arg);
	return &rc;
}

int main(int argc, char **argv)
{
	pthread_t t;
	void *res;
	long n;
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: pg-floor CONNINFO [DIR]\n");
		return 2;
	}
	if (argc == 2)
		return pg_work(argv[1]);
	if (pthread_create(&t, NULL, pg_thread, argv[1]))
		return 1;
	n = floor_list(argv[2]);
	if (pthread_join(t, &res))
		return 1;
	return n < 0 ? 1 : *(int *)res;
}

static int pg_work(const char *conninfo)
{
	void *lib;
	PGconn *(*connectdb)(const char *);
	PGresult *(*exec)(PGconn *, const char *);
	int (*status)(const PGconn *), (*result_status)(const PGresult *);
	void (*clear)(PGresult *), (*finish)(PGconn *);
	PGconn *c;
	PGresult *r;
	int ok;

	lib = dlopen("libpq.so.5", RTLD_LAZY | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "pg-floor: %s\n", dlerror());
		return 1;
	}
	*(void **)&connectdb = dlsym(lib, "PQconnectdb");
	*(void **)&exec = dlsym(lib, "PQexec");
	*(void **)&status = dlsym(lib, "PQstatus");
	*(void **)&result_status = dlsym(lib, "PQresultStatus");
	*(void **)&clear = dlsym(lib, "PQclear");
	*(void **)&finish = dlsym(lib, "PQfinish");
	if (!connectdb || !exec || !status || !result_status || !clear || !finish)
		return 1;
	c = connectdb(conninfo);
	if (status(c) != 0) { /* CONNECTION_OK */
		finish(c);
		return 1;
	}
	r = exec(c, "SELECT version FROM ferry.version");
	ok = result_status(r) == 2; /* PGRES_TUPLES_OK */
	clear(r);
	finish(c);
	return ok ? 0 : 1;
}
