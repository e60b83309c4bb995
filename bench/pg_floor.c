/*
 * pg_floor.c - the least any program can do for a no-op start on
 * PostgreSQL: load libpq as ferry does (dlopen, RTLD_LAZY), connect, read
 * the version row, disconnect. bench/postgres.sh times it beside
 * `ferry up` with nothing to do, so the table shows what ferry adds to it.
 *
 * Usage: pg-floor CONNINFO. Exit 0 when the row was read.
 */
#include <dlfcn.h>
#include <stdio.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

int main(int argc, char **argv)
{
	void *lib;
	PGconn *(*connectdb)(const char *);
	PGresult *(*exec)(PGconn *, const char *);
	int (*status)(const PGconn *), (*result_status)(const PGresult *);
	void (*clear)(PGresult *), (*finish)(PGconn *);
	PGconn *c;
	PGresult *r;
	int ok;

	if (argc != 2) {
		fprintf(stderr, "usage: pg-floor CONNINFO\n");
		return 2;
	}
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
	c = connectdb(argv[1]);
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
