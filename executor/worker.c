/*
 * worker.c — the executor's worker pool and outcome reporting.
 *
 * A worker takes a job off the queue, writes STARTED, runs the task, writes
 * SUCCEEDED or FAILED and waits until Kafka acknowledged that outcome; only
 * then is the job marked done, and only done jobs' offsets are committed
 * (exe_committable), so a crash at any point re-delivers the execution
 * rather than losing it (at-least-once).
 */
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "sched/log.h"
#include "sched/timer_state.h"
#include "sched/time.h"

/* Make an output excerpt a valid Avro string: invalid UTF-8 and control
 * characters other than tab and newline become '?'. */
static void output_sanitize(char *s) {
        sched_utf8_scrub(s);
        for (unsigned char *p = (unsigned char *)s; *p; p++)
                if (*p < 0x20 && *p != '\n' && *p != '\t')
                        *p = '?';
}

/* The visibility deadline to announce at now_ms for a job started at
 * started_ms: a lease of three heartbeat periods, so a dead executor is
 * noticed within seconds — but never past the kill deadline (the
 * execution's timeout, a kafka task's delivery timeout, and the kill grace)
 * plus the timer's grace. */
static int64_t visibility_deadline(const exe_t *exe, const exe_job_t *job,
                                   int64_t started_ms, int64_t now_ms) {
        const exe_task_t *task = exe_task_find(&exe->conf, job->ev.u.due.task);
        int64_t timeout = !task ? 0
                          : task->kind == EXE_KIND_KAFKA
                                  ? exe_kafka_timeout_ms(task)
                                  : exe_run_timeout_ms(job, task);
        int64_t last = started_ms + timeout + exe->conf.kill_grace_ms +
                       SCHED_VISIBILITY_GRACE_MS;
        int64_t lease = now_ms + 3 * exe->conf.heartbeat_ms;
        return lease < last ? lease : last;
}

/* Encode a status event of job.  STARTED, HEARTBEAT and PROGRESS carry a
 * visibility deadline; PROGRESS its percentage and message (in
 * res->exit_code and res->message). */
