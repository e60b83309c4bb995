/*
 * startup.c - how an application runs its pending migrations when it boots
 * (SPEC section 7): open the installation, ferry_up() to the version this
 * build of the application is, and carry on or stop.
 *
 *   startup-example ROOT VERSION [--keep-going]
 *
 * With --keep-going a failed upgrade is logged and the application starts
 * anyway on the old version (ferry has rolled the installation back).
 */
#include <ferry.h>

#include <stdio.h>
#include <string.h>

static void log_line(void *ctx, ferry_log_level level, const char *step, const char *msg)
{
	(void)ctx;
	if (level <= FERRY_LOG_INFO)
		fprintf(stderr, "[migrations] %s%s%s\n", step ? step : "", step ? ": " : "", msg);
}

int main(int argc, char **argv)
{
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry_run_options ro = FERRY_RUN_OPTIONS_INIT;
	ferry *f = NULL;
	char *version = NULL;
	int rc;
	if (argc < 3) {
		fprintf(stderr, "usage: %s ROOT VERSION [--keep-going]\n", argv[0]);
		return 2;
	}
	oo.log = log_line;
	ro.keep_going_on_start = argc > 3 && strcmp(argv[3], "--keep-going") == 0;
	ro.wait_seconds = 60; /* replicas booting together wait for the one migrating */
	rc = ferry_open(&f, argv[1], &oo);
	if (rc == 0)
		rc = ferry_up(f, argv[2], &ro);
	if (rc != 0) {
		fprintf(stderr, "migrations: %s\n", ferry_errmsg(f));
		ferry_close(f);
		return rc;
	}
	if (ferry_current_version(&version, f) == 0)
		printf("application starting at version %s\n", version);
	ferry_free(version);
	ferry_close(f);
	return 0;
}
