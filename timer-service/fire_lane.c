/*
 * fire_lane.c — transactional producers that commit off the main thread.
 *
 * A Kafka transaction's commit takes a few to tens of milliseconds (the
 * broker writes markers to every partition involved).  With one producer,
 * everything that comes due during a commit waits for it, and that wait is
 * firing lateness.  So the timer keeps a few lanes, each a transactional
 * producer (transactional.id "<group>-<instance>-<lane>") with a thread of
 * its own: the main thread begins a transaction on an idle lane, produces
 * the due events into it, and hands it over; the lane's thread sends the
 * consumer offsets (zombie fencing) and commits, while the main thread goes
 * on firing on another lane.
 *
 * @locality: lanes are filled and reaped by the main thread only; a lane's
 * thread touches only its own lane, under lane->lock.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/log.h"
#include "sched/time.h"
#include "sched/timer_state.h"
#include "timer_int.h"

struct tmr_lane_s {
        tmr_t *t;
        int index;
        rd_kafka_t *producer;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        tmr_lane_state_t state;
        bool stop;
        /* Handed over for the commit. */
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_consumer_group_metadata_t *cgmd;
        bool must_abort;
        int64_t handed_ms; /* monotonic time of the hand-over */
        int result; /* 0 committed, 1 aborted, -1 fatal */
        /* In-flight keys this transaction added, forgotten if aborted. */
        char (*keys)[SCHED_DUE_KEY_STR_MAX];
        int nkeys, nfire;
};

/* Abort the open transaction: 1, or -1 if even that failed. */
static int lane_abort(tmr_lane_t *lane) {
        rd_kafka_error_t *error = rd_kafka_abort_transaction(
                lane->producer, (int)lane->t->conf.txn_timeout_ms);
        if (error) {
                sched_error("timer", "lane %d: abort: %s", lane->index,
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                return -1;
        }
        sched_metric_add(lane->t->m.aborts, 1);
        return 1;
}

/* Send the offsets and commit.  0 committed, 1 aborted, -1 fatal. */
static int lane_commit(tmr_lane_t *lane) {
        tmr_t *t = lane->t;
        if (lane->must_abort)
                return lane_abort(lane);
        rd_kafka_error_t *error = NULL;
        if (lane->offsets && lane->offsets->cnt > 0 && lane->cgmd)
                error = rd_kafka_send_offsets_to_transaction(
                        lane->producer, lane->offsets, lane->cgmd,
                        (int)t->conf.txn_timeout_ms);
        if (!error)
                error = rd_kafka_commit_transaction(
                        lane->producer, (int)t->conf.txn_timeout_ms);
        if (!error) {
                sched_metric_add(t->m.commits, 1);
                return 0;
        }
        sched_warn("timer", "lane %d: transaction commit: %s", lane->index,
                   rd_kafka_error_string(error));
        bool abortable = rd_kafka_error_txn_requires_abort(error);
        bool fatal = rd_kafka_error_is_fatal(error);
        rd_kafka_error_destroy(error);
        if (fatal || !abortable) {
                /* Fenced, or a timeout whose outcome is unknown: the only
                 * safe move is to stop and let a restart restore. */
                return -1;
        }
        return lane_abort(lane);
}

static void *lane_main(void *arg) {
        tmr_lane_t *lane = arg;
        pthread_mutex_lock(&lane->lock);
        for (;;) {
                while (lane->state != TMR_LANE_COMMITTING && !lane->stop)
                        pthread_cond_wait(&lane->cond, &lane->lock);
                if (lane->state != TMR_LANE_COMMITTING)
                        break; /* stop, nothing handed over */
                pthread_mutex_unlock(&lane->lock);
                int64_t t0 = sched_mono_ms();
                int result = lane_commit(lane);
                sched_metric_observe(lane->t->m.commit_ms,
                                     (double)(sched_mono_ms() - t0));
                pthread_mutex_lock(&lane->lock);
                lane->result = result;
                lane->state = TMR_LANE_DONE;
                pthread_cond_broadcast(&lane->cond);
                /* Wake the main loop out of its poll to reap the lane now
                 * (it may wait up to a second when nothing is due). */
                if (lane->t->consumer_q)
                        rd_kafka_queue_yield(lane->t->consumer_q);
        }
        pthread_mutex_unlock(&lane->lock);
        return NULL;
}

tmr_lane_t *tmr_lane_new(tmr_t *t, int index, char *errstr,
                         size_t errstr_size) {
        char client_id[256], txn_id[256], txn_timeout[32];
        snprintf(client_id, sizeof(client_id), "klok-timer-%s-%d",
                 t->conf.instance_id, index);
        snprintf(txn_id, sizeof(txn_id), "%s-%s-%d", t->conf.group_id,
                 t->conf.instance_id, index);
        snprintf(txn_timeout, sizeof(txn_timeout), "%lld",
                 (long long)t->conf.txn_timeout_ms);
        /* retry.backoff.ms: a transaction begun right after a commit meets
         * CONCURRENT_TRANSACTIONS while the broker writes the markers;
         * librdkafka's default 100 ms back-off would add that to firing
         * lateness. */
        const char *pconf[] = {"linger.ms", "1", "transaction.timeout.ms",
                               txn_timeout, "retry.backoff.ms", "5", NULL};
        rd_kafka_conf_t *conf = sched_kafka_conf(
                t->conf.common.bootstrap, client_id, pconf, errstr, errstr_size);
        if (!conf)
                return NULL;
        tmr_lane_t *lane = calloc(1, sizeof(*lane));
        if (!lane ||
            !(lane->keys = malloc((size_t)t->conf.fire_batch_max *
                                  sizeof(*lane->keys)))) {
                free(lane);
                rd_kafka_conf_destroy(conf);
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM, "lane");
                return NULL;
        }
        lane->t = t;
        lane->index = index;
        if (!(lane->producer = sched_kafka_producer_new(conf, txn_id, errstr,
                                                        errstr_size))) {
                free(lane->keys);
                free(lane);
                return NULL;
        }
        rd_kafka_error_t *error =
                rd_kafka_init_transactions(lane->producer, 30000);
        if (error) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_KAFKA,
                             "init_transactions (%s): %s", txn_id,
                             rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                rd_kafka_destroy(lane->producer);
                free(lane->keys);
                free(lane);
                return NULL;
        }
        pthread_mutex_init(&lane->lock, NULL);
        pthread_cond_init(&lane->cond, NULL);
        lane->state = TMR_LANE_IDLE;
        pthread_create(&lane->thread, NULL, lane_main, lane);
        return lane;
}

