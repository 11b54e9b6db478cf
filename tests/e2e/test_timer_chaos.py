#!/usr/bin/python3
"""Reliability tests of klok's timer service against the real broker: exactly-once firing across
kill -9, restarts and rebalances (DESIGN.md §3, §8).

Each due occurrence must produce exactly one ExecutionDue (execution id
"<job_id>:<due_ms>:<attempt>") on klok.executions.<queue>.<high|normal> and exactly one FIRED on
klok.status, both read with read_committed, and never before its due time.

Tests: kill -9 of the timer at random moments during load; two timer instances with a clean
stop, a takeover after the session timeout and a kill -9; poison and foreign-partition commands;
a timer rebuilt from an empty store (a lost data dir, a replaced machine) must not fire again what
already fired.  The load tests also check that no earlier occurrence of any job fired again.

Runs against the stack scripts/test (or klok_stack_up) started; it kills and restarts the timer
itself, with the command line the stack uses, and leaves a running timer behind (pid in
$KLOK_RUN_DIR/timer.pid) so the scripts' teardown stops it.  The second timer instance of the
rebalance test writes $KLOK_RUN_DIR/timer-1.pid and is stopped before the script exits.

Environment: KLOK_RUN_DIR, KLOK_BUILD_DIR, KLOK_API, KLOK_BOOTSTRAP, KLOK_PORT_BASE (all set by
scripts/test); optional KLOK_CHAOS_SEED (random kill moments), KLOK_CHAOS_JOBS (3000),
KLOK_CHAOS_KILLS (10), KLOK_CHAOS_REBALANCE_JOBS (2000), KLOK_CHAOS_DEBUG=1 (print the latest
jobs outside outages).
Prints one line per test and closes with "N passed, M failed"; exit code 1 on any failure.
Every wait is for a condition, with a deadline; the only bare sleeps pick kill moments and the
length of one planned outage.
"""
import bisect
import concurrent.futures
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

from confluent_kafka import Producer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (API, BOOTSTRAP, BUILD_DIR, FINAL, PORT_BASE, PREFIX, ROOT,  # noqa: E402
                      RUN_DIR, WIRE, Failure, check, http, job_state, read_topic, run_tests,
                      submit, wait_all_succeeded, wait_until)

TIMER_BIN = os.path.join(BUILD_DIR, "timer-service", "klok-timer")
PARTITIONS = 4
EXEC_TOPICS = [PREFIX + ".executions.default.normal", PREFIX + ".executions.default.high"]
STATUS_TOPIC = PREFIX + ".status"
SEED = int(os.environ.get("KLOK_CHAOS_SEED", str(int(time.time()))))
RNG = random.Random(SEED)


def log(fmt, *args):
    print("  " + (fmt % args if args else fmt), flush=True)


def now_ms():
    return int(time.time() * 1000)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def murmur2(data: bytes) -> int:
    """Kafka's Java murmur2 (seed 0x9747b28c), as an unsigned 32-bit value."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail, rem = length - length % 4, length % 4
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_of(job_id, n=PARTITIONS):
    return (murmur2(job_id.encode()) & 0x7FFFFFFF) % n


def pct(sorted_vals, q):
    if not sorted_vals:
        return -1
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


# --- processes ---------------------------------------------------------------------------------

def pid_alive(pid):
    """True if any thread of pid still runs.  A killed process whose threads have all exited
    (a zombie, not reaped yet) counts as dead; one whose main thread is a zombie while others
    are still exiting does not: those still hold its files and sockets (its admin port)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except OSError:
            pass
    return False


def is_timer(pid, binary=b"klok-timer"):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return binary in f.read()
    except OSError:
        return False


