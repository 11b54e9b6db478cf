/*
 * log_reader.c — klok's topics read straight from Kafka, for audits
 * (ctl.h: ctl_read, ctl_read_offset, ctl_partition_count, ctl_log_load).
 *
 * One consumer per read, in a throwaway group it never joins or commits
 * to (librdkafka 2.0.2 refuses assign() without a group id).  Where to
 * start and where to stop are asked before the first fetch, for every
 * partition in one ListOffsets round each (offsets for times; the end is
 * the last stable offset, since the consumer is read_committed), and only
 * the partitions with something in between are assigned.  A partition
 * stops at its end offset of that moment or at its first record stamped
 * at or after `to`, whichever comes first: records appended while the
 * read runs are not waited for.
 *
 * Every wait is bounded: metadata and offsets within CTL_KAFKA_WAIT_MS,
 * and then no more than CTL_KAFKA_WAIT_MS without a record or an end of
 * partition.  librdkafka's own log lines are kept, not printed: the last
 * error among them goes into the reason a read fails with.
 *
 * ctl_log_load() builds on it: one job's records (or one tenant's) of
 * <p>.commands and <p>.status, decoded and merged in one order that
 * history and state-as-of share.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/event.h"
#include "sched/kafka.h"
#include "sched/time.h"

#define CTL_KAFKA_WAIT_MS 10000
#define POLL_MS 200
#define RUN_GAP 2000 /* records read through rather than fetched apart */
/* Records one read holds decoded, at most (a few GB): a tenant's history
 * beyond it needs a --from/--to window. */
#define CTL_LOG_MAX 5000000

typedef struct part_s {
        int32_t partition;
        int64_t start; /* first offset to read; < 0: nothing to read */
        int64_t end;   /* last stable offset when the read began */
        bool done;
} part_t;

typedef struct reader_s {
        const ctl_t *ctl;
        rd_kafka_t *rk;
        const char *topic;
        part_t *parts;
        int32_t nparts;
        int32_t left; /* partitions not done */
        pthread_mutex_t lock;
        char last_error[256]; /* @locks lock: librdkafka's last complaint */
} reader_t;

/* --- Set-up ------------------------------------------------------------- */

/* librdkafka's threads: keep the last warning or error, print nothing. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        reader_t *r = rd_kafka_opaque(rk);
        if (level > 4 || !r)
                return;
        pthread_mutex_lock(&r->lock);
        snprintf(r->last_error, sizeof(r->last_error), "%s", buf);
        pthread_mutex_unlock(&r->lock);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        reader_t *r = opaque;
        pthread_mutex_lock(&r->lock);
        snprintf(r->last_error, sizeof(r->last_error), "%s: %s",
                 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        pthread_mutex_unlock(&r->lock);
}

/* Why Kafka did not answer: librdkafka's last complaint, if any. */
static int unreachable(reader_t *r, const char *what, char *errstr,
                       size_t errstr_size) {
        pthread_mutex_lock(&r->lock);
        snprintf(errstr, errstr_size,
                 "%s: no answer from Kafka at %s within %d s%s%s", what,
                 r->ctl->bootstrap, CTL_KAFKA_WAIT_MS / 1000,
                 r->last_error[0] ? "; last error: " : "", r->last_error);
        pthread_mutex_unlock(&r->lock);
        return -1;
}

static void reader_init(reader_t *r, const ctl_t *ctl, const char *topic) {
        memset(r, 0, sizeof(*r));
        r->ctl = ctl;
        r->topic = topic;
        pthread_mutex_init(&r->lock, NULL);
}

