/*
 * test_api.c - the public surface of include/ferry.h: opening (and failing
 * to), NULL-safe frees, finding the root, init, versions, the JSON
 * documents and their SPEC section 5 keys, new steps, out-parameters on
 * failure, and the header itself compiling as C89 and C++.
 */
#include "helpers.h"

#include "ferry.h"
#include "ferry_int.h"
#include "util/alloc.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL ((char *)(uintptr_t)0x1)

typedef struct {
	char *root;
	ferry *f;
} fx;

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	x->root = t_tmpdir();
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	ferry_close(x->f);
	t_rmrf(x->root);
	free(x->root);
	free(x);
	return 0;
}

#define USERS_SQL \
	"-- ferry:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n" \
	"-- ferry:down\nDROP TABLE users;\n"
#define TAGS_SQL "-- ferry:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n"
#define S_USERS "0.1.0/001_users.sql"
#define S_TAGS "0.2.0/001_tags.sql"

/* 0.0.0 -> 0.1.0 (users, reversible) -> 0.2.0 (tags, irreversible, breaking). */
static void install(fx *x)
{
	t_write(x->root, "ferry.yaml",
	        "app: demo\nversion_file: config/version.json\n"
	        "databases:\n  main: sqlite:data/app.db\n");
	t_write(x->root, "migrations/versions.yaml",
	        "versions:\n  - version: 0.1.0\n    notes: First\n"
	        "  - version: 0.2.0\n    notes: Tags\n");
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/001_users.sql", USERS_SQL);
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/transition.yaml",
	        "description: Initial\nestimated_duration_seconds: 5\n");
	t_write(x->root, "migrations/v0.1.0_to_v0.2.0/001_tags.sql", TAGS_SQL);
	t_write(x->root, "migrations/v0.1.0_to_v0.2.0/transition.yaml",
	        "description: Tags\nbreaking_changes: true\nrequires_restart: [api]\n"
	        "backup_required: false\nestimated_duration_seconds: 7\n");
}

/* The installation of install(), afresh: whatever a campaign's last try left goes. */
static void reinstall(fx *x)
{
	t_rmrf(x->root);
	assert_int_equal(t_sh("mkdir -p '%s'", x->root), 0);
	install(x);
}

static ferry *open_f(fx *x)
{
	int rc;
	ferry_close(x->f);
	x->f = NULL;
	rc = ferry_open(&x->f, x->root, NULL);
	if (rc)
		fail_msg("ferry_open: %d %s", rc, ferry_errmsg(x->f));
	assert_string_equal(ferry_errmsg(x->f), "");
	assert_int_equal(ferry_errcode(x->f), 0);
	return x->f;
}

static char *current(fx *x)
{
	static char buf[64];
	char *v = SENTINEL;
	int rc = ferry_current_version(&v, x->f);
	if (rc)
		fail_msg("ferry_current_version: %d %s", rc, ferry_errmsg(x->f));
	snprintf(buf, sizeof buf, "%s", v);
	ferry_free(v);
	return buf;
}

static json_t *parse(char *doc)
{
	json_error_t je;
	json_t *j;
	assert_non_null(doc);
	j = json_loads(doc, 0, &je);
	if (!j)
		fail_msg("not JSON (%s):\n%s", je.text, doc);
	ferry_free(doc);
	assert_true(json_is_object(j));
	return j;
}

static void has_keys(json_t *o, const char *const *keys)
{
	size_t i;
	assert_true(json_is_object(o));
	for (i = 0; keys[i]; i++)
		if (!json_object_get(o, keys[i])) {
			char *d = json_dumps(o, 0);
			fail_msg("key '%s' missing in %s", keys[i], d);
		}
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fail_msg("'%s' is not a string", key);
	return json_string_value(v);
}

/* RFC 3339 UTC: 2024-01-02T03:04:05[.fff]Z */
static void assert_time(json_t *v)
{
	const char *s;
	size_t n;
	assert_true(json_is_string(v));
	s = json_string_value(v);
	n = strlen(s);
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[n - 1] != 'Z')
		fail_msg("'%s' is not an RFC 3339 UTC time", s);
}

static void up_ok(fx *x, const char *target)
{
	int rc = ferry_up(x->f, target, NULL);
	if (rc)
		fail_msg("ferry_up: %d %s", rc, ferry_errmsg(x->f));
}

/* Holds .ferry/lock as another runner would (with its holder line); returns the fd. */
static int hold_lock(fx *x)
{
	char *lp = t_path(x->root, ".ferry/lock");
	const char line[] = "4242 otherhost 2024-01-02T03:04:05Z\n";
	int fd = open(lp, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, line, sizeof line - 1, 0), (ssize_t)(sizeof line - 1));
	free(lp);
	return fd;
}

/* ---- open ---- */

static void test_open_missing_folder(void **state)
{
	fx *x = *state;
	char *p = t_path(x->root, "nope");
	ferry *f = NULL;
	assert_int_equal(ferry_open(&f, p, NULL), FERRY_EINVALID);
	assert_non_null(f);
	assert_int_equal(ferry_errcode(f), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), p));
	ferry_close(f);
	free(p);
}

static void test_open_no_yaml(void **state)
{
	fx *x = *state;
	ferry *f = NULL;
	assert_int_equal(ferry_open(&f, x->root, NULL), FERRY_EINVALID);
	assert_non_null(f);
	assert_int_equal(ferry_errcode(f), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "ferry.yaml"));
	ferry_close(f);
	/* Nothing was created on the way. */
	assert_int_equal(t_sh("test ! -e '%s/.ferry'", x->root), 0);
}

static void test_open_broken_yaml(void **state)
{
	fx *x = *state;
	ferry *f = NULL;
	/* Not YAML at all. */
	t_write(x->root, "ferry.yaml", "app: [unclosed\n");
	assert_int_equal(ferry_open(&f, x->root, NULL), FERRY_EINVALID);
	assert_non_null(f);
	assert_int_equal(ferry_errcode(f), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "ferry.yaml"));
	ferry_close(f);
	/* An unknown key: named, with file and line. */
	t_write(x->root, "ferry.yaml", "app: demo\nbogus_key: 1\n");
	f = NULL;
	assert_int_equal(ferry_open(&f, x->root, NULL), FERRY_EINVALID);
	assert_non_null(f);
	assert_non_null(strstr(ferry_errmsg(f), "ferry.yaml"));
	assert_non_null(strstr(ferry_errmsg(f), ":2"));
	assert_non_null(strstr(ferry_errmsg(f), "bogus_key"));
	ferry_close(f);
	/* A bad value. */
	t_write(x->root, "ferry.yaml", "app: demo\ntransaction: sometimes\n");
	f = NULL;
	assert_int_equal(ferry_open(&f, x->root, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(f), "transaction"));
	ferry_close(f);
}

static void test_null_safe(void **state)
{
	ferry *f = (ferry *)state; /* must be reset by ferry_open */
	(void)state;
	ferry_close(NULL);
	ferry_free(NULL);
	ferry_plan_free(NULL);
	ferry_interrupt(NULL);
	assert_non_null(ferry_errmsg(NULL));
	assert_int_not_equal(ferry_errcode(NULL), 0);
	assert_int_equal(ferry_open(&f, NULL, NULL), FERRY_EINVALID);
	assert_non_null(f);
	assert_true(strlen(ferry_errmsg(f)) > 0);
	ferry_close(f);
}

/* ---- find_root ---- */

static void test_find_root(void **state)
{
	fx *x = *state;
	char real[PATH_MAX], cwd[PATH_MAX], *out = SENTINEL, *sub;
	install(x);
	assert_non_null(realpath(x->root, real));
	assert_int_equal(t_sh("mkdir -p '%s/data/a/b'", x->root), 0);
	sub = t_path(x->root, "data/a/b");

	assert_int_equal(ferry_find_root(&out, sub), 0);
	assert_string_equal(out, real);
	ferry_free(out);
	out = SENTINEL;
	assert_int_equal(ferry_find_root(&out, x->root), 0);
	assert_string_equal(out, real);
	ferry_free(out);

	/* NULL: from the working directory. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(sub), 0);
	out = SENTINEL;
	assert_int_equal(ferry_find_root(&out, NULL), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(out, real);
	ferry_free(out);

	/* None above: EINVALID, out NULL. */
	out = SENTINEL;
	assert_int_equal(ferry_find_root(&out, "/proc/self"), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_find_root(&out, "/no/such/folder"), FERRY_EINVALID);
	assert_null(out);
	free(sub);
}

