/*
 * fuzz_data.c - the values of an export's rows (lib/data/format.c,
 * docs/data.md) and the order tables are filled in.
 *
 * The first byte picks what the rest is:
 *  - 0: a JSON text, read as import reads a row's value: it must be
 *    refused with a reason or give a value that, written again, reads back
 *    as the same value;
 *  - 1: a value to write (a type byte, then its bytes: an int64, a double,
 *    text or bytes of any content): what export writes must be JSON that
 *    import reads back as exactly that value (the same integer; the same
 *    double, NaN and infinities and the sign of zero included; the same
 *    bytes of text, UTF-8 or not; the same bytes);
 *  - 2: a graph of foreign keys among up to 16 tables (each byte names a
 *    table and one it references): the fill order is every table once, and
 *    a table comes after those it references unless they reference it back
 *    (a cycle).
 */
#include "fuzz.h"
#include "data/data.h"

#include <math.h>

/* The JSON a value is written as, read as import reads a row's value. */
static json_t *load(const fr_buf *b)
{
	json_error_t je;
	json_t *j = json_loadb(b->ptr, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		fprintf(stderr, "not JSON: %.*s (%s)\n", (int)b->len, b->ptr, je.text);
	return j;
}

static int same(const fr_val *a, const fr_val *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case FR_VAL_NULL:
		return 1;
	case FR_VAL_INT:
		return a->i == b->i;
	case FR_VAL_REAL:
		if (isnan(a->r))
			return isnan(b->r);
		return a->r == b->r && !signbit(a->r) == !signbit(b->r);
	default:
		return a->len == b->len && (a->len == 0 || !memcmp(a->p, b->p, a->len));
	}
}

/* v written, then read back: the same value. */
static void round_trip(const fr_val *v)
{
	fr_buf out = FR_BUF_INIT, buf = FR_BUF_INIT, err = FR_BUF_INIT;
	fr_val back;
	json_t *j;
	fr_data_put_value(&out, v, NULL, 0);
	check(!out.oom);
	j = load(&out);
	check(j != NULL);
	check(fr_data_get_value(j, &back, &buf, &err) == 0);
	check(same(v, &back));
	json_decref(j);
	fr_buf_release(&out);
	fr_buf_release(&buf);
	fr_buf_release(&err);
}

static void decode(const uint8_t *data, size_t size)
{
	fr_buf buf = FR_BUF_INIT, err = FR_BUF_INIT;
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	fr_val v;
	if (!j)
		return;
	if (fr_data_get_value(j, &v, &buf, &err) == 0)
		round_trip(&v);
	else
		check(err.len > 0 || err.oom);
	json_decref(j);
	fr_buf_release(&buf);
	fr_buf_release(&err);
}

static void encode(const uint8_t *data, size_t size)
{
	fr_val v;
	memset(&v, 0, sizeof v);
	if (!size)
		return;
	switch (data[0] % 5) {
	case 0:
		v.type = FR_VAL_NULL;
		break;
	case 1:
		v.type = FR_VAL_INT;
		if (size - 1 < sizeof v.i)
			return;
		memcpy(&v.i, data + 1, sizeof v.i);
		break;
	case 2:
		v.type = FR_VAL_REAL;
		if (size - 1 < sizeof v.r)
			return;
		memcpy(&v.r, data + 1, sizeof v.r);
		break;
	default:
		v.type = data[0] % 5 == 3 ? FR_VAL_TEXT : FR_VAL_BLOB;
		v.p = (const char *)data + 1;
		v.len = size - 1;
		break;
	}
	round_trip(&v);
}

static void order(const uint8_t *data, size_t size)
{
	enum { N = 16 };
	fr_db_table t[N];
	char names[N][4], *refs[N][N];
	size_t nt, i, k, ord[N], pos[N];
	unsigned char seen[N] = { 0 };
	int reach[N][N] = { { 0 } };
	if (!size)
		return;
	nt = 1 + data[0] % N;
	memset(t, 0, sizeof t);
	for (i = 0; i < nt; i++) {
		snprintf(names[i], sizeof names[i], "t%zu", i);
		t[i].name = names[i];
		t[i].refs = refs[i];
	}
	for (k = 1; k < size; k++) {
		size_t a = (data[k] >> 4) % nt, b = (data[k] & 15) % nt, j;
		int dup = 0;
		if (a == b)
			continue; /* a table's references to itself are not kept */
		for (j = 0; j < t[a].nrefs; j++)
			dup |= !strcmp(t[a].refs[j], names[b]);
		if (!dup)
			t[a].refs[t[a].nrefs++] = names[b];
		reach[a][b] = 1;
	}
	check(fr_data_order(t, nt, ord) == 0);
	for (i = 0; i < nt; i++) {
		check(ord[i] < nt && !seen[ord[i]]);
		seen[ord[i]] = 1;
		pos[ord[i]] = i;
	}
	/* reach: the transitive closure of "references" */
	for (k = 0; k < nt; k++)
		for (i = 0; i < nt; i++)
			if (reach[i][k])
				for (size_t j = 0; j < nt; j++)
					reach[i][j] |= reach[k][j];
	for (i = 0; i < nt; i++)
		for (k = 0; k < t[i].nrefs; k++) {
			size_t b = (size_t)atoi(t[i].refs[k] + 1);
			check(pos[b] < pos[i] || reach[b][i]);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size || size > 65536)
		return 0;
	switch (data[0] % 3) {
	case 0:
		decode(data + 1, size - 1);
		break;
	case 1:
		encode(data + 1, size - 1);
		break;
	default:
		order(data + 1, size - 1);
		break;
	}
	return 0;
}