void tmr_lane_destroy(tmr_lane_t *lane) {
        if (!lane)
                return;
        pthread_mutex_lock(&lane->lock);
        while (lane->state == TMR_LANE_COMMITTING)
                pthread_cond_wait(&lane->cond, &lane->lock);
        lane->stop = true;
        pthread_cond_broadcast(&lane->cond);
        pthread_mutex_unlock(&lane->lock);
        pthread_join(lane->thread, NULL);
        if (lane->state == TMR_LANE_FILLING) /* never handed over */
                lane_abort(lane);
        rd_kafka_flush(lane->producer, 5000);
        rd_kafka_destroy(lane->producer);
        pthread_mutex_destroy(&lane->lock);
        pthread_cond_destroy(&lane->cond);
        free(lane->keys);
        free(lane);
}

rd_kafka_t *tmr_lane_producer(tmr_lane_t *lane) {
        return lane->producer;
}

tmr_lane_state_t tmr_lane_state(tmr_lane_t *lane) {
        pthread_mutex_lock(&lane->lock);
        tmr_lane_state_t st = lane->state;
        pthread_mutex_unlock(&lane->lock);
        return st;
}

int tmr_lane_begin(tmr_lane_t *lane) {
        rd_kafka_error_t *error = rd_kafka_begin_transaction(lane->producer);
        if (error) {
                sched_error("timer", "lane %d: begin: %s", lane->index,
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                return -1;
        }
        lane->nkeys = lane->nfire = 0;
        lane->must_abort = false;
        pthread_mutex_lock(&lane->lock);
        lane->state = TMR_LANE_FILLING;
        pthread_mutex_unlock(&lane->lock);
        return 0;
}

void tmr_lane_add(tmr_lane_t *lane, const char *key, bool firing) {
        if (lane->nkeys < lane->t->conf.fire_batch_max)
                snprintf(lane->keys[lane->nkeys++], sizeof(lane->keys[0]),
                         "%s", key);
        lane->nfire += firing;
}

int tmr_lane_count(tmr_lane_t *lane) {
        return lane->nkeys;
}

void tmr_lane_hand_over(tmr_lane_t *lane,
                        rd_kafka_topic_partition_list_t *offsets,
                        rd_kafka_consumer_group_metadata_t *cgmd,
                        bool must_abort) {
        pthread_mutex_lock(&lane->lock);
        lane->offsets = offsets;
        lane->cgmd = cgmd;
        lane->must_abort = must_abort;
        lane->handed_ms = sched_mono_ms();
        lane->state = TMR_LANE_COMMITTING;
        pthread_cond_broadcast(&lane->cond);
        pthread_mutex_unlock(&lane->lock);
}

int tmr_lane_reap(tmr_lane_t *lane, bool wait) {
        tmr_t *t = lane->t;
        const int64_t limit_ms = 2 * t->conf.txn_timeout_ms;
        pthread_mutex_lock(&lane->lock);
        while (wait && lane->state == TMR_LANE_COMMITTING &&
               sched_mono_ms() - lane->handed_ms <= limit_ms) {
                /* Bounded: the watchdog below must get its turn. */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 100 * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&lane->cond, &lane->lock, &until);
        }
        if (lane->state == TMR_LANE_COMMITTING &&
            sched_mono_ms() - lane->handed_ms > limit_ms) {
                /* Watchdog: librdkafka can ignore its own timeout when the
                 * coordinator is gone (#5456).  The outcome is unknown, so
                 * the only safe move is a restart, which restores. */
                pthread_mutex_unlock(&lane->lock);
                t->hung = true;
                sched_error("timer", "lane %d: commit hung for %lld ms; "
                                     "stopping",
                            lane->index,
                            (long long)(sched_mono_ms() - lane->handed_ms));
                return -1;
        }
        if (lane->state != TMR_LANE_DONE) {
                pthread_mutex_unlock(&lane->lock);
                return 0;
        }
        int result = lane->result;
        lane->state = TMR_LANE_IDLE;
        pthread_mutex_unlock(&lane->lock);
        if (lane->offsets)
                rd_kafka_topic_partition_list_destroy(lane->offsets);
        if (lane->cgmd)
                rd_kafka_consumer_group_metadata_destroy(lane->cgmd);
        lane->offsets = NULL;
        lane->cgmd = NULL;
        if (result == 0) {
                sched_metric_add(t->m.fired, (uint64_t)lane->nfire);
                return 0;
        }
        /* Aborted: nothing of it happened; the entries fire again. */
        for (int i = 0; i < lane->nkeys; i++)
                sched_strset_del(t->inflight, lane->keys[i]);
        return result < 0 ? -1 : 1;
}
