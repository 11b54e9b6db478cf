/*
 * klok-timer — the partitioned timer service.
 *
 * Reads <p>.commands and <p>.status (co-partitioned, eager range assignor),
 * keeps job state in RocksDB through the appliers, and fires due
 * occurrences exactly once (due_checker.c).  The loop waits for the next
 * due time or new input, whichever comes first; it never sleeps blindly.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/config.h"
#include "sched/log.h"
#include "sched/time.h"
#include "sched/timer_state.h"
#include "timer_int.h"

#define P(...) SCHED_CONF_FIELD(tmr_conf_t, __VA_ARGS__)

static const sched_conf_prop_t tmr_props[] = {
        SCHED_CONF_COMMON(tmr_conf_t),
        P("data.dir", SCHED_CONF_STR, data_dir, "var/timer",
          "RocksDB directory of this instance", 0, 0),
        P("group.id", SCHED_CONF_STR, group_id, "klok-timer",
          "consumer group of the timer instances", 0, 0),
        P("instance.id", SCHED_CONF_STR, instance_id, "0",
          "stable id of this instance, unique in the group (transactional.id "
          "= group.id-instance.id)",
          0, 0),
        SCHED_CONF_ADMIN(tmr_conf_t),
        P("fire.batch.max", SCHED_CONF_INT, fire_batch_max, "2000",
          "most occurrences fired in one transaction", 1, 100000),
        P("fire.lanes", SCHED_CONF_INT, fire_lanes, "3",
          "transactional producers that commit in turn, so firing goes on "
          "while a commit is in progress",
          1, 8),
        P("apply.threads", SCHED_CONF_INT, apply_threads, "2",
          "threads applying a large intake batch, each to its own share of "
          "the partitions (catch-up, rebuild)",
          1, TMR_APPLY_THREADS_MAX),
        P("txn.timeout.ms", SCHED_CONF_INT, txn_timeout_ms, "10000",
          "transaction timeout; a commit not done by then stops the service",
          1000, 900000),
        SCHED_CONF_END,
};

static volatile sig_atomic_t running = 1;

static void on_signal(int sig) {
        (void)sig;
        running = 0;
}

void tmr_publish_partitions(tmr_t *t) {
        int64_t owned = 0, restored = 0;
        for (int32_t p = 0; p < t->nparts; p++) {
                owned += t->parts[p].owned;
                restored += t->parts[p].owned && t->parts[p].restored;
        }
        sched_metric_set(t->m.owned, owned);
        sched_metric_set(t->m.restored, restored);
}

/* /readyz: some partitions owned and every owned one restored.  Runs on
 * the admin thread: reads only the atomic gauges. */
static const char *tmr_ready(void *opaque) {
        tmr_t *t = opaque;
        int64_t owned = sched_metric_get(t->m.owned);
        if (owned == 0)
                return "no partitions assigned yet";
        if (sched_metric_get(t->m.restored) < owned)
                return "restoring partitions from the topics";
        return NULL;
}

/* A query parameter in [0, max]; -1 when absent or not such a number. */
static long tmr_arg(const sched_admin_req_t *req, const char *name,
                    long max) {
        const char *arg = sched_admin_arg(req, name);
        char *end = NULL;
        long v = arg && *arg ? strtol(arg, &end, 10) : -1;
        return end && !*end && v >= 0 && v <= max ? v : -1;
}

static char *tmr_bad_arg(unsigned *status, const char *field, long max) {
        char *out = malloc(160);
        if (!out)
                return NULL;
        *status = 400;
        snprintf(out, 160,
                 "{\"error\":\"invalid_field\",\"field\":\"%s\","
                 "\"message\":\"a %s from 0 to %ld\"}",
                 field, field, max);
        return out;
}

/* GET /digest?partition=N: the partition's state digest (sched/digest.h:
 * sha256, rows per section, 256 bucket hashes) and the offsets it stands
 * for; with &bucket=K the rows of that bucket instead (what `klokctl
 * rebuild --verify` compares).  Admin thread: reads a store snapshot and
 * fields fixed at start. */
