/*
 * job_json.c — strict JSON → CreateJob validation (see sched/job_json.h).
 */
#include "sched/job_json.h"

#include "sched/cron.h"
#include "sched/tz.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sched/time.h"
#include "sched/uuid.h"

/* Copy s into dst (size n) keeping printable ASCII only. */
static void ascii_copy(char *dst, size_t n, const char *s) {
        size_t i = 0;
        for (; s && *s && i + 1 < n; s++, i++) {
                unsigned char c = (unsigned char)*s;
                dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        dst[i] = '\0';
}

static sched_err_t fail(sched_json_err_t *jerr, sched_err_t err,
                        const char *code, const char *prefix,
                        const char *name, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static sched_err_t fail(sched_json_err_t *jerr, sched_err_t err,
                        const char *code, const char *prefix,
                        const char *name, const char *fmt, ...) {
        char field[sizeof(jerr->field)], msg[sizeof(jerr->message)];
        va_list ap;
        snprintf(field, sizeof(field), "%s%s%s", prefix ? prefix : "",
                 prefix && *prefix && name && *name ? "." : "",
                 name ? name : "");
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ascii_copy(jerr->error, sizeof(jerr->error), code);
        ascii_copy(jerr->field, sizeof(jerr->field), field);
        ascii_copy(jerr->message, sizeof(jerr->message), msg);
        return err;
}

#define INVALID(prefix, name, ...)                                            \
        fail(jerr, SCHED_ERR_INVALID, "invalid_field", prefix, name,          \
             __VA_ARGS__)

/* --- Field readers -------------------------------------------------------- */

/* Reject members of obj not named in `allowed` (NULL-terminated); the first
 * one in body order is named. */
static sched_err_t check_unknown(json_t *obj, const char *prefix,
                                 const char *const *allowed,
                                 sched_json_err_t *jerr) {
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                const char *const *a = allowed;
                while (*a && strcmp(*a, key))
                        a++;
                if (!*a)
                        return fail(jerr, SCHED_ERR_INVALID, "unknown_field",
                                    prefix, key, "unknown field");
        }
        return SCHED_ERR_OK;
}

typedef bool (*charset_fn)(unsigned char c);

static bool cs_name(unsigned char c) { /* any UTF-8, no control chars */
        return c >= 0x20 && c != 0x7f;
}
static bool cs_task(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
               c == ':' || c == '/';
}
static bool cs_queue(unsigned char c) { /* goes into a topic name */
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '_' || c == '-';
}
static bool cs_tz(unsigned char c) {
        return cs_queue(c) || c == '/' || c == '+' || c == '.';
}
static bool cs_cron(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == ' ' || c == '*' || c == ',' ||
               c == '-' || c == '/' || c == '?' || c == '#' || c == '@';
}
static bool cs_key(unsigned char c) {
        return c > 0x20 && c < 0x7f;
}

/* Optional string member: *found tells whether it was there. */
static sched_err_t get_string(json_t *obj, const char *prefix,
                              const char *name, char *dst, size_t size,
                              charset_fn cs, const char *cs_desc, bool *found,
                              sched_json_err_t *jerr) {
        json_t *v = json_object_get(obj, name);
        *found = v != NULL;
        if (!v)
                return SCHED_ERR_OK;
        if (!json_is_string(v))
                return INVALID(prefix, name, "must be a string");
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0)
                return INVALID(prefix, name, "must not be empty");
        if (len >= size)
                return fail(jerr, SCHED_ERR_INVALID, "invalid_field", prefix,
                            name, "longer than %zu bytes", size - 1);
        for (size_t i = 0; i < len; i++)
                if (!cs((unsigned char)s[i]))
                        return INVALID(prefix, name,
                                       "invalid character at byte %zu (%s)",
                                       i, cs_desc);
        memcpy(dst, s, len + 1);
        return SCHED_ERR_OK;
}

