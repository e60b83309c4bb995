/*
 * config.c - ferry.yaml into an fr_config (SPEC section 2): the allowed keys
 * and their types, the defaults, ${ENV} expansion, absolute paths. A
 * database URL is read by the driver that claims it (lib/db/db.h).
 *
 * Every problem of the file is collected, one line "<path>:<line>: <what>"
 * each (lines separated by '\n', none after the last), before failing with
 * FERRY_EINVALID. A key whose value is null (`key:` alone) counts as absent,
 * so commenting out everything under a section is fine.
 */
#include "config.h"
#include "ferry.h"
#include "layout/layout.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {
	"app", "migrations", "transaction", "version_file", "databases", "backup", "hooks", NULL
};
static const char *const backup_keys[] = {
	"dir", "include", "exclude", "compression", "keep", NULL
};
static const char *const hook_keys[] = { "stop", "start", "health", "restart", NULL };
static const char *const source_keys[] = { "path", "layout", "database", NULL };

typedef struct {
	const char *path; /* of ferry.yaml, for messages */
	const char *root;
	fr_buf *err;
	int problems;
	int oom;
} loader;

/* Starts a new line of err unless it is empty or already ends one. */
static void new_line(fr_buf *err)
{
	if (err->len && err->ptr[err->len - 1] != '\n')
		fr_buf_putc(err, '\n');
}

