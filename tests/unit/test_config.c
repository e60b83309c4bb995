/*
 * test_config.c - lib/config.c: ferry.yaml keys, defaults, errors naming
 * file, line and key, ${ENV} expansion and database URLs.
 */
#include "helpers.h"
#include "ferry.h"
#include "config.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	char *root;
	char *yaml; /* <root>/ferry.yaml */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->root = t_tmpdir();
	f->yaml = t_path(f->root, "ferry.yaml");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	t_rmrf(f->root);
	free(f->root);
	free(f->yaml);
	free(f);
	return 0;
}

/* Writes ferry.yaml and loads it; expects success. */
static fr_config *load_ok(fixture *f, const char *text)
{
	fr_buf err = FR_BUF_INIT;
	fr_config *c = NULL;
	t_write(f->root, "ferry.yaml", text);
	if (fr_config_load(&c, f->root, &err) != 0)
		fail_msg("unexpected error: %s", err.ptr);
	assert_non_null(c);
	assert_string_equal(err.ptr, "");
	fr_buf_release(&err);
	return c;
}

/*
 * Writes ferry.yaml, expects FERRY_EINVALID, and compares the message with
 * want, in which every "@" stands for the path of ferry.yaml.
 */
static void load_fails(fixture *f, const char *text, const char *want)
{
	fr_buf err = FR_BUF_INIT, exp = FR_BUF_INIT;
	fr_config *c = (fr_config *)1;
	const char *p;
	t_write(f->root, "ferry.yaml", text);
	assert_int_equal(fr_config_load(&c, f->root, &err), FERRY_EINVALID);
	assert_null(c);
	for (p = want; *p; p++) {
		if (*p == '@')
			fr_buf_puts(&exp, f->yaml);
		else
			fr_buf_putc(&exp, *p);
	}
	assert_string_equal(err.ptr, exp.ptr);
	fr_buf_release(&err);
	fr_buf_release(&exp);
}

/* root + "/" + rel, malloc'd, for comparisons. */
static char *under(fixture *f, const char *rel)
{
	return t_path(f->root, rel);
}

static void assert_path(fixture *f, const char *got, const char *rel)
{
	char *want = under(f, rel);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
}

static void test_full_example(void **state)
{
	fixture *f = *state;
	const fr_dbconf *db;
	fr_config *c = load_ok(f,
		"app: ttrpg-assistant          # a name\n"
		"migrations: migs\n"
		"transaction: step\n"
		"version_file: config/version.json\n"
		"databases:\n"
		"  main: sqlite:data/app.db\n"
		"  reports: postgres://app@localhost/reports\n"
		"  kv: host=localhost dbname=kv\n"
		"backup:\n"
		"  dir: /var/backups/ttrpg\n"
		"  include: [data, config]\n"
		"  exclude: [\"*.tmp\", \"*.log\", \"cache/**\"]\n"
		"  compression: gzip\n"
		"  keep: 3\n"
		"hooks:\n"
		"  stop: systemctl stop ttrpg-assistant\n"
		"  start: systemctl start ttrpg-assistant\n"
		"  health: curl -fsS http://localhost:8000/health\n"
		"  restart:\n"
		"    api: systemctl restart ttrpg-api\n"
		"    worker: systemctl restart ttrpg-worker\n");
	assert_string_equal(c->path, f->yaml);
	assert_string_equal(c->root, f->root);
	assert_string_equal(c->app, "ttrpg-assistant");
	assert_path(f, c->migrations, "migs");
	assert_int_equal(c->tx_per_step, 1);
	assert_path(f, c->version_file, "config/version.json");

	assert_int_equal(c->ndbs, 3);
	assert_string_equal(c->dbs[0].name, "main");
	assert_string_equal(c->dbs[0].url, "sqlite:data/app.db");
	assert_string_equal(c->dbs[0].driver, "sqlite");
	assert_path(f, c->dbs[0].path, "data/app.db");
	assert_int_equal(c->dbs[0].line, 6);
	assert_string_equal(c->dbs[1].name, "reports");
	assert_string_equal(c->dbs[1].url, "postgres://app@localhost/reports");
	assert_string_equal(c->dbs[1].driver, "postgres");
	assert_null(c->dbs[1].path);
	assert_int_equal(c->dbs[1].line, 7);
	assert_string_equal(c->dbs[2].driver, "postgres");
	assert_string_equal(c->dbs[2].url, "host=localhost dbname=kv");

	db = fr_config_db(c, NULL);
	assert_ptr_equal(db, &c->dbs[0]);
	db = fr_config_db(c, "reports");
	assert_ptr_equal(db, &c->dbs[1]);
	assert_null(fr_config_db(c, "nope"));

	assert_string_equal(c->backup_dir, "/var/backups/ttrpg");
	assert_int_equal(c->n_backup_include, 2);
	assert_string_equal(c->backup_include[0], "data");
	assert_string_equal(c->backup_include[1], "config");
	assert_int_equal(c->n_backup_exclude, 3);
	assert_string_equal(c->backup_exclude[0], "*.tmp");
	assert_string_equal(c->backup_exclude[2], "cache/**");
	assert_string_equal(c->backup_compression, "gzip");
	assert_int_equal(c->backup_keep, 3);

	assert_string_equal(c->hook_stop, "systemctl stop ttrpg-assistant");
	assert_string_equal(c->hook_start, "systemctl start ttrpg-assistant");
	assert_string_equal(c->hook_health, "curl -fsS http://localhost:8000/health");
	assert_int_equal(c->n_hook_restart, 2);
	assert_string_equal(c->hook_restart[0].name, "api");
	assert_string_equal(c->hook_restart[0].command, "systemctl restart ttrpg-api");
	assert_string_equal(c->hook_restart[1].name, "worker");
	fr_config_free(c);
}

