/*
 * mock_kind.c - a step kind for the tests (mock_kind.h): *.mock files that
 * touch and remove files under the root. It proves the kind interface
 * closed: the engine plans, runs, undoes, verifies, backs up, rehearses and
 * makes `ferry new` files of it with nothing about it known outside this
 * file and its line in the kind table (fr_step_kind_test_register).
 *
 * Like a real kind it includes only step.h, lib/util/ and libc. It leaves
 * verify, undo_transactional and the NEEDS_DB/NO_FILE flags out, so the
 * engine's handling of absent optional members is exercised too.
 */
#include "mock_kind.h"
#include "util/alloc.h"
#include "util/fs.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum { MOCK_TOUCH, MOCK_FAIL, MOCK_RM };

static const char *const cmd_names[] = { "touch", "fail", "rm" };

typedef struct {
	int cmd;     /* MOCK_* */
	int line;    /* in the text it was read from */
	char *path;  /* NULL for fail */
	int made;    /* forward created it (what a failing forward removes) */
} mock_cmd;

typedef struct {
	mock_cmd *v;
	size_t n, cap;
	size_t nforward; /* touch and fail lines */
	size_t ndown;    /* rm lines */
} mock_priv;

static const char *mock_rel(const fr_step *s)
{
	if (s->rel)
		return s->rel;
	return s->name ? s->name : "(mock step)";
}

static void mock_priv_free(mock_priv *p)
{
	size_t i;
	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		fr_free(p->v[i].path);
	fr_free(p->v);
	fr_free(p);
}

static void mock_unload(fr_step *s)
{
	mock_priv_free(s->priv);
	s->priv = NULL;
}

