/*
 * script.c - the script step kind (fr_step_script, SPEC section 4): a *.sh
 * file or any executable file, run as `<file> forward|backward|check` with
 * the root as working directory and FERRY_ROOT, FERRY_FROM, FERRY_TO,
 * FERRY_STEP, FERRY_DRY_RUN and FERRY_DB_<NAME> in its environment.
 *
 * Header directives, on lines of their own ("#ferry:" or "# ferry:"):
 *   # ferry:timeout N        seconds the run may take (default 3600)
 *   # ferry:irreversible     the script has no backward
 *   # ferry:database NAME    the database whose record keeps the step
 *                            (default: none; the script is on no database)
 * A directive is read wherever its line stands; an unknown one is an error.
 *
 * How it runs: an executable file with a "#!" line (or a compiled program)
 * is run directly; anything else under /bin/sh. The run gets its own
 * process group (util/proc.h's runner): at the time limit, or on
 * ferry_interrupt(), the whole group gets SIGTERM, then SIGKILL 5 s later.
 * Output lines (stdout and stderr merged) go to ctx->output.
 *
 * forward() that fails runs the script's backward at once (when it has
 * one), so the half of its work done before the failure is undone: the
 * engine undoes completed steps only. The registry keeps the whole script
 * text, so backward works after the file changed or vanished: undo()
 * writes it to a private file in the scratch folder and runs that.
 */
#include "step.h"
#include "../util/alloc.h"
#include "../util/fs.h"
#include "../util/proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRIPT_TIMEOUT_DEFAULT 3600
#define SCRIPT_TIMEOUT_MAX (7 * 24 * 3600)

typedef struct {
	char *text;       /* the whole file (NUL-terminated; a program may hold NULs) */
	size_t len;
	char *database;   /* NULL: on no database */
	int irreversible;
	int timeout;      /* seconds */
	int binary;       /* a compiled program, not a text */
	int shebang;      /* starts with "#!" */
} script_priv;

static const char *script_rel(const fr_step *s)
{
	if (s->rel)
		return s->rel;
	return s->name ? s->name : "(script step)";
}

static void script_priv_free(script_priv *p)
{
	if (!p)
		return;
	fr_free(p->text);
	fr_free(p->database);
	fr_free(p);
}

static void script_unload(fr_step *s)
{
	script_priv_free(s->priv);
	s->priv = NULL;
}

