/*
 * task_registry.c — tasks registered by the operator in the config file:
 *
 *   task.<name>.kind       = exec | http | kafka
 *   task.<name>.timeout_ms = 30000         (caps the job's own timeout;
 *                                           kafka: the delivery timeout,
 *                                           30 s if not set)
 *
 *   exec   task.<name>.argv    = ["/usr/bin/convert", "{execution_id}"]
 *          task.<name>.cwd     = /srv/work
 *          task.<name>.env     = LANG,HOME     (names passed through)
 *   http   task.<name>.url     = https://hooks.example.com/klok
 *          task.<name>.method  = POST | PUT    (POST)
 *          task.<name>.headers = {"Authorization": "Bearer ..."}
 *   kafka  task.<name>.topic   = orders.delayed
 *          task.<name>.key     = {job_id}      (the default)
 *          task.<name>.headers = {"source": "klok"}
 *
 * argv, url and topic are required by their kind.  argv is a JSON array so
 * that no shell ever parses anything; placeholders {job_id},
 * {execution_id} and {attempt} are substituted per argument, and in a
 * kafka key.  Settings may come in any order: one that does not belong to
 * the task's kind is refused as soon as both are known, and
 * exe_tasks_start() looks for missing ones once the whole config is read,
 * so a mistyped task stops the executor at start rather than failing jobs.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "exec_int.h"
#include "sched/err.h"

/* Bits of exe_task_t.settings: which keys the config gave. */
enum {
        SET_TIMEOUT = 1u << 0,
        SET_ARGV = 1u << 1,
        SET_CWD = 1u << 2,
        SET_ENV = 1u << 3,
        SET_URL = 1u << 4,
        SET_METHOD = 1u << 5,
        SET_HEADERS = 1u << 6,
        SET_TOPIC = 1u << 7,
        SET_KEY = 1u << 8,
};

typedef int (*task_set_cb)(exe_task_t *task, const char *value, char *errstr,
                           size_t errstr_size);

static int set_timeout(exe_task_t *, const char *, char *, size_t);
static int set_argv(exe_task_t *, const char *, char *, size_t);
static int set_cwd(exe_task_t *, const char *, char *, size_t);
static int set_env(exe_task_t *, const char *, char *, size_t);
static int set_url(exe_task_t *, const char *, char *, size_t);
static int set_method(exe_task_t *, const char *, char *, size_t);
static int set_headers(exe_task_t *, const char *, char *, size_t);
static int set_topic(exe_task_t *, const char *, char *, size_t);
static int set_key(exe_task_t *, const char *, char *, size_t);

static const struct task_setting_s {
        const char *name;
        unsigned bit;
        task_set_cb set;
} task_settings[] = {
        {"argv", SET_ARGV, set_argv},
        {"cwd", SET_CWD, set_cwd},
        {"env", SET_ENV, set_env},
        {"url", SET_URL, set_url},
        {"method", SET_METHOD, set_method},
        {"headers", SET_HEADERS, set_headers},
        {"topic", SET_TOPIC, set_topic},
        {"key", SET_KEY, set_key},
        {"timeout_ms", SET_TIMEOUT, set_timeout},
};
#define TASK_SETTINGS_CNT (sizeof(task_settings) / sizeof(task_settings[0]))

static int prepare_http(exe_task_t *, char *, size_t);
static int prepare_kafka(exe_task_t *, char *, size_t);

static const struct task_kind_s {
        exe_kind_t kind;
        const char *name;
        unsigned allowed, required;
        /* What needs the whole task, or libcurl set up (may be NULL). */
        int (*prepare)(exe_task_t *task, char *errstr, size_t errstr_size);
} task_kinds[] = {
        {EXE_KIND_EXEC, "exec", SET_TIMEOUT | SET_ARGV | SET_CWD | SET_ENV,
         SET_ARGV, NULL},
        {EXE_KIND_HTTP, "http",
         SET_TIMEOUT | SET_URL | SET_METHOD | SET_HEADERS, SET_URL,
         prepare_http},
        {EXE_KIND_KAFKA, "kafka",
         SET_TIMEOUT | SET_TOPIC | SET_KEY | SET_HEADERS, SET_TOPIC,
         prepare_kafka},
};
#define TASK_KINDS_CNT (sizeof(task_kinds) / sizeof(task_kinds[0]))

