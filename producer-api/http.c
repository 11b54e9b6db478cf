/*
 * http.c — klok-api's libmicrohttpd daemon: connections, bodies, routing,
 * replies.
 *
 * The daemon runs http.threads epoll workers with suspend/resume.  Bodies
 * are read across handler calls into a buffer capped at http.body.max
 * (413 beyond, decided from Content-Length before reading when possible).
 * No MHD_PostProcessor anywhere (CVE-2023-27371 in 0.9.75): bodies are
 * JSON, parsed by sched/job_json.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api_int.h"
#include "sched/digest.h"
#include "sched/job_json.h"
#include "sched/log.h"

#define SUB "http"

/* --- Replies -------------------------------------------------------------- */

enum MHD_Result api_reply(api_req_t *req, unsigned code,
                          const char *content_type, const char *body,
                          size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
                len, (void *)body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
        if (req->stale)
                MHD_add_response_header(resp, "Klok-Consistency", "stale");
        if (code == 503 || code == 429) {
                char ra[16];
                snprintf(ra, sizeof(ra), "%d",
                         req->retry_after > 0 ? req->retry_after : 1);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
        }
        if (code == 401 && req->auth_challenge) /* RFC 6750 §3 */
                MHD_add_response_header(
                        resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                        req->auth_challenge == 2
                                ? "Bearer realm=\"klok\", "
                                  "error=\"invalid_token\""
                                : "Bearer realm=\"klok\"");
        if (req->route == API_ROUTE_DASHBOARD) {
                /* The page loads its own files only; nothing inline. */
                MHD_add_response_header(resp, "Content-Security-Policy",
                                        "default-src 'self'; "
                                        "frame-ancestors 'none'");
                MHD_add_response_header(resp, "X-Content-Type-Options",
                                        "nosniff");
        }
        if (code == 405) {
                const char *allow = "GET";
                switch (req->route) {
                case API_ROUTE_JOBS_CREATE:
                case API_ROUTE_JOBS_LIST:
                        allow = "GET, POST";
                        break;
                case API_ROUTE_JOB_PAUSE:
                case API_ROUTE_JOB_RESUME:
                        allow = "POST";
                        break;
                case API_ROUTE_JOB_GET:
                case API_ROUTE_JOB_CANCEL:
                case API_ROUTE_JOB_UPDATE:
                        allow = "GET, DELETE, PATCH";
                        break;
                default:
                        break;
                }
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        }
        if (code == 308)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
                                        "/dashboard/");
        if (code == 201 && req->job_id[0]) {
                char loc[32 + SCHED_ID_MAX];
                snprintf(loc, sizeof(loc), "/v1/jobs/%s", req->job_id);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
        }
        enum MHD_Result r = MHD_queue_response(req->conn, code, resp);
        MHD_destroy_response(resp);
        if (r == MHD_YES)
                req->answered = true;
        api_metrics_request(&req->api->metrics, req->route, code);
        return r;
}

enum MHD_Result api_reply_error(api_req_t *req, unsigned code,
                                const char *error, const char *message,
                                const char *field) {
        json_t *o = json_object();
        char *text = NULL;
        if (o) {
                json_object_set_new(o, "error", json_string(error));
                json_t *m = json_string(message);
                json_object_set_new(o, "message",
                                    m ? m : json_string("(unprintable)"));
                if (field && *field) {
                        json_t *f = json_string(field);
                        json_object_set_new(o, "field",
                                            f ? f : json_string("?"));
                }
                text = json_dumps(o, JSON_COMPACT);
                json_decref(o);
        }
        static const char fallback[] =
                "{\"error\":\"internal\",\"message\":\"out of memory\"}";
        enum MHD_Result r =
                api_reply(req, code, "application/json",
                          text ? text : fallback,
                          text ? strlen(text) : sizeof(fallback) - 1);
        free(text);
        return r;
}

/* --- Routing -------------------------------------------------------------- */

/* Set req->route (and req->job_id) from the method and path; returns 0, or
 * 404/405 for a path or method that has no route. */
