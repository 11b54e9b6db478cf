/*
 * jobs.c — the /v1/jobs routes of klok-api.
 *
 * Writes (create, cancel, pause, resume) validate, build one command event,
 * produce it and answer only once Kafka acknowledged it (acks=all).  Reads
 * answer from the status view; with ?consistency_token=<partition>:<offset>
 * (as returned by a write) they first wait, up to view.wait.max.ms, until
 * the view has applied that record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "api_int.h"
#include "sched/job_json.h"
#include "sched/log.h"
#include "sched/time.h"
#include "sched/timer_state.h"
#include "sched/uuid.h"
#include "sched/view.h"

#define SUB "jobs"
#define EXEC_PAGE_DEFAULT 100
#define EXEC_PAGE_MAX 1000

/* --- Helpers -------------------------------------------------------------- */

static const char *body_of(const api_req_t *req) {
        return req->body ? req->body : "";
}

/* No Content-Type, or application/json with parameters. */
static bool content_type_ok(api_req_t *req) {
        const char *ct = MHD_lookup_connection_value(
                req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        static const char json[] = "application/json";
        if (!ct)
                return true;
        while (*ct == ' ')
                ct++;
        if (strncasecmp(ct, json, sizeof(json) - 1))
                return false;
        char c = ct[sizeof(json) - 1];
        return c == '\0' || c == ';' || c == ' ';
}

/* The tenant a read looks at: the caller's own; an admin may name another
 * with ?tenant=. */
static const char *read_tenant(api_req_t *req) {
        const char *t = MHD_lookup_connection_value(
                req->conn, MHD_GET_ARGUMENT_KIND, "tenant");
        if (t && (req->scopes & SCHED_SCOPE_ADMIN) &&
            strlen(t) < SCHED_TENANT_MAX)
                return t;
        return req->tenant;
}

static enum MHD_Result reply_415(api_req_t *req) {
        return api_reply_error(req, 415, "unsupported_media_type",
                               "the body must be application/json", NULL);
}

/* Decimal without sign, whole string, <= max. */
static bool parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out) {
        uint64_t v = 0;
        if (len == 0 || len > 19)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > max)
                return false;
        *out = v;
        return true;
}

/* "<partition>:<offset>" */
static bool parse_token(const char *s, int32_t *partp, int64_t *offp) {
        const char *colon = strchr(s, ':');
        uint64_t p, o;
        if (!colon || !parse_u64(s, (size_t)(colon - s), INT32_MAX, &p) ||
            !parse_u64(colon + 1, strlen(colon + 1), INT64_MAX, &o))
                return false;
        *partp = (int32_t)p;
        *offp = (int64_t)o;
        return true;
}

/* Start the consistency wait of a read if it asked for one.  Returns true
 * when the request is answered or suspended (*rp is the handler's result). */
static bool consistency_wait(api_req_t *req, enum MHD_Result *rp) {
        if (req->waited)
                return false;
        const char *tok = MHD_lookup_connection_value(
                req->conn, MHD_GET_ARGUMENT_KIND, "consistency_token");
        if (!tok) {
                req->waited = true;
                return false;
        }
        int32_t part;
        int64_t off;
        if (!parse_token(tok, &part, &off)) {
                *rp = api_reply_error(req, 400, "invalid_field",
                                      "expected <partition>:<offset>",
                                      "consistency_token");
                return true;
        }
        if (api_viewer_wait(req, part, off)) {
                *rp = MHD_YES;
                return true;
        }
        return false;
}

/* Answer a write from its delivery report. */
static enum MHD_Result answer_produced(api_req_t *req) {
        char msg[256], body[256];
        if (req->dr_err) {
                snprintf(msg, sizeof(msg),
                         "Kafka did not acknowledge the command (%s); retry, "
                         "with the same Idempotency-Key for a create",
                         rd_kafka_err2str(req->dr_err));
                return api_reply_error(req, 503, "unavailable", msg, NULL);
        }
        int n = snprintf(body, sizeof(body),
                         "{\"job_id\":\"%s\",\"status\":\"ACCEPTED\","
                         "\"consistency_token\":\"%d:%lld\"}",
                         req->job_id, (int)req->dr_partition,
                         (long long)req->dr_offset);
        return api_reply(req, req->success_code, "application/json", body,
                         (size_t)n);
}

