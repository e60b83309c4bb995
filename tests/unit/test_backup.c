/*
 * test_backup.c - lib/backup.c: globs and the selection of files, round
 * trips (nested folders, empty files, unusual names, links, databases)
 * compared by a signature of the whole tree, include/exclude on create and
 * restore, private modes under umask 000, the manifest against the bytes
 * GNU tar extracts, a flipped bit caught by verify and restore, crafted
 * archives refused with nothing written outside staging, a restore that
 * fails midway put back, prune, rollback, untracked archives, the estimate,
 * rehearsal copies, interrupts, the lock, every allocation failing in
 * turn during create and restore, and the driver members backups use
 * (files, copy) on a SQLite database in WAL mode with a writer at work.
 */
#include "helpers.h"

#include "backup.h"
#include "db/db.h"
#include "ferry.h"
#include "ferry_int.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FR_TEST_STEP
#define FR_TEST_STEP 16 /* every allocation up to 16, then every n/16th */
#endif

typedef struct {
	char *root;   /* the installation */
	char *tmp;    /* scratch beside it */
	ferry *f;
} fx;

static int setup(void **state)
{
	fx *x = calloc(1, sizeof *x);
	char *base = t_tmpdir();
	assert_non_null(x);
	x->tmp = base;
	x->root = t_path(base, "inst");
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	fx *x = *state;
	ferry_close(x->f);
	fr_alloc_fail_after(-1);
	t_sh("chmod -R u+rwx '%s' 2>/dev/null", x->tmp);
	t_rmrf(x->tmp);
	free(x->root);
	free(x->tmp);
	free(x);
	return 0;
}

static ferry *open_f(fx *x)
{
	int rc;
	ferry_close(x->f);
	x->f = NULL;
	rc = ferry_open(&x->f, x->root, NULL);
	if (rc)
		fail_msg("ferry_open: %d %s", rc, ferry_errmsg(x->f));
	return x->f;
}

/* An installation with every kind of entry a backup must carry. */
static void install(fx *x, const char *extra_yaml)
{
	char yaml[2048];
	snprintf(yaml, sizeof yaml, "app: demo\nversion_file: config/version.json\n"
	                            "databases:\n  main: sqlite:data/app.db\n%s",
	         extra_yaml ? extra_yaml : "");
	t_write(x->root, "ferry.yaml", yaml);
	t_write(x->root, "migrations/v0.0.0_to_v0.1.0/001_a.sql",
	        "-- ferry:up\nCREATE TABLE a(x);\n-- ferry:down\nDROP TABLE a;\n");
	t_write(x->root, "config/app.json", "{\"name\": \"demo\"}\n");
	t_write(x->root, "data/deep/er/still/file.txt", "deep\n");
	t_write(x->root, "data/empty", "");
	t_write(x->root, "data/with space.txt", "spaces\n");
	t_write(x->root, "data/caf\xc3\xa9 \xe2\x9c\x93.txt", "utf-8\n");
	assert_int_equal(t_sh("cd '%s' && printf 'nl\\n' > \"$(printf 'data/new\\nline')\" && "
	                      "ln -s empty data/link && ln -s deep/er data/dirlink && "
	                      "ln -s '%s/config/app.json' data/abslink && mkdir data/emptydir && "
	                      "chmod 0640 config/app.json && chmod 0750 data/deep && "
	                      "head -c 300000 /dev/urandom > data/random.bin",
	                      x->root, x->root), 0);
	assert_int_equal(t_sh("sqlite3 '%s/data/app.db' \"CREATE TABLE t(x); "
	                      "INSERT INTO t VALUES (1), (2);\"", x->root), 0);
	open_f(x);
	assert_int_equal(ferry_set_version(x->f, "0.1.0", 1), 0);
}

/*
 * A signature of the tree (less .ferry): every path, kind, mode, size,
 * target, time and hash. Not the times that recording the version and
 * writing the database change by design: the version file's, its folder's
 * and the database's folder's.
 */
static char *signature(fx *x, const char *name)
{
	char *out = t_path(x->tmp, name);
	assert_int_equal(t_sh("cd '%s' && { find . -path ./.ferry -prune -o -mindepth 1 -printf "
	                      "'%%p|%%y|%%m|%%s|%%l|%%T@\\n' | grep -v '^./data/app.db' | "
	                      "sed -E 's#^(./config/version.json|./config|./data)(\\|.*\\|)[^|]*$#"
	                      "\\1\\2#' | sort; "
	                      "find . -path ./.ferry -prune -o -type f ! -name 'app.db*' -print0 | "
	                      "sort -z | xargs -0 sha256sum; } > '%s'", x->root, out), 0);
	return out;
}

static void same_files(const char *a, const char *b)
{
	if (t_sh("cmp -s '%s' '%s'", a, b) != 0) {
		t_sh("diff '%s' '%s' >&2", a, b);
		fail_msg("the trees differ");
	}
}

static char *create(fx *x, const char *type)
{
	char *id = NULL;
	int rc = fr_backup_create(x->f, type, NULL, &id);
	if (rc)
		fail_msg("backup: %d %s", rc, ferry_errmsg(x->f));
	assert_non_null(id);
	return id;
}