static void check_defaults(fixture *f, const fr_config *c)
{
	const char *base = strrchr(f->root, '/') + 1;
	assert_string_equal(c->app, base);
	assert_path(f, c->migrations, "migrations");
	assert_int_equal(c->tx_per_step, 0);
	assert_null(c->version_file);
	assert_int_equal(c->ndbs, 0);
	assert_null(fr_config_db(c, NULL));
	assert_null(fr_config_db(c, "main"));
	assert_path(f, c->backup_dir, ".ferry/backups");
	assert_int_equal(c->n_backup_include, 0);
	assert_int_equal(c->n_backup_exclude, 0);
	assert_string_equal(c->backup_compression, "zstd");
	assert_int_equal(c->backup_keep, 10);
	assert_null(c->hook_stop);
	assert_null(c->hook_start);
	assert_null(c->hook_health);
	assert_int_equal(c->n_hook_restart, 0);
}

static void test_empty_file_defaults(void **state)
{
	fixture *f = *state;
	fr_config *c = load_ok(f, "");
	check_defaults(f, c);
	fr_config_free(c);
	c = load_ok(f, "# nothing yet\n");
	check_defaults(f, c);
	fr_config_free(c);
}

static void test_null_sections_are_defaults(void **state)
{
	fixture *f = *state;
	fr_config *c = load_ok(f, "app:\nmigrations: ~\ntransaction:\nversion_file:\n"
	                          "databases:\nbackup:\n  # dir: x\nhooks:\n");
	check_defaults(f, c);
	fr_config_free(c);
	c = load_ok(f, "backup:\n  keep:\n  compression:\n  include:\nhooks:\n  restart:\n");
	check_defaults(f, c);
	fr_config_free(c);
}

static void test_missing_file(void **state)
{
	fixture *f = *state;
	fr_buf err = FR_BUF_INIT, want = FR_BUF_INIT;
	fr_config *c = NULL;
	assert_int_equal(fr_config_load(&c, f->root, &err), FERRY_EINVALID);
	assert_null(c);
	fr_buf_printf(&want, "%s/ferry.yaml: no such file (run 'ferry init' to create one)",
	              f->root);
	assert_string_equal(err.ptr, want.ptr);
	fr_buf_release(&err);
	fr_buf_release(&want);
}

