/*
 * cmd_completion.c - `ferry completion bash|zsh|fish`: a completion script
 * made from the command table and each command's option declarations, so
 * a new command, subcommand or option completes by itself. The tables are
 * read by running each command with cli.opts_sink set (cli_parse then
 * hands over its table and the command does nothing); a command that
 * dispatches subcommands (backup) is known by the "subcommands:" list its
 * --help prints, and each subcommand is then read the same way.
 */
#include "cli.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CMDS 64
#define MAX_OPTS 32

typedef struct {
	char name[64];          /* "status", "backup create" */
	const char *summary;    /* from the command table or the parent's --help */
	char sub_summary[128];  /* a subcommand's line of its parent's --help */
	cli_opt opts[MAX_OPTS]; /* copies; only the strings (literals) are used */
	size_t nopts;
	char subs[256];         /* a parent's subcommands, "create list verify" */
} comp_cmd;

static comp_cmd cmds[MAX_CMDS];
static size_t ncmds;
static comp_cmd *sink_target;

static void sink(const char *cmd, const char *summary, const cli_opt *opts)
{
	comp_cmd *c = sink_target;
	const cli_opt *o;
	(void)cmd;
	(void)summary;
	if (!c)
		return;
	for (o = opts; o->type != OPT_END && c->nopts < MAX_OPTS; o++)
		c->opts[c->nopts++] = *o;
	sink_target = NULL;
}

/*
 * Runs fn(argc, argv) with its stdout in a temporary file; returns what it
 * printed (free it), or NULL.
 */
static char *run_captured(int (*fn)(int, char **), int argc, char **argv)
{
	FILE *tmp = tmpfile();
	char *text = NULL;
	long len;
	int saved;
	if (!tmp)
		return NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		fclose(tmp);
		return NULL;
	}
	fn(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	len = ftell(tmp);
	if (len >= 0 && (text = malloc((size_t)len + 1)) != NULL) {
		rewind(tmp);
		len = (long)fread(text, 1, (size_t)len, tmp);
		text[len] = '\0';
	}
	fclose(tmp);
	return text;
}

/* Reads one command (and its subcommands) into cmds[]. */
static void read_command(const cli_cmd *c)
{
	char *argv[4], *help, *line, *next;
	comp_cmd *top;
	int in_subs = 0;
	if (ncmds >= MAX_CMDS)
		return;
	top = &cmds[ncmds++];
	snprintf(top->name, sizeof top->name, "%s", c->name);
	top->summary = c->summary;
	argv[0] = (char *)c->name;
	argv[1] = (char *)"--help";
	argv[2] = NULL;
	sink_target = top;
	help = run_captured(c->fn, 2, argv);
	if (!sink_target || !help) {
		/* The table came through cli_parse: no subcommands. */
		sink_target = NULL;
		free(help);
		return;
	}
	sink_target = NULL;
	for (line = help; line && *line; line = next) {
		char name[32];
		const char *p;
		size_t n;
		comp_cmd *s;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strcmp(line, "subcommands:")) {
			in_subs = 1;
			continue;
		}
		if (!in_subs)
			continue;
		if (strncmp(line, "    ", 4) || line[4] == ' ' || !line[4])
			break;
		for (p = line + 4, n = 0; *p && *p != ' ' && n + 1 < sizeof name; p++)
			name[n++] = *p;
		name[n] = '\0';
		while (*p == ' ')
			p++;
		if (ncmds >= MAX_CMDS)
			break;
		s = &cmds[ncmds++];
		snprintf(s->name, sizeof s->name, "%s %s", c->name, name);
		snprintf(s->sub_summary, sizeof s->sub_summary, "%s", p);
		s->summary = s->sub_summary;
		if (strlen(top->subs) + n + 2 < sizeof top->subs) {
			if (top->subs[0])
				memcpy(top->subs + strlen(top->subs), " ", 2);
			memcpy(top->subs + strlen(top->subs), name, n + 1);
		}
		argv[1] = name;
		argv[2] = (char *)"--help";
		argv[3] = NULL;
		sink_target = s;
		free(run_captured(c->fn, 3, argv));
		sink_target = NULL;
	}
	free(help);
}

static void read_all(void)
{
	const cli_cmd *c;
	void (*saved)(const char *, const char *, const cli_opt *) = cli.opts_sink;
	int quiet = cli.quiet, json = cli.json;
	ncmds = 0;
	cli.opts_sink = sink;
	cli.json = 0;
	for (c = cli_commands; c->name; c++)
		read_command(c);
	cli.opts_sink = saved;
	cli.quiet = quiet;
	cli.json = json;
}

