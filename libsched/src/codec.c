/*
 * codec.c — Avro single-object encoding of sched_event_t (sched/codec.h).
 *
 * Wire form: C3 01 | CRC-64-AVRO of the writer schema's canonical form,
 * little-endian | Avro binary body.
 *
 * A codec holds every schema found in the schema folder, sorted by
 * fingerprint: the current schema of each record type (used to encode, and
 * as the reader schema) and older writer schemas (decode only, each with a
 * resolution plan to the current one).  The C side of each record is
 * described by a static field table (sched_codec_fdesc_t) that says which C
 * member holds which Avro field and how absence is represented; tables and
 * schema files are checked against each other when the codec is created, so
 * a schema edit without the matching C change fails at start-up, not on the
 * first record.
 *
 * Records of the current schemas are written and read directly from the
 * tables (codec_direct.c); records of older writer schemas are read by
 * avro-c and resolved to the current schema (codec_resolve.c).
 *
 * Decoding is defensive: size and header checks, a fingerprint lookup, a
 * full structural walk of the body (codec_check.c) before anything reads
 * it, then size, NUL and UTF-8 checks of every string copied into the event.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <avro.h>

#include "avro_schema.h"
#include "codec_int.h"
#include "sched/codec.h"

#define SCHED_CODEC_MAGIC0 0xC3
#define SCHED_CODEC_MAGIC1 0x01
#define SCHED_CODEC_HDR_LEN 10            /* magic + 8-byte fingerprint */
#define SCHED_CODEC_FILE_MAX (1024 * 1024) /* one .avsc file */
#define SCHED_CODEC_FILES_MAX 256          /* .avsc files in the folder */
#define SCHED_CODEC_VERSION_MAX 1000000    /* <Name>.v<N>.avsc */
#define SCHED_EV_TYPE_MAX SCHED_EV_EXECUTION_DUE

/* Enum members are read and written through int pointers. */
_Static_assert(sizeof(sched_sched_kind_t) == sizeof(int), "enum size");
_Static_assert(sizeof(sched_priority_t) == sizeof(int), "enum size");
_Static_assert(sizeof(sched_status_t) == sizeof(int), "enum size");
_Static_assert(sizeof(sched_misfire_t) == sizeof(int), "enum size");
_Static_assert(sizeof(sched_overlap_t) == sizeof(int), "enum size");

/* --- C ↔ Avro field tables ------------------------------------------------ */

static const char *sched_codec_kind_sym(int v) {
        return sched_kind2str((sched_sched_kind_t)v);
}
static const char *sched_codec_prio_sym(int v) {
        return sched_priority2str((sched_priority_t)v);
}
static const char *sched_codec_misfire_sym(int v) {
        return sched_misfire2str((sched_misfire_t)v);
}
static const char *sched_codec_overlap_sym(int v) {
        return sched_overlap2str((sched_overlap_t)v);
}
static const char *sched_codec_status_sym(int v) {
        return sched_status2str((sched_status_t)v);
}

#define CF(T, avro, member, k, p)                                             \
        .name = (avro), .kind = (k), .presence = (p),                         \
        .off = offsetof(T, member)
#define CF_ARRAY(T, member) .size = sizeof(((T *)0)->member)
#define CF_KIND .sym = sched_codec_kind_sym, .sym_cnt = SCHED_KIND_INTERVAL + 1
#define CF_PRIO .sym = sched_codec_prio_sym, .sym_cnt = SCHED_PRIO_HIGH + 1
#define CF_MISFIRE                                                            \
        .sym = sched_codec_misfire_sym, .sym_cnt = SCHED_MISFIRE_SKIP + 1
#define CF_OVERLAP                                                            \
        .sym = sched_codec_overlap_sym, .sym_cnt = SCHED_OVERLAP_BUFFER_ONE + 1
#define CF_STATUS .sym = sched_codec_status_sym, .sym_cnt = SCHED_STATUS__CNT
#define CF_TABLE(avro, fields) {(avro), (fields), sizeof(fields) / sizeof(fields[0])}

static const sched_codec_fdesc_t sched_codec_schedule_fields[] = {
        {CF(sched_schedule_t, "kind", kind, CF_ENUM, CP_REQUIRED), CF_KIND},
        {CF(sched_schedule_t, "at_ms", at_ms, CF_LONG, CP_SENTINEL)},
        {CF(sched_schedule_t, "delay_ms", delay_ms, CF_LONG, CP_SENTINEL)},
        {CF(sched_schedule_t, "cron", cron, CF_STR, CP_SENTINEL),
         CF_ARRAY(sched_schedule_t, cron)},
        {CF(sched_schedule_t, "timezone", tz, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_schedule_t, tz), .empty_as = "UTC"},
        {CF(sched_schedule_t, "interval_ms", interval_ms, CF_LONG,
            CP_SENTINEL)},
        {CF(sched_schedule_t, "start_ms", start_ms, CF_LONG, CP_SENTINEL)},
        {CF(sched_schedule_t, "end_ms", end_ms, CF_LONG, CP_SENTINEL)},
        {CF(sched_schedule_t, "max_runs", max_runs, CF_INT, CP_REQUIRED)},
        {CF(sched_schedule_t, "misfire", misfire, CF_ENUM, CP_REQUIRED),
         CF_MISFIRE},
        {CF(sched_schedule_t, "misfire_threshold_ms", misfire_threshold_ms,
            CF_LONG, CP_REQUIRED)},
        {CF(sched_schedule_t, "catch_up_ms", catch_up_ms, CF_LONG,
            CP_REQUIRED)},
        {CF(sched_schedule_t, "overlap", overlap, CF_ENUM, CP_REQUIRED),
         CF_OVERLAP},
};
static const sched_codec_rdesc_t sched_codec_schedule =
        CF_TABLE("Schedule", sched_codec_schedule_fields);

