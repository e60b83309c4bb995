/*
 * serve_api.c - the requests of `ferry serve`: the token, the page's files,
 * and the JSON API (docs/dashboard.md). Each request opens its own handle
 * on the installation (requests run on threads of their own); the documents
 * are the library's, the same the commands print with --json. One job (an
 * up or a rollback) runs at a time, on a thread of the server, its events on
 * the bus. Promises: every path but the page's files needs the token (401),
 * a state-changing call is a POST (405 otherwise), no CORS header is sent.
 */
#include "serve.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX 65536

typedef struct {
	char *body;
	size_t len;
	int too_big;
	int seen;          /* the first call (headers only) has been answered */
} request;

typedef struct {
	char *kind;        /* "up" */
	char *target;      /* NULL: the latest */
} job;

/* ---- responses ---- */

/* A response; cookie (Set-Cookie) and allow (a 405's Allow) may be NULL. */
static enum MHD_Result send_ex(struct MHD_Connection *c, unsigned code, const char *type,
                               const void *data, size_t len, const char *cookie,
                               const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data,
	                                                         MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'self'; frame-ancestors 'none'");
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const void *data, size_t len, const char *cookie)
{
	return send_ex(c, code, type, data, len, cookie, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, const char *doc)
{
	return reply(c, code, "application/json", doc, strlen(doc), NULL);
}

/* {"error": message, "code": the library's code} with code's HTTP status. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned http, int code,
                                  const char *message)
{
	json_t *o = json_object();
	char *s;
	enum MHD_Result ok;
	json_object_set_new(o, "error", json_string(message));
	json_object_set_new(o, "code", json_integer(code));
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	ok = s ? send_json(c, http, s) : MHD_NO;
	free(s);
	return ok;
}

static enum MHD_Result send_object(struct MHD_Connection *c, unsigned http, json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	enum MHD_Result ok = s ? send_json(c, http, s) : MHD_NO;
	json_decref(o);
	free(s);
	return ok;
}

/* The HTTP status of a library code. */
static unsigned http_of(int rc)
{
	switch (rc) {
	case FERRY_EINVALID:
		return MHD_HTTP_BAD_REQUEST;
	case FERRY_ELOCKED:
		return MHD_HTTP_CONFLICT;
	case FERRY_EVERIFY:
		return 422;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static enum MHD_Result send_failure(struct MHD_Connection *c, ferry *f, int rc)
{
	return send_error(c, http_of(rc), rc, f && *ferry_errmsg(f) ? ferry_errmsg(f) : "failed");
}

/* ---- the token ---- */

/* Compares in time independent of where they differ. */
static int token_equal(const char *given)
{
	size_t i, n = strlen(serve.token);
	unsigned char d = 0;
	if (!given || strlen(given) != n)
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(given[i] ^ serve.token[i]);
	return d == 0;
}

static int authorized(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h && !strncmp(h, "Bearer ", 7) && token_equal(h + 7))
		return 1;
	return token_equal(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "ferry_token"));
}

/* ---- the job thread ---- */

static void *job_main(void *arg)
{
	job *j = arg;
	ferry_open_options oo = FERRY_OPEN_OPTIONS_INIT;
	ferry_run_options ro = FERRY_RUN_OPTIONS_INIT;
	ferry *f = NULL;
	char *doc = NULL;
	json_t *ev = json_object(), *res;
	int rc;
	oo.log = cli_log;
	oo.event = serve_event_cb;
	rc = ferry_open(&f, serve.root, &oo);
	pthread_mutex_lock(&serve.mu);
	serve.job_f = rc ? NULL : f;
	pthread_mutex_unlock(&serve.mu);
	if (!rc)
		rc = ferry_up(f, j->target, &ro);
	json_object_set_new(ev, "event", json_string("job_finished"));
	json_object_set_new(ev, "job", json_string(j->kind));
	json_object_set_new(ev, "code", json_integer(rc));
	json_object_set_new(ev, "message", json_string(f ? ferry_errmsg(f) : "out of memory"));
	if (f && ferry_last_run(&doc, f) == 0 && (res = json_loads(doc, 0, NULL)))
		json_object_set_new(ev, "result", res);
	ferry_free(doc);
	pthread_mutex_lock(&serve.mu);
	serve.job_f = NULL;
	serve.job_rc = rc;
	pthread_mutex_unlock(&serve.mu);
	ferry_close(f);
	{
		char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s)
			serve_emit(s);
		free(s);
	}
	json_decref(ev);
	pthread_mutex_lock(&serve.mu);
	serve.job_running = 0;
	pthread_mutex_unlock(&serve.mu);
	free(j->kind);
	free(j->target);
	free(j);
	return NULL;
}

/* Takes the job slot; 0 when another job runs (409). */
static int job_claim(void)
{
	int ok;
	pthread_mutex_lock(&serve.mu);
	ok = !serve.job_running;
	if (ok) {
		serve.job_running = 1;
		if (serve.job_joinable) {
			pthread_join(serve.job_thread, NULL);
			serve.job_joinable = 0;
		}
	}
	pthread_mutex_unlock(&serve.mu);
	return ok;
}