/* The archive path of id, from the list document. */
static char *archive_of(fx *x, const char *id)
{
	char *doc = NULL, *path = NULL;
	json_t *j, *b;
	size_t i;
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	json_array_foreach(json_object_get(j, "backups"), i, b)
		if (!strcmp(json_string_value(json_object_get(b, "id")), id))
			path = strdup(json_string_value(json_object_get(b, "path")));
	json_decref(j);
	ferry_free(doc);
	assert_non_null(path);
	return path;
}

static size_t count_files(const char *dir)
{
	char cmd[4096];
	FILE *p;
	size_t n = 0;
	char line[4096];
	snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof line, p))
		n++;
	pclose(p);
	return n;
}

/* ---- globs ---- */

static void test_glob(void **state)
{
	(void)state;
	assert_true(fr_backup_glob("data", "data"));
	assert_false(fr_backup_glob("data", "data/x"));
	assert_true(fr_backup_glob("*.log", "a.log"));
	assert_false(fr_backup_glob("*.log", "d/a.log"));
	assert_true(fr_backup_glob("**/*.log", "a.log"));
	assert_true(fr_backup_glob("**/*.log", "d/e/a.log"));
	assert_true(fr_backup_glob("cache/**", "cache/a/b"));
	assert_true(fr_backup_glob("cache/**", "cache"));
	assert_false(fr_backup_glob("cache/**", "cached/a"));
	assert_true(fr_backup_glob("a/**/z", "a/z"));
	assert_true(fr_backup_glob("a/**/z", "a/b/c/z"));
	assert_false(fr_backup_glob("a/**/z", "a/b/c/y"));
	assert_true(fr_backup_glob("config/*.json", "config/app.json"));
	assert_false(fr_backup_glob("config/*.json", "config/sub/app.json"));
	assert_true(fr_backup_glob("d?ta/[ab]*", "data/b1"));
	assert_false(fr_backup_glob("", "x"));
}

/* ---- round trips ---- */

static void test_roundtrip(void **state)
{
	fx *x = *state;
	char *before, *after, *id, *cur = NULL, *doc = NULL;
	json_t *j;
	install(x, NULL);
	before = signature(x, "before");
	id = create(x, "manual");
	assert_non_null(strstr(id, "demo_"));
	assert_non_null(strstr(id, "_manual"));
	/* Change everything: content, modes, kinds, new and removed entries, the database. */
	assert_int_equal(t_sh("cd '%s' && echo changed > data/empty && rm -r data/deep && "
	                      "rm data/link && mkdir data/link && echo new > data/new.txt && "
	                      "chmod 0600 'data/with space.txt' && rm -r data/emptydir && "
	                      "mkdir -p newtop/x && touch newtop/x/y && rm config/app.json && "
	                      "sqlite3 data/app.db 'INSERT INTO t VALUES (3); CREATE TABLE u(y);'",
	                      x->root), 0);
	assert_int_equal(ferry_set_version(x->f, "0.2.0", 1), 0);
	assert_int_equal(fr_backup_restore(x->f, id, 1), 0);
	after = signature(x, "after");
	same_files(before, after);
	assert_int_equal(t_sh("test \"$(sqlite3 '%s/data/app.db' 'SELECT group_concat(x) FROM t; "
	                      "SELECT count(*) FROM sqlite_master WHERE name = \"u\"')\" = "
	                      "\"$(printf '1,2\\n0')\"", x->root), 0);
	assert_int_equal(ferry_current_version(&cur, x->f), 0);
	assert_string_equal(cur, "0.1.0");
	assert_int_equal(t_sh("grep -q 0.1.0 '%s/config/version.json'", x->root), 0);
	/* A safety backup of the state before, at 0.2.0; no staging left beside the root. */
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "backups")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	                    json_object_get(j, "backups"), 0), "type")), "safety");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	                    json_object_get(j, "backups"), 0), "version")), "0.2.0");
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(j, "backups"), 1),
	                                         "verified")));
	json_decref(j);
	assert_int_equal(count_files(x->tmp), 3); /* inst, before, after */
	ferry_free(doc);
	ferry_free(cur);
	fr_free(id);
	free(before);
	free(after);
}

static void test_roundtrip_gzip_none(void **state)
{
	fx *x = *state;
	const char *comps[] = { "gzip", "none" }, *exts[] = { ".tar.gz", ".tar" };
	char *before, *after;
	size_t i;
	install(x, NULL);
	before = signature(x, "before");
	for (i = 0; i < 2; i++) {
		ferry_backup_options o = FERRY_BACKUP_OPTIONS_INIT;
		ferry_restore_options ro = FERRY_RESTORE_OPTIONS_INIT;
		char *id = NULL, *path, *doc = NULL;
		o.compression = comps[i];
		o.name = "label-1";
		assert_int_equal(ferry_backup_create(&id, x->f, &o), 0);
		assert_non_null(strstr(id, "_label-1_manual"));
		path = archive_of(x, id);
		assert_non_null(strstr(path, exts[i]));
		assert_int_equal(ferry_backup_verify(&doc, x->f, id), 0);
		ferry_free(doc);
		assert_int_equal(t_sh("rm -r '%s/data'", x->root), 0);
		ro.no_safety_backup = 1;
		assert_int_equal(ferry_backup_restore(x->f, id, &ro), 0);
		after = signature(x, "after");
		same_files(before, after);
		free(after);
		free(path);
		ferry_free(id);
	}
	free(before);
}