static const sched_codec_fdesc_t sched_codec_retry_fields[] = {
        {CF(sched_retry_t, "max_attempts", max_attempts, CF_INT,
            CP_REQUIRED)},
        {CF(sched_retry_t, "initial_backoff_ms", initial_backoff_ms, CF_LONG,
            CP_REQUIRED)},
        {CF(sched_retry_t, "multiplier", multiplier, CF_DOUBLE, CP_REQUIRED)},
        {CF(sched_retry_t, "max_backoff_ms", max_backoff_ms, CF_LONG,
            CP_REQUIRED)},
};
static const sched_codec_rdesc_t sched_codec_retry =
        CF_TABLE("RetryPolicy", sched_codec_retry_fields);

/* The four fields every record starts with. */
#define CF_HEADER                                                             \
        {CF(sched_event_t, "event_id", event_id, CF_STR, CP_REQUIRED),        \
         CF_ARRAY(sched_event_t, event_id)},                                  \
        {CF(sched_event_t, "job_id", job_id, CF_STR, CP_REQUIRED),            \
         CF_ARRAY(sched_event_t, job_id)},                                    \
        {CF(sched_event_t, "tenant", tenant, CF_STR, CP_REQUIRED),            \
         CF_ARRAY(sched_event_t, tenant)},                                    \
        {CF(sched_event_t, "ts_ms", ts_ms, CF_LONG, CP_REQUIRED)}

static const sched_codec_fdesc_t sched_codec_create_fields[] = {
        CF_HEADER,
        {CF(sched_event_t, "name", u.def.name, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.def.name)},
        {CF(sched_event_t, "schedule", u.def.schedule, CF_REC, CP_REQUIRED),
         .sub = &sched_codec_schedule},
        {CF(sched_event_t, "task", u.def.task, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.def.task)},
        {CF(sched_event_t, "parameters", u.def.parameters, CF_HSTR,
            CP_REQUIRED),
         .size = SCHED_PARAMS_MAX, .empty_as = "{}"},
        {CF(sched_event_t, "queue", u.def.queue, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.def.queue)},
        {CF(sched_event_t, "priority", u.def.priority, CF_ENUM, CP_REQUIRED),
         CF_PRIO},
        {CF(sched_event_t, "retry", u.def.retry, CF_REC, CP_REQUIRED),
         .sub = &sched_codec_retry},
        {CF(sched_event_t, "timeout_ms", u.def.timeout_ms, CF_LONG,
            CP_REQUIRED)},
        {CF(sched_event_t, "idempotency_key", u.def.idempotency_key, CF_STR,
            CP_SENTINEL),
         CF_ARRAY(sched_event_t, u.def.idempotency_key)},
};

static const sched_codec_fdesc_t sched_codec_update_fields[] = {
        CF_HEADER,
        {CF(sched_event_t, "schedule", u.def.schedule, CF_REC, CP_FLAG),
         .flag_off = offsetof(sched_event_t, u.def.has_schedule),
         .sub = &sched_codec_schedule},
        {CF(sched_event_t, "parameters", u.def.parameters, CF_HSTR, CP_FLAG),
         .flag_off = offsetof(sched_event_t, u.def.has_parameters),
         .size = SCHED_PARAMS_MAX, .empty_as = "{}"},
        {CF(sched_event_t, "retry", u.def.retry, CF_REC, CP_FLAG),
         .flag_off = offsetof(sched_event_t, u.def.has_retry),
         .sub = &sched_codec_retry},
        {CF(sched_event_t, "timeout_ms", u.def.timeout_ms, CF_LONG, CP_FLAG),
         .flag_off = offsetof(sched_event_t, u.def.has_timeout)},
};

/* CancelJob, PauseJob, ResumeJob. */
static const sched_codec_fdesc_t sched_codec_reason_fields[] = {
        CF_HEADER,
        {CF(sched_event_t, "reason", u.reason, CF_HSTR, CP_SENTINEL),
         .size = SCHED_MESSAGE_MAX},
};

static const sched_codec_fdesc_t sched_codec_status_fields[] = {
        CF_HEADER,
        {CF(sched_event_t, "status", u.status.status, CF_ENUM, CP_REQUIRED),
         CF_STATUS},
        {CF(sched_event_t, "execution_id", u.status.execution_id, CF_STR,
            CP_SENTINEL),
         CF_ARRAY(sched_event_t, u.status.execution_id)},
        {CF(sched_event_t, "attempt", u.status.attempt, CF_INT, CP_REQUIRED)},
        {CF(sched_event_t, "scheduled_ms", u.status.scheduled_ms, CF_LONG,
            CP_SENTINEL)},
        {CF(sched_event_t, "next_ms", u.status.next_ms, CF_LONG, CP_SENTINEL)},
        {CF(sched_event_t, "deadline_ms", u.status.deadline_ms, CF_LONG,
            CP_SENTINEL)},
        {CF(sched_event_t, "progress", u.status.progress, CF_INT,
            CP_SENTINEL)},
        {CF(sched_event_t, "exit_code", u.status.exit_code, CF_INT,
            CP_SENTINEL)},
        {CF(sched_event_t, "retryable", u.status.retryable, CF_BOOL,
            CP_REQUIRED)},
        {CF(sched_event_t, "message", u.status.message, CF_HSTR,
            CP_SENTINEL),
         .size = SCHED_MESSAGE_MAX},
        {CF(sched_event_t, "output", u.status.output, CF_HSTR, CP_SENTINEL),
         .size = SCHED_OUTPUT_MAX},
};

