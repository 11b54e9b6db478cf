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
#include <stdatomic.h>
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
        int64_t heartbeat_ms;      /* HEARTBEAT period of running tasks */
        int64_t shutdown_grace_ms; /* SIGTERM: running tasks' last chance */
        int64_t normal_share;      /* % of starts kept for normal when
                                    * high is saturated too */
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
        bool high;        /* from the queue's high-priority topic */
        bool done;        /* outcome acknowledged (or nothing to run) */
        char outcome;     /* 'S' / 'F' once run; 0: nothing was run */
        bool recorded;    /* its id is in the completed-ids batch */
        /* The outcome event while Kafka has it (under dr_lock): its
         * delivery report marks the job done, so the worker goes on to
         * the next task meanwhile; the copy is for a re-send. */
        bool outcome_pending;
        void *outcome_buf;
        size_t outcome_len;
        /* Under exe->lock: set by its worker while the task runs. */
        bool running;
        int64_t started_ms; /* wall clock, at STARTED */
        /* A kafka task's record, whose delivery its runner waits for
         * (runner_kafka.c); also guards outcome_pending. */
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
        /* Waiting for a worker, per tier: [1] high, [0] normal. */
        exe_job_t *queue_head[2], *queue_tail[2];
        int queued[2];
        /* Starts per tier while both tiers waited (decaying), for the
         * normal tier's minimum share. */
        int64_t contended[2];
        exe_job_t *inflight_head, *inflight_tail;
        int busy; /* dispatched and not yet done */
        bool stopping; /* workers: start nothing more, then exit */
        int running;   /* tasks running now */
        atomic_bool abandon; /* the shutdown grace passed: stop tasks */
        pthread_t *workers;
        pthread_t heartbeat;
        pthread_cond_t heartbeat_cond;
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
/** A runner's report of progress (0-100) with an optional message: a
 *  PROGRESS event, which also moves the visibility deadline.  Any thread,
 *  does not block. */
void exe_progress(exe_t *exe, exe_job_t *job, int pct, const char *message);
/** Tasks running now (for the shutdown wait). */
int exe_running(exe_t *exe);

#endif /* EXEC_INT_H */
