/*
 * jwt.c — HS256 bearer-token verification (see sched/jwt.h).
 *
 * Order of the checks: size bound, scheme, split into three segments,
 * header (decoded, parsed, alg pinned to HS256), MAC over the first two
 * segments compared in constant time, and only then are the claims
 * decoded and parsed: nothing the key holder did not sign is read beyond
 * the small header.  Every token-derived buffer is on the stack and sized
 * from SCHED_JWT_HEADER_MAX, so verification allocates only inside
 * jansson, bounded by that size too.
 *
 * Every rejection reason is a string literal: nothing of the token or key
 * can leak into it.
 */
#include "sched/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Largest decoded size of one segment of a header value that passed the
 * SCHED_JWT_HEADER_MAX bound. */
#define SCHED_JWT_DECODED_MAX (SCHED_JWT_HEADER_MAX / 4 * 3)
#define SCHED_JWT_MAC_LEN 32     /* HMAC-SHA256 */
#define SCHED_JWT_MAC_B64_LEN 43 /* its unpadded base64url length */

struct sched_jwt_s {
        unsigned char *key;
        size_t key_len;
        char *issuer;   /* NULL: not checked */
        char *audience; /* NULL: not checked */
        int64_t leeway_s;
};

static const struct {
        const char *name;
        unsigned bit;
} sched_jwt_scopes[] = {
        {"jobs:read", SCHED_SCOPE_READ},
        {"jobs:write", SCHED_SCOPE_WRITE},
        {"admin", SCHED_SCOPE_ADMIN},
};

/* --- Verifier ------------------------------------------------------------- */

/* Check an optional configured claim value: NULL or 1..SCHED_JWT_STR_MAX-1
 * bytes. */
static bool conf_str_ok(const char *s) {
        return s == NULL || (*s != '\0' && strnlen(s, SCHED_JWT_STR_MAX) <
                                                    SCHED_JWT_STR_MAX);
}

sched_jwt_t *sched_jwt_new(const unsigned char *key, size_t key_len,
                           const char *issuer, const char *audience,
                           int64_t leeway_s, char *errstr,
                           size_t errstr_size) {
        sched_jwt_t *v;

        if (key == NULL || key_len < SCHED_JWT_KEY_MIN) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "jwt key shorter than %d bytes",
                             SCHED_JWT_KEY_MIN);
                return NULL;
        }
        if (key_len > SCHED_JWT_KEY_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "jwt key longer than %d bytes",
                             SCHED_JWT_KEY_MAX);
                return NULL;
        }
        if (!conf_str_ok(issuer) || !conf_str_ok(audience)) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "jwt %s must be 1..%d bytes",
                             conf_str_ok(issuer) ? "audience" : "issuer",
                             SCHED_JWT_STR_MAX - 1);
                return NULL;
        }
        if (leeway_s < 0 || leeway_s > SCHED_JWT_LEEWAY_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "jwt leeway must be 0..%d seconds",
                             SCHED_JWT_LEEWAY_MAX);
                return NULL;
        }
        if ((v = calloc(1, sizeof(*v))) == NULL ||
            (v->key = malloc(key_len)) == NULL ||
            (issuer && (v->issuer = strdup(issuer)) == NULL) ||
            (audience && (v->audience = strdup(audience)) == NULL)) {
                sched_jwt_destroy(v);
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "out of memory");
                return NULL;
        }
        memcpy(v->key, key, key_len);
        v->key_len = key_len;
        v->leeway_s = leeway_s;
        return v;
}

void sched_jwt_destroy(sched_jwt_t *v) {
        if (v == NULL)
                return;
        sched_jwt_key_free(v->key, v->key_len);
        free(v->issuer);
        free(v->audience);
        free(v);
}

/* --- Token pieces --------------------------------------------------------- */

/* Value of a base64url digit (RFC 4648 §5), -1 for anything else. */
static int b64url_digit(unsigned char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

/* Decode n characters of unpadded base64url into out (cap bytes).  False on
 * a character outside the alphabet (padding included), an impossible
 * length, non-zero trailing bits, or more than cap bytes of output. */
static bool b64url_decode(const char *s, size_t n, unsigned char *out,
                          size_t cap, size_t *outlen) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t o = 0;

        if (n % 4 == 1)
                return false;
        for (size_t i = 0; i < n; i++) {
                int d = b64url_digit((unsigned char)s[i]);
                if (d < 0)
                        return false;
                acc = (acc << 6) | (uint32_t)d;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (o == cap)
                                return false;
                        out[o++] = (unsigned char)(acc >> bits);
                }
        }
        if ((acc & ((1u << bits) - 1)) != 0)
                return false; /* non-canonical: unused bits set */
        *outlen = o;
        return true;
}