/* The status `backup list` gives backup id. */
static char *status_of(fx *x, const char *id)
{
	char *doc = NULL, *st = NULL;
	json_t *j, *b;
	size_t i;
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	json_array_foreach(json_object_get(j, "backups"), i, b)
		if (!strcmp(json_string_value(json_object_get(b, "id")), id))
			st = strdup(json_string_value(json_object_get(b, "status")));
	json_decref(j);
	ferry_free(doc);
	assert_non_null(st);
	return st;
}

/*
 * ferry_backup_options of version 1 (a caller built before verify was
 * added: its struct ends at compression) is read without the field; of
 * version 2, verify reads the archive back and the backup is verified.
 */
static void test_options_versions(void **state)
{
	fx *x = *state;
	struct {
		unsigned int version;
		const char *type, *name, *compression;
	} v1 = { 1, NULL, "old", "none" };
	ferry_backup_options o = FERRY_BACKUP_OPTIONS_INIT;
	char *id = NULL, *st;
	install(x, NULL);
	assert_int_equal(o.version, 2);
	assert_int_equal(o.verify, 0);
	assert_int_equal(ferry_backup_create(&id, x->f, (const ferry_backup_options *)(void *)&v1), 0);
	assert_non_null(strstr(id, "_old_manual"));
	st = status_of(x, id);
	assert_string_equal(st, "unverified");
	free(st);
	ferry_free(id);
	o.verify = 1;
	o.name = "new";
	assert_int_equal(ferry_backup_create(&id, x->f, &o), 0);
	st = status_of(x, id);
	assert_string_equal(st, "verified");
	free(st);
	ferry_free(id);
}

static void test_bad_arguments(void **state)
{
	fx *x = *state;
	ferry_backup_options o = FERRY_BACKUP_OPTIONS_INIT;
	char *id = (char *)1, *doc = (char *)1;
	install(x, NULL);
	o.compression = "lz4";
	assert_int_equal(ferry_backup_create(&id, x->f, &o), FERRY_EINVALID);
	assert_null(id);
	assert_non_null(strstr(ferry_errmsg(x->f), "'lz4'"));
	o.compression = NULL;
	o.name = "../x";
	assert_int_equal(ferry_backup_create(&id, x->f, &o), FERRY_EINVALID);
	o.name = NULL;
	o.type = "bad type";
	assert_int_equal(ferry_backup_create(&id, x->f, &o), FERRY_EINVALID);
	assert_int_equal(ferry_backup_verify(&doc, x->f, "nope"), FERRY_EINVALID);
	assert_null(doc);
	assert_non_null(strstr(ferry_errmsg(x->f), "'nope'"));
	assert_int_equal(ferry_backup_restore(x->f, "nope", NULL), FERRY_EINVALID);
	assert_int_equal(ferry_rollback(x->f, NULL, NULL), FERRY_EINVALID);
	assert_int_equal(count_files(x->tmp), 1);
}

/* ---- selection ---- */

static void test_include_exclude(void **state)
{
	fx *x = *state;
	char *id, *path, *list = t_path(x->tmp, "list");
	install(x, "backup:\n  include: [data, \"config/*.json\"]\n"
	           "  exclude: [\"*.log\", \"data/cache/**\"]\n");
	t_write(x->root, "data/x.log", "log\n");
	t_write(x->root, "data/cache/c1", "c\n");
	t_write(x->root, "config/other.txt", "not included\n");
	open_f(x);
	id = create(x, NULL);
	path = archive_of(x, id);
	assert_int_equal(t_sh("tar --zstd -tf '%s' | sort > '%s'", path, list), 0);
	assert_int_equal(t_sh("grep -qx 'files/data/random.bin' '%s'", list), 0);
	assert_int_equal(t_sh("grep -qx 'files/config/app.json' '%s'", list), 0);
	assert_int_equal(t_sh("grep -qx 'files/config/' '%s'", list), 0);
	assert_int_equal(t_sh("grep -qx 'databases/main.sqlite' '%s'", list), 0);
	assert_int_equal(t_sh("grep -q 'x.log\\|cache\\|other.txt\\|ferry.yaml\\|migrations\\|"
	                      "app.db\\|.ferry' '%s'", list), 1);
	/* Restore leaves what is not selected alone, and removes what is but was not there. */
	t_write(x->root, "data/y.log", "new log\n");
	t_write(x->root, "data/new.txt", "new\n");
	t_write(x->root, "config/new.json", "{}\n");
	t_write(x->root, "config/other.txt", "changed, not ours\n");
	t_write(x->root, "top.txt", "not ours\n");
	assert_int_equal(fr_backup_restore(x->f, id, 0), 0);
	assert_int_equal(t_sh("cd '%s' && test -f data/y.log && test -f data/x.log && "
	                      "test -f data/cache/c1 && test -f top.txt && ! test -e data/new.txt && "
	                      "! test -e config/new.json && grep -q 'not ours' config/other.txt",
	                      x->root), 0);
	/* ferry.yaml takes uploads/ in later: restoring the older backup leaves it alone. */
	t_write(x->root, "ferry.yaml", "app: demo\nversion_file: config/version.json\n"
	                               "databases:\n  main: sqlite:data/app.db\n"
	                               "backup:\n  include: [data, uploads]\n");
	t_write(x->root, "uploads/photo.jpg", "jpeg\n");
	t_write(x->root, "data/newer.txt", "newer\n");
	open_f(x);
	assert_int_equal(fr_backup_restore(x->f, id, 0), 0);
	assert_int_equal(t_sh("cd '%s' && test -f uploads/photo.jpg && ! test -e data/newer.txt",
	                      x->root), 0);
	fr_free(id);
	free(path);
	free(list);
}