/* ---- init ---- */

static void test_init(void **state)
{
	fx *x = *state;
	ferry_init_options o = FERRY_INIT_OPTIONS_INIT;
	char *root = t_path(x->root, "new/inst"), *err = SENTINEL, *yaml, *doc = NULL;
	json_t *j;
	o.app = "demo";
	o.version_ = "1.2.0";
	assert_int_equal(ferry_init(root, &o, &err), 0);
	assert_null(err);
	yaml = t_read(root, "ferry.yaml");
	assert_non_null(yaml);
	assert_non_null(strstr(yaml, "app: demo"));
	assert_non_null(strstr(yaml, "sqlite:data/app.db"));
	free(yaml);
	assert_int_equal(t_sh("test -d '%s/migrations' && test -f '%s/.ferry/state.db'", root, root),
	                 0);

	assert_int_equal(ferry_open(&x->f, root, NULL), 0);
	assert_string_equal(current(x), "1.2.0");
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = parse(doc);
	assert_string_equal(jstr(j, "app"), "demo");
	assert_string_equal(jstr(j, "current"), "1.2.0");
	json_decref(j);
	ferry_close(x->f);
	x->f = NULL;

	/* Defaults: the folder's name, 0.0.0; an existing ferry.yaml is kept. */
	free(root);
	root = t_path(x->root, "other");
	t_write(root, "ferry.yaml", "app: mine\ndatabases:\n  db: sqlite:my.db\n");
	assert_int_equal(ferry_init(root, NULL, NULL), 0);
	yaml = t_read(root, "ferry.yaml");
	assert_string_equal(yaml, "app: mine\ndatabases:\n  db: sqlite:my.db\n");
	free(yaml);
	assert_int_equal(ferry_open(&x->f, root, NULL), 0);
	assert_string_equal(current(x), "0.0.0");
	ferry_close(x->f);
	x->f = NULL;
	free(root);
	root = t_path(x->root, "plain");
	assert_int_equal(ferry_init(root, NULL, NULL), 0);
	yaml = t_read(root, "ferry.yaml");
	assert_non_null(strstr(yaml, "app: plain"));
	free(yaml);

	/* A bad version: EINVALID, with a message. */
	free(root);
	root = t_path(x->root, "bad");
	o.version_ = "one.two";
	err = NULL;
	assert_int_equal(ferry_init(root, &o, &err), FERRY_EINVALID);
	assert_non_null(err);
	assert_non_null(strstr(err, "one.two"));
	ferry_free(err);
	assert_int_equal(ferry_init(root, &o, NULL), FERRY_EINVALID);
	free(root);
}

/* ---- versions ---- */

static void test_current_from_version_file(void **state)
{
	fx *x = *state;
	t_write(x->root, "ferry.yaml", "app: old\nversion_file: config/version.json\n");
	t_write(x->root, "config/version.json", "{\"name\": \"old\", \"version\": \"2.1.0\"}\n");
	open_f(x);
	assert_string_equal(current(x), "2.1.0");
	/* Recording changes both, keeping the file's other keys. */
	assert_int_equal(ferry_set_version(x->f, "2.2.0", 0), 0);
	assert_string_equal(current(x), "2.2.0");
	{
		json_t *j = parse(t_read(x->root, "config/version.json"));
		assert_string_equal(jstr(j, "version"), "2.2.0");
		assert_string_equal(jstr(j, "name"), "old");
		json_decref(j);
	}
	open_f(x);
	assert_string_equal(current(x), "2.2.0");
}

static void test_current_default(void **state)
{
	fx *x = *state;
	t_write(x->root, "ferry.yaml", "app: fresh\n");
	open_f(x);
	assert_string_equal(current(x), "0.0.0");
}

static void test_set_version(void **state)
{
	fx *x = *state;
	char *v;
	install(x);
	open_f(x);
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.2.0");

	/* Below an applied step: refused, naming it. */
	assert_int_equal(ferry_set_version(x->f, "0.1.0", 0), FERRY_EINVALID);
	assert_int_equal(ferry_errcode(x->f), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(x->f), S_TAGS));
	assert_string_equal(current(x), "0.2.0");
	/* force records it anyway. */
	assert_int_equal(ferry_set_version(x->f, "0.1.0", 1), 0);
	assert_string_equal(current(x), "0.1.0");
	v = t_read(x->root, "config/version.json");
	assert_non_null(strstr(v, "\"0.1.0\""));
	free(v);
	/* Up and a leading v. */
	assert_int_equal(ferry_set_version(x->f, "v1.2.3", 0), 0);
	assert_string_equal(current(x), "1.2.3");
	/* Not a version. */
	assert_int_equal(ferry_set_version(x->f, "latest", 1), FERRY_EINVALID);
	assert_true(strlen(ferry_errmsg(x->f)) > 0);
	assert_string_equal(current(x), "1.2.3");
	/* A success clears the message. */
	assert_string_equal(ferry_errmsg(x->f), "");
	assert_int_equal(ferry_errcode(x->f), 0);
}

/* ---- documents ---- */

static void test_status_doc(void **state)
{
	fx *x = *state;
	static const char *const keys[] = { "app", "current", "latest", "pending_transitions",
		                                "pending_steps", "last_run", "locked_by", "interrupted",
		                                NULL };
	char *doc = SENTINEL;
	json_t *j, *pt, *lr, *lb;
	int fd;
	install(x);
	open_f(x);
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = parse(doc);
	has_keys(j, keys);
	assert_string_equal(jstr(j, "app"), "demo");
	assert_string_equal(jstr(j, "current"), "0.0.0");
	assert_string_equal(jstr(j, "latest"), "0.2.0");
	pt = json_object_get(j, "pending_transitions");
	assert_int_equal(json_array_size(pt), 2);
	assert_string_equal(jstr(json_array_get(pt, 0), "from"), "0.0.0");
	assert_string_equal(jstr(json_array_get(pt, 0), "to"), "0.1.0");
	assert_string_equal(jstr(json_array_get(pt, 1), "from"), "0.1.0");
	assert_string_equal(jstr(json_array_get(pt, 1), "to"), "0.2.0");
	assert_true(json_is_integer(json_object_get(j, "pending_steps")));
	assert_int_equal(json_integer_value(json_object_get(j, "pending_steps")), 2);
	assert_true(json_is_null(json_object_get(j, "last_run")));
	assert_true(json_is_null(json_object_get(j, "locked_by")));
	assert_true(json_is_false(json_object_get(j, "interrupted")));
	json_decref(j);

	up_ok(x, "0.1.0");
	fd = hold_lock(x);
	assert_int_equal(ferry_status(&doc, x->f), 0);
	j = parse(doc);
	has_keys(j, keys);
	assert_string_equal(jstr(j, "current"), "0.1.0");
	assert_int_equal(json_integer_value(json_object_get(j, "pending_steps")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "pending_transitions")), 1);
	lr = json_object_get(j, "last_run");
	assert_true(json_is_object(lr));
	assert_string_equal(jstr(lr, "status"), "success");
	assert_string_equal(jstr(lr, "from"), "0.0.0");
	assert_string_equal(jstr(lr, "to"), "0.1.0");
	assert_time(json_object_get(lr, "started_at"));
	lb = json_object_get(j, "locked_by");
	assert_true(json_is_object(lb));
	assert_int_equal(json_integer_value(json_object_get(lb, "pid")), 4242);
	assert_string_equal(jstr(lb, "host"), "otherhost");
	assert_string_equal(jstr(lb, "since"), "2024-01-02T03:04:05Z");
	assert_true(json_is_false(json_object_get(j, "interrupted")));
	json_decref(j);
	close(fd);
}

