/*
 * mock_db.h - an in-memory database driver for the tests only (mock_db.c),
 * put in the driver table with fr_db_test_register(&mock_db_driver).
 *
 * A database is "mock:NAME" (NAME: letters, digits, '_', '-'; a
 * "?readonly" tail makes writable() refuse it); it lives in the process
 * until mock_db_reset(). exec() reads statements separated by ';', "--"
 * comments skipped: `CREATE x` (fails when x exists), `DROP x` (fails when
 * it does not), `FAIL`. query_bool() reads one of `EXISTS x`, `TRUE`,
 * `FALSE`, `NULL` (false) and `NONE` (no row).
 *
 * It claims FR_DB_CAP_SNAPSHOT (snapshot_ext ".mock": the store's objects
 * and records as a small text file, see mock_db.c) and FR_DB_CAP_CLONE
 * (clone "NAME": a copy of the store as "mock:NAME"; drop_clone forgets it).
 */
#ifndef FR_TEST_MOCK_DB_H
#define FR_TEST_MOCK_DB_H

#include "db/db.h"

extern const fr_db_driver mock_db_driver;

/* Forgets every mock database. */
void mock_db_reset(void);

/* 1 when database name (the url's NAME) holds object, 0 when not, -1 without the database. */
int mock_db_has(const char *name, const char *object);

/* 1 when the store name exists (was opened, cloned or restored into), 0 when not. */
int mock_db_exists(const char *name);

/*
 * Appends store name's objects and records, in the text its snapshot()
 * writes, to out: two dumps are equal when the stores are. -1 without it.
 */
int mock_db_dump(const char *name, fr_buf *out);

#endif