static const sched_codec_fdesc_t sched_codec_due_fields[] = {
        CF_HEADER,
        {CF(sched_event_t, "execution_id", u.due.execution_id, CF_STR,
            CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.due.execution_id)},
        {CF(sched_event_t, "attempt", u.due.attempt, CF_INT, CP_REQUIRED)},
        {CF(sched_event_t, "scheduled_ms", u.due.scheduled_ms, CF_LONG,
            CP_REQUIRED)},
        {CF(sched_event_t, "task", u.due.task, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.due.task)},
        {CF(sched_event_t, "parameters", u.due.parameters, CF_HSTR,
            CP_REQUIRED),
         .size = SCHED_PARAMS_MAX, .empty_as = "{}"},
        {CF(sched_event_t, "queue", u.due.queue, CF_STR, CP_REQUIRED),
         CF_ARRAY(sched_event_t, u.due.queue)},
        {CF(sched_event_t, "priority", u.due.priority, CF_ENUM, CP_REQUIRED),
         CF_PRIO},
        {CF(sched_event_t, "timeout_ms", u.due.timeout_ms, CF_LONG,
            CP_REQUIRED)},
};

/* Indexed by sched_ev_type_t; the names are sched_ev_type2str()'s. */
static const sched_codec_rdesc_t sched_codec_records[SCHED_EV_TYPE_MAX + 1] = {
        [SCHED_EV_CREATE_JOB] = CF_TABLE("CreateJob", sched_codec_create_fields),
        [SCHED_EV_CANCEL_JOB] = CF_TABLE("CancelJob", sched_codec_reason_fields),
        [SCHED_EV_PAUSE_JOB] = CF_TABLE("PauseJob", sched_codec_reason_fields),
        [SCHED_EV_RESUME_JOB] = CF_TABLE("ResumeJob", sched_codec_reason_fields),
        [SCHED_EV_UPDATE_JOB] = CF_TABLE("UpdateJob", sched_codec_update_fields),
        [SCHED_EV_STATUS] = CF_TABLE("StatusEvent", sched_codec_status_fields),
        [SCHED_EV_EXECUTION_DUE] =
                CF_TABLE("ExecutionDue", sched_codec_due_fields),
};

static bool sched_codec_type_valid(sched_ev_type_t type) {
        return type >= SCHED_EV_CREATE_JOB && type <= SCHED_EV_TYPE_MAX;
}

/* --- The codec ------------------------------------------------------------ */

/* One known writer schema. */
typedef struct sched_codec_schema_s {
        uint64_t fp;
        sched_ev_type_t type;
        int version;               /* -1: the current schema of its type */
        char *file;                /* file name, for messages */
        sched_avro_schema_t *tree; /* for validation and resolution */
        avro_schema_t avro;
        avro_value_iface_t *klass; /* avro-c generic class of the schema */
        sched_codec_plan_t *plan;  /* old writers: to the current schema */
        sched_codec_prog_t *prog;  /* current: its direct reader/writer */
} sched_codec_schema_t;

struct sched_codec_s {
        sched_codec_schema_t *schemas; /* sorted by fingerprint */
        size_t cnt;
        /* Current schema of each record type (index into schemas). */
        size_t current[SCHED_EV_TYPE_MAX + 1];
};

static void sched_codec_schema_free(sched_codec_schema_t *sch) {
        sched_codec_plan_destroy(sch->plan);
        sched_codec_prog_destroy(sch->prog);
        if (sch->klass != NULL)
                avro_value_iface_decref(sch->klass);
        if (sch->avro != NULL)
                avro_schema_decref(sch->avro);
        sched_avro_schema_destroy(sch->tree);
        free(sch->file);
        memset(sch, 0, sizeof(*sch));
}

void sched_codec_destroy(sched_codec_t *codec) {
        size_t i;

        if (codec == NULL)
                return;
        for (i = 0; i < codec->cnt; i++)
                sched_codec_schema_free(&codec->schemas[i]);
        free(codec->schemas);
        free(codec);
}

uint64_t sched_codec_fingerprint(const sched_codec_t *codec,
                                 sched_ev_type_t type) {
        if (!sched_codec_type_valid(type))
                return 0;
        return codec->schemas[codec->current[type]].fp;
}

static const sched_codec_schema_t *
sched_codec_current(const sched_codec_t *codec, sched_ev_type_t type) {
        return &codec->schemas[codec->current[type]];
}

/* --- Loading: checks of schema files against avro-c and the C tables ------ */

