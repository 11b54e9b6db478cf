/*
 * admin.c — /healthz, /readyz and /metrics for the services (see
 * sched/admin.h).  Requests are tiny and answered from memory, so one
 * internal thread with a connection limit and timeout is enough.
 */
#include "sched/admin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sched/err.h"

struct sched_admin_req_s {
        struct MHD_Connection *conn;
};

const char *sched_admin_arg(const sched_admin_req_t *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                           name);
}

struct sched_admin_s {
        struct MHD_Daemon *daemon;
        sched_metrics_t *metrics;
        sched_admin_ready_cb ready;
        sched_admin_route_cb route;
        void *opaque;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, body, mode);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", type);
        enum MHD_Result r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
        sched_admin_t *admin = cls;
        if (!*con_cls) { /* first call: headers only */
                *con_cls = admin;
                return MHD_YES;
        }
        if (*upload_size) { /* no bodies here: discard */
                *upload_size = 0;
                return MHD_YES;
        }
        static char json_type[] = "application/json";
        if (strcmp(method, "GET")) {
                static char body[] = "{\"error\":\"method_not_allowed\","
                                     "\"message\":\"only GET is served\"}";
                return reply(conn, 405, json_type, body, sizeof(body) - 1,
                             MHD_RESPMEM_PERSISTENT);
        }
        if (!strcmp(url, "/healthz")) {
                static char body[] = "{\"status\":\"ok\"}";
                return reply(conn, 200, json_type, body, sizeof(body) - 1,
                             MHD_RESPMEM_PERSISTENT);
        }
        if (!strcmp(url, "/readyz")) {
                const char *why = admin->ready ? admin->ready(admin->opaque)
                                               : NULL;
                char body[512];
                int n = why ? snprintf(body, sizeof(body),
                                       "{\"status\":\"not_ready\","
                                       "\"reason\":\"%s\"}",
                                       why)
                            : snprintf(body, sizeof(body),
                                       "{\"status\":\"ready\"}");
                return reply(conn, why ? 503 : 200, json_type, body,
                             (size_t)n < sizeof(body) ? (size_t)n
                                                      : sizeof(body) - 1,
                             MHD_RESPMEM_MUST_COPY);
        }
        if (!strcmp(url, "/metrics") && admin->metrics) {
                char *text;
                size_t len;
                if (sched_metrics_render(admin->metrics, &text, &len) == 0)
                        return reply(conn, 200,
                                     "text/plain; version=0.0.4; "
                                     "charset=utf-8",
                                     text, len, MHD_RESPMEM_MUST_FREE);
                static char body[] = "{\"error\":\"unavailable\","
                                     "\"message\":\"out of memory\"}";
                return reply(conn, 503, json_type, body, sizeof(body) - 1,
                             MHD_RESPMEM_PERSISTENT);
        }
        if (admin->route) {
                unsigned status = 200;
                sched_admin_req_t req = {conn};
                char *out = admin->route(admin->opaque, url, &req, &status);
                if (out)
                        return reply(conn, status, json_type, out,
                                     strlen(out), MHD_RESPMEM_MUST_FREE);
        }
        static char body[] = "{\"error\":\"not_found\",\"message\":\"no "
                             "such route\"}";
        return reply(conn, 404, json_type, body, sizeof(body) - 1,
                     MHD_RESPMEM_PERSISTENT);
}

sched_admin_t *sched_admin_start(const char *addr, int port,
                                 sched_metrics_t *metrics,
                                 sched_admin_ready_cb ready,
                                 sched_admin_route_cb route, void *opaque,
                                 char *errstr, size_t errstr_size) {
        sched_admin_t *admin = calloc(1, sizeof(*admin));
        if (!admin) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM, "calloc");
                return NULL;
        }
        admin->metrics = metrics;
        admin->ready = ready;
        admin->route = route;
        admin->opaque = opaque;
        if (port == 0)
                return admin;
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                             "admin address \"%s\" is not an IPv4 address",
                             addr);
                free(admin);
                return NULL;
        }
        admin->daemon = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                (uint16_t)port, NULL, NULL, on_request, admin,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                MHD_OPTION_END);
        if (!admin->daemon) {
                sched_seterr(errstr, errstr_size, SCHED_ERR_IO,
                             "cannot listen on %s:%d", addr, port);
                free(admin);
                return NULL;
        }
        return admin;
}

void sched_admin_stop(sched_admin_t *admin) {
        if (!admin)
                return;
        if (admin->daemon)
                MHD_stop_daemon(admin->daemon);
        free(admin);
}
