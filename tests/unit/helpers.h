/*
 * helpers.h - small helpers shared by the unit tests: a fresh temporary
 * folder per test, writing files into it, running a shell command, and
 * the few calls every database driver's test makes.
 */
#ifndef FR_TEST_HELPERS_H
#define FR_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "db/db.h"

/* Creates a fresh folder under $TMPDIR (or /tmp); returns its path (static storage per call). */
char *t_tmpdir(void);
/* Removes a folder tree (rm -rf). */
void t_rmrf(const char *path);
/* Writes text to dir/rel, creating parent folders. */
void t_write(const char *dir, const char *rel, const char *text);
/* Reads dir/rel into a malloc'd string (NULL when missing). */
char *t_read(const char *dir, const char *rel);
/* Runs a shell command formatted like printf; returns its exit status. */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A path dir/rel in a malloc'd string. */
char *t_path(const char *dir, const char *rel);

/* Database tests: runs sql through db's driver, failing the test (with the message) on error. */
void t_exec_ok(fr_db *db, const char *sql);
/* query_bool() of sql on db; fails the test on error. */
int t_qbool(fr_db *db, const char *sql);
/* A record with every field set (strings borrowed): applied, sql, from 0.1.x to 0.2.0. */
fr_record t_record(const char *id, const char *undo);

/*
 * A plan's or a run's `actions` as "kind id database transaction" lines
 * (id: the step, hook, version or backup type; "-" and 0 when none), to
 * compare what was planned with what ran. malloc'd.
 */
char *t_actions_shape(json_t *actions);
/* The JSON document text (a library document, freed here) parsed; fails the test if it is not. */
json_t *t_doc_of(char *text);

#endif