static void test_list_doc(void **state)
{
	fx *x = *state;
	static const char *const keys[] = { "id", "from", "to", "kind", "state", "checksum",
		                                "applied_at", "duration_ms", NULL };
	char *doc = SENTINEL;
	json_t *j, *steps, *a, *b;
	install(x);
	open_f(x);
	up_ok(x, "0.1.0");
	assert_int_equal(ferry_list(&doc, x->f), 0);
	j = parse(doc);
	steps = json_object_get(j, "steps");
	assert_int_equal(json_array_size(steps), 2);
	a = json_array_get(steps, 0);
	b = json_array_get(steps, 1);
	has_keys(a, keys);
	has_keys(b, keys);
	assert_string_equal(jstr(a, "id"), S_USERS);
	assert_string_equal(jstr(a, "from"), "0.0.0");
	assert_string_equal(jstr(a, "to"), "0.1.0");
	assert_string_equal(jstr(a, "kind"), "sql");
	assert_string_equal(jstr(a, "state"), "applied");
	assert_int_equal(strncmp(jstr(a, "checksum"), "sha256:", 7), 0);
	assert_int_equal(strlen(jstr(a, "checksum")), 7 + 64);
	assert_time(json_object_get(a, "applied_at"));
	assert_true(json_is_integer(json_object_get(a, "duration_ms")));
	assert_string_equal(jstr(b, "id"), S_TAGS);
	assert_string_equal(jstr(b, "state"), "pending");
	assert_true(json_is_null(json_object_get(b, "applied_at")));
	json_decref(j);

	/* changed and missing. */
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/001_users.sql", USERS_SQL "-- edited\n");
	open_f(x);
	assert_int_equal(ferry_list(&doc, x->f), 0);
	j = parse(doc);
	assert_string_equal(jstr(json_array_get(json_object_get(j, "steps"), 0), "state"), "changed");
	json_decref(j);
	assert_int_equal(t_sh("rm '%s/migrations/v0.0.0_to_v0.1.0/001_users.sql'", x->root), 0);
	open_f(x);
	assert_int_equal(ferry_list(&doc, x->f), 0);
	j = parse(doc);
	{
		size_t i;
		json_t *s;
		int seen = 0;
		json_array_foreach(json_object_get(j, "steps"), i, s) {
			has_keys(s, keys);
			if (!strcmp(jstr(s, "id"), S_USERS)) {
				assert_string_equal(jstr(s, "state"), "missing");
				seen = 1;
			}
		}
		assert_true(seen);
	}
	json_decref(j);
}

static void test_history_doc(void **state)
{
	fx *x = *state;
	static const char *const keys[] = { "id", "started_at", "finished_at", "from", "to",
		                                "status", "backup_id", NULL };
	char *doc = SENTINEL;
	json_t *j, *runs, *r0, *r1;
	install(x);
	open_f(x);
	assert_int_equal(ferry_history(&doc, x->f), 0);
	j = parse(doc);
	assert_int_equal(json_array_size(json_object_get(j, "runs")), 0);
	json_decref(j);
	up_ok(x, "0.1.0");
	up_ok(x, "0.2.0");
	assert_int_equal(ferry_history(&doc, x->f), 0);
	j = parse(doc);
	runs = json_object_get(j, "runs");
	assert_int_equal(json_array_size(runs), 2);
	r0 = json_array_get(runs, 0);
	r1 = json_array_get(runs, 1);
	has_keys(r0, keys);
	has_keys(r1, keys);
	/* Newest first. */
	assert_string_equal(jstr(r0, "from"), "0.1.0");
	assert_string_equal(jstr(r0, "to"), "0.2.0");
	assert_string_equal(jstr(r1, "from"), "0.0.0");
	assert_true(json_integer_value(json_object_get(r0, "id")) >
	            json_integer_value(json_object_get(r1, "id")));
	assert_string_equal(jstr(r0, "status"), "success");
	assert_time(json_object_get(r0, "started_at"));
	assert_time(json_object_get(r0, "finished_at"));
	assert_true(json_is_null(json_object_get(r0, "backup_id")));
	json_decref(j);
}

static void test_versions_doc(void **state)
{
	fx *x = *state;
	char *doc = SENTINEL;
	json_t *j, *vs, *v;
	size_t i;
	int seen = 0;
	install(x);
	open_f(x);
	up_ok(x, "0.1.0");
	assert_int_equal(ferry_versions(&doc, x->f), 0);
	j = parse(doc);
	vs = json_object_get(j, "versions");
	assert_true(json_array_size(vs) >= 3);
	assert_string_equal(jstr(json_array_get(vs, 0), "version"), "0.0.0");
	json_array_foreach(vs, i, v) {
		assert_true(json_is_string(json_object_get(v, "version")));
		if (!strcmp(jstr(v, "version"), "0.1.0")) {
			assert_string_equal(jstr(v, "notes"), "First");
			assert_true(json_is_true(json_object_get(v, "current")));
			seen++;
		}
		if (!strcmp(jstr(v, "version"), "0.2.0")) {
			assert_string_equal(jstr(v, "notes"), "Tags");
			assert_true(json_is_false(json_object_get(v, "current")));
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	json_decref(j);
}

static void test_plan_docs(void **state)
{
	fx *x = *state;
	static const char *const keys[] = { "from", "to", "path", "transitions",
		                                "estimated_duration_seconds", "backup_required",
		                                "restarts", NULL };
	static const char *const tkeys[] = { "from", "to", "description", "breaking_changes",
		                                 "requires_restart", "backup_required",
		                                 "estimated_duration_seconds", "steps", NULL };
	static const char *const skeys[] = { "id", "kind", "database", "reversible", NULL };
	ferry_plan *p = NULL;
	char *doc = SENTINEL, *dot = SENTINEL;
	json_t *j, *path, *trs, *t0, *t1, *s;
	install(x);
	open_f(x);
	assert_int_equal(ferry_plan_new(&p, x->f, NULL), 0);
	assert_non_null(p);
	assert_int_equal(ferry_plan_step_count(p), 2);
	assert_int_equal(ferry_plan_json(&doc, p), 0);
	j = parse(doc);
	has_keys(j, keys);
	assert_string_equal(jstr(j, "from"), "0.0.0");
	assert_string_equal(jstr(j, "to"), "0.2.0");
	path = json_object_get(j, "path");
	assert_int_equal(json_array_size(path), 3);
	assert_string_equal(json_string_value(json_array_get(path, 0)), "0.0.0");
	assert_string_equal(json_string_value(json_array_get(path, 2)), "0.2.0");
	trs = json_object_get(j, "transitions");
	assert_int_equal(json_array_size(trs), 2);
	t0 = json_array_get(trs, 0);
	t1 = json_array_get(trs, 1);
	has_keys(t0, tkeys);
	has_keys(t1, tkeys);
	assert_string_equal(jstr(t0, "description"), "Initial");
	assert_true(json_is_false(json_object_get(t0, "breaking_changes")));
	assert_true(json_is_true(json_object_get(t0, "backup_required")));
	assert_true(json_number_value(json_object_get(t0, "estimated_duration_seconds")) == 5);
	assert_string_equal(jstr(t1, "description"), "Tags");
	assert_true(json_is_true(json_object_get(t1, "breaking_changes")));
	assert_true(json_is_false(json_object_get(t1, "backup_required")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(t1, "requires_restart"),
	                                                     0)), "api");
	s = json_array_get(json_object_get(t0, "steps"), 0);
	has_keys(s, skeys);
	assert_string_equal(jstr(s, "id"), S_USERS);
	assert_string_equal(jstr(s, "kind"), "sql");
	assert_string_equal(jstr(s, "database"), "main");
	assert_true(json_is_true(json_object_get(s, "reversible")));
	s = json_array_get(json_object_get(t1, "steps"), 0);
	assert_string_equal(jstr(s, "id"), S_TAGS);
	assert_true(json_is_false(json_object_get(s, "reversible")));
	assert_true(json_number_value(json_object_get(j, "estimated_duration_seconds")) == 12);
	assert_true(json_is_true(json_object_get(j, "backup_required")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "restarts"), 0)),
	                    "api");
	json_decref(j);

	assert_int_equal(ferry_plan_dot(&dot, p), 0);
	assert_non_null(dot);
	assert_non_null(strstr(dot, "digraph"));
	assert_non_null(strstr(dot, "0.2.0"));
	assert_non_null(strstr(dot, "}"));
	ferry_free(dot);
	ferry_plan_free(p);

	/* A pure version bump: no steps. */
	up_ok(x, NULL);
	assert_int_equal(ferry_plan_new(&p, x->f, "0.2.7"), 0);
	assert_int_equal(ferry_plan_step_count(p), 0);
	assert_int_equal(ferry_plan_json(&doc, p), 0);
	j = parse(doc);
	assert_string_equal(jstr(j, "to"), "0.2.7");
	assert_int_equal(json_array_size(json_object_get(j, "transitions")), 0);
	json_decref(j);
	ferry_plan_free(p);
}