static avro_type_t sched_codec_avro_type(sched_avro_type_t t) {
        static const avro_type_t map[] = {
                [SCHED_AVRO_NULL] = AVRO_NULL,
                [SCHED_AVRO_BOOLEAN] = AVRO_BOOLEAN,
                [SCHED_AVRO_INT] = AVRO_INT32,
                [SCHED_AVRO_LONG] = AVRO_INT64,
                [SCHED_AVRO_FLOAT] = AVRO_FLOAT,
                [SCHED_AVRO_DOUBLE] = AVRO_DOUBLE,
                [SCHED_AVRO_BYTES] = AVRO_BYTES,
                [SCHED_AVRO_STRING] = AVRO_STRING,
                [SCHED_AVRO_RECORD] = AVRO_RECORD,
                [SCHED_AVRO_ENUM] = AVRO_ENUM,
                [SCHED_AVRO_FIXED] = AVRO_FIXED,
                [SCHED_AVRO_ARRAY] = AVRO_ARRAY,
                [SCHED_AVRO_MAP] = AVRO_MAP,
                [SCHED_AVRO_UNION] = AVRO_UNION,
        };
        return map[t];
}

/* Whether avro-c parsed the file into the same structure as we did: our
 * tree drives validation and resolution by index, avro-c's values are
 * what the indices are applied to. */
static bool sched_codec_same_shape(const sched_avro_node_t *node,
                                   avro_schema_t s) {
        size_t i;

        while (is_avro_link(s))
                s = avro_schema_link_target(s);
        if (avro_typeof(s) != sched_codec_avro_type(node->type))
                return false;
        if (node->name != NULL && strcmp(avro_schema_name(s), node->name) != 0)
                return false;
        switch (node->type) {
        case SCHED_AVRO_RECORD:
                if (avro_schema_record_size(s) != node->cnt)
                        return false;
                for (i = 0; i < node->cnt; i++)
                        if (strcmp(avro_schema_record_field_name(s, (int)i),
                                   node->fields[i].name) != 0 ||
                            !sched_codec_same_shape(
                                    node->fields[i].type,
                                    avro_schema_record_field_get_by_index(
                                            s, (int)i)))
                                return false;
                return true;
        case SCHED_AVRO_ENUM:
                if ((size_t)avro_schema_enum_number_of_symbols(s) != node->cnt)
                        return false;
                for (i = 0; i < node->cnt; i++)
                        if (strcmp(avro_schema_enum_get(s, (int)i),
                                   node->symbols[i]) != 0)
                                return false;
                return true;
        case SCHED_AVRO_FIXED:
                return avro_schema_fixed_size(s) == node->size;
        case SCHED_AVRO_ARRAY:
                return sched_codec_same_shape(node->items,
                                              avro_schema_array_items(s));
        case SCHED_AVRO_MAP:
                return sched_codec_same_shape(node->items,
                                              avro_schema_map_values(s));
        case SCHED_AVRO_UNION:
                if (avro_schema_union_size(s) != node->cnt)
                        return false;
                for (i = 0; i < node->cnt; i++)
                        if (!sched_codec_same_shape(
                                    node->branches[i],
                                    avro_schema_union_branch(s, (int)i)))
                                return false;
                return true;
        default:
                return true;
        }
}

/* Check a current schema's record against its C table, both ways. */
static sched_err_t sched_codec_map_check(const sched_codec_rdesc_t *rd,
                                         const sched_avro_node_t *rec,
                                         char *errstr, size_t errstr_size) {
        static const sched_avro_type_t want[] = {
                [CF_STR] = SCHED_AVRO_STRING,   [CF_HSTR] = SCHED_AVRO_STRING,
                [CF_LONG] = SCHED_AVRO_LONG,    [CF_INT] = SCHED_AVRO_INT,
                [CF_BOOL] = SCHED_AVRO_BOOLEAN, [CF_DOUBLE] = SCHED_AVRO_DOUBLE,
                [CF_ENUM] = SCHED_AVRO_ENUM,    [CF_REC] = SCHED_AVRO_RECORD,
        };
        size_t i;
        int k;

        if (rec->type != SCHED_AVRO_RECORD || strcmp(rec->name, rd->name) != 0)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "expected a record named '%s'", rd->name);
        for (i = 0; i < rec->cnt; i++) {
                for (k = 0; k < (int)rd->cnt; k++)
                        if (strcmp(rd->fields[k].name, rec->fields[i].name) ==
                            0)
                                break;
                if (k == (int)rd->cnt)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "record '%s': field '%s' has no "
                                            "C mapping in codec.c",
                                            rd->name, rec->fields[i].name);
        }
        for (i = 0; i < rd->cnt; i++) {
                const sched_codec_fdesc_t *fd = &rd->fields[i];
                const sched_avro_node_t *t;
                sched_err_t err;

                if ((k = sched_avro_field_index(rec, fd->name)) < 0)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "record '%s' has no field '%s'",
                                            rd->name, fd->name);
                t = rec->fields[k].type;
                if (fd->presence != CP_REQUIRED) {
                        if (t->type != SCHED_AVRO_UNION || t->cnt != 2 ||
                            t->branches[0]->type != SCHED_AVRO_NULL)
                                return sched_seterr(
                                        errstr, errstr_size, SCHED_ERR_CONFIG,
                                        "record '%s', field '%s': expected "
                                        "[\"null\", ...]",
                                        rd->name, fd->name);
                        t = t->branches[1];
                }
                if (t->type != want[fd->kind])
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "record '%s', field '%s': is %s, "
                                            "expected %s",
                                            rd->name, fd->name,
                                            sched_avro_type2str(t->type),
                                            sched_avro_type2str(
                                                    want[fd->kind]));
                if (fd->kind == CF_ENUM) {
                        bool same = t->cnt == (size_t)fd->sym_cnt;

                        for (k = 0; same && k < fd->sym_cnt; k++)
                                same = strcasecmp(t->symbols[k],
                                                  fd->sym(k)) == 0;
                        if (!same)
                                return sched_seterr(
                                        errstr, errstr_size, SCHED_ERR_CONFIG,
                                        "record '%s', field '%s': enum "
                                        "symbols differ from the C enum",
                                        rd->name, fd->name);
                }
                if (fd->kind == CF_REC &&
                    (err = sched_codec_map_check(fd->sub, t, errstr,
                                                 errstr_size)))
                        return err;
        }
        return SCHED_ERR_OK;
}