/* s single-quoted for bash, zsh and fish: ' becomes '\''. */
static void sq(FILE *fp, const char *s)
{
	fputc('\'', fp);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", fp);
		else
			fputc(*s, fp);
	fputc('\'', fp);
}

/* What the value of an option is: 'd' a folder, 'f' a file, 'v' anything else. */
static char value_kind(const cli_opt *o)
{
	const char *v = o->value_name ? o->value_name : "";
	if (!strcmp(v, "DIR"))
		return 'd';
	if (!strcmp(v, "FILE") || !strcmp(v, "PATH"))
		return 'f';
	return 'v';
}

/* The choices of a command's first argument that declares some ("bash|zsh|fish"), or NULL. */
static const char *arg_choices(const comp_cmd *c)
{
	size_t i;
	for (i = 0; i < c->nopts; i++)
		if (c->opts[i].type == OPT_ARG && c->opts[i].value_name)
			return c->opts[i].value_name;
	return NULL;
}

/* The shell case that turns the words before the cursor into a command path. */
static void sub_cases(FILE *fp, const char *indent, int zsh)
{
	size_t i;
	for (i = 0; i < ncmds; i++) {
		const char *p;
		if (!cmds[i].subs[0])
			continue;
		fprintf(fp, "%s%s%s) case \"$w\" in %s", indent, zsh ? "(" : "", cmds[i].name,
		        zsh ? "(" : "");
		for (p = cmds[i].subs; *p; p++)
			fputc(*p == ' ' ? '|' : *p, fp);
		fputs(") cmd=\"$cmd $w\" ;; esac ;;\n", fp);
	}
}

/* ---- bash ---- */

/* The names of a table's options, space-separated; returns whether there were any. */
static int bash_opts(FILE *fp, const cli_opt *opts, size_t n, int first)
{
	size_t i;
	int any = 0;
	for (i = 0; i < n; i++) {
		if (opts[i].type == OPT_ARG || opts[i].type == OPT_END)
			continue;
		if (opts[i].short_name)
			fprintf(fp, "%s-%c", first ? "" : " ", opts[i].short_name), first = 0;
		if (opts[i].long_name)
			fprintf(fp, "%s--%s", first ? "" : " ", opts[i].long_name), first = 0;
		any = 1;
	}
	return any;
}

/* case "$prev" in --opt) ...; return 0 ;; esac for the options that take a value. */
static void bash_values(FILE *fp, const cli_opt *opts, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const cli_opt *o = &opts[i];
		if (o->type != OPT_STRING && o->type != OPT_INT)
			continue;
		fputs("\t\tcase \"$prev\" in ", fp);
		if (o->short_name && o->long_name)
			fprintf(fp, "-%c|--%s", o->short_name, o->long_name);
		else if (o->long_name)
			fprintf(fp, "--%s", o->long_name);
		else
			fprintf(fp, "-%c", o->short_name);
		if (value_kind(o) == 'd')
			fputs(") COMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;; esac\n", fp);
		else if (value_kind(o) == 'f')
			fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;; esac\n", fp);
		else
			fputs(") return 0 ;; esac\n", fp);
	}
}

