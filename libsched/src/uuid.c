/*
 * uuid.c — UUIDv7 and name-based UUIDv8 ids (see sched/uuid.h).
 */
#include "sched/uuid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

/* --- SHA-256 (FIPS 180-4) ------------------------------------------------- */

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
        0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
        0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
        0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
        0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror32(uint32_t x, int n) {
        return (x >> n) | (x << (32 - n));
}

static void sha256_block(sched_sha256_t *sha, const unsigned char *p) {
        uint32_t w[64], a, b, c, d, e, f, g, h;
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^
                              (w[i - 15] >> 3);
                uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^
                              (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = sha->h[0], b = sha->h[1], c = sha->h[2], d = sha->h[3];
        e = sha->h[4], f = sha->h[5], g = sha->h[6], h = sha->h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t s1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
                uint32_t ch = (e & f) ^ (~e & g);
                uint32_t t1 = h + s1 + ch + sha256_k[i] + w[i];
                uint32_t s0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
                uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
                uint32_t t2 = s0 + maj;
                h = g, g = f, f = e, e = d + t1;
                d = c, c = b, b = a, a = t1 + t2;
        }
        sha->h[0] += a, sha->h[1] += b, sha->h[2] += c, sha->h[3] += d;
        sha->h[4] += e, sha->h[5] += f, sha->h[6] += g, sha->h[7] += h;
}

void sched_sha256_init(sched_sha256_t *sha) {
        static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                       0xa54ff53a, 0x510e527f, 0x9b05688c,
                                       0x1f83d9ab, 0x5be0cd19};
        memcpy(sha->h, iv, sizeof(iv));
        sha->len = 0;
        sha->buf_len = 0;
}

void sched_sha256_update(sched_sha256_t *sha, const void *data, size_t len) {
        const unsigned char *p = data;
        sha->len += len;
        while (len) {
                size_t n = 64 - sha->buf_len;
                if (n > len)
                        n = len;
                memcpy(sha->buf + sha->buf_len, p, n);
                sha->buf_len += n, p += n, len -= n;
                if (sha->buf_len == 64) {
                        sha256_block(sha, sha->buf);
                        sha->buf_len = 0;
                }
        }
}

void sched_sha256_final(sched_sha256_t *sha, unsigned char out[32]) {
        uint64_t bits = sha->len * 8;
        unsigned char pad[72] = {0x80};
        size_t padlen = (sha->buf_len < 56 ? 56 : 120) - sha->buf_len;
        for (int i = 0; i < 8; i++)
                pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
        sched_sha256_update(sha, pad, padlen + 8);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (unsigned char)(sha->h[i] >> 24);
                out[4 * i + 1] = (unsigned char)(sha->h[i] >> 16);
                out[4 * i + 2] = (unsigned char)(sha->h[i] >> 8);
                out[4 * i + 3] = (unsigned char)sha->h[i];
        }
}

/* --- Randomness and text form --------------------------------------------- */

void sched_random_bytes(void *buf, size_t len) {
        unsigned char *p = buf;
        while (len) {
                ssize_t r = getrandom(p, len, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        /* getrandom only fails with EINTR (or ENOSYS on a
                         * pre-3.17 kernel, which klok does not support). */
                        memset(p, 0, len);
                        return;
                }
                p += r, len -= (size_t)r;
        }
}

static void uuid_text(char out[SCHED_UUID_STR_MAX], const unsigned char u[16]) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                out[o++] = hex[u[i] >> 4];
                out[o++] = hex[u[i] & 15];
        }
        out[o] = '\0';
}

void sched_uuid_v7(char out[SCHED_UUID_STR_MAX], int64_t ms) {
        unsigned char u[16];
        sched_random_bytes(u + 6, 10);
        uint64_t t = (uint64_t)ms;
        for (int i = 0; i < 6; i++)
                u[i] = (unsigned char)(t >> (40 - 8 * i));
        u[6] = (unsigned char)(0x70 | (u[6] & 0x0f)); /* version 7 */
        u[8] = (unsigned char)(0x80 | (u[8] & 0x3f)); /* variant 10 */
        uuid_text(out, u);
}

/* Namespace of klok job ids (a fixed random UUID, never to change: job ids
 * of idempotency keys already accepted depend on it). */
static const unsigned char job_ns[16] = {0x6b, 0x1c, 0x0f, 0x3e, 0x9a, 0x52,
                                         0x4d, 0x17, 0x8e, 0x2b, 0x71, 0xc4,
                                         0x05, 0xd9, 0xa3, 0x60};

void sched_uuid_from_key(char out[SCHED_UUID_STR_MAX], const char *tenant,
                         const char *key) {
        sched_sha256_t sha;
        unsigned char d[32];
        sched_sha256_init(&sha);
        sched_sha256_update(&sha, job_ns, sizeof(job_ns));
        sched_sha256_update(&sha, tenant, strlen(tenant) + 1); /* with NUL */
        sched_sha256_update(&sha, key, strlen(key));
        sched_sha256_final(&sha, d);
        d[6] = (unsigned char)(0x80 | (d[6] & 0x0f)); /* version 8 */
        d[8] = (unsigned char)(0x80 | (d[8] & 0x3f)); /* variant 10 */
        uuid_text(out, d);
}