static void reader_close(reader_t *r) {
        if (r->rk) {
                /* Nothing to commit and no group joined: no close. */
                rd_kafka_destroy_flags(r->rk,
                                       RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
                r->rk = NULL;
        }
        free(r->parts);
        r->parts = NULL;
        pthread_mutex_destroy(&r->lock);
}

/* A read_committed consumer in a group of its own that it never joins. */
static int reader_open(reader_t *r, char *errstr, size_t errstr_size) {
        static const char *const extra[] = {
                "fetch.wait.max.ms", "100", /* the end of a partition */
                "socket.connection.setup.timeout.ms", "10000",
                NULL};
        char group[96];
        snprintf(group, sizeof(group), "klokctl-%ld-%" PRId64, (long)getpid(),
                 sched_now_us());
        rd_kafka_conf_t *conf = sched_kafka_conf(
                r->ctl->bootstrap, "klokctl", extra, errstr, errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_opaque(conf, r);
        rd_kafka_conf_set_log_cb(conf, on_log);
        rd_kafka_conf_set_error_cb(conf, on_error);
        r->rk = sched_kafka_consumer_new(conf, group, NULL, errstr,
                                         errstr_size);
        if (!r->rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        return 0;
}

/* Partition count of r->topic from a metadata request. */
static int32_t reader_partitions(reader_t *r, char *errstr,
                                 size_t errstr_size) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
        if (!rkt) {
                snprintf(errstr, errstr_size, "topic %s: %s", r->topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
                rd_kafka_metadata(r->rk, 0, rkt, &md, CTL_KAFKA_WAIT_MS);
        rd_kafka_topic_destroy(rkt);
        if (err) {
                char what[SCHED_TOPIC_MAX + 32];
                snprintf(what, sizeof(what), "metadata of %s", r->topic);
                return unreachable(r, what, errstr, errstr_size);
        }
        int32_t cnt = -1;
        if (md->topic_cnt != 1)
                snprintf(errstr, errstr_size, "topic %s: no metadata",
                         r->topic);
        else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                snprintf(errstr, errstr_size, "no such topic: %s", r->topic);
        else if (md->topics[0].err)
                snprintf(errstr, errstr_size, "topic %s: %s", r->topic,
                         rd_kafka_err2str(md->topics[0].err));
        else if (md->topics[0].partition_cnt <= 0)
                snprintf(errstr, errstr_size, "topic %s has no partitions",
                         r->topic);
        else
                cnt = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return cnt;
}

/*
 * ListOffsets for every partition of r->parts at once: `ts` per partition
 * (a timestamp, or RD_KAFKA_OFFSET_END / _BEGINNING), the answers into
 * out[] (-1: no record at or after that timestamp).
 */
static int reader_offsets(reader_t *r, const int64_t *ts, int64_t *out,
                          char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(r->nparts);
        for (int32_t i = 0; i < r->nparts; i++)
                rd_kafka_topic_partition_list_add(list, r->topic,
                                                  r->parts[i].partition)
                        ->offset = ts[i];
        rd_kafka_resp_err_t err =
                rd_kafka_offsets_for_times(r->rk, list, CTL_KAFKA_WAIT_MS);
        int rc = 0;
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
            err == RD_KAFKA_RESP_ERR__TRANSPORT) {
                char what[SCHED_TOPIC_MAX + 32];
                snprintf(what, sizeof(what), "offsets of %s", r->topic);
                rc = unreachable(r, what, errstr, errstr_size);
        } else if (err) {
                snprintf(errstr, errstr_size, "offsets of %s: %s", r->topic,
                         rd_kafka_err2str(err));
                rc = -1;
        }
        for (int i = 0; !rc && i < list->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &list->elems[i];
                if (tp->err) {
                        snprintf(errstr, errstr_size,
                                 "offsets of %s [%" PRId32 "]: %s", r->topic,
                                 tp->partition, rd_kafka_err2str(tp->err));
                        rc = -1;
                } else {
                        out[i] = tp->offset;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return rc;
}

/* Choose the partitions (`partition` or all), ask their ends and starts. */
static int reader_plan(reader_t *r, int32_t partition, int64_t from_ms,
                       char *errstr, size_t errstr_size) {
        int32_t cnt = reader_partitions(r, errstr, errstr_size);
        if (cnt < 0)
                return -1;
        if (partition >= cnt) {
                snprintf(errstr, errstr_size,
                         "%s has %" PRId32 " partitions, no partition %" PRId32,
                         r->topic, cnt, partition);
                return -1;
        }
        r->nparts = partition < 0 ? cnt : 1;
        r->parts = calloc((size_t)r->nparts, sizeof(*r->parts));
        int64_t *ts = calloc((size_t)r->nparts, sizeof(*ts));
        int64_t *off = calloc((size_t)r->nparts, sizeof(*off));
        int rc = -1;
        if (!r->parts || !ts || !off) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        for (int32_t i = 0; i < r->nparts; i++) {
                r->parts[i].partition = partition < 0 ? i : partition;
                ts[i] = RD_KAFKA_OFFSET_END;
        }
        if (reader_offsets(r, ts, off, errstr, errstr_size))
                goto out;
        for (int32_t i = 0; i < r->nparts; i++) {
                r->parts[i].end = off[i];
                ts[i] = from_ms == INT64_MIN ? RD_KAFKA_OFFSET_BEGINNING
                                             : from_ms;
        }
        if (reader_offsets(r, ts, off, errstr, errstr_size))
                goto out;
        for (int32_t i = 0; i < r->nparts; i++)
                r->parts[i].start = off[i];
        rc = 0;
out:
        free(ts);
        free(off);
        return rc;
}

/* --- Reading -------------------------------------------------------------- */

static part_t *part_of(reader_t *r, int32_t partition) {
        for (int32_t i = 0; i < r->nparts; i++)
                if (r->parts[i].partition == partition)
                        return &r->parts[i];
        return NULL;
}

static void part_finish(reader_t *r, part_t *p) {
        if (p->done)
                return;
        p->done = true;
        r->left--;
        rd_kafka_topic_partition_list_t *one =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(one, r->topic, p->partition);
        rd_kafka_pause_partitions(r->rk, one); /* fetch no further */
        rd_kafka_topic_partition_list_destroy(one);
}

/* Assign the partitions with something between start and end. */
static int reader_assign(reader_t *r, char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(r->nparts);
        r->left = 0;
        for (int32_t i = 0; i < r->nparts; i++) {
                part_t *p = &r->parts[i];
                p->done = p->start < 0 || p->end < 0 || p->start >= p->end;
                if (p->done)
                        continue;
                r->left++;
                rd_kafka_topic_partition_list_add(list, r->topic,
                                                  p->partition)
                        ->offset = p->start;
        }
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (list->cnt)
                err = rd_kafka_assign(r->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err) {
                snprintf(errstr, errstr_size, "assign %s: %s", r->topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* What a record means for its partition: 0 deliver, 1 skip. */
typedef int (*reader_filter_cb)(reader_t *r, part_t *p,
                                const rd_kafka_message_t *rkm, void *arg);

/*
 * Consume until every assigned partition is done (filter/cb decide), cb
 * asks to stop, or nothing happens for CTL_KAFKA_WAIT_MS.
 */
static int reader_loop(reader_t *r, reader_filter_cb filter, void *farg,
                       ctl_record_cb cb, void *opaque, char *errstr,
                       size_t errstr_size) {
        int64_t quiet_until = sched_mono_ms() + CTL_KAFKA_WAIT_MS;
        while (r->left > 0) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(r->rk,
                                                                 POLL_MS);
                if (!rkm) {
                        if (sched_mono_ms() < quiet_until)
                                continue;
                        char what[SCHED_TOPIC_MAX + 64];
                        snprintf(what, sizeof(what),
                                 "reading %s (%" PRId32 " partitions left)",
                                 r->topic, r->left);
                        return unreachable(r, what, errstr, errstr_size);
                }
                part_t *p = rkm->rkt && !strcmp(rd_kafka_topic_name(rkm->rkt),
                                                r->topic)
                                    ? part_of(r, rkm->partition)
                                    : NULL;
                int stop = 0;
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (p && rkm->offset >= p->end)
                                part_finish(r, p);
                        quiet_until = sched_mono_ms() + CTL_KAFKA_WAIT_MS;
                } else if (rkm->err) {
                        /* Partition errors end the read; client-wide ones
                         * (a broker down) are retried by librdkafka. */
                        if (p || rd_kafka_fatal_error(r->rk, NULL, 0)) {
                                snprintf(errstr, errstr_size,
                                         "reading %s [%" PRId32 "]: %s",
                                         r->topic, rkm->partition,
                                         rd_kafka_message_errstr(rkm));
                                rd_kafka_message_destroy(rkm);
                                return -1;
                        }
                        on_error(r->rk, rkm->err,
                                 rd_kafka_message_errstr(rkm), r);
                } else if (p && !p->done) {
                        quiet_until = sched_mono_ms() + CTL_KAFKA_WAIT_MS;
                        if (filter(r, p, rkm, farg) == 0)
                                stop = cb(opaque, rkm);
                        if (rkm->offset + 1 >= p->end)
                                part_finish(r, p);
                }
                rd_kafka_message_destroy(rkm);
                if (stop)
                        break;
        }
        return 0;
}

/* ctl_read's rule: stop at `to` or the end; skip records stamped before
 * `from` (producers' clocks need not agree within a partition). */
typedef struct window_s {
        int64_t from_ms, to_ms;
} window_t;

static int window_filter(reader_t *r, part_t *p, const rd_kafka_message_t *rkm,
                         void *arg) {
        const window_t *w = arg;
        if (rkm->offset >= p->end) {
                part_finish(r, p);
                return 1;
        }
        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
        if (w->to_ms != INT64_MAX && ts >= w->to_ms) {
                part_finish(r, p);
                return 1;
        }
        return ts < w->from_ms ? 1 : 0;
}

int ctl_read(const ctl_t *ctl, const char *topic, int32_t partition,
             int64_t from_ms, int64_t to_ms, ctl_record_cb cb, void *opaque,
             char *errstr, size_t errstr_size) {
        reader_t r;
        window_t w = {from_ms, to_ms};
        reader_init(&r, ctl, topic);
        int rc = reader_open(&r, errstr, errstr_size);
        if (!rc && from_ms >= to_ms)
                goto out; /* an empty window */
        if (!rc)
                rc = reader_plan(&r, partition, from_ms, errstr, errstr_size);
        if (!rc)
                rc = reader_assign(&r, errstr, errstr_size);
        if (!rc)
                rc = reader_loop(&r, window_filter, &w, cb, opaque, errstr,
                                 errstr_size);
out:
        reader_close(&r);
        return rc;
}

/* ctl_read_offset's rule: the first record delivered must be the one. */
typedef struct exact_s {
        int64_t offset;
        bool found;
} exact_t;

static int exact_filter(reader_t *r, part_t *p, const rd_kafka_message_t *rkm,
                        void *arg) {
        exact_t *x = arg;
        part_finish(r, p);
        x->found = rkm->offset == x->offset;
        return x->found ? 0 : 1;
}

int ctl_read_offset(const ctl_t *ctl, const char *topic, int32_t partition,
                    int64_t offset, ctl_record_cb cb, void *opaque,
                    char *errstr, size_t errstr_size) {
        reader_t r;
        exact_t x = {offset, false};
        reader_init(&r, ctl, topic);
        int rc = partition < 0 || offset < 0 ? -1 : 0;
        if (rc)
                snprintf(errstr, errstr_size, "no record at %" PRId32
                         ":%" PRId64, partition, offset);
        if (!rc)
                rc = reader_open(&r, errstr, errstr_size);
        if (!rc)
                rc = reader_plan(&r, partition, INT64_MIN, errstr,
                                 errstr_size);
        if (!rc) {
                part_t *p = &r.parts[0];
                if (offset < p->start || offset >= p->end) {
                        snprintf(errstr, errstr_size,
                                 "no record at %s %" PRId32 ":%" PRId64
                                 " (the partition holds offsets %" PRId64
                                 " to %" PRId64 ")",
                                 topic, partition, offset, p->start,
                                 p->end - 1);
                        rc = -1;
                }
                p->start = offset;
        }
        if (!rc)
                rc = reader_assign(&r, errstr, errstr_size);
        if (!rc)
                rc = reader_loop(&r, exact_filter, &x, cb, opaque, errstr,
                                 errstr_size);
        if (!rc && !x.found) {
                snprintf(errstr, errstr_size,
                         "no record at %s %" PRId32 ":%" PRId64
                         " (a transaction marker or an aborted record)",
                         topic, partition, offset);
                rc = -1;
        }
        reader_close(&r);
        return rc;
}

/* ctl_read_listed's rule: within the run, only the listed offsets and the
 * tail, inside the time window (skipped, not an end: the listed records
 * are not in time order with the ones in between). */
typedef struct listed_s {
        const int64_t *offsets;
        size_t n, next; /* next: the first listed offset not passed */
        int64_t tail_from;
        window_t w;
} listed_t;

static int listed_filter(reader_t *r, part_t *p, const rd_kafka_message_t *rkm,
                         void *arg) {
        listed_t *l = arg;
        if (rkm->offset < p->start)
                return 1; /* fetched for the previous run */
        if (rkm->offset >= p->end) {
                part_finish(r, p);
                return 1;
        }
        if (rkm->offset < l->tail_from) {
                while (l->next < l->n && l->offsets[l->next] < rkm->offset)
                        l->next++;
                if (l->next == l->n || l->offsets[l->next] != rkm->offset)
                        return 1;
        }
        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);
        return ts >= l->w.from_ms && ts < l->w.to_ms ? 0 : 1;
}

/* The next run of ctl_read_listed: listed offsets at most RUN_GAP apart
 * (reading past a few records costs less than a new fetch position), else
 * the tail; false when none is left.  *i: the first offset not taken. */
static bool next_run(const listed_t *l, size_t *i, bool *tail_done,
                     int64_t first, int64_t last, int64_t *a, int64_t *b) {
        const int64_t *o = l->offsets;
        while (*i < l->n && o[*i] < first)
                (*i)++;
        if (*i < l->n && o[*i] < l->tail_from && o[*i] < last) {
                *a = o[*i];
                *b = *a + 1;
                while (++*i < l->n && o[*i] < l->tail_from && o[*i] < last &&
                       o[*i] - *b < RUN_GAP)
                        *b = o[*i] + 1;
                return true;
        }
        if (*tail_done || l->tail_from >= last)
                return false;
        *tail_done = true;
        *a = l->tail_from > first ? l->tail_from : first;
        *b = last;
        return true;
}

int ctl_read_listed(const ctl_t *ctl, const char *topic, int32_t partition,
                    const int64_t *offsets, size_t n, int64_t tail_from,
                    int64_t from_ms, int64_t to_ms, ctl_record_cb cb,
                    void *opaque, char *errstr, size_t errstr_size) {
        reader_t r;
        listed_t l = {offsets, n, 0, tail_from < 0 ? INT64_MAX : tail_from,
                      {from_ms, to_ms}};
        reader_init(&r, ctl, topic);
        int rc = reader_open(&r, errstr, errstr_size);
        if (!rc)
                rc = reader_plan(&r, partition, INT64_MIN, errstr,
                                 errstr_size);
        part_t *p = rc ? NULL : &r.parts[0];
        int64_t first = p ? p->start : 0, last = p ? p->end : 0;
        size_t gone = 0;
        for (size_t k = 0; p && k < n && offsets[k] < first; k++)
                gone++;
        if (gone)
                fprintf(stderr,
                        "klokctl: %zu listed records of %s [%" PRId32
                        "] are before its first offset %" PRId64
                        " (deleted by retention)\n",
                        gone, topic, partition, first);
        size_t i = 0;
        bool tail_done = false;
        int64_t a, b;
        while (!rc && next_run(&l, &i, &tail_done, first, last, &a, &b)) {
                /* A finished run paused the partition: resume it, then
                 * move it to the run's start. */
                rd_kafka_topic_partition_list_t *one =
                        rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(one, topic, partition);
                rd_kafka_resume_partitions(r.rk, one);
                rd_kafka_topic_partition_list_destroy(one);
                p->start = a;
                p->end = b;
                rc = reader_assign(&r, errstr, errstr_size);
                if (!rc)
                        rc = reader_loop(&r, listed_filter, &l, cb, opaque,
                                         errstr, errstr_size);
        }
        reader_close(&r);
        return rc;
}

int32_t ctl_partition_count(const ctl_t *ctl, const char *topic,
                            char *errstr, size_t errstr_size) {
        reader_t r;
        reader_init(&r, ctl, topic);
        int32_t cnt = reader_open(&r, errstr, errstr_size)
                              ? -1
                              : reader_partitions(&r, errstr, errstr_size);
        reader_close(&r);
        return cnt;
}

/* --- One job's (or tenant's) log ------------------------------------------ */

typedef struct load_s {
        const sched_codec_t *codec;
        const char *job_id, *tenant; /* one of them */
        bool status_topic;
        ctl_log_t *log;
        size_t cap;
        int oom, full; /* full: CTL_LOG_MAX records held (oom is set too) */
} load_t;

static int log_push(load_t *l, ctl_rec_t *rec) {
        ctl_log_t *log = l->log;
        if (log->cnt >= CTL_LOG_MAX) {
                l->full = 1;
                return -1;
        }
        if (log->cnt == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                ctl_rec_t *recs = realloc(log->recs, cap * sizeof(*recs));
                if (!recs)
                        return -1;
                log->recs = recs;
                l->cap = cap;
        }
        log->recs[log->cnt++] = *rec;
        return 0;
}

static void rec_free(ctl_rec_t *rec) {
        if (rec->ev) {
                sched_event_clear(rec->ev);
                free(rec->ev);
        }
        free(rec->key);
        free(rec->error);
}

/* Keep a record of the job: keyed by its id (a memcmp: the others are not
 * decoded) and, when it decodes, about that job; or of the tenant:
 * decoded, of that tenant. */
static int load_record(void *opaque, const rd_kafka_message_t *rkm) {
        load_t *l = opaque;
        ctl_rec_t rec = {0};
        char errstr[512];
        rec.partition = rkm->partition;
        rec.offset = rkm->offset;
        rec.ts_ms = rd_kafka_message_timestamp(rkm, NULL);
        rec.status_topic = l->status_topic;
        if (l->job_id && !(rkm->key && rkm->key_len == strlen(l->job_id) &&
                           !memcmp(rkm->key, l->job_id, rkm->key_len)))
                return 0;
        sched_event_t ev;
        sched_err_t err = sched_codec_decode(l->codec, rkm->payload, rkm->len,
                                             &ev, errstr, sizeof(errstr));
        bool keep = err ? l->job_id != NULL
                  : l->job_id ? !strcmp(ev.job_id, l->job_id)
                              : !strcmp(ev.tenant, l->tenant);
        if (!err && !keep && l->job_id)
                fprintf(stderr,
                        "klokctl: %s record %" PRId32 ":%" PRId64
                        " is keyed %s but is about job %s: left out\n",
                        l->status_topic ? "status" : "commands",
                        rkm->partition, rkm->offset, l->job_id, ev.job_id);
        if (!keep) {
                if (!err)
                        sched_event_clear(&ev);
                return 0;
        }
        if (rkm->key) {
                rec.key = strndup(rkm->key, rkm->key_len);
                if (!rec.key)
                        goto oom;
        }
        if (err) {
                char reason[600];
                snprintf(reason, sizeof(reason), "%s: %s",
                         sched_err2name(err), errstr);
                if (!(rec.error = strdup(reason)))
                        goto oom;
        } else {
                if (!(rec.ev = malloc(sizeof(*rec.ev)))) {
                        sched_event_clear(&ev);
                        goto oom;
                }
                *rec.ev = ev; /* moves the heap strings */
        }
        if (log_push(l, &rec))
                goto oom;
        return 0;
oom:
        rec_free(&rec);
        l->oom = 1;
        return 1;
}

/* Merge position of a record: time, commands before status, partition,
 * offset. */
static int rec_before(const ctl_rec_t *a, const ctl_rec_t *b) {
        if (a->ts_ms != b->ts_ms)
                return a->ts_ms < b->ts_ms;
        if (a->status_topic != b->status_topic)
                return !a->status_topic;
        if (a->partition != b->partition)
                return a->partition < b->partition;
        return a->offset < b->offset;
}

static int rec_cmp_stream(const void *pa, const void *pb) {
        const ctl_rec_t *a = pa, *b = pb;
        if (a->status_topic != b->status_topic)
                return a->status_topic ? 1 : -1;
        if (a->partition != b->partition)
                return a->partition < b->partition ? -1 : 1;
        return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static bool same_stream(const ctl_rec_t *a, const ctl_rec_t *b) {
        return a->status_topic == b->status_topic &&
               a->partition == b->partition;
}

/*
 * Merge the streams (one per topic and partition, each in offset order)
 * by their heads' merge position: each partition keeps its log order even
 * where its producers' clocks disagree.  Few streams (two for a job): a
 * linear choice of the next head is enough.
 */
static int log_merge(ctl_log_t *log) {
        if (log->cnt < 2)
                return 0;
        qsort(log->recs, log->cnt, sizeof(*log->recs), rec_cmp_stream);
        size_t nstreams = 1;
        for (size_t i = 1; i < log->cnt; i++)
                nstreams += !same_stream(&log->recs[i - 1], &log->recs[i]);
        size_t *head = calloc(nstreams, sizeof(*head));
        size_t *end = calloc(nstreams, sizeof(*end));
        ctl_rec_t *out = malloc(log->cnt * sizeof(*out));
        if (!head || !end || !out) {
                free(head);
                free(end);
                free(out);
                return -1;
        }
        size_t s = 0;
        for (size_t i = 1; i < log->cnt; i++)
                if (!same_stream(&log->recs[i - 1], &log->recs[i])) {
                        end[s++] = i;
                        head[s] = i;
                }
        end[s] = log->cnt;
        for (size_t n = 0; n < log->cnt; n++) {
                size_t best = SIZE_MAX;
                for (size_t k = 0; k < nstreams; k++)
                        if (head[k] < end[k] &&
                            (best == SIZE_MAX ||
                             rec_before(&log->recs[head[k]],
                                        &log->recs[head[best]])))
                                best = k;
                out[n] = log->recs[head[best]++];
        }
        free(log->recs);
        log->recs = out;
        free(head);
        free(end);
        return 0;
}

/* The job's partition of both topics; -1 with errstr. */
static int32_t job_partition(const ctl_t *ctl, const char *job_id,
                             char topics[2][SCHED_TOPIC_MAX], char *errstr,
                             size_t errstr_size) {
        int32_t cnt[2];
        for (int t = 0; t < 2; t++)
                if ((cnt[t] = ctl_partition_count(ctl, topics[t], errstr,
                                                  errstr_size)) < 0)
                        return -1;
        if (cnt[0] != cnt[1]) {
                snprintf(errstr, errstr_size,
                         "%s has %" PRId32 " partitions but %s %" PRId32
                         ": they must be co-partitioned",
                         topics[0], cnt[0], topics[1], cnt[1]);
                return -1;
        }
        return sched_partition_of(job_id, strlen(job_id), cnt[0]);
}

int ctl_log_load(const ctl_t *ctl, const struct sched_codec_s *codec,
                 const char *job_id, const char *tenant, bool scan,
                 int64_t from_ms, int64_t to_ms, ctl_log_t *log,
                 char *errstr, size_t errstr_size) {
        char topics[2][SCHED_TOPIC_MAX];
        sched_topic(topics[0], sizeof(topics[0]), ctl->prefix, "commands");
        sched_topic(topics[1], sizeof(topics[1]), ctl->prefix, "status");
        memset(log, 0, sizeof(*log));
        log->partition = -1;
        ctl_index_t ix;
        if (job_id && !scan) {
                log->indexed = ctl_index_fetch(ctl, job_id, &ix) == 0;
                if (!log->indexed)
                        fprintf(stderr, "klokctl: reading job %s's whole "
                                        "partition instead\n",
                                job_id);
                else if (ix.elsewhere)
                        fprintf(stderr,
                                "klokctl: %zu records keyed by job %s are on "
                                "other partitions than its own: left out\n",
                                ix.elsewhere, job_id);
        }
        if (log->indexed)
                log->partition = ix.partition;
        else if (job_id &&
                 (log->partition = job_partition(ctl, job_id, topics, errstr,
                                                 errstr_size)) < 0)
                return -1;
        load_t l = {codec, job_id, job_id ? NULL : tenant, false, log, 0, 0,
                    0};
        int rc = 0;
        for (int t = 0; !rc && !l.oom && t < 2; t++) {
                l.status_topic = t == 1;
                rc = log->indexed
                             ? ctl_read_listed(ctl, topics[t], ix.partition,
                                               ix.offsets[t], ix.cnt[t],
                                               ix.positions[t], from_ms, to_ms,
                                               load_record, &l, errstr,
                                               errstr_size)
                             : ctl_read(ctl, topics[t], log->partition, from_ms,
                                        to_ms, load_record, &l, errstr,
                                        errstr_size);
        }
        if (log->indexed)
                ctl_index_free(&ix);
        if (rc)
                goto fail;
        if (l.full) {
                snprintf(errstr, errstr_size,
                         "more than %d records: narrow the read with --from "
                         "and --to",
                         CTL_LOG_MAX);
                goto fail;
        }
        if (l.oom || log_merge(log)) {
                snprintf(errstr, errstr_size, "out of memory (%zu records)",
                         log->cnt);
                goto fail;
        }
        return 0;
fail:
        ctl_log_free(log);
        return -1;
}

void ctl_log_free(ctl_log_t *log) {
        for (size_t i = 0; i < log->cnt; i++)
                rec_free(&log->recs[i]);
        free(log->recs);
        log->recs = NULL;
        log->cnt = 0;
}
