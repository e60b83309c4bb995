/*
 * yaml.h - a YAML document as a small tree with line numbers, read through
 * libyaml. ferry.yaml, transition.yaml and versions.yaml are read through
 * it, so every error can name the file, line and column.
 *
 * The tree owns all its strings. A mapping keeps its keys in file order.
 * Anchors and aliases are refused (ferry's files do not need them); so are
 * multi-document streams and non-scalar mapping keys.
 */
#ifndef FR_YAML_H
#define FR_YAML_H

#include "buf.h"

#include <stddef.h>

typedef enum { FR_YAML_SCALAR, FR_YAML_MAP, FR_YAML_SEQ } fr_yaml_kind;

typedef struct fr_yaml fr_yaml;
struct fr_yaml {
	fr_yaml_kind kind;
	int line;          /* 1-based line of the node's start */
	int col;           /* 1-based column */
	char *scalar;      /* FR_YAML_SCALAR: the value (never NULL) */
	int plain;         /* FR_YAML_SCALAR: 1 when unquoted (so `null`, `true` mean so) */
	size_t n;          /* MAP: number of pairs; SEQ: number of items */
	char **keys;       /* MAP: keys[i] */
	int *key_lines;    /* MAP: line of keys[i] */
	fr_yaml **items;   /* MAP: value of keys[i]; SEQ: item i */
};

/*
 * Parses text (len bytes). An empty document gives an empty mapping.
 * On error returns -1 and appends "<path>:<line>:<col>: <what>" to err.
 */
int fr_yaml_parse(fr_yaml **out, const char *path, const char *text, size_t len, fr_buf *err);

/* Reads and parses a file; a read error is reported as "<path>: <strerror>". */
int fr_yaml_load_file(fr_yaml **out, const char *path, fr_buf *err);

void fr_yaml_free(fr_yaml *n);

/* The value of key in a mapping, or NULL (also when map is not a mapping). */
const fr_yaml *fr_yaml_get(const fr_yaml *map, const char *key);

/* A plain scalar true/false/yes/no/on/off (any case). 0 ok (*out 0/1), -1 not a boolean. */
int fr_yaml_bool(const fr_yaml *n, int *out);

/* 1 when n is a plain null scalar (`null`, `~`, or empty). */
int fr_yaml_is_null(const fr_yaml *n);

const char *fr_yaml_kind_name(fr_yaml_kind k); /* "scalar", "mapping", "sequence" */

#endif
