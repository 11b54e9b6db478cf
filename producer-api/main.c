/*
 * main.c — klok-api: the HTTP front of klok (producer-api).
 *
 * Accepts job commands over HTTP, appends them durably to <p>.commands,
 * and answers status queries from a view it builds from <p>.commands and
 * <p>.status.  See docs/API.md and producer-api/openapi.yaml.
 *
 * Start-up: config, codec, view store, producer, viewer, HTTP.
 * Shutdown (SIGTERM/SIGINT): stop accepting, let in-flight commands be
 * acknowledged (up to shutdown.timeout.ms, then purge: 503), release
 * consistency waits, stop HTTP, close the view consumer, flush, exit 0.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "sched/config.h"
#include "sched/log.h"

#define SUB "main"

#define STR(field) offsetof(api_conf_t, field), sizeof(((api_conf_t *)0)->field)
#define INT(field) offsetof(api_conf_t, field), 0

static const sched_conf_prop_t api_props[] = {
        {"listen.addr", SCHED_CONF_STR, STR(listen_addr), "127.0.0.1",
         "numeric IPv4 or IPv6 address to listen on", 0, 0},
        {"listen.port", SCHED_CONF_INT, INT(listen_port), "8080",
         "TCP port to listen on", 1, 65535},
        SCHED_CONF_COMMON(api_conf_t),
        {"data.dir", SCHED_CONF_STR, STR(data_dir), "var/api-view",
         "RocksDB directory of the status view (derived: may be deleted "
         "to rebuild it from Kafka)",
         0, 0},
        {"http.threads", SCHED_CONF_INT, INT(http_threads), "2",
         "HTTP worker threads (epoll each)", 1, 64},
        {"http.body.max", SCHED_CONF_INT, INT(http_body_max), "65536",
         "largest request body in bytes (413 beyond)", 1024,
         16 * 1024 * 1024},
        {"http.connections.max", SCHED_CONF_INT, INT(http_conn_max), "1024",
         "concurrent HTTP connections", 1, 65536},
        {"http.timeout.s", SCHED_CONF_INT, INT(http_timeout_s), "30",
         "idle HTTP connection timeout, seconds", 1, 3600},
        {"kafka.linger.ms", SCHED_CONF_INT, INT(kafka_linger_ms), "2",
         "producer linger (batching delay) in ms", 0, 1000},
        {"kafka.delivery.timeout.ms", SCHED_CONF_INT,
         INT(kafka_delivery_timeout_ms), "10000",
         "how long a command may wait for acks=all before the request "
         "gets 503",
         1000, 300000},
        {"view.wait.max.ms", SCHED_CONF_INT, INT(view_wait_max_ms), "2000",
         "longest wait of a read for its consistency_token", 0, 60000},
        {"shutdown.timeout.ms", SCHED_CONF_INT, INT(shutdown_timeout_ms),
         "10000", "how long shutdown waits for in-flight commands", 0,
         300000},
        {"auth.mode", SCHED_CONF_STR, STR(auth_mode), "jwt",
         "\"jwt\": bearer JWTs (HS256) name the tenant and scopes; "
         "\"dev\": no authentication, every request is tenant \"dev\" "
         "(local development only; must be set explicitly)",
         0, 0},
        {"auth.jwt.key", SCHED_CONF_STR, STR(auth_jwt_key), "",
         "HS256 key (at least 32 bytes), or @path of a file holding it",
         0, 0},
        {"auth.jwt.issuer", SCHED_CONF_STR, STR(auth_jwt_issuer), "",
         "required \"iss\" of tokens (empty: not checked)", 0, 0},
        {"auth.jwt.audience", SCHED_CONF_STR, STR(auth_jwt_audience), "",
         "required \"aud\" of tokens (empty: not checked)", 0, 0},
        {"auth.jwt.leeway.s", SCHED_CONF_INT, INT(auth_jwt_leeway_s), "30",
         "clock skew allowed on exp and nbf, seconds", 0, 600},
        {"rate.standard", SCHED_CONF_INT, INT(rate_standard), "500",
         "requests/s per tenant of the standard tier (0: no limit)", 0,
         10000000},
        {"rate.premium", SCHED_CONF_INT, INT(rate_premium), "5000",
         "requests/s per tenant of the premium tier (0: no limit)", 0,
         10000000},
        {"dashboard.dir", SCHED_CONF_STR, STR(dashboard_dir), "",
         "directory of the web dashboard's files (producer-api/dashboard), "
         "served at /dashboard/; empty: no dashboard",
         0, 0},
        SCHED_CONF_END};

static int run(api_t *api) {
        char errstr[512];
        sigset_t sigs;
        int sig = 0;

        api->codec = sched_codec_new(api->conf.common.schemas_dir, errstr,
                                     sizeof(errstr));
        if (!api->codec) {
                sched_error(SUB, "schemas: %s", errstr);
                return 1;
        }
        if (api_dashboard_load(api->conf.dashboard_dir, errstr,
                               sizeof(errstr))) {
                sched_error(SUB, "%s", errstr);
                return 1;
        }
        api->store = sched_store_open(api->conf.data_dir, errstr,
                                      sizeof(errstr));
        if (!api->store) {
                sched_error(SUB, "view store: %s", errstr);
                return 1;
        }

        /* Only this thread takes the signals (threads inherit the mask). */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (api_producer_start(api, errstr, sizeof(errstr))) {
                sched_error(SUB, "kafka producer: %s", errstr);
                return 1;
        }
        if (api_viewer_start(api, errstr, sizeof(errstr))) {
                sched_error(SUB, "view consumer: %s", errstr);
                api_producer_stop(api);
                return 1;
        }
        if (api_http_start(api, errstr, sizeof(errstr))) {
                sched_error(SUB, "http: %s", errstr);
                api_viewer_stop(api);
                api_producer_stop(api);
                return 1;
        }
        sched_info(SUB,
                   "listening on %s:%lld (auth.mode=%s), "
                   "commands to %s",
                   api->conf.listen_addr, (long long)api->conf.listen_port,
                   api->conf.auth_mode, api->topic_commands);

        sigwait(&sigs, &sig);
        sched_info(SUB, "%s: shutting down", strsignal(sig));

        api_http_quiesce(api);
        api_producer_drain(api, api->conf.shutdown_timeout_ms);
        api_viewer_release_all(api);
        api_queues_release_all(api);
        api_http_stop(api);
        api_viewer_stop(api);
        api_producer_stop(api);
        sched_info(SUB, "stopped");
        return 0;
}

