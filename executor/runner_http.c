/*
 * runner_http.c — runs an `http` task: a webhook to the operator's URL.
 *
 * One request per execution (libcurl easy handle, blocking in the worker
 * thread): the job's parameters as the JSON body, the execution id as
 * Idempotency-Key so the receiver can drop a re-delivery, X-Klok-Job-Id
 * and X-Klok-Attempt, then the task's static headers.  Redirects are not
 * followed (the URL is the operator's decision, not the receiver's) and
 * only http and https are spoken.
 *
 * Runs on a worker thread, which it blocks for at most the execution's
 * timeout (CURLOPT_TIMEOUT_MS).  libcurl reads the usual proxy variables
 * (https_proxy, no_proxy) from the environment, as an operator expects.
 *
 * Outcome: 2xx succeeds; 5xx, 408, 429, a timeout or a transport error is a
 * retryable failure; any other status is permanent, since sending the same
 * request again will get the same answer.  exit_code is the HTTP status,
 * -1 without one.  Messages name the status and the URL as the task shows
 * it (task_registry.c strips credentials), never a header value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "exec_int.h"

int exe_http_global_init(void) {
        return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* The head of the response body, for the status event's output. */
typedef struct http_excerpt_s {
        char *buf;
        size_t cap, len;
        bool full;
} http_excerpt_t;

/* Keeps the first cap bytes, then stops the transfer: the status is known
 * by then and the rest would only be read to be thrown away.  perform()
 * returns CURLE_WRITE_ERROR for that stop, which is not a failure. */
static size_t excerpt_write(char *p, size_t size, size_t nmemb,
                            void *opaque) {
        http_excerpt_t *x = opaque;
        size_t n = size * nmemb, room = x->cap - x->len;
        if (n > room) {
                memcpy(x->buf + x->len, p, room);
                x->len += room;
                x->full = true;
                return 0;
        }
        memcpy(x->buf + x->len, p, n);
        x->len += n;
        return n;
}

/* libcurl calls this about once a second, and more often while data
 * moves: the way to stop a request when the executor's shutdown grace
 * has passed (exe->abandon), as runner_exec.c stops its processes. */
static int abandon_check(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
                         curl_off_t ultotal, curl_off_t ulnow) {
        const exe_t *exe = opaque;
        return atomic_load(&exe->abandon) ? 1 : 0;
}

/* Ids come from Kafka records, which any producer may write: one with a
 * control character would split the request's headers. */
static bool header_safe(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* Append line to *list; false (and *list as it was) when out of memory. */
static bool slist_add(struct curl_slist **list, const char *line) {
        struct curl_slist *l = curl_slist_append(*list, line);
        if (!l)
                return false;
        *list = l;
        return true;
}

static bool header_add(struct curl_slist **list, const char *name,
                       const char *value) {
        char line[EXE_HEADER_NAME_MAX + EXE_HEADER_VALUE_MAX + 3];
        snprintf(line, sizeof(line), "%s: %s", name, value);
        return slist_add(list, line);
}

static struct curl_slist *headers_new(const exe_task_t *task,
                                      const sched_event_t *due) {
        char attempt[16];
        snprintf(attempt, sizeof(attempt), "%d", (int)due->u.due.attempt);
        struct curl_slist *list = NULL;
        /* "Expect:" with no value keeps libcurl from waiting for a
         * 100 Continue on larger bodies: a round trip for nothing. */
        bool ok = header_add(&list, "Content-Type", "application/json") &&
                  slist_add(&list, "Expect:") &&
                  header_add(&list, "Idempotency-Key",
                             due->u.due.execution_id) &&
                  header_add(&list, "X-Klok-Job-Id", due->job_id) &&
                  header_add(&list, "X-Klok-Attempt", attempt);
        for (int i = 0; ok && i < task->nheaders; i++)
                ok = header_add(&list, task->headers[i].name,
                                task->headers[i].value);
        if (!ok) {
                curl_slist_free_all(list);
                return NULL;
        }
        return list;
}

/* Every option of the request; fails only when out of memory or with a
 * libcurl that lacks a feature. */
static CURLcode request_setup(CURL *curl, exe_t *exe, const exe_task_t *task,
                              const char *method, const char *body,
                              struct curl_slist *hdrs, int64_t timeout,
                              http_excerpt_t *x, char *errbuf) {
        CURLcode cc;
        if ((cc = curl_easy_setopt(curl, CURLOPT_URL, task->url)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                                   "http,https")) ||
            (cc = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L)) ||
            /* Signals would reach the whole executor; timeouts work without
             * them with the threaded resolver Debian's libcurl is built
             * with. */
            (cc = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout)) ||
            /* POSTFIELDS makes a POST; PUT only renames the method. */
            (cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                                   strcmp(method, "POST") ? method : NULL)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t)strlen(body))) ||
            (cc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_USERAGENT,
                                   "klok-executor")) ||
            (cc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                                   excerpt_write)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, x)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                                   abandon_check)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_XFERINFODATA, exe)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf)))
                return cc;
        return CURLE_OK;
}

