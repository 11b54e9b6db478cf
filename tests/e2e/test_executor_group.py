#!/usr/bin/python3
"""Executor group behaviour against the real broker (DESIGN.md §4): progress lines and
heartbeats on the status topic, the normal tier's minimum share while both priority tiers are
saturated, and a clean SIGTERM (running tasks finish within the grace period or are reported
abandoned and retried; executions fetched but not started go to another executor).

The tests run their own executors (queue "grp", group klok-executor-grp, their own config and
tasks) beside the stack's, so the stack's executor never sees these jobs.  Each executor writes
$KLOK_RUN_DIR/exec-grp-N.pid, so the scripts' teardown stops one left behind.

Environment: KLOK_RUN_DIR, KLOK_BUILD_DIR, KLOK_API, KLOK_BOOTSTRAP, KLOK_PORT_BASE (set by
scripts/test).  Every wait is for a condition with a deadline.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.request

from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (BOOTSTRAP, BUILD_DIR, PORT_BASE, PREFIX, ROOT, RUN_DIR,  # noqa: E402
                      WIRE, check, executions, http, job_state, read_topic, run_tests,
                      submit, wait_all_succeeded, wait_until)

EXECUTOR_BIN = os.path.join(BUILD_DIR, "executor", "klok-executor")
QUEUE = "grp"
STATUS_TOPIC = PREFIX + ".status"

TASKS = """
task.quick.kind = exec
task.quick.argv = ["/bin/true"]
task.progress.kind = exec
task.progress.argv = ["/bin/sh", "-c", "echo PROGRESS 10 starting; sleep 0.3; echo 'PROGRESS 60 half way'; sleep 0.3; echo PROGRESS 100 done"]
task.long.kind = exec
task.long.argv = ["/bin/sleep", "{seconds}"]
"""


def ensure_topics():
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    want = ["%s.executions.%s.%s" % (PREFIX, QUEUE, tier) for tier in ("high", "normal")]
    have = admin.list_topics(timeout=10).topics
    new = [NewTopic(t, num_partitions=2, replication_factor=1) for t in want if t not in have]
    for _, f in (admin.create_topics(new).items() if new else []):
        f.result(30)
    wait_until("executions topics of queue " + QUEUE, 30,
               lambda: all(t in admin.list_topics(timeout=10).topics for t in want))


class Executor:
    """One klok-executor of the test's group, with its own config, data dir and admin port."""

    def __init__(self, n, seconds=8, **settings):
        self.n = n
        self.admin_port = PORT_BASE + 75 + n
        self.dir = os.path.join(RUN_DIR, "exec-grp-%d" % n)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "executor.conf")
        self.pidfile = os.path.join(RUN_DIR, "exec-grp-%d.pid" % n)
        self.log = os.path.join(self.dir, "executor.log")
        conf = {"kafka.bootstrap": BOOTSTRAP, "schemas.dir": os.path.join(ROOT, "schemas"),
                "data.dir": os.path.join(self.dir, "data"), "queues": QUEUE,
                "group.id": "klok-executor-grp", "admin.port": str(self.admin_port),
                "concurrency": "1", "heartbeat.ms": "500", "log.level": "info"}
        conf.update({k.replace("_", "."): str(v) for k, v in settings.items()})
        with open(self.conf, "w") as f:
            f.writelines("%s = %s\n" % kv for kv in conf.items())
            f.write(TASKS.replace("{seconds}", str(seconds)))
        self.proc = None

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([EXECUTOR_BIN, "--config", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % self.proc.pid)
        wait_until("executor %d /readyz" % self.n, 60, self.ready, 0.1)
        return self

    def ready(self):
        return self.admin("/readyz")[0] == 200

    def admin(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                        timeout=1) as r:
                return r.status, r.read().decode()
        except OSError:
            return None, ""

    def metric(self, name):
        for line in self.admin("/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self, sig=signal.SIGTERM, deadline_s=60):
        """Signal it and wait for its exit; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(deadline_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def job(task, priority="normal", retry=None):
    body = {"name": "grp-" + task, "task": task, "queue": QUEUE, "priority": priority,
            "schedule": {"type": "immediate"}}
    if retry:
        body["retry"] = retry
    return submit(body)


def running(job_id):
    """Whether the view shows an execution of the job running (False while the view has not
    seen the job yet)."""
    status, body = http("GET", "/v1/jobs/%s/executions" % job_id)
    return status == 200 and any(e["status"] == "RUNNING" for e in body["executions"])


def statuses(job_ids, since_ms, kinds):
    """Status events of the jobs, of the given kinds, decoded."""
    out = []
    for m in read_topic([STATUS_TOPIC], since_ms, keys=set(job_ids)):
        name, rec = WIRE.decode(m.value())
        if name == "StatusEvent" and rec["status"] in kinds:
            out.append(rec)
    return out


# --- tests -------------------------------------------------------------------------------------

def test_progress_lines_and_heartbeats_reach_the_status_topic():
    since = int(time.time() * 1000)
    ex = Executor(0, seconds=3).start()
    try:
        p = job("progress")
        lng = job("long")
        for j in (p, lng):
            wait_until("%s to succeed" % j["job_id"], 60,
                       lambda j=j: job_state(j["job_id"]) == "SUCCEEDED")
        prog = statuses([p["job_id"]], since, {"PROGRESS"})
        check([e["progress"] for e in prog] == [10, 60, 100],
              "PROGRESS events: %s" % [(e["progress"], e["message"]) for e in prog])
        check(prog[1]["message"] == "half way", "message: %s" % prog[1]["message"])
        check(all(e["deadline_ms"] for e in prog), "PROGRESS without a deadline: %s" % prog)
        ex_doc = executions(p["job_id"])[0]
        check(ex_doc["progress"] == 100, "view's progress: %s" % ex_doc)
        # 3 s of running with a 500 ms period: several heartbeats, each moving the deadline.
        hb = statuses([lng["job_id"]], since, {"STARTED", "HEARTBEAT"})
        beats = [e for e in hb if e["status"] == "HEARTBEAT"]
        check(len(beats) >= 3, "%d heartbeats in 3 s: %s" % (len(beats), hb))
        deadlines = [e["deadline_ms"] for e in hb]
        check(deadlines == sorted(deadlines) and deadlines[-1] > deadlines[0],
              "deadlines do not move on: %s" % deadlines)
        # The lease is three periods: a dead executor is noticed within ~1.5 s, not at the
        # task's 60 s timeout.
        check(all(e["deadline_ms"] - e["ts_ms"] <= 1600 for e in hb), "lease: %s" % hb)
    finally:
        check(ex.stop() == 0, "executor exit status")


def test_normal_tier_keeps_its_share_while_high_is_saturated():
    """100 high and 100 normal jobs wait before the executor starts (concurrency 1): while both
    tiers have work, the normal tier gets 20 % (the default share) of the starts, ±5."""
    since = int(time.time() * 1000)
    ids = {"high": [], "normal": []}
    for i in range(100):
        for tier in ("high", "normal"):
            ids[tier].append(job("quick", tier)["job_id"])
    tier_of = {j: t for t, js in ids.items() for j in js}
    # The executions are due now; wait until every ExecutionDue is on the topics.
    topics = ["%s.executions.%s.%s" % (PREFIX, QUEUE, t) for t in ("high", "normal")]
    wait_until("200 ExecutionDue records", 60,
               lambda: len(read_topic(topics, since, keys=set(tier_of))) >= 200, 0.5)
    ex = Executor(1).start()
    try:
        wait_all_succeeded(tier_of, 120)
    finally:
        check(ex.stop() == 0, "executor exit status")
    started = statuses(list(tier_of), since, {"STARTED"})
    # The executor's event ids are "x" + its microsecond clock: the order it started them.
    started.sort(key=lambda e: e["event_id"])
    order = [tier_of[e["job_id"]] for e in started]
    check(len(order) == 200, "%d STARTED events" % len(order))
    # While both tiers had work waiting: from the first high start (before it, the high records
    # may simply not have been fetched yet) to the last.
    first_high = order.index("high")
    last_high = max(i for i, t in enumerate(order) if t == "high")
    window = order[first_high:last_high + 1]
    share = 100.0 * window.count("normal") / len(window)
    print("  normal tier: %.1f %% of %d starts while high waited" % (share, len(window)))
    check(15 <= share <= 25, "normal share %.1f %% (want 20 ± 5): %s" % (share, "".join(
        t[0] for t in order)))


def test_sigterm_finishes_or_abandons_running_tasks_and_leaves_the_rest():
    """SIGTERM with a 1 s grace while a 4 s task runs and two more wait: the running one is
    stopped and reported abandoned (retryable: its second attempt succeeds on the next
    executor), the waiting ones are not started and not lost; the executor exits 0."""
    since = int(time.time() * 1000)
    ex = Executor(2, seconds=4, shutdown_grace_ms=1000).start()
    retry = {"max_attempts": 2, "initial_backoff_ms": 100}
    first = job("long", retry=retry)
    wait_until("the first task to start", 30, lambda: running(first["job_id"]))
    waiting = [job("quick") for _ in range(2)]
    # The two waiting ones reach the executor's queue (it runs one at a time).
    wait_until("3 executions dispatched", 30,
               lambda: (ex.metric("klok_executor_busy") or 0) >= 3)
    t0 = time.monotonic()
    rc = ex.stop()
    took = time.monotonic() - t0
    check(rc == 0, "exit status %s" % rc)
    check(took < 10, "SIGTERM took %.1f s" % took)
    failed = statuses([first["job_id"]], since, {"FAILED"})
    check(failed and "abandoned" in (failed[0].get("message") or "") and failed[0]["retryable"],
          "abandoned report: %s" % failed)
    check("grace period over" in ex.log_text(), "log: %s" % ex.log_text()[-2000:])
    nxt = Executor(3, seconds=1).start()
    try:
        for j in [first] + waiting:
            wait_until("%s to succeed after the restart" % j["job_id"], 60,
                       lambda j=j: job_state(j["job_id"]) == "SUCCEEDED")
        attempts = sorted(e["attempt"] for e in executions(first["job_id"]))
        check(attempts == [1, 2], "attempts of the abandoned job: %s" % attempts)
    finally:
        check(nxt.stop() == 0, "second executor exit status")


TESTS = [test_progress_lines_and_heartbeats_reach_the_status_topic,
         test_normal_tier_keeps_its_share_while_high_is_saturated,
         test_sigterm_finishes_or_abandons_running_tasks_and_leaves_the_rest]


def main():
    ensure_topics()
    return run_tests(TESTS, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