static void test_verify_doc(void **state)
{
	fx *x = *state;
	char *doc = SENTINEL;
	json_t *j, *fs, *fnd;
	size_t i;
	int seen = 0;
	install(x);
	open_f(x);
	up_ok(x, NULL);
	assert_int_equal(ferry_verify(&doc, x->f), 0);
	j = parse(doc);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 0);
	json_decref(j);

	/* An applied file changed: findings, and the document still published. */
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/001_users.sql", USERS_SQL "-- edited\n");
	open_f(x);
	doc = SENTINEL;
	assert_int_equal(ferry_verify(&doc, x->f), FERRY_EVERIFY);
	assert_int_equal(ferry_errcode(x->f), FERRY_EVERIFY);
	assert_true(doc != SENTINEL);
	j = parse(doc);
	assert_true(json_is_false(json_object_get(j, "ok")));
	fs = json_object_get(j, "findings");
	json_array_foreach(fs, i, fnd) {
		assert_true(json_is_string(json_object_get(fnd, "kind")));
		assert_true(json_is_string(json_object_get(fnd, "subject")));
		assert_true(json_is_string(json_object_get(fnd, "message")));
		if (!strcmp(jstr(fnd, "subject"), S_USERS) && !strcmp(jstr(fnd, "kind"), "changed"))
			seen = 1;
	}
	assert_true(seen);
	json_decref(j);

	/* The version file disagreeing is a finding too. */
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/001_users.sql", USERS_SQL);
	t_write(x->root, "config/version.json", "{\"version\": \"9.9.9\"}\n");
	open_f(x);
	assert_int_equal(ferry_verify(&doc, x->f), FERRY_EVERIFY);
	j = parse(doc);
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(j, "findings"), 0), "kind"),
	                    "version_file");
	json_decref(j);
}

static void test_check_doc(void **state)
{
	fx *x = *state;
	char *doc = SENTINEL;
	json_t *j, *f0;
	int fd;
	install(x);
	open_f(x);
	assert_int_equal(ferry_check(&doc, x->f, NULL), 0);
	j = parse(doc);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 0);
	json_decref(j);

	fd = hold_lock(x);
	assert_int_equal(ferry_check(&doc, x->f, NULL), FERRY_EVERIFY);
	j = parse(doc);
	assert_true(json_is_false(json_object_get(j, "ok")));
	f0 = json_array_get(json_object_get(j, "findings"), 0);
	assert_string_equal(jstr(f0, "kind"), "lock");
	assert_non_null(strstr(jstr(f0, "message"), "4242"));
	json_decref(j);
	close(fd);

	/* A step that does not parse is a finding of check, before anything runs. */
	t_write(x->root, "migrations/v0.1.0_to_v0.2.0/002_bad.sql", "SELECT 1;\n");
	open_f(x);
	assert_int_equal(ferry_check(&doc, x->f, NULL), FERRY_EVERIFY);
	j = parse(doc);
	f0 = json_array_get(json_object_get(j, "findings"), 0);
	assert_string_equal(jstr(f0, "kind"), "parse");
	assert_string_equal(jstr(f0, "subject"), "0.2.0/002_bad.sql");
	json_decref(j);
}

/* Another up, a no-op: its document (as get gives it), status "noop". */
static json_t *noop_doc(fx *x, int (*get)(char **, ferry *))
{
	char *doc = NULL;
	json_t *j;
	up_ok(x, NULL);
	assert_int_equal(get(&doc, x->f), 0);
	j = parse(doc);
	assert_string_equal(jstr(j, "status"), "noop");
	return j;
}

static void test_last_run_doc(void **state)
{
	fx *x = *state;
	static const char *const keys[] = { "run_id", "status", "from", "to", "backup_id", "steps",
		                                NULL };
	static const char *const skeys[] = { "id", "status", "duration_ms", "message", NULL };
	char *doc = SENTINEL, *first;
	json_t *j, *s, *a;
	size_t i, nsteps = 0;
	install(x);
	open_f(x);
	assert_int_equal(ferry_last_run(&doc, x->f), FERRY_EINVALID);
	assert_null(doc);
	up_ok(x, NULL);
	assert_int_equal(ferry_last_run(&doc, x->f), 0);
	first = strdup(doc);
	j = parse(doc);
	has_keys(j, keys);
	assert_true(json_is_integer(json_object_get(j, "run_id")));
	assert_string_equal(jstr(j, "status"), "success");
	assert_string_equal(jstr(j, "from"), "0.0.0");
	assert_string_equal(jstr(j, "to"), "0.2.0");
	assert_int_equal(json_array_size(json_object_get(j, "steps")), 2);
	s = json_array_get(json_object_get(j, "steps"), 0);
	has_keys(s, skeys);
	assert_string_equal(jstr(s, "id"), S_USERS);
	assert_string_equal(jstr(s, "status"), "applied");
	assert_true(json_is_integer(json_object_get(s, "duration_ms")));
	/* Every action taken, each with its outcome. */
	a = json_object_get(j, "actions");
	assert_true(json_array_size(a) >= 2);
	json_array_foreach(a, i, s) {
		assert_non_null(jstr(s, "kind"));
		assert_non_null(jstr(s, "status"));
		assert_true(json_is_integer(json_object_get(s, "duration_ms")));
		if (!strcmp(jstr(s, "kind"), "step") && nsteps++ == 0) {
			assert_string_equal(jstr(s, "id"), S_USERS);
			assert_string_equal(jstr(s, "status"), "applied");
		}
	}
	assert_int_equal(nsteps, 2);
	json_decref(j);
	/* The document stays readable, more than once, the same. */
	assert_int_equal(ferry_last_run(&doc, x->f), 0);
	assert_string_equal(doc, first);
	json_decref(parse(doc));
	free(first);
	/* The next run's document is its own: a no-op took no action. */
	j = noop_doc(x, ferry_last_run);
	assert_int_equal(json_array_size(json_object_get(j, "actions")), 0);
	assert_true(json_is_array(json_object_get(j, "actions")));
	json_decref(j);
}

/* The summary: the document's scalars, no lists, and how many steps changed. */
static void test_last_run_summary(void **state)
{
	fx *x = *state;
	char *doc = SENTINEL, *full = NULL;
	json_t *j, *w, *v;
	const char *key;
	install(x);
	open_f(x);
	assert_int_equal(ferry_last_run_summary(&doc, x->f), FERRY_EINVALID);
	assert_null(doc);
	up_ok(x, NULL);
	assert_int_equal(ferry_last_run_summary(&doc, x->f), 0);
	j = parse(doc);
	assert_int_equal(ferry_last_run(&full, x->f), 0);
	w = parse(full);
	assert_int_equal(json_integer_value(json_object_get(j, "changed")), 2);
	assert_null(json_object_get(j, "steps"));
	assert_null(json_object_get(j, "actions"));
	/* every scalar of the whole document, equal */
	json_object_foreach(w, key, v)
		if (!json_is_array(v) && !json_is_object(v))
			assert_true(json_equal(v, json_object_get(j, key)));
	assert_int_equal(json_object_size(j), json_object_size(w) - 2 + 1);
	json_decref(j);
	json_decref(w);
	/* A second up changes nothing: a no-op, 0 changed. */
	j = noop_doc(x, ferry_last_run_summary);
	assert_int_equal(json_integer_value(json_object_get(j, "changed")), 0);
	json_decref(j);
}

