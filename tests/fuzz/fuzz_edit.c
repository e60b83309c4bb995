/*
 * fuzz_edit.c - the JSON, YAML and .env editors (lib/step/ops/edit.h).
 *
 * The input is four parts cut at NUL bytes: a control byte and a key path,
 * a value (JSON, or else the text as a string), a second key path (the
 * new name of a rename) and the document (NUL bytes and all). The control
 * byte picks the editor and the edit: set, set if_missing, remove, rename,
 * rename if_missing. Keys and values are held to what an ops file can
 * give (parse.c's checks). What must hold when the edit changes the
 * document (a failure aborts: a finding):
 *  - the result parses again (JSON: jansson; YAML: lib/util/yaml.c, or
 *    for anchors and aliases, which it does not read, libyaml with every
 *    alias after its anchor; when the document did) and holds the edit:
 *    the same set again, or remove again, has nothing to do; a renamed key
 *    is gone and its new name is there;
 *  - the undo entries, restored newest first on the result, give back the
 *    document: its bytes for .env (but for a final newline the document
 *    lacked and an appended line brought, and blanks between an empty
 *    value and its comment); for JSON and YAML its bytes or, when the
 *    restore writes a value in the file's style rather than its old
 *    spelling ("a: []" to "a: [1]" for a block list emptied) or puts a
 *    removed or renamed key back at the end of its mapping, the same
 *    value: the same keys, the same scalars as the editor reads them
 *    (YAML 1.2's core schema), the same tags, aliases followed. A
 *    document of only blanks is none yet; a null YAML document comes back
 *    empty, a null JSON one null. (The editors refuse to replace, remove
 *    or move a YAML node that holds an anchor: edit.h.)
 */
#include "fuzz.h"
#include "step/ops/edit.h"
#include "step/ops/edit_int.h"
#include "util/yaml.h"

#include <yaml.h>

enum { E_SET, E_SET_IF_MISSING, E_REMOVE, E_RENAME, E_RENAME_IF_MISSING, E_N };

static const fr_editor *const editors[] = { &fr_ed_json, &fr_ed_yaml, &fr_ed_env };
static const char *const files[] = { "config.json", "settings.yaml", ".env" };

/* A key path as parse.c lets an ops file give it to editor ed. */
static int key_ok(const fr_editor *ed, const char *key)
{
	json_t *s = json_string(key); /* the ops file is YAML: its text is UTF-8 */
	if (!s)
		return 0;
	json_decref(s);
	if (!fr_ed_keypath_ok(key))
		return 0;
	return ed != &fr_ed_env || fr_ed_env_name_ok(key);
}

static json_t *yaml_events_value(const char *t, size_t len);

/* Whether text parses as the editor's format (2: not told for .env). */
static int parses(const fr_editor *ed, const char *t, size_t len)
{
	if (ed == &fr_ed_json) {
		json_t *j = len ? json_loadb(t, len, JSON_DECODE_ANY, NULL) : NULL;
		json_decref(j);
		return j != NULL;
	}
	if (ed == &fr_ed_yaml) {
		fr_yaml *y = NULL;
		fr_buf err = FR_BUF_INIT;
		int ok = fr_yaml_parse(&y, "settings.yaml", t, len, &err) == 0;
		fr_yaml_free(y);
		fr_buf_release(&err);
		if (!ok) { /* anchors, aliases: libyaml reads it and every alias has its anchor */
			json_t *v = yaml_events_value(t, len);
			ok = v != NULL;
			json_decref(v);
		}
		return ok;
	}
	return 2;
}

/* 1 when t is a YAML document that is null ("~", "null", "" with a tag or anchor). */
static int yaml_null_doc(const char *t, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int scalars = 0, others = 0, ok = 1;
	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_string(&p, (const unsigned char *)t, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			ok = 0;
			break;
		}
		if (ev.type == YAML_SCALAR_EVENT)
			scalars += ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			           fr_ed_yaml_null((const char *)ev.data.scalar.value) ? 1 : 2;
		else if (ev.type != YAML_STREAM_START_EVENT && ev.type != YAML_STREAM_END_EVENT &&
		         ev.type != YAML_DOCUMENT_START_EVENT && ev.type != YAML_DOCUMENT_END_EVENT)
			others++;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ok && scalars == 1 && !others;
}