static const struct task_kind_s *kind_of(const exe_task_t *task) {
        for (size_t i = 0; i < TASK_KINDS_CNT; i++)
                if (task_kinds[i].kind == task->kind)
                        return &task_kinds[i];
        return NULL;
}

/* "url, method, headers" into buf: the names of the settings in bits. */
static const char *setting_names(unsigned bits, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < TASK_SETTINGS_CNT && n < size; i++)
                if (bits & task_settings[i].bit)
                        n += (size_t)snprintf(buf + n, size - n, "%s%s",
                                              n ? ", " : "",
                                              task_settings[i].name);
        return buf;
}

/* The settings given that the task's kind does not take: an error. */
static int check_foreign(const exe_task_t *task, char *errstr,
                         size_t errstr_size) {
        const struct task_kind_s *k = kind_of(task);
        unsigned foreign = k ? task->settings & ~k->allowed : 0;
        if (!foreign)
                return 0;
        char given[128], allowed[128];
        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                     "task %s: %s does not apply to kind %s (it takes %s)",
                     task->name, setting_names(foreign, given, sizeof(given)),
                     k->name,
                     setting_names(k->allowed, allowed, sizeof(allowed)));
        return -1;
}

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

static int set_timeout(exe_task_t *task, const char *value, char *errstr,
                       size_t errstr_size) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || v < 0) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: timeout_ms must be >= 0", task->name);
                return -1;
        }
        task->timeout_ms = v;
        return 0;
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

static int set_cwd(exe_task_t *task, const char *value, char *errstr,
                   size_t errstr_size) {
        if (strlen(value) >= sizeof(task->cwd)) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: cwd too long", task->name);
                return -1;
        }
        strcpy(task->cwd, value);
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

/* Replace *field with a copy of value. */
static int set_str(char **field, const char *value, const exe_task_t *task,
                   char *errstr, size_t errstr_size) {
        char *s = strdup(value);
        if (!s) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "task %s: out of memory", task->name);
                return -1;
        }
        free(*field);
        *field = s;
        return 0;
}

/* Parsed by exe_tasks_start(), with libcurl, once it is set up. */
static int set_url(exe_task_t *task, const char *value, char *errstr,
                   size_t errstr_size) {
        if (strlen(value) > EXE_URL_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: url longer than %d bytes", task->name,
                             EXE_URL_MAX);
                return -1;
        }
        return set_str(&task->url, value, task, errstr, errstr_size);
}

static int set_method(exe_task_t *task, const char *value, char *errstr,
                      size_t errstr_size) {
        if (strcasecmp(value, "POST") && strcasecmp(value, "PUT")) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: method must be POST or PUT, not "
                             "\"%s\"",
                             task->name, value);
                return -1;
        }
        for (size_t i = 0; value[i]; i++)
                task->method[i] = (char)toupper((unsigned char)value[i]);
        task->method[strlen(value)] = '\0';
        return 0;
}

/* RFC 9110 token characters: what an HTTP field name is made of. */
static bool is_token(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
                        return false;
        return true;
}

/* A header value that cannot split a request: no control characters but
 * tab (so no CR or LF), no NUL inside. */
static bool is_field_value(const char *s, size_t len) {
        if (strlen(s) != len)
                return false;
        for (; *s; s++)
                if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
                        return false;
        return true;
}

static void headers_free(exe_task_t *task) {
        for (int i = 0; i < task->nheaders; i++) {
                free(task->headers[i].name);
                free(task->headers[i].value);
        }
        task->nheaders = 0;
}

/* A JSON object of strings.  Names are HTTP tokens for both kinds (any
 * Kafka client can read those); which names a kind reserves for itself is
 * its prepare function's business, once the kind is known. */
