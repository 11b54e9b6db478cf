/*
 * runner.c — one execution of a registered task, by its kind (task.h).
 */
#include <stdio.h>
#include <string.h>

#include "exec_int.h"

void exe_run(exe_t *exe, exe_job_t *job, const exe_task_t *task,
             exe_result_t *res) {
        switch (task->kind) {
        case EXE_KIND_EXEC:
                exe_run_exec(exe, job, task, res);
                return;
        }
        /* A kind the registry accepted but no runner knows: a bug here,
         * reported as a permanent failure rather than a crash. */
        memset(res, 0, sizeof(*res));
        res->exit_code = -1;
        snprintf(res->message, sizeof(res->message),
                 "task \"%s\": no runner for its kind %d", task->name,
                 (int)task->kind);
}