/* Two YAML trees hold the same: kinds, keys (in any order), the values of scalars. */
static int yaml_same(const fr_yaml *a, const fr_yaml *b)
{
	size_t i;
	if (a->kind != b->kind || a->n != b->n)
		return 0;
	if (a->kind == FR_YAML_SCALAR) {
		/* as the editor reads scalars (YAML 1.2's core schema): 'y' and y are one */
		json_t *x = fr_ed_yaml_value(a->scalar, a->plain);
		json_t *y = fr_ed_yaml_value(b->scalar, b->plain);
		/* a value JSON cannot hold (1e4001): the same text, the same quoting */
		int same = x && y ? json_equal(x, y)
		                  : a->plain == b->plain && !strcmp(a->scalar, b->scalar);
		json_decref(x);
		json_decref(y);
		return same;
	}
	for (i = 0; i < a->n; i++) {
		const fr_yaml *bi = a->kind == FR_YAML_MAP ? fr_yaml_get(b, a->keys[i]) : b->items[i];
		if (!bi || !yaml_same(a->items[i], bi))
			return 0;
	}
	return 1;
}

/* 1 when a and b are the same but for spaces and tabs. */
static int same_but_blanks(const char *a, size_t al, const char *b, size_t bl)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < al && (a[i] == ' ' || a[i] == '\t'))
			i++;
		while (j < bl && (b[j] == ' ' || b[j] == '\t'))
			j++;
		if (i == al || j == bl)
			return i == al && j == bl;
		if (a[i++] != b[j++])
			return 0;
	}
}

/* The value of the YAML node that starts with ev (aliases followed), or NULL. */
static json_t *yev_node(yaml_parser_t *p, yaml_event_t *ev, json_t *anchors, int depth);

/* The next event's node (NULL at the end of a collection: *end set, or on an error). */
static json_t *yev_next(yaml_parser_t *p, json_t *anchors, int depth, int *end)
{
	yaml_event_t ev;
	json_t *v;
	*end = 0;
	if (!yaml_parser_parse(p, &ev))
		return NULL;
	if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
		*end = 1;
		yaml_event_delete(&ev);
		return NULL;
	}
	v = yev_node(p, &ev, anchors, depth);
	yaml_event_delete(&ev);
	return v;
}

static json_t *yev_node(yaml_parser_t *p, yaml_event_t *ev, json_t *anchors, int depth)
{
	json_t *v = NULL;
	const char *anchor = NULL, *tag = NULL;
	int end;
	if (depth > 300)
		return NULL;
	if (ev->type == YAML_ALIAS_EVENT) {
		v = json_object_get(anchors, (const char *)ev->data.alias.anchor);
		return v ? json_deep_copy(v) : NULL;
	}
	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = (const char *)ev->data.scalar.anchor;
		tag = (const char *)ev->data.scalar.tag;
		v = fr_ed_yaml_value((const char *)ev->data.scalar.value,
		                     ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag);
		if (!v) /* a value JSON cannot hold: its text */
			v = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		json_t *x;
		anchor = (const char *)ev->data.sequence_start.anchor;
		tag = (const char *)ev->data.sequence_start.tag;
		v = json_array();
		while (v && (x = yev_next(p, anchors, depth + 1, &end)) != NULL)
			json_array_append_new(v, x);
		if (!end) {
			json_decref(v);
			return NULL;
		}
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		json_t *k, *x;
		anchor = (const char *)ev->data.mapping_start.anchor;
		tag = (const char *)ev->data.mapping_start.tag;
		v = json_object();
		for (;;) {
			/* a key as the editor reads it: the text of a scalar (false and 'false' are one) */
			yaml_event_t kev;
			json_t *kt = NULL;
			char *ks;
			end = 0;
			if (!v || !yaml_parser_parse(p, &kev))
				break;
			if (kev.type == YAML_MAPPING_END_EVENT) {
				end = 1;
				yaml_event_delete(&kev);
				break;
			}
			k = yev_node(p, &kev, anchors, depth + 1);
			if (k && kev.type == YAML_SCALAR_EVENT)
				kt = json_stringn((const char *)kev.data.scalar.value,
				                  kev.data.scalar.length);
			yaml_event_delete(&kev);
			if (!k)
				break;
			ks = json_dumps(kt ? kt : k, JSON_ENCODE_ANY);
			json_decref(kt);
			json_decref(k);
			x = yev_next(p, anchors, depth + 1, &end);
			if (!ks || !x) {
				free(ks);
				json_decref(x);
				json_decref(v);
				return NULL;
			}
			json_object_set_new(v, ks, x);
			free(ks);
		}
		if (!end) {
			json_decref(v);
			return NULL;
		}
	}
	if (v && tag) { /* a tag is part of the value: it must come back */
		json_t *w = json_pack("[s,s,o]", "!", tag, v);
		v = w;
	}
	if (v && anchor)
		json_object_set(anchors, anchor, v);
	return v;
}

