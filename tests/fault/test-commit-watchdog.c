/*
 * test-commit-watchdog.c — the timer's commit watchdog under a real hang:
 * a firing lane whose commit outlives 2 × txn.timeout.ms makes klok-timer
 * exit(1) without waiting on it (fire_lane.c tmr_lane_reap, main.c), and a
 * restart on the same store fires what that lane held, exactly once.
 *
 * The real klok-timer binary runs against librdkafka's mock cluster, which
 * this process starts (it listens on localhost).  Three mock brokers, so a
 * fault hits one role only:
 *   broker 1  leader of status and executions.default.normal (firing)
 *   broker 2  leader of commands; transaction coordinator of every lane
 *   broker 3  group coordinator of the timer's consumer group
 *
 * The hang: with the group coordinator down, rd_kafka_send_offsets_to_
 * transaction() (the lane's first step of a commit) waits forever on the
 * TxnOffsetCommit, whatever its timeout (librdkafka #5456; seen in 2.0.2 as
 * a cnd_wait without deadline under rd_kafka_send_offsets_to_transaction).
 * A long EndTxn RTT would not do: 2.0.2's commit_transaction() keeps its
 * timeout and returns a retriable __TIMED_OUT, which the timer handles as an
 * unknown outcome (exit 1 after a graceful stop, not the watchdog).
 *
 * What the mock of 2.0.2 cannot do: transaction isolation.  EndTxn writes no
 * markers and Fetch reports the last stable offset as the high watermark with
 * no aborted transactions, so a read_committed consumer sees the records of
 * open and aborted transactions.  Left alone, the hung transaction's
 * ExecutionDue and FIRED would be readable, the restart would apply that
 * FIRED and never fire the job, and "exactly once" would prove nothing.
 * So broker 1 goes down with broker 3: the hung transaction's records never
 * reach the log (checked), and the single ExecutionDue after the restart is
 * the restart's own firing.  Nor does that mock know static membership
 * (group.instance.id is read and ignored): the restarted timer gets its
 * partitions only after the group has waited out the dead member's session
 * (10 s), a third of this test's half minute.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sched/codec.h"
#include "sched/kafka.h"
#include "sched/time.h"

#define NPARTS 2          /* of commands, status and executions */
#define TXN_TIMEOUT_MS 2000
#define WATCHDOG_MS (2 * TXN_TIMEOUT_MS) /* fire_lane.c: 2 × txn.timeout.ms */
/* From the hung job's CreateJob to the exit: reading and firing it, then the
 * watchdog's turn (the main loop wakes at least every second), with room
 * for a sanitized build on a busy machine. */
#define EXIT_MARGIN_MS 5000
#define READY_MS 30000    /* group join on the mock takes about 3 s */
#define FIRE_MS 15000

#define BROKER_FIRE 1     /* leader of status, executions, dlq */
#define BROKER_TXN 2      /* commands; transaction coordinator */
#define BROKER_GROUP 3    /* group coordinator */

#define GROUP_ID "klok-timer"
#define INSTANCE_ID "0"
#define FIRE_LANES 3
#define EXECUTIONS "klok.executions.default.normal"

extern char **environ;

typedef struct fx_s {
        char dir[64];
        char conf_path[128];
        int admin_port;
        char **envp; /* ours without KLOK_*: the config file decides */
        rd_kafka_t *mock_rk;
        rd_kafka_mock_cluster_t *mcluster;
        char bootstrap[256];
        sched_codec_t *codec;
        rd_kafka_t *producer;
        rd_kafka_resp_err_t delivery_err;
        pid_t timer;      /* running klok-timer, or 0 */
        int runs;         /* timer-<n>.log of each run */
        bool passed;
} fx_t;

static void nap(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* --- The timer process -------------------------------------------------- */

/* A localhost port free right now, for the timer's admin endpoints. */
static int free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
        close(fd);
        return ntohs(sin.sin_port);
}

static void timer_log_path(const fx_t *fx, int run, char *buf, size_t size) {
        snprintf(buf, size, "%s/timer-%d.log", fx->dir, run);
}

/* Start klok-timer on fx's config, its stderr (the JSON log) into
 * timer-<run>.log.  The child dies with this process (PR_SET_PDEATHSIG), so
 * a test killed by ctest's timeout leaves no timer behind. */
