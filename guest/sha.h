/* SHA-1 and SHA-2 digests for crypto.subtle.digest (guest/sha.c), fed in pieces so that a long
 * input can be checked against the CPU budget between them. */
#ifndef QUICKBOX_SHA_H
#define QUICKBOX_SHA_H

#include <stddef.h>
#include <stdint.h>

typedef enum qb_sha_kind { QB_SHA1, QB_SHA256, QB_SHA384, QB_SHA512 } qb_sha_kind;

typedef struct qb_sha {
  qb_sha_kind kind;
  uint32_t h32[8]; /* SHA-1 and SHA-256 state */
  uint64_t h64[8]; /* SHA-384 and SHA-512 state */
  uint8_t block[128];
  size_t fill;
  uint64_t total; /* bytes hashed */
} qb_sha;

void qb_sha_init(qb_sha *s, qb_sha_kind kind);
void qb_sha_update(qb_sha *s, const uint8_t *data, size_t len);
/* Writes the digest (qb_sha_digest_size bytes, at most 64) to out and returns its size. */
size_t qb_sha_final(qb_sha *s, uint8_t *out);
size_t qb_sha_digest_size(qb_sha_kind kind);

#endif
