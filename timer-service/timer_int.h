/*
 * timer_int.h — the timer service's private types.
 *
 * One thread owns everything here: it polls the consumer, applies what it
 * reads through the appliers (sched/timer_state.h), and fires what is due
 * inside Kafka transactions (due_checker.c).  Rebalance callbacks run on the
 * same thread, inside rd_kafka_consumer_poll().
 */
#ifndef TIMER_INT_H
#define TIMER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sched/codec.h"
#include "sched/config.h"
#include "sched/admin.h"
#include "sched/kafka.h"
#include "sched/metrics.h"
#include "sched/store.h"
#include "sched/strset.h"

typedef struct tmr_conf_s {
        sched_conf_common_t common;
        char data_dir[1024];
        char group_id[128];
        char instance_id[64];
        sched_conf_admin_t admin;
        int64_t fire_batch_max;
        int64_t fire_lanes;
        int64_t txn_timeout_ms;
        int64_t apply_threads;
} tmr_conf_t;

#define TMR_APPLY_THREADS_MAX 4
/* How long the due checker waits for the broker to say whether a queue's
 * topic exists (once per topic; sched/kafka.h's cache). */
#define TMR_TOPIC_CHECK_MS 2000

/** What this instance knows of one partition (of commands and status). */
typedef struct tmr_part_s {
        bool owned;
        bool restored;         /* read both topics to their end at assign */
        int64_t target_cmd;    /* end offsets seen at assignment */
        int64_t target_status;
        int64_t next_cmd;      /* next offset to read */
        int64_t next_status;
        int64_t low_ms;        /* due scan lower bound: nothing below */
        int64_t cursor_ms;     /* entries before it were acted on and are
                                * in flight (or stale): the next scan
                                * starts here; SCHED_NONE: at low_ms */
        unsigned char staged;  /* TMR_STAGED_*: positions the batch moved */
} tmr_part_t;

#define TMR_STAGED_COMMANDS 1
#define TMR_STAGED_STATUS 2

typedef struct tmr_lane_s tmr_lane_t;

typedef enum tmr_lane_state_e {
        TMR_LANE_IDLE,       /* free for the next transaction */
        TMR_LANE_FILLING,    /* main thread producing into it */
        TMR_LANE_COMMITTING, /* its thread commits */
        TMR_LANE_DONE,       /* committed or aborted; main thread reaps */
} tmr_lane_state_t;

#define TMR_LANES_MAX 8

typedef struct tmr_s {
        tmr_conf_t conf;
        sched_codec_t *codec;
        sched_store_t *store;
        sched_batch_t *batches[TMR_APPLY_THREADS_MAX]; /* one per applier */
        sched_topic_cache_t *topics; /* executions topics that exist */
        rd_kafka_t *consumer;
        rd_kafka_queue_t *consumer_q; /* to wake the main loop's poll */
        tmr_lane_t *lanes[TMR_LANES_MAX]; /* transactional producers */
        int nlanes;
        bool fatal; /* a transaction failed where it could not be handled */
        bool hung;  /* a commit outlived its timeout: exit without draining */
        rd_kafka_t *dlq_producer; /* idempotent: dead letters */
        char t_commands[SCHED_TOPIC_MAX];
        char t_status[SCHED_TOPIC_MAX];
        char t_dlq[SCHED_TOPIC_MAX];
        int32_t nparts;
        tmr_part_t *parts;
        sched_strset_t *inflight; /* execution ids fired, FIRED not back */
        sched_metrics_t *metrics;
        sched_admin_t *admin;
        struct {
                sched_metric_t *applied, *fired, *dead_lettered, *commits,
                        *aborts, *inflight, *owned, *restored, *lateness,
                        *commit_ms;
        } m;
} tmr_t;

/** Publish owned/restored partition counts (for /readyz and metrics). */
void tmr_publish_partitions(tmr_t *t);

/* intake.c */
void tmr_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
/** Poll for up to timeout_ms (returns at the first record), drain what is
 *  ready — but no longer than until_ms (the next due time; SCHED_NONE: no
 *  limit) — apply it and write one batch.  Returns records applied or -1
 *  on a fatal store error. */
int tmr_intake(tmr_t *t, int timeout_ms, int64_t until_ms);

/* fire_lane.c */
tmr_lane_t *tmr_lane_new(tmr_t *t, int index, char *errstr,
                         size_t errstr_size);
/** Waits for a commit in progress, aborts an unfinished transaction. */
void tmr_lane_destroy(tmr_lane_t *lane);
rd_kafka_t *tmr_lane_producer(tmr_lane_t *lane);
tmr_lane_state_t tmr_lane_state(tmr_lane_t *lane);
int tmr_lane_begin(tmr_lane_t *lane);
/** Record an in-flight key the open transaction added. */
void tmr_lane_add(tmr_lane_t *lane, const char *key, bool firing);
int tmr_lane_count(tmr_lane_t *lane);
/** Give the filled transaction to the lane's thread to commit (or abort
 *  when must_abort); the lane owns offsets and cgmd from here. */
void tmr_lane_hand_over(tmr_lane_t *lane,
                        rd_kafka_topic_partition_list_t *offsets,
                        rd_kafka_consumer_group_metadata_t *cgmd,
                        bool must_abort);
/** Collect a finished transaction (waiting for it with wait): 0 nothing
 *  or committed, 1 aborted (its keys are forgotten, so it fires again),
 *  -1 fatal. */
int tmr_lane_reap(tmr_lane_t *lane, bool wait);
/** Wait for every lane to finish: before partitions are given up. */
int tmr_lanes_drain(tmr_t *t);

/* due_checker.c */
/** Fire every due occurrence of restored partitions (bounded per call).
 *  *next_due_ms gets the next due time still pending (or SCHED_NONE).
 *  Returns the number fired, or -1 on a fatal Kafka error. */
int tmr_fire_due(tmr_t *t, int64_t now_ms, int64_t *next_due_ms);

#endif /* TIMER_INT_H */
