/*
 * exec_int.h — the executor's private types.
 *
 * Threads: the main thread owns the consumer (poll, dispatch, pause/resume,
 * offset commits); `concurrency` worker threads run tasks; the producer is
 * polled by its own thread, where delivery callbacks run.  Shared state
 * (the work queue and the in-flight list) is under exe->lock.
 */
#ifndef EXEC_INT_H
#define EXEC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sched/codec.h"
#include "sched/config.h"
#include "sched/event.h"
#include "sched/admin.h"
#include "sched/kafka.h"
#include "sched/metrics.h"
#include "sched/store.h"

#include "task.h"

typedef struct exe_conf_s {
        sched_conf_common_t common;
        char data_dir[1024];
        char queues[512];
        char group_id[128];
        sched_conf_admin_t admin;
        int64_t concurrency;
        int64_t output_max;
        int64_t buffer_max;
        int64_t kill_grace_ms;
        exe_task_t tasks[EXE_TASKS_MAX];
        int ntasks;
} exe_conf_t;

/** One consumed ExecutionDue, from dispatch to committed offset. */
typedef struct exe_job_s {
        struct exe_job_s *next_inflight; /* dispatch order, all jobs */
        struct exe_job_s *next_queued;   /* work queue */
        char topic[SCHED_TOPIC_MAX];
        int32_t partition;
        int64_t offset;
        sched_event_t ev; /* decoded ExecutionDue; type 0 = undecodable */
        bool done;        /* outcome acknowledged (or nothing to run) */
        /* Outcome delivery, waited for by the worker. */
        pthread_mutex_t dr_lock;
        pthread_cond_t dr_cond;
        bool dr_done;
        rd_kafka_resp_err_t dr_err;
} exe_job_t;

typedef struct exe_s {
        exe_conf_t conf;
        sched_codec_t *codec;
        sched_store_t *store; /* EXEC_DONE: completed execution ids */
        rd_kafka_t *consumer;
        rd_kafka_t *producer;
        char t_status[SCHED_TOPIC_MAX];
        char t_dlq[SCHED_TOPIC_MAX];

        pthread_mutex_t lock;
        pthread_cond_t work_cond;
        exe_job_t *queue_head, *queue_tail; /* waiting for a worker */
        exe_job_t *inflight_head, *inflight_tail;
        int busy; /* dispatched and not yet done */
        bool stopping;
        pthread_t *workers;
        pthread_t poller;
        volatile bool poller_run;
        sched_metrics_t *metrics;
        sched_admin_t *admin;
        struct {
                sched_metric_t *succeeded, *failed, *duplicates,
                        *dead_lettered, *busy,
                        *partitions, *run_ms;
        } m;
} exe_t;


/* worker.c */
int exe_workers_start(exe_t *exe);
void exe_workers_stop(exe_t *exe);
void exe_dispatch(exe_t *exe, exe_job_t *job);
/** Offsets safe to commit (all earlier ones done); frees done jobs.
 *  NULL when there is nothing new. */
rd_kafka_topic_partition_list_t *exe_committable(exe_t *exe);
void exe_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

#endif /* EXEC_INT_H */
