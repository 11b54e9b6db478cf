/*
 * ctl.h — klokctl's shared pieces: global options, one function per command,
 * output helpers.
 *
 *   klokctl [global options] COMMAND [command options]
 *
 * Global options (each also from the environment):
 *   --api URL          KLOK_API        HTTP API (http://127.0.0.1:9080)
 *   --token T          KLOK_TOKEN      bearer token for the API
 *   --token-file F     KLOK_TOKEN_FILE file holding it
 *   --bootstrap HP     KLOK_BOOTSTRAP  Kafka (127.0.0.1:9092)
 *   --prefix P         KLOK_PREFIX     topic prefix (klok)
 *   --schemas DIR      KLOK_SCHEMAS    Avro schemas (schemas/ next to the binary's
 *                                      source tree, else /usr/share/klok/schemas)
 *   --output table|json                 table (default on a terminal) or JSON lines
 *
 * Exit codes: 0 ok; 1 the command ran and found a problem (an HTTP error, a
 * broken history chain, a digest mismatch); 2 bad usage or input (the reason
 * on stderr).
 */
#ifndef KLOKCTL_CTL_H
#define KLOKCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#define CTL_OK 0
#define CTL_FOUND_PROBLEM 1
#define CTL_USAGE 2

typedef struct ctl_s {
        char api[512];
        char token[8192];
        char bootstrap[512];
        char prefix[64];
        char schemas[1024];
        bool json; /* JSON lines instead of a table */
} ctl_t;

typedef struct ctl_cmd_s {
        const char *name;
        int (*run)(ctl_t *ctl, int argc, char **argv); /* argv[0] = name */
        const char *usage; /* one line: arguments */
        const char *help;  /* one line: what it does */
} ctl_cmd_t;