class Timer:
    """One klok-timer instance: NAME.pid, NAME.log and its config in the run directory."""

    def __init__(self, name, conf, admin_port, binary=None):
        self.name, self.conf, self.admin_port = name, conf, admin_port
        self.binary = binary or TIMER_BIN  # the executor is managed the same way
        self.pidfile = os.path.join(RUN_DIR, name + ".pid")
        self.logfile = os.path.join(RUN_DIR, name + ".log")
        self.proc = None  # the Popen of the incarnation this script started, to reap it

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self):
        if self.proc is not None:
            self.proc.poll()  # reap our own child so it is not left a zombie
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def start(self):
        check(not self.alive(), "%s is already running (pid %s)" % (self.name, self.pid()))
        with open(self.logfile, "ab") as out:
            # Its own session, like a service: a Ctrl-C of the test run does not reach it; the
            # pid file lets scripts/test's teardown (or this script's finally) stop it.
            self.proc = subprocess.Popen([self.binary, "--config", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)
        return time.time()

    def _wait_dead(self, pid, deadline_s):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc is not None and self.proc.pid == pid:
                try:
                    self.proc.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
            if not pid_alive(pid):
                return True
            time.sleep(0.01)
        return False

    def kill9(self):
        pid = self.pid()
        check(pid is not None and pid_alive(pid), "%s is not running to be killed" % self.name)
        os.kill(pid, signal.SIGKILL)
        t = time.time()
        check(self._wait_dead(pid, 10), "%s (pid %d) still alive 10 s after SIGKILL" % (self.name, pid))
        return t

    def stop(self, deadline_s=35):
        """SIGTERM, wait for the exit (deadline), then SIGKILL.  Returns the SIGTERM time."""
        pid = self.pid()
        t = time.time()
        if pid is None or not pid_alive(pid) or \
                not is_timer(pid, os.path.basename(self.binary).encode()):
            return t
        os.kill(pid, signal.SIGTERM)
        if not self._wait_dead(pid, deadline_s):
            os.kill(pid, signal.SIGKILL)
            self._wait_dead(pid, 10)
            raise Failure("%s (pid %d) ignored SIGTERM for %d s" % (self.name, pid, deadline_s))
        return t

    def admin(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                        timeout=1) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return None, ""

    def ready(self):
        return self.admin("/readyz")[0] == 200

    def metric(self, name, labels=""):
        status, text = self.admin("/metrics")
        if status != 200:
            return None
        m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
        return float(m.group(1)) if m else None

    def owned(self):
        return self.metric("klok_timer_partitions", '{state="owned"}')

    def log_tail(self, n=15):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def timer0():
    return Timer("timer", os.path.join(RUN_DIR, "timer.conf"), PORT_BASE + 81)


def ensure_running(t):
    if not t.alive():
        log("%s was not running; starting it", t.name)
        t.start()
    wait_until("%s /readyz" % t.name, 60, t.ready, 0.05)


# --- reading and checking the topics -----------------------------------------------------------



def submit_spread(n, start_ms, spread_ms, tag):
    """n one-shot noop jobs due from start_ms over spread_ms, posted in due order."""
    def post(i):
        due = start_ms + i * spread_ms // n
        return due, submit({"name": "%s-%d" % (tag, i), "task": "noop",
                            "schedule": {"type": "at", "at": iso(due)}})
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(n)))
    accept_s = time.monotonic() - t0
    due_of = {r["job_id"]: due for due, r in results}
    check(len(due_of) == n, "job ids are not unique")
    log("accepted %d jobs over HTTP in %.2f s (%.0f/s); the last %s its first due time",
        n, accept_s, n / accept_s, "before" if time.time() * 1000 < start_ms else "AFTER")
    return due_of


def verify_exactly_once(due_of, since_ms):
    """The exactly-once properties over every ExecutionDue and FIRED of the jobs in due_of.
    Returns {execution_id: (ExecutionDue record timestamp, partition)}, the FIRED list
    [(timestamp, partition)] for reports, and the violations found (for check_exactly_once)."""
    keys = set(due_of)
    want = {"%s:%d:1" % (j, d): j for j, d in due_of.items()}

    recs = read_topic(EXEC_TOPICS, since_ms, keys=keys)
    dues = {}
    problems = []
    for m in recs:
        name, rec = WIRE.decode(m.value())
        check(name == "ExecutionDue", "a %s record on %s" % (name, m.topic()))
        eid, jid = rec["execution_id"], rec["job_id"]
        where = "%s[%d]@%d" % (m.topic(), m.partition(), m.offset())
        dues.setdefault(eid, []).append((m.timestamp()[1], m.partition(), where, rec))
        if eid not in want or want[eid] != jid:
            problems.append("unexpected execution id %s (job %s) at %s" % (eid, jid, where))
            continue
        due = due_of[jid]
        if rec["scheduled_ms"] != due or rec["attempt"] != 1:
            problems.append("%s at %s: scheduled_ms %s attempt %s, wanted %d, 1"
                            % (eid, where, rec["scheduled_ms"], rec["attempt"], due))
        fired_at = min(m.timestamp()[1], rec["ts_ms"])
        if fired_at < due:
            problems.append("%s fired %d ms before its due time (%s)" % (eid, due - fired_at, where))
        if m.partition() != partition_of(jid):
            problems.append("%s on partition %d, murmur2 says %d (%s)"
                            % (eid, m.partition(), partition_of(jid), where))
    dup = {e: v for e, v in dues.items() if len(v) > 1}
    for e, v in list(dup.items())[:10]:
        problems.append("execution id %s %d times: %s" % (e, len(v), [x[2] for x in v]))
    missing = [e for e in want if e not in dues]
    if missing:
        problems.append("%d of %d jobs have no committed ExecutionDue, e.g. %s"
                        % (len(missing), len(want), missing[:5]))
    per_job = {}
    for e in dues:
        per_job[e.split(":")[0]] = per_job.get(e.split(":")[0], 0) + len(dues[e])
    multi = {j: c for j, c in per_job.items() if c != 1}
    if multi:
        problems.append("%d jobs with more than one ExecutionDue, e.g. %s"
                        % (len(multi), list(multi.items())[:5]))

    fired = {}
    fired_list = []
    for m in read_topic([STATUS_TOPIC], since_ms, keys=keys):
        name, rec = WIRE.decode(m.value())
        if name != "StatusEvent" or rec["status"] != "FIRED":
            continue
        eid, jid = rec["execution_id"], rec["job_id"]
        where = "%s[%d]@%d" % (m.topic(), m.partition(), m.offset())
        fired.setdefault(eid, []).append(where)
        fired_list.append((m.timestamp()[1], m.partition()))
        if m.partition() != partition_of(jid):
            problems.append("FIRED of %s on status partition %d, the job's is %d (%s)"
                            % (eid, m.partition(), partition_of(jid), where))
        if eid in want and rec["scheduled_ms"] != due_of[jid]:
            problems.append("FIRED %s with scheduled_ms %s" % (eid, rec["scheduled_ms"]))
        if eid in want and rec["ts_ms"] < due_of[jid]:
            problems.append("FIRED %s %d ms before its due time" % (eid, due_of[jid] - rec["ts_ms"]))
    fdup = {e: v for e, v in fired.items() if len(v) != 1}
    for e, v in list(fdup.items())[:10]:
        problems.append("FIRED for %s %d times: %s" % (e, len(v), v))
    fmissing = [e for e in want if e not in fired]
    if fmissing:
        problems.append("%d executions without a committed FIRED, e.g. %s"
                        % (len(fmissing), fmissing[:5]))
    extra = [e for e in fired if e not in want]
    if extra:
        problems.append("FIRED for unexpected execution ids %s" % extra[:5])

    # Older jobs (earlier tests, earlier suites) must not fire again either.
    again, nfired = refired_since(since_ms, keys)
    if again:
        problems.append("%d earlier occurrences of other jobs FIRED again (of %d FIRED since the "
                        "test began), e.g. %s" % (len(again), nfired, again[:5]))
    # Not a failure: what the kills left in aborted (or never committed) transactions.
    raw = read_topic(EXEC_TOPICS, since_ms, isolation="read_uncommitted", keys=keys)
    log("executions topics: %d committed ExecutionDue for %d jobs; %d more records in aborted "
        "transactions (read_uncommitted)", len(recs), len(due_of), len(raw) - len(recs))
    return {e: v[0][:2] for e, v in dues.items()}, fired_list, problems