/* The outcome of a response with this status. */
static void http_outcome(exe_result_t *res, long status, const char *method,
                         const exe_task_t *task) {
        res->exit_code = (int)status;
        if (status >= 200 && status < 300) {
                res->ok = true;
                return;
        }
        res->retryable = status >= 500 || status == 429 || status == 408;
        snprintf(res->message, sizeof(res->message), "HTTP %ld from %s %s%s",
                 status, method, task->url_shown,
                 status >= 300 && status < 400 ? " (redirects are not followed)"
                                               : "");
}

void exe_run_http(exe_t *exe, exe_job_t *job, const exe_task_t *task,
                  exe_result_t *res) {
        const sched_event_t *due = &job->ev;
        const char *params =
                due->u.due.parameters ? due->u.due.parameters : "{}";
        const char *method = task->method[0] ? task->method : "POST";
        int64_t timeout = exe_run_timeout_ms(job, task);

        memset(res, 0, sizeof(*res));
        res->exit_code = -1;
        size_t cap = (size_t)exe->conf.output_max;
        http_excerpt_t x = {malloc(cap + 1), cap, 0, false};
        struct curl_slist *hdrs = NULL;
        CURL *curl = NULL;
        CURLcode cc = CURLE_OUT_OF_MEMORY;
        long status = 0;
        char errbuf[CURL_ERROR_SIZE] = "";

        if (!header_safe(due->job_id) ||
            !header_safe(due->u.due.execution_id)) {
                snprintf(res->message, sizeof(res->message),
                         "job id or execution id has control characters: "
                         "not sent as an HTTP header");
                goto done; /* the same record will never be sendable */
        }
        if (x.buf && (hdrs = headers_new(task, due)) &&
            (curl = curl_easy_init()))
                cc = request_setup(curl, exe, task, method, params, hdrs,
                                   timeout, &x, errbuf);
        if (cc) {
                snprintf(res->message, sizeof(res->message),
                         "cannot prepare %s %s: %s", method, task->url_shown,
                         curl_easy_strerror(cc));
                res->retryable = true;
                goto done;
        }

        cc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && x.full)) {
                http_outcome(res, status, method, task);
        } else {
                /* No (complete) answer: connection refused, DNS, TLS,
                 * reset, or the timeout.  Worth another attempt. */
                if (status > 0)
                        res->exit_code = (int)status;
                res->retryable = true;
                if (cc == CURLE_OPERATION_TIMEDOUT)
                        snprintf(res->message, sizeof(res->message),
                                 "%s %s timed out after %lld ms", method,
                                 task->url_shown, (long long)timeout);
                else if (cc == CURLE_ABORTED_BY_CALLBACK)
                        snprintf(res->message, sizeof(res->message),
                                 "abandoned: the executor is shutting down "
                                 "and its grace period passed; %s %s "
                                 "stopped",
                                 method, task->url_shown);
                else
                        snprintf(res->message, sizeof(res->message),
                                 "%s %s: %s", method, task->url_shown,
                                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        }

done:
        curl_easy_cleanup(curl);
        curl_slist_free_all(hdrs);
        if (x.buf) {
                x.buf[x.len] = '\0';
                res->output = x.buf;
        }
}