static void test_private_modes(void **state)
{
	fx *x = *state;
	struct stat st;
	mode_t old = umask(0);
	char *id, *path, *dir;
	install(x, NULL);
	id = create(x, NULL);
	umask(old);
	path = archive_of(x, id);
	dir = t_path(x->root, ".ferry/backups");
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	fr_free(id);
	free(path);
	free(dir);
}

/* The manifest's keys, and its hashes against what GNU tar extracts. */
static void test_manifest_and_gnu_tar(void **state)
{
	fx *x = *state;
	char *id, *path, *out = t_path(x->tmp, "x"), *man;
	json_t *j, *e, *dbs;
	size_t i, files = 0;
	install(x, NULL);
	id = create(x, "pre-run");
	path = archive_of(x, id);
	assert_int_equal(t_sh("mkdir '%s' && tar --zstd -xf '%s' -C '%s'", out, path, out), 0);
	man = t_read(out, "MANIFEST.json");
	assert_non_null(man);
	j = json_loads(man, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "app")), "demo");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "0.1.0");
	assert_string_equal(json_string_value(json_object_get(j, "type")), "pre-run");
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	assert_true(json_is_string(json_object_get(j, "created_at")));
	dbs = json_object_get(j, "databases");
	assert_int_equal(json_array_size(dbs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(dbs, 0), "entry")),
	                    "databases/main.sqlite");
	json_array_foreach(json_object_get(j, "entries"), i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		const char *type = json_string_value(json_object_get(e, "type"));
		assert_non_null(json_object_get(e, "mode"));
		assert_non_null(json_object_get(e, "size"));
		if (strcmp(type, "file"))
			continue;
		files++;
		if (t_sh("cd '%s' && test \"$(sha256sum < '%s' | cut -d' ' -f1)\" = '%s'", out, p,
		         json_string_value(json_object_get(e, "sha256"))))
			fail_msg("sha256 of '%s' differs from the manifest", p);
	}
	assert_true(files >= 8);
	assert_int_equal(t_sh("sqlite3 '%s/databases/main.sqlite' 'PRAGMA integrity_check; "
	                      "SELECT count(*) FROM t' | paste -sd, | grep -qx 'ok,2'", out), 0);
	assert_int_equal(t_sh("test -L '%s/files/data/link' && test \"$(stat -c %%a "
	                      "'%s/files/config/app.json')\" = 640", out, out), 0);
	json_decref(j);
	free(man);
	fr_free(id);
	free(path);
	free(out);
}

/* ---- damage ---- */

/* Flips one bit inside the data of member name of the uncompressed tar at path. */
static void flip_bit(const char *path, const char *name)
{
	assert_int_equal(t_sh("python3 - '%s' '%s' <<'EOF'\n"
	                      "import sys, tarfile\n"
	                      "path, name = sys.argv[1], sys.argv[2]\n"
	                      "with tarfile.open(path) as t:\n"
	                      "    off = t.getmember(name).offset_data + 1000\n"
	                      "with open(path, 'r+b') as f:\n"
	                      "    f.seek(off); b = f.read(1); f.seek(off)\n"
	                      "    f.write(bytes([b[0] ^ 4]))\n"
	                      "EOF", path, name), 0);
}

static void test_flipped_bit(void **state)
{
	fx *x = *state;
	ferry_backup_options o = FERRY_BACKUP_OPTIONS_INIT;
	char *id = NULL, *path, *doc = NULL, *before, *after;
	json_t *j, *fd;
	install(x, NULL);
	o.compression = "none";
	assert_int_equal(ferry_backup_create(&id, x->f, &o), 0);
	path = archive_of(x, id);
	flip_bit(path, "files/data/random.bin");
	assert_int_equal(ferry_backup_verify(&doc, x->f, id), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), "files/data/random.bin"));
	j = json_loads(doc, 0, NULL);
	assert_false(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 1);
	fd = json_array_get(json_object_get(j, "findings"), 0);
	assert_string_equal(json_string_value(json_object_get(fd, "kind")), "checksum");
	assert_string_equal(json_string_value(json_object_get(fd, "subject")),
	                    "files/data/random.bin");
	json_decref(j);
	ferry_free(doc);
	/* The list says damaged; restore refuses and changes nothing (no safety backup either). */
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	assert_non_null(strstr(doc, "\"damaged\""));
	ferry_free(doc);
	t_write(x->root, "data/empty", "changed after the backup\n");
	before = signature(x, "before");
	assert_int_equal(fr_backup_restore(x->f, id, 1), FERRY_EVERIFY);
	assert_non_null(strstr(ferry_errmsg(x->f), "files/data/random.bin"));
	assert_non_null(strstr(ferry_errmsg(x->f), "nothing was changed"));
	after = signature(x, "after");
	same_files(before, after);
	assert_int_equal(count_files(x->tmp), 3);
	assert_int_equal(t_sh("ls '%s/.ferry/backups' | grep -c . | grep -qx 1", x->root), 0);
	ferry_free(id);
	free(path);
	free(before);
	free(after);
}

