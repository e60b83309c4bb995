/* hash.c - SHA-256 checksums through libcrypto's EVP interface. */
#include "hash.h"
#include "buf.h"
#include "fs.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

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
	int ok;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	/* Feed runs between CRs; a CR followed by LF is dropped. */
	while (ok && p < end) {
		const unsigned char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr)
			break;
		if (cr + 1 < end && cr[1] == '\n') {
			ok = EVP_DigestUpdate(ctx, run, (size_t)(cr - run));
			run = cr + 1;
		}
		p = cr + 1;
	}
	if (ok && end > run)
		ok = EVP_DigestUpdate(ctx, run, (size_t)(end - run));
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
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
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		return -1;
	hex(md, mdlen, out);
	return 0;
}