def check_exactly_once(problems):
    check(not problems, "exactly-once violated (%d findings):\n    %s"
          % (len(problems), "\n    ".join(problems[:30])))


def refired_since(since_ms, skip_jobs):
    """Occurrences of jobs not in skip_jobs with a FIRED at/after since_ms that had FIRED before:
    returns ([(execution id, [where each FIRED is])], how many FIRED since since_ms)."""
    new = {}
    for m in read_topic([STATUS_TOPIC], since_ms):
        if (m.key() or b"").decode(errors="replace") in skip_jobs:
            continue
        name, rec = WIRE.decode(m.value())
        if name == "StatusEvent" and rec["status"] == "FIRED":
            new[rec["execution_id"]] = rec["job_id"]
    if not new:
        return [], 0
    where = {}
    for m in read_topic([STATUS_TOPIC], 0, keys=set(new.values())):
        name, rec = WIRE.decode(m.value())
        if name == "StatusEvent" and rec["status"] == "FIRED" and rec["execution_id"] in new:
            where.setdefault(rec["execution_id"], []).append("status[%d]@%d %s" % (
                m.partition(), m.offset(), iso(m.timestamp()[1])[11:]))
    return sorted((e, w) for e, w in where.items() if len(w) > 1), len(new)


def lateness_report(due_of, dues, outages, margin_ms=100):
    """Lateness percentiles of ExecutionDue (record timestamp minus due time), also excluding
    jobs due during an outage (from margin_ms before a kill until /readyz answered 200 again)
    when outages is not None."""
    late_all, late_ok, worst = [], [], []
    for jid, due in due_of.items():
        if "%s:%d:1" % (jid, due) not in dues:
            continue
        ts, _ = dues["%s:%d:1" % (jid, due)]
        late_all.append(ts - due)
        if not any(a - margin_ms <= due <= b for a, b in outages or []):
            late_ok.append(ts - due)
            worst.append((ts - due, due, jid))
    if outages and worst and os.environ.get("KLOK_CHAOS_DEBUG"):
        for late, due, jid in sorted(worst)[-8:]:
            a, b = min(outages, key=lambda o: min(abs(due - o[0]), abs(due - o[1])))
            log("late %d ms: %s due %+d ms from a kill, %+d ms from ready again (outage %d ms)",
                late, jid, due - a, due - b, b - a)
    late_all.sort()
    late_ok.sort()
    if outages is not None:
        log("firing lateness, %d jobs not due during an outage: p50 %d ms, p99 %d ms, max %d ms",
            len(late_ok), pct(late_ok, .5), pct(late_ok, .99), late_ok[-1] if late_ok else -1)
    log("firing lateness, all %d jobs: p50 %d ms, p99 %d ms, max %d ms",
        len(late_all), pct(late_all, .5), pct(late_all, .99), late_all[-1] if late_all else -1)


def fired_gaps(fired_list, from_ms, to_ms):
    """Per status partition: the largest gap between consecutive FIRED timestamps that starts
    in [from_ms, to_ms] (while jobs were coming due), and where it started."""
    by_p = {}
    for ts, p in fired_list:
        by_p.setdefault(p, []).append(ts)
    out = {}
    for p, tss in sorted(by_p.items()):
        tss = sorted(t for t in tss if from_ms <= t <= to_ms + 60000)
        best = (0, None)
        for a, b in zip(tss, tss[1:]):
            if a <= to_ms and b - a > best[0]:
                best = (b - a, a)
        out[p] = best
    return out


