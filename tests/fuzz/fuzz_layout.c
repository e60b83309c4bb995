/*
 * fuzz_layout.c - other tools' migration files (lib/layout/): the input
 * is a migration's text, read by each layout's split as its up file, with
 * half of it as a down file and the rest as an options file. A split
 * either succeeds (up is a string; a down only when one was given or the
 * tool's markers hold one; no-transaction 0 or 1) or fails with a message
 * naming the file; and the input, as a file name, is claimed 0, 1 or 2.
 */
#include "fuzz.h"
#include "layout/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rel[] = "db/migrations/1_x.sql";
	const char *names[] = { "dbmate", "goose", "golang-migrate", "flyway", "diesel", "sqlx" };
	fr_buf err = FR_BUF_INIT;
	char *text;
	size_t i;

	if (size > 65536)
		return 0;
	text = fz_str(data, size);
	for (i = 0; i < sizeof names / sizeof *names; i++) {
		const fr_layout *l = fr_layout_find(names[i]);
		fr_layout_entry e = { text, (int)(size & 1) };
		fr_split_in in;
		fr_split_out o;
		int c;
		check(l != NULL);
		c = l->claims(&e);
		check(c >= 0 && c <= 2);
		if (l->marks)
			check(l->marks(text, size) == 0 || l->marks(text, size) == 1);
		memset(&in, 0, sizeof in);
		in.rel = rel;
		in.up = text;
		in.up_len = size;
		if (size & 2) {
			in.down = text + size / 2;
			in.down_len = size - size / 2;
		}
		if (size & 4) {
			in.meta = text;
			in.meta_len = size / 2;
		}
		fr_buf_reset(&err);
		memset(&o, 0, sizeof o);
		if (l->split(&in, &o, &err) == 0) {
			check(o.up != NULL);
			check(o.up_line >= 1);
			check(o.no_tx == 0 || o.no_tx == 1);
			check(strlen(o.up) <= size);
		} else {
			check(err.len > 0);
			check(!strncmp(err.ptr, rel, strlen(rel)));
		}
		fr_free(o.up);
		fr_free(o.down);
	}
	fr_free(text);
	fr_buf_release(&err);
	return 0;
}
