# shellcheck shell=bash
# scripts/lib/stack.sh — build klok and run a whole local stack (broker, topics, timer-service,
# executor, producer-api) in one run directory, and stop exactly what it started.
#
# Source it after scripts/lib/kafka.sh.  Public functions:
#   klok_build BUILD_DIR [CMAKE_ARG...]          configure + build (incremental)
#   klok_stack_up RUN_DIR BUILD_DIR PORT_BASE    start everything, wait until ready
#   klok_stack_down RUN_DIR                      stop everything started from RUN_DIR
#   klok_service_start RUN_DIR NAME CMD...       one background process, pid + log in RUN_DIR
#   klok_service_stop RUN_DIR NAME
#   klok_wait_http URL SECONDS                   wait for a 200 from URL
#
# Ports from PORT_BASE: broker PORT_BASE+92, controller +93, producer-api +80, timer admin +81,
# executor admin +82 (so 9000 gives 9092/9093/9080/9081/9082).  Data, logs, pids and configs all live in RUN_DIR.

KLOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KLOK_PARTITIONS="${KLOK_PARTITIONS:-4}"

_klok_say() { printf 'klok: %s\n' "$*" >&2; }

# klok_build BUILD_DIR [CMAKE_ARG...]
klok_build() {
    local build_dir="$1"; shift
    local log="$build_dir/klok-build.log"
    mkdir -p "$build_dir"
    if ! cmake -S "$KLOK_ROOT" -B "$build_dir" "$@" >"$log" 2>&1 ||
       ! cmake --build "$build_dir" -j "$(nproc)" >>"$log" 2>&1; then
        grep -E 'error|Error' "$log" | head -40 >&2 || true
        _klok_say "build failed (full log: $log)"
        return 1
    fi
}