/* "<Name>.avsc" → version -1, "<Name>.v<N>.avsc" → N; the record type is
 * the one sched_ev_type2str() calls Name.  False if the name does not have
 * this form or Name is not a klok record. */
static bool sched_codec_parse_filename(const char *file, sched_ev_type_t *typep,
                                       int *versionp) {
        const char *dot = strchr(file, '.');
        size_t baselen;
        int t;

        if (dot == NULL)
                return false;
        baselen = (size_t)(dot - file);
        *typep = 0;
        for (t = SCHED_EV_CREATE_JOB; t <= SCHED_EV_TYPE_MAX; t++) {
                const char *name = sched_ev_type2str((sched_ev_type_t)t);

                if (strlen(name) == baselen && !strncmp(name, file, baselen))
                        *typep = (sched_ev_type_t)t;
        }
        if (*typep == 0)
                return false;
        if (strcmp(dot, ".avsc") == 0) {
                *versionp = -1;
                return true;
        }
        if (dot[1] != 'v' || dot[2] < '0' || dot[2] > '9')
                return false;
        {
                char *end;
                long v = strtol(dot + 2, &end, 10);

                if (strcmp(end, ".avsc") != 0 || v > SCHED_CODEC_VERSION_MAX)
                        return false;
                *versionp = (int)v;
        }
        return true;
}

static sched_err_t sched_codec_read_file(const char *path, char **textp,
                                         size_t *lenp, char *errstr,
                                         size_t errstr_size) {
        FILE *fp = fopen(path, "rb");
        char *text;
        size_t len;

        *textp = NULL;
        if (fp == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_IO,
                                    "%s: %s", path, strerror(errno));
        text = malloc(SCHED_CODEC_FILE_MAX + 1);
        if (text == NULL) {
                fclose(fp);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        len = fread(text, 1, SCHED_CODEC_FILE_MAX + 1, fp);
        if (ferror(fp) || len > SCHED_CODEC_FILE_MAX) {
                bool too_big = !ferror(fp);

                fclose(fp);
                free(text);
                return sched_seterr(errstr, errstr_size,
                                    too_big ? SCHED_ERR_TOO_BIG : SCHED_ERR_IO,
                                    "%s: %s", path,
                                    too_big ? "larger than 1 MiB"
                                            : "read error");
        }
        fclose(fp);
        text[len] = '\0';
        *textp = text;
        *lenp = len;
        return SCHED_ERR_OK;
}

/* Parse one schema file into sch (whose type, version and file are set). */
static sched_err_t sched_codec_schema_load(sched_codec_schema_t *sch,
                                           const char *text, size_t len,
                                           char *errstr, size_t errstr_size) {
        const char *name = sched_ev_type2str(sch->type);
        char *pcf;
        sched_err_t err;

        if ((err = sched_avro_schema_parse(text, len, &sch->tree, errstr,
                                           errstr_size)))
                return err;
        if (sch->tree->root->type != SCHED_AVRO_RECORD ||
            strcmp(sch->tree->root->name, name) != 0)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "expected a record named '%s'", name);
        if (sched_avro_schema_is_recursive(sch->tree))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "recursive types are not supported");
        if ((err = sched_codec_defaults_check(sch->tree, errstr, errstr_size)))
                return err;
        if ((err = sched_avro_schema_canonical(sch->tree, &pcf, errstr,
                                               errstr_size)))
                return err;
        sch->fp = sched_crc64_avro(pcf, strlen(pcf));
        free(pcf);

        if (avro_schema_from_json_length(text, len, &sch->avro) != 0) {
                sch->avro = NULL;
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "avro-c: %s", avro_strerror());
        }
        if (!sched_codec_same_shape(sch->tree->root, sch->avro))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "avro-c reads this schema differently "
                                    "(names or namespaces?)");
        sch->klass = avro_generic_class_from_schema(sch->avro);
        if (sch->klass == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_CONFIG,
                                    "avro-c: %s", avro_strerror());
        return SCHED_ERR_OK;
}

static int sched_codec_cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sched_codec_cmp_fp(const void *a, const void *b) {
        const sched_codec_schema_t *x = a, *y = b;

        if (x->fp != y->fp)
                return x->fp < y->fp ? -1 : 1;
        return x->version < y->version ? -1 : x->version > y->version;
}

