/*
 * diesel.c - diesel's folder (github.com/diesel-rs/diesel,
 * diesel_migrations/src/file_based_migrations.rs and migration_name.rs),
 * read as diesel reads it:
 *  - a migration is a folder <version>_<name>/ holding up.sql and, when it
 *    can be undone, down.sql; its version is the folder name's text before
 *    the first '_' with its dashes removed (2020-01-01-000000 is
 *    20200101000000), as __diesel_schema_migrations keeps it; migrations
 *    run in the order of their versions (compared as text);
 *  - metadata.toml beside them may say run_in_transaction = false.
 * Each file runs whole; diesel's 00000000000000_diesel_initial_setup is a
 * migration like any other.
 */
#include "layout.h"
#include "../util/alloc.h"
#include "../util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int diesel_claims(const fr_layout_entry *e)
{
	const char *us = strchr(e->name, '_');
	size_t i;
	if (!e->dir || !us || us == e->name || e->name[0] < '0' || e->name[0] > '9')
		return 0;
	for (i = 0; e->name + i < us; i++)
		if (!((e->name[i] >= '0' && e->name[i] <= '9') || e->name[i] == '-'))
			return 0;
	return 2;
}

typedef struct {
	char *version;
	const char *folder;
	int down, meta;
} dmig;

static int cmp_dmig(const void *a, const void *b)
{
	const dmig *x = a, *y = b;
	return strcmp(x->version, y->version);
}

/* Which of up.sql, down.sql and metadata.toml the folder holds: bits 1, 2, 4; -1 on error. */
static int diesel_files(const char *dir, const char *folder)
{
	char *p = fr_path_join(dir, folder);
	DIR *d = p ? opendir(p) : NULL;
	struct dirent *e;
	int bits = 0;
	fr_free(p);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, "up.sql"))
			bits |= 1;
		else if (!strcmp(e->d_name, "down.sql"))
			bits |= 2;
		else if (!strcmp(e->d_name, "metadata.toml"))
			bits |= 4;
	}
	closedir(d);
	return bits;
}

static int diesel_scan(const char *dir, const char *rel, const fr_layout_entry *ents, size_t n,
                       fr_layout_chain *out, fr_buf *err)
{
	dmig *m = fr_calloc(n ? n : 1, sizeof *m);
	fr_buf f = FR_BUF_INIT, d = FR_BUF_INIT, t = FR_BUF_INIT;
	size_t i, k = 0, bad = 0;
	if (!m) {
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i].name, *us = strchr(name, '_');
		int bits;
		if (!diesel_claims(&ents[i])) {
			fr_buf_printf(err, "%s%s/%s: not a diesel migration (expected a folder "
			              "<version>_<name>/ with up.sql)", bad++ ? "\n" : "", rel, name);
			continue;
		}
		if ((bits = diesel_files(dir, name)) < 0 || !(bits & 1)) {
			fr_buf_printf(err, "%s%s/%s: %s", bad++ ? "\n" : "", rel, name,
			              bits < 0 ? strerror(errno) : "no up.sql in the migration's folder");
			continue;
		}
		if (!(m[k].version = fr_strndup(name, (size_t)(us - name)))) {
			bad++;
			break;
		}
		{
			char *w = m[k].version, *r = m[k].version;
			for (; *r; r++)
				if (*r != '-')
					*w++ = *r;
			*w = '\0';
		}
		m[k].folder = name;
		m[k].down = (bits & 2) != 0;
		m[k].meta = (bits & 4) != 0;
		k++;
	}
	qsort(m, k, sizeof *m, cmp_dmig);
	for (i = 0; i < k && !bad; i++) {
		const char *name = m[i].folder;
		if (i && !strcmp(m[i].version, m[i - 1].version)) {
			fr_buf_printf(err, "%s%s/%s: a second migration of version '%s' (also '%s')",
			              bad++ ? "\n" : "", rel, name, m[i].version, m[i - 1].folder);
			break;
		}
		fr_buf_reset(&f);
		fr_buf_reset(&d);
		fr_buf_reset(&t);
		fr_buf_printf(&f, "%s/up.sql", name);
		fr_buf_printf(&d, "%s/down.sql", name);
		fr_buf_printf(&t, "%s/metadata.toml", name);
		if (f.oom || d.oom || t.oom ||
		    fr_chain_add(out, f.ptr, m[i].down ? d.ptr : NULL, m[i].meta ? t.ptr : NULL, name,
		                 m[i].version, strchr(name, '_') + 1, 0)) {
			fr_buf_printf(err, "%s%s: out of memory", bad++ ? "\n" : "", rel);
			break;
		}
	}
	for (i = 0; i < k; i++)
		fr_free(m[i].version);
	fr_free(m);
	fr_buf_release(&f);
	fr_buf_release(&d);
	fr_buf_release(&t);
	return bad ? -1 : 0;
}

/* run_in_transaction = false in metadata.toml (a top-level key; # comments). */
static int diesel_split(const fr_split_in *in, fr_split_out *out, fr_buf *err)
{
	int no_tx = in->meta && fr_key_false(in->meta, in->meta_len, "run_in_transaction");
	return fr_split_whole(in, out, no_tx, err);
}

const fr_layout fr_layout_diesel = {
	.name = "diesel",
	.files = "<version>_<name>/ folders with up.sql and down.sql",
	.claims = diesel_claims,
	.scan = diesel_scan,
	.split = diesel_split,
};