static unsigned route(api_req_t *req, const char *method, const char *url) {
        bool get = !strcmp(method, MHD_HTTP_METHOD_GET);
        bool post = !strcmp(method, MHD_HTTP_METHOD_POST);
        bool del = !strcmp(method, MHD_HTTP_METHOD_DELETE);
        bool patch = !strcmp(method, MHD_HTTP_METHOD_PATCH);

        req->route = API_ROUTE_OTHER;
        if (!strcmp(url, "/healthz"))
                return (req->route = API_ROUTE_HEALTHZ), get ? 0 : 405;
        if (!strcmp(url, "/readyz"))
                return (req->route = API_ROUTE_READYZ), get ? 0 : 405;
        if (!strcmp(url, "/metrics"))
                return (req->route = API_ROUTE_METRICS), get ? 0 : 405;
        if (!strcmp(url, "/v1/admin/view-digest"))
                return (req->route = API_ROUTE_VIEW_DIGEST), get ? 0 : 405;
        if (!strcmp(url, "/v1/jobs")) {
                req->route = get ? API_ROUTE_JOBS_LIST : API_ROUTE_JOBS_CREATE;
                return get || post ? 0 : 405;
        }
        static const char dash[] = "/dashboard/";
        if (!strcmp(url, "/dashboard")) { /* its pages use relative URLs */
                snprintf(req->job_id, sizeof(req->job_id), "/");
                return (req->route = API_ROUTE_DASHBOARD), get ? 0 : 405;
        }
        if (!strncmp(url, dash, sizeof(dash) - 1)) {
                /* The file name travels in job_id (a file of the
                 * dashboard's own list, never a path). */
                const char *name = url + sizeof(dash) - 1;
                if (strlen(name) >= sizeof(req->job_id) || strchr(name, '/'))
                        return 404;
                snprintf(req->job_id, sizeof(req->job_id), "%s", name);
                return (req->route = API_ROUTE_DASHBOARD), get ? 0 : 405;
        }

        static const char prefix[] = "/v1/jobs/";
        if (strncmp(url, prefix, sizeof(prefix) - 1))
                return 404;
        const char *id = url + sizeof(prefix) - 1;
        const char *slash = strchr(id, '/');
        size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
        if (idlen == 0 || idlen >= sizeof(req->job_id))
                return 404;
        memcpy(req->job_id, id, idlen);
        req->job_id[idlen] = '\0';
        if (!sched_job_id_valid(req->job_id))
                return 404;

        if (!slash) {
                if (get)
                        return (req->route = API_ROUTE_JOB_GET), 0;
                if (patch)
                        return (req->route = API_ROUTE_JOB_UPDATE), 0;
                req->route = API_ROUTE_JOB_CANCEL;
                return del ? 0 : 405;
        }
        if (!strcmp(slash, "/executions"))
                return (req->route = API_ROUTE_JOB_EXECUTIONS), get ? 0 : 405;
        if (!strcmp(slash, "/records"))
                return (req->route = API_ROUTE_JOB_RECORDS), get ? 0 : 405;
        if (!strcmp(slash, "/pause"))
                return (req->route = API_ROUTE_JOB_PAUSE), post ? 0 : 405;
        if (!strcmp(slash, "/resume"))
                return (req->route = API_ROUTE_JOB_RESUME), post ? 0 : 405;
        return 404;
}

/* --- Built-in routes ------------------------------------------------------ */

static enum MHD_Result handle_readyz(api_req_t *req) {
        char reason[256];
        if (api_viewer_ready(req->api, reason, sizeof(reason))) {
                static const char ok[] = "{\"status\":\"ready\"}";
                return api_reply(req, 200, "application/json", ok,
                                 sizeof(ok) - 1);
        }
        return api_reply_error(req, 503, "not_ready", reason, NULL);
}

static enum MHD_Result handle_metrics(api_req_t *req) {
        char *text;
        size_t len;
        if (api_metrics_render(&req->api->metrics, &text, &len))
                return api_reply_error(req, 503, "unavailable",
                                       "out of memory", NULL);
        enum MHD_Result r = api_reply(
                req, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                len);
        free(text);
        return r;
}

