/*
 * test-jwt.c — HS256 bearer-token verification (sched/jwt.h): tokens made
 * by an independent implementation (python3-jwt 2.6.0, and Python's hmac
 * module for headers and claims PyJWT will not write) are accepted with
 * every claim read, or rejected with the expected reason: wrong alg or
 * signature, time window, issuer, audience, claim types and charsets,
 * encoding, segment count and size.  Also the key rules of sched_jwt_new()
 * and key loading from a file.
 *
 * Every vector below was made by running the command in its comment once,
 * while writing this test, and pasting its output.  All share the key
 * "klok-unit-test-hs256-key-0123456789" (35 bytes) and are verified at the
 * fixed time NOW, so they never expire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched/err.h"
#include "sched/jwt.h"

#define NOW 1700000000 /* 2023-11-14T22:13:20Z */
#define ISSUER "https://auth.example.com"
#define AUDIENCE "klok-api"

static const char KEY[] = "klok-unit-test-hs256-key-0123456789";
#define KEY_LEN (sizeof(KEY) - 1)

/* --- Vectors -------------------------------------------------------------- */

/* every claim:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme.prod_1-x", "tier": "premium", "scope": "openid jobs:read jobs:write admin", "iss": "https://auth.example.com", "aud": "klok-api", "iat": 1699999000, "nbf": 1699999000, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_FULL[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZS5wcm9kXzEteCIsInRpZXIiOiJwcmVtaXVtIiwic2NvcGUiOiJ"
        "vcGVuaWQgam9iczpyZWFkIGpvYnM6d3JpdGUgYWRtaW4iLCJpc3MiOiJodHRwczo"
        "vL2F1dGguZXhhbXBsZS5jb20iLCJhdWQiOiJrbG9rLWFwaSIsImlhdCI6MTY5OTk"
        "5OTAwMCwibmJmIjoxNjk5OTk5MDAwLCJleHAiOjE3MDAwMDM2MDB9.qTo7DEJv3d"
        "Kxw3b33Mm4-xdr5EnT1c8QumMape8K-Ts";

/* aud as an array holding the audience, tier standard:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "svc:reporter", "tenant": "t1", "tier": "standard", "scope": "jobs:read", "iss": "https://auth.example.com", "aud": ["other-api", "klok-api"], "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_AUD_ARRAY[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmM6cmVwb3J0ZXI"
        "iLCJ0ZW5hbnQiOiJ0MSIsInRpZXIiOiJzdGFuZGFyZCIsInNjb3BlIjoiam9iczp"
        "yZWFkIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwiYXVkIjpbIm9"
        "0aGVyLWFwaSIsImtsb2stYXBpIl0sImV4cCI6MTcwMDAwMzYwMH0.Gqo4Ll1PPoJ"
        "SA-G5G21y9lbC4QoTqLc020wtcPhRCuA";

/* only the required claims:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_MINIMAL[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.Ys4ws3odXuY7BJ0GU1nSgOs"
        "0nvkpFLjTKKFPMrVJ4B8";

/* HS512 under the same key:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS512"))'
 */
static const char TOK_HS512[] =
        "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.9Kz5Uw1ER53yb3rN_vj9kQK"
        "jwSldWy9WnOZedlgckmOPW4eVxZ2MYYGyNDR7ts2dsTmVUeF3Q38zvwtSH8DP7g";

/* RS256 under a throwaway RSA key:
 *   /usr/bin/python3 -c 'import jwt; from cryptography.hazmat.primitives.asymmetric import rsa; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600}, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"))'
 */
static const char TOK_RS256[] =
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.QYEi6U5K92rEp6QM2SUfWIi"
        "ZQoScLmIczOMRgFY9RQSxCVJWm9NMq3U53H7bFyuhCp17tLFZig770EW3MbJk29T"
        "-Raex8JIbo_VCWc9W9JQPkxz620KOjwrS7ZgxFjInZrdv6F-44F3kX3t3hxLlDN6"
        "ZwpFwjSUiPynhkx2fGGH700jWLaauNUCtI-_n3y9Ye0nGCVPacqFbFByRw3qaXl7"
        "RSepIDqmZqfCkBtWnYZ4xGIPoMmgmCzXZE2cC-YkbLysa1c80eoNBkEx-h3v8IxR"
        "HmWkxItwf6RhbcowKjv_OE-_HdvOHR1Kgg1l8n6yPqZod892Taq-fqTz3zY3Nww";

/* alg none (empty signature):
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600}, None, algorithm="none"))'
 */
static const char TOK_NONE[] =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTQyIiwidGVu"
        "YW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.";