/* Names of the *.avsc files in dir, sorted. */
static sched_err_t sched_codec_list_dir(const char *dir, char ***filesp,
                                        size_t *cntp, char *errstr,
                                        size_t errstr_size) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char **files;
        size_t cnt = 0;

        *filesp = NULL;
        *cntp = 0;
        if (d == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_IO,
                                    "schema folder %s: %s", dir,
                                    strerror(errno));
        files = calloc(SCHED_CODEC_FILES_MAX, sizeof(*files));
        if (files == NULL) {
                closedir(d);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        while ((de = readdir(d)) != NULL) {
                size_t n = strlen(de->d_name);

                if (n < 5 || strcmp(de->d_name + n - 5, ".avsc") != 0)
                        continue;
                if (cnt == SCHED_CODEC_FILES_MAX ||
                    (files[cnt] = strdup(de->d_name)) == NULL) {
                        closedir(d);
                        while (cnt > 0)
                                free(files[--cnt]);
                        free(files);
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "schema folder %s: more than %d "
                                            ".avsc files or out of memory",
                                            dir, SCHED_CODEC_FILES_MAX);
                }
                cnt++;
        }
        closedir(d);
        qsort(files, cnt, sizeof(*files), sched_codec_cmp_str);
        *filesp = files;
        *cntp = cnt;
        return SCHED_ERR_OK;
}

/* Load every file into codec->schemas (unsorted). */
static sched_err_t sched_codec_load_files(sched_codec_t *codec,
                                          const char *dir, char **files,
                                          size_t cnt, char *errstr,
                                          size_t errstr_size) {
        char path[4096], why[512];
        size_t i;

        codec->schemas = calloc(cnt ? cnt : 1, sizeof(*codec->schemas));
        if (codec->schemas == NULL)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        for (i = 0; i < cnt; i++) {
                sched_codec_schema_t *sch = &codec->schemas[i];
                sched_err_t err;
                char *text;
                size_t len = 0;

                codec->cnt = i + 1;
                if (!sched_codec_parse_filename(files[i], &sch->type,
                                                &sch->version))
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "schema file %s/%s: not "
                                            "<Record>.avsc or "
                                            "<Record>.v<N>.avsc of a klok "
                                            "record",
                                            dir, files[i]);
                sch->file = strdup(files[i]);
                if (sch->file == NULL)
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_NOMEM, "out of memory");
                if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                                     files[i]) >= sizeof(path))
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG,
                                            "schema path too long");
                if ((err = sched_codec_read_file(path, &text, &len, errstr,
                                                 errstr_size)))
                        return err;
                err = sched_codec_schema_load(sch, text, len, why,
                                              sizeof(why));
                free(text);
                if (err)
                        return sched_seterr(errstr, errstr_size, err,
                                            "schema file %s: %s", path, why);
        }
        return SCHED_ERR_OK;
}

/* Sort by fingerprint, drop old versions identical to another schema,
 * find the current schema of each type, check the current schemas against
 * the C tables and plan the resolution of the others. */
static sched_err_t sched_codec_index(sched_codec_t *codec, char *errstr,
                                     size_t errstr_size) {
        char why[512];
        size_t i, n = 0;
        int t;

        qsort(codec->schemas, codec->cnt, sizeof(*codec->schemas),
              sched_codec_cmp_fp);
        /* Equal fingerprints sort current (-1) first. */
        for (i = 0; i < codec->cnt; i++) {
                sched_codec_schema_t *sch = &codec->schemas[i];

                if (n > 0 && codec->schemas[n - 1].fp == sch->fp) {
                        if (codec->schemas[n - 1].type != sch->type)
                                return sched_seterr(
                                        errstr, errstr_size, SCHED_ERR_CONFIG,
                                        "schemas %s and %s have the same "
                                        "fingerprint",
                                        codec->schemas[n - 1].file, sch->file);
                        if (sch->version < 0)
                                return sched_seterr(
                                        errstr, errstr_size, SCHED_ERR_CONFIG,
                                        "schemas %s and %s are identical "
                                        "current schemas",
                                        codec->schemas[n - 1].file, sch->file);
                        sched_codec_schema_free(sch); /* a duplicate version */
                        continue;
                }
                if (i != n) {
                        codec->schemas[n] = *sch;
                        memset(sch, 0, sizeof(*sch));
                }
                n++;
        }
        codec->cnt = n;

        for (t = SCHED_EV_CREATE_JOB; t <= SCHED_EV_TYPE_MAX; t++) {
                bool found = false;

                for (i = 0; i < codec->cnt; i++)
                        if (codec->schemas[i].type == (sched_ev_type_t)t &&
                            codec->schemas[i].version < 0) {
                                codec->current[t] = i;
                                found = true;
                        }
                if (!found)
                        return sched_seterr(
                                errstr, errstr_size, SCHED_ERR_CONFIG,
                                "no current schema %s.avsc",
                                sched_ev_type2str((sched_ev_type_t)t));
                if (sched_codec_map_check(
                            &sched_codec_records[t],
                            sched_codec_current(codec, (sched_ev_type_t)t)
                                    ->tree->root,
                            why, sizeof(why)))
                        return sched_seterr(
                                errstr, errstr_size, SCHED_ERR_CONFIG,
                                "schema file %s does not match the C event: "
                                "%s",
                                sched_codec_current(codec, (sched_ev_type_t)t)
                                        ->file,
                                why);
                sched_codec_schema_t *cur =
                        &codec->schemas[codec->current[t]];
                if (sched_codec_prog_new(&sched_codec_records[t],
                                         cur->tree->root, &cur->prog, why,
                                         sizeof(why)))
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_CONFIG, "%s: %s",
                                            cur->file, why);
        }

        for (i = 0; i < codec->cnt; i++) {
                sched_codec_schema_t *sch = &codec->schemas[i];
                sched_err_t err;

                if (sch->version < 0)
                        continue;
                err = sched_codec_plan_new(
                        sch->tree->root,
                        sched_codec_current(codec, sch->type)->tree->root,
                        &sch->plan, why, sizeof(why));
                if (err)
                        return sched_seterr(errstr, errstr_size, err,
                                            "schema file %s cannot be read "
                                            "as the current %s: %s",
                                            sch->file,
                                            sched_ev_type2str(sch->type), why);
        }
        return SCHED_ERR_OK;
}

