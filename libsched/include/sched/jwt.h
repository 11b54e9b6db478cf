/*
 * sched/jwt.h — verification of HS256 JWT bearer tokens (RFC 7519, 7515,
 * 6750) into the principal a request acts as.
 *
 * Only one shape of token is accepted:
 *   Authorization: Bearer <b64url(header)>.<b64url(claims)>.<b64url(mac)>
 *   header  {"alg": "HS256"}, optionally "typ": "JWT" (case-insensitive,
 *           RFC 7515 §4.1.9); "crit" is rejected, other members ignored.
 *   mac     HMAC-SHA256 under the shared key over the ASCII text
 *           "<b64url(header)>.<b64url(claims)>", compared in constant time.
 *   claims  "exp"    required integer (seconds since the epoch)
 *           "nbf"    optional integer
 *           "iat"    optional integer (type-checked only)
 *           "iss"    string, must equal the configured issuer (if any)
 *           "aud"    string or array of strings, must contain the
 *                    configured audience (if any)
 *           "sub"    required string, 1..127 bytes, no control characters
 *           "tenant" required string, 1..SCHED_TENANT_MAX-1 bytes of
 *                    [A-Za-z0-9._-] (tenants end up in storage keys)
 *           "tier"   optional "premium" | "standard" (default standard)
 *           "scope"  optional space-separated string (RFC 9068 / OAuth
 *                    style); names other than the SCHED_SCOPE_* ones are
 *                    ignored.
 * Base64url is unpadded; padding, characters outside the alphabet and
 * non-zero trailing bits are rejected.  The whole header value is bounded
 * by SCHED_JWT_HEADER_MAX before anything is decoded, and both JSON parts
 * are parsed with duplicate keys rejected.  The algorithm is fixed by the
 * verifier, never chosen by the token ("none", HS512, RS256... all fail).
 *
 * Rejection reasons ("token expired", "bad signature", ...) are short
 * fixed texts: they never contain the token, any part of it, or the key,
 * so they can be logged and returned to the client as they are.
 *
 * Ownership: sched_jwt_new() copies the key, issuer and audience;
 * sched_jwt_destroy() wipes the key copy and frees everything.
 * sched_jwt_key_load() returns a malloc'd key the caller releases with
 * sched_jwt_key_free() (which wipes it) once it has been given to
 * sched_jwt_new().
 *
 * Thread safety: a verifier is immutable after sched_jwt_new();
 * sched_jwt_verify() may be called on one verifier from any number of
 * threads at once.  sched_jwt_destroy() only after all of them returned.
 */
#ifndef SCHED_JWT_H
#define SCHED_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/err.h"
#include "sched/event.h"

/* Scopes, as bits of sched_principal_t.scopes. */
#define SCHED_SCOPE_READ 1u  /* "jobs:read" */
#define SCHED_SCOPE_WRITE 2u /* "jobs:write" */
#define SCHED_SCOPE_ADMIN 4u /* "admin" */

/* Bounds. */
#define SCHED_JWT_HEADER_MAX 8192   /* Authorization value, bytes */
#define SCHED_JWT_KEY_MIN 32        /* >= the hash size, RFC 7518 §3.2 */
#define SCHED_JWT_KEY_MAX 4096      /* key bytes, also the key file limit */
#define SCHED_JWT_STR_MAX 1024      /* configured issuer / audience, bytes */
#define SCHED_JWT_LEEWAY_MAX 3600   /* clock skew allowance, seconds */
#define SCHED_JWT_SUBJECT_MAX 128   /* including the NUL */

/** Who a verified token says the caller is. */
typedef struct sched_principal_s {
        char subject[SCHED_JWT_SUBJECT_MAX]; /* "sub" */
        char tenant[SCHED_TENANT_MAX];       /* "tenant" */
        bool premium;    /* "tier": "premium" | "standard" (default) */
        unsigned scopes; /* SCHED_SCOPE_* found in "scope" */
        int64_t exp_s;   /* "exp" */
} sched_principal_t;

/** Verifier configuration: key, issuer, audience, leeway. */
typedef struct sched_jwt_s sched_jwt_t;

/**
 * A verifier for tokens signed with key (raw bytes, SCHED_JWT_KEY_MIN ..
 * SCHED_JWT_KEY_MAX long).  issuer and audience, when not NULL, must be
 * non-empty and shorter than SCHED_JWT_STR_MAX; NULL means the claim is not
 * checked (only its type is: a token carrying "aud" is accepted by a
 * verifier without an audience).  leeway_s (0..SCHED_JWT_LEEWAY_MAX) is
 * the clock skew allowed on "exp" and "nbf".  Returns NULL with the reason
 * in errstr on invalid arguments or out of memory.
 */
sched_jwt_t *sched_jwt_new(const unsigned char *key, size_t key_len,
                           const char *issuer, const char *audience,
                           int64_t leeway_s, char *errstr,
                           size_t errstr_size);

/** Wipe the key and free v; NULL is a no-op. */
void sched_jwt_destroy(sched_jwt_t *v);

/**
 * Verify an Authorization header value, "Bearer <token>" (the scheme is
 * case-insensitive, followed by one or more spaces), at time now_s
 * (seconds since the epoch).  Returns SCHED_ERR_OK with *p filled, or
 * SCHED_ERR_AUTH with *p zeroed and a short reason in why (if why is not
 * NULL).  authorization may be NULL (header absent).  An internal failure
 * to compute the MAC also returns SCHED_ERR_AUTH (fail closed).
 */
sched_err_t sched_jwt_verify(const sched_jwt_t *v, const char *authorization,
                             int64_t now_s, sched_principal_t *p, char *why,
                             size_t why_size);

/**
 * The key named by a configuration value: "@<path>" reads the file at
 * path (at most SCHED_JWT_KEY_MAX bytes; one trailing "\n" or "\r\n" is
 * stripped), anything else is the key itself (its bytes, without the NUL).
 * On success *keyp is a malloc'd copy of *lenp bytes, to be released with
 * sched_jwt_key_free().  Errors: SCHED_ERR_CONFIG (empty key or path),
 * SCHED_ERR_IO (file unreadable), SCHED_ERR_TOO_BIG, SCHED_ERR_NOMEM; the
 * message names the path, never the key.  The length is not checked
 * against SCHED_JWT_KEY_MIN here: sched_jwt_new() does that.
 */
sched_err_t sched_jwt_key_load(const char *value_or_path, unsigned char **keyp,
                               size_t *lenp, char *errstr, size_t errstr_size);

/** Wipe and free a key from sched_jwt_key_load(); NULL is a no-op. */
void sched_jwt_key_free(unsigned char *key, size_t len);

#endif /* SCHED_JWT_H */
