/*
 * task_registry.c — tasks registered by the operator in the config file:
 *
 *   task.<name>.kind       = exec
 *   task.<name>.argv       = ["/usr/bin/convert", "{execution_id}"]  (JSON)
 *   task.<name>.cwd        = /srv/work
 *   task.<name>.env        = LANG,HOME     (names passed through)
 *   task.<name>.timeout_ms = 30000         (caps the job's own timeout)
 *
 * argv is a JSON array so that no shell ever parses anything; placeholders
 * {job_id}, {execution_id} and {attempt} are substituted per argument.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "exec_int.h"
#include "sched/err.h"

static exe_task_t *task_get(exe_conf_t *conf, const char *name,
                            size_t name_len, char *errstr,
                            size_t errstr_size) {
        for (int i = 0; i < conf->ntasks; i++)
                if (strlen(conf->tasks[i].name) == name_len &&
                    !strncmp(conf->tasks[i].name, name, name_len))
                        return &conf->tasks[i];
        if (conf->ntasks == EXE_TASKS_MAX || name_len == 0 ||
            name_len >= SCHED_TASK_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task name empty, too long, or more than %d "
                             "tasks",
                             EXE_TASKS_MAX);
                return NULL;
        }
        exe_task_t *task = &conf->tasks[conf->ntasks++];
        memset(task, 0, sizeof(*task));
        memcpy(task->name, name, name_len);
        return task;
}

static int set_argv(exe_task_t *task, const char *value, char *errstr,
                    size_t errstr_size) {
        json_error_t jerr;
        json_t *arr = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
        size_t n = arr ? json_array_size(arr) : 0;
        if (!json_is_array(arr) || n == 0 || n > EXE_ARGV_MAX) {
                json_decref(arr);
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: argv must be a JSON array of 1 to %d "
                             "strings",
                             task->name, EXE_ARGV_MAX);
                return -1;
        }
        for (size_t i = 0; task->argv[i]; i++) {
                free(task->argv[i]);
                task->argv[i] = NULL;
        }
        for (size_t i = 0; i < n; i++) {
                const char *s = json_string_value(json_array_get(arr, i));
                if (!s) {
                        json_decref(arr);
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: argv[%zu] is not a string",
                                     task->name, i);
                        return -1;
                }
                task->argv[i] = strdup(s);
        }
        json_decref(arr);
        if (task->argv[0][0] != '/') {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: argv[0] must be an absolute path",
                             task->name);
                return -1;
        }
        return 0;
}

static int set_env(exe_task_t *task, const char *value, char *errstr,
                   size_t errstr_size) {
        char *copy = strdup(value), *save = NULL;
        int n = 0;
        for (char *tok = strtok_r(copy, ", ", &save); tok;
             tok = strtok_r(NULL, ", ", &save)) {
                if (n == EXE_ENV_MAX) {
                        free(copy);
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: more than %d env names",
                                     task->name, EXE_ENV_MAX);
                        return -1;
                }
                free(task->env_allow[n]);
                task->env_allow[n++] = strdup(tok);
        }
        free(copy);
        return 0;
}

int exe_task_conf_cb(void *opaque, const char *key, const char *value,
                     char *errstr, size_t errstr_size) {
        exe_conf_t *conf = opaque;
        if (strncmp(key, "task.", 5))
                return -1;
        const char *name = key + 5, *dot = strrchr(name, '.');
        if (!dot || dot == name) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "expected task.<name>.<setting>, got \"%s\"",
                             key);
                return -1;
        }
        exe_task_t *task = task_get(conf, name, (size_t)(dot - name), errstr,
                                    errstr_size);
        if (!task)
                return -1;
        const char *setting = dot + 1;
        if (!strcmp(setting, "kind")) {
                if (strcmp(value, "exec")) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: unknown kind \"%s\" (exec)",
                                     task->name, value);
                        return -1;
                }
                task->kind = EXE_KIND_EXEC;
                return 0;
        }
        if (!strcmp(setting, "argv"))
                return set_argv(task, value, errstr, errstr_size);
        if (!strcmp(setting, "env"))
                return set_env(task, value, errstr, errstr_size);
        if (!strcmp(setting, "cwd")) {
                if (strlen(value) >= sizeof(task->cwd))
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG, "cwd too long"),
                               -1;
                strcpy(task->cwd, value);
                return 0;
        }
        if (!strcmp(setting, "timeout_ms")) {
                char *end;
                long long v = strtoll(value, &end, 10);
                if (*end || v < 0) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: timeout_ms must be >= 0",
                                     task->name);
                        return -1;
                }
                task->timeout_ms = v;
                return 0;
        }
        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                     "task %s: unknown setting \"%s\"", task->name, setting);
        return -1;
}

const exe_task_t *exe_task_find(const exe_conf_t *conf, const char *name) {
        for (int i = 0; i < conf->ntasks; i++)
                if (!strcmp(conf->tasks[i].name, name))
                        return conf->tasks[i].kind ? &conf->tasks[i] : NULL;
        return NULL;
}

void exe_tasks_free(exe_conf_t *conf) {
        for (int i = 0; i < conf->ntasks; i++) {
                for (int j = 0; conf->tasks[i].argv[j]; j++)
                        free(conf->tasks[i].argv[j]);
                for (int j = 0; conf->tasks[i].env_allow[j]; j++)
                        free(conf->tasks[i].env_allow[j]);
        }
        conf->ntasks = 0;
}