static void test_truncated(void **state)
{
	fx *x = *state;
	char *id, *path, *doc = NULL;
	install(x, NULL);
	id = create(x, NULL);
	path = archive_of(x, id);
	assert_int_equal(t_sh("truncate -s 2000 '%s'", path), 0);
	assert_int_equal(ferry_backup_verify(&doc, x->f, id), FERRY_EVERIFY);
	assert_non_null(doc);
	ferry_free(doc);
	assert_int_equal(fr_backup_restore(x->f, id, 0), FERRY_EVERIFY);
	fr_free(id);
	free(path);
}

/*
 * Archives made by hand, each with a manifest that lists its entries
 * truthfully, so only the checks on the entries themselves stop them.
 */
static const char evil_py[] =
	"import hashlib, io, json, sys, tarfile\n"
	"out, kind, outside = sys.argv[1], sys.argv[2], sys.argv[3]\n"
	"t = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)\n"
	"ents = []\n"
	"def add(name, data=None, **kw):\n"
	"    ti = tarfile.TarInfo(name)\n"
	"    for k, v in kw.items(): setattr(ti, k, v)\n"
	"    if data is not None: ti.size = len(data)\n"
	"    t.addfile(ti, io.BytesIO(data) if data is not None else None)\n"
	"    e = {'path': name.lstrip('/'), 'type': 'file', 'size': ti.size,\n"
	"         'mode': '%04o' % ti.mode}\n"
	"    if ti.issym(): e['type'] = 'symlink'; e['target'] = ti.linkname\n"
	"    elif ti.islnk(): e['type'] = 'hardlink'; e['target'] = ti.linkname\n"
	"    elif ti.isdir(): e['type'] = 'dir'\n"
	"    else: e['sha256'] = hashlib.sha256(data or b'').hexdigest()\n"
	"    ents.append(e)\n"
	"add('files/ok.txt', b'fine\\n')\n"
	"if kind == 'dotdot': add('files/../../../' + outside.lstrip('/') + '/x', b'pwned\\n')\n"
	"if kind == 'dotdot2': add('../' + 'x', b'pwned\\n')\n"
	"if kind == 'abs': add(outside + '/x', b'pwned\\n')\n"
	"if kind == 'symlink':\n"
	"    add('files/evil', type=tarfile.SYMTYPE, linkname=outside)\n"
	"    add('files/evil/x', b'pwned\\n')\n"
	"if kind == 'relsymlink':\n"
	"    add('files/up', type=tarfile.SYMTYPE, linkname='../../../../../../../..' + outside)\n"
	"    add('files/up/x', b'pwned\\n')\n"
	"if kind == 'hardlink': add('files/passwd', type=tarfile.LNKTYPE, linkname='/etc/passwd')\n"
	"if kind == 'hardlink2': add('files/passwd', type=tarfile.LNKTYPE,\n"
	"                            linkname='files/../../../etc/passwd')\n"
	"if kind == 'device': add('files/null', type=tarfile.CHRTYPE, devmajor=1, devminor=3)\n"
	"if kind == 'state': add('files/.ferry/state.db', b'not a database\\n')\n"
	"if kind == 'chain':\n" /* each link inside when read alone; c leads out through a/b */
	"    add('files/a', type=tarfile.DIRTYPE, mode=0o755)\n"
	"    add('files/a/b', type=tarfile.SYMTYPE, linkname='..')\n"
	"    add('files/c', type=tarfile.SYMTYPE, linkname='a/b/..')\n"
	"m = {'format': 'ferry-backup', 'app': 'demo', 'version': '0.1.0', 'type': 'manual',\n"
	"     'databases': [], 'entries': ents}\n"
	"data = json.dumps(m).encode()\n"
	"ti = tarfile.TarInfo('MANIFEST.json'); ti.size = len(data); t.addfile(ti, io.BytesIO(data))\n"
	"t.close()\n";

static void test_malicious(void **state)
{
	fx *x = *state;
	static const char *const kinds[] = { "dotdot", "dotdot2", "abs", "symlink", "relsymlink",
	                                     "hardlink", "hardlink2", "device", "state", "chain" };
	char *py = t_path(x->tmp, "evil.py"), *outside = t_path(x->tmp, "outside"), *before,
	     *after, *passwd_before = t_path(x->tmp, "passwd.sum");
	size_t i;
	FILE *fp = fopen(py, "w");
	assert_non_null(fp);
	fputs(evil_py, fp);
	fclose(fp);
	install(x, NULL);
	assert_int_equal(t_sh("mkdir '%s' && sha256sum /etc/passwd > '%s'", outside,
	                      passwd_before), 0);
	before = signature(x, "before");
	for (i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		char arch[4096];
		int rc;
		snprintf(arch, sizeof arch, "%s/evil-%s.tar", x->tmp, kinds[i]);
		assert_int_equal(t_sh("python3 '%s' '%s' %s '%s'", py, arch, kinds[i], outside), 0);
		rc = fr_backup_restore(x->f, arch, 1);
		if (rc != FERRY_EVERIFY || !strstr(ferry_errmsg(x->f), "unsafe '"))
			fail_msg("%s: restore gave %d: %s", kinds[i], rc, ferry_errmsg(x->f));
		assert_non_null(strstr(ferry_errmsg(x->f), "nothing was changed"));
		/* Nothing outside staging: not beside the root, not outside, not in /etc. */
		assert_int_equal(count_files(outside), 0);
		assert_int_equal(t_sh("ls -A '%s' | grep -v '^evil' | sort | paste -sd' ' | "
		                      "grep -qx 'before inst outside passwd.sum'", x->tmp), 0);
		assert_int_equal(t_sh("sha256sum -c --quiet '%s'", passwd_before), 0);
		after = signature(x, "after");
		same_files(before, after);
		unlink(after);
		free(after);
		assert_int_equal(t_sh("test \"$(ls '%s/.ferry/backups' 2>/dev/null | wc -l)\" = 0",
		                      x->root), 0);
	}
	free(py);
	free(outside);
	free(before);
	free(passwd_before);
}