/* The documents of a YAML text as values, aliases followed, tags kept; NULL when it fails. */
static json_t *yaml_events_value(const char *t, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *docs = json_array(), *anchors = json_object();
	int ok = 1;
	if (!docs || !anchors || !yaml_parser_initialize(&p)) {
		json_decref(docs);
		json_decref(anchors);
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)t, len);
	while (ok) {
		json_t *v;
		if (!yaml_parser_parse(&p, &ev)) {
			ok = 0;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		v = yev_node(&p, &ev, anchors, 0);
		yaml_event_delete(&ev);
		if (!v)
			ok = 0;
		else
			json_array_append_new(docs, v);
	}
	yaml_parser_delete(&p);
	json_decref(anchors);
	if (!ok) {
		json_decref(docs);
		return NULL;
	}
	return docs;
}

/* The null documents of docs (yaml_events_value()) made empty mappings. */
static void null_docs_empty(json_t *docs)
{
	size_t i;
	for (i = 0; i < json_array_size(docs); i++)
		if (json_is_null(json_array_get(docs, i)))
			json_array_set_new(docs, i, json_object());
}

/*
 * 1 when a and b are the same document to the editor's format (YAML, JSON:
 * as values; YAML that yaml.c does not read, anchors and aliases, as
 * libyaml's events give it, aliases followed and tags kept).
 */
static int same_value(const fr_editor *ed, const char *a, size_t al, const char *b, size_t bl)
{
	int same = 0;
	if (ed == &fr_ed_json) {
		json_t *x = json_loadb(a, al, JSON_DECODE_ANY, NULL);
		json_t *y = json_loadb(b, bl, JSON_DECODE_ANY, NULL);
		same = x && y && json_equal(x, y);
		json_decref(x);
		json_decref(y);
	} else if (ed == &fr_ed_yaml) {
		fr_yaml *x = NULL, *y = NULL;
		fr_buf err = FR_BUF_INIT;
		if (fr_yaml_parse(&x, "a.yaml", a, al, &err) == 0 &&
		    fr_yaml_parse(&y, "b.yaml", b, bl, &err) == 0) {
			/* and the tags, which yaml.c does not keep (a null document comes back empty) */
			json_t *x2 = yaml_events_value(a, al), *y2 = yaml_events_value(b, bl);
			if (x2 && y2) {
				null_docs_empty(x2);
				null_docs_empty(y2);
			}
			same = yaml_same(x, y) && (!x2 || !y2 || json_equal(x2, y2));
			json_decref(x2);
			json_decref(y2);
		} else { /* anchors, aliases: yaml.c does not read them */
			json_t *x2 = yaml_events_value(a, al), *y2 = yaml_events_value(b, bl);
			/* an alias to no anchor is not YAML: only that the restore ran is held */
			same = !y2 || (x2 && json_equal(x2, y2));
			json_decref(x2);
			json_decref(y2);
		}
		fr_yaml_free(x);
		fr_yaml_free(y);
		fr_buf_release(&err);
	}
	return same;
}