/* main.c */
/** Print "klokctl: <message>" to stderr; returns code (for `return`). */
int ctl_fail(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
struct json_t;
/** Print o as one compact JSON line (keys in insertion order) and release
 *  it (o may be NULL: out of memory).  0, or CTL_FOUND_PROBLEM after saying
 *  "out of memory". */
int ctl_put_json(struct json_t *o);
struct sched_codec_s;
/** The codec of ctl->schemas; NULL after saying why. */
struct sched_codec_s *ctl_codec(const ctl_t *ctl);
/** Parse an instant: RFC 3339 ("2026-11-23T10:00:00Z", offsets allowed),
 *  "now", or epoch milliseconds.  false if it is none of them. */
bool ctl_parse_time(const char *s, int64_t *ms);

/* log_reader.c: klok's topics read directly (read_committed), one
 * partition or all of them, between two instants (Kafka's offsets for
 * times: only what lies between is fetched). */
struct rd_kafka_message_s;
typedef int (*ctl_record_cb)(void *opaque,
                             const struct rd_kafka_message_s *rkm);
/**
 * Call cb for every record of topic's partition (-1: every partition) with
 * a timestamp in [from_ms, to_ms) (INT64_MIN / INT64_MAX: from the start /
 * to the end the partition has now), in offset order within a partition.
 * cb returns non-zero to stop.  0, or -1 with errstr (no such topic, Kafka
 * unreachable within a bounded time).
 */
int ctl_read(const ctl_t *ctl, const char *topic, int32_t partition,
             int64_t from_ms, int64_t to_ms, ctl_record_cb cb, void *opaque,
             char *errstr, size_t errstr_size);
/** cb for the one record at topic's partition:offset.  -1 with errstr
 *  when there is none (outside the partition's offsets, or a transaction
 *  marker / aborted record there). */
int ctl_read_offset(const ctl_t *ctl, const char *topic, int32_t partition,
                    int64_t offset, ctl_record_cb cb, void *opaque,
                    char *errstr, size_t errstr_size);
/**
 * cb for the records of topic's partition at the listed offsets (ascending)
 * and at every offset from tail_from (-1: none) to the end the partition
 * has now, stamped in [from_ms, to_ms), in offset order.  Listed offsets
 * close together are read as one run; the others are fetched apart, so
 * the cost follows the records, not the partition.  0, or -1 with errstr.
 */
int ctl_read_listed(const ctl_t *ctl, const char *topic, int32_t partition,
                    const int64_t *offsets, size_t n, int64_t tail_from,
                    int64_t from_ms, int64_t to_ms, ctl_record_cb cb,
                    void *opaque, char *errstr, size_t errstr_size);
/** Partition count of a topic (metadata, bounded wait); -1 with errstr. */
int32_t ctl_partition_count(const ctl_t *ctl, const char *topic,
                            char *errstr, size_t errstr_size);

/* record_index.c: where a job's records are, from klok-api's view
 * (GET /v1/jobs/{id}/records). */
typedef struct ctl_index_s {
        int32_t partition;    /* the job's */
        int64_t positions[2]; /* the view's next offsets there: commands,
                                 status; records from them on are not
                                 indexed yet */
        int64_t *offsets[2];  /* the indexed records there, ascending */
        size_t cnt[2];
        size_t elsewhere; /* keyed by the job but on another partition */
} ctl_index_t;
/** 0, or -1 after saying on stderr why there is no usable index. */
int ctl_index_fetch(const ctl_t *ctl, const char *job_id, ctl_index_t *ix);
void ctl_index_free(ctl_index_t *ix);

/* log_reader.c: one job's records (or one tenant's) of <p>.commands and
 * <p>.status, decoded, in the order history and state-as-of use: by record
 * timestamp, commands before status at the same millisecond, each
 * partition in its offset order. */
struct sched_event_s;
struct sched_codec_s;
typedef struct ctl_rec_s {
        bool status_topic; /* else <p>.commands */
        int32_t partition;
        int64_t offset;
        int64_t ts_ms;            /* the record's timestamp */
        char *key;                /* copy, NUL-terminated; NULL: no key */
        struct sched_event_s *ev; /* NULL when it did not decode... */
        char *error;              /* ...and why */
} ctl_rec_t;
typedef struct ctl_log_s {
        ctl_rec_t *recs;
        size_t cnt;
        int32_t partition; /* the job's partition; -1 for a tenant */
        bool indexed;      /* read through the view's index */
} ctl_log_t;
/**
 * With job_id: the job's partition of both topics only; records keyed by
 * job_id (no other record is decoded) whose decoded job id is job_id too,
 * or that do not decode — found through the view's index (ctl_index_fetch)
 * unless `scan` or the index cannot be had, else by reading the whole
 * partition.  Without job_id: every partition, decoded records whose
 * tenant is `tenant`.  Timestamps in [from_ms, to_ms) as ctl_read().  0,
 * or -1 with errstr (log emptied).  Free with ctl_log_free().
 */
int ctl_log_load(const ctl_t *ctl, const struct sched_codec_s *codec,
                 const char *job_id, const char *tenant, bool scan,
                 int64_t from_ms, int64_t to_ms, ctl_log_t *log,
                 char *errstr, size_t errstr_size);
void ctl_log_free(ctl_log_t *log);

/* api_client.c: klok-api over HTTP (one kept-alive connection). */
#define CTL_QUERY_MAX 4096 /* "?status=...&cursor=...", encoded */
#define CTL_PATH_MAX 256   /* "/v1/jobs/<id>/executions" */
typedef struct ctl_http_s {
        const ctl_t *ctl;
        CURL *curl;
        size_t base_len; /* of ctl->api without trailing '/' */
        char shown[sizeof(((ctl_t *)0)->api)]; /* ctl->api without user:pw@ */
        char *buf;       /* the last answer's body */
        size_t len, cap;
        bool too_big, nomem; /* why answer_write() stopped the transfer */
        char errbuf[CURL_ERROR_SIZE];
} ctl_http_t;
/** CTL_OK, or CTL_USAGE after saying why (a bad --api or token). */
int ctl_http_open(ctl_http_t *h, const ctl_t *ctl);
void ctl_http_close(ctl_http_t *h);
/**
 * One request: method, path with its query (encoded), optional body,
 * optional Idempotency-Key.  On a 2xx answer, CTL_OK and *answer the parsed
 * JSON (the caller decrefs).  Otherwise *answer is NULL and the reason was
 * said: CTL_FOUND_PROBLEM for an HTTP error or an answer that is not JSON,
 * CTL_USAGE when the API could not be reached.
 */
int ctl_http_call(ctl_http_t *h, const char *method, const char *path,
                  const char *body, size_t body_len, const char *idem_key,
                  struct json_t **answer);
/** Append "name=<value, URL-encoded>" to the query q (CTL_QUERY_MAX
 *  bytes); false if it does not fit (or out of memory). */
bool ctl_http_query_add(ctl_http_t *h, char *q, const char *name,
                        const char *value);

/* cmd_jobs.c: submit, get, list, cancel, pause, resume (HTTP API) */
int ctl_cmd_submit(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_get(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_list(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_cancel(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_pause(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_resume(ctl_t *ctl, int argc, char **argv);

/* cmd_cron.c: cron next */
int ctl_cmd_cron(ctl_t *ctl, int argc, char **argv);

/* cmd_dlq.c: dlq list | show | replay */
int ctl_cmd_dlq(ctl_t *ctl, int argc, char **argv);

/* cmd_history.c: history (--verify) */
int ctl_cmd_history(ctl_t *ctl, int argc, char **argv);
/** Every decoded field of a record as a new JSON object (jansson; the
 *  caller json_decref()s it); NULL when out of memory. */
struct json_t;
struct json_t *ctl_event_json(const struct sched_event_s *ev);

/* cmd_state.c: state-as-of */
int ctl_cmd_state_as_of(ctl_t *ctl, int argc, char **argv);

/* cmd_rebuild.c: rebuild --partition N [--verify] [--no-view] */
int ctl_cmd_rebuild(ctl_t *ctl, int argc, char **argv);

#endif /* KLOKCTL_CTL_H */
