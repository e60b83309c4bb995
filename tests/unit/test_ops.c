/*
 * test_ops.c - the ops step kind (lib/step/ops/): every op on real JSON,
 * YAML and .env files, the exact text each leaves, and the file's bytes
 * after forward + undo compared with the original; file and folder ops and
 * their undo; symlink escapes refused by every op; a failing op undoing the
 * step's earlier ones; undo after a later change; load errors with lines;
 * the --dry-run diff.
 */
#include "helpers.h"

#include "step/step.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REL "migrations/v1.0.0_to_v1.1.0/001_config.yaml"
#define ID "1.1.0/001_config.yaml"

typedef struct {
	fr_run_ctx ctx;
	fr_buf err;      /* ctx->err */
	fr_buf lerr;     /* load errors */
	char *root;
	char *outside;   /* a folder outside the root */
	char *scratch;
	char *path;      /* the ops file */
	fr_step step;
} env;

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	assert_non_null(e);
	e->root = t_tmpdir();
	e->outside = t_tmpdir();
	e->scratch = t_path(e->root, ".ferry/scratch");
	e->path = t_path(e->root, REL);
	fr_buf_init(&e->err);
	fr_buf_init(&e->lerr);
	e->ctx.root = e->root;
	e->ctx.err = &e->err;
	e->ctx.scratch_dir = e->scratch;
	e->ctx.step_id = ID;
	e->step.id = ID;
	e->step.name = "001_config.yaml";
	e->step.rel = REL;
	e->step.path = e->path;
	e->step.kind = &fr_step_ops;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	fr_step_ops.unload(&e->step);
	assert_null(e->step.priv);
	fr_buf_release(&e->err);
	fr_buf_release(&e->lerr);
	t_rmrf(e->root);
	t_rmrf(e->outside);
	free(e->root);
	free(e->outside);
	free(e->scratch);
	free(e->path);
	free(e);
	return 0;
}

static int load(env *e, const char *text)
{
	fr_buf_reset(&e->lerr);
	t_write(e->root, REL, text);
	return fr_step_ops.load(&e->step, text, strlen(text), &e->lerr);
}

static void load_ok(env *e, const char *text)
{
	if (load(e, text) != 0)
		fail_msg("load failed: %s", e->lerr.ptr);
}

static void load_fails(env *e, const char *text, const char *want)
{
	assert_int_equal(load(e, text), -1);
	assert_null(e->step.priv);
	if (!strstr(e->lerr.ptr, want))
		fail_msg("load error '%s' does not hold '%s'", e->lerr.ptr, want);
}

static void forward_ok(env *e)
{
	fr_buf_reset(&e->err);
	if (fr_step_ops.forward(&e->ctx, &e->step) != 0)
		fail_msg("forward failed: %s", e->err.ptr);
}

static void forward_fails(env *e, const char *want)
{
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_ops.forward(&e->ctx, &e->step), -1);
	if (!strstr(e->err.ptr, want))
		fail_msg("error '%s' does not hold '%s'", e->err.ptr, want);
}

/* The recorded undo, then the step unloaded (undo works from the text alone). */
static char *take_undo(env *e)
{
	fr_buf b = FR_BUF_INIT;
	assert_int_equal(fr_step_ops.undo_text(&e->step, &b), 0);
	assert_true(b.len > 0);
	fr_step_ops.unload(&e->step);
	return fr_buf_detach(&b);
}

static void undo_ok(env *e, const char *text)
{
	fr_buf_reset(&e->err);
	if (fr_step_ops.undo(&e->ctx, ID, "", text) != 0)
		fail_msg("undo failed: %s", e->err.ptr);
}

static void assert_file(env *e, const char *rel, const char *want)
{
	char *got = t_read(e->root, rel);
	if (!got)
		fail_msg("'%s' is missing", rel);
	if (strcmp(got, want))
		fail_msg("'%s' is:\n%s\n--- wanted:\n%s", rel, got, want);
	free(got);
}

static void assert_missing(env *e, const char *rel)
{
	char *p = t_path(e->root, rel);
	struct stat st;
	assert_int_not_equal(lstat(p, &st), 0);
	free(p);
}

static mode_t mode_of(env *e, const char *rel)
{
	char *p = t_path(e->root, rel);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

/*
 * Writes orig to file, runs the ops, checks the file is after, undoes from
 * the recorded text and checks the bytes are orig again.
 */
static void roundtrip(env *e, const char *file, const char *orig, const char *ops,
                      const char *after)
{
	char *u;
	t_write(e->root, file, orig);
	load_ok(e, ops);
	forward_ok(e);
	assert_file(e, file, after);
	u = take_undo(e);
	undo_ok(e, u);
	assert_file(e, file, orig);
	/* a second undo finds it done */
	undo_ok(e, u);
	assert_file(e, file, orig);
	free(u);
}

/*
 * Writes orig to file, runs the ops (and checks the file is after, unless
 * NULL), writes changed (a later change of the file), undoes, and checks
 * the file is expect. Returns the undo (free()).
 */
static char *undo_changed(env *e, const char *file, const char *orig, const char *ops,
                          const char *after, const char *changed, const char *expect)
{
	char *u;
	t_write(e->root, file, orig);
	load_ok(e, ops);
	forward_ok(e);
	if (after)
		assert_file(e, file, after);
	u = take_undo(e);
	t_write(e->root, file, changed);
	undo_ok(e, u);
	assert_file(e, file, expect);
	return u;
}

/* ---- kind basics ---- */

static void test_kind_flags(void **state)
{
	env *e = *state;
	/* even a step without ops has an undo (database and transaction: test_kinds.c) */
	load_ok(e, "description: nothing\nops: []\n");
	assert_true(fr_step_ops.reversible(&e->step));
	assert_false(fr_step_ops.undo_transactional("{}"));
	forward_ok(e);
	{
		char *u = take_undo(e);
		assert_string_equal(u, "{\"ferry_ops_undo\":1,\"actions\":[]}");
		undo_ok(e, u);
		free(u);
	}
}

/* ---- JSON ---- */

#define APP_JSON "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n" \
                 "  \"privacy\": {\n    \"enabled\": false\n  },\n" \
                 "  \"tags\": [\"a\", \"b\"],\n  \"legacy\": {\"flags\": 3, \"x\": 1}\n}\n"

static void test_json_set(void **state)
{
	env *e = *state;
	/* a value replaced in place; other numbers keep their spelling */
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n  - set: {file: config/app.json, path: privacy.enabled, value: true}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"privacy\": {\n    \"enabled\": true\n  },\n"
	          "  \"tags\": [\"a\", \"b\"],\n  \"legacy\": {\"flags\": 3, \"x\": 1}\n}\n");
	/* a new key at the end of its object, in the file's indentation; mappings made on the way */
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n"
	          "  - set: {file: config/app.json, path: privacy.level, value: public_full}\n"
	          "  - set: {file: config/app.json, path: limits.upload.mb, value: 2.5}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"privacy\": {\n    \"enabled\": false,\n    \"level\": \"public_full\"\n  },\n"
	          "  \"tags\": [\"a\", \"b\"],\n  \"legacy\": {\"flags\": 3, \"x\": 1},\n"
	          "  \"limits\": {\n    \"upload\": {\n      \"mb\": 2.5\n    }\n  }\n}\n");
	/* in a one-line container: stays on one line; a list item appended by its index */
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n"
	          "  - set: {file: config/app.json, path: legacy.y, value: {deep: [1, null]}}\n"
	          "  - set: {file: config/app.json, path: tags.2, value: c}\n"
	          "  - set: {file: config/app.json, path: tags.0, value: A}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"privacy\": {\n    \"enabled\": false\n  },\n"
	          "  \"tags\": [\"A\", \"b\", \"c\"],\n"
	          "  \"legacy\": {\"flags\": 3, \"x\": 1, \"y\": {\"deep\": [1, null]}}\n}\n");
}

static void test_json_set_if_missing_and_same(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "config/app.json", APP_JSON);
	load_ok(e, "ops:\n"
	           "  - set: {file: config/app.json, path: name, value: other, if_missing: true}\n"
	           "  - set: {file: config/app.json, path: name, value: demo}\n");
	forward_ok(e);
	assert_file(e, "config/app.json", APP_JSON);
	u = take_undo(e);
	assert_string_equal(u, "{\"ferry_ops_undo\":1,\"actions\":[]}");
	free(u);
}

static void test_json_indent_detected(void **state)
{
	env *e = *state;
	roundtrip(e, "four.json", "{\n    \"a\": {\n        \"b\": 1\n    }\n}",
	          "ops:\n  - set: {file: four.json, path: a.c, value: [x]}\n",
	          "{\n    \"a\": {\n        \"b\": 1,\n        \"c\": [\n            \"x\"\n"
	          "        ]\n    }\n}");
	roundtrip(e, "tabs.json", "{\n\t\"a\": 1\n}\n",
	          "ops:\n  - set: {file: tabs.json, path: b, value: {c: 2}}\n",
	          "{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"c\": 2\n\t}\n}\n");
	roundtrip(e, "compact.json", "{\"a\":1}",
	          "ops:\n  - set: {file: compact.json, path: b, value: \"x\\\"y\"}\n",
	          "{\"a\":1,\"b\":\"x\\\"y\"}");
	roundtrip(e, "empty.json", "{}\n",
	          "ops:\n  - set: {file: empty.json, path: a, value: 1}\n", "{\"a\": 1}\n");
}

