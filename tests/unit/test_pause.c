/*
 * test_pause.c - ferry_pause() and ferry_resume() through the public API,
 * and the run's events (ferry_open_options.event): a run asked to pause
 * from another handle waits at its next safe point and goes on when
 * resumed; interrupted while it waits, it is rolled back; with no run in
 * progress both refuse. The events come in order: each action's start and
 * end, paused, resumed, finished.
 */
#include "helpers.h"

#include <ferry.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *dir;
	ferry *f;
	json_t *events;      /* the events seen, in order */
	int interrupt;       /* the helper thread interrupts instead of resuming */
	int saw_paused;      /* the helper saw "paused" in the status document */
	pthread_t helper;
	int started;
} env;

static void on_event(void *ctx, const char *text)
{
	env *e = ctx;
	json_t *ev = json_loads(text, 0, NULL);
	assert_non_null(ev);
	json_array_append_new(e->events, ev);
}

static json_t *status_paused(const char *dir)
{
	ferry *g = NULL;
	char *doc = NULL;
	json_t *j = NULL, *p = NULL;
	if (ferry_open(&g, dir, NULL) == 0 && ferry_status(&doc, g) == 0 &&
	    (j = json_loads(doc, 0, NULL)) && json_is_object(json_object_get(j, "paused")))
		p = json_incref(json_object_get(j, "paused"));
	json_decref(j);
	ferry_free(doc);
	ferry_close(g);
	return p;
}

/* Waits (bounded) for the run to say paused, then resumes or interrupts it. */
static void *helper(void *arg)
{
	env *e = arg;
	ferry *g = NULL;
	int i;
	json_t *p = NULL;
	for (i = 0; i < 200 && !(p = status_paused(e->dir)); i++) {
		struct timespec ns = { 0, 50 * 1000 * 1000 };
		nanosleep(&ns, NULL);
	}
	if (p) {
		e->saw_paused = !strcmp(json_string_value(json_object_get(p, "by")), "test");
		json_decref(p);
	}
	if (e->interrupt) {
		ferry_interrupt(e->f);
	} else if (ferry_open(&g, e->dir, NULL) == 0) {
		ferry_resume(g);
	}
	ferry_close(g);
	return NULL;
}

/* The native step: asks for a pause from another handle and starts the helper. */
static int ask_pause(ferry *f, void *ctx)
{
	env *e = ctx;
	ferry *g = NULL;
	int rc;
	(void)f;
	assert_int_equal(ferry_open(&g, e->dir, NULL), 0);
	rc = ferry_pause(g, "test");
	ferry_close(g);
	if (rc)
		return rc;
	e->started = pthread_create(&e->helper, NULL, helper, e) == 0;
	return 0;
}

