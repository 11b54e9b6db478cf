/*
 * klok-executor — runs due executions of the tasks registered in its
 * config, and writes their lifecycle to the status topic.
 *
 * The main thread consumes <p>.executions.<queue>.<high|normal> for every
 * queue it serves, hands each ExecutionDue to the worker pool, pauses
 * fetching while every slot is taken, and commits offsets only for
 * executions whose outcome Kafka acknowledged.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "sched/config.h"
#include "sched/log.h"
#include "sched/time.h"

#define P(...) SCHED_CONF_FIELD(exe_conf_t, __VA_ARGS__)

static const sched_conf_prop_t exe_props[] = {
        SCHED_CONF_COMMON(exe_conf_t),
        P("data.dir", SCHED_CONF_STR, data_dir, "var/executor",
          "RocksDB directory: execution ids this executor completed", 0, 0),
        P("queues", SCHED_CONF_STR, queues, "default",
          "comma-separated queues this executor serves", 0, 0),
        P("group.id", SCHED_CONF_STR, group_id, "klok-executor",
          "consumer group of this executor pool", 0, 0),
        SCHED_CONF_ADMIN(exe_conf_t),
        P("concurrency", SCHED_CONF_INT, concurrency, "4",
          "tasks run at once", 1, 1024),
        P("buffer.max", SCHED_CONF_INT, buffer_max, "1024",
          "executions fetched and not finished before fetching pauses "
          "(resumes at three quarters)",
          1, 1000000),
        P("output.max", SCHED_CONF_INT, output_max, "4096",
          "bytes of task output kept in the status event", 0,
          SCHED_OUTPUT_MAX - 1),
        P("kill.grace.ms", SCHED_CONF_INT, kill_grace_ms, "2000",
          "after a timeout, SIGTERM then SIGKILL after this long", 0, 60000),
        P("heartbeat.ms", SCHED_CONF_INT, heartbeat_ms, "3000",
          "HEARTBEAT period of running tasks; the visibility deadline is "
          "three periods ahead",
          100, 600000),
        P("shutdown.grace.ms", SCHED_CONF_INT, shutdown_grace_ms, "30000",
          "on SIGTERM, how long running tasks may still finish before they "
          "are stopped and reported abandoned (retryable)",
          0, 3600000),
        P("priority.normal.share", SCHED_CONF_INT, normal_share, "20",
          "percent of task starts kept for the normal tier while the high "
          "tier is saturated too",
          0, 100),
        SCHED_CONF_END,
};

static volatile sig_atomic_t running = 1;

static void on_signal(int sig) {
        (void)sig;
        running = 0;
}

static void commit_done(exe_t *exe, bool sync) {
        rd_kafka_topic_partition_list_t *offsets = exe_committable(exe);
        if (!offsets)
                return;
        rd_kafka_resp_err_t err =
                rd_kafka_commit(exe->consumer, offsets, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                sched_warn("executor", "commit: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offsets);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
        exe_t *exe = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                rd_kafka_assign(rk, parts);
                sched_metric_set(exe->m.partitions, parts->cnt);
                return;
        }
        sched_metric_set(exe->m.partitions, 0);
        /* Commit what finished; the rest is re-delivered to the new owner
         * (at-least-once; the execution id is the idempotency key). */
        commit_done(exe, true);
        rd_kafka_assign(rk, NULL);
}