static void test_json_delete(void **state)
{
	env *e = *state;
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n"
	          "  - delete: {file: config/app.json, path: legacy.flags}\n"
	          "  - delete: {file: config/app.json, path: tags.1}\n"
	          "  - delete: {file: config/app.json, path: privacy.enabled}\n"
	          "  - delete: {file: config/app.json, path: ratio}\n"
	          "  - delete: {file: config/app.json, path: nothing.here}\n",
	          "{\n  \"name\": \"demo\",\n  \"big\": 1e3,\n"
	          "  \"privacy\": {},\n"
	          "  \"tags\": [\"a\"],\n  \"legacy\": {\"x\": 1}\n}\n");
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n  - delete: {file: config/app.json, path: legacy}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"privacy\": {\n    \"enabled\": false\n  },\n"
	          "  \"tags\": [\"a\", \"b\"]\n}\n");
}

static void test_json_rename(void **state)
{
	env *e = *state;
	/* in the same object: only the key's text changes */
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n  - rename: {file: config/app.json, from: privacy, to: privacy_settings}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"privacy_settings\": {\n    \"enabled\": false\n  },\n"
	          "  \"tags\": [\"a\", \"b\"],\n  \"legacy\": {\"flags\": 3, \"x\": 1}\n}\n");
	/* elsewhere: the value's own text travels, re-indented */
	roundtrip(e, "config/app.json", APP_JSON,
	          "ops:\n  - rename: {file: config/app.json, from: privacy, to: settings.privacy}\n"
	          "  - rename: {file: config/app.json, from: nope, to: other}\n",
	          "{\n  \"name\": \"demo\",\n  \"ratio\": 0.10,\n  \"big\": 1e3,\n"
	          "  \"tags\": [\"a\", \"b\"],\n  \"legacy\": {\"flags\": 3, \"x\": 1},\n"
	          "  \"settings\": {\n    \"privacy\": {\n      \"enabled\": false\n    }\n  }\n}\n");
	/* changed since: the key is renamed back where it stands, the later keys kept */
	free(undo_changed(e, "c.json", "{\"a\": 1, \"k\": {\"x\": 2}}\n",
	                  "ops:\n  - rename: {file: c.json, from: k, to: key}\n", NULL,
	                  "{\"a\": 1, \"key\": {\"x\": 2}, \"b\": 3}\n",
	                  "{\"a\": 1, \"k\": {\"x\": 2}, \"b\": 3}\n"));
}

static void test_json_rename_onto_existing(void **state)
{
	env *e = *state;
	t_write(e->root, "config/app.json", APP_JSON);
	load_ok(e, "ops:\n  - rename: {file: config/app.json, from: name, to: ratio}\n");
	forward_fails(e, REL ":2: op 'rename': 'ratio' is already in 'config/app.json'; add "
	                 "if_missing: true");
	load_ok(e, "ops:\n  - rename: {file: config/app.json, from: name, to: ratio, "
	           "if_missing: true}\n");
	forward_ok(e);
	assert_file(e, "config/app.json", APP_JSON);
}

static void test_json_errors(void **state)
{
	env *e = *state;
	t_write(e->root, "bad.json", "{\"a\": [1,}\n");
	load_ok(e, "ops:\n  - set: {file: bad.json, path: a, value: 1}\n");
	forward_fails(e, REL ":2: op 'set': 'bad.json' is not valid JSON (line 1:");
	t_write(e->root, "config/app.json", APP_JSON);
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: name.first, value: 1}\n");
	forward_fails(e, "'name' in 'config/app.json' is a plain value, not a mapping or list, so "
	                 "'first' cannot be set");
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: tags.5, value: 1}\n");
	forward_fails(e, "index 5 is past the end of the list 'tags' in 'config/app.json' (2 items");
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: tags.x, value: 1}\n");
	forward_fails(e, "'tags' in 'config/app.json' is a list; 'x' is not an index of it");
	assert_file(e, "config/app.json", APP_JSON);
}

static void test_json_new_file_and_null(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "config/keep", "");
	load_ok(e, "ops:\n  - set: {file: config/new.json, path: a.b, value: 1}\n");
	forward_ok(e);
	assert_file(e, "config/new.json", "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n");
	assert_int_equal(mode_of(e, "config/new.json") & 0600, 0600);
	u = take_undo(e);
	undo_ok(e, u);
	assert_missing(e, "config/new.json");
	free(u);
	/* a null on the way becomes the mapping */
	roundtrip(e, "n.json", "{\"a\": null}\n",
	          "ops:\n  - set: {file: n.json, path: a.b, value: true}\n",
	          "{\"a\": {\"b\": true}}\n");
}

/* ---- YAML ---- */

#define APP_YAML "# Application settings\n" \
                 "app:\n" \
                 "  name: demo      # shown in the title\n" \
                 "  port: 8080\n" \
                 "\n" \
                 "# where the data lives\n" \
                 "db:\n" \
                 "  path: data/app.db\n" \
                 "  options: {wal: true}\n" \
                 "plugins:\n" \
                 "  - search\n" \
                 "  - export   # beta\n" \
                 "notes: |\n" \
                 "  line one\n" \
                 "  line two\n"

static void test_yaml_set(void **state)
{
	env *e = *state;
	roundtrip(e, "config/app.yaml", APP_YAML,
	          "ops:\n"
	          "  - set: {file: config/app.yaml, path: app.port, value: 9090}\n"
	          "  - set: {file: config/app.yaml, path: app.tls.enabled, value: true}\n"
	          "  - set: {file: config/app.yaml, path: db.options.sync, value: \"off\"}\n"
	          "  - set: {file: config/app.yaml, path: plugins.2, value: \"a: b\"}\n"
	          "  - set: {file: config/app.yaml, path: privacy, value: {level: public}}\n",
	          "# Application settings\n"
	          "app:\n"
	          "  name: demo      # shown in the title\n"
	          "  port: 9090\n"
	          "  tls:\n"
	          "    enabled: true\n"
	          "\n"
	          "# where the data lives\n"
	          "db:\n"
	          "  path: data/app.db\n"
	          "  options: {wal: true, sync: 'off'}\n"
	          "plugins:\n"
	          "  - search\n"
	          "  - export   # beta\n"
	          "  - 'a: b'\n"
	          "notes: |\n"
	          "  line one\n"
	          "  line two\n"
	          "privacy:\n"
	          "  level: public\n");
	/* strings that would read as something else are quoted; the comment after a value stays */
	roundtrip(e, "config/app.yaml", APP_YAML,
	          "ops:\n"
	          "  - set: {file: config/app.yaml, path: app.name, value: \"yes\"}\n"
	          "  - set: {file: config/app.yaml, path: app.port, value: \"0750\"}\n"
	          "  - set: {file: config/app.yaml, path: notes, value: \"two\\nlines\"}\n",
	          "# Application settings\n"
	          "app:\n"
	          "  name: 'yes'      # shown in the title\n"
	          "  port: '0750'\n"
	          "\n"
	          "# where the data lives\n"
	          "db:\n"
	          "  path: data/app.db\n"
	          "  options: {wal: true}\n"
	          "plugins:\n"
	          "  - search\n"
	          "  - export   # beta\n"
	          "notes: \"two\\nlines\"\n");
}

static void test_yaml_block_values(void **state)
{
	env *e = *state;
	/* a scalar replaced by a mapping, and a mapping by a scalar */
	roundtrip(e, "c.yaml", "a: 1   # one\nb:\n  x: 1\n  y: 2\nc: 3\n",
	          "ops:\n"
	          "  - set: {file: c.yaml, path: a, value: {k: v, l: [1, 2]}}\n"
	          "  - set: {file: c.yaml, path: b, value: none}\n",
	          "a:\n  k: v\n  l:\n  - 1\n  - 2   # one\nb: none\nc: 3\n");
	/* four-space files get four spaces */
	roundtrip(e, "four.yaml", "top:\n    inner:\n        k: 1\n",
	          "ops:\n  - set: {file: four.yaml, path: top.new, value: {a: 1}}\n",
	          "top:\n    inner:\n        k: 1\n    new:\n        a: 1\n");
	/* an empty file, or one of comments only, gets its first mapping */
	roundtrip(e, "empty.yaml", "# nothing yet\n",
	          "ops:\n  - set: {file: empty.yaml, path: a.b, value: 1}\n",
	          "# nothing yet\na:\n  b: 1\n");
	/* a key with no value is null: it becomes the mapping */
	roundtrip(e, "null.yaml", "a:\nb: 2\n",
	          "ops:\n  - set: {file: null.yaml, path: a.c, value: 1}\n",
	          "a:\n  c: 1\nb: 2\n");
}

