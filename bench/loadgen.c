/*
 * loadgen.c — klok-loadgen, the load generator of the benchmarks.
 *
 * Five modes, each ending with a one-line JSON summary on stdout:
 *   (default)  --count CreateJob commands on <prefix>.commands, built and
 *              partitioned the way klok-api builds them (sched_job_id_for,
 *              a UUIDv7 event id, sched_codec_encode, murmur2 through
 *              sched_partition_of), each due AT an instant of a window far
 *              in the future, so that nothing fires during a benchmark;
 *   --raw      as many records, of the same sizes, as opaque bytes on
 *              <prefix>.bench-raw: the raw produce rate of the broker, the
 *              reference the benchmark's figures are compared with;
 *   --read T   topic T from its beginning to the end it had at start, with
 *              a consumer set up like the timer's: the raw consume rate,
 *              the bound of the timer's ingest;
 *   --due N    N ExecutionDue records on <prefix>.executions.<queue>.<tier>,
 *              built as the timer builds them (emit_fire), key = job id:
 *              an executor driven without a timer;
 *   --pipe F T every record of topic F (read_committed, as the executor
 *              reads) produced to topic T, until all are acknowledged: the
 *              raw consume+produce rate, the executor's reference.
 *
 * The producer is klok's (idempotent, acks=all: sched_kafka_producer_new)
 * with large batches: what is measured is the broker and the timer, not the
 * generator's latency.  Errors go to stderr; the exit status is 0 only when
 * every record was acknowledged (or read).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "sched/codec.h"
#include "sched/event.h"
#include "sched/job_json.h"
#include "sched/kafka.h"
#include "sched/time.h"
#include "sched/uuid.h"

#define LG_DAY_MS (24 * 3600 * 1000LL)
/* Distinct records the --raw mode cycles through: enough that the keys
 * spread over the partitions as job ids do, few enough to build at once. */
#define LG_RAW_POOL 4096
/* A read that gets nothing for this long has lost its broker. */
#define LG_READ_STALL_MS 60000

typedef enum lg_mode_e {
        LG_COMMANDS,
        LG_RAW,
        LG_READ,
        LG_DUE,
        LG_PIPE
} lg_mode_t;

typedef struct lg_conf_s {
        lg_mode_t mode;
        const char *bootstrap;
        const char *prefix;
        const char *schemas_dir;
        const char *read_topic; /* --read, and --pipe's source */
        const char *pipe_to;    /* --pipe's destination */
        const char *task;       /* --due */
        bool high;              /* --due: the high tier */
        int64_t timeout_ms;     /* --due */
        int64_t rate;           /* records/s; 0 = as fast as it can */
        const char *job_prefix; /* NULL: fresh UUIDv7 job ids */
        const char *tenant;
        const char *queue;
        const char *compression;
        int64_t count;
        int64_t seed;
        int32_t partitions; /* 0: from the topic's metadata */
        int64_t due_start_ms;
        int64_t due_spread_ms;
        int linger_ms;
        int batch_bytes;
        bool quiet;
} lg_conf_t;

/* One option: the getopt entry and its line of --help, in one table. */
typedef struct lg_opt_s {
        const char *name;
        int has_arg;
        const char *arg;
        const char *doc;
} lg_opt_t;

