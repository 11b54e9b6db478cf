/*
 * view_log.c — where each job's records sit in the topics (VIEW_LOG rows,
 * see sched/view.h), and the paged list of them klok-api serves at
 * GET /v1/jobs/{id}/records.
 *
 * The rows are keyed by the record's Kafka key, not by its decoded job
 * id: the index then holds exactly what a scan of the partition for that
 * key finds, undecodable records included, and an auditor reading the
 * listed offsets sees what a full scan would have shown.
 */
#include "sched/view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sched/kafka.h"

/* job_id 0x00 topic partition(be32) offset(be64) */
#define LOG_KEY_MAX (SCHED_ID_MAX + 1 + 4 + 8)
#define LOG_FROM_SUFFIX "#indexed-from"

/* Whether a Kafka key can be a job id: 1 to SCHED_ID_MAX - 1 bytes, no
 * 0 byte (the separator). */
static bool id_shaped(const void *key, size_t klen) {
        return key && klen > 0 && klen < SCHED_ID_MAX &&
               !memchr(key, '\0', klen);
}

static size_t log_key(char *buf, const void *id, size_t idlen, char topic,
                      int32_t partition, int64_t offset) {
        memcpy(buf, id, idlen);
        size_t n = idlen;
        buf[n++] = '\0';
        buf[n++] = topic;
        sched_be32_put((unsigned char *)buf + n, (uint32_t)partition);
        sched_be64_put((unsigned char *)buf + n + 4, (uint64_t)offset);
        return n + 12;
}

bool sched_view_log_key_parse(const char *k, size_t klen, size_t *idlenp,
                              char *topicp, int32_t *partitionp,
                              int64_t *offsetp) {
        size_t idlen = strnlen(k, klen);
        if (klen != idlen + 2 + 12)
                return false;
        const unsigned char *p = (const unsigned char *)k + idlen + 2;
        *idlenp = idlen;
        *topicp = k[idlen + 1];
        *partitionp = (int32_t)sched_be32_get(p);
        *offsetp = (int64_t)sched_be64_get(p + 4);
        return true;
}

void sched_view_log_put(sched_store_t *store, sched_batch_t *batch,
                        char topic, const void *key, size_t klen,
                        int32_t partition, int64_t offset) {
        if (!id_shaped(key, klen) || partition < 0 || offset < 0)
                return;
        char k[LOG_KEY_MAX];
        size_t n = log_key(k, key, klen, topic, partition, offset);
        sched_batch_put(store, batch, SCHED_CF_VIEW_LOG, k, n, "", 0);
}

/* The META "topic" the first indexed offset is kept under. */
static void from_name(char *buf, size_t size, const char *topic_name) {
        snprintf(buf, size, "%s" LOG_FROM_SUFFIX, topic_name);
}

void sched_view_log_begin(sched_store_t *store, sched_batch_t *batch,
                          const char *topic_name, int32_t partition,
                          int64_t next_offset) {
        char name[SCHED_TOPIC_MAX + sizeof(LOG_FROM_SUFFIX)];
        from_name(name, sizeof(name), topic_name);
        if (sched_store_offset_get(store, name, partition) < 0)
                sched_store_offset_stage(store, batch, name, partition,
                                         next_offset < 0 ? 0 : next_offset);
}

/* --- The paged list ----------------------------------------------------- */

/* Cursor "<c|s>.<partition>.<offset>": the last record of a page. */
static int cursor_parse(const char *s, char *topic, int32_t *partition,
                        int64_t *offset) {
        char t;
        long long p, o;
        int used = 0;
        if (sscanf(s, "%c.%lld.%lld%n", &t, &p, &o, &used) != 3 ||
            s[used] || (t != SCHED_VIEW_LOG_COMMANDS &&
                        t != SCHED_VIEW_LOG_STATUS) ||
            p < 0 || p > INT32_MAX || o < 0)
                return -1;
        *topic = t;
        *partition = (int32_t)p;
        *offset = (int64_t)o;
        return 0;
}

/* A position or "indexed from" of the snapshot: null when none. */
static json_t *stored_offset(sched_store_t *store, sched_snapshot_t *snap,
                             const char *topic, int32_t partition,
                             bool indexed_from) {
        char name[SCHED_TOPIC_MAX + sizeof(LOG_FROM_SUFFIX)];
        if (indexed_from)
                from_name(name, sizeof(name), topic);
        else
                snprintf(name, sizeof(name), "%s", topic);
        int64_t off = sched_store_offset_get_snap(store, snap, name,
                                                  partition);
        return off < 0 ? json_null() : json_integer(off);
}