static void test_yaml_delete(void **state)
{
	env *e = *state;
	roundtrip(e, "config/app.yaml", APP_YAML,
	          "ops:\n"
	          "  - delete: {file: config/app.yaml, path: app.port}\n"
	          "  - delete: {file: config/app.yaml, path: plugins.0}\n"
	          "  - delete: {file: config/app.yaml, path: db.options.wal}\n"
	          "  - delete: {file: config/app.yaml, path: notes}\n"
	          "  - delete: {file: config/app.yaml, path: not.there}\n",
	          "# Application settings\n"
	          "app:\n"
	          "  name: demo      # shown in the title\n"
	          "\n"
	          "# where the data lives\n"
	          "db:\n"
	          "  path: data/app.db\n"
	          "  options: {}\n"
	          "plugins:\n"
	          "  - export   # beta\n");
	/* the last entry of a block mapping leaves it empty, not null */
	roundtrip(e, "config/app.yaml", APP_YAML,
	          "ops:\n"
	          "  - delete: {file: config/app.yaml, path: app.name}\n"
	          "  - delete: {file: config/app.yaml, path: app.port}\n"
	          "  - delete: {file: config/app.yaml, path: db}\n",
	          "# Application settings\n"
	          "app: {}\n"
	          "\n"
	          "# where the data lives\n"
	          "plugins:\n"
	          "  - search\n"
	          "  - export   # beta\n"
	          "notes: |\n"
	          "  line one\n"
	          "  line two\n");
	/* an entry that shares its line with a list dash */
	roundtrip(e, "l.yaml", "servers:\n- host: a\n  port: 1\n- host: b\n",
	          "ops:\n  - delete: {file: l.yaml, path: servers.0.host}\n",
	          "servers:\n- port: 1\n- host: b\n");
}

static void test_yaml_rename(void **state)
{
	env *e = *state;
	/*
	 * renamed in its own mapping, the key is renamed back in place: the
	 * comments between it and its value stay, and so does a block scalar
	 * that ends the file without a newline (its value has none either)
	 * (corpus/edit/yaml-rename-back-in-place-tagged-block)
	 */
	roundtrip(e, "r.yaml", "a: 1\nport:\n# the port\n  ! >\n  text\nz: 2\nlast: >\n  end",
	          "ops:\n  - rename: {file: r.yaml, from: port, to: web_port}\n"
	          "  - rename: {file: r.yaml, from: last, to: final}\n",
	          "a: 1\nweb_port:\n# the port\n  ! >\n  text\nz: 2\nfinal: >\n  end");
	/* the application added its own key and moved the renamed one meanwhile */
	{
		char *u = undo_changed(e, "r.yaml", "a: 1\nk: 1\n",
		                       "ops:\n  - rename: {file: r.yaml, from: k, to: key}\n", NULL,
		                       "key: 1  # mine\na: 1\n", "k: 1  # mine\na: 1\n");
		/* the old name written there again by hand: the new one goes, the old value stays */
		t_write(e->root, "r.yaml", "a: 1\nkey: 1\nk: 5\n");
		undo_ok(e, u);
		assert_file(e, "r.yaml", "a: 1\nk: 1\n");
		free(u);
	}
	roundtrip(e, "config/app.yaml", APP_YAML,
	          "ops:\n  - rename: {file: config/app.yaml, from: db.path, to: db.url}\n",
	          "# Application settings\n"
	          "app:\n"
	          "  name: demo      # shown in the title\n"
	          "  port: 8080\n"
	          "\n"
	          "# where the data lives\n"
	          "db:\n"
	          "  url: data/app.db\n"
	          "  options: {wal: true}\n"
	          "plugins:\n"
	          "  - search\n"
	          "  - export   # beta\n"
	          "notes: |\n"
	          "  line one\n"
	          "  line two\n");
	/* to another mapping: the block travels with its comments, re-indented */
	roundtrip(e, "s.yaml", "server:\n  http:\n    port: 80   # public\n    # seconds\n"
	                       "    keepalive: 5\n  name: x\nweb:\n  other: 1\n",
	          "ops:\n  - rename: {file: s.yaml, from: server.http, to: web.http}\n"
	          "  - rename: {file: s.yaml, from: server.name, to: name}\n",
	          "server: {}\nweb:\n  other: 1\n  http:\n    port: 80   # public\n    # seconds\n"
	          "    keepalive: 5\nname: x\n");
}

static void test_yaml_refusals(void **state)
{
	env *e = *state;
	t_write(e->root, "a.yaml", "base: &b {x: 1}\nuse: *b\n");
	load_ok(e, "ops:\n  - rename: {file: a.yaml, from: use, to: used}\n");
	forward_fails(e, REL ":2: op 'rename': 'use' in 'a.yaml': the value is a YAML alias "
	                 "(*name), which ops do not follow");
	load_ok(e, "ops:\n  - set: {file: a.yaml, path: use.x, value: 2}\n");
	forward_fails(e, "'use' in 'a.yaml' is a YAML alias, not a mapping or list");
	load_ok(e, "ops:\n  - set: {file: a.yaml, path: base.x, value: 2}\n");
	forward_ok(e); /* the anchored mapping itself is a mapping like any other */
	assert_file(e, "a.yaml", "base: &b {x: 2}\nuse: *b\n");
	t_write(e->root, "m.yaml", "a: 1\n---\nb: 2\n");
	load_ok(e, "ops:\n  - set: {file: m.yaml, path: a, value: 2}\n");
	forward_fails(e, "'m.yaml' is not valid YAML (line 2: more than one document");
	t_write(e->root, "bad.yaml", "a: [1\n");
	load_ok(e, "ops:\n  - set: {file: bad.yaml, path: a, value: 2}\n");
	forward_fails(e, REL ":2: op 'set': 'bad.yaml' is not valid YAML (line");
}