sched_codec_t *sched_codec_new(const char *schema_dir, char *errstr,
                               size_t errstr_size) {
        sched_codec_t *codec;
        char **files;
        size_t i, cnt;
        sched_err_t err;

        if (sched_codec_list_dir(schema_dir, &files, &cnt, errstr,
                                 errstr_size))
                return NULL;
        codec = calloc(1, sizeof(*codec));
        if (codec == NULL) {
                err = sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                   "out of memory");
        } else {
                err = sched_codec_load_files(codec, schema_dir, files, cnt,
                                             errstr, errstr_size);
                if (!err)
                        err = sched_codec_index(codec, errstr, errstr_size);
        }
        for (i = 0; i < cnt; i++)
                free(files[i]);
        free(files);
        if (err) {
                sched_codec_destroy(codec);
                return NULL;
        }
        return codec;
}

/* --- Encoding ------------------------------------------------------------- */

sched_err_t sched_codec_encode(const sched_codec_t *codec,
                               const sched_event_t *ev, void **outp,
                               size_t *out_lenp, char *errstr,
                               size_t errstr_size) {
        const sched_codec_schema_t *sch;
        unsigned char *buf;
        size_t len;
        sched_err_t err;
        int i;

        *outp = NULL;
        *out_lenp = 0;
        if (!sched_codec_type_valid(ev->type))
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "unknown event type %d", (int)ev->type);
        /* The decoder refuses records without a job id (the Kafka key);
         * never produce one. */
        if (ev->job_id[0] == '\0')
                return sched_seterr(errstr, errstr_size, SCHED_ERR_INVALID,
                                    "field 'job_id': empty");
        sch = sched_codec_current(codec, ev->type);
        err = sched_codec_prog_encode(sch->prog, ev, SCHED_CODEC_HDR_LEN,
                                      SCHED_CODEC_RECORD_MAX, &buf, &len,
                                      errstr, errstr_size);
        if (err)
                return err;
        buf[0] = SCHED_CODEC_MAGIC0;
        buf[1] = SCHED_CODEC_MAGIC1;
        for (i = 0; i < 8; i++)
                buf[2 + i] = (unsigned char)(sch->fp >> (8 * i));
        *outp = buf;
        *out_lenp = len;
        return SCHED_ERR_OK;
}

/* --- Decoding ------------------------------------------------------------- */

/* Records of older writer schemas: avro-c reads the body (checked first)
 * into a generic value of the writer schema, the resolution plan copies it
 * into one of the current schema, and the walk below copies that into the
 * event. */

#define AVRO_TRY(call, what)                                                  \
        do {                                                                  \
                if ((call) != 0)                                              \
                        return sched_seterr(errstr, errstr_size,              \
                                            SCHED_ERR_NOMEM,                  \
                                            "avro-c failed to %s", what);     \
        } while (0)

static sched_err_t sched_codec_dec_record(const sched_codec_rdesc_t *rd,
                                          char *base, avro_value_t *rec,
                                          char *errstr, size_t errstr_size);

static sched_err_t sched_codec_dec_field(const sched_codec_fdesc_t *fd,
                                         char *base, avro_value_t *v,
                                         char *errstr, size_t errstr_size) {
        char *p = base + fd->off;
        avro_value_t branch;
        const char *s;
        size_t size, len;
        sched_err_t err;
        int disc, b;

        if (fd->presence != CP_REQUIRED) {
                AVRO_TRY(avro_value_get_discriminant(v, &disc),
                         "read a union");
                if (fd->presence == CP_FLAG)
                        *(bool *)(base + fd->flag_off) = disc != 0;
                if (disc == 0) { /* null: the event is initialized absent */
                        return SCHED_ERR_OK;
                }
                AVRO_TRY(avro_value_get_current_branch(v, &branch),
                         "read a union");
                v = &branch;
        }

        switch (fd->kind) {
        case CF_STR:
        case CF_HSTR:
                AVRO_TRY(avro_value_get_string(v, &s, &size), "read a string");
                len = size ? size - 1 : 0; /* size counts the NUL */
                if ((err = sched_codec_text_check(fd, s, len, errstr,
                                                  errstr_size)))
                        return err;
                if (fd->kind == CF_STR) {
                        memcpy(p, s, len);
                        p[len] = '\0';
                } else {
                        char *copy = malloc(len + 1);

                        if (copy == NULL)
                                return sched_seterr(errstr, errstr_size,
                                                    SCHED_ERR_NOMEM,
                                                    "out of memory");
                        memcpy(copy, s, len);
                        copy[len] = '\0';
                        free(*(char **)p);
                        *(char **)p = copy;
                }
                return SCHED_ERR_OK;
        case CF_LONG:
                AVRO_TRY(avro_value_get_long(v, (int64_t *)p), "read a long");
                return SCHED_ERR_OK;
        case CF_INT:
                AVRO_TRY(avro_value_get_int(v, (int32_t *)p), "read an int");
                return SCHED_ERR_OK;
        case CF_BOOL:
                AVRO_TRY(avro_value_get_boolean(v, &b), "read a boolean");
                *(bool *)p = b != 0;
                return SCHED_ERR_OK;
        case CF_DOUBLE:
                AVRO_TRY(avro_value_get_double(v, (double *)p),
                         "read a double");
                return SCHED_ERR_OK;
        case CF_ENUM:
                AVRO_TRY(avro_value_get_enum(v, &disc), "read an enum");
                if (disc < 0 || disc >= fd->sym_cnt) /* cannot happen */
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_DECODE,
                                            "field '%s': enum index %d",
                                            fd->name, disc);
                *(int *)p = disc;
                return SCHED_ERR_OK;
        case CF_REC:
                return sched_codec_dec_record(fd->sub, p, v, errstr,
                                              errstr_size);
        }
        return SCHED_ERR_DECODE;
}

