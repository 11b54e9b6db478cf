/*
 * intake.c — the timer's input side: partition assignment, restore, and
 * applying commands and status events to the store.
 *
 * Positions live in the store, written in the same batch as the state they
 * produced; on assignment each partition resumes from there, so a crash
 * between the two is impossible by construction.
 *
 * A large round (catching up, rebuilding) is applied by apply.threads
 * threads, each taking its own share of the partitions with its own batch:
 * partitions share no key, so the result is the same as one thread's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sched/log.h"
#include "sched/timer_state.h"
#include "sched/time.h"
#include "timer_int.h"

#define INTAKE_BATCH_MAX 5000

static bool is_commands(const tmr_t *t, const char *topic) {
        return !strcmp(topic, t->t_commands);
}

static void part_check_restored(tmr_t *t, int32_t p) {
        tmr_part_t *tp = &t->parts[p];
        if (tp->owned && !tp->restored && tp->next_cmd >= tp->target_cmd &&
            tp->next_status >= tp->target_status) {
                tp->restored = true;
                tmr_publish_partitions(t);
                sched_info("timer", "partition %d restored (commands %lld, "
                                    "status %lld)",
                           (int)p, (long long)tp->next_cmd,
                           (long long)tp->next_status);
        }
}

static void on_assign(tmr_t *t, rd_kafka_topic_partition_list_t *parts) {
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *rktpar = &parts->elems[i];
                int32_t p = rktpar->partition;
                if (p < 0 || p >= t->nparts) {
                        sched_error("timer", "assigned %s [%d] beyond the %d "
                                             "partitions known at start",
                                    rktpar->topic, (int)p, (int)t->nparts);
                        continue;
                }
                tmr_part_t *tp = &t->parts[p];
                int64_t stored = sched_store_offset_get(t->store,
                                                        rktpar->topic, p);
                rktpar->offset = stored >= 0 ? stored
                                             : RD_KAFKA_OFFSET_BEGINNING;
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        t->consumer, rktpar->topic, p, &lo, &hi, 10000);
                if (err)
                        sched_warn("timer", "watermarks of %s [%d]: %s",
                                   rktpar->topic, (int)p,
                                   rd_kafka_err2str(err));
                int64_t next = stored >= 0 ? stored : lo;
                if (is_commands(t, rktpar->topic)) {
                        tp->target_cmd = err ? INT64_MAX : hi;
                        tp->next_cmd = next;
                } else {
                        tp->target_status = err ? INT64_MAX : hi;
                        tp->next_status = next;
                }
                tp->owned = true;
                tp->restored = false;
                tp->low_ms = INT64_MIN;
                tp->cursor_ms = SCHED_NONE;
        }
        for (int32_t p = 0; p < t->nparts; p++)
                part_check_restored(t, p);
}

void tmr_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
        tmr_t *t = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                on_assign(t, parts);
                sched_info("timer", "assigned %d topic-partitions",
                           parts->cnt);
                tmr_publish_partitions(t);
                rd_kafka_assign(rk, parts);
                /* Return from the poll that ran this callback: the loop
                 * must recompute its wait now that it owns partitions. */
                rd_kafka_yield(rk);
                return;
        }
        /* Every transaction in flight ends before the partitions go: a new
         * owner's restore must find the FIRED events they carry. */
        if (tmr_lanes_drain(t)) {
                sched_error("timer", "a firing transaction failed while "
                                     "partitions were revoked");
                t->fatal = true;
        }
        for (int i = 0; i < parts->cnt; i++) {
                int32_t p = parts->elems[i].partition;
                if (p >= 0 && p < t->nparts) {
                        t->parts[p].owned = false;
                        t->parts[p].restored = false;
                        sched_strset_del_tag(t->inflight, p);
                }
        }
        sched_info("timer", "revoked %d topic-partitions", parts->cnt);
        tmr_publish_partitions(t);
        rd_kafka_assign(rk, NULL);
}

static void dead_letter(tmr_t *t, const rd_kafka_message_t *rkm,
                        const char *reason) {
        sched_warn("timer", "dead-lettering %s [%d] @%lld: %s",
                   rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                   (long long)rkm->offset, reason);
        rd_kafka_resp_err_t err = sched_kafka_dlq(t->dlq_producer, t->t_dlq,
                                                  rkm, reason);
        if (err)
                sched_error("timer", "dead-letter produce failed: %s",
                            rd_kafka_err2str(err));
        sched_metric_add(t->m.dead_lettered, 1);
}