/* What tests/fuzz/fuzz_edit.c found in the YAML editor (corpus/edit/yaml-*). */
static void test_yaml_fuzz_findings(void **state)
{
	env *e = *state;
	/* a byte order mark is no indentation */
	roundtrip(e, "b.yaml", "\xEF\xBB\xBF" "a: 1\n",
	          "ops:\n  - set: {file: b.yaml, path: b, value: 2}\n",
	          "\xEF\xBB\xBF" "a: 1\nb: 2\n");
	roundtrip(e, "b.yaml", "\xEF\xBB\xBF" "a:\n  b: 1\n",
	          "ops:\n  - set: {file: b.yaml, path: a.c, value: 2}\n",
	          "\xEF\xBB\xBF" "a:\n  b: 1\n  c: 2\n");
	/* the last item of a top-level list leaves the list, empty */
	roundtrip(e, "l.yaml", "- 1\n", "ops:\n  - delete: {file: l.yaml, path: 0}\n", "[]\n");
	/* after the list's anchor and tag, which stay
	 * (corpus/edit/yaml-anchored-root-list-last-item) */
	roundtrip(e, "l.yaml", "&a !t # c\n\n- 1\n", "ops:\n  - delete: {file: l.yaml, path: 0}\n",
	          "&a !t # c\n\n[]\n");
	/* an item whose value starts on the line below its dash goes with its dash */
	roundtrip(e, "l.yaml", "-\n  a: 1\n- 3\n", "ops:\n  - delete: {file: l.yaml, path: 0}\n",
	          "- 3\n");
	roundtrip(e, "l.yaml", "-\n  1\n", "ops:\n  - delete: {file: l.yaml, path: 0}\n", "[]\n");
	/* the last entry of a nested block collection with a tag: "[]" or "{}" keeps the tag
	 * (corpus/edit/yaml-remove-last-item-of-tagged-nested-list) */
	roundtrip(e, "l.yaml", "a: !t # c\n  - 1\nb: 2\n",
	          "ops:\n  - delete: {file: l.yaml, path: a.0}\n", "a: !t []\nb: 2\n");
	roundtrip(e, "l.yaml", "- !!map\n  k: 1\n- 2\n", "ops:\n  - delete: {file: l.yaml, path: 0.k}\n",
	          "- !!map {}\n- 2\n");
	/* explicit keys are refused, not edited at the wrong place */
	t_write(e->root, "x.yaml", "? a\n: 1\n");
	load_ok(e, "ops:\n  - set: {file: x.yaml, path: b, value: 2}\n");
	forward_fails(e, "'x.yaml' is not valid YAML (line 1: a key written as '? key'");
	/* but a '?' that ends the value before is that value's
	 * (corpus/edit/yaml-question-mark-in-plain-value) */
	roundtrip(e, "x.yaml", "a: x\n  ?\nb: 1\n",
	          "ops:\n  - set: {file: x.yaml, path: c, value: 2}\n",
	          "a: x\n  ?\nb: 1\nc: 2\n");
	/* and never written */
	load_ok(e, "ops:\n  - set: {file: n.yaml, path: \"a\\nb\", value: 2}\n");
	forward_fails(e, "cannot write the key 'a\nb' in 'n.yaml': a YAML key of more than 128 "
	                 "bytes or with a line break");
	assert_missing(e, "n.yaml");
	/* nor by a rename that moves a value holding such a key
	 * (corpus/edit/yaml-rename-moves-long-key) */
	{
		char doc[200];
		snprintf(doc, sizeof doc, "p:\n  %0130d: 1\n", 0);
		t_write(e->root, "n.yaml", doc);
		load_ok(e, "ops:\n  - rename: {file: n.yaml, from: p, to: q.p}\n");
		forward_fails(e, "cannot write the key '0000000000");
		assert_file(e, "n.yaml", doc);
	}
	/* a value in a flow collection is quoted when it holds its indicators */
	roundtrip(e, "f.yaml", "tags: [x]\nm: {a: 1}\n",
	          "ops:\n  - set: {file: f.yaml, path: tags.1, value: \"a, b]\"}\n"
	          "  - set: {file: f.yaml, path: m.b, value: \"c: d}\"}\n",
	          "tags: [x, 'a, b]']\nm: {a: 1, b: 'c: d}'}\n");
	roundtrip(e, "f.yaml", "m: {a: 1}\n",
	          "ops:\n  - set: {file: f.yaml, path: \"m.a, b\", value: 2}\n",
	          "m: {a: 1, 'a, b': 2}\n");
	/* a quoted key's ':' right before its value gets a blank after a plain new name */
	roundtrip(e, "f.yaml", "m: {\"a\":1}\n",
	          "ops:\n  - rename: {file: f.yaml, from: m.a, to: m.b}\n", "m: {b: 1}\n");
	/* a tag left last in a flow mapping keeps a blank before the '}'
	 * (corpus/edit/yaml-remove-after-*tag*-flow) */
	roundtrip(e, "f.yaml", "m: {a: !!str, b: 1}\n",
	          "ops:\n  - delete: {file: f.yaml, path: m.b}\n", "m: {a: !!str }\n");
	roundtrip(e, "f.yaml", "m: {\"a\":!t, b: 1}\n",
	          "ops:\n  - delete: {file: f.yaml, path: m.b}\n", "m: {\"a\":!t }\n");
	/* a flow mapping's key without a value gets its ':'
	 * (corpus/edit/yaml-flow-key-without-value-set) */
	roundtrip(e, "f.yaml", "m: {a, b: 1}\n",
	          "ops:\n  - set: {file: f.yaml, path: m.a, value: 2}\n", "m: {a: 2, b: 1}\n");
	/* a ',' in a comment is not the separator copied for a new entry
	 * (corpus/edit/yaml-flow-set-after-comment-with-comma) */
	roundtrip(e, "f.yaml", "{a: p #,x\n,b: 1}\n",
	          "ops:\n  - set: {file: f.yaml, path: c, value: 2}\n",
	          "{a: p #,x\n,b: 1, c: 2}\n");
	/* one touching a '}' is a comment too
	 * (corpus/edit/yaml-flow-set-after-comment-touching-brace) */
	roundtrip(e, "f.yaml", "{a: {}#,x\n,b: 1}\n",
	          "ops:\n  - set: {file: f.yaml, path: c, value: 2}\n",
	          "{a: {}#,x\n,b: 1, c: 2}\n");
	/* a key without a value written over two lines gets none: refused, the file kept
	 * (corpus/edit/yaml-flow-set-key-split-over-lines) */
	t_write(e->root, "k.yaml", "{a: 1, !!str\n\"port\"}\n");
	load_ok(e, "ops:\n  - set: {file: k.yaml, path: port, value: 2}\n");
	forward_fails(e, "cannot give 'port' in 'k.yaml' a value: its key is written over more "
	                 "than one line in a flow mapping");
	assert_file(e, "k.yaml", "{a: 1, !!str\n\"port\"}\n");
	/* a comment touching the old value stays one (corpus/edit/yaml-set-before-touching-comment) */
	roundtrip(e, "f.yaml", "a: {}#c\n", "ops:\n  - set: {file: f.yaml, path: a, value: 1}\n",
	          "a: 1 #c\n");
	/* no document yet: before its end marker (corpus/edit/yaml-empty-document-end-marker-set) */
	roundtrip(e, "f.yaml", "---\n...\n", "ops:\n  - set: {file: f.yaml, path: a, value: 1}\n",
	          "---\na: 1\n...\n");
	/* a key given twice is refused, as in JSON (corpus/edit/yaml-duplicate-key) */
	t_write(e->root, "d.yaml", "port: 1\nport: 2\n");
	load_ok(e, "ops:\n  - delete: {file: d.yaml, path: port}\n");
	forward_fails(e, "'d.yaml' is not valid YAML (line 2: a key given twice");
	/* line breaks the editor's lines do not know are refused (corpus/edit/yaml-*-break) */
	t_write(e->root, "r.yaml", "x:\r  b: 1\r");
	load_ok(e, "ops:\n  - set: {file: r.yaml, path: x.c, value: 2}\n");
	forward_fails(e, "'r.yaml' is not valid YAML (line 1: a line break other than \\n or "
	                 "\\r\\n (ops cannot edit it))");
	t_write(e->root, "r.yaml", "x:\n  b: 1\xE2\x80\xA8  c: 2\n");
	forward_fails(e, "'r.yaml' is not valid YAML (line 2: a line break other than");
	/* a line indented with a tab after a plain value (corpus/edit/yaml-null-root-tab-line) */
	t_write(e->root, "r.yaml", "   ~\n\t   \n");
	forward_fails(e, "'r.yaml' is not valid YAML (line 2: a line indented with a tab");
	/* a tab inside a value is the value's */
	roundtrip(e, "q.yaml", "a: \"x\n\ty\"\nb: [1,\n\t2]\n",
	          "ops:\n  - set: {file: q.yaml, path: c, value: 3}\n",
	          "a: \"x\n\ty\"\nb: [1,\n\t2]\nc: 3\n");
	load_ok(e, "ops:\n  - set: {file: r.yaml, path: x.c, value: 2}\n");
	t_write(e->root, "r.yaml", "\xEF\xBB\xBF\xEF\xBB\xBF" "a: 1\n");
	forward_fails(e, "'r.yaml' is not valid YAML (line 1: a byte order mark inside the text");
}

/*
 * A block scalar (| or >) takes in what follows its last line: a line
 * break at the end of the file, blanks and a comment on that line. No edit
 * may write any of them after one (corpus/edit/edit-move-tagged-block-*,
 * corpus/edit/edit-remove-beside-anchored-key).
 */