static void test_root_forms(void **state)
{
	fixture *f = *state;
	fr_buf err = FR_BUF_INIT, slash = FR_BUF_INIT;
	fr_config *c = NULL;
	assert_int_equal(fr_config_load(&c, "relative/dir", &err), FERRY_EINVALID);
	assert_null(c);
	assert_string_equal(err.ptr, "root 'relative/dir' is not an absolute path");

	/* A trailing slash names the same root. */
	fr_buf_reset(&err);
	t_write(f->root, "ferry.yaml", "databases: {main: sqlite:x.db}\n");
	fr_buf_printf(&slash, "%s//", f->root);
	assert_int_equal(fr_config_load(&c, slash.ptr, &err), 0);
	assert_string_equal(c->root, f->root);
	assert_string_equal(c->app, strrchr(f->root, '/') + 1);
	assert_path(f, c->dbs[0].path, "x.db");
	fr_config_free(c);
	fr_config_free(NULL);
	fr_buf_release(&err);
	fr_buf_release(&slash);
}

static void test_broken_yaml(void **state)
{
	fixture *f = *state;
	load_fails(f, "app: x\ndatabases:\n  main: sqlite:a.db\n   bad: 1\n",
	           "@:4:7: mapping values are not allowed in this context");
	load_fails(f, "app: [x\n", "@:2:1: did not find expected ',' or ']' "
	           "(while parsing a flow sequence at line 1)");
	load_fails(f, "app: x\napp: y\n", "@:2:1: duplicate key 'app' (first at line 1)");
	load_fails(f, "app: &a x\n", "@:1:6: anchors and aliases are not supported");
	load_fails(f, "- app\n", "@:1: the file must be a mapping of keys (got a sequence)");
}

static void test_unknown_keys_everywhere(void **state)
{
	fixture *f = *state;
	load_fails(f,
		"app: x\n"
		"databse:\n"
		"  main: sqlite:a.db\n"
		"backup:\n"
		"  dirs: b\n"
		"  keep: 2\n"
		"hooks:\n"
		"  stopp: x\n"
		"  restart: {api: y}\n"
		"extra: 1\n",
		"@:2: unknown key 'databse' (expected one of: app, migrations, transaction, "
		"version_file, databases, backup, hooks)\n"
		"@:10: unknown key 'extra' (expected one of: app, migrations, transaction, "
		"version_file, databases, backup, hooks)\n"
		"@:5: unknown key 'dirs' in 'backup' (expected one of: dir, include, exclude, "
		"compression, keep)\n"
		"@:8: unknown key 'stopp' in 'hooks' (expected one of: stop, start, health, "
		"restart)");
}

static void test_type_errors(void **state)
{
	fixture *f = *state;
	load_fails(f,
		"app: {name: x}\n"
		"transaction: sometimes\n"
		"databases: [sqlite:a.db]\n"
		"backup:\n"
		"  dir: [a]\n"
		"  include: data\n"
		"  exclude: [ok, {a: b}, '']\n"
		"  compression: lz4\n"
		"  keep: -1\n"
		"hooks:\n"
		"  stop: [a, b]\n"
		"  restart: [api]\n",
		"@:1: 'app' must be a string (got a mapping)\n"
		"@:2: 'transaction' must be 'group' or 'step' (got 'sometimes')\n"
		"@:3: 'databases' must be a mapping of name to url (got a sequence)\n"
		"@:5: 'backup.dir' must be a string (got a sequence)\n"
		"@:6: 'backup.include' must be a list of paths (got a scalar)\n"
		"@:7: 'backup.exclude' must be a list of paths (got a mapping)\n"
		"@:7: 'backup.exclude' has an empty item\n"
		"@:8: 'backup.compression' must be one of zstd, gzip, none (got 'lz4')\n"
		"@:9: 'backup.keep' must be an integer >= 0 (got '-1')\n"
		"@:11: 'hooks.stop' must be a string (got a sequence)\n"
		"@:12: 'hooks.restart' must be a mapping of service to command (got a sequence)");
	load_fails(f, "backup:\n  keep: ten\n",
	           "@:2: 'backup.keep' must be an integer >= 0 (got 'ten')");
	load_fails(f, "backup:\n  keep: 99999999999999999999\n",
	           "@:2: 'backup.keep' must be an integer >= 0 (got '99999999999999999999')");
	load_fails(f, "backup:\n  keep: 1.5\n",
	           "@:2: 'backup.keep' must be an integer >= 0 (got '1.5')");
	load_fails(f, "backup: yes\n", "@:1: 'backup' must be a mapping (got a scalar)");
	load_fails(f, "hooks: [a]\n", "@:1: 'hooks' must be a mapping (got a sequence)");
	load_fails(f, "hooks:\n  restart:\n    api:\n    web: ''\n",
	           "@:3: 'hooks.restart.api' must be a command (got nothing)\n"
	           "@:4: 'hooks.restart.web' is empty (expected a command)");
}

