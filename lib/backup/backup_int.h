/*
 * backup_int.h - what the rooms of lib/backup/ share: the dlopen'ed
 * libraries' function tables, the selection of files and the walk over
 * the installation, progress, the rows of backups known, the writer and
 * the reader of an archive. Nothing outside lib/backup/ includes it; the
 * engine sees lib/backup.h.
 *
 *   libs.c      libarchive and libzstd opened on first use; the C.UTF-8 locale
 *   select.c    what an archive holds: paths, globs, include/exclude, the walk
 *   write.c     writing an archive (create, the estimate)
 *   manifest.c  MANIFEST.json: written as entries go in, checked as they come out
 *   read.c      reading an archive (verify, extract), zstd on a thread of its own
 *   restore.c   staging, the swap of files, the databases put back
 *   manage.c    the backups known (state.db and the folder), list, verify, prune;
 *               the lock and progress
 *   copy.c      the copy of an installation for rehearsals
 */
#ifndef FR_BACKUP_INT_H
#define FR_BACKUP_INT_H

#include "../backup.h"
#include "../db/db.h"
#include "../util/alloc.h"
#include "../util/hash.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define BK_CHUNK (1024 * 1024)          /* read and write unit */
#define BK_ZSTD_LEVEL 3                 /* as zstd's command line */
#define BK_ZSTD_JOB (2 * 1024 * 1024)   /* bounds zstd's per-worker buffers */
#define BK_ZSTD_MAX_WORKERS 4           /* 48 MiB peak RSS with 4, 76 with 8 */
#define BK_MANIFEST_MAX (256L * 1024 * 1024)
#define BK_PROGRESS_STEP (4u * 1024 * 1024)
#define BK_LINK_HOPS 40
#define BK_WRITEBACK (8u * 1024 * 1024) /* archive bytes between two starts of writeback */

/* ---- libs.c: libraries opened on first use, and the locale libarchive runs in ---- */

struct bk_archive_fns {
	__typeof__(archive_write_new) *archive_write_new;
	__typeof__(archive_write_free) *archive_write_free;
	__typeof__(archive_write_set_format_pax) *archive_write_set_format_pax;
	__typeof__(archive_write_add_filter_gzip) *archive_write_add_filter_gzip;
	__typeof__(archive_write_set_filter_option) *archive_write_set_filter_option;
	__typeof__(archive_write_set_bytes_per_block) *archive_write_set_bytes_per_block;
	__typeof__(archive_write_open) *archive_write_open;
	__typeof__(archive_write_header) *archive_write_header;
	__typeof__(archive_write_data) *archive_write_data;
	__typeof__(archive_write_data_block) *archive_write_data_block;
	__typeof__(archive_write_finish_entry) *archive_write_finish_entry;
	__typeof__(archive_write_close) *archive_write_close;
	__typeof__(archive_write_disk_new) *archive_write_disk_new;
	__typeof__(archive_write_disk_set_options) *archive_write_disk_set_options;
	__typeof__(archive_read_new) *archive_read_new;
	__typeof__(archive_read_free) *archive_read_free;
	__typeof__(archive_read_support_format_tar) *archive_read_support_format_tar;
	__typeof__(archive_read_support_filter_gzip) *archive_read_support_filter_gzip;
	__typeof__(archive_read_support_filter_zstd) *archive_read_support_filter_zstd;
	__typeof__(archive_read_open_fd) *archive_read_open_fd;
	__typeof__(archive_read_open) *archive_read_open;
	__typeof__(archive_read_next_header) *archive_read_next_header;
	__typeof__(archive_read_data_block) *archive_read_data_block;
	__typeof__(archive_filter_bytes) *archive_filter_bytes;
	__typeof__(archive_error_string) *archive_error_string;
	__typeof__(archive_errno) *archive_errno;
	__typeof__(archive_set_error) *archive_set_error;
	__typeof__(archive_entry_new) *archive_entry_new;
	__typeof__(archive_entry_free) *archive_entry_free;
	__typeof__(archive_entry_clear) *archive_entry_clear;
	__typeof__(archive_entry_set_pathname) *archive_entry_set_pathname;
	__typeof__(archive_entry_set_size) *archive_entry_set_size;
	__typeof__(archive_entry_set_filetype) *archive_entry_set_filetype;
	__typeof__(archive_entry_set_perm) *archive_entry_set_perm;
	__typeof__(archive_entry_set_mtime) *archive_entry_set_mtime;
	__typeof__(archive_entry_set_uid) *archive_entry_set_uid;
	__typeof__(archive_entry_set_gid) *archive_entry_set_gid;
	__typeof__(archive_entry_set_symlink) *archive_entry_set_symlink;
	__typeof__(archive_entry_set_hardlink) *archive_entry_set_hardlink;
	__typeof__(archive_entry_pathname) *archive_entry_pathname;
	__typeof__(archive_entry_filetype) *archive_entry_filetype;
	__typeof__(archive_entry_perm) *archive_entry_perm;
	__typeof__(archive_entry_symlink) *archive_entry_symlink;
	__typeof__(archive_entry_hardlink) *archive_entry_hardlink;
};
struct bk_zstd_fns {
	__typeof__(ZSTD_createCCtx) *ZSTD_createCCtx;
	__typeof__(ZSTD_freeCCtx) *ZSTD_freeCCtx;
	__typeof__(ZSTD_CCtx_setParameter) *ZSTD_CCtx_setParameter;
	__typeof__(ZSTD_compressStream2) *ZSTD_compressStream2;
	__typeof__(ZSTD_isError) *ZSTD_isError;
	__typeof__(ZSTD_getErrorName) *ZSTD_getErrorName;
	__typeof__(ZSTD_createDCtx) *ZSTD_createDCtx;
	__typeof__(ZSTD_freeDCtx) *ZSTD_freeDCtx;
	__typeof__(ZSTD_decompressStream) *ZSTD_decompressStream;
	__typeof__(ZSTD_DStreamInSize) *ZSTD_DStreamInSize;
};
extern struct bk_archive_fns bk_ar;
extern struct bk_zstd_fns bk_zs;

