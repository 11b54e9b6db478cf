/*
 * cmd_rebuild.c — `klokctl rebuild --partition N [--verify]
 * [--timer-admin URL]`: replay one partition of the commands and status
 * topics from their beginning into a scratch RocksDB store, through the
 * function the timer service applies its records with
 * (sched_timer_apply_record), and print the digest of the state it builds
 * (sched_timer_digest).
 *
 * With --verify the replay stops at the offsets of the live timer's digest
 * (GET <timer-admin>/digest?partition=N: the state of the log prefixes
 * before those offsets) and the two digests are compared: exit 0 when they
 * agree, 1 when they differ (with the row counts of both sides).  Without
 * it, the replay runs to the end each topic has now.
 *
 * The scratch store lives in a temporary directory removed at the end.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/kafka.h"
#include "sched/store.h"
#include "sched/time.h"
#include "sched/timer_state.h"

#define REBUILD_BATCH 2000          /* records per store write */
#define REBUILD_IDLE_MS 30000       /* no progress for this long: give up */
#define DIGEST_BODY_MAX (64 * 1024) /* the admin's answer, bounded */

typedef struct body_s {
        char buf[DIGEST_BODY_MAX];
        size_t len;
} body_t;

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
        body_t *b = opaque;
        size_t len = size * n;
        if (len > sizeof(b->buf) - 1 - b->len)
                return 0; /* too large: the transfer fails */
        memcpy(b->buf + b->len, p, len);
        b->len += len;
        return len;
}

/* The live timer's digest of partition; 0 or a CTL_* code (reported). */
static int live_digest(const char *admin, int32_t partition,
                       sched_timer_digest_t *d) {
        char url[1024];
        snprintf(url, sizeof(url), "%s/digest?partition=%d", admin,
                 (int)partition);
        static body_t body;
        body.len = 0;
        long status = 0;
        CURL *curl = curl_easy_init();
        if (!curl)
                return ctl_fail(CTL_USAGE, "libcurl: cannot start");
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
        CURLcode cc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        if (cc)
                return ctl_fail(CTL_USAGE, "timer admin %s: %s", url,
                                curl_easy_strerror(cc));
        body.buf[body.len] = '\0';
        if (status != 200)
                return ctl_fail(CTL_FOUND_PROBLEM, "timer admin %s: HTTP %ld %s",
                                url, status, body.buf);
        json_t *o = json_loads(body.buf, 0, NULL);
        const char *sha = json_string_value(json_object_get(o, "sha256"));
        if (!sha || strlen(sha) != 64) {
                json_decref(o);
                return ctl_fail(CTL_FOUND_PROBLEM,
                                "timer admin %s: not a digest: %.200s", url,
                                body.buf);
        }
        memset(d, 0, sizeof(*d));
        d->partition = partition;
        d->commands_offset =
                json_integer_value(json_object_get(o, "commands_offset"));
        d->status_offset =
                json_integer_value(json_object_get(o, "status_offset"));
        d->jobs = (uint64_t)json_integer_value(json_object_get(o, "jobs"));
        d->due = (uint64_t)json_integer_value(json_object_get(o, "due"));
        d->orphans =
                (uint64_t)json_integer_value(json_object_get(o, "orphans"));
        memcpy(d->sha256, sha, 65);
        json_decref(o);
        return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
        (void)sb, (void)flag, (void)ftw;
        return remove(path);
}

/* The replay: one partition of both topics up to end[] (next offsets). */
typedef struct replay_s {
        const ctl_t *ctl;
        int32_t partition, nparts;
        char topics[2][SCHED_TOPIC_MAX]; /* [0] commands, [1] status */
        int64_t end[2];
        bool done[2];
        uint64_t records, applied, dead, not_applied;
        sched_store_t *store;
        sched_codec_t *codec;
} replay_t;

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