/* alg none with a valid HS256 MAC:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"none\",\"typ\":\"JWT\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_NONE[] =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTQyIiwidGVu"
        "YW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.vdkP7kYwlhoPzlg0XcW7X52K"
        "JJUm_c-lqDh3oOGiyCE";

/* alg RS256 with a valid HS256 MAC (alg confusion):
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"RS256\",\"typ\":\"JWT\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_RS256[] =
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.ea-Jp9fV2qRWao7ql_UqSTO"
        "JDzIuOsmNV7GQ2-JHWuA";

/* alg HS512 with a valid HS256 MAC:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS512\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_HS512[] =
        "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoiYWNtZSI"
        "sImV4cCI6MTcwMDAwMzYwMH0.oNkB0rjbFXHhX2YwEa5uBZOtph9Sn9buEN7jaRB"
        "IjqY";

/* alg hs256 (the name is case-sensitive):
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"hs256\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_ALG_LOWER[] =
        "eyJhbGciOiJoczI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoiYWNtZSI"
        "sImV4cCI6MTcwMDAwMzYwMH0.KGfcYIlReZLUSwzlPJjrTQm7nfMBcn6poTS2GqR"
        "LRSE";

/* no alg:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"typ\":\"JWT\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_NO_ALG[] =
        "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoiYWNtZSIsI"
        "mV4cCI6MTcwMDAwMzYwMH0._95DqTCyWI6I3Rv_tNBTU5CoOSjd2IbZ0NgriAlTv"
        "1Q";

/* a crit header:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_CRIT[] =
        "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJzdWIiOiJ1c2VyLTQyIiw"
        "idGVuYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.6LjOkYuHajyAP0qlN9J"
        "UU9hjMkhhZfHRa5XZpVhokPk";

/* a header that is not an object:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"[\"HS256\"]"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_HDR_ARRAY[] =
        "WyJIUzI1NiJd.eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoiYWNtZSIsImV4cCI"
        "6MTcwMDAwMzYwMH0.7pBKuYVlFHWFoP-RRDFehTguJjJAi4tP0B18Ni8VXwA";

/* alg given twice:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"alg\":\"none\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_HDR_DUP[] =
        "eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.eyJzdWIiOiJ1c2VyLTQyIiwid"
        "GVuYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.Pj0v8QOD9K5BwUcwi1M9b"
        "1l_MSkZE3PXfpc6AAhcQvc";

/* typ jwt in lower case (accepted):
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"typ\":\"jwt\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_TYP_LOWER[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6Imp3dCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.CpzPTad2Uf2UGd-J30Epo7B"
        "Zrgoi1RrZFKCZtcRgJ8g";

/* typ at+jwt:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256", headers={"typ": "at+jwt"}))'
 */