static void event_header(api_req_t *req, sched_event_t *ev,
                         const char *job_id) {
        int64_t now = sched_now_ms();
        char uuid[SCHED_UUID_STR_MAX];
        sched_uuid_v7(uuid, now);
        memcpy(ev->event_id, uuid, sizeof(uuid));
        snprintf(ev->job_id, sizeof(ev->job_id), "%s", job_id);
        snprintf(ev->tenant, sizeof(ev->tenant), "%s", req->tenant);
        ev->ts_ms = now;
}

static enum MHD_Result produced_result(api_req_t *req, unsigned code) {
        /* 0: suspended; else an error reply is queued (or failed). */
        return code == 0 || req->answered ? MHD_YES : MHD_NO;
}

/* --- POST /v1/jobs -------------------------------------------------------- */

/* A keyed create whose job exists: the same definition is a repeat, 200
 * with the first create's answer; another one is a conflict, 409. */
static enum MHD_Result answer_existing(api_req_t *req, const char *doc,
                                       size_t len) {
        json_t *job = json_loadb(doc, len, 0, NULL);
        const char *digest =
                json_string_value(json_object_get(job, "definition_sha256"));
        json_int_t off =
                json_integer_value(json_object_get(job, "create_offset"));
        enum MHD_Result r;
        if (!digest) {
                r = api_reply_error(req, 503, "unavailable",
                                    "the status view cannot be read", NULL);
        } else if (strcmp(digest, req->digest)) {
                r = api_reply_error(req, 409, "conflict",
                                    "this Idempotency-Key was used for a job "
                                    "with another definition",
                                    "Idempotency-Key");
        } else {
                char body[256];
                int32_t part = sched_partition_of(req->job_id,
                                                  strlen(req->job_id),
                                                  req->api->commands_parts);
                int n = snprintf(body, sizeof(body),
                                 "{\"job_id\":\"%s\",\"status\":\"ACCEPTED\","
                                 "\"consistency_token\":\"%d:%lld\"}",
                                 req->job_id, (int)part, (long long)off);
                r = api_reply(req, 200, "application/json", body, (size_t)n);
        }
        json_decref(job);
        return r;
}

/* A keyed create Kafka acknowledged: once the view has it, whether this
 * record made the job or an earlier one with the same key did (through
 * any replica): then it is a repeat or a conflict after all.  If the view
 * does not catch up in time, the create is answered as new. */
static enum MHD_Result answer_keyed(api_req_t *req) {
        if (!req->waited &&
            api_viewer_wait(req, req->dr_partition, req->dr_offset))
                return MHD_YES;
        char *doc;
        size_t len;
        if (req->stale ||
            sched_view_get_job(req->api->store, req->tenant, req->job_id, &doc,
                               &len))
                return answer_produced(req);
        json_t *job = json_loadb(doc, len, 0, NULL);
        bool ours = json_integer_value(json_object_get(
                            job, "create_offset")) == req->dr_offset;
        json_decref(job);
        enum MHD_Result r = ours ? answer_produced(req)
                                 : answer_existing(req, doc, len);
        free(doc);
        return r;
}

static enum MHD_Result handle_create(api_req_t *req) {
        api_t *api = req->api;
        if (req->produced)
                return req->keyed && !req->dr_err ? answer_keyed(req)
                                                  : answer_produced(req);
        if (!content_type_ok(req))
                return reply_415(req);

        sched_event_t ev;
        sched_json_err_t jerr;
        sched_event_init(&ev, SCHED_EV_CREATE_JOB);
        if (sched_job_json_parse(body_of(req), req->body_len, &ev.u.def,
                                 &jerr))
                return api_reply_error(req, 400, jerr.error, jerr.message,
                                       jerr.field);

        /* A queue without its executions topic: nobody would ever run the
         * job.  One not in the list read last is looked up again first
         * (without blocking this thread).  (Until the API's first look at
         * the topics, the timer fails such an execution with the
         * reason.) */
        bool high = ev.u.def.priority == SCHED_PRIO_HIGH;
        int known = api_queue_known(api, ev.u.def.queue, high);
        if (known == 0 && !req->queues_checked && api_queues_wait(req)) {
                /* Not seen yet: look again (it may be new), then decide. */
                sched_event_clear(&ev);
                return MHD_YES;
        }
        if (known == 0) {
                char msg[SCHED_QUEUE_MAX + 96];
                snprintf(msg, sizeof(msg),
                         "no executor queue \"%s\" (its %s topic does not "
                         "exist)",
                         ev.u.def.queue[0] ? ev.u.def.queue : "default",
                         high ? "high" : "normal");
                sched_event_clear(&ev);
                return api_reply_error(req, 400, "invalid_field", msg,
                                       "queue");
        }