static int replay_run(replay_t *r, char *errstr, size_t errstr_size) {
        char group[64];
        snprintf(group, sizeof(group), "klokctl-rebuild-%d-%lld", (int)getpid(),
                 (long long)sched_now_ms());
        const char *extra[] = {"enable.partition.eof", "true", NULL};
        rd_kafka_conf_t *conf = sched_kafka_conf(r->ctl->bootstrap, "klokctl",
                                                 extra, errstr, errstr_size);
        rd_kafka_t *rk = conf ? sched_kafka_consumer_new(conf, group, NULL,
                                                         errstr, errstr_size)
                              : NULL;
        if (!rk)
                return -1;
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(2);
        for (int i = 0; i < 2; i++)
                if (r->end[i] > 0)
                        rd_kafka_topic_partition_list_add(
                                parts, r->topics[i], r->partition)
                                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);

        sched_batch_t *batch = sched_batch_new();
        int rc = 0, pending = 0;
        int64_t last_progress = sched_mono_ms();
        check_done(r, rk);
        while (!(r->done[0] && r->done[1])) {
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
                                break;
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
                if (m->offset >= r->end[t]) { /* past the digest's prefix */
                        r->done[t] = true;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                sched_event_t ev;
                sched_timer_effect_t eff;
                char why[512];
                memset(&eff, 0, sizeof(eff));
                ev.type = 0;
                sched_rec_result_t res = sched_timer_apply_record(
                        r->store, batch, r->codec, t == 0, m->payload, m->len,
                        m->partition, r->nparts, m->offset, &ev, &eff, why,
                        sizeof(why));
                if (ev.type)
                        sched_event_clear(&ev);
                sched_store_offset_stage(r->store, batch, r->topics[t],
                                         r->partition, m->offset + 1);
                rd_kafka_message_destroy(m);
                r->records++;
                if (res == SCHED_REC_FATAL) {
                        snprintf(errstr, errstr_size, "scratch store: %s",
                                 why);
                        rc = -1;
                        break;
                }
                r->applied += res == SCHED_REC_APPLIED;
                r->dead += res == SCHED_REC_DEAD_LETTER;
                r->not_applied += res == SCHED_REC_NOT_APPLIED;
                if (++pending >= REBUILD_BATCH) {
                        if (sched_store_write(r->store, batch, errstr,
                                              errstr_size)) {
                                rc = -1;
                                break;
                        }
                        pending = 0;
                }
        }
        if (rc == 0 && pending &&
            sched_store_write(r->store, batch, errstr, errstr_size))
                rc = -1;
        sched_batch_destroy(batch);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

static void print_digest(const ctl_t *ctl, const char *what,
                         const sched_timer_digest_t *d) {
        if (ctl->json)
                printf("{\"digest\":\"%s\",\"partition\":%d,"
                       "\"commands_offset\":%lld,\"status_offset\":%lld,"
                       "\"jobs\":%llu,\"due\":%llu,\"orphans\":%llu,"
                       "\"sha256\":\"%s\"}\n",
                       what, (int)d->partition, (long long)d->commands_offset,
                       (long long)d->status_offset,
                       (unsigned long long)d->jobs,
                       (unsigned long long)d->due,
                       (unsigned long long)d->orphans, d->sha256);
        else
                printf("%-8s partition %d  commands < %lld  status < %lld  "
                       "jobs %llu  due %llu  orphans %llu  sha256 %s\n",
                       what, (int)d->partition, (long long)d->commands_offset,
                       (long long)d->status_offset,
                       (unsigned long long)d->jobs,
                       (unsigned long long)d->due,
                       (unsigned long long)d->orphans, d->sha256);
}

int ctl_cmd_rebuild(ctl_t *ctl, int argc, char **argv) {
        bool verify = false;
        long partition = -1;
        const char *admin = getenv("KLOK_TIMER_ADMIN");
        if (!admin)
                admin = "http://127.0.0.1:9081";
        for (int i = 1; i < argc; i++) {
                char *end;
                if (!strcmp(argv[i], "--verify")) {
                        verify = true;
                } else if (!strcmp(argv[i], "--partition") && i + 1 < argc) {
                        partition = strtol(argv[++i], &end, 10);
                        if (*end || partition < 0 || partition > 100000)
                                return ctl_fail(CTL_USAGE,
                                                "--partition: a partition "
                                                "number");
                } else if (!strcmp(argv[i], "--timer-admin") && i + 1 < argc) {
                        admin = argv[++i];
                } else {
                        return ctl_fail(CTL_USAGE,
                                        "rebuild: unknown or incomplete "
                                        "option %s (--partition N [--verify] "
                                        "[--timer-admin URL])",
                                        argv[i]);
                }
        }
        if (partition < 0)
                return ctl_fail(CTL_USAGE, "rebuild: --partition N is needed");

        static replay_t r;
        char errstr[1024];
        r.ctl = ctl;
        r.partition = (int32_t)partition;
        sched_topic(r.topics[0], sizeof(r.topics[0]), ctl->prefix, "commands");
        sched_topic(r.topics[1], sizeof(r.topics[1]), ctl->prefix, "status");

        sched_timer_digest_t live, built;
        if (verify) {
                int rc = live_digest(admin, r.partition, &live);
                if (rc)
                        return rc;
                r.end[0] = live.commands_offset;
                r.end[1] = live.status_offset;
        }
        if (!(r.codec = ctl_codec(ctl)))
                return CTL_USAGE;

        /* The partition count and, without --verify, the ends now. */
        rd_kafka_conf_t *pconf = sched_kafka_conf(ctl->bootstrap, "klokctl",
                                                  NULL, errstr,
                                                  sizeof(errstr));
        rd_kafka_t *meta = pconf ? rd_kafka_new(RD_KAFKA_PRODUCER, pconf,
                                                errstr, sizeof(errstr))
                                 : NULL;
        int rc = CTL_OK;
        if (!meta) {
                rc = ctl_fail(CTL_USAGE, "kafka: %s", errstr);
                goto out_codec;
        }
        r.nparts = sched_kafka_partition_count(meta, r.topics[0], 10000);
        for (int i = 0; !verify && r.nparts > 0 && i < 2; i++) {
                int64_t lo, hi;
                if (rd_kafka_query_watermark_offsets(meta, r.topics[i],
                                                     r.partition, &lo, &hi,
                                                     10000) == 0)
                        r.end[i] = hi;
                else
                        r.nparts = -1;
        }
        rd_kafka_destroy(meta);
        if (r.nparts <= 0 || r.partition >= r.nparts) {
                rc = ctl_fail(CTL_USAGE,
                              "kafka %s: no partition %d of %s (or Kafka is "
                              "unreachable)",
                              ctl->bootstrap, (int)r.partition, r.topics[0]);
                goto out_codec;
        }

        char dir[] = "/tmp/klokctl-rebuild-XXXXXX";
        if (!mkdtemp(dir)) {
                rc = ctl_fail(CTL_USAGE, "cannot make a scratch directory");
                goto out_codec;
        }
        if (!(r.store = sched_store_open(dir, errstr, sizeof(errstr)))) {
                rc = ctl_fail(CTL_USAGE, "scratch store: %s", errstr);
                goto out_dir;
        }
        int64_t t0 = sched_mono_ms();
        if (replay_run(&r, errstr, sizeof(errstr))) {
                rc = ctl_fail(CTL_FOUND_PROBLEM, "replay: %s", errstr);
                goto out_store;
        }
        double secs = (double)(sched_mono_ms() - t0) / 1000.0;
        if (sched_timer_digest(r.store, r.partition, r.nparts, r.topics[0],
                               r.topics[1], &built)) {
                rc = ctl_fail(CTL_FOUND_PROBLEM, "digest of the scratch store "
                                                 "failed");
                goto out_store;
        }
        fprintf(stderr,
                "klokctl: replayed %" PRIu64 " records of partition %d in "
                "%.2f s (%.0f records/s): %" PRIu64 " applied, %" PRIu64
                " dead-lettered by the timer's rules, %" PRIu64
                " refused by the applier\n",
                r.records, (int)r.partition, secs,
                secs > 0 ? (double)r.records / secs : 0.0, r.applied, r.dead,
                r.not_applied);
        print_digest(ctl, "rebuilt", &built);
        if (verify) {
                print_digest(ctl, "live", &live);
                if (strcmp(live.sha256, built.sha256)) {
                        rc = ctl_fail(CTL_FOUND_PROBLEM,
                                      "partition %d: the rebuilt state differs "
                                      "from the live timer's (jobs %llu vs "
                                      "%llu, due %llu vs %llu, orphans %llu vs "
                                      "%llu)",
                                      (int)r.partition,
                                      (unsigned long long)built.jobs,
                                      (unsigned long long)live.jobs,
                                      (unsigned long long)built.due,
                                      (unsigned long long)live.due,
                                      (unsigned long long)built.orphans,
                                      (unsigned long long)live.orphans);
                } else if (!ctl->json) {
                        printf("ok: partition %d rebuilt from Kafka matches "
                               "the live timer\n",
                               (int)r.partition);
                }
        }
out_store:
        sched_store_close(r.store);
out_dir:
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
out_codec:
        sched_codec_destroy(r.codec);
        return rc;
}
