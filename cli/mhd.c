/*
 * mhd.c - loads libmicrohttpd for `ferry serve` (see mhd.h): dlopen of
 * the library's soname, each function found by its name.
 */
#include "mhd.h"

#include <dlfcn.h>
#include <stdio.h>

mhd_api mhd;

int mhd_load(char *buf, size_t n)
{
	static const char *const names[] = {
		"MHD_start_daemon", "MHD_stop_daemon", "MHD_get_daemon_info",
		"MHD_lookup_connection_value", "MHD_create_response_from_buffer",
		"MHD_create_response_from_callback", "MHD_add_response_header",
		"MHD_queue_response", "MHD_destroy_response",
	};
	void **slots[] = {
		(void **)&mhd.start_daemon, (void **)&mhd.stop_daemon,
		(void **)&mhd.get_daemon_info, (void **)&mhd.lookup_connection_value,
		(void **)&mhd.create_response_from_buffer,
		(void **)&mhd.create_response_from_callback, (void **)&mhd.add_response_header,
		(void **)&mhd.queue_response, (void **)&mhd.destroy_response,
	};
	static void *lib;
	size_t i;
	if (lib)
		return 0;
	if (!(lib = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL))) {
		snprintf(buf, n, "ferry serve needs libmicrohttpd (apt-get install libmicrohttpd12): %s",
		         dlerror());
		return -1;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(*slots[i] = dlsym(lib, names[i]))) {
			snprintf(buf, n, "libmicrohttpd.so.12 lacks %s", names[i]);
			dlclose(lib);
			lib = NULL;
			return -1;
		}
	}
	return 0;
}
