/*
 * task.h — tasks the operator registers on an executor, and the runners
 * that carry out one execution of each kind.
 *
 * A task is defined in the executor's config file (task_registry.c):
 *   task.<name>.kind = exec | ...
 * and every execution of it goes through exe_run() (runner.c), which calls
 * the runner of its kind.  A runner never throws an execution away: it
 * always fills an exe_result_t, success or failure with a reason.
 */
#ifndef EXEC_TASK_H
#define EXEC_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/event.h"

#define EXE_TASKS_MAX 64
#define EXE_ARGV_MAX 32
#define EXE_ENV_MAX 32

typedef enum exe_kind_e {
        EXE_KIND_EXEC = 1,
} exe_kind_t;

/** One task registered by the operator in the config file. */
typedef struct exe_task_s {
        char name[SCHED_TASK_MAX];
        exe_kind_t kind;
        char *argv[EXE_ARGV_MAX + 1]; /* template; NULL-terminated */
        char cwd[1024];
        char *env_allow[EXE_ENV_MAX + 1]; /* names passed through */
        int64_t timeout_ms;               /* 0 = the job's own */
} exe_task_t;

/** Outcome of running one task. */
typedef struct exe_result_s {
        bool ok;
        bool retryable;
        int exit_code;     /* -1 when killed or not started */
        char message[512]; /* error text for FAILED */
        char *output;      /* bounded excerpt of output, malloc'd */
} exe_result_t;

struct exe_s;
struct exe_job_s;
struct exe_conf_s;

/* task_registry.c */
int exe_task_conf_cb(void *opaque, const char *key, const char *value,
                     char *errstr, size_t errstr_size);
const exe_task_t *exe_task_find(const struct exe_conf_s *conf,
                                const char *name);
void exe_tasks_free(struct exe_conf_s *conf);

/* runner.c: run one execution of task (never NULL) with the runner of its
 * kind. */
void exe_run(struct exe_s *exe, struct exe_job_s *job, const exe_task_t *task,
             exe_result_t *res);

/* runner_exec.c */
void exe_run_exec(struct exe_s *exe, struct exe_job_s *job,
                  const exe_task_t *task, exe_result_t *res);

#endif /* EXEC_TASK_H */
