/*
 * backup.c - backup archives: create, list, verify, restore, prune, and
 * copies of the installation for rehearsals (SPEC section 8; see backup.h
 * for the archive's layout and promises).
 *
 * Heavy libraries are opened on first use (util/dl.h): libarchive writes
 * and reads the tar stream and extracts with its secure flags; libzstd
 * compresses it (ours, not libarchive's zstd filter, whose threads option
 * in 3.6 cannot bound the size of zstd's jobs: 70 to 115 MiB with one or
 * two workers); libcrypto hashes. A start that takes no backup loads none
 * of them.
 *
 * Every byte streams through fixed buffers: a file is read in 1 MiB
 * chunks, hashed and handed to libarchive; the manifest is written line by
 * line to a temporary file and added last. Names are UTF-8 in the archive:
 * libarchive's calls run under a C.UTF-8 thread locale (uselocale), so the
 * application's own locale is neither needed nor changed.
 */
#include "backup.h"
#include "db/db.h"
#include "util/alloc.h"
#include "util/dl.h"
#include "util/fs.h"
#include "util/thread.h"
#include "version.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#ifndef FR_LIBARCHIVE_SONAME
#define FR_LIBARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef FR_LIBZSTD_SONAME
#define FR_LIBZSTD_SONAME "libzstd.so.1"
#endif
#ifndef FR_LIBCRYPTO_SONAME
#define FR_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif

#define BK_CHUNK (1024 * 1024)          /* read and write unit */
#define BK_ZSTD_LEVEL 3                 /* as zstd's command line */
#define BK_ZSTD_JOB (2 * 1024 * 1024)   /* bounds zstd's per-worker buffers */
#define BK_ZSTD_MAX_WORKERS 4           /* 48 MiB peak RSS with 4, 76 with 8 */
#define BK_MANIFEST_MAX (256L * 1024 * 1024)
#define BK_PROGRESS_STEP (4u * 1024 * 1024)
#define BK_LINK_HOPS 40

/* ---- libraries, opened on first use ---- */

static struct {
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
} A;

static const fr_dl_sym archive_syms[] = {
	FR_DL_SYM(A, archive_write_new), FR_DL_SYM(A, archive_write_free),
	FR_DL_SYM(A, archive_write_set_format_pax),
	FR_DL_SYM(A, archive_write_add_filter_gzip), FR_DL_SYM(A, archive_write_set_filter_option),
	FR_DL_SYM(A, archive_write_set_bytes_per_block), FR_DL_SYM(A, archive_write_open),
	FR_DL_SYM(A, archive_write_header), FR_DL_SYM(A, archive_write_data),
	FR_DL_SYM(A, archive_write_data_block), FR_DL_SYM(A, archive_write_finish_entry),
	FR_DL_SYM(A, archive_write_close), FR_DL_SYM(A, archive_write_disk_new),
	FR_DL_SYM(A, archive_write_disk_set_options), FR_DL_SYM(A, archive_read_new),
	FR_DL_SYM(A, archive_read_free), FR_DL_SYM(A, archive_read_support_format_tar),
	FR_DL_SYM(A, archive_read_support_filter_gzip),
	FR_DL_SYM(A, archive_read_support_filter_zstd), FR_DL_SYM(A, archive_read_open_fd),
	FR_DL_SYM(A, archive_read_open),
	FR_DL_SYM(A, archive_read_next_header), FR_DL_SYM(A, archive_read_data_block),
	FR_DL_SYM(A, archive_filter_bytes), FR_DL_SYM(A, archive_error_string),
	FR_DL_SYM(A, archive_errno),
	FR_DL_SYM(A, archive_set_error), FR_DL_SYM(A, archive_entry_new),
	FR_DL_SYM(A, archive_entry_free), FR_DL_SYM(A, archive_entry_clear),
	FR_DL_SYM(A, archive_entry_set_pathname), FR_DL_SYM(A, archive_entry_set_size),
	FR_DL_SYM(A, archive_entry_set_filetype), FR_DL_SYM(A, archive_entry_set_perm),
	FR_DL_SYM(A, archive_entry_set_mtime), FR_DL_SYM(A, archive_entry_set_uid),
	FR_DL_SYM(A, archive_entry_set_gid), FR_DL_SYM(A, archive_entry_set_symlink),
	FR_DL_SYM(A, archive_entry_set_hardlink), FR_DL_SYM(A, archive_entry_pathname),
	FR_DL_SYM(A, archive_entry_filetype), FR_DL_SYM(A, archive_entry_perm),
	FR_DL_SYM(A, archive_entry_symlink), FR_DL_SYM(A, archive_entry_hardlink),
	{ NULL, NULL }
};

static struct {
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
} Z;

static const fr_dl_sym zstd_syms[] = {
	FR_DL_SYM(Z, ZSTD_createCCtx), FR_DL_SYM(Z, ZSTD_freeCCtx),
	FR_DL_SYM(Z, ZSTD_CCtx_setParameter), FR_DL_SYM(Z, ZSTD_compressStream2),
	FR_DL_SYM(Z, ZSTD_isError), FR_DL_SYM(Z, ZSTD_getErrorName),
	FR_DL_SYM(Z, ZSTD_createDCtx), FR_DL_SYM(Z, ZSTD_freeDCtx),
	FR_DL_SYM(Z, ZSTD_decompressStream), FR_DL_SYM(Z, ZSTD_DStreamInSize),
	{ NULL, NULL }
};

static fr_dl_lib archive_lib = FR_DL_LIB(FR_LIBARCHIVE_SONAME, "libarchive.so", archive_syms);
static fr_dl_lib zstd_lib = FR_DL_LIB(FR_LIBZSTD_SONAME, "libzstd.so", zstd_syms);

/* Opens libarchive and libcrypto, and libzstd when with_zstd. */
static int load_libs(ferry *f, int with_zstd)
{
	if (fr_dl_open(&archive_lib))
		return fr_fail(f, FERRY_EFAILED, "backups need libarchive: %s (install libarchive13)",
		               archive_lib.err);
	if (fr_crypto_load())
		return fr_fail(f, FERRY_EFAILED, "backups need libcrypto: %s (install libssl3)",
		               fr_crypto_error());
	if (with_zstd && fr_dl_open(&zstd_lib))
		return fr_fail(f, FERRY_EFAILED, "zstd backups need libzstd: %s (install libzstd1, "
		               "or set backup.compression: gzip)", zstd_lib.err);
	return 0;
}

/* ---- a C.UTF-8 locale for this thread while libarchive runs ---- */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Switches this thread to C.UTF-8; returns what to give utf8_leave(). */
static locale_t utf8_enter(void)
{
	pthread_once(&utf8_once, utf8_init);
	return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

static void utf8_leave(locale_t old)
{
	if (old)
		uselocale(old);
}

/* ---- small helpers ---- */

static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		        (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (n == 1 && *p < 0xc2))
			return 0;
		p++;
		while (n--) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			p++;
		}
	}
	return 1;
}

static size_t seglen(const char *s)
{
	const char *e = strchr(s, '/');
	return e ? (size_t)(e - s) : strlen(s);
}

static const char *segnext(const char *s, size_t n)
{
	return s[n] == '/' ? s + n + 1 : s + n;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Flushes the filesystem holding path (one call, not an fsync per file). */
static int sync_fs(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
	if (fd < 0)
		return -1;
	r = syncfs(fd);
	close(fd);
	return r;
}

/* The names in a folder but . and .., sorted bytewise. 0, or -1 with errno. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		fr_free(v[i]);
	fr_free(v);
}

static int list_dir(const char *path, char ***out, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **v = NULL;
	size_t len = 0, cap = 0;
	int e = 0;
	*out = NULL;
	*n = 0;
	if (!d)
		return -1;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nv = fr_realloc(v, ncap * sizeof *nv);
			if (!nv) {
				e = ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[len] = fr_strdup(de->d_name))) {
			e = ENOMEM;
			break;
		}
		len++;
		errno = 0;
	}
	if (!e && errno)
		e = errno;
	closedir(d);
	if (e) {
		names_free(v, len);
		errno = e;
		return -1;
	}
	if (len)
		qsort(v, len, sizeof *v, name_cmp);
	*out = v;
	*n = len;
	return 0;
}

/* rel of abs inside root ("" for root itself), or NULL when abs is outside. */
static const char *rel_in_root(const char *root, const char *abs)
{
	size_t n = strlen(root);
	if (strncmp(abs, root, n))
		return NULL;
	if (!abs[n])
		return abs + n;
	if (abs[n] == '/' || (n == 1 && root[0] == '/'))
		return abs + n + (abs[n] == '/');
	return NULL;
}

/* abs with ".", ".." and doubled slashes resolved lexically; NULL on OOM. */
static char *lexical(const char *abs)
{
	fr_buf b = FR_BUF_INIT;
	const char *p = abs;
	size_t n;
	for (; *p; p = segnext(p, n)) {
		n = seglen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(b.ptr, '/');
			fr_buf_truncate(&b, slash ? (size_t)(slash - b.ptr) : 0);
			continue;
		}
		fr_buf_putc(&b, '/');
		fr_buf_add(&b, p, n);
	}
	if (!b.len)
		fr_buf_putc(&b, '/');
	return fr_buf_detach(&b);
}

/* rel_in_root() of abs made lexical, as a new string; *out NULL when outside. -1 on OOM. */
static int rel_of(const char *root, const char *abs, char **out)
{
	char *l = lexical(abs);
	const char *rel = l ? rel_in_root(root, l) : NULL;
	*out = rel ? fr_strdup(rel) : NULL;
	fr_free(l);
	return !l || (rel && !*out) ? -1 : 0;
}

/*
 * 1 when the target of a symbolic link at rel (relative to root) stays
 * inside root read lexically: an absolute target must start with root, a
 * relative one never climbs above it.
 */
static int link_inside(const char *root, const char *rel, const char *target)
{
	const char *p;
	long depth = 0;
	size_t n;
	if (!*target)
		return 0;
	if (target[0] == '/') {
		p = rel_in_root(root, target);
		if (!p)
			return 0;
	} else {
		for (p = rel; *p; p = segnext(p, n)) {
			n = seglen(p);
			if (n)
				depth++;
		}
		depth--; /* the link's own folder */
		p = target;
	}
	for (; *p; p = segnext(p, n)) {
		n = seglen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else {
			depth++;
		}
	}
	return 1;
}

/* ---- globs and the selection of files ---- */

static int comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	char pb[NAME_MAX * 4 + 1], sb[NAME_MAX * 4 + 1];
	if (pn >= sizeof pb || sn >= sizeof sb)
		return 0;
	memcpy(pb, p, pn);
	pb[pn] = '\0';
	memcpy(sb, s, sn);
	sb[sn] = '\0';
	return fnmatch(pb, sb, 0) == 0;
}

static int is_globstar(const char *p, size_t n)
{
	return n == 2 && p[0] == '*' && p[1] == '*';
}

int fr_backup_glob(const char *p, const char *s)
{
	size_t pn, sn;
	if (!*p)
		return !*s;
	pn = seglen(p);
	if (is_globstar(p, pn)) {
		const char *rest = segnext(p, pn);
		for (;;) {
			if (fr_backup_glob(rest, s))
				return 1;
			if (!*s)
				return 0;
			s = segnext(s, seglen(s));
		}
	}
	if (!*s)
		return 0;
	sn = seglen(s);
	return comp_match(p, pn, s, sn) && fr_backup_glob(segnext(p, pn), segnext(s, sn));
}

/* 1 when something strictly below folder s could match p. */
static int glob_below(const char *p, const char *s)
{
	size_t pn, sn;
	if (!*p)
		return 0;
	pn = seglen(p);
	if (is_globstar(p, pn) || !*s)
		return 1;
	sn = seglen(s);
	return comp_match(p, pn, s, sn) && glob_below(segnext(p, pn), segnext(s, sn));
}

/* A pattern as written, less a leading "./" or "/" and a trailing "/". */
static char *pattern_norm(const char *p)
{
	size_t n;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	return fr_strndup(p, n);
}

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

static void sel_free(fr_sel *s)
{
	names_free(s->inc, s->ninc);
	names_free(s->exc, s->nexc);
	names_free(s->hard, s->nhard);
	memset(s, 0, sizeof *s);
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv;
	if (!s)
		return -1;
	nv = fr_realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv) {
		fr_free(s);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/* Adds abs (and, for a database, its -wal, -shm and -journal) when inside the root. */
static int sel_hard(fr_sel *s, const char *abs, int db)
{
	static const char *const side[] = { "", "-wal", "-shm", "-journal" };
	char *rel = NULL;
	size_t i;
	int rc = 0;
	if (!abs)
		return 0;
	if (rel_of(s->root, abs, &rel))
		return -1;
	for (i = 0; rel && *rel && i < (db ? 4u : 1u) && !rc; i++) {
		fr_buf b = FR_BUF_INIT;
		fr_buf_printf(&b, "%s%s", rel, side[i]);
		rc = strv_push(&s->hard, &s->nhard, fr_buf_detach(&b));
	}
	fr_free(rel);
	return rc;
}

/*
 * The selection of f's installation. include/exclude: the lists to use
 * (a manifest's, on restore; JSON null: everything, nothing), or NULL to
 * take ferry.yaml's.
 */
static int sel_init(fr_sel *s, ferry *f, json_t *include, json_t *exclude, int copy)
{
	size_t i;
	memset(s, 0, sizeof *s);
	s->root = f->root;
	s->copy = copy;
	if (include && json_is_array(include)) {
		json_t *v;
		json_array_foreach(include, i, v)
			if (json_is_string(v) &&
			    strv_push(&s->inc, &s->ninc, pattern_norm(json_string_value(v))))
				goto oom;
		/* An empty list takes nothing; JSON null (neither branch) takes everything. */
		if (!s->ninc && !(s->inc = fr_calloc(1, sizeof *s->inc)))
			goto oom;
	} else if (!include && f->cfg->n_backup_include) {
		for (i = 0; i < f->cfg->n_backup_include; i++)
			if (strv_push(&s->inc, &s->ninc, pattern_norm(f->cfg->backup_include[i])))
				goto oom;
	}
	if (exclude && json_is_array(exclude)) {
		json_t *v;
		json_array_foreach(exclude, i, v)
			if (json_is_string(v) &&
			    strv_push(&s->exc, &s->nexc, pattern_norm(json_string_value(v))))
				goto oom;
	} else if (!exclude) {
		for (i = 0; i < f->cfg->n_backup_exclude; i++)
			if (strv_push(&s->exc, &s->nexc, pattern_norm(f->cfg->backup_exclude[i])))
				goto oom;
	}
	for (i = 0; i < f->cfg->ndbs; i++)
		if (sel_hard(s, f->cfg->dbs[i].path, 1))
			goto oom;
	if (sel_hard(s, f->cfg->backup_dir, 0))
		goto oom;
	return 0;
oom:
	sel_free(s);
	return -1;
}

/* 1 when rel is one of the paths a restore must never write: .ferry, databases, backups. */
static int sel_is_hard(const fr_sel *s, const char *rel)
{
	size_t i, n;
	if (!strncmp(rel, ".ferry", 6) && (!rel[6] || rel[6] == '/'))
		return 1;
	for (i = 0; i < s->nhard; i++) {
		n = strlen(s->hard[i]);
		if (!strncmp(rel, s->hard[i], n) && (!rel[n] || rel[n] == '/'))
			return 1;
	}
	return 0;
}

/* Why an entry is left out, for the log; NULL when it is left out silently. */
static int sel_decide(const fr_sel *s, const char *rel, const struct stat *st, const char *link,
                      int parent_taken, const char **why)
{
	const char *base = strrchr(rel, '/');
	size_t i;
	*why = NULL;
	base = base ? base + 1 : rel;
	if (sel_is_hard(s, rel))
		return SEL_SKIP;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) {
		*why = "not a file, folder or link";
		return SEL_SKIP;
	}
	if (!s->copy && !valid_utf8(rel)) {
		*why = "its name is not UTF-8";
		return SEL_SKIP;
	}
	if (S_ISLNK(st->st_mode) && (!link || !link_inside(s->root, rel, link))) {
		*why = "a symbolic link that leads out of the installation";
		return SEL_SKIP;
	}
	if (s->copy)
		return SEL_TAKE;
	for (i = 0; i < s->nexc; i++) {
		const char *p = s->exc[i];
		if (strchr(p, '/') ? fr_backup_glob(p, rel) : fnmatch(p, base, 0) == 0)
			return SEL_SKIP;
	}
	if (!s->inc || parent_taken)
		return SEL_TAKE;
	for (i = 0; i < s->ninc; i++)
		if (fr_backup_glob(s->inc[i], rel))
			return SEL_TAKE;
	if (S_ISDIR(st->st_mode))
		for (i = 0; i < s->ninc; i++)
			if (glob_below(s->inc[i], rel))
				return SEL_DESCEND;
	return SEL_SKIP;
}

