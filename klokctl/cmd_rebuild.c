/*
 * cmd_rebuild.c — `klokctl rebuild --partition N [--verify]
 * [--timer-admin URL] [--no-view]`: replay one partition of the commands
 * and status topics from their beginning into two scratch RocksDB stores,
 * through the functions the services apply their records with — the
 * timer's (sched_timer_apply_record) and klok-api's view's
 * (sched_view_apply_record) — and print the digests of the states they
 * build (sched/digest.h: sched_timer_digest_set, sched_view_digest_set).
 * Records the services dead-letter are skipped as they skip them (their
 * offsets still count as consumed).
 *
 * With --verify, the live digests come first: the timer's from
 * GET <timer-admin>/digest?partition=N, the view's from klok-api's
 * GET /v1/admin/view-digest?partition=N (--api, --token: the admin
 * scope).  One pass reads each topic's partition up to the larger of the
 * two live offsets, applying a record to the timer's store when it lies
 * before the timer's offset and to the view's when it lies before the
 * view's, so each rebuilt state stands for the same log prefixes as its
 * live one.  Then, per state: equal SHA-256s print "ok"; different ones
 * are narrowed down — the first bucket whose hashes differ is listed on
 * both sides (&bucket=K) and walked to the first differing row, printed
 * with its section, its key (non-printable bytes as \xNN) and whether it
 * is only live, only rebuilt, or has different values (both value
 * hashes).  Exit 0 when every compared state matches, 1 otherwise.
 * --no-view leaves the view out (no klok-api running).  Answers are read
 * through klokctl's HTTP client (api_client.c), bounded at 128 MiB: a
 * bucket listing holds 1/256 of a partition's rows.
 *
 * Without --verify, the replay runs to the end each topic has now.
 * The scratch stores live in a temporary directory removed at the end.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/digest.h"
#include "sched/kafka.h"
#include "sched/store.h"
#include "sched/time.h"
#include "sched/timer_state.h"
#include "sched/view.h"

#define REBUILD_BATCH 2000    /* records per store write */
#define REBUILD_IDLE_MS 30000 /* no progress for this long: give up */

/* One state rebuilt and compared. */
typedef struct state_s {
        const char *name; /* "timer", "view" */
        bool on;
        char route[64];   /* the live digest's path, without its query */
        char base[512];   /* and where it is served ("" = ctl->api) */
        int64_t end[2];   /* records before these are applied */
        char dir[64];
        sched_store_t *store;
        sched_batch_t *batch;
        sched_digest_set_t set;
        sched_digest_t live, built;
        uint64_t applied, dead, not_applied;
} state_t;

enum { TIMER, VIEW, NSTATES };

typedef struct replay_s {
        const ctl_t *ctl;
        int32_t partition, nparts;
        char topics[2][SCHED_TOPIC_MAX]; /* [0] commands, [1] status */
        int64_t end[2];                  /* the larger of the states' */
        bool done[2];
        uint64_t records;
        sched_codec_t *codec;
        state_t st[NSTATES];
} replay_t;

/* --- The live side ---------------------------------------------------------- */

/* GET st's route with query from where st's live state is served. */
static int live_get(const replay_t *r, const state_t *st, const char *query,
                    json_t **answer) {
        ctl_t *c = malloc(sizeof(*c));
        if (!c)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        *c = *r->ctl;
        if (st->base[0]) { /* the timer's admin: no token */
                snprintf(c->api, sizeof(c->api), "%s", st->base);
                c->token[0] = '\0';
        }
        char path[CTL_PATH_MAX];
        snprintf(path, sizeof(path), "%s?partition=%d%s", st->route,
                 (int)r->partition, query);
        ctl_http_t h;
        int rc = ctl_http_open(&h, c);
        if (rc == CTL_OK)
                rc = ctl_http_call(&h, "GET", path, NULL, 0, NULL, answer);
        ctl_http_close(&h);
        free(c);
        return rc;
}

