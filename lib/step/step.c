/*
 * step.c - the table of step kinds (a static NULL-terminated array, as
 * curl's TLS backends) and loading a step's file through its kind. The
 * first kind that claims a file name wins, so the more specific kinds
 * come first.
 */
#include "step.h"
#include "../util/fs.h"

#include <errno.h>
#include <string.h>

static const fr_step_kind *const kinds[] = {
	&fr_step_sql,
	&fr_step_native,
	&fr_step_ops,    /* before script: an executable *.yaml is still an ops step */
	&fr_step_script, /* *.sh and any other executable file */
	NULL,
};

const fr_step_kind *fr_step_kind_for(const char *filename, int executable)
{
	size_t i;
	if (!filename)
		return NULL;
	for (i = 0; kinds[i]; i++)
		if (kinds[i]->claims && kinds[i]->claims(filename, executable))
			return kinds[i];
	return NULL;
}

const fr_step_kind *fr_step_kind_find(const char *name)
{
	size_t i;
	if (!name)
		return NULL;
	for (i = 0; kinds[i]; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

/*
 * Reads the file once; the same bytes give the checksum when none was
 * computed yet, so a step that is loaded is never read a second time.
 */
int fr_step_load(fr_step *s, fr_buf *err)
{
	fr_buf text = FR_BUF_INIT;
	int rc = -1;

	if (s->loaded)
		return 0;
	if (s->no_file) {
		/* A native step: registered in C, nothing to read. */
		s->loaded = 1;
		return 0;
	}
	if (!s->kind) {
		fr_buf_printf(err, "%s: unknown step kind", s->rel);
		goto done;
	}
	if (fr_read_file(s->path, &text)) {
		fr_buf_printf(err, "%s: %s", s->rel, strerror(errno));
		goto done;
	}
	if (text.oom) {
		fr_buf_printf(err, "%s: %s", s->rel, strerror(ENOMEM));
		goto done;
	}
	if (!s->checksum[0] && fr_checksum(text.ptr, text.len, s->checksum)) {
		s->checksum[0] = '\0';
		fr_buf_printf(err, "%s: cannot compute the checksum", s->rel);
		goto done;
	}
	if (s->kind->load && s->kind->load(s, text.ptr, text.len, err))
		goto done;
	s->loaded = 1;
	rc = 0;
done:
	fr_buf_release(&text);
	return rc;
}