static char *tmr_route(void *opaque, const char *path,
                       const sched_admin_req_t *req, unsigned *status) {
        tmr_t *t = opaque;
        if (strcmp(path, "/digest"))
                return NULL;
        long p = tmr_arg(req, "partition", (long)t->nparts - 1);
        if (p < 0)
                return tmr_bad_arg(status, "partition", (long)t->nparts - 1);
        long bucket = -1;
        if (sched_admin_arg(req, "bucket") &&
            (bucket = tmr_arg(req, "bucket", SCHED_DIGEST_BUCKETS - 1)) < 0)
                return tmr_bad_arg(status, "bucket",
                                   SCHED_DIGEST_BUCKETS - 1);
        sched_digest_set_t set;
        sched_timer_digest_set(&set, (int32_t)p, t->nparts);
        char *out = NULL;
        if (bucket >= 0) {
                sched_digest_bucket_json(t->store, &set, (int)bucket, &out);
        } else {
                sched_digest_t d;
                if (!sched_digest_compute(t->store, &set, t->t_commands,
                                          t->t_status, &d))
                        out = sched_digest_json(&d);
        }
        return out; /* NULL (out of memory): 404, the caller retries */
}

static void tmr_metrics_init(tmr_t *t) {
        sched_metrics_t *m = t->metrics = sched_metrics_new();
        t->m.applied = sched_metrics_counter(
                m, "klok_timer_records_applied_total",
                "Command and status records applied to the store", NULL);
        t->m.fired = sched_metrics_counter(
                m, "klok_timer_fired_total",
                "Occurrences fired in committed transactions", NULL);
        t->m.dead_lettered = sched_metrics_counter(
                m, "klok_timer_dead_lettered_total",
                "Records sent to the dead-letter topic", NULL);
        t->m.commits = sched_metrics_counter(
                m, "klok_timer_transactions_total",
                "Firing transactions by outcome", "outcome=\"committed\"");
        t->m.aborts = sched_metrics_counter(
                m, "klok_timer_transactions_total",
                "Firing transactions by outcome", "outcome=\"aborted\"");
        t->m.inflight = sched_metrics_gauge(
                m, "klok_timer_inflight",
                "Fired occurrences whose FIRED event is not applied yet",
                NULL);
        t->m.owned = sched_metrics_gauge(m, "klok_timer_partitions",
                                         "Partitions by state",
                                         "state=\"owned\"");
        t->m.restored = sched_metrics_gauge(m, "klok_timer_partitions",
                                            "Partitions by state",
                                            "state=\"restored\"");
        t->m.lateness = sched_metrics_histogram(
                m, "klok_timer_firing_lateness_ms",
                "ExecutionDue produced minus due time, milliseconds", NULL,
                sched_latency_ms_bounds, sched_latency_ms_nbounds);
        t->m.commit_ms = sched_metrics_histogram(
                m, "klok_timer_commit_ms",
                "Duration of a firing transaction's commit, milliseconds",
                NULL, sched_latency_ms_bounds, sched_latency_ms_nbounds);
}