static int live_digest(const replay_t *r, state_t *st) {
        json_t *o = NULL;
        int rc = live_get(r, st, "", &o);
        if (rc)
                return rc;
        if (sched_digest_from_json(o, &st->live) ||
            st->live.partition != r->partition) {
                char *text = json_dumps(o, JSON_COMPACT);
                ctl_fail(CTL_FOUND_PROBLEM, "%s %s: not a digest of "
                         "partition %d: %.200s", st->name, st->route,
                         (int)r->partition, text ? text : "?");
                free(text);
                rc = CTL_FOUND_PROBLEM;
        }
        json_decref(o);
        return rc;
}

/* --- The replay ----------------------------------------------------------- */

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
        (void)sb, (void)flag, (void)ftw;
        return remove(path);
}

/* Whether a topic of the replay has reached its end (by its position, as
 * the last offsets of a transactional topic are commit markers). */
static void check_done(replay_t *r, rd_kafka_t *rk) {
        rd_kafka_topic_partition_list_t *pos =
                rd_kafka_topic_partition_list_new(2);
        for (int i = 0; i < 2; i++)
                rd_kafka_topic_partition_list_add(pos, r->topics[i],
                                                  r->partition);
        rd_kafka_position(rk, pos);
        for (int i = 0; i < 2; i++)
                if (r->end[i] <= 0 || (pos->elems[i].offset >= 0 &&
                                       pos->elems[i].offset >= r->end[i]))
                        r->done[i] = true;
        rd_kafka_topic_partition_list_destroy(pos);
}

/* One record of topic t into the states whose prefix holds it; -1 with
 * errstr when a scratch store cannot take it. */
static int replay_record(replay_t *r, int t, const rd_kafka_message_t *m,
                         char *errstr, size_t errstr_size) {
        char why[512];
        state_t *st = &r->st[TIMER];
        if (st->on && m->offset < st->end[t]) {
                sched_event_t ev;
                sched_timer_effect_t eff;
                memset(&eff, 0, sizeof(eff));
                ev.type = 0;
                sched_rec_result_t res = sched_timer_apply_record(
                        st->store, st->batch, r->codec, t == 0, m->payload,
                        m->len, m->partition, r->nparts, m->offset, &ev, &eff,
                        why, sizeof(why));
                if (ev.type)
                        sched_event_clear(&ev);
                if (res == SCHED_REC_FATAL) {
                        snprintf(errstr, errstr_size, "timer scratch store: "
                                 "%s", why);
                        return -1;
                }
                sched_store_offset_stage(st->store, st->batch, r->topics[t],
                                         r->partition, m->offset + 1);
                st->applied += res == SCHED_REC_APPLIED;
                st->dead += res == SCHED_REC_DEAD_LETTER;
                st->not_applied += res == SCHED_REC_NOT_APPLIED;
        }
        st = &r->st[VIEW];
        if (st->on && m->offset < st->end[t]) {
                sched_view_result_t vres = SCHED_VIEW_IGNORED;
                sched_err_t err = sched_view_apply_record(
                        st->store, st->batch, r->codec, t == 1, r->topics[t],
                        m->key, m->key_len, m->payload, m->len, m->partition,
                        r->nparts, m->offset, &vres, why, sizeof(why));
                if (err == SCHED_ERR_STORE || err == SCHED_ERR_NOMEM) {
                        snprintf(errstr, errstr_size, "view scratch store: "
                                 "%s", why);
                        return -1;
                }
                st->applied += !err && vres == SCHED_VIEW_APPLIED;
                st->not_applied += !err && vres == SCHED_VIEW_IGNORED;
                st->dead += err != SCHED_ERR_OK;
        }
        return 0;
}

static int replay_flush(replay_t *r, char *errstr, size_t errstr_size) {
        for (int s = 0; s < NSTATES; s++)
                if (r->st[s].on && sched_store_write(r->st[s].store,
                                                     r->st[s].batch, errstr,
                                                     errstr_size))
                        return -1;
        return 0;
}

