/*
 * template.c - the file `ferry new --kind ops` writes: a commented
 * example op list, and telling that template, still untouched, from a
 * written step. The ops kind (ops.c) names these two in its initializer.
 */
#include "ops_int.h"

static const char ops_template[] =
	"# {name}: an ops step: edits of configuration files and folders that ferry\n"
	"# records and undoes itself (docs/migrations.md, \"Ops steps\"). Uncomment\n"
	"# and change the ops below; they run in order.\n"
	"description: {name}\n"
	"ops:\n"
	"#  - set:    {file: config/app.json, path: feature.enabled, value: true, if_missing: true}\n"
	"#  - rename: {file: config/app.json, from: log_level, to: logging.level}\n"
	"#  - env:    {file: .env, key: CACHE_DIR, value: data/cache, if_missing: true}\n"
	"#  - mkdir:  {path: data/search, mode: \"0750\"}\n";

int fr_ops_new_template(fr_buf *out, const char *name)
{
	return fr_template_fill(out, ops_template, name);
}

int fr_ops_is_template(const char *text, size_t len)
{
	return fr_template_matches(ops_template, text, len);
}
