/*
 * sched/uuid.h — identifiers: job ids, event ids.
 *
 * Fresh ids are UUIDv7 (RFC 9562): a 48-bit Unix-ms timestamp then 74
 * random bits, so ids sort by creation time (RocksDB keys built from them
 * stay roughly append-only).  Ids derived from a name — a job id from
 * tenant + idempotency key — are UUIDv8 holding the first 122 bits of
 * SHA-256(namespace | tenant | 0x00 | key) (the name-based layout of RFC
 * 9562 appendix B.2), so the same tenant and key always give the same id.
 * Text form: 36 lower-case characters, 8-4-4-4-12.
 *
 * Thread safety: all functions may be called from any thread.
 */
#ifndef SCHED_UUID_H
#define SCHED_UUID_H

#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"

/** Text form plus NUL. */
#define SCHED_UUID_STR_MAX 37

/** UUIDv7 for epoch milliseconds `ms` with random bits from the kernel
 *  (getrandom).  Pass sched_now_ms() for a fresh id. */
void sched_uuid_v7(char out[SCHED_UUID_STR_MAX], int64_t ms);

/** Deterministic UUIDv8 for (tenant, key): a job id for an idempotency
 *  key.  Distinct (tenant, key) pairs give distinct ids short of a SHA-256
 *  collision; the 0x00 separator keeps ("ab","c") apart from ("a","bc"). */
void sched_uuid_from_key(char out[SCHED_UUID_STR_MAX], const char *tenant,
                         const char *key);

/* --- Building blocks, exposed for tests ---------------------------------- */

typedef struct sched_sha256_s {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        unsigned char buf[64];
        size_t buf_len;
} sched_sha256_t;

void sched_sha256_init(sched_sha256_t *sha);
void sched_sha256_update(sched_sha256_t *sha, const void *data, size_t len);
void sched_sha256_final(sched_sha256_t *sha, unsigned char out[32]);

/** Fill buf with len random bytes (getrandom; never fails short). */
void sched_random_bytes(void *buf, size_t len);

#endif /* SCHED_UUID_H */
