/*
 * serve.h - what the rooms of `ferry serve` share: the server's state (the
 * installation, the token, the one job that may run), the event bus that
 * feeds /api/events, and the page's files compiled into the binary.
 */
#ifndef FERRY_SERVE_H
#define FERRY_SERVE_H

#include "cli.h"

#include "mhd.h"
#include <pthread.h>

typedef struct {
	const char *root;      /* the installation */
	char token[65];        /* 32 random bytes as hex */
	pthread_mutex_t mu;    /* guards what follows */
	int job_running;       /* an up or a rollback runs on the server */
	int job_joinable;      /* job_thread ended or runs; join before the next */
	pthread_t job_thread;
	ferry *job_f;          /* the running job's handle (ferry_interrupt), or NULL */
	int job_interrupted;   /* the job was stopped by the server's shutdown */
	int job_rc;
} serve_state;

extern serve_state serve;

/* serve_api.c: the access handler of the daemon, and the end of a request. */
enum MHD_Result serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls);
void serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                     enum MHD_RequestTerminationCode toe);
/* Stops the running job as SIGINT stops `up` and waits for it; 1 when one was stopped. */
int serve_stop_job(void);

/* serve_events.c: the bus (a ring of the latest events) and its SSE stream. */
void serve_events_init(void);
/* Appends an event (a JSON object's text) and wakes the streams. */
void serve_emit(const char *json);
/* ferry_event_fn over serve_emit. */
void serve_event_cb(void *ctx, const char *event);
/* Marks where the current job's events begin: a stream opened later starts there. */
void serve_events_job_start(void);
/* Ends every stream (shutdown). */
void serve_events_stop(void);
struct MHD_Response *serve_events_response(void);

/* serve_web.c (generated from cli/web/ at build time): the page's files. */
typedef struct {
	const char *path;      /* "/app.js" */
	const char *type;      /* its Content-Type */
	const unsigned char *data;
	size_t len;
} serve_asset;
extern const serve_asset serve_assets[];

#endif
