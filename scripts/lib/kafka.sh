# shellcheck shell=bash
# scripts/lib/kafka.sh — run a throw-away single-node Apache Kafka broker (KRaft) for klok's
# tests and local development, and create klok's topics on it.
#
# Source it (`. scripts/lib/kafka.sh`) from a bash script running under `set -euo pipefail`;
# every function also checks its own errors, so it is safe in `if`/`||` contexts where errexit
# is off. Sourcing changes no shell option and defines only klok_* / _klok_* names.
#
# Public functions:
#   klok_kafka_version                              echo the selected Kafka version
#   klok_kafka_fetch VERSION                        resolve the broker jars once (cached)
#   klok_kafka_libs VERSION                         echo the cached libs directory
#   klok_kafka_start DATA_DIR PORT CONTROLLER_PORT [VERSION]
#   klok_kafka_running DATA_DIR                     status 0 if its broker is running
#   klok_kafka_stop DATA_DIR
#   klok_topics_create BOOTSTRAP PREFIX PARTITIONS QUEUE...
#
# Environment (all optional):
#   KLOK_KAFKA_VERSION        Kafka version (default 3.9.2; a 4.x version works too)
#   XDG_CACHE_HOME            jars go to ${XDG_CACHE_HOME:-$HOME/.cache}/klok/kafka-VERSION/libs
#   KLOK_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90)
#   KLOK_KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   KLOK_KAFKA_TOPICS_TOOL    auto (default) | python | jvm — how klok_topics_create works
#   KLOK_PYTHON               Debian's interpreter with python3-confluent-kafka (/usr/bin/python3)
#   JAVA_HOME / KLOK_JAVA     the java to run (default: java on PATH)
#   MVN                       the maven to run (default: mvn)

# Directory holding the POMs, log configs and topics.py (scripts/kafka next to scripts/lib).
_KLOK_KAFKA_ASSETS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../kafka" && pwd -P)"
_KLOK_KAFKA_DEFAULT_VERSION=3.9.2

# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

# Print an error line on stderr.
_klok_kafka_err() {
    printf 'klok-kafka: %s\n' "$*" >&2
}

# Print a progress line on stderr.
_klok_kafka_info() {
    printf 'klok-kafka: %s\n' "$*" >&2
}

# Wall clock in whole seconds (bash 5 has EPOCHSECONDS; fall back to date).
_klok_kafka_now() {
    if [[ -n "${EPOCHSECONDS:-}" ]]; then
        printf '%s\n' "$EPOCHSECONDS"
    else
        date +%s
    fi
}