static const char TOK_TYP_ATJWT[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ1c2VyLTQyIiw"
        "idGVuYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0.hzG2q0N8oZ7-ISD2LSf"
        "acMniMT-UwthopkQYtS6I6D0";

/* tenant given twice:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"); c = b(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"tenant\":\"other\",\"exp\":1700003600}"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_DUP_CLAIMS[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsInRlbmFudCI6Im90aGVyIiwiZXhwIjoxNzAwMDAzNjAwfQ."
        "x-S1YBUcy_WMQ1Q-58t97G75AlgQZV3mpM6O70X7Lyg";

/* claims that are not an object:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"); c = b(b"[1,2]"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_CLAIMS_ARRAY[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMl0.jFvYOQO5xsW9Pf7NQe9"
        "YrNXrfPkJpfoVe0LCyKXB5Jo";

/* claims that are not JSON:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"); c = b(b"not json"); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_CLAIMS_TEXT[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.bm90IGpzb24.7IjtbwpREAOOHsj"
        "3HwRT0o8A2WJkcQEqnAGit2cdLxc";

/* claims segment with base64 padding, MAC valid over it:
 *   /usr/bin/python3 -c 'import base64, hashlib, hmac; b = lambda s: base64.urlsafe_b64encode(s).rstrip(b"=").decode(); h = b(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"); c = base64.urlsafe_b64encode(b"{\"sub\":\"user-42\",\"tenant\":\"acme\",\"exp\":1700003600}").decode(); print(h + "." + c + "." + b(hmac.new(b"klok-unit-test-hs256-key-0123456789", (h + "." + c).encode(), hashlib.sha256).digest()))'
 */
static const char FORGED_PADDED[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMH0=.VKdLodEKXkIgrRrqvjwtoo"
        "4GtTHDTG-IHOPBHJs_L6Y";

/* exp long past:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1699990000}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_EXPIRED[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTY5OTk5MDAwMH0.FwktL9rXxbBXR0uNkKw9-i6"
        "D59zm_5lG3_HFVnUYoUo";

/* exp 30 s before NOW:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1699999970}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_EXP_RECENT[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTY5OTk5OTk3MH0.O4n3IM1oJ-R_W7PzvHpxuDW"
        "1JoL5nLMcEGClU1f-0ig";

/* nbf 300 s after NOW:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "nbf": 1700000300, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_NBF_FUTURE[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsIm5iZiI6MTcwMDAwMDMwMCwiZXhwIjoxNzAwMDAzNjAwfQ."
        "gWDw6a4I-G5XjBT0qwGzS38zj-FHyQIWow3tjgoVG-8";

/* another issuer:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "iss": "https://evil.example.com", "aud": "klok-api", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_WRONG_ISS[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImlzcyI6Imh0dHBzOi8vZXZpbC5leGFtcGxlLmNvbSIsImF"
        "1ZCI6Imtsb2stYXBpIiwiZXhwIjoxNzAwMDAzNjAwfQ.7uou4oOnv9eSKPX0mDjn"
        "frvi--GhAgmMsiiOn5NTy7s";

/* another audience:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "iss": "https://auth.example.com", "aud": "other-api", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_WRONG_AUD[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImlzcyI6Imh0dHBzOi8vYXV0aC5leGFtcGxlLmNvbSIsImF"
        "1ZCI6Im90aGVyLWFwaSIsImV4cCI6MTcwMDAwMzYwMH0.wD9je91Vu18tDHiVX4c"
        "NiG2Wwk8GtjxRRQaa4XSXQ3s";

/* an audience array without ours:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "iss": "https://auth.example.com", "aud": ["other-api", "klok-api-2"], "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_WRONG_AUD_ARRAY[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImlzcyI6Imh0dHBzOi8vYXV0aC5leGFtcGxlLmNvbSIsImF"
        "1ZCI6WyJvdGhlci1hcGkiLCJrbG9rLWFwaS0yIl0sImV4cCI6MTcwMDAwMzYwMH0"
        ".mAi_UZtUPtzr6qbkK_j6WZ6aH2uHTWXVkZgxYWw01jA";

/* aud that is a number:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "aud": 42, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_AUD_NUMBER[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImF1ZCI6NDIsImV4cCI6MTcwMDAwMzYwMH0.rMuzj0Y3ZUh"
        "cEgMZ2mYffNwUN3yZrjCBoSD8HCkQGVM";

/* no exp:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme"}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_NO_EXP[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSJ9.Flhu6PtMXMuVgspWdCm_I-U2n7Anj0pFjoBj_aJ6s08";

/* exp as a string:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": "1700003600"}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_EXP_STRING[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6IjE3MDAwMDM2MDAifQ.aKg_Q43nrsxBR7RSr7Bv"
        "Vj34fBrf1ugMMt-YYBF-D9Q";

/* exp with a fraction:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "exp": 1700003600.5}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_EXP_FLOAT[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsImV4cCI6MTcwMDAwMzYwMC41fQ.IjqTSuoo0LIzdkkKbAG5"
        "HoVozt0HfXXzdbixWJaIN8g";

/* no sub:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_NO_SUB[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0ZW5hbnQiOiJhY21lIiwiZXh"
        "wIjoxNzAwMDAzNjAwfQ.ENgqMEUGgaxV8wmfC2_1zC3ZBAwpzAQ2dydVFSLgm8I";

/* sub of 128 bytes:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "u" * 128, "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_SUB_128[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1dSIsInRlbmFudCI6ImFjbWUiLCJleHAiOjE3MDA"
        "wMDM2MDB9.lCu_F13JyKnLOgMqpu4YldEAar4unDsEb5qVAp-o21Q";

/* sub of 127 bytes (accepted):
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "u" * 127, "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_SUB_127[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV"
        "1dXV1dXV1dXV1dXV1dXV1dXV1IiwidGVuYW50IjoiYWNtZSIsImV4cCI6MTcwMDA"
        "wMzYwMH0.E3O4aV15JQuUwVh3h1damWVdi5ancLA-FgAMq2TnJiU";

/* sub with a newline:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user\n42", "tenant": "acme", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_SUB_CTRL[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXG40MiIsInR"
        "lbmFudCI6ImFjbWUiLCJleHAiOjE3MDAwMDM2MDB9.KZ21sCK9k28citj1erh0XS"
        "3uLFQs3eqrDdebi4dYV9g";

/* no tenant:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_NO_TENANT[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXh"
        "wIjoxNzAwMDAzNjAwfQ.Ts47WmJ-4NTY1gAkWBu5KGIM7AtS82naZ3zwTOs-XvM";

/* tenant with a slash:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme/prod", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_SLASH[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZS9wcm9kIiwiZXhwIjoxNzAwMDAzNjAwfQ.M6-u9iGH3TtBPvBc"
        "CzsAM3bJBpSGyRxahgJm_JiVY30";

/* tenant with a space:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme prod", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_SPACE[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSBwcm9kIiwiZXhwIjoxNzAwMDAzNjAwfQ.XFbumoXBdSf2lItd"
        "0GMT0C5uXgFQ-BRo1bxWlJ8efH8";

/* tenant with an escaped NUL:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme\u0000x", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_NUL[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZVx1MDAwMHgiLCJleHAiOjE3MDAwMDM2MDB9.Oy1LFlKEsOF3kX"
        "rd4RlicKCQ1jjJ0bMeSyTswCjnG7I";

/* tenant with a non-ASCII letter:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acm\u00e9", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_UTF8[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtXHUwMGU5IiwiZXhwIjoxNzAwMDAzNjAwfQ.IQDOOKHf9geXXWek"
        "HuHTjQ6ZcD_NJcaLYhITnvUorxY";

/* empty tenant:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_EMPTY[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiIiwiZXhwIjoxNzAwMDAzNjAwfQ.qKuaf_LoA1UbMwS43LXSwefzXVXc"
        "pv6R-UDFIB6OZBo";

/* tenant of 65 bytes:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "t" * 65, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_65[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoidHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR"
        "0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHQiLCJleHAiOjE3MDAwMDM2MDB9.o0DjJj"
        "AvcKLrGXg3oAGnIzxp1pcvsYw6BCaejEfDc68";

/* tenant of 64 bytes (accepted):
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "t" * 64, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_64[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoidHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR"
        "0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dCIsImV4cCI6MTcwMDAwMzYwMH0.N3NZkBg"
        "g9q_EBliREFDPj1jquqy7gjokfNPP5ESao5k";

/* tenant that is a number:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": 42, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TENANT_NUMBER[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50Ijo0MiwiZXhwIjoxNzAwMDAzNjAwfQ.-AzL2wnbhxAzPND3dtku3le0NuVz"
        "P_0SJz4fx3ge-Fo";

/* tier gold:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "tier": "gold", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TIER_GOLD[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsInRpZXIiOiJnb2xkIiwiZXhwIjoxNzAwMDAzNjAwfQ.kgF1"
        "pZY7clI_F-XkaYBV_FoCPARQIqkt5LKEEodHuto";

/* tier that is a number:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "tier": 1, "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_TIER_NUMBER[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsInRpZXIiOjEsImV4cCI6MTcwMDAwMzYwMH0.G1-7AHUCfQt"
        "TIaVr0_DN1sW1gsW1rc_gNVN2fcsgTOI";

/* scope names in odd spacing, case and near misses:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "scope": "  JOBS:READ jobs:readx jobs:write  jobs:write admin:all ", "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_SCOPES[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsInNjb3BlIjoiICBKT0JTOlJFQUQgam9iczpyZWFkeCBqb2J"
        "zOndyaXRlICBqb2JzOndyaXRlIGFkbWluOmFsbCAiLCJleHAiOjE3MDAwMDM2MDB"
        "9.P2rJvQnuqo6lOqU5NciqBYj8j7CFZz-GHixZs29x884";

/* scope as an array:
 *   /usr/bin/python3 -c 'import jwt; print(jwt.encode({"sub": "user-42", "tenant": "acme", "scope": ["jobs:read"], "exp": 1700003600}, b"klok-unit-test-hs256-key-0123456789", algorithm="HS256"))'
 */
static const char TOK_SCOPE_ARRAY[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGV"
        "uYW50IjoiYWNtZSIsInNjb3BlIjpbImpvYnM6cmVhZCJdLCJleHAiOjE3MDAwMDM"
        "2MDB9.3DUzuoEC1mzuw3cqou-RIDdWqa8U1yM8xkuL7Ear4xo";

/* --- Helpers -------------------------------------------------------------- */

static const char b64url_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of n bytes into out (big enough); for tokens built
 * here whose signature is expected to fail anyway. */
static void b64url(const void *data, size_t n, char *out) {
        const unsigned char *s = data;
        uint32_t acc = 0;
        unsigned bits = 0;
        for (size_t i = 0; i < n; i++) {
                acc = (acc << 8) | s[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        *out++ = b64url_alphabet[(acc >> bits) & 63];
                }
        }
        if (bits)
                *out++ = b64url_alphabet[(acc << (6 - bits)) & 63];
        *out = '\0';
}

static sched_jwt_t *verifier(const char *issuer, const char *audience,
                             int64_t leeway_s) {
        char errstr[128];
        sched_jwt_t *v = sched_jwt_new((const unsigned char *)KEY, KEY_LEN,
                                       issuer, audience, leeway_s, errstr,
                                       sizeof(errstr));
        assert_non_null(v);
        return v;
}

/* Verify "Bearer <tok>" at now_s; why receives the reason. */
static sched_err_t verify_at(const sched_jwt_t *v, const char *tok,
                             int64_t now_s, sched_principal_t *p,
                             char why[128]) {
        size_t n = strlen(tok) + 8;
        char *auth = malloc(n);
        assert_non_null(auth);
        snprintf(auth, n, "Bearer %s", tok);
        why[0] = '\0';
        sched_err_t err = sched_jwt_verify(v, auth, now_s, p, why, 128);
        free(auth);
        return err;
}

static void expect_ok(const sched_jwt_t *v, const char *tok, int64_t now_s,
                      sched_principal_t *p) {
        char why[128];
        assert_int_equal(verify_at(v, tok, now_s, p, why), SCHED_ERR_OK);
        assert_string_equal(why, "");
}

/* A rejection of the Authorization value auth with exactly this reason:
 * the principal is zeroed and the reason holds nothing of the token. */
static void expect_reject_auth(const sched_jwt_t *v, const char *auth,
                               int64_t now_s, const char *reason) {
        static const sched_principal_t zero;
        sched_principal_t p;
        char why[128];
        memset(&p, 0xa5, sizeof(p));
        assert_int_equal(sched_jwt_verify(v, auth, now_s, &p, why,
                                          sizeof(why)),
                         SCHED_ERR_AUTH);
        assert_string_equal(why, reason);
        assert_memory_equal(&p, &zero, sizeof(p));
        assert_null(strstr(why, "eyJ"));
        assert_null(strstr(why, KEY));
}

static void expect_reject(const sched_jwt_t *v, const char *tok, int64_t now_s,
                          const char *reason) {
        size_t n = strlen(tok) + 8;
        char *auth = malloc(n);
        assert_non_null(auth);
        snprintf(auth, n, "Bearer %s", tok);
        expect_reject_auth(v, auth, now_s, reason);
        free(auth);
}

/* A malloc'd copy of tok with the character at i (from the end when
 * negative) replaced by the base64url digit whose value is XORed with x. */
static char *tweak(const char *tok, long i, unsigned x) {
        char *t = strdup(tok);
        assert_non_null(t);
        size_t at = i >= 0 ? (size_t)i : strlen(t) - (size_t)-i;
        const char *d = strchr(b64url_alphabet, t[at]);
        assert_non_null(d);
        t[at] = b64url_alphabet[(size_t)(d - b64url_alphabet) ^ x];
        return t;
}

/* --- Accepted tokens ------------------------------------------------------ */

static void test_valid_claims(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(ISSUER, AUDIENCE, 0);
        sched_principal_t p;

        expect_ok(v, TOK_FULL, NOW, &p);
        assert_string_equal(p.subject, "user-42");
        assert_string_equal(p.tenant, "acme.prod_1-x");
        assert_true(p.premium);
        /* "openid" is not ours and is ignored. */
        assert_int_equal(p.scopes,
                         SCHED_SCOPE_READ | SCHED_SCOPE_WRITE |
                                 SCHED_SCOPE_ADMIN);
        assert_int_equal(p.exp_s, 1700003600);

        expect_ok(v, TOK_AUD_ARRAY, NOW, &p);
        assert_string_equal(p.subject, "svc:reporter");
        assert_string_equal(p.tenant, "t1");
        assert_false(p.premium);
        assert_int_equal(p.scopes, SCHED_SCOPE_READ);
        sched_jwt_destroy(v);

        /* Nothing optional: standard tier, no scopes. */
        v = verifier(NULL, NULL, 0);
        expect_ok(v, TOK_MINIMAL, NOW, &p);
        assert_string_equal(p.subject, "user-42");
        assert_string_equal(p.tenant, "acme");
        assert_false(p.premium);
        assert_int_equal(p.scopes, 0);
        assert_int_equal(p.exp_s, 1700003600);
        /* typ compares case-insensitively (RFC 7515 §4.1.9). */
        expect_ok(v, FORGED_TYP_LOWER, NOW, &p);
        /* The longest subject and tenant that fit. */
        expect_ok(v, TOK_SUB_127, NOW, &p);
        assert_int_equal(strlen(p.subject), 127);
        expect_ok(v, TOK_TENANT_64, NOW, &p);
        assert_int_equal(strlen(p.tenant), 64);
        sched_jwt_destroy(v);
}

/* --- Authorization header form -------------------------------------------- */

static void test_bearer_scheme(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);
        sched_principal_t p;
        char auth[512], why[8];

        /* The scheme is case-insensitive; several spaces may follow it. */
        snprintf(auth, sizeof(auth), "bearer %s", TOK_MINIMAL);
        assert_int_equal(sched_jwt_verify(v, auth, NOW, &p, NULL, 0),
                         SCHED_ERR_OK);
        snprintf(auth, sizeof(auth), "BEARER   %s", TOK_MINIMAL);
        assert_int_equal(sched_jwt_verify(v, auth, NOW, &p, NULL, 0),
                         SCHED_ERR_OK);
        assert_string_equal(p.tenant, "acme");

        expect_reject_auth(v, NULL, NOW, "missing authorization header");
        expect_reject_auth(v, "", NOW, "not a Bearer authorization");
        expect_reject_auth(v, "Basic dXNlcjpwYXNzd29yZA==", NOW,
                           "not a Bearer authorization");
        expect_reject_auth(v, TOK_MINIMAL, NOW, "not a Bearer authorization");
        snprintf(auth, sizeof(auth), "Bearer%s", TOK_MINIMAL);
        expect_reject_auth(v, auth, NOW, "not a Bearer authorization");
        snprintf(auth, sizeof(auth), "Bearer\t%s", TOK_MINIMAL);
        expect_reject_auth(v, auth, NOW, "not a Bearer authorization");
        snprintf(auth, sizeof(auth), "Token %s", TOK_MINIMAL);
        expect_reject_auth(v, auth, NOW, "not a Bearer authorization");
        expect_reject_auth(v, "Bearer", NOW, "not a Bearer authorization");
        expect_reject_auth(v, "Bearer ", NOW, "empty token");
        expect_reject_auth(v, "Bearer    ", NOW, "empty token");
        /* Nothing may follow the token. */
        snprintf(auth, sizeof(auth), "Bearer %s ", TOK_MINIMAL);
        expect_reject_auth(v, auth, NOW, "bad signature");

        /* A short why buffer is truncated, not overrun. */
        assert_int_equal(sched_jwt_verify(v, "Bearer ", NOW, &p, why,
                                          sizeof(why)),
                         SCHED_ERR_AUTH);
        assert_string_equal(why, "empty t");
        sched_jwt_destroy(v);
}

static void test_segments_and_encoding(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);
        char tok[512];

        const char *dot = strchr(TOK_MINIMAL, '.');
        snprintf(tok, sizeof(tok), "%.*s", (int)(strrchr(TOK_MINIMAL, '.') -
                                                 TOK_MINIMAL),
                 TOK_MINIMAL);
        expect_reject(v, tok, NOW, "malformed token: expected 3 segments");
        expect_reject(v, "abc", NOW, "malformed token: expected 3 segments");
        snprintf(tok, sizeof(tok), "%s.e30", TOK_MINIMAL);
        expect_reject(v, tok, NOW, "malformed token: expected 3 segments");
        snprintf(tok, sizeof(tok), "%s.", TOK_MINIMAL);
        expect_reject(v, tok, NOW, "malformed token: expected 3 segments");
        expect_reject(v, "..", NOW, "malformed token: empty segment");
        snprintf(tok, sizeof(tok), "%s", dot);
        expect_reject(v, tok, NOW, "malformed token: empty segment");
        /* alg none as PyJWT writes it: no signature at all. */
        expect_reject(v, TOK_NONE, NOW, "malformed token: empty segment");

        /* Padding, even where the MAC was computed over it. */
        expect_reject(v, FORGED_PADDED, NOW, "base64url padding not allowed");
        snprintf(tok, sizeof(tok), "%s=", TOK_MINIMAL);
        expect_reject(v, tok, NOW, "base64url padding not allowed");
        /* Characters outside the alphabet (standard base64 included). */
        snprintf(tok, sizeof(tok), "%s", TOK_MINIMAL);
        tok[4] = '+';
        expect_reject(v, tok, NOW, "malformed base64url in token");
        tok[4] = '*';
        expect_reject(v, tok, NOW, "malformed base64url in token");
        snprintf(tok, sizeof(tok), "%s", TOK_MINIMAL);
        tok[strlen(tok) - 5] = '/';
        expect_reject(v, tok, NOW, "bad signature");
        /* A length no base64 can have (4n+1 characters). */
        snprintf(tok, sizeof(tok), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9A%s",
                 dot);
        expect_reject(v, tok, NOW, "malformed base64url in token");
        sched_jwt_destroy(v);
}

/* --- Signature and algorithm ---------------------------------------------- */

static void test_bad_signature(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(ISSUER, AUDIENCE, 0);
        sched_principal_t p;
        char *t;

        /* Control: the untouched token passes. */
        expect_ok(v, TOK_FULL, NOW, &p);
        /* One character of the signature. */
        t = tweak(TOK_FULL, -20, 1);
        expect_reject(v, t, NOW, "bad signature");
        free(t);
        /* One character of the claims (inside "tenant"). */
        t = tweak(TOK_FULL, (long)(strchr(TOK_FULL, '.') - TOK_FULL) + 20, 1);
        expect_reject(v, t, NOW, "bad signature");
        free(t);
        /* Another header, as valid as the first: {"alg":"HS256"}. */
        char tok[512];
        snprintf(tok, sizeof(tok), "eyJhbGciOiJIUzI1NiJ9%s",
                 strchr(TOK_FULL, '.'));
        expect_reject(v, tok, NOW, "bad signature");
        /* Only the unused low bits of the last signature digit: the bytes
         * are the same, the encoding is not canonical. */
        t = tweak(TOK_FULL, -1, 1);
        expect_reject(v, t, NOW, "bad signature");
        free(t);
        /* A signature one character short. */
        t = strdup(TOK_FULL);
        t[strlen(t) - 1] = '\0';
        expect_reject(v, t, NOW, "bad signature");
        free(t);
        sched_jwt_destroy(v);

        /* The right token under another key. */
        char errstr[128];
        static const unsigned char other[] =
                "another-key-of-at-least-32-bytes!!";
        v = sched_jwt_new(other, sizeof(other) - 1, NULL, NULL, 0, errstr,
                          sizeof(errstr));
        assert_non_null(v);
        expect_reject(v, TOK_MINIMAL, NOW, "bad signature");
        sched_jwt_destroy(v);
}

static void test_algorithms(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);

        expect_reject(v, TOK_HS512, NOW, "unsupported alg");
        expect_reject(v, TOK_RS256, NOW, "unsupported alg");
        /* A MAC that is right for the key does not make another alg
         * acceptable: the verifier, not the token, picks HS256. */
        expect_reject(v, FORGED_NONE, NOW, "unsupported alg");
        expect_reject(v, FORGED_RS256, NOW, "unsupported alg");
        expect_reject(v, FORGED_HS512, NOW, "unsupported alg");
        expect_reject(v, FORGED_ALG_LOWER, NOW, "unsupported alg");
        expect_reject(v, FORGED_NO_ALG, NOW, "missing alg");
        expect_reject(v, FORGED_CRIT, NOW, "crit header not supported");
        expect_reject(v, TOK_TYP_ATJWT, NOW, "unsupported typ");
        expect_reject(v, FORGED_HDR_ARRAY, NOW, "malformed token header");
        expect_reject(v, FORGED_HDR_DUP, NOW, "malformed token header");
        sched_jwt_destroy(v);
}