static void job_release(void)
{
	pthread_mutex_lock(&serve.mu);
	serve.job_running = 0;
	pthread_mutex_unlock(&serve.mu);
}

int serve_stop_job(void)
{
	int stopped = 0, joinable;
	pthread_mutex_lock(&serve.mu);
	if (serve.job_f && serve.job_running) {
		ferry_interrupt(serve.job_f);
		stopped = 1;
	}
	joinable = serve.job_joinable;
	serve.job_joinable = 0;
	pthread_mutex_unlock(&serve.mu);
	if (joinable)
		pthread_join(serve.job_thread, NULL);
	return stopped && serve.job_rc == FERRY_EINTERRUPTED;
}

/* ---- the API ---- */

static const char *string_of(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Whether another process holds the lock (a run started elsewhere). */
static int held_elsewhere(ferry *f)
{
	char *doc = NULL;
	json_t *j;
	int held = 0;
	if (ferry_status(&doc, f) == 0 && (j = json_loads(doc, 0, NULL))) {
		held = json_is_object(json_object_get(j, "locked_by"));
		json_decref(j);
	}
	ferry_free(doc);
	return held;
}

static enum MHD_Result post_up(struct MHD_Connection *c, ferry *f, json_t *body)
{
	job *j;
	const char *target = string_of(body, "target");
	json_t *o;
	if (held_elsewhere(f))
		return send_error(c, MHD_HTTP_CONFLICT, FERRY_ELOCKED,
		                  "a run is in progress (the lock is held)");
	if (!job_claim())
		return send_error(c, MHD_HTTP_CONFLICT, FERRY_ELOCKED,
		                  "a run started by this server is in progress");
	j = calloc(1, sizeof *j);
	if (!j || !(j->kind = strdup("up")) || (target && !(j->target = strdup(target)))) {
		if (j)
			free(j->kind);
		free(j);
		job_release();
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, FERRY_EFAILED, "out of memory");
	}
	serve_events_job_start();
	pthread_mutex_lock(&serve.mu);
	if (pthread_create(&serve.job_thread, NULL, job_main, j)) {
		serve.job_running = 0;
		pthread_mutex_unlock(&serve.mu);
		free(j->kind);
		free(j->target);
		free(j);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, FERRY_EFAILED,
		                  "cannot start a thread");
	}
	serve.job_joinable = 1;
	pthread_mutex_unlock(&serve.mu);
	o = json_object();
	json_object_set_new(o, "started", json_string("up"));
	json_object_set_new(o, "target", target ? json_string(target) : json_null());
	return send_object(c, MHD_HTTP_ACCEPTED, o);
}

/* {"backup": ID} restores it, {"version": V} goes down to V, {} restores the newest backup. */
static enum MHD_Result post_rollback(struct MHD_Connection *c, ferry *f, json_t *body)
{
	const char *id = string_of(body, "backup"), *version = string_of(body, "version");
	ferry_run_options ro = FERRY_RUN_OPTIONS_INIT;
	char *doc = NULL, *cur = NULL;
	enum MHD_Result ok;
	json_t *o;
	int rc;
	if (id && version)
		return send_error(c, MHD_HTTP_BAD_REQUEST, FERRY_EINVALID,
		                  "give a backup or a version, not both");
	if (!job_claim())
		return send_error(c, MHD_HTTP_CONFLICT, FERRY_ELOCKED,
		                  "a run started by this server is in progress");
	rc = version ? ferry_down(f, version, &ro) : ferry_rollback(f, id, NULL);
	job_release();
	if (rc)
		return send_failure(c, f, rc);
	if (version) {
		if ((rc = ferry_last_run(&doc, f)))
			return send_failure(c, f, rc);
		ok = send_json(c, MHD_HTTP_OK, doc);
		ferry_free(doc);
		return ok;
	}
	ferry_current_version(&cur, f);
	o = json_object();
	json_object_set_new(o, "restored", id ? json_string(id) : json_string("newest"));
	json_object_set_new(o, "version", cur ? json_string(cur) : json_null());
	ferry_free(cur);
	return send_object(c, MHD_HTTP_OK, o);
}

static enum MHD_Result post_pause(struct MHD_Connection *c, ferry *f, int pause)
{
	int rc = pause ? ferry_pause(f, "the dashboard") : ferry_resume(f);
	json_t *o;
	if (rc)
		return send_error(c, MHD_HTTP_CONFLICT, rc, ferry_errmsg(f));
	o = json_object();
	json_object_set_new(o, pause ? "pause" : "resume", json_string("requested"));
	if (pause)
		json_object_set_new(o, "by", json_string("the dashboard"));
	return send_object(c, MHD_HTTP_OK, o);
}