static void gen_bash(FILE *fp)
{
	size_t i;
	const cli_cmd *c;
	fputs("# bash completion for ferry: made by 'ferry completion bash' from the tool's\n"
	      "# command table and option declarations; do not edit.\n"
	      "_ferry() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= words= opts= w i\n"
	      "\t[ \"$COMP_CWORD\" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tCOMPREPLY=()\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tcase \"$cmd:$w\" in\n"
	      "\t\t:-C) i=$((i + 1)); continue ;;\n"
	      "\t\t*:-*) continue ;;\n"
	      "\t\tesac\n"
	      "\t\tcase \"$cmd\" in\n"
	      "\t\t'') cmd=$w ;;\n", fp);
	sub_cases(fp, "\t\t", 0);
	fputs("\t\tesac\n"
	      "\tdone\n"
	      "\tcase \"$cmd\" in\n"
	      "\t'')\n"
	      "\t\tcase \"$prev\" in -C) COMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;; esac\n"
	      "\t\twords='", fp);
	for (c = cli_commands; c->name; c++)
		fprintf(fp, "%s%s", c == cli_commands ? "" : " ", c->name);
	fputs("'\n\t\topts='-C ", fp);
	for (i = 0; cli_output_opts[i].type != OPT_END; i++)
		;
	bash_opts(fp, cli_output_opts, i, 1);
	fputs(" --version -h --help' ;;\n", fp);
	for (i = 0; i < ncmds; i++) {
		const char *ch = arg_choices(&cmds[i]);
		fprintf(fp, "\t'%s')\n", cmds[i].name);
		bash_values(fp, cmds[i].opts, cmds[i].nopts);
		fputs("\t\twords='", fp);
		if (cmds[i].subs[0])
			fputs(cmds[i].subs, fp);
		else if (ch)
			for (; *ch; ch++)
				fputc(*ch == '|' ? ' ' : *ch, fp);
		fputs("'\n\t\topts='", fp);
		fputs(bash_opts(fp, cmds[i].opts, cmds[i].nopts, 1) ? " -h --help" : "-h --help", fp);
		fputs("' ;;\n", fp);
	}
	fputs("\t*) return 0 ;;\n"
	      "\tesac\n"
	      "\t[ -n \"$cmd\" ] && opts=\"$opts ", fp);
	bash_opts(fp, cli_output_opts, 4, 1);
	fputs("\"\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	      "\tfi\n"
	      "\treturn 0\n"
	      "}\n"
	      "complete -F _ferry ferry\n", fp);
}

/* ---- zsh ---- */

/* 'NAME:description' entries of an option table, for _describe. */
static void zsh_opts(FILE *fp, const cli_opt *opts, size_t n)
{
	size_t i;
	char buf[512];
	for (i = 0; i < n; i++) {
		if (opts[i].type == OPT_ARG || opts[i].type == OPT_END)
			continue;
		if (opts[i].short_name) {
			snprintf(buf, sizeof buf, "-%c:%s", opts[i].short_name, opts[i].help);
			fputs("\t\topts+=(", fp);
			sq(fp, buf);
			fputs(")\n", fp);
		}
		if (opts[i].long_name) {
			snprintf(buf, sizeof buf, "--%s:%s", opts[i].long_name, opts[i].help);
			fputs("\t\topts+=(", fp);
			sq(fp, buf);
			fputs(")\n", fp);
		}
	}
}

static void zsh_values(FILE *fp, const cli_opt *opts, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const cli_opt *o = &opts[i];
		if (o->type != OPT_STRING && o->type != OPT_INT)
			continue;
		fputs("\t\tcase \"$prev\" in (", fp);
		if (o->short_name && o->long_name)
			fprintf(fp, "-%c|--%s", o->short_name, o->long_name);
		else if (o->long_name)
			fprintf(fp, "--%s", o->long_name);
		else
			fprintf(fp, "-%c", o->short_name);
		if (value_kind(o) == 'd')
			fputs(") _files -/; return ;; esac\n", fp);
		else if (value_kind(o) == 'f')
			fputs(") _files; return ;; esac\n", fp);
		else
			fprintf(fp, ") _message -e values '%s'; return ;; esac\n",
			        o->value_name ? o->value_name : "value");
	}
}