# --- tests -------------------------------------------------------------------------------------

def test_kill9_timer_during_load_fires_each_occurrence_exactly_once():
    n = int(os.environ.get("KLOK_CHAOS_JOBS", "3000"))
    min_kills = int(os.environ.get("KLOK_CHAOS_KILLS", "10"))
    spread_ms = 25000
    t = timer0()
    ensure_running(t)
    since_ms = now_ms() - 5000
    start_ms = now_ms() + 7000
    end_ms = start_ms + spread_ms
    due_of = submit_spread(n, start_ms, spread_ms, "chaos-kill")

    kills = []      # {"kill", "restart", "ready", "before_ready"} in wall seconds
    outages = []    # (down_from_ms, ready_again_ms)
    self_exits = []
    down_since = None
    restart_t = None
    hard_end = time.monotonic() + spread_ms / 1000 + 120

    def note_ready():
        nonlocal down_since
        if down_since is not None and t.ready():
            up = time.time()
            outages.append((int(down_since * 1000), int(up * 1000)))
            kills[-1]["ready"] = up
            down_since = None
        return down_since is None

    def watch(seconds):
        """Poll for seconds: note readiness; act as the supervisor if the timer exits alone."""
        nonlocal down_since, restart_t
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            note_ready()
            if not t.alive():
                self_exits.append((time.time(), t.log_tail(5)))
                log("the timer exited by itself (%d so far); last log lines:\n%s",
                    len(self_exits), t.log_tail(5))
                if down_since is None:
                    down_since = time.time()
                    kills.append({"kill": down_since, "restart": None, "ready": None,
                                  "before_ready": False, "self": True})
                restart_t = t.start()
            time.sleep(0.02)

    # Wait until the first job is due, by the clock (the scenario's start).
    watch(max(0.0, start_ms / 1000 - time.time()))
    while sum(not k["self"] for k in kills) < min_kills or time.time() * 1000 < end_ms:
        check(time.monotonic() < hard_end, "kill loop ran out of time")
        early = restart_t is not None and RNG.random() < 0.25
        if early:
            # Kill during start-up or restore, a random moment after the restart.
            watch(max(0.0, restart_t + RNG.uniform(0.05, 0.6) - time.time()))
        else:
            end = time.monotonic() + 60
            while not note_ready():
                check(time.monotonic() < end, "restarted timer not ready within 60 s:\n"
                      + t.log_tail())
                watch(0.02)
            watch(RNG.uniform(0.2, 2.0))
        before_ready = down_since is not None
        k = t.kill9()
        if down_since is None:
            down_since = k
        restart_t = t.start()
        kills.append({"kill": k, "restart": restart_t, "ready": None,
                      "before_ready": before_ready, "self": False})
    end = time.monotonic() + 60
    while not note_ready():
        check(time.monotonic() < end, "timer not ready within 60 s of the last restart:\n"
              + t.log_tail())
        watch(0.02)
    nkill = sum(1 for k in kills if not k["self"])
    log("seed %d: %d kill -9 (%d during start-up/restore), %d self-exits, %d outages",
        SEED, nkill, sum(1 for k in kills if k["before_ready"]), len(self_exits), len(outages))

    wait_all_succeeded(due_of, 120 + spread_ms / 1000)
    log("all %d SUCCEEDED in the view %.1f s after the last due time",
        n, time.time() - end_ms / 1000)
    dues, fired_list, problems = verify_exactly_once(due_of, since_ms)

    ready_gaps = sorted(int(1000 * (k["ready"] - k["kill"])) for k in kills if k["ready"])
    fire_ts = sorted(ts for ts, _ in fired_list)
    fire_gaps = []
    for k in kills:
        i = bisect.bisect_right(fire_ts, int(k["kill"] * 1000))
        if i < len(fire_ts) and fire_ts[i] <= end_ms + 60000:
            fire_gaps.append(fire_ts[i] - int(k["kill"] * 1000))
    fire_gaps.sort()
    log("kill -9 -> /readyz again: min %d ms, median %d ms, max %d ms (%d restarts reached ready)",
        ready_gaps[0] if ready_gaps else -1, pct(ready_gaps, .5),
        ready_gaps[-1] if ready_gaps else -1, len(ready_gaps))
    log("kill -9 -> next committed FIRED: min %d ms, median %d ms, max %d ms",
        fire_gaps[0] if fire_gaps else -1, pct(fire_gaps, .5), fire_gaps[-1] if fire_gaps else -1)
    lateness_report(due_of, dues, outages)
    check_exactly_once(problems)
    check(nkill >= min_kills, "only %d kills" % nkill)
    check(not self_exits, "the timer exited %d times without being killed; first: %s"
          % (len(self_exits), self_exits[0][1] if self_exits else ""))