static void test_yaml_block_scalar_ends(void **state)
{
	env *e = *state;
	char *u;
	/* "x" with no line break after it: a new entry goes before it, bytes kept */
	roundtrip(e, "b.yaml", "a: 1\nb: |\n  x",
	          "ops:\n  - set: {file: b.yaml, path: c, value: 2}\n",
	          "a: 1\nc: 2\nb: |\n  x");
	roundtrip(e, "b.yaml", "m:\n  b: >\n    x",
	          "ops:\n  - set: {file: b.yaml, path: m.c, value: 2}\n",
	          "m:\n  c: 2\n  b: >\n    x");
	/* an anchor beside it: the undo puts the removed key back before it, bytes kept */
	roundtrip(e, "b.yaml", "&a k: 1\na: x\npr: >\n .",
	          "ops:\n  - delete: {file: b.yaml, path: a}\n", "&a k: 1\npr: >\n .");
	/* a list's last item: its header made strip ('-'), the same value, then the item */
	roundtrip(e, "l.yaml", "k:\n- |\n  x",
	          "ops:\n  - set: {file: l.yaml, path: k.1, value: 1}\n",
	          "k:\n- |-\n  x\n- 1");
	/* keep ('+'): its trailing empty lines are its value and stay before a new entry */
	roundtrip(e, "b.yaml", "a: |+\n  x\n\n",
	          "ops:\n  - set: {file: b.yaml, path: b, value: 1}\n",
	          "a: |+\n  x\n\nb: 1\n");
	/* a '>' in a comment between its tag and its header is no header
	 * (corpus/edit/yaml-block-scalar-header-after-comment) */
	roundtrip(e, "h.yaml", "- !t\n # x >y\n  >\n  z",
	          "ops:\n  - set: {file: h.yaml, path: 1, value: 1}\n",
	          "- !t\n # x >y\n  >-\n  z\n- 1");
	/* one below its key at the key's column: a new value goes on the key's line
	 * (corpus/edit/yaml-set-block-scalar-below-key-at-column-0) */
	roundtrip(e, "h.yaml", "a: # c\n>\n x\nb: 1\n",
	          "ops:\n  - set: {file: h.yaml, path: a, value: 1}\n", "a: 1\nb: 1\n");
	/* the blank and comment lines after a removed entry would join the block scalar before
	 * it: they go (corpus/edit/yaml-remove-after-block-scalar-loose-lines) */
	roundtrip(e, "r.yaml", "name: >\n x\nport: 1\n # c\n    \nz: 2\n",
	          "ops:\n  - delete: {file: r.yaml, path: port}\n", "name: >\n x\nz: 2\n");
	roundtrip(e, "r.yaml", "- |+\n x\n- 1\n\n", "ops:\n  - delete: {file: r.yaml, path: 1}\n",
	          "- |+\n x\n");
	/* a block value for an item written further right than "- " goes right after the dash
	 * (corpus/edit/yaml-set-list-item-spaced-after-dash) */
	roundtrip(e, "l.yaml", "-   1\n- 2\n",
	          "ops:\n  - set: {file: l.yaml, path: 0, value: {a: 1, b: 2}}\n",
	          "- a: 1\n  b: 2\n- 2\n");
	/* a line of only spaces deeper than its content is its value: a new entry goes after it
	 * (corpus/edit/edit-block-scalar-line-of-spaces) */
	roundtrip(e, "b.yaml", "b: 1\na: >\n  x\n\n     \n",
	          "ops:\n  - set: {file: b.yaml, path: c, value: 1}\n",
	          "b: 1\na: >\n  x\n\n     \nc: 1\n");
	/* moved to the end of a file without a final line break: one after it ("x\n" stays) */
	roundtrip(e, "m.yaml", "q:\n  p: |\n    x\nz: 1",
	          "ops:\n  - rename: {file: m.yaml, from: q.p, to: s}\n", "q: {}\nz: 1\ns: |\n  x\n");
	/* and back by the editor after a later change: "x\n" again */
	u = undo_changed(e, "m.yaml", "q:\n  p: |\n    x\nz: 1",
	                 "ops:\n  - rename: {file: m.yaml, from: q.p, to: s}\n", NULL,
	                 "q: {}\nz: 1\ns: |\n  x\nw: 1", "q: {p: \"x\\n\"}\nz: 1\nw: 1");
	free(u);
	/* an unclosed one moved, tag and all: made strip, the same value "x" */
	roundtrip(e, "m.yaml", "q:\n  r: !t |\n    x\n  o: 1",
	          "ops:\n  - rename: {file: m.yaml, from: q.o, to: s}\n",
	          "q:\n  r: !t |\n    x\ns: 1\n");
	roundtrip(e, "m.yaml", "q:\n  o: 1\n  r: !t |\n    x",
	          "ops:\n  - rename: {file: m.yaml, from: q.r, to: s}\n",
	          "q:\n  o: 1\ns: !t |-\n  x\n");
	u = undo_changed(e, "m.yaml", "q:\n  o: 1\n  r: !t |\n    x",
	                 "ops:\n  - rename: {file: m.yaml, from: q.r, to: s}\n", NULL,
	                 "q:\n  o: 1\ns: !t |-\n  x\nw: 1\n",
	                 "q:\n  o: 1\n  r: !t |-\n    x\nw: 1\n");
	free(u);
	/* the only entry of a mapping, whose undo would go into the "{}" it leaves: refused */
	t_write(e->root, "m.yaml", "q:\n  r: !t |\n    x\n");
	load_ok(e, "ops:\n  - rename: {file: m.yaml, from: q.r, to: s}\n");
	forward_fails(e, "'q.r' in 'm.yaml' holds a YAML tag (!name) that its undo could not put back");
	load_ok(e, "ops:\n  - delete: {file: m.yaml, path: q.r}\n");
	forward_fails(e, "'q.r' in 'm.yaml' holds a YAML tag (!name) that its undo could not put back");
	assert_file(e, "m.yaml", "q:\n  r: !t |\n    x\n");
	/* a new name in its place needs no undo into "{}" */
	roundtrip(e, "m.yaml", "q:\n  r: !t |\n    x\n",
	          "ops:\n  - rename: {file: m.yaml, from: q.r, to: q.s}\n", "q:\n  s: !t |\n    x\n");
	/* its old text put back beside a comment: the comment goes to a line of its own */
	u = undo_changed(e, "c.yaml", "a: !t |\n  x\nb: 1\n",
	                 "ops:\n  - set: {file: c.yaml, path: a, value: 1}\n", "a: 1\nb: 1\n",
	                 "a: 1   # c\nb: 1\n", "a: !t |\n  x\n# c\nb: 1\n");
	free(u);
	/* or above comment and blank lines, which it would take in: the comments to its key's
	 * column, the blank lines gone (corpus/edit/yaml-restore-block-scalar-before-comment-lines) */
	u = undo_changed(e, "c.yaml", "a: !t |\n  x\nb: 1\n",
	                 "ops:\n  - set: {file: c.yaml, path: a, value: 1}\n", "a: 1\nb: 1\n",
	                 "a: 1\n # c\n\n   \nb: 1\n", "a: !t |\n  x\n# c\nb: 1\n");
	free(u);
	/* and at the end of a file without a final line break */
	u = undo_changed(e, "c.yaml", "a: !t |\n  x\nb: 1\n",
	                 "ops:\n  - set: {file: c.yaml, path: a, value: 1}\n", "a: 1\nb: 1\n",
	                 "b: 1\na: 1", "b: 1\na: !t |\n  x\n");
	free(u);
	/* a tag a move would write the value without is refused, the file kept */
	t_write(e->root, "t.yaml", "p: !t x\n");
	load_ok(e, "ops:\n  - rename: {file: t.yaml, from: p, to: q.r}\n");
	forward_fails(e, "cannot move 'p' to 'q.r' in 't.yaml': it holds a YAML tag (!name) that "
	                 "would be lost there");
	assert_file(e, "t.yaml", "p: !t x\n");
	t_write(e->root, "t.yaml", "q:\n  - 1\n  - !t |\n    x\nz: [1]\n");
	load_ok(e, "ops:\n  - rename: {file: t.yaml, from: q.1, to: z.1}\n");
	forward_fails(e, "cannot move 'q.1' to 'z.1' in 't.yaml': it holds a YAML tag");
	assert_file(e, "t.yaml", "q:\n  - 1\n  - !t |\n    x\nz: [1]\n");
	/* where its text goes as it is, the tag moves along */
	roundtrip(e, "t.yaml", "p: !t x\nq:\n  z: 1\n",
	          "ops:\n  - rename: {file: t.yaml, from: p, to: q.r}\n", "q:\n  z: 1\n  r: !t x\n");
}

/* ---- .env ---- */

#define DOTENV "# Settings\nexport DB_PATH=data/app.db   # old name\nNAME=\"my app\"\n\n" \
               "SECRET='s3cr3t'\nEMPTY=\n"

static void test_env(void **state)
{
	env *e = *state;
	roundtrip(e, ".env", DOTENV,
	          "ops:\n"
	          "  - env: {file: .env, key: BACKUP_ENABLED, value: \"true\", if_missing: true}\n"
	          "  - env: {file: .env, key: NAME, value: ignored, if_missing: true}\n"
	          "  - rename: {file: .env, from: DB_PATH, to: DATABASE_URL}\n"
	          "  - set: {file: .env, path: SECRET, value: \"new one\"}\n"
	          "  - env: {file: .env, key: EMPTY, value: \"a \\\"q\\\" $x it's\"}\n"
	          "  - set: {file: .env, path: PORT, value: 8080}\n",
	          "# Settings\nexport DATABASE_URL=data/app.db   # old name\nNAME=\"my app\"\n\n"
	          "SECRET='new one'\nEMPTY=\"a \\\"q\\\" \\$x it's\"\nBACKUP_ENABLED=true\n"
	          "PORT=8080\n");
	roundtrip(e, ".env", "A=\n",
	          "ops:\n  - env: {file: .env, key: A, value: \"a \\\"q\\\" $x\"}\n",
	          "A='a \"q\" $x'\n");
	roundtrip(e, ".env", DOTENV,
	          "ops:\n  - delete: {file: .env, path: NAME}\n"
	          "  - delete: {file: .env, path: MISSING}\n",
	          "# Settings\nexport DB_PATH=data/app.db   # old name\n\nSECRET='s3cr3t'\nEMPTY=\n");
	roundtrip(e, "config/prod.env", "A=1",
	          "ops:\n  - env: {file: config/prod.env, key: B, value: two words}\n",
	          "A=1\nB='two words'\n");
}

static void test_env_new_file_is_private(void **state)
{
	env *e = *state;
	char *u;
	load_ok(e, "ops:\n  - env: {file: .env, key: A, value: x}\n");
	forward_ok(e);
	assert_file(e, ".env", "A=x\n");
	assert_int_equal(mode_of(e, ".env"), 0600);
	u = take_undo(e);
	undo_ok(e, u);
	assert_missing(e, ".env");
	free(u);
}

/* A .env file that is not UTF-8 (Latin-1): its old bytes are kept in base64 and come back. */
static void test_env_not_utf8(void **state)
{
	env *e = *state;
	const char *orig = "NAME=caf\xe9\n# \xff\xfe comment\n";
	char *u;
	roundtrip(e, ".env", orig, "ops:\n  - env: {file: .env, key: A, value: x}\n",
	          "NAME=caf\xe9\n# \xff\xfe comment\nA=x\n");
	load_ok(e, "ops:\n  - env: {file: .env, key: A, value: x}\n");
	forward_ok(e);
	u = take_undo(e);
	/* base64 of the bytes before */
	assert_non_null(strstr(u, "\"before_base64\":\"TkFNRT1jYWbpCiMg//4gY29tbWVudAo=\""));
	assert_null(strstr(u, "\"before\":"));
	undo_ok(e, u);
	assert_file(e, ".env", orig);
	free(u);
}

/* ---- after forward, the file changed again: only the step's keys go back ---- */

