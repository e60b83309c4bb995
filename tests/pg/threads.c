/*
 * threads.c - sixteen threads of one program call ferry_up() at once, as
 * replicas of a server booting together would, each on its own handle and
 * (for the test) its own copy of the installation folder sharing one
 * PostgreSQL database: the database's advisory lock is what serialises
 * them. Every thread must end at the target with FERRY_OK.
 *
 *   pg-threads TARGET ROOT1 ROOT2 ... (one root per thread)
 */
#include <ferry.h>

#include <pthread.h>
#include <stdio.h>

typedef struct {
	const char *root;
	const char *target;
	int rc;
	char msg[512];
	char version[64];
} job;

static void *run(void *arg)
{
	job *j = arg;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry *f = NULL;
	char *v = NULL;
	o.wait_seconds = 60;
	o.skip_backup = 1;
	j->rc = ferry_open(&f, j->root, NULL);
	if (j->rc == 0)
		j->rc = ferry_up(f, j->target, &o);
	snprintf(j->msg, sizeof j->msg, "%s", ferry_errmsg(f));
	if (j->rc == 0 && ferry_current_version(&v, f) == 0)
		snprintf(j->version, sizeof j->version, "%s", v);
	ferry_free(v);
	ferry_close(f);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[64];
	job jobs[64];
	int i, n = argc - 2, bad = 0;
	if (argc < 3 || n > 64) {
		fprintf(stderr, "usage: %s TARGET ROOT...\n", argv[0]);
		return 2;
	}
	for (i = 0; i < n; i++) {
		jobs[i].root = argv[i + 2];
		jobs[i].target = argv[1];
		jobs[i].version[0] = '\0';
		pthread_create(&t[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		printf("thread %d: rc %d version %s%s%s\n", i, jobs[i].rc, jobs[i].version,
		       jobs[i].rc ? " error: " : "", jobs[i].rc ? jobs[i].msg : "");
		bad |= jobs[i].rc != 0;
	}
	return bad;
}
