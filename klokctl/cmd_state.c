/*
 * cmd_state.c — `klokctl state-as-of`: a job as the status view had it at
 * an instant, rebuilt from the log by the view's own applier.
 *
 *   state-as-of --job ID --at TIME [--scan]
 *
 * The job's records of <p>.commands and <p>.status stamped at or before
 * TIME are read (ctl_log_load(): the ones the view's index lists, or with
 * --scan the whole partition up to TIME), and its records, in
 * the merged order history prints, go through sched_view_apply() — the
 * function the API's viewer calls — into a scratch RocksDB store in a
 * temporary directory, removed at the end.  What is printed is what
 * sched_view_get_job() and sched_view_list_executions() read back: the
 * bytes GET /v1/jobs/{id} and .../executions would have served once the
 * view had applied the same records.  The tenant is the CreateJob's.
 *
 * A record the view would have dead-lettered (undecodable; no tenant or
 * job id) is left out here as it is there.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "sched/codec.h"
#include "sched/event.h"
#include "sched/store.h"
#include "sched/time.h"
#include "sched/view.h"

#define APPLY_BATCH 1000 /* records per RocksDB write */
#define EXEC_PAGE 500

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
        return remove(path);
}

/* Remove the scratch directory and everything in it. */
static void scratch_remove(const char *dir) {
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
                fprintf(stderr, "klokctl: could not remove %s\n", dir);
}

/* Apply the job's records to a fresh view in store. */
static int replay(sched_store_t *store, const sched_codec_t *codec,
                  const ctl_log_t *log, size_t *appliedp, char *errstr,
                  size_t errstr_size) {
        sched_batch_t *batch = sched_batch_new();
        if (!batch) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        int rc = 0;
        *appliedp = 0;
        for (size_t i = 0; !rc && i < log->cnt; i++) {
                const ctl_rec_t *rec = &log->recs[i];
                if (!rec->ev)
                        continue; /* dead-lettered by the live view too */
                char why[512];
                sched_view_result_t res;
                sched_err_t err = sched_view_apply(store, batch, codec,
                                                   rec->ev, rec->offset, &res,
                                                   why, sizeof(why));
                if (err == SCHED_ERR_INVALID)
                        continue; /* the same */
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "applying %s %" PRId32 ":%" PRId64 ": %s",
                                 rec->status_topic ? "status" : "commands",
                                 rec->partition, rec->offset, why);
                        rc = -1;
                        break;
                }
                *appliedp += res == SCHED_VIEW_APPLIED;
                if (sched_batch_count(batch) >= APPLY_BATCH &&
                    sched_store_write(store, batch, errstr, errstr_size))
                        rc = -1;
        }
        if (!rc && sched_store_write(store, batch, errstr, errstr_size))
                rc = -1;
        sched_batch_destroy(batch);
        return rc;
}

/* Every execution of the job, page by page, into one array. */
static json_t *all_executions(sched_store_t *store, const char *tenant,
                              const char *job) {
        json_t *all = json_array();
        char next[SCHED_EXEC_ID_MAX] = "", after[SCHED_EXEC_ID_MAX];
        bool first = true;
        while (all && (first || next[0])) {
                char *text;
                size_t cnt;
                memcpy(after, next, sizeof(after));
                if (sched_view_list_executions(store, tenant, job,
                                               first ? NULL : after, EXEC_PAGE,
                                               &text, &cnt, next)) {
                        json_decref(all);
                        return NULL;
                }
                first = false;
                json_t *page = json_loads(text, 0, NULL);
                free(text);
                if (!page || json_array_extend(all, page)) {
                        json_decref(page);
                        json_decref(all);
                        return NULL;
                }
                json_decref(page);
        }
        return all;
}

