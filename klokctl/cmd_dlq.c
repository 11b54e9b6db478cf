/*
 * cmd_dlq.c — `klokctl dlq`: the dead letters of <p>.dlq.
 *
 *   dlq list [--from TIME] [--to TIME]
 *   dlq show PARTITION:OFFSET
 *   dlq replay PARTITION:OFFSET [--to-topic TOPIC]
 *
 * A dead letter is the record a service could not decode or apply, as it
 * was (key, payload), with headers saying why and where it came from:
 * klok.reason, klok.source.topic, klok.source.partition,
 * klok.source.offset (sched_kafka_dlq()).  The timer's record of a job
 * that ran out of attempts has klok.reason and klok.execution_id instead,
 * and its DEAD_LETTERED status event as the payload.
 *
 * list prints one line per dead letter in log order (partition, offset).
 * show prints one with its headers and its payload decoded when it is a
 * klok record (else its first 4 KiB in hex).  replay produces the payload
 * again, with its key, to the topic it came from — only <p>.commands or
 * <p>.status, which klok reads; anywhere else it is not klok's business,
 * unless --to-topic names the topic — with an idempotent, acks=all
 * producer, the key's partition (murmur2, as every klok writer), and a
 * klok.replay.of header naming the dead letter; it waits for the
 * acknowledgement and prints where the record landed.  PARTITION:OFFSET
 * may be a bare OFFSET when <p>.dlq has one partition.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/event.h"
#include "sched/kafka.h"
#include "sched/time.h"

#define HEX_MAX 4096             /* payload bytes shown in hex */
#define REPLAY_TIMEOUT_MS 15000  /* delivery of a replayed record */
#define HDR_REASON "klok.reason"
#define HDR_SRC_TOPIC "klok.source.topic"
#define HDR_SRC_PART "klok.source.partition"
#define HDR_SRC_OFFSET "klok.source.offset"
#define HDR_EXEC "klok.execution_id"
#define HDR_REPLAY "klok.replay.of"

/* --- Text of bytes from Kafka --------------------------------------------- */

/* A malloc'd printable copy: control bytes and broken UTF-8 become '?'. */
static char *printable(const void *p, size_t len) {
        char *s = malloc(len + 1);
        if (!s)
                return NULL;
        if (len)
                memcpy(s, p, len);
        s[len] = '\0';
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        s[i] = '?';
        sched_utf8_scrub(s);
        return s;
}

/* A header's last value as printable text into buf ("" when absent). */
static const char *header(rd_kafka_headers_t *hdrs, const char *name,
                          char *buf, size_t size) {
        const void *v;
        size_t len;
        buf[0] = '\0';
        if (hdrs && !rd_kafka_header_get_last(hdrs, name, &v, &len) && v) {
                char *s = printable(v, len);
                if (s)
                        snprintf(buf, size, "%s", s);
                free(s);
        }
        return buf;
}

/* --- Arguments ------------------------------------------------------------ */

/* "P:O", or "O" when the dead-letter topic has one partition. */
static int parse_position(const ctl_t *ctl, const char *dlq, const char *s,
                          int32_t *partition, int64_t *offset) {
        char *end;
        long long a = strtoll(s, &end, 10);
        if (end == s || a < 0)
                return ctl_fail(CTL_USAGE, "not PARTITION:OFFSET: %s", s);
        if (*end == ':') {
                const char *o = end + 1;
                long long b = strtoll(o, &end, 10);
                if (end == o || *end || b < 0 || a > INT32_MAX)
                        return ctl_fail(CTL_USAGE,
                                        "not PARTITION:OFFSET: %s", s);
                *partition = (int32_t)a;
                *offset = b;
                return 0;
        }
        if (*end)
                return ctl_fail(CTL_USAGE, "not PARTITION:OFFSET: %s", s);
        char errstr[512];
        int32_t cnt = ctl_partition_count(ctl, dlq, errstr, sizeof(errstr));
        if (cnt < 0)
                return ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        if (cnt != 1)
                return ctl_fail(CTL_USAGE,
                                "%s has %" PRId32 " partitions: give "
                                "PARTITION:OFFSET", dlq, cnt);
        *partition = 0;
        *offset = a;
        return 0;
}