/* 1 when the last component of key path key is a number (a list index). */
static int last_is_index(const char *key)
{
	const char *c = strrchr(key, '.');
	c = c ? c + 1 : key;
	return *c && strspn(c, "0123456789") == strlen(c);
}

/* ---- the edit on the values: what the document must hold after it ---- */

/* A tagged value of yaml_events_value() (["!", tag, value]) is its value here. */
static json_t *untag(json_t *v)
{
	while (json_is_array(v) && json_array_size(v) == 3 &&
	       json_is_string(json_array_get(v, 0)) &&
	       !strcmp(json_string_value(json_array_get(v, 0)), "!"))
		v = json_array_get(v, 2);
	return v;
}

/* A key of a mapping as the values hold it: YAML keys as yaml_events_value() writes them. */
static char *mkey(int yaml, const char *comp)
{
	json_t *s;
	char *k;
	if (!yaml)
		return strdup(comp);
	s = json_string(comp);
	k = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	json_decref(s);
	return k;
}

/* The index a key path component gives a list (as edit_tree.c reads it), or -1. */
static long mindex(const char *c)
{
	long v = 0;
	if (!*c || (c[0] == '0' && c[1]))
		return -1;
	for (; *c; c++) {
		if (*c < '0' || *c > '9' || v > 100000000)
			return -1;
		v = v * 10 + (*c - '0');
	}
	return v;
}

/* A JSON value as yaml_events_value() holds it, its keys written (a new reference). */
static json_t *myaml(json_t *v)
{
	json_t *o, *x;
	const char *k;
	size_t i;
	if (json_is_array(v)) {
		o = json_array();
		check(o != NULL);
		json_array_foreach(v, i, x)
			json_array_append_new(o, myaml(x));
		return o;
	}
	if (!json_is_object(v))
		return json_incref(v);
	o = json_object();
	check(o != NULL);
	json_object_foreach(v, k, x) {
		char *mk = mkey(1, k);
		check(mk != NULL);
		json_object_set_new(o, mk, myaml(x));
		free(mk);
	}
	return o;
}

/* {c[0]: {c[1]: ... value}} (a new reference). */
static json_t *mnest(int yaml, char **c, size_t n, json_t *value)
{
	json_t *o, *in;
	char *k;
	if (!n)
		return json_incref(value);
	o = json_object();
	in = mnest(yaml, c + 1, n - 1, value);
	k = mkey(yaml, c[0]);
	check(o && in && k);
	json_object_set_new(o, k, in);
	free(k);
	return o;
}

/*
 * node with the value at c set (set creates the mappings on the way, a
 * null on the way becomes one, index n of a list of n appends): a new
 * reference; *bad when the path cannot be set (the editor should refuse).
 */
static json_t *mset(int yaml, json_t *node, char **c, size_t n, json_t *value, int *bad)
{
	json_t *u = untag(node);
	if (!n)
		return json_incref(value);
	/*
	 * a null becomes the mapping, and so does a node with a tag whose text
	 * is empty or spells null ("!t", "! ~", which read as strings here)
	 */
	if (!node || json_is_null(u) ||
	    (u != node && json_is_string(u) &&
	     (!json_string_length(u) || fr_ed_yaml_null(json_string_value(u)))))
		return mnest(yaml, c, n, value);
	if (json_is_object(u)) {
		char *k = mkey(yaml, c[0]);
		json_t *child;
		check(k != NULL);
		child = json_object_get(u, k);
		json_object_set_new(u, k, child ? mset(yaml, child, c + 1, n - 1, value, bad)
		                                : mnest(yaml, c + 1, n - 1, value));
		free(k);
	} else if (json_is_array(u)) {
		long i = mindex(c[0]);
		if (i < 0 || (size_t)i > json_array_size(u))
			*bad = 1;
		else if ((size_t)i == json_array_size(u))
			json_array_append_new(u, mnest(yaml, c + 1, n - 1, value));
		else
			json_array_set_new(u, (size_t)i,
			                   mset(yaml, json_array_get(u, (size_t)i), c + 1, n - 1, value, bad));
	} else {
		*bad = 1;
	}
	return json_incref(node);
}

