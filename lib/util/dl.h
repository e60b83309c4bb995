/*
 * dl.h - libraries opened on first use. libcrypto, libarchive and libpq
 * cost a no-op start some 65,000 relocations (about 2 ms) though a no-op
 * calls none of them, so the modules that need them open them with dlopen
 * the first time they do (as systemd opens its optional libraries). Each
 * module keeps a struct of function pointers typed from the library's own
 * header (__typeof__), so a prototype mismatch is a compile error.
 *
 *   static struct { __typeof__(archive_write_new) *archive_write_new; ... } A;
 *   static const fr_dl_sym syms[] = { FR_DL_SYM(A, archive_write_new), ..., { NULL, NULL } };
 *   static fr_dl_lib lib = FR_DL_LIB("libarchive.so.13", "libarchive.so", syms);
 *   if (fr_dl_open(&lib)) fr_buf_puts(err, lib.err);
 */
#ifndef FR_DL_H
#define FR_DL_H

#include <pthread.h>

typedef struct {
	const char *name;
	void **slot;
} fr_dl_sym;

typedef struct {
	const char *soname;    /* the versioned name, from the build */
	const char *fallback;  /* tried when soname is missing (the -dev symlink) */
	const fr_dl_sym *syms; /* NULL-terminated */
	pthread_once_t once;
	int ok;
	char err[512];         /* why it could not be opened */
} fr_dl_lib;

#define FR_DL_SYM(table, fn) { #fn, (void **)&(table).fn }
#define FR_DL_LIB(soname, fallback, syms) { soname, fallback, syms, PTHREAD_ONCE_INIT, 0, "" }

/*
 * Opens the library and resolves every symbol, once per process (thread
 * safe). Returns 0, or -1 with lib->err saying what is missing and which
 * package provides it.
 */
int fr_dl_open(fr_dl_lib *lib);

#endif