/* ---- walking the installation ---- */

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

static int walk_dir(fr_walk *w, fr_buf *rel, fr_buf *full, int parent_taken)
{
	char **names = NULL, link[PATH_MAX];
	size_t n = 0, i, rl = rel->len, fl = full->len;
	int rc = 0;
	if (list_dir(full->ptr, &names, &n)) {
		fr_buf_printf(&w->err, "cannot read folder '%s': %s", full->ptr, strerror(errno));
		return -1;
	}
	for (i = 0; i < n && !rc; i++) {
		struct stat st;
		const char *why, *lk = NULL;
		int sel;
		fr_buf_truncate(rel, rl);
		fr_buf_truncate(full, fl);
		if (rl)
			fr_buf_putc(rel, '/');
		fr_buf_puts(rel, names[i]);
		fr_buf_putc(full, '/');
		fr_buf_puts(full, names[i]);
		if (rel->oom || full->oom) {
			fr_buf_puts(&w->err, "out of memory");
			rc = -1;
			break;
		}
		if (w->f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			break;
		}
		if (lstat(full->ptr, &st)) {
			if (errno == ENOENT)
				continue; /* gone since the listing */
			fr_buf_printf(&w->err, "cannot read '%s': %s", full->ptr, strerror(errno));
			rc = -1;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlink(full->ptr, link, sizeof link - 1);
			if (k >= 0) {
				link[k] = '\0';
				lk = link;
			}
		}
		sel = sel_decide(w->sel, rel->ptr, &st, lk, parent_taken, &why);
		if (sel == SEL_SKIP) {
			if (why && !w->quiet)
				fr_log(w->f, FERRY_LOG_WARN, NULL, "left out of the backup: '%s' (%s)",
				       rel->ptr, why);
			continue;
		}
		rc = w->fn(w, WALK_ENTRY, rel->ptr, full->ptr, &st, lk, sel);
		if (!rc && S_ISDIR(st.st_mode)) {
			rc = walk_dir(w, rel, full, sel == SEL_TAKE);
			if (!rc) {
				fr_buf_truncate(rel, rl);
				fr_buf_truncate(full, fl);
				if (rl)
					fr_buf_putc(rel, '/');
				fr_buf_puts(rel, names[i]);
				fr_buf_putc(full, '/');
				fr_buf_puts(full, names[i]);
				rc = w->fn(w, WALK_LEAVE, rel->ptr, full->ptr, &st, NULL, sel);
			}
		}
	}
	fr_buf_truncate(rel, rl);
	fr_buf_truncate(full, fl);
	names_free(names, n);
	return rc;
}

/* Walks the root; 0, FERRY_EINTERRUPTED, or non-zero with w->err set (or the fn's code). */
static int walk(fr_walk *w)
{
	fr_buf rel = FR_BUF_INIT, full = FR_BUF_INIT;
	int rc;
	fr_buf_puts(&full, w->f->root);
	if (full.len > 1 && full.ptr[full.len - 1] == '/')
		fr_buf_truncate(&full, full.len - 1);
	rc = walk_dir(w, &rel, &full, 0);
	fr_buf_release(&rel);
	fr_buf_release(&full);
	return rc;
}

/* ---- progress ---- */

typedef struct {
	ferry *f;
	const char *what;
	uint64_t done, total, next;
} fr_prog;

static void prog_report(fr_prog *p)
{
	if (p->f->progress)
		p->f->progress(p->f->progress_ctx, p->what, (unsigned long)p->done,
		               (unsigned long)p->total);
}

static void prog_start(fr_prog *p, ferry *f, const char *what, uint64_t total)
{
	p->f = f;
	p->what = what;
	p->done = 0;
	p->total = total;
	p->next = BK_PROGRESS_STEP;
	prog_report(p);
}

/* Moves to done (an absolute count); reports every few MiB. */
static void prog_at(fr_prog *p, uint64_t done)
{
	p->done = p->total && done > p->total ? p->total : done;
	if (p->done >= p->next) {
		p->next = p->done + BK_PROGRESS_STEP;
		prog_report(p);
	}
}

static void prog_end(fr_prog *p)
{
	if (!p->total)
		p->total = p->done;
	p->done = p->total;
	prog_report(p);
}

/* ---- the backups table in state.db ---- */

#define BK_TABLE \
	"CREATE TABLE IF NOT EXISTS backups(id TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL," \
	" version TEXT, type TEXT, size INTEGER, created_at_ms INTEGER," \
	" verified INTEGER NOT NULL DEFAULT 0)"

/* verified: 1 checked by a verify or restore, 0 not checked yet, -1 found damaged. */
typedef struct {
	char *id, *path, *version, *type;
	int64_t size, created_at_ms;
	int verified;
	int tracked; /* a row of the table (else only a file in the folder) */
} bk_row;

static void rows_free(bk_row *r, size_t n)
{
	size_t i;
	for (i = 0; r && i < n; i++) {
		fr_free(r[i].id);
		fr_free(r[i].path);
		fr_free(r[i].version);
		fr_free(r[i].type);
	}
	fr_free(r);
}

static int tbl_exec(ferry *f, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3 *db = fr_state_sqlite(f->state);
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_exec(db, BK_TABLE, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	return 0;
fail:
	sqlite3_finalize(st);
	return fr_fail(f, FERRY_EFAILED, "cannot record backups in state.db: %s",
	               sqlite3_errmsg(db));
}

static int tbl_put(ferry *f, const bk_row *r)
{
	sqlite3 *db = fr_state_sqlite(f->state);
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;
	if (sqlite3_exec(db, BK_TABLE, NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO backups(id, path, version, type, size,"
	                           " created_at_ms, verified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->version, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->size);
		sqlite3_bind_int64(st, 6, r->created_at_ms);
		sqlite3_bind_int(st, 7, r->verified);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fr_fail(f, FERRY_EFAILED, "cannot record backup '%s' in state.db: %s", r->id,
		               sqlite3_errmsg(db));
	return 0;
}

static int tbl_verified(ferry *f, const char *id, int verified)
{
	return tbl_exec(f, "UPDATE backups SET verified = ?3 WHERE id = ?1", id, NULL, verified);
}

static int tbl_delete(ferry *f, const char *id)
{
	return tbl_exec(f, "DELETE FROM backups WHERE id = ?1", id, NULL, 0);
}

/* Drops the rows whose archive is gone (deleted by hand). */
static void tbl_drop_missing(ferry *f)
{
	sqlite3 *db = fr_state_sqlite(f->state);
	sqlite3_stmt *st = NULL;
	char **gone = NULL;
	size_t n = 0, i;
	if (sqlite3_prepare_v2(db, "SELECT id, path FROM backups", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(st, 0);
			const char *path = (const char *)sqlite3_column_text(st, 1);
			if (id && (!path || !fr_exists(path)))
				strv_push(&gone, &n, fr_strdup(id));
		}
	}
	sqlite3_finalize(st);
	for (i = 0; i < n; i++)
		tbl_delete(f, gone[i]);
	names_free(gone, n);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? fr_strdup((const char *)t) : NULL;
}

/* The file name part of an id: app with anything but [A-Za-z0-9._-] as '-'. */
static char *app_token(const char *app)
{
	char *s = fr_strdup(app && *app ? app : "app"), *p;
	for (p = s; p && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			*p = '-';
	return s;
}

static const char *const exts[] = { ".tar.zst", ".tar.gz", ".tar", NULL };

/* The extension of an archive name, or NULL. */
static const char *archive_ext(const char *name)
{
	size_t i, n = strlen(name);
	for (i = 0; exts[i]; i++) {
		size_t e = strlen(exts[i]);
		if (n > e && !strcmp(name + n - e, exts[i]))
			return name + n - e;
	}
	return NULL;
}

static int row_newest_first(const void *a, const void *b)
{
	const bk_row *x = a, *y = b;
	if (x->created_at_ms != y->created_at_ms)
		return x->created_at_ms < y->created_at_ms ? 1 : -1;
	return strcmp(y->id, x->id);
}

/*
 * Every backup: rows of the table whose file is there, and archives in the
 * backup folder that the table does not know (state.db lost or replaced),
 * newest first.
 */
static int gather(ferry *f, bk_row **out, size_t *n)
{
	sqlite3 *db = fr_state_sqlite(f->state);
	sqlite3_stmt *st = NULL;
	bk_row *v = NULL;
	size_t len = 0, cap = 0, i, nn = 0;
	char **names = NULL, *app = app_token(f->cfg->app);
	int rc = FERRY_EFAILED;
	*out = NULL;
	*n = 0;
	if (!app)
		goto oom;
	if (sqlite3_exec(db, BK_TABLE, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT id, path, version, type, size, created_at_ms, verified"
	                           " FROM backups", -1, &st, NULL) != SQLITE_OK) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read backups from state.db: %s",
		             sqlite3_errmsg(db));
		goto done;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct stat sb;
		bk_row r;
		memset(&r, 0, sizeof r);
		r.path = col_dup(st, 1);
		if (!r.path || stat(r.path, &sb) || !S_ISREG(sb.st_mode)) {
			fr_free(r.path);
			continue; /* deleted by hand: prune drops the row */
		}
		if (len == cap) {
			bk_row *nv = fr_realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *nv);
			if (!nv) {
				fr_free(r.path);
				goto oom;
			}
			v = nv;
		}
		r.id = col_dup(st, 0);
		r.version = col_dup(st, 2);
		r.type = col_dup(st, 3);
		r.size = sb.st_size;
		r.created_at_ms = sqlite3_column_int64(st, 5);
		r.verified = sqlite3_column_int(st, 6);
		r.tracked = 1;
		v[len++] = r;
		if (!r.id)
			goto oom;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (list_dir(f->cfg->backup_dir, &names, &nn) && errno != ENOENT) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot read backup folder '%s': %s",
		             f->cfg->backup_dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < nn; i++) {
		const char *ext = archive_ext(names[i]), *under;
		size_t al = strlen(app), k;
		struct stat sb;
		bk_row r;
		int known = 0;
		if (names[i][0] == '.' || !ext || strncmp(names[i], app, al) || names[i][al] != '_')
			continue;
		memset(&r, 0, sizeof r);
		r.id = fr_strndup(names[i], (size_t)(ext - names[i]));
		if (!r.id)
			goto oom;
		for (k = 0; k < len && !known; k++)
			known = !strcmp(v[k].id, r.id);
		r.path = known ? NULL : fr_path_join(f->cfg->backup_dir, names[i]);
		if (known || !r.path || stat(r.path, &sb) || !S_ISREG(sb.st_mode)) {
			fr_free(r.id);
			fr_free(r.path);
			if (!known && !r.path)
				goto oom;
			continue;
		}
		under = strrchr(r.id, '_');
		r.type = fr_strdup(under ? under + 1 : "manual");
		r.size = sb.st_size;
		r.created_at_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
		if (len == cap) {
			bk_row *nv = fr_realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *nv);
			if (!nv) {
				fr_free(r.id);
				fr_free(r.path);
				fr_free(r.type);
				goto oom;
			}
			v = nv;
		}
		v[len++] = r;
	}
	if (len)
		qsort(v, len, sizeof *v, row_newest_first);
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	rc = 0;
	goto done;
oom:
	rc = fr_fail(f, FERRY_EFAILED, "out of memory");
done:
	sqlite3_finalize(st);
	names_free(names, nn);
	rows_free(v, len);
	fr_free(app);
	return rc;
}

/* The backup called id (or an archive's path) into *out. */
static int find_backup(ferry *f, const char *id, bk_row *out)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	int rc;
	memset(out, 0, sizeof *out);
	if (!id || !*id)
		return fr_fail(f, FERRY_EINVALID, "no backup named (see 'ferry backup list')");
	if (strchr(id, '/')) {
		char path[PATH_MAX];
		const char *base, *ext;
		struct stat sb;
		if (!realpath(id, path) || stat(path, &sb) || !S_ISREG(sb.st_mode))
			return fr_fail(f, FERRY_EINVALID, "no backup archive at '%s'", id);
		base = strrchr(path, '/') + 1;
		ext = archive_ext(base);
		out->path = fr_strdup(path);
		out->id = ext ? fr_strndup(base, (size_t)(ext - base)) : fr_strdup(base);
		out->size = sb.st_size;
		if (!out->path || !out->id)
			return fr_fail(f, FERRY_EFAILED, "out of memory");
		return 0;
	}
	if ((rc = gather(f, &rows, &n)))
		return rc;
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].id, id))
			continue;
		*out = rows[i];
		memset(&rows[i], 0, sizeof rows[i]);
		rows_free(rows, n);
		return 0;
	}
	rows_free(rows, n);
	return fr_fail(f, FERRY_EINVALID, "no backup '%s' (see 'ferry backup list')", id);
}

static void row_clear(bk_row *r)
{
	fr_free(r->id);
	fr_free(r->path);
	fr_free(r->version);
	fr_free(r->type);
	memset(r, 0, sizeof *r);
}

/* ---- locking ---- */

/* Takes the lock unless f holds it; *took says whether to release it. */
static int lock_take(ferry *f, int *took)
{
	fr_buf err = FR_BUF_INIT;
	int rc;
	*took = 0;
	if (f->lock.fd >= 0)
		return 0;
	rc = fr_lock_acquire(&f->lock, f->ferry_dir, 0, &f->interrupted, &err);
	if (rc)
		rc = fr_fail_msg(f, rc, err.ptr);
	else
		*took = 1;
	fr_buf_release(&err);
	return rc;
}

static void lock_give(ferry *f, int took)
{
	if (took)
		fr_lock_release(&f->lock);
}

/* ---- writing an archive ---- */

/* Where libarchive's output goes: zstd (ours) or straight to the file. */
typedef struct {
	int fd;
	ZSTD_CCtx *z;
	unsigned char *out;
	size_t outcap;
	int err;          /* errno of the first failure */
	const char *zerr; /* zstd's message */
} fr_sink;

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	fr_sink *k = ctx;
	if (!k->z) {
		if (write_all(k->fd, buf, n)) {
			k->err = errno;
			A.archive_set_error(a, errno, "%s", strerror(errno));
			return -1;
		}
		return (la_ssize_t)n;
	}
	{
		ZSTD_inBuffer in = { buf, n, 0 };
		while (in.pos < in.size) {
			ZSTD_outBuffer out = { k->out, k->outcap, 0 };
			size_t r = Z.ZSTD_compressStream2(k->z, &out, &in, ZSTD_e_continue);
			if (Z.ZSTD_isError(r)) {
				k->zerr = Z.ZSTD_getErrorName(r);
				A.archive_set_error(a, EIO, "zstd: %s", k->zerr);
				return -1;
			}
			if (out.pos && write_all(k->fd, k->out, out.pos)) {
				k->err = errno;
				A.archive_set_error(a, errno, "%s", strerror(errno));
				return -1;
			}
		}
	}
	return (la_ssize_t)n;
}