        const char *hdr = MHD_lookup_connection_value(
                req->conn, MHD_HEADER_KIND, "Idempotency-Key");
        char *key = ev.u.def.idempotency_key;
        if (hdr) {
                if (!sched_idempotency_key_valid(hdr)) {
                        sched_event_clear(&ev);
                        return api_reply_error(
                                req, 400, "invalid_field",
                                "1 to 64 bytes of printable ASCII without "
                                "spaces",
                                "Idempotency-Key");
                }
                if (key[0] && strcmp(key, hdr)) {
                        sched_event_clear(&ev);
                        return api_reply_error(
                                req, 400, "invalid_field",
                                "differs from the Idempotency-Key header",
                                "idempotency_key");
                }
                snprintf(key, SCHED_ID_MAX, "%s", hdr);
        }

        char job_id[SCHED_ID_MAX];
        sched_job_id_for(job_id, req->tenant, key, sched_now_ms());
        if (key[0]) {
                /* A repeat of a create the view already has is answered
                 * from it; nothing is written again. */
                req->keyed = true;
                snprintf(req->job_id, sizeof(req->job_id), "%s", job_id);
                char *doc;
                size_t len;
                sched_err_t gerr = sched_view_def_digest(&ev.u.def,
                                                         req->digest);
                if (!gerr)
                        gerr = sched_view_get_job(api->store, req->tenant,
                                                  job_id, &doc, &len);
                if (gerr != SCHED_ERR_NOT_FOUND) {
                        sched_event_clear(&ev);
                        if (gerr)
                                return api_reply_error(
                                        req, 503, "unavailable",
                                        "the status view cannot be read",
                                        NULL);
                        enum MHD_Result r = answer_existing(req, doc, len);
                        free(doc);
                        return r;
                }
        }
        event_header(req, &ev, job_id);
        req->success_code = 201;
        unsigned code = api_produce_command(req, &ev);
        sched_event_clear(&ev);
        return produced_result(req, code);
}

/* --- DELETE /v1/jobs/{id}, POST .../pause, .../resume, PATCH ------------- */

static enum MHD_Result handle_command(api_req_t *req, sched_ev_type_t type) {
        api_t *api = req->api;
        enum MHD_Result r;
        if (req->produced)
                return answer_produced(req);
        if (consistency_wait(req, &r))
                return r;
        if (req->body_len && !content_type_ok(req))
                return reply_415(req);

        /* PATCH: the parts to change; the others: an optional reason. */
        sched_event_t ev;
        sched_json_err_t jerr;
        sched_err_t perr;
        sched_event_init(&ev, type);
        if (type == SCHED_EV_UPDATE_JOB)
                perr = sched_job_json_parse_update(body_of(req), req->body_len,
                                                   &ev.u.def, &jerr);
        else
                perr = sched_job_json_parse_reason(body_of(req), req->body_len,
                                                   &ev.u.reason, &jerr);
        if (perr)
                return api_reply_error(req, 400, jerr.error, jerr.message,
                                       jerr.field);

        /* Only the tenant's existing jobs (404 for others': no leak). */
        char *doc;
        size_t len;
        sched_err_t err = sched_view_get_job(api->store, req->tenant,
                                             req->job_id, &doc, &len);
        if (err) {
                sched_event_clear(&ev);
                if (err == SCHED_ERR_NOT_FOUND)
                        return api_reply_error(req, 404, "not_found",
                                               "no such job", NULL);
                return api_reply_error(req, 503, "unavailable",
                                       "the status view cannot be read",
                                       NULL);
        }
        free(doc);

        event_header(req, &ev, req->job_id);
        req->success_code = 202;
        unsigned code = api_produce_command(req, &ev);
        sched_event_clear(&ev);
        return produced_result(req, code);
}

static const char *arg(api_req_t *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                           name);
}

/* A page's ?limit= (1 to max, dflt when absent) and ?cursor= (NULL when
 * absent; at most cursor_max - 1 bytes) into *limit and *cursor; 0, or 400
 * with the reply queued. */