static const lg_opt_t lg_opts[] = {
        {"bootstrap", 1, "HOST:PORT", "Kafka bootstrap servers (127.0.0.1:9092)"},
        {"prefix", 1, "P", "topic prefix (klok)"},
        {"count", 1, "N", "records to produce (1000000)"},
        {"partitions", 1, "N",
         "partition count (default: the topic's, from its metadata)"},
        {"seed", 1, "S",
         "first job number: due times and keys of job S, S+1, ... (0)"},
        {"job-prefix", 1, "STR",
         "ids from idempotency keys <STR><n> (default: UUIDv7)"},
        {"due-start-ms", 1, "MS", "start of the due window (now + 1 day)"},
        {"due-spread-ms", 1, "MS", "length of the due window (1 day)"},
        {"tenant", 1, "T", "tenant of the jobs (bench)"},
        {"queue", 1, "Q", "queue of the jobs (bench)"},
        {"schemas", 1, "DIR", "directory of klok's Avro schemas (schemas)"},
        {"compression", 1, "C", "none, lz4, zstd, ... (lz4)"},
        {"linger-ms", 1, "MS", "producer linger.ms (20)"},
        {"batch-bytes", 1, "B", "producer batch.size (1000000)"},
        {"raw", 0, NULL,
         "opaque records of the same sizes on <prefix>.bench-raw"},
        {"read", 1, "TOPIC", "read TOPIC to its end and report the rate"},
        {"due", 1, "N",
         "N ExecutionDue on <prefix>.executions.<queue>.<tier>"},
        {"tier", 1, "high|normal", "--due: the tier (normal)"},
        {"task", 1, "T", "--due: the task (noop)"},
        {"timeout-ms", 1, "MS", "--due: the execution's timeout (60000)"},
        {"rate", 1, "R",
         "produce R records/s, each at its instant (default: all at once)"},
        {"pipe", 1, "FROM TO",
         "consume FROM (read_committed), produce each record to TO"},
        {"quiet", 0, NULL, "no progress lines on stderr"},
        {"help", 0, NULL, "this text"},
};
#define LG_NOPTS (sizeof(lg_opts) / sizeof(lg_opts[0]))
/* getopt_long's value of option i: above every character getopt returns. */
#define LG_OPT_BASE 0x100

static void lg_usage(FILE *fp) {
        fprintf(fp, "usage: klok-loadgen [options]\n"
                    "  Produces CreateJob commands (default), opaque records "
                    "(--raw),\n  ExecutionDue records (--due), reads a "
                    "topic (--read) or pipes one into another (--pipe);\n"
                    "  prints one JSON line: mode, count, seconds, "
                    "records_per_s, bytes.\n");
        for (size_t i = 0; i < LG_NOPTS; i++) {
                char left[64];
                snprintf(left, sizeof(left), "--%s%s%s", lg_opts[i].name,
                         lg_opts[i].arg ? " " : "",
                         lg_opts[i].arg ? lg_opts[i].arg : "");
                fprintf(fp, "  %-26s %s\n", left, lg_opts[i].doc);
        }
}

/* A whole number from an option, or exit 2: a typo must not run a
 * benchmark with a default. */
static int64_t lg_int(const char *name, const char *s, int64_t min,
                      int64_t max) {
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || v < min || v > max) {
                fprintf(stderr, "klok-loadgen: --%s: want a number from %lld "
                                "to %lld, got \"%s\"\n",
                        name, (long long)min, (long long)max, s);
                exit(2);
        }
        return v;
}