def second_timer():
    """Instance 1: timer.conf with its own instance.id, data.dir and admin.port."""
    with open(os.path.join(RUN_DIR, "timer.conf")) as f:
        lines = f.read().splitlines()
    over = {"instance.id": "1", "data.dir": os.path.join(RUN_DIR, "data", "timer-1"),
            "admin.port": str(PORT_BASE + 83)}
    out = ["# klok-timer instance 1 (written by tests/e2e/test_timer_chaos.py)"]
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key in over:
            line = "%s = %s" % (key, over.pop(key))
        out.append(line)
    out += ["%s = %s" % kv for kv in over.items()]
    conf = os.path.join(RUN_DIR, "timer-1.conf")
    with open(conf, "w") as f:
        f.write("\n".join(out) + "\n")
    return Timer("timer-1", conf, PORT_BASE + 83)


def test_two_timer_instances_share_partitions_and_survive_a_restart():
    n = int(os.environ.get("KLOK_CHAOS_REBALANCE_JOBS", "2000"))
    spread_ms = 24000
    t0, t1 = timer0(), second_timer()
    if t1.alive() and is_timer(t1.pid()):
        log("a timer-1 of an interrupted run is still running; stopping it")
        t1.stop()
    ensure_running(t0)
    # A new instance joins with an empty store, as when an operator scales out.
    subprocess.run(["rm", "-rf", os.path.join(RUN_DIR, "data", "timer-1")], check=True)
    since_ms = now_ms() - 1000
    try:
        t1.start()

        def split(a, b):
            return lambda: t0.ready() and t1.ready() and t0.owned() == a and t1.owned() == b
        tj = time.monotonic()
        wait_until("the 4 partitions to split 2/2 between the instances", 60, split(2, 2), 0.05)
        log("instance 1 joined; partitions split 2/2, both ready, in %.1f s", time.monotonic() - tj)

        start_ms = now_ms() + 6000
        end_ms = start_ms + spread_ms
        due_of = submit_spread(n, start_ms, spread_ms, "chaos-rebalance")
        events = []

        def at(offset_s):  # the scenario's clock: wait until start + offset_s
            while time.time() < start_ms / 1000 + offset_s:
                check(t0.alive(), "instance 0 exited:\n" + t0.log_tail())
                time.sleep(0.02)

        # A: clean stop of instance 1, back within the session timeout (static membership: it
        # keeps its partitions while down, gets them back on return).
        at(3)
        a = t1.stop()
        time.sleep(3)  # the outage the scenario wants, not a condition
        t1.start()
        wait_until("instance 1 ready again with its 2 partitions", 40, split(2, 2), 0.05)
        events.append(("A: SIGTERM instance 1, restart 3 s later -> ready again", time.time() - a))

        # B: clean stop of instance 1 that lasts: instance 0 takes its partitions over after the
        # session timeout; then instance 1 comes back and takes them again.
        at(8)
        b = t1.stop()
        wait_until("instance 0 to take over all 4 partitions", 40,
                   lambda: t0.ready() and t0.owned() == 4, 0.05)
        events.append(("B: SIGTERM instance 1 -> instance 0 owns all 4, restored", time.time() - b))
        b2 = time.time()
        t1.start()
        wait_until("the partitions to split 2/2 again", 40, split(2, 2), 0.05)
        events.append(("B: instance 1 restarted -> split 2/2 again, both ready", time.time() - b2))

        # C: kill -9 of instance 0, restarted at once.
        at(max(17, time.time() - start_ms / 1000 + 1))
        c = t0.kill9()
        t0.start()
        wait_until("instance 0 ready again with its 2 partitions", 40, split(2, 2), 0.05)
        events.append(("C: kill -9 instance 0, restart -> ready again", time.time() - c))
        for what, secs in events:
            log("%s: %.1f s", what, secs)

        wait_all_succeeded(due_of, 120)
        log("all %d SUCCEEDED in the view %.1f s after the last due time",
            n, time.time() - end_ms / 1000)
        dues, fired_list, problems = verify_exactly_once(due_of, since_ms)
        gaps = fired_gaps(fired_list, start_ms, end_ms)
        log("largest gap between FIRED records per partition while jobs were due: %s",
            ", ".join("p%d %.1f s (from +%.1f s)" % (p, g / 1000, ((s or start_ms) - start_ms) / 1000)
                      for p, (g, s) in gaps.items()))
        lateness_report(due_of, dues, None)
        check_exactly_once(problems)
    finally:
        t1.stop()
        try:
            os.unlink(t1.pidfile)
        except OSError:
            pass