/* --- list ----------------------------------------------------------------- */

typedef struct letter_s {
        int32_t partition;
        int64_t offset, ts_ms;
        size_t size;
        char *key, *reason, *src_topic, *exec_id;
        int32_t src_partition; /* -1 when not known */
        int64_t src_offset;    /* -1 when not known */
} letter_t;

typedef struct letters_s {
        letter_t *v;
        size_t cnt, cap;
        bool oom;
} letters_t;

static void letter_free(letter_t *l) {
        free(l->key);
        free(l->reason);
        free(l->src_topic);
        free(l->exec_id);
}

static int64_t header_long(rd_kafka_headers_t *hdrs, const char *name) {
        char buf[32], *end;
        header(hdrs, name, buf, sizeof(buf));
        long long v = strtoll(buf, &end, 10);
        return buf[0] && !*end && v >= 0 ? (int64_t)v : -1;
}

static int collect(void *opaque, const rd_kafka_message_t *rkm) {
        letters_t *ls = opaque;
        if (ls->cnt == ls->cap) {
                size_t cap = ls->cap ? ls->cap * 2 : 64;
                letter_t *v = realloc(ls->v, cap * sizeof(*v));
                if (!v) {
                        ls->oom = true;
                        return 1;
                }
                ls->v = v;
                ls->cap = cap;
        }
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_message_headers(rkm, &hdrs);
        char buf[SCHED_MESSAGE_MAX];
        letter_t *l = &ls->v[ls->cnt];
        memset(l, 0, sizeof(*l));
        l->partition = rkm->partition;
        l->offset = rkm->offset;
        l->ts_ms = rd_kafka_message_timestamp(rkm, NULL);
        l->size = rkm->len;
        l->key = rkm->key ? printable(rkm->key, rkm->key_len) : NULL;
        l->reason = strdup(header(hdrs, HDR_REASON, buf, sizeof(buf)));
        l->src_topic = strdup(header(hdrs, HDR_SRC_TOPIC, buf, sizeof(buf)));
        l->exec_id = strdup(header(hdrs, HDR_EXEC, buf, sizeof(buf)));
        l->src_partition = (int32_t)header_long(hdrs, HDR_SRC_PART);
        l->src_offset = header_long(hdrs, HDR_SRC_OFFSET);
        if ((rkm->key && !l->key) || !l->reason || !l->src_topic ||
            !l->exec_id) {
                letter_free(l);
                ls->oom = true;
                return 1;
        }
        ls->cnt++;
        return 0;
}

/* Log order: partition, then offset (the timestamps of one partition's
 * records come from several producers' clocks and need not increase). */
