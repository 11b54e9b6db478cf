/*
 * viewer.c — the status view consumer of klok-api.
 *
 * One thread, no consumer group: it assigns every partition of
 * <p>.commands and <p>.status from the offsets stored in the view's META
 * (else the beginning), decodes each record, applies it with
 * sched_view_apply() and writes one RocksDB batch per consumed batch with
 * the next offsets in it, so state and position move together.  A record
 * that does not decode or cannot be applied goes to <p>.dlq with the
 * reason.  On a store failure the batch is dropped and consumption rewinds
 * to the stored offsets after a pause.
 *
 * It also resumes requests waiting for a consistency token, and keeps the
 * readiness flags of /readyz.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "sched/log.h"
#include "sched/time.h"
#include "sched/view.h"

#define SUB "view"
#define BATCH_MAX 1000
#define POLL_MS 100
#define METADATA_EVERY_MS 5000
#define RETRY_PAUSE_MS 1000
#define VIEW_GROUP_ID "klok-api-view"

typedef struct viewer_s {
        api_t *api;
        rd_kafka_t *rk;
        rd_kafka_queue_t *rkq;
        sched_batch_t *batch;
        int32_t parts[2];  /* partitions of commands, status */
        const char *topics[2];
        bool *eof[2];      /* reached the end once */
        int32_t eof_left;
        int64_t *next[2];  /* next offset to apply (in this batch) */
        int64_t last_metadata_ms, last_lag_ms;
} viewer_t;