/* The value at c in node (borrowed), or NULL. */
static json_t *mget(int yaml, json_t *node, char **c, size_t n)
{
	for (; node && n; c++, n--) {
		json_t *u = untag(node);
		if (json_is_object(u)) {
			char *k = mkey(yaml, c[0]);
			check(k != NULL);
			node = json_object_get(u, k);
			free(k);
		} else if (json_is_array(u) && mindex(c[0]) >= 0) {
			node = json_array_get(u, (size_t)mindex(c[0]));
		} else {
			node = NULL;
		}
	}
	return node;
}

/* Removes the value at c from node: 1 when it was there. */
static int mremove(int yaml, json_t *node, char **c, size_t n)
{
	json_t *u = untag(mget(yaml, node, c, n - 1));
	int done = 0;
	if (json_is_object(u)) {
		char *k = mkey(yaml, c[n - 1]);
		check(k != NULL);
		done = json_object_del(u, k) == 0;
		free(k);
	} else if (json_is_array(u) && mindex(c[n - 1]) >= 0) {
		done = json_array_remove(u, (size_t)mindex(c[n - 1])) == 0;
	}
	return done;
}

/* The first document's value of a JSON or YAML text (a new reference), NULL: none told. */
static json_t *doc_value(const fr_editor *ed, const char *t, size_t len)
{
	json_t *docs, *v;
	if (ed == &fr_ed_json)
		return len ? json_loadb(t, len, JSON_DECODE_ANY, NULL) : json_null();
	if (!(docs = yaml_events_value(t, len)))
		return NULL;
	v = json_array_size(docs) ? json_incref(json_array_get(docs, 0)) : json_null();
	json_decref(docs);
	/* no document, or a null one: as an empty mapping (what a remove of its last key leaves) */
	if (json_is_null(v)) {
		json_decref(v);
		v = json_object();
	}
	return v;
}

/*
 * The edit's result holds what the edit does to the values and nothing
 * else: the values of every other key stay, a renamed value arrives with
 * its tags. For JSON, and for YAML that yaml.c reads (an anchor's aliases
 * change with it: not told here).
 */
static void values_edited(const fr_editor *ed, const char *doc, size_t dlen, const fr_buf *out,
                          int op, const char *key, const char *to, json_t *value)
{
	int yaml = ed == &fr_ed_yaml, bad = 0;
	char **kc = NULL, **tc = NULL;
	size_t nk = 0, nt = 0;
	json_t *want, *got;
	if (ed == &fr_ed_env)
		return;
	if (yaml) {
		fr_yaml *y = NULL;
		fr_buf err = FR_BUF_INIT;
		int plain = fr_yaml_parse(&y, "settings.yaml", doc, dlen, &err) == 0;
		fr_yaml_free(y);
		fr_buf_release(&err);
		if (!plain)
			return;
	}
	if (!(want = doc_value(ed, doc, dlen)))
		return;
	check(fr_split_keypath(key, &kc, &nk) == 0);
	if (op == E_SET || op == E_SET_IF_MISSING) {
		json_t *v = yaml ? myaml(value) : json_incref(value);
		json_t *w = mset(yaml, want, kc, nk, v, &bad);
		json_decref(v);
		json_decref(want);
		want = w;
	} else {
		json_t *moved = json_deep_copy(mget(yaml, want, kc, nk));
		check(moved != NULL);
		check(mremove(yaml, want, kc, nk));
		if (op == E_RENAME || op == E_RENAME_IF_MISSING) {
			json_t *w;
			check(fr_split_keypath(to, &tc, &nt) == 0);
			w = mset(yaml, want, tc, nt, moved, &bad);
			json_decref(want);
			want = w;
		}
		json_decref(moved);
	}
	if (yaml && json_is_null(want)) {
		json_decref(want);
		want = json_object();
	}
	got = doc_value(ed, out->ptr ? out->ptr : "", out->len);
	if (bad || !got || !json_equal(want, got)) {
		char *a = json_dumps(want, JSON_ENCODE_ANY), *b = got ? json_dumps(got, JSON_ENCODE_ANY)
		                                                      : NULL;
		fprintf(stderr, "the edit's values:\n%s\nwanted%s:\n%s\n", b ? b : "(none)",
		        bad ? " (a path the model cannot set)" : "", a ? a : "?");
		free(a);
		free(b);
		check(!"the edit changes its key's value and no other");
	}
	json_decref(want);
	json_decref(got);
	fr_free_comps(kc, nk);
	if (tc)
		fr_free_comps(tc, nt);
}

