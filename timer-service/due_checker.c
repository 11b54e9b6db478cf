/*
 * due_checker.c — acts on due entries, exactly once.
 *
 * For every restored partition this instance owns, walk the due index from
 * the partition's lower bound up to now.  Each due entry becomes events in
 * ONE Kafka transaction per pass:
 *   'F' an ExecutionDue on its queue's executions topic + FIRED — or, for
 *       a recurring job's occurrence that its misfire or overlap policy
 *       keeps from running, SKIPPED or BUFFERED,
 *   'A' the same for the next attempt of a recurring job's execution,
 *   'V' TIMED_OUT (the running execution missed its visibility deadline),
 *   'D' RETRY_SCHEDULED, or DEAD_LETTERED + a record on the dead-letter topic.
 * The checker changes no state: an entry leaves the index when its event is
 * read back and applied (intake.c).  Until then its in-flight key
 * ("<kind>|<execution id>") sits in t->inflight so it is not acted on twice
 * by this instance; after a crash, the restore to the end of the status
 * partition brings the events back before anything is emitted.  The
 * consumer group metadata in each transaction fences a zombie that lost its
 * partitions.
 */
#include <stdlib.h>
#include <string.h>

#include "sched/log.h"
#include "sched/time.h"
#include "sched/timer_state.h"
#include "timer_int.h"

/* Deterministic event id of a timer-written event: "t" + 16 hex digits of a
 * hash of the execution id and the event kind. */
static void timer_event_id(char out[SCHED_ID_MAX], const char *exec_id,
                           const char *kind) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *s = exec_id; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        for (const char *s = kind; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        snprintf(out, SCHED_ID_MAX, "t%016llx", (unsigned long long)h);
}

