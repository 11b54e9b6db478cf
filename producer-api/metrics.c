/*
 * metrics.c — klok-api's Prometheus counters and their text exposition.
 *
 * Lock-free: every counter is an atomic bumped by the thread that saw the
 * event; /metrics reads them relaxed (a scrape is a snapshot in time only
 * approximately, as with every Prometheus client).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_int.h"

static const char *const route_names[API_ROUTE__CNT] = {
#define API_ROUTE_NAME(name, desc) desc,
        API_ROUTE_MAP(API_ROUTE_NAME)
#undef API_ROUTE_NAME
};

static const unsigned codes[API_CODES_CNT] = {
        200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503};

/* Upper bounds (ms) of the produce latency buckets. */
static const double lat_bounds_ms[API_LAT_BUCKETS_CNT] = {
        0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

void api_metrics_request(api_metrics_t *m, api_route_t route, unsigned code) {
        int i = 0;
        while (i < API_CODES_CNT && codes[i] != code)
                i++;
        atomic_fetch_add_explicit(&m->requests[route][i], 1,
                                  memory_order_relaxed);
}

void api_metrics_produce(api_metrics_t *m, int64_t latency_us, bool ok) {
        if (!ok) {
                atomic_fetch_add_explicit(&m->produce_failed, 1,
                                          memory_order_relaxed);
                return;
        }
        int i = 0;
        while (i < API_LAT_BUCKETS_CNT &&
               (double)latency_us > lat_bounds_ms[i] * 1000.0)
                i++;
        atomic_fetch_add_explicit(&m->produce_lat[i], 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&m->produce_lat_sum_us,
                                  (uint_fast64_t)(latency_us > 0 ? latency_us
                                                                 : 0),
                                  memory_order_relaxed);
}

/* A growing text buffer. */
typedef struct buf_s {
        char *p;
        size_t len, cap;
        int err;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void bprintf(buf_t *b, const char *fmt, ...) {
        for (int tries = 0; !b->err && tries < 2; tries++) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->err = 1;
                        return;
                }
                if ((size_t)n < b->cap - b->len) {
                        b->len += (size_t)n;
                        return;
                }
                size_t cap = (b->cap + (size_t)n + 1) * 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->err = 1;
                        return;
                }
                b->p = p, b->cap = cap;
        }
}

static uint64_t get(atomic_uint_fast64_t *a) {
        return (uint64_t)atomic_load_explicit(a, memory_order_relaxed);
}

int api_metrics_render(api_metrics_t *m, char **textp, size_t *lenp) {
        buf_t b = {.cap = 8192};
        b.p = malloc(b.cap);
        if (!b.p)
                return -1;
        b.p[0] = '\0';

        bprintf(&b, "# HELP klok_api_requests_total HTTP requests by route "
                    "and status code.\n"
                    "# TYPE klok_api_requests_total counter\n");
        for (int r = 0; r < API_ROUTE__CNT; r++)
                for (int c = 0; c <= API_CODES_CNT; c++) {
                        uint64_t v = get(&m->requests[r][c]);
                        if (!v)
                                continue;
                        char code[8];
                        if (c < API_CODES_CNT)
                                snprintf(code, sizeof(code), "%u", codes[c]);
                        else
                                snprintf(code, sizeof(code), "other");
                        bprintf(&b,
                                "klok_api_requests_total{route=\"%s\","
                                "code=\"%s\"} %llu\n",
                                route_names[r], code, (unsigned long long)v);
                }

        bprintf(&b, "# HELP klok_api_produce_seconds Time from produce to "
                    "the broker's acks=all delivery report.\n"
                    "# TYPE klok_api_produce_seconds histogram\n");
        uint64_t cum = 0;
        for (int i = 0; i <= API_LAT_BUCKETS_CNT; i++) {
                cum += get(&m->produce_lat[i]);
                if (i < API_LAT_BUCKETS_CNT)
                        bprintf(&b,
                                "klok_api_produce_seconds_bucket{le=\"%g\"} "
                                "%llu\n",
                                lat_bounds_ms[i] / 1000.0,
                                (unsigned long long)cum);
                else
                        bprintf(&b,
                                "klok_api_produce_seconds_bucket{le=\"+Inf\"} "
                                "%llu\n",
                                (unsigned long long)cum);
        }
        bprintf(&b, "klok_api_produce_seconds_sum %.6f\n"
                    "klok_api_produce_seconds_count %llu\n",
                (double)get(&m->produce_lat_sum_us) / 1e6,
                (unsigned long long)cum);

        bprintf(&b,
                "# HELP klok_api_produce_failed_total Commands Kafka did not "
                "acknowledge (answered 503).\n"
                "# TYPE klok_api_produce_failed_total counter\n"
                "klok_api_produce_failed_total %llu\n"
                "# HELP klok_api_view_records_total Records consumed into the "
                "status view, by outcome.\n"
                "# TYPE klok_api_view_records_total counter\n"
                "klok_api_view_records_total{outcome=\"applied\"} %llu\n"
                "klok_api_view_records_total{outcome=\"ignored\"} %llu\n"
                "klok_api_view_records_total{outcome=\"dead_lettered\"} %llu\n"
                "# HELP klok_api_view_lag_records Records of commands and "
                "status not yet applied to the view.\n"
                "# TYPE klok_api_view_lag_records gauge\n"
                "klok_api_view_lag_records %lld\n"
                "# HELP klok_api_inflight_requests Requests waiting for a "
                "delivery report.\n"
                "# TYPE klok_api_inflight_requests gauge\n"
                "klok_api_inflight_requests %lld\n",
                (unsigned long long)get(&m->produce_failed),
                (unsigned long long)get(&m->view_applied),
                (unsigned long long)get(&m->view_ignored),
                (unsigned long long)get(&m->view_dlq),
                (long long)atomic_load_explicit(&m->view_lag,
                                                memory_order_relaxed),
                (long long)atomic_load_explicit(&m->inflight,
                                                memory_order_relaxed));
        if (b.err) {
                free(b.p);
                return -1;
        }
        *textp = b.p;
        *lenp = b.len;
        return 0;
}