def test_poison_and_foreign_partition_commands_are_dead_lettered():
    t = timer0()
    ensure_running(t)
    start = now_ms() - 1000
    tag = uuid.uuid4().hex[:12]
    foreign = "chaos-foreign-" + tag
    right = partition_of(foreign)
    wrong = (right + 1) % PARTITIONS
    due = now_ms() + 2000
    create = {
        "event_id": "e-" + tag, "job_id": foreign, "tenant": "default", "ts_ms": now_ms(),
        "name": "foreign", "task": "noop", "parameters": "{}", "queue": "default",
        "priority": "NORMAL",
        "schedule": {"kind": "AT", "at_ms": due, "delay_ms": None, "cron": None,
                     "timezone": "UTC", "interval_ms": None, "start_ms": None, "end_ms": None,
                     "max_runs": 0, "misfire": "FIRE_ONCE",
                     "misfire_threshold_ms": 60000, "catch_up_ms": 3600000,
                     "overlap": "ALLOW"},
        "retry": {"max_attempts": 1, "initial_backoff_ms": 1000, "multiplier": 2.0,
                  "max_backoff_ms": 60000},
        "timeout_ms": 60000, "idempotency_key": None,
    }
    good = WIRE.encode("CreateJob", create)
    fp_header = good[:10]
    poison = {
        # The right fingerprint, a body cut short.
        "chaos-truncated-" + tag: fp_header + good[10:30],
        # A negative string length (zigzag -5) where event_id starts.
        "chaos-neglen-" + tag: fp_header + b"\x09abc",
        # A string length of 2^41.
        "chaos-hugelen-" + tag: fp_header + b"\x80\x80\x80\x80\x80\x80\x01x",
    }
    # A StatusEvent on the commands topic.
    status_schema = WIRE.by_name["StatusEvent"][1]
    ev = {f.name: None for f in status_schema.fields}
    ev.update({"event_id": "s-" + tag, "job_id": "chaos-wrongtype-" + tag, "tenant": "default",
               "ts_ms": now_ms(), "status": "FIRED", "attempt": 0})
    for f in status_schema.fields:  # fill the rest with the schema's defaults
        if ev[f.name] is None and f.has_default:
            ev[f.name] = f.default
    poison["chaos-wrongtype-" + tag] = WIRE.encode("StatusEvent", ev)

    p = Producer({"bootstrap.servers": BOOTSTRAP})
    p.produce(PREFIX + ".commands", key=foreign.encode(), value=good, partition=wrong)
    for key, value in poison.items():
        p.produce(PREFIX + ".commands", key=key.encode(), value=value,
                  partition=partition_of(key))
    check(p.flush(10) == 0, "records not delivered")

    def dlq_reasons():
        out = {}
        for m in read_topic([PREFIX + ".dlq"], start):
            h = {k: (v or b"").decode(errors="replace") for k, v in (m.headers() or [])}
            out.setdefault(m.key().decode(errors="replace"), []).append(h)
        return out

    def all_dead_lettered():
        r = dlq_reasons()
        timer_foreign = [h for h in r.get(foreign, []) if "murmur2" in h.get("klok.reason", "")]
        return r if timer_foreign and all(k in r for k in poison) else None
    try:
        reasons = wait_until("dead-letter records of the foreign and poison commands", 30,
                             all_dead_lettered, 0.5)
    except Failure:
        raise Failure("dead-letter records so far: %s" % {
            k: [h.get("klok.reason") for h in v] for k, v in dlq_reasons().items()
            if k == foreign or k in poison})
    for key, hs in reasons.items():
        if key == foreign or key in poison:
            for h in hs:
                check(h.get("klok.reason"), "dead-letter record of %s without a reason" % key)
            log("%s -> dlq: %s", key.rsplit("-", 1)[0], " | ".join(h["klok.reason"] for h in hs))
    src = [h for h in reasons[foreign] if "murmur2" in h["klok.reason"]][0]
    check(src.get("klok.source.partition") == str(wrong),
          "dead-letter record names partition %s, the record was on %d"
          % (src.get("klok.source.partition"), wrong))

    # Past the foreign job's due time, by a condition: a job due at the same instant succeeded.
    marker = submit({"name": "chaos-marker", "task": "noop", "schedule": {"type": "at", "at": iso(due)}})
    wait_until("marker job due at the same instant to succeed", 60,
               lambda: job_state(marker["job_id"]) == "SUCCEEDED")
    fired = read_topic(EXEC_TOPICS + [STATUS_TOPIC], start, keys={foreign},
                     isolation="read_uncommitted")
    check(not fired, "the foreign-partition job fired: %s"
          % [(m.topic(), m.partition(), m.offset()) for m in fired])
    check(t.alive(), "the timer died on the poison records:\n" + t.log_tail())
    status, body = http("GET", "/v1/jobs/" + foreign)
    log("the API's view of the foreign job: %s %s", status,
        body.get("state") if isinstance(body, dict) else body)