/* Ends the zstd frame (libarchive has written its end-of-archive blocks). */
static int sink_close(struct archive *a, void *ctx)
{
	fr_sink *k = ctx;
	size_t r;
	if (!k->z)
		return ARCHIVE_OK;
	do {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer out = { k->out, k->outcap, 0 };
		r = Z.ZSTD_compressStream2(k->z, &out, &in, ZSTD_e_end);
		if (Z.ZSTD_isError(r)) {
			k->zerr = Z.ZSTD_getErrorName(r);
			A.archive_set_error(a, EIO, "zstd: %s", k->zerr);
			return ARCHIVE_FATAL;
		}
		if (out.pos && write_all(k->fd, k->out, out.pos)) {
			k->err = errno;
			A.archive_set_error(a, errno, "%s", strerror(errno));
			return ARCHIVE_FATAL;
		}
	} while (r);
	return ARCHIVE_OK;
}

static int sink_zstd_init(fr_sink *k)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int workers = cpus > BK_ZSTD_MAX_WORKERS ? BK_ZSTD_MAX_WORKERS : cpus > 1 ? (int)cpus : 0;
	k->z = Z.ZSTD_createCCtx();
	k->outcap = 512 * 1024;
	k->out = fr_malloc(k->outcap);
	if (!k->z || !k->out)
		return -1;
	Z.ZSTD_CCtx_setParameter(k->z, ZSTD_c_compressionLevel, BK_ZSTD_LEVEL);
	/* A libzstd built without threads refuses workers: it then compresses on this one. */
	if (workers && !Z.ZSTD_isError(Z.ZSTD_CCtx_setParameter(k->z, ZSTD_c_nbWorkers, workers)))
		Z.ZSTD_CCtx_setParameter(k->z, ZSTD_c_jobSize, BK_ZSTD_JOB);
	return 0;
}

static void sink_free(fr_sink *k)
{
	if (k->z)
		Z.ZSTD_freeCCtx(k->z);
	fr_free(k->out);
	k->z = NULL;
	k->out = NULL;
}

typedef struct {
	ferry *f;
	struct archive *a;
	struct archive_entry *e;
	fr_sink sink;
	fr_sha256 *md;
	unsigned char *buf;
	FILE *man;          /* the manifest being written */
	size_t nentries;
	uint64_t bytes;     /* content bytes so far */
	fr_prog prog;
	int64_t now_ms;
	fr_buf err;
	int changed_warned;
} fr_writer;

static int man_entry(fr_writer *w, const char *path, const char *type, const struct stat *st,
                     int64_t size, const char *sha, const char *target)
{
	json_t *o = json_object();
	char mode[8];
	int r;
	snprintf(mode, sizeof mode, "%04o", (unsigned)(st->st_mode & 07777));
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "size", json_integer(size));
	json_object_set_new(o, "mode", json_string(mode));
	json_object_set_new(o, "mtime", json_integer((json_int_t)st->st_mtim.tv_sec));
	if (sha)
		json_object_set_new(o, "sha256", json_string(sha));
	if (target)
		json_object_set_new(o, "target", json_string(target));
	fputs(w->nentries++ ? ",\n    " : "\n    ", w->man);
	r = json_dumpf(o, w->man, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (r || ferror(w->man)) {
		fr_buf_printf(&w->err, "cannot write the manifest: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void entry_set(fr_writer *w, const char *path, const struct stat *st, unsigned type)
{
	A.archive_entry_clear(w->e);
	A.archive_entry_set_pathname(w->e, path);
	A.archive_entry_set_filetype(w->e, type);
	A.archive_entry_set_perm(w->e, st->st_mode & 07777);
	A.archive_entry_set_mtime(w->e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	A.archive_entry_set_uid(w->e, st->st_uid);
	A.archive_entry_set_gid(w->e, st->st_gid);
}

static int header(fr_writer *w, const char *path)
{
	if (A.archive_write_header(w->a, w->e) < ARCHIVE_WARN) {
		fr_buf_printf(&w->err, "cannot add '%s': %s", path, w->sink.err ?
		              strerror(w->sink.err) : A.archive_error_string(w->a));
		return -1;
	}
	return 0;
}

/* Adds the regular file at full as name, hashing what goes in. */
static int add_file(fr_writer *w, const char *name, const char *full, const struct stat *lst,
                    int in_manifest)
{
	struct stat st;
	char sha[65];
	int64_t left, size;
	int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME), rc = -1;
	if (fd < 0 && errno == EPERM)
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* removed while we walked: it is not part of the backup */
		fr_buf_printf(&w->err, "cannot read '%s': %s", full, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fr_buf_printf(&w->err, "cannot read '%s': not a regular file any more", full);
		goto done;
	}
	if (lst)
		st.st_mode = (st.st_mode & ~07777u) | (lst->st_mode & 07777);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size = left = st.st_size;
	entry_set(w, name, &st, AE_IFREG);
	A.archive_entry_set_size(w->e, size);
	if (header(w, name))
		goto done;
	while (left > 0) {
		size_t want = left > BK_CHUNK ? BK_CHUNK : (size_t)left;
		ssize_t n = read(fd, w->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fr_buf_printf(&w->err, "cannot read '%s': %s", full, strerror(errno));
			goto done;
		}
		if (n == 0) {
			/* Shrunk while we read: the header promised size bytes, so zeros follow. */
			memset(w->buf, 0, want);
			n = (ssize_t)want;
			if (!w->changed_warned++)
				fr_log(w->f, FERRY_LOG_WARN, NULL, "'%s' changed while it was backed up",
				       name);
		}
		if (fr_sha256_update(w->md, w->buf, (size_t)n)) {
			fr_buf_puts(&w->err, "cannot hash: libcrypto failed");
			goto done;
		}
		if (A.archive_write_data(w->a, w->buf, (size_t)n) != n) {
			fr_buf_printf(&w->err, "cannot write '%s' into the archive: %s", name,
			              w->sink.err ? strerror(w->sink.err) :
			                            A.archive_error_string(w->a));
			goto done;
		}
		left -= n;
		w->bytes += (uint64_t)n;
		prog_at(&w->prog, w->bytes);
		if (w->f->interrupted) {
			rc = FERRY_EINTERRUPTED;
			goto done;
		}
	}
	if (fr_sha256_hex_reset(w->md, sha)) {
		fr_buf_puts(&w->err, "cannot hash: libcrypto failed");
		goto done;
	}
	rc = in_manifest ? man_entry(w, name, "file", &st, size, sha, NULL) : 0;
done:
	close(fd);
	return rc;
}

static int add_walked(fr_walk *wk, int event, const char *rel, const char *full,
                      const struct stat *st, const char *link, int sel)
{
	fr_writer *w = wk->ctx;
	fr_buf name = FR_BUF_INIT;
	int rc = -1;
	(void)sel;
	if (event == WALK_LEAVE)
		return 0;
	if (fr_buf_printf(&name, "files/%s", rel)) {
		fr_buf_puts(&w->err, "out of memory");
		return -1;
	}
	if (S_ISREG(st->st_mode)) {
		rc = add_file(w, name.ptr, full, st, 1);
	} else if (S_ISDIR(st->st_mode)) {
		entry_set(w, name.ptr, st, AE_IFDIR);
		rc = header(w, name.ptr) ? -1 : man_entry(w, name.ptr, "dir", st, 0, NULL, NULL);
	} else {
		entry_set(w, name.ptr, st, AE_IFLNK);
		A.archive_entry_set_symlink(w->e, link);
		rc = header(w, name.ptr) ? -1 : man_entry(w, name.ptr, "symlink", st, 0, NULL, link);
	}
	fr_buf_release(&name);
	if (rc > 0)
		return rc;
	return rc ? -1 : 0;
}

/* Totals of a walk: entries and content bytes, and the bytes of uncompressed tar. */
typedef struct {
	uint64_t entries, bytes, tar;
} fr_totals;

static int count_walked(fr_walk *wk, int event, const char *rel, const char *full,
                        const struct stat *st, const char *link, int sel)
{
	fr_totals *t = wk->ctx;
	(void)full;
	(void)link;
	(void)sel;
	if (event == WALK_LEAVE)
		return 0;
	t->entries++;
	/* A header, and a pax header too for long or non-ASCII names. */
	t->tar += 512 + (strlen(rel) > 90 ? 1024 : 0);
	if (S_ISREG(st->st_mode)) {
		t->bytes += (uint64_t)st->st_size;
		t->tar += ((uint64_t)st->st_size + 511) / 512 * 512;
	}
	return 0;
}

/* The size of each file database (0 for those that are not files or missing). */
static uint64_t db_file_size(const fr_dbconf *c)
{
	struct stat st;
	fr_buf wal = FR_BUF_INIT;
	uint64_t n = 0;
	if (!c->path || stat(c->path, &st))
		return 0;
	n = (uint64_t)st.st_size;
	fr_buf_printf(&wal, "%s-wal", c->path);
	if (!wal.oom && stat(wal.ptr, &st) == 0)
		n += (uint64_t)st.st_size; /* the copy holds what the WAL holds */
	fr_buf_release(&wal);
	return n;
}

static int totals(ferry *f, fr_totals *t, uint64_t *db_bytes, uint64_t *db_max)
{
	fr_walk wk;
	fr_sel sel;
	size_t i;
	int rc;
	memset(t, 0, sizeof *t);
	memset(&wk, 0, sizeof wk);
	if (sel_init(&sel, f, NULL, NULL, 0))
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	wk.f = f;
	wk.sel = &sel;
	wk.fn = count_walked;
	wk.ctx = t;
	wk.quiet = 1;
	fr_buf_init(&wk.err);
	rc = walk(&wk);
	if (rc == FERRY_EINTERRUPTED)
		rc = fr_fail(f, rc, "interrupted; nothing was written");
	else if (rc)
		rc = fr_fail_msg(f, FERRY_EFAILED, wk.err.ptr);
	fr_buf_release(&wk.err);
	sel_free(&sel);
	*db_bytes = *db_max = 0;
	for (i = 0; i < f->cfg->ndbs; i++) {
		uint64_t n = db_file_size(&f->cfg->dbs[i]);
		*db_bytes += n;
		if (n > *db_max)
			*db_max = n;
	}
	return rc;
}

int64_t fr_backup_estimate(ferry *f)
{
	fr_totals t;
	uint64_t dbs, dbmax;
	if (totals(f, &t, &dbs, &dbmax))
		return -1;
	/* tar of files and databases, each database's temporary copy, the manifest, the end. */
	return (int64_t)(t.tar + dbs + f->cfg->ndbs * 1024 + dbmax + t.entries * 256 + 65536);
}

/* A word for a type or label: letters, digits and those of extra; not empty. */
static int word_ok(const char *s, const char *extra)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return 0;
	return 1;
}

/* Removes temporary files of backups whose process is gone (killed mid-way). */
static void clean_stale(const char *dir)
{
	char **names = NULL;
	size_t n = 0, i;
	if (list_dir(dir, &names, &n))
		return;
	for (i = 0; i < n; i++) {
		const char *t = strstr(names[i], ".tmp-");
		long pid;
		char *end;
		if (names[i][0] != '.' || !t)
			continue;
		pid = strtol(t + 5, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH)) {
			char *p = fr_path_join(dir, names[i]);
			if (p)
				unlink(p);
			fr_free(p);
		}
	}
	names_free(names, n);
}

/* Creates the backup folder private (0700, whatever the umask) when it is missing. */
static int backup_dir_ready(ferry *f)
{
	const char *dir = f->cfg->backup_dir;
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fr_fail(f, FERRY_EFAILED, "backup folder '%s' is not a folder; fix "
			               "backup.dir in ferry.yaml", dir);
		return 0;
	}
	if (fr_mkdir_p(dir, 0700) || chmod(dir, 0700))
		return fr_fail(f, FERRY_EFAILED, "cannot create backup folder '%s': %s; fix "
		               "backup.dir in ferry.yaml or the folder's permissions", dir,
		               strerror(errno));
	return 0;
}

/* The databases as the manifest lists them; paths relative to the root when inside. */
static json_t *db_list(ferry *f, int *missing_driver, fr_buf *err)
{
	json_t *arr = json_array();
	size_t i;
	*missing_driver = 0;
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *c = &f->cfg->dbs[i];
		const fr_db_driver *drv = fr_db_driver_find(c->driver);
		json_t *o = json_object();
		char *rel = NULL;
		if (c->path)
			rel_of(f->root, c->path, &rel);
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "driver", json_string(c->driver ? c->driver : ""));
		json_object_set_new(o, "path", c->path ? json_string(rel ? rel : c->path) : json_null());
		fr_free(rel);
		if (!drv || !drv->snapshot) {
			fr_buf_printf(err, "database '%s': this build cannot copy '%s' databases",
			              c->name, c->driver ? c->driver : "?");
			*missing_driver = 1;
		} else if (strchr(c->name, '/') || !strcmp(c->name, ".") || !strcmp(c->name, "..")) {
			fr_buf_printf(err, "database name '%s' cannot name a file in a backup; rename "
			              "it in ferry.yaml", c->name);
			*missing_driver = 1;
		}
		if (c->path && !fr_exists(c->path)) {
			json_object_set_new(o, "entry", json_null()); /* not created yet */
		} else {
			fr_buf e = FR_BUF_INIT;
			fr_buf_printf(&e, "databases/%s%s", c->name,
			              drv && drv->snapshot_ext ? drv->snapshot_ext : "");
			json_object_set_new(o, "entry", json_string(e.ptr));
			fr_buf_release(&e);
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Writes the manifest's head: every key but entries, which it opens. */
/*
 * The steps applied when the backup is taken (state.db's registry). A
 * restore gives the registry back this list: steps on no database (ops,
 * scripts, native steps) have no record in a database to be read again.
 */
static json_t *applied_steps(ferry *f)
{
	json_t *a = json_array();
	fr_reg *regs = NULL;
	size_t n = 0, i;
	if (fr_state_registry_ex(f->state, 0, &regs, &n) == 0) {
		for (i = 0; i < n; i++)
			if (!strcmp(regs[i].status, "applied") || !strcmp(regs[i].status, "skipped"))
				json_array_append_new(a, json_string(regs[i].id));
	}
	fr_regs_free(regs, n);
	return a;
}

/* After a restore: the registry says applied exactly what was applied at the backup. */
static void restore_registry(ferry *f, json_t *man, const char *id)
{
	json_t *list = json_object_get(man, "applied_steps"), *v;
	fr_reg *regs = NULL;
	fr_buf msg = FR_BUF_INIT;
	size_t n = 0, i, k;
	if (!json_is_array(list) || fr_state_registry(f->state, &regs, &n))
		return; /* a backup from before the list was kept: the databases' records decide */
	fr_buf_printf(&msg, "restored from backup '%s'", id);
	fr_state_begin(f->state);
	for (i = 0; i < n; i++) {
		int applied = !strcmp(regs[i].status, "applied") || !strcmp(regs[i].status, "skipped");
		int listed = 0;
		json_array_foreach(list, k, v)
			if (json_is_string(v) && !strcmp(json_string_value(v), regs[i].id))
				listed = 1;
		if (applied == listed)
			continue;
		{
			fr_reg r = regs[i];
			r.status = listed ? "applied" : "rolled_back";
			r.message = msg.ptr;
			fr_state_reg_put(f->state, &r);
		}
	}
	fr_state_commit(f->state);
	fr_regs_free(regs, n);
	fr_buf_release(&msg);
}

static int man_head(fr_writer *w, ferry *f, const char *id, const char *type, const char *name,
                    const char *version, const char *compression, json_t *dbs)
{
	json_t *o = json_object();
	char ts[32], *text;
	size_t n;
	int rc = -1;
	fr_time_rfc3339(w->now_ms, ts, sizeof ts);
	json_object_set_new(o, "format", json_string("ferry-backup"));
	json_object_set_new(o, "format_version", json_integer(1));
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "app", json_string(f->cfg->app));
	json_object_set_new(o, "version", json_string(version));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "name", name ? json_string(name) : json_null());
	json_object_set_new(o, "created_at", json_string(ts));
	json_object_set_new(o, "created_at_ms", json_integer(w->now_ms));
	json_object_set_new(o, "ferry", json_string(FERRY_VERSION_STRING));
	json_object_set_new(o, "compression", json_string(compression));
	json_object_set_new(o, "include", f->cfg->n_backup_include ?
	                    strv_json(f->cfg->backup_include, f->cfg->n_backup_include) :
	                    json_null());
	json_object_set_new(o, "exclude", strv_json(f->cfg->backup_exclude,
	                                             f->cfg->n_backup_exclude));
	json_object_set_new(o, "databases", json_incref(dbs));
	json_object_set_new(o, "applied_steps", applied_steps(f));
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text) {
		fr_buf_puts(&w->err, "out of memory");
		return -1;
	}
	/* "{ ... \n}" less its closing brace, then the entries' opening. */
	n = strlen(text);
	while (n && (text[n - 1] == '}' || text[n - 1] == '\n'))
		n--;
	if (fwrite(text, 1, n, w->man) == n && fputs(",\n  \"entries\": [", w->man) >= 0)
		rc = 0;
	else
		fr_buf_printf(&w->err, "cannot write the manifest: %s", strerror(errno));
	free(text);
	return rc;
}