# Echo the java binary to use.
_klok_kafka_java() {
    if [[ -n "${KLOK_JAVA:-}" ]]; then
        printf '%s\n' "$KLOK_JAVA"
    elif [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
        printf '%s\n' "${JAVA_HOME}/bin/java"
    else
        printf '%s\n' java
    fi
}

# Echo the major version ("3", "4") of a Kafka version string, or fail if unsupported.
_klok_kafka_major() {
    local version="$1" major="${1%%.*}"
    if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        _klok_kafka_err "bad Kafka version '$version' (want X.Y.Z)"
        return 1
    fi
    if [[ ! -f "${_KLOK_KAFKA_ASSETS}/pom-${major}.xml" ]]; then
        _klok_kafka_err "unsupported Kafka major version ${major} (have pom-3.xml, pom-4.xml)"
        return 1
    fi
    printf '%s\n' "$major"
}

# Echo the JVM option selecting the log config: FLAVOUR is "broker" or "tools".
_klok_kafka_log_opt() {
    local major="$1" flavour="$2" prefix=""
    [[ "$flavour" == tools ]] && prefix="tools-"
    if [[ "$major" == 3 ]]; then
        printf '%s\n' "-Dlog4j.configuration=file:${_KLOK_KAFKA_ASSETS}/${prefix}log4j.properties"
    else
        printf '%s\n' "-Dlog4j2.configurationFile=${_KLOK_KAFKA_ASSETS}/${prefix}log4j2.properties"
    fi
}

# Check a TCP port number.
_klok_kafka_check_port() {
    if [[ ! "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
        _klok_kafka_err "bad port '$1'"
        return 1
    fi
}

# Status 0 if something accepts TCP connections on 127.0.0.1:PORT.
_klok_kafka_port_open() {
    (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print the last lines of the broker's logs in DATA_DIR on stderr.
_klok_kafka_tail_logs() {
    local data_dir="$1" f
    for f in "$data_dir/kafka.log" "$data_dir/server.log"; do
        [[ -s "$f" ]] || continue
        printf -- '---- last lines of %s ----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

# --------------------------------------------------------------------------------------------
# Version and jars
# --------------------------------------------------------------------------------------------

# klok_kafka_version: echo the selected Kafka version.
klok_kafka_version() {
    printf '%s\n' "${KLOK_KAFKA_VERSION:-$_KLOK_KAFKA_DEFAULT_VERSION}"
}

# Echo the cache directory for VERSION (holds libs/, .complete, fetch.log).
_klok_kafka_cache_dir() {
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/klok/kafka-$1"
}

# klok_kafka_libs VERSION: echo the libs directory of VERSION (fetched or not).
klok_kafka_libs() {
    printf '%s/libs\n' "$(_klok_kafka_cache_dir "${1:?klok_kafka_libs VERSION}")"
}

# Check that DIR has the jars a usable broker needs (broker, tools, logging binding).
_klok_kafka_libs_ok() {
    local dir="$1" version="$2" major="$3" jar
    local -a need=("kafka_2.13-${version}.jar" "kafka-tools-${version}.jar" "kafka-clients-${version}.jar")
    if [[ "$major" == 3 ]]; then
        need+=(slf4j-reload4j-*.jar)
    else
        need+=(log4j-slf4j-impl-*.jar log4j-core-*.jar)
    fi
    for jar in "${need[@]}"; do
        # shellcheck disable=SC2086 # the glob in $jar is meant to expand
        if ! compgen -G "$dir/"$jar >/dev/null; then
            _klok_kafka_err "fetched jars lack $jar"
            return 1
        fi
    done
}

# Resolve into a fresh temp dir next to LIBS, check it, then rename it into place.
# Runs under the cache lock; appends Maven's output to LOG.
_klok_kafka_fetch_locked() {
    local version="$1" major="$2" base="$3" log="$4" tmp
    rm -rf "$base"/libs.tmp.* # leftovers of an interrupted fetch
    tmp="$(mktemp -d "$base/libs.tmp.XXXXXX")" || return 1
    # Maven runs on a copy of the POM so that nothing (target/) is written into the repo.
    cp "${_KLOK_KAFKA_ASSETS}/pom-${major}.xml" "$tmp/pom.xml" || return 1
    printf '== %s fetch kafka %s\n' "$(date -u +%FT%TZ)" "$version" >>"$log"
    if ! (cd "$tmp" && "${MVN:-mvn}" -q -B -Dstyle.color=never -f pom.xml "-Dkafka.version=${version}" \
        dependency:copy-dependencies "-DoutputDirectory=$tmp/jars") >>"$log" 2>&1; then
        _klok_kafka_err "maven could not resolve Kafka ${version}; see $log:"
        tail -n 20 "$log" >&2
        rm -rf "$tmp"
        return 1
    fi
    if ! _klok_kafka_libs_ok "$tmp/jars" "$version" "$major"; then
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$base/libs" && mv "$tmp/jars" "$base/libs" && rm -rf "$tmp" || return 1
    # The marker is written last: a fetch interrupted before this line is redone next time.
    printf 'kafka %s fetched %s\n' "$version" "$(date -u +%FT%TZ)" >"$base/.complete"
}

# klok_kafka_fetch VERSION: resolve the broker and tools jars of VERSION from Maven Central
# into ${XDG_CACHE_HOME:-$HOME/.cache}/klok/kafka-VERSION/libs, once. Quiet when cached;
# Maven's output goes to kafka-VERSION/fetch.log. Concurrent callers wait on a lock.
klok_kafka_fetch() {
    local version="${1:?klok_kafka_fetch VERSION}" major base lock rc=0
    major="$(_klok_kafka_major "$version")" || return 1
    base="$(_klok_kafka_cache_dir "$version")"
    [[ -f "$base/.complete" && -d "$base/libs" ]] && return 0

    mkdir -p "$base" || return 1
    exec {lock}>"$base/.lock" || return 1
    if command -v flock >/dev/null && ! flock -w 900 "$lock"; then
        _klok_kafka_err "timed out waiting for the fetch lock $base/.lock"
        exec {lock}>&-
        return 1
    fi
    if [[ ! -f "$base/.complete" || ! -d "$base/libs" ]]; then
        rm -f "$base/.complete"
        _klok_kafka_info "fetching Kafka ${version} jars from Maven Central (log: $base/fetch.log)"
        _klok_kafka_fetch_locked "$version" "$major" "$base" "$base/fetch.log" || rc=1
    fi
    exec {lock}>&-
    return "$rc"
}

# Run a Kafka command-line tool class of VERSION with a small, fast-starting JVM.
# Usage: _klok_kafka_tool VERSION CLASS ARGS...
_klok_kafka_tool() {
    local version="$1" class="$2" major libs java
    shift 2
    major="$(_klok_kafka_major "$version")" || return 1
    libs="$(klok_kafka_libs "$version")"
    java="$(_klok_kafka_java)"
    "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Djava.awt.headless=true "$(_klok_kafka_log_opt "$major" tools)" \
        -cp "$libs/*" "$class" "$@"
}

# --------------------------------------------------------------------------------------------
# Broker lifecycle
# --------------------------------------------------------------------------------------------

# Status 0 if PID is a live java process running kafka.Kafka with DATA_DIR's server.properties.
_klok_kafka_pid_is_broker() {
    local pid="$1" data_dir="$2" exe cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    # A zombie (dead, not yet reaped) has an empty command line: it counts as stopped.
    # (braces: the redirection's own error, when the process just went away, is silenced too)
    cmdline="$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null)" || return 1
    exe="${cmdline%%$'\n'*}"
    [[ "${exe##*/}" == java ]] || return 1
    [[ "$cmdline" == *$'\n'kafka.Kafka$'\n'"$data_dir/server.properties"* ]]
}

# Status 0 if process PID exists and is not a zombie. Right after the launch the child may
# still be the forked shell that has not yet exec'ed java, so the start-up wait checks this
# rather than _klok_kafka_pid_is_broker.
_klok_kafka_pid_alive() {
    local pid="$1" stat
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != [ZX] ]]
}

# klok_kafka_running DATA_DIR: status 0 if the broker started from DATA_DIR is running.
klok_kafka_running() {
    local data_dir="${1:?klok_kafka_running DATA_DIR}" pid
    data_dir="$(cd "$data_dir" 2>/dev/null && pwd -P)" || return 1
    [[ -f "$data_dir/kafka.pid" ]] || return 1
    pid="$(<"$data_dir/kafka.pid")"
    _klok_kafka_pid_is_broker "$pid" "$data_dir"
}

# Write DATA_DIR/server.properties for a single-node KRaft broker+controller.
_klok_kafka_write_config() {
    local data_dir="$1" port="$2" cport="$3" major="$4"
    {
        printf '# Written by klok_kafka_start (scripts/lib/kafka.sh) at every start.\n'
        printf '# Single-node KRaft (combined broker+controller) for tests; loopback only.\n'
        printf 'process.roles=broker,controller\n'
        printf 'node.id=1\n'
        printf 'controller.quorum.voters=1@127.0.0.1:%s\n' "$cport"
        printf 'listeners=PLAINTEXT://127.0.0.1:%s,CONTROLLER://127.0.0.1:%s\n' "$port" "$cport"
        printf 'advertised.listeners=PLAINTEXT://127.0.0.1:%s\n' "$port"
        printf 'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n'
        printf 'inter.broker.listener.name=PLAINTEXT\n'
        printf 'controller.listener.names=CONTROLLER\n'
        printf 'log.dirs=%s/logs\n' "$data_dir"
        printf 'num.partitions=1\n'
        printf 'default.replication.factor=1\n'
        printf 'min.insync.replicas=1\n'
        printf 'auto.create.topics.enable=false\n'
        printf 'group.initial.rebalance.delay.ms=0\n'
        # Internal topics on one node: replication factor 1, and fewer partitions than the
        # defaults (50) so the first group / transaction on a fresh broker is quick.
        printf 'offsets.topic.replication.factor=1\n'
        printf 'offsets.topic.num.partitions=8\n'
        printf 'transaction.state.log.replication.factor=1\n'
        printf 'transaction.state.log.min.isr=1\n'
        printf 'transaction.state.log.num.partitions=8\n'
        # The log cleaner's default 128 MiB dedupe buffer is a quarter of this small heap.
        printf 'log.cleaner.dedupe.buffer.size=16777216\n'
        # Two cores: fewer threads than the defaults.
        printf 'num.network.threads=2\n'
        printf 'num.io.threads=4\n'
        printf 'num.recovery.threads.per.data.dir=1\n'
        printf 'background.threads=4\n'
        # After a kill -9 the restarted controller waits for the old broker session to time
        # out before the broker registers again: 9 s by default, ~4 s with these (measured).
        printf 'broker.session.timeout.ms=4000\n'
        printf 'broker.heartbeat.interval.ms=500\n'
        if [[ "$major" != 3 ]]; then
            # Share groups (4.x) keep state in an internal topic that defaults to RF 3.
            printf 'share.coordinator.state.topic.replication.factor=1\n'
            printf 'share.coordinator.state.topic.min.isr=1\n'
        fi
    } >"$data_dir/server.properties"
}

# Echo a random Kafka cluster id (16 random bytes, URL-safe base64 without padding).
# One starting with '-' would be read as an option by the tool's parser: draw again.
_klok_kafka_cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "$id" == -* ]] || break
    done
    printf '%s\n' "$id"
}

