/*
 * ferry_int.h - the handle behind the public `ferry *`, and the helpers
 * every module of the engine uses to fail and to log. Internal only.
 */
#ifndef FR_FERRY_INT_H
#define FR_FERRY_INT_H

#include "../include/ferry.h"
#include "catalog.h"
#include "config.h"
#include "lock.h"
#include "state.h"
#include "util/buf.h"

#include <signal.h>

struct ferry {
	char *root;        /* absolute */
	char *ferry_dir;   /* <root>/.ferry */
	fr_config *cfg;
	fr_state *state;
	fr_catalog *cat;   /* loaded on demand by fr_load_catalog() */
	fr_lock lock;
	fr_buf err;
	int errcode;
	ferry_log_fn log;
	void *log_ctx;
	volatile sig_atomic_t interrupted;
	char *last_run;    /* the document of the last up/down */
	int log_fd;        /* .ferry/log/ferry.log, opened on the first event; -1 */
	fr_buf log_buf;    /* log lines not written yet (fr_log_flush) */
	/*
	 * The default database, when its driver keeps the version (PostgreSQL:
	 * every machine sees the version its shared data is at). Opened on
	 * first use; NULL otherwise.
	 */
	struct fr_db *vdb;
	int vdb_tried;
	ferry_progress_fn progress;
	void *progress_ctx;
	/* Native steps registered by the application (ferry_register_step). */
	ferry_native_step *natives;
	size_t nnatives;
	char *native_error; /* set by ferry_set_error() from a callback */
};

/* Sets f's message and code; returns code, so that failing is one line. */
int fr_fail(ferry *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with the message taken from msg. */
int fr_fail_msg(ferry *f, int code, const char *msg);
void fr_ok(ferry *f);

/* Reports an event to the caller's callback and to .ferry/log/ferry.log. */
void fr_log(ferry *f, ferry_log_level level, const char *step_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes the log lines gathered so far. */
void fr_log_flush(ferry *f);

/* Loads the catalog once (FERRY_EINVALID with every problem in the message). */
int fr_load_catalog(ferry *f);

/* The current version from state (0.0.0 when none recorded). */
int fr_current(ferry *f, fr_version *out);

/* Writes the version file (when configured) and records v in state. */
int fr_record_version(ferry *f, const fr_version *v);

#endif