/* Snapshots each database into tmp and adds it under databases/. */
static int add_databases(fr_writer *w, ferry *f, json_t *dbs, const char *tmp)
{
	size_t i;
	json_t *o;
	json_array_foreach(dbs, i, o) {
		const char *entry = json_string_value(json_object_get(o, "entry"));
		const fr_dbconf *c = &f->cfg->dbs[i];
		fr_db *db = NULL;
		struct stat st;
		int rc;
		if (!entry)
			continue;
		unlink(tmp);
		if (fr_db_open(&db, c, &w->err))
			return -1;
		rc = db->drv->snapshot(db, tmp, &w->err);
		fr_db_close(db);
		if (rc) {
			unlink(tmp);
			return -1;
		}
		if (stat(tmp, &st)) {
			fr_buf_printf(&w->err, "database '%s': its copy vanished", c->name);
			return -1;
		}
		st.st_mode = S_IFREG | 0600;
		st.st_mtim.tv_sec = (time_t)(w->now_ms / 1000);
		st.st_mtim.tv_nsec = 0;
		rc = add_file(w, entry, tmp, &st, 1);
		unlink(tmp);
		if (rc)
			return rc;
	}
	return 0;
}

static int create_impl(ferry *f, const char *type, const char *name, const char *compression,
                       char **out_id)
{
	fr_writer w;
	fr_walk wk;
	fr_sel sel;
	fr_totals t;
	fr_version cur;
	fr_buf id = FR_BUF_INIT, path = FR_BUF_INIT, tmp = FR_BUF_INIT, mtmp = FR_BUF_INIT,
	       dtmp = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *dbs = NULL;
	char version[FR_VERSION_STR_MAX], stamp[32], *app = NULL;
	const char *ext;
	uint64_t db_bytes = 0, db_max = 0;
	int fd = -1, mfd = -1, rc = FERRY_EFAILED, took = 0, zstd, gzip, bad, renamed = 0;
	struct tm tm;
	time_t secs;
	bk_row row;

	*out_id = NULL;
	memset(&w, 0, sizeof w);
	memset(&wk, 0, sizeof wk);
	memset(&sel, 0, sizeof sel);
	fr_buf_init(&w.err);
	fr_buf_init(&wk.err);
	w.sink.fd = -1;
	if (!type)
		type = "manual";
	if (!compression)
		compression = f->cfg->backup_compression ? f->cfg->backup_compression : "zstd";
	if (!word_ok(type, "-"))
		return fr_fail(f, FERRY_EINVALID, "invalid backup type '%s' (use letters, digits "
		               "and '-')", type);
	if (name && !word_ok(name, "._-"))
		return fr_fail(f, FERRY_EINVALID, "invalid backup name '%s' (use letters, digits, "
		               "'.', '_' and '-', at most 64)", name);
	zstd = !strcmp(compression, "zstd");
	gzip = !strcmp(compression, "gzip");
	if (!zstd && !gzip && strcmp(compression, "none"))
		return fr_fail(f, FERRY_EINVALID, "unknown compression '%s' (use zstd, gzip or none)",
		               compression);
	ext = zstd ? ".tar.zst" : gzip ? ".tar.gz" : ".tar";
	if ((rc = lock_take(f, &took)))
		return rc;
	if ((rc = fr_current(f, &cur)) || (rc = backup_dir_ready(f)) ||
	    (rc = load_libs(f, zstd)))
		goto done;
	rc = FERRY_EFAILED;
	clean_stale(f->cfg->backup_dir);
	fr_version_format(&cur, version, sizeof version);
	dbs = db_list(f, &bad, &err);
	if (bad) {
		rc = fr_fail_msg(f, FERRY_EFAILED, err.ptr);
		goto done;
	}
	if ((rc = totals(f, &t, &db_bytes, &db_max)))
		goto done;
	rc = FERRY_EFAILED;

	/* The id: the time in UTC, made unique within the second. */
	w.now_ms = fr_now_ms();
	secs = (time_t)(w.now_ms / 1000);
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
	app = app_token(f->cfg->app);
	{
		int k, taken = 1;
		bk_row *rows = NULL;
		size_t nrows = 0, i;
		if (!app || gather(f, &rows, &nrows))
			goto oom_or_fail;
		for (k = 1; taken && k < 1000; k++) {
			fr_buf_reset(&id);
			fr_buf_printf(&id, "%s_%s", app, stamp);
			if (k > 1)
				fr_buf_printf(&id, "-%d", k);
			if (name)
				fr_buf_printf(&id, "_%s", name);
			fr_buf_printf(&id, "_%s", type);
			taken = 0;
			for (i = 0; i < nrows && !taken; i++)
				taken = !strcmp(rows[i].id, id.ptr);
			for (i = 0; exts[i] && !taken; i++) {
				fr_buf p = FR_BUF_INIT;
				fr_buf_printf(&p, "%s/%s%s", f->cfg->backup_dir, id.ptr, exts[i]);
				taken = fr_exists(p.ptr);
				fr_buf_release(&p);
			}
		}
		rows_free(rows, nrows);
	}
	fr_buf_printf(&path, "%s/%s%s", f->cfg->backup_dir, id.ptr, ext);
	fr_buf_printf(&tmp, "%s/.%s%s.tmp-%ld", f->cfg->backup_dir, id.ptr, ext, (long)getpid());
	fr_buf_printf(&mtmp, "%s/.%s.manifest.tmp-%ld", f->cfg->backup_dir, id.ptr, (long)getpid());
	fr_buf_printf(&dtmp, "%s/.%s.db.tmp-%ld", f->cfg->backup_dir, id.ptr, (long)getpid());
	if (id.oom || path.oom || tmp.oom || mtmp.oom || dtmp.oom)
		goto oom;

	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mfd = open(mtmp.ptr, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || mfd < 0 || fchmod(fd, 0600)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot create a backup in '%s': %s",
		             f->cfg->backup_dir, strerror(errno));
		goto done;
	}
	if (!(w.man = fdopen(mfd, "w+")))
		goto oom;
	mfd = -1;
	w.f = f;
	w.sink.fd = fd;
	w.buf = fr_malloc(BK_CHUNK);
	w.md = fr_sha256_new();
	w.e = A.archive_entry_new();
	w.a = A.archive_write_new();
	if (!w.buf || !w.md || !w.e || !w.a ||
	    (zstd && sink_zstd_init(&w.sink)))
		goto oom;
	/* pax, not pax_restricted: every entry keeps its mtime to the nanosecond. */
	if (A.archive_write_set_format_pax(w.a) != ARCHIVE_OK ||
	    (gzip && A.archive_write_add_filter_gzip(w.a) != ARCHIVE_OK) ||
	    A.archive_write_set_bytes_per_block(w.a, 0) != ARCHIVE_OK ||
	    A.archive_write_open(w.a, &w.sink, NULL, sink_write, sink_close) != ARCHIVE_OK) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot start the archive: %s",
		             A.archive_error_string(w.a));
		goto done;
	}
	prog_start(&w.prog, f, "backup", t.bytes + db_bytes);
	fr_log(f, FERRY_LOG_DEBUG, NULL, "backup '%s': %llu files and folders, %llu bytes",
	       id.ptr, (unsigned long long)t.entries, (unsigned long long)(t.bytes + db_bytes));
	if (man_head(&w, f, id.ptr, type, name, version, compression, dbs) ||
	    (rc = add_databases(&w, f, dbs, dtmp.ptr)) != 0)
		goto werr;

	if (sel_init(&sel, f, NULL, NULL, 0))
		goto oom;
	wk.f = f;
	wk.sel = &sel;
	wk.fn = add_walked;
	wk.ctx = &w;
	if ((rc = walk(&wk)) != 0) {
		if (rc != FERRY_EINTERRUPTED && wk.err.len)
			fr_buf_puts(&w.err, wk.err.ptr);
		goto werr;
	}

	/* The manifest's tail, then the manifest itself as the last entry. */
	fprintf(w.man, "\n  ],\n  \"entry_count\": %zu,\n  \"content_bytes\": %llu\n}\n",
	        w.nentries, (unsigned long long)w.bytes);
	if (fflush(w.man) || ferror(w.man)) {
		fr_buf_printf(&w.err, "cannot write the manifest: %s", strerror(errno));
		goto werr;
	}
	{
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_mode = S_IFREG | 0600;
		st.st_mtim.tv_sec = secs;
		st.st_uid = getuid();
		st.st_gid = getgid();
		if ((rc = add_file(&w, "MANIFEST.json", mtmp.ptr, &st, 0)) != 0)
			goto werr;
	}
	if (A.archive_write_close(w.a) != ARCHIVE_OK) {
		fr_buf_printf(&w.err, "cannot finish the archive: %s", w.sink.err ?
		              strerror(w.sink.err) : A.archive_error_string(w.a));
		goto werr;
	}
	if (fsync(fd)) {
		fr_buf_printf(&w.err, "cannot sync the archive: %s", strerror(errno));
		goto werr;
	}
	if (close(fd)) {
		fd = -1;
		fr_buf_printf(&w.err, "cannot write the archive: %s", strerror(errno));
		goto werr;
	}
	fd = -1;
	if (rename(tmp.ptr, path.ptr)) {
		fr_buf_printf(&w.err, "cannot rename the archive into place: %s", strerror(errno));
		goto werr;
	}
	renamed = 1;
	if (fr_fsync_parent(path.ptr)) {
		fr_buf_printf(&w.err, "cannot sync the backup folder: %s", strerror(errno));
		goto werr;
	}
	prog_end(&w.prog);

	memset(&row, 0, sizeof row);
	row.id = id.ptr;
	row.path = path.ptr;
	row.version = version;
	row.type = (char *)type;
	{
		struct stat st;
		row.size = stat(path.ptr, &st) == 0 ? st.st_size : 0;
	}
	row.created_at_ms = w.now_ms;
	if ((rc = tbl_put(f, &row)))
		goto done;
	fr_log(f, FERRY_LOG_INFO, NULL, "backup '%s' written (%lld bytes)", id.ptr,
	       (long long)row.size);
	*out_id = fr_buf_detach(&id);
	if (!*out_id)
		goto oom;
	fr_ok(f);
	rc = 0;
	goto done;

werr:
	if (rc == FERRY_EINTERRUPTED) {
		rc = fr_fail(f, rc, "interrupted; no backup was written");
	} else {
		rc = fr_fail(f, FERRY_EFAILED, "cannot write backup '%s': %s%s", id.ptr,
		             w.err.len ? w.err.ptr : "unknown error",
		             w.sink.err == ENOSPC || w.sink.err == EDQUOT ?
		             "; free some space or set backup.dir in ferry.yaml to a larger disk" : "");
	}
	goto done;
oom_or_fail:
	if (f->errcode) {
		rc = f->errcode;
		goto done;
	}
oom:
	rc = fr_fail(f, FERRY_EFAILED, "out of memory");
done:
	if (w.a)
		A.archive_write_free(w.a); /* closes what is open: the sink's fd is ours */
	if (w.e)
		A.archive_entry_free(w.e);
	if (w.md)
		fr_sha256_free(w.md);
	sink_free(&w.sink);
	fr_free(w.buf);
	if (w.man)
		fclose(w.man);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
	if (mtmp.len)
		unlink(mtmp.ptr);
	if (dtmp.len)
		unlink(dtmp.ptr);
	if (rc && tmp.len)
		unlink(tmp.ptr);
	if (rc && renamed) {
		unlink(path.ptr); /* recorded nowhere: do not leave it for list to show */
		fr_fsync_parent(path.ptr);
	}
	json_decref(dbs);
	sel_free(&sel);
	fr_buf_release(&wk.err);
	fr_buf_release(&w.err);
	fr_buf_release(&id);
	fr_buf_release(&path);
	fr_buf_release(&tmp);
	fr_buf_release(&mtmp);
	fr_buf_release(&dtmp);
	fr_buf_release(&err);
	fr_free(app);
	lock_give(f, took);
	return rc;
}

int fr_backup_create(ferry *f, const char *type, const char *name, char **out_id)
{
	locale_t old = utf8_enter();
	int rc = create_impl(f, type, name, NULL, out_id);
	utf8_leave(old);
	return rc;
}

int ferry_backup_create(char **out_id, ferry *f, const ferry_backup_options *opts)
{
	const char *type = NULL, *name = NULL, *comp = NULL;
	locale_t old;
	int rc;
	*out_id = NULL;
	if (opts && opts->version >= 1) {
		type = opts->type;
		name = opts->name;
		comp = opts->compression;
	}
	old = utf8_enter();
	rc = create_impl(f, type, name, comp, out_id);
	utf8_leave(old);
	return rc;
}

/* ---- reading an archive: verify, and extract for a restore ---- */

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

/* libarchive's message, with the system's words for its errno when it has one. */
static const char *disk_error(struct archive *a, char *buf, size_t n)
{
	int e = A.archive_errno(a);
	const char *m = A.archive_error_string(a);
	if (e > 0 && e < 4096 && (!m || !strstr(m, strerror(e))))
		snprintf(buf, n, "%s: %s", m ? m : "failed", strerror(e));
	else
		snprintf(buf, n, "%s", m ? m : "failed");
	return buf;
}

