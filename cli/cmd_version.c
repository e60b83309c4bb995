/* cmd_version.c - `ferry version [--set V] [--force]`. */
#include "cli.h"

#include <jansson.h>

int cmd_version(int argc, char **argv)
{
	const char *set = NULL;
	int force = 0;
	const cli_opt opts[] = {
		OPT_STR_(0, "set", &set, "V", "record V as current without running anything"),
		OPT_FLAG_(0, "force", &force, "with --set: even below applied steps"),
		OPT_END_
	};
	char *v = NULL;
	int rc = cli_parse("version", "Print the current version of the installation, or record "
	                              "one with --set (a baseline, as Flyway's baseline or "
	                              "Alembic's stamp).",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (set && (rc = ferry_set_version(cli.f, set, force)))
		return cli_fail(rc);
	if ((rc = ferry_current_version(&v, cli.f)))
		return cli_fail(rc);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, "version", json_string(v));
		cli_print_object(j);
	} else if (!cli.quiet || !set) {
		printf("%s\n", v);
	}
	ferry_free(v);
	return 0;
}