/* Decode a header or claims segment into a JSON object (caller decrefs).
 * NULL with *why set on failure. */
static json_t *segment_object(const char *s, size_t n, const char *what_bad,
                              const char **why) {
        unsigned char buf[SCHED_JWT_DECODED_MAX];
        size_t len;
        json_t *obj;

        if (memchr(s, '=', n) != NULL) {
                *why = "base64url padding not allowed";
                return NULL;
        }
        if (!b64url_decode(s, n, buf, sizeof(buf), &len)) {
                *why = "malformed base64url in token";
                return NULL;
        }
        obj = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(obj)) {
                json_decref(obj);
                *why = what_bad;
                return NULL;
        }
        return obj;
}

/* The JOSE header: alg pinned to HS256, typ JWT if present, no crit. */
static const char *header_check(const json_t *hdr) {
        const json_t *alg = json_object_get(hdr, "alg");
        const json_t *typ = json_object_get(hdr, "typ");

        if (alg == NULL)
                return "missing alg";
        if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256"))
                return "unsupported alg";
        if (typ != NULL && (!json_is_string(typ) ||
                            strcasecmp(json_string_value(typ), "JWT")))
                return "unsupported typ";
        if (json_object_get(hdr, "crit") != NULL)
                return "crit header not supported";
        return NULL;
}

/* --- Claims --------------------------------------------------------------- */

/* An optional integer claim: *found tells whether it was there. */
static bool claim_int(const json_t *claims, const char *name, int64_t *out,
                      bool *found) {
        const json_t *j = json_object_get(claims, name);

        *found = j != NULL;
        if (j == NULL)
                return true;
        if (!json_is_integer(j))
                return false;
        *out = (int64_t)json_integer_value(j);
        return true;
}

static bool tenant_char(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* "aud" is a string or an array of strings; does it name audience?  *ok
 * is false when it has another shape. */
static bool aud_contains(const json_t *aud, const char *audience, bool *ok) {
        size_t i;
        const json_t *el;

        *ok = true;
        if (json_is_string(aud))
                return audience && !strcmp(json_string_value(aud), audience);
        if (!json_is_array(aud)) {
                *ok = false;
                return false;
        }
        bool found = false;
        json_array_foreach(aud, i, el) {
                if (!json_is_string(el)) {
                        *ok = false;
                        return false;
                }
                if (audience && !strcmp(json_string_value(el), audience))
                        found = true;
        }
        return found;
}

/* The SCHED_SCOPE_* bits named in a space-separated scope string. */
static unsigned scope_bits(const char *s) {
        unsigned bits = 0;

        while (*s) {
                size_t n = strcspn(s, " ");
                for (size_t i = 0;
                     i < sizeof(sched_jwt_scopes) / sizeof(sched_jwt_scopes[0]);
                     i++)
                        if (strlen(sched_jwt_scopes[i].name) == n &&
                            !memcmp(sched_jwt_scopes[i].name, s, n))
                                bits |= sched_jwt_scopes[i].bit;
                s += n;
                s += strspn(s, " ");
        }
        return bits;
}

/* Validate the claims of a token whose MAC matched and fill pr; returns
 * NULL or the reason. */
static const char *claims_check(const sched_jwt_t *v, const json_t *claims,
                                int64_t now_s, sched_principal_t *pr) {
        const json_t *j;
        int64_t exp = 0, nbf = 0, iat = 0;
        bool found;
        size_t len;

        if (!claim_int(claims, "exp", &exp, &found))
                return "exp claim is not an integer";
        if (!found)
                return "missing exp claim";
        if (!claim_int(claims, "nbf", &nbf, &found))
                return "nbf claim is not an integer";
        if (found && nbf > now_s + v->leeway_s)
                return "token not yet valid";
        if (!claim_int(claims, "iat", &iat, &found))
                return "iat claim is not an integer";
        if (exp <= now_s - v->leeway_s)
                return "token expired";
        pr->exp_s = exp;

        j = json_object_get(claims, "iss");
        if (j != NULL && !json_is_string(j))
                return "iss claim is not a string";
        if (v->issuer != NULL) {
                if (j == NULL)
                        return "missing issuer";
                if (strcmp(json_string_value(j), v->issuer))
                        return "wrong issuer";
        }

        j = json_object_get(claims, "aud");
        if (j != NULL) {
                bool shape_ok;
                bool match = aud_contains(j, v->audience, &shape_ok);
                if (!shape_ok)
                        return "aud claim is not a string or string array";
                if (v->audience != NULL && !match)
                        return "wrong audience";
        } else if (v->audience != NULL) {
                return "missing audience";
        }

        j = json_object_get(claims, "sub");
        if (j == NULL)
                return "missing sub claim";
        if (!json_is_string(j))
                return "sub claim is not a string";
        len = json_string_length(j);
        if (len == 0 || len >= sizeof(pr->subject))
                return "sub claim empty or too long";
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)json_string_value(j)[i];
                if (c < 0x20 || c == 0x7f)
                        return "sub claim has control characters";
        }
        memcpy(pr->subject, json_string_value(j), len + 1);

        j = json_object_get(claims, "tenant");
        if (j == NULL)
                return "missing tenant claim";
        if (!json_is_string(j))
                return "tenant claim is not a string";
        len = json_string_length(j);
        if (len == 0 || len >= sizeof(pr->tenant))
                return "tenant claim empty or too long";
        for (size_t i = 0; i < len; i++)
                if (!tenant_char((unsigned char)json_string_value(j)[i]))
                        return "tenant claim has invalid characters";
        memcpy(pr->tenant, json_string_value(j), len + 1);

        j = json_object_get(claims, "tier");
        if (j != NULL) {
                if (json_is_string(j) &&
                    !strcmp(json_string_value(j), "premium"))
                        pr->premium = true;
                else if (!json_is_string(j) ||
                         strcmp(json_string_value(j), "standard"))
                        return "invalid tier claim";
        }

        j = json_object_get(claims, "scope");
        if (j != NULL) {
                if (!json_is_string(j))
                        return "scope claim is not a string";
                pr->scopes = scope_bits(json_string_value(j));
        }
        return NULL;
}