static int tmr_start(tmr_t *t, char *errstr, size_t errstr_size) {
        char client_id[256], txn_id[256];
        snprintf(client_id, sizeof(client_id), "klok-timer-%s",
                 t->conf.instance_id);
        snprintf(txn_id, sizeof(txn_id), "%s-%s", t->conf.group_id,
                 t->conf.instance_id);
        sched_topic(t->t_commands, sizeof(t->t_commands), t->conf.common.prefix,
                    "commands");
        sched_topic(t->t_status, sizeof(t->t_status), t->conf.common.prefix,
                    "status");
        sched_topic(t->t_dlq, sizeof(t->t_dlq), t->conf.common.prefix, "dlq");

        tmr_metrics_init(t);
        if (!(t->admin = sched_admin_start(t->conf.admin.addr,
                                           (int)t->conf.admin.port,
                                           t->metrics, tmr_ready, tmr_route,
                                           t, errstr, errstr_size)))
                return -1;
        if (!(t->codec = sched_codec_new(t->conf.common.schemas_dir, errstr,
                                         errstr_size)))
                return -1;
        if (!(t->store = sched_store_open(t->conf.data_dir, errstr,
                                          errstr_size)))
                return -1;
        for (int i = 0; i < TMR_APPLY_THREADS_MAX; i++)
                t->batches[i] = sched_batch_new();
        t->inflight = sched_strset_new();
        t->topics = sched_topic_cache_new();

        rd_kafka_conf_t *conf;
        conf = sched_kafka_conf(t->conf.common.bootstrap, client_id, NULL, errstr,
                                errstr_size);
        if (!conf || !(t->dlq_producer = sched_kafka_producer_new(
                               conf, NULL, errstr, errstr_size)))
                return -1;

        /* The consumer: range assignor keeps partition k of commands and
         * status together; fetch small waits for low latency. */
        /* Static membership (group.instance.id): a restarted instance
         * takes its partitions back at once instead of waiting for the
         * group to time the old member out; the previous incarnation is
         * fenced (FENCED_INSTANCE_ID). */
        /* The prefetch queue bounded at 16 MiB (64 by default): memory
         * stays within budget however far behind the consumer is. */
        const char *cconf[] = {"fetch.wait.max.ms", "10",
                               "queued.max.messages.kbytes", "16384",
                               "session.timeout.ms", "10000",
                               "heartbeat.interval.ms", "1000",
                               "group.instance.id", txn_id, NULL};
        conf = sched_kafka_conf(t->conf.common.bootstrap, client_id, cconf, errstr,
                                errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_rebalance_cb(conf, tmr_rebalance_cb);
        rd_kafka_conf_set_opaque(conf, t);
        if (!(t->consumer = sched_kafka_consumer_new(
                      conf, t->conf.group_id, "range", errstr, errstr_size)))
                return -1;
        t->consumer_q = rd_kafka_queue_get_consumer(t->consumer);

        /* Partition counts: commands and status must agree. */
        int32_t nc = -1, ns = -1;
        for (int64_t deadline = sched_mono_ms() + 30000;
             running && sched_mono_ms() < deadline;) {
                nc = sched_kafka_partition_count(t->consumer, t->t_commands,
                                                 5000);
                ns = sched_kafka_partition_count(t->consumer, t->t_status,
                                                 5000);
                if (nc > 0 && ns > 0)
                        break;
        }
        if (nc <= 0 || ns <= 0 || nc != ns) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_KAFKA,
                             "topics %s (%d partitions) and %s (%d) must "
                             "exist with the same partition count",
                             t->t_commands, (int)nc, t->t_status, (int)ns);
                return -1;
        }
        t->nparts = nc;
        t->parts = calloc((size_t)nc, sizeof(*t->parts));

        /* The firing lanes; init_transactions of each also fences and
         * aborts whatever a previous incarnation left open. */
        for (t->nlanes = 0; t->nlanes < t->conf.fire_lanes; t->nlanes++)
                if (!(t->lanes[t->nlanes] =
                              tmr_lane_new(t, t->nlanes, errstr, errstr_size)))
                        return -1;
        rd_kafka_topic_partition_list_t *topics =
                rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(topics, t->t_commands,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(topics, t->t_status,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(t->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_KAFKA,
                             "subscribe: %s", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

static void tmr_stop(tmr_t *t) {
        sched_admin_stop(t->admin);
        if (tmr_lanes_drain(t) && t->hung) {
                sched_error("timer", "a commit hung while stopping: exiting "
                                     "without a graceful stop");
                _exit(1);
        }
        if (t->consumer_q)
                rd_kafka_queue_destroy(t->consumer_q);
        if (t->consumer) {
                rd_kafka_consumer_close(t->consumer);
                rd_kafka_destroy(t->consumer);
        }
        for (int i = 0; i < t->nlanes; i++)
                tmr_lane_destroy(t->lanes[i]);
        if (t->dlq_producer) {
                rd_kafka_flush(t->dlq_producer, 5000);
                rd_kafka_destroy(t->dlq_producer);
        }
        sched_strset_destroy(t->inflight);
        sched_topic_cache_destroy(t->topics);
        for (int i = 0; i < TMR_APPLY_THREADS_MAX; i++)
                sched_batch_destroy(t->batches[i]);
        sched_store_close(t->store);
        sched_codec_destroy(t->codec);
        free(t->parts);
        sched_metrics_destroy(t->metrics);
}

/* How long the loop may wait for input before the next due time. */
static int wait_ms(const tmr_t *t, int64_t next_due_ms, int64_t now_ms) {
        bool owned = false;
        for (int32_t p = 0; p < t->nparts; p++) {
                if (t->parts[p].owned && !t->parts[p].restored)
                        return 50; /* restoring: fire as soon as done */
                owned |= t->parts[p].owned;
        }
        if (!owned)
                return 50; /* joining: the assignment may come any moment */
        if (next_due_ms == SCHED_NONE)
                return 1000;
        int64_t d = next_due_ms - now_ms;
        return d <= 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

int main(int argc, char **argv) {
        static tmr_t t;
        char errstr[1024];

        if (sched_conf_from_args(tmr_props, &t.conf, argc, argv, NULL, NULL,
                                 errstr, sizeof(errstr))) {
                if (errstr[0])
                        fprintf(stderr, "klok-timer: %s\n", errstr);
                return errstr[0] ? 2 : 0;
        }
        if (sched_log_set_level(t.conf.common.log_level)) {
                fprintf(stderr, "klok-timer: log.level: unknown level \"%s\"\n",
                        t.conf.common.log_level);
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGPIPE, SIG_IGN);

        if (tmr_start(&t, errstr, sizeof(errstr))) {
                sched_error("timer", "start: %s", errstr);
                tmr_stop(&t);
                return 1;
        }
        sched_info("timer", "started: instance %s, %d partitions, store %s",
                   t.conf.instance_id, (int)t.nparts, t.conf.data_dir);

        int rc = 0;
        int64_t next_due = SCHED_NONE, last_report = sched_mono_ms();
        while (running) {
                int64_t now = sched_now_ms();
                if (tmr_intake(&t, wait_ms(&t, next_due, now), next_due) <
                    0) {
                        rc = 1;
                        break;
                }
                if (t.fatal ||
                    tmr_fire_due(&t, sched_now_ms(), &next_due) < 0) {
                        rc = 1;
                        break;
                }
                if (sched_mono_ms() - last_report >= 10000) {
                        last_report = sched_mono_ms();
                        sched_info("timer",
                                   "applied %llu, fired %llu, commits %llu, "
                                   "aborts %llu, dead-lettered %llu, "
                                   "in flight %zu",
                                   (unsigned long long)sched_metric_get(
                                           t.m.applied),
                                   (unsigned long long)sched_metric_get(
                                           t.m.fired),
                                   (unsigned long long)sched_metric_get(
                                           t.m.commits),
                                   (unsigned long long)sched_metric_get(
                                           t.m.aborts),
                                   (unsigned long long)sched_metric_get(
                                           t.m.dead_lettered),
                                   sched_strset_count(t.inflight));
                }
        }
        if (t.hung) {
                /* A lane thread is stuck inside librdkafka: a graceful stop
                 * would wait for it forever.  Nothing is lost: the restart
                 * restores from the store and the topics. */
                sched_error("timer", "exiting without a graceful stop");
                _exit(1);
        }
        sched_info("timer", "stopping");
        tmr_stop(&t);
        return rc;
}