/* --- Claims --------------------------------------------------------------- */

static void test_time_window(void **state) {
        (void)state;
        sched_jwt_t *v0 = verifier(NULL, NULL, 0);
        sched_principal_t p;

        expect_reject(v0, TOK_EXPIRED, NOW, "token expired");
        /* exp is exclusive: a token is no longer valid at exp. */
        expect_ok(v0, TOK_MINIMAL, 1700003599, &p);
        expect_reject(v0, TOK_MINIMAL, 1700003600, "token expired");
        /* Expired 30 s ago: needs more than 30 s of leeway. */
        expect_reject(v0, TOK_EXP_RECENT, NOW, "token expired");
        expect_ok(v0, TOK_EXP_RECENT, NOW - 31, &p);
        sched_jwt_t *v30 = verifier(NULL, NULL, 30);
        sched_jwt_t *v31 = verifier(NULL, NULL, 31);
        expect_reject(v30, TOK_EXP_RECENT, NOW, "token expired");
        expect_ok(v31, TOK_EXP_RECENT, NOW, &p);
        assert_int_equal(p.exp_s, 1699999970);

        /* nbf 300 s ahead: valid from nbf, or earlier within the leeway. */
        expect_reject(v0, TOK_NBF_FUTURE, NOW, "token not yet valid");
        expect_reject(v31, TOK_NBF_FUTURE, NOW, "token not yet valid");
        expect_ok(v0, TOK_NBF_FUTURE, NOW + 300, &p);
        expect_reject(v0, TOK_NBF_FUTURE, NOW + 299, "token not yet valid");
        expect_ok(v31, TOK_NBF_FUTURE, NOW + 269, &p);
        sched_jwt_t *v300 = verifier(NULL, NULL, 300);
        expect_ok(v300, TOK_NBF_FUTURE, NOW, &p);
        sched_jwt_destroy(v300);
        sched_jwt_destroy(v31);
        sched_jwt_destroy(v30);

        expect_reject(v0, TOK_NO_EXP, NOW, "missing exp claim");
        expect_reject(v0, TOK_EXP_STRING, NOW, "exp claim is not an integer");
        expect_reject(v0, TOK_EXP_FLOAT, NOW, "exp claim is not an integer");
        sched_jwt_destroy(v0);
}