/* A query parameter in [0, max]; -1 when absent or not such a number. */
static long query_index(api_req_t *req, const char *name, long max) {
        const char *arg = MHD_lookup_connection_value(
                req->conn, MHD_GET_ARGUMENT_KIND, name);
        char *end = NULL;
        long v = arg && *arg ? strtol(arg, &end, 10) : -1;
        return end && !*end && v >= 0 && v <= max ? v : -1;
}

/* GET /v1/admin/view-digest?partition=N[&bucket=K]: the view's digest of
 * partition N, or the rows of one of its buckets (sched/digest.h), read
 * from one snapshot: what `klokctl rebuild --verify` compares. */
static enum MHD_Result handle_view_digest(api_req_t *req) {
        api_t *api = req->api;
        pthread_mutex_lock(&api->lock);
        int32_t parts = api->commands_parts;
        pthread_mutex_unlock(&api->lock);
        if (parts <= 0)
                return api_reply_error(req, 503, "unavailable",
                                       "the partitions are not known yet",
                                       NULL);
        long p = query_index(req, "partition", (long)parts - 1);
        if (p < 0)
                return api_reply_error(req, 400, "invalid_field",
                                       "a partition of the commands topic",
                                       "partition");
        long bucket = -1;
        if (MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                        "bucket") &&
            (bucket = query_index(req, "bucket",
                                  SCHED_DIGEST_BUCKETS - 1)) < 0)
                return api_reply_error(req, 400, "invalid_field",
                                       "a bucket from 0 to 255", "bucket");
        sched_digest_set_t set;
        sched_view_digest_set(&set, (int32_t)p, parts);
        char *text = NULL;
        sched_digest_t d;
        if (bucket >= 0)
                sched_digest_bucket_json(api->store, &set, (int)bucket, &text);
        else if (!sched_digest_compute(api->store, &set, api->topic_commands,
                                       api->topic_status, &d))
                text = sched_digest_json(&d);
        if (!text)
                return api_reply_error(req, 503, "unavailable",
                                       "out of memory", NULL);
        enum MHD_Result r = api_reply(req, 200, "application/json", text,
                                      strlen(text));
        free(text);
        return r;
}

static enum MHD_Result dispatch(api_req_t *req) {
        static const char ok[] = "{\"status\":\"ok\"}";
        switch (req->route) {
        case API_ROUTE_HEALTHZ:
                return api_reply(req, 200, "application/json", ok,
                                 sizeof(ok) - 1);
        case API_ROUTE_READYZ:
                return handle_readyz(req);
        case API_ROUTE_METRICS:
                return handle_metrics(req);
        case API_ROUTE_DASHBOARD:
                return api_dashboard_handle(req, req->job_id);
        case API_ROUTE_VIEW_DIGEST:
                return handle_view_digest(req);
        default:
                return api_jobs_handle(req);
        }
}

/* --- The access handler --------------------------------------------------- */