static void finding(fr_reader *r, const char *kind, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void finding(fr_reader *r, const char *kind, const char *subject, const char *fmt, ...)
{
	fr_buf m = FR_BUF_INIT;
	json_t *o = json_object();
	va_list ap;
	va_start(ap, fmt);
	fr_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "subject", json_string(subject && valid_utf8(subject) ? subject :
	                                              "(a name that is not UTF-8)"));
	json_object_set_new(o, "message", json_string(m.ptr));
	json_array_append_new(r->findings, o);
	r->nfind++;
	fr_buf_release(&m);
}

static fr_rec *rec_push(fr_reader *r, const char *path, char type)
{
	fr_rec *x;
	if (fr_grow(&r->recs, &r->caprecs, r->nrecs + 1, sizeof *r->recs))
		return NULL;
	x = &r->recs[r->nrecs];
	memset(x, 0, sizeof *x);
	if (!(x->path = fr_strdup(path)))
		return NULL;
	x->type = type;
	r->nrecs++;
	return x;
}

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const fr_rec *)a)->path, ((const fr_rec *)b)->path);
}

static fr_rec *rec_find(fr_reader *r, const char *path)
{
	fr_rec key;
	key.path = (char *)path;
	return r->nrecs ? bsearch(&key, r->recs, r->nrecs, sizeof key, rec_cmp) : NULL;
}

/*
 * The entry name made canonical: no "./" in front, no trailing '/'. NULL
 * when unsafe: absolute, with a ".." or an empty component.
 */
static char *name_norm(const char *name)
{
	const char *p;
	size_t n;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	n = strlen(name);
	while (n && name[n - 1] == '/')
		n--;
	if (!n || name[0] == '/')
		return NULL;
	for (p = name; p < name + n; p = segnext(p, seglen(p))) {
		size_t k = seglen(p);
		if (p + k > name + n)
			k = (size_t)(name + n - p);
		if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			return NULL;
		if (!p[k])
			break;
	}
	return fr_strndup(name, n);
}

/* "files/<rel>" -> rel; NULL for other names. */
static const char *files_rel(const char *name)
{
	return !strncmp(name, "files/", 6) && name[6] ? name + 6 : NULL;
}

/*
 * Follows the staged link at rel (below top) as the kernel would once the
 * tree is at root, through the links staged so far: 1 when it stays
 * inside. Components not there (yet) resolve lexically.
 */
static int resolves_inside(const char *top, const char *root, const char *rel)
{
	fr_buf cur = FR_BUF_INIT, rest = FR_BUF_INIT, full = FR_BUF_INIT, next = FR_BUF_INIT;
	char target[PATH_MAX];
	int hops = 0, inside = 0;
	fr_buf_puts(&rest, rel);
	while (rest.len) {
		size_t n = seglen(rest.ptr), cl = cur.len;
		struct stat st;
		char comp[NAME_MAX * 4 + 1];
		if (n >= sizeof comp)
			goto done;
		memcpy(comp, rest.ptr, n);
		comp[n] = '\0';
		next.len = 0;
		fr_buf_reset(&next);
		fr_buf_puts(&next, segnext(rest.ptr, n));
		fr_buf_reset(&rest);
		fr_buf_puts(&rest, next.ptr);
		if (!n || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash;
			if (!cur.len)
				goto done; /* above the root */
			slash = strrchr(cur.ptr, '/');
			fr_buf_truncate(&cur, slash ? (size_t)(slash - cur.ptr) : 0);
			continue;
		}
		if (cur.len)
			fr_buf_putc(&cur, '/');
		fr_buf_puts(&cur, comp);
		fr_buf_reset(&full);
		fr_buf_printf(&full, "%s/%s", top, cur.ptr);
		if (cur.oom || full.oom || rest.oom)
			goto done;
		if (lstat(full.ptr, &st) || !S_ISLNK(st.st_mode))
			continue;
		{
			ssize_t k = readlink(full.ptr, target, sizeof target - 1);
			if (k < 0 || ++hops > BK_LINK_HOPS)
				goto done;
			target[k] = '\0';
		}
		fr_buf_truncate(&cur, cl); /* the link is replaced by its target */
		fr_buf_reset(&next);
		if (target[0] == '/') {
			const char *in = rel_in_root(root, target);
			if (!in)
				goto done;
			fr_buf_truncate(&cur, 0);
			fr_buf_puts(&next, in);
		} else {
			fr_buf_puts(&next, target);
		}
		if (rest.len) {
			fr_buf_putc(&next, '/');
			fr_buf_puts(&next, rest.ptr);
		}
		fr_buf_reset(&rest);
		fr_buf_puts(&rest, next.ptr);
	}
	inside = !cur.oom && !rest.oom;
done:
	fr_buf_release(&cur);
	fr_buf_release(&rest);
	fr_buf_release(&full);
	fr_buf_release(&next);
	return inside;
}

/* 1 for a block of zeros worth a hole; most blocks are told by their first byte. */
static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	return n >= 4096 && b[0] == 0 && memcmp(b, b + 1, n - 1) == 0;
}

static int hash_bytes(fr_reader *r, const void *p, size_t n)
{
	return fr_sha256_update(r->md, p, n);
}

/* Reads one entry's data: hashes it (holes as zeros) and, restoring, writes it. */
/*
 * Starts writing a staged file to disk without waiting (Linux): the sync
 * before the swap then finds most of it done, and the disk works while
 * the next entries are decompressed.
 */
static void start_writeback(const char *path)
{
#ifdef SYNC_FILE_RANGE_WRITE
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
#else
	(void)path;
#endif
}

/* ---- reading: zstd decompressed on a thread of its own ---- */

/*
 * GNU tar runs zstd -d in a second process, so decompressing and writing
 * the files overlap; libarchive's own zstd filter does both in turn on one
 * thread. For a zstd archive the reader therefore decompresses on a thread
 * into a ring of ZP_SLOTS chunks, and libarchive reads the tar stream from
 * it (a custom read callback); hashing and writing stay where they were.
 * Memory: the ring, one input buffer and zstd's window.
 */
#define ZP_SLOTS 4

typedef struct {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *slot[ZP_SLOTS];
	size_t len[ZP_SLOTS];
	size_t filled, taken;       /* chunks published by the thread / handed to libarchive */
	int eof, quit;              /* the stream ended / the reader gave up */
	char err[160];              /* why the stream could not be decompressed */
	uint64_t in_bytes;          /* compressed bytes read so far (progress) */
	unsigned char *in;
	size_t incap;
	ZSTD_DCtx *z;
} fr_zpipe;

static int zp_publish(fr_zpipe *p, size_t len)
{
	int quit;
	pthread_mutex_lock(&p->mu);
	p->len[p->filled % ZP_SLOTS] = len;
	p->filled++;
	pthread_cond_broadcast(&p->cv);
	/*
	 * Chunks held..filled-1 are libarchive's or waiting for it (held: the
	 * one it has now, taken - 1); the next slot is free while they fill
	 * fewer than all the slots.
	 */
	while (!p->quit && p->filled - (p->taken ? p->taken - 1 : 0) >= ZP_SLOTS)
		pthread_cond_wait(&p->cv, &p->mu);
	quit = p->quit;
	pthread_mutex_unlock(&p->mu);
	return quit ? -1 : 0;
}

static void *zp_run(void *arg)
{
	fr_zpipe *p = arg;
	ZSTD_outBuffer out = { p->slot[0], BK_CHUNK, 0 };
	size_t last = 0;
	uint64_t in_total = 0;
	int full;
	for (;;) {
		ssize_t n = read(p->fd, p->in, p->incap);
		ZSTD_inBuffer in = { p->in, n > 0 ? (size_t)n : 0, 0 };
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(p->err, sizeof p->err, "cannot read: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if (last != 0)
				snprintf(p->err, sizeof p->err, "the zstd stream is cut short");
			break;
		}
		in_total += (uint64_t)n;
		__atomic_store_n(&p->in_bytes, in_total, __ATOMIC_RELAXED);
		/* A full chunk may leave output inside zstd: call again until it is not full. */
		do {
			last = Z.ZSTD_decompressStream(p->z, &out, &in);
			if (Z.ZSTD_isError(last)) {
				snprintf(p->err, sizeof p->err, "zstd: %s", Z.ZSTD_getErrorName(last));
				goto end;
			}
			full = out.pos == out.size;
			if (full) {
				if (zp_publish(p, out.pos))
					return NULL;
				out.dst = p->slot[p->filled % ZP_SLOTS];
				out.pos = 0;
			}
		} while (in.pos < in.size || full);
	}
end:
	pthread_mutex_lock(&p->mu);
	if (!p->err[0] && out.pos) {
		p->len[p->filled % ZP_SLOTS] = out.pos;
		p->filled++;
	}
	p->eof = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* libarchive's read callback: the next chunk; the one handed out before is free again. */
static la_ssize_t zp_read(struct archive *a, void *arg, const void **buf)
{
	fr_zpipe *p = arg;
	la_ssize_t n = 0;
	pthread_mutex_lock(&p->mu);
	/* The chunk libarchive held until now (if any) is given back; it takes the next. */
	p->taken++;
	pthread_cond_broadcast(&p->cv);
	while (p->filled < p->taken && !p->eof)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->filled >= p->taken) {
		size_t i = (p->taken - 1) % ZP_SLOTS;
		*buf = p->slot[i];
		n = (la_ssize_t)p->len[i];
	} else if (p->err[0]) {
		A.archive_set_error(a, EIO, "%s", p->err);
		n = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Frees what zp_start() allocated (the thread is stopped or was never started). */
static void zp_release(fr_zpipe *p)
{
	size_t i;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	for (i = 0; i < ZP_SLOTS; i++)
		fr_free(p->slot[i]);
	fr_free(p->in);
	if (p->z)
		Z.ZSTD_freeDCtx(p->z);
	fr_free(p);
}

/* Stops the thread and frees everything. */
static void zp_free(fr_zpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	zp_release(p);
}

/*
 * A decompressing thread for fd when it holds a zstd stream (and libzstd
 * and the memory are there); NULL otherwise, and libarchive's filters read
 * it. fd is left at its start either way.
 */
static fr_zpipe *zp_start(int fd)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	unsigned char head[4];
	fr_zpipe *p;
	size_t i;
	int ok;
	if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || memcmp(head, magic, 4) ||
	    fr_dl_open(&zstd_lib) || !(p = fr_calloc(1, sizeof *p)))
		return NULL;
	p->fd = fd;
	p->incap = Z.ZSTD_DStreamInSize();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	ok = (p->in = fr_malloc(p->incap)) && (p->z = Z.ZSTD_createDCtx());
	for (i = 0; ok && i < ZP_SLOTS; i++)
		ok = (p->slot[i] = fr_malloc(BK_CHUNK)) != NULL;
	if (!ok || fr_thread_start(&p->thread, zp_run, p)) {
		zp_release(p);
		return NULL;
	}
	return p;
}

static uint64_t zp_in_bytes(const fr_zpipe *p)
{
	return __atomic_load_n(&p->in_bytes, __ATOMIC_RELAXED);
}

static int read_data(fr_reader *r, const char *name, int64_t *size)
{
	const void *buf;
	size_t len;
	la_int64_t off, pos = 0;
	int ar;
	for (;;) {
		ar = A.archive_read_data_block(r->r, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			finding(r, "damaged", name, "cannot read: %s", A.archive_error_string(r->r));
			r->stop = 1;
			return -1;
		}
		while (pos < off) {
			size_t z = off - pos > BK_CHUNK ? BK_CHUNK : (size_t)(off - pos);
			hash_bytes(r, r->zeros, z);
			pos += (la_int64_t)z;
		}
		if (hash_bytes(r, buf, len)) {
			finding(r, "damaged", name, "cannot hash: libcrypto failed");
			r->stop = 1;
			return -1;
		}
		/*
		 * Zero blocks are left as holes (write_disk sets the size at the
		 * end): a sparse file stays sparse. Cheaper than libarchive's
		 * ARCHIVE_EXTRACT_SPARSE, which scans every block.
		 * Strict: write_disk reports a failed write() (disk full) as a warning.
		 */
		if (r->disk && !all_zero(buf, len) &&
		    A.archive_write_data_block(r->disk, buf, len, off) != ARCHIVE_OK) {
			char eb[512];
			finding(r, "write", name, "cannot write: %s", disk_error(r->disk, eb, sizeof eb));
			r->stop = r->write_failed = 1;
			return -1;
		}
		pos = off + (la_int64_t)len;
		prog_at(&r->prog, r->zp ? zp_in_bytes(r->zp)
		                        : (uint64_t)A.archive_filter_bytes(r->r, -1));
		if (r->f->interrupted) {
			r->stop = 1;
			return -1;
		}
	}
	*size = pos;
	return 0;
}

/* Checks a link entry; 0 when it may be written. */
static int check_link(fr_reader *r, const char *name, const char *lnk, int hard)
{
	const char *rel = files_rel(name);
	if (!rel) {
		finding(r, "unsafe", name, "a link outside files/");
		return -1;
	}
	if (hard) {
		char *t = name_norm(lnk);
		fr_rec *x = NULL;
		size_t i;
		int ok = t && files_rel(t);
		/* Only to a regular file this archive put in staging before. */
		for (i = 0; ok && i < r->nrecs && !x; i++)
			if (!strcmp(r->recs[i].path, t))
				x = &r->recs[i];
		ok = ok && x && x->type == 'f';
		if (ok && r->stage)
			ok = resolves_inside(r->stage, r->f->root, t);
		fr_free(t);
		if (!ok) {
			finding(r, "unsafe", name, "a hard link to '%s', which is not a file of this "
			        "backup", lnk);
			return -1;
		}
		return 0;
	}
	if (!link_inside(r->f->root, rel, lnk)) {
		finding(r, "unsafe", name, "a symbolic link to '%s', outside the installation", lnk);
		return -1;
	}
	return 0;
}