static sched_err_t get_int(json_t *obj, const char *prefix, const char *name,
                           int64_t min, int64_t max, int64_t *out, bool *found,
                           sched_json_err_t *jerr) {
        json_t *v = json_object_get(obj, name);
        *found = v != NULL;
        if (!v)
                return SCHED_ERR_OK;
        if (!json_is_integer(v))
                return INVALID(prefix, name, "must be an integer");
        json_int_t i = json_integer_value(v);
        if (i < min || i > max)
                return INVALID(prefix, name, "must be between %lld and %lld",
                               (long long)min, (long long)max);
        *out = (int64_t)i;
        return SCHED_ERR_OK;
}

static sched_err_t get_time(json_t *obj, const char *prefix, const char *name,
                            int64_t *out, bool *found,
                            sched_json_err_t *jerr) {
        char buf[SCHED_ISO_MAX];
        sched_err_t err = get_string(obj, prefix, name, buf, sizeof(buf),
                                     cs_key, "RFC 3339", found, jerr);
        if (err || !*found)
                return err;
        if (sched_time_parse(buf, out))
                return INVALID(prefix, name,
                               "must be an RFC 3339 instant with an offset, "
                               "e.g. 2026-01-02T03:04:05Z");
        return SCHED_ERR_OK;
}

/* --- Sections ------------------------------------------------------------- */

static const char *const schedule_fields[] = {
        "type", "at", "delay_ms", "cron", "timezone", "interval_ms",
        "start", "end", "max_runs", "misfire", "misfire_threshold_ms",
        "catch_up_ms", "overlap", NULL};

/* Which schedule members each kind takes, besides "type". */
#define RECURRING_FIELDS                                                      \
        "start", "end", "misfire", "misfire_threshold_ms", "catch_up_ms",     \
                "overlap"
static const char *const kind_fields[][10] = {
        [SCHED_KIND_IMMEDIATE] = {NULL},
        [SCHED_KIND_AT] = {"at", NULL},
        [SCHED_KIND_DELAY] = {"delay_ms", NULL},
        [SCHED_KIND_CRON] = {"cron", "timezone", RECURRING_FIELDS, NULL},
        [SCHED_KIND_INTERVAL] = {"interval_ms", "max_runs", RECURRING_FIELDS,
                                 NULL},
};

/* An optional string member naming one of an enum's values; *out is left
 * as it is when the member is absent. */
static sched_err_t get_enum(json_t *obj, const char *prefix, const char *name,
                            int (*lookup)(const char *), const char *choices,
                            int *out, sched_json_err_t *jerr) {
        json_t *v = json_object_get(obj, name);
        if (!v)
                return SCHED_ERR_OK;
        int i = json_is_string(v) ? lookup(json_string_value(v)) : -1;
        if (i < 0)
                return INVALID(prefix, name, "must be one of %s", choices);
        *out = i;
        return SCHED_ERR_OK;
}

/* Misfire and overlap policies of a recurring schedule. */
static sched_err_t parse_policies(json_t *obj, sched_schedule_t *sc,
                                  sched_json_err_t *jerr) {
        static const char *P = "schedule";
        bool found;
        int misfire = (int)sc->misfire, overlap = (int)sc->overlap;
        sched_err_t err;
        if ((err = get_enum(obj, P, "misfire", sched_str2misfire,
                            "fire_once, fire_all, skip", &misfire, jerr)) ||
            (err = get_enum(obj, P, "overlap", sched_str2overlap,
                            "allow, skip, buffer_one", &overlap, jerr)) ||
            (err = get_int(obj, P, "misfire_threshold_ms", 0,
                           SCHED_JOB_HORIZON_MS, &sc->misfire_threshold_ms,
                           &found, jerr)) ||
            (err = get_int(obj, P, "catch_up_ms", 0, SCHED_JOB_HORIZON_MS,
                           &sc->catch_up_ms, &found, jerr)))
                return err;
        sc->misfire = (sched_misfire_t)misfire;
        sc->overlap = (sched_overlap_t)overlap;
        return SCHED_ERR_OK;
}

