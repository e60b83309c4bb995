/*
 * startup.c - how an application runs its pending migrations when it boots
 * (SPEC section 7): open the installation, ferry_up() to the version this
 * build of the application is, and carry on or stop.
 *
 *   startup-example ROOT VERSION [--keep-going]
 *
 * With --keep-going a failed upgrade is logged and the application starts
 * anyway on the old version (ferry has rolled the installation back).
 *
 * It also registers a native C step, 1.0.1/build_cache (from 1.0.0): work
 * an SQL file cannot do, here writing data/cache/notes.idx. ferry plans,
 * records and rolls it back like a file step.
 */
#include <ferry.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char cache_path[4096];

static int build_cache(ferry *f, void *ctx)
{
	const char *root = ctx;
	FILE *fp;
	snprintf(cache_path, sizeof cache_path, "%s/data/cache", root);
	mkdir(cache_path, 0755);
	snprintf(cache_path, sizeof cache_path, "%s/data/cache/notes.idx", root);
	fp = fopen(cache_path, "w");
	if (!fp) {
		ferry_set_error(f, "cannot write data/cache/notes.idx");
		return 1;
	}
	fputs("notebook search cache v1\n", fp);
	return fclose(fp) == 0 ? 0 : 1;
}

static int drop_cache(ferry *f, void *ctx)
{
	char path[4096];
	(void)f;
	snprintf(path, sizeof path, "%s/data/cache/notes.idx", (const char *)ctx);
	return unlink(path) == 0 ? 0 : 1;
}

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
	if (rc == 0) {
		ferry_native_step step;
		memset(&step, 0, sizeof step);
		step.version = FERRY_NATIVE_STEP_VERSION;
		step.id = "1.0.1/build_cache";
		step.from = "1.0.0";
		step.to = "1.0.1";
		step.description = "build the notes search cache";
		step.forward = build_cache;
		step.backward = drop_cache;
		step.ctx = argv[1];
		rc = ferry_register_step(f, &step);
	}
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