/* ---- restore failing midway ---- */

static void test_restore_puts_back(void **state)
{
	fx *x = *state;
	char *id, *before, *after, *cur = NULL;
	install(x, "  reports: sqlite:data/reports.db\n");
	assert_int_equal(t_sh("sqlite3 '%s/data/reports.db' 'CREATE TABLE r(x); "
	                      "INSERT INTO r VALUES (7)'", x->root), 0);
	open_f(x);
	id = create(x, NULL);
	/* After the backup: new content everywhere; then 'reports' cannot be opened. */
	assert_int_equal(t_sh("cd '%s' && echo changed > data/empty && rm -r data/deep && "
	                      "mkdir -p newtop && touch newtop/f && "
	                      "sqlite3 data/app.db 'INSERT INTO t VALUES (3)' && "
	                      "mv data/reports.db data/reports.keep && mkdir data/reports.db",
	                      x->root), 0);
	assert_int_equal(ferry_set_version(x->f, "0.3.0", 1), 0);
	before = signature(x, "before");
	assert_int_equal(fr_backup_restore(x->f, id, 0), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(x->f), "reports"));
	assert_non_null(strstr(ferry_errmsg(x->f), "put back"));
	after = signature(x, "after");
	same_files(before, after);
	/* main was restored, then put back from its copy; the version is as it was. */
	assert_int_equal(t_sh("test \"$(sqlite3 '%s/data/app.db' 'SELECT group_concat(x) FROM t')\""
	                      " = 1,2,3", x->root), 0);
	assert_int_equal(ferry_current_version(&cur, x->f), 0);
	assert_string_equal(cur, "0.3.0");
	assert_int_equal(t_sh("grep -q 0.3.0 '%s/config/version.json'", x->root), 0);
	assert_int_equal(count_files(x->tmp), 3);
	ferry_free(cur);
	fr_free(id);
	free(before);
	free(after);
}

/* ---- prune, rollback, list ---- */

static void set_created(fx *x, const char *id, long long ms, int verified)
{
	assert_int_equal(t_sh("sqlite3 '%s/.ferry/state.db' \"UPDATE backups SET created_at_ms = "
	                      "%lld, verified = %d WHERE id = '%s'\"", x->root, ms, verified, id), 0);
}

static void test_prune(void **state)
{
	fx *x = *state;
	char *ids[4], *doc = NULL;
	long long now = (long long)fr_now_ms(), day = 86400000LL;
	json_t *j;
	int i;
	install(x, NULL);
	for (i = 0; i < 4; i++)
		ids[i] = create(x, NULL);
	/* Oldest first: ids[0] 40 days old and verified, the others unverified or damaged. */
	set_created(x, ids[0], now - 40 * day, 1);
	set_created(x, ids[1], now - 35 * day, 0);
	set_created(x, ids[2], now - 2 * day, -1);
	set_created(x, ids[3], now - 1 * day, 0);
	/* keep 0: all go but the newest verified one, even though it is the oldest. */
	assert_int_equal(ferry_backup_prune(&doc, x->f, 0, 0), 0);
	j = json_loads(doc, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "removed")), 3);
	assert_int_equal(json_array_size(json_object_get(j, "kept")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "kept"), 0)),
	                    ids[0]);
	json_decref(j);
	ferry_free(doc);
	for (i = 0; i < 4; i++)
		fr_free(ids[i]);
	/* Without a verified one, the newest not damaged stays; --older-than removes by age. */
	for (i = 0; i < 3; i++)
		ids[i] = create(x, NULL);
	set_created(x, ids[0], now - 10 * day, 0);
	set_created(x, ids[1], now - 9 * day, 0);
	set_created(x, ids[2], now - 8 * day, -1);
	assert_int_equal(t_sh("sqlite3 '%s/.ferry/state.db' \"UPDATE backups SET created_at_ms = "
	                      "%lld, verified = -1 WHERE type = 'manual' AND verified = 1\"",
	                      x->root, now - 50 * day), 0);
	assert_int_equal(ferry_backup_prune(&doc, x->f, 10, 7 * 86400L), 0);
	j = json_loads(doc, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "kept")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "kept"), 0)),
	                    ids[1]);
	json_decref(j);
	ferry_free(doc);
	/* keep from ferry.yaml (10) and young backups: nothing goes. */
	for (i = 0; i < 3; i++)
		fr_free(ids[i]);
	ids[0] = create(x, NULL);
	assert_int_equal(ferry_backup_prune(&doc, x->f, -1, 0), 0);
	assert_non_null(strstr(doc, "\"removed\": []"));
	ferry_free(doc);
	fr_free(ids[0]);
}

