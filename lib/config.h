/*
 * config.h - ferry.yaml into a struct (SPEC section 2).
 *
 * Every string value may hold ${NAME} or ${NAME:-default}, expanded from
 * the environment when loaded; ${NAME} with NAME unset is an error naming
 * the key and line. Unknown keys and wrong types are errors that name the
 * key, the file and the line. All errors of a file are reported at once.
 */
#ifndef FR_CONFIG_H
#define FR_CONFIG_H

#include "db/db.h"
#include "util/buf.h"

#include <stddef.h>

typedef struct {
	char *name;
	char *command;
} fr_hookconf;

/*
 * One source of steps (SPEC section 2): a folder of ferry's own layout, or
 * one written for another tool, read as it is (lib/layout/).
 */
typedef struct {
	char *path;            /* absolute */
	char *rel;             /* as ferry.yaml gives it, for messages */
	char *layout;          /* "ferry", a layout's name, or NULL: detected from the file names */
	char *database;        /* the database its steps run on; NULL: the default database */
	int line;              /* in ferry.yaml; 0 for the default source */
} fr_source;

typedef struct {
	char *path;            /* absolute path of ferry.yaml */
	char *root;            /* absolute path of the installation */
	char *app;             /* default: the root folder's name */
	char *migrations;      /* the ferry-layout folder, absolute; default <root>/migrations;
	                          NULL when a list of sources names none (it may be detected) */
	fr_source *sources;    /* migrations: every source in file order (one for a string) */
	size_t nsources;
	int tx_per_step;       /* transaction: step */
	char *version_file;    /* absolute path, or NULL */
	fr_dbconf *dbs;        /* in file order; dbs[0] is the default */
	size_t ndbs;
	/* backup: (SPEC section 8) */
	char *backup_dir;      /* absolute; default <root>/.ferry/backups */
	char **backup_include;
	size_t n_backup_include;
	char **backup_exclude;
	size_t n_backup_exclude;
	char *backup_compression; /* zstd (default) | gzip | none */
	int backup_keep;          /* default 10 */
	/* hooks: */
	char *hook_stop, *hook_start, *hook_health;
	fr_hookconf *hook_restart;
	size_t n_hook_restart;
} fr_config;

/*
 * Loads <root>/ferry.yaml; root must be absolute. Returns 0, or
 * FERRY_EINVALID with one line per problem appended to err, each
 * "<path>:<line>: <message>".
 */
int fr_config_load(fr_config **out, const char *root, fr_buf *err);
void fr_config_free(fr_config *c);

/* The database named name, or the default one when name is NULL; NULL when absent. */
const fr_dbconf *fr_config_db(const fr_config *c, const char *name);

/*
 * Expands ${NAME} and ${NAME:-default} in text into out. "$$" is a literal
 * "$". Returns 0, or -1 after appending a message to err (unset variable
 * without default, unterminated ${).
 */
int fr_expand_env(const char *text, fr_buf *out, fr_buf *err);

#endif