static unsigned page_args(api_req_t *req, uint64_t dflt, uint64_t max,
                          size_t cursor_max, uint64_t *limit,
                          const char **cursor) {
        *limit = dflt;
        const char *ls = arg(req, "limit");
        if (ls && !(parse_u64(ls, strlen(ls), max, limit) && *limit > 0)) {
                char why[64];
                snprintf(why, sizeof(why), "must be an integer from 1 to %llu",
                         (unsigned long long)max);
                api_reply_error(req, 400, "invalid_field", why, "limit");
                return 400;
        }
        *cursor = arg(req, "cursor");
        if (*cursor && (!**cursor || strlen(*cursor) >= cursor_max)) {
                api_reply_error(req, 400, "invalid_field",
                                "not a cursor of this list", "cursor");
                return 400;
        }
        return 0;
}

/* --- GET /v1/jobs/{id}, GET .../executions -------------------------------- */

#define UPCOMING_MAX 5

static int64_t doc_time(json_t *o, const char *key) {
        int64_t ms;
        const char *s = json_string_value(json_object_get(o, key));
        return s && sched_time_parse(s, &ms) == SCHED_ERR_OK ? ms : SCHED_NONE;
}

/* The job document with "upcoming": the next fire times of a recurring job
 * that is still scheduled, computed now by the code the timer uses.  NULL
 * when there is nothing to add (the document is served as it is). */
static char *with_upcoming(const char *doc, size_t len, size_t *lenp) {
        /* Most jobs are one-shots: no parse for them (the document is
         * compact JSON; a false hit in the parameters only costs the
         * parse below, which decides). */
        if (!memmem(doc, len, "\"type\":\"cron\"", 13) &&
            !memmem(doc, len, "\"type\":\"interval\"", 17))
                return NULL;
        json_t *job = json_loadb(doc, len, 0, NULL);
        json_t *sc = json_object_get(job, "schedule");
        const char *type = json_string_value(json_object_get(sc, "type"));
        const char *state = json_string_value(json_object_get(job, "state"));
        char *out = NULL;
        if (!type || !state ||
            (strcmp(type, "cron") && strcmp(type, "interval")) ||
            (strcmp(state, "SCHEDULED") && strcmp(state, "RUNNING"))) {
                json_decref(job);
                return NULL;
        }
        sched_schedule_t s;
        memset(&s, 0, sizeof(s));
        s.kind = strcmp(type, "cron") ? SCHED_KIND_INTERVAL : SCHED_KIND_CRON;
        const char *cron = json_string_value(json_object_get(sc, "cron"));
        const char *tz = json_string_value(json_object_get(sc, "timezone"));
        snprintf(s.cron, sizeof(s.cron), "%s", cron ? cron : "");
        snprintf(s.tz, sizeof(s.tz), "%s", tz ? tz : "");
        s.interval_ms = json_integer_value(json_object_get(sc, "interval_ms"));
        s.start_ms = doc_time(sc, "start");
        s.end_ms = doc_time(sc, "end");
        /* The run the timer has scheduled next, then the ones after it. */
        int64_t at = doc_time(job, "next_run_at"), times[UPCOMING_MAX];
        int n = 0;
        if (at != SCHED_NONE)
                times[n++] = at;
        for (int64_t after = n ? at : sched_now_ms(); n < UPCOMING_MAX;) {
                int64_t next = sched_schedule_next(&s, at, after, NULL, 0);
                if (next == SCHED_NONE)
                        break;
                times[n++] = after = next;
        }
        json_t *iso = json_array();
        for (int i = 0; i < n; i++) {
                char buf[SCHED_ISO_MAX];
                sched_time_format(times[i], buf);
                json_array_append_new(iso, json_string(buf));
        }
        json_object_set_new(job, "upcoming", iso);
        out = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(job);
        if (out)
                *lenp = strlen(out);
        return out;
}

static enum MHD_Result handle_get(api_req_t *req) {
        api_t *api = req->api;
        enum MHD_Result r;
        if (consistency_wait(req, &r))
                return r;
        char *doc;
        size_t len;
        sched_err_t err = sched_view_get_job(api->store, read_tenant(req),
                                             req->job_id, &doc, &len);
        if (err == SCHED_ERR_NOT_FOUND)
                return api_reply_error(req, 404, "not_found", "no such job",
                                       NULL);
        if (err)
                return api_reply_error(req, 503, "unavailable",
                                       "the status view cannot be read",
                                       NULL);
        char *with = with_upcoming(doc, len, &len);
        r = api_reply(req, 200, "application/json", with ? with : doc, len);
        free(with);
        free(doc);
        return r;
}

static enum MHD_Result handle_executions(api_req_t *req) {
        api_t *api = req->api;
        enum MHD_Result r;
        if (consistency_wait(req, &r))
                return r;