static void timer_start(fx_t *fx) {
        assert_int_equal(fx->timer, 0);
        char log_path[128];
        timer_log_path(fx, ++fx->runs, log_path, sizeof(log_path));
        char *argv[] = {KLOK_TIMER_BIN, "--config", fx->conf_path, NULL};
        pid_t parent = getpid();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Only async-signal-safe calls until exec.  The timer gets
                 * none of this process's descriptors (librdkafka's pipes
                 * and sockets, the mock's) but its log. */
                int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 ||
                    dup2(fd, STDOUT_FILENO) < 0 ||
                    prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
                    getppid() != parent)
                        _exit(127);
                close_range(3, ~0U, 0);
                execve(argv[0], argv, fx->envp);
                _exit(127);
        }
        fx->timer = pid;
}

/* Wait until the timer exits or deadline (monotonic ms).  true and its
 * wait status in *status if it exited. */
static bool timer_wait_exit(fx_t *fx, int64_t deadline, int *status) {
        for (;;) {
                pid_t r = waitpid(fx->timer, status, WNOHANG);
                assert_true(r >= 0);
                if (r == fx->timer) {
                        fx->timer = 0;
                        return true;
                }
                if (sched_mono_ms() >= deadline)
                        return false;
                nap(20);
        }
}

static void timer_kill(fx_t *fx) {
        if (!fx->timer)
                return;
        kill(fx->timer, SIGKILL);
        waitpid(fx->timer, NULL, 0);
        fx->timer = 0;
}

static bool log_contains(const fx_t *fx, int run, const char *needle) {
        char path[128], line[4096];
        timer_log_path(fx, run, path, sizeof(path));
        FILE *f = fopen(path, "r");
        bool found = false;
        while (f && !found && fgets(line, sizeof(line), f))
                found = strstr(line, needle) != NULL;
        if (f)
                fclose(f);
        return found;
}

static void log_print(const fx_t *fx, int run) {
        char path[128], line[4096];
        timer_log_path(fx, run, path, sizeof(path));
        FILE *f = fopen(path, "r");
        if (!f)
                return;
        print_message("---- %s\n", path);
        while (fgets(line, sizeof(line), f))
                print_message("%s", line);
        fclose(f);
}

/* --- The admin endpoints ------------------------------------------------ */

/* GET path on the timer's admin port: the HTTP status, the body in buf;
 * -1 if nothing answered. */
static int http_get(const fx_t *fx, const char *path, char *buf,
                    size_t size) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return -1;
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)fx->admin_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        char req[256];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
        size_t len = 0;
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
            write(fd, req, (size_t)n) == n) {
                ssize_t r;
                while (len + 1 < size &&
                       (r = read(fd, buf + len, size - 1 - len)) > 0)
                        len += (size_t)r;
        }
        close(fd);
        buf[len] = '\0';
        int status;
        char *body = strstr(buf, "\r\n\r\n");
        if (sscanf(buf, "HTTP/%*s %d", &status) != 1 || !body)
                return -1;
        memmove(buf, body + 4, strlen(body + 4) + 1);
        return status;
}

/* Value of an unlabelled metric, or -1 if absent. */
static int64_t metric(const fx_t *fx, const char *name) {
        static char text[64 * 1024];
        if (http_get(fx, "/metrics", text, sizeof(text)) != 200)
                return -1;
        size_t nlen = strlen(name);
        for (const char *l = text; *l;) {
                if (!strncmp(l, name, nlen) && l[nlen] == ' ')
                        return strtoll(l + nlen + 1, NULL, 10);
                const char *nl = strchr(l, '\n');
                if (!nl)
                        break;
                l = nl + 1;
        }
        return -1;
}

/* /readyz answers 200: partitions assigned and restored. */
static void wait_ready(fx_t *fx) {
        char body[1024] = "";
        int status;
        for (int64_t deadline = sched_mono_ms() + READY_MS;;) {
                if ((status = http_get(fx, "/readyz", body, sizeof(body))) ==
                    200)
                        return;
                int wstatus;
                if (timer_wait_exit(fx, 0, &wstatus))
                        fail_msg("klok-timer exited before it was ready "
                                 "(wait status %#x)",
                                 (unsigned)wstatus);
                if (sched_mono_ms() >= deadline)
                        fail_msg("klok-timer not ready after %d ms: %d %s",
                                 READY_MS, status, body);
                nap(100);
        }
}