static sched_err_t parse_schedule(json_t *obj, sched_schedule_t *sc,
                                  sched_json_err_t *jerr) {
        static const char *P = "schedule";
        if (!json_is_object(obj))
                return INVALID("", P, "must be an object");
        sched_err_t err = check_unknown(obj, P, schedule_fields, jerr);
        if (err)
                return err;

        json_t *t = json_object_get(obj, "type");
        if (!t)
                return fail(jerr, SCHED_ERR_INVALID, "missing_field", P,
                            "type", "required");
        if (!json_is_string(t))
                return INVALID(P, "type", "must be a string");
        const char *ts = json_string_value(t);
        int kind = -1;
        static const char *const kinds[] = {"immediate", "at", "delay",
                                            "cron", "interval"};
        for (int i = 0; i < 5; i++)
                if (!strcmp(ts, kinds[i]))
                        kind = i;
        if (kind < 0)
                return INVALID(P, "type",
                               "must be one of immediate, at, delay, cron, "
                               "interval");
        sc->kind = (sched_sched_kind_t)kind;

        /* Members of another kind are mistakes, not extras to ignore. */
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                if (!strcmp(key, "type"))
                        continue;
                const char *const *a = kind_fields[kind];
                while (*a && strcmp(*a, key))
                        a++;
                if (!*a)
                        return INVALID(P, key,
                                       "not allowed with schedule type "
                                       "\"%s\"",
                                       kinds[kind]);
        }

        bool found;
        switch (sc->kind) {
        case SCHED_KIND_IMMEDIATE:
                break;
        case SCHED_KIND_AT:
                if ((err = get_time(obj, P, "at", &sc->at_ms, &found, jerr)))
                        return err;
                if (!found)
                        return fail(jerr, SCHED_ERR_INVALID, "missing_field",
                                    P, "at", "required with type \"at\"");
                break;
        case SCHED_KIND_DELAY:
                if ((err = get_int(obj, P, "delay_ms", 0, SCHED_JOB_HORIZON_MS,
                                   &sc->delay_ms, &found, jerr)))
                        return err;
                if (!found)
                        return fail(jerr, SCHED_ERR_INVALID, "missing_field",
                                    P, "delay_ms",
                                    "required with type \"delay\"");
                break;
        case SCHED_KIND_CRON:
                if ((err = get_string(obj, P, "cron", sc->cron,
                                      sizeof(sc->cron), cs_cron,
                                      "cron fields", &found, jerr)))
                        return err;
                if (!found)
                        return fail(jerr, SCHED_ERR_INVALID, "missing_field",
                                    P, "cron", "required with type \"cron\"");
                if ((err = get_string(obj, P, "timezone", sc->tz,
                                      sizeof(sc->tz), cs_tz, "IANA zone name",
                                      &found, jerr)))
                        return err;
                /* The same parser and zone rules the timer uses. */
                char why[200];
                sched_cron_t cron;
                if (sched_cron_parse(sc->cron, &cron, why, sizeof(why)))
                        return INVALID(P, "cron", "%s", why);
                sched_tz_t *tz = sched_tz_open(sc->tz, why, sizeof(why));
                if (!tz)
                        return INVALID(P, "timezone", "%s", why);
                sched_tz_close(tz);
                break;
        case SCHED_KIND_INTERVAL: {
                if ((err = get_int(obj, P, "interval_ms",
                                   SCHED_JOB_MIN_INTERVAL_MS,
                                   SCHED_JOB_HORIZON_MS, &sc->interval_ms,
                                   &found, jerr)))
                        return err;
                if (!found)
                        return fail(jerr, SCHED_ERR_INVALID, "missing_field",
                                    P, "interval_ms",
                                    "required with type \"interval\"");
                int64_t runs = 0;
                if ((err = get_int(obj, P, "max_runs", 0, INT32_MAX, &runs,
                                   &found, jerr)))
                        return err;
                sc->max_runs = (int32_t)runs;
                break;
        }
        }
        if (sc->kind == SCHED_KIND_CRON || sc->kind == SCHED_KIND_INTERVAL) {
                if ((err = get_time(obj, P, "start", &sc->start_ms, &found,
                                    jerr)) ||
                    (err = get_time(obj, P, "end", &sc->end_ms, &found, jerr)))
                        return err;
                if (sc->start_ms != SCHED_NONE && sc->end_ms != SCHED_NONE &&
                    sc->end_ms <= sc->start_ms)
                        return INVALID(P, "end", "must be after start");
                if ((err = parse_policies(obj, sc, jerr)))
                        return err;
        }
        return SCHED_ERR_OK;
}

