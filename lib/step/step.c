/*
 * step.c - the table of step kinds (a static NULL-terminated array, as
 * curl's TLS backends), the wrappers through which the engine asks a kind
 * what it is and can do, and loading a step's file through its kind. The
 * first kind that claims a file name wins, so the more specific kinds come
 * first; the first kind that `ferry new` can make is the default one.
 * Built with FR_TESTING (the tests' library only), the table has room for
 * one more kind, which fr_step_kind_test_register() puts before the last.
 */
#include "step.h"
#include "../util/fs.h"

#include <errno.h>
#include <string.h>

#ifdef FR_TESTING
#define FR_KIND_TABLE_CONST
#else
#define FR_KIND_TABLE_CONST const
#endif

static const fr_step_kind *FR_KIND_TABLE_CONST kinds[] = {
	&fr_step_sql,
	&fr_step_native,
	&fr_step_ops,    /* before script: an executable *.yaml is still an ops step */
	&fr_step_script, /* *.sh and any other executable file: the catch-all, last */
	NULL,
#ifdef FR_TESTING
	NULL, /* the room of fr_step_kind_test_register */
#endif
};

#ifdef FR_TESTING
/*
 * The last kind moves into the room and k takes its place, so k claims its
 * files before the catch-all does; a second call replaces the first's kind.
 */
void fr_step_kind_test_register(const fr_step_kind *k)
{
	size_t last = sizeof kinds / sizeof kinds[0] - 2;
	if (!kinds[last])
		kinds[last] = kinds[last - 1];
	kinds[last - 1] = k;
}
#endif

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

const fr_step_kind *fr_step_kind_with(unsigned flag)
{
	size_t i;
	for (i = 0; kinds[i]; i++)
		if (fr_kind_has(kinds[i], flag))
			return kinds[i];
	return NULL;
}

const fr_step_kind *fr_step_kind_default(void)
{
	return fr_step_kind_for_new(NULL);
}

const fr_step_kind *fr_step_kind_for_new(const char *name)
{
	size_t i;
	for (i = 0; kinds[i]; i++) {
		const fr_step_kind *m = kinds[i];
		if (!m->new_template || !m->new_ext)
			continue;
		if (!name || !strcmp(kinds[i]->name, name) || !strcmp(m->new_ext, name))
			return kinds[i];
	}
	return NULL;
}

int fr_step_empty(const fr_step *s)
{
	return s && s->loaded && s->kind && s->kind->empty && s->kind->empty(s);
}

int fr_kind_has(const fr_step_kind *k, unsigned flag)
{
	return k && (k->flags & flag) == flag;
}

const char *fr_kind_noun(const fr_step_kind *k)
{
	return k && k->noun ? k->noun : "step";
}

int fr_kind_new_template(const fr_step_kind *k, const char *name, fr_buf *out,
                         const char **ext)
{
	const fr_step_kind *m = k ? k : NULL;
	*ext = NULL;
	if (!m || !m->new_template || !m->new_ext || m->new_template(out, name) || out->oom)
		return -1;
	*ext = m->new_ext;
	return 0;
}

void fr_step_kinds_new_list(fr_buf *out)
{
	size_t i;
	int n = 0;
	for (i = 0; kinds[i]; i++) {
		const fr_step_kind *m = kinds[i];
		if (!m->new_template || !m->new_ext)
			continue;
		fr_buf_printf(out, "%s%s", n++ ? ", " : "", kinds[i]->name);
		if (strcmp(kinds[i]->name, m->new_ext))
			fr_buf_printf(out, " (*.%s)", m->new_ext);
	}
}

void fr_step_kinds_files(fr_buf *out)
{
	size_t i, n = 0, k = 0;
	for (i = 0; kinds[i]; i++)
		n += kinds[i]->files != NULL;
	for (i = 0; kinds[i]; i++) {
		const fr_step_kind *m = kinds[i];
		if (!m->files)
			continue;
		k++;
		fr_buf_printf(out, "%s%ss %s", k == 1 ? "" : k == n ? ", and " : ", ", m->noun,
		              m->files);
	}
}

int fr_step_kind_complete(const fr_step_kind *k, fr_buf *why)
{
	const fr_step_kind *m = k;
	size_t len = why->len;
#define MUST(m, member) \
	do { \
		if (!(m)->member) \
			fr_buf_printf(why, "%s%s", why->len > len ? ", " : "", #member); \
	} while (0)
	MUST(k, name);
	MUST(m, noun);
	MUST(k, claims);
	if (!(k->flags & FR_KIND_NO_FILE))
		MUST(k, load);
	MUST(k, database);
	MUST(k, transactional);
	MUST(k, reversible);
	MUST(k, forward);
	MUST(k, undo_text);
	MUST(k, undo);
	MUST(k, describe);
	/* new_ext, new_template and is_template go together. */
	if (m->new_ext || m->new_template || m->is_template) {
		MUST(m, new_ext);
		MUST(m, new_template);
		MUST(m, is_template);
	}
#undef MUST
	if (why->len == len)
		return 0;
	fr_buf_printf(why, " missing in step kind '%s'", k->name ? k->name : "(unnamed)");
	return -1;
}

/* 1 when text is k's untouched `ferry new` template. */
static int untouched_text(const fr_step_kind *k, const char *text, size_t len)
{
	const fr_step_kind *m = k ? k : NULL;
	return m && m->is_template && m->is_template(text, len);
}

int fr_step_untouched(const fr_step *s)
{
	fr_buf text = FR_BUF_INIT;
	int r = 0;
	if (!s->kind || fr_kind_has(s->kind, FR_KIND_NO_FILE) || !s->kind->is_template)
		return 0;
	if (fr_read_file(s->path, &text) == 0 && !text.oom)
		r = untouched_text(s->kind, text.ptr, text.len);
	fr_buf_release(&text);
	return r;
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
	if (fr_kind_has(s->kind, FR_KIND_NO_FILE)) {
		/* Registered in C: nothing to read; priv was set at registration. */
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
	if (untouched_text(s->kind, text.ptr, text.len)) {
		fr_buf_printf(err, "%s: still the untouched template of 'ferry new'; write the "
		                   "%s's change in it (or delete the file)",
		              s->rel, fr_kind_noun(s->kind));
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

/* ---- templates ---------------------------------------------------------- */

#define NAME_TOKEN "{name}"
#define NAME_TOKEN_LEN 6

int fr_template_fill(fr_buf *out, const char *tmpl, const char *name)
{
	const char *t;
	while ((t = strstr(tmpl, NAME_TOKEN)) != NULL) {
		fr_buf_add(out, tmpl, (size_t)(t - tmpl));
		fr_buf_puts(out, name);
		tmpl = t + NAME_TOKEN_LEN;
	}
	fr_buf_puts(out, tmpl);
	return out->oom ? -1 : 0;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int fr_template_matches(const char *tmpl, const char *text, size_t len)
{
	const char *end = text + len, *t;
	while ((t = strstr(tmpl, NAME_TOKEN)) != NULL) {
		size_t lit = (size_t)(t - tmpl);
		const char *n;
		if ((size_t)(end - text) < lit || memcmp(text, tmpl, lit))
			return 0;
		text += lit;
		for (n = text; n < end && name_char(*n); n++)
			;
		if (n == text)
			return 0;
		text = n;
		tmpl = t + NAME_TOKEN_LEN;
	}
	return (size_t)(end - text) == strlen(tmpl) && !memcmp(text, tmpl, strlen(tmpl));
}