/* Opens libarchive and libcrypto, and libzstd when with_zstd; fails f. */
int bk_load_libs(ferry *f, int with_zstd);
/* Opens libzstd alone; 0 when its table is ready. */
int bk_zstd_open(void);
/* Switches this thread to C.UTF-8; returns what to give bk_utf8_leave(). */
locale_t bk_utf8_enter(void);
void bk_utf8_leave(locale_t old);

/* ---- select.c: paths, globs, the selection of files, the walk ---- */

/* The length of the first component of s, and where the next one starts. */
static inline size_t bk_seglen(const char *s)
{
	const char *e = strchr(s, '/');
	return e ? (size_t)(e - s) : strlen(s);
}

static inline const char *bk_segnext(const char *s, size_t n)
{
	return s[n] == '/' ? s + n + 1 : s + n;
}

int bk_valid_utf8(const char *s);
/* The names in a folder but . and .., sorted bytewise. 0, or -1 with errno. */
int bk_list_dir(const char *path, char ***out, size_t *n);
/* Appends s (taking it; NULL is a failure) to the array *v of *n; -1 on OOM. */
int bk_strv_push(char ***v, size_t *n, char *s);
/* "a/rel" as a new string; NULL on OOM. */
char *bk_join(const char *a, const char *rel);
/* rel of abs inside root ("" for root itself), or NULL when abs is outside. */
const char *bk_rel_in_root(const char *root, const char *abs);
/* bk_rel_in_root() of abs made lexical, as a new string; *out NULL when outside. -1 on OOM. */
int bk_rel_of(const char *root, const char *abs, char **out);
/* 1 when a symbolic link at rel with target stays inside root, read lexically. */
int bk_link_inside(const char *root, const char *rel, const char *target);

enum { SEL_SKIP, SEL_DESCEND, SEL_TAKE };

typedef struct {
	const char *root;
	char **inc;          /* NULL: everything */
	size_t ninc;
	char **exc;
	size_t nexc;
	char **hard;         /* relative paths never taken: the databases, the backup folder */
	size_t nhard;
	int copy;            /* a rehearsal copy: no include/exclude, any name */
} fr_sel;

