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
#include "fs.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#ifndef FR_LIBCRYPTO_SONAME
#define FR_LIBCRYPTO_SONAME "libcrypto.so.3"
#endif

static struct {
	__typeof__(EVP_MD_CTX_new) *ctx_new;
	__typeof__(EVP_MD_CTX_free) *ctx_free;
	__typeof__(EVP_DigestInit_ex) *init;
	__typeof__(EVP_DigestUpdate) *update;
	__typeof__(EVP_DigestFinal_ex) *final;
	__typeof__(EVP_sha256) *sha256;
	__typeof__(EVP_Digest) *digest;
	int ok;
} C;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(FR_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
	C.ctx_new = (__typeof__(C.ctx_new))dlsym(h, "EVP_MD_CTX_new");
	C.ctx_free = (__typeof__(C.ctx_free))dlsym(h, "EVP_MD_CTX_free");
	C.init = (__typeof__(C.init))dlsym(h, "EVP_DigestInit_ex");
	C.update = (__typeof__(C.update))dlsym(h, "EVP_DigestUpdate");
	C.final = (__typeof__(C.final))dlsym(h, "EVP_DigestFinal_ex");
	C.sha256 = (__typeof__(C.sha256))dlsym(h, "EVP_sha256");
	C.digest = (__typeof__(C.digest))dlsym(h, "EVP_Digest");
	C.ok = C.ctx_new && C.ctx_free && C.init && C.update && C.final && C.sha256 && C.digest;
	/* The handle stays open for the life of the process, as a linked library would. */
}

static int ready(void)
{
	pthread_once(&once, load);
	if (!C.ok)
		errno = ELIBACC;
	return C.ok;
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;
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
	if (!ready() || !(ctx = C.ctx_new()))
		return -1;
	ok = C.init(ctx, C.sha256(), NULL);
	/* Feed runs between CRs; a CR followed by LF is dropped. */
	while (ok && p < end) {
		const unsigned char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr)
			break;
		if (cr + 1 < end && cr[1] == '\n') {
			ok = C.update(ctx, run, (size_t)(cr - run));
			run = cr + 1;
		}
		p = cr + 1;
	}
	if (ok && end > run)
		ok = C.update(ctx, run, (size_t)(end - run));
	if (ok)
		ok = C.final(ctx, md, &mdlen);
	C.ctx_free(ctx);
	if (!ok)
		return -1;
	memcpy(out, FR_CHECKSUM_PREFIX, 7);
	hex(md, mdlen, out + 7);
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
	if (!ready() || !C.digest(data, len, md, &mdlen, C.sha256(), NULL))
		return -1;
	hex(md, mdlen, out);
	return 0;
}