static void test_rollback_and_untracked(void **state)
{
	fx *x = *state;
	char *first, *second, *cur = NULL, *doc = NULL;
	ferry_restore_options o = FERRY_RESTORE_OPTIONS_INIT;
	json_t *j;
	install(x, NULL);
	first = create(x, NULL);
	assert_int_equal(ferry_set_version(x->f, "0.2.0", 1), 0);
	t_write(x->root, "data/empty", "0.2.0\n");
	second = create(x, "pre-run");
	assert_int_equal(ferry_set_version(x->f, "0.3.0", 1), 0);
	/* --last: the newest, 0.2.0; the safety backup taken is not a rollback target. */
	assert_int_equal(ferry_rollback(x->f, NULL, NULL), 0);
	assert_int_equal(ferry_current_version(&cur, x->f), 0);
	assert_string_equal(cur, "0.2.0");
	ferry_free(cur);
	assert_int_equal(ferry_rollback(x->f, NULL, NULL), 0);
	assert_int_equal(ferry_current_version(&cur, x->f), 0);
	assert_string_equal(cur, "0.2.0");
	ferry_free(cur);
	/* state.db forgets the backups: the folder still lists them, and they restore by id. */
	assert_int_equal(t_sh("sqlite3 '%s/.ferry/state.db' 'DELETE FROM backups'", x->root), 0);
	assert_int_equal(ferry_backup_list(&doc, x->f), 0);
	j = json_loads(doc, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "backups")), 4);
	assert_false(json_is_true(json_object_get(json_array_get(json_object_get(j, "backups"), 0),
	                                          "tracked")));
	json_decref(j);
	ferry_free(doc);
	o.no_safety_backup = 1;
	assert_int_equal(ferry_rollback(x->f, first, &o), 0);
	assert_int_equal(ferry_current_version(&cur, x->f), 0);
	assert_string_equal(cur, "0.1.0");
	assert_int_equal(t_sh("test ! -s '%s/data/empty'", x->root), 0);
	ferry_free(cur);
	fr_free(first);
	fr_free(second);
}

static void test_same_second_ids(void **state)
{
	fx *x = *state;
	char *a, *b, *c;
	install(x, NULL);
	a = create(x, NULL);
	b = create(x, NULL);
	c = create(x, NULL);
	assert_string_not_equal(a, b);
	assert_string_not_equal(b, c);
	assert_string_not_equal(a, c);
	fr_free(a);
	fr_free(b);
	fr_free(c);
}

/* ---- estimate, rehearsal copy ---- */

static void test_estimate(void **state)
{
	fx *x = *state;
	char *id, *path;
	int64_t est;
	install(x, NULL);
	est = fr_backup_estimate(x->f);
	assert_true(est > 300000);
	id = create(x, NULL);
	path = archive_of(x, id);
	/* At least the uncompressed tar of everything. */
	assert_int_equal(t_sh("test \"$(zstd -dc '%s' | wc -c)\" -le %lld", path, (long long)est),
	                 0);
	fr_free(id);
	free(path);
}

static void test_copy_installation(void **state)
{
	fx *x = *state;
	fr_buf err = FR_BUF_INIT;
	char *dest = t_path(x->tmp, "copy"), *cur = NULL;
	ferry *g = NULL;
	install(x, "  outside: sqlite:../outside.db\n");
	assert_int_equal(t_sh("sqlite3 '%s/outside.db' 'CREATE TABLE o(x); INSERT INTO o VALUES (5)'",
	                      x->tmp), 0);
	open_f(x);
	if (fr_copy_installation(x->f, dest, &err))
		fail_msg("copy: %s", err.ptr);
	assert_int_equal(t_sh("cd '%s' && diff -r --no-dereference -x .ferry -x 'app.db*' . '%s' "
	                      ">/dev/null", x->root, dest), 1); /* abslink differs, on purpose */
	assert_int_equal(t_sh("test \"$(readlink '%s/data/abslink')\" = '%s/config/app.json'", dest,
	                      dest), 0);
	assert_int_equal(t_sh("cd '%s' && diff -r --no-dereference -x .ferry -x 'app.db*' "
	                      "-x abslink . '%s'", x->root, dest), 0);
	assert_int_equal(t_sh("test \"$(sqlite3 '%s/data/app.db' 'SELECT count(*) FROM t')\" = 2 && "
	                      "test \"$(sqlite3 '%s/.ferry/databases/outside.sqlite' "
	                      "'SELECT x FROM o')\" = 5 && ! test -e '%s/.ferry/backups'",
	                      dest, dest, dest), 0);
	assert_int_equal(ferry_open(&g, dest, NULL), 0);
	assert_int_equal(ferry_current_version(&cur, g), 0);
	assert_string_equal(cur, "0.1.0");
	ferry_free(cur);
	ferry_close(g);
	/* Never into the installation itself. */
	fr_buf_reset(&err);
	free(dest);
	dest = t_path(x->root, "data/copy");
	assert_int_equal(fr_copy_installation(x->f, dest, &err), -1);
	assert_non_null(strstr(err.ptr, "overlaps"));
	fr_buf_release(&err);
	free(dest);
}

/* ---- interrupts, the lock, allocation failures ---- */