static void test_undo_after_later_change(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "config/app.json", "{\n  \"a\": 1,\n  \"list\": [1, 2, 3]\n}\n");
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: a, value: 2}\n"
	           "  - set: {file: config/app.json, path: b, value: new}\n"
	           "  - delete: {file: config/app.json, path: list.1}\n");
	forward_ok(e);
	u = take_undo(e);
	/* the application writes its own key after the upgrade */
	t_write(e->root, "config/app.json", "{\n  \"a\": 2,\n  \"list\": [1, 3],\n"
	                                    "  \"b\": \"new\",\n  \"mine\": true\n}\n");
	undo_ok(e, u);
	assert_file(e, "config/app.json", "{\n  \"a\": 1,\n  \"list\": [1, 2, 3],\n"
	                                  "  \"mine\": true\n}\n");
	free(u);

	t_write(e->root, "c.yaml", "list:\n  - a   # first\n  - b\n  - c\nk: 1\n");
	load_ok(e, "ops:\n  - delete: {file: c.yaml, path: list.1}\n"
	           "  - delete: {file: c.yaml, path: list.0}\n"
	           "  - rename: {file: c.yaml, from: k, to: key}\n");
	forward_ok(e);
	assert_file(e, "c.yaml", "list:\n  - c\nkey: 1\n");
	u = take_undo(e);
	t_write(e->root, "c.yaml", "list:\n  - c\n  - d\nkey: 1\nmine: 2\n");
	undo_ok(e, u);
	/* a key renamed in its own mapping goes back in place */
	assert_file(e, "c.yaml", "list:\n  - a\n  - b\n  - c\n  - d\nk: 1\nmine: 2\n");
	free(u);

	t_write(e->root, ".env", "A=1\n");
	load_ok(e, "ops:\n  - env: {file: .env, key: A, value: \"2\"}\n"
	           "  - env: {file: .env, key: B, value: \"3\"}\n");
	forward_ok(e);
	u = take_undo(e);
	t_write(e->root, ".env", "# edited\nA=2\nB=3\nC=4\n");
	undo_ok(e, u);
	assert_file(e, ".env", "# edited\nA=1\nC=4\n");
	free(u);
	/* an old value that is not UTF-8 comes back as its bytes (corpus/edit/env-not-utf8-value) */
	t_write(e->root, ".env", "NAME=caf\xe9\n");
	load_ok(e, "ops:\n  - env: {file: .env, key: NAME, value: x}\n");
	forward_ok(e);
	u = take_undo(e);
	t_write(e->root, ".env", "NAME=x\nB=2\n");
	undo_ok(e, u);
	assert_file(e, ".env", "NAME=caf\xe9\nB=2\n");
	free(u);
}

/* The editors' undo after later changes keeps what the fuzz target found lost (docs/fuzzing.md). */
static void test_undo_after_later_change_whole(void **state)
{
	env *e = *state;
	/* a tagged item's text on two lines goes back as it was
	 * (corpus/edit/yaml-tagged-item-two-lines) */
	free(undo_changed(e, "t.yaml", "- !t\n   x\n- b\n",
	                  "ops:\n  - set: {file: t.yaml, path: 0, value: z}\n", "- z\n- b\n",
	                  "- z\n- b\n- c\n", "- !t\n   x\n- b\n- c\n"));
	/* a removed .env variable comes back as its whole line, at its place */
	free(undo_changed(e, ".env", "X=1\nexport  A=2 # c\nY=3\n",
	                  "ops:\n  - delete: {file: .env, path: A}\n", "X=1\nY=3\n",
	                  "X=1\nY=3\nZ=4\n", "X=1\nexport  A=2 # c\nY=3\nZ=4\n"));
	/* a null JSON document comes back null */
	free(undo_changed(e, "n.json", "null\n", "ops:\n  - set: {file: n.json, path: a.b, value: 1}\n",
	                  NULL, "{\"a\": {\"b\": 1}}\n", "null\n"));
	/* a YAML value comes back with its tag */
	free(undo_changed(e, "t.yaml", "a: !t 1\nb: 2\n",
	                  "ops:\n  - set: {file: t.yaml, path: a, value: 2}\n", "a: 2\nb: 2\n",
	                  "a: 2\nb: 3\n", "a: !t 1\nb: 3\n"));
	/* a node with an anchor is not replaced: its aliases would point at nothing */
	t_write(e->root, "t.yaml", "a: &x 1\nb: *x\n");
	load_ok(e, "ops:\n  - set: {file: t.yaml, path: a, value: 2}\n");
	forward_fails(e, "holds a YAML anchor");
	assert_file(e, "t.yaml", "a: &x 1\nb: *x\n");
}

static void test_mode_kept(void **state)
{
	env *e = *state;
	char *p, *u;
	t_write(e->root, "config/app.json", APP_JSON);
	p = t_path(e->root, "config/app.json");
	assert_int_equal(chmod(p, 0640), 0);
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: name, value: x}\n");
	forward_ok(e);
	assert_int_equal(mode_of(e, "config/app.json"), 0640);
	u = take_undo(e);
	undo_ok(e, u);
	assert_int_equal(mode_of(e, "config/app.json"), 0640);
	assert_file(e, "config/app.json", APP_JSON);
	free(p);
	free(u);
}

/* ---- files and folders ---- */

static void test_mkdir(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "data/keep", "");
	load_ok(e, "ops:\n  - mkdir: {path: data/cache/thumbs, mode: \"0750\"}\n"
	           "  - mkdir: {path: data}\n");
	forward_ok(e);
	assert_int_equal(mode_of(e, "data/cache/thumbs"), 0750);
	u = take_undo(e);
	undo_ok(e, u);
	assert_missing(e, "data/cache");
	assert_file(e, "data/keep", "");
	free(u);

	/* a folder something was put in since cannot be taken away */
	load_ok(e, "ops:\n  - mkdir: {path: data/cache}\n");
	forward_ok(e);
	u = take_undo(e);
	t_write(e->root, "data/cache/new", "x");
	assert_int_equal(fr_step_ops.undo(&e->ctx, ID, "", u), -1);
	assert_non_null(strstr(e->err.ptr, ID " (undo): cannot undo 'mkdir': cannot remove the "
	                                   "folder 'data/cache' it made"));
	free(u);

	t_write(e->root, "file", "");
	load_ok(e, "ops:\n  - mkdir: {path: file}\n");
	forward_fails(e, REL ":2: op 'mkdir': 'file' exists and is not a folder");
}

static void test_move(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "data/old_index/a", "A");
	load_ok(e, "ops:\n  - move: {from: data/old_index, to: data/v2/index}\n");
	forward_ok(e);
	assert_missing(e, "data/old_index");
	assert_file(e, "data/v2/index/a", "A");
	u = take_undo(e);
	/* run again: it is done, nothing to record */
	load_ok(e, "ops:\n  - move: {from: data/old_index, to: data/v2/index}\n");
	forward_ok(e);
	{
		char *u2 = take_undo(e);
		assert_string_equal(u2, "{\"ferry_ops_undo\":1,\"actions\":[]}");
		free(u2);
	}
	undo_ok(e, u);
	assert_file(e, "data/old_index/a", "A");
	assert_missing(e, "data/v2");
	free(u);

	t_write(e->root, "data/b", "B");
	load_ok(e, "ops:\n  - move: {from: data/b, to: data/old_index}\n");
	forward_fails(e, "'data/old_index' already exists; add if_missing: true");
	load_ok(e, "ops:\n  - move: {from: data/b, to: data/old_index, if_missing: true}\n");
	forward_ok(e);
	assert_file(e, "data/b", "B");
	load_ok(e, "ops:\n  - move: {from: data/none, to: data/x}\n");
	forward_fails(e, "'data/none' does not exist: nothing to move");
	load_ok(e, "ops:\n  - move: {from: data, to: data/inner}\n");
	forward_fails(e, "cannot move 'data' into itself");
}

static void test_copy(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "config/defaults.json", "{\"d\": 1}\n");
	t_write(e->root, "config/local.json", "{\"mine\": 1}\n");
	t_write(e->root, "tpl/a/b", "B");
	load_ok(e, "ops:\n"
	           "  - copy: {from: config/defaults.json, to: config/local.json, if_missing: true}\n"
	           "  - copy: {from: config/defaults.json, to: config/other.json}\n"
	           "  - copy: {from: config/defaults.json, to: config/local2.json}\n"
	           "  - copy: {from: tpl, to: out/tpl}\n");
	forward_ok(e);
	assert_file(e, "config/local.json", "{\"mine\": 1}\n");
	assert_file(e, "config/other.json", "{\"d\": 1}\n");
	assert_file(e, "out/tpl/a/b", "B");
	u = take_undo(e);
	undo_ok(e, u);
	assert_missing(e, "config/other.json");
	assert_missing(e, "config/local2.json");
	assert_missing(e, "out");
	free(u);

	/* a copy over an existing file keeps it aside and puts it back */
	load_ok(e, "ops:\n  - copy: {from: config/defaults.json, to: config/local.json}\n");
	forward_ok(e);
	assert_file(e, "config/local.json", "{\"d\": 1}\n");
	u = take_undo(e);
	undo_ok(e, u);
	assert_file(e, "config/local.json", "{\"mine\": 1}\n");
	free(u);
}