# Format DATA_DIR/logs unless meta.properties says it already is. Records the version.
# A static quorum (controller.quorum.voters) needs none of --standalone /
# --initial-controllers, on 3.9 and on 4.x alike.
_klok_kafka_format() {
    local data_dir="$1" version="$2" have
    if [[ -f "$data_dir/kafka.version" ]]; then
        have="$(<"$data_dir/kafka.version")"
        if [[ "$have" != "$version" ]]; then
            _klok_kafka_err "$data_dir was formatted by Kafka $have, not $version; remove it first"
            return 1
        fi
    fi
    [[ -f "$data_dir/logs/meta.properties" ]] && return 0
    if ! _klok_kafka_tool "$version" kafka.tools.StorageTool format --ignore-formatted \
        -t "$(_klok_kafka_cluster_id)" -c "$data_dir/server.properties" \
        >"$data_dir/format.log" 2>&1; then
        _klok_kafka_err "formatting $data_dir/logs failed:"
        cat "$data_dir/format.log" >&2
        return 1
    fi
    printf '%s\n' "$version" >"$data_dir/kafka.version"
}

# Launch the broker in the background; pid into DATA_DIR/kafka.pid, output into kafka.log.
_klok_kafka_launch() {
    local data_dir="$1" version="$2" major="$3" java libs pid
    java="$(_klok_kafka_java)"
    libs="$(klok_kafka_libs "$version")"
    # nohup execs java in place, so $! is the broker's own pid.
    nohup "$java" -Xmx512m -Xms256m \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true "-Dkafka.logs.dir=$data_dir" \
        "$(_klok_kafka_log_opt "$major" broker)" \
        -cp "$libs/*" kafka.Kafka "$data_dir/server.properties" \
        </dev/null >"$data_dir/kafka.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$data_dir/kafka.pid"
}