/* Decode and apply one record into batch (the library's
 * sched_timer_apply_record, which `klokctl rebuild` replays with too).
 * Returns -1 only when the store cannot take the change (fatal); bad
 * records go to the DLQ. */
static int apply_record(tmr_t *t, sched_batch_t *batch,
                        const rd_kafka_message_t *rkm,
                        sched_timer_effect_t *eff, sched_event_t *ev,
                        bool *decoded) {
        char errstr[512];
        bool commands = is_commands(t, rd_kafka_topic_name(rkm->rkt));
        ev->type = 0;
        sched_rec_result_t r = sched_timer_apply_record(
                t->store, batch, t->codec, commands, rkm->payload, rkm->len,
                rkm->partition, t->nparts, rkm->offset, ev, eff, errstr,
                sizeof(errstr));
        *decoded = ev->type != 0;
        switch (r) {
        case SCHED_REC_APPLIED:
                if (eff->rejected)
                        sched_warn("timer", "job %s rejected: %s", ev->job_id,
                                   eff->reason);
                return 0;
        case SCHED_REC_DEAD_LETTER:
                dead_letter(t, rkm, errstr);
                return 0;
        case SCHED_REC_NOT_APPLIED:
        case SCHED_REC_FATAL:
                sched_error("timer", "apply %s of job %s: %s",
                            sched_ev_type2str(ev->type), ev->job_id, errstr);
                return r == SCHED_REC_FATAL ? -1 : 0;
        }
        return 0;
}

/* Per-message bookkeeping once the batch is durable. */
typedef struct applied_s {
        int32_t partition;
        bool due_added;
        int64_t due_ms;
        int ndeleted; /* due entries deleted: no longer in flight */
        char deleted[SCHED_TIMER_DELETED_MAX][SCHED_DUE_KEY_STR_MAX];
} applied_t;

/* What one intake round read: records to apply, and end-of-partition
 * markers (handled once the records before them are written). */
typedef struct round_s {
        rd_kafka_message_t *msgs[INTAKE_BATCH_MAX];
        applied_t applied[INTAKE_BATCH_MAX];
        int n;
        struct {
                int32_t partition;
                bool commands;
                int64_t offset;
        } eofs[INTAKE_BATCH_MAX];
        int neofs;
} round_t;

/* One applier's share of a round: the records of the partitions p with
 * p % nshares == share, applied in log order into its own batch, which it
 * writes with those partitions' positions.  Shares touch disjoint keys
 * (every key of the store belongs to one partition), so they run side by
 * side. */
typedef struct share_s {
        tmr_t *t;
        round_t *r;
        int share, nshares;
        int rc;
        pthread_t thread;
} share_t;

static void *apply_share(void *opaque) {
        share_t *sh = opaque;
        tmr_t *t = sh->t;
        round_t *r = sh->r;
        sched_batch_t *batch = t->batches[sh->share];
        char errstr[512];
        bool any = false;

        sh->rc = 0;
        for (int i = 0; i < r->n; i++) {
                rd_kafka_message_t *rkm = r->msgs[i];
                int32_t p = rkm->partition;
                if (p % sh->nshares != sh->share)
                        continue;
                bool commands = is_commands(t, rd_kafka_topic_name(rkm->rkt));
                applied_t *a = &r->applied[i];
                sched_timer_effect_t eff;
                sched_event_t ev;
                bool decoded;
                memset(&eff, 0, sizeof(eff));
                memset(a, 0, sizeof(*a));
                a->partition = p;
                int rc = apply_record(t, batch, rkm, &eff, &ev, &decoded);
                if (decoded)
                        sched_event_clear(&ev);
                if (rc < 0) {
                        sh->rc = -1;
                        sched_batch_clear(batch);
                        return NULL;
                }
                a->due_added = eff.due_added;
                a->due_ms = eff.due_ms;
                a->ndeleted = eff.ndeleted;
                memcpy(a->deleted, eff.deleted,
                       sizeof(a->deleted[0]) * (size_t)eff.ndeleted);
                if (commands)
                        t->parts[p].next_cmd = rkm->offset + 1;
                else
                        t->parts[p].next_status = rkm->offset + 1;
                t->parts[p].staged |=
                        commands ? TMR_STAGED_COMMANDS : TMR_STAGED_STATUS;
                any = true;
        }
        if (!any)
                return NULL;
        /* Each partition's positions once, in the batch of its state. */
        for (int32_t p = sh->share; p < t->nparts; p += sh->nshares) {
                tmr_part_t *tp = &t->parts[p];
                if (tp->staged & TMR_STAGED_COMMANDS)
                        sched_store_offset_stage(t->store, batch,
                                                 t->t_commands, p,
                                                 tp->next_cmd);
                if (tp->staged & TMR_STAGED_STATUS)
                        sched_store_offset_stage(t->store, batch,
                                                 t->t_status, p,
                                                 tp->next_status);
                tp->staged = 0;
        }
        if (sched_store_write(t->store, batch, errstr, sizeof(errstr))) {
                sched_error("timer", "%s", errstr);
                sh->rc = -1;
        }
        return NULL;
}

