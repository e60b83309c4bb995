/*
 * serve_events.c - the event bus of `ferry serve`: the run's events (the
 * library's ferry_event_fn) and the server's own (a job's end) kept in a
 * ring of the latest ones, each with a number, and streamed to every
 * /api/events client as Server-Sent Events ("id: N", "data: JSON"). A
 * stream opened while a job runs starts with that job's first event, so a
 * page loaded mid-run sees the whole run; a comment every 15 s keeps it open.
 */
#include "serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 1024

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *ring[RING];      /* event n is ring[n % RING] while n >= next - RING */
	long long next;        /* the number of the next event */
	long long job_first;   /* the current job's first event; -1: none runs */
	int stopping;
} bus = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { NULL }, 0, -1, 0 };

typedef struct {
	long long at;          /* the next event this stream sends */
	char *pending;         /* text not sent yet (a frame larger than a block) */
	size_t off, len;
} stream;

void serve_events_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_destroy(&bus.cv);
	pthread_cond_init(&bus.cv, &a);
	pthread_condattr_destroy(&a);
}

void serve_emit(const char *json)
{
	char *copy = strdup(json);
	if (!copy)
		return;
	pthread_mutex_lock(&bus.mu);
	free(bus.ring[bus.next % RING]);
	bus.ring[bus.next % RING] = copy;
	bus.next++;
	pthread_cond_broadcast(&bus.cv);
	pthread_mutex_unlock(&bus.mu);
}

void serve_event_cb(void *ctx, const char *event)
{
	(void)ctx;
	serve_emit(event);
}

void serve_events_job_start(void)
{
	pthread_mutex_lock(&bus.mu);
	bus.job_first = bus.next;
	pthread_mutex_unlock(&bus.mu);
}

void serve_events_stop(void)
{
	pthread_mutex_lock(&bus.mu);
	bus.stopping = 1;
	pthread_cond_broadcast(&bus.cv);
	pthread_mutex_unlock(&bus.mu);
}

/* Copies what fits of s->pending into buf. */
static ssize_t drain(stream *s, char *buf, size_t max)
{
	size_t n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->pending + s->off, n);
	s->off += n;
	if (s->off == s->len) {
		free(s->pending);
		s->pending = NULL;
	}
	return (ssize_t)n;
}

/* MHD's content reader: blocks (a thread per connection) until there is an event. */
static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *s = cls;
	struct timespec until;
	char *frame = NULL;
	size_t cap = 0;
	FILE *fp;
	(void)pos;
	if (s->pending)
		return drain(s, buf, max);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 15;
	pthread_mutex_lock(&bus.mu);
	while (!bus.stopping && s->at >= bus.next)
		if (pthread_cond_timedwait(&bus.cv, &bus.mu, &until) == ETIMEDOUT)
			break;
	if (bus.stopping) {
		pthread_mutex_unlock(&bus.mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (s->at < bus.next - RING)
		s->at = bus.next - RING; /* fell behind: the oldest kept */
	fp = open_memstream(&frame, &cap);
	if (fp) {
		if (s->at < bus.next) {
			fprintf(fp, "id: %lld\ndata: %s\n\n", s->at, bus.ring[s->at % RING]);
			s->at++;
		} else {
			fputs(": keep-alive\n\n", fp);
		}
		fclose(fp);
	}
	pthread_mutex_unlock(&bus.mu);
	if (!frame)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	s->pending = frame;
	s->off = 0;
	s->len = strlen(frame);
	return drain(s, buf, max);
}

static void stream_free(void *cls)
{
	stream *s = cls;
	free(s->pending);
	free(s);
}

struct MHD_Response *serve_events_response(void)
{
	stream *s = calloc(1, sizeof *s);
	struct MHD_Response *r;
	int running;
	if (!s)
		return NULL;
	pthread_mutex_lock(&serve.mu);
	running = serve.job_running;
	pthread_mutex_unlock(&serve.mu);
	pthread_mutex_lock(&bus.mu);
	s->at = bus.job_first >= 0 && running ? bus.job_first : bus.next;
	pthread_mutex_unlock(&bus.mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, s, stream_free);
	if (!r) {
		free(s);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return r;
}