# Status 0 if the broker on 127.0.0.1:PORT answers a metadata request listing a broker.
# Uses kcat if present, else Debian's python3-confluent-kafka, else the JVM TopicCommand.
_klok_kafka_probe() {
    local port="$1" version="$2" py="${KLOK_PYTHON:-/usr/bin/python3}"
    if command -v kcat >/dev/null; then
        kcat -b "127.0.0.1:$port" -L -m 3 2>/dev/null | grep -q '^ *[1-9][0-9]* brokers:'
    elif [[ -x "$py" ]] && "$py" -c 'import confluent_kafka' 2>/dev/null; then
        "$py" - "127.0.0.1:$port" <<'EOF' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=3)
sys.exit(0 if md.brokers else 1)
EOF
    else
        _klok_kafka_tool "$version" org.apache.kafka.tools.TopicCommand \
            --bootstrap-server "127.0.0.1:$port" --list >/dev/null 2>&1
    fi
}

# Poll readiness for up to TIMEOUT seconds; fail early if the broker process dies.
# Usage: _klok_kafka_wait_ready DATA_DIR PORT VERSION TIMEOUT
_klok_kafka_wait_ready() {
    local data_dir="$1" port="$2" version="$3" timeout="$4" deadline pid
    deadline=$(($(_klok_kafka_now) + timeout))
    pid="$(<"$data_dir/kafka.pid")" || return 1
    while :; do
        if ! _klok_kafka_pid_alive "$pid"; then
            _klok_kafka_err "broker in $data_dir exited during start-up"
            _klok_kafka_tail_logs "$data_dir"
            return 1
        fi
        # Probe only once the port accepts connections: that check costs nothing.
        if _klok_kafka_port_open "$port" && _klok_kafka_probe "$port" "$version"; then
            if _klok_kafka_pid_is_broker "$pid" "$data_dir"; then
                return 0
            fi
            _klok_kafka_err "127.0.0.1:$port answers, but not from the broker of $data_dir (pid $pid)"
            return 1
        fi
        if (($(_klok_kafka_now) >= deadline)); then
            _klok_kafka_err "broker in $data_dir not ready on 127.0.0.1:$port after ${timeout}s"
            _klok_kafka_tail_logs "$data_dir"
            return 1
        fi
        sleep 0.25
    done
}