static json_t *offsets_pair(sched_store_t *store, sched_snapshot_t *snap,
                            const char *commands_topic,
                            const char *status_topic, int32_t partition,
                            bool indexed_from) {
        return json_pack("{s:o, s:o}", "commands",
                         stored_offset(store, snap, commands_topic, partition,
                                       indexed_from),
                         "status",
                         stored_offset(store, snap, status_topic, partition,
                                       indexed_from));
}

sched_err_t sched_view_log_page(sched_store_t *store, const char *job_id,
                                int32_t partition_cnt,
                                const char *commands_topic,
                                const char *status_topic, const char *after,
                                size_t limit, char **jsonp) {
        *jsonp = NULL;
        size_t idlen = strlen(job_id);
        if (!id_shaped(job_id, idlen) || partition_cnt <= 0)
                return SCHED_ERR_INVALID;
        char lower[LOG_KEY_MAX + 1], upper[SCHED_ID_MAX + 1];
        size_t llen;
        if (after) {
                char t;
                int32_t p;
                int64_t o;
                if (cursor_parse(after, &t, &p, &o))
                        return SCHED_ERR_INVALID;
                llen = log_key(lower, job_id, idlen, t, p, o);
                lower[llen++] = '\0'; /* the first key after it */
        } else {
                memcpy(lower, job_id, idlen);
                lower[idlen] = '\0';
                llen = idlen + 1;
        }
        memcpy(upper, job_id, idlen);
        upper[idlen] = '\x01'; /* just past every "job_id 0x00 ..." key */
        if (limit == 0)
                limit = 1;

        int32_t partition = sched_partition_of(job_id, idlen, partition_cnt);
        sched_snapshot_t *snap = sched_store_snapshot(store);
        json_t *records = json_array();
        json_t *page = snap && records
                ? json_pack("{s:s, s:i, s:o, s:o}", "job_id", job_id,
                            "partition", (int)partition, "positions",
                            offsets_pair(store, snap, commands_topic,
                                         status_topic, partition, false),
                            "indexed_from",
                            offsets_pair(store, snap, commands_topic,
                                         status_topic, partition, true))
                : NULL;
        sched_iter_t *it = page ? sched_store_iter_snap(
                                          store, snap, SCHED_CF_VIEW_LOG,
                                          lower, llen, upper, idlen + 1)
                                : NULL;
        sched_err_t err = it ? SCHED_ERR_OK : SCHED_ERR_NOMEM;
        char last[SCHED_VIEW_LOG_CURSOR_MAX] = "";
        bool more = false;
        size_t n = 0;
        for (; !err && sched_iter_valid(it); sched_iter_next(it)) {
                size_t klen, rowid;
                const char *k = sched_iter_key(it, &klen);
                char topic;
                int32_t part;
                int64_t off;
                if (!sched_view_log_key_parse(k, klen, &rowid, &topic, &part,
                                              &off) ||
                    rowid != idlen)
                        continue; /* not a row this module wrote */
                if (n == limit) {
                        more = true;
                        break;
                }
                json_t *row = json_pack(
                        "{s:s, s:i, s:I}", "topic",
                        topic == SCHED_VIEW_LOG_STATUS ? "status" : "commands",
                        "partition", (int)part, "offset", (json_int_t)off);
                if (!row || json_array_append_new(records, row))
                        err = SCHED_ERR_NOMEM;
                n++;
                /* The cursor of the page so far: its last record. */
                snprintf(last, sizeof(last), "%c.%" PRId32 ".%" PRId64, topic,
                         part, off);
        }
        sched_iter_destroy(it);
        sched_store_snapshot_release(store, snap);
        if (!err && (json_object_set(page, "records", records) ||
                     json_object_set_new(page, "next_cursor",
                                         more ? json_string(last)
                                              : json_null())))
                err = SCHED_ERR_NOMEM;
        json_decref(records);
        if (!err && !(*jsonp = json_dumps(page, JSON_COMPACT)))
                err = SCHED_ERR_NOMEM;
        json_decref(page);
        return err;
}
