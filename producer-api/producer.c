/*
 * producer.c — the idempotent acks=all producer of klok-api.
 *
 * A request produces its command and suspends its connection; the poller
 * thread serves delivery reports, records the outcome in the request and
 * resumes the connection, whose handler then answers 201/202 or 503.  The
 * produce + suspend and the report + resume both run under api->lock, so a
 * resume can never overtake its suspend (libmicrohttpd leaves resuming a
 * connection that is not suspended undefined).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "sched/strset.h"
#include "sched/log.h"
#include "sched/time.h"

#define SUB "producer"

static int64_t mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* @locality poller thread (rd_kafka_poll). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque) {
        api_t *api = opaque;
        api_req_t *req = msg->_private;
        if (!req) { /* a dead-letter record of the viewer */
                if (msg->err)
                        sched_error(SUB, "dead-letter record lost: %s",
                                    rd_kafka_err2str(msg->err));
                return;
        }
        api_metrics_produce(&api->metrics, mono_us() - req->produce_start_us,
                            msg->err == RD_KAFKA_RESP_ERR_NO_ERROR);
        if (msg->err)
                sched_warn(SUB, "command for job %s not acknowledged: %s",
                           req->job_id, rd_kafka_err2str(msg->err));

        pthread_mutex_lock(&api->lock);
        req->dr_err = msg->err;
        req->dr_partition = msg->partition;
        req->dr_offset = msg->offset;
        req->state = API_REQ_RESUMED;
        struct MHD_Connection *conn = req->conn;
        /* req may be answered and freed by an MHD thread from here on. */
        MHD_resume_connection(conn);
        if (--api->inflight == 0)
                pthread_cond_broadcast(&api->cond);
        atomic_store_explicit(&api->metrics.inflight, api->inflight,
                              memory_order_relaxed);
        pthread_mutex_unlock(&api->lock);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[512];
                rd_kafka_resp_err_t orig =
                        rd_kafka_fatal_error(rk, buf, sizeof(buf));
                sched_error(SUB, "fatal producer error %s: %s",
                            rd_kafka_err2name(orig), buf);
                return;
        }
        sched_warn(SUB, "kafka: %s: %s",
                   rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

void api_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        sched_log_level_t l = level <= 3   ? SCHED_LOG_ERROR
                              : level <= 4 ? SCHED_LOG_WARN
                              : level <= 6 ? SCHED_LOG_INFO
                                           : SCHED_LOG_DEBUG;
        sched_log(l, "rdkafka", "%s: %s", fac, buf);
}

static void *poller_main(void *arg) {
        api_t *api = arg;
        while (!atomic_load(&api->poller_stop))
                rd_kafka_poll(api->rk, 100);
        return NULL;
}

/* The executions topics the cluster has, every QUEUES_REFRESH_MS: jobs
 * for a queue without one are refused (400) without asking Kafka on a
 * server thread. */
#define QUEUES_REFRESH_MS 5000

static void queues_refresh(api_t *api) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(api->rk, 1, NULL, &md, 2000))
                return; /* keep the last list */
        sched_strset_t *set = sched_strset_new();
        char prefix[SCHED_TOPIC_MAX];
        sched_topic(prefix, sizeof(prefix), api->conf.common.prefix,
                    "executions.");
        size_t plen = strlen(prefix);
        for (int i = 0; set && i < md->topic_cnt; i++)
                if (!md->topics[i].err &&
                    !strncmp(md->topics[i].topic, prefix, plen))
                        sched_strset_add(set, md->topics[i].topic, 0);
        rd_kafka_metadata_destroy(md);
        if (!set)
                return;
        pthread_mutex_lock(&api->lock);
        sched_strset_t *old = api->queues;
        api->queues = set;
        pthread_mutex_unlock(&api->lock);
        sched_strset_destroy(old);
}