static void set_reason(api_t *api, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_reason(api_t *api, const char *fmt, ...) {
        va_list ap;
        pthread_mutex_lock(&api->lock);
        va_start(ap, fmt);
        vsnprintf(api->view_reason, sizeof(api->view_reason), fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&api->lock);
}

/* Wait up to ms for the stop flag (an interruptible pause, not a poll). */
static void pause_ms(api_t *api, int64_t ms) {
        int64_t deadline = sched_mono_ms() + ms;
        struct timespec ts = {.tv_sec = deadline / 1000,
                              .tv_nsec = (deadline % 1000) * 1000000};
        pthread_mutex_lock(&api->lock);
        while (!atomic_load(&api->viewer_stop) &&
               pthread_cond_timedwait(&api->cond, &api->lock, &ts) !=
                       ETIMEDOUT)
                ;
        pthread_mutex_unlock(&api->lock);
}

/* --- Consistency waiters -------------------------------------------------- */

/* Resume the waiters whose offset is applied or whose time is up (all of
 * them with `all`).  @locks api->lock */
static void release_waiters(api_t *api, bool all) {
        int64_t now = sched_mono_ms();
        api_req_t **pp = &api->waiters;
        while (*pp) {
                api_req_t *req = *pp;
                bool reached =
                        atomic_load(&api->applied[req->wait_partition]) >
                        req->wait_offset;
                if (!reached && !all && now < req->wait_deadline_ms) {
                        pp = &req->wait_next;
                        continue;
                }
                *pp = req->wait_next;
                req->wait_next = NULL;
                req->stale = !reached;
                req->waited = true;
                req->state = API_REQ_RESUMED;
                MHD_resume_connection(req->conn);
        }
}

bool api_viewer_wait(api_req_t *req, int32_t partition, int64_t offset) {
        api_t *api = req->api;
        pthread_mutex_lock(&api->lock);
        if (api->draining || !api->applied || partition < 0 ||
            partition >= api->commands_parts ||
            atomic_load(&api->applied[partition]) > offset) {
                pthread_mutex_unlock(&api->lock);
                req->waited = true;
                return false;
        }
        req->wait_partition = partition;
        req->wait_offset = offset;
        req->wait_deadline_ms = sched_mono_ms() + api->conf.view_wait_max_ms;
        req->wait_next = api->waiters;
        api->waiters = req;
        req->state = API_REQ_WAITING_VIEW;
        MHD_suspend_connection(req->conn);
        pthread_mutex_unlock(&api->lock);
        return true;
}

void api_viewer_release_all(api_t *api) {
        pthread_mutex_lock(&api->lock);
        api->draining = true;
        if (api->applied)
                release_waiters(api, true);
        pthread_mutex_unlock(&api->lock);
}

bool api_viewer_ready(api_t *api, char *reason, size_t size) {
        bool ok = atomic_load(&api->kafka_ok) &&
                  atomic_load(&api->view_caught_up) &&
                  !atomic_load(&api->view_failed);
        if (!ok) {
                pthread_mutex_lock(&api->lock);
                snprintf(reason, size, "%s",
                         api->view_reason[0] ? api->view_reason
                                             : "starting");
                pthread_mutex_unlock(&api->lock);
        }
        return ok;
}

/* --- Consumption ---------------------------------------------------------- */

/* Assign every partition from the stored offsets (start, and rewind after a
 * failed batch). */
static int assign_from_store(viewer_t *v) {
        api_t *api = v->api;
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(v->parts[0] + v->parts[1]);
        for (int t = 0; t < 2; t++)
                for (int32_t p = 0; p < v->parts[t]; p++) {
                        int64_t off = sched_store_offset_get(
                                api->store, v->topics[t], p);
                        v->next[t][p] = off < 0 ? 0 : off;
                        sched_view_log_begin(api->store, v->batch,
                                             v->topics[t], p, v->next[t][p]);
                        rd_kafka_topic_partition_list_add(list, v->topics[t],
                                                          p)
                                ->offset = off < 0 ? RD_KAFKA_OFFSET_BEGINNING
                                                   : off;
                }
        rd_kafka_resp_err_t err = rd_kafka_assign(v->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err) {
                sched_error(SUB, "assign: %s", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

static int topic_index(viewer_t *v, const rd_kafka_message_t *msg) {
        const char *name = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "";
        for (int t = 0; t < 2; t++)
                if (!strcmp(name, v->topics[t]) && msg->partition >= 0 &&
                    msg->partition < v->parts[t])
                        return t;
        return -1;
}

static void dead_letter(viewer_t *v, const rd_kafka_message_t *msg,
                        const char *reason) {
        api_t *api = v->api;
        sched_warn(SUB, "dead-lettering %s [%d] @%lld: %s",
                   rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                   (long long)msg->offset, reason);
        rd_kafka_resp_err_t err =
                sched_kafka_dlq(api->rk, api->topic_dlq, msg, reason);
        if (err)
                sched_error(SUB, "dead-letter produce failed: %s",
                            rd_kafka_err2str(err));
        atomic_fetch_add(&api->metrics.view_dlq, 1);
}

/* Apply one record into the batch; -1 when the batch must be dropped. */
static int consume_one(viewer_t *v, const rd_kafka_message_t *msg, int t) {
        api_t *api = v->api;
        char errstr[600];
        sched_view_result_t res;
        sched_err_t err = sched_view_apply_record(
                api->store, v->batch, api->codec, t == 1, v->topics[t],
                msg->key, msg->key_len, msg->payload, msg->len,
                msg->partition, v->parts[t], msg->offset, &res, errstr,
                sizeof(errstr));
        if (err == SCHED_ERR_STORE || err == SCHED_ERR_NOMEM) {
                sched_error(SUB, "apply %s [%d] @%lld: %s", v->topics[t],
                            (int)msg->partition, (long long)msg->offset,
                            errstr);
                return -1;
        }
        if (err)
                dead_letter(v, msg, errstr);
        else
                atomic_fetch_add(res == SCHED_VIEW_APPLIED
                                         ? &api->metrics.view_applied
                                         : &api->metrics.view_ignored,
                                 1);
        v->next[t][msg->partition] = msg->offset + 1;
        return 0;
}

static void on_eof(viewer_t *v, const rd_kafka_message_t *msg, int t) {
        v->next[t][msg->partition] = msg->offset;
        if (v->eof[t][msg->partition])
                return;
        v->eof[t][msg->partition] = true;
        if (--v->eof_left == 0) {
                sched_info(SUB, "caught up with every partition of %s and %s",
                           v->topics[0], v->topics[1]);
                atomic_store(&v->api->view_caught_up, true);
        }
}

static void update_lag(viewer_t *v) {
        int64_t lag = 0;
        for (int t = 0; t < 2; t++)
                for (int32_t p = 0; p < v->parts[t]; p++) {
                        int64_t lo, hi;
                        if (rd_kafka_get_watermark_offsets(
                                    v->rk, v->topics[t], p, &lo, &hi) ||
                            hi < 0)
                                continue;
                        if (hi > v->next[t][p])
                                lag += hi - v->next[t][p];
                }
        atomic_store(&v->api->metrics.view_lag, lag);
}

static void check_metadata(viewer_t *v) {
        int32_t n = sched_kafka_partition_count(v->rk, v->topics[0], 2000);
        atomic_store(&v->api->kafka_ok, n > 0);
        if (n <= 0)
                set_reason(v->api, "kafka metadata of %s unavailable",
                           v->topics[0]);
        else if (!atomic_load(&v->api->view_caught_up))
                set_reason(v->api, "view catching up: %d partitions left",
                           (int)v->eof_left);
        else
                set_reason(v->api, "%s", "");
}

/* Consume one batch of records; write it with its offsets. */
static void consume_batch(viewer_t *v) {
        api_t *api = v->api;
        rd_kafka_message_t *msgs[BATCH_MAX];
        ssize_t n = rd_kafka_consume_batch_queue(v->rkq, POLL_MS, msgs,
                                                 BATCH_MAX);
        if (n < 0) {
                sched_warn(SUB, "consume: %s",
                           rd_kafka_err2str(rd_kafka_last_error()));
                return;
        }
        bool failed = false;
        int32_t cmd_touched = 0;
        for (ssize_t i = 0; i < n; i++) {
                rd_kafka_message_t *msg = msgs[i];
                int t = topic_index(v, msg);
                if (failed) {
                        /* dropped with the batch; read again after rewind */
                } else if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                           t >= 0) {
                        on_eof(v, msg, t);
                } else if (msg->err) {
                        sched_warn(SUB, "consume: %s: %s",
                                   rd_kafka_err2name(msg->err),
                                   rd_kafka_message_errstr(msg));
                } else if (t < 0) {
                        sched_warn(SUB, "record of an unassigned partition "
                                        "[%d] skipped",
                                   (int)msg->partition);
                } else if (consume_one(v, msg, t)) {
                        failed = true;
                } else if (t == 0) {
                        cmd_touched++;
                }
                rd_kafka_message_destroy(msg);
        }

        while (!failed && sched_batch_count(v->batch) > 0) {
                char errstr[512];
                if (!sched_store_write(api->store, v->batch, errstr,
                                       sizeof(errstr)))
                        break;
                sched_error(SUB, "%s", errstr);
                failed = true;
        }
        if (failed) {
                atomic_store(&api->view_failed, true);
                set_reason(api, "view store failing; retrying");
                sched_batch_clear(v->batch);
                pause_ms(api, RETRY_PAUSE_MS);
                if (!atomic_load(&api->viewer_stop))
                        assign_from_store(v);
                return;
        }
        atomic_store(&api->view_failed, false);

        pthread_mutex_lock(&api->lock);
        if (cmd_touched)
                for (int32_t p = 0; p < v->parts[0]; p++)
                        atomic_store(&api->applied[p], v->next[0][p]);
        if (api->waiters)
                release_waiters(api, false);
        pthread_mutex_unlock(&api->lock);
}

/* Find the topics; false when asked to stop first. */
static bool wait_topics(viewer_t *v) {
        api_t *api = v->api;
        while (!atomic_load(&api->viewer_stop)) {
                for (int t = 0; t < 2; t++)
                        v->parts[t] = sched_kafka_partition_count(
                                v->rk, v->topics[t], 2000);
                if (v->parts[0] > 0 && v->parts[1] > 0)
                        return true;
                atomic_store(&api->kafka_ok, false);
                set_reason(api, "topics %s / %s not found (partitions %d / %d)",
                           v->topics[0], v->topics[1], (int)v->parts[0],
                           (int)v->parts[1]);
                sched_warn(SUB, "waiting for topics %s and %s",
                           v->topics[0], v->topics[1]);
                pause_ms(api, RETRY_PAUSE_MS);
        }
        return false;
}

static void *viewer_main(void *arg) {
        viewer_t *v = arg;
        api_t *api = v->api;

        if (!wait_topics(v))
                return NULL;
        if (v->parts[0] != v->parts[1])
                sched_warn(SUB, "%s has %d partitions but %s has %d",
                           v->topics[0], (int)v->parts[0], v->topics[1],
                           (int)v->parts[1]);
        for (int t = 0; t < 2; t++) {
                v->eof[t] = calloc((size_t)v->parts[t], sizeof(bool));
                v->next[t] = calloc((size_t)v->parts[t], sizeof(int64_t));
                if (!v->eof[t] || !v->next[t]) {
                        sched_error(SUB, "out of memory");
                        atomic_store(&api->view_failed, true);
                        return NULL;
                }
        }
        v->eof_left = v->parts[0] + v->parts[1];
        _Atomic(int64_t) *applied =
                calloc((size_t)v->parts[0], sizeof(*applied));
        if (!applied || assign_from_store(v)) {
                free(applied);
                atomic_store(&api->view_failed, true);
                set_reason(api, "view consumer could not start");
                return NULL;
        }
        for (int32_t p = 0; p < v->parts[0]; p++)
                atomic_init(&applied[p], v->next[0][p]);
        pthread_mutex_lock(&api->lock);
        api->applied = applied;
        api->commands_parts = v->parts[0];
        pthread_mutex_unlock(&api->lock);
        atomic_store(&api->kafka_ok, true);
        sched_info(SUB, "consuming %s (%d partitions) and %s (%d partitions)",
                   v->topics[0], (int)v->parts[0], v->topics[1],
                   (int)v->parts[1]);

        v->rkq = rd_kafka_queue_get_consumer(v->rk);
        v->last_metadata_ms = sched_mono_ms();
        while (!atomic_load(&api->viewer_stop)) {
                consume_batch(v);
                int64_t now = sched_mono_ms();
                if (now - v->last_lag_ms >= 1000) {
                        update_lag(v);
                        v->last_lag_ms = now;
                }
                if (now - v->last_metadata_ms >= METADATA_EVERY_MS) {
                        check_metadata(v);
                        v->last_metadata_ms = sched_mono_ms();
                }
        }
        rd_kafka_queue_destroy(v->rkq);
        v->rkq = NULL;
        return NULL;
}

static viewer_t the_viewer;

int api_viewer_start(api_t *api, char *errstr, size_t errstr_size) {
        viewer_t *v = &the_viewer;
        memset(v, 0, sizeof(*v));
        v->api = api;
        v->topics[0] = api->topic_commands;
        v->topics[1] = api->topic_status;
        v->batch = sched_batch_new();
        if (!v->batch) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        rd_kafka_conf_t *conf = sched_kafka_conf(
                api->conf.common.bootstrap, "klok-api-view", NULL, errstr,
                errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_log_cb(conf, api_kafka_log);
        /* librdkafka 2.0.2's assign() needs a group.id (else
         * __UNKNOWN_GROUP); this one is never joined nor committed to:
         * positions live in the view's META. */
        v->rk = sched_kafka_consumer_new(conf, VIEW_GROUP_ID, NULL, errstr,
                                         errstr_size);
        if (!v->rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        set_reason(api, "view consumer starting");
        atomic_store(&api->viewer_stop, false);
        int r = pthread_create(&api->viewer, NULL, viewer_main, v);
        if (r) {
                snprintf(errstr, errstr_size, "pthread_create: %s",
                         strerror(r));
                rd_kafka_destroy(v->rk);
                v->rk = NULL;
                return -1;
        }
        return 0;
}

void api_viewer_stop(api_t *api) {
        viewer_t *v = &the_viewer;
        if (!v->rk)
                return;
        pthread_mutex_lock(&api->lock);
        atomic_store(&api->viewer_stop, true);
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->lock);
        pthread_join(api->viewer, NULL);
        rd_kafka_consumer_close(v->rk);
        rd_kafka_destroy(v->rk);
        v->rk = NULL;
        sched_batch_destroy(v->batch);
        for (int t = 0; t < 2; t++) {
                free(v->eof[t]);
                free(v->next[t]);
        }
        pthread_mutex_lock(&api->lock);
        free(api->applied);
        api->applied = NULL;
        api->commands_parts = 0;
        pthread_mutex_unlock(&api->lock);
        memset(v, 0, sizeof(*v));
}
