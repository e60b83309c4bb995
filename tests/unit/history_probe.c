/*
 * history_probe.c - lib/history/ from the command line, for the tests that
 * hold it against the real tools (tests/cli/history_dbmate.bats):
 *
 *   history_probe URL TOOL read
 *       prints each migration the tool's table lists as applied, one a line
 *       ("<version>", "<version> failed"), then "upto <version>" for a watermark
 *   history_probe URL TOOL record VERSION [NAME [FILE]]
 *   history_probe URL TOOL unrecord VERSION [PREV]
 *       writes the tool's table in one transaction, as the tool would
 *
 * URL is a database url of ferry.yaml (sqlite:PATH, postgres://...).
 * Exits 0, or 1 with the message on stderr.
 */
#include "db/db.h"
#include "history/history.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: history_probe URL TOOL read|record|unrecord [VERSION [ARG [FILE]]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	fr_dbconf conf = { 0 };
	fr_db *db = NULL;
	fr_buf err = FR_BUF_INIT, text = FR_BUF_INIT;
	fr_history h = FR_HISTORY_INIT;
	fr_history_entry e = { 0 };
	const fr_history_tool *t;
	int rc = 1, undo;
	size_t i;

	if (argc < 4)
		return usage();
	if (!(t = fr_history_tool_find(argv[2]))) {
		fprintf(stderr, "history_probe: no history table for '%s'\n", argv[2]);
		return 2;
	}
	if (fr_db_url_parse(&conf, argv[1], NULL, &err))
		goto done;
	conf.name = fr_strdup("main");
	conf.url = fr_strdup(argv[1]);
	if (fr_db_open(&db, &conf, &err))
		goto done;
	if (!strcmp(argv[3], "read")) {
		if (t->read(db, &h, &err))
			goto done;
		for (i = 0; i < h.n; i++)
			printf("%s%s\n", h.rows[i].version ? h.rows[i].version : h.rows[i].name,
			       h.rows[i].failed ? " failed" : "");
		if (h.upto)
			printf("upto %s%s\n", h.upto, h.upto_failed ? " dirty" : "");
		rc = 0;
		goto done;
	}
	undo = !strcmp(argv[3], "unrecord");
	if ((!undo && strcmp(argv[3], "record")) || argc < 5) {
		fr_history_clear(&h);
		rc = usage();
		goto done;
	}
	e.version = argv[4];
	if (undo)
		e.prev_version = argc > 5 ? argv[5] : NULL;
	else
		e.name = argc > 5 ? argv[5] : NULL;
	if (!undo && argc > 6) {
		if (fr_read_file(argv[6], &text)) {
			fr_buf_printf(&err, "cannot read '%s'", argv[6]);
			goto done;
		}
		e.script = strrchr(argv[6], '/') ? strrchr(argv[6], '/') + 1 : argv[6];
		e.text = text.ptr;
		e.len = text.len;
	}
	if (db->drv->begin(db, &err))
		goto done;
	if ((undo ? t->unrecord(db, &e, &err) : t->record(db, &e, &err)) ||
	    db->drv->commit(db, &err)) {
		fr_buf err2 = FR_BUF_INIT;
		db->drv->rollback(db, &err2);
		fr_buf_release(&err2);
		goto done;
	}
	rc = 0;
done:
	if (rc == 1)
		fprintf(stderr, "history_probe: %s\n", err.ptr);
	fr_history_clear(&h);
	fr_db_close(db);
	fr_dbconf_clear(&conf);
	fr_buf_release(&err);
	fr_buf_release(&text);
	return rc;
}