static sched_err_t sched_codec_dec_record(const sched_codec_rdesc_t *rd,
                                          char *base, avro_value_t *rec,
                                          char *errstr, size_t errstr_size) {
        avro_value_t v;
        sched_err_t err;
        size_t i;

        for (i = 0; i < rd->cnt; i++) {
                AVRO_TRY(avro_value_get_by_name(rec, rd->fields[i].name, &v,
                                                NULL),
                         "find a field");
                if ((err = sched_codec_dec_field(&rd->fields[i], base, &v,
                                                 errstr, errstr_size)))
                        return err;
        }
        return SCHED_ERR_OK;
}

static const sched_codec_schema_t *
sched_codec_lookup(const sched_codec_t *codec, uint64_t fp) {
        size_t lo = 0, hi = codec->cnt;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (codec->schemas[mid].fp == fp)
                        return &codec->schemas[mid];
                if (codec->schemas[mid].fp < fp)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

sched_err_t sched_codec_decode(const sched_codec_t *codec, const void *buf,
                               size_t len, sched_event_t *ev, char *errstr,
                               size_t errstr_size) {
        const unsigned char *p = buf;
        const sched_codec_schema_t *sch;
        const unsigned char *body;
        avro_value_t wv, rv, *value = &wv;
        avro_reader_t reader;
        size_t blen;
        uint64_t fp = 0;
        sched_err_t err;
        int i, rc;

        sched_event_init(ev, (sched_ev_type_t)0); /* nothing to free */
        if (len < SCHED_CODEC_HDR_LEN)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "record of %zu bytes is shorter than the "
                                    "%d-byte header",
                                    len, SCHED_CODEC_HDR_LEN);
        if (len > SCHED_CODEC_RECORD_MAX)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_TOO_BIG,
                                    "record of %zu bytes exceeds %d", len,
                                    SCHED_CODEC_RECORD_MAX);
        if (p[0] != SCHED_CODEC_MAGIC0 || p[1] != SCHED_CODEC_MAGIC1)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "bad magic %02x %02x: not Avro "
                                    "single-object encoding",
                                    p[0], p[1]);
        for (i = 7; i >= 0; i--)
                fp = (fp << 8) | p[2 + i];
        sch = sched_codec_lookup(codec, fp);
        if (sch == NULL)
                return sched_seterr(errstr, errstr_size,
                                    SCHED_ERR_UNKNOWN_SCHEMA,
                                    "unknown writer schema fingerprint "
                                    "%016llx",
                                    (unsigned long long)fp);

        body = p + SCHED_CODEC_HDR_LEN;
        blen = len - SCHED_CODEC_HDR_LEN;
        if ((err = sched_codec_check(sch->tree->root, body, blen, errstr,
                                     errstr_size)))
                return err;

        if (sch->prog != NULL) { /* the current schema: read it directly */
                sched_event_init(ev, sch->type);
                err = sched_codec_prog_decode(sch->prog, body, blen, ev,
                                              errstr, errstr_size);
                if (!err && ev->job_id[0] == '\0')
                        err = sched_seterr(errstr, errstr_size,
                                           SCHED_ERR_DECODE,
                                           "field 'job_id': empty");
                if (err)
                        sched_event_clear(ev);
                return err;
        }

        /* The body is well-formed: now avro-c may read it. */
        if (avro_generic_value_new(sch->klass, &wv) != 0)
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        reader = avro_reader_memory((const char *)body, (int64_t)blen);
        if (reader == NULL) {
                avro_value_decref(&wv);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_NOMEM,
                                    "out of memory");
        }
        rc = avro_value_read(reader, &wv);
        avro_reader_free(reader);
        if (rc != 0) {
                avro_value_decref(&wv);
                return sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                    "avro-c could not read the body");
        }

        if (sch->plan != NULL) { /* an older writer: resolve to current */
                const sched_codec_schema_t *cur =
                        sched_codec_current(codec, sch->type);

                if (avro_generic_value_new(cur->klass, &rv) != 0) {
                        avro_value_decref(&wv);
                        return sched_seterr(errstr, errstr_size,
                                            SCHED_ERR_NOMEM, "out of memory");
                }
                err = sched_codec_plan_apply(sch->plan, &wv, &rv, errstr,
                                             errstr_size);
                avro_value_decref(&wv);
                value = &rv;
                if (err) {
                        avro_value_decref(&rv);
                        return err;
                }
        }

        sched_event_init(ev, sch->type);
        err = sched_codec_dec_record(&sched_codec_records[sch->type],
                                     (char *)ev, value, errstr, errstr_size);
        if (!err && ev->job_id[0] == '\0')
                err = sched_seterr(errstr, errstr_size, SCHED_ERR_DECODE,
                                   "field 'job_id': empty");
        avro_value_decref(value);
        if (err)
                sched_event_clear(ev);
        return err;
}