static int lg_parse(lg_conf_t *c, int argc, char **argv) {
        struct option longopts[LG_NOPTS + 1];
        for (size_t i = 0; i < LG_NOPTS; i++)
                longopts[i] = (struct option){lg_opts[i].name,
                                              lg_opts[i].has_arg, NULL,
                                              LG_OPT_BASE + (int)i};
        longopts[LG_NOPTS] = (struct option){NULL, 0, NULL, 0};

        int64_t now = sched_now_ms();
        *c = (lg_conf_t){.mode = LG_COMMANDS,
                         .bootstrap = "127.0.0.1:9092",
                         .prefix = "klok",
                         .schemas_dir = "schemas",
                         .tenant = "bench",
                         .queue = "bench",
                         .compression = "lz4",
                         .task = "noop",
                         .timeout_ms = 60000,
                         .count = 1000000,
                         .due_start_ms = now + LG_DAY_MS,
                         .due_spread_ms = LG_DAY_MS,
                         .linger_ms = 20,
                         .batch_bytes = 1000000};
        int idx;
        while ((idx = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                idx -= LG_OPT_BASE; /* '?' (unknown option) lands below 0 */
                if (idx < 0 || (size_t)idx >= LG_NOPTS) {
                        lg_usage(stderr);
                        return 2;
                }
                const char *name = lg_opts[idx].name, *a = optarg;
                if (!strcmp(name, "bootstrap"))
                        c->bootstrap = a;
                else if (!strcmp(name, "prefix"))
                        c->prefix = a;
                else if (!strcmp(name, "count"))
                        c->count = lg_int(name, a, 1, INT64_MAX / 2);
                else if (!strcmp(name, "partitions"))
                        c->partitions = (int32_t)lg_int(name, a, 1, 100000);
                else if (!strcmp(name, "seed"))
                        c->seed = lg_int(name, a, 0, INT64_MAX / 2);
                else if (!strcmp(name, "job-prefix"))
                        c->job_prefix = a;
                else if (!strcmp(name, "due-start-ms"))
                        c->due_start_ms = lg_int(name, a, 0, INT64_MAX / 4);
                else if (!strcmp(name, "due-spread-ms"))
                        c->due_spread_ms = lg_int(name, a, 1, INT64_MAX / 4);
                else if (!strcmp(name, "tenant"))
                        c->tenant = a;
                else if (!strcmp(name, "queue"))
                        c->queue = a;
                else if (!strcmp(name, "schemas"))
                        c->schemas_dir = a;
                else if (!strcmp(name, "compression"))
                        c->compression = a;
                else if (!strcmp(name, "linger-ms"))
                        c->linger_ms = (int)lg_int(name, a, 0, 900000);
                else if (!strcmp(name, "batch-bytes"))
                        c->batch_bytes =
                                (int)lg_int(name, a, 1, 2147483647);
                else if (!strcmp(name, "raw"))
                        c->mode = LG_RAW;
                else if (!strcmp(name, "read")) {
                        c->mode = LG_READ;
                        c->read_topic = a;
                } else if (!strcmp(name, "due")) {
                        c->mode = LG_DUE;
                        c->count = lg_int(name, a, 1, INT64_MAX / 2);
                } else if (!strcmp(name, "tier")) {
                        if (strcmp(a, "high") && strcmp(a, "normal")) {
                                fprintf(stderr, "klok-loadgen: --tier: high "
                                                "or normal, got \"%s\"\n",
                                        a);
                                return 2;
                        }
                        c->high = !strcmp(a, "high");
                } else if (!strcmp(name, "task"))
                        c->task = a;
                else if (!strcmp(name, "timeout-ms"))
                        c->timeout_ms = lg_int(name, a, 1, INT64_MAX / 4);
                else if (!strcmp(name, "rate"))
                        c->rate = lg_int(name, a, 1, 10000000);
                else if (!strcmp(name, "pipe")) {
                        c->mode = LG_PIPE;
                        c->read_topic = a;
                } else if (!strcmp(name, "quiet"))
                        c->quiet = true;
                else {
                        lg_usage(stdout);
                        exit(0);
                }
        }
        /* --pipe FROM TO: TO is the one argument left (getopt_long moves
         * it behind the options). */
        if (c->mode == LG_PIPE && optind < argc)
                c->pipe_to = argv[optind++];
        if (c->mode == LG_PIPE && !c->pipe_to) {
                fprintf(stderr, "klok-loadgen: --pipe FROM TO: no TO\n");
                return 2;
        }
        if (optind < argc) {
                fprintf(stderr, "klok-loadgen: unexpected argument \"%s\"\n",
                        argv[optind]);
                return 2;
        }
        return 0;
}

/* --- Records ----------------------------------------------------------- */

/* SplitMix64's finalizer: due times of consecutive job numbers land all
 * over the window, as real jobs' would, so the due index is written in
 * random order rather than appended to. */
static uint64_t lg_mix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

/* The CreateJob of job number n, encoded; key = job id.  Built as
 * klok-api's POST /v1/jobs builds one ({"type": "at"}, task "noop",
 * parameters "{}"), minus the JSON.  *valp is malloc'd. */
static int lg_create_job(const lg_conf_t *c, const sched_codec_t *codec,
                         int64_t n, char key[SCHED_ID_MAX], void **valp,
                         size_t *vlenp) {
        sched_event_t ev;
        char errstr[256];
        int64_t now = sched_now_ms();

        sched_event_init(&ev, SCHED_EV_CREATE_JOB);
        sched_job_def_t *def = &ev.u.def;
        if (c->job_prefix)
                snprintf(def->idempotency_key, sizeof(def->idempotency_key),
                         "%s%" PRId64, c->job_prefix, n);
        sched_job_id_for(ev.job_id, c->tenant, def->idempotency_key, now);
        char uuid[SCHED_UUID_STR_MAX];
        sched_uuid_v7(uuid, now);
        memcpy(ev.event_id, uuid, sizeof(uuid));
        snprintf(ev.tenant, sizeof(ev.tenant), "%s", c->tenant);
        ev.ts_ms = now;
        snprintf(def->name, sizeof(def->name), "bench-%" PRId64, n);
        def->schedule.kind = SCHED_KIND_AT;
        def->schedule.at_ms =
                c->due_start_ms +
                (int64_t)(lg_mix((uint64_t)n) % (uint64_t)c->due_spread_ms);
        snprintf(def->task, sizeof(def->task), "noop");
        snprintf(def->queue, sizeof(def->queue), "%s", c->queue);
        if (sched_event_set_str(&def->parameters, "{}", SCHED_PARAMS_MAX) ||
            sched_codec_encode(codec, &ev, valp, vlenp, errstr,
                               sizeof(errstr))) {
                fprintf(stderr, "klok-loadgen: encode job %" PRId64 ": %s\n",
                        n, errstr);
                sched_event_clear(&ev);
                return -1;
        }
        memcpy(key, ev.job_id, SCHED_ID_MAX);
        sched_event_clear(&ev);
        return 0;
}

/* The ExecutionDue of job number n, encoded; key = job id.  Built as the
 * timer's emit_fire() builds one: execution id "<job_id>:<scheduled_ms>:1",
 * attempt 1, parameters "{}".  The job id "<job-prefix><tier>-<n>" names
 * the tier, so that status events say which tier a start was.  *valp is
 * malloc'd. */
static int lg_execution_due(const lg_conf_t *c, const sched_codec_t *codec,
                            int64_t n, char key[SCHED_ID_MAX], void **valp,
                            size_t *vlenp) {
        sched_event_t ev;
        char errstr[256];
        int64_t now = sched_now_ms();

        sched_event_init(&ev, SCHED_EV_EXECUTION_DUE);
        snprintf(ev.job_id, sizeof(ev.job_id), "%s%s-%" PRId64,
                 c->job_prefix ? c->job_prefix : "due-",
                 c->high ? "high" : "normal", n);
        char uuid[SCHED_UUID_STR_MAX];
        sched_uuid_v7(uuid, now);
        memcpy(ev.event_id, uuid, sizeof(uuid));
        snprintf(ev.tenant, sizeof(ev.tenant), "%s", c->tenant);
        ev.ts_ms = now;
        sched_exec_due_t *due = &ev.u.due;
        sched_execution_id(due->execution_id, ev.job_id, now, 1);
        due->attempt = 1;
        due->scheduled_ms = now;
        snprintf(due->task, sizeof(due->task), "%s", c->task);
        snprintf(due->queue, sizeof(due->queue), "%s", c->queue);
        due->priority = c->high ? SCHED_PRIO_HIGH : SCHED_PRIO_NORMAL;
        due->timeout_ms = c->timeout_ms;
        if (sched_event_set_str(&due->parameters, "{}", SCHED_PARAMS_MAX) ||
            sched_codec_encode(codec, &ev, valp, vlenp, errstr,
                               sizeof(errstr))) {
                fprintf(stderr, "klok-loadgen: encode due %" PRId64 ": %s\n",
                        n, errstr);
                sched_event_clear(&ev);
                return -1;
        }
        memcpy(key, ev.job_id, SCHED_ID_MAX);
        sched_event_clear(&ev);
        return 0;
}

/* --- Producing ------------------------------------------------------------ */

typedef struct lg_stats_s {
        int64_t acked, failed;
        rd_kafka_resp_err_t first_err;
} lg_stats_t;

/* @locality the thread calling rd_kafka_poll/flush (main). */
static void lg_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                           void *opaque) {
        lg_stats_t *st = opaque;
        if (rkm->err) {
                if (!st->failed++)
                        st->first_err = rkm->err;
        } else {
                st->acked++;
        }
}