def processes_of_job(job_id):
    """Pids whose environment carries KLOK_JOB_ID=job_id (a task's process group)."""
    pids, needle = [], b"KLOK_JOB_ID=" + job_id.encode() + b"\0"
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    if needle in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def test_executor_killed_mid_task_times_out_and_the_retry_succeeds_once():
    """kill -9 of the executor while its task runs: no outcome ever comes, the visibility
    deadline passes, the timer declares TIMED_OUT and retries; the job ends with exactly one
    SUCCEEDED execution."""
    ex = Timer("executor", os.path.join(RUN_DIR, "executor.conf"), PORT_BASE + 82,
               os.path.join(BUILD_DIR, "executor", "klok-executor"))
    ensure_running(timer0())
    ensure_running(ex)
    since = now_ms() - 1000
    job = submit({"name": "lost", "task": "hang-first", "schedule": {"type": "immediate"},
                  "timeout_ms": 3000, "retry": {"max_attempts": 2, "initial_backoff_ms": 200}})
    jid = job["job_id"]

    def started():
        st, body = http("GET", "/v1/jobs/%s/executions" % jid)
        ex1 = [e for e in (body.get("executions", []) if st == 200 else [])
               if e["attempt"] == 1 and e.get("started_at")]
        return ex1 or None
    wait_until("attempt 1 to start", 30, started)
    t_kill = ex.kill9()
    for pid in processes_of_job(jid):  # the task itself, orphaned by the kill
        os.kill(pid, signal.SIGKILL)
    log("executor killed -9 while attempt 1 ran")

    def timed_out():
        for m in read_topic([PREFIX + ".status"], since, keys={jid}):
            name, rec = WIRE.decode(m.value())
            if rec["status"] == "TIMED_OUT" and rec["attempt"] == 1:
                return m.timestamp()[1]
        return None
    t_to = wait_until("the timer to declare attempt 1 TIMED_OUT", 60, timed_out, 0.5)
    log("TIMED_OUT %.1f s after the kill", t_to / 1000 - t_kill)
    ex.start()
    wait_until("executor /readyz", 60, ex.ready, 0.1)
    wait_until("job to succeed on attempt 2", 60, lambda: job_state(jid) == "SUCCEEDED")

    dues, succeeded = {}, []
    for m in read_topic([PREFIX + ".executions.default.normal", PREFIX + ".executions.default.high"],
                      since, keys={jid}):
        _, rec = WIRE.decode(m.value())
        dues[rec["execution_id"]] = dues.get(rec["execution_id"], 0) + 1
    for m in read_topic([PREFIX + ".status"], since, keys={jid}):
        _, rec = WIRE.decode(m.value())
        if rec["status"] == "SUCCEEDED":
            succeeded.append(rec["execution_id"])
    check(sorted(int(k.rsplit(":", 1)[1]) for k in dues) == [1, 2] and set(dues.values()) == {1},
          "ExecutionDue per execution id: %s" % dues)
    check(len(succeeded) == 1 and succeeded[0].endswith(":2"), "SUCCEEDED events: %s" % succeeded)


def test_timer_rebuilt_from_an_empty_store_fires_nothing_again():
    """A timer whose RocksDB is lost (a replaced machine, an auditor's rebuild) restores every
    partition from offset 0 of commands and status; an occurrence that already FIRED must not
    fire again, whatever order the two topics' records arrive in."""
    t = timer0()
    ensure_running(t)
    with open(t.conf) as f:
        data_dir = re.search(r"^data\.dir\s*=\s*(.+?)\s*$", f.read(), re.M).group(1)
    check(data_dir.startswith(RUN_DIR), "timer data.dir %s is outside the run dir" % data_dir)

    def digests():
        out = []
        for p in range(PARTITIONS):
            status, text = t.admin("/digest?partition=%d" % p)
            if status != 200:
                return None
            out.append(json.loads(text))
        return out
    # The state once nothing moves any more: two readings a second apart agree.
    last = [None]

    def settled():
        d = digests()
        same = d is not None and d == last[0]
        last[0] = d
        return d if same else None
    before = wait_until("the timer's state to settle", 60, settled, 1.0)
    t.stop()
    subprocess.run(["rm", "-rf", data_dir], check=True)
    restart_ms = now_ms()
    t.start()
    t0 = time.monotonic()
    wait_until("the rebuilt timer to be ready", 120, t.ready, 0.05)
    ready_s = time.monotonic() - t0
    # Replayed to the same offsets, the rebuilt state is byte for byte the same.

    def caught_up():
        d = digests()
        return d if d and all((a["commands_offset"], a["status_offset"]) ==
                              (b["commands_offset"], b["status_offset"])
                              for a, b in zip(d, before)) else None
    after = wait_until("the rebuilt timer to reach the same offsets", 60, caught_up, 0.2)
    for a, b in zip(after, before):
        check(a == b, "partition %d: rebuilt %s, live was %s" % (a["partition"], a, b))
    log("rebuilt digests equal the live ones on all %d partitions (%d jobs)",
        len(after), sum(d["rows"]["jobs"] for d in after))
    applied = t.metric("klok_timer_records_applied_total")
    # Past whatever the rebuilt timer would fire at once, by a condition: a job due after it was
    # ready has succeeded.
    marker = submit({"name": "chaos-rebuild-marker", "task": "noop",
                     "schedule": {"type": "at", "at": iso(now_ms() + 1000)}})
    wait_until("a job due after the rebuild to succeed", 60,
               lambda: job_state(marker["job_id"]) == "SUCCEEDED")
    log("rebuilt from an empty store: ready in %.1f s after applying %s records",
        ready_s, "%d" % applied if applied is not None else "?")

    again, nfired = refired_since(restart_ms, {marker["job_id"]})
    check(not again, "the rebuilt timer fired %d occurrences again (of %d FIRED after the "
          "restart), e.g. %s" % (len(again), nfired, again[:5]))


KLOKCTL_BIN = os.path.join(BUILD_DIR, "klokctl", "klokctl")


def klokctl_rebuild(partition, admin_url, *extra):
    return subprocess.run([KLOKCTL_BIN, "--bootstrap", BOOTSTRAP, "--prefix", PREFIX,
                           "--api", API, "--output", "json", "rebuild", "--partition",
                           str(partition), "--verify", "--timer-admin", admin_url, *extra],
                          capture_output=True, text=True, timeout=300)