/*
 * The two topics' records, each in offset order, merged by record
 * timestamp (commands first at the same millisecond): the order a caught-up
 * service applied them in, as near as the log can tell.  The view's state
 * can depend on the order between the topics (a cancel before or after an
 * execution's result), so reading them as fetched would not replay what
 * the live view saw.  Each topic is buffered up to QUEUE_MAX records and
 * paused while full.
 */
#define QUEUE_MAX 20000

typedef struct queue_s {
        rd_kafka_message_t **m;
        size_t head, cnt;
        bool paused;
} queue_t;

static void queue_pause(rd_kafka_t *rk, const replay_t *r, int t, queue_t *q,
                        bool pause) {
        if (q->paused == pause)
                return;
        rd_kafka_topic_partition_list_t *one =
                rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(one, r->topics[t], r->partition);
        if (pause)
                rd_kafka_pause_partitions(rk, one);
        else
                rd_kafka_resume_partitions(rk, one);
        rd_kafka_topic_partition_list_destroy(one);
        q->paused = pause;
}

/* Apply the records whose turn has come: a head goes when the other topic
 * has a later head or will have none.  0, or -1 with errstr. */
static int replay_drain(replay_t *r, rd_kafka_t *rk, queue_t q[2],
                        int *pending, char *errstr, size_t errstr_size) {
        for (;;) {
                int t;
                if (q[0].cnt && q[1].cnt)
                        t = rd_kafka_message_timestamp(q[1].m[q[1].head],
                                                       NULL) <
                                            rd_kafka_message_timestamp(
                                                    q[0].m[q[0].head], NULL)
                                    ? 1
                                    : 0;
                else if (q[0].cnt && r->done[1])
                        t = 0;
                else if (q[1].cnt && r->done[0])
                        t = 1;
                else
                        return 0;
                rd_kafka_message_t *m = q[t].m[q[t].head];
                q[t].head = (q[t].head + 1) % QUEUE_MAX;
                q[t].cnt--;
                if (q[t].cnt < QUEUE_MAX / 2)
                        queue_pause(rk, r, t, &q[t], false);
                int rc = replay_record(r, t, m, errstr, errstr_size);
                rd_kafka_message_destroy(m);
                r->records++;
                if (rc)
                        return -1;
                if (++*pending >= REBUILD_BATCH) {
                        if (replay_flush(r, errstr, errstr_size))
                                return -1;
                        *pending = 0;
                }
        }
}