static rd_kafka_t *lg_producer(const lg_conf_t *c, lg_stats_t *st) {
        char errstr[512], linger[16], batch[16];
        snprintf(linger, sizeof(linger), "%d", c->linger_ms);
        snprintf(batch, sizeof(batch), "%d", c->batch_bytes);
        /* batch.num.messages is raised so that batch.size is what closes
         * a batch; the queue holds a few seconds of records. */
        const char *extra[] = {"linger.ms", linger,
                               "batch.size", batch,
                               "batch.num.messages", "100000",
                               "compression.codec", c->compression,
                               "queue.buffering.max.messages", "500000",
                               NULL};
        rd_kafka_conf_t *conf = sched_kafka_conf(c->bootstrap, "klok-loadgen",
                                                 extra, errstr,
                                                 sizeof(errstr));
        if (!conf) {
                fprintf(stderr, "klok-loadgen: %s\n", errstr);
                return NULL;
        }
        rd_kafka_conf_set_opaque(conf, st);
        rd_kafka_conf_set_dr_msg_cb(conf, lg_on_delivery);
        rd_kafka_t *rk = sched_kafka_producer_new(conf, NULL, errstr,
                                                  sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                fprintf(stderr, "klok-loadgen: producer: %s\n", errstr);
        }
        return rk;
}