# Status 0 if the pid in RUN_DIR/NAME.pid is alive.
_klok_service_alive() {
    local pidfile="$1/$2.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# klok_service_start RUN_DIR NAME CMD... — no-op if already running.
klok_service_start() {
    local run_dir="$1" name="$2"; shift 2
    if _klok_service_alive "$run_dir" "$name"; then
        _klok_say "$name already running (pid $(cat "$run_dir/$name.pid"))"
        return 0
    fi
    nohup "$@" >>"$run_dir/$name.log" 2>&1 </dev/null &
    echo $! >"$run_dir/$name.pid"
}

# klok_service_stop RUN_DIR NAME — TERM, wait up to 30 s, then KILL.
klok_service_stop() {
    local run_dir="$1" name="$2" pid i
    _klok_service_alive "$run_dir" "$name" || { rm -f "$run_dir/$name.pid"; return 0; }
    pid="$(cat "$run_dir/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        _klok_say "$name (pid $pid) ignored SIGTERM for 30 s; killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$run_dir/$name.pid"
}

# klok_wait_http URL SECONDS — poll until the URL answers 200, with a deadline.
klok_wait_http() {
    local url="$1" deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    _klok_say "no 200 from $url within $2 s"
    return 1
}

# Write the three services' config files into RUN_DIR.
_klok_write_configs() {
    local run_dir="$1" bootstrap="$2" api_port="$3"
    cat >"$run_dir/timer.conf" <<EOF
# klok-timer configuration (written by scripts/lib/stack.sh)
kafka.bootstrap = $bootstrap
schemas.dir = $KLOK_ROOT/schemas
data.dir = $run_dir/data/timer-0
instance.id = 0
admin.port = $((api_port + 1))
${KLOK_TIMER_EXTRA_CONF:-}
EOF
    # Webhook receivers: tests/e2e/test_executor_tasks.py serves PORT_BASE+70; nothing listens
    # on PORT_BASE+71 (a refused connection).
    local port_base=$((api_port - 80))
    local hooks="http://127.0.0.1:$((port_base + 70))" no_hooks="http://127.0.0.1:$((port_base + 71))"
    cat >"$run_dir/executor.conf" <<EOF
# klok-executor configuration (written by scripts/lib/stack.sh)
kafka.bootstrap = $bootstrap
schemas.dir = $KLOK_ROOT/schemas
data.dir = $run_dir/data/executor-0
queues = default
concurrency = 8
admin.port = $((api_port + 2))

# Tasks are registered here by the operator; jobs name them.  argv is never
# given to a shell.
task.noop.kind = exec
task.noop.argv = ["/bin/true"]
task.echo.kind = exec
task.echo.argv = ["/bin/echo", "hello from job {job_id}, attempt {attempt}"]
task.cat-params.kind = exec
task.cat-params.argv = ["/bin/cat"]
task.fail.kind = exec
task.fail.argv = ["/bin/false"]
# Fails its first attempt, succeeds from the second (retry demonstration).
task.flaky.kind = exec
task.flaky.argv = ["/bin/sh", "-c", "test \"\$KLOK_ATTEMPT\" -ge 2"]
# Hangs on its first attempt (until killed), succeeds from the second: lost executions.
task.hang-first.kind = exec
task.hang-first.argv = ["/bin/sh", "-c", "test \"\$KLOK_ATTEMPT\" -ge 2 || exec /bin/sleep 60"]
task.sleep.kind = exec
task.sleep.argv = ["/bin/sleep", "30"]
task.sleep.timeout_ms = 1000
# Takes a second: overlapping occurrences of recurring jobs.
task.nap.kind = exec
task.nap.argv = ["/bin/sleep", "1"]

# Webhooks: the parameters as a JSON body, the execution id as Idempotency-Key.
task.hook-ok.kind = http
task.hook-ok.url = $hooks/ok
task.hook-ok.headers = {"X-Klok-Test": "static"}
# Answers 200 with 1 MiB: the executor keeps the first output.max bytes and stops reading.
task.hook-big.kind = http
task.hook-big.url = $hooks/big
task.hook-put.kind = http
task.hook-put.method = PUT
task.hook-put.url = $hooks/ok
# Answers 500; the secrets must never show in a message.
task.hook-fail.kind = http
task.hook-fail.url = $hooks/fail?token=s3cret
task.hook-fail.headers = {"Authorization": "Bearer s3cret"}
task.hook-missing.kind = http
task.hook-missing.url = $hooks/missing
task.hook-slow.kind = http
task.hook-slow.url = $hooks/slow
task.hook-slow.timeout_ms = 1000
task.hook-down.kind = http
task.hook-down.url = $no_hooks/
# The delayed-message pattern: the parameters produced to a topic at the due time (the
# test creates the topic; the broker does not auto-create topics).
task.publish.kind = kafka
task.publish.topic = e2e.delayed
task.publish.headers = {"X-Klok-Test": "static"}
task.publish-keyed.kind = kafka
task.publish-keyed.topic = e2e.delayed
task.publish-keyed.key = order-{job_id}-{attempt}
# A topic that takes records of 300 bytes at most (the test creates it): a larger record is a
# permanent failure.  A topic nobody creates: delivery gives up after the task's timeout.
task.publish-tiny.kind = kafka
task.publish-tiny.topic = e2e.tiny
task.publish-nowhere.kind = kafka
task.publish-nowhere.topic = e2e.nowhere
task.publish-nowhere.timeout_ms = 1500
EOF
    cat >"$run_dir/api.conf" <<EOF
# klok-api configuration (written by scripts/lib/stack.sh)
kafka.bootstrap = $bootstrap
schemas.dir = $KLOK_ROOT/schemas
data.dir = $run_dir/data/api
listen.port = $api_port
# Development only: no tokens, every request is tenant "dev" (the API warns at start).
auth.mode = dev
dashboard.dir = $KLOK_ROOT/producer-api/dashboard
EOF
}

# klok_stack_up RUN_DIR BUILD_DIR PORT_BASE
klok_stack_up() {
    local run_dir="$1" build_dir="$2" base="$3"
    local kport=$((base + 92)) cport=$((base + 93)) api_port=$((base + 80))
    local bootstrap="127.0.0.1:$kport"
    mkdir -p "$run_dir/data"
    klok_kafka_fetch "$(klok_kafka_version)"
    klok_kafka_start "$run_dir/kafka" "$kport" "$cport" "$(klok_kafka_version)"
    klok_topics_create "$bootstrap" klok "$KLOK_PARTITIONS" default
    _klok_write_configs "$run_dir" "$bootstrap" "$api_port"
    klok_service_start "$run_dir" timer "$build_dir/timer-service/klok-timer" \
        --config "$run_dir/timer.conf"
    klok_service_start "$run_dir" executor "$build_dir/executor/klok-executor" \
        --config "$run_dir/executor.conf"
    klok_service_start "$run_dir" api "$build_dir/producer-api/klok-api" \
        --config "$run_dir/api.conf"
    local port
    for port in "$api_port" $((api_port + 1)) $((api_port + 2)); do
        klok_wait_http "http://127.0.0.1:$port/readyz" 60 || {
            tail -n 20 "$run_dir"/{timer,executor,api}.log >&2 || true
            return 1
        }
    done
    local svc
    for svc in timer executor api; do
        _klok_service_alive "$run_dir" "$svc" || {
            _klok_say "$svc exited; last lines of $run_dir/$svc.log:"
            tail -n 20 "$run_dir/$svc.log" >&2
            return 1
        }
    done
    printf '%s\n' "$api_port" >"$run_dir/api.port"
}

# klok_stack_down RUN_DIR — every service with a pid file in RUN_DIR (the three of the stack
# and any extra instance a test started, e.g. timer-1), then the broker.
klok_stack_down() {
    local run_dir="$1" pidfile svc
    [[ -d "$run_dir" ]] || return 0
    for svc in api executor timer; do
        klok_service_stop "$run_dir" "$svc"
    done
    for pidfile in "$run_dir"/*.pid; do
        [[ -e "$pidfile" ]] || continue
        svc="$(basename "$pidfile" .pid)"
        klok_service_stop "$run_dir" "$svc"
    done
    klok_kafka_stop "$run_dir/kafka"
}