/*
 * The selection of f's installation. include/exclude: the lists to use
 * (a manifest's, on restore; JSON null: everything, nothing), or NULL to
 * take ferry.yaml's. -1 on OOM.
 */
int bk_sel_init(fr_sel *s, ferry *f, json_t *include, json_t *exclude, int copy);
void bk_sel_free(fr_sel *s);
/* 1 when rel is one of the paths a restore must never write: .ferry, databases, backups. */
int bk_sel_is_hard(const fr_sel *s, const char *rel);
/* SEL_SKIP, SEL_DESCEND or SEL_TAKE for rel; *why says why it is left out, NULL when silently. */
int bk_sel_decide(const fr_sel *s, const char *rel, const struct stat *st, const char *link,
                  int parent_taken, const char **why);

enum { WALK_ENTRY, WALK_LEAVE };

typedef struct fr_walk fr_walk;
/* Called for each taken entry (and each folder walked into); non-zero stops the walk. */
typedef int (*walk_fn)(fr_walk *w, int event, const char *rel, const char *full,
                       const struct stat *st, const char *link, int sel);

struct fr_walk {
	ferry *f;
	const fr_sel *sel;
	walk_fn fn;
	void *ctx;
	fr_buf err;
	int quiet;      /* no warnings for what is left out */
};

/* Walks the root; 0, FERRY_EINTERRUPTED, or non-zero with w->err set (or the fn's code). */
int bk_walk(fr_walk *w);

/* ---- manage.c: progress, the lock, the backups known ---- */

typedef struct {
	ferry *f;
	const char *what;
	uint64_t done, total, next;
} fr_prog;

void bk_prog_start(fr_prog *p, ferry *f, const char *what, uint64_t total);
/* Moves to done (an absolute count); reports every few MiB. */
void bk_prog_at(fr_prog *p, uint64_t done);
void bk_prog_end(fr_prog *p);

/* Takes the lock unless f holds it; *took says whether to release it. */
int bk_lock_take(ferry *f, int *took);
void bk_lock_give(ferry *f, int took);

/* verified: 1 checked by a verify or restore, 0 not checked yet, -1 found damaged. */
typedef struct {
	char *id, *path, *version, *type;
	int64_t size, created_at_ms;
	int verified;
	int tracked; /* a row of the table (else only a file in the folder) */
} bk_row;

/* The archive extensions, NULL-terminated, and the one name ends with (or NULL). */
extern const char *const bk_exts[];
const char *bk_archive_ext(const char *name);
/* The file name part of an id: app with anything but [A-Za-z0-9._-] as '-'. */
char *bk_app_token(const char *app);
void bk_rows_free(bk_row *r, size_t n);
void bk_row_clear(bk_row *r);
/*
 * Every backup (rows of state.db whose file is there, and untracked
 * archives), newest first. describe: read each untracked archive's
 * manifest for its version, type and time (a listing; it reads the
 * archive to its end), else they are what the file name and time say.
 */
int bk_gather(ferry *f, bk_row **out, size_t *n, int describe);
/* The backup called id (or an archive's path) into *out. */
int bk_find(ferry *f, const char *id, bk_row *out);
/* The row of r in state.db, and its verified mark; fail f. */
int bk_row_put(ferry *f, const bk_row *r);
int bk_row_verified(ferry *f, const char *id, int verified);

/* ---- write.c and manifest.c: writing an archive ---- */

/* Where libarchive's output goes: zstd (ours) or straight to the file. */
typedef struct {
	int fd;
	ZSTD_CCtx *z;
	unsigned char *out;
	size_t outcap;
	int err;          /* errno of the first failure */
	const char *zerr; /* zstd's message */
	long fault_at;    /* test-only: the I/O call to fail (FERRY_FAIL_WRITE_AT), 0: none */
	long drop_at;     /* test-only: the write to lose (FERRY_DROP_WRITE_AT), 0: none */
	long nio;         /* I/O calls so far */
	long nwrites;     /* writes of archive bytes so far */
	uint64_t written; /* bytes of the file so far */
	uint64_t flushed; /* bytes whose writeback was started */
} fr_sink;

