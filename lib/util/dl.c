/* dl.c - open a library on first use and resolve its symbols; see dl.h. */
#include "dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* pthread_once takes no argument; the library being opened is passed here. */
static __thread fr_dl_lib *opening;

static void open_once(void)
{
	fr_dl_lib *lib = opening;
	const fr_dl_sym *s;
	/*
	 * RTLD_LAZY, as a linked library: every symbol we call is checked by
	 * dlsym below, and the library's own calls bind when first made.
	 * RTLD_NOW would resolve each of its dependencies' ~1,400 lazy slots at
	 * once (libpq's krb5 and gmp), a tenth of the cost of loading it.
	 */
	void *h = dlopen(lib->soname, RTLD_LAZY | RTLD_LOCAL);
	if (!h && lib->fallback)
		h = dlopen(lib->fallback, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		snprintf(lib->err, sizeof lib->err, "cannot load '%s': %s", lib->soname, dlerror());
		return;
	}
	for (s = lib->syms; s->name; s++) {
		*s->slot = dlsym(h, s->name);
		if (!*s->slot) {
			snprintf(lib->err, sizeof lib->err, "'%s' has no symbol '%s'", lib->soname,
			         s->name);
			return;
		}
	}
	/* The handle stays open for the life of the process, as a linked library would. */
	lib->ok = 1;
}

int fr_dl_open(fr_dl_lib *lib)
{
	opening = lib;
	pthread_once(&lib->once, open_once);
	opening = NULL;
	return lib->ok ? 0 : -1;
}
