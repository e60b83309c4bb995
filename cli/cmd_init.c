/* cmd_init.c - `ferry init [--version V] [--database URL]`. */
#include "cli.h"

#include <jansson.h>

int cmd_init(int argc, char **argv)
{
	ferry_init_options o = FERRY_INIT_OPTIONS_INIT;
	char *err = NULL;
	const cli_opt opts[] = {
		OPT_STR_(0, "version", &o.version_, "V", "the version to record (default 0.0.0)"),
		OPT_STR_(0, "database", &o.database, "URL",
		         "the default database (default sqlite:data/app.db)"),
		OPT_STR_(0, "app", &o.app, "NAME", "the application's name (default: the folder's)"),
		OPT_END_
	};
	const char *dir;
	char *version = NULL;
	ferry *f = NULL;
	int rc = cli_parse("init", "Make this folder (or -C DIR) an installation: write ferry.yaml "
	                           "(unless present), migrations/ and .ferry/, and record the "
	                           "version.",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	dir = cli.dir ? cli.dir : ".";
	rc = ferry_init(dir, &o, &err);
	if (rc) {
		cli_report(rc, "%s", err ? err : "init failed");
		ferry_free(err);
		return rc;
	}
	/* Init keeps the version of an installation it finds; say the one recorded. */
	if (ferry_open(&f, dir, NULL) == 0)
		ferry_current_version(&version, f);
	ferry_close(f);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, "root", json_string(dir));
		json_object_set_new(j, "version", json_string(version ? version : "0.0.0"));
		cli_print_object(j);
	} else {
		cli_say("initialised '%s' at version %s\n", dir, version ? version : "0.0.0");
	}
	ferry_free(version);
	return 0;
}