/* The partition count to route by: the topic's, or --partitions if it
 * agrees (a disagreeing count would put commands where the timer
 * dead-letters them). */
static int32_t lg_partitions(const lg_conf_t *c, rd_kafka_t *rk,
                             const char *topic) {
        int32_t have = sched_kafka_partition_count(rk, topic, 10000);
        if (have <= 0 && !c->partitions) {
                fprintf(stderr, "klok-loadgen: no metadata for topic %s "
                                "(does it exist?)\n",
                        topic);
                return -1;
        }
        if (have > 0 && c->partitions && have != c->partitions) {
                fprintf(stderr, "klok-loadgen: --partitions %d but %s has "
                                "%d partitions\n",
                        (int)c->partitions, topic, (int)have);
                return -1;
        }
        return have > 0 ? have : c->partitions;
}

/* Produce one record, waiting for room in the queue (serving delivery
 * reports meanwhile).  flags: RD_KAFKA_MSG_F_FREE for a malloc'd value,
 * 0 for one that outlives the flush. */
static int lg_send(rd_kafka_t *rk, const char *topic, int32_t partition,
                   const char *key, void *val, size_t vlen, int flags) {
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE(val, vlen), RD_KAFKA_V_MSGFLAGS(flags),
                        RD_KAFKA_V_END);
                if (!err)
                        return 0;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        fprintf(stderr, "klok-loadgen: produce: %s\n",
                                rd_kafka_err2str(err));
                        return -1;
                }
                rd_kafka_poll(rk, 10);
        }
}

typedef struct lg_rec_s {
        char key[SCHED_ID_MAX];
        int32_t partition;
        void *val;
        size_t vlen;
} lg_rec_t;

static void lg_progress(const lg_conf_t *c, int64_t done, int64_t t0) {
        if (c->quiet || done % 1000000)
                return;
        double s = (double)(sched_now_us() - t0) / 1e6;
        fprintf(stderr, "klok-loadgen: %" PRId64 " records, %.0f/s\n", done,
                s > 0 ? (double)done / s : 0.0);
}