static void problem(loader *l, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(loader *l, int line, const char *fmt, ...)
{
	va_list ap;
	new_line(l->err);
	fr_buf_printf(l->err, "%s:%d: ", l->path, line);
	va_start(ap, fmt);
	fr_buf_vprintf(l->err, fmt, ap);
	va_end(ap);
	l->problems++;
}

/* "a.b" for the messages, in a caller's buffer. */
static const char *dotted(fr_buf *b, const char *parent, const char *key)
{
	fr_buf_reset(b);
	if (parent)
		fr_buf_printf(b, "%s.%s", parent, key);
	else
		fr_buf_puts(b, key);
	return b->oom ? key : b->ptr;
}

static void check_keys(loader *l, const fr_yaml *map, const char *const *allowed,
                       const char *where)
{
	fr_buf list = FR_BUF_INIT;
	size_t i, k;
	for (k = 0; allowed[k]; k++)
		fr_buf_printf(&list, "%s%s", k ? ", " : "", allowed[k]);
	for (i = 0; i < map->n; i++) {
		for (k = 0; allowed[k]; k++)
			if (strcmp(map->keys[i], allowed[k]) == 0)
				break;
		if (allowed[k])
			continue;
		if (where)
			problem(l, map->key_lines[i],
			        "unknown key '%s' in '%s' (expected one of: %s)", map->keys[i],
			        where, list.ptr);
		else
			problem(l, map->key_lines[i], "unknown key '%s' (expected one of: %s)",
			        map->keys[i], list.ptr);
	}
	fr_buf_release(&list);
}

/*
 * The string value of a scalar, ${ENV} expanded, in *out (malloc'd). A
 * problem naming key is reported when it is not a scalar or does not
 * expand. Returns 0 or -1.
 */
static int scalar(loader *l, const fr_yaml *n, const char *key, const char *expected,
                  char **out)
{
	fr_buf b = FR_BUF_INIT, e = FR_BUF_INIT;
	int r = -1;
	*out = NULL;
	if (n->kind != FR_YAML_SCALAR) {
		problem(l, n->line, "'%s' must be %s (got a %s)", key, expected,
		        fr_yaml_kind_name(n->kind));
		goto done;
	}
	if (fr_expand_env(n->scalar, &b, &e)) {
		if (e.oom)
			l->oom = 1;
		else
			problem(l, n->line, "%s (in '%s')", e.ptr, key);
		goto done;
	}
	*out = fr_buf_detach(&b);
	if (!*out) {
		l->oom = 1;
		goto done;
	}
	r = 0;
done:
	fr_buf_release(&b);
	fr_buf_release(&e);
	return r;
}

/* An optional string key of map: absent, null or empty leaves *out as it is. */
static void opt_string(loader *l, const fr_yaml *map, const char *key, const char *parent,
                       char **out)
{
	fr_buf name = FR_BUF_INIT;
	const fr_yaml *n = fr_yaml_get(map, key);
	char *s = NULL;
	if (!n || fr_yaml_is_null(n))
		goto done;
	if (scalar(l, n, dotted(&name, parent, key), "a string", &s))
		goto done;
	if (!*s)
		goto done;
	fr_free(*out);
	*out = s;
	s = NULL;
done:
	fr_free(s);
	fr_buf_release(&name);
}

/* Like opt_string, for a path: made absolute relative to the root. */
static void opt_path(loader *l, const fr_yaml *map, const char *key, const char *parent,
                     char **out)
{
	char *s = NULL, *abs;
	opt_string(l, map, key, parent, &s);
	if (!s)
		return;
	abs = fr_path_join(l->root, s);
	fr_free(s);
	if (!abs) {
		l->oom = 1;
		return;
	}
	fr_free(*out);
	*out = abs;
}

/* A list of strings (backup.include, backup.exclude). */
static void opt_list(loader *l, const fr_yaml *map, const char *key, const char *parent,
                     char ***out, size_t *count)
{
	fr_buf name = FR_BUF_INIT;
	const fr_yaml *n = fr_yaml_get(map, key);
	const char *full = dotted(&name, parent, key);
	size_t i;
	if (!n || fr_yaml_is_null(n))
		goto done;
	if (n->kind != FR_YAML_SEQ) {
		problem(l, n->line, "'%s' must be a list of paths (got a %s)", full,
		        fr_yaml_kind_name(n->kind));
		goto done;
	}
	*out = fr_calloc(n->n, sizeof **out);
	if (!*out) {
		l->oom = 1;
		goto done;
	}
	for (i = 0; i < n->n; i++) {
		const fr_yaml *item = n->items[i];
		char *s = NULL;
		if (fr_yaml_is_null(item) || (item->kind == FR_YAML_SCALAR && !*item->scalar)) {
			problem(l, item->line, "'%s' has an empty item", full);
			continue;
		}
		if (scalar(l, item, full, "a list of paths", &s))
			continue;
		(*out)[(*count)++] = s;
	}
done:
	fr_buf_release(&name);
}

/* Database names go into FERRY_DB_<NAME> and "-- ferry:database NAME". */
static int valid_db_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void load_databases(loader *l, const fr_yaml *n, fr_config *c)
{
	fr_buf name = FR_BUF_INIT, e = FR_BUF_INIT;
	size_t i;
	if (n->kind != FR_YAML_MAP) {
		problem(l, n->line, "'databases' must be a mapping of name to url (got a %s)",
		        fr_yaml_kind_name(n->kind));
		goto done;
	}
	c->dbs = fr_calloc(n->n, sizeof *c->dbs);
	if (!c->dbs) {
		l->oom = 1;
		goto done;
	}
	for (i = 0; i < n->n; i++) {
		const fr_yaml *v = n->items[i];
		const char *key = n->keys[i];
		const char *full = dotted(&name, "databases", key);
		fr_dbconf *db = &c->dbs[c->ndbs];
		char *url = NULL;
		if (!valid_db_name(key)) {
			problem(l, n->key_lines[i], "database name '%s' must use only letters, "
			        "digits, '_' and '-'", key);
			continue;
		}
		if (fr_yaml_is_null(v)) {
			problem(l, v->line, "'%s' must be a database url (got nothing)", full);
			continue;
		}
		if (scalar(l, v, full, "a database url", &url))
			continue;
		if (!*url) {
			fr_buf_reset(&e);
			fr_db_url_forms(&e);
			problem(l, v->line, "'%s' is empty (expected %s)", full, e.ptr);
			fr_free(url);
			continue;
		}
		fr_buf_reset(&e);
		if (fr_db_url_parse(db, url, l->root, &e)) {
			if (e.oom)
				l->oom = 1;
			else
				problem(l, v->line, "%s (in '%s')", e.ptr, full);
			fr_free(url);
			continue;
		}
		db->name = fr_strdup(key);
		db->url = url;
		db->line = n->key_lines[i];
		c->ndbs++;
		if (!db->name)
			l->oom = 1;
	}
done:
	fr_buf_release(&name);
	fr_buf_release(&e);
}

static void load_backup(loader *l, const fr_yaml *n, fr_config *c)
{
	const fr_yaml *v;
	char *s = NULL;
	if (n->kind != FR_YAML_MAP) {
		problem(l, n->line, "'backup' must be a mapping (got a %s)",
		        fr_yaml_kind_name(n->kind));
		return;
	}
	check_keys(l, n, backup_keys, "backup");
	opt_path(l, n, "dir", "backup", &c->backup_dir);
	opt_list(l, n, "include", "backup", &c->backup_include, &c->n_backup_include);
	opt_list(l, n, "exclude", "backup", &c->backup_exclude, &c->n_backup_exclude);

	v = fr_yaml_get(n, "compression");
	if (v && !fr_yaml_is_null(v) &&
	    !scalar(l, v, "backup.compression", "one of zstd, gzip, none", &s)) {
		if (strcmp(s, "zstd") && strcmp(s, "gzip") && strcmp(s, "none")) {
			problem(l, v->line, "'backup.compression' must be one of zstd, gzip, "
			        "none (got '%s')", s);
		} else {
			fr_free(c->backup_compression);
			c->backup_compression = s;
			s = NULL;
		}
	}
	FR_FREE(s);

	v = fr_yaml_get(n, "keep");
	if (v && !fr_yaml_is_null(v) &&
	    !scalar(l, v, "backup.keep", "an integer >= 0", &s)) {
		char *end = NULL;
		long k;
		errno = 0;
		k = (s[0] >= '0' && s[0] <= '9') ? strtol(s, &end, 10) : -1;
		if (k < 0 || !end || *end || errno || k > INT_MAX)
			problem(l, v->line, "'backup.keep' must be an integer >= 0 (got '%s')", s);
		else
			c->backup_keep = (int)k;
	}
	fr_free(s);
}

static void load_hooks(loader *l, const fr_yaml *n, fr_config *c)
{
	fr_buf name = FR_BUF_INIT;
	const fr_yaml *r;
	size_t i;
	if (n->kind != FR_YAML_MAP) {
		problem(l, n->line, "'hooks' must be a mapping (got a %s)",
		        fr_yaml_kind_name(n->kind));
		goto done;
	}
	check_keys(l, n, hook_keys, "hooks");
	opt_string(l, n, "stop", "hooks", &c->hook_stop);
	opt_string(l, n, "start", "hooks", &c->hook_start);
	opt_string(l, n, "health", "hooks", &c->hook_health);
	r = fr_yaml_get(n, "restart");
	if (!r || fr_yaml_is_null(r))
		goto done;
	if (r->kind != FR_YAML_MAP) {
		problem(l, r->line, "'hooks.restart' must be a mapping of service to command "
		        "(got a %s)", fr_yaml_kind_name(r->kind));
		goto done;
	}
	c->hook_restart = fr_calloc(r->n, sizeof *c->hook_restart);
	if (!c->hook_restart) {
		l->oom = 1;
		goto done;
	}
	for (i = 0; i < r->n; i++) {
		const fr_yaml *v = r->items[i];
		const char *full = dotted(&name, "hooks.restart", r->keys[i]);
		fr_hookconf *h = &c->hook_restart[c->n_hook_restart];
		char *cmd = NULL;
		if (fr_yaml_is_null(v)) {
			problem(l, v->line, "'%s' must be a command (got nothing)", full);
			continue;
		}
		if (scalar(l, v, full, "a command", &cmd))
			continue;
		if (!*cmd) {
			problem(l, v->line, "'%s' is empty (expected a command)", full);
			fr_free(cmd);
			continue;
		}
		h->command = cmd;
		h->name = fr_strdup(r->keys[i]);
		c->n_hook_restart++;
		if (!h->name)
			l->oom = 1;
	}
done:
	fr_buf_release(&name);
}

/* Appends a source; 0, or -1 out of memory (path and rel are taken over either way). */
static int add_source(loader *l, fr_config *c, char *rel, char *layout, char *database, int line)
{
	fr_source *v = fr_realloc(c->sources, (c->nsources + 1) * sizeof *v);
	char *abs = rel ? fr_path_join(l->root, rel) : NULL;
	size_t n;
	if (!v || !abs) {
		if (v)
			c->sources = v;
		fr_free(abs);
		fr_free(rel);
		fr_free(layout);
		fr_free(database);
		l->oom = 1;
		return -1;
	}
	c->sources = v;
	for (n = strlen(abs); n > 1 && abs[n - 1] == '/'; n--)
		abs[n - 1] = '\0'; /* "db/" is "db" */
	v[c->nsources].path = abs;
	v[c->nsources].rel = rel;
	v[c->nsources].layout = layout;
	v[c->nsources].database = database;
	v[c->nsources].line = line;
	c->nsources++;
	return 0;
}

/*
 * migrations: a folder (ferry's layout), or a list of sources {path,
 * layout, database}. At most one source is of ferry's layout; a layout is
 * one lib/layout/ knows; a database is one that databases: names.
 */
static void load_migrations(loader *l, const fr_yaml *n, fr_config *c)
{
	fr_buf names = FR_BUF_INIT;
	const fr_source *ferry_src = NULL;
	size_t i;

	fr_free(c->migrations);
	c->migrations = NULL;
	if (n->kind == FR_YAML_SCALAR) {
		char *s = NULL;
		if (scalar(l, n, "migrations", "a folder or a list of sources", &s))
			return;
		if (!*s) {
			/* As for any string key: empty is absent, the default folder. */
			fr_free(s);
			if (!(c->migrations = fr_path_join(l->root, "migrations")))
				l->oom = 1;
			else
				add_source(l, c, fr_strdup("migrations"), fr_strdup("ferry"), NULL, 0);
			return;
		}
		if (!(c->migrations = fr_path_join(l->root, s))) {
			fr_free(s);
			l->oom = 1;
			return;
		}
		add_source(l, c, s, fr_strdup("ferry"), NULL, n->line);
		return;
	}
	if (n->kind != FR_YAML_SEQ) {
		problem(l, n->line, "'migrations' must be a folder or a list of sources {path, layout, "
		        "database} (got a %s)", fr_yaml_kind_name(n->kind));
		return;
	}
	fr_layout_names(&names);
	for (i = 0; i < n->n && !l->oom; i++) {
		const fr_yaml *e = n->items[i];
		char *path = NULL, *layout = NULL, *db = NULL;
		if (e->kind == FR_YAML_SCALAR && !fr_yaml_is_null(e)) {
			/* - db/migrations: a folder, its layout detected */
			if (scalar(l, e, "migrations", "a source", &path) == 0)
				add_source(l, c, path, NULL, NULL, e->line);
			continue;
		}
		if (e->kind != FR_YAML_MAP) {
			problem(l, e->line, "'migrations' items must be sources {path, layout, database} "
			        "(got a %s)", fr_yaml_kind_name(e->kind));
			continue;
		}
		check_keys(l, e, source_keys, "migrations");
		opt_string(l, e, "path", "migrations", &path);
		opt_string(l, e, "layout", "migrations", &layout);
		opt_string(l, e, "database", "migrations", &db);
		if (!path) {
			problem(l, e->line, "a source in 'migrations' needs a 'path'");
			goto bad;
		}
		if (layout && strcmp(layout, "ferry") && !fr_layout_find(layout)) {
			problem(l, fr_yaml_get(e, "layout")->line, "unknown layout '%s' in 'migrations' "
			        "(expected one of: ferry, %s)", layout, names.ptr);
			goto bad;
		}
		if (db && !fr_config_db(c, db)) {
			problem(l, fr_yaml_get(e, "database")->line, "source '%s' names database '%s', "
			        "which 'databases' does not list", path, db);
			goto bad;
		}
		if (layout && !strcmp(layout, "ferry")) {
			if (ferry_src) {
				problem(l, e->line, "a second source of layout 'ferry' in 'migrations' "
				        "(the first is '%s', line %d)", ferry_src->rel, ferry_src->line);
				goto bad;
			}
			if (db) {
				problem(l, fr_yaml_get(e, "database")->line, "a source of layout 'ferry' "
				        "takes no 'database' (its steps name theirs with -- ferry:database)");
				goto bad;
			}
		}
		{
			/* one folder, one chain: a second source of it would run its steps twice */
			char *abs = fr_path_join(l->root, path);
			size_t k, len = abs ? strlen(abs) : 0;
			while (len > 1 && abs[len - 1] == '/')
				abs[--len] = '\0';
			for (k = 0; abs && k < c->nsources; k++)
				if (!strcmp(c->sources[k].path, abs))
					break;
			if (abs && k < c->nsources) {
				problem(l, e->line, "source '%s' is the folder of source '%s' (line %d) "
				        "again", path, c->sources[k].rel, c->sources[k].line);
				fr_free(abs);
				goto bad;
			}
			fr_free(abs);
		}
		if (add_source(l, c, path, layout, db, e->line))
			break;
		if (layout && !strcmp(layout, "ferry")) {
			ferry_src = &c->sources[c->nsources - 1];
			if (!(c->migrations = fr_strdup(ferry_src->path)))
				l->oom = 1;
		}
		continue;
bad:
		fr_free(path);
		fr_free(layout);
		fr_free(db);
	}
	fr_buf_release(&names);
}

static void load_top(loader *l, const fr_yaml *doc, fr_config *c)
{
	const fr_yaml *v;
	char *s = NULL;
	if (doc->kind != FR_YAML_MAP) {
		problem(l, doc->line, "the file must be a mapping of keys (got a %s)",
		        fr_yaml_kind_name(doc->kind));
		return;
	}
	check_keys(l, doc, top_keys, NULL);
	opt_string(l, doc, "app", NULL, &c->app);
	opt_path(l, doc, "version_file", NULL, &c->version_file);

	v = fr_yaml_get(doc, "transaction");
	if (v && !fr_yaml_is_null(v) &&
	    !scalar(l, v, "transaction", "'group' or 'step'", &s)) {
		if (strcmp(s, "group") == 0)
			c->tx_per_step = 0;
		else if (strcmp(s, "step") == 0)
			c->tx_per_step = 1;
		else
			problem(l, v->line,
			        "'transaction' must be 'group' or 'step' (got '%s')", s);
	}
	fr_free(s);

	v = fr_yaml_get(doc, "databases");
	if (v && !fr_yaml_is_null(v))
		load_databases(l, v, c);
	/* After databases: a source names one of them. */
	v = fr_yaml_get(doc, "migrations");
	if (v && !fr_yaml_is_null(v))
		load_migrations(l, v, c);
	else if (c->migrations && !c->nsources)
		add_source(l, c, fr_strdup("migrations"), fr_strdup("ferry"), NULL, 0);
	v = fr_yaml_get(doc, "backup");
	if (v && !fr_yaml_is_null(v))
		load_backup(l, v, c);
	v = fr_yaml_get(doc, "hooks");
	if (v && !fr_yaml_is_null(v))
		load_hooks(l, v, c);
}

/* Defaults that depend on the root; set before the file is read. */
static int set_defaults(fr_config *c, const char *root)
{
	const char *base = strrchr(root, '/');
	base = base ? base + 1 : root;
	c->root = fr_strdup(root);
	c->path = fr_path_join(root, "ferry.yaml");
	c->app = fr_strdup(*base ? base : "app");
	c->migrations = fr_path_join(root, "migrations");
	c->backup_dir = fr_path_join(root, ".ferry/backups");
	c->backup_compression = fr_strdup("zstd");
	c->backup_keep = 10;
	return c->root && c->path && c->app && c->migrations && c->backup_dir &&
	       c->backup_compression ? 0 : -1;
}

int fr_config_load(fr_config **out, const char *root, fr_buf *err)
{
	fr_config *c = NULL;
	fr_yaml *doc = NULL;
	fr_buf text = FR_BUF_INIT;
	char *rootdup = NULL;
	loader l;
	size_t len;
	int r = FERRY_EFAILED;

	*out = NULL;
	if (!root || root[0] != '/') {
		new_line(err);
		fr_buf_printf(err, "root '%s' is not an absolute path", root ? root : "");
		r = FERRY_EINVALID;
		goto done;
	}
	/* "/srv/app/" and "/srv/app" are the same root. */
	len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	rootdup = fr_strndup(root, len);
	c = fr_calloc(1, sizeof *c);
	if (!rootdup || !c || set_defaults(c, rootdup))
		goto oom;

	if (fr_read_file(c->path, &text)) {
		int e = errno;
		if (e == ENOMEM)
			goto oom;
		new_line(err);
		if (e == ENOENT)
			fr_buf_printf(err, "%s: no such file (run 'ferry init' to create one)",
			              c->path);
		else
			fr_buf_printf(err, "%s: %s", c->path, strerror(e));
		r = FERRY_EINVALID;
		goto done;
	}
	if (fr_yaml_parse(&doc, c->path, text.ptr, text.len, err)) {
		/* yaml.c reports running out of memory as a problem of the file. */
		len = strlen(": out of memory");
		if (err->oom || (err->len >= len &&
		                 strcmp(err->ptr + err->len - len, ": out of memory") == 0))
			r = FERRY_EFAILED;
		else
			r = FERRY_EINVALID;
		goto done;
	}

	memset(&l, 0, sizeof l);
	l.path = c->path;
	l.root = c->root;
	l.err = err;
	load_top(&l, doc, c);
	if (l.oom || err->oom)
		goto oom;
	if (l.problems) {
		r = FERRY_EINVALID;
		goto done;
	}
	*out = c;
	c = NULL;
	r = 0;
	goto done;
oom:
	new_line(err);
	fr_buf_puts(err, "out of memory");
	r = FERRY_EFAILED;
done:
	fr_yaml_free(doc);
	fr_buf_release(&text);
	fr_free(rootdup);
	fr_config_free(c);
	return r;
}

void fr_config_free(fr_config *c)
{
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->ndbs; i++)
		fr_dbconf_clear(&c->dbs[i]);
	fr_free(c->dbs);
	for (i = 0; i < c->nsources; i++) {
		fr_free(c->sources[i].path);
		fr_free(c->sources[i].rel);
		fr_free(c->sources[i].layout);
		fr_free(c->sources[i].database);
	}
	fr_free(c->sources);
	for (i = 0; i < c->n_hook_restart; i++) {
		fr_free(c->hook_restart[i].name);
		fr_free(c->hook_restart[i].command);
	}
	fr_free(c->hook_restart);
	fr_strv_free(c->backup_include, c->n_backup_include);
	fr_strv_free(c->backup_exclude, c->n_backup_exclude);
	fr_free(c->path);
	fr_free(c->root);
	fr_free(c->app);
	fr_free(c->migrations);
	fr_free(c->version_file);
	fr_free(c->backup_dir);
	fr_free(c->backup_compression);
	fr_free(c->hook_stop);
	fr_free(c->hook_start);
	fr_free(c->hook_health);
	fr_free(c);
}