/* Under lock: resume the requests of list (they check the queues again). */
static void queue_waiters_resume(api_req_t *list) {
        while (list) {
                api_req_t *req = list;
                list = req->wait_next;
                req->wait_next = NULL;
                req->queues_checked = true;
                req->state = API_REQ_RESUMED;
                MHD_resume_connection(req->conn);
        }
}

static void *queues_main(void *arg) {
        api_t *api = arg;
        pthread_mutex_lock(&api->lock);
        while (!api->queues_stop) {
                /* The requests waiting now are answered by this look,
                 * which starts after they arrived; later ones by the
                 * next. */
                api_req_t *waiting = api->queue_waiters;
                api->queue_waiters = NULL;
                api->queues_wanted = false;
                pthread_mutex_unlock(&api->lock);
                queues_refresh(api);
                pthread_mutex_lock(&api->lock);
                queue_waiters_resume(waiting);
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += QUEUES_REFRESH_MS / 1000;
                while (!api->queues_stop && !api->queues_wanted &&
                       pthread_cond_timedwait(&api->cond, &api->lock,
                                              &until) == 0)
                        ;
        }
        pthread_mutex_unlock(&api->lock);
        return NULL;
}

bool api_queues_wait(api_req_t *req) {
        api_t *api = req->api;
        pthread_mutex_lock(&api->lock);
        if (api->draining || api->queues_stop) {
                pthread_mutex_unlock(&api->lock);
                return false;
        }
        req->wait_next = api->queue_waiters;
        api->queue_waiters = req;
        api->queues_wanted = true;
        req->state = API_REQ_WAITING_QUEUES;
        MHD_suspend_connection(req->conn);
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->lock);
        return true;
}

void api_queues_release_all(api_t *api) {
        pthread_mutex_lock(&api->lock);
        api->draining = true;
        queue_waiters_resume(api->queue_waiters);
        api->queue_waiters = NULL;
        pthread_mutex_unlock(&api->lock);
}

int api_queue_known(api_t *api, const char *queue, bool high) {
        char topic[SCHED_TOPIC_MAX];
        sched_topic_executions(topic, sizeof(topic), api->conf.common.prefix,
                               queue[0] ? queue : "default", high);
        pthread_mutex_lock(&api->lock);
        int rc = api->queues ? sched_strset_has(api->queues, topic) : -1;
        pthread_mutex_unlock(&api->lock);
        return rc;
}

