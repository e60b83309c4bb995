/* cmd_new.c - `ferry new <to-version> <name> [--kind KIND] [--from V]`. */
#include "cli.h"

#include <jansson.h>

int cmd_new(int argc, char **argv)
{
	const char *to = NULL, *name = NULL, *kind = NULL, *from = NULL;
	const cli_opt opts[] = {
		OPT_STR_(0, "kind", &kind, "KIND", "the step kind, by its name or file extension "
		                                   "(default: the library's first; see ferry(1))"),
		OPT_STR_(0, "from", &from, "V", "the transition's from (default: the version below)"),
		OPT_ARG_("to-version", &to, 1, "the version the step belongs to"),
		OPT_ARG_("name", &name, 1, "a short name: letters, digits, _ and -"),
		OPT_END_
	};
	char *path = NULL;
	int rc = cli_parse("new", "Create a numbered step file from a template in the transition "
	                          "folder into to-version (made when missing).",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = ferry_new_step(&path, cli.f, to, name, kind, from)))
		return cli_fail(rc);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, "path", json_string(path));
		cli_print_object(j);
	} else {
		cli_result("created %s\n", path);
	}
	ferry_free(path);
	return 0;
}