static void test_issuer_audience(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(ISSUER, AUDIENCE, 0);
        sched_principal_t p;

        expect_reject(v, TOK_WRONG_ISS, NOW, "wrong issuer");
        expect_reject(v, TOK_WRONG_AUD, NOW, "wrong audience");
        expect_reject(v, TOK_WRONG_AUD_ARRAY, NOW, "wrong audience");
        expect_reject(v, TOK_MINIMAL, NOW, "missing issuer");
        sched_jwt_destroy(v);

        v = verifier(NULL, AUDIENCE, 0);
        expect_reject(v, TOK_MINIMAL, NOW, "missing audience");
        expect_ok(v, TOK_WRONG_ISS, NOW, &p); /* issuer not checked */
        expect_reject(v, TOK_AUD_NUMBER, NOW,
                      "aud claim is not a string or string array");
        sched_jwt_destroy(v);

        /* Neither configured: both unchecked, but still type-checked. */
        v = verifier(NULL, NULL, 0);
        expect_ok(v, TOK_WRONG_ISS, NOW, &p);
        expect_ok(v, TOK_WRONG_AUD_ARRAY, NOW, &p);
        expect_reject(v, TOK_AUD_NUMBER, NOW,
                      "aud claim is not a string or string array");
        sched_jwt_destroy(v);
}