/* Whether the database holds n of the two steps' tables (users, tags). */
static int step_tables_are(fx *x, int n)
{
	/* no database file yet: none */
	if (n == 0 && t_sh("test -e '%s/data/app.db'", x->root) != 0)
		return 1;
	return t_sh("test \"$(sqlite3 '%s/data/app.db' \"SELECT count(*) FROM sqlite_master "
	            "WHERE type = 'table' AND name IN ('users', 'tags')\")\" = %d",
	            x->root, n) == 0;
}

/*
 * An allocation that fails at every point of an up (every one of the first
 * 16, then every n/16th): the up fails or succeeds, never half-says. What a
 * fresh handle reads afterwards agrees with the database (0.0.0 and no
 * table, or 0.2.0 and both); a document, when there is one, is whole, its
 * actions a list; and the next up, with memory back, reaches 0.2.0.
 */
static void test_up_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	long n;
	int rc = -1, tried = 0;
	char *doc;
	o.skip_backup = 1;
	for (n = 0; n < 200000 && rc; n += 1 + n / 16) {
		reinstall(x);
		open_f(x);
		fr_alloc_fail_after(n);
		rc = ferry_up(x->f, NULL, &o);
		fr_alloc_fail_after(-1);
		tried++;
		doc = NULL;
		if (ferry_last_run(&doc, x->f) == 0) {
			json_t *j = parse(doc);
			assert_true(json_is_array(json_object_get(j, "actions")));
			assert_true(json_is_string(json_object_get(j, "status")));
			if (rc)
				assert_string_not_equal(jstr(j, "status"), "success");
			json_decref(j);
		}
		if (rc == 0)
			break;
		/* What a fresh handle says is what the database holds. */
		open_f(x);
		if (!strcmp(current(x), "0.2.0"))
			assert_true(step_tables_are(x, 2));
		else if (!strcmp(current(x), "0.0.0"))
			assert_true(step_tables_are(x, 0));
		else
			fail_msg("after %ld allocations: at %s", n, current(x));
		/* and the next up, with memory back, finishes the job */
		up_ok(x, NULL);
		assert_string_equal(current(x), "0.2.0");
		assert_true(step_tables_are(x, 2));
	}
	assert_int_equal(rc, 0);
	assert_true(tried > 16); /* the campaign reached past the first allocations */
	assert_string_equal(current(x), "0.2.0");
}

/* One document call of the public API, as the campaign below makes it. */
typedef int (*doc_fn)(char **out, ferry *f);
static int doc_check(char **out, ferry *f) { return ferry_check(out, f, NULL); }

/*
 * Each document of an installation at 0.1.0 with an allocation failing at
 * every point: it fails with no document (out NULL) and a message, or
 * gives the document it gives with memory; never a crash or a leak (the
 * suite runs under ASan and valgrind). Then the handle opens so, too.
 */
static void test_docs_alloc_failures(void **state)
{
	fx *x = *state;
	static const struct {
		const char *name;
		doc_fn fn;
	} docs[] = { { "status", ferry_status },   { "list", ferry_list },
		         { "history", ferry_history }, { "versions", ferry_versions },
		         { "verify", ferry_verify },   { "check", doc_check } };
	size_t i;
	long n;
	int rc;
	char *out, *want;
	ferry *g;
	install(x);
	open_f(x);
	up_ok(x, "0.1.0");
	for (i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		assert_int_equal(docs[i].fn(&want, x->f), 0);
		for (rc = -1, n = 0; n < 200000 && rc; n += 1 + n / 16) {
			out = SENTINEL;
			fr_alloc_fail_after(n);
			rc = docs[i].fn(&out, x->f);
			fr_alloc_fail_after(-1);
			if (rc) {
				if (out)
					fail_msg("%s after %ld allocations: a document and %d", docs[i].name, n, rc);
				if (!*ferry_errmsg(x->f))
					fail_msg("%s after %ld allocations: %d and no message", docs[i].name, n, rc);
			}
		}
		assert_int_equal(rc, 0);
		/* the same document as with memory, times and all (nothing ran between) */
		if (strcmp(docs[i].name, "verify") && strcmp(docs[i].name, "check"))
			assert_string_equal(out, want);
		ferry_free(out);
		ferry_free(want);
	}
	for (rc = -1, n = 0; n < 200000 && rc; n += 1 + n / 16) {
		g = NULL;
		fr_alloc_fail_after(n);
		rc = ferry_open(&g, x->root, NULL);
		fr_alloc_fail_after(-1);
		ferry_close(g);
	}
	assert_int_equal(rc, 0);
	assert_string_equal(current(x), "0.1.0");
}

/*
 * A down from 0.1.0 with an allocation failing at every point: after each,
 * a fresh handle's version agrees with the table (users there at 0.1.0,
 * gone at 0.0.0), and the next down, with memory, reaches 0.0.0.
 */
static void test_down_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	long n;
	int rc = -1;
	o.skip_backup = 1;
	for (n = 0; n < 200000 && rc; n += 1 + n / 16) {
		reinstall(x);
		open_f(x);
		up_ok(x, "0.1.0");
		fr_alloc_fail_after(n);
		rc = ferry_down(x->f, "0.0.0", &o);
		fr_alloc_fail_after(-1);
		open_f(x);
		if (!strcmp(current(x), "0.1.0"))
			assert_int_equal(t_sh("sqlite3 '%s/data/app.db' 'SELECT 1 FROM users' >/dev/null",
			                      x->root), 0);
		else if (!strcmp(current(x), "0.0.0"))
			assert_int_not_equal(t_sh("sqlite3 '%s/data/app.db' 'SELECT 1 FROM users' "
			                          ">/dev/null 2>&1", x->root), 0);
		else
			fail_msg("after %ld allocations: at %s", n, current(x));
		if (rc == 0)
			break;
		assert_int_equal(ferry_down(x->f, "0.0.0", &o), 0);
		assert_string_equal(current(x), "0.0.0");
	}
	assert_int_equal(rc, 0);
	assert_string_equal(current(x), "0.0.0");
}

/*
 * A run that fails (its third step names a table that does not exist) with
 * an allocation failing at every point besides: after each, the run is
 * rolled back, or a fresh handle's recover finishes the job; then the
 * installation is where it began, at 0.0.0 with neither table, and a
 * document, when there is one, is whole and does not say success.
 */
static void test_failing_up_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	long n;
	int rc, struck = 1, tried = 0;
	char *doc, msg[1024];
	o.skip_backup = 1;
	for (n = 0; n < 200000 && struck; n += 1 + n / 16) {
		reinstall(x);
		t_write(x->root, "migrations/v0.2.0_to_v0.3.0/001_bad.sql",
		        "-- ferry:up\nINSERT INTO nowhere VALUES (1);\n");
		open_f(x);
		fr_alloc_fail_after(n);
		rc = ferry_up(x->f, NULL, &o);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		tried++;
		assert_int_not_equal(rc, 0);
		snprintf(msg, sizeof msg, "%s", ferry_errmsg(x->f));
		if (ferry_last_run(&doc, x->f) == 0) {
			json_t *j = parse(doc);
			assert_true(json_is_array(json_object_get(j, "actions")));
			assert_string_not_equal(jstr(j, "status"), "success");
			json_decref(j);
		}
		open_f(x);
		if ((rc = ferry_recover(x->f, 0)) != 0)
			fail_msg("after %ld allocations: recover: %d %s", n, rc, ferry_errmsg(x->f));
		if (strcmp(current(x), "0.0.0") || !step_tables_are(x, 0))
			fail_msg("after %ld allocations: at %s", n, current(x));
	}
	assert_false(struck); /* the last run had all the memory it asked for */
	assert_true(tried > 16);
	/* and with memory, it fails for its own reason: the missing table */
	assert_non_null(strstr(msg, "nowhere"));
}