/* Below this many records a round is applied on the main thread alone:
 * starting threads would cost more than it saves. */
#define INTAKE_PARALLEL_MIN 512

int tmr_intake(tmr_t *t, int timeout_ms, int64_t until_ms) {
        static round_t r;
        r.n = r.neofs = 0;

        for (int i = 0; i < INTAKE_BATCH_MAX; i++) {
                /* A long batch must not make a due entry late: stop when
                 * it is due (looked at every 64 records). */
                if ((i & 63) == 63 && until_ms != SCHED_NONE &&
                    sched_now_ms() >= until_ms)
                        break;
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(
                        t->consumer, i == 0 ? timeout_ms : 0);
                if (!rkm)
                        break;
                int32_t p = rkm->partition;
                bool known = rkm->rkt && p >= 0 && p < t->nparts;
                if (known && rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        r.eofs[r.neofs].partition = p;
                        r.eofs[r.neofs].commands = is_commands(
                                t, rd_kafka_topic_name(rkm->rkt));
                        r.eofs[r.neofs++].offset = rkm->offset;
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        sched_warn("timer", "consumer: %s",
                                   rd_kafka_message_errstr(rkm));
                if (rkm->err || !known) {
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                r.msgs[r.n++] = rkm;
        }

        int nshares = 1;
        if (r.n >= INTAKE_PARALLEL_MIN)
                nshares = (int)(t->conf.apply_threads < t->nparts
                                        ? t->conf.apply_threads
                                        : t->nparts);
        share_t shares[TMR_APPLY_THREADS_MAX];
        bool threaded[TMR_APPLY_THREADS_MAX] = {false};
        for (int s = 0; s < nshares; s++)
                shares[s] = (share_t){.t = t, .r = &r, .share = s,
                                      .nshares = nshares};
        for (int s = 1; s < nshares; s++)
                threaded[s] = pthread_create(&shares[s].thread, NULL,
                                             apply_share, &shares[s]) == 0;
        /* The main thread applies share 0, and any share whose thread
         * could not start. */
        int rc = 0;
        for (int s = 0; s < nshares; s++) {
                if (threaded[s])
                        pthread_join(shares[s].thread, NULL);
                else
                        apply_share(&shares[s]);
                rc |= shares[s].rc;
        }
        for (int i = 0; i < r.n; i++)
                rd_kafka_message_destroy(r.msgs[i]);
        if (rc)
                return -1;

        /* Every batch is durable: now the in-memory side may follow. */
        for (int i = 0; i < r.n; i++) {
                applied_t *a = &r.applied[i];
                tmr_part_t *tp = &t->parts[a->partition];
                if (a->due_added && a->due_ms < tp->low_ms)
                        tp->low_ms = a->due_ms;
                /* A new entry behind the scan cursor: look there again. */
                if (a->due_added && tp->cursor_ms != SCHED_NONE &&
                    a->due_ms < tp->cursor_ms)
                        tp->cursor_ms = a->due_ms;
                for (int k = 0; k < a->ndeleted; k++)
                        sched_strset_del(t->inflight, a->deleted[k]);
        }
        for (int i = 0; i < r.neofs; i++) {
                tmr_part_t *tp = &t->parts[r.eofs[i].partition];
                int64_t *next = r.eofs[i].commands ? &tp->next_cmd
                                                   : &tp->next_status;
                if (r.eofs[i].offset > *next)
                        *next = r.eofs[i].offset;
        }
        for (int32_t p = 0; p < t->nparts; p++)
                part_check_restored(t, p);
        if (r.n) {
                sched_metric_add(t->m.applied, (uint64_t)r.n);
                sched_metric_set(t->m.inflight,
                                 (int64_t)sched_strset_count(t->inflight));
        }
        return r.n;
}