static int mock_claims(const char *filename, int executable)
{
	size_t n = filename ? strlen(filename) : 0;
	(void)executable;
	return n > 5 && strcmp(filename + n - 5, ".mock") == 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* 1 when [p, p+n) is a relative path with no ".." component. */
static int path_inside(const char *p, size_t n)
{
	size_t i = 0, start;
	if (!n || p[0] == '/')
		return 0;
	while (i < n) {
		start = i;
		while (i < n && p[i] != '/')
			i++;
		if (i - start == 2 && p[start] == '.' && p[start + 1] == '.')
			return 0;
		i++;
	}
	return 1;
}

static int add_cmd(mock_priv *p, int cmd, int line, const char *path, size_t n)
{
	mock_cmd *c;
	if (fr_grow(&p->v, &p->cap, p->n + 1, sizeof *p->v))
		return -1;
	c = &p->v[p->n];
	memset(c, 0, sizeof *c);
	c->cmd = cmd;
	c->line = line;
	if (path && !(c->path = fr_strndup(path, n)))
		return -1;
	p->n++;
	if (cmd == MOCK_RM)
		p->ndown++;
	else
		p->nforward++;
	return 0;
}

/*
 * Reads text into *out. down: the text is a down already (an undo text:
 * rm lines only). rel names it in messages, "<rel>:<line>: <what>".
 * Returns 0, or -1 with the message in err.
 */
static int mock_parse(const char *text, size_t len, const char *rel, int down, mock_priv **out,
                      fr_buf *err)
{
	const char *end = text + len, *ls, *le;
	int line = 1, in_down = down;
	mock_priv *p = fr_calloc(1, sizeof *p);

	*out = NULL;
	if (!p)
		goto oom;
	if (memchr(text, '\0', len)) {
		fr_buf_printf(err, "%s: contains a NUL byte (not a mock step)", rel);
		goto fail;
	}
	for (ls = text; ls < end; ls = le + 1, line++) {
		const char *a, *b, *w, *arg;
		size_t wn, an;
		int cmd;
		le = memchr(ls, '\n', (size_t)(end - ls));
		if (!le)
			le = end;
		for (a = ls; a < le && is_blank(*a); a++)
			;
		for (b = le; b > a && is_blank(b[-1]); b--)
			;
		if (a == b)
			continue;
		if (*a == '#') {
			for (w = a + 1; w < b && is_blank(*w); w++)
				;
			if (b - w != 4 || memcmp(w, "down", 4))
				continue; /* a comment */
			if (in_down) {
				fr_buf_printf(err, "%s:%d: second '# down' line", rel, line);
				goto fail;
			}
			in_down = 1;
			continue;
		}
		for (w = a; w < b && !is_blank(*w); w++)
			;
		wn = (size_t)(w - a);
		for (arg = w; arg < b && is_blank(*arg); arg++)
			;
		an = (size_t)(b - arg);
		for (cmd = 0; cmd <= MOCK_RM; cmd++)
			if (strlen(cmd_names[cmd]) == wn && !memcmp(a, cmd_names[cmd], wn))
				break;
		if (cmd > MOCK_RM) {
			fr_buf_printf(err, "%s:%d: unknown command '%.*s' (known: touch PATH, fail; "
			              "after '# down': rm PATH)", rel, line, (int)wn, a);
			goto fail;
		}
		if ((cmd == MOCK_RM) != in_down) {
			fr_buf_printf(err, "%s:%d: '%s' belongs %s '# down'", rel, line, cmd_names[cmd],
			              in_down ? "before" : "after");
			goto fail;
		}
		if (cmd == MOCK_FAIL && an) {
			fr_buf_printf(err, "%s:%d: 'fail' takes nothing after it", rel, line);
			goto fail;
		}
		if (cmd != MOCK_FAIL && !path_inside(arg, an)) {
			fr_buf_printf(err, "%s:%d: '%s' needs a path inside the root, not '%.*s'", rel,
			              line, cmd_names[cmd], (int)an, arg);
			goto fail;
		}
		if (add_cmd(p, cmd, line, cmd == MOCK_FAIL ? NULL : arg, an))
			goto oom;
	}
	if (!down && !p->nforward) {
		fr_buf_printf(err, "%s: no 'touch' or 'fail' line (a mock step needs one)", rel);
		goto fail;
	}
	*out = p;
	return 0;
oom:
	fr_buf_printf(err, "%s: out of memory", rel);
fail:
	mock_priv_free(p);
	return -1;
}

static int mock_load(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	mock_priv *p;
	mock_unload(s);
	if (mock_parse(text, len, mock_rel(s), 0, &p, err))
		return -1;
	s->priv = p;
	return 0;
}

static const char *mock_database(const fr_step *s)
{
	(void)s;
	return ""; /* files only */
}

static int mock_transactional(const fr_step *s)
{
	(void)s;
	return 0;
}

static int mock_reversible(const fr_step *s)
{
	const mock_priv *p = s->priv;
	return p && p->ndown > 0;
}

/* root/path in a new string, or NULL with err set. */
static char *under_root(fr_run_ctx *ctx, const char *what, const char *path)
{
	char *full = fr_path_join(ctx->root ? ctx->root : ".", path);
	if (!full)
		fr_buf_printf(ctx->err, "%s: out of memory", what);
	return full;
}

/* Done when every path it touches exists already. */
static int mock_check(fr_run_ctx *ctx, fr_step *s, int *needed)
{
	const mock_priv *p = s->priv;
	size_t i, touches = 0, there = 0;
	*needed = 1;
	for (i = 0; i < p->n; i++) {
		char *full;
		if (p->v[i].cmd != MOCK_TOUCH)
			continue;
		touches++;
		if (!(full = under_root(ctx, mock_rel(s), p->v[i].path)))
			return -1;
		there += (size_t)fr_exists(full);
		fr_free(full);
	}
	*needed = !touches || there < touches;
	return 0;
}

/* Creates the empty file full and its folders. 0, or -1 with errno set. */
static int touch(const char *full)
{
	char *dir = fr_strdup(full), *slash;
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (fr_mkdir_p(dir, 0755)) {
			fr_free(dir);
			return -1;
		}
	}
	fr_free(dir);
	return fr_write_atomic(full, "", 0, 0644);
}

/* Removes what forward created before it failed; the engine undoes completed steps only. */
static void unmake(fr_run_ctx *ctx, mock_priv *p)
{
	size_t i, n = 0;
	for (i = p->n; i-- > 0;) {
		char *full;
		if (!p->v[i].made)
			continue;
		p->v[i].made = 0;
		full = fr_path_join(ctx->root ? ctx->root : ".", p->v[i].path);
		if (full && unlink(full) == 0)
			n++;
		fr_free(full);
	}
	if (n)
		fr_buf_puts(ctx->err, "; the step's earlier touches were undone");
}

