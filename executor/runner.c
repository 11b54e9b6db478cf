/*
 * runner.c — one execution of a registered task, by its kind (task.h), and
 * what the runners share: the execution's timeout and the template
 * placeholders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"

void exe_run(exe_t *exe, exe_job_t *job, const exe_task_t *task,
             exe_result_t *res) {
        switch (task->kind) {
        case EXE_KIND_EXEC:
                exe_run_exec(exe, job, task, res);
                return;
        case EXE_KIND_HTTP:
                exe_run_http(exe, job, task, res);
                return;
        case EXE_KIND_KAFKA:
                exe_run_kafka(exe, job, task, res);
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

int64_t exe_run_timeout_ms(const exe_job_t *job, const exe_task_t *task) {
        int64_t timeout = job->ev.u.due.timeout_ms > 0
                                  ? job->ev.u.due.timeout_ms
                                  : 60000;
        if (task->timeout_ms > 0 && task->timeout_ms < timeout)
                timeout = task->timeout_ms;
        return timeout;
}

char *exe_expand(const char *tmpl, const sched_event_t *due) {
        char attempt[16];
        snprintf(attempt, sizeof(attempt), "%d", (int)due->u.due.attempt);
        const struct {
                const char *name, *value;
        } vars[] = {{"{job_id}", due->job_id},
                    {"{execution_id}", due->u.due.execution_id},
                    {"{attempt}", attempt}};
        /* Every value is shorter than an execution id, so each '{' may
         * grow the text by at most that much. */
        size_t cap = strlen(tmpl) + 1;
        for (const char *s = tmpl; (s = strchr(s, '{')); s++)
                cap += SCHED_EXEC_ID_MAX;
        char *out = malloc(cap), *o = out;
        if (!out)
                return NULL;
        for (const char *s = tmpl; *s;) {
                bool matched = false;
                for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                        size_t nl = strlen(vars[i].name);
                        if (!strncmp(s, vars[i].name, nl)) {
                                size_t vl = strlen(vars[i].value);
                                memcpy(o, vars[i].value, vl);
                                o += vl;
                                s += nl;
                                matched = true;
                                break;
                        }
                }
                if (!matched)
                        *o++ = *s++;
        }
        *o = '\0';
        return out;
}
