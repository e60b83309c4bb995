/*
 * fuzz_config.c - ferry.yaml (lib/config.h). The input is written as
 * <tmp>/ferry.yaml and loaded: a load either succeeds with a complete
 * configuration (absolute paths, a default database when any; no
 * ferry-layout folder only when a list of sources names none, config.h) or
 * fails with a message. Every database's URL goes through the URL parser
 * on the way; the input's text also goes through ${ENV} expansion.
 */
#include "fuzz.h"
#include "config.h"
#include "ferry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("FUZZ_SET", "value", 1);
	setenv("FUZZ_EMPTY", "", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fz_dir();
	fr_buf err = FR_BUF_INIT, out = FR_BUF_INIT;
	fr_config *c = NULL;
	char *text;
	size_t i;
	int rc;

	if (size > 65536)
		return 0;
	fz_write(dir, "ferry.yaml", data, size);
	rc = fr_config_load(&c, dir, &err);
	if (rc == 0) {
		check(c != NULL);
		check(c->root && c->path && c->app && c->backup_dir);
		check(c->root[0] == '/' && c->backup_dir[0] == '/');
		/* no ferry-layout folder only when a list of sources names none (config.h) */
		check(c->migrations ? c->migrations[0] == '/' : c->nsources > 0);
		for (i = 0; i < c->nsources; i++)
			check(c->sources[i].path && c->sources[i].path[0] == '/' &&
			      c->sources[i].rel);
		check(!c->version_file || c->version_file[0] == '/');
		check(c->ndbs == 0 || fr_config_db(c, NULL) == &c->dbs[0]);
		for (i = 0; i < c->ndbs; i++) {
			check(c->dbs[i].name && c->dbs[i].url && c->dbs[i].driver);
			check(fr_config_db(c, c->dbs[i].name) != NULL);
			check(!c->dbs[i].path || c->dbs[i].path[0] == '/');
		}
	} else {
		check(c == NULL);
		check(rc == FERRY_EINVALID || rc == FERRY_EFAILED);
		check(err.len > 0);
	}
	fr_config_free(c);

	text = fz_str(data, size);
	fr_buf_reset(&err);
	if (fr_expand_env(text, &out, &err))
		check(err.len > 0);
	fr_free(text);
	fr_buf_release(&out);
	fr_buf_release(&err);
	return 0;
}
