/*
 * redact.c - keeping secrets off the terminal and out of the log: what a
 * dry run prints of an ops step (its ops, the diff of each file) and of its
 * undo (`down --dry-run`) shows every value of a .env file, and of a key
 * whose name looks secret (*PASSWORD*, *SECRET*, *TOKEN*, *KEY*), as
 * <redacted>. The keys, the files and what changes stay visible.
 */
#include "ops_int.h"
#include "../../util/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDACTED "<redacted>"

int fr_ops_secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY" };
	size_t i, j, w;
	for (w = 0; w < sizeof words / sizeof *words; w++) {
		size_t wl = strlen(words[w]);
		for (i = 0; i + wl <= len; i++) {
			for (j = 0; j < wl; j++) {
				char c = name[i + j];
				if ((c >= 'a' && c <= 'z' ? c - 32 : c) != words[w][j])
					break;
			}
			if (j == wl)
				return 1;
		}
	}
	return 0;
}

int fr_ops_secret_path(const char *path)
{
	const char *last = path ? strrchr(path, '.') : NULL;
	last = last ? last + 1 : path;
	return last && fr_ops_secret_name(last, strlen(last));
}

static int is_env_file(const char *name)
{
	const char *base = strrchr(name, '/');
	size_t n;
	base = base ? base + 1 : name;
	n = strlen(base);
	return !strcmp(base, ".env") || !strncmp(base, ".env.", 5) ||
	       (n > 4 && !strcasecmp(base + n - 4, ".env"));
}

/* The end of a value that starts at p[v]: past its closing quote, or before , } ] or the end. */
static size_t value_end(const char *p, size_t v, size_t n)
{
	if (v < n && (p[v] == '"' || p[v] == '\'')) {
		char q = p[v++];
		while (v < n && p[v] != q) {
			if (p[v] == '\\' && q == '"' && v + 1 < n)
				v++;
			v++;
		}
		return v < n ? v + 1 : n;
	}
	while (v < n && p[v] != ',' && p[v] != '}' && p[v] != ']' && p[v] != '\n' &&
	       p[v] != '\r' && !(p[v] == ' ' && v + 1 < n && p[v + 1] == '#'))
		v++;
	while (v > 0 && p[v - 1] == ' ')
		v--;
	return v;
}

static int word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/*
 * One line of a file (after a diff's first column, if any), appended to
 * out with the value of every secret key replaced: each "key": v, key: v
 * or key=v pair of the line (JSON and YAML, flow style included); in a
 * .env file, the value of its one key whatever its name.
 */
static void redact_line(fr_buf *out, const char *p, size_t n, int env)
{
	size_t i = 0, done = 0;
	while (i < n) {
		size_t ks, ke, j, v, end;
		char c = p[i];
		if (c == '"' || c == '\'') {
			ks = i + 1;
			ke = ks;
			while (ke < n && p[ke] != c)
				ke += p[ke] == '\\' && ke + 1 < n ? 2 : 1;
			j = ke < n ? ke + 1 : n;
		} else if (word_char(c) && (i == 0 || !word_char(p[i - 1]))) {
			ks = i;
			ke = i;
			while (ke < n && word_char(p[ke]))
				ke++;
			j = ke;
		} else {
			i++;
			continue;
		}
		while (j < n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j >= n || (p[j] != ':' && p[j] != '=') || ke <= ks ||
		    !(env || fr_ops_secret_name(p + ks, ke - ks))) {
			i = j > i ? j : i + 1;
			continue;
		}
		v = j + 1;
		while (v < n && (p[v] == ' ' || p[v] == '\t'))
			v++;
		/* A key that opens a block holds no value here; its keys are looked at in turn. */
		if (v >= n || p[v] == '{' || p[v] == '[' || p[v] == '\n' || p[v] == '\r') {
			i = v;
			continue;
		}
		end = env ? n : value_end(p, v, n);
		while (env && end > v && (p[end - 1] == '\n' || p[end - 1] == '\r'))
			end--;
		fr_buf_add(out, p + done, v - done);
		fr_buf_puts(out, REDACTED);
		done = i = end;
		if (env)
			break;
	}
	fr_buf_add(out, p + done, n - done);
}

void fr_ops_redact_diff(fr_buf *out, const char *file, const char *diff, size_t len)
{
	int env = is_env_file(file);
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(diff + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (diff + i)) + 1 : len - i;
		const char *l = diff + i;
		/* Hunk and file headers pass; a line's first column is its +, - or space. */
		if (n && (l[0] == '+' || l[0] == '-' || l[0] == ' ') &&
		    !(n >= 4 && (!strncmp(l, "--- ", 4) || !strncmp(l, "+++ ", 4)))) {
			fr_buf_putc(out, l[0]);
			redact_line(out, l + 1, n - 1, env);
		} else {
			fr_buf_add(out, l, n);
		}
		i += n;
	}
}

int fr_ops_redact_value(const char *file, const char *path)
{
	return is_env_file(file) || fr_ops_secret_path(path);
}

/* The keys an undo action puts back, as "K1, K2". */
static void keys_of(fr_buf *out, const json_t *keys)
{
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		const char *name = json_string_value(json_object_get(k, "key"));
		if (!name)
			name = json_string_value(json_object_get(k, "path"));
		fr_buf_printf(out, "%s%s%s", i ? ", " : "", name ? name : "?",
		              json_is_true(json_object_get(k, "absent")) ? " (removed)" : "");
	}
}

int fr_ops_describe_undo(const char *text, fr_buf *out)
{
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL, *acts, *a;
	size_t i;
	acts = json_object_get(doc, "actions");
	if (!json_is_array(acts)) {
		json_decref(doc);
		fr_buf_puts(out, "-- the recorded undo of an ops step (not shown: it may hold the "
		                 "values it puts back)\n");
		return out->oom ? -1 : 0;
	}
	fr_buf_printf(out, "-- ops undone, newest first (values not shown):\n");
	i = json_array_size(acts);
	while (i--) {
		const char *kind, *file, *path;
		a = json_array_get(acts, i);
		kind = json_string_value(json_object_get(a, "op"));
		file = json_string_value(json_object_get(a, "file"));
		path = json_string_value(json_object_get(a, "path"));
		fr_buf_printf(out, "undo %s", kind ? kind : "?");
		if (file)
			fr_buf_printf(out, " in %s", file);
		else if (path)
			fr_buf_printf(out, " of %s", path);
		if (json_array_size(json_object_get(a, "keys"))) {
			fr_buf_puts(out, ": puts back ");
			keys_of(out, json_object_get(a, "keys"));
		} else if (file && json_object_get(a, "before")) {
			fr_buf_puts(out, ": the file as it was");
		}
		fr_buf_putc(out, '\n');
	}
	json_decref(doc);
	return out->oom ? -1 : 0;
}