static void test_chmod(void **state)
{
	env *e = *state;
	char *u, *p;
	t_write(e->root, "data/a", "");
	t_write(e->root, "data/sub/b", "");
	p = t_path(e->root, "data/a");
	assert_int_equal(chmod(p, 0644), 0);
	free(p);
	p = t_path(e->root, "data/sub");
	assert_int_equal(chmod(p, 0755), 0);
	free(p);
	assert_int_equal(t_sh("ln -s a '%s/data/link'", e->root), 0);
	load_ok(e, "ops:\n  - chmod: {path: data, mode: \"0750\", recursive: true}\n");
	forward_ok(e);
	assert_int_equal(mode_of(e, "data"), 0750);
	assert_int_equal(mode_of(e, "data/a"), 0750);
	assert_int_equal(mode_of(e, "data/sub/b"), 0750);
	u = take_undo(e);
	undo_ok(e, u);
	assert_int_equal(mode_of(e, "data/a"), 0644);
	assert_int_equal(mode_of(e, "data/sub"), 0755);
	free(u);

	load_ok(e, "ops:\n  - chmod: {path: data/a, mode: \"600\"}\n");
	forward_ok(e);
	assert_int_equal(mode_of(e, "data/a"), 0600);
	assert_int_equal(mode_of(e, "data/sub"), 0755);
}

static void test_remove(void **state)
{
	env *e = *state;
	char *u, *got;
	t_write(e->root, "data/tmp/x/y", "Y");
	t_write(e->root, "data/old.log", "L");
	load_ok(e, "ops:\n  - remove: {path: data/tmp}\n  - remove: {path: data/old.log}\n"
	           "  - remove: {path: data/never}\n");
	forward_ok(e);
	assert_missing(e, "data/tmp");
	assert_missing(e, "data/old.log");
	/* kept in the scratch folder */
	assert_int_equal(t_sh("test -f \"$(ls -d '%s'/1.1.0_001_config.yaml-*)/1-tmp/x/y\"",
	                      e->scratch), 0);
	u = take_undo(e);
	assert_non_null(strstr(u, "\"stash\":\".ferry/scratch/1.1.0_001_config.yaml-"));
	undo_ok(e, u);
	got = t_read(e->root, "data/tmp/x/y");
	assert_string_equal(got, "Y");
	free(got);
	assert_file(e, "data/old.log", "L");
	/* the step's scratch folder is gone once empty */
	assert_int_equal(t_sh("test -z \"$(ls '%s')\"", e->scratch), 0);
	free(u);
}

/* ---- confinement ---- */

static void test_paths_checked_at_load(void **state)
{
	env *e = *state;
	load_fails(e, "ops:\n  - set: {file: ../x.json, path: a, value: 1}\n",
	           REL ":2: op 'set': 'file' must be a path inside the root; '../x.json' goes up "
	           "with '..'");
	load_fails(e, "ops:\n  - mkdir: {path: /etc/x}\n",
	           REL ":2: op 'mkdir': 'path' must be a path inside the root; '/etc/x' is absolute");
	load_fails(e, "ops:\n  - remove: {path: .ferry/state.db}\n",
	           "'.ferry/state.db' is inside .ferry (ferry's own state)");
	load_fails(e, "ops:\n  - remove: {path: ./}\n", "'./' names the root itself");
	load_fails(e, "ops:\n  - move: {from: a, to: a/../../b}\n", "goes up with '..'");
}

/* Every op that goes through (or ends at) a symlink leading out of the root is refused. */
static void test_symlink_escapes(void **state)
{
	env *e = *state;
	static const char *const ops[] = {
		"set: {file: out/app.json, path: a, value: 1}",
		"set: {file: link.json, path: a, value: 1}",
		"rename: {file: out/app.yaml, from: a, to: b}",
		"delete: {file: out/app.json, path: a}",
		"env: {file: out/.env, key: A, value: x}",
		"env: {file: link.env, key: A, value: x}",
		"mkdir: {path: out/made}",
		"move: {from: out/f, to: inside}",
		"move: {from: data/f, to: out/f2}",
		"copy: {from: out/f, to: inside}",
		"copy: {from: data/f, to: out/f3}",
		"copy: {from: link.json, to: inside}",
		"chmod: {path: out, mode: \"0700\"}",
		"chmod: {path: out/f, mode: \"0700\"}",
		"remove: {path: out/f}",
		"remove: {path: out}",
		"remove: {path: link.json}",
	};
	char *before, text[256];
	size_t i;

	t_write(e->outside, "app.json", "{\"a\": 0}\n");
	t_write(e->outside, "app.yaml", "a: 0\n");
	t_write(e->outside, ".env", "A=0\n");
	t_write(e->outside, "f", "F");
	t_write(e->root, "data/f", "D");
	assert_int_equal(t_sh("ln -s '%s' '%s/out'", e->outside, e->root), 0);
	assert_int_equal(t_sh("ln -s '%s/app.json' '%s/link.json'", e->outside, e->root), 0);
	assert_int_equal(t_sh("ln -s '%s/.env' '%s/link.env'", e->outside, e->root), 0);
	assert_int_equal(t_sh("chmod 0755 '%s'", e->outside), 0);
	before = NULL;
	for (i = 0; i < sizeof ops / sizeof *ops; i++) {
		snprintf(text, sizeof text, "description: escape\nops:\n  - %s\n", ops[i]);
		load_ok(e, text);
		fr_buf_reset(&e->err);
		if (fr_step_ops.forward(&e->ctx, &e->step) != -1)
			fail_msg("op '%s' was not refused", ops[i]);
		if (!strstr(e->err.ptr, REL ":3: op '") ||
		    !strstr(e->err.ptr, "leads outside the root through the symlink '"))
			fail_msg("op '%s': unexpected message '%s'", ops[i], e->err.ptr);
	}
	/* nothing outside changed */
	before = t_read(e->outside, "app.json");
	assert_string_equal(before, "{\"a\": 0}\n");
	free(before);
	before = t_read(e->outside, ".env");
	assert_string_equal(before, "A=0\n");
	free(before);
	before = t_read(e->outside, "f");
	assert_string_equal(before, "F");
	free(before);
	assert_int_equal(t_sh("test ! -e '%s/made' && test \"$(stat -c %%a '%s')\" = 755",
	                      e->outside, e->outside), 0);
	assert_file(e, "data/f", "D");

	/* nor can a link lead into ferry's own state */
	t_write(e->root, ".ferry/state.db", "S");
	assert_int_equal(t_sh("ln -s .ferry '%s/state'", e->root), 0);
	load_ok(e, "ops:\n  - remove: {path: state/state.db}\n");
	forward_fails(e, REL ":2: op 'remove': 'state/state.db' is inside .ferry (ferry's own "
	                 "state); ops do not change it");
	assert_file(e, ".ferry/state.db", "S");

	/* a symlink that stays inside is followed */
	assert_int_equal(t_sh("mkdir -p '%s/real' && ln -s real '%s/alias'", e->root, e->root), 0);
	load_ok(e, "ops:\n  - set: {file: alias/app.json, path: a, value: 1}\n");
	forward_ok(e);
	assert_file(e, "real/app.json", "{\n  \"a\": 1\n}\n");
}

/* ---- a failing op undoes the step's earlier ops ---- */

static void test_failure_undoes_earlier_ops(void **state)
{
	env *e = *state;
	char *u;
	t_write(e->root, "config/app.json", APP_JSON);
	t_write(e->root, ".env", DOTENV);
	t_write(e->root, "data/tmp/x", "X");
	load_ok(e, "ops:\n"
	           "  - set: {file: config/app.json, path: privacy.level, value: x}\n"
	           "  - env: {file: .env, key: NEW, value: \"1\"}\n"
	           "  - mkdir: {path: data/cache}\n"
	           "  - remove: {path: data/tmp}\n"
	           "  - move: {from: data/missing, to: data/moved}\n");
	forward_fails(e, REL ":6: op 'move': 'data/missing' does not exist: nothing to move; "
	                 "the step's earlier ops were undone");
	assert_file(e, "config/app.json", APP_JSON);
	assert_file(e, ".env", DOTENV);
	assert_missing(e, "data/cache");
	assert_file(e, "data/tmp/x", "X");
	u = take_undo(e);
	assert_string_equal(u, "{\"ferry_ops_undo\":1,\"actions\":[]}");
	free(u);
}

static void test_interrupted(void **state)
{
	env *e = *state;
	volatile sig_atomic_t flag = 1;
	t_write(e->root, "config/app.json", APP_JSON);
	load_ok(e, "ops:\n  - set: {file: config/app.json, path: a, value: 1}\n");
	e->ctx.interrupted = &flag;
	forward_fails(e, REL ":2: op 'set': interrupted before this op");
	e->ctx.interrupted = NULL;
	assert_file(e, "config/app.json", APP_JSON);
}

static void test_undo_text_checked(void **state)
{
	env *e = *state;
	assert_int_equal(fr_step_ops.undo(&e->ctx, ID, "", "not json"), -1);
	assert_non_null(strstr(e->err.ptr, ID " (undo): the recorded undo is not one this build "
	                                   "reads"));
	fr_buf_reset(&e->err);
	assert_int_equal(fr_step_ops.undo(&e->ctx, ID, "", "{\"ferry_ops_undo\":9,\"actions\":[]}"),
	                 -1);
}

