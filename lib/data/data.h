/*
 * data.h - what export.c and import.c share: the JSON-lines format of an
 * export (docs/data.md) and the order foreign keys want. The format is
 * written and read here only; what differs between databases (the
 * catalogue, the transactions, a value's conversion, sequences) is asked
 * of the driver (db.h, "export and import").
 *
 * The file: a header line {"$ferry": "export", "format": 1, "app", ...},
 * then for each table a line {"$table": NAME, "columns": [{"name",
 * "type", "notnull", "pk"}]} and one object per row keyed by column name,
 * and last {"$end": true, "tables": {NAME: ROWS}, "rows": N}.
 */
#ifndef FR_DATA_H
#define FR_DATA_H

#include "../db/db.h"
#include "../util/buf.h"

#include <jansson.h>

#define FR_DATA_FORMAT 1

/*
 * Appends v, read from a column declared decl (PostgreSQL: of type
 * type_oid), as a JSON value: null, a number (integers exact, reals in
 * their shortest exact form), a string, true/false for a boolean column,
 * {"$base64": ...} for bytes, {"$real": "NaN"} for a real JSON has no
 * number for, {"$text64": ...} for text that is not UTF-8.
 */
void fr_data_put_value(fr_buf *b, const fr_val *v, const char *decl, unsigned type_oid);

/* Appends s (n bytes) as a JSON string. */
void fr_data_put_string(fr_buf *b, const char *s, size_t n);

/*
 * The value a JSON value of a row stands for; bytes decoded into buf
 * (this value's own, reset here), which v may point into. 0, or -1 with
 * why in err.
 */
int fr_data_get_value(const json_t *j, fr_val *v, fr_buf *buf, fr_buf *err);

/*
 * The order to write or fill the n tables in: each after the tables its
 * foreign keys reference (among the n), otherwise by name; a cycle is
 * broken at the first table of it left (its checks then wait for the
 * commit where the database defers them). order gets n indexes.
 */
int fr_data_order(const fr_db_table *t, size_t n, size_t *order);

/* The table called name among the n, or NULL. */
const fr_db_table *fr_data_table(const fr_db_table *t, size_t n, const char *name);

#endif
