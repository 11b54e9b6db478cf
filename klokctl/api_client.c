/*
 * api_client.c — klokctl's client of klok-api's HTTP API (ctl.h:
 * ctl_http_*), shared by the job commands and by history (the job's
 * record offsets).
 *
 * One libcurl easy handle per command, reused across requests (one
 * kept-alive connection); connect timeout 5 s, 30 s per request, no
 * redirects, http and https only.  A request carries
 * "Authorization: Bearer <token>" when a token is set; the token is never
 * printed, nor credentials in the URL.  Answers are read into memory,
 * bounded by ANSWER_MAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl.h"

/* An answer: a page of 1000 jobs with 64 KiB of parameters each fits. */
#define ANSWER_MAX (128 * 1024 * 1024)
#define CONNECT_TIMEOUT_MS 5000L
#define TIMEOUT_MS 30000L


static size_t answer_write(char *p, size_t size, size_t nmemb, void *opaque) {
        ctl_http_t *h = opaque;
        size_t n = size * nmemb;
        if (n > ANSWER_MAX - h->len) {
                h->too_big = true;
                return 0; /* stops the transfer: CURLE_WRITE_ERROR */
        }
        if (h->len + n + 1 > h->cap) {
                size_t cap = h->cap ? h->cap : 16384;
                while (cap < h->len + n + 1)
                        cap *= 2;
                char *b = realloc(h->buf, cap);
                if (!b) {
                        h->nomem = true;
                        return 0;
                }
                h->buf = b;
                h->cap = cap;
        }
        memcpy(h->buf + h->len, p, n);
        h->len += n;
        h->buf[h->len] = '\0';
        return n;
}

int ctl_http_open(ctl_http_t *h, const ctl_t *ctl) {
        memset(h, 0, sizeof(*h));
        h->ctl = ctl;
        if (strncasecmp(ctl->api, "http://", 7) &&
            strncasecmp(ctl->api, "https://", 8))
                return ctl_fail(CTL_USAGE,
                                "--api: expected an http:// or https:// URL, "
                                "got '%s'",
                                ctl->api);
        for (const char *t = ctl->token; *t; t++)
                if ((unsigned char)*t < 0x20 || *t == 0x7f)
                        return ctl_fail(CTL_USAGE,
                                        "the token has control characters");
        /* Credentials in the URL stay out of messages, like the token. */
        const char *host = strstr(ctl->api, "://") + 3;
        const char *at = strchr(host, '@');
        if (at && at < host + strcspn(host, "/?#"))
                snprintf(h->shown, sizeof(h->shown), "%.*s%s",
                         (int)(host - ctl->api), ctl->api, at + 1);
        else
                snprintf(h->shown, sizeof(h->shown), "%s", ctl->api);
        h->base_len = strlen(ctl->api);
        while (h->base_len && ctl->api[h->base_len - 1] == '/')
                h->base_len--;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return ctl_fail(CTL_USAGE, "libcurl cannot start");
        if (!(h->curl = curl_easy_init())) {
                curl_global_cleanup();
                return ctl_fail(CTL_USAGE, "libcurl cannot start");
        }
        return CTL_OK;
}

void ctl_http_close(ctl_http_t *h) {
        if (!h->curl)
                return;
        curl_easy_cleanup(h->curl);
        curl_global_cleanup();
        free(h->buf);
        h->curl = NULL;
}

/* Append line to *list; false (and *list as it was) when out of memory. */
static bool slist_add(struct curl_slist **list, const char *line) {
        struct curl_slist *l = curl_slist_append(*list, line);
        if (!l)
                return false;
        *list = l;
        return true;
}

/* Append "Name: value" to *list; false when out of memory. */
static bool header_add(struct curl_slist **list, const char *name,
                       const char *value) {
        size_t n = strlen(name) + strlen(value) + 3;
        char *line = malloc(n);
        if (!line)
                return false;
        snprintf(line, n, "%s: %s", name, value);
        bool ok = slist_add(list, line);
        free(line);
        return ok;
}

/* Every option of one request. */
static CURLcode request_setup(ctl_http_t *h, const char *url,
                              const char *method, const char *body,
                              size_t body_len, struct curl_slist *hdrs) {
        CURL *curl = h->curl;
        CURLcode cc;
        if ((cc = curl_easy_setopt(curl, CURLOPT_URL, url)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                                   "http,https")) ||
            (cc = curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                                   CONNECT_TIMEOUT_MS)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_USERAGENT, "klokctl")) ||
            (cc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                                   answer_write)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_WRITEDATA, h)) ||
            (cc = curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->errbuf)))
                return cc;
        if (!strcmp(method, "GET"))
                return curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        /* POSTFIELDS makes a POST; DELETE only renames the method (and
         * sends a body when there is one). */
        if (strcmp(method, "POST") &&
            (cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method)))
                return cc;
        if (!body && strcmp(method, "POST"))
                return CURLE_OK;
        if ((cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                                   body ? body : "")) ||
            (cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t)(body ? body_len : 0))))
                return cc;
        return CURLE_OK;
}