/* --- Verification --------------------------------------------------------- */

static sched_err_t deny(sched_principal_t *p, char *why, size_t why_size,
                        const char *reason) {
        memset(p, 0, sizeof(*p));
        return sched_seterr(why, why_size, SCHED_ERR_AUTH, "%s", reason);
}

sched_err_t sched_jwt_verify(const sched_jwt_t *v, const char *authorization,
                             int64_t now_s, sched_principal_t *p, char *why,
                             size_t why_size) {
        static const char scheme[] = "Bearer";
        const size_t scheme_len = sizeof(scheme) - 1;
        unsigned char sig[SCHED_JWT_MAC_LEN], mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        const char *tok, *dot1, *dot2, *end, *reason = NULL;
        size_t len, sig_len;
        json_t *hdr, *claims;
        sched_principal_t pr;
        bool mac_ok;

        memset(p, 0, sizeof(*p));
        if (authorization == NULL)
                return deny(p, why, why_size, "missing authorization header");
        len = strnlen(authorization, SCHED_JWT_HEADER_MAX + 1);
        if (len > SCHED_JWT_HEADER_MAX)
                return deny(p, why, why_size, "authorization header too large");
        if (len <= scheme_len ||
            strncasecmp(authorization, scheme, scheme_len) != 0 ||
            authorization[scheme_len] != ' ')
                return deny(p, why, why_size, "not a Bearer authorization");
        tok = authorization + scheme_len;
        tok += strspn(tok, " ");
        end = authorization + len;
        if (tok == end)
                return deny(p, why, why_size, "empty token");

        /* header "." claims "." signature, each non-empty. */
        dot1 = memchr(tok, '.', (size_t)(end - tok));
        dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
        if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
                return deny(p, why, why_size,
                            "malformed token: expected 3 segments");
        if (dot1 == tok || dot2 == dot1 + 1 || end == dot2 + 1)
                return deny(p, why, why_size, "malformed token: empty segment");

        hdr = segment_object(tok, (size_t)(dot1 - tok),
                             "malformed token header", &reason);
        if (hdr == NULL)
                return deny(p, why, why_size, reason);
        reason = header_check(hdr);
        json_decref(hdr);
        if (reason != NULL)
                return deny(p, why, why_size, reason);

        /* The signature: exactly 32 bytes, compared in constant time. */
        sig_len = (size_t)(end - dot2 - 1);
        if (memchr(dot2 + 1, '=', sig_len) != NULL)
                return deny(p, why, why_size, "base64url padding not allowed");
        if (sig_len != SCHED_JWT_MAC_B64_LEN ||
            !b64url_decode(dot2 + 1, sig_len, sig, sizeof(sig), &sig_len) ||
            sig_len != SCHED_JWT_MAC_LEN)
                return deny(p, why, why_size, "bad signature");
        if (HMAC(EVP_sha256(), v->key, (int)v->key_len,
                 (const unsigned char *)tok, (size_t)(dot2 - tok), mac,
                 &mac_len) == NULL ||
            mac_len != SCHED_JWT_MAC_LEN) {
                OPENSSL_cleanse(mac, sizeof(mac));
                return deny(p, why, why_size,
                            "signature could not be computed");
        }
        mac_ok = CRYPTO_memcmp(mac, sig, SCHED_JWT_MAC_LEN) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        if (!mac_ok)
                return deny(p, why, why_size, "bad signature");

        claims = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1),
                                "malformed token claims", &reason);
        if (claims == NULL)
                return deny(p, why, why_size, reason);
        memset(&pr, 0, sizeof(pr));
        reason = claims_check(v, claims, now_s, &pr);
        json_decref(claims);
        if (reason != NULL)
                return deny(p, why, why_size, reason);
        *p = pr;
        return SCHED_ERR_OK;
}