static int lg_produce(const lg_conf_t *c, const sched_codec_t *codec) {
        char topic[SCHED_TOPIC_MAX];
        lg_stats_t st = {0};
        lg_rec_t *pool = NULL;
        size_t npool = 0;
        int rc = 1;
        if (c->mode == LG_DUE)
                sched_topic_executions(topic, sizeof(topic), c->prefix,
                                       c->queue, c->high);
        else
                sched_topic(topic, sizeof(topic), c->prefix,
                            c->mode == LG_RAW ? "bench-raw" : "commands");
        rd_kafka_t *rk = lg_producer(c, &st);
        if (!rk)
                return 1;
        int32_t nparts = lg_partitions(c, rk, topic);
        if (nparts <= 0) {
                rd_kafka_destroy(rk);
                return 1;
        }

        /* --raw: real CreateJobs built beforehand and sent over and over,
         * so the records have the commands' sizes and compressibility and
         * the generator spends no time per record. */
        if (c->mode == LG_RAW) {
                npool = c->count < LG_RAW_POOL ? (size_t)c->count
                                               : LG_RAW_POOL;
                if (!(pool = calloc(npool, sizeof(*pool)))) {
                        rd_kafka_destroy(rk);
                        return 1;
                }
                for (size_t i = 0; i < npool; i++) {
                        if (lg_create_job(c, codec, c->seed + (int64_t)i,
                                          pool[i].key, &pool[i].val,
                                          &pool[i].vlen)) {
                                npool = i;
                                goto out;
                        }
                        pool[i].partition = sched_partition_of(
                                pool[i].key, strlen(pool[i].key), nparts);
                }
        }

        int64_t bytes = 0, t0 = sched_now_us();
        for (int64_t i = 0; i < c->count; i++) {
                /* --rate: record i leaves at t0 + i/rate (its timestamp
                 * is its arrival time), delivery reports served while
                 * waiting. */
                int64_t wait_us;
                while (c->rate &&
                       (wait_us = t0 + i * 1000000 / c->rate -
                                  sched_now_us()) > 0)
                        rd_kafka_poll(rk, (int)(wait_us / 1000) + 1 > 100
                                                  ? 100
                                                  : (int)(wait_us / 1000));
                if (pool) {
                        lg_rec_t *r = &pool[(size_t)i % npool];
                        if (lg_send(rk, topic, r->partition, r->key, r->val,
                                    r->vlen, 0))
                                goto out;
                        bytes += (int64_t)(strlen(r->key) + r->vlen);
                } else {
                        char key[SCHED_ID_MAX];
                        void *val;
                        size_t vlen;
                        if ((c->mode == LG_DUE ? lg_execution_due
                                               : lg_create_job)(
                                    c, codec, c->seed + i, key, &val, &vlen))
                                goto out;
                        int32_t p = sched_partition_of(key, strlen(key),
                                                       nparts);
                        if (lg_send(rk, topic, p, key, val, vlen,
                                    RD_KAFKA_MSG_F_FREE)) {
                                free(val); /* F_FREE only on success */
                                goto out;
                        }
                        bytes += (int64_t)(strlen(key) + vlen);
                }
                if (!(i & 1023))
                        rd_kafka_poll(rk, 0);
                lg_progress(c, i + 1, t0);
        }
        while (rd_kafka_outq_len(rk) > 0 && !st.failed)
                rd_kafka_flush(rk, 1000);
        double s = (double)(sched_now_us() - t0) / 1e6;
        if (st.failed || st.acked != c->count) {
                fprintf(stderr, "klok-loadgen: %" PRId64 " of %" PRId64
                                " records acknowledged, %" PRId64
                                " failed (first: %s)\n",
                        st.acked, c->count, st.failed,
                        rd_kafka_err2str(st.first_err));
                goto out;
        }
        printf("{\"mode\":\"%s\",\"topic\":\"%s\",\"count\":%" PRId64
               ",\"seconds\":%.3f,\"records_per_s\":%.0f,\"bytes\":%" PRId64
               ",\"record_bytes\":%.1f,\"partitions\":%d,"
               "\"compression\":\"%s\",\"linger_ms\":%d,\"batch_bytes\":%d}\n",
               c->mode == LG_RAW   ? "raw"
               : c->mode == LG_DUE ? "due"
                                   : "commands",
               topic, c->count, s,
               (double)c->count / s, bytes, (double)bytes / (double)c->count,
               (int)nparts, c->compression, c->linger_ms, c->batch_bytes);
        rc = 0;
out:
        /* Purge first: a failed run must not wait out message.timeout.ms. */
        if (rc)
                rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE |
                                           RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(rk);
        for (size_t i = 0; i < npool; i++)
                free(pool[i].val);
        free(pool);
        return rc;
}

/* --- Reading ------------------------------------------------------------- */

/* The partitions of topic being read to the end they have now: *endp[p]
 * their high watermarks, *donep[p] those already read (empty), *leftp the
 * others, *wantp the records between.  Assigns them all from the
 * beginning.  The arrays are malloc'd, also on failure. */
static int lg_assign_all(const lg_conf_t *c, rd_kafka_t *rk,
                         const char *topic, int32_t *npartsp, int64_t **endp,
                         bool **donep, int32_t *leftp, int64_t *wantp) {
        int32_t nparts = lg_partitions(c, rk, topic);
        if (nparts <= 0 ||
            !(*endp = calloc((size_t)nparts, sizeof(**endp))) ||
            !(*donep = calloc((size_t)nparts, sizeof(**donep))))
                return -1;
        int64_t *end = *endp;
        bool *done = *donep;
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(nparts);
        *npartsp = nparts;
        *leftp = 0;
        *wantp = 0;
        for (int32_t p = 0; p < nparts; p++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        rk, topic, p, &lo, &hi, 10000);
                if (err) {
                        fprintf(stderr, "klok-loadgen: watermarks of %s [%d]: "
                                        "%s\n",
                                topic, (int)p, rd_kafka_err2str(err));
                        rd_kafka_topic_partition_list_destroy(parts);
                        return -1;
                }
                end[p] = hi;
                done[p] = hi <= lo;
                *leftp += !done[p];
                *wantp += hi - lo;
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (aerr) {
                fprintf(stderr, "klok-loadgen: assign: %s\n",
                        rd_kafka_err2str(aerr));
                return -1;
        }
        return 0;
}