/* An export's text, gathered in memory (ferry_write_fn). */
static int gather(void *ctx, const char *data, size_t len)
{
	return fr_buf_add(ctx, data, len);
}

/* How many rows users holds, as sqlite3 reads it. */
static int users_rows_are(fx *x, int n)
{
	return t_sh("test \"$(sqlite3 '%s/data/app.db' 'SELECT count(*) FROM users')\" = %d",
	            x->root, n) == 0;
}

/*
 * Export and import with an allocation refused at every point: an export
 * fails with a message, or writes what it writes with memory (the same
 * lines, the header's time apart); an
 * import leaves every row or none (3 or 0), and then, with memory, imports.
 */
static void test_data_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_export_options eo = FERRY_EXPORT_OPTIONS_INIT;
	ferry_import_options io = FERRY_IMPORT_OPTIONS_INIT;
	fr_buf want = FR_BUF_INIT, got = FR_BUF_INIT;
	char *path, *doc = NULL;
	size_t at;
	long n;
	int rc, struck = 1;
	install(x);
	open_f(x);
	up_ok(x, "0.1.0");
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' \"INSERT INTO users (name) VALUES "
	                      "('ann'), ('bob'), ('cy')\"", x->root), 0);
	assert_int_equal(ferry_export(NULL, x->f, &eo, gather, &want), 0);
	assert_non_null(strstr(want.ptr, "bob"));
	for (n = 0; n < 200000 && struck; n += 1 + n / 16) {
		fr_buf_reset(&got);
		fr_alloc_fail_after(n);
		rc = ferry_export(&doc, x->f, &eo, gather, &got);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(doc);
			assert_true(*ferry_errmsg(x->f));
		} else {
			/* the same lines; the header's but its exported_at, which is a clock's */
			assert_non_null(strchr(got.ptr, '\n'));
			assert_string_equal(strchr(got.ptr, '\n'), strchr(want.ptr, '\n'));
			at = (size_t)(strstr(want.ptr, "exported_at") - want.ptr);
			assert_int_equal(strncmp(got.ptr, want.ptr, at), 0);
			ferry_free(doc);
			doc = NULL;
		}
	}
	assert_false(struck);
	path = t_path(x->root, "users.jsonl");
	t_write(x->root, "users.jsonl", want.ptr);
	for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
		assert_int_equal(t_sh("sqlite3 '%s/data/app.db' 'DELETE FROM users'", x->root), 0);
		fr_alloc_fail_after(n);
		rc = ferry_import(NULL, x->f, path, &io);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_true(*ferry_errmsg(x->f));
			if (!users_rows_are(x, 0))
				fail_msg("after %ld allocations: a failed import left rows", n);
		} else if (!users_rows_are(x, 3)) {
			fail_msg("after %ld allocations: an import said done with rows missing", n);
		}
	}
	assert_false(struck);
	assert_int_equal(rc, 0);
	assert_true(users_rows_are(x, 3));
	free(path);
	fr_buf_release(&want);
	fr_buf_release(&got);
}

/*
 * A plan (made, as JSON, as Graphviz, applied) and a new step with an
 * allocation refused at every point: each fails with a message and no
 * result, or gives what it gives with memory; an apply that fails leaves
 * the installation at 0.0.0 or 0.2.0 with the tables to match; a new step
 * that fails leaves no file behind.
 */
static void test_plan_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_plan *p;
	char *want, *got, *dot, *path;
	long n;
	int rc, struck = 1;
	o.skip_backup = 1;
	install(x);
	open_f(x);
	assert_int_equal(ferry_plan_new(&p, x->f, NULL), 0);
	assert_int_equal(ferry_plan_json(&want, p), 0);
	ferry_plan_free(p);
	for (n = 0; n < 200000 && struck; n += 1 + n / 16) {
		p = NULL;
		got = dot = SENTINEL;
		fr_alloc_fail_after(n);
		rc = ferry_plan_new(&p, x->f, NULL);
		if (rc == 0 && (rc = ferry_plan_json(&got, p)) == 0)
			rc = ferry_plan_dot(&dot, p);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_true(*ferry_errmsg(x->f));
			assert_true(p || got == SENTINEL);
		} else {
			assert_string_equal(got, want);
			assert_non_null(strstr(dot, "digraph"));
			ferry_free(dot);
		}
		if (got != SENTINEL && got)
			ferry_free(got);
		ferry_plan_free(p);
	}
	assert_false(struck);
	ferry_free(want);
	/* applied: all or nothing, whatever fails */
	for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
		reinstall(x);
		open_f(x);
		assert_int_equal(ferry_plan_for(&p, x->f, NULL, &o), 0);
		fr_alloc_fail_after(n);
		rc = ferry_apply(x->f, p, &o);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		ferry_plan_free(p);
		open_f(x);
		if (!(!strcmp(current(x), "0.0.0") && step_tables_are(x, 0)) &&
		    !(!strcmp(current(x), "0.2.0") && step_tables_are(x, 2)))
			fail_msg("after %ld allocations: at %s", n, current(x));
		if (rc)
			up_ok(x, NULL);
		assert_string_equal(current(x), "0.2.0");
	}
	assert_false(struck);
	/* a new step */
	for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
		path = SENTINEL;
		fr_alloc_fail_after(n);
		rc = ferry_new_step(&path, x->f, "0.3.0", "add_notes", NULL, NULL);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_true(*ferry_errmsg(x->f));
			/* not even the folder: empty, it would be a version 0.3.0 to the next up */
			if (t_sh("test ! -e '%s/migrations/v0.2.0_to_v0.3.0'", x->root))
				fail_msg("after %ld allocations: the folder of a step not written is left", n);
		} else {
			assert_int_equal(t_sh("test -f '%s'", path), 0);
			ferry_free(path);
		}
	}
	assert_false(struck);
	assert_int_equal(rc, 0);
}

/* Every backup the handle lists verifies whole (a backup cut short is none). */
static void backups_whole(fx *x, long n)
{
	char *doc = NULL, *v;
	json_t *j, *b;
	size_t i;
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	j = parse(doc);
	json_array_foreach(json_object_get(j, "backups"), i, b) {
		v = NULL;
		if (ferry_backup_verify(&v, x->f, jstr(b, "id")))
			fail_msg("after %ld allocations: backup %s: %s", n, jstr(b, "id"),
			         ferry_errmsg(x->f));
		ferry_free(v);
	}
	json_decref(j);
}

/*
 * An up rehearsed, an up dry run, and an up with its pre-run backup, each
 * with an allocation refused at every point: a rehearsal or a dry run
 * leaves the installation at 0.0.0 with no table and no copy left in
 * TMPDIR; with its backup, the installation agrees with its version and
 * every backup listed verifies whole.
 */
static void test_modes_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	char *tmp = t_tmpdir(), *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	long n;
	int rc, struck, mode;
	setenv("TMPDIR", tmp, 1); /* outside the installation: a copy inside it is refused */
	for (mode = 0; mode < 3; mode++) {
		for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
			reinstall(x);
			open_f(x);
			o = (ferry_run_options)FERRY_RUN_OPTIONS_INIT;
			o.rehearse = mode == 0;
			o.dry_run = mode == 1;
			o.skip_backup = mode != 2;
			fr_alloc_fail_after(n);
			rc = ferry_up(x->f, NULL, &o);
			struck = fr_alloc_fault_struck();
			fr_alloc_fail_after(-1);
			if (rc && !*ferry_errmsg(x->f))
				fail_msg("mode %d after %ld allocations: %d and no message", mode, n, rc);
			if (rc && !struck)
				fail_msg("mode %d, with memory: %d %s", mode, rc, ferry_errmsg(x->f));
			open_f(x);
			if (mode < 2) {
				if (strcmp(current(x), "0.0.0") || !step_tables_are(x, 0))
					fail_msg("mode %d after %ld allocations: the installation moved", mode, n);
				if (t_sh("test -z \"$(ls -A '%s')\"", tmp))
					fail_msg("mode %d after %ld allocations: a copy is left in TMPDIR", mode, n);
			} else {
				if (!(!strcmp(current(x), "0.0.0") && step_tables_are(x, 0)) &&
				    !(!strcmp(current(x), "0.2.0") && step_tables_are(x, 2)))
					fail_msg("after %ld allocations: at %s", n, current(x));
				backups_whole(x, n);
			}
		}
		assert_false(struck);
	}
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	t_rmrf(tmp);
	free(tmp);
}