/* --- Key loading ---------------------------------------------------------- */

void sched_jwt_key_free(unsigned char *key, size_t len) {
        if (key == NULL)
                return;
        OPENSSL_cleanse(key, len);
        free(key);
}

/* Read the key file at path into *keyp and *lenp, one trailing newline off. */
static sched_err_t key_read_file(const char *path, unsigned char **keyp,
                                 size_t *lenp, char *errstr,
                                 size_t errstr_size) {
        unsigned char *buf;
        size_t len;
        bool read_err;
        FILE *fp;

        if (*path == '\0')
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "jwt key file path is empty");
        if ((fp = fopen(path, "rbe")) == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_IO,
                                    "jwt key file %s: %s", path,
                                    strerror(errno));
        if ((buf = malloc(SCHED_JWT_KEY_MAX + 1)) == NULL) {
                fclose(fp);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        len = fread(buf, 1, SCHED_JWT_KEY_MAX + 1, fp);
        read_err = ferror(fp);
        fclose(fp);
        if (read_err || len > SCHED_JWT_KEY_MAX) {
                sched_jwt_key_free(buf, SCHED_JWT_KEY_MAX + 1);
                return sched_seterr(errstr, errstr_size,
                                    read_err ? SCHED_ERR_IO : SCHED_ERR_TOO_BIG,
                                    "jwt key file %s: %s", path,
                                    read_err ? "read error"
                                             : "larger than the key limit");
        }
        if (len > 0 && buf[len - 1] == '\n') {
                len--;
                if (len > 0 && buf[len - 1] == '\r')
                        len--;
        }
        if (len == 0) {
                sched_jwt_key_free(buf, SCHED_JWT_KEY_MAX + 1);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "jwt key file %s is empty", path);
        }
        *keyp = buf;
        *lenp = len;
        return SCHED_ERR_OK;
}

sched_err_t sched_jwt_key_load(const char *value_or_path, unsigned char **keyp,
                               size_t *lenp, char *errstr,
                               size_t errstr_size) {
        size_t len;

        *keyp = NULL;
        *lenp = 0;
        if (value_or_path == NULL || *value_or_path == '\0')
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "jwt key is empty");
        if (value_or_path[0] == '@')
                return key_read_file(value_or_path + 1, keyp, lenp, errstr,
                                     errstr_size);
        len = strnlen(value_or_path, SCHED_JWT_KEY_MAX + 1);
        if (len > SCHED_JWT_KEY_MAX)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                    "jwt key longer than %d bytes",
                                    SCHED_JWT_KEY_MAX);
        if ((*keyp = malloc(len)) == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        memcpy(*keyp, value_or_path, len);
        *lenp = len;
        return SCHED_ERR_OK;
}
