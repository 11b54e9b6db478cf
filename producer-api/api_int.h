/*
 * api_int.h — private interfaces of klok-api, the producer-api service.
 *
 * Threads:
 *   main      config, start-up, waits for SIGTERM/SIGINT, shutdown order
 *   MHD       http.threads workers (epoll): parse, produce, suspend, answer;
 *             never block on Kafka or sleep
 *   poller    rd_kafka_poll() of the producer: delivery reports resume the
 *             suspended connections (producer.c)
 *   viewer    consumes <p>.commands and <p>.status into the view, resumes
 *             requests waiting for a consistency token (viewer.c)
 * Shared state is either immutable after start, atomic, or under api->lock
 * (the suspend/resume hand-off, the in-flight count, the waiter list).
 */
#ifndef KLOK_API_INT_H
#define KLOK_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <microhttpd.h>

#include "sched/codec.h"
#include "sched/config.h"
#include "sched/event.h"
#include "sched/jwt.h"
#include "sched/kafka.h"
#include "sched/store.h"
#include "sched/view.h"

/* --- Configuration (main.c holds the table) ------------------------------- */

typedef struct api_conf_s {
        sched_conf_common_t common;
        char listen_addr[64];
        int64_t listen_port;
        char data_dir[1024];
        int64_t http_threads;
        int64_t http_body_max;
        int64_t http_conn_max;
        int64_t http_timeout_s;
        int64_t kafka_linger_ms;
        int64_t kafka_delivery_timeout_ms;
        int64_t view_wait_max_ms;
        int64_t shutdown_timeout_ms;
        char auth_mode[16];
        char auth_jwt_key[1024];
        char auth_jwt_issuer[256];
        char auth_jwt_audience[256];
        int64_t auth_jwt_leeway_s;
        int64_t rate_standard; /* requests/s per tenant; 0 = no limit */
        int64_t rate_premium;
        char dashboard_dir[1024];
} api_conf_t;

/* --- Metrics (metrics.c) -------------------------------------------------- */

#define API_ROUTE_MAP(X)                                                      \
        X(JOBS_CREATE, "POST /v1/jobs")                                       \
        X(JOBS_LIST, "GET /v1/jobs")                                          \
        X(JOB_GET, "GET /v1/jobs/{id}")                                       \
        X(JOB_UPDATE, "PATCH /v1/jobs/{id}")                                  \
        X(JOB_CANCEL, "DELETE /v1/jobs/{id}")                                 \
        X(JOB_PAUSE, "POST /v1/jobs/{id}/pause")                              \
        X(JOB_RESUME, "POST /v1/jobs/{id}/resume")                            \
        X(JOB_EXECUTIONS, "GET /v1/jobs/{id}/executions")                     \
        X(JOB_RECORDS, "GET /v1/jobs/{id}/records")                           \
        X(VIEW_DIGEST, "GET /v1/admin/view-digest")                           \
        X(HEALTHZ, "GET /healthz")                                            \
        X(READYZ, "GET /readyz")                                              \
        X(METRICS, "GET /metrics")                                            \
        X(DASHBOARD, "GET /dashboard/")                                       \
        X(OTHER, "other")

typedef enum api_route_e {
#define API_ROUTE_ENUM(name, desc) API_ROUTE_##name,
        API_ROUTE_MAP(API_ROUTE_ENUM)
#undef API_ROUTE_ENUM
        API_ROUTE__CNT
} api_route_t;

/* HTTP codes counted one by one; anything else is counted as "other". */
#define API_CODES_CNT 14
/* Produce latency histogram bucket bounds (ms), +Inf implied. */
#define API_LAT_BUCKETS_CNT 14

typedef struct api_metrics_s {
        atomic_uint_fast64_t requests[API_ROUTE__CNT][API_CODES_CNT + 1];
        atomic_uint_fast64_t produce_lat[API_LAT_BUCKETS_CNT + 1];
        atomic_uint_fast64_t produce_lat_sum_us;
        atomic_uint_fast64_t produce_failed;
        atomic_uint_fast64_t view_applied;
        atomic_uint_fast64_t view_ignored;
        atomic_uint_fast64_t view_dlq;
        atomic_int_fast64_t view_lag;
        atomic_int_fast64_t inflight;
} api_metrics_t;

void api_metrics_request(api_metrics_t *m, api_route_t route, unsigned code);
void api_metrics_produce(api_metrics_t *m, int64_t latency_us, bool ok);
/** Prometheus text exposition, malloc'd into *textp. */
int api_metrics_render(api_metrics_t *m, char **textp, size_t *lenp);

/* --- The service ---------------------------------------------------------- */

typedef struct api_req_s api_req_t;

typedef struct api_s {
        api_conf_t conf;
        char tenant[SCHED_TENANT_MAX]; /* dev mode: every request's tenant */
        char topic_commands[SCHED_TOPIC_MAX];
        char topic_status[SCHED_TOPIC_MAX];
        char topic_dlq[SCHED_TOPIC_MAX];

        sched_codec_t *codec;
        sched_store_t *store;
        api_metrics_t metrics;
        sched_jwt_t *jwt; /* NULL: auth.mode=dev */

        /* producer.c */
        rd_kafka_t *rk;
        pthread_t poller;
        atomic_bool poller_stop;
        pthread_t queues_thread;
        bool queues_stop;              /* under lock */
        struct sched_strset_s *queues; /* executions topics; under lock */
        bool queues_wanted;            /* a request waits for a re-read */
        api_req_t *queue_waiters;      /* ... these (under lock) */

        /* viewer.c */
        pthread_t viewer;
        atomic_bool viewer_stop;
        atomic_bool kafka_ok;        /* last metadata request answered */
        atomic_bool view_caught_up;  /* every partition reached its end once */
        atomic_bool view_failed;     /* store errors: view is not moving */
        int32_t commands_parts;      /* set by the viewer before caught_up */
        _Atomic(int64_t) *applied;   /* next offset applied, per commands
                                        partition (commands_parts) */
        char view_reason[256];       /* why not ready, under lock */

        struct MHD_Daemon *mhd;

        /* Under lock: the suspend/resume hand-off and drain accounting. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool draining;         /* shutting down: no new produce or wait */
        int64_t inflight;      /* records produced, delivery not reported */
        api_req_t *waiters;    /* requests waiting for a consistency token */
} api_t;