/* The API's error body on stderr; CTL_FOUND_PROBLEM. */
static int http_error(long status, const ctl_http_t *h) {
        json_t *e = json_loadb(h->buf ? h->buf : "", h->len, 0, NULL);
        const char *code = json_string_value(json_object_get(e, "error"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *field = json_string_value(json_object_get(e, "field"));
        if (!code)
                ctl_fail(CTL_FOUND_PROBLEM,
                         "HTTP %ld (the answer is not a klok error body)",
                         status);
        else if (field && *field)
                ctl_fail(CTL_FOUND_PROBLEM, "HTTP %ld %s: %s (field %s)",
                         status, code, msg ? msg : "", field);
        else
                ctl_fail(CTL_FOUND_PROBLEM, "HTTP %ld %s: %s", status, code,
                         msg ? msg : "");
        json_decref(e);
        return CTL_FOUND_PROBLEM;
}

int ctl_http_call(ctl_http_t *h, const char *method, const char *path,
                  const char *body, size_t body_len, const char *idem_key,
                  json_t **answer) {
        const ctl_t *ctl = h->ctl;
        char url[sizeof(ctl->api) + CTL_PATH_MAX + CTL_QUERY_MAX];
        struct curl_slist *hdrs = NULL;
        bool ok;
        *answer = NULL;
        snprintf(url, sizeof(url), "%.*s%s", (int)h->base_len, ctl->api,
                 path);
        ok = header_add(&hdrs, "Accept", "application/json");
        if (ok && strcmp(method, "GET"))
                /* "Expect:" keeps libcurl from waiting for a 100 Continue. */
                ok = header_add(&hdrs, "Content-Type", "application/json") &&
                     slist_add(&hdrs, "Expect:");
        if (ok && ctl->token[0]) {
                char auth[sizeof(ctl->token) + 8];
                snprintf(auth, sizeof(auth), "Bearer %s", ctl->token);
                ok = header_add(&hdrs, "Authorization", auth);
        }
        if (ok && idem_key)
                ok = header_add(&hdrs, "Idempotency-Key", idem_key);

        curl_easy_reset(h->curl); /* keeps the connection */
        h->len = 0;
        h->too_big = h->nomem = false;
        h->errbuf[0] = '\0';
        CURLcode cc = ok ? request_setup(h, url, method, body, body_len, hdrs)
                         : CURLE_OUT_OF_MEMORY;
        if (!cc)
                cc = curl_easy_perform(h->curl);
        curl_slist_free_all(hdrs);
        if (cc == CURLE_OUT_OF_MEMORY || h->nomem)
                return ctl_fail(CTL_FOUND_PROBLEM, "out of memory");
        if (cc == CURLE_WRITE_ERROR && h->too_big)
                return ctl_fail(CTL_FOUND_PROBLEM,
                                "the answer to %s %s is over %d MiB", method,
                                path, ANSWER_MAX / (1024 * 1024));
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return ctl_fail(CTL_USAGE,
                                "the API at %s did not answer %s %s in time: "
                                "%s",
                                h->shown, method, path,
                                h->errbuf[0] ? h->errbuf
                                             : curl_easy_strerror(cc));
        if (cc)
                return ctl_fail(CTL_USAGE, "cannot reach the API at %s: %s",
                                h->shown,
                                h->errbuf[0] ? h->errbuf
                                             : curl_easy_strerror(cc));

        long status = 0;
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299)
                return http_error(status, h);
        json_error_t jerr;
        if (!(*answer = json_loadb(h->buf ? h->buf : "", h->len, 0, &jerr)))
                return ctl_fail(CTL_FOUND_PROBLEM,
                                "the answer to %s %s is not JSON: %s", method,
                                path, jerr.text);
        return CTL_OK;
}

bool ctl_http_query_add(ctl_http_t *h, char *q, const char *name,
                        const char *value) {
        char *enc = curl_easy_escape(h->curl, value, 0);
        if (!enc)
                return false;
        size_t len = strlen(q);
        int n = snprintf(q + len, CTL_QUERY_MAX - len, "%s%s=%s",
                         len ? "&" : "?", name, enc);
        curl_free(enc);
        if (n < 0 || (size_t)n >= CTL_QUERY_MAX - len) {
                q[len] = '\0';
                return false;
        }
        return true;
}