static int set_headers(exe_task_t *task, const char *value, char *errstr,
                       size_t errstr_size) {
        json_error_t jerr;
        json_t *obj = json_loads(value, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(obj) || json_object_size(obj) > EXE_HEADERS_MAX) {
                json_decref(obj);
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: headers must be a JSON object of at "
                             "most %d strings",
                             task->name, EXE_HEADERS_MAX);
                return -1;
        }
        headers_free(task);
        const char *name;
        json_t *v;
        json_object_foreach(obj, name, v) {
                const char *s = json_string_value(v);
                const char *why =
                        !is_token(name) ? "is not a valid header name"
                        : strlen(name) > EXE_HEADER_NAME_MAX ? "is too long"
                        : !s ? "has a value that is not a string"
                        : !is_field_value(s, json_string_length(v))
                                ? "has control characters in its value"
                        : json_string_length(v) > EXE_HEADER_VALUE_MAX
                                ? "has a value that is too long"
                                : NULL;
                if (why) {
                        /* Never the value: it may be a secret. */
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: header \"%.*s\" %s",
                                     task->name, EXE_HEADER_NAME_MAX, name,
                                     why);
                        json_decref(obj);
                        headers_free(task);
                        return -1;
                }
                exe_header_t *h = &task->headers[task->nheaders++];
                h->name = strdup(name);
                h->value = strdup(s);
                if (!h->name || !h->value) {
                        json_decref(obj);
                        headers_free(task);
                        sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                     "task %s: out of memory", task->name);
                        return -1;
                }
        }
        json_decref(obj);
        return 0;
}

/* Kafka's rule for topic names (Topic.validate in the Java client). */
static int set_topic(exe_task_t *task, const char *value, char *errstr,
                     size_t errstr_size) {
        size_t n = strlen(value);
        bool ok = n > 0 && n <= EXE_TOPIC_MAX && strcmp(value, ".") &&
                  strcmp(value, "..");
        for (const char *s = value; ok && *s; s++)
                ok = isalnum((unsigned char)*s) || strchr("._-", *s);
        if (!ok) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: topic must be 1 to %d of "
                             "[a-zA-Z0-9._-], got \"%.*s\"",
                             task->name, EXE_TOPIC_MAX, 64, value);
                return -1;
        }
        return set_str(&task->topic, value, task, errstr, errstr_size);
}

static int set_key(exe_task_t *task, const char *value, char *errstr,
                   size_t errstr_size) {
        if (!*value || strlen(value) > EXE_KEY_MAX) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: key must be 1 to %d bytes",
                             task->name, EXE_KEY_MAX);
                return -1;
        }
        return set_str(&task->key, value, task, errstr, errstr_size);
}

static int set_kind(exe_task_t *task, const char *value, char *errstr,
                    size_t errstr_size) {
        for (size_t i = 0; i < TASK_KINDS_CNT; i++) {
                if (strcmp(value, task_kinds[i].name))
                        continue;
                task->kind = task_kinds[i].kind;
                return check_foreign(task, errstr, errstr_size);
        }
        char names[64];
        size_t n = 0;
        for (size_t i = 0; i < TASK_KINDS_CNT; i++)
                n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
                                      i ? ", " : "", task_kinds[i].name);
        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                     "task %s: unknown kind \"%.*s\" (%s)", task->name, 64,
                     value, names);
        return -1;
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
        if (!strcmp(setting, "kind"))
                return set_kind(task, value, errstr, errstr_size);
        for (size_t i = 0; i < TASK_SETTINGS_CNT; i++) {
                const struct task_setting_s *s = &task_settings[i];
                if (strcmp(setting, s->name))
                        continue;
                if (s->set(task, value, errstr, errstr_size))
                        return -1;
                task->settings |= s->bit;
                return check_foreign(task, errstr, errstr_size);
        }
        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                     "task %s: unknown setting \"%s\"", task->name, setting);
        return -1;
}

/* The URL as messages show it: user info, query and fragment removed, as
 * they are where secrets hide (https://user:token@host/p?sig=...).
 * malloc'd, NULL on failure. */