def printable(key: bytes) -> str:
    """A key as klokctl prints it: printable ASCII as it is, other bytes as \\xNN."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else "\\x%02x" % b for b in key)


def test_klokctl_rebuild_from_kafka_matches_the_live_timer_after_the_kill9_runs():
    """An auditor replays each partition from offset 0 into scratch stores through the timer's
    and the view's own record functions (klokctl rebuild --verify): after the timer was killed
    with kill -9 many times (the first test), each rebuilt state must equal the live one at the
    same offsets.  A live digest that does not match what Kafka holds must be reported (exit 1)
    with the first row that differs."""
    t = timer0()
    ensure_running(t)
    admin_url = "http://127.0.0.1:%d" % t.admin_port
    for p in range(PARTITIONS):
        r = klokctl_rebuild(p, admin_url)
        check(r.returncode == 0, "partition %d: exit %d\n%s%s" % (p, r.returncode, r.stdout,
                                                                   r.stderr))
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        for state, section in (("timer", "jobs"), ("view", "view_jobs")):
            built = [d for d in lines if d["digest"] == "rebuilt" and d["state"] == state]
            live = [d for d in lines if d["digest"] == "live" and d["state"] == state]
            check(len(built) == 1 and len(live) == 1 and built[0]["sha256"] == live[0]["sha256"]
                  and built[0]["rows"] == live[0]["rows"] and live[0]["rows"][section] > 0,
                  "partition %d, %s: %s" % (p, state, lines))
        log("partition %d rebuilt from Kafka = live timer and view (%s): %s", p,
            ", ".join("%s %d" % (state, [d for d in lines if d["state"] == state][0]["rows"][sec])
                      for state, sec in (("timer", "jobs"), ("view", "view_jobs"))),
            r.stderr.strip().splitlines()[0] if r.stderr.strip() else "")
    # A live state that is not what the log says: a digest server that lies about one row.  Its
    # digest differs in one bucket, whose listing has that row's value hash changed.
    status, text = t.admin("/digest?partition=0")
    check(status == 200, "digest: %s %s" % (status, text))
    lie = json.loads(text)
    lie["sha256"] = ("1" if lie["sha256"][0] == "0" else "0") + lie["sha256"][1:]
    for bucket in range(len(lie["buckets"])):
        status, text = t.admin("/digest?partition=0&bucket=%d" % bucket)
        check(status == 200, "bucket listing: %s %s" % (status, text))
        listing = json.loads(text)
        if listing["rows"]:
            break
    check(listing["rows"], "partition 0 of the timer holds no row")
    section, key_hex, value = listing["rows"][0]
    listing["rows"][0][2] = ("1" if value[0] == "0" else "0") + value[1:]
    h = lie["buckets"][bucket]
    lie["buckets"][bucket] = ("1" if h[0] == "0" else "0") + h[1:]
    status, text = t.admin("/digest?partition=0&bucket=x")
    check(status == 400, "a bad bucket: %s %s" % (status, text))

    class Liar(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(listing if "bucket=" in self.path else lie).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    srv = HTTPServer(("127.0.0.1", PORT_BASE + 84), Liar)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = klokctl_rebuild(0, "http://127.0.0.1:%d" % (PORT_BASE + 84), "--no-view")
    finally:
        srv.shutdown()
        srv.server_close()
    key = printable(bytes.fromhex(key_hex))
    check(r.returncode == 1 and "differs" in r.stderr and "values differ" in r.stderr
          and '%s key "%s"' % (section, key) in r.stderr,
          "a wrong live digest was not reported with its first differing row (%s %s): "
          "exit %d\n%s%s" % (section, key, r.returncode, r.stdout, r.stderr))
    mismatch = [d for d in map(json.loads, r.stdout.splitlines()) if "mismatch" in d]
    check(len(mismatch) == 1 and mismatch[0]["key_hex"] == key_hex
          and mismatch[0]["live_value"] == listing["rows"][0][2]
          and mismatch[0]["rebuilt_value"] == value, "mismatch line: %s" % mismatch)
    log("a lying live digest: %s", r.stderr.strip().splitlines()[-1])


TESTS = [test_kill9_timer_during_load_fires_each_occurrence_exactly_once,
         test_klokctl_rebuild_from_kafka_matches_the_live_timer_after_the_kill9_runs,
         test_two_timer_instances_share_partitions_and_survive_a_restart,
         test_poison_and_foreign_partition_commands_are_dead_lettered,
         test_executor_killed_mid_task_times_out_and_the_retry_succeeds_once,
         test_timer_rebuilt_from_an_empty_store_fires_nothing_again]


def main():
    # SIGTERM (a stopped test run) unwinds through the finally blocks, so the second timer
    # instance is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    check(os.path.exists(TIMER_BIN), "no timer binary at %s" % TIMER_BIN)
    print("timer chaos: run dir %s, API %s, broker %s, seed %d" % (RUN_DIR, API, BOOTSTRAP, SEED),
          flush=True)

    def leave_timer_running():
        # The scripts check afterwards that every service of the stack survived.
        t = timer0()
        if not t.alive():
            print("(restarting the stack's timer, found stopped at the end)", flush=True)
            t.start()
    return run_tests(TESTS, sys.argv[1:], leave_timer_running)


if __name__ == "__main__":
    sys.exit(main())
