/*
 * fuzz_sql.c - SQL step files, their sections and markers
 * (lib/step/sql.c), through the kind's load() and describe(). A load
 * either succeeds (an up section is there; describe() gives text) or
 * fails with a message naming the file; the undo text (there when the
 * step is reversible) is read again by undo_transactional() as the step
 * says.
 */
#include "fuzz.h"
#include "step/step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rel[] = "migrations/v0.1.0_to_v0.2.0/0001_x.sql";
	const fr_step_kind *k = &fr_step_sql;
	fr_buf err = FR_BUF_INIT, out = FR_BUF_INIT;
	fr_step s;
	char *text;

	if (size > 65536)
		return 0;
	memset(&s, 0, sizeof s);
	s.name = "0001_x.sql";
	s.rel = (char *)rel;
	s.id = "0.2.0/0001_x.sql";
	s.kind = k;
	text = fz_str(data, size);
	if (k->load(&s, text, size, &err) == 0) {
		const char *db = k->database(&s);
		check(s.priv != NULL);
		check(!db || *db);
		check(k->transactional(&s) == 0 || k->transactional(&s) == 1);
		check(k->describe(&s, &out) == 0 && out.len > 0);
		fr_buf_reset(&out);
		check(k->undo_text(&s, &out) == 0);
		check(k->reversible(&s) == (out.len > 0));
		if (out.len)
			check(k->undo_transactional(out.ptr) == k->transactional(&s));
		k->unload(&s);
	} else {
		check(err.len > 0);
		check(!strncmp(err.ptr, rel, strlen(rel)));
	}
	fr_free(text);
	fr_buf_release(&err);
	fr_buf_release(&out);
	return 0;
}
