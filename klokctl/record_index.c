/*
 * record_index.c — where one job's records are, from klok-api's status
 * view (GET /v1/jobs/{id}/records, ctl.h: ctl_index_fetch), so history
 * fetches those offsets instead of reading the job's whole partition.
 *
 * The index only narrows where to read: every record is still read from
 * Kafka and checked to be keyed by the job, and the records after the
 * view's positions (not indexed yet) are read as a tail.  An index that
 * cannot be had — no API, another tenant's token, a job the view does not
 * know, a view older than its index — is reported and the caller reads the
 * whole partition instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

#define INDEX_PAGE "10000"          /* records per request (the API's max) */
#define INDEX_RECORDS_MAX 5000000 /* bounded as history holds records */

static int push(ctl_index_t *ix, int t, int64_t offset, size_t *cap) {
        if (ix->cnt[t] == cap[t]) {
                size_t n = cap[t] ? cap[t] * 2 : 256;
                int64_t *o = realloc(ix->offsets[t], n * sizeof(*o));
                if (!o)
                        return -1;
                ix->offsets[t] = o;
                cap[t] = n;
        }
        ix->offsets[t][ix->cnt[t]++] = offset;
        return 0;
}

/* The first page's partition, positions and start of the index; -1 when
 * the index cannot stand for a scan (said why). */
static int page_head(ctl_index_t *ix, const json_t *page) {
        static const char *const names[2] = {"commands", "status"};
        json_t *part = json_object_get(page, "partition");
        json_t *pos = json_object_get(page, "positions");
        json_t *from = json_object_get(page, "indexed_from");
        if (!json_is_integer(part) || !json_is_object(pos)) {
                fprintf(stderr, "klokctl: the API's record index answer "
                                "lacks partition or positions\n");
                return -1;
        }
        ix->partition = (int32_t)json_integer_value(part);
        for (int t = 0; t < 2; t++) {
                json_t *p = json_object_get(pos, names[t]);
                json_t *f = json_object_get(from, names[t]);
                /* No position yet: nothing indexed, all of it is tail. */
                ix->positions[t] = json_is_integer(p) ? json_integer_value(p)
                                                      : 0;
                if (json_is_integer(f) && json_integer_value(f) > 0) {
                        fprintf(stderr,
                                "klokctl: the view indexes %s only from "
                                "offset %" JSON_INTEGER_FORMAT
                                " (it was built before the index)\n",
                                names[t], json_integer_value(f));
                        return -1;
                }
        }
        return 0;
}

/* Take a page's records; -1 out of memory or a malformed record. */
static int page_records(ctl_index_t *ix, const json_t *page, size_t *cap) {
        size_t i;
        json_t *rec;
        json_array_foreach(json_object_get(page, "records"), i, rec) {
                const char *topic =
                        json_string_value(json_object_get(rec, "topic"));
                json_t *p = json_object_get(rec, "partition");
                json_t *o = json_object_get(rec, "offset");
                if (!topic || !json_is_integer(p) || !json_is_integer(o) ||
                    (strcmp(topic, "commands") && strcmp(topic, "status")))
                        return -1;
                if (json_integer_value(p) != ix->partition) {
                        ix->elsewhere++;
                        continue;
                }
                if (ix->cnt[0] + ix->cnt[1] >= INDEX_RECORDS_MAX ||
                    push(ix, strcmp(topic, "commands") ? 1 : 0,
                         json_integer_value(o), cap))
                        return -1;
        }
        return 0;
}

int ctl_index_fetch(const ctl_t *ctl, const char *job_id, ctl_index_t *ix) {
        memset(ix, 0, sizeof(*ix));
        ctl_http_t h;
        if (ctl_http_open(&h, ctl))
                return -1;
        char cursor[256] = "";
        size_t cap[2] = {0, 0};
        int rc = 0;
        bool first = true;
        do {
                char q[CTL_QUERY_MAX] = "";
                char path[CTL_PATH_MAX + CTL_QUERY_MAX];
                json_t *page = NULL;
                char *id = curl_easy_escape(h.curl, job_id, 0);
                if (!id || !ctl_http_query_add(&h, q, "limit", INDEX_PAGE) ||
                    (cursor[0] &&
                     !ctl_http_query_add(&h, q, "cursor", cursor))) {
                        curl_free(id);
                        rc = -1;
                        break;
                }
                snprintf(path, sizeof(path), "/v1/jobs/%s/records%s", id, q);
                curl_free(id);
                if (ctl_http_call(&h, "GET", path, NULL, 0, NULL, &page)) {
                        rc = -1;
                        break;
                }
                if (first && page_head(ix, page)) {
                        json_decref(page);
                        rc = -1;
                        break;
                }
                if (page_records(ix, page, cap)) {
                        fprintf(stderr, "klokctl: the API's record index "
                                        "answer is malformed or too large\n");
                        json_decref(page);
                        rc = -1;
                        break;
                }
                first = false;
                const char *next = json_string_value(
                        json_object_get(page, "next_cursor"));
                snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
                json_decref(page);
        } while (cursor[0]);
        ctl_http_close(&h);
        if (rc)
                ctl_index_free(ix);
        return rc;
}

void ctl_index_free(ctl_index_t *ix) {
        for (int t = 0; t < 2; t++) {
                free(ix->offsets[t]);
                ix->offsets[t] = NULL;
                ix->cnt[t] = 0;
        }
}