const fr_dbconf *fr_config_db(const fr_config *c, const char *name)
{
	size_t i;
	if (!c || !c->ndbs)
		return NULL;
	if (!name)
		return &c->dbs[0];
	for (i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].name, name) == 0)
			return &c->dbs[i];
	return NULL;
}

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* The '}' closing the "${" at s[0], counting nested "${"; NULL when there is none. */
static const char *closing_brace(const char *s)
{
	int depth = 0;
	for (; *s; s++) {
		if (s[0] == '$' && s[1] == '{') {
			depth++;
			s++;
		} else if (s[0] == '}' && --depth == 0) {
			return s;
		}
	}
	return NULL;
}

static void nomem(fr_buf *err)
{
	new_line(err);
	fr_buf_puts(err, "out of memory");
	err->oom = 1;
}

/* Expands text[0..len) into out; defaults are expanded in turn. */
static int expand(const char *text, size_t len, fr_buf *out, fr_buf *err)
{
	const char *s = text, *end = text + len;
	char *name = NULL;
	int r = -1;
	while (s < end) {
		const char *close, *p, *value;
		int has_default;
		if (s[0] != '$' || s + 1 >= end || (s[1] != '$' && s[1] != '{')) {
			fr_buf_putc(out, *s++);
			continue;
		}
		if (s[1] == '$') {
			fr_buf_putc(out, '$');
			s += 2;
			continue;
		}
		close = closing_brace(s);
		if (!close || close >= end) {
			new_line(err);
			fr_buf_printf(err, "unterminated '${' in '%.*s'", (int)len, text);
			goto done;
		}
		for (p = s + 2; p < close && name_char(*p, p == s + 2); p++)
			;
		has_default = p < close && p[0] == ':' && p + 1 < close && p[1] == '-';
		if (p == s + 2 || (p < close && !has_default)) {
			/* An empty name, or a form we do not read: ${A:}, ${A-x}, ${A.B} */
			new_line(err);
			fr_buf_printf(err, "bad variable reference '%.*s' (expected ${NAME} or "
			              "${NAME:-default})", (int)(close - s + 1), s);
			goto done;
		}
		name = fr_strndup(s + 2, (size_t)(p - s - 2));
		if (!name) {
			nomem(err);
			goto done;
		}
		value = getenv(name);
		if (has_default) {
			/* As in sh, the default applies when NAME is unset or empty. */
			if (value && *value)
				fr_buf_puts(out, value);
			else if (expand(p + 2, (size_t)(close - p - 2), out, err))
				goto done;
		} else if (value) {
			fr_buf_puts(out, value);
		} else {
			new_line(err);
			fr_buf_printf(err, "environment variable '%s' is not set", name);
			goto done;
		}
		FR_FREE(name);
		s = close + 1;
	}
	if (out->oom) {
		nomem(err);
		goto done;
	}
	r = 0;
done:
	fr_free(name);
	return r;
}

int fr_expand_env(const char *text, fr_buf *out, fr_buf *err)
{
	return expand(text, strlen(text), out, err);
}