        uint64_t limit;
        const char *cursor;
        if (page_args(req, EXEC_PAGE_DEFAULT, EXEC_PAGE_MAX, SCHED_EXEC_ID_MAX,
                      &limit, &cursor))
                return MHD_YES;

        char *arr, next[SCHED_EXEC_ID_MAX];
        size_t count;
        sched_err_t err = sched_view_list_executions(
                api->store, read_tenant(req), req->job_id, cursor, (size_t)limit,
                &arr, &count, next);
        if (err)
                return api_reply_error(req, 503, "unavailable",
                                       "the status view cannot be read",
                                       NULL);
        if (count == 0 && !cursor) {
                char *doc;
                size_t len;
                if (sched_view_get_job(api->store, read_tenant(req), req->job_id,
                                       &doc, &len) == SCHED_ERR_NOT_FOUND) {
                        free(arr);
                        return api_reply_error(req, 404, "not_found",
                                               "no such job", NULL);
                }
                free(doc);
        }

        json_t *nx = next[0] ? json_string(next) : json_null();
        char *nxt = nx ? json_dumps(nx, JSON_ENCODE_ANY) : NULL;
        json_decref(nx);
        size_t cap = strlen(arr) + SCHED_ID_MAX + (nxt ? strlen(nxt) : 4) + 64;
        char *body = malloc(cap);
        if (!body || !nxt) {
                free(arr);
                free(nxt);
                free(body);
                return api_reply_error(req, 503, "unavailable",
                                       "out of memory", NULL);
        }
        int n = snprintf(body, cap,
                         "{\"job_id\":\"%s\",\"executions\":%s,"
                         "\"next_cursor\":%s}",
                         req->job_id, arr, nxt);
        r = api_reply(req, 200, "application/json", body, (size_t)n);
        free(body);
        free(arr);
        free(nxt);
        return r;
}

/* --- GET /v1/jobs ---------------------------------------------------------- */

#define JOB_PAGE_DEFAULT 100
#define JOB_PAGE_MAX 1000

static const char *const list_states[] = {
        "SCHEDULED", "RUNNING",       "PAUSED",   "SUCCEEDED", "FAILED",
        "CANCELLED", "DEAD_LETTERED", "REJECTED", NULL};