static int print_state(const ctl_t *ctl, sched_store_t *store,
                       const char *tenant, const char *job, int64_t at,
                       size_t records, size_t applied) {
        char *doc;
        size_t len;
        char t[SCHED_ISO_MAX];
        sched_time_format(at, t);
        sched_err_t err = sched_view_get_job(store, tenant, job, &doc, &len);
        if (err == SCHED_ERR_NOT_FOUND)
                return ctl_fail(CTL_FOUND_PROBLEM, "no such job at %s: %s", t,
                                job);
        if (err)
                return ctl_fail(CTL_FOUND_PROBLEM, "reading the view: %s",
                                sched_err2str(err));
        json_t *jdoc = json_loadb(doc, len, 0, NULL);
        free(doc);
        json_t *execs = all_executions(store, tenant, job);
        json_t *out = jdoc && execs
                              ? json_pack("{s:s, s:I, s:I, s:I, s:O, s:O}",
                                          "as_of", t, "as_of_ms",
                                          (json_int_t)at, "records",
                                          (json_int_t)records, "applied",
                                          (json_int_t)applied, "job", jdoc,
                                          "executions", execs)
                              : NULL;
        json_decref(jdoc);
        json_decref(execs);
        size_t flags = ctl->json ? JSON_COMPACT | JSON_PRESERVE_ORDER
                                 : JSON_INDENT(2) | JSON_PRESERVE_ORDER;
        char *text = out ? json_dumps(out, flags) : NULL;
        json_decref(out);
        if (!text)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        puts(text);
        free(text);
        return CTL_OK;
}

static int usage(void) {
        return ctl_fail(CTL_USAGE, "usage: state-as-of --job ID --at TIME "
                        "[--scan]");
}

int ctl_cmd_state_as_of(ctl_t *ctl, int argc, char **argv) {
        const char *job = NULL;
        int64_t at = 0;
        bool at_given = false, scan = false;
        for (int i = 1; i < argc; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(o, "--scan")) {
                        scan = true;
                        continue;
                }
                if (!v)
                        return usage();
                if (!strcmp(o, "--job")) {
                        job = v;
                } else if (!strcmp(o, "--at")) {
                        if (!ctl_parse_time(v, &at))
                                return ctl_fail(CTL_USAGE,
                                                "--at: not a time: %s", v);
                        at_given = true;
                } else {
                        return usage();
                }
                i++;
        }
        if (!job || !at_given)
                return usage();
        if (!*job || strlen(job) >= SCHED_ID_MAX)
                return ctl_fail(CTL_USAGE, "--job: empty or too long");
        if (at == INT64_MAX)
                at--; /* the window is [start, at + 1) */

        char errstr[1024], t[SCHED_ISO_MAX];
        sched_time_format(at, t);
        sched_codec_t *codec = ctl_codec(ctl);
        if (!codec)
                return CTL_USAGE;
        ctl_log_t log;
        if (ctl_log_load(ctl, codec, job, NULL, scan, INT64_MIN, at + 1,
                         &log, errstr, sizeof(errstr))) {
                sched_codec_destroy(codec);
                return ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        }
        /* The tenant the job belongs to: its (first) CreateJob's. */
        char tenant[SCHED_TENANT_MAX] = "";
        for (size_t i = 0; !tenant[0] && i < log.cnt; i++)
                if (log.recs[i].ev &&
                    log.recs[i].ev->type == SCHED_EV_CREATE_JOB)
                        memcpy(tenant, log.recs[i].ev->tenant,
                               sizeof(tenant));
        int rc;
        if (!tenant[0]) {
                rc = ctl_fail(CTL_FOUND_PROBLEM,
                              "no such job at %s: no CreateJob of %s on "
                              "partition %d of %s.commands",
                              t, job, (int)log.partition, ctl->prefix);
                goto out;
        }

        char dir[] = "/tmp/klokctl-state-XXXXXX";
        if (!mkdtemp(dir)) {
                rc = ctl_fail(CTL_FOUND_PROBLEM,
                              "cannot make a scratch directory in /tmp");
                goto out;
        }
        sched_store_t *store = sched_store_open(dir, errstr, sizeof(errstr));
        size_t applied = 0;
        if (!store)
                rc = ctl_fail(CTL_FOUND_PROBLEM, "scratch store %s: %s", dir,
                              errstr);
        else if (replay(store, codec, &log, &applied, errstr,
                        sizeof(errstr)))
                rc = ctl_fail(CTL_FOUND_PROBLEM, "%s", errstr);
        else
                rc = print_state(ctl, store, tenant, job, at, log.cnt,
                                 applied);
        if (store)
                sched_store_close(store);
        scratch_remove(dir);
out:
        ctl_log_free(&log);
        sched_codec_destroy(codec);
        return rc;
}
