/*
 * libs.c - the heavy libraries of backups, opened on first use
 * (util/dl.h): libarchive writes and reads the tar stream and extracts
 * with its secure flags; libzstd compresses and decompresses it (ours,
 * not libarchive's zstd filter, whose threads option in 3.6 cannot bound
 * the size of zstd's jobs: 70 to 115 MiB with one or two workers);
 * libcrypto hashes. A start that takes no backup loads none of them.
 *
 * Names are UTF-8 in the archive: libarchive's calls run under a C.UTF-8
 * thread locale (uselocale), so the application's own locale is neither
 * needed nor changed.
 */
#include "backup_int.h"
#include "../util/dl.h"

#include <pthread.h>

#ifndef FR_LIBARCHIVE_SONAME
#define FR_LIBARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef FR_LIBZSTD_SONAME
#define FR_LIBZSTD_SONAME "libzstd.so.1"
#endif

struct bk_archive_fns bk_ar;
struct bk_zstd_fns bk_zs;
static const fr_dl_sym archive_syms[] = {
	FR_DL_SYM(bk_ar, archive_write_new), FR_DL_SYM(bk_ar, archive_write_free),
	FR_DL_SYM(bk_ar, archive_write_set_format_pax),
	FR_DL_SYM(bk_ar, archive_write_add_filter_gzip),
	FR_DL_SYM(bk_ar, archive_write_set_filter_option),
	FR_DL_SYM(bk_ar, archive_write_set_bytes_per_block), FR_DL_SYM(bk_ar, archive_write_open),
	FR_DL_SYM(bk_ar, archive_write_header), FR_DL_SYM(bk_ar, archive_write_data),
	FR_DL_SYM(bk_ar, archive_write_data_block), FR_DL_SYM(bk_ar, archive_write_finish_entry),
	FR_DL_SYM(bk_ar, archive_write_close), FR_DL_SYM(bk_ar, archive_write_disk_new),
	FR_DL_SYM(bk_ar, archive_write_disk_set_options), FR_DL_SYM(bk_ar, archive_read_new),
	FR_DL_SYM(bk_ar, archive_read_free), FR_DL_SYM(bk_ar, archive_read_support_format_tar),
	FR_DL_SYM(bk_ar, archive_read_support_filter_gzip),
	FR_DL_SYM(bk_ar, archive_read_support_filter_zstd), FR_DL_SYM(bk_ar, archive_read_open_fd),
	FR_DL_SYM(bk_ar, archive_read_open),
	FR_DL_SYM(bk_ar, archive_read_next_header), FR_DL_SYM(bk_ar, archive_read_data_block),
	FR_DL_SYM(bk_ar, archive_filter_bytes), FR_DL_SYM(bk_ar, archive_error_string),
	FR_DL_SYM(bk_ar, archive_errno),
	FR_DL_SYM(bk_ar, archive_set_error), FR_DL_SYM(bk_ar, archive_entry_new),
	FR_DL_SYM(bk_ar, archive_entry_free), FR_DL_SYM(bk_ar, archive_entry_clear),
	FR_DL_SYM(bk_ar, archive_entry_set_pathname), FR_DL_SYM(bk_ar, archive_entry_set_size),
	FR_DL_SYM(bk_ar, archive_entry_set_filetype), FR_DL_SYM(bk_ar, archive_entry_set_perm),
	FR_DL_SYM(bk_ar, archive_entry_set_mtime), FR_DL_SYM(bk_ar, archive_entry_set_uid),
	FR_DL_SYM(bk_ar, archive_entry_set_gid), FR_DL_SYM(bk_ar, archive_entry_set_symlink),
	FR_DL_SYM(bk_ar, archive_entry_set_hardlink), FR_DL_SYM(bk_ar, archive_entry_pathname),
	FR_DL_SYM(bk_ar, archive_entry_filetype), FR_DL_SYM(bk_ar, archive_entry_perm),
	FR_DL_SYM(bk_ar, archive_entry_symlink), FR_DL_SYM(bk_ar, archive_entry_hardlink),
	{ NULL, NULL }
};

static const fr_dl_sym zstd_syms[] = {
	FR_DL_SYM(bk_zs, ZSTD_createCCtx), FR_DL_SYM(bk_zs, ZSTD_freeCCtx),
	FR_DL_SYM(bk_zs, ZSTD_CCtx_setParameter), FR_DL_SYM(bk_zs, ZSTD_compressStream2),
	FR_DL_SYM(bk_zs, ZSTD_isError), FR_DL_SYM(bk_zs, ZSTD_getErrorName),
	FR_DL_SYM(bk_zs, ZSTD_createDCtx), FR_DL_SYM(bk_zs, ZSTD_freeDCtx),
	FR_DL_SYM(bk_zs, ZSTD_decompressStream), FR_DL_SYM(bk_zs, ZSTD_DStreamInSize),
	{ NULL, NULL }
};

static fr_dl_lib archive_lib = FR_DL_LIB(FR_LIBARCHIVE_SONAME, "libarchive.so", archive_syms);
static fr_dl_lib zstd_lib = FR_DL_LIB(FR_LIBZSTD_SONAME, "libzstd.so", zstd_syms);

int bk_load_libs(ferry *f, int with_zstd)
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

int bk_zstd_open(void)
{
	return fr_dl_open(&zstd_lib);
}

/* ---- a C.UTF-8 locale for this thread while libarchive runs ---- */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t bk_utf8_enter(void)
{
	pthread_once(&utf8_once, utf8_init);
	return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

void bk_utf8_leave(locale_t old)
{
	if (old)
		uselocale(old);
}