/*
 * Rolling back to the pre-run backup, and pruning backups, with an
 * allocation refused at every point: a rollback leaves the installation as
 * it was (0.2.0, both tables) or as the backup has it (0.0.0, none), never
 * between, and no staging folder behind; every backup still listed
 * verifies whole; a prune never loses the newest backup.
 */
static void test_rollback_alloc_failures(void **state)
{
	fx *x = *state;
	ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
	ferry_restore_options ro = FERRY_RESTORE_OPTIONS_INIT;
	char *id = NULL, *newest = NULL, *out, msgb[1024];
	long n;
	int rc, struck, k;
	for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
		reinstall(x);
		open_f(x);
		assert_int_equal(ferry_up(x->f, NULL, &o), 0); /* with its pre-run backup, at 0.0.0 */
		fr_alloc_fail_after(n);
		rc = ferry_rollback(x->f, NULL, &ro);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		snprintf(msgb, sizeof msgb, "%s", ferry_errmsg(x->f));
		if (rc && !*ferry_errmsg(x->f))
			fail_msg("after %ld allocations: %d and no message", n, rc);
		open_f(x);
		if (!(!strcmp(current(x), "0.0.0") && step_tables_are(x, 0)) &&
		    !(!strcmp(current(x), "0.2.0") && step_tables_are(x, 2)))
			fail_msg("after %ld allocations: at %s, the tables another's (%d: %s)", n,
			         current(x), rc, msgb);
		backups_whole(x, n);
		/* no staging folder left, beside the root or in .ferry */
		if (t_sh("! ls -d \"$(dirname '%s')/.$(basename '%s').ferry-restore.\"* '%s/.ferry/restore.'* "
		         ">/dev/null 2>&1", x->root, x->root, x->root))
			fail_msg("after %ld allocations: a staging folder is left", n);
	}
	assert_false(struck);
	assert_int_equal(rc, 0);
	assert_string_equal(current(x), "0.0.0");
	for (struck = 1, n = 0; n < 200000 && struck; n += 1 + n / 16) {
		reinstall(x);
		open_f(x);
		for (k = 0; k < 3; k++) {
			ferry_free(id);
			assert_int_equal(ferry_backup_create(&id, x->f, NULL), 0);
		}
		free(newest);
		newest = strdup(id);
		out = NULL;
		fr_alloc_fail_after(n);
		rc = ferry_backup_prune(&out, x->f, 1, 0);
		struck = fr_alloc_fault_struck();
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(out);
			assert_true(*ferry_errmsg(x->f));
		}
		ferry_free(out);
		backups_whole(x, n);
		if (t_sh("test -f '%s/.ferry/backups/%s.tar.zst'", x->root, newest))
			fail_msg("after %ld allocations: the newest backup %s is gone", n, newest);
	}
	assert_false(struck);
	assert_int_equal(rc, 0);
	ferry_free(id);
	free(newest);
}

/* ---- out-parameters on failure ---- */

static void test_out_null_on_failure(void **state)
{
	fx *x = *state;
	char *out;
	ferry_plan *p;
	install(x);
	open_f(x);

	p = (ferry_plan *)SENTINEL;
	assert_int_equal(ferry_plan_new(&p, x->f, "not.a.version"), FERRY_EINVALID);
	assert_null(p);
	assert_true(strlen(ferry_errmsg(x->f)) > 0);

	/* No path: EFAILED, the message says what is reachable. */
	t_write(x->root, "migrations/v0.5.0_to_v0.6.0/001_x.sql", "-- ferry:up\nSELECT 1;\n");
	open_f(x);
	p = (ferry_plan *)SENTINEL;
	assert_int_equal(ferry_plan_new(&p, x->f, "0.6.0"), FERRY_EFAILED);
	assert_null(p);
	assert_non_null(strstr(ferry_errmsg(x->f), "0.2.0"));

	out = SENTINEL;
	assert_int_equal(ferry_new_step(&out, x->f, "0.3.0", "x", "cobol", NULL), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_new_step(&out, x->f, "0.3.0", "a/b", NULL, NULL), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_new_step(&out, x->f, "zzz", "x", NULL, NULL), FERRY_EINVALID);
	assert_null(out);

	/* A bad version in state: the version cannot be read. */
	assert_int_equal(fr_state_set_version(x->f->state, "garbage"), 0);
	out = SENTINEL;
	assert_int_not_equal(ferry_current_version(&out, x->f), 0);
	assert_null(out);
	assert_int_equal(fr_state_set_version(x->f->state, "0.0.0"), 0);

	/* Bad migrations: every document call fails with EINVALID naming the file. */
	t_write(x->root, "migrations/garbage.txt", "?");
	open_f(x);
	out = SENTINEL;
	assert_int_equal(ferry_status(&out, x->f), FERRY_EINVALID);
	assert_null(out);
	assert_non_null(strstr(ferry_errmsg(x->f), "garbage.txt"));
	out = SENTINEL;
	assert_int_equal(ferry_list(&out, x->f), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_versions(&out, x->f), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_verify(&out, x->f), FERRY_EINVALID);
	assert_null(out);
	out = SENTINEL;
	assert_int_equal(ferry_check(&out, x->f, NULL), FERRY_EINVALID);
	assert_null(out);
	p = (ferry_plan *)SENTINEL;
	assert_int_equal(ferry_plan_new(&p, x->f, NULL), FERRY_EINVALID);
	assert_null(p);
	assert_int_equal(ferry_up(x->f, NULL, NULL), FERRY_EINVALID);
	assert_non_null(strstr(ferry_errmsg(x->f), "garbage.txt"));
}

/* ---- new steps ---- */

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void test_new_step(void **state)
{
	fx *x = *state;
	char *out = SENTINEL, *text, *doc;
	install(x);
	open_f(x);

	/* Into an existing transition folder: the next number. */
	assert_int_equal(ferry_new_step(&out, x->f, "0.1.0", "add_email", NULL, NULL), 0);
	assert_non_null(out);
	assert_non_null(strstr(out, "migrations/v0.0.0_to_v0.1.0/002_add_email.sql"));
	text = t_read("/", out);
	assert_non_null(text);
	assert_non_null(strstr(text, "-- ferry:up"));
	assert_non_null(strstr(text, "-- ferry:down"));
	free(text);
	ferry_free(out);
	assert_int_equal(ferry_new_step(&out, x->f, "0.1.0", "more", "sql", NULL), 0);
	assert_non_null(strstr(out, "v0.0.0_to_v0.1.0/003_more.sql"));
	ferry_free(out);

	/* A new version: a new folder from the greatest catalogued version below it. */
	assert_int_equal(ferry_new_step(&out, x->f, "0.3.0", "posts", NULL, NULL), 0);
	assert_non_null(strstr(out, "migrations/v0.2.0_to_v0.3.0/001_posts.sql"));
	ferry_free(out);
	/* With an explicit from (a shortcut). */
	assert_int_equal(ferry_new_step(&out, x->f, "0.3.0", "direct", NULL, "0.1.x"), 0);
	assert_non_null(strstr(out, "migrations/v0.1.x_to_v0.3.0/001_direct.sql"));
	ferry_free(out);
	/* Not above from. */
	out = SENTINEL;
	assert_int_equal(ferry_new_step(&out, x->f, "0.1.0", "x", NULL, "0.2.0"), FERRY_EINVALID);
	assert_null(out);

	/* The catalog still loads, with the new steps in it. */
	assert_int_equal(ferry_list(&doc, x->f), 0);
	assert_non_null(strstr(doc, "0.1.0/003_more.sql"));
	assert_non_null(strstr(doc, "0.3.0/001_posts.sql"));
	ferry_free(doc);
}