static int undo_nothing(ferry *f, void *ctx)
{
	(void)f;
	(void)ctx;
	return 0;
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof *e);
	ferry_open_options o = FERRY_OPEN_OPTIONS_INIT;
	ferry_native_step s;
	e->dir = t_tmpdir();
	e->events = json_array();
	t_write(e->dir, "ferry.yaml", "databases:\n  main: sqlite:app.db\ntransaction: step\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/001_t.sql",
	        "-- ferry:up\nCREATE TABLE t (x);\n-- ferry:down\nDROP TABLE t;\n");
	t_write(e->dir, "migrations/v0.0.0_to_v1.0.0/003_u.sql",
	        "-- ferry:up\nCREATE TABLE u (x);\n-- ferry:down\nDROP TABLE u;\n");
	o.event = on_event;
	o.event_ctx = e;
	assert_int_equal(ferry_open(&e->f, e->dir, &o), 0);
	memset(&s, 0, sizeof s);
	s.version = FERRY_NATIVE_STEP_VERSION;
	s.id = "1.0.0/002_pause";
	s.from = "0.0.0";
	s.to = "1.0.0";
	s.forward = ask_pause;
	s.backward = undo_nothing;
	s.ctx = e;
	assert_int_equal(ferry_register_step(e->f, &s), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	if (e->started)
		pthread_join(e->helper, NULL);
	ferry_close(e->f);
	json_decref(e->events);
	t_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

static const char *ev_name(json_t *ev)
{
	return json_string_value(json_object_get(ev, "event"));
}

/* The index in e->events of the first event named name (with the step id, when given). */
static long find(env *e, const char *name, const char *id)
{
	size_t i;
	json_t *ev;
	json_array_foreach(e->events, i, ev) {
		const char *aid = json_string_value(json_object_get(json_object_get(ev, "action"), "id"));
		if (!strcmp(ev_name(ev), name) && (!id || (aid && !strcmp(aid, id))))
			return (long)i;
	}
	return -1;
}

static int table_exists(env *e, const char *t)
{
	return t_sh("test \"$(sqlite3 '%s/app.db' \"SELECT count(*) FROM sqlite_master WHERE "
	            "name = '%s'\")\" = 1", e->dir, t) == 0;
}

static void test_pause_then_resume(void **state)
{
	env *e = *state;
	size_t i;
	json_t *ev, *last;
	json_int_t open = -1;
	json_t *p;
	assert_int_equal(ferry_up(e->f, NULL, NULL), 0);
	pthread_join(e->helper, NULL);
	e->started = 0;
	assert_true(e->saw_paused);
	assert_true(table_exists(e, "t"));
	assert_true(table_exists(e, "u"));
	/* The pause came after the native step ended and before the next step began. */
	assert_true(find(e, "action_end", "1.0.0/002_pause") >= 0);
	assert_true(find(e, "action_end", "1.0.0/002_pause") < find(e, "paused", NULL));
	assert_true(find(e, "paused", NULL) < find(e, "resumed", NULL));
	assert_true(find(e, "resumed", NULL) < find(e, "action_start", "1.0.0/003_u.sql"));
	/* Each start is followed by its own end; the last event is the run's end. */
	json_array_foreach(e->events, i, ev) {
		const char *n = ev_name(ev);
		if (!strcmp(n, "action_start")) {
			assert_int_equal(open, -1);
			open = json_integer_value(json_object_get(ev, "index"));
		} else if (!strcmp(n, "action_end")) {
			assert_int_equal(open, json_integer_value(json_object_get(ev, "index")));
			assert_non_null(json_object_get(json_object_get(ev, "action"), "status"));
			open = -1;
		}
	}
	last = json_array_get(e->events, json_array_size(e->events) - 1);
	assert_string_equal(ev_name(last), "finished");
	assert_string_equal(json_string_value(json_object_get(last, "status")), "success");
	assert_int_equal(json_integer_value(json_object_get(last, "code")), 0);
	/* Nothing is paused any more; no request is left for the next run. */
	p = status_paused(e->dir);
	assert_null(p);
	assert_int_equal(t_sh("test ! -e '%s/.ferry/pause'", e->dir), 0);
}

static void test_interrupt_while_paused(void **state)
{
	env *e = *state;
	e->interrupt = 1;
	assert_int_equal(ferry_up(e->f, NULL, NULL), FERRY_EINTERRUPTED);
	pthread_join(e->helper, NULL);
	e->started = 0;
	assert_true(e->saw_paused);
	assert_false(table_exists(e, "t"));
	assert_false(table_exists(e, "u"));
	assert_true(find(e, "paused", NULL) >= 0);
	assert_int_equal(find(e, "resumed", NULL), -1);
	assert_int_equal(find(e, "action_start", "1.0.0/003_u.sql"), -1);
	assert_int_equal(t_sh("test ! -e '%s/.ferry/pause'", e->dir), 0);
}

static void test_no_run_in_progress(void **state)
{
	env *e = *state;
	assert_int_equal(ferry_pause(e->f, NULL), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(e->f), "no run in progress"));
	assert_int_equal(ferry_resume(e->f), FERRY_EFAILED);
	assert_non_null(strstr(ferry_errmsg(e->f), "no run in progress"));
	assert_int_equal(t_sh("test ! -e '%s/.ferry/pause'", e->dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pause_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_while_paused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_run_in_progress, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