/* Reads the next entry; 1 at the end, 0 to go on, -1 to stop. */
static int read_entry(fr_reader *r)
{
	struct archive_entry *e;
	const char *raw, *lnk;
	char *name = NULL;
	fr_buf dest = FR_BUF_INIT, hl = FR_BUF_INIT;
	fr_rec *x;
	unsigned ft;
	int ar, rc = -1, hard;
	char type;
	int64_t size = 0;

	ar = A.archive_read_next_header(r->r, &e);
	if (ar == ARCHIVE_EOF)
		return 1;
	if (ar < ARCHIVE_WARN) {
		finding(r, "damaged", "archive", "cannot read the next entry: %s",
		        A.archive_error_string(r->r));
		r->stop = 1;
		return -1;
	}
	raw = A.archive_entry_pathname(e);
	if (!raw || !(name = name_norm(raw))) {
		finding(r, "unsafe", raw ? raw : "?", "an absolute path, '..', or an empty name");
		r->unsafe = r->stop = 1;
		goto done;
	}
	ft = A.archive_entry_filetype(e);
	lnk = A.archive_entry_hardlink(e);
	hard = lnk != NULL;
	type = hard ? 'h' : ft == AE_IFREG ? 'f' : ft == AE_IFDIR ? 'd' : ft == AE_IFLNK ? 'l' : 0;
	if (!hard && ft == AE_IFLNK)
		lnk = A.archive_entry_symlink(e);
	if (!strcmp(name, "MANIFEST.json") && type == 'f') {
		const void *buf;
		size_t len;
		la_int64_t off;
		if (r->have_manifest++) {
			finding(r, "duplicate", name, "a second manifest");
			r->stop = 1;
			goto done;
		}
		while ((ar = A.archive_read_data_block(r->r, &buf, &len, &off)) == ARCHIVE_OK) {
			if (r->manifest.len + len > (size_t)BK_MANIFEST_MAX ||
			    (la_int64_t)r->manifest.len != off || fr_buf_add(&r->manifest, buf, len)) {
				finding(r, "manifest", name, "too large or sparse");
				r->stop = 1;
				goto done;
			}
		}
		if (ar != ARCHIVE_EOF) {
			finding(r, "damaged", name, "cannot read: %s", A.archive_error_string(r->r));
			r->stop = 1;
			goto done;
		}
		rc = 0;
		goto done;
	}
	if (!type) {
		finding(r, "unsafe", name, "a device, pipe or socket");
		r->unsafe = r->stop = 1;
		goto done;
	}
	if (strncmp(name, "files/", 6) && strcmp(name, "files") &&
	    !(!strncmp(name, "databases/", 10) && name[10] && !strchr(name + 10, '/') &&
	      type == 'f') && !(!strcmp(name, "databases") && type == 'd')) {
		/* Nothing else belongs in a backup: not written, and a finding. */
		finding(r, "unexpected", name, "not part of a ferry backup");
		if (r->disk) {
			r->unsafe = r->stop = 1;
			goto done;
		}
	}
	if (files_rel(name) && r->sel && sel_is_hard(r->sel, files_rel(name))) {
		finding(r, "unsafe", name, "would overwrite ferry's state, a database or the "
		        "backups");
		r->unsafe = r->stop = 1;
		goto done;
	}
	if ((type == 'l' || type == 'h') && (!lnk || check_link(r, name, lnk, hard))) {
		if (!lnk)
			finding(r, "unsafe", name, "a link without a target");
		r->unsafe = r->stop = 1;
		goto done;
	}
	if (r->disk && strcmp(name, "files") && strcmp(name, "databases")) {
		fr_buf_printf(&dest, "%s/%s", r->stage, name);
		A.archive_entry_set_pathname(e, dest.ptr);
		if (hard) {
			char *t = name_norm(lnk);
			fr_buf_printf(&hl, "%s/%s", r->stage, t ? t : "");
			fr_free(t);
			A.archive_entry_set_hardlink(e, hl.ptr);
		}
		if (dest.oom || hl.oom) {
			finding(r, "write", name, "out of memory");
			r->stop = 1;
			goto done;
		}
		if (A.archive_write_header(r->disk, e) != ARCHIVE_OK) {
			char eb[512];
			finding(r, "write", name, "cannot extract: %s", disk_error(r->disk, eb, sizeof eb));
			r->stop = r->write_failed = 1;
			goto done;
		}
	}
	if (read_data(r, name, &size))
		goto done;
	if (r->disk && strcmp(name, "files") && strcmp(name, "databases") &&
	    A.archive_write_finish_entry(r->disk) != ARCHIVE_OK) {
		finding(r, "write", name, "cannot extract: %s", A.archive_error_string(r->disk));
		r->stop = 1;
		goto done;
	}
	if (r->disk && type == 'f' && size >= BK_CHUNK)
		start_writeback(dest.ptr);
	if (!(x = rec_push(r, name, type))) {
		finding(r, "damaged", name, "out of memory");
		r->stop = 1;
		goto done;
	}
	x->size = size;
	x->mode = (unsigned)A.archive_entry_perm(e) & 07777;
	if (fr_sha256_hex_reset(r->md, x->sha)) {
		finding(r, "damaged", name, "cannot hash: libcrypto failed");
		r->stop = 1;
		goto done;
	}
	if (lnk && !(x->target = fr_strdup(lnk))) {
		r->stop = 1;
		goto done;
	}
	if (r->disk && type == 'l' && strv_push(&r->links, &r->nlinks, fr_strdup(files_rel(name)))) {
		r->stop = 1;
		goto done;
	}
	rc = 0;
done:
	fr_free(name);
	fr_buf_release(&dest);
	fr_buf_release(&hl);
	return rc;
}

static const char *type_word(char t)
{
	return t == 'f' ? "file" : t == 'd' ? "dir" : t == 'l' ? "symlink" : "hardlink";
}

/* Holds every entry read against the manifest; returns the parsed manifest. */
static json_t *check_manifest(fr_reader *r)
{
	json_t *man, *entries, *o;
	json_error_t je;
	size_t i;
	if (!r->have_manifest) {
		finding(r, "manifest", "MANIFEST.json", "missing: not a ferry backup, or cut short");
		return NULL;
	}
	man = json_loadb(r->manifest.ptr, r->manifest.len, 0, &je);
	entries = json_object_get(man, "entries");
	if (!json_is_object(man) || !json_is_array(entries) ||
	    !json_is_string(json_object_get(man, "version"))) {
		finding(r, "manifest", "MANIFEST.json", "not a valid manifest: %s",
		        man ? "keys missing" : je.text);
		json_decref(man);
		return NULL;
	}
	if (r->nrecs)
		qsort(r->recs, r->nrecs, sizeof *r->recs, rec_cmp);
	for (i = 1; i < r->nrecs; i++)
		if (!strcmp(r->recs[i].path, r->recs[i - 1].path))
			finding(r, "duplicate", r->recs[i].path, "in the archive twice");
	json_array_foreach(entries, i, o) {
		const char *path = json_string_value(json_object_get(o, "path"));
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		const char *mode = json_string_value(json_object_get(o, "mode"));
		const char *target = json_string_value(json_object_get(o, "target"));
		json_int_t size = json_integer_value(json_object_get(o, "size"));
		fr_rec *x;
		if (!path || !type) {
			finding(r, "manifest", "MANIFEST.json", "entry %zu has no path or type", i);
			continue;
		}
		x = rec_find(r, path);
		if (!x) {
			finding(r, "missing", path, "listed in the manifest, not in the archive");
			continue;
		}
		x->seen = 1;
		if (strcmp(type, type_word(x->type))) {
			finding(r, "type", path, "a %s in the archive, a %s in the manifest",
			        type_word(x->type), type);
			continue;
		}
		if (x->type == 'f' && (size != x->size || !sha || strcmp(sha, x->sha))) {
			if (size != x->size)
				finding(r, "size", path, "%lld bytes in the archive, %lld in the manifest",
				        (long long)x->size, (long long)size);
			else
				finding(r, "checksum", path, "SHA-256 '%s' does not match the manifest's "
				        "'%s'", x->sha, sha ? sha : "");
			continue;
		}
		if ((x->type == 'l' || x->type == 'h') && (!target || strcmp(target, x->target)))
			finding(r, "target", path, "links to '%s', the manifest says '%s'", x->target,
			        target ? target : "");
		if (mode && x->type != 'l' && strtoul(mode, NULL, 8) != x->mode)
			finding(r, "mode", path, "mode %04o in the archive, %s in the manifest",
			        x->mode, mode);
	}
	for (i = 0; i < r->nrecs; i++)
		if (!r->recs[i].seen && (i == 0 || strcmp(r->recs[i].path, r->recs[i - 1].path)))
			finding(r, "unexpected", r->recs[i].path, "in the archive, not in the manifest");
	return man;
}

static void reader_free(fr_reader *r)
{
	size_t i;
	for (i = 0; i < r->nrecs; i++) {
		fr_free(r->recs[i].path);
		fr_free(r->recs[i].target);
	}
	fr_free(r->recs);
	names_free(r->links, r->nlinks);
	fr_buf_release(&r->manifest);
	json_decref(r->findings);
	fr_free(r->zeros);
	if (r->md)
		fr_sha256_free(r->md);
	if (r->r)
		A.archive_read_free(r->r);
	memset(r, 0, sizeof *r);
}

/*
 * Reads the archive at path to the end (or the first unsafe entry), then
 * holds it against its manifest. *man is the manifest when it could be
 * read. Returns 0 (findings may be there), or a code after failing f.
 */