static int replay_run(replay_t *r, char *errstr, size_t errstr_size) {
        char group[64];
        snprintf(group, sizeof(group), "klokctl-rebuild-%d-%lld", (int)getpid(),
                 (long long)sched_now_ms());
        const char *extra[] = {"enable.partition.eof", "true", NULL};
        queue_t q[2] = {{calloc(QUEUE_MAX, sizeof(void *)), 0, 0, false},
                        {calloc(QUEUE_MAX, sizeof(void *)), 0, 0, false}};
        rd_kafka_conf_t *conf = q[0].m && q[1].m
                ? sched_kafka_conf(r->ctl->bootstrap, "klokctl", extra, errstr,
                                   errstr_size)
                : NULL;
        rd_kafka_t *rk = conf ? sched_kafka_consumer_new(conf, group, NULL,
                                                         errstr, errstr_size)
                              : NULL;
        if (!rk) {
                if (!q[0].m || !q[1].m)
                        snprintf(errstr, errstr_size, "out of memory");
                free(q[0].m);
                free(q[1].m);
                return -1;
        }
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(2);
        for (int i = 0; i < 2; i++)
                if (r->end[i] > 0)
                        rd_kafka_topic_partition_list_add(
                                parts, r->topics[i], r->partition)
                                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);

        int rc = 0, pending = 0;
        int64_t last_progress = sched_mono_ms();
        check_done(r, rk);
        while (!rc && !(r->done[0] && r->done[1] && !q[0].cnt && !q[1].cnt)) {
                rc = replay_drain(r, rk, q, &pending, errstr, errstr_size);
                if (rc || (r->done[0] && r->done[1]))
                        continue;
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                if (!m) {
                        check_done(r, rk);
                        if (sched_mono_ms() - last_progress > REBUILD_IDLE_MS) {
                                snprintf(errstr, errstr_size,
                                         "no record for %d s before the "
                                         "offsets %lld / %lld were reached",
                                         REBUILD_IDLE_MS / 1000,
                                         (long long)r->end[0],
                                         (long long)r->end[1]);
                                rc = -1;
                        }
                        continue;
                }
                last_progress = sched_mono_ms();
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "klokctl: kafka: %s\n",
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        check_done(r, rk);
                        continue;
                }
                int t = strcmp(rd_kafka_topic_name(m->rkt), r->topics[0]) ? 1
                                                                          : 0;
                if (m->offset >= r->end[t] || r->done[t]) {
                        /* past the digests' prefix */
                        r->done[t] = true;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                q[t].m[(q[t].head + q[t].cnt) % QUEUE_MAX] = m;
                if (++q[t].cnt == QUEUE_MAX)
                        queue_pause(rk, r, t, &q[t], true);
                /* Its last record reached: nothing more of t will come. */
                if (m->offset + 1 >= r->end[t])
                        r->done[t] = true;
        }
        if (rc == 0 && pending)
                rc = replay_flush(r, errstr, errstr_size);
        for (int t = 0; t < 2; t++) {
                for (; q[t].cnt; q[t].cnt--, q[t].head = (q[t].head + 1) %
                                                         QUEUE_MAX)
                        rd_kafka_message_destroy(q[t].m[q[t].head]);
                free(q[t].m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

/* --- Output ---------------------------------------------------------------- */

static void print_digest(const ctl_t *ctl, const state_t *st,
                         const char *what, const sched_digest_t *d) {
        if (ctl->json) {
                json_t *o = json_object(), *rows = json_object();
                for (int i = 0; rows && i < d->nsections; i++)
                        json_object_set_new(rows, d->sections[i].name,
                                            json_integer((json_int_t)d
                                                                 ->sections[i]
                                                                 .rows));
                json_object_set_new(o, "digest", json_string(what));
                json_object_set_new(o, "state", json_string(st->name));
                json_object_set_new(o, "partition",
                                    json_integer(d->partition));
                json_object_set_new(o, "commands_offset",
                                    json_integer(d->commands_offset));
                json_object_set_new(o, "status_offset",
                                    json_integer(d->status_offset));
                json_object_set_new(o, "rows", rows);
                json_object_set_new(o, "sha256", json_string(d->sha256));
                ctl_put_json(o);
                return;
        }
        printf("%-7s %-5s partition %d  commands < %lld  status < %lld ", what,
               st->name, (int)d->partition, (long long)d->commands_offset,
               (long long)d->status_offset);
        for (int i = 0; i < d->nsections; i++)
                printf(" %s %llu", d->sections[i].name,
                       (unsigned long long)d->sections[i].rows);
        printf("  sha256 %s\n", d->sha256);
}

/* A key for people: printable ASCII as it is, other bytes (and the
 * backslash) as \xNN.  malloc'd; NULL when out of memory. */
static char *key_printable(const unsigned char *k, size_t klen) {
        char *out = malloc(4 * klen + 1), *p = out;
        for (size_t i = 0; out && i < klen; i++) {
                if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
                        *p++ = (char)k[i];
                else
                        p += sprintf(p, "\\x%02x", k[i]);
        }
        if (out)
                *p = '\0';
        return out;
}

/* --- The first differing row --------------------------------------------- */

/* A row of a bucket listing, as both sides give it. */
typedef struct row_s {
        int section; /* index in the state's set; nsections: unknown */
        char *key_hex;
        char value[SCHED_DIGEST_SHORT_MAX];
} row_t;

typedef struct rows_s {
        const sched_digest_set_t *set;
        row_t *v;
        size_t cnt, cap;
        bool nomem;
} rows_t;

static int section_index(const sched_digest_set_t *set, const char *name) {
        int i = 0;
        while (i < set->nsections && strcmp(set->sections[i].name, name))
                i++;
        return i;
}

static int rows_add(rows_t *rs, const char *section, const char *key_hex,
                    const char *value) {
        if (rs->cnt == rs->cap) {
                size_t cap = rs->cap ? 2 * rs->cap : 256;
                row_t *v = realloc(rs->v, cap * sizeof(*v));
                if (!v)
                        return (rs->nomem = true), -1;
                rs->v = v;
                rs->cap = cap;
        }
        row_t *row = &rs->v[rs->cnt];
        row->section = section_index(rs->set, section);
        snprintf(row->value, sizeof(row->value), "%s", value);
        if (!(row->key_hex = strdup(key_hex)))
                return (rs->nomem = true), -1;
        rs->cnt++;
        return 0;
}

static int rows_add_local(void *opaque, const char *section, const char *key,
                          size_t klen, const char *value_hash) {
        char *kx = malloc(2 * klen + 1);
        if (!kx)
                return (((rows_t *)opaque)->nomem = true), -1;
        for (size_t i = 0; i < klen; i++)
                snprintf(kx + 2 * i, 3, "%02x", (unsigned char)key[i]);
        kx[2 * klen] = '\0';
        int rc = rows_add(opaque, section, kx, value_hash);
        free(kx);
        return rc;
}

static void rows_free(rows_t *rs) {
        for (size_t i = 0; i < rs->cnt; i++)
                free(rs->v[i].key_hex);
        free(rs->v);
}

/* The live listing of bucket b into rs; 0 or a CTL_* code (said). */
static int live_rows(const replay_t *r, const state_t *st, int b,
                     rows_t *rs) {
        char query[32];
        snprintf(query, sizeof(query), "&bucket=%d", b);
        json_t *o = NULL;
        int rc = live_get(r, st, query, &o);
        if (rc)
                return rc;
        json_t *list = json_object_get(o, "rows"), *row;
        size_t i;
        if (!json_is_array(list))
                rc = ctl_fail(CTL_FOUND_PROBLEM,
                              "%s: bucket %d: not a listing", st->name, b);
        json_array_foreach(list, i, row) {
                const char *sec = json_string_value(json_array_get(row, 0));
                const char *kx = json_string_value(json_array_get(row, 1));
                const char *vh = json_string_value(json_array_get(row, 2));
                if (rc)
                        break;
                if (!sec || !kx || !vh || strlen(kx) % 2 ||
                    strspn(kx, "0123456789abcdef") != strlen(kx))
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "%s: bucket %d: row %zu is not "
                                      "[section, hex key, value hash]",
                                      st->name, b, i);
                else if (rows_add(rs, sec, kx, vh))
                        rc = ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        }
        json_decref(o);
        return rc;
}

/* Walk order: section, then key bytes (lower-case hex keeps their order). */
static int row_cmp(const row_t *a, const row_t *b) {
        if (a->section != b->section)
                return a->section < b->section ? -1 : 1;
        return strcmp(a->key_hex, b->key_hex);
}

static void print_difference(const ctl_t *ctl, const state_t *st, int b,
                             const row_t *row, const char *what,
                             const char *live_value,
                             const char *built_value) {
        size_t klen = strlen(row->key_hex) / 2;
        unsigned char *k = malloc(klen + 1);
        for (size_t i = 0; k && i < klen; i++) {
                unsigned int byte;
                sscanf(row->key_hex + 2 * i, "%2x", &byte);
                k[i] = (unsigned char)byte;
        }
        char *shown = k ? key_printable(k, klen) : NULL;
        const char *section = row->section < st->set.nsections
                                      ? st->set.sections[row->section].name
                                      : "?";
        if (ctl->json) {
                json_t *o = json_object();
                json_object_set_new(o, "mismatch", json_string(st->name));
                json_object_set_new(o, "partition",
                                    json_integer(st->set.partition));
                json_object_set_new(o, "bucket", json_integer(b));
                json_object_set_new(o, "section", json_string(section));
                json_object_set_new(o, "key", json_string(shown ? shown
                                                                : "?"));
                json_object_set_new(o, "key_hex", json_string(row->key_hex));
                json_object_set_new(o, "difference", json_string(what));
                json_object_set_new(o, "live_value",
                                    live_value ? json_string(live_value)
                                               : json_null());
                json_object_set_new(o, "rebuilt_value",
                                    built_value ? json_string(built_value)
                                                : json_null());
                ctl_put_json(o);
        }
        ctl_fail(CTL_FOUND_PROBLEM,
                 "partition %d: the rebuilt %s state differs from the live "
                 "one; first differing row (bucket %d): %s key \"%s\": %s "
                 "(value sha256 live %s, rebuilt %s)",
                 (int)st->set.partition, st->name, b, section,
                 shown ? shown : "?", what, live_value ? live_value : "-",
                 built_value ? built_value : "-");
        free(shown);
        free(k);
}

/* st's digests differ: find and print the first differing row. */
static void explain(const replay_t *r, const state_t *st) {
        int b = 0;
        while (b < SCHED_DIGEST_BUCKETS &&
               !strcmp(st->live.buckets[b], st->built.buckets[b]))
                b++;
        if (b == SCHED_DIGEST_BUCKETS) {
                ctl_fail(CTL_FOUND_PROBLEM,
                         "partition %d: the rebuilt %s state differs from "
                         "the live one, yet every bucket agrees (section "
                         "names differ?)",
                         (int)r->partition, st->name);
                return;
        }
        rows_t live = {&st->set, NULL, 0, 0, false};
        rows_t built = {&st->set, NULL, 0, 0, false};
        if (live_rows(r, st, b, &live))
                goto out;
        if (sched_digest_bucket(st->store, &st->set, b, rows_add_local,
                                &built) ||
            built.nomem) {
                ctl_fail(CTL_FOUND_PROBLEM, "listing bucket %d of the "
                         "rebuilt %s state failed", b, st->name);
                goto out;
        }
        size_t i = 0, j = 0;
        while (i < live.cnt || j < built.cnt) {
                const row_t *lr = i < live.cnt ? &live.v[i] : NULL;
                const row_t *br = j < built.cnt ? &built.v[j] : NULL;
                int c = !lr ? 1 : !br ? -1 : row_cmp(lr, br);
                if (c < 0) {
                        print_difference(r->ctl, st, b, lr, "only live",
                                         lr->value, NULL);
                        goto out;
                }
                if (c > 0) {
                        print_difference(r->ctl, st, b, br, "only rebuilt",
                                         NULL, br->value);
                        goto out;
                }
                if (strcmp(lr->value, br->value)) {
                        print_difference(r->ctl, st, b, lr, "values differ",
                                         lr->value, br->value);
                        goto out;
                }
                i++, j++;
        }
        ctl_fail(CTL_FOUND_PROBLEM,
                 "partition %d: bucket %d of the %s state differs, yet its "
                 "listings (%zu rows) agree: the live state moved between "
                 "the digest and the listing?",
                 (int)r->partition, b, st->name, live.cnt);
out:
        rows_free(&live);
        rows_free(&built);
}

/* --- The command ----------------------------------------------------------- */

/* The partition count and, without --verify, the ends now; 0 or a CTL_*
 * code (said). */
static int kafka_ends(replay_t *r, bool verify) {
        char errstr[512];
        rd_kafka_conf_t *pconf = sched_kafka_conf(r->ctl->bootstrap, "klokctl",
                                                  NULL, errstr,
                                                  sizeof(errstr));
        rd_kafka_t *meta = pconf ? rd_kafka_new(RD_KAFKA_PRODUCER, pconf,
                                                errstr, sizeof(errstr))
                                 : NULL;
        if (!meta)
                return ctl_fail(CTL_USAGE, "kafka: %s", errstr);
        r->nparts = sched_kafka_partition_count(meta, r->topics[0], 10000);
        for (int i = 0; !verify && r->nparts > 0 && i < 2; i++) {
                int64_t lo, hi;
                if (rd_kafka_query_watermark_offsets(meta, r->topics[i],
                                                     r->partition, &lo, &hi,
                                                     10000) == 0)
                        r->st[TIMER].end[i] = r->st[VIEW].end[i] = hi;
                else
                        r->nparts = -1;
        }
        rd_kafka_destroy(meta);
        if (r->nparts <= 0 || r->partition >= r->nparts)
                return ctl_fail(CTL_USAGE,
                                "kafka %s: no partition %d of %s (or Kafka is "
                                "unreachable)",
                                r->ctl->bootstrap, (int)r->partition,
                                r->topics[0]);
        return CTL_OK;
}

static int open_states(replay_t *r, const char *dir) {
        char errstr[512];
        for (int s = 0; s < NSTATES; s++) {
                state_t *st = &r->st[s];
                if (!st->on)
                        continue;
                snprintf(st->dir, sizeof(st->dir), "%s/%s", dir, st->name);
                if (!(st->store = sched_store_open(st->dir, errstr,
                                                   sizeof(errstr))))
                        return ctl_fail(CTL_USAGE, "scratch store: %s",
                                        errstr);
                st->batch = sched_batch_new();
                if (s == TIMER)
                        sched_timer_digest_set(&st->set, r->partition,
                                               r->nparts);
                else
                        sched_view_digest_set(&st->set, r->partition,
                                              r->nparts);
        }
        for (int i = 0; i < 2; i++)
                for (int s = 0; s < NSTATES; s++)
                        if (r->st[s].on && r->st[s].end[i] > r->end[i])
                                r->end[i] = r->st[s].end[i];
        return CTL_OK;
}

static void close_states(replay_t *r) {
        for (int s = 0; s < NSTATES; s++) {
                sched_batch_destroy(r->st[s].batch);
                sched_store_close(r->st[s].store);
        }
}

/* Digest, print and (with verify) compare each state; the exit code. */
static int report(replay_t *r, bool verify, double secs) {
        const ctl_t *ctl = r->ctl;
        int rc = CTL_OK;
        fprintf(stderr,
                "klokctl: replayed %" PRIu64 " records of partition %d in "
                "%.2f s (%.0f records/s)\n",
                r->records, (int)r->partition, secs,
                secs > 0 ? (double)r->records / secs : 0.0);
        for (int s = 0; s < NSTATES; s++) {
                state_t *st = &r->st[s];
                if (!st->on)
                        continue;
                fprintf(stderr,
                        "klokctl: %s: %" PRIu64 " applied, %" PRIu64
                        " dead-lettered by its rules, %" PRIu64
                        " refused or ignored by its applier\n",
                        st->name, st->applied, st->dead, st->not_applied);
                if (sched_digest_compute(st->store, &st->set, r->topics[0],
                                         r->topics[1], &st->built))
                        return ctl_fail(CTL_FOUND_PROBLEM, "digest of the "
                                        "%s scratch store failed", st->name);
                print_digest(ctl, st, "rebuilt", &st->built);
                if (!verify)
                        continue;
                print_digest(ctl, st, "live", &st->live);
                if (strcmp(st->live.sha256, st->built.sha256)) {
                        explain(r, st);
                        rc = CTL_FOUND_PROBLEM;
                } else if (!ctl->json) {
                        printf("ok: partition %d rebuilt from Kafka matches "
                               "the live %s\n",
                               (int)r->partition, st->name);
                }
        }
        if (verify && !ctl->json)
                printf("compared: timer%s\n", r->st[VIEW].on
                                                      ? ", view"
                                                      : " (view skipped: "
                                                        "--no-view)");
        return rc;
}

int ctl_cmd_rebuild(ctl_t *ctl, int argc, char **argv) {
        static replay_t r;
        bool verify = false;
        long partition = -1;
        const char *admin = getenv("KLOK_TIMER_ADMIN");
        memset(&r, 0, sizeof(r));
        r.st[TIMER] = (state_t){.name = "timer", .on = true,
                                .route = "/digest"};
        r.st[VIEW] = (state_t){.name = "view", .on = true,
                               .route = "/v1/admin/view-digest"};
        snprintf(r.st[TIMER].base, sizeof(r.st[TIMER].base), "%s",
                 admin ? admin : "http://127.0.0.1:9081");
        for (int i = 1; i < argc; i++) {
                char *end;
                if (!strcmp(argv[i], "--verify")) {
                        verify = true;
                } else if (!strcmp(argv[i], "--no-view")) {
                        r.st[VIEW].on = false;
                } else if (!strcmp(argv[i], "--partition") && i + 1 < argc) {
                        partition = strtol(argv[++i], &end, 10);
                        if (*end || partition < 0 || partition > 100000)
                                return ctl_fail(CTL_USAGE,
                                                "--partition: a partition "
                                                "number");
                } else if (!strcmp(argv[i], "--timer-admin") && i + 1 < argc) {
                        snprintf(r.st[TIMER].base, sizeof(r.st[TIMER].base),
                                 "%s", argv[++i]);
                } else {
                        return ctl_fail(CTL_USAGE,
                                        "rebuild: unknown or incomplete "
                                        "option %s (--partition N [--verify] "
                                        "[--timer-admin URL] [--no-view])",
                                        argv[i]);
                }
        }
        if (partition < 0)
                return ctl_fail(CTL_USAGE, "rebuild: --partition N is needed");

        char errstr[1024];
        r.ctl = ctl;
        r.partition = (int32_t)partition;
        sched_topic(r.topics[0], sizeof(r.topics[0]), ctl->prefix, "commands");
        sched_topic(r.topics[1], sizeof(r.topics[1]), ctl->prefix, "status");
        for (int s = 0; verify && s < NSTATES; s++) {
                state_t *st = &r.st[s];
                int rc = st->on ? live_digest(&r, st) : CTL_OK;
                if (rc && s == VIEW)
                        fprintf(stderr, "klokctl: (the view's digest comes "
                                        "from klok-api at --api; --no-view "
                                        "compares the timer only)\n");
                if (rc)
                        return rc;
                st->end[0] = st->live.commands_offset;
                st->end[1] = st->live.status_offset;
        }
        if (!(r.codec = ctl_codec(ctl)))
                return CTL_USAGE;

        int rc = kafka_ends(&r, verify);
        if (rc)
                goto out_codec;
        char dir[] = "/tmp/klokctl-rebuild-XXXXXX";
        if (!mkdtemp(dir)) {
                rc = ctl_fail(CTL_USAGE, "cannot make a scratch directory");
                goto out_codec;
        }
        if ((rc = open_states(&r, dir)))
                goto out_store;
        int64_t t0 = sched_mono_ms();
        if (replay_run(&r, errstr, sizeof(errstr))) {
                rc = ctl_fail(CTL_FOUND_PROBLEM, "replay: %s", errstr);
                goto out_store;
        }
        rc = report(&r, verify, (double)(sched_mono_ms() - t0) / 1000.0);
out_store:
        close_states(&r);
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
out_codec:
        sched_codec_destroy(r.codec);
        return rc;
}
