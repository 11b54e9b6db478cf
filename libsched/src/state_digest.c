/*
 * state_digest.c — the partition digest of sched/digest.h: one walk of a
 * snapshot over a set's sections, hashing every row of the partition into
 * the overall SHA-256 and into its job's bucket; the listing of one
 * bucket; their JSON.
 */
#include "sched/digest.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sched/uuid.h" /* sched_sha256_* */

void sched_digest_section_add(sched_digest_set_t *set, const char *name,
                              sched_cf_t cf, const void *lower,
                              size_t lower_len, const void *upper,
                              size_t upper_len, sched_digest_row_fn row) {
        assert(set->nsections < SCHED_DIGEST_SECTIONS_MAX);
        assert(lower_len <= SCHED_DIGEST_BOUND_MAX &&
               upper_len <= SCHED_DIGEST_BOUND_MAX);
        sched_digest_section_t *s = &set->sections[set->nsections++];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->cf = cf;
        if (lower_len)
                memcpy(s->lower, lower, lower_len);
        if (upper_len)
                memcpy(s->upper, upper, upper_len);
        s->lower_len = lower_len;
        s->upper_len = upper_len;
        s->row = row;
}

uint64_t sched_digest_rows(const sched_digest_t *d, const char *name) {
        for (int i = 0; i < d->nsections; i++)
                if (!strcmp(d->sections[i].name, name))
                        return d->sections[i].rows;
        return 0;
}

/* FNV-1a (32-bit) of a job id: its bucket.  Independent of the partition
 * hash, so one partition's jobs spread over every bucket. */
static int bucket_of(const char *id, size_t len) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)id[i]) * 16777619u;
        return (int)(h % SCHED_DIGEST_BUCKETS);
}

/* A row as it is hashed: its lengths, then its bytes. */
static void hash_row(sched_sha256_t *sha, const char *k, size_t klen,
                     const char *v, size_t vlen) {
        unsigned char len[8];
        for (int i = 0; i < 4; i++) { /* be32 klen, be32 vlen */
                len[i] = (unsigned char)((uint32_t)klen >> (24 - 8 * i));
                len[4 + i] = (unsigned char)((uint32_t)vlen >> (24 - 8 * i));
        }
        sched_sha256_update(sha, len, 8);
        sched_sha256_update(sha, k, klen);
        sched_sha256_update(sha, v, vlen);
}