static int script_claims(const char *filename, int executable)
{
	size_t n = filename ? strlen(filename) : 0;
	if (n > 3 && strcasecmp(filename + n - 3, ".sh") == 0)
		return 1;
	return n > 0 && executable;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Reads the directives of text into p. rel names the text in messages
 * ("<rel>:<line>: ..."). Returns 0, or -1 with the message in err.
 */
static int script_parse(script_priv *p, const char *text, size_t len, const char *rel,
                        fr_buf *err)
{
	const char *ls = text, *end = text + len, *le;
	int line = 1;

	p->timeout = SCRIPT_TIMEOUT_DEFAULT;
	p->shebang = len >= 2 && text[0] == '#' && text[1] == '!';
	p->binary = memchr(text, '\0', len) != NULL ||
	            (len >= 4 && memcmp(text, "\x7f" "ELF", 4) == 0);
	if (p->binary)
		return 0; /* a program's directives cannot be read; it takes the defaults */
	for (; ls < end; ls = le + 1, line++) {
		const char *a, *w, *arg, *b;
		size_t wn, an;
		le = memchr(ls, '\n', (size_t)(end - ls));
		if (!le)
			le = end;
		for (a = ls; a < le && is_blank(*a); a++)
			;
		if (a == le || *a != '#')
			continue;
		for (a++; a < le && is_blank(*a); a++)
			;
		if ((size_t)(le - a) < 6 || memcmp(a, "ferry:", 6) != 0)
			continue;
		for (w = a + 6, b = w; b < le && !is_blank(*b); b++)
			;
		wn = (size_t)(b - w);
		for (arg = b; arg < le && is_blank(*arg); arg++)
			;
		for (b = le; b > arg && is_blank(b[-1]); b--)
			;
		an = (size_t)(b - arg);
		if (wn == 12 && memcmp(w, "irreversible", 12) == 0 && an == 0) {
			p->irreversible = 1;
		} else if (wn == 7 && memcmp(w, "timeout", 7) == 0) {
			char num[16], *stop = NULL;
			long v = -1;
			if (an > 0 && an < sizeof num && isdigit((unsigned char)arg[0])) {
				memcpy(num, arg, an);
				num[an] = '\0';
				errno = 0;
				v = strtol(num, &stop, 10);
				if (errno || *stop)
					v = -1;
			}
			if (v < 1 || v > SCRIPT_TIMEOUT_MAX) {
				fr_buf_printf(err, "%s:%d: '# ferry:timeout' needs a number of seconds from 1 "
				              "to %d, not '%.*s'", rel, line, SCRIPT_TIMEOUT_MAX, (int)an, arg);
				return -1;
			}
			p->timeout = (int)v;
		} else if (wn == 8 && memcmp(w, "database", 8) == 0 && an > 0 &&
		           !memchr(arg, ' ', an) && !memchr(arg, '\t', an)) {
			if (p->database) {
				fr_buf_printf(err, "%s:%d: second '# ferry:database' line", rel, line);
				return -1;
			}
			p->database = fr_strndup(arg, an);
			if (!p->database) {
				fr_buf_printf(err, "%s: out of memory", rel);
				return -1;
			}
		} else if ((wn == 12 && memcmp(w, "irreversible", 12) == 0) ||
		           (wn == 8 && memcmp(w, "database", 8) == 0)) {
			fr_buf_printf(err, "%s:%d: '# ferry:%.*s' %s", rel, line, (int)wn, w,
			              wn == 8 ? "needs one database name" : "takes nothing after it");
			return -1;
		} else {
			fr_buf_printf(err, "%s:%d: unknown directive 'ferry:%.*s' (known: database NAME, "
			              "irreversible, timeout SECONDS)", rel, line, (int)wn, w);
			return -1;
		}
	}
	return 0;
}

static int script_load(fr_step *s, const char *text, size_t len, fr_buf *err)
{
	const char *rel = script_rel(s);
	script_priv *p;

	script_unload(s);
	p = fr_calloc(1, sizeof *p);
	if (!p || !(p->text = fr_malloc(len + 1))) {
		fr_free(p);
		fr_buf_printf(err, "%s: out of memory", rel);
		return -1;
	}
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->len = len;
	if (script_parse(p, text, len, rel, err))
		goto fail;
	if (p->binary && !s->executable) {
		fr_buf_printf(err, "%s: not a text file and not executable (a script step is a shell "
		              "script or an executable program)", rel);
		goto fail;
	}
	s->priv = p;
	return 0;
fail:
	script_priv_free(p);
	return -1;
}

static const char *script_database(const fr_step *s)
{
	const script_priv *p = s->priv;
	return p && p->database ? p->database : "";
}

static int script_transactional(const fr_step *s)
{
	(void)s;
	return 0; /* a script is another process: it cannot share ferry's transaction */
}

static int script_reversible(const fr_step *s)
{
	const script_priv *p = s->priv;
	return p && !p->irreversible;
}

/* ---- running ------------------------------------------------------------- */

/* The environment of a run: NULL-terminated, every string owned. */
typedef struct {
	char **v;
	size_t n;
	int oom;
} script_env;

static void env_add(script_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void env_add(script_env *e, const char *fmt, ...)
{
	fr_buf b = FR_BUF_INIT;
	va_list ap;
	char **t;
	if (e->oom)
		return;
	va_start(ap, fmt);
	fr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	t = fr_realloc(e->v, (e->n + 2) * sizeof *t);
	if (b.oom || !t) {
		fr_buf_release(&b);
		if (t)
			e->v = t;
		e->oom = 1;
		return;
	}
	e->v = t;
	e->v[e->n++] = fr_buf_detach(&b);
	e->v[e->n] = NULL;
}

static void env_free(script_env *e)
{
	size_t i;
	for (i = 0; i < e->n; i++)
		fr_free(e->v[i]);
	fr_free(e->v);
	memset(e, 0, sizeof *e);
}

/* FERRY_DB_<NAME>: upper-cased, anything but letters and digits as '_'. */
static void env_db_name(fr_buf *b, const char *name)
{
	for (; *name; name++) {
		unsigned char c = (unsigned char)*name;
		fr_buf_putc(b, isalnum(c) ? (char)toupper(c) : '_');
	}
}

static void env_build(script_env *e, fr_run_ctx *ctx, const char *step_id)
{
	size_t i;
	env_add(e, "FERRY_ROOT=%s", ctx->root ? ctx->root : "");
	env_add(e, "FERRY_FROM=%s", ctx->from ? ctx->from : "");
	env_add(e, "FERRY_TO=%s", ctx->to ? ctx->to : "");
	env_add(e, "FERRY_STEP=%s", step_id ? step_id : "");
	env_add(e, "FERRY_DRY_RUN=%d", ctx->dry_run ? 1 : 0);
	for (i = 0; i < ctx->ndbs && ctx->db_names && ctx->db_urls; i++) {
		fr_buf n = FR_BUF_INIT;
		env_db_name(&n, ctx->db_names[i]);
		env_add(e, "FERRY_DB_%s=%s", n.ptr, ctx->db_urls[i] ? ctx->db_urls[i] : "");
		if (n.oom)
			e->oom = 1;
		fr_buf_release(&n);
	}
}

static void script_line(void *arg, const char *line)
{
	fr_run_ctx *ctx = arg;
	if (ctx->output)
		ctx->output(ctx, line);
}

/*
 * Runs path with verb. direct: exec the file itself, else /bin/sh path.
 * interruptible: ctx->interrupted may cut it short (not for a backward that
 * cleans up). Returns 0 when it ran (r says how), -1 with ctx->err set.
 */
static int script_exec(fr_run_ctx *ctx, const char *rel, const char *step_id, const char *path,
                       int direct, int timeout, const char *verb, int interruptible,
                       fr_proc_result *r)
{
	script_env env = { NULL, 0, 0 };
	fr_buf msg = FR_BUF_INIT;
	const char *argv[4];
	fr_proc p;
	int ret = -1;

	env_build(&env, ctx, step_id);
	if (env.oom) {
		fr_buf_printf(ctx->err, "%s: out of memory", rel);
		goto done;
	}
	memset(&p, 0, sizeof p);
	if (direct) {
		argv[0] = path;
		argv[1] = verb;
		argv[2] = NULL;
	} else {
		argv[0] = "/bin/sh";
		argv[1] = path;
		argv[2] = verb;
		argv[3] = NULL;
	}
	p.argv = argv;
	p.cwd = ctx->root;
	p.env = (const char *const *)env.v;
	p.timeout_s = timeout;
	p.line = script_line;
	p.line_arg = ctx;
	p.interrupted = interruptible ? ctx->interrupted : NULL;
	p.started = ctx->proc_started;
	p.ended = ctx->proc_ended;
	p.started_arg = ctx->proc_arg;
	if (fr_proc_run(&p, r, &msg)) {
		fr_buf_printf(ctx->err, "%s: %s", rel, msg.ptr);
		goto done;
	}
	ret = 0;
done:
	env_free(&env);
	fr_buf_release(&msg);
	return ret;
}

/*
 * The interpreter a "#!" line names must be there: said before running
 * rather than as the exec failure of a child.
 */
static int shebang_ok(fr_run_ctx *ctx, const char *rel, const char *text)
{
	const char *a = text + 2, *b;
	char interp[4096];
	while (*a == ' ' || *a == '\t')
		a++;
	b = a + strcspn(a, " \t\r\n");
	if ((size_t)(b - a) >= sizeof interp)
		return 0;
	memcpy(interp, a, (size_t)(b - a));
	interp[b - a] = '\0';
	if (!interp[0] || access(interp, X_OK)) {
		fr_buf_printf(ctx->err, "%s: cannot run it: its '#!' line names '%s', which cannot be "
		              "run (%s); fix the line or install the interpreter", rel, interp,
		              interp[0] ? strerror(errno) : "no program");
		return -1;
	}
	return 0;
}

/* The file itself runs when it is an executable program or has a "#!" line. */
static int script_direct(const fr_step *s)
{
	const script_priv *p = s->priv;
	return s->executable && (p->shebang || p->binary);
}

static void script_outcome(fr_buf *out, const char *verb, const fr_proc_result *r, int timeout)
{
	fr_buf_printf(out, "'%s' ", verb);
	fr_proc_explain(r, timeout, out);
	if (r->timed_out)
		fr_buf_printf(out, " (# ferry:timeout %d)", timeout);
	if (r->last[0])
		fr_buf_printf(out, "; its last output: '%s'", r->last);
}

static int script_check(fr_run_ctx *ctx, fr_step *s, int *needed)
{
	script_priv *p = s->priv;
	const char *rel = script_rel(s);
	fr_proc_result r;

	*needed = 1;
	if (script_direct(s) && p->shebang && shebang_ok(ctx, rel, p->text))
		return -1;
	if (script_exec(ctx, rel, ctx->step_id ? ctx->step_id : s->id, s->path, script_direct(s),
	                p->timeout, "check", 1, &r))
		return -1;
	if (!r.timed_out && !r.interrupted && (r.status == 0 || r.status == 1)) {
		*needed = r.status == 0;
		return 0;
	}
	fr_buf_printf(ctx->err, "%s: ", rel);
	script_outcome(ctx->err, "check", &r, p->timeout);
	if (!r.timed_out && !r.interrupted)
		fr_buf_puts(ctx->err, " (check exits 0 when the step is needed, 1 when it is done; "
		                      "anything else is an error)");
	return -1;
}

static int script_forward(fr_run_ctx *ctx, fr_step *s)
{
	script_priv *p = s->priv;
	const char *rel = script_rel(s);
	const char *id = ctx->step_id ? ctx->step_id : s->id;
	fr_proc_result r, b;
	fr_buf msg = FR_BUF_INIT;

	if (ctx->dry_run)
		return 0; /* describe() tells what would run */
	if (script_direct(s) && p->shebang && shebang_ok(ctx, rel, p->text))
		return -1;
	if (script_exec(ctx, rel, id, s->path, script_direct(s), p->timeout, "forward", 1, &r))
		return -1;
	if (fr_proc_ok(&r))
		return 0;
	fr_buf_printf(&msg, "%s: ", rel);
	script_outcome(&msg, "forward", &r, p->timeout);
	if (p->irreversible) {
		fr_buf_puts(&msg, "; it has no backward (# ferry:irreversible), so what it did before "
		                  "failing stays: the run's backup holds the state before it");
	} else {
		/* Its own backward undoes the half it did; the engine undoes completed steps only. */
		fr_buf berr = FR_BUF_INIT;
		fr_buf *keep = ctx->err;
		ctx->err = &berr;
		if (script_exec(ctx, rel, id, s->path, script_direct(s), p->timeout, "backward", 0,
		                &b)) {
			fr_buf_printf(&msg, "; its backward could not run either: %s", berr.ptr);
		} else if (fr_proc_ok(&b)) {
			fr_buf_puts(&msg, "; its backward ran and undid what it had done");
		} else {
			fr_buf_puts(&msg, "; its backward failed too (");
			script_outcome(&msg, "backward", &b, p->timeout);
			fr_buf_puts(&msg, "), so part of its work may remain: fix the script and run "
			                  "its backward by hand, or restore the run's backup");
		}
		ctx->err = keep;
		fr_buf_release(&berr);
	}
	fr_buf_puts(ctx->err, msg.ptr);
	fr_buf_release(&msg);
	return -1;
}

/* Appends value single-quoted for a shell. */
static void sh_quote(fr_buf *out, const char *v)
{
	fr_buf_putc(out, '\'');
	for (; *v; v++) {
		if (*v == '\'')
			fr_buf_puts(out, "'\\''");
		else
			fr_buf_putc(out, *v);
	}
	fr_buf_putc(out, '\'');
}

/*
 * The registry keeps the whole script. A compiled program cannot be kept
 * as text: its undo text is a two-line shell script that runs the program
 * where it is then.
 */
static int script_undo_text(const fr_step *s, fr_buf *out)
{
	const script_priv *p = s->priv;
	if (!p || p->irreversible)
		return out->oom ? -1 : 0;
	if (p->binary) {
		fr_buf_puts(out, "#!/bin/sh\n# ferry: backward of a compiled program\nexec ");
		sh_quote(out, s->path);
		fr_buf_puts(out, " \"$@\"\n");
		return out->oom ? -1 : 0;
	}
	return fr_buf_add(out, p->text, p->len);
}

/* The scratch folder: the engine's, else <root>/.ferry/tmp. NULL with err set. */
static char *script_scratch(fr_run_ctx *ctx, const char *step_id)
{
	char *dir;
	if (ctx->scratch_dir && *ctx->scratch_dir)
		dir = fr_strdup(ctx->scratch_dir);
	else
		dir = fr_path_join(ctx->root ? ctx->root : ".", ".ferry/tmp");
	if (!dir) {
		fr_buf_printf(ctx->err, "%s (backward): out of memory", step_id);
		return NULL;
	}
	if (fr_mkdir_p(dir, 0700)) {
		fr_buf_printf(ctx->err, "%s (backward): cannot create '%s': %s", step_id, dir,
		              strerror(errno));
		FR_FREE(dir);
	}
	return dir;
}

static int script_undo(fr_run_ctx *ctx, const char *step_id, const char *db_name, const char *text)
{
	script_priv p;
	fr_proc_result r;
	fr_buf path = FR_BUF_INIT, rel = FR_BUF_INIT;
	char *dir = NULL;
	size_t len = text ? strlen(text) : 0, off = 0;
	int fd = -1, ret = -1;

	(void)db_name;
	memset(&p, 0, sizeof p);
	fr_buf_printf(&rel, "%s (backward)", step_id);
	if (!len) {
		fr_buf_printf(ctx->err, "%s: nothing to run (the script is irreversible)", rel.ptr);
		goto done;
	}
	if (script_parse(&p, text, len, rel.ptr, ctx->err))
		goto done;
	if (p.irreversible) {
		fr_buf_printf(ctx->err, "%s: the script is marked '# ferry:irreversible'", rel.ptr);
		goto done;
	}
	if (ctx->dry_run) {
		ret = 0;
		goto done;
	}
	if (!(dir = script_scratch(ctx, step_id)))
		goto done;
	fr_buf_printf(&path, "%s/backward-XXXXXX", dir);
	if (path.oom || (fd = mkstemp(path.ptr)) < 0) {
		fr_buf_printf(ctx->err, "%s: cannot create a file in '%s': %s", rel.ptr, dir,
		              path.oom ? strerror(ENOMEM) : strerror(errno));
		fr_buf_reset(&path);
		goto done;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fr_buf_printf(ctx->err, "%s: cannot write '%s': %s", rel.ptr, path.ptr,
			              strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0700) || close(fd)) {
		fd = -1;
		fr_buf_printf(ctx->err, "%s: cannot write '%s': %s", rel.ptr, path.ptr, strerror(errno));
		goto done;
	}
	fd = -1;
	if (p.shebang && shebang_ok(ctx, rel.ptr, text))
		goto done;
	if (script_exec(ctx, rel.ptr, step_id, path.ptr, p.shebang, p.timeout, "backward", 0, &r))
		goto done;
	if (!fr_proc_ok(&r)) {
		fr_buf_printf(ctx->err, "%s: ", rel.ptr);
		script_outcome(ctx->err, "backward", &r, p.timeout);
		goto done;
	}
	ret = 0;
done:
	if (fd >= 0)
		close(fd);
	if (path.len)
		unlink(path.ptr);
	fr_free(p.database);
	fr_free(dir);
	fr_buf_release(&path);
	fr_buf_release(&rel);
	return ret;
}

static int script_undo_transactional(const char *text)
{
	(void)text;
	return 0;
}

/*
 * What --dry-run shows: the working folder, the environment and the
 * command line. With the run's context (describe_in), FERRY_DRY_RUN and
 * each FERRY_DB_<NAME> as the run gives them, passwords hidden (the
 * engine's db_shown); without (describe), FERRY_DB_<NAME> is named, not
 * spelled out.
 */
static int script_describe_with(fr_run_ctx *ctx, const fr_step *s, fr_buf *out)
{
	const script_priv *p = s->priv;
	size_t lp = s->path ? strlen(s->path) : 0, lr = s->rel ? strlen(s->rel) : 0;
	char from[FR_VERSION_STR_MAX] = "", to[FR_VERSION_STR_MAX] = "";
	fr_buf root = FR_BUF_INIT;

	if (lp > lr + 1 && lr && strcmp(s->path + lp - lr, s->rel) == 0 &&
	    s->path[lp - lr - 1] == '/')
		fr_buf_add(&root, s->path, lp - lr - 1);
	if (s->from)
		fr_vpattern_format(s->from, from, sizeof from);
	if (s->to)
		fr_version_format(s->to, to, sizeof to);
	fr_buf_printf(out, "# script %s: forward, timeout %d s, %s, %s%s\n", script_rel(s),
	              p->timeout, p->irreversible ? "irreversible" : "reversible (backward)",
	              p->database ? "recorded in database " : "on no database",
	              p->database ? p->database : "");
	if (root.len) {
		fr_buf_puts(out, "cd ");
		sh_quote(out, root.ptr);
		fr_buf_puts(out, "\n");
	}
	fr_buf_puts(out, "FERRY_ROOT=");
	sh_quote(out, root.ptr);
	fr_buf_puts(out, " FERRY_FROM=");
	sh_quote(out, from);
	fr_buf_puts(out, " FERRY_TO=");
	sh_quote(out, to);
	fr_buf_puts(out, " FERRY_STEP=");
	sh_quote(out, s->id ? s->id : "");
	if (!ctx || !ctx->db_shown) {
		fr_buf_puts(out, " FERRY_DRY_RUN=0 FERRY_DB_<NAME>=<each database's path or URI> \\\n  ");
	} else {
		size_t i;
		fr_buf_puts(out, " FERRY_DRY_RUN=0");
		for (i = 0; i < ctx->ndbs && ctx->db_names; i++) {
			fr_buf_puts(out, " FERRY_DB_");
			env_db_name(out, ctx->db_names[i]);
			fr_buf_putc(out, '=');
			sh_quote(out, ctx->db_shown[i] ? ctx->db_shown[i] : "");
		}
		fr_buf_puts(out, " \\\n  ");
	}
	if (!script_direct(s))
		fr_buf_puts(out, "/bin/sh ");
	sh_quote(out, s->path ? s->path : script_rel(s));
	fr_buf_puts(out, " forward\n");
	fr_buf_release(&root);
	return out->oom ? -1 : 0;
}

static int script_describe(const fr_step *s, fr_buf *out)
{
	return script_describe_with(NULL, s, out);
}

static int script_describe_in(fr_run_ctx *ctx, const fr_step *s, fr_buf *out)
{
	return script_describe_with(ctx, s, out);
}

/* ---- ferry new ------------------------------------------------------------ */

static const char script_template[] =
	"#!/bin/sh\n"
	"# {name}: a script step. ferry runs it as '<file> forward', 'backward' or 'check'\n"
	"# in the installation's root, with FERRY_ROOT, FERRY_FROM, FERRY_TO, FERRY_STEP,\n"
	"# FERRY_DRY_RUN and FERRY_DB_<NAME> in its environment. Header lines:\n"
	"#   '# ferry:irreversible' when it has no backward (write that line alone),\n"
	"#   '# ferry:database NAME' to record it in that database,\n"
	"#   '# ferry:timeout SECONDS' (default 3600).\n"
	"set -eu\n"
	"\n"
	"case \"$1\" in\n"
	"forward)\n"
	"\t# Write the change here.\n"
	"\t;;\n"
	"backward)\n"
	"\t# Write what undoes it here.\n"
	"\t;;\n"
	"check)\n"
	"\t# Exit 0 when the step must run, 1 when its change is there already.\n"
	"\texit 0\n"
	"\t;;\n"
	"*)\n"
	"\techo \"usage: $0 forward|backward|check\" >&2\n"
	"\texit 2\n"
	"\t;;\n"
	"esac\n";

static int script_new_template(fr_buf *out, const char *name)
{
	return fr_template_fill(out, script_template, name);
}

static int script_is_template(const char *text, size_t len)
{
	return fr_template_matches(script_template, text, len);
}

const fr_step_kind fr_step_script = {
	.name = "script",
	.noun = "script step",
	.files = "*.sh or any executable file",
	.flags = FR_KIND_EXECUTABLE,
	.new_ext = "sh",
	.new_template = script_new_template,
	.is_template = script_is_template,
	.claims = script_claims,
	.load = script_load,
	.unload = script_unload,
	.database = script_database,
	.transactional = script_transactional,
	.reversible = script_reversible,
	.check = script_check,
	.forward = script_forward,
	.verify = NULL,
	.undo_text = script_undo_text,
	.undo = script_undo,
	.undo_transactional = script_undo_transactional,
	.describe = script_describe,
	.describe_in = script_describe_in,
};