# klok_kafka_start DATA_DIR PORT CONTROLLER_PORT [VERSION]
# Start (or find running) a single-node KRaft broker whose files all live in DATA_DIR,
# listening on 127.0.0.1:PORT (clients) and 127.0.0.1:CONTROLLER_PORT (controller), and
# return once it answers metadata requests (deadline KLOK_KAFKA_START_TIMEOUT, 90 s).
# On timeout: print the tail of its logs, stop the broker this call started, return 1.
klok_kafka_start() {
    local data_dir="${1:?klok_kafka_start DATA_DIR PORT CONTROLLER_PORT [VERSION]}"
    local port="${2:?klok_kafka_start: PORT missing}" cport="${3:?klok_kafka_start: CONTROLLER_PORT missing}"
    local version="${4:-$(klok_kafka_version)}" timeout="${KLOK_KAFKA_START_TIMEOUT:-90}" major p
    _klok_kafka_check_port "$port" && _klok_kafka_check_port "$cport" || return 1
    major="$(_klok_kafka_major "$version")" || return 1
    mkdir -p "$data_dir" && data_dir="$(cd "$data_dir" && pwd -P)" || return 1

    if klok_kafka_running "$data_dir"; then
        _klok_kafka_wait_ready "$data_dir" "$port" "$version" "$timeout"
        return
    fi
    for p in "$port" "$cport"; do
        if _klok_kafka_port_open "$p"; then
            _klok_kafka_err "port $p on 127.0.0.1 is already in use"
            return 1
        fi
    done
    klok_kafka_fetch "$version" || return 1
    _klok_kafka_write_config "$data_dir" "$port" "$cport" "$major" || return 1
    _klok_kafka_format "$data_dir" "$version" || return 1
    _klok_kafka_launch "$data_dir" "$version" "$major" || return 1
    if ! _klok_kafka_wait_ready "$data_dir" "$port" "$version" "$timeout"; then
        # Leave no half-started broker behind (it was started by this call).
        klok_kafka_stop "$data_dir" || true
        return 1
    fi
}

# klok_kafka_stop DATA_DIR: stop the broker started from DATA_DIR (SIGTERM, then SIGKILL
# after KLOK_KAFKA_STOP_TIMEOUT seconds) and remove its pid file. No-op if not running.
klok_kafka_stop() {
    local data_dir="${1:?klok_kafka_stop DATA_DIR}" timeout="${KLOK_KAFKA_STOP_TIMEOUT:-30}"
    local pid deadline
    data_dir="$(cd "$data_dir" 2>/dev/null && pwd -P)" || return 0
    [[ -f "$data_dir/kafka.pid" ]] || return 0
    pid="$(<"$data_dir/kafka.pid")"
    if _klok_kafka_pid_is_broker "$pid" "$data_dir"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$(($(_klok_kafka_now) + timeout))
        while _klok_kafka_pid_is_broker "$pid" "$data_dir" && (($(_klok_kafka_now) < deadline)); do
            sleep 0.1
        done
        if _klok_kafka_pid_is_broker "$pid" "$data_dir"; then
            _klok_kafka_err "broker $pid did not stop within ${timeout}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$(($(_klok_kafka_now) + 10))
            while _klok_kafka_pid_is_broker "$pid" "$data_dir" && (($(_klok_kafka_now) < deadline)); do
                sleep 0.1
            done
        fi
        # Reap it if this shell is its parent (no-op otherwise).
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$data_dir/kafka.pid"
    if _klok_kafka_pid_is_broker "$pid" "$data_dir"; then
        _klok_kafka_err "broker $pid is still running"
        return 1
    fi
}

# --------------------------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------------------------

# Status 0 if NAME is a legal Kafka topic name.
_klok_kafka_topic_ok() {
    [[ "$1" =~ ^[A-Za-z0-9._-]{1,249}$ && "$1" != . && "$1" != .. ]]
}