static void gen_zsh(FILE *fp)
{
	size_t i;
	char buf[512];
	const cli_cmd *c;
	fputs("#compdef ferry\n"
	      "# zsh completion for ferry: made by 'ferry completion zsh' from the tool's\n"
	      "# command table and option declarations; do not edit.\n"
	      "_ferry() {\n"
	      "\tlocal cur=${words[CURRENT]} prev=${words[CURRENT-1]} cmd= w i\n"
	      "\tlocal -a cmds opts\n"
	      "\tfor ((i = 2; i < CURRENT; i++)); do\n"
	      "\t\tw=${words[i]}\n"
	      "\t\tcase \"$cmd:$w\" in\n"
	      "\t\t(:-C) i=$((i + 1)); continue ;;\n"
	      "\t\t(*:-*) continue ;;\n"
	      "\t\tesac\n"
	      "\t\tcase \"$cmd\" in\n"
	      "\t\t('') cmd=$w ;;\n", fp);
	sub_cases(fp, "\t\t", 1);
	fputs("\t\tesac\n"
	      "\tdone\n"
	      "\tcase \"$cmd\" in\n"
	      "\t('')\n"
	      "\t\tcase \"$prev\" in (-C) _files -/; return ;; esac\n", fp);
	for (c = cli_commands; c->name; c++) {
		snprintf(buf, sizeof buf, "%s:%s", c->name, c->summary);
		fputs("\t\tcmds+=(", fp);
		sq(fp, buf);
		fputs(")\n", fp);
	}
	fputs("\t\topts+=('-C:the installation')\n", fp);
	for (i = 0; cli_output_opts[i].type != OPT_END; i++)
		;
	zsh_opts(fp, cli_output_opts, i);
	fputs("\t\topts+=('--version:print ferry'\\''s version' '-h:the help' '--help:the help')\n"
	      "\t\t;;\n", fp);
	for (i = 0; i < ncmds; i++) {
		const char *ch = arg_choices(&cmds[i]);
		fprintf(fp, "\t('%s')\n", cmds[i].name);
		zsh_values(fp, cmds[i].opts, cmds[i].nopts);
		if (cmds[i].subs[0]) {
			size_t k;
			for (k = i + 1; k < ncmds; k++) {
				size_t n = strlen(cmds[i].name);
				if (strncmp(cmds[k].name, cmds[i].name, n) || cmds[k].name[n] != ' ')
					continue;
				snprintf(buf, sizeof buf, "%s:%s", cmds[k].name + n + 1, cmds[k].summary);
				fputs("\t\tcmds+=(", fp);
				sq(fp, buf);
				fputs(")\n", fp);
			}
		} else if (ch) {
			fputs("\t\tcmds+=(", fp);
			for (; *ch; ch++)
				fputc(*ch == '|' ? ' ' : *ch, fp);
			fputs(")\n", fp);
		}
		zsh_opts(fp, cmds[i].opts, cmds[i].nopts);
		fputs("\t\topts+=('-h:the help' '--help:the help')\n\t\t;;\n", fp);
	}
	fputs("\t(*) return 1 ;;\n"
	      "\tesac\n"
	      "\tif [[ -n $cmd ]]; then\n", fp);
	zsh_opts(fp, cli_output_opts, 4);
	fputs("\tfi\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\t_describe -t options 'option' opts\n"
	      "\telif (( ${#cmds} )); then\n"
	      "\t\t_describe -t commands 'command' cmds\n"
	      "\tfi\n"
	      "}\n"
	      "if [ \"$funcstack[1]\" = \"_ferry\" ]; then\n"
	      "\t_ferry \"$@\"\n"
	      "else\n"
	      "\tcompdef _ferry ferry\n"
	      "fi\n", fp);
}

/* ---- fish ---- */

static void fish_opts(FILE *fp, const char *cond, const cli_opt *opts, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const cli_opt *o = &opts[i];
		if (o->type == OPT_ARG || o->type == OPT_END)
			continue;
		fputs("complete -c ferry", fp);
		if (cond) {
			fputs(" -n ", fp);
			sq(fp, cond);
		}
		if (o->short_name)
			fprintf(fp, " -s %c", o->short_name);
		if (o->long_name)
			fprintf(fp, " -l %s", o->long_name);
		if (o->type == OPT_STRING || o->type == OPT_INT) {
			if (value_kind(o) == 'd')
				fputs(" -x -a '(__fish_complete_directories)'", fp);
			else if (value_kind(o) == 'f')
				fputs(" -r -F", fp);
			else
				fputs(" -x", fp);
		}
		fputs(" -d ", fp);
		sq(fp, o->help ? o->help : "");
		fputc('\n', fp);
	}
}