static char *url_shown(CURLU *u) {
        CURLU *c = curl_url_dup(u);
        char *shown = NULL, *s = NULL;
        if (c && !curl_url_set(c, CURLUPART_USER, NULL, 0) &&
            !curl_url_set(c, CURLUPART_PASSWORD, NULL, 0) &&
            !curl_url_set(c, CURLUPART_OPTIONS, NULL, 0) &&
            !curl_url_set(c, CURLUPART_QUERY, NULL, 0) &&
            !curl_url_set(c, CURLUPART_FRAGMENT, NULL, 0) &&
            !curl_url_get(c, CURLUPART_URL, &s, 0))
                shown = strdup(s);
        curl_free(s);
        curl_url_cleanup(c);
        return shown;
}

/* The url, parsed by libcurl's own parser so that what is accepted at start
 * is exactly what the runner can request; and the headers the runner sets
 * itself, or that libcurl must own, are not the operator's. */
static int prepare_http(exe_task_t *task, char *errstr, size_t errstr_size) {
        static const char *const reserved[] = {
                "Content-Type",    "Content-Length", "Transfer-Encoding",
                "Host",            "Expect",         "Connection",
                "Idempotency-Key", "X-Klok-Job-Id",  "X-Klok-Attempt"};
        for (int i = 0; i < task->nheaders; i++)
                for (size_t j = 0; j < sizeof(reserved) / sizeof(*reserved);
                     j++)
                        if (!strcasecmp(task->headers[i].name, reserved[j])) {
                                sched_seterr(errstr, errstr_size,
                                             SCHED_ERR_CONFIG,
                                             "task %s: header %s is set by "
                                             "the executor",
                                             task->name, reserved[j]);
                                return -1;
                        }
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, task->url, 0)
                         : CURLUE_OUT_OF_MEMORY;
        if (!uc)
                uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        if (!uc)
                uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
        int rc = -1;
        if (uc)
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: url is not valid (%s)", task->name,
                             curl_url_strerror(uc));
        else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "task %s: url must be http:// or https://, not "
                             "%s://",
                             task->name, scheme);
        else if (!(task->url_shown = url_shown(u)))
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "task %s: out of memory", task->name);
        else
                rc = 0;
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return rc;
}

/* The klok.* header names are the executor's own. */
static int prepare_kafka(exe_task_t *task, char *errstr,
                         size_t errstr_size) {
        for (int i = 0; i < task->nheaders; i++)
                if (!strncasecmp(task->headers[i].name, "klok.", 5)) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: header names klok.* are the "
                                     "executor's (got %s)",
                                     task->name, task->headers[i].name);
                        return -1;
                }
        return 0;
}

int exe_tasks_start(exe_conf_t *conf, char *errstr, size_t errstr_size) {
        if (exe_http_global_init()) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                             "libcurl: curl_global_init failed");
                return -1;
        }
        for (int i = 0; i < conf->ntasks; i++) {
                exe_task_t *task = &conf->tasks[i];
                const struct task_kind_s *k = kind_of(task);
                if (!k) {
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: no kind (task.%s.kind = exec, "
                                     "http or kafka)",
                                     task->name, task->name);
                        return -1;
                }
                unsigned missing = k->required & ~task->settings;
                if (missing) {
                        char names[128];
                        sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                     "task %s: kind %s needs %s", task->name,
                                     k->name,
                                     setting_names(missing, names,
                                                   sizeof(names)));
                        return -1;
                }
                /* Foreign settings were refused while reading. */
                if (k->prepare && k->prepare(task, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

const exe_task_t *exe_task_find(const exe_conf_t *conf, const char *name) {
        for (int i = 0; i < conf->ntasks; i++)
                if (!strcmp(conf->tasks[i].name, name))
                        return conf->tasks[i].kind ? &conf->tasks[i] : NULL;
        return NULL;
}

void exe_tasks_free(exe_conf_t *conf) {
        for (int i = 0; i < conf->ntasks; i++) {
                exe_task_t *task = &conf->tasks[i];
                for (int j = 0; task->argv[j]; j++)
                        free(task->argv[j]);
                for (int j = 0; task->env_allow[j]; j++)
                        free(task->env_allow[j]);
                headers_free(task);
                free(task->url);
                free(task->url_shown);
                free(task->topic);
                free(task->key);
        }
        conf->ntasks = 0;
}