/* --- Kafka: commands in, ExecutionDue out -------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
        fx_t *fx = opaque;
        if (rkm->err)
                fx->delivery_err = rkm->err;
}

/* The test's own clients: quiet (the faults are deliberate, their
 * connection errors would only bury the test's output), and quick to see
 * the end of an empty partition. */
static rd_kafka_conf_t *client_conf(fx_t *fx, const char *client_id) {
        const char *extra[] = {"log_level", "2", "fetch.wait.max.ms", "10",
                               NULL};
        char errstr[256];
        rd_kafka_conf_t *conf = sched_kafka_conf(fx->bootstrap, client_id,
                                                 extra, errstr,
                                                 sizeof(errstr));
        if (!conf)
                fail_msg("client conf: %s", errstr);
        return conf;
}

/* Append a CreateJob (schedule: immediate) for job_id to its partition of
 * the commands topic, and wait until it is acknowledged. */
static void create_job(fx_t *fx, const char *job_id) {
        sched_event_t ev;
        sched_event_init(&ev, SCHED_EV_CREATE_JOB);
        snprintf(ev.event_id, sizeof(ev.event_id), "e-%s", job_id);
        snprintf(ev.job_id, sizeof(ev.job_id), "%s", job_id);
        snprintf(ev.tenant, sizeof(ev.tenant), "t1");
        ev.ts_ms = sched_now_ms();
        snprintf(ev.u.def.name, sizeof(ev.u.def.name), "watchdog");
        snprintf(ev.u.def.task, sizeof(ev.u.def.task), "noop");
        snprintf(ev.u.def.queue, sizeof(ev.u.def.queue), "default");
        ev.u.def.schedule.kind = SCHED_KIND_IMMEDIATE;
        ev.u.def.retry.max_attempts = 1;
        ev.u.def.timeout_ms = 60000;
        void *buf;
        size_t len;
        char errstr[256];
        if (sched_codec_encode(fx->codec, &ev, &buf, &len, errstr,
                               sizeof(errstr)))
                fail_msg("encode CreateJob: %s", errstr);
        sched_event_clear(&ev);
        int32_t p = sched_partition_of(job_id, strlen(job_id), NPARTS);
        rd_kafka_resp_err_t err = rd_kafka_producev(
                fx->producer, RD_KAFKA_V_TOPIC("klok.commands"),
                RD_KAFKA_V_PARTITION(p),
                RD_KAFKA_V_KEY(job_id, strlen(job_id)),
                RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (err)
                free(buf);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        fx->delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        assert_int_equal(rd_kafka_flush(fx->producer, 10000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(fx->delivery_err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* ExecutionDue records of job_id on the executions topic, read from the
 * beginning to the end of every partition (read_committed); -1 if the end
 * was not reached in time. */
static int due_count(fx_t *fx, const char *job_id) {
        char errstr[256];
        rd_kafka_t *rk = sched_kafka_consumer_new(
                client_conf(fx, "klok-test-reader"), "klok-test-reader",
                NULL, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("reader: %s", errstr);
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(NPARTS);
        for (int32_t p = 0; p < NPARTS; p++)
                rd_kafka_topic_partition_list_add(parts, EXECUTIONS, p)
                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
        assert_int_equal(rd_kafka_assign(rk, parts),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);

        int count = 0, eof = 0;
        bool at_end[NPARTS] = {false};
        for (int64_t deadline = sched_mono_ms() + 10000;
             eof < NPARTS && sched_mono_ms() < deadline;) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
                if (!rkm)
                        continue;
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                    rkm->partition >= 0 && rkm->partition < NPARTS &&
                    !at_end[rkm->partition]) {
                        at_end[rkm->partition] = true;
                        eof++;
                } else if (!rkm->err) {
                        sched_event_t ev;
                        if (sched_codec_decode(fx->codec, rkm->payload,
                                               rkm->len, &ev, errstr,
                                               sizeof(errstr)))
                                fail_msg("%s [%d] @%lld: %s", EXECUTIONS,
                                         (int)rkm->partition,
                                         (long long)rkm->offset, errstr);
                        count += ev.type == SCHED_EV_EXECUTION_DUE &&
                                 !strcmp(ev.job_id, job_id);
                        sched_event_clear(&ev);
                }
                rd_kafka_message_destroy(rkm);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return eof == NPARTS ? count : -1;
}

/* Wait until the running timer has fired job_id: its ExecutionDue is on the
 * topic and the commit that carried it was reaped (klok_timer_fired_total,
 * this job being the only one the run fires), so no transaction is open. */
static void wait_fired(fx_t *fx, const char *job_id) {
        int64_t deadline = sched_mono_ms() + FIRE_MS;
        while (due_count(fx, job_id) < 1) {
                if (sched_mono_ms() >= deadline)
                        fail_msg("no ExecutionDue for %s after %d ms", job_id,
                                 FIRE_MS);
                nap(50);
        }
        while (metric(fx, "klok_timer_fired_total") < 1) {
                if (sched_mono_ms() >= deadline)
                        fail_msg("%s fired but its transaction did not end "
                                 "in %d ms",
                                 job_id, FIRE_MS);
                nap(50);
        }
}

/* --- Fixture ------------------------------------------------------------ */

/* Create a topic with every partition led by broker `leader`, or where the
 * mock puts them (leader 0) for a topic the test never writes or reads:
 * each placement is one more mock call, and the mock thread of 2.0.2 now
 * and then answers one only at its next one-second tick. */
static void mock_topic(fx_t *fx, const char *topic, int partitions,
                       int32_t leader) {
        assert_int_equal(rd_kafka_mock_topic_create(fx->mcluster, topic,
                                                    partitions, 1),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int32_t p = 0; leader > 0 && p < partitions; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                         fx->mcluster, topic, p, leader),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int setup(void **state) {
        fx_t *fx = calloc(1, sizeof(*fx));
        assert_non_null(fx);
        *state = fx;
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/klok-test-watchdog-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));

        size_t n = 0, k = 0;
        while (environ[n])
                n++;
        fx->envp = calloc(n + 1, sizeof(*fx->envp));
        assert_non_null(fx->envp);
        for (size_t i = 0; i < n; i++)
                if (strncmp(environ[i], "KLOK_", 5))
                        fx->envp[k++] = environ[i];

        /* The cluster: the topics of scripts/lib/kafka.sh
         * klok_topics_create with NPARTS partitions and queue "default". */
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        assert_int_equal(rd_kafka_conf_set(conf, "log_level", "4", errstr,
                                           sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        fx->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                   sizeof(errstr));
        assert_non_null(fx->mock_rk);
        fx->mcluster = rd_kafka_mock_cluster_new(fx->mock_rk, 3);
        assert_non_null(fx->mcluster);
        snprintf(fx->bootstrap, sizeof(fx->bootstrap), "%s",
                 rd_kafka_mock_cluster_bootstraps(fx->mcluster));
        mock_topic(fx, "klok.commands", NPARTS, BROKER_TXN);
        mock_topic(fx, "klok.status", NPARTS, BROKER_FIRE);
        mock_topic(fx, EXECUTIONS, NPARTS, BROKER_FIRE);
        mock_topic(fx, "klok.executions.default.high", NPARTS, 0);
        mock_topic(fx, "klok.dlq", 1, 0);
        assert_int_equal(rd_kafka_mock_coordinator_set(fx->mcluster, "group",
                                                       GROUP_ID,
                                                       BROKER_GROUP),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int lane = 0; lane < FIRE_LANES; lane++) {
                char txn_id[64]; /* fire_lane.c: <group>-<instance>-<lane> */
                snprintf(txn_id, sizeof(txn_id), "%s-%s-%d", GROUP_ID,
                         INSTANCE_ID, lane);
                assert_int_equal(rd_kafka_mock_coordinator_set(
                                         fx->mcluster, "transaction", txn_id,
                                         BROKER_TXN),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
        }

        fx->codec = sched_codec_new(KLOK_SOURCE_DIR "/schemas", errstr,
                                    sizeof(errstr));
        if (!fx->codec)
                fail_msg("codec: %s", errstr);
        conf = client_conf(fx, "klok-test-producer");
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, fx);
        fx->producer = sched_kafka_producer_new(conf, NULL, errstr,
                                                sizeof(errstr));
        if (!fx->producer)
                fail_msg("producer: %s", errstr);

        fx->admin_port = free_port();
        snprintf(fx->conf_path, sizeof(fx->conf_path), "%s/timer.conf",
                 fx->dir);
        FILE *f = fopen(fx->conf_path, "w");
        assert_non_null(f);
        fprintf(f,
                "kafka.bootstrap = %s\n"
                "schemas.dir = %s/schemas\n"
                "data.dir = %s/timer\n"
                "group.id = %s\n"
                "instance.id = %s\n"
                "fire.lanes = %d\n"
                "txn.timeout.ms = %d\n"
                "admin.port = %d\n",
                fx->bootstrap, KLOK_SOURCE_DIR, fx->dir, GROUP_ID,
                INSTANCE_ID, FIRE_LANES, TXN_TIMEOUT_MS, fx->admin_port);
        assert_int_equal(fclose(f), 0);
        return 0;
}

static int teardown(void **state) {
        fx_t *fx = *state;
        timer_kill(fx);
        if (!fx->passed)
                for (int run = 1; run <= fx->runs; run++)
                        log_print(fx, run);
        if (fx->producer)
                rd_kafka_destroy(fx->producer);
        if (fx->mcluster)
                rd_kafka_mock_cluster_destroy(fx->mcluster);
        if (fx->mock_rk)
                rd_kafka_destroy(fx->mock_rk);
        sched_codec_destroy(fx->codec);
        free(fx->envp);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
        int rc = system(cmd);
        free(fx);
        return rc;
}

/* --- The test ----------------------------------------------------------- */

static void test_hung_commit_exits_and_restart_fires_once(void **state) {
        fx_t *fx = *state;
        int wstatus;

        /* A timer that fires: ready, and a first job through a whole
         * transaction, committed and reaped, so the fault below catches
         * the next transaction and only it. */
        timer_start(fx);
        wait_ready(fx);
        create_job(fx, "job-before");
        wait_fired(fx, "job-before");

        /* The fault: the group coordinator goes away (the lane's
         * send_offsets_to_transaction hangs, #5456) and so does the leader
         * of status and executions (the mock would otherwise show the hung
         * transaction's records).  Then a job comes due. */
        assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                       BROKER_GROUP),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_mock_broker_set_down(fx->mcluster,
                                                       BROKER_FIRE),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        int64_t t0 = sched_mono_ms();
        create_job(fx, "job-hung");

        /* The watchdog stops the timer: exit status 1, not a crash and not
         * a graceful stop, no sooner than its limit after the hand-over
         * (which came after t0), and the log says why. */
        if (!timer_wait_exit(fx, t0 + WATCHDOG_MS + EXIT_MARGIN_MS,
                             &wstatus))
                fail_msg("klok-timer still running %d ms after a commit "
                         "hung (watchdog at %d ms)",
                         WATCHDOG_MS + EXIT_MARGIN_MS, WATCHDOG_MS);
        int64_t took = sched_mono_ms() - t0;
        print_message("klok-timer exited %lld ms after the hung job was "
                      "created (watchdog limit %d ms)\n",
                      (long long)took, WATCHDOG_MS);
        assert_true(WIFEXITED(wstatus));
        assert_int_equal(WEXITSTATUS(wstatus), 1);
        assert_true(took >= WATCHDOG_MS);
        assert_true(log_contains(fx, 1, "commit hung for"));
        assert_true(log_contains(fx, 1, "exiting without a graceful stop"));

        /* The fault clears.  Nothing of the hung transaction is on the
         * topic: whatever fires job-hung from here on is the restart. */
        assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster,
                                                     BROKER_GROUP),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_mock_broker_set_up(fx->mcluster,
                                                     BROKER_FIRE),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(due_count(fx, "job-hung"), 0);

        /* A restart on the same store restores and fires it; a graceful
         * stop then ends every transaction, and the topic holds each
         * occurrence exactly once. */
        int64_t t1 = sched_mono_ms();
        timer_start(fx);
        wait_ready(fx);
        wait_fired(fx, "job-hung");
        print_message("the restart fired it %lld ms after it began (no "
                      "static membership in the mock: the group waits out "
                      "the dead member's session)\n",
                      (long long)(sched_mono_ms() - t1));
        assert_int_equal(kill(fx->timer, SIGTERM), 0);
        if (!timer_wait_exit(fx, sched_mono_ms() + 20000, &wstatus))
                fail_msg("klok-timer did not stop on SIGTERM");
        assert_true(WIFEXITED(wstatus));
        assert_int_equal(WEXITSTATUS(wstatus), 0);
        assert_int_equal(due_count(fx, "job-hung"), 1);
        assert_int_equal(due_count(fx, "job-before"), 1);
        fx->passed = true;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(
                        test_hung_commit_exits_and_restart_fires_once, setup,
                        teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