/* --- A request (http.c) --------------------------------------------------- */

typedef enum api_req_state_e {
        API_REQ_READING = 0,  /* headers seen, reading the body */
        API_REQ_PRODUCING,    /* suspended until the delivery report */
        API_REQ_WAITING_VIEW, /* suspended until the view has a token */
        API_REQ_WAITING_QUEUES, /* suspended until the queues are re-read */
        API_REQ_RESUMED,      /* resumed; answer on the next call */
} api_req_state_t;

struct api_req_s {
        api_t *api;
        struct MHD_Connection *conn;
        api_route_t route;
        api_req_state_t state;
        char job_id[SCHED_ID_MAX];
        /* Who asks (auth.c): the token's tenant, scopes, tier. */
        char tenant[SCHED_TENANT_MAX];
        unsigned scopes; /* SCHED_SCOPE_* of sched/jwt.h */
        bool premium;
        int auth_challenge;  /* 401: 1 no token, 2 a bad one */
        int retry_after;     /* 429: seconds; 0 = 1 */
        /* A create with an idempotency key: its definition's digest, to
         * tell a repeat (200) from a conflict (409). */
        bool keyed;
        char digest[SCHED_VIEW_DIGEST_MAX];
        bool queues_checked; /* the queues were re-read for it once */

        char *body;
        size_t body_len, body_cap;
        bool body_too_big;

        bool answered; /* a response is queued: ignore further calls */
        bool produced; /* a command was produced: answer from the report */
        bool waited;   /* the consistency wait is over */
        bool stale;    /* ... and timed out before the view had the token */

        /* Delivery report, written by the poller under api->lock. */
        rd_kafka_resp_err_t dr_err;
        int32_t dr_partition;
        int64_t dr_offset;
        int64_t produce_start_us;
        unsigned success_code; /* 201 or 202 */

        /* Consistency wait, under api->lock. */
        int32_t wait_partition;
        int64_t wait_offset;
        int64_t wait_deadline_ms; /* monotonic */
        api_req_t *wait_next;
};

/* http.c */
int api_http_start(api_t *api, char *errstr, size_t errstr_size);
/** Stop accepting connections (first step of shutdown). */
void api_http_quiesce(api_t *api);
void api_http_stop(api_t *api);

/** Queue a JSON error {"error", "message", "field"?} with code. */
enum MHD_Result api_reply_error(api_req_t *req, unsigned code,
                                const char *error, const char *message,
                                const char *field);
/** Queue a response; body is copied. */
enum MHD_Result api_reply(api_req_t *req, unsigned code,
                          const char *content_type, const char *body,
                          size_t len);

/* auth.c */
int api_auth_start(api_t *api, char *errstr, size_t errstr_size);
void api_auth_stop(api_t *api);
/** Authenticate req, check its route's scope and its tenant's rate: 0, or
 *  the HTTP status of the error already queued. */
unsigned api_auth_request(api_req_t *req);

/* dashboard.c: the dashboard's files, read once at start from dir ("" =
 * no dashboard); served from memory. */
int api_dashboard_load(const char *dir, char *errstr, size_t errstr_size);
void api_dashboard_free(void);
enum MHD_Result api_dashboard_handle(api_req_t *req, const char *name);

/* jobs.c: handlers of /v1/jobs routes; called on the final handler call
 * (body complete) and again after a resume. */
enum MHD_Result api_jobs_handle(api_req_t *req);

/* producer.c */
/** librdkafka log callback of both clients: into sched/log.h. */
void api_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf);
int api_producer_start(api_t *api, char *errstr, size_t errstr_size);
/**
 * Encode ev, produce it to <p>.commands keyed by its job id and suspend
 * req until the delivery report (req->state = API_REQ_PRODUCING).  Returns
 * 0, or an HTTP status with an error already queued.
 */
unsigned api_produce_command(api_req_t *req, const sched_event_t *ev);
/** Wait for in-flight records until the deadline, then purge the rest. */
void api_producer_drain(api_t *api, int64_t timeout_ms);
/** 1: the queue's topic of that tier exists; 0: it does not; -1: not
 *  known yet (the first metadata answer is pending). */
int api_queue_known(api_t *api, const char *queue, bool high);
/** Suspend req until the list of queues has been read again (a topic may
 *  have been created since the last look).  False when shutting down. */
bool api_queues_wait(api_req_t *req);
/** Resume every request waiting for the queues (shutdown). */
void api_queues_release_all(api_t *api);
void api_producer_stop(api_t *api);

/* viewer.c */
int api_viewer_start(api_t *api, char *errstr, size_t errstr_size);
void api_viewer_stop(api_t *api);
/**
 * Suspend req until the view has applied commands offset `offset` of
 * `partition` or view.wait.max.ms passes.  Returns false when it is
 * already applied (or cannot be waited for): go on at once.
 */
bool api_viewer_wait(api_req_t *req, int32_t partition, int64_t offset);
/** Resume every waiting request (shutdown). */
void api_viewer_release_all(api_t *api);
/** Ready for /readyz; else reason filled. */
bool api_viewer_ready(api_t *api, char *reason, size_t size);

#endif /* KLOK_API_INT_H */