/* ---- load errors ---- */

static void test_load_errors(void **state)
{
	env *e = *state;
	load_fails(e, "description: x\n", REL ":1: no 'ops' list");
	load_fails(e, "ops: {set: 1}\n", REL ":1: 'ops' must be a list of ops, not a mapping");
	load_fails(e, "description: x\nops: []\nextra: 1\n", REL ":3: unknown key 'extra'");
	load_fails(e, "ops:\n  - frobnicate: {path: a}\n", REL ":2: unknown op 'frobnicate'");
	load_fails(e, "ops:\n  - set: {file: a.json, path: a}\n", REL ":2: op 'set' needs 'value'");
	load_fails(e, "ops:\n  - set: {file: a.json, path: a, value: 1, colour: red}\n",
	           REL ":2: op 'set': unknown key 'colour' (it takes: file path value | if_missing)");
	load_fails(e, "ops:\n  - set: {file: a.txt, path: a, value: 1}\n",
	           REL ":2: op 'set': cannot tell the format of 'a.txt'");
	load_fails(e, "ops:\n  - env: {file: a.json, key: A, value: 1}\n",
	           REL ":2: op 'env' edits .env files; use 'set' for 'a.json'");
	load_fails(e, "ops:\n  - set: {file: a.json, path: a..b, value: 1}\n",
	           REL ":2: op 'set': 'path' is not a key path");
	load_fails(e, "ops:\n  - chmod: {path: a, mode: \"rwx\"}\n",
	           REL ":2: op 'chmod': 'mode' must be an octal mode");
	load_fails(e, "ops:\n  - set: {file: a.json, path: a, value: 1, if_missing: maybe}\n",
	           REL ":2: op 'set': 'if_missing' must be true or false");
	load_fails(e, "ops:\n  - mkdir: {path: [a]}\n",
	           REL ":2: op 'mkdir': 'path' must be a string, not a sequence");
	load_fails(e, "ops:\n  - {set: {file: a.json, path: a, value: 1}, mkdir: {path: b}}\n",
	           REL ":2: each op is a mapping with one key");
	load_fails(e, "ops:\n  - move: {from: a, to: a}\n",
	           REL ":2: op 'move': 'from' and 'to' are the same");
	load_fails(e, "ops: [\n", REL ":");
	/*
	 * a .env variable name is one the editor finds again: no line break, no
	 * '@' (tests/fuzz/corpus/edit/env-*-key)
	 */
	load_fails(e, "ops:\n  - env: {file: .env, key: \"MY@VAR\", value: 1}\n",
	           REL ":2: op 'env': 'MY@VAR' is not a variable name");
	load_fails(e, "ops:\n  - set: {file: .env, path: \"A\\nB\", value: 1}\n",
	           REL ":2: op 'set': 'A\nB' is not a variable name of '.env'");
	load_fails(e, "ops:\n  - rename: {file: .env, from: A, to: \"B=C\"}\n",
	           REL ":2: op 'rename': 'B=C' is not a variable name of '.env'");
	/* every problem at once */
	load_fails(e, "ops:\n  - set: {file: a.json}\n  - remove: {path: ../x}\n",
	           REL ":2: op 'set' needs 'path'\n" REL ":2: op 'set' needs 'value'\n"
	           REL ":3: op 'remove': 'path' must be a path inside the root");
}

/* ---- describe: the --dry-run diff, nothing changed ---- */

static void test_describe(void **state)
{
	env *e = *state;
	fr_buf d = FR_BUF_INIT;
	t_write(e->root, "config/app.json", APP_JSON);
	t_write(e->root, "config/defaults.yaml", "a: 1\n");
	t_write(e->root, ".env", "A=1\n");
	load_ok(e, "description: Add privacy settings\nops:\n"
	           "  - set: {file: config/app.json, path: privacy.level, value: public_full}\n"
	           "  - delete: {file: config/app.json, path: ratio}\n"
	           "  - copy: {from: config/defaults.yaml, to: config/local.yaml}\n"
	           "  - set: {file: config/local.yaml, path: b, value: 2}\n"
	           "  - env: {file: .env, key: A, value: \"1\"}\n"
	           "  - mkdir: {path: data/cache, mode: \"0750\"}\n"
	           "  - remove: {path: out/x}\n");
	assert_int_equal(t_sh("ln -s /tmp '%s/out'", e->root), 0);
	assert_int_equal(fr_step_ops.describe(&e->step, &d), 0);
	assert_string_equal(d.ptr,
	                    "# ops " REL ": Add privacy settings (7 ops)\n"
	                    "set 'privacy.level' = \"public_full\" in config/app.json\n"
	                    "delete 'ratio' from config/app.json\n"
	                    "copy config/defaults.yaml to config/local.yaml\n"
	                    "set 'b' = 2 in config/local.yaml\n"
	                    "env A=<redacted> in .env\n"  /* a .env value is never shown */
	                    "  (no change)\n"
	                    "mkdir data/cache (mode 0750)\n"
	                    "remove out/x (kept in the scratch folder until the step is undone)\n"
	                    "  refused: " REL ":9: op 'remove': 'out/x' leads outside the root "
	                    "through the symlink 'out' (-> '/tmp'); ops change only files inside "
	                    "the root\n"
	                    "--- a/config/app.json\n"
	                    "+++ b/config/app.json\n"
	                    "@@ -1,9 +1,9 @@\n"
	                    " {\n"
	                    "   \"name\": \"demo\",\n"
	                    "-  \"ratio\": 0.10,\n"
	                    "   \"big\": 1e3,\n"
	                    "   \"privacy\": {\n"
	                    "-    \"enabled\": false\n"
	                    "+    \"enabled\": false,\n"
	                    "+    \"level\": \"public_full\"\n"
	                    "   },\n"
	                    "   \"tags\": [\"a\", \"b\"],\n"
	                    "   \"legacy\": {\"flags\": 3, \"x\": 1}\n"
	                    "--- a/config/local.yaml\n"
	                    "+++ b/config/local.yaml\n"
	                    "@@ -1 +1,2 @@\n"
	                    " a: 1\n"
	                    "+b: 2\n");
	fr_buf_release(&d);
	/* nothing was changed */
	assert_file(e, "config/app.json", APP_JSON);
	assert_missing(e, "config/local.yaml");
	assert_missing(e, "data");
	/* forward in a dry run changes nothing either */
	e->ctx.dry_run = 1;
	forward_ok(e);
	e->ctx.dry_run = 0;
	assert_file(e, "config/app.json", APP_JSON);
}

static void test_describe_new_file(void **state)
{
	env *e = *state;
	fr_buf d = FR_BUF_INIT;
	t_write(e->root, "x", "");
	load_ok(e, "ops:\n  - env: {file: .env, key: A, value: \"1\"}\n");
	assert_int_equal(fr_step_ops.describe(&e->step, &d), 0);
	assert_non_null(strstr(d.ptr, "--- /dev/null\n+++ b/.env\n@@ -0,0 +1 @@\n+A=<redacted>\n"));
	fr_buf_release(&d);
}

/* Every allocation failing in turn: no crash, no leak, and a clean outcome or a clear one. */
static void test_allocation_failures(void **state)
{
	env *e = *state;
	const char *ops = "ops:\n"
	                  "  - set: {file: config/app.json, path: privacy.level, value: x}\n"
	                  "  - rename: {file: config/app.yaml, from: db.path, to: db.url}\n"
	                  "  - env: {file: .env, key: NEW, value: \"1\"}\n"
	                  "  - remove: {path: data/tmp}\n";
	long n;
	int done = 0;
	for (n = 0; n < 5000 && !done; n++) {
		char *u;
		int rc;
		t_write(e->root, "config/app.json", APP_JSON);
		t_write(e->root, "config/app.yaml", APP_YAML);
		t_write(e->root, ".env", DOTENV);
		t_write(e->root, "data/tmp/x", "X");
		load_ok(e, ops);
		fr_buf_reset(&e->err);
		fr_buf_grow(&e->err, 4096); /* the engine's message buffer has room */
		fr_alloc_fail_after(n);
		rc = fr_step_ops.forward(&e->ctx, &e->step);
		fr_alloc_fail_after(-1);
		if (rc == 0) {
			done = 1;
			u = take_undo(e);
			undo_ok(e, u);
			free(u);
		} else {
			assert_true(e->err.len > 0);
			fr_step_ops.unload(&e->step);
		}
		if (rc == 0 || !strstr(e->err.ptr, "failed too")) {
			assert_file(e, "config/app.json", APP_JSON);
			assert_file(e, "config/app.yaml", APP_YAML);
			assert_file(e, ".env", DOTENV);
			assert_file(e, "data/tmp/x", "X");
		}
		t_rmrf(e->scratch);
	}
	assert_true(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kind_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_set_if_missing_and_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_indent_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_rename_onto_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_new_file_and_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_block_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_fuzz_findings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_block_scalar_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_new_file_is_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_after_later_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_after_later_change_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chmod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_checked_at_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_undoes_earlier_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_text_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
