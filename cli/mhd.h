/*
 * mhd.h - libmicrohttpd for `ferry serve`, loaded when the server starts
 * rather than linked: linked, it brings GnuTLS and nine more libraries
 * into every `ferry` process, and their relocations cost the no-op start
 * about as much as the rest of it (issue 14). The serve files call the
 * library by its own names; the macros below send each call through the
 * table mhd_load() fills. Include it instead of <microhttpd.h>.
 */
#ifndef FERRY_MHD_H
#define FERRY_MHD_H

#include <microhttpd.h>

typedef struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_create_response_from_callback) *create_response_from_callback;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd_api;

extern mhd_api mhd;

/*
 * Loads libmicrohttpd (once). 0, or -1 with why (the library missing: the
 * package to install) in buf of size n.
 */
int mhd_load(char *buf, size_t n);

#define MHD_start_daemon (*mhd.start_daemon)
#define MHD_stop_daemon (*mhd.stop_daemon)
#define MHD_get_daemon_info (*mhd.get_daemon_info)
#define MHD_lookup_connection_value (*mhd.lookup_connection_value)
#define MHD_create_response_from_buffer (*mhd.create_response_from_buffer)
#define MHD_create_response_from_callback (*mhd.create_response_from_callback)
#define MHD_add_response_header (*mhd.add_response_header)
#define MHD_queue_response (*mhd.queue_response)
#define MHD_destroy_response (*mhd.destroy_response)

#endif