static int mock_forward(fr_run_ctx *ctx, fr_step *s)
{
	mock_priv *p = s->priv;
	const char *rel = mock_rel(s);
	size_t i;

	if (ctx->dry_run)
		return 0; /* describe() tells what would change */
	for (i = 0; i < p->n; i++) {
		mock_cmd *c = &p->v[i];
		char *full;
		c->made = 0;
		if (ctx->interrupted && *ctx->interrupted) {
			fr_buf_printf(ctx->err, "%s:%d: interrupted before this line", rel, c->line);
			break;
		}
		if (c->cmd == MOCK_FAIL) {
			fr_buf_printf(ctx->err, "%s:%d: fail (the step says so)", rel, c->line);
			break;
		}
		if (c->cmd != MOCK_TOUCH)
			continue;
		if (!(full = under_root(ctx, rel, c->path)))
			break;
		if (!fr_exists(full)) {
			if (touch(full)) {
				fr_buf_printf(ctx->err, "%s:%d: cannot create '%s': %s", rel, c->line,
				              c->path, strerror(errno));
				fr_free(full);
				break;
			}
			c->made = 1;
		}
		fr_free(full);
	}
	if (i == p->n)
		return 0;
	unmake(ctx, p);
	return -1;
}

/* The down, one "rm PATH" a line: all that undo needs. */
static int mock_undo_text(const fr_step *s, fr_buf *out)
{
	const mock_priv *p = s->priv;
	size_t i;
	for (i = 0; p && i < p->n; i++)
		if (p->v[i].cmd == MOCK_RM)
			fr_buf_printf(out, "rm %s\n", p->v[i].path);
	return out->oom ? -1 : 0;
}

static int mock_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text)
{
	fr_buf rel = FR_BUF_INIT;
	mock_priv *p = NULL;
	size_t i;
	int ret = -1;

	(void)db_name;
	fr_buf_printf(&rel, "%s (undo)", step_id);
	if (!text || !*text) {
		fr_buf_printf(ctx->err, "%s: nothing to run (the step has no down)", rel.ptr);
		goto done;
	}
	if (mock_parse(text, strlen(text), rel.ptr, 1, &p, ctx->err))
		goto done;
	if (ctx->dry_run) {
		ret = 0;
		goto done;
	}
	for (i = 0; i < p->n; i++) {
		char *full = under_root(ctx, rel.ptr, p->v[i].path);
		if (!full)
			goto done;
		if (unlink(full) && errno != ENOENT) {
			fr_buf_printf(ctx->err, "%s:%d: cannot remove '%s': %s", rel.ptr, p->v[i].line,
			              p->v[i].path, strerror(errno));
			fr_free(full);
			goto done;
		}
		fr_free(full);
	}
	ret = 0;
done:
	mock_priv_free(p);
	fr_buf_release(&rel);
	return ret;
}

static int mock_describe(const fr_step *s, fr_buf *out)
{
	const mock_priv *p = s->priv;
	size_t i;
	fr_buf_printf(out, "# mock step %s: %s, on no database\n", mock_rel(s),
	              p->ndown ? "reversible (rm on undo)" : "irreversible");
	for (i = 0; i < p->n; i++)
		if (p->v[i].cmd != MOCK_RM)
			fr_buf_printf(out, "%s%s%s\n", cmd_names[p->v[i].cmd], p->v[i].path ? " " : "",
			              p->v[i].path ? p->v[i].path : "");
	return out->oom ? -1 : 0;
}

/* ---- ferry new ------------------------------------------------------------ */

static const char mock_template[] =
	"# {name}: a mock step (tests only). Lines: 'touch PATH' creates the file,\n"
	"# 'fail' fails the step; after '# down', 'rm PATH' is what undoes it.\n"
	"\n"
	"# down\n";

static int mock_new_template(fr_buf *out, const char *name)
{
	return fr_template_fill(out, mock_template, name);
}

static int mock_is_template(const char *text, size_t len)
{
	return fr_template_matches(mock_template, text, len);
}

const fr_step_kind fr_step_mock = {
	.name = "mock",
	.noun = "mock step",
	.files = "*.mock",
	.new_ext = "mock",
	.new_template = mock_new_template,
	.is_template = mock_is_template,
	.claims = mock_claims,
	.load = mock_load,
	.unload = mock_unload,
	.database = mock_database,
	.transactional = mock_transactional,
	.reversible = mock_reversible,
	.check = mock_check,
	.forward = mock_forward,
	.undo_text = mock_undo_text,
	.undo = mock_undo,
	.describe = mock_describe,
};