int main(int argc, char **argv) {
        static api_t api; /* large; and threads reference it */
        char errstr[512];

        sched_err_t err = sched_conf_from_args(api_props, &api.conf, argc,
                                               argv, NULL, NULL, errstr,
                                               sizeof(errstr));
        if (err == SCHED_ERR_INVALID && !errstr[0])
                return 0; /* --help */
        if (err) {
                sched_error(SUB, "config: %s", errstr);
                return 2;
        }
        if (sched_log_set_level(api.conf.common.log_level)) {
                sched_error(SUB, "config: log.level: unknown level \"%s\"",
                            api.conf.common.log_level);
                return 2;
        }
        if (api_auth_start(&api, errstr, sizeof(errstr))) {
                sched_error(SUB, "config: %s", errstr);
                return 2;
        }
        sched_topic(api.topic_commands, sizeof(api.topic_commands),
                    api.conf.common.prefix, "commands");
        sched_topic(api.topic_status, sizeof(api.topic_status),
                    api.conf.common.prefix, "status");
        sched_topic(api.topic_dlq, sizeof(api.topic_dlq),
                    api.conf.common.prefix, "dlq");

        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&api.cond, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&api.lock, NULL);

        int rc = run(&api);

        if (api.store)
                sched_store_close(api.store);
        sched_codec_destroy(api.codec);
        api_dashboard_free();
        api_auth_stop(&api);
        pthread_cond_destroy(&api.cond);
        pthread_mutex_destroy(&api.lock);
        return rc;
}