static void test_keep_zero_and_transaction_group(void **state)
{
	fixture *f = *state;
	fr_config *c = load_ok(f, "transaction: group\nbackup:\n  keep: 0\n  compression: none\n");
	assert_int_equal(c->tx_per_step, 0);
	assert_int_equal(c->backup_keep, 0);
	assert_string_equal(c->backup_compression, "none");
	fr_config_free(c);
}

static void test_database_errors(void **state)
{
	fixture *f = *state;
	load_fails(f,
		"databases:\n"
		"  main: mysql://x\n"
		"  'bad name': sqlite:a.db\n"
		"  empty:\n"
		"  quoted: ''\n"
		"  nested: {url: sqlite:a.db}\n"
		"  host: sqlite://host/a.db\n"
		"  nopath: 'sqlite:'\n",
		"@:2: unknown database url 'mysql://x' (expected sqlite:PATH or postgres://...) "
		"(in 'databases.main')\n"
		"@:3: database name 'bad name' must use only letters, digits, '_' and '-'\n"
		"@:4: 'databases.empty' must be a database url (got nothing)\n"
		"@:5: 'databases.quoted' is empty (expected sqlite:PATH or postgres://...)\n"
		"@:6: 'databases.nested' must be a database url (got a mapping)\n"
		"@:7: database url 'sqlite://host/a.db' has a host part (expected sqlite:PATH or "
		"sqlite:///ABSOLUTE/PATH) (in 'databases.host')\n"
		"@:8: database url 'sqlite:' has no path (expected sqlite:PATH) "
		"(in 'databases.nopath')");
}

static void test_env_expansion_in_config(void **state)
{
	fixture *f = *state;
	fr_config *c;
	setenv("FERRY_T_PASS", "s3cr$t", 1);
	setenv("FERRY_T_EMPTY", "", 1);
	setenv("FERRY_T_KEEP", "4", 1);
	unsetenv("FERRY_T_UNSET");
	c = load_ok(f,
		"app: ${FERRY_T_UNSET:-fallback}-app\n"
		"migrations: ${FERRY_T_EMPTY:-db/migs}\n"
		"databases:\n"
		"  main: postgres://app:${FERRY_T_PASS}@localhost/app\n"
		"  local: sqlite:${FERRY_T_UNSET:-data}/app.db\n"
		"backup:\n"
		"  include: [\"${FERRY_T_UNSET:-data}\", 'cost$$s']\n"
		"  keep: ${FERRY_T_KEEP}\n"
		"hooks:\n"
		"  health: echo $$HOME ${FERRY_T_EMPTY}done\n"
		"  restart: {api: \"kill -HUP $$(cat ${FERRY_T_UNSET:-run}/api.pid)\"}\n");
	assert_string_equal(c->app, "fallback-app");
	assert_path(f, c->migrations, "db/migs");
	/* The value of a variable is not expanded again. */
	assert_string_equal(c->dbs[0].url, "postgres://app:s3cr$t@localhost/app");
	assert_path(f, c->dbs[1].path, "data/app.db");
	assert_string_equal(c->backup_include[0], "data");
	assert_string_equal(c->backup_include[1], "cost$s");
	assert_int_equal(c->backup_keep, 4);
	assert_string_equal(c->hook_health, "echo $HOME done");
	assert_string_equal(c->hook_restart[0].command, "kill -HUP $(cat run/api.pid)");
	fr_config_free(c);
	unsetenv("FERRY_T_PASS");
	unsetenv("FERRY_T_EMPTY");
	unsetenv("FERRY_T_KEEP");
}