# JVM fallback: one TopicCommand per topic, all in parallel, then one describe to verify.
# SPECs as for topics.py: NAME:PARTITIONS[:K=V,...].
_klok_topics_create_jvm() {
    local bootstrap="$1" version spec name parts conf item rc=0 pid out
    shift
    version="$(klok_kafka_version)"
    klok_kafka_fetch "$version" || return 1
    out="$(mktemp -d)" || return 1
    local -a pids=() names=() args items
    for spec in "$@"; do
        IFS=: read -r name parts conf <<<"$spec"
        args=(--bootstrap-server "$bootstrap" --create --if-not-exists --topic "$name"
            --partitions "$parts" --replication-factor 1)
        if [[ -n "$conf" ]]; then
            IFS=, read -r -a items <<<"$conf"
            for item in "${items[@]}"; do args+=(--config "$item"); done
        fi
        _klok_kafka_tool "$version" org.apache.kafka.tools.TopicCommand "${args[@]}" \
            >"$out/$name.log" 2>&1 &
        pids+=("$!")
        names+=("$name")
    done
    for pid in "${!pids[@]}"; do
        if ! wait "${pids[$pid]}"; then
            _klok_kafka_err "creating ${names[$pid]} failed:"
            cat "$out/${names[$pid]}.log" >&2
            rc=1
        fi
    done
    if ((rc == 0)); then
        _klok_kafka_tool "$version" org.apache.kafka.tools.TopicCommand \
            --bootstrap-server "$bootstrap" --describe >"$out/describe.log" 2>&1 || rc=1
        for spec in "$@"; do
            IFS=: read -r name parts conf <<<"$spec"
            if ! grep -Eq "^Topic: ${name//./\\.}[[:space:]].*PartitionCount: ${parts}[[:space:]]" \
                "$out/describe.log"; then
                _klok_kafka_err "topic $name does not have $parts partitions"
                rc=1
            fi
        done
    fi
    rm -rf "$out"
    return "$rc"
}

# Which implementation klok_topics_create uses: echo "python" or "jvm".
_klok_topics_tool() {
    local choice="${KLOK_KAFKA_TOPICS_TOOL:-auto}" py="${KLOK_PYTHON:-/usr/bin/python3}"
    if [[ "$choice" == auto ]]; then
        if [[ -x "$py" ]] && "$py" -c 'import confluent_kafka' 2>/dev/null; then
            choice=python
        else
            choice=jvm
        fi
    fi
    printf '%s\n' "$choice"
}

# klok_topics_create BOOTSTRAP PREFIX PARTITIONS QUEUE...
# Create, if missing, PREFIX.commands and PREFIX.status (PARTITIONS partitions, kept forever:
# retention.ms=-1, cleanup.policy=delete), PREFIX.executions.QUEUE.high and
# PREFIX.executions.QUEUE.normal for each QUEUE (PARTITIONS partitions), and PREFIX.dlq
# (1 partition); then check every partition count. An existing topic with another count fails.
klok_topics_create() {
    local usage="klok_topics_create BOOTSTRAP PREFIX PARTITIONS QUEUE..."
    local bootstrap="${1:?$usage}" prefix="${2:?$usage}" parts="${3:?$usage}" queue name
    shift 3
    if (($# == 0)); then
        _klok_kafka_err "usage: $usage"
        return 1
    fi
    if [[ ! "$parts" =~ ^[1-9][0-9]*$ ]]; then
        _klok_kafka_err "bad partition count '$parts'"
        return 1
    fi
    local audit="retention.ms=-1,cleanup.policy=delete"
    local -a specs=("$prefix.commands:$parts:$audit" "$prefix.status:$parts:$audit")
    for queue in "$@"; do
        specs+=("$prefix.executions.$queue.high:$parts" "$prefix.executions.$queue.normal:$parts")
    done
    specs+=("$prefix.dlq:1")
    for name in "${specs[@]}"; do
        if ! _klok_kafka_topic_ok "${name%%:*}"; then
            _klok_kafka_err "illegal topic name '${name%%:*}'"
            return 1
        fi
    done

    case "$(_klok_topics_tool)" in
    python) "${KLOK_PYTHON:-/usr/bin/python3}" "${_KLOK_KAFKA_ASSETS}/topics.py" "$bootstrap" "${specs[@]}" ;;
    jvm) _klok_topics_create_jvm "$bootstrap" "${specs[@]}" ;;
    *)
        _klok_kafka_err "KLOK_KAFKA_TOPICS_TOOL must be auto, python or jvm"
        return 1
        ;;
    esac
}