static rd_kafka_resp_err_t status_encode(exe_t *exe, exe_job_t *job,
                                         sched_status_t status,
                                         const exe_result_t *res,
                                         void **bufp, size_t *lenp) {
        const sched_event_t *due = &job->ev;
        sched_event_t ev;
        sched_event_init(&ev, SCHED_EV_STATUS);
        snprintf(ev.event_id, sizeof(ev.event_id), "x%016llx%04x",
                 (unsigned long long)sched_now_us(), (unsigned)rand() & 0xffff);
        memcpy(ev.job_id, due->job_id, sizeof(ev.job_id));
        memcpy(ev.tenant, due->tenant, sizeof(ev.tenant));
        ev.ts_ms = sched_now_ms();
        ev.u.status.status = status;
        memcpy(ev.u.status.execution_id, due->u.due.execution_id,
               sizeof(ev.u.status.execution_id));
        ev.u.status.attempt = due->u.due.attempt;
        ev.u.status.scheduled_ms = due->u.due.scheduled_ms;
        if (status == SCHED_STATUS_STARTED ||
            status == SCHED_STATUS_HEARTBEAT ||
            status == SCHED_STATUS_PROGRESS) {
                /* Past it without a sign of life, the timer declares the
                 * execution lost (TIMED_OUT) and retries it. */
                ev.u.status.deadline_ms = visibility_deadline(
                        exe, job,
                        status == SCHED_STATUS_STARTED ? ev.ts_ms
                                                       : job->started_ms,
                        ev.ts_ms);
        }
        if (status == SCHED_STATUS_PROGRESS) {
                ev.u.status.progress = res->exit_code;
                if (res->message[0])
                        sched_event_set_str(&ev.u.status.message,
                                            res->message, SCHED_MESSAGE_MAX);
        } else if (res) {
                ev.u.status.exit_code = res->exit_code;
                ev.u.status.retryable = res->retryable;
                if (res->message[0])
                        sched_event_set_str(&ev.u.status.message,
                                            res->message, SCHED_MESSAGE_MAX);
                if (res->output && res->output[0])
                        sched_event_set_str(&ev.u.status.output, res->output,
                                            SCHED_OUTPUT_MAX);
        }
        char errstr[256];
        sched_err_t err = sched_codec_encode(exe->codec, &ev, bufp, lenp,
                                             errstr, sizeof(errstr));
        sched_event_clear(&ev);
        if (err) {
                sched_error("executor", "encode status for %s: %s",
                            due->job_id, errstr);
                return RD_KAFKA_RESP_ERR__BAD_MSG;
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Produce, waiting while the producer's queue is full. */
static rd_kafka_resp_err_t produce(exe_t *exe, exe_job_t *job, void *buf,
                                   size_t len, int flags, void *opaque) {
        rd_kafka_resp_err_t kerr;
        do {
                kerr = rd_kafka_producev(
                        exe->producer, RD_KAFKA_V_TOPIC(exe->t_status),
                        RD_KAFKA_V_KEY(job->ev.job_id,
                                       strlen(job->ev.job_id)),
                        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(flags),
                        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(exe->producer, 100); /* backpressure */
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        return kerr;
}

/* Produce a status event for job, without waiting for its delivery (the
 * outcome, which is waited for, goes through run_job's own path). */
static rd_kafka_resp_err_t report(exe_t *exe, exe_job_t *job,
                                  sched_status_t status,
                                  const exe_result_t *res) {
        void *buf;
        size_t len;
        rd_kafka_resp_err_t kerr = status_encode(exe, job, status, res, &buf,
                                                 &len);
        if (kerr)
                return kerr;
        kerr = produce(exe, job, buf, len, RD_KAFKA_MSG_F_FREE, NULL);
        if (kerr)
                free(buf);
        return kerr;
}

/* A job whose outcome Kafka acknowledged (or that has nothing to wait
 * for): its offset may be committed. */
static void job_finished(exe_t *exe, exe_job_t *job) {
        pthread_mutex_lock(&exe->lock);
        job->done = true;
        exe->busy--;
        pthread_mutex_unlock(&exe->lock);
}

void exe_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
        exe_t *exe = opaque;
        exe_job_t *job = rkm->_private;
        (void)rk;
        if (rkm->err)
                sched_warn("executor", "delivery to %s: %s",
                           rd_kafka_topic_name(rkm->rkt),
                           rd_kafka_err2str(rkm->err));
        if (!job)
                return;
        pthread_mutex_lock(&job->dr_lock);
        if (!job->outcome_pending) { /* a kafka task's record: its runner
                                        * waits for this */
                job->dr_err = rkm->err;
                job->dr_done = true;
                pthread_cond_signal(&job->dr_cond);
                pthread_mutex_unlock(&job->dr_lock);
                return;
        }
        pthread_mutex_unlock(&job->dr_lock);
        /* The job's outcome.  Not delivered (after librdkafka's own
         * retries): send it again; the offset waits for it. */
        if (rkm->err &&
            rd_kafka_producev(exe->producer, RD_KAFKA_V_TOPIC(exe->t_status),
                              RD_KAFKA_V_KEY(job->ev.job_id,
                                             strlen(job->ev.job_id)),
                              RD_KAFKA_V_VALUE(job->outcome_buf,
                                               job->outcome_len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(job),
                              RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR)
                return; /* no waiting here: this is the poll thread */
        if (rkm->err)
                sched_error("executor", "outcome of %s lost (the timer's "
                                        "visibility deadline will retry it)",
                            job->ev.u.due.execution_id);
        pthread_mutex_lock(&job->dr_lock);
        job->outcome_pending = false;
        free(job->outcome_buf);
        job->outcome_buf = NULL;
        pthread_mutex_unlock(&job->dr_lock);
        job_finished(exe, job);
}

/* Run one job and hand its outcome to Kafka; returns whether the
 * outcome's delivery is pending (it then finishes the job). */
static bool run_job(exe_t *exe, exe_job_t *job) {
        exe_result_t res;
        int64_t started = sched_mono_ms();
        const exe_task_t *task = exe_task_find(&exe->conf, job->ev.u.due.task);
        pthread_mutex_lock(&exe->lock);
        job->started_ms = sched_now_ms();
        job->running = true; /* heartbeats from now on */
        exe->running++;
        pthread_mutex_unlock(&exe->lock);
        report(exe, job, SCHED_STATUS_STARTED, NULL);
        if (!task) {
                memset(&res, 0, sizeof(res));
                res.exit_code = -1;
                snprintf(res.message, sizeof(res.message),
                         "task \"%s\" is not registered on this executor",
                         job->ev.u.due.task);
        } else {
                exe_run(exe, job, task, &res);
        }
        if (res.output)
                output_sanitize(res.output);
        pthread_mutex_lock(&exe->lock);
        job->running = false;
        exe->running--;
        pthread_mutex_unlock(&exe->lock);
        /* The id is remembered as completed (so that a re-delivery after
         * a rebalance or a crash does not run it again) by the main thread,
         * many at a time, before any offset past it is committed: one
         * RocksDB write per execution from every worker at once was a
         * third of the executor's time. */
        job->outcome = res.ok ? 'S' : 'F';
        /* The outcome must be acknowledged before the offset may move: its
         * delivery report marks the job done (exe_dr_cb), and this worker
         * goes on with the next task meanwhile. */
        void *buf;
        size_t len;
        bool pending = false;
        rd_kafka_resp_err_t enc = status_encode(
                exe, job, res.ok ? SCHED_STATUS_SUCCEEDED : SCHED_STATUS_FAILED,
                &res, &buf, &len);
        sched_debug("executor", "%s %s (%s)", job->ev.u.due.execution_id,
                    res.ok ? "succeeded" : "failed", res.message);
        free(res.output);
        sched_metric_add(res.ok ? exe->m.succeeded : exe->m.failed, 1);
        sched_metric_observe(exe->m.run_ms,
                             (double)(sched_mono_ms() - started));
        /* Once produced, the job is the delivery report's: it may be done
         * and freed before produce() even returns — nothing below may
         * touch it unless the produce failed. */
        if (enc == RD_KAFKA_RESP_ERR_NO_ERROR) {
                pthread_mutex_lock(&job->dr_lock);
                job->outcome_buf = buf;
                job->outcome_len = len;
                job->outcome_pending = true;
                pthread_mutex_unlock(&job->dr_lock);
                rd_kafka_resp_err_t err =
                        produce(exe, job, buf, len, RD_KAFKA_MSG_F_COPY, job);
                if (err) {
                        sched_error("executor", "outcome of %s not sent: %s "
                                                "(the timer's visibility "
                                                "deadline will retry it)",
                                    job->ev.u.due.execution_id,
                                    rd_kafka_err2str(err));
                        pthread_mutex_lock(&job->dr_lock);
                        job->outcome_pending = false;
                        pthread_mutex_unlock(&job->dr_lock);
                        free(buf);
                        job->outcome_buf = NULL;
                } else {
                        pending = true;
                }
        }
        return pending;
}


/* The next job to start, under exe->lock: high first, except that while
 * both tiers wait, normal gets its minimum share of the starts. */
static exe_job_t *next_job(exe_t *exe) {
        int tier;
        if (exe->queue_head[1] && exe->queue_head[0]) {
                int64_t total = exe->contended[0] + exe->contended[1];
                tier = exe->contended[0] * 100 <
                                       exe->conf.normal_share * (total + 1)
                               ? 0
                               : 1;
                exe->contended[tier]++;
                if (total >= 1000) { /* decay: the recent past counts */
                        exe->contended[0] /= 2;
                        exe->contended[1] /= 2;
                }
        } else if (exe->queue_head[1]) {
                tier = 1;
        } else if (exe->queue_head[0]) {
                tier = 0;
        } else {
                return NULL;
        }
        exe_job_t *job = exe->queue_head[tier];
        exe->queue_head[tier] = job->next_queued;
        if (!exe->queue_head[tier])
                exe->queue_tail[tier] = NULL;
        exe->queued[tier]--;
        return job;
}

static void *worker_main(void *arg) {
        exe_t *exe = arg;
        for (;;) {
                pthread_mutex_lock(&exe->lock);
                exe_job_t *job;
                while (!exe->stopping && !(job = next_job(exe)))
                        pthread_cond_wait(&exe->work_cond, &exe->lock);
                if (exe->stopping) {
                        /* Shutting down: what waits is not started (its
                         * offset is not committed: another executor gets
                         * it). */
                        pthread_mutex_unlock(&exe->lock);
                        return NULL;
                }
                pthread_mutex_unlock(&exe->lock);

                if (!run_job(exe, job))
                        job_finished(exe, job);
        }
}

/* HEARTBEAT for every running task each period: its visibility deadline
 * moves on while it runs, however long it takes. */
static void *heartbeat_main(void *arg) {
        exe_t *exe = arg;
        pthread_mutex_lock(&exe->lock);
        while (!exe->stopping || exe->running > 0) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t ns = until.tv_nsec + exe->conf.heartbeat_ms * 1000000;
                until.tv_sec += ns / 1000000000;
                until.tv_nsec = ns % 1000000000;
                pthread_cond_timedwait(&exe->heartbeat_cond, &exe->lock,
                                       &until);
                /* Under the lock: a running job is not freed meanwhile;
                 * producing does not block. */
                for (exe_job_t *job = exe->inflight_head; job;
                     job = job->next_inflight)
                        if (job->running)
                                report(exe, job, SCHED_STATUS_HEARTBEAT,
                                       NULL);
        }
        pthread_mutex_unlock(&exe->lock);
        return NULL;
}

void exe_progress(exe_t *exe, exe_job_t *job, int pct, const char *message) {
        exe_result_t res;
        memset(&res, 0, sizeof(res));
        res.exit_code = pct < 0 ? 0 : pct > 100 ? 100 : pct;
        snprintf(res.message, sizeof(res.message), "%s",
                 message ? message : "");
        sched_utf8_scrub(res.message);
        report(exe, job, SCHED_STATUS_PROGRESS, &res);
}

int exe_running(exe_t *exe) {
        pthread_mutex_lock(&exe->lock);
        int n = exe->running;
        pthread_mutex_unlock(&exe->lock);
        return n;
}

static void *poller_main(void *arg) {
        exe_t *exe = arg;
        while (exe->poller_run)
                rd_kafka_poll(exe->producer, 100);
        return NULL;
}

int exe_workers_start(exe_t *exe) {
        pthread_mutex_init(&exe->lock, NULL);
        pthread_cond_init(&exe->work_cond, NULL);
        pthread_cond_init(&exe->heartbeat_cond, NULL);
        atomic_init(&exe->abandon, false);
        exe->poller_run = true;
        if (pthread_create(&exe->poller, NULL, poller_main, exe))
                return -1;
        if (pthread_create(&exe->heartbeat, NULL, heartbeat_main, exe))
                return -1;
        exe->workers = calloc((size_t)exe->conf.concurrency,
                              sizeof(*exe->workers));
        for (int64_t i = 0; i < exe->conf.concurrency; i++)
                if (pthread_create(&exe->workers[i], NULL, worker_main, exe))
                        return -1;
        return 0;
}

void exe_workers_stop(exe_t *exe) {
        pthread_mutex_lock(&exe->lock);
        exe->stopping = true;
        pthread_cond_broadcast(&exe->work_cond);
        pthread_mutex_unlock(&exe->lock);
        for (int64_t i = 0; i < exe->conf.concurrency; i++)
                pthread_join(exe->workers[i], NULL);
        free(exe->workers);
        pthread_mutex_lock(&exe->lock);
        pthread_cond_broadcast(&exe->heartbeat_cond);
        pthread_mutex_unlock(&exe->lock);
        pthread_join(exe->heartbeat, NULL);
        rd_kafka_flush(exe->producer, 10000);
        exe->poller_run = false;
        pthread_join(exe->poller, NULL);
}

void exe_dispatch(exe_t *exe, exe_job_t *job) {
        pthread_mutex_init(&job->dr_lock, NULL);
        pthread_cond_init(&job->dr_cond, NULL);
        pthread_mutex_lock(&exe->lock);
        if (exe->inflight_tail)
                exe->inflight_tail->next_inflight = job;
        else
                exe->inflight_head = job;
        exe->inflight_tail = job;
        if (!job->done) {
                int tier = job->high ? 1 : 0;
                exe->busy++;
                exe->queued[tier]++;
                if (exe->queue_tail[tier])
                        exe->queue_tail[tier]->next_queued = job;
                else
                        exe->queue_head[tier] = job;
                exe->queue_tail[tier] = job;
                pthread_cond_signal(&exe->work_cond);
        }
        pthread_mutex_unlock(&exe->lock);
}

static void job_free(exe_job_t *job) {
        free(job->outcome_buf); /* NULL once delivered */
        pthread_mutex_destroy(&job->dr_lock);
        pthread_cond_destroy(&job->dr_cond);
        if (job->ev.type)
                sched_event_clear(&job->ev);
        free(job);
}

/* Walk the in-flight list in dispatch order: every finished execution's
 * id goes into the completed-ids batch (written before anything is
 * committed); per topic-partition, the jobs done before the first one
 * still running can be committed and freed. */
rd_kafka_topic_partition_list_t *exe_committable(exe_t *exe) {
        rd_kafka_topic_partition_list_t *out = NULL;
        rd_kafka_topic_partition_list_t *blocked =
                rd_kafka_topic_partition_list_new(4);
        sched_batch_t *batch = sched_batch_new();
        int recorded = 0;
        pthread_mutex_lock(&exe->lock);
        exe_job_t **pp = &exe->inflight_head, *prev = NULL;
        while (*pp) {
                exe_job_t *job = *pp;
                if (job->done && job->outcome && !job->recorded) {
                        const char *id = job->ev.u.due.execution_id;
                        sched_batch_put(exe->store, batch, SCHED_CF_EXEC_DONE,
                                        id, strlen(id), &job->outcome, 1);
                        job->recorded = true;
                        recorded++;
                }
                bool is_blocked = rd_kafka_topic_partition_list_find(
                                          blocked, job->topic,
                                          job->partition) != NULL;
                if (!job->done || is_blocked) {
                        if (!is_blocked)
                                rd_kafka_topic_partition_list_add(
                                        blocked, job->topic, job->partition);
                        prev = job;
                        pp = &job->next_inflight;
                        continue;
                }
                if (!out)
                        out = rd_kafka_topic_partition_list_new(4);
                rd_kafka_topic_partition_t *tp =
                        rd_kafka_topic_partition_list_find(out, job->topic,
                                                           job->partition);
                if (!tp)
                        tp = rd_kafka_topic_partition_list_add(
                                out, job->topic, job->partition);
                tp->offset = job->offset + 1;
                *pp = job->next_inflight;
                if (exe->inflight_tail == job)
                        exe->inflight_tail = prev;
                job_free(job);
        }
        pthread_mutex_unlock(&exe->lock);
        rd_kafka_topic_partition_list_destroy(blocked);
        char errstr[256];
        if (recorded &&
            sched_store_write(exe->store, batch, errstr, sizeof(errstr)))
                sched_error("executor", "completed ids: %s", errstr);
        sched_batch_destroy(batch);
        return out;
}