static int read_archive(fr_reader *r, const char *path, const char *what, json_t **man)
{
	struct stat st;
	int fd, done = 0;
	*man = NULL;
	r->findings = json_array();
	r->zeros = fr_calloc(1, BK_CHUNK);
	r->md = fr_sha256_new();
	fr_buf_init(&r->manifest);
	if (!r->findings || !r->zeros || !r->md)
		return fr_fail(r->f, FERRY_EFAILED, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fr_fail(r->f, FERRY_EFAILED, "cannot open backup '%s': %s", path, strerror(e));
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->r = A.archive_read_new();
	if (!r->r) {
		close(fd);
		return fr_fail(r->f, FERRY_EFAILED, "out of memory");
	}
	A.archive_read_support_format_tar(r->r);
	r->zp = zp_start(fd);
	if (!r->zp) {
		A.archive_read_support_filter_zstd(r->r);
		A.archive_read_support_filter_gzip(r->r);
	}
	if ((r->zp ? A.archive_read_open(r->r, r->zp, NULL, zp_read, NULL)
	           : A.archive_read_open_fd(r->r, fd, BK_CHUNK)) != ARCHIVE_OK) {
		finding(r, "damaged", "archive", "not a tar archive ferry can read: %s",
		        A.archive_error_string(r->r));
		zp_free(r->zp);
		r->zp = NULL;
		close(fd);
		return 0;
	}
	prog_start(&r->prog, r->f, what, (uint64_t)st.st_size);
	while (!done && !r->stop)
		done = read_entry(r) == 1;
	A.archive_read_free(r->r); /* closes the archive; the fd stays ours */
	r->r = NULL;
	zp_free(r->zp);
	r->zp = NULL;
	close(fd);
	if (r->f->interrupted)
		return fr_fail(r->f, FERRY_EINTERRUPTED, "interrupted; nothing was changed");
	/*
	 * Damage found after the manifest (a gzip trailer's CRC) still leaves
	 * every entry read: name the ones that differ too.
	 */
	if (!r->stop || (r->have_manifest && !r->unsafe)) {
		prog_end(&r->prog);
		*man = check_manifest(r);
	}
	return 0;
}

/* "kind 'subject': message" of the first findings, for the handle's message. */
static void findings_text(fr_reader *r, fr_buf *out)
{
	size_t i;
	json_t *o;
	json_array_foreach(r->findings, i, o) {
		if (i == 3) {
			fr_buf_printf(out, "; and %zu more", r->nfind - 3);
			break;
		}
		fr_buf_printf(out, "%s%s '%s': %s", i ? "; " : "",
		              json_string_value(json_object_get(o, "kind")),
		              json_string_value(json_object_get(o, "subject")),
		              json_string_value(json_object_get(o, "message")));
	}
}

static int publish(ferry *f, json_t *doc, char **out)
{
	char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	if (!s)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	*out = fr_strdup(s);
	free(s);
	if (!*out)
		return fr_fail(f, FERRY_EFAILED, "out of memory");
	return 0;
}

static int verify_impl(char **out, ferry *f, const char *id)
{
	fr_reader r;
	bk_row row;
	json_t *man = NULL, *doc;
	fr_buf msg = FR_BUF_INIT;
	int rc;
	memset(&r, 0, sizeof r);
	if ((rc = find_backup(f, id, &row)))
		return rc;
	if ((rc = load_libs(f, 0)))
		goto done;
	r.f = f;
	if ((rc = read_archive(&r, row.path, "verify", &man)))
		goto done;
	if (row.tracked || !strchr(id, '/'))
		tbl_verified(f, row.id, r.nfind ? -1 : 1);
	doc = json_object();
	json_object_set_new(doc, "ok", json_boolean(r.nfind == 0));
	json_object_set_new(doc, "id", json_string(row.id));
	json_object_set_new(doc, "version", json_incref(json_object_get(man, "version")));
	json_object_set_new(doc, "entries", json_integer((json_int_t)r.nrecs));
	json_object_set_new(doc, "findings", json_incref(r.findings));
	if ((rc = publish(f, doc, out)))
		goto done;
	if (r.nfind) {
		findings_text(&r, &msg);
		rc = fr_fail(f, FERRY_EVERIFY, "backup '%s' is damaged: %s", row.id, msg.ptr);
	} else {
		fr_ok(f);
	}
done:
	json_decref(man);
	reader_free(&r);
	row_clear(&row);
	fr_buf_release(&msg);
	return rc;
}

int ferry_backup_verify(char **out, ferry *f, const char *id)
{
	locale_t old;
	int rc;
	*out = NULL;
	old = utf8_enter();
	rc = verify_impl(out, f, id);
	utf8_leave(old);
	return rc;
}

/* ---- restore: stage, swap, databases ---- */

/* A move made, with both paths ready, so that undoing it needs no memory. */
typedef struct {
	char *live;     /* root/rel */
	char *aside;    /* stage/rel (OP_IN) or old/rel (OP_OUT) */
} fr_op;

typedef struct {
	char *path;         /* root/rel, ready so that undo needs no memory */
	mode_t mode, old_mode;
	struct timespec mtime, old_mtime;
} fr_dirfix;

typedef struct {
	ferry *f;
	const fr_sel *sel;
	const char *root;
	fr_buf stage;       /* <work>/new/files */
	fr_buf old;         /* <work>/old/files */
	fr_op *ops;
	size_t nops, capops;
	fr_dirfix *dirs;
	size_t ndirs, capdirs;
	struct timespec root_mtime;
	fr_buf err;
} fr_swap;

static char *join3(const char *a, const char *rel)
{
	fr_buf b = FR_BUF_INIT;
	fr_buf_printf(&b, "%s/%s", a, rel);
	return fr_buf_detach(&b);
}

/* A new journal entry for rel (not counted until its move is made); NULL on OOM. */
static fr_op *swap_op(fr_swap *s, const char *aside_top, const char *rel)
{
	fr_op *o;
	if (fr_grow(&s->ops, &s->capops, s->nops + 1, sizeof *s->ops))
		goto oom;
	o = &s->ops[s->nops];
	o->live = join3(s->root, rel);
	o->aside = join3(aside_top, rel);
	if (o->live && o->aside)
		return o;
	fr_free(o->live);
	fr_free(o->aside);
oom:
	fr_buf_puts(&s->err, "out of memory");
	return NULL;
}

static void swap_op_drop(fr_op *o)
{
	fr_free(o->live);
	fr_free(o->aside);
}

/* Moves root/rel aside into old/rel. */
static int move_out(fr_swap *s, const char *rel)
{
	fr_op *o = swap_op(s, s->old.ptr, rel);
	char *slash;
	if (!o)
		return -1;
	slash = strrchr(o->aside, '/');
	*slash = '\0';
	if (fr_mkdir_p(o->aside, 0700)) {
		fr_buf_printf(&s->err, "cannot make room in '%s': %s", o->aside, strerror(errno));
		swap_op_drop(o);
		return -1;
	}
	*slash = '/';
	if (rename(o->live, o->aside)) {
		fr_buf_printf(&s->err, "cannot move '%s' aside: %s", o->live, strerror(errno));
		swap_op_drop(o);
		return -1;
	}
	s->nops++;
	return 0;
}

/* Moves stage/rel into root/rel. */
static int move_in(fr_swap *s, const char *rel)
{
	fr_op *o = swap_op(s, s->stage.ptr, rel);
	if (!o)
		return -1;
	if (rename(o->aside, o->live)) {
		fr_buf_printf(&s->err, "cannot move '%s' into place: %s%s", o->live, strerror(errno),
		              errno == EXDEV ? " (a folder of the installation is on another "
		                               "filesystem)" : "");
		swap_op_drop(o);
		return -1;
	}
	s->nops++;
	return 0;
}

/* Merges the staged folder rel into the live one (both exist, rel "" is the root). */
static int merge(fr_swap *s, const char *rel, int taken)
{
	char **lv = NULL, **sv = NULL, *sdir = NULL, *ldir = NULL, link[PATH_MAX];
	size_t nl = 0, ns = 0, i = 0, j = 0;
	int rc = -1, stage_there;
	struct stat sst;
	sdir = *rel ? join3(s->stage.ptr, rel) : fr_strdup(s->stage.ptr);
	ldir = *rel ? join3(s->root, rel) : fr_strdup(s->root);
	if (!sdir || !ldir)
		goto oom;
	stage_there = lstat(sdir, &sst) == 0 && S_ISDIR(sst.st_mode);
	if (*rel && stage_there) {
		/* The staged folder's mode and time, before moving its entries changes the time. */
		struct stat lst;
		fr_dirfix *d;
		if (s->ndirs == s->capdirs) {
			size_t ncap = s->capdirs ? s->capdirs * 2 : 32;
			fr_dirfix *nv = fr_realloc(s->dirs, ncap * sizeof *nv);
			if (!nv)
				goto oom;
			s->dirs = nv;
			s->capdirs = ncap;
		}
		if (lstat(ldir, &lst))
			goto fail_stat;
		d = &s->dirs[s->ndirs];
		if (!(d->path = fr_strdup(ldir)))
			goto oom;
		d->mode = sst.st_mode & 07777;
		d->mtime = sst.st_mtim;
		d->old_mode = lst.st_mode & 07777;
		d->old_mtime = lst.st_mtim;
		s->ndirs++;
	}
	if (list_dir(ldir, &lv, &nl) || (stage_there && list_dir(sdir, &sv, &ns)))
		goto fail_list;
	/* Both lists are sorted: walk their union. */
	while (i < nl || j < ns) {
		int c = i >= nl ? 1 : j >= ns ? -1 : strcmp(lv[i], sv[j]);
		const char *nm = c <= 0 ? lv[i] : sv[j];
		char *r = *rel ? join3(rel, nm) : fr_strdup(nm), *lp = NULL;
		struct stat lst, st2;
		int live = 0, staged = c >= 0, sel = SEL_SKIP, ok = 0;
		if (!r)
			goto oom;
		if (c <= 0 && (lp = join3(s->root, r)) && lstat(lp, &lst) == 0) {
			const char *why, *lk = NULL;
			live = 1;
			if (S_ISLNK(lst.st_mode)) {
				ssize_t k = readlink(lp, link, sizeof link - 1);
				if (k >= 0) {
					link[k] = '\0';
					lk = link;
				}
			}
			sel = sel_decide(s->sel, r, &lst, lk, taken, &why);
		}
		if (staged) {
			char *sp = join3(s->stage.ptr, r);
			staged = sp && lstat(sp, &st2) == 0;
			fr_free(sp);
		}
		if (live && staged && S_ISDIR(lst.st_mode) && S_ISDIR(st2.st_mode))
			ok = !merge(s, r, sel == SEL_TAKE);
		else if (staged)
			ok = !(live && move_out(s, r)) && !move_in(s, r);
		else if (live && sel == SEL_TAKE)
			ok = !move_out(s, r);
		else if (live && sel == SEL_DESCEND && S_ISDIR(lst.st_mode))
			ok = !merge(s, r, 0);
		else
			ok = 1; /* not ours: left alone */
		fr_free(lp);
		fr_free(r);
		if (!ok)
			goto done;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	rc = 0;
	goto done;
fail_stat:
fail_list:
	fr_buf_printf(&s->err, "cannot read '%s': %s", ldir, strerror(errno));
	goto done;
oom:
	fr_buf_puts(&s->err, "out of memory");
done:
	names_free(lv, nl);
	names_free(sv, ns);
	fr_free(sdir);
	fr_free(ldir);
	return rc;
}

static void dirs_apply(fr_swap *s, int undo)
{
	size_t i;
	for (i = s->ndirs; i-- > 0;) {
		fr_dirfix *d = &s->dirs[i];
		struct timespec ts[2];
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = undo ? d->old_mtime : d->mtime;
		chmod(d->path, undo ? d->old_mode : d->mode);
		utimensat(AT_FDCWD, d->path, ts, AT_SYMLINK_NOFOLLOW);
	}
	if (undo && s->root_mtime.tv_sec) {
		struct timespec ts[2];
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = s->root_mtime;
		utimensat(AT_FDCWD, s->root, ts, 0);
	}
}

/* Puts every moved entry back; 0, or -1 naming what could not be. */
static int swap_undo(fr_swap *s, fr_buf *err)
{
	int rc = 0;
	while (s->nops) {
		fr_op *o = &s->ops[--s->nops];
		/* An entry moved in goes back to staging; one moved aside comes back. */
		int in = !strncmp(o->aside, s->stage.ptr, s->stage.len) &&
		         o->aside[s->stage.len] == '/';
		if (in ? rename(o->live, o->aside) : rename(o->aside, o->live)) {
			fr_buf_printf(err, "%scannot put '%s' back: %s", rc ? "; " : "", o->live,
			              strerror(errno));
			rc = -1;
		}
		swap_op_drop(o);
	}
	/* Last: moving entries back changed their folders' times. */
	dirs_apply(s, 1);
	return rc;
}

static void swap_free(fr_swap *s)
{
	size_t i;
	for (i = 0; i < s->nops; i++)
		swap_op_drop(&s->ops[i]);
	for (i = 0; i < s->ndirs; i++)
		fr_free(s->dirs[i].path);
	fr_free(s->ops);
	fr_free(s->dirs);
	fr_buf_release(&s->stage);
	fr_buf_release(&s->old);
	fr_buf_release(&s->err);
}

/*
 * The work folder of a restore: beside the root (<parent>/.<name>.ferry-
 * restore.<pid>), on the root's filesystem so that moves are renames, or
 * in .ferry/ when the parent is not ours to write. Absolute and free of
 * links, as the secure extraction wants.
 */
static int work_dir(ferry *f, fr_buf *out)
{
	char *slash = strrchr(f->root, '/'), real[PATH_MAX];
	fr_buf p = FR_BUF_INIT;
	int rc = -1;
	if (slash && slash != f->root && slash[1]) {
		fr_buf_printf(&p, "%.*s/.%s.ferry-restore.%ld", (int)(slash - f->root), f->root,
		              slash + 1, (long)getpid());
		fr_rmtree(p.ptr);
		if (!p.oom && mkdir(p.ptr, 0700) == 0)
			goto made;
	}
	fr_buf_reset(&p);
	fr_buf_printf(&p, "%s/restore.%ld", f->ferry_dir, (long)getpid());
	fr_rmtree(p.ptr);
	if (p.oom || mkdir(p.ptr, 0700)) {
		fr_fail(f, FERRY_EFAILED, "cannot create a staging folder beside '%s': %s",
		        f->root, strerror(errno));
		goto done;
	}
made:
	if (!realpath(p.ptr, real)) {
		fr_fail(f, FERRY_EFAILED, "cannot use staging folder '%s': %s", p.ptr,
		        strerror(errno));
		fr_rmtree(p.ptr);
		goto done;
	}
	fr_buf_puts(out, real);
	rc = out->oom ? -1 : 0;
done:
	fr_buf_release(&p);
	return rc;
}

/* One database the restore replaces, and where its current content is kept meanwhile. */
typedef struct {
	const fr_dbconf *conf;
	char *staged;
	char *saved;        /* its content before, for undo (NULL for the last) */
	int restored;
} fr_dbjob;

static int db_undo(fr_dbjob *jobs, size_t n, fr_buf *err)
{
	int rc = 0;
	while (n--) {
		fr_db *db = NULL;
		if (!jobs[n].restored)
			continue;
		if (!jobs[n].saved || fr_db_open(&db, jobs[n].conf, err) ||
		    db->drv->restore(db, jobs[n].saved, err)) {
			if (!jobs[n].saved)
				fr_buf_printf(err, "database '%s' cannot be put back", jobs[n].conf->name);
			rc = -1;
		}
		fr_db_close(db);
	}
	return rc;
}

static int restore_impl(ferry *f, const char *id, int safety)
{
	fr_reader r;
	fr_swap s;
	fr_sel sel;
	bk_row row;
	fr_buf work = FR_BUF_INIT, newdir = FR_BUF_INIT, msg = FR_BUF_INIT, undo = FR_BUF_INIT;
	json_t *man = NULL, *o;
	fr_dbjob *jobs = NULL;
	fr_version v, before;
	char *safety_id = NULL, vtext[FR_VERSION_STR_MAX];
	size_t njobs = 0, i;
	int rc, took = 0, have_work = 0, recorded = 0, flags;

	memset(&r, 0, sizeof r);
	memset(&s, 0, sizeof s);
	memset(&sel, 0, sizeof sel);
	memset(&row, 0, sizeof row);
	fr_buf_init(&s.err);
	if ((rc = lock_take(f, &took)))
		return rc;
	if ((rc = find_backup(f, id, &row)) || (rc = load_libs(f, 0)) ||
	    (rc = fr_current(f, &before)))
		goto done;
	if (work_dir(f, &work)) {
		rc = f->errcode ? f->errcode : FERRY_EFAILED;
		goto done;
	}
	have_work = 1;
	fr_buf_printf(&s.stage, "%s/new/files", work.ptr);
	fr_buf_printf(&s.old, "%s/old/files", work.ptr);
	fr_buf_printf(&newdir, "%s/new", work.ptr);
	if (s.stage.oom || s.old.oom || newdir.oom || mkdir(newdir.ptr, 0700) ||
	    mkdir(s.stage.ptr, 0700) || sel_init(&sel, f, NULL, NULL, 0)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot stage the restore in '%s': %s", work.ptr,
		             strerror(errno));
		goto done;
	}

	/* 1. Extract into staging, checking each entry, then the whole against the manifest. */
	r.f = f;
	r.stage = newdir.ptr;
	r.sel = &sel;
	r.disk = A.archive_write_disk_new();
	flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	        ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	        ARCHIVE_EXTRACT_NO_OVERWRITE;
	/*
	 * Not ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: each name gets the staging
	 * folder's absolute path in front; read_entry() refuses absolute names
	 * in the archive itself first.
	 */
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER; /* as root, files keep their owners, as with tar */
	if (!r.disk || A.archive_write_disk_set_options(r.disk, flags) != ARCHIVE_OK) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	rc = read_archive(&r, row.path, "restore", &man);
	if (!rc && !r.stop && A.archive_write_close(r.disk) != ARCHIVE_OK) {
		char eb[512];
		finding(&r, "write", "staging", "cannot finish the extraction: %s",
		        disk_error(r.disk, eb, sizeof eb));
		r.write_failed = 1;
	}
	A.archive_write_free(r.disk);
	r.disk = NULL;
	if (rc)
		goto done;
	for (i = 0; !r.stop && i < r.nlinks; i++) {
		if (!resolves_inside(s.stage.ptr, f->root, r.links[i])) {
			fr_buf_reset(&undo);
			fr_buf_printf(&undo, "files/%s", r.links[i]);
			finding(&r, "unsafe", undo.ptr, "a symbolic link that leads out of the "
			        "installation through other links");
			r.unsafe = 1;
		}
	}
	if (r.nfind) {
		json_t *first = json_array_get(r.findings, 0);
		const char *k = json_string_value(json_object_get(first, "kind"));
		fr_buf_reset(&msg);
		findings_text(&r, &msg);
		/* Free the space first: a full disk is the likely cause, and state.db is next. */
		if (fr_rmtree(work.ptr) == 0)
			have_work = 0;
		if (row.tracked && !r.unsafe && !r.write_failed)
			tbl_verified(f, row.id, -1);
		rc = fr_fail(f, k && !strcmp(k, "write") ? FERRY_EFAILED : FERRY_EVERIFY,
		             "cannot restore backup '%s'; nothing was changed: %s%s", row.id, msg.ptr,
		             k && !strcmp(k, "write") ? " (is the disk full?)" : "");
		goto done;
	}
	if (strcmp(json_string_value(json_object_get(man, "app")) ?
	           json_string_value(json_object_get(man, "app")) : "", f->cfg->app)) {
		rc = fr_fail(f, FERRY_EINVALID, "backup '%s' is of app '%s', not '%s'; nothing was "
		             "changed", row.id, json_string_value(json_object_get(man, "app")),
		             f->cfg->app);
		goto done;
	}
	if (fr_version_parse(&v, json_string_value(json_object_get(man, "version")), &msg)) {
		rc = fr_fail(f, FERRY_EVERIFY, "backup '%s': its manifest's version is invalid: %s",
		             row.id, msg.ptr);
		goto done;
	}
	fr_version_format(&v, vtext, sizeof vtext);
	/*
	 * The swap selects as the backup did: a path ferry.yaml has taken in
	 * since is not in the archive, and must not be removed for it.
	 */
	sel_free(&sel);
	{
		json_t *inc = json_object_get(man, "include"), *exc = json_object_get(man, "exclude");
		if (sel_init(&sel, f, inc ? inc : json_null(), exc ? exc : json_null(), 0)) {
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
	}

	/* Every database of the backup must be one we can restore, before anything changes. */
	jobs = fr_calloc(json_array_size(json_object_get(man, "databases")) + 1, sizeof *jobs);
	if (!jobs) {
		rc = fr_fail(f, FERRY_EFAILED, "out of memory");
		goto done;
	}
	json_array_foreach(json_object_get(man, "databases"), i, o) {
		const char *nm = json_string_value(json_object_get(o, "name"));
		const char *entry = json_string_value(json_object_get(o, "entry"));
		const fr_dbconf *c = nm ? fr_config_db(f->cfg, nm) : NULL;
		const fr_db_driver *drv = c ? fr_db_driver_find(c->driver) : NULL;
		if (!entry)
			continue;
		if (!c || !drv || !drv->restore || !rec_find(&r, entry)) {
			rc = fr_fail(f, FERRY_EINVALID, "backup '%s' holds database '%s', which %s; "
			             "nothing was changed", row.id, nm ? nm : "?",
			             !c ? "ferry.yaml does not name" : !rec_find(&r, entry) ?
			             "is missing from the archive" : "this build cannot restore");
			goto done;
		}
		jobs[njobs].conf = c;
		jobs[njobs].staged = join3(r.stage, entry);
		if (!jobs[njobs].staged) {
			rc = fr_fail(f, FERRY_EFAILED, "out of memory");
			goto done;
		}
		njobs++;
	}
	if (sync_fs(s.stage.ptr)) {
		rc = fr_fail(f, FERRY_EFAILED, "cannot sync the staged files: %s", strerror(errno));
		goto done;
	}
	if (f->interrupted) {
		rc = fr_fail(f, FERRY_EINTERRUPTED, "interrupted; nothing was changed");
		goto done;
	}

	/* 2. The current state, backed up first. */
	if (safety) {
		rc = create_impl(f, "safety", NULL, NULL, &safety_id);
		if (rc) {
			fr_buf_reset(&msg);
			fr_buf_puts(&msg, ferry_errmsg(f));
			rc = fr_fail(f, rc, "cannot take the safety backup, so nothing was restored: %s "
			             "(or restore with --no-safety-backup)", msg.ptr);
			goto done;
		}
		fr_log(f, FERRY_LOG_INFO, NULL, "safety backup '%s' taken", safety_id);
	}

	/* 3. Swap the files in; 4. the version; 5. the databases. Any failure undoes it all. */
	s.f = f;
	s.sel = &sel;
	s.root = f->root;
	{
		char *oldtop = join3(work.ptr, "old");
		int bad = !oldtop || mkdir(oldtop, 0700) || mkdir(s.old.ptr, 0700);
		fr_free(oldtop);
		if (bad) {
			rc = fr_fail(f, FERRY_EFAILED, "cannot stage the restore in '%s': %s", work.ptr,
			             strerror(errno));
			goto done;
		}
	}
	{
		struct stat rst;
		if (stat(f->root, &rst) == 0)
			s.root_mtime = rst.st_mtim;
	}
	if (merge(&s, "", 0))
		goto undo;
	dirs_apply(&s, 0);
	if (fr_record_version(f, &v)) {
		fr_buf_puts(&s.err, ferry_errmsg(f));
		goto undo;
	}
	recorded = 1;
	for (i = 0; i + 1 < njobs; i++) {
		/* All but the last: the last one's restore is one transaction, so it needs none. */
		fr_db *db = NULL;
		fr_buf b = FR_BUF_INIT;
		int bad;
		fr_buf_printf(&b, "%s/old/db-%zu", work.ptr, i);
		jobs[i].saved = fr_buf_detach(&b);
		bad = !jobs[i].saved || fr_db_open(&db, jobs[i].conf, &s.err) ||
		      db->drv->snapshot(db, jobs[i].saved, &s.err);
		fr_db_close(db);
		if (bad)
			goto undo;
	}
	for (i = 0; i < njobs; i++) {
		fr_db *db = NULL;
		int bad = fr_db_open(&db, jobs[i].conf, &s.err) ||
		          db->drv->restore(db, jobs[i].staged, &s.err);
		fr_db_close(db);
		if (bad)
			goto undo;
		jobs[i].restored = 1;
	}
	sync_fs(f->root);
	restore_registry(f, man, row.id);
	tbl_verified(f, row.id, 1);
	fr_log(f, FERRY_LOG_INFO, NULL, "restored backup '%s': version %s", row.id, vtext);
	fr_ok(f);
	rc = 0;
	goto done;

undo:
	fr_buf_reset(&msg);
	fr_buf_puts(&msg, s.err.len ? s.err.ptr : "unknown error");
	{
		int bad = db_undo(jobs, njobs, &undo);
		if (recorded && fr_record_version(f, &before)) {
			fr_buf_printf(&undo, "%sversion: %s", undo.len ? "; " : "", ferry_errmsg(f));
			bad = 1;
		}
		if (swap_undo(&s, &undo))
			bad = 1;
		if (bad) {
			have_work = 0; /* what could not be put back is still there */
			rc = fr_fail(f, FERRY_EUNRECOVERED, "restore of backup '%s' failed (%s) and "
			             "could not put everything back: %s; the previous files are in "
			             "'%s/old'%s%s%s", row.id, msg.ptr, undo.ptr, work.ptr,
			             safety_id ? ", and in safety backup '" : "",
			             safety_id ? safety_id : "", safety_id ? "'" : "");
			goto done;
		}
	}
	rc = fr_fail(f, FERRY_EFAILED, "cannot restore backup '%s': %s; everything was put back "
	             "as it was", row.id, msg.ptr);
done:
	if (r.disk)
		A.archive_write_free(r.disk);
	if (have_work && fr_rmtree(work.ptr))
		fr_log(f, FERRY_LOG_WARN, NULL, "cannot remove staging folder '%s': %s", work.ptr,
		       strerror(errno));
	for (i = 0; jobs && i < njobs; i++) {
		fr_free(jobs[i].staged);
		fr_free(jobs[i].saved);
	}
	fr_free(jobs);
	fr_free(safety_id);
	json_decref(man);
	reader_free(&r);
	swap_free(&s);
	sel_free(&sel);
	row_clear(&row);
	fr_buf_release(&work);
	fr_buf_release(&newdir);
	fr_buf_release(&msg);
	fr_buf_release(&undo);
	lock_give(f, took);
	return rc;
}

int fr_backup_restore(ferry *f, const char *id, int safety_backup)
{
	locale_t old = utf8_enter();
	int rc = restore_impl(f, id, safety_backup);
	utf8_leave(old);
	return rc;
}

int ferry_backup_restore(ferry *f, const char *id, const ferry_restore_options *opts)
{
	return fr_backup_restore(f, id, !(opts && opts->version >= 1 && opts->no_safety_backup));
}

int ferry_rollback(ferry *f, const char *id, const ferry_restore_options *opts)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	char *pick = NULL;
	int rc;
	if (id)
		return ferry_backup_restore(f, id, opts);
	if ((rc = gather(f, &rows, &n)))
		return rc;
	/* The newest not known bad; safety backups are a restore's own, named by id to undo one. */
	for (i = 0; i < n && !pick; i++)
		if (rows[i].verified >= 0 && strcmp(rows[i].type, "safety"))
			pick = fr_strdup(rows[i].id);
	rows_free(rows, n);
	if (!pick)
		return fr_fail(f, FERRY_EINVALID, "no backup to roll back to (see 'ferry backup "
		               "list'; a safety backup is restored by its id)");
	rc = ferry_backup_restore(f, pick, opts);
	fr_free(pick);
	return rc;
}

/* ---- list, prune ---- */

static json_t *row_json(const bk_row *r, int64_t now)
{
	json_t *o = json_object();
	char ts[32];
	fr_time_rfc3339(r->created_at_ms, ts, sizeof ts);
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "version", r->version ? json_string(r->version) : json_null());
	json_object_set_new(o, "type", json_string(r->type ? r->type : "manual"));
	json_object_set_new(o, "size", json_integer(r->size));
	json_object_set_new(o, "created_at", json_string(ts));
	json_object_set_new(o, "path", json_string(r->path));
	json_object_set_new(o, "verified", json_boolean(r->verified > 0));
	json_object_set_new(o, "status", json_string(r->verified > 0 ? "verified" :
	                                             r->verified < 0 ? "damaged" : "unverified"));
	json_object_set_new(o, "age_seconds", json_integer((now - r->created_at_ms) / 1000));
	json_object_set_new(o, "tracked", json_boolean(r->tracked));
	return o;
}