/* A list filter from the query; 0 or a 400 queued. */
static unsigned list_filter(api_req_t *req, sched_view_filter_t *f) {
        memset(f, 0, sizeof(*f));
        f->from_ms = f->to_ms = SCHED_NONE;
        const char *st = arg(req, "status");
        if (st) {
                size_t i = 0;
                while (list_states[i] && strcmp(list_states[i], st))
                        i++;
                if (!list_states[i])
                        return api_reply_error(
                                       req, 400, "invalid_field",
                                       "one of SCHEDULED, RUNNING, PAUSED, "
                                       "SUCCEEDED, FAILED, CANCELLED, "
                                       "DEAD_LETTERED, REJECTED",
                                       "status"),
                               400;
                snprintf(f->state, sizeof(f->state), "%s", st);
        }
        const char *q = arg(req, "queue");
        if (q) {
                bool ok = *q && strlen(q) < sizeof(f->queue);
                for (const char *p = q; ok && *p; p++)
                        ok = (*p >= 'a' && *p <= 'z') ||
                             (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '_' ||
                             *p == '-';
                if (!ok)
                        return api_reply_error(req, 400, "invalid_field",
                                               "1 to 64 letters, digits, _ "
                                               "and -",
                                               "queue"),
                               400;
                snprintf(f->queue, sizeof(f->queue), "%s", q);
        }
        static const char *const times[] = {"from", "to"};
        for (int i = 0; i < 2; i++) {
                const char *t = arg(req, times[i]);
                int64_t *out = i ? &f->to_ms : &f->from_ms;
                if (t && sched_time_parse(t, out) != SCHED_ERR_OK)
                        return api_reply_error(req, 400, "invalid_field",
                                               "an RFC 3339 time, e.g. "
                                               "2026-01-02T03:04:05Z",
                                               times[i]),
                               400;
        }
        return 0;
}

static enum MHD_Result handle_list(api_req_t *req) {
        api_t *api = req->api;
        enum MHD_Result r;
        if (consistency_wait(req, &r))
                return r;
        sched_view_filter_t f;
        if (list_filter(req, &f))
                return MHD_YES;
        uint64_t limit;
        const char *cursor;
        if (page_args(req, JOB_PAGE_DEFAULT, JOB_PAGE_MAX,
                      SCHED_VIEW_CURSOR_MAX, &limit, &cursor))
                return MHD_YES;
        char *arr, next[SCHED_VIEW_CURSOR_MAX];
        size_t count;
        sched_err_t err = sched_view_list_jobs(api->store, read_tenant(req),
                                               &f, cursor, (size_t)limit, &arr,
                                               &count, next);
        if (err == SCHED_ERR_INVALID)
                return api_reply_error(req, 400, "invalid_field",
                                       "not a cursor of this list", "cursor");
        if (err)
                return api_reply_error(req, 503, "unavailable",
                                       "the status view cannot be read",
                                       NULL);
        /* A job id from Kafka may hold any character: encoded. */
        json_t *nx = next[0] ? json_string(next) : json_null();
        char *nxt = nx ? json_dumps(nx, JSON_ENCODE_ANY) : NULL;
        json_decref(nx);
        size_t cap = strlen(arr) + (nxt ? strlen(nxt) : 0) + 64;
        char *body = nxt ? malloc(cap) : NULL;
        if (body) {
                int n = snprintf(body, cap, "{\"jobs\":%s,\"next_cursor\":%s}",
                                 arr, nxt);
                r = api_reply(req, 200, "application/json", body, (size_t)n);
        } else {
                r = api_reply_error(req, 503, "unavailable", "out of memory",
                                    NULL);
        }
        free(body);
        free(nxt);
        free(arr);
        return r;
}

/* --- GET /v1/jobs/{id}/records ------------------------------------------ */

#define RECORD_PAGE_DEFAULT 1000
#define RECORD_PAGE_MAX 10000

/* Where the job's records are in the topics (sched_view_log_page): what
 * `klokctl history` fetches instead of reading the whole partition.  The
 * job must be the caller's tenant's (else 404, as for every job route). */
static enum MHD_Result handle_records(api_req_t *req) {
        api_t *api = req->api;
        enum MHD_Result r;
        if (consistency_wait(req, &r))
                return r;
        uint64_t limit;
        const char *cursor;
        if (page_args(req, RECORD_PAGE_DEFAULT, RECORD_PAGE_MAX,
                      SCHED_VIEW_LOG_CURSOR_MAX, &limit, &cursor))
                return MHD_YES;
        char *doc = NULL;
        size_t len;
        sched_err_t err = sched_view_get_job(api->store, read_tenant(req),
                                             req->job_id, &doc, &len);
        if (err == SCHED_ERR_NOT_FOUND)
                return api_reply_error(req, 404, "not_found", "no such job",
                                       NULL);
        free(doc);
        pthread_mutex_lock(&api->lock);
        int32_t parts = api->commands_parts;
        pthread_mutex_unlock(&api->lock);
        char *page = NULL;
        if (!err)
                err = parts > 0 ? sched_view_log_page(
                                          api->store, req->job_id, parts,
                                          api->topic_commands,
                                          api->topic_status, cursor,
                                          (size_t)limit, &page)
                                : SCHED_ERR_STORE;
        if (err == SCHED_ERR_INVALID)
                return api_reply_error(req, 400, "invalid_field",
                                       "not a cursor of this list", "cursor");
        if (err)
                return api_reply_error(req, 503, "unavailable",
                                       "the status view cannot be read",
                                       NULL);
        r = api_reply(req, 200, "application/json", page, strlen(page));
        free(page);
        return r;
}

enum MHD_Result api_jobs_handle(api_req_t *req) {
        switch (req->route) {
        case API_ROUTE_JOBS_CREATE:
                return handle_create(req);
        case API_ROUTE_JOB_GET:
                return handle_get(req);
        case API_ROUTE_JOB_CANCEL:
                return handle_command(req, SCHED_EV_CANCEL_JOB);
        case API_ROUTE_JOB_PAUSE:
                return handle_command(req, SCHED_EV_PAUSE_JOB);
        case API_ROUTE_JOB_RESUME:
                return handle_command(req, SCHED_EV_RESUME_JOB);
        case API_ROUTE_JOB_EXECUTIONS:
                return handle_executions(req);
        case API_ROUTE_JOB_RECORDS:
                return handle_records(req);
        case API_ROUTE_JOB_UPDATE:
                return handle_command(req, SCHED_EV_UPDATE_JOB);
        case API_ROUTE_JOBS_LIST:
                return handle_list(req);
        default:
                return api_reply_error(req, 404, "not_found",
                                       "no such resource", NULL);
        }
}
