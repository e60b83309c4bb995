/* helpers.c - see helpers.h. */
#include "helpers.h"

#include <ferry.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	char *d;
	snprintf(tmpl, sizeof tmpl, "%s/ferry-unit-XXXXXX", base && *base ? base : "/tmp");
	d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

void t_rmrf(const char *path)
{
	char cmd[8192];
	if (!path || !*path || strcmp(path, "/") == 0)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

char *t_path(const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

void t_write(const char *dir, const char *rel, const char *text)
{
	char *p = t_path(dir, rel);
	char *slash = strrchr(p, '/');
	FILE *fp;
	if (slash) {
		char cmd[8192];
		*slash = '\0';
		snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
		assert_int_equal(system(cmd), 0);
		*slash = '/';
	}
	fp = fopen(p, "wb");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(p);
}

char *t_read(const char *dir, const char *rel)
{
	char *p = t_path(dir, rel), *buf;
	FILE *fp = fopen(p, "rb");
	long n;
	free(p);
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	if (n > 0)
		assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

int t_sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int st;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void t_exec_ok(fr_db *db, const char *sql)
{
	fr_buf err = FR_BUF_INIT;
	if (db->drv->exec(db, sql, NULL, &err))
		fail_msg("exec failed: %s\n%s", err.ptr, sql);
	fr_buf_release(&err);
}

int t_qbool(fr_db *db, const char *sql)
{
	fr_buf err = FR_BUF_INIT;
	int v = -2;
	if (db->drv->query_bool(db, sql, &v, &err))
		fail_msg("query failed: %s\n%s", err.ptr, sql);
	fr_buf_release(&err);
	return v;
}

fr_record t_record(const char *id, const char *undo)
{
	fr_record r;
	memset(&r, 0, sizeof r);
	r.id = (char *)id;
	r.checksum = "sha256:abc";
	r.kind = "sql";
	r.from = "0.1.x";
	r.to = "0.2.0";
	r.status = "applied";
	r.undo = (char *)undo;
	r.applied_at_ms = 1700000000123LL;
	r.duration_ms = 17;
	r.run_id = 5;
	return r;
}

char *t_actions_shape(json_t *actions)
{
	static const char *const names[] = { "id", "hook", "version", "type" };
	size_t i, k, n = 0;
	json_t *a;
	char *out = calloc(1, 8192);
	json_array_foreach(actions, i, a) {
		const char *id = NULL;
		json_t *db = json_object_get(a, "database"), *tx = json_object_get(a, "transaction");
		for (k = 0; k < sizeof names / sizeof *names && !id; k++)
			id = json_string_value(json_object_get(a, names[k]));
		n += (size_t)snprintf(out + n, 8192 - n, "%s %s %s %lld\n",
		                      json_string_value(json_object_get(a, "kind")), id ? id : "-",
		                      json_is_string(db) ? json_string_value(db) : "-",
		                      json_is_integer(tx) ? (long long)json_integer_value(tx) : 0LL);
	}
	return out;
}

json_t *t_doc_of(char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	ferry_free(text);
	return j;
}
