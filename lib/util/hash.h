/*
 * hash.h - step checksums: "sha256:" and the hex SHA-256 of the bytes with
 * every CRLF turned into LF (SPEC section 1), through OpenSSL's libcrypto.
 */
#ifndef FR_HASH_H
#define FR_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FR_CHECKSUM_PREFIX "sha256:"
#define FR_CHECKSUM_LEN (7 + 64)

/* Writes the checksum of data (CRLF normalised) into out. 0, or -1 on failure. */
int fr_checksum(const void *data, size_t len, char out[FR_CHECKSUM_LEN + 1]);

/* Checksum of a file's content. 0, or -1 with errno set. */
int fr_checksum_file(const char *path, char out[FR_CHECKSUM_LEN + 1]);

/* Plain hex SHA-256 of data, no normalisation (for backups and manifests). */
int fr_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Folds n bytes into h, eight at a time (a word-wise FNV-style mix). Not for
 * adversaries: it tells a stat that changed from one that did not (the
 * no-op fingerprints, lib/run.c and lib/noop.c).
 */
uint64_t fr_mix64(uint64_t h, const void *data, size_t n);

/* Writes the n bytes of d as 2n lowercase hex digits and a NUL into out. */
void fr_hex(const void *d, size_t n, char *out);

/* The SHA-384 of data, 48 bytes (sqlx's migration checksum, lib/history/sqlx.c). 0 or -1. */
int fr_sha384(const void *data, size_t len, unsigned char out[48]);

/*
 * A streaming SHA-256 (backups hash archives as they stream). new gives
 * NULL when libcrypto cannot be loaded (fr_crypto_error() says why) or
 * memory runs out; update and hex_reset return 0 or -1; hex_reset writes
 * the digest as 64 hex characters and starts a new one.
 */
typedef struct fr_sha256 fr_sha256;
fr_sha256 *fr_sha256_new(void);
int fr_sha256_update(fr_sha256 *h, const void *data, size_t len);
int fr_sha256_hex_reset(fr_sha256 *h, char out[65]);
void fr_sha256_free(fr_sha256 *h);
/* Loads libcrypto now; 0, or -1 with fr_crypto_error() saying why. */
int fr_crypto_load(void);
const char *fr_crypto_error(void);

#endif