static const char *const retry_fields[] = {
        "max_attempts", "initial_backoff_ms", "multiplier", "max_backoff_ms",
        NULL};

static sched_err_t parse_retry(json_t *obj, sched_retry_t *r,
                               sched_json_err_t *jerr) {
        static const char *P = "retry";
        if (!json_is_object(obj))
                return INVALID("", P, "must be an object");
        sched_err_t err = check_unknown(obj, P, retry_fields, jerr);
        if (err)
                return err;
        bool found;
        int64_t v = r->max_attempts;
        if ((err = get_int(obj, P, "max_attempts", 1, SCHED_JOB_MAX_ATTEMPTS,
                           &v, &found, jerr)))
                return err;
        r->max_attempts = (int32_t)v;
        if ((err = get_int(obj, P, "initial_backoff_ms", 0,
                           SCHED_JOB_MAX_BACKOFF_MS, &r->initial_backoff_ms,
                           &found, jerr)) ||
            (err = get_int(obj, P, "max_backoff_ms", 0,
                           SCHED_JOB_MAX_BACKOFF_MS, &r->max_backoff_ms,
                           &found, jerr)))
                return err;
        if (!found && r->max_backoff_ms < r->initial_backoff_ms)
                r->max_backoff_ms = r->initial_backoff_ms;
        json_t *m = json_object_get(obj, "multiplier");
        if (m) {
                if (!json_is_number(m))
                        return INVALID(P, "multiplier", "must be a number");
                double d = json_number_value(m);
                if (!isfinite(d) || d < 1.0 || d > SCHED_JOB_MAX_MULTIPLIER)
                        return INVALID(P, "multiplier",
                                       "must be between 1 and %g",
                                       SCHED_JOB_MAX_MULTIPLIER);
                r->multiplier = d;
        }
        if (r->max_backoff_ms < r->initial_backoff_ms)
                return INVALID(P, "max_backoff_ms",
                               "must not be less than initial_backoff_ms");
        return SCHED_ERR_OK;
}

static sched_err_t parse_parameters(json_t *obj, char **outp,
                                    sched_json_err_t *jerr) {
        if (!json_is_object(obj))
                return INVALID("", "parameters", "must be a JSON object");
        /* Compact text; jansson keeps the members in body order. */
        char *text = json_dumps(obj, JSON_COMPACT);
        if (!text)
                return fail(jerr, SCHED_ERR_NOMEM, "invalid_field", "",
                            "parameters", "could not be serialized");
        if (strlen(text) >= SCHED_PARAMS_MAX) {
                free(text);
                return fail(jerr, SCHED_ERR_TOO_BIG, "too_large", "",
                            "parameters",
                            "serialized form is longer than %d bytes",
                            SCHED_PARAMS_MAX - 1);
        }
        *outp = text; /* jansson allocates with malloc */
        return SCHED_ERR_OK;
}

static const char *const job_fields[] = {
        "name", "schedule", "task", "parameters", "queue", "priority",
        "retry", "timeout_ms", "idempotency_key", NULL};

