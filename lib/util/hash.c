/*
 * hash.c - SHA-256 checksums through libcrypto's EVP interface.
 *
 * libcrypto is loaded on the first hash (dlopen), not at start-up: it is
 * the largest library ferry uses (some 20,000 relocations, a third of a
 * no-op start), and the no-op path hashes nothing. systemd loads its
 * optional libraries the same way. The prototypes come from OpenSSL's own
 * headers, so a mismatch is a compile error, not a crash.
 */
#include "hash.h"
#include "buf.h"
#include "dl.h"
#include "fs.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#ifndef FR_LIBCRYPTO_SONAME
#define FR_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif

static struct {
	__typeof__(EVP_MD_CTX_new) *EVP_MD_CTX_new;
	__typeof__(EVP_MD_CTX_free) *EVP_MD_CTX_free;
	__typeof__(EVP_DigestInit_ex) *EVP_DigestInit_ex;
	__typeof__(EVP_DigestUpdate) *EVP_DigestUpdate;
	__typeof__(EVP_DigestFinal_ex) *EVP_DigestFinal_ex;
	__typeof__(EVP_sha256) *EVP_sha256;
	__typeof__(EVP_sha384) *EVP_sha384;
	__typeof__(EVP_Digest) *EVP_Digest;
	__typeof__(EVP_MD_fetch) *EVP_MD_fetch;
} C;

static const fr_dl_sym syms[] = {
	FR_DL_SYM(C, EVP_MD_CTX_new), FR_DL_SYM(C, EVP_MD_CTX_free),
	FR_DL_SYM(C, EVP_DigestInit_ex), FR_DL_SYM(C, EVP_DigestUpdate),
	FR_DL_SYM(C, EVP_DigestFinal_ex), FR_DL_SYM(C, EVP_sha256), FR_DL_SYM(C, EVP_Digest),
	FR_DL_SYM(C, EVP_sha384), FR_DL_SYM(C, EVP_MD_fetch),
	{ NULL, NULL }
};

static fr_dl_lib crypto = FR_DL_LIB(FR_LIBCRYPTO_SONAME, "libcrypto.so", syms);

static int ready(void)
{
	if (fr_dl_open(&crypto) == 0)
		return 1;
	errno = ELIBACC;
	return 0;
}

/*
 * SHA-256 fetched from its provider once, for the life of the process:
 * EVP_sha256() is fetched again by every EVP_DigestInit_ex, half the cost
 * of hashing a step file. NULL (then EVP_sha256()) if the fetch fails.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = C.EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256_md ? sha256_md : C.EVP_sha256();
}

void fr_hex(const void *data, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = data;
	size_t i;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int fr_checksum(const void *data, size_t len, char out[FR_CHECKSUM_LEN + 1])
{
	const unsigned char *p = data, *end = p + len, *run = p;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;
	if (!ready() || !(ctx = C.EVP_MD_CTX_new()))
		return -1;
	ok = C.EVP_DigestInit_ex(ctx, sha256(), NULL);
	/* Feed runs between CRs; a CR followed by LF is dropped. */
	while (ok && p < end) {
		const unsigned char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr)
			break;
		if (cr + 1 < end && cr[1] == '\n') {
			ok = C.EVP_DigestUpdate(ctx, run, (size_t)(cr - run));
			run = cr + 1;
		}
		p = cr + 1;
	}
	if (ok && end > run)
		ok = C.EVP_DigestUpdate(ctx, run, (size_t)(end - run));
	if (ok)
		ok = C.EVP_DigestFinal_ex(ctx, md, &mdlen);
	C.EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(out, FR_CHECKSUM_PREFIX, 7);
	fr_hex(md, mdlen, out + 7);
	return 0;
}

int fr_checksum_file(const char *path, char out[FR_CHECKSUM_LEN + 1])
{
	fr_buf b = FR_BUF_INIT;
	int r;
	if (fr_read_file(path, &b)) {
		int e = errno;
		fr_buf_release(&b);
		errno = e;
		return -1;
	}
	r = fr_checksum(b.ptr, b.len, out);
	fr_buf_release(&b);
	return r;
}

int fr_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!ready() || !C.EVP_Digest(data, len, md, &mdlen, sha256(), NULL))
		return -1;
	fr_hex(md, mdlen, out);
	return 0;
}

int fr_sha384(const void *data, size_t len, unsigned char out[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!ready() || !C.EVP_Digest(data, len, md, &mdlen, C.EVP_sha384(), NULL) || mdlen != 48)
		return -1;
	memcpy(out, md, 48);
	return 0;
}

/* ---- streaming ---- */

int fr_crypto_load(void)
{
	return ready() ? 0 : -1;
}

const char *fr_crypto_error(void)
{
	return crypto.err;
}

fr_sha256 *fr_sha256_new(void)
{
	EVP_MD_CTX *ctx;
	if (!ready() || !(ctx = C.EVP_MD_CTX_new()))
		return NULL;
	if (!C.EVP_DigestInit_ex(ctx, sha256(), NULL)) {
		C.EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return (fr_sha256 *)ctx;
}

int fr_sha256_update(fr_sha256 *h, const void *data, size_t len)
{
	return C.EVP_DigestUpdate((EVP_MD_CTX *)h, data, len) ? 0 : -1;
}

int fr_sha256_hex_reset(fr_sha256 *h, char out[65])
{
	EVP_MD_CTX *ctx = (EVP_MD_CTX *)h;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (!C.EVP_DigestFinal_ex(ctx, md, &n) || n != 32)
		return -1;
	fr_hex(md, n, out);
	return C.EVP_DigestInit_ex(ctx, sha256(), NULL) ? 0 : -1;
}

void fr_sha256_free(fr_sha256 *h)
{
	if (h && ready())
		C.EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

uint64_t fr_mix64(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t w;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
		h ^= h >> 29;
	}
	w = (uint64_t)n << 56;
	memcpy(&w, p, n); /* the tail's bytes below its length (n < 8) */
	h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 29);
}