/* Append upload data, or drop it once over the cap. */
static void body_append(api_req_t *req, const char *data, size_t size) {
        size_t max = (size_t)req->api->conf.http_body_max;
        if (req->body_too_big)
                return;
        if (size > max - req->body_len) {
                req->body_too_big = true;
                free(req->body);
                req->body = NULL;
                req->body_len = req->body_cap = 0;
                return;
        }
        if (req->body_len + size > req->body_cap) {
                size_t cap = req->body_cap ? req->body_cap : 1024;
                while (cap < req->body_len + size)
                        cap *= 2;
                if (cap > max)
                        cap = max;
                char *p = realloc(req->body, cap);
                if (!p) {
                        req->body_too_big = true; /* answered 413 */
                        return;
                }
                req->body = p;
                req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, data, size);
        req->body_len += size;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        api_t *api = cls;
        api_req_t *req = *con_cls;

        if (!req) {
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO; /* closes the connection */
                req->api = api;
                req->conn = conn;
                *con_cls = req;
                unsigned code = route(req, method, url);
                if (code == 404)
                        return api_reply_error(req, 404, "not_found",
                                               "no such resource", NULL);
                if (code == 405)
                        return api_reply_error(req, 405,
                                               "method_not_allowed",
                                               "method not allowed here",
                                               NULL);
                /* Who asks, before any body is read. */
                if (api_auth_request(req))
                        return req->answered ? MHD_YES : MHD_NO;
                /* Refuse an announced oversize body before reading it. */
                const char *cl = MHD_lookup_connection_value(
                        conn, MHD_HEADER_KIND,
                        MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl) {
                        char *end;
                        unsigned long long n = strtoull(cl, &end, 10);
                        if (end != cl &&
                            n > (unsigned long long)api->conf.http_body_max) {
                                req->body_too_big = true;
                                char msg[96];
                                snprintf(msg, sizeof(msg),
                                         "the body is larger than %lld bytes",
                                         (long long)api->conf.http_body_max);
                                return api_reply_error(req, 413, "too_large",
                                                       msg, NULL);
                        }
                }
                return MHD_YES;
        }

        if (req->answered) { /* e.g. an early 413: drop the rest */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size) {
                body_append(req, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }

        switch (req->state) {
        case API_REQ_PRODUCING:
        case API_REQ_WAITING_VIEW:
        case API_REQ_WAITING_QUEUES:
                return MHD_YES; /* not resumed yet */
        case API_REQ_READING:
        case API_REQ_RESUMED:
                break;
        }
        if (req->body_too_big) {
                char msg[96];
                snprintf(msg, sizeof(msg), "the body is larger than %lld bytes",
                         (long long)api->conf.http_body_max);
                return api_reply_error(req, 413, "too_large", msg, NULL);
        }
        return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe) {
        api_req_t *req = *con_cls;
        if (!req)
                return;
        free(req->body);
        free(req);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        size_t n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        sched_warn(SUB, "%s", buf);
}

int api_http_start(api_t *api, char *errstr, size_t errstr_size) {
        const api_conf_t *conf = &api->conf;
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
        struct sockaddr *sa;
        memset(&sin, 0, sizeof(sin));
        memset(&sin6, 0, sizeof(sin6));
        if (inet_pton(AF_INET, conf->listen_addr, &sin.sin_addr) == 1) {
                sin.sin_family = AF_INET;
                sin.sin_port = htons((uint16_t)conf->listen_port);
                sa = (struct sockaddr *)&sin;
        } else if (inet_pton(AF_INET6, conf->listen_addr, &sin6.sin6_addr) ==
                   1) {
                sin6.sin6_family = AF_INET6;
                sin6.sin6_port = htons((uint16_t)conf->listen_port);
                sa = (struct sockaddr *)&sin6;
                flags |= MHD_USE_IPv6;
        } else {
                snprintf(errstr, errstr_size,
                         "listen.addr \"%s\" is not a numeric IPv4 or IPv6 "
                         "address",
                         conf->listen_addr);
                return -1;
        }
        api->mhd = MHD_start_daemon(
                flags, (uint16_t)conf->listen_port, NULL, NULL, on_request,
                api, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, api,
                MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
                (unsigned)conf->http_threads, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)conf->http_conn_max, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)conf->http_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
                on_completed, api, MHD_OPTION_END);
        if (!api->mhd) {
                snprintf(errstr, errstr_size,
                         "could not listen on %s:%lld (address in use?)",
                         conf->listen_addr, (long long)conf->listen_port);
                return -1;
        }
        return 0;
}

void api_http_quiesce(api_t *api) {
        if (!api->mhd)
                return;
        MHD_socket fd = MHD_quiesce_daemon(api->mhd);
        if (fd != MHD_INVALID_SOCKET)
                close(fd);
}

void api_http_stop(api_t *api) {
        if (!api->mhd)
                return;
        MHD_stop_daemon(api->mhd);
        api->mhd = NULL;
}
