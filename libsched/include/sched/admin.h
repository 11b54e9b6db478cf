/*
 * sched/admin.h — the operations endpoints every klok service serves:
 *   GET /healthz  200 while the process runs
 *   GET /readyz   200 when the service says it is ready, else 503 + reason
 *   GET /metrics  Prometheus text from a sched_metrics_t registry
 *   and any GET routes of the service's own (sched_admin_route_cb)
 * on its own small libmicrohttpd server (one internal thread).
 */
#ifndef SCHED_ADMIN_H
#define SCHED_ADMIN_H

#include <stddef.h>

#include "sched/metrics.h"

typedef struct sched_admin_s sched_admin_t;

/**
 * Readiness probe, called on the admin thread: return NULL when ready, or a
 * static/long-lived reason string when not.  Must not block.
 */
typedef const char *(*sched_admin_ready_cb)(void *opaque);

/** A request to a service's own route (sched_admin_route_cb). */
typedef struct sched_admin_req_s sched_admin_req_t;

/** The value of the request's query parameter `name`; NULL if absent. */
const char *sched_admin_arg(const sched_admin_req_t *req, const char *name);

/**
 * A service's own GET routes (after the three above): return a malloc'd
 * JSON body and set *status, or NULL for 404.  Runs on the admin thread;
 * req is valid during the call only.
 */
typedef char *(*sched_admin_route_cb)(void *opaque, const char *path,
                                      const sched_admin_req_t *req,
                                      unsigned *status);

/** Listen on addr:port (port 0: do not start, return a valid no-op
 *  handle).  route may be NULL.  NULL + errstr on failure. */
sched_admin_t *sched_admin_start(const char *addr, int port,
                                 sched_metrics_t *metrics,
                                 sched_admin_ready_cb ready,
                                 sched_admin_route_cb route, void *opaque,
                                 char *errstr, size_t errstr_size);
void sched_admin_stop(sched_admin_t *admin);

#endif /* SCHED_ADMIN_H */
