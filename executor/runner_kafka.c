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
 * exe_run returns).
 *
 * The wait is bounded by the task's delivery timeout: its topic handle's
 * message.timeout.ms, the task's timeout_ms (EXE_KAFKA_TIMEOUT_MS if not
 * set), made at the task's first execution.  The job's own timeout does
 * not shorten it: librdkafka cannot take
 * back a record it was given, so giving up earlier would only report a
 * failure for a record that may still arrive.  Tasks on the same topic
 * share one handle, with the shortest of their timeouts.
 *
 * Outcome: acknowledged succeeds; a record the topic can never take (too
 * large, invalid, not authorized) is a permanent failure; anything else —
 * the timeout, an unknown topic, a broker down — is retryable.  A task
 * holds its worker until the broker answered: the executor's concurrency
 * counts executions in flight, whatever their kind.
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

int64_t exe_kafka_timeout_ms(const exe_task_t *task) {
        return task->timeout_ms > 0 ? task->timeout_ms : EXE_KAFKA_TIMEOUT_MS;
}

/* The task's topic handle, made at its first execution (not at start: a
 * handle made before its topic exists is marked as not existing, and the
 * producer would learn otherwise only at its next metadata refresh).  NULL
 * with errstr on failure. */
static rd_kafka_topic_t *sink_of(exe_t *exe, const exe_task_t *task,
                                 char *errstr, size_t errstr_size) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&lock);
        rd_kafka_topic_t *rkt = task->sink;
        if (rkt) {
                pthread_mutex_unlock(&lock);
                return rkt;
        }
        int64_t timeout = exe_kafka_timeout_ms(task);
        for (int j = 0; j < exe->conf.ntasks; j++) {
                const exe_task_t *o = &exe->conf.tasks[j];
                if (o->kind == EXE_KIND_KAFKA &&
                    !strcmp(o->topic, task->topic) &&
                    exe_kafka_timeout_ms(o) < timeout)
                        timeout = exe_kafka_timeout_ms(o);
        }
        char value[32];
        snprintf(value, sizeof(value), "%lld", (long long)timeout);
        rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
        if (rd_kafka_topic_conf_set(tconf, "message.timeout.ms", value,
                                    errstr, errstr_size) != RD_KAFKA_CONF_OK) {
                rd_kafka_topic_conf_destroy(tconf);
        } else if (!(rkt = rd_kafka_topic_new(exe->producer, task->topic,
                                               tconf))) {
                snprintf(errstr, errstr_size, "topic handle: %s",
                         rd_kafka_err2str(rd_kafka_last_error()));
        } else { /* every task on this topic shares it */
                for (int j = 0; j < exe->conf.ntasks; j++) {
                        exe_task_t *o = &exe->conf.tasks[j];
                        if (o->kind == EXE_KIND_KAFKA &&
                            !strcmp(o->topic, task->topic))
                                o->sink = rkt;
                }
        }
        pthread_mutex_unlock(&lock);
        return rkt;
}

void exe_kafka_sinks_stop(exe_t *exe) {
        for (int i = 0; i < exe->conf.ntasks; i++) {
                exe_task_t *task = &exe->conf.tasks[i];
                if (!task->sink)
                        continue;
                rd_kafka_topic_t *rkt = task->sink;
                for (int j = i; j < exe->conf.ntasks; j++)
                        if (exe->conf.tasks[j].sink == rkt)
                                exe->conf.tasks[j].sink = NULL;
                rd_kafka_topic_destroy(rkt);
        }
}

/* Errors after which the same record can never be written to the topic. */
static bool permanent(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_INVALID_MSG:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION: /* an invalid topic name */
                return true;
        default:
                return false;
        }
}

/* Produce with job as the message's opaque and wait for its delivery
 * report; the error it carries. */
static rd_kafka_resp_err_t produce_acked(exe_t *exe, exe_job_t *job,
                                         rd_kafka_topic_t *rkt,
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
                        exe->producer, RD_KAFKA_V_RKT(rkt),
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
        char errstr[256];
        rd_kafka_topic_t *rkt = sink_of(exe, task, errstr, sizeof(errstr));
        if (!rkt) {
                free(key);
                snprintf(res->message, sizeof(res->message),
                         "cannot produce to %s: %s", task->topic, errstr);
                res->retryable = true;
                return;
        }
        rd_kafka_resp_err_t err = produce_acked(exe, job, rkt, task, key,
                                                params);
        free(key);
        if (err) {
                bool perm = permanent(err);
                snprintf(res->message, sizeof(res->message),
                         "produce to %s failed%s: %s", task->topic,
                         err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                                 ? " (not acknowledged within the task's "
                                   "timeout)"
                                 : perm ? " (the topic will never take this "
                                          "record)"
                                        : "",
                         rd_kafka_err2str(err));
                res->retryable = !perm;
                return;
        }
        res->ok = true;
        res->exit_code = 0;
}
