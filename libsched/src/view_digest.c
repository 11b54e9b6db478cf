/*
 * view_digest.c — the view's digest sections (sched/digest.h): which view
 * rows belong to a partition, by the job id in their key (VIEW_LOG rows by
 * the partition their record sits on).
 */
#include <stdint.h>
#include <string.h>

#include "sched/digest.h"
#include "sched/kafka.h"
#include "sched/view.h"

#define CREATED_LEN 8 /* the index keys' created time */

/* The row's job id id[0..idlen) decides: its partition, or, for a key
 * without its section's layout (idlen 0), partition 0 with the whole key
 * as its bucket id. */
static bool owned(const sched_digest_set_t *set, const char *k, size_t klen,
                  const char *id, size_t idlen, const char **idp,
                  size_t *idlenp) {
        if (!idlen) {
                *idp = k;
                *idlenp = klen;
                return set->partition == 0;
        }
        *idp = id;
        *idlenp = idlen;
        return sched_partition_of(id, idlen, set->partition_cnt) ==
               set->partition;
}

/* The bytes after the first 0 of k (the tenant's end); NULL if none. */
static const char *after_tenant(const char *k, size_t klen, size_t *restp) {
        const char *z = memchr(k, 0, klen);
        if (!z)
                return NULL;
        *restp = klen - (size_t)(z + 1 - k);
        return z + 1;
}

/* VIEW_JOBS tenant 0 job_id; VIEW_EXECS tenant 0 job_id 0 exec_id. */
static bool job_row(const sched_digest_set_t *set, const char *k, size_t klen,
                    const char *v, size_t vlen, const char **idp,
                    size_t *idlenp) {
        (void)v, (void)vlen;
        size_t rest = 0;
        const char *id = after_tenant(k, klen, &rest);
        size_t idlen = id ? strnlen(id, rest) : 0;
        return owned(set, k, klen, id, idlen, idp, idlenp);
}

/* VIEW_INDEX tenant 0 'T' created job_id; tenant 0 'S'|'Q' name 0 created
 * job_id. */
static bool index_row(const sched_digest_set_t *set, const char *k,
                      size_t klen, const char *v, size_t vlen,
                      const char **idp, size_t *idlenp) {
        (void)v, (void)vlen;
        size_t rest = 0, idlen = 0;
        const char *p = after_tenant(k, klen, &rest);
        if (p && rest > 1 && p[0] == 'T') {
                p++, rest--;
        } else if (p && rest > 1 && (p[0] == 'S' || p[0] == 'Q')) {
                p = after_tenant(p, rest, &rest);
        } else {
                p = NULL;
        }
        if (p && rest > CREATED_LEN) {
                p += CREATED_LEN;
                idlen = rest - CREATED_LEN;
        }
        return owned(set, k, klen, p, idlen, idp, idlenp);
}

/* ORPHANS 'V' job_id 0 [offset]; VIEW_LOG job_id 0 topic partition
 * offset: the id runs from `skip` to the first 0. */
static bool id_then_zero(const sched_digest_set_t *set, const char *k,
                         size_t klen, size_t skip, const char **idp,
                         size_t *idlenp) {
        const char *id = klen > skip ? k + skip : NULL;
        size_t idlen = id ? strnlen(id, klen - skip) : 0;
        if (id && idlen == klen - skip) /* no 0 after the id */
                idlen = 0;
        return owned(set, k, klen, id, idlen, idp, idlenp);
}

static bool orphan_row(const sched_digest_set_t *set, const char *k,
                       size_t klen, const char *v, size_t vlen,
                       const char **idp, size_t *idlenp) {
        (void)v, (void)vlen;
        return id_then_zero(set, k, klen, 1, idp, idlenp);
}

/* VIEW_LOG rows belong to the partition their record sits on (the
 * partition field after the topic byte), which a record keyed by a job id
 * need not be the job's: a replay of that partition writes the row. */
static bool log_row(const sched_digest_set_t *set, const char *k,
                    size_t klen, const char *v, size_t vlen,
                    const char **idp, size_t *idlenp) {
        (void)v, (void)vlen;
        size_t idlen;
        char topic;
        int32_t part;
        int64_t offset;
        if (!sched_view_log_key_parse(k, klen, &idlen, &topic, &part,
                                      &offset))
                return id_then_zero(set, k, klen, 0, idp, idlenp);
        *idp = k;
        *idlenp = idlen;
        return part == set->partition;
}

void sched_view_digest_set(sched_digest_set_t *set, int32_t partition,
                           int32_t partition_cnt) {
        memset(set, 0, sizeof(*set));
        set->partition = partition;
        set->partition_cnt = partition_cnt;
        sched_digest_section_add(set, "view_jobs", SCHED_CF_VIEW_JOBS, NULL, 0,
                                 NULL, 0, job_row);
        sched_digest_section_add(set, "view_execs", SCHED_CF_VIEW_EXECS, NULL,
                                 0, NULL, 0, job_row);
        sched_digest_section_add(set, "view_index", SCHED_CF_VIEW_INDEX, NULL,
                                 0, NULL, 0, index_row);
        sched_digest_section_add(set, "orphans", SCHED_CF_ORPHANS, "V", 1, "W",
                                 1, orphan_row);
        sched_digest_section_add(set, "view_log", SCHED_CF_VIEW_LOG, NULL, 0,
                                 NULL, 0, log_row);
}

sched_err_t sched_view_digest(sched_store_t *store, int32_t partition,
                              int32_t partition_cnt,
                              const char *commands_topic,
                              const char *status_topic, sched_digest_t *out) {
        sched_digest_set_t set;
        sched_view_digest_set(&set, partition, partition_cnt);
        return sched_digest_compute(store, &set, commands_topic, status_topic,
                                    out);
}