/* GET: the documents of status, plan, history (?run=N: one run), backups. */
static enum MHD_Result get_doc(struct MHD_Connection *c, ferry *f, const char *what)
{
	char *doc = NULL;
	int rc;
	if (!strcmp(what, "status")) {
		rc = ferry_status(&doc, f);
	} else if (!strcmp(what, "plan")) {
		ferry_plan *p = NULL;
		ferry_run_options o = FERRY_RUN_OPTIONS_INIT;
		const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "target");
		if (!(rc = ferry_plan_for(&p, f, t && *t ? t : NULL, &o)))
			rc = ferry_plan_json(&doc, p);
		ferry_plan_free(p);
	} else if (!strcmp(what, "history")) {
		const char *run = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "run");
		char *end = NULL;
		long id = run ? strtol(run, &end, 10) : 0;
		if (run && (!*run || *end || id <= 0))
			return send_error(c, MHD_HTTP_BAD_REQUEST, FERRY_EINVALID,
			                  "run must be a run's number");
		rc = run ? ferry_history_run(&doc, f, id) : ferry_history(&doc, f);
	} else {
		rc = ferry_backup_list(&doc, f);
	}
	if (rc)
		return send_failure(c, f, rc);
	{
		enum MHD_Result ok = send_json(c, MHD_HTTP_OK, doc);
		ferry_free(doc);
		return ok;
	}
}

static const struct {
	const char *path;
	int post;          /* 1: POST only; 0: GET only */
} routes[] = {
	{ "/api/status", 0 }, { "/api/plan", 0 }, { "/api/history", 0 }, { "/api/backups", 0 },
	{ "/api/events", 0 }, { "/api/up", 1 }, { "/api/pause", 1 }, { "/api/resume", 1 },
	{ "/api/rollback", 1 }, { NULL, 0 }
};

static enum MHD_Result api(struct MHD_Connection *c, const char *url, const char *method,
                           request *rq)
{
	ferry *f = NULL;
	json_t *body = NULL;
	enum MHD_Result ok;
	const char *name = url + 5;
	int i, rc, post = !strcmp(method, "POST");
	for (i = 0; routes[i].path && strcmp(routes[i].path, url); i++)
		;
	if (!routes[i].path)
		return send_error(c, MHD_HTTP_NOT_FOUND, FERRY_EINVALID, "no such API call");
	if (post != routes[i].post || (!post && strcmp(method, "GET")))
		return send_ex(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
		               "{\"error\": \"method not allowed\"}", 31, NULL,
		               routes[i].post ? "POST" : "GET");
	if (!strcmp(name, "events")) {
		struct MHD_Response *r = serve_events_response();
		if (!r)
			return MHD_NO;
		ok = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ok;
	}
	if (post) {
		json_error_t je;
		if (rq->too_big)
			return send_error(c, 413, FERRY_EINVALID,
			                  "the request body is too large");
		body = rq->len ? json_loadb(rq->body, rq->len, 0, &je) : json_object();
		if (!json_is_object(body)) {
			json_decref(body);
			return send_error(c, MHD_HTTP_BAD_REQUEST, FERRY_EINVALID,
			                  "the body must be a JSON object");
		}
	}
	rc = ferry_open(&f, serve.root, NULL);
	if (rc)
		ok = send_failure(c, f, rc);
	else if (!post)
		ok = get_doc(c, f, name);
	else if (!strcmp(name, "up"))
		ok = post_up(c, f, body);
	else if (!strcmp(name, "rollback"))
		ok = post_rollback(c, f, body);
	else
		ok = post_pause(c, f, !strcmp(name, "pause"));
	json_decref(body);
	ferry_close(f);
	return ok;
}

/* The page's files; the page itself with ?token= sets the cookie the API takes. */
static enum MHD_Result asset(struct MHD_Connection *c, const char *url, const char *method)
{
	const serve_asset *a;
	const char *tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	char cookie[160];
	if (!strcmp(url, "/"))
		url = "/index.html";
	for (a = serve_assets; a->path && strcmp(a->path, url); a++)
		;
	if (!a->path)
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10, NULL);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return send_ex(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9, NULL,
		               "GET");
	if (tok && token_equal(tok)) {
		snprintf(cookie, sizeof cookie, "ferry_token=%s; HttpOnly; SameSite=Strict; Path=/",
		         serve.token);
		return reply(c, MHD_HTTP_OK, a->type, a->data, a->len, cookie);
	}
	if (!authorized(c))
		return reply(c, MHD_HTTP_UNAUTHORIZED, "text/plain",
		            "open the address 'ferry serve' printed (it carries the token)\n", 63,
		            NULL);
	return reply(c, MHD_HTTP_OK, a->type, a->data, a->len, NULL);
}

enum MHD_Result serve_handle(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
	request *rq = *con_cls;
	(void)cls;
	(void)version;
	if (!rq) {
		if (!(rq = calloc(1, sizeof *rq)))
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > BODY_MAX) {
			rq->too_big = 1;
		} else {
			char *b = realloc(rq->body, rq->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + rq->len, upload, *upload_size);
			rq->body = b;
			rq->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strncmp(url, "/api/", 5))
		return asset(c, url, method);
	if (!authorized(c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, FERRY_EINVALID,
		                  "the token is missing or wrong (Authorization: Bearer TOKEN)");
	return api(c, url, method, rq);
}

void serve_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
	request *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}