static rd_kafka_resp_err_t produce_event(tmr_t *t, rd_kafka_t *rk,
                                         const char *topic,
                                         int32_t partition,
                                         const sched_event_t *ev) {
        void *buf;
        size_t len;
        char errstr[256];
        if (sched_codec_encode(t->codec, ev, &buf, &len, errstr,
                               sizeof(errstr))) {
                sched_error("timer", "encode %s for %s: %s",
                            sched_ev_type2str(ev->type), ev->job_id, errstr);
                return RD_KAFKA_RESP_ERR__BAD_MSG;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_KEY(ev->job_id, strlen(ev->job_id)),
                RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (err)
                free(buf);
        return err;
}

/* The header every timer-written status event shares. */
static void status_init(sched_event_t *ev, const sched_timer_job_t *job,
                        sched_status_t status, const char *exec_id,
                        int64_t occ_ms, int32_t attempt, int64_t now_ms) {
        sched_event_init(ev, SCHED_EV_STATUS);
        timer_event_id(ev->event_id, exec_id, sched_status2str(status));
        memcpy(ev->job_id, job->def.job_id, sizeof(ev->job_id));
        memcpy(ev->tenant, job->def.tenant, sizeof(ev->tenant));
        ev->ts_ms = now_ms;
        ev->u.status.status = status;
        sched_strlcpy(ev->u.status.execution_id, exec_id,
                      sizeof(ev->u.status.execution_id));
        ev->u.status.attempt = attempt;
        ev->u.status.scheduled_ms = occ_ms;
}

/* 'F', 'A': ExecutionDue on the job's queue + FIRED on its status
 * partition. */
static rd_kafka_resp_err_t emit_fire(tmr_t *t, rd_kafka_t *rk,
                                     const sched_timer_job_t *job,
                                     const sched_timer_action_t *act,
                                     int64_t now_ms) {
        const char *exec_id = act->exec_id;
        const sched_job_def_t *def = &job->def.u.def;
        sched_event_t due, fired;
        char topic[SCHED_TOPIC_MAX];

        sched_event_init(&due, SCHED_EV_EXECUTION_DUE);
        timer_event_id(due.event_id, exec_id, "DUE");
        memcpy(due.job_id, job->def.job_id, sizeof(due.job_id));
        memcpy(due.tenant, job->def.tenant, sizeof(due.tenant));
        due.ts_ms = now_ms;
        memcpy(due.u.due.execution_id, exec_id, SCHED_EXEC_ID_MAX);
        due.u.due.attempt = act->attempt;
        due.u.due.scheduled_ms = act->occ_ms;
        memcpy(due.u.due.task, def->task, sizeof(due.u.due.task));
        due.u.due.parameters = def->parameters; /* borrowed */
        memcpy(due.u.due.queue, def->queue, sizeof(due.u.due.queue));
        due.u.due.priority = def->priority;
        due.u.due.timeout_ms = def->timeout_ms;
        const char *queue = def->queue[0] ? def->queue : "default";
        sched_topic_executions(topic, sizeof(topic), t->conf.common.prefix,
                               queue, def->priority == SCHED_PRIO_HIGH);
        /* A queue nobody serves (its topic does not exist: a job written
         * to Kafka directly, or a topic deleted since): the execution
         * fails for good, with the reason, instead of failing the whole
         * transaction.  No answer from the broker: produce as usual. */
        bool unserved = sched_topic_cache_check(t->topics, rk, topic,
                                                TMR_TOPIC_CHECK_MS) == 0;
        rd_kafka_resp_err_t err =
                unserved ? RD_KAFKA_RESP_ERR_NO_ERROR
                         : produce_event(t, rk, topic, RD_KAFKA_PARTITION_UA,
                                         &due);
        due.u.due.parameters = NULL;
        if (err)
                return err;
        status_init(&fired, job, SCHED_STATUS_FIRED, exec_id, act->occ_ms,
                    act->attempt, now_ms);
        err = produce_event(t, rk, t->t_status, job->partition, &fired);
        if (err || !unserved)
                return err;
        sched_event_t failed;
        char msg[SCHED_TOPIC_MAX + 128];
        status_init(&failed, job, SCHED_STATUS_FAILED, exec_id, act->occ_ms,
                    act->attempt, now_ms);
        failed.u.status.retryable = false;
        snprintf(msg, sizeof(msg),
                 "queue \"%s\" is not served: topic %s does not exist", queue,
                 topic);
        sched_event_set_str(&failed.u.status.message, msg, SCHED_MESSAGE_MAX);
        err = produce_event(t, rk, t->t_status, job->partition, &failed);
        sched_event_clear(&failed);
        return err;
}

/* 'F' of a recurring job that is not run now: SKIPPED or BUFFERED, with
 * the policy that says so. */
static rd_kafka_resp_err_t emit_not_fired(tmr_t *t, rd_kafka_t *rk,
                                          const sched_timer_job_t *job,
                                          const sched_timer_action_t *act,
                                          int64_t now_ms) {
        sched_event_t ev;
        status_init(&ev, job,
                    act->act == SCHED_ACT_SKIP ? SCHED_STATUS_SKIPPED
                                               : SCHED_STATUS_BUFFERED,
                    act->exec_id, act->occ_ms, act->attempt, now_ms);
        sched_event_set_str(&ev.u.status.message, act->reason,
                            SCHED_MESSAGE_MAX);
        rd_kafka_resp_err_t err =
                produce_event(t, rk, t->t_status, job->partition, &ev);
        sched_event_clear(&ev);
        return err;
}

/* 'V': the running execution missed its visibility deadline. */
static rd_kafka_resp_err_t emit_timeout(tmr_t *t, rd_kafka_t *rk,
                                        const sched_timer_job_t *job,
                                        const char *exec_id, int64_t now_ms) {
        sched_event_t ev;
        status_init(&ev, job, SCHED_STATUS_TIMED_OUT, exec_id, job->cur_occ_ms,
                    job->cur_attempt, now_ms);
        ev.u.status.retryable = true;
        ev.u.status.deadline_ms = job->deadline_ms;
        sched_event_set_str(&ev.u.status.message,
                            "no heartbeat or result before the visibility "
                            "deadline",
                            SCHED_MESSAGE_MAX);
        rd_kafka_resp_err_t err =
                produce_event(t, rk, t->t_status, job->partition, &ev);
        sched_event_clear(&ev);
        return err;
}

/* 'D': what the applier decided: RETRY_SCHEDULED, or DEAD_LETTERED plus a
 * record on the dead-letter topic, after a failure; COMPLETED or REJECTED
 * for the job as a whole. */
static rd_kafka_resp_err_t emit_decision(tmr_t *t, rd_kafka_t *rk,
                                         const sched_timer_job_t *job,
                                         const char *exec_id,
                                         int64_t now_ms) {
        sched_event_t ev;
        if (job->decide == SCHED_DECIDE_COMPLETE ||
            job->decide == SCHED_DECIDE_REJECT) {
                bool reject = job->decide == SCHED_DECIDE_REJECT;
                status_init(&ev, job,
                            reject ? SCHED_STATUS_REJECTED
                                   : SCHED_STATUS_COMPLETED,
                            "", SCHED_NONE, 0, now_ms);
                /* Job-level: the event id hashes the job id instead. */
                timer_event_id(ev.event_id, job->def.job_id,
                               reject ? "REJECTED" : "COMPLETED");
                sched_event_set_str(&ev.u.status.message,
                                    reject ? job->last_error
                                           : "the schedule has no further "
                                             "occurrence",
                                    SCHED_MESSAGE_MAX);
                rd_kafka_resp_err_t err =
                        produce_event(t, rk, t->t_status, job->partition, &ev);
                sched_event_clear(&ev);
                return err;
        }
        bool dead = job->decide == SCHED_DECIDE_DEAD;
        status_init(&ev, job,
                    dead ? SCHED_STATUS_DEAD_LETTERED
                         : SCHED_STATUS_RETRY_SCHEDULED,
                    exec_id, job->cur_occ_ms, job->cur_attempt, now_ms);
        char msg[512];
        if (dead)
                snprintf(msg, sizeof(msg), "attempt %d of %d failed: %s",
                         (int)job->cur_attempt,
                         (int)job->def.u.def.retry.max_attempts,
                         job->last_error);
        else
                snprintf(msg, sizeof(msg), "attempt %d failed: %s",
                         (int)job->cur_attempt, job->last_error);
        sched_event_set_str(&ev.u.status.message, msg, SCHED_MESSAGE_MAX);
        if (!dead)
                ev.u.status.next_ms = job->retry_at_ms;
        rd_kafka_resp_err_t err =
                produce_event(t, rk, t->t_status, job->partition, &ev);
        if (!err && dead) {
                void *buf;
                size_t len;
                char errstr[256];
                if (sched_codec_encode(t->codec, &ev, &buf, &len, errstr,
                                       sizeof(errstr)))
                        err = RD_KAFKA_RESP_ERR__BAD_MSG;
                else if ((err = rd_kafka_producev(
                                  rk, RD_KAFKA_V_TOPIC(t->t_dlq),
                                  RD_KAFKA_V_KEY(job->def.job_id,
                                                 strlen(job->def.job_id)),
                                  RD_KAFKA_V_VALUE(buf, len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                  RD_KAFKA_V_HEADER("klok.reason", msg, -1),
                                  RD_KAFKA_V_HEADER("klok.execution_id",
                                                    exec_id, -1),
                                  RD_KAFKA_V_END)))
                        free(buf);
        }
        sched_event_clear(&ev);
        return err;
}

/* Positions of every assigned partition, for send_offsets_to_transaction
 * (which is what fences a zombie: its group generation is stale). */
static rd_kafka_topic_partition_list_t *positions(tmr_t *t) {
        rd_kafka_topic_partition_list_t *assigned = NULL;
        if (rd_kafka_assignment(t->consumer, &assigned))
                return NULL;
        rd_kafka_position(t->consumer, assigned);
        rd_kafka_topic_partition_list_t *out =
                rd_kafka_topic_partition_list_new(assigned->cnt);
        for (int i = 0; i < assigned->cnt; i++)
                if (assigned->elems[i].offset >= 0)
                        rd_kafka_topic_partition_list_add(
                                out, assigned->elems[i].topic,
                                assigned->elems[i].partition)
                                ->offset = assigned->elems[i].offset;
        rd_kafka_topic_partition_list_destroy(assigned);
        return out;
}

int tmr_lanes_drain(tmr_t *t) {
        int rc = 0;
        for (int i = 0; i < t->nlanes; i++) {
                tmr_lane_t *lane = t->lanes[i];
                if (tmr_lane_state(lane) == TMR_LANE_FILLING)
                        tmr_lane_hand_over(lane, NULL, NULL, true);
                if (tmr_lane_reap(lane, true) < 0)
                        rc = -1;
        }
        return rc;
}

int tmr_fire_due(tmr_t *t, int64_t now_ms, int64_t *next_due_ms) {
        int fired = 0; /* events emitted in this pass */
        bool in_txn = false, failed = false;
        *next_due_ms = SCHED_NONE;

        /* Collect finished transactions; pick a lane for this pass: the
         * one still open from the last pass, or an idle one. */
        tmr_lane_t *lane = NULL, *idle = NULL;
        for (int i = 0; i < t->nlanes; i++) {
                int r = tmr_lane_reap(t->lanes[i], false);
                if (r < 0)
                        return -1;
                if (r > 0) { /* aborted: fire again, from the start */
                        *next_due_ms = now_ms;
                        for (int32_t p = 0; p < t->nparts; p++)
                                t->parts[p].cursor_ms = SCHED_NONE;
                }
                tmr_lane_state_t st = tmr_lane_state(t->lanes[i]);
                if (st == TMR_LANE_FILLING)
                        lane = t->lanes[i];
                else if (st == TMR_LANE_IDLE && !idle)
                        idle = t->lanes[i];
        }
        in_txn = lane != NULL;
        if (!lane)
                lane = idle;
        if (!lane) {
                /* Every lane is committing: look again very soon. */
                *next_due_ms = now_ms + 1;
                return 0;
        }
        rd_kafka_t *rk = tmr_lane_producer(lane);

        /* An idle lane's count is its last transaction's until begun. */
        int room = (int)t->conf.fire_batch_max -
                   (in_txn ? tmr_lane_count(lane) : 0);
        for (int32_t p = 0; p < t->nparts && fired < room && !failed; p++) {
                tmr_part_t *tp = &t->parts[p];
                if (!tp->owned || !tp->restored)
                        continue;
                /* Entries before the cursor were acted on in an earlier
                 * pass and wait for their events to come back: start
                 * after them (at the low bound, which moves past deleted
                 * entries, when there is no cursor). */
                bool from_low = tp->cursor_ms == SCHED_NONE ||
                                tp->cursor_ms <= tp->low_ms;
                unsigned char lower[SCHED_DUE_KEY_MAX], upper[4];
                size_t lower_len = sched_due_key(
                        lower, p, from_low ? tp->low_ms : tp->cursor_ms, 0,
                        "");
                upper[0] = (unsigned char)((uint32_t)(p + 1) >> 24);
                upper[1] = (unsigned char)((uint32_t)(p + 1) >> 16);
                upper[2] = (unsigned char)((uint32_t)(p + 1) >> 8);
                upper[3] = (unsigned char)(p + 1);
                sched_iter_t *it = sched_store_iter(t->store, SCHED_CF_DUE,
                                                    lower, lower_len, upper,
                                                    sizeof(upper));
                bool first = true;
                int64_t stop_ms = SCHED_NONE; /* where this scan ended */
                for (; sched_iter_valid(it); sched_iter_next(it)) {
                        size_t klen;
                        const char *key = sched_iter_key(it, &klen);
                        int32_t kp;
                        int64_t due;
                        char job_id[SCHED_ID_MAX], kind;
                        if (!sched_due_key_parse(key, klen, &kp, &due, &kind,
                                                 job_id))
                                continue;
                        if (first && from_low) {
                                /* Moving lower bound: what was deleted
                                 * below the first live entry is never
                                 * walked again. */
                                tp->low_ms = due;
                        }
                        first = false;
                        stop_ms = due;
                        if (due > now_ms) {
                                if (*next_due_ms == SCHED_NONE ||
                                    due < *next_due_ms)
                                        *next_due_ms = due;
                                break;
                        }
                        if (fired >= room) {
                                *next_due_ms = now_ms; /* more to do now */
                                break;
                        }
                        /* An entry whose event is being committed is
                         * skipped without reading its job. */
                        char key_if[SCHED_DUE_KEY_STR_MAX];
                        sched_due_key_str(key_if, kp, due, kind, job_id);
                        if (sched_strset_has(t->inflight, key_if))
                                continue;
                        sched_timer_job_t job;
                        if (sched_timer_job_get(t->store, NULL, t->codec,
                                                job_id, &job))
                                continue;
                        int64_t now = sched_now_ms();
                        sched_timer_action_t act;
                        sched_timer_due_action(&job, kind, due, now, &act);
                        if (act.act == SCHED_ACT_NONE) {
                                sched_timer_job_clear(&job);
                                continue;
                        }
                        if (!in_txn) {
                                if (tmr_lane_begin(lane)) {
                                        sched_timer_job_clear(&job);
                                        sched_iter_destroy(it);
                                        return -1;
                                }
                                in_txn = true;
                        }
                        rd_kafka_resp_err_t err;
                        switch (act.act) {
                        case SCHED_ACT_FIRE:
                                err = emit_fire(t, rk, &job, &act, now);
                                sched_metric_observe(t->m.lateness,
                                                     (double)(now - due));
                                break;
                        case SCHED_ACT_SKIP:
                        case SCHED_ACT_BUFFER:
                                err = emit_not_fired(t, rk, &job, &act, now);
                                break;
                        case SCHED_ACT_TIMEOUT:
                                err = emit_timeout(t, rk, &job, act.exec_id,
                                                   now);
                                break;
                        default:
                                err = emit_decision(t, rk, &job, act.exec_id,
                                                    now);
                                break;
                        }
                        sched_timer_job_clear(&job);
                        if (err) {
                                /* Half an occurrence may be in the
                                 * transaction: abort it all, retry soon. */
                                sched_warn("timer", "produce: %s",
                                           rd_kafka_err2str(err));
                                failed = true;
                                break;
                        }
                        sched_strset_add(t->inflight, key_if, p);
                        tmr_lane_add(lane, key_if,
                                     act.act == SCHED_ACT_FIRE);
                        fired++;
                }
                sched_iter_destroy(it);
                if (failed)
                        tp->cursor_ms = SCHED_NONE; /* aborted below */
                else if (stop_ms != SCHED_NONE)
                        tp->cursor_ms = stop_ms;
        }

        if (!in_txn)
                return fired;
        /* The lane's thread commits (with the consumer group metadata,
         * which fences a zombie) or aborts when half an occurrence may be
         * in it.  Committing needs another lane to fire into meanwhile:
         * while every other lane is still committing, this one stays open
         * and the next passes add to it, so a due entry never waits for a
         * commit (the transaction grows with the commit time instead). */
        bool other_idle = false;
        for (int i = 0; i < t->nlanes; i++)
                if (t->lanes[i] != lane &&
                    tmr_lane_state(t->lanes[i]) == TMR_LANE_IDLE)
                        other_idle = true;
        if (failed || other_idle || t->nlanes == 1 ||
            tmr_lane_count(lane) >= t->conf.fire_batch_max) {
                tmr_lane_hand_over(lane, positions(t),
                                   rd_kafka_consumer_group_metadata(
                                           t->consumer),
                                   failed);
                if (failed)
                        *next_due_ms = now_ms;
        } else if (*next_due_ms == SCHED_NONE || *next_due_ms > now_ms + 1) {
                *next_due_ms = now_ms + 1; /* hand it over soon */
        }
        return fired;
}
