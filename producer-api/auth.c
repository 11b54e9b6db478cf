/*
 * auth.c — who a request is and whether it may go on: bearer JWTs
 * (sched/jwt.h: HS256, exp/nbf/iss/aud checked, constant-time signature
 * comparison), the scope each route needs, and per-tenant token buckets.
 *
 *   route                                  scope
 *   GET /v1/jobs, /v1/jobs/{id}[/...]      jobs:read (or admin)
 *   POST, PATCH, DELETE /v1/jobs[...]      jobs:write
 *   ?tenant=<other> on a read              admin
 *   GET /v1/admin/view-digest              admin
 *   /healthz, /readyz, /metrics, /dashboard/   none
 *
 * The tenant of a request is its token's "tenant" claim, never anything
 * the request says; another tenant's job answers 404 like a missing one.
 * With auth.mode = dev there is no token: every request is tenant "dev"
 * with every scope (the service warns loudly at start).
 *
 * Rate limits: one token bucket per tenant, refilled at rate.standard or
 * rate.premium requests per second (the token's "tier"), holding up to one
 * second of requests; an empty bucket answers 429 with Retry-After.  The
 * buckets live in a fixed table (RATE_SLOTS, open addressing on a hash of
 * the tenant): when it is full, the least recently used bucket of the
 * probe window is reused, so memory is bounded whatever the tenants.
 * Tokens are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "sched/log.h"
#include "sched/time.h"

#define SUB "auth"
#define RATE_SLOTS 4096
#define RATE_PROBE 8

typedef struct bucket_s {
        char tenant[SCHED_TENANT_MAX]; /* "" = free */
        double tokens;
        int64_t last_us; /* monotonic; refill and LRU */
} bucket_t;

static bucket_t buckets[RATE_SLOTS];
static pthread_mutex_t buckets_lock = PTHREAD_MUTEX_INITIALIZER;

int api_auth_start(api_t *api, char *errstr, size_t errstr_size) {
        api_conf_t *c = &api->conf;
        if (!strcmp(c->auth_mode, "dev")) {
                snprintf(api->tenant, sizeof(api->tenant), "dev");
                sched_warn(SUB, "auth.mode=dev: AUTHENTICATION IS OFF, every "
                                "request acts as tenant \"dev\" with every "
                                "scope (local development only)");
                return 0;
        }
        if (strcmp(c->auth_mode, "jwt")) {
                snprintf(errstr, errstr_size,
                         "auth.mode \"%s\": expected jwt or dev",
                         c->auth_mode);
                return -1;
        }
        if (!c->auth_jwt_key[0]) {
                snprintf(errstr, errstr_size,
                         "auth.mode=jwt needs auth.jwt.key (the HS256 key, "
                         "or @file)");
                return -1;
        }
        unsigned char *key;
        size_t len;
        if (sched_jwt_key_load(c->auth_jwt_key, &key, &len, errstr,
                               errstr_size))
                return -1;
        api->jwt = sched_jwt_new(key, len,
                                 c->auth_jwt_issuer[0] ? c->auth_jwt_issuer
                                                       : NULL,
                                 c->auth_jwt_audience[0] ? c->auth_jwt_audience
                                                         : NULL,
                                 c->auth_jwt_leeway_s, errstr, errstr_size);
        sched_jwt_key_free(key, len);
        if (!api->jwt)
                return -1;
        sched_info(SUB, "JWT HS256 bearer tokens%s%s%s%s",
                   c->auth_jwt_issuer[0] ? ", issuer " : "",
                   c->auth_jwt_issuer,
                   c->auth_jwt_audience[0] ? ", audience " : "",
                   c->auth_jwt_audience);
        return 0;
}

void api_auth_stop(api_t *api) {
        sched_jwt_destroy(api->jwt);
        api->jwt = NULL;
}

/* The scope a route needs; 0 for none. */
static unsigned route_scope(api_route_t route) {
        switch (route) {
        case API_ROUTE_JOBS_LIST:
        case API_ROUTE_JOB_GET:
        case API_ROUTE_JOB_EXECUTIONS:
        case API_ROUTE_JOB_RECORDS:
                return SCHED_SCOPE_READ;
        case API_ROUTE_JOBS_CREATE:
        case API_ROUTE_JOB_UPDATE:
        case API_ROUTE_JOB_CANCEL:
        case API_ROUTE_JOB_PAUSE:
        case API_ROUTE_JOB_RESUME:
                return SCHED_SCOPE_WRITE;
        case API_ROUTE_VIEW_DIGEST:
                return SCHED_SCOPE_ADMIN;
        default:
                return 0;
        }
}