/* A consumer with extra settings (NULL-terminated pairs); NULL after
 * saying why on stderr. */
static rd_kafka_t *lg_consumer(const lg_conf_t *c, const char **extra) {
        char errstr[512];
        rd_kafka_conf_t *conf = sched_kafka_conf(c->bootstrap, "klok-loadgen",
                                                 extra, errstr,
                                                 sizeof(errstr));
        rd_kafka_t *rk = conf ? sched_kafka_consumer_new(
                                        conf, "klok-loadgen-read", NULL,
                                        errstr, sizeof(errstr))
                              : NULL;
        if (!rk) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                fprintf(stderr, "klok-loadgen: consumer: %s\n", errstr);
        }
        return rk;
}

/* Account for one consumed message (record, EOF or error) of a read to
 * the ends in end[]: *leftp drops when a partition reaches its end.
 * Returns true for a record to use. */
static bool lg_consumed(const rd_kafka_message_t *rkm, int32_t nparts,
                        const int64_t *end, bool *done, int32_t *leftp) {
        int32_t p = rkm->partition;
        bool ours = p >= 0 && p < nparts;
        if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "klok-loadgen: consumer: %s\n",
                        rd_kafka_message_errstr(rkm));
        /* EOF or the last record: past transaction markers the offset may
         * jump, so >= rather than ==. */
        int64_t next = rkm->err ? rkm->offset : rkm->offset + 1;
        if (ours && !done[p] && next >= end[p]) {
                done[p] = true;
                (*leftp)--;
        }
        return !rkm->err;
}

/* True (with a message) when nothing was read for LG_READ_STALL_MS since
 * last_ms: the reader gives up instead of waiting forever. */
static bool lg_stalled(int64_t last_ms, int64_t n, int64_t want) {
        if (sched_mono_ms() - last_ms <= LG_READ_STALL_MS)
                return false;
        fprintf(stderr,
                "klok-loadgen: nothing read for %d s; %" PRId64 " of %" PRId64
                "\n",
                LG_READ_STALL_MS / 1000, n, want);
        return true;
}

/* Read the topic from the beginning to the end offsets it had at start,
 * with the timer's consumer settings (read_committed, fetch.wait.max.ms
 * 10, one rd_kafka_consumer_poll per record). */
static int lg_read(const lg_conf_t *c) {
        const char *topic = c->read_topic;
        const char *extra[] = {"fetch.wait.max.ms", "10", NULL};
        rd_kafka_t *rk = lg_consumer(c, extra);
        if (!rk)
                return 1;
        int rc = 1;
        int64_t *end = NULL, want = 0;
        bool *done = NULL;
        int32_t nparts = 0, left = 0;
        if (lg_assign_all(c, rk, topic, &nparts, &end, &done, &left, &want))
                goto out;
        int64_t t0 = sched_now_us(), n = 0, bytes = 0;
        int64_t last_ms = sched_mono_ms();
        while (left > 0) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 1000);
                if (!rkm) {
                        if (lg_stalled(last_ms, n, want))
                                goto out;
                        continue;
                }
                last_ms = sched_mono_ms();
                if (lg_consumed(rkm, nparts, end, done, &left)) {
                        n++;
                        bytes += (int64_t)(rkm->key_len + rkm->len);
                        lg_progress(c, n, t0);
                }
                rd_kafka_message_destroy(rkm);
        }
        double s = (double)(sched_now_us() - t0) / 1e6;
        printf("{\"mode\":\"read\",\"topic\":\"%s\",\"count\":%" PRId64
               ",\"seconds\":%.3f,\"records_per_s\":%.0f,\"bytes\":%" PRId64
               ",\"partitions\":%d}\n",
               topic, n, s, s > 0 ? (double)n / s : 0.0, bytes, (int)nparts);
        rc = 0;
out:
        free(end);
        free(done);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

/* --- Piping --------------------------------------------------------------- */

/* Every record topic FROM had at start, consumed with the executor's
 * consumer settings (read_committed, fetch.wait.max.ms 10,
 * queued.max.messages.kbytes 4096) and produced, key and value, to the same
 * partition number of TO (modulo its count) by klok's producer
 * (idempotent, acks=all); timed from the assignment until the last one is
 * acknowledged.  This is all an executor's no-op task could cost the
 * broker: one record in, one record out. */