static void test_subject_tenant(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);

        expect_reject(v, TOK_NO_SUB, NOW, "missing sub claim");
        expect_reject(v, TOK_SUB_128, NOW, "sub claim empty or too long");
        expect_reject(v, TOK_SUB_CTRL, NOW, "sub claim has control characters");

        expect_reject(v, TOK_NO_TENANT, NOW, "missing tenant claim");
        expect_reject(v, TOK_TENANT_NUMBER, NOW,
                      "tenant claim is not a string");
        expect_reject(v, TOK_TENANT_EMPTY, NOW,
                      "tenant claim empty or too long");
        expect_reject(v, TOK_TENANT_65, NOW, "tenant claim empty or too long");
        expect_reject(v, TOK_TENANT_SLASH, NOW,
                      "tenant claim has invalid characters");
        expect_reject(v, TOK_TENANT_SPACE, NOW,
                      "tenant claim has invalid characters");
        expect_reject(v, TOK_TENANT_UTF8, NOW,
                      "tenant claim has invalid characters");
        /* jansson refuses \u0000 in strings outright. */
        expect_reject(v, TOK_TENANT_NUL, NOW, "malformed token claims");
        sched_jwt_destroy(v);
}

static void test_tier_scope(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);
        sched_principal_t p;

        expect_reject(v, TOK_TIER_GOLD, NOW, "invalid tier claim");
        expect_reject(v, TOK_TIER_NUMBER, NOW, "invalid tier claim");
        /* Only exact, case-sensitive names count; runs of spaces are fine. */
        expect_ok(v, TOK_SCOPES, NOW, &p);
        assert_int_equal(p.scopes, SCHED_SCOPE_WRITE);
        expect_reject(v, TOK_SCOPE_ARRAY, NOW, "scope claim is not a string");
        sched_jwt_destroy(v);
}

