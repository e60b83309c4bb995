/*
 * fuzz_manifest.c - the backup manifest, MANIFEST.json, as a reader holds
 * it against the entries read from an archive (check_manifest()), and the
 * globs of its include and exclude lists.
 *
 * The input is two parts cut at the first NUL byte: the manifest's text,
 * and the archive's entries, one a line: "TYPE SIZE MODE SHA PATH" or
 * "TYPE SIZE MODE SHA PATH -> TARGET" (TYPE f, d, l or h; MODE octal).
 * A manifest is either refused with one finding, or read with one finding
 * for each entry that differs; every finding has a kind, a subject and a
 * message.
 *
 * The reader is static in lib/backup.c: that file is compiled into this
 * target (the library stays as it is). Once lib/backup/ holds the reader,
 * its internal header is used instead.
 */
#include "fuzz.h"

#if __has_include("backup/backup_int.h")
#include "backup/backup_int.h"
#define check_manifest bk_check_manifest
#define reader_free bk_reader_free
#define findings_text bk_findings_text
#else
#include "../../lib/backup.c"
#endif

/* 1 when s is UTF-8 (as JSON holds it). */
static int utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* One line of entries into a record of r; a line that does not read is left out. */
static void add_rec(fr_reader *r, char *line)
{
	char *f[4], *p = line, *arrow, *end;
	fr_rec *x;
	int i;
	for (i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (!p)
			return;
		*p++ = '\0';
	}
	if (strlen(f[0]) != 1 || !strchr("fdlh", f[0][0]) || strlen(f[3]) > 64 || !*p)
		return;
	arrow = strstr(p, " -> ");
	if (arrow)
		*arrow = '\0';
	/*
	 * Names and link targets that are not UTF-8 are read as they come: a
	 * finding about one still has its subject and message (the bytes JSON
	 * cannot hold written as \xNN). Only the checksum is kept to text.
	 */
	if (!utf8_ok(f[3]))
		return;
	/* the reader records a link with its target (check_link() has read it) */
	if (strchr("lh", f[0][0]) && !arrow)
		return;
	check(fr_grow(&r->recs, &r->caprecs, r->nrecs + 1, sizeof *r->recs) == 0);
	x = &r->recs[r->nrecs++];
	memset(x, 0, sizeof *x);
	x->path = fr_strdup(p);
	x->type = f[0][0];
	x->size = strtoll(f[1], &end, 10);
	x->mode = (unsigned)strtoul(f[2], &end, 8) & 07777;
	memcpy(x->sha, f[3], strlen(f[3]) + 1);
	x->target = arrow ? fr_strdup(arrow + 4) : NULL;
	check(x->path != NULL && (!arrow || x->target != NULL));
}

/* The globs of list (include or exclude) against every entry; a few, short ones. */
static void globs(const fr_reader *r, const json_t *list)
{
	size_t i, k;
	const json_t *v;
	json_array_foreach(list, i, v) {
		const char *p = json_string_value(v);
		if (i >= 8 || !p || strlen(p) > 64)
			continue;
		for (k = 0; k < r->nrecs && k < 8; k++)
			if (strlen(r->recs[k].path) <= 128)
				(void)fr_backup_glob(p, r->recs[k].path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fr_reader r;
	char *part[2], *line, *save = NULL;
	json_t *man, *o;
	fr_buf text = FR_BUF_INIT;
	size_t lens[2], i;

	if (size > 65536)
		return 0;
	memset(&r, 0, sizeof r);
	fz_split_n(data, size, '\0', part, lens, 2);
	r.findings = json_array();
	check(r.findings != NULL);
	fr_buf_init(&r.manifest);
	check(fr_buf_add(&r.manifest, part[0], lens[0]) == 0);
	r.have_manifest = 1;
	for (line = strtok_r(part[1], "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (r.nrecs < 64)
			add_rec(&r, line);
	man = check_manifest(&r);
	if (!man)
		check(json_array_size(r.findings) == 1);
	check(r.nfind == json_array_size(r.findings));
	json_array_foreach(r.findings, i, o) {
		check(json_is_string(json_object_get(o, "kind")));
		check(json_is_string(json_object_get(o, "subject")));
		check(json_is_string(json_object_get(o, "message")));
	}
	findings_text(&r, &text);
	check(r.nfind == 0 || text.len > 0);
	if (man) {
		fr_version v;
		check(json_is_string(json_object_get(man, "version")));
		(void)fr_version_parse(&v, json_string_value(json_object_get(man, "version")), NULL);
		globs(&r, json_object_get(man, "include"));
		globs(&r, json_object_get(man, "exclude"));
	}
	json_decref(man);
	reader_free(&r);
	fr_buf_release(&text);
	fz_free_parts(part, 2);
	return 0;
}