static int letter_cmp(const void *pa, const void *pb) {
        const letter_t *a = pa, *b = pb;
        if (a->partition != b->partition)
                return a->partition < b->partition ? -1 : 1;
        return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static json_t *jopt(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

static json_t *jnonneg(int64_t v) {
        return v < 0 ? json_null() : json_integer(v);
}

static int print_letter(const ctl_t *ctl, const letter_t *l) {
        char t[SCHED_ISO_MAX];
        sched_time_format(l->ts_ms, t);
        if (!ctl->json) {
                char po[48], src[SCHED_TOPIC_MAX + 48] = "-";
                snprintf(po, sizeof(po), "%" PRId32 ":%" PRId64, l->partition,
                         l->offset);
                if (l->src_topic[0])
                        snprintf(src, sizeof(src), "%s %" PRId32 ":%" PRId64,
                                 l->src_topic, l->src_partition,
                                 l->src_offset);
                else if (l->exec_id[0])
                        snprintf(src, sizeof(src), "execution %s",
                                 l->exec_id);
                printf("%-24s %-10s %-36s %-36s %s\n", t, po, src,
                       l->key ? l->key : "-", l->reason);
                return 0;
        }
        json_t *o = json_pack(
                "{s:s, s:I, s:i, s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:I}",
                "time", t, "ts_ms", (json_int_t)l->ts_ms, "partition",
                (int)l->partition, "offset", (json_int_t)l->offset, "key",
                l->key ? json_string(l->key) : json_null(), "reason",
                l->reason, "source_topic", jopt(l->src_topic),
                "source_partition", jnonneg(l->src_partition),
                "source_offset", jnonneg(l->src_offset), "execution_id",
                jopt(l->exec_id), "size", (json_int_t)l->size);
        return ctl_put_json(o);
}

static int dlq_list(ctl_t *ctl, const char *dlq, int argc, char **argv) {
        int64_t from = INT64_MIN, to = INT64_MAX;
        for (int i = 1; i < argc; i += 2) {
                int64_t *ms = !strcmp(argv[i], "--from") ? &from
                              : !strcmp(argv[i], "--to") ? &to
                                                          : NULL;
                if (!ms || i + 1 >= argc)
                        return ctl_fail(CTL_USAGE,
                                        "usage: dlq list [--from TIME] "
                                        "[--to TIME]");
                if (!ctl_parse_time(argv[i + 1], ms))
                        return ctl_fail(CTL_USAGE, "%s: not a time: %s",
                                        argv[i], argv[i + 1]);
        }
        letters_t ls = {0};
        char errstr[1024];
        int rc = CTL_OK;
        if (ctl_read(ctl, dlq, -1, from, to, collect, &ls, errstr,
                     sizeof(errstr)))
                rc = ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        else if (ls.oom)
                rc = ctl_fail(CTL_FOUND_PROBLEM, "out of memory (%zu dead "
                              "letters read)", ls.cnt);
        if (!rc) {
                qsort(ls.v, ls.cnt, sizeof(*ls.v), letter_cmp);
                if (!ctl->json)
                        printf("%-24s %-10s %-36s %-36s %s\n", "TIME",
                               "P:OFFSET", "SOURCE", "KEY", "REASON");
                for (size_t i = 0; !rc && i < ls.cnt; i++)
                        rc = print_letter(ctl, &ls.v[i]);
        }
        for (size_t i = 0; i < ls.cnt; i++)
                letter_free(&ls.v[i]);
        free(ls.v);
        return rc;
}

/* --- show, replay: one dead letter ---------------------------------------- */

typedef struct one_s {
        int32_t partition;
        int64_t offset, ts_ms;
        void *key, *payload;
        size_t key_len, len;
        rd_kafka_headers_t *hdrs;
        bool oom;
} one_t;

/* A malloc'd copy of len bytes (at least one byte allocated). */
static void *copy_bytes(const void *p, size_t len) {
        void *c = malloc(len ? len : 1);
        if (c && len)
                memcpy(c, p, len);
        return c;
}

static int take_one(void *opaque, const rd_kafka_message_t *rkm) {
        one_t *m = opaque;
        rd_kafka_headers_t *hdrs = NULL;
        m->partition = rkm->partition;
        m->offset = rkm->offset;
        m->ts_ms = rd_kafka_message_timestamp(rkm, NULL);
        if (rkm->key) {
                m->key = copy_bytes(rkm->key, rkm->key_len);
                m->key_len = rkm->key_len;
                m->oom |= !m->key;
        }
        if (rkm->payload) {
                m->payload = copy_bytes(rkm->payload, rkm->len);
                m->len = rkm->len;
                m->oom |= !m->payload;
        }
        if (!rd_kafka_message_headers(rkm, &hdrs) && hdrs)
                m->oom |= !(m->hdrs = rd_kafka_headers_copy(hdrs));
        return 1;
}

static void one_free(one_t *m) {
        free(m->key);
        free(m->payload);
        if (m->hdrs)
                rd_kafka_headers_destroy(m->hdrs);
}

static int read_one(const ctl_t *ctl, const char *dlq, const char *pos,
                    one_t *m) {
        int32_t partition = 0;
        int64_t offset = 0;
        int rc = parse_position(ctl, dlq, pos, &partition, &offset);
        if (rc)
                return rc;
        char errstr[1024];
        memset(m, 0, sizeof(*m));
        if (ctl_read_offset(ctl, dlq, partition, offset, take_one, m, errstr,
                            sizeof(errstr)))
                return ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        if (m->oom) {
                one_free(m);
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        }
        return 0;
}

/* The first HEX_MAX bytes in hex: "c301..." with `indent` NULL, else
 * "c3 01 ..." 16 bytes per line, each line but the first after indent. */
static char *hex_dump(const unsigned char *p, size_t len, const char *indent) {
        size_t n = len < HEX_MAX ? len : HEX_MAX;
        size_t lines = (n + 15) / 16;
        char *s = malloc(n * 3 + lines * ((indent ? strlen(indent) : 0) + 2) +
                         1);
        if (!s)
                return NULL;
        char *w = s;
        for (size_t i = 0; i < n; i++) {
                if (indent && i && i % 16 == 0)
                        w += sprintf(w, "\n%s", indent);
                w += sprintf(w, indent && i % 16 ? " %02x" : "%02x", p[i]);
        }
        *w = '\0';
        return s;
}

static int show_json(const ctl_t *ctl, const char *dlq, const one_t *m,
                     const sched_event_t *ev, const char *decode_error) {
        char t[SCHED_ISO_MAX];
        sched_time_format(m->ts_ms, t);
        char *key = m->key ? printable(m->key, m->key_len) : NULL;
        json_t *hdrs = json_object();
        const char *name;
        const void *v;
        size_t len;
        for (size_t i = 0;
             hdrs && m->hdrs &&
             !rd_kafka_header_get_all(m->hdrs, i, &name, &v, &len);
             i++) {
                char *s = v ? printable(v, len) : NULL;
                if (json_object_set_new(hdrs, name, v ? json_string(s)
                                                      : json_null()))
                        json_decref(hdrs), hdrs = NULL;
                free(s);
        }
        char *hex = ev || !m->payload ? NULL
                                       : hex_dump(m->payload, m->len, NULL);
        json_t *o = hdrs ? json_pack("{s:s, s:i, s:I, s:s, s:I, s:o, s:o, s:I}",
                                     "topic", dlq, "partition",
                                     (int)m->partition, "offset",
                                     (json_int_t)m->offset, "time", t,
                                     "ts_ms", (json_int_t)m->ts_ms, "key",
                                     key ? json_string(key) : json_null(),
                                     "headers", hdrs, "size",
                                     (json_int_t)m->len)
                         : NULL;
        bool ok = o != NULL;
        if (ok && ev)
                ok = !json_object_set_new(o, "decoded", ctl_event_json(ev));
        else if (ok)
                ok = !json_object_set_new(o, "decoded", json_null()) &&
                     !json_object_set_new(o, "decode_error",
                                          jopt(decode_error)) &&
                     !json_object_set_new(o, "payload_hex",
                                          hex ? json_string(hex)
                                              : json_null()) &&
                     !json_object_set_new(o, "payload_truncated",
                                          json_boolean(m->len > HEX_MAX));
        free(key);
        free(hex);
        if (!ok) {
                json_decref(o);
                o = NULL;
        }
        return ctl_put_json(o);
}

static int show_table(const char *dlq, const one_t *m,
                      const sched_event_t *ev, const char *decode_error) {
        char t[SCHED_ISO_MAX];
        sched_time_format(m->ts_ms, t);
        char *key = m->key ? printable(m->key, m->key_len) : NULL;
        printf("record    %s %" PRId32 ":%" PRId64 " at %s\n", dlq,
               m->partition, m->offset, t);
        printf("key       %s\n", key ? key : "(none)");
        free(key);
        const char *name;
        const void *v;
        size_t len;
        for (size_t i = 0;
             m->hdrs && !rd_kafka_header_get_all(m->hdrs, i, &name, &v, &len);
             i++) {
                char *s = v ? printable(v, len) : NULL;
                printf("%-9s %s: %s\n", i ? "" : "headers", name,
                       s ? s : "(null)");
                free(s);
        }
        if (!m->payload) {
                printf("payload   (none)\n");
                return CTL_OK;
        }
        if (ev) {
                json_t *o = ctl_event_json(ev);
                char *text = o ? json_dumps(o, JSON_INDENT(2) |
                                                       JSON_PRESERVE_ORDER)
                               : NULL;
                json_decref(o);
                if (!text)
                        return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
                printf("payload   %zu bytes, a klok %s:\n%s\n", m->len,
                       sched_ev_type2str(ev->type), text);
                free(text);
                return CTL_OK;
        }
        char *hex = hex_dump(m->payload, m->len, "          ");
        if (!hex)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        printf("payload   %zu bytes, not a klok record (%s)%s:\n          %s\n",
               m->len, decode_error,
               m->len > HEX_MAX ? "; the first 4 KiB" : "", hex);
        free(hex);
        return CTL_OK;
}

static int dlq_show(ctl_t *ctl, const char *dlq, int argc, char **argv) {
        if (argc != 2)
                return ctl_fail(CTL_USAGE, "usage: dlq show PARTITION:OFFSET");
        one_t m;
        int rc = read_one(ctl, dlq, argv[1], &m);
        if (rc)
                return rc;
        char errstr[1024] = "";
        sched_codec_t *codec = ctl_codec(ctl);
        if (!codec) {
                one_free(&m);
                return CTL_USAGE;
        }
        sched_event_t ev;
        char why[1100] = "no payload"; /* a name and errstr */
        bool decoded = false;
        if (m.payload) {
                sched_err_t err = sched_codec_decode(codec, m.payload, m.len,
                                                     &ev, errstr,
                                                     sizeof(errstr));
                decoded = err == SCHED_ERR_OK;
                if (!decoded)
                        snprintf(why, sizeof(why), "%s: %s",
                                 sched_err2name(err), errstr);
        }
        rc = ctl->json ? show_json(ctl, dlq, &m, decoded ? &ev : NULL, why)
                       : show_table(dlq, &m, decoded ? &ev : NULL, why);
        if (decoded)
                sched_event_clear(&ev);
        sched_codec_destroy(codec);
        one_free(&m);
        return rc;
}

/* Delivery report of the one replayed record. */
typedef struct delivery_s {
        bool done;
        rd_kafka_resp_err_t err;
        int32_t partition;
        int64_t offset;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
        delivery_t *d = rkm->_private;
        d->done = true;
        d->err = rkm->err;
        d->partition = rkm->partition;
        d->offset = rkm->offset;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf) {
}

/* Produce key + payload to topic; where it landed in *d. */
static int produce_one(const ctl_t *ctl, const char *topic, const one_t *m,
                       const char *replay_of, delivery_t *d, char *errstr,
                       size_t errstr_size) {
        char timeout[16];
        snprintf(timeout, sizeof(timeout), "%d", REPLAY_TIMEOUT_MS);
        const char *const extra[] = {"message.timeout.ms", timeout, NULL};
        rd_kafka_conf_t *conf = sched_kafka_conf(ctl->bootstrap, "klokctl",
                                                 extra, errstr, errstr_size);
        if (!conf)
                return -1;
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_log_cb(conf, quiet_log);
        rd_kafka_t *rk = sched_kafka_producer_new(conf, NULL, errstr,
                                                  errstr_size);
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_KEY(m->key, m->key_len),
                RD_KAFKA_V_VALUE(m->payload, m->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER(HDR_REPLAY, replay_of, -1),
                RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
        int rc = 0;
        if (err) {
                snprintf(errstr, errstr_size, "produce to %s: %s", topic,
                         rd_kafka_err2str(err));
                rc = -1;
        } else {
                rd_kafka_flush(rk, REPLAY_TIMEOUT_MS + 5000);
                if (!d->done || d->err) {
                        snprintf(errstr, errstr_size,
                                 "%s did not acknowledge the record: %s",
                                 topic,
                                 d->done ? rd_kafka_err2str(d->err)
                                         : "no delivery report in time");
                        rc = -1;
                }
        }
        rd_kafka_destroy(rk);
        return rc;
}

static int print_replayed(const char *dlq, const one_t *m, const char *target,
                          const delivery_t *d) {
        json_t *o = json_pack("{s:{s:s, s:i, s:I}, s:{s:s, s:i, s:I}}",
                              "replayed", "topic", dlq, "partition",
                              (int)m->partition, "offset",
                              (json_int_t)m->offset, "to", "topic", target,
                              "partition", (int)d->partition, "offset",
                              (json_int_t)d->offset);
        return ctl_put_json(o); /* the record was replayed anyway */
}

static int dlq_replay(ctl_t *ctl, const char *dlq, int argc, char **argv) {
        const char *pos = NULL, *to_topic = NULL;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--to-topic") && i + 1 < argc)
                        to_topic = argv[++i];
                else if (!pos && argv[i][0] != '-')
                        pos = argv[i];
                else
                        pos = NULL, i = argc;
        }
        if (!pos)
                return ctl_fail(CTL_USAGE, "usage: dlq replay "
                                "PARTITION:OFFSET [--to-topic TOPIC]");
        if (to_topic && (!*to_topic || strlen(to_topic) >= SCHED_TOPIC_MAX))
                return ctl_fail(CTL_USAGE, "--to-topic: empty or too long");
        one_t m;
        int rc = read_one(ctl, dlq, pos, &m);
        if (rc)
                return rc;
        char src[SCHED_TOPIC_MAX], commands[SCHED_TOPIC_MAX],
                status[SCHED_TOPIC_MAX];
        sched_topic(commands, sizeof(commands), ctl->prefix, "commands");
        sched_topic(status, sizeof(status), ctl->prefix, "status");
        header(m.hdrs, HDR_SRC_TOPIC, src, sizeof(src));
        const char *target = to_topic ? to_topic : src;
        if (!m.payload)
                rc = ctl_fail(CTL_USAGE, "%s %" PRId32 ":%" PRId64 " has no "
                              "payload: nothing to replay", dlq, m.partition,
                              m.offset);
        else if (!to_topic && !src[0])
                rc = ctl_fail(CTL_USAGE,
                              "%s %" PRId32 ":%" PRId64 " has no "
                              HDR_SRC_TOPIC " header: give --to-topic",
                              dlq, m.partition, m.offset);
        else if (!to_topic && strcmp(src, commands) && strcmp(src, status))
                rc = ctl_fail(CTL_USAGE,
                              "%s %" PRId32 ":%" PRId64 " came from %s, not "
                              "%s or %s: replaying into other topics is not "
                              "klok's business (--to-topic %s to do it "
                              "anyway)",
                              dlq, m.partition, m.offset, src, commands,
                              status, src);
        if (rc) {
                one_free(&m);
                return rc;
        }
        char replay_of[SCHED_TOPIC_MAX + 48], errstr[1024];
        snprintf(replay_of, sizeof(replay_of), "%s:%" PRId32 ":%" PRId64, dlq,
                 m.partition, m.offset);
        delivery_t d = {0};
        if (produce_one(ctl, target, &m, replay_of, &d, errstr,
                        sizeof(errstr)))
                rc = ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        else if (ctl->json)
                rc = print_replayed(dlq, &m, target, &d);
        else
                printf("replayed %s %" PRId32 ":%" PRId64 " to %s %" PRId32
                       ":%" PRId64 "\n",
                       dlq, m.partition, m.offset, target, d.partition,
                       d.offset);
        one_free(&m);
        return rc;
}

int ctl_cmd_dlq(ctl_t *ctl, int argc, char **argv) {
        char dlq[SCHED_TOPIC_MAX];
        sched_topic(dlq, sizeof(dlq), ctl->prefix, "dlq");
        if (argc >= 2 && !strcmp(argv[1], "list"))
                return dlq_list(ctl, dlq, argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "show"))
                return dlq_show(ctl, dlq, argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "replay"))
                return dlq_replay(ctl, dlq, argc - 1, argv + 1);
        return ctl_fail(CTL_USAGE, "usage: dlq list [--from TIME] [--to TIME]"
                        " | show PARTITION:OFFSET | replay PARTITION:OFFSET "
                        "[--to-topic TOPIC]");
}
