/*
 * task.h — tasks the operator registers on an executor, and the runners
 * that carry out one execution of each kind.
 *
 * A task is defined in the executor's config file (task_registry.c):
 *   task.<name>.kind = exec | http | kafka
 * and every execution of it goes through exe_run() (runner.c), which calls
 * the runner of its kind.  A runner never throws an execution away: it
 * always fills an exe_result_t, success or failure with a reason.
 */
#ifndef EXEC_TASK_H
#define EXEC_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/event.h"

#define EXE_TASKS_MAX 64
#define EXE_ARGV_MAX 32
#define EXE_ENV_MAX 32
#define EXE_HEADERS_MAX 32         /* static headers of an http/kafka task */
#define EXE_HEADER_NAME_MAX 128    /* bytes, without the NUL */
#define EXE_HEADER_VALUE_MAX 2048  /* bytes, without the NUL */
#define EXE_URL_MAX 2048           /* bytes, without the NUL */
#define EXE_TOPIC_MAX 249          /* Kafka's own limit on topic names */
#define EXE_KEY_MAX 512            /* kafka key template, before expansion */
#define EXE_KAFKA_TIMEOUT_MS 30000 /* a kafka task's delivery, by default */

typedef enum exe_kind_e {
        EXE_KIND_EXEC = 1,
        EXE_KIND_HTTP,
        EXE_KIND_KAFKA,
} exe_kind_t;

/** One static header of an http or kafka task. */
typedef struct exe_header_s {
        char *name, *value;
} exe_header_t;

/** One task registered by the operator in the config file.  Strings are
 *  owned by the task and freed by exe_tasks_free(). */
typedef struct exe_task_s {
        char name[SCHED_TASK_MAX];
        exe_kind_t kind;
        unsigned settings;  /* task_registry.c's bits of the keys given */
        int64_t timeout_ms; /* 0 = the job's own; any kind */
        /* exec */
        char *argv[EXE_ARGV_MAX + 1]; /* template; NULL-terminated */
        char cwd[1024];
        char *env_allow[EXE_ENV_MAX + 1]; /* names passed through */
        /* http */
        char *url;       /* as configured: may carry credentials */
        char *url_shown; /* without user info, query and fragment: for
                          * messages, which end up in the status topic */
        char method[8];  /* "POST" or "PUT"; "" = POST */
        /* http, kafka */
        exe_header_t headers[EXE_HEADERS_MAX];
        int nheaders;
        /* kafka */
        char *topic;
        char *key; /* template; NULL = "{job_id}" */
        void *sink; /* its rd_kafka_topic_t, made at its first execution */
} exe_task_t;

/** Outcome of running one task. */
typedef struct exe_result_s {
        bool ok;
        bool retryable;
        int exit_code;     /* -1 when killed or not started; http: status */
        char message[512]; /* error text for FAILED */
        char *output;      /* bounded excerpt of output, malloc'd */
} exe_result_t;

struct exe_s;
struct exe_job_s;
struct exe_conf_s;

/* task_registry.c */
int exe_task_conf_cb(void *opaque, const char *key, const char *value,
                     char *errstr, size_t errstr_size);
/** Once the whole config is read, before any thread starts: sets up what
 *  the runners need process-wide (libcurl), then checks that every task
 *  has a kind and the settings its kind requires, and parses its url.
 *  -1 with errstr naming the task otherwise: the executor must not start. */
int exe_tasks_start(struct exe_conf_s *conf, char *errstr,
                    size_t errstr_size);
const exe_task_t *exe_task_find(const struct exe_conf_s *conf,
                                const char *name);
void exe_tasks_free(struct exe_conf_s *conf);

/* runner.c: run one execution of task (never NULL) with the runner of its
 * kind. */
void exe_run(struct exe_s *exe, struct exe_job_s *job, const exe_task_t *task,
             exe_result_t *res);
/** The execution's timeout: the job's own (60 s if none), capped by the
 *  task's timeout_ms. */
int64_t exe_run_timeout_ms(const struct exe_job_s *job,
                           const exe_task_t *task);
/** tmpl with {job_id}, {execution_id} and {attempt} substituted; malloc'd,
 *  NULL when out of memory. */
char *exe_expand(const char *tmpl, const sched_event_t *due);

/* runner_exec.c */
void exe_run_exec(struct exe_s *exe, struct exe_job_s *job,
                  const exe_task_t *task, exe_result_t *res);

/* runner_http.c */
/** libcurl's process-wide set-up (exe_tasks_start() calls it): once, before
 *  any thread starts, as curl_global_init is not thread-safe.  -1 on
 *  failure. */
int exe_http_global_init(void);
void exe_run_http(struct exe_s *exe, struct exe_job_s *job,
                  const exe_task_t *task, exe_result_t *res);

/* runner_kafka.c */
/** Destroy the kafka tasks' topic handles (made at their first execution,
 *  with the task's delivery timeout), before the producer. */
void exe_kafka_sinks_stop(struct exe_s *exe);
/** A kafka task's delivery timeout, which bounds its executions. */
int64_t exe_kafka_timeout_ms(const exe_task_t *task);
void exe_run_kafka(struct exe_s *exe, struct exe_job_s *job,
                   const exe_task_t *task, exe_result_t *res);

#endif /* EXEC_TASK_H */