typedef struct {
	ferry *f;
	struct archive *a;
	fr_sink sink;
	fr_sha256 *md;
	void *wq;           /* the fr_wq that writes into a (write.c) */
	FILE *man;          /* the manifest being written */
	size_t nentries;
	uint64_t bytes;     /* content bytes so far */
	fr_prog prog;
	int64_t now_ms;
	fr_buf err;
	int changed_warned;
} fr_writer;

/*
 * The create behind fr_backup_create(), with a compression (NULL:
 * ferry.yaml's); verify: read the archive back whole before it is renamed
 * into place and said written.
 */
int bk_create(ferry *f, const char *type, const char *name, const char *compression,
              int verify, char **out_id);

/* One entry of the manifest. */
int bk_man_entry(fr_writer *w, const char *path, const char *type, const struct stat *st,
                 int64_t size, const char *sha, const char *target);
/* The manifest's head: every key but entries, which it opens. */
int bk_man_head(fr_writer *w, ferry *f, const char *id, const char *type, const char *name,
                const char *version, const char *compression, json_t *dbs);
/* The databases as the manifest lists them; *missing_driver when one cannot be copied. */
json_t *bk_db_list(ferry *f, int *missing_driver, fr_buf *err);
/* After a restore: the registry says applied exactly what was applied at the backup. */
void bk_restore_registry(ferry *f, json_t *man, const char *id);

/* ---- read.c and manifest.c: reading an archive ---- */

typedef struct {
	char *path;
	char type;          /* 'f' file, 'd' folder, 'l' symlink, 'h' hard link */
	int seen;
	int64_t size;
	unsigned mode;
	char sha[65];
	char *target;
} fr_rec;

typedef struct {
	ferry *f;
	struct archive *r;
	struct archive *disk; /* restore: where entries go */
	const char *stage;    /* restore: the staging folder (absolute, no links) */
	const fr_sel *sel;    /* restore: paths the archive may not write */
	fr_rec *recs;
	size_t nrecs, caprecs;
	const char **seen;    /* the records' paths, an open-addressing set: duplicates */
	size_t nseen, capseen;
	fr_buf manifest;
	int have_manifest;
	json_t *findings;
	size_t nfind;
	char **links;         /* restore: staged symbolic links to check once all is out */
	size_t nlinks;
	fr_prog prog;
	int stop;             /* unsafe or damaged: read no further */
	int unsafe;
	int write_failed;     /* staging could not be written: the archive may be fine */
	unsigned char *zeros;
	fr_sha256 *md;
	void *zp;             /* an fr_zpipe when a thread decompresses (zstd) */
} fr_reader;

/*
 * Reads the archive at path to the end (or the first unsafe entry), then
 * holds it against its manifest. *man is the manifest when it could be
 * read. Returns 0 (findings may be there), or a code after failing f.
 */
int bk_read_archive(fr_reader *r, const char *path, const char *what, json_t **man);
void bk_reader_free(fr_reader *r);
/* Adds a finding: kind, the entry it is about, and what is wrong. */
void bk_finding(fr_reader *r, const char *kind, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "kind 'subject': message" of the first findings, for the handle's message. */
void bk_findings_text(fr_reader *r, fr_buf *out);
/* libarchive's message, with the system's words for its errno when it has one. */
const char *bk_disk_error(struct archive *a, char *buf, size_t n);
int bk_rec_cmp(const void *a, const void *b);
/* The entry read at path (the records sorted by bk_check_manifest()); NULL when none. */
fr_rec *bk_rec_find(fr_reader *r, const char *path);
/* 1 when the staged link at rel (below top) resolves inside root through the staged links. */
int bk_resolves_inside(const char *top, const char *root, const char *rel);
/* The manifest of an archive, its entries unchecked (list); NULL when it has none. */
json_t *bk_read_manifest(const char *path);
/* Holds every entry read against the manifest; returns the parsed manifest. */
json_t *bk_check_manifest(fr_reader *r);

#endif