static void test_env_errors_in_config(void **state)
{
	fixture *f = *state;
	unsetenv("FERRY_T_UNSET");
	unsetenv("FERRY_T_UNSET2");
	load_fails(f,
		"app: ok\n"
		"databases:\n"
		"  main: postgres://app:${FERRY_T_UNSET}@db/app\n"
		"hooks:\n"
		"  stop: ${FERRY_T_UNSET2\n"
		"  restart:\n"
		"    api: x ${FERRY_T_UNSET2} y\n"
		"backup:\n"
		"  exclude: ['${1X}']\n",
		"@:3: environment variable 'FERRY_T_UNSET' is not set (in 'databases.main')\n"
		"@:9: bad variable reference '${1X}' (expected ${NAME} or ${NAME:-default}) "
		"(in 'backup.exclude')\n"
		"@:5: unterminated '${' in '${FERRY_T_UNSET2' (in 'hooks.stop')\n"
		"@:7: environment variable 'FERRY_T_UNSET2' is not set (in 'hooks.restart.api')");
}

/* Expands text; expects success and the result want. */
static void expands_to(const char *text, const char *want)
{
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	assert_int_equal(fr_expand_env(text, &out, &err), 0);
	assert_string_equal(out.ptr, want);
	assert_string_equal(err.ptr, "");
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void expand_fails(const char *text, const char *want)
{
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	assert_int_equal(fr_expand_env(text, &out, &err), -1);
	assert_string_equal(err.ptr, want);
	fr_buf_release(&out);
	fr_buf_release(&err);
}

static void test_expand_env(void **state)
{
	setenv("FERRY_T_A", "alpha", 1);
	setenv("FERRY_T_E", "", 1);
	setenv("FERRY_T_REF", "${FERRY_T_A}", 1);
	unsetenv("FERRY_T_U");
	expands_to("", "");
	expands_to("plain text", "plain text");
	expands_to("${FERRY_T_A}", "alpha");
	expands_to("x${FERRY_T_A}y${FERRY_T_A}", "xalphayalpha");
	expands_to("${FERRY_T_E}", "");
	expands_to("${FERRY_T_E:-dflt}", "dflt");   /* empty counts as unset, as in sh */
	expands_to("${FERRY_T_U:-dflt}", "dflt");
	expands_to("${FERRY_T_U:-}", "");
	expands_to("${FERRY_T_A:-dflt}", "alpha");
	expands_to("${FERRY_T_U:-a:-b}", "a:-b");
	expands_to("${FERRY_T_U:-${FERRY_T_A}/x}", "alpha/x");
	expands_to("${FERRY_T_U:-${FERRY_T_U:-deep}}", "deep");
	expands_to("${FERRY_T_REF}", "${FERRY_T_A}");
	expands_to("$$", "$");
	expands_to("$${FERRY_T_A}", "${FERRY_T_A}");
	expands_to("$$$${FERRY_T_A}", "$${FERRY_T_A}");
	expands_to("$HOME $1 a$ $", "$HOME $1 a$ $");
	expands_to("p@ss$word}", "p@ss$word}");

	expand_fails("${FERRY_T_U}", "environment variable 'FERRY_T_U' is not set");
	expand_fails("a ${FERRY_T_U:-${FERRY_T_U}} b",
	             "environment variable 'FERRY_T_U' is not set");
	expand_fails("${FERRY_T_A", "unterminated '${' in '${FERRY_T_A'");
	expand_fails("x ${FERRY_T_U:-${y}", "unterminated '${' in 'x ${FERRY_T_U:-${y}'");
	expand_fails("${}", "bad variable reference '${}' (expected ${NAME} or "
	             "${NAME:-default})");
	expand_fails("${A:}", "bad variable reference '${A:}' (expected ${NAME} or "
	             "${NAME:-default})");
	expand_fails("${A-x}", "bad variable reference '${A-x}' (expected ${NAME} or "
	             "${NAME:-default})");
	expand_fails("${:-x}", "bad variable reference '${:-x}' (expected ${NAME} or "
	             "${NAME:-default})");
	expand_fails("${9A}", "bad variable reference '${9A}' (expected ${NAME} or "
	             "${NAME:-default})");
	unsetenv("FERRY_T_A");
	unsetenv("FERRY_T_E");
	unsetenv("FERRY_T_REF");
}

static void url_ok(const char *url, const char *driver, const char *path)
{
	fr_buf err = FR_BUF_INIT;
	fr_dbconf c;
	memset(&c, 0, sizeof c);
	assert_int_equal(fr_db_url_parse(&c, url, "/srv/app", &err), 0);
	assert_string_equal(err.ptr, "");
	assert_string_equal(c.driver, driver);
	if (path)
		assert_string_equal(c.path, path);
	else
		assert_null(c.path);
	fr_dbconf_clear(&c);
	fr_buf_release(&err);
}

static void url_fails(const char *url, const char *want)
{
	fr_buf err = FR_BUF_INIT;
	fr_dbconf c;
	memset(&c, 0xff, sizeof c);
	c.name = c.url = NULL;
	assert_int_equal(fr_db_url_parse(&c, url, "/srv/app", &err), -1);
	assert_null(c.driver);
	assert_null(c.path);
	assert_null(c.where);
	assert_string_equal(err.ptr, want);
	fr_buf_release(&err);
}

static void test_db_url_parse(void **state)
{
	url_ok("sqlite:data/app.db", "sqlite", "/srv/app/data/app.db");
	url_ok("sqlite:./data/app.db", "sqlite", "/srv/app/data/app.db");
	url_ok("sqlite:app", "sqlite", "/srv/app/app");
	url_ok("sqlite:/abs/app.db", "sqlite", "/abs/app.db");
	url_ok("sqlite:///abs/app.db", "sqlite", "/abs/app.db");
	url_ok("SQLite:x.db", "sqlite", "/srv/app/x.db");
	url_ok("data/app.db", "sqlite", "/srv/app/data/app.db");
	url_ok("/var/lib/app/main.sqlite", "sqlite", "/var/lib/app/main.sqlite");
	url_ok("store.sqlite3", "sqlite", "/srv/app/store.sqlite3");
	url_ok("a=b.db", "sqlite", "/srv/app/a=b.db");
	url_ok("postgres://app@localhost/reports", "postgres", NULL);
	url_ok("postgresql://u:p@h:5432/d?sslmode=require", "postgres", NULL);
	url_ok("host=localhost dbname=app user=app", "postgres", NULL);

	url_fails("mysql://x/y", "unknown database url 'mysql://x/y' (expected sqlite:PATH or "
	          "postgres://...)");
	url_fails("data/app", "unknown database url 'data/app' (expected sqlite:PATH or "
	          "postgres://...)");
	url_fails("", "unknown database url '' (expected sqlite:PATH or postgres://...)");
	url_fails("sqlite:", "database url 'sqlite:' has no path (expected sqlite:PATH)");
	url_fails("sqlite://h/x.db", "database url 'sqlite://h/x.db' has a host part (expected "
	          "sqlite:PATH or sqlite:///ABSOLUTE/PATH)");
}

/* Every allocation failing in turn: FERRY_EFAILED, no crash, no leak. */
static void test_out_of_memory(void **state)
{
	fixture *f = *state;
	long n;
	int done = 0;
	setenv("FERRY_T_PASS", "pw", 1);
	t_write(f->root, "ferry.yaml",
		"app: a\nversion_file: v.json\n"
		"databases:\n  main: sqlite:data/app.db\n  pg: postgres://u:${FERRY_T_PASS}@h/d\n"
		"backup:\n  include: [a, b]\n  exclude: [c]\n  keep: 2\n"
		"hooks:\n  stop: x\n  restart: {api: y, web: z}\n");
	for (n = 0; !done && n < 5000; n++) {
		fr_buf err = FR_BUF_INIT;
		fr_config *c = NULL;
		int r;
		fr_alloc_fail_after(n);
		r = fr_config_load(&c, f->root, &err);
		fr_alloc_fail_after(-1);
		if (r == 0) {
			assert_string_equal(c->hook_restart[1].command, "z");
			done = 1;
		} else {
			assert_int_equal(r, FERRY_EFAILED);
			assert_null(c);
			assert_true(err.oom || strstr(err.ptr, "out of memory"));
		}
		fr_config_free(c);
		fr_buf_release(&err);
	}
	assert_true(done);
	assert_true(n > 20);
	unsetenv("FERRY_T_PASS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_sections_are_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_zero_and_transaction_group, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_database_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_expansion_in_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_errors_in_config, setup, teardown),
		cmocka_unit_test(test_expand_env),
		cmocka_unit_test(test_db_url_parse),
		cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