static void test_claims_shape(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);

        expect_reject(v, FORGED_DUP_CLAIMS, NOW, "malformed token claims");
        expect_reject(v, FORGED_CLAIMS_ARRAY, NOW, "malformed token claims");
        expect_reject(v, FORGED_CLAIMS_TEXT, NOW, "malformed token claims");
        sched_jwt_destroy(v);
}

/* --- Bounds --------------------------------------------------------------- */

/* "Bearer " + a token whose header is {"alg":"HS256","pad":"xxx..."} of
 * pad_len x's, claims {} and a signature of 43 'A's: total length. */
static char *big_token_auth(size_t pad_len, size_t *lenp) {
        size_t jlen = pad_len + 28;
        char *json = malloc(jlen + 1);
        char *auth = malloc(jlen * 2 + 64);
        assert_non_null(json);
        assert_non_null(auth);
        memcpy(json, "{\"alg\":\"HS256\",\"pad\":\"", 22);
        memset(json + 22, 'x', pad_len);
        memcpy(json + 22 + pad_len, "\"}", 3);
        strcpy(auth, "Bearer ");
        b64url(json, strlen(json), auth + 7);
        strcat(auth, ".e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        free(json);
        *lenp = strlen(auth);
        return auth;
}

static void test_size_bound(void **state) {
        (void)state;
        sched_jwt_t *v = verifier(NULL, NULL, 0);
        size_t len;

        /* The largest header value: decoded in full, refused on its MAC. */
        char *auth = big_token_auth(6040, &len);
        assert_true(len <= SCHED_JWT_HEADER_MAX && len > 8100);
        expect_reject_auth(v, auth, NOW, "bad signature");
        free(auth);
        /* The same a few bytes longer: refused before decoding. */
        auth = big_token_auth(6200, &len);
        assert_true(len > SCHED_JWT_HEADER_MAX);
        expect_reject_auth(v, auth, NOW, "authorization header too large");
        free(auth);

        /* The bound is on the whole value, at exactly 8 KiB. */
        auth = malloc(SCHED_JWT_HEADER_MAX + 2);
        assert_non_null(auth);
        memcpy(auth, "Bearer ", 7);
        memset(auth + 7, 'A', SCHED_JWT_HEADER_MAX - 7);
        auth[SCHED_JWT_HEADER_MAX] = '\0';
        expect_reject_auth(v, auth, NOW,
                           "malformed token: expected 3 segments");
        auth[SCHED_JWT_HEADER_MAX] = 'A';
        auth[SCHED_JWT_HEADER_MAX + 1] = '\0';
        expect_reject_auth(v, auth, NOW, "authorization header too large");
        free(auth);
        sched_jwt_destroy(v);
}

/* --- Verifier and key ----------------------------------------------------- */

static void test_new_rules(void **state) {
        (void)state;
        unsigned char key[SCHED_JWT_KEY_MAX + 1];
        char errstr[128];
        sched_jwt_t *v;

        memset(key, 'k', sizeof(key));
        errstr[0] = '\0';
        assert_null(sched_jwt_new(key, 31, NULL, NULL, 0, errstr,
                                  sizeof(errstr)));
        assert_string_equal(errstr, "jwt key shorter than 32 bytes");
        assert_null(sched_jwt_new(key, 0, NULL, NULL, 0, errstr,
                                  sizeof(errstr)));
        assert_null(sched_jwt_new(NULL, 32, NULL, NULL, 0, errstr,
                                  sizeof(errstr)));
        assert_null(sched_jwt_new(key, SCHED_JWT_KEY_MAX + 1, NULL, NULL, 0,
                                  errstr, sizeof(errstr)));
        assert_null(sched_jwt_new(key, 32, "", NULL, 0, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "issuer"));
        assert_null(sched_jwt_new(key, 32, NULL, "", 0, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "audience"));
        assert_null(sched_jwt_new(key, 32, NULL, NULL, -1, errstr,
                                  sizeof(errstr)));
        assert_null(sched_jwt_new(key, 32, NULL, NULL,
                                  SCHED_JWT_LEEWAY_MAX + 1, errstr,
                                  sizeof(errstr)));
        v = sched_jwt_new(key, 32, ISSUER, AUDIENCE, SCHED_JWT_LEEWAY_MAX,
                          errstr, sizeof(errstr));
        assert_non_null(v);
        sched_jwt_destroy(v);
        v = sched_jwt_new(key, SCHED_JWT_KEY_MAX, NULL, NULL, 0, errstr,
                          sizeof(errstr));
        assert_non_null(v);
        sched_jwt_destroy(v);
        sched_jwt_destroy(NULL);
        assert_string_equal(sched_err2name(SCHED_ERR_AUTH), "AUTH");
}

/* Write n bytes of data to a new temp file; path receives its name. */
static void write_temp(char path[64], const void *data, size_t n) {
        snprintf(path, 64, "/tmp/klok-test-jwt-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t)n);
        assert_int_equal(close(fd), 0);
}

static void test_key_load(void **state) {
        (void)state;
        char path[64], value[80], errstr[256];
        unsigned char *key;
        size_t len;

        /* Inline: the string's bytes. */
        assert_int_equal(sched_jwt_key_load(KEY, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, KEY_LEN);
        assert_memory_equal(key, KEY, KEY_LEN);
        sched_jwt_key_free(key, len);

        /* From a file, one trailing newline off; it verifies the vectors. */
        char text[64];
        snprintf(text, sizeof(text), "%s\n", KEY);
        write_temp(path, text, strlen(text));
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, KEY_LEN);
        assert_memory_equal(key, KEY, KEY_LEN);
        sched_jwt_t *v = sched_jwt_new(key, len, ISSUER, AUDIENCE, 0, errstr,
                                       sizeof(errstr));
        sched_jwt_key_free(key, len);
        assert_non_null(v);
        sched_principal_t p;
        expect_ok(v, TOK_FULL, NOW, &p);
        assert_string_equal(p.tenant, "acme.prod_1-x");
        sched_jwt_destroy(v);
        unlink(path);

        /* CRLF is stripped too; only one line end. */
        snprintf(text, sizeof(text), "%s\r\n", KEY);
        write_temp(path, text, strlen(text));
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, KEY_LEN);
        sched_jwt_key_free(key, len);
        unlink(path);
        snprintf(text, sizeof(text), "%s\n\n", KEY);
        write_temp(path, text, strlen(text));
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, KEY_LEN + 1);
        assert_int_equal(key[KEY_LEN], '\n');
        sched_jwt_key_free(key, len);
        unlink(path);

        /* Raw bytes are kept as they are, NULs included. */
        static const unsigned char raw[40] = {0, 1, 2, 0xff, 0, '\n', 0x80};
        write_temp(path, raw, sizeof(raw));
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, sizeof(raw));
        assert_memory_equal(key, raw, sizeof(raw));
        sched_jwt_key_free(key, len);
        unlink(path);

        /* Empty file, too large a file, no file, no path, no value. */
        write_temp(path, "\n", 1);
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_CONFIG);
        assert_null(key);
        unlink(path);
        static char big[SCHED_JWT_KEY_MAX + 1];
        memset(big, 'k', sizeof(big));
        write_temp(path, big, sizeof(big));
        snprintf(value, sizeof(value), "@%s", path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_TOO_BIG);
        assert_null(key);
        unlink(path);
        assert_int_equal(sched_jwt_key_load(value, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_IO);
        assert_non_null(strstr(errstr, path));
        assert_null(key);
        assert_int_equal(len, 0);
        assert_int_equal(sched_jwt_key_load("@", &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_CONFIG);
        assert_int_equal(sched_jwt_key_load("", &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_CONFIG);
        big[SCHED_JWT_KEY_MAX] = '\0';
        assert_int_equal(sched_jwt_key_load(big, &key, &len, errstr,
                                            sizeof(errstr)),
                         SCHED_ERR_OK);
        assert_int_equal(len, SCHED_JWT_KEY_MAX);
        sched_jwt_key_free(key, len);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_claims),
                cmocka_unit_test(test_bearer_scheme),
                cmocka_unit_test(test_segments_and_encoding),
                cmocka_unit_test(test_bad_signature),
                cmocka_unit_test(test_algorithms),
                cmocka_unit_test(test_time_window),
                cmocka_unit_test(test_issuer_audience),
                cmocka_unit_test(test_subject_tenant),
                cmocka_unit_test(test_tier_scope),
                cmocka_unit_test(test_claims_shape),
                cmocka_unit_test(test_size_bound),
                cmocka_unit_test(test_new_rules),
                cmocka_unit_test(test_key_load),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