static int lg_pipe(const lg_conf_t *c) {
        const char *from = c->read_topic, *to = c->pipe_to;
        const char *extra[] = {"fetch.wait.max.ms", "10",
                               "queued.max.messages.kbytes", "4096", NULL};
        lg_stats_t st = {0};
        rd_kafka_t *rk = lg_consumer(c, extra);
        if (!rk)
                return 1;
        rd_kafka_t *prod = lg_producer(c, &st);
        int rc = 1;
        int64_t *end = NULL, want = 0;
        bool *done = NULL;
        int32_t nparts = 0, left = 0, nto = 0;
        if (!prod || (nto = sched_kafka_partition_count(prod, to, 10000)) <= 0) {
                if (prod)
                        fprintf(stderr, "klok-loadgen: no metadata for topic "
                                        "%s (does it exist?)\n",
                                to);
                goto out;
        }
        if (lg_assign_all(c, rk, from, &nparts, &end, &done, &left, &want))
                goto out;
        int64_t t0 = sched_now_us(), n = 0, bytes = 0;
        int64_t last_ms = sched_mono_ms();
        while (left > 0) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
                rd_kafka_poll(prod, 0);
                if (!rkm) {
                        if (lg_stalled(last_ms, n, want))
                                goto out;
                        continue;
                }
                last_ms = sched_mono_ms();
                if (lg_consumed(rkm, nparts, end, done, &left)) {
                        rd_kafka_resp_err_t err;
                        while ((err = rd_kafka_producev(
                                        prod, RD_KAFKA_V_TOPIC(to),
                                        RD_KAFKA_V_PARTITION(rkm->partition %
                                                             nto),
                                        RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
                                        RD_KAFKA_V_VALUE(rkm->payload,
                                                         rkm->len),
                                        RD_KAFKA_V_MSGFLAGS(
                                                RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) ==
                               RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(prod, 10);
                        if (err) {
                                fprintf(stderr, "klok-loadgen: produce: %s\n",
                                        rd_kafka_err2str(err));
                                rd_kafka_message_destroy(rkm);
                                goto out;
                        }
                        n++;
                        bytes += (int64_t)(rkm->key_len + rkm->len);
                        lg_progress(c, n, t0);
                }
                rd_kafka_message_destroy(rkm);
        }
        while (rd_kafka_outq_len(prod) > 0 && !st.failed)
                rd_kafka_flush(prod, 1000);
        double s = (double)(sched_now_us() - t0) / 1e6;
        if (st.failed || st.acked != n) {
                fprintf(stderr, "klok-loadgen: %" PRId64 " of %" PRId64
                                " records acknowledged, %" PRId64
                                " failed (first: %s)\n",
                        st.acked, n, st.failed,
                        rd_kafka_err2str(st.first_err));
                goto out;
        }
        printf("{\"mode\":\"pipe\",\"from\":\"%s\",\"to\":\"%s\",\"count\":%"
               PRId64 ",\"seconds\":%.3f,\"records_per_s\":%.0f,\"bytes\":%"
               PRId64 ",\"partitions\":%d,\"compression\":\"%s\","
               "\"linger_ms\":%d}\n",
               from, to, n, s, s > 0 ? (double)n / s : 0.0, bytes,
               (int)nparts, c->compression, c->linger_ms);
        rc = 0;
out:
        if (prod) {
                if (rc)
                        rd_kafka_purge(prod, RD_KAFKA_PURGE_F_QUEUE |
                                                     RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_destroy(prod);
        }
        free(end);
        free(done);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

int main(int argc, char **argv) {
        lg_conf_t c;
        char errstr[512];
        int rc = lg_parse(&c, argc, argv);
        if (rc)
                return rc;
        if (c.mode == LG_READ)
                return lg_read(&c);
        if (c.mode == LG_PIPE)
                return lg_pipe(&c);
        sched_codec_t *codec = sched_codec_new(c.schemas_dir, errstr,
                                               sizeof(errstr));
        if (!codec) {
                fprintf(stderr, "klok-loadgen: schemas: %s\n", errstr);
                return 1;
        }
        rc = lg_produce(&c, codec);
        sched_codec_destroy(codec);
        return rc;
}