int api_producer_start(api_t *api, char *errstr, size_t errstr_size) {
        char linger[24], timeout[24];
        snprintf(linger, sizeof(linger), "%lld",
                 (long long)api->conf.kafka_linger_ms);
        snprintf(timeout, sizeof(timeout), "%lld",
                 (long long)api->conf.kafka_delivery_timeout_ms);
        const char *extra[] = {"linger.ms", linger, "message.timeout.ms",
                               timeout, NULL};
        rd_kafka_conf_t *conf =
                sched_kafka_conf(api->conf.common.bootstrap, "klok-api",
                                 extra, errstr, errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_opaque(conf, api);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_error_cb(conf, on_error);
        rd_kafka_conf_set_log_cb(conf, api_kafka_log);
        api->rk = sched_kafka_producer_new(conf, NULL, errstr, errstr_size);
        if (!api->rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        atomic_store(&api->poller_stop, false);
        int r = pthread_create(&api->queues_thread, NULL, queues_main, api);
        if (r == 0)
                r = pthread_create(&api->poller, NULL, poller_main, api);
        if (r) {
                snprintf(errstr, errstr_size, "pthread_create: %s",
                         strerror(r));
                rd_kafka_destroy(api->rk);
                api->rk = NULL;
                return -1;
        }
        return 0;
}

unsigned api_produce_command(api_req_t *req, const sched_event_t *ev) {
        api_t *api = req->api;
        char errstr[256];
        void *buf;
        size_t len;

        if (sched_codec_encode(api->codec, ev, &buf, &len, errstr,
                               sizeof(errstr))) {
                api_reply_error(req, 400, "invalid_field", errstr, NULL);
                return 400;
        }
        snprintf(req->job_id, sizeof(req->job_id), "%s", ev->job_id);
        req->produce_start_us = mono_us();

        pthread_mutex_lock(&api->lock);
        if (api->draining) {
                pthread_mutex_unlock(&api->lock);
                free(buf);
                api_reply_error(req, 503, "unavailable",
                                "the service is shutting down", NULL);
                return 503;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
                api->rk, RD_KAFKA_V_TOPIC(api->topic_commands),
                RD_KAFKA_V_KEY(ev->job_id, strlen(ev->job_id)),
                RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                RD_KAFKA_V_OPAQUE(req), RD_KAFKA_V_END);
        if (err) {
                pthread_mutex_unlock(&api->lock);
                free(buf); /* F_FREE only applies on success */
                api_metrics_produce(&api->metrics, 0, false);
                char msg[256];
                snprintf(msg, sizeof(msg), "the command was not produced: %s",
                         rd_kafka_err2str(err));
                api_reply_error(req, 503, "unavailable", msg, NULL);
                return 503;
        }
        api->inflight++;
        atomic_store_explicit(&api->metrics.inflight, api->inflight,
                              memory_order_relaxed);
        req->produced = true;
        req->state = API_REQ_PRODUCING;
        MHD_suspend_connection(req->conn);
        pthread_mutex_unlock(&api->lock);
        return 0;
}

/* Wait on api->cond until inflight is 0 or the monotonic deadline. */
static void wait_inflight(api_t *api, int64_t deadline_ms) {
        struct timespec ts = {.tv_sec = deadline_ms / 1000,
                              .tv_nsec = (deadline_ms % 1000) * 1000000};
        while (api->inflight > 0 &&
               pthread_cond_timedwait(&api->cond, &api->lock, &ts) !=
                       ETIMEDOUT)
                ;
}

void api_producer_drain(api_t *api, int64_t timeout_ms) {
        pthread_mutex_lock(&api->lock);
        api->draining = true;
        int64_t start = sched_mono_ms();
        wait_inflight(api, start + timeout_ms);
        if (api->inflight > 0) {
                sched_warn(SUB,
                           "%lld commands still unacknowledged after %lld ms; "
                           "purging them (answered 503)",
                           (long long)api->inflight, (long long)timeout_ms);
                pthread_mutex_unlock(&api->lock);
                rd_kafka_purge(api->rk, RD_KAFKA_PURGE_F_QUEUE |
                                                RD_KAFKA_PURGE_F_INFLIGHT);
                pthread_mutex_lock(&api->lock);
                /* Purged records are reported at the next poll. */
                wait_inflight(api, sched_mono_ms() + 5000);
        }
        int64_t left = api->inflight;
        pthread_mutex_unlock(&api->lock);
        if (left > 0) {
                /* Suspended connections cannot be closed (MHD_stop_daemon
                 * would abort): librdkafka broke its promise to report
                 * every record.  Nothing more to save. */
                sched_error(SUB, "%lld delivery reports never came; exiting",
                            (long long)left);
                _exit(1);
        }
}

void api_producer_stop(api_t *api) {
        if (!api->rk)
                return;
        /* Dead-letter records of the (stopped) viewer, if any. */
        if (rd_kafka_flush(api->rk, 5000))
                sched_warn(SUB, "%d records not flushed at shutdown",
                           rd_kafka_outq_len(api->rk));
        atomic_store(&api->poller_stop, true);
        pthread_join(api->poller, NULL);
        pthread_mutex_lock(&api->lock);
        api->queues_stop = true;
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->lock);
        pthread_join(api->queues_thread, NULL);
        sched_strset_destroy(api->queues);
        api->queues = NULL;
        rd_kafka_destroy(api->rk);
        api->rk = NULL;
}