static sched_err_t parse_job(json_t *root, sched_job_def_t *def,
                             sched_json_err_t *jerr) {
        static const char *P = "";
        if (!json_is_object(root))
                return fail(jerr, SCHED_ERR_INVALID, "invalid_json", "", "",
                            "the body must be a JSON object");
        sched_err_t err = check_unknown(root, P, job_fields, jerr);
        if (err)
                return err;
        bool found;

        if ((err = get_string(root, P, "name", def->name, sizeof(def->name),
                              cs_name, "no control characters", &found,
                              jerr)))
                return err;
        if (!found)
                return fail(jerr, SCHED_ERR_INVALID, "missing_field", P,
                            "name", "required");

        if ((err = get_string(root, P, "task", def->task, sizeof(def->task),
                              cs_task, "letters, digits and _-.:/", &found,
                              jerr)))
                return err;
        if (!found)
                return fail(jerr, SCHED_ERR_INVALID, "missing_field", P,
                            "task", "required");

        json_t *sc = json_object_get(root, "schedule");
        if (!sc)
                return fail(jerr, SCHED_ERR_INVALID, "missing_field", P,
                            "schedule", "required");
        if ((err = parse_schedule(sc, &def->schedule, jerr)))
                return err;

        if ((err = get_string(root, P, "queue", def->queue,
                              sizeof(def->queue), cs_queue,
                              "letters, digits, _ and -", &found, jerr)))
                return err;

        json_t *pr = json_object_get(root, "priority");
        if (pr) {
                if (!json_is_string(pr))
                        return INVALID(P, "priority", "must be a string");
                const char *s = json_string_value(pr);
                if (!strcmp(s, "normal"))
                        def->priority = SCHED_PRIO_NORMAL;
                else if (!strcmp(s, "high"))
                        def->priority = SCHED_PRIO_HIGH;
                else
                        return INVALID(P, "priority",
                                       "must be \"normal\" or \"high\"");
        }

        json_t *rt = json_object_get(root, "retry");
        if (rt && (err = parse_retry(rt, &def->retry, jerr)))
                return err;

        if ((err = get_int(root, P, "timeout_ms", 1, SCHED_JOB_MAX_TIMEOUT_MS,
                           &def->timeout_ms, &found, jerr)))
                return err;

        if ((err = get_string(root, P, "idempotency_key",
                              def->idempotency_key,
                              sizeof(def->idempotency_key), cs_key,
                              "printable ASCII, no spaces", &found, jerr)))
                return err;

        /* Last: the only member that allocates. */
        json_t *pa = json_object_get(root, "parameters");
        if (pa && (err = parse_parameters(pa, &def->parameters, jerr)))
                return err;
        return SCHED_ERR_OK;
}

static json_t *load(const char *body, size_t len, sched_json_err_t *jerr) {
        json_error_t je;
        json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                fail(jerr, SCHED_ERR_INVALID, "invalid_json", "", "",
                     "malformed JSON at line %d column %d: %s", je.line,
                     je.column, je.text);
        return root;
}

/* Load body and fill def with parse(); def owns nothing on failure. */
static sched_err_t parse_def(const char *body, size_t len,
                             sched_job_def_t *def, sched_json_err_t *jerr,
                             sched_err_t (*parse)(json_t *, sched_job_def_t *,
                                                  sched_json_err_t *)) {
        json_t *root = load(body, len, jerr);
        if (!root)
                return SCHED_ERR_INVALID;
        def->parameters = NULL;
        sched_err_t err = parse(root, def, jerr);
        json_decref(root);
        if (err) {
                free(def->parameters);
                def->parameters = NULL;
        }
        return err;
}

sched_err_t sched_job_json_parse(const char *body, size_t len,
                                 sched_job_def_t *def,
                                 sched_json_err_t *jerr) {
        return parse_def(body, len, def, jerr, parse_job);
}

static const char *const update_fields[] = {"schedule", "parameters",
                                            "retry", "timeout_ms", NULL};