static int subscribe(exe_t *exe, char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *topics =
                rd_kafka_topic_partition_list_new(4);
        char queues[sizeof(exe->conf.queues)], *save = NULL;
        memcpy(queues, exe->conf.queues, sizeof(queues));
        for (char *q = strtok_r(queues, ", ", &save); q;
             q = strtok_r(NULL, ", ", &save)) {
                char topic[SCHED_TOPIC_MAX];
                for (int high = 1; high >= 0; high--) {
                        sched_topic_executions(topic, sizeof(topic),
                                               exe->conf.common.prefix, q, high);
                        rd_kafka_topic_partition_list_add(
                                topics, topic, RD_KAFKA_PARTITION_UA);
                }
        }
        rd_kafka_resp_err_t err = rd_kafka_subscribe(exe->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_KAFKA,
                             "subscribe: %s", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* /readyz, on the admin thread: reads only atomic gauges. */
static const char *exe_ready(void *opaque) {
        exe_t *exe = opaque;
        return sched_metric_get(exe->m.partitions) > 0
                       ? NULL
                       : "no partitions assigned (group joining, or more "
                         "executors than partitions)";
}

static void exe_metrics_init(exe_t *exe) {
        sched_metrics_t *m = exe->metrics = sched_metrics_new();
        const char *h = "Executions run, by outcome";
        exe->m.succeeded = sched_metrics_counter(
                m, "klok_executor_executions_total", h,
                "outcome=\"succeeded\"");
        exe->m.failed = sched_metrics_counter(
                m, "klok_executor_executions_total", h, "outcome=\"failed\"");
        exe->m.duplicates = sched_metrics_counter(
                m, "klok_executor_duplicates_total",
                "Deliveries of execution ids already completed (not run)",
                NULL);
        exe->m.dead_lettered = sched_metrics_counter(
                m, "klok_executor_dead_lettered_total",
                "Undecodable records sent to the dead-letter topic", NULL);
        exe->m.busy = sched_metrics_gauge(m, "klok_executor_busy",
                                          "Executions dispatched, not done",
                                          NULL);
        exe->m.partitions = sched_metrics_gauge(
                m, "klok_executor_partitions", "Partitions assigned", NULL);
        exe->m.run_ms = sched_metrics_histogram(
                m, "klok_executor_run_ms",
                "From dispatch to acknowledged outcome, milliseconds", NULL,
                sched_latency_ms_bounds, sched_latency_ms_nbounds);
}

static int exe_start(exe_t *exe, char *errstr, size_t errstr_size) {
        exe_metrics_init(exe);
        if (!(exe->admin = sched_admin_start(
                      exe->conf.admin.addr, (int)exe->conf.admin.port,
                      exe->metrics, exe_ready, NULL, exe, errstr,
                      errstr_size)))
                return -1;
        sched_topic(exe->t_status, sizeof(exe->t_status), exe->conf.common.prefix,
                    "status");
        sched_topic(exe->t_dlq, sizeof(exe->t_dlq), exe->conf.common.prefix, "dlq");
        if (!(exe->codec = sched_codec_new(exe->conf.common.schemas_dir, errstr,
                                           errstr_size)))
                return -1;
        if (!(exe->store = sched_store_open(exe->conf.data_dir, errstr,
                                            errstr_size)))
                return -1;
        const char *pconf[] = {"linger.ms", "2", NULL};
        rd_kafka_conf_t *conf = sched_kafka_conf(
                exe->conf.common.bootstrap, "klok-executor", pconf, errstr,
                errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_dr_msg_cb(conf, exe_dr_cb);
        rd_kafka_conf_set_opaque(conf, exe);
        if (!(exe->producer = sched_kafka_producer_new(conf, NULL, errstr,
                                                       errstr_size)))
                return -1;
        /* A crashed executor's partitions move to the others after 10 s
         * (librdkafka's default is 45 s). */
        const char *cconf[] = {"fetch.wait.max.ms", "10",
                               "queued.max.messages.kbytes", "4096",
                               "session.timeout.ms", "10000",
                               "heartbeat.interval.ms", "1000", NULL};
        conf = sched_kafka_conf(exe->conf.common.bootstrap, "klok-executor", cconf,
                                errstr, errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_opaque(conf, exe);
        if (!(exe->consumer = sched_kafka_consumer_new(
                      conf, exe->conf.group_id, NULL, errstr, errstr_size)))
                return -1;
        if (exe_workers_start(exe)) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "cannot start worker threads");
                return -1;
        }
        return subscribe(exe, errstr, errstr_size);
}

/* Turn one consumed record into a job for the pool.  A record that cannot
 * be decoded is dead-lettered and counts as done at once. */
static exe_job_t *job_from_message(exe_t *exe, const rd_kafka_message_t *rkm) {
        exe_job_t *job = calloc(1, sizeof(*job));
        if (!job)
                return NULL;
        snprintf(job->topic, sizeof(job->topic), "%s",
                 rd_kafka_topic_name(rkm->rkt));
        job->partition = rkm->partition;
        job->offset = rkm->offset;
        size_t tlen = strlen(job->topic);
        job->high = tlen > 5 && !strcmp(job->topic + tlen - 5, ".high");
        char errstr[512];
        sched_err_t err = sched_codec_decode(exe->codec, rkm->payload,
                                             rkm->len, &job->ev, errstr,
                                             sizeof(errstr));
        if (!err && job->ev.type != SCHED_EV_EXECUTION_DUE) {
                snprintf(errstr, sizeof(errstr), "%s record on topic %s",
                         sched_ev_type2str(job->ev.type), job->topic);
                sched_event_clear(&job->ev);
                err = SCHED_ERR_DECODE;
        }
        if (!err) {
                char *val;
                const char *id = job->ev.u.due.execution_id;
                if (sched_store_get(exe->store, NULL, SCHED_CF_EXEC_DONE, id,
                                    strlen(id), &val, NULL) == SCHED_ERR_OK) {
                        sched_warn("executor",
                                   "%s was already completed (%s); not "
                                   "running it again",
                                   id, val[0] == 'S' ? "succeeded" : "failed");
                        free(val);
                        sched_metric_add(exe->m.duplicates, 1);
                        job->done = true;
                }
        }
        if (err) {
                job->ev.type = 0;
                sched_warn("executor", "dead-lettering %s [%d] @%lld: %s",
                           job->topic, (int)job->partition,
                           (long long)job->offset, errstr);
                sched_kafka_dlq(exe->producer, exe->t_dlq, rkm, errstr);
                sched_metric_add(exe->m.dead_lettered, 1);
                job->done = true;
        }
        return job;
}

/* Pause or resume fetching from one tier's topics (high: *.high). */
static void set_paused(exe_t *exe, int tier, bool pause) {
        rd_kafka_topic_partition_list_t *assigned = NULL, *tier_parts;
        if (rd_kafka_assignment(exe->consumer, &assigned))
                return;
        tier_parts = rd_kafka_topic_partition_list_new(assigned->cnt);
        for (int i = 0; i < assigned->cnt; i++) {
                const char *t = assigned->elems[i].topic;
                size_t len = strlen(t);
                bool high = len > 5 && !strcmp(t + len - 5, ".high");
                if (high == (tier == 1))
                        rd_kafka_topic_partition_list_add(
                                tier_parts, t, assigned->elems[i].partition);
        }
        if (pause)
                rd_kafka_pause_partitions(exe->consumer, tier_parts);
        else
                rd_kafka_resume_partitions(exe->consumer, tier_parts);
        rd_kafka_topic_partition_list_destroy(tier_parts);
        rd_kafka_topic_partition_list_destroy(assigned);
}

/* SIGTERM: fetch nothing more and start nothing more; running tasks get
 * shutdown.grace.ms to finish, then are stopped and reported abandoned
 * (a retryable failure: the timer retries them); executions fetched and
 * not started keep their offsets uncommitted, so another executor of the
 * group gets them. */
static void drain(exe_t *exe) {
        set_paused(exe, 0, true);
        set_paused(exe, 1, true);
        pthread_mutex_lock(&exe->lock);
        exe->stopping = true;
        pthread_cond_broadcast(&exe->work_cond);
        pthread_mutex_unlock(&exe->lock);
        int n = exe_running(exe);
        sched_info("executor", "stopping: %d running task(s) may finish "
                               "within %lld ms",
                   n, (long long)exe->conf.shutdown_grace_ms);
        int64_t end = sched_mono_ms() + exe->conf.shutdown_grace_ms;
        while ((n = exe_running(exe)) > 0 && sched_mono_ms() < end) {
                /* Keep serving the group (and the commits) meanwhile. */
                rd_kafka_message_t *rkm =
                        rd_kafka_consumer_poll(exe->consumer, 50);
                if (rkm)
                        rd_kafka_message_destroy(rkm); /* not started */
                commit_done(exe, false);
        }
        if (n > 0) {
                sched_warn("executor", "grace period over: stopping %d "
                                       "task(s), reported abandoned",
                           n);
                atomic_store(&exe->abandon, true);
        }
}

int main(int argc, char **argv) {
        static exe_t exe;
        char errstr[1024];

        if (sched_conf_from_args(exe_props, &exe.conf, argc, argv,
                                 exe_task_conf_cb, &exe.conf, errstr,
                                 sizeof(errstr))) {
                if (errstr[0])
                        fprintf(stderr, "klok-executor: %s\n", errstr);
                return errstr[0] ? 2 : 0;
        }
        /* Every task complete for its kind (url, topic, argv...). */
        if (exe_tasks_start(&exe.conf, errstr, sizeof(errstr))) {
                fprintf(stderr, "klok-executor: %s\n", errstr);
                return 2;
        }
        if (sched_log_set_level(exe.conf.common.log_level)) {
                fprintf(stderr, "klok-executor: unknown log.level \"%s\"\n",
                        exe.conf.common.log_level);
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGPIPE, SIG_IGN);

        if (exe_start(&exe, errstr, sizeof(errstr))) {
                sched_error("executor", "start: %s", errstr);
                return 1;
        }
        sched_info("executor", "started: queues %s, %d tasks, concurrency %d",
                   exe.conf.queues, exe.conf.ntasks,
                   (int)exe.conf.concurrency);

        bool paused[2] = {false, false};
        int64_t last_commit = sched_mono_ms(), last_report = last_commit;
        /* Pausing is for real backlogs only: librdkafka 2.0.2 resumes
         * fetching ~1 s after rd_kafka_resume_partitions(), so the buffer
         * must hold enough work to cover that second.  Each tier has its
         * own: a backlog of normal work never stops high work from being
         * fetched. */
        const int high_water = (int)exe.conf.buffer_max;
        const int low_water = high_water - high_water / 4;
        while (running) {
                rd_kafka_message_t *rkm =
                        rd_kafka_consumer_poll(exe.consumer, 50);
                if (rkm) {
                        if (rkm->err) {
                                if (rkm->err !=
                                    RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        sched_warn("executor", "consumer: %s",
                                                   rd_kafka_message_errstr(
                                                           rkm));
                        } else {
                                exe_job_t *job = job_from_message(&exe, rkm);
                                if (job)
                                        exe_dispatch(&exe, job);
                        }
                        rd_kafka_message_destroy(rkm);
                }
                pthread_mutex_lock(&exe.lock);
                int busy = exe.busy;
                int queued[2] = {exe.queued[0], exe.queued[1]};
                pthread_mutex_unlock(&exe.lock);
                sched_metric_set(exe.m.busy, busy);
                /* Backpressure, per tier: stop fetching while its queue is
                 * full; memory stays flat under any backlog. */
                for (int tier = 0; tier < 2; tier++) {
                        if (!paused[tier] && queued[tier] >= high_water) {
                                set_paused(&exe, tier, true);
                                paused[tier] = true;
                        } else if (paused[tier] &&
                                   queued[tier] < low_water) {
                                set_paused(&exe, tier, false);
                                paused[tier] = false;
                        }
                }
                int64_t now = sched_mono_ms();
                if (now - last_commit >= 100) {
                        commit_done(&exe, false);
                        last_commit = now;
                }
                if (now - last_report >= 10000) {
                        last_report = now;
                        sched_info("executor", "succeeded %lld, failed %lld",
                                   (long long)sched_metric_get(
                                           exe.m.succeeded),
                                   (long long)sched_metric_get(exe.m.failed));
                }
        }
        drain(&exe);
        exe_workers_stop(&exe);
        commit_done(&exe, true);
        rd_kafka_consumer_close(exe.consumer);
        rd_kafka_destroy(exe.consumer);
        exe_kafka_sinks_stop(&exe);
        rd_kafka_destroy(exe.producer);
        sched_codec_destroy(exe.codec);
        sched_store_close(exe.store);
        exe_tasks_free(&exe.conf);
        sched_admin_stop(exe.admin);
        sched_metrics_destroy(exe.metrics);
        sched_info("executor", "stopped");
        return 0;
}
