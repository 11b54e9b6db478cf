/*
 * runner_kafka.c — runs a `kafka` task: the delayed-message pattern.  At
 * the due time the job's parameters are produced, as they are, to the
 * operator's topic, keyed by the task's key template ({job_id} unless
 * configured), with headers klok.execution_id (the idempotency key for
 * whoever consumes it), klok.job_id and the task's static ones.
 *
 * The record goes through the executor's own idempotent producer
 * (acks=all), and the execution succeeds only once the broker acknowledged
 * it: its delivery report comes back through exe_dr_cb() (worker.c) like
 * the outcome events' do, to the job's dr_lock/dr_cond, which are free
 * while the task runs (the worker only uses them for the outcome, after
 * exe_run returns).  A delivery error is a retryable failure.
 *
 * Runs on a worker thread; the delivery report arrives on the producer's
 * poller thread.  The wait is bounded by the producer's message.timeout.ms,
 * not by the execution's timeout: librdkafka reports every message,
 * delivered or not, but cannot take one back.  A topic that does not exist
 * fails after topic.metadata.propagation.max.ms (30 s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"

static rd_kafka_headers_t *headers_new(const exe_task_t *task,
                                       const sched_event_t *due) {
        rd_kafka_headers_t *hdrs =
                rd_kafka_headers_new((size_t)task->nheaders + 2);
        rd_kafka_header_add(hdrs, "klok.execution_id", -1,
                            due->u.due.execution_id, -1);
        rd_kafka_header_add(hdrs, "klok.job_id", -1, due->job_id, -1);
        for (int i = 0; i < task->nheaders; i++)
                rd_kafka_header_add(hdrs, task->headers[i].name, -1,
                                    task->headers[i].value, -1);
        return hdrs;
}

/* Produce with job as the message's opaque and wait for its delivery
 * report; the error it carries. */
static rd_kafka_resp_err_t produce_acked(exe_t *exe, exe_job_t *job,
                                         const exe_task_t *task,
                                         const char *key, const char *value) {
        rd_kafka_headers_t *hdrs = headers_new(task, &job->ev);
        pthread_mutex_lock(&job->dr_lock);
        job->dr_done = false;
        pthread_mutex_unlock(&job->dr_lock);
        rd_kafka_resp_err_t err;
        do {
                /* MSG_F_COPY: value and key are gone when the task's
                 * result is reported; headers are the message's on
                 * success only. */
                err = rd_kafka_producev(
                        exe->producer, RD_KAFKA_V_TOPIC(task->topic),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(job),
                        RD_KAFKA_V_END);
                if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(exe->producer, 100); /* backpressure */
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (err) {
                rd_kafka_headers_destroy(hdrs);
                return err;
        }
        pthread_mutex_lock(&job->dr_lock);
        while (!job->dr_done)
                pthread_cond_wait(&job->dr_cond, &job->dr_lock);
        err = job->dr_err;
        pthread_mutex_unlock(&job->dr_lock);
        return err;
}

void exe_run_kafka(exe_t *exe, exe_job_t *job, const exe_task_t *task,
                   exe_result_t *res) {
        const sched_event_t *due = &job->ev;
        const char *params =
                due->u.due.parameters ? due->u.due.parameters : "{}";
        memset(res, 0, sizeof(*res));
        res->exit_code = -1;
        char *key = exe_expand(task->key ? task->key : "{job_id}", due);
        if (!key) {
                snprintf(res->message, sizeof(res->message),
                         "cannot build the key: out of memory");
                res->retryable = true;
                return;
        }
        rd_kafka_resp_err_t err = produce_acked(exe, job, task, key, params);
        free(key);
        if (err) {
                snprintf(res->message, sizeof(res->message),
                         "produce to %s failed: %s", task->topic,
                         rd_kafka_err2str(err));
                res->retryable = true;
                return;
        }
        res->ok = true;
        res->exit_code = 0;
}