static sched_err_t parse_update(json_t *root, sched_job_def_t *def,
                                sched_json_err_t *jerr) {
        static const char *P = "";
        if (!json_is_object(root))
                return fail(jerr, SCHED_ERR_INVALID, "invalid_json", "", "",
                            "the body must be a JSON object");
        sched_err_t err = check_unknown(root, P, update_fields, jerr);
        if (err)
                return err;
        if (!json_object_size(root))
                return fail(jerr, SCHED_ERR_INVALID, "missing_field", P, "",
                            "nothing to change: give schedule, parameters, "
                            "retry or timeout_ms");
        json_t *sc = json_object_get(root, "schedule");
        if (sc && (err = parse_schedule(sc, &def->schedule, jerr)))
                return err;
        def->has_schedule = sc != NULL;
        json_t *rt = json_object_get(root, "retry");
        if (rt && (err = parse_retry(rt, &def->retry, jerr)))
                return err;
        def->has_retry = rt != NULL;
        if ((err = get_int(root, P, "timeout_ms", 1, SCHED_JOB_MAX_TIMEOUT_MS,
                           &def->timeout_ms, &def->has_timeout, jerr)))
                return err;
        json_t *pa = json_object_get(root, "parameters");
        if (pa && (err = parse_parameters(pa, &def->parameters, jerr)))
                return err;
        def->has_parameters = pa != NULL;
        return SCHED_ERR_OK;
}

sched_err_t sched_job_json_parse_update(const char *body, size_t len,
                                        sched_job_def_t *def,
                                        sched_json_err_t *jerr) {
        return parse_def(body, len, def, jerr, parse_update);
}

sched_err_t sched_job_json_parse_reason(const char *body, size_t len,
                                        char **reasonp,
                                        sched_json_err_t *jerr) {
        static const char *const fields[] = {"reason", NULL};
        *reasonp = NULL;
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' ||
                           body[i] == '\r' || body[i] == '\n'))
                i++;
        if (i == len)
                return SCHED_ERR_OK; /* no body */
        json_t *root = load(body, len, jerr);
        if (!root)
                return SCHED_ERR_INVALID;
        sched_err_t err = SCHED_ERR_OK;
        if (!json_is_object(root)) {
                err = fail(jerr, SCHED_ERR_INVALID, "invalid_json", "", "",
                           "the body must be a JSON object");
        } else if (!(err = check_unknown(root, "", fields, jerr))) {
                json_t *r = json_object_get(root, "reason");
                if (r && !json_is_string(r))
                        err = INVALID("", "reason", "must be a string");
                else if (r && json_string_length(r) >= SCHED_MESSAGE_MAX)
                        err = INVALID("", "reason", "longer than %d bytes",
                                      SCHED_MESSAGE_MAX - 1);
                else if (r && !(*reasonp = strdup(json_string_value(r))))
                        err = fail(jerr, SCHED_ERR_NOMEM, "invalid_field", "",
                                   "reason", "out of memory");
        }
        json_decref(root);
        return err;
}

bool sched_job_id_valid(const char *id) {
        size_t n = 0;
        for (; id[n]; n++) {
                unsigned char c = (unsigned char)id[n];
                if (!(cs_queue(c) || c == '.' || c == ':'))
                        return false;
                if (n >= SCHED_ID_MAX - 1)
                        return false;
        }
        return n > 0;
}

bool sched_idempotency_key_valid(const char *key) {
        size_t n = 0;
        for (; key[n]; n++)
                if (!cs_key((unsigned char)key[n]) || n >= SCHED_ID_MAX - 1)
                        return false;
        return n > 0;
}

void sched_job_id_for(char out[SCHED_ID_MAX], const char *tenant,
                      const char *key, int64_t now_ms) {
        char u[SCHED_UUID_STR_MAX];
        if (key && *key)
                sched_uuid_from_key(u, tenant, key);
        else
                sched_uuid_v7(u, now_ms);
        memcpy(out, u, sizeof(u));
}
