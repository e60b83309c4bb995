/*
 * fuzz_pg_split.c - the PostgreSQL driver's statement splitter
 * (pg_split() in lib/db/postgres.c, static: the driver's file is compiled
 * into this target, so the library stays as it is).
 *
 * The statements of a script are in order, do not overlap, start on code
 * (not on blanks, comments or ';') and end on a ';' or the script's end;
 * a statement's own text, split again, is exactly that one statement.
 */
#include "fuzz.h"
#include "../../lib/db/postgres.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_stmt *st = NULL, *one = NULL;
	fr_buf b = FR_BUF_INIT;
	size_t n = 0, m = 0, i, len, prev = 0;
	char *sql;

	if (size > 65536)
		return 0;
	sql = fz_str(data, size);
	len = strlen(sql);
	check(pg_split(sql, &st, &n) == 0);
	for (i = 0; i < n; i++) {
		char *text;
		unsigned char c = (unsigned char)sql[st[i].start];
		check(st[i].start >= prev && st[i].start < st[i].end && st[i].end <= len);
		check(!strchr(" \t\n\r\f\v;", c) && c != '\0');
		check(st[i].end == len || sql[st[i].end] == ';');
		prev = st[i].end;
		pg_put_first_line(&b, sql, &st[i]);
		text = fr_strndup(sql + st[i].start, st[i].end - st[i].start);
		check(text != NULL);
		check(pg_split(text, &one, &m) == 0);
		check(m == 1 && one[0].start == 0 && one[0].end == strlen(text));
		fr_free(one);
		fr_free(text);
	}
	fr_free(st);
	fr_free(sql);
	fr_buf_release(&b);
	return 0;
}