/* A folder with gaps in its numbering: the new step still comes last. */
static void test_new_step_after_gap(void **state)
{
	fx *x = *state;
	char *out = NULL, name[256];
	install(x);
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/005_later.sql", USERS_SQL);
	open_f(x);
	assert_int_equal(ferry_new_step(&out, x->f, "0.1.0", "newest", NULL, NULL), 0);
	snprintf(name, sizeof name, "%s", base(out));
	ferry_free(out);
	if (strcmp(name, "005_later.sql") <= 0)
		fail_msg("new step '%s' sorts before the existing 005_later.sql, so it would run "
		         "before it", name);
}

/* Flat steps: a new step for a flat transition keeps the catalog valid. */
static void test_new_step_flat(void **state)
{
	fx *x = *state;
	char *out = NULL, *doc = NULL;
	ferry_plan *p = NULL;
	t_write(x->root, "ferry.yaml", "app: flat\ndatabases:\n  main: sqlite:data/app.db\n");
	t_write(x->root, "migrations/0.1.0_init.sql", USERS_SQL);
	open_f(x);
	assert_int_equal(ferry_new_step(&out, x->f, "0.1.0", "more", NULL, NULL), 0);
	assert_non_null(out);
	ferry_free(out);
	if (ferry_status(&doc, x->f) != 0)
		fail_msg("the catalog no longer loads after ferry_new_step: %s", ferry_errmsg(x->f));
	ferry_free(doc);
	/* The plan lists the untouched template, and refuses it, naming the file. */
	assert_int_equal(ferry_plan_new(&p, x->f, "0.1.0"), FERRY_EINVALID);
	assert_null(p);
	assert_non_null(strstr(ferry_errmsg(x->f), "more.sql"));
}

/* ---- unlock ---- */

static void test_unlock(void **state)
{
	fx *x = *state;
	int fd;
	install(x);
	open_f(x);
	assert_int_equal(ferry_unlock(x->f, 0), 0); /* nothing held: fine */
	fd = hold_lock(x);
	assert_int_equal(ferry_unlock(x->f, 0), FERRY_ELOCKED);
	assert_non_null(strstr(ferry_errmsg(x->f), "4242"));
	assert_int_equal(ferry_unlock(x->f, 1), 0);
	/* A new lock file: a runner is no longer blocked by the stuck holder. */
	up_ok(x, NULL);
	assert_string_equal(current(x), "0.2.0");
	close(fd);
}

/* ---- the header ---- */

/* The source folder: from __FILE__, which meson gives relative to the build folder. */
static const char *source_dir(void)
{
	static char out[PATH_MAX];
	char exe[PATH_MAX], cand[2 * PATH_MAX + 2], real[PATH_MAX], *s;
	const char *file = __FILE__;
	ssize_t n;
	int i;
	if (file[0] == '/') {
		snprintf(cand, sizeof cand, "%s", file);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		/* <build>/tests/unit/test_api -> <build> */
		for (i = 0; i < 3; i++) {
			s = strrchr(exe, '/');
			assert_non_null(s);
			*s = '\0';
		}
		snprintf(cand, sizeof cand, "%s/%s", exe, file);
		if (access(cand, R_OK) != 0)
			snprintf(cand, sizeof cand, "%s", file); /* relative to the working folder */
	}
	if (!realpath(cand, real))
		fail_msg("cannot find the source of %s", file);
	s = strstr(real, "/tests/unit/");
	assert_non_null(s);
	*s = '\0';
	snprintf(out, sizeof out, "%s", real);
	return out;
}

static const char example[] =
	"#include <ferry.h>\n#include <stdio.h>\n"
	"static void lg(void *c, ferry_log_level l, const char *s, const char *m)\n"
	"{ (void)c; (void)l; (void)s; (void)m; }\n"
	"int main(void) {\n"
	"  ferry *f; char *doc = NULL;\n"
	"  ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;\n"
	"  ferry_run_options ro = FERRY_RUN_OPTIONS_INIT;\n"
	"  ferry_init_options io = FERRY_INIT_OPTIONS_INIT;\n"
	"  oo.log = lg; ro.dry_run = 1; (void)io;\n"
	"  if (ferry_open(&f, \"/var/lib/myapp\", &oo) == 0) {\n"
	"    if (ferry_up(f, \"1.0.0\", &ro) != 0)\n"
	"      fprintf(stderr, \"migrations: %s\\n\", ferry_errmsg(f));\n"
	"    if (ferry_status(&doc, f) == 0) ferry_free(doc);\n"
	"  }\n"
	"  ferry_close(f);\n"
	"  return 0;\n"
	"}\n";

static void test_header_c89_cxx(void **state)
{
	const char *src = source_dir();
	char *dir = t_tmpdir();
	(void)state;
	assert_int_equal(t_sh("test -f '%s/include/ferry.h'", src), 0);
	/* The compilers do catch errors here (so the checks below mean something). */
	assert_int_not_equal(t_sh("printf '#include <ferry.h>\\nint x = ;\\n' | cc -std=c89 "
	                          "-pedantic -Werror -fsyntax-only -I'%s/include' -x c - "
	                          "2>/dev/null", src), 0);
	/* The header alone. */
	assert_int_equal(t_sh("printf '#include <ferry.h>\\n' | cc -std=c89 -pedantic -Werror "
	                      "-Wall -Wextra -fsyntax-only -I'%s/include' -x c -", src), 0);
	assert_int_equal(t_sh("printf '#include <ferry.h>\\n' | c++ -std=c++98 -pedantic -Werror "
	                      "-Wall -Wextra -fsyntax-only -I'%s/include' -x c++ -", src), 0);
	/* A start-up use as SPEC section 7 shows it, with the option initialisers. */
	t_write(dir, "ex.c", example);
	assert_int_equal(t_sh("cc -std=c89 -pedantic -Werror -Wall -Wextra -fsyntax-only "
	                      "-I'%s/include' -x c '%s/ex.c'", src, dir), 0);
	assert_int_equal(t_sh("c++ -pedantic -Werror -Wall -Wextra -fsyntax-only "
	                      "-I'%s/include' -x c++ '%s/ex.c'", src, dir), 0);
	t_rmrf(dir);
	free(dir);
}

/* ferry.log: each line is JSON; a step id or message that is not UTF-8 is left out with its key. */
static void test_log_line_drops_what_json_refuses(void **state)
{
	fx *x = *state;
	char *text, *line, *save = NULL;
	json_t *j[3];
	int n = 0;
	install(x);
	open_f(x);
	fr_log(x->f, FERRY_LOG_WARN, "0.1.0/001_users.sql", "quote \" and tab \t");
	fr_log(x->f, FERRY_LOG_WARN, "bad\xff", "fine");
	fr_log(x->f, FERRY_LOG_WARN, NULL, "caf\xc3");
	fr_log_flush(x->f);
	text = t_read(x->root, ".ferry/log/ferry.log");
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line && n < 3; line = strtok_r(NULL, "\n", &save))
		assert_non_null(j[n++] = json_loads(line, 0, NULL));
	assert_int_equal(n, 3);
	assert_string_equal(json_string_value(json_object_get(j[0], "step")), "0.1.0/001_users.sql");
	assert_string_equal(json_string_value(json_object_get(j[0], "message")), "quote \" and tab \t");
	assert_null(json_object_get(j[1], "step"));
	assert_string_equal(json_string_value(json_object_get(j[1], "message")), "fine");
	assert_null(json_object_get(j[2], "message"));
	assert_string_equal(json_string_value(json_object_get(j[2], "level")), "warn");
	while (n--)
		json_decref(j[n]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_missing_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_no_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_broken_yaml, setup, teardown),
		cmocka_unit_test(test_null_safe),
		cmocka_unit_test_setup_teardown(test_find_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_current_from_version_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_current_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_docs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_run_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_run_doc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_up_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docs_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_up_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_null_on_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_step_after_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_step_flat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_line_drops_what_json_refuses, setup, teardown),
		cmocka_unit_test(test_header_c89_cxx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
