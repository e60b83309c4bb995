/*
 * hash.h - step checksums: "sha256:" and the hex SHA-256 of the bytes with
 * every CRLF turned into LF (SPEC section 1), through OpenSSL's libcrypto.
 */
#ifndef FR_HASH_H
#define FR_HASH_H

#include <stddef.h>

#define FR_CHECKSUM_PREFIX "sha256:"
#define FR_CHECKSUM_LEN (7 + 64)

/* Writes the checksum of data (CRLF normalised) into out. 0, or -1 on failure. */
int fr_checksum(const void *data, size_t len, char out[FR_CHECKSUM_LEN + 1]);

/* Checksum of a file's content. 0, or -1 with errno set. */
int fr_checksum_file(const char *path, char out[FR_CHECKSUM_LEN + 1]);

/* Plain hex SHA-256 of data, no normalisation (for backups and manifests). */
int fr_sha256_hex(const void *data, size_t len, char out[65]);

#endif