static void test_interrupt_and_lock(void **state)
{
	fx *x = *state;
	ferry *g = NULL;
	char *id = NULL, *bk = t_path(x->root, ".ferry/backups");
	install(x, NULL);
	ferry_interrupt(x->f);
	assert_int_equal(fr_backup_create(x->f, NULL, NULL, &id), FERRY_EINTERRUPTED);
	assert_null(id);
	assert_int_equal(count_files(bk), 0);
	open_f(x);
	assert_int_equal(ferry_open(&g, x->root, NULL), 0);
	id = create(x, NULL);
	assert_int_equal(fr_lock_acquire(&g->lock, g->ferry_dir, 0, NULL, &g->err), 0);
	assert_int_equal(fr_backup_restore(x->f, id, 0), FERRY_ELOCKED);
	ferry_close(g);
	assert_int_equal(fr_backup_restore(x->f, id, 0), 0);
	fr_free(id);
	free(bk);
}

static void test_alloc_failures(void **state)
{
	fx *x = *state;
	char *id = NULL, *bk = t_path(x->root, ".ferry/backups"), *before, *after, *good;
	long n;
	int rc = -1;
	install(x, NULL);
	/* No version file: fr_record_version() (lib/ferry.c) has its own OOM tests to pass. */
	t_write(x->root, "ferry.yaml", "app: demo\ndatabases:\n  main: sqlite:data/app.db\n");
	assert_int_equal(t_sh("rm '%s/config/version.json'", x->root), 0);
	open_f(x);
	before = signature(x, "before");
	for (n = 0; n < 100000 && rc; n += 1 + n / FR_TEST_STEP) {
		fr_alloc_fail_after(n);
		rc = fr_backup_create(x->f, NULL, NULL, &id);
		fr_alloc_fail_after(-1);
		if (rc) {
			assert_null(id);
			if (count_files(bk) > 0) {
				t_sh("ls -la '%s' >&2", bk);
				fail_msg("after %ld allocations: %s", n, ferry_errmsg(x->f));
			}
		}
	}
	assert_int_equal(rc, 0);
	good = id;
	id = NULL;
	t_write(x->root, "data/empty", "changed\n");
	after = signature(x, "changed");
	for (rc = -1, n = 0; n < 100000 && rc; n += 1 + n / FR_TEST_STEP) {
		fr_alloc_fail_after(n);
		rc = fr_backup_restore(x->f, good, 0);
		fr_alloc_fail_after(-1);
		if (rc) {
			char *now = signature(x, "now");
			if (rc == FERRY_EUNRECOVERED)
				fail_msg("after %ld allocations: %s", n, ferry_errmsg(x->f));
			same_files(after, now);
			free(now);
		}
	}
	assert_int_equal(rc, 0);
	free(after);
	after = signature(x, "after");
	same_files(before, after);
	assert_int_equal(count_files(x->tmp), 5);
	fr_free(good);
	free(before);
	free(after);
	free(bk);
}

/* ---- the driver members backups use: files() and copy() ---- */

static void t_db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static void test_db_files_and_copy(void **state)
{
	fx *x = *state;
	char *path = t_path(x->tmp, "app.db"), *dest = t_path(x->tmp, "copy.db"), *wal;
	fr_dbconf c = { (char *)"main", NULL, (char *)"sqlite", path, 0, NULL };
	fr_dbconf pg = { (char *)"pg", (char *)"postgres://h/db", (char *)"postgres", NULL, 0, NULL };
	fr_buf err = FR_BUF_INIT;
	sqlite3 *w = NULL;
	char **files = NULL;
	size_t n = 0, i;
	struct stat st;
	int has_wal = 0;
	/* Committed rows that live only in the WAL, and a write transaction still open. */
	assert_int_equal(sqlite3_open(path, &w), SQLITE_OK);
	t_db_exec(w, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
	             "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);");
	t_db_exec(w, "BEGIN IMMEDIATE; INSERT INTO t VALUES (4);");

	assert_int_equal(fr_db_files(&c, &files, &n, &err), 0);
	assert_true(n >= 2);
	assert_string_equal(files[0], path);
	wal = t_path(x->tmp, "app.db-wal");
	for (i = 0; i < n; i++)
		has_wal |= !strcmp(files[i], wal);
	assert_true(has_wal);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 0);
	fr_strv_free(files, n);

	assert_true(fr_db_can_copy(&c));
	if (fr_db_copy(&c, dest, &err))
		fail_msg("copy: %s", err.ptr);
	t_db_exec(w, "COMMIT;");
	sqlite3_close(w);
	/* The committed rows, the WAL's included, and not the one uncommitted then. */
	assert_int_equal(t_sh("test \"$(sqlite3 '%s' 'SELECT group_concat(x) FROM t; "
	                      "PRAGMA integrity_check')\" = \"$(printf '1,2,3\\nok')\"", dest), 0);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never over a file that is there. */
	assert_int_equal(fr_db_copy(&c, dest, &err), -1);

	/* A server: no files here, and no copy (it clones). */
	files = NULL;
	assert_int_equal(fr_db_files(&pg, &files, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(files);
	assert_false(fr_db_can_copy(&pg));
	fr_buf_reset(&err);
	assert_int_equal(fr_db_copy(&pg, dest, &err), -1);
	assert_non_null(strstr(err.ptr, "cannot be copied"));
	fr_buf_release(&err);
	free(path);
	free(dest);
	free(wal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_gzip_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_exclude, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_and_gnu_tar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malicious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_puts_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_and_untracked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_second_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_estimate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_installation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_and_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_files_and_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