/* Runs one edit on t: 0 or -1 (e->err), e->changed. */
static int apply(const fr_editor *ed, int op, fr_edit *e, const char *key, const char *to,
                 json_t *value)
{
	switch (op) {
	case E_SET:
	case E_SET_IF_MISSING:
		return ed->set(e, key, value, op == E_SET_IF_MISSING);
	case E_REMOVE:
		return ed->remove(e, key);
	default:
		return ed->rename(e, key, to, op == E_RENAME_IF_MISSING);
	}
}

/* An edit of text t that must succeed and change nothing. */
static void nothing_to_do(const fr_editor *ed, const char *file, const fr_buf *t, int op,
                          const char *key, const char *to, json_t *value)
{
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *undo = json_array();
	fr_edit e = { file, t->ptr, t->len, &out, 0, undo, &err };
	int rc = apply(ed, op, &e, key, to, value);
	if (rc || e.changed)
		fprintf(stderr, "edit of the result: rc %d, changed %d: %s\n---\n%.*s\n---\n", rc,
		        e.changed, err.ptr, (int)t->len, t->ptr);
	check(rc == 0 && !e.changed);
	json_decref(undo);
	fr_buf_release(&out);
	fr_buf_release(&err);
}

/* Restores the undo entries newest first on t; the bytes (or the value) must be doc's. */
static void restores(const fr_editor *ed, const char *file, const fr_buf *t, json_t *undo,
                     const char *doc, size_t dlen)
{
	fr_buf cur = FR_BUF_INIT, next = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *sem = json_array();
	size_t i = json_array_size(undo);
	fr_buf_add(&cur, t->ptr, t->len);
	while (i--) {
		fr_edit e = { file, cur.ptr, cur.len, &next, 0, sem, &err };
		int rc = ed->restore(&e, json_array_get(undo, i));
		if (rc)
			fprintf(stderr, "restore: %s\n---\n%.*s\n---\n", err.ptr, (int)cur.len,
			        cur.ptr);
		check(rc == 0);
		if (e.changed) {
			fr_buf x = cur;
			cur = next;
			next = x;
		}
	}
	/* the final newline a document lacked, added for an appended line, stays */
	if (dlen && doc[dlen - 1] != '\n' && cur.len == dlen + 1 && cur.ptr[dlen] == '\n')
		cur.len--;
	/* a null YAML document the edit made a mapping of comes back empty: null too */
	if (ed == &fr_ed_yaml && strspn(cur.ptr, " \t\r\n") == cur.len && yaml_null_doc(doc, dlen))
		goto done;
	/* .env: a blank kept between a value that was empty and its comment */
	if (ed == &fr_ed_env && same_but_blanks(cur.ptr, cur.len, doc, dlen))
		goto done;
	/* a JSON or YAML value comes back as a value: in the file's style, not its spelling */
	if (same_value(ed, cur.ptr, cur.len, doc, dlen))
		goto done;
	if (cur.len != dlen || memcmp(cur.ptr, doc, dlen))
		fprintf(stderr, "restored (%zu bytes):\n---\n%.*s\n---\noriginal (%zu bytes):\n"
		        "---\n%.*s\n---\n", cur.len, (int)cur.len, cur.ptr, dlen, (int)dlen, doc);
	check(cur.len == dlen && !memcmp(cur.ptr, doc, dlen));
done:
	json_decref(sem);
	fr_buf_release(&cur);
	fr_buf_release(&next);
	fr_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[4];
	size_t len[4];
	const fr_editor *ed;
	const char *key, *to, *file;
	fr_buf out = FR_BUF_INIT, err = FR_BUF_INIT;
	json_t *value = NULL, *undo = NULL;
	int op, rc, parsed;

	if (size > 65536 || size < 1)
		return 0;
	fz_split_n(data, size, '\0', part, len, 4);
	if (!len[0])
		goto done;
	ed = editors[(unsigned char)part[0][0] % 3];
	file = files[(unsigned char)part[0][0] % 3];
	op = ((unsigned char)part[0][0] / 3) % E_N;
	key = part[0] + 1;
	to = part[2];
	if (!key_ok(ed, key) || ((op == E_RENAME || op == E_RENAME_IF_MISSING) &&
	                            (!key_ok(ed, to) || !strcmp(key, to))))
		goto done;
	value = json_loadb(part[1], len[1], JSON_DECODE_ANY, NULL);
	if (!value)
		value = json_string(part[1]);
	if (!value)
		goto done;
	undo = json_array();
	check(undo != NULL);
	{
		fr_edit e = { file, part[3], len[3], &out, 0, undo, &err };
		rc = apply(ed, op, &e, key, to, value);
		if (rc) {
			check(err.len > 0);
			goto done;
		}
		if (!e.changed)
			goto done;
	}
	if (getenv("FUZZ_VERBOSE")) { /* what the edit wrote, for a reproducer */
		char *u = json_dumps(undo, JSON_COMPACT);
		fprintf(stderr, "edited (%zu bytes):\n---\n%.*s\n---\nundo: %s\n", out.len,
		        (int)out.len, out.ptr, u ? u : "?");
		free(u);
	}
	parsed = parses(ed, part[3], len[3]);
	if (parsed != 2 && (parsed || len[3] == 0) && !parses(ed, out.ptr, out.len)) {
		fprintf(stderr, "the result does not parse:\n---\n%.*s\n---\n", (int)out.len,
		        out.ptr);
		check(!"the result parses");
	}
	values_edited(ed, part[3], len[3], &out, op, key, to, value);
	switch (op) {
	case E_SET:
	case E_SET_IF_MISSING:
		nothing_to_do(ed, file, &out, E_SET, key, NULL, value);
		break;
	case E_REMOVE:
		if (!last_is_index(key)) /* a list closes up: the next item has that index now */
			nothing_to_do(ed, file, &out, E_REMOVE, key, NULL, NULL);
		break;
	default:
		if (!last_is_index(key))
			nothing_to_do(ed, file, &out, E_REMOVE, key, NULL, NULL);
		/* to is there: setting it if missing has nothing to do (a string: .env takes one) */
		{
			json_t *probe = json_string("x");
			check(probe != NULL);
			nothing_to_do(ed, file, &out, E_SET_IF_MISSING, to, NULL, probe);
			json_decref(probe);
		}
	}
	/* Blanks are no document yet: the edit made one, its undo leaves an empty one. */
	if (strspn(part[3], " \t\r\n") < len[3])
		restores(ed, file, &out, undo, part[3], len[3]);
done:
	json_decref(value);
	json_decref(undo);
	fr_buf_release(&out);
	fr_buf_release(&err);
	fz_free_parts(part, 4);
	return 0;
}