static void hex(char *out, const unsigned char *md, size_t n) {
        for (size_t i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Called for each row of the partition, in walk order. */
typedef void (*walk_fn)(void *opaque, int section, const char *k,
                        size_t klen, const char *v, size_t vlen, int bucket);

/* Walk set over snap; the section hook (may be NULL) before each section. */
static void walk(sched_store_t *store, sched_snapshot_t *snap,
                 const sched_digest_set_t *set,
                 void (*section_hook)(void *opaque, int section), walk_fn fn,
                 void *opaque) {
        for (int i = 0; i < set->nsections; i++) {
                const sched_digest_section_t *s = &set->sections[i];
                if (section_hook)
                        section_hook(opaque, i);
                sched_iter_t *it = sched_store_iter_snap(
                        store, snap, s->cf, s->lower_len ? s->lower : NULL,
                        s->lower_len, s->upper_len ? s->upper : NULL,
                        s->upper_len);
                for (; it && sched_iter_valid(it); sched_iter_next(it)) {
                        size_t klen, vlen, idlen;
                        const char *k = sched_iter_key(it, &klen);
                        const char *v = sched_iter_value(it, &vlen);
                        const char *id;
                        if (s->row(set, k, klen, v, vlen, &id, &idlen))
                                fn(opaque, i, k, klen, v, vlen,
                                   bucket_of(id, idlen));
                }
                sched_iter_destroy(it);
        }
}

typedef struct compute_s {
        const sched_digest_set_t *set;
        sched_digest_t *out;
        sched_sha256_t sha;
        sched_sha256_t buckets[SCHED_DIGEST_BUCKETS];
} compute_t;

static void compute_section(void *opaque, int section) {
        compute_t *c = opaque;
        const char *name = c->set->sections[section].name;
        sched_sha256_update(&c->sha, name, strlen(name));
}

static void compute_row(void *opaque, int section, const char *k,
                        size_t klen, const char *v, size_t vlen, int bucket) {
        compute_t *c = opaque;
        unsigned char sec = (unsigned char)section;
        hash_row(&c->sha, k, klen, v, vlen);
        sched_sha256_update(&c->buckets[bucket], &sec, 1);
        hash_row(&c->buckets[bucket], k, klen, v, vlen);
        c->out->sections[section].rows++;
}

sched_err_t sched_digest_compute(sched_store_t *store,
                                 const sched_digest_set_t *set,
                                 const char *commands_topic,
                                 const char *status_topic,
                                 sched_digest_t *out) {
        memset(out, 0, sizeof(*out));
        if (set->partition < 0 || set->partition >= set->partition_cnt)
                return SCHED_ERR_INVALID;
        compute_t *c = calloc(1, sizeof(*c));
        sched_snapshot_t *snap = c ? sched_store_snapshot(store) : NULL;
        if (!snap) {
                free(c);
                return SCHED_ERR_NOMEM;
        }
        c->set = set;
        c->out = out;
        sched_sha256_init(&c->sha);
        for (int b = 0; b < SCHED_DIGEST_BUCKETS; b++)
                sched_sha256_init(&c->buckets[b]);
        out->partition = set->partition;
        out->nsections = set->nsections;
        for (int i = 0; i < set->nsections; i++)
                memcpy(out->sections[i].name, set->sections[i].name,
                       SCHED_DIGEST_NAME_MAX);

        walk(store, snap, set, compute_section, compute_row, c);
        out->commands_offset = sched_store_offset_get_snap(
                store, snap, commands_topic, set->partition);
        out->status_offset = sched_store_offset_get_snap(
                store, snap, status_topic, set->partition);
        sched_store_snapshot_release(store, snap);

        unsigned char md[32];
        sched_sha256_final(&c->sha, md);
        hex(out->sha256, md, 32);
        for (int b = 0; b < SCHED_DIGEST_BUCKETS; b++) {
                sched_sha256_final(&c->buckets[b], md);
                hex(out->buckets[b], md, 8);
        }
        free(c);
        return SCHED_ERR_OK;
}

typedef struct list_s {
        const sched_digest_set_t *set;
        int bucket;
        sched_digest_list_fn cb;
        void *opaque;
        int stopped;
} list_t;

static void list_row(void *opaque, int section, const char *k, size_t klen,
                     const char *v, size_t vlen, int bucket) {
        list_t *l = opaque;
        if (bucket != l->bucket || l->stopped)
                return;
        sched_sha256_t sha;
        unsigned char md[32];
        char vh[SCHED_DIGEST_SHORT_MAX];
        sched_sha256_init(&sha);
        sched_sha256_update(&sha, v, vlen);
        sched_sha256_final(&sha, md);
        hex(vh, md, 8);
        l->stopped = l->cb(l->opaque, l->set->sections[section].name, k, klen,
                           vh);
}

sched_err_t sched_digest_bucket(sched_store_t *store,
                                const sched_digest_set_t *set, int bucket,
                                sched_digest_list_fn cb, void *opaque) {
        if (bucket < 0 || bucket >= SCHED_DIGEST_BUCKETS ||
            set->partition < 0 || set->partition >= set->partition_cnt)
                return SCHED_ERR_INVALID;
        sched_snapshot_t *snap = sched_store_snapshot(store);
        if (!snap)
                return SCHED_ERR_NOMEM;
        list_t l = {set, bucket, cb, opaque, 0};
        walk(store, snap, set, NULL, list_row, &l);
        sched_store_snapshot_release(store, snap);
        return SCHED_ERR_OK;
}

/* --- JSON ------------------------------------------------------------------ */

char *sched_digest_json(const sched_digest_t *d) {
        json_t *o = json_object(), *rows = json_object(), *b = json_array();
        char *text = NULL;
        if (!o || !rows || !b)
                goto out;
        for (int i = 0; i < d->nsections; i++)
                json_object_set_new(rows, d->sections[i].name,
                                    json_integer((json_int_t)d->sections[i]
                                                         .rows));
        for (int i = 0; i < SCHED_DIGEST_BUCKETS; i++)
                json_array_append_new(b, json_string(d->buckets[i]));
        json_object_set_new(o, "partition", json_integer(d->partition));
        json_object_set_new(o, "commands_offset",
                            json_integer(d->commands_offset));
        json_object_set_new(o, "status_offset",
                            json_integer(d->status_offset));
        json_object_set_new(o, "sha256", json_string(d->sha256));
        json_object_set(o, "rows", rows);
        json_object_set(o, "buckets", b);
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
        json_decref(o);
        json_decref(rows);
        json_decref(b);
        return text;
}

static int list_json_row(void *opaque, const char *section, const char *key,
                         size_t klen, const char *value_hash) {
        json_t *rows = opaque;
        char *kx = malloc(2 * klen + 1);
        json_t *row = json_array();
        if (!kx || !row) {
                free(kx);
                json_decref(row);
                return -1;
        }
        hex(kx, (const unsigned char *)key, klen);
        kx[2 * klen] = '\0';
        json_array_append_new(row, json_string(section));
        json_array_append_new(row, json_string(kx));
        json_array_append_new(row, json_string(value_hash));
        free(kx);
        return json_array_append_new(rows, row);
}

sched_err_t sched_digest_bucket_json(sched_store_t *store,
                                     const sched_digest_set_t *set,
                                     int bucket, char **jsonp) {
        *jsonp = NULL;
        json_t *rows = json_array();
        if (!rows)
                return SCHED_ERR_NOMEM;
        sched_err_t err = sched_digest_bucket(store, set, bucket,
                                              list_json_row, rows);
        json_t *o = err ? NULL : json_object();
        if (o) {
                json_object_set_new(o, "partition",
                                    json_integer(set->partition));
                json_object_set_new(o, "bucket", json_integer(bucket));
                json_object_set(o, "rows", rows);
                *jsonp = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(o);
        }
        json_decref(rows);
        if (err)
                return err;
        return *jsonp ? SCHED_ERR_OK : SCHED_ERR_NOMEM;
}

static bool hex_ok(const char *s, size_t len) {
        return s && strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

sched_err_t sched_digest_from_json(const struct json_t *o,
                                   sched_digest_t *out) {
        memset(out, 0, sizeof(*out));
        json_t *jo = (json_t *)o; /* jansson's getters take no const */
        const char *sha = json_string_value(json_object_get(jo, "sha256"));
        json_t *rows = json_object_get(jo, "rows");
        json_t *b = json_object_get(jo, "buckets");
        json_t *p = json_object_get(jo, "partition");
        json_t *co = json_object_get(jo, "commands_offset");
        json_t *so = json_object_get(jo, "status_offset");
        if (!hex_ok(sha, 64) || !json_is_object(rows) ||
            json_object_size(rows) > SCHED_DIGEST_SECTIONS_MAX ||
            json_array_size(b) != SCHED_DIGEST_BUCKETS ||
            !json_is_integer(p) || !json_is_integer(co) ||
            !json_is_integer(so))
                return SCHED_ERR_INVALID;
        out->partition = (int32_t)json_integer_value(p);
        out->commands_offset = json_integer_value(co);
        out->status_offset = json_integer_value(so);
        memcpy(out->sha256, sha, 65);
        const char *name;
        json_t *n;
        json_object_foreach(rows, name, n) {
                if (!json_is_integer(n) || strlen(name) >= SCHED_DIGEST_NAME_MAX)
                        return SCHED_ERR_INVALID;
                snprintf(out->sections[out->nsections].name,
                         SCHED_DIGEST_NAME_MAX, "%s", name);
                out->sections[out->nsections++].rows =
                        (uint64_t)json_integer_value(n);
        }
        for (int i = 0; i < SCHED_DIGEST_BUCKETS; i++) {
                const char *h = json_string_value(json_array_get(b, (size_t)i));
                if (!hex_ok(h, SCHED_DIGEST_SHORT_MAX - 1))
                        return SCHED_ERR_INVALID;
                memcpy(out->buckets[i], h, SCHED_DIGEST_SHORT_MAX);
        }
        return SCHED_ERR_OK;
}