int ferry_backup_list(char **out, ferry *f)
{
	bk_row *rows = NULL;
	size_t n = 0, i;
	json_t *doc, *arr;
	int64_t now = fr_now_ms();
	int rc;
	*out = NULL;
	if ((rc = gather(f, &rows, &n)))
		return rc;
	doc = json_object();
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, row_json(&rows[i], now));
	json_object_set_new(doc, "backups", arr);
	json_object_set_new(doc, "dir", json_string(f->cfg->backup_dir));
	rows_free(rows, n);
	if ((rc = publish(f, doc, out)))
		return rc;
	fr_ok(f);
	return 0;
}

int ferry_backup_prune(char **out, ferry *f, int keep, long older_than_seconds)
{
	bk_row *rows = NULL;
	size_t n = 0, i, keep_i = (size_t)-1;
	json_t *doc = NULL, *removed, *kept;
	int64_t now = fr_now_ms();
	int rc, took = 0;
	*out = NULL;
	if (keep < 0)
		keep = f->cfg->backup_keep;
	if ((rc = lock_take(f, &took)))
		return rc;
	if ((rc = gather(f, &rows, &n)))
		goto done;
	/* The newest good one stays: verified, else the newest not known damaged. */
	for (i = 0; i < n && keep_i == (size_t)-1; i++)
		if (rows[i].verified > 0)
			keep_i = i;
	for (i = 0; i < n && keep_i == (size_t)-1; i++)
		if (rows[i].verified == 0)
			keep_i = i;
	doc = json_object();
	removed = json_array();
	kept = json_array();
	for (i = 0; i < n; i++) {
		int old = older_than_seconds > 0 &&
		          now - rows[i].created_at_ms > (int64_t)older_than_seconds * 1000;
		if (i == keep_i || ((long)i < keep && !old)) {
			json_array_append_new(kept, json_string(rows[i].id));
			continue;
		}
		if (unlink(rows[i].path) && errno != ENOENT) {
			fr_log(f, FERRY_LOG_WARN, NULL, "cannot remove backup '%s': %s", rows[i].path,
			       strerror(errno));
			json_array_append_new(kept, json_string(rows[i].id));
			continue;
		}
		tbl_delete(f, rows[i].id);
		fr_log(f, FERRY_LOG_INFO, NULL, "backup '%s' removed", rows[i].id);
		json_array_append_new(removed, json_string(rows[i].id));
	}
	tbl_drop_missing(f);
	json_object_set_new(doc, "removed", removed);
	json_object_set_new(doc, "kept", kept);
	rc = publish(f, doc, out);
	doc = NULL;
	if (!rc)
		fr_ok(f);
done:
	json_decref(doc);
	rows_free(rows, n);
	lock_give(f, took);
	return rc;
}

/* ---- a copy of the installation, for rehearsals ---- */

typedef struct {
	ferry *f;
	const char *dest;
	unsigned char *buf;
	fr_buf *err;
} fr_copy;

static int copy_data(int in, int out, unsigned char *buf)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -1;
		break;
	}
	for (;;) {
		ssize_t n = read(in, buf, BK_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (write_all(out, buf, (size_t)n))
			return -1;
	}
}

static int copy_walked(fr_walk *wk, int event, const char *rel, const char *full,
                       const struct stat *st, const char *link, int sel)
{
	fr_copy *c = wk->ctx;
	char *to = join3(c->dest, rel);
	struct timespec ts[2];
	int rc = -1;
	(void)sel;
	if (!to) {
		fr_buf_puts(c->err, "out of memory");
		return -1;
	}
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = st->st_mtim;
	if (event == WALK_LEAVE) {
		/* The folder's own time, once its entries stopped changing it. */
		utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
		rc = 0;
	} else if (S_ISDIR(st->st_mode)) {
		if (mkdir(to, 0700) && errno != EEXIST)
			fr_buf_printf(c->err, "cannot create '%s': %s", to, strerror(errno));
		else if (chmod(to, st->st_mode & 07777))
			fr_buf_printf(c->err, "cannot set the mode of '%s': %s", to, strerror(errno));
		else
			rc = 0;
	} else if (S_ISLNK(st->st_mode)) {
		/* An absolute link into the root points into the copy, never at the original. */
		const char *in = link[0] == '/' ? rel_in_root(c->f->root, link) : NULL;
		char *target = in ? (*in ? join3(c->dest, in) : fr_strdup(c->dest)) : fr_strdup(link);
		if (!target || symlink(target, to))
			fr_buf_printf(c->err, "cannot create link '%s': %s", to, strerror(errno));
		else
			rc = 0;
		if (!rc)
			utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
		fr_free(target);
	} else {
		int in = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
		if (in < 0 && errno == ENOENT) {
			fr_free(to);
			return 0;
		}
		if (in >= 0)
			out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (in < 0 || out < 0 || copy_data(in, out, c->buf) ||
		    fchmod(out, st->st_mode & 07777) || futimens(out, ts))
			fr_buf_printf(c->err, "cannot copy '%s' to '%s': %s", full, to, strerror(errno));
		else
			rc = 0;
		if (in >= 0)
			close(in);
		if (out >= 0 && close(out) && !rc) {
			fr_buf_printf(c->err, "cannot copy '%s': %s", to, strerror(errno));
			rc = -1;
		}
	}
	fr_free(to);
	return rc;
}

/* A consistent copy of an SQLite file database with the online backup API. */
static int copy_sqlite(sqlite3 *src, const char *to, fr_buf *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;
	rc = sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		b = sqlite3_backup_init(dst, "main", src, "main");
		if (b) {
			rc = sqlite3_backup_step(b, -1);
			rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? SQLITE_OK :
			     sqlite3_errcode(dst);
		} else {
			rc = sqlite3_errcode(dst);
		}
	}
	if (rc != SQLITE_OK)
		fr_buf_printf(err, "cannot copy to '%s': %s", to, dst ? sqlite3_errmsg(dst) :
		              sqlite3_errstr(rc));
	sqlite3_close(dst);
	return rc == SQLITE_OK ? 0 : -1;
}

int fr_copy_installation(ferry *f, const char *dest_root, fr_buf *err)
{
	fr_copy c;
	fr_walk wk;
	fr_sel sel;
	fr_buf p = FR_BUF_INIT;
	char real[PATH_MAX];
	size_t i;
	int rc = -1;
	struct stat rst;
	memset(&wk, 0, sizeof wk);
	memset(&c, 0, sizeof c);
	fr_buf_init(&wk.err);
	if (fr_mkdir_p(dest_root, 0700) || !realpath(dest_root, real)) {
		fr_buf_printf(err, "cannot create '%s': %s", dest_root, strerror(errno));
		return -1;
	}
	if (rel_in_root(f->root, real) || rel_in_root(real, f->root)) {
		fr_buf_printf(err, "cannot copy the installation into '%s': it overlaps '%s'", real,
		              f->root);
		return -1;
	}
	if (sel_init(&sel, f, NULL, NULL, 1)) {
		fr_buf_puts(err, "out of memory");
		return -1;
	}
	c.f = f;
	c.dest = real;
	c.err = err;
	c.buf = fr_malloc(BK_CHUNK);
	wk.f = f;
	wk.sel = &sel;
	wk.fn = copy_walked;
	wk.ctx = &c;
	wk.quiet = 1;
	if (!c.buf) {
		fr_buf_puts(err, "out of memory");
		goto done;
	}
	rc = walk(&wk);
	if (rc) {
		if (wk.err.len)
			fr_buf_puts(err, wk.err.ptr);
		else if (rc == FERRY_EINTERRUPTED)
			fr_buf_puts(err, "interrupted");
		rc = -1;
		goto done;
	}
	if (stat(f->root, &rst) == 0)
		chmod(real, rst.st_mode & 07777);
	/* ferry's state, so that the copy opens at the same version with the same registry. */
	fr_buf_printf(&p, "%s/.ferry", real);
	if (p.oom || fr_mkdir_p(p.ptr, 0755)) {
		fr_buf_printf(err, "cannot create '%s': %s", p.ptr, strerror(errno));
		rc = -1;
		goto done;
	}
	fr_buf_puts(&p, "/state.db");
	if (copy_sqlite(fr_state_sqlite(f->state), p.ptr, err)) {
		rc = -1;
		goto done;
	}
	for (i = 0; i < f->cfg->ndbs; i++) {
		const fr_dbconf *dc = &f->cfg->dbs[i];
		char *rel = NULL;
		sqlite3 *src = NULL;
		int bad;
		if (!dc->path || strcmp(dc->driver, "sqlite") || !fr_exists(dc->path))
			continue;
		fr_buf_reset(&p);
		if (rel_of(f->root, dc->path, &rel) == 0 && rel && *rel)
			fr_buf_printf(&p, "%s/%s", real, rel);
		else
			fr_buf_printf(&p, "%s/.ferry/databases/%s.sqlite", real, dc->name);
		fr_free(rel);
		{
			char *slash = strrchr(p.ptr, '/');
			*slash = '\0';
			bad = fr_mkdir_p(p.ptr, 0755);
			*slash = '/';
		}
		if (bad || p.oom) {
			fr_buf_printf(err, "cannot create the folder of '%s': %s", p.ptr, strerror(errno));
			rc = -1;
			goto done;
		}
		bad = sqlite3_open_v2(dc->path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK;
		if (!bad) {
			sqlite3_busy_timeout(src, 5000);
			bad = copy_sqlite(src, p.ptr, err);
		} else {
			fr_buf_printf(err, "database '%s': cannot open '%s': %s", dc->name, dc->path,
			              src ? sqlite3_errmsg(src) : "out of memory");
		}
		sqlite3_close(src);
		if (bad) {
			rc = -1;
			goto done;
		}
	}
	rc = 0;
done:
	fr_free(c.buf);
	fr_buf_release(&wk.err);
	fr_buf_release(&p);
	sel_free(&sel);
	return rc;
}