static void gen_fish(FILE *fp)
{
	size_t i;
	char cond[160];
	const cli_cmd *c;
	fputs("# fish completion for ferry: made by 'ferry completion fish' from the tool's\n"
	      "# command table and option declarations; do not edit.\n"
	      "function __ferry_cmd\n"
	      "\tset -l toks (commandline -opc)\n"
	      "\tset -e toks[1]\n"
	      "\tset -l cmd ''\n"
	      "\tset -l skip 0\n"
	      "\tfor w in $toks\n"
	      "\t\tif test $skip -eq 1\n"
	      "\t\t\tset skip 0\n"
	      "\t\t\tcontinue\n"
	      "\t\tend\n"
	      "\t\tif test -z \"$cmd\"; and test \"$w\" = -C\n"
	      "\t\t\tset skip 1\n"
	      "\t\t\tcontinue\n"
	      "\t\tend\n"
	      "\t\tif string match -q -- '-*' $w\n"
	      "\t\t\tcontinue\n"
	      "\t\tend\n"
	      "\t\tif test -z \"$cmd\"\n"
	      "\t\t\tset cmd $w\n"
	      "\t\telse\n"
	      "\t\t\tswitch \"$cmd $w\"\n", fp);
	for (i = 0; i < ncmds; i++) {
		size_t n = strlen(cmds[i].name);
		size_t k;
		if (!cmds[i].subs[0])
			continue;
		fputs("\t\t\t\tcase", fp);
		for (k = i + 1; k < ncmds; k++)
			if (!strncmp(cmds[k].name, cmds[i].name, n) && cmds[k].name[n] == ' ')
				fprintf(fp, " '%s'", cmds[k].name);
		fputs("\n\t\t\t\t\tset cmd \"$cmd $w\"\n", fp);
	}
	fputs("\t\t\tend\n"
	      "\t\tend\n"
	      "\tend\n"
	      "\techo $cmd\n"
	      "end\n"
	      "function __ferry_is\n"
	      "\tset -l c (__ferry_cmd)\n"
	      "\ttest \"$c\" = \"$argv[1]\"\n"
	      "end\n"
	      "complete -c ferry -f\n"
	      "complete -c ferry -n '__ferry_is \"\"' -s C -x -a '(__fish_complete_directories)' "
	      "-d 'the installation'\n"
	      "complete -c ferry -n '__ferry_is \"\"' -l version -d 'print ferry'\\''s version'\n"
	      "complete -c ferry -s h -l help -d 'the help'\n", fp);
	for (i = 0; cli_output_opts[i].type != OPT_END; i++)
		;
	fish_opts(fp, NULL, cli_output_opts, i);
	for (c = cli_commands; c->name; c++) {
		fprintf(fp, "complete -c ferry -n '__ferry_is \"\"' -a %s -d ", c->name);
		sq(fp, c->summary);
		fputc('\n', fp);
	}
	for (i = 0; i < ncmds; i++) {
		const char *ch = arg_choices(&cmds[i]);
		const char *sp = strchr(cmds[i].name, ' ');
		snprintf(cond, sizeof cond, "__ferry_is \"%s\"", cmds[i].name);
		if (sp) {
			/* A subcommand: offered after its parent. */
			char parent[64];
			snprintf(parent, sizeof parent, "__ferry_is \"%.*s\"", (int)(sp - cmds[i].name),
			         cmds[i].name);
			fputs("complete -c ferry -n ", fp);
			sq(fp, parent);
			fprintf(fp, " -a %s -d ", sp + 1);
			sq(fp, cmds[i].summary);
			fputc('\n', fp);
		}
		if (ch && !cmds[i].subs[0]) {
			fputs("complete -c ferry -n ", fp);
			sq(fp, cond);
			fputs(" -a ", fp);
			fputc('\'', fp);
			for (; *ch; ch++)
				fputc(*ch == '|' ? ' ' : *ch, fp);
			fputs("'\n", fp);
		}
		fish_opts(fp, cond, cmds[i].opts, cmds[i].nopts);
	}
}

int cmd_completion(int argc, char **argv)
{
	const char *shell = NULL;
	const cli_opt opts[] = {
		{ OPT_ARG, 0, "SHELL", &shell, "bash|zsh|fish", "bash, zsh or fish", 1 },
		OPT_END_
	};
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int rc = cli_parse("completion", "Print the completion script for a shell, made from "
	                                 "ferry's commands and options. 'meson install' puts "
	                                 "each where its shell looks; or: source <(ferry "
	                                 "completion bash).",
	                   opts, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (strcmp(shell, "bash") && strcmp(shell, "zsh") && strcmp(shell, "fish"))
		return cli_error(EXIT_USAGE, "completion: SHELL is bash, zsh or fish, not '%s'", shell);
	read_all();
	if (!(fp = open_memstream(&text, &len)))
		return cli_report(EXIT_FAILED, "out of memory");
	if (!strcmp(shell, "bash"))
		gen_bash(fp);
	else if (!strcmp(shell, "zsh"))
		gen_zsh(fp);
	else
		gen_fish(fp);
	fclose(fp);
	if (cli.json) {
		json_t *j = json_object();
		json_object_set_new(j, "shell", json_string(shell));
		json_object_set_new(j, "script", json_string(text ? text : ""));
		cli_print_object(j);
	} else {
		fputs(text ? text : "", stdout);
	}
	free(text);
	return 0;
}