static uint64_t tenant_hash(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static int64_t mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Take one token from the tenant's bucket; 0, or the seconds until one is
 * there. */
static int rate_take(const char *tenant, double rate) {
        int64_t now = mono_us();
        uint64_t h = tenant_hash(tenant);
        pthread_mutex_lock(&buckets_lock);
        bucket_t *b = NULL, *free_slot = NULL, *lru = NULL;
        for (int i = 0; i < RATE_PROBE; i++) {
                bucket_t *s = &buckets[(h + (uint64_t)i) % RATE_SLOTS];
                if (!strcmp(s->tenant, tenant)) {
                        b = s;
                        break;
                }
                if (!free_slot && !s->tenant[0])
                        free_slot = s;
                if (!lru || s->last_us < lru->last_us)
                        lru = s;
        }
        if (!b) { /* new (or evicted): starts full */
                b = free_slot ? free_slot : lru;
                snprintf(b->tenant, sizeof(b->tenant), "%s", tenant);
                b->tokens = rate;
                b->last_us = now;
        }
        b->tokens += (double)(now - b->last_us) * rate / 1e6;
        if (b->tokens > rate) /* at most one second's worth */
                b->tokens = rate;
        b->last_us = now;
        int wait = 0;
        if (b->tokens >= 1.0)
                b->tokens -= 1.0;
        else
                wait = (int)((1.0 - b->tokens) / rate) + 1;
        pthread_mutex_unlock(&buckets_lock);
        return wait;
}

/* 401 with the reason, as RFC 6750 asks. */
static unsigned unauthorized(api_req_t *req, bool had_token,
                             const char *why) {
        req->auth_challenge = had_token ? 2 : 1;
        api_reply_error(req, 401, "unauthorized", why, NULL);
        return 401;
}

unsigned api_auth_request(api_req_t *req) {
        api_t *api = req->api;
        unsigned need = route_scope(req->route);
        if (!need)
                return 0;
        if (!api->jwt) { /* dev */
                snprintf(req->tenant, sizeof(req->tenant), "%s", api->tenant);
                req->scopes = SCHED_SCOPE_READ | SCHED_SCOPE_WRITE |
                              SCHED_SCOPE_ADMIN;
                req->premium = true;
        } else {
                const char *h = MHD_lookup_connection_value(
                        req->conn, MHD_HEADER_KIND,
                        MHD_HTTP_HEADER_AUTHORIZATION);
                if (!h)
                        return unauthorized(req, false,
                                            "a bearer token is required "
                                                 "(Authorization: Bearer ...)");
                sched_principal_t p;
                char why[128];
                if (sched_jwt_verify(api->jwt, h, sched_now_ms() / 1000, &p,
                                     why, sizeof(why)))
                        return unauthorized(req, true, why);
                snprintf(req->tenant, sizeof(req->tenant), "%s", p.tenant);
                req->scopes = p.scopes;
                req->premium = p.premium;
        }
        /* admin reads everything; writes need jobs:write itself. */
        unsigned have = req->scopes;
        if (have & SCHED_SCOPE_ADMIN)
                have |= SCHED_SCOPE_READ;
        if (!(have & need)) {
                api_reply_error(req, 403, "forbidden",
                                need == SCHED_SCOPE_READ
                                        ? "the token lacks the jobs:read scope"
                                : need == SCHED_SCOPE_ADMIN
                                        ? "the token lacks the admin scope"
                                        : "the token lacks the jobs:write "
                                          "scope",
                                NULL);
                return 403;
        }
        const char *other = MHD_lookup_connection_value(
                req->conn, MHD_GET_ARGUMENT_KIND, "tenant");
        if (other && strcmp(other, req->tenant)) {
                bool read = need == SCHED_SCOPE_READ;
                if (!read || !(req->scopes & SCHED_SCOPE_ADMIN)) {
                        api_reply_error(req, 403, "forbidden",
                                        read ? "reading another tenant needs "
                                               "the admin scope"
                                             : "writes act on the token's own "
                                               "tenant only",
                                        "tenant");
                        return 403;
                }
                if (strlen(other) >= SCHED_TENANT_MAX) {
                        api_reply_error(req, 400, "invalid_field",
                                        "longer than a tenant can be",
                                        "tenant");
                        return 400;
                }
        }
        int64_t rate = req->premium ? api->conf.rate_premium
                                    : api->conf.rate_standard;
        if (rate > 0) {
                int wait = rate_take(req->tenant, (double)rate);
                if (wait) {
                        req->retry_after = wait;
                        char msg[128];
                        snprintf(msg, sizeof(msg),
                                 "rate limit of %lld requests/s for this "
                                 "tenant (%s tier)",
                                 (long long)rate,
                                 req->premium ? "premium" : "standard");
                        api_reply_error(req, 429, "rate_limited", msg, NULL);
                        return 429;
                }
        }
        return 0;
}
