#!/usr/bin/python3
"""End-to-end tests of klokctl's audit commands (docs/AUDIT.md) against the stack scripts/test
started: `history` (and `--verify`), `state-as-of`, `dlq list | show | replay`, all reading Kafka
directly.

- history of a job that ran shows CreateJob, FIRED, STARTED, SUCCEEDED in order and verifies;
  a retried job shows attempts 1 and 2 and verifies; only the job's partition is read (a record
  of the job planted on another partition is not seen); a tenant's history spans its jobs.
- --verify finds breaks injected here, naming them and their offsets: a second SUCCEEDED of one
  execution id (a duplicate), and a SUCCEEDED of an execution never fired.
- state-as-of, replayed through the view's applier, shows what the API showed: RUNNING at an
  instant the API said RUNNING (a `nap` task, 1 s), SUCCEEDED afterwards (the same document).
- dlq list shows a poison record produced here to the commands topic, show prints its reason and
  bytes, replay refuses a dead letter from a foreign topic (exit 2) and puts the poison record
  back on the commands topic, where it is dead-lettered again.

Environment: KLOK_API, KLOK_BOOTSTRAP, KLOK_BUILD_DIR (klokctl is BUILD_DIR/klokctl/klokctl).
Prints one line per test and closes with "N passed, M failed"; exit code 1 on any failure.
Every wait is for a condition, with a deadline.
"""
import json
import os
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (API, BOOTSTRAP, BUILD_DIR, PREFIX, WIRE, check, executions,  # noqa: E402
                      http, job_state, read_topic, run_tests, submit, wait_until)

KLOKCTL = os.path.join(BUILD_DIR, "klokctl", "klokctl")
COMMANDS = PREFIX + ".commands"
STATUS = PREFIX + ".status"
DLQ = PREFIX + ".dlq"


def now_ms():
    return int(time.time() * 1000)


def klokctl(*args, timeout=60):
    """Run klokctl with JSON output: (exit code, [parsed lines], stderr)."""
    p = subprocess.run([KLOKCTL, "--api", API, "--bootstrap", BOOTSTRAP, "--output", "json"]
                       + list(args), capture_output=True, text=True, timeout=timeout)
    lines = []
    for line in p.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            check(False, "klokctl %s printed a line that is not JSON: %r" % (" ".join(args), line))
    return p.returncode, lines, p.stderr


def history(job_id, *extra):
    rc, lines, err = klokctl("history", "--job", job_id, *extra)
    check(rc == 0, "history %s -> exit %d: %s" % (job_id, rc, err))
    return lines


def verify(job_id):
    """(exit code, breaks, summary) of history --verify."""
    rc, lines, err = klokctl("history", "--job", job_id, "--verify")
    check(lines and "ok" in lines[-1], "verify printed no summary: %s %s" % (lines, err))
    return rc, [b for b in lines if "break" in b], lines[-1], err


def ran(body, state="SUCCEEDED", deadline_s=60):
    job = submit(body)
    wait_until("job %s to be %s" % (job["job_id"], state), deadline_s,
               lambda: job_state(job["job_id"]) == state)
    return job["job_id"]


def noop_job(name="audit"):
    return ran({"name": name, "task": "noop", "schedule": {"type": "immediate"}})


def produce(topic, key, value, partition=None, headers=None):
    """Produce one record the way klok's writers do (murmur2 of the key) unless a partition is
    given; returns (partition, offset) once acknowledged."""
    p = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random",
                  "enable.idempotence": True})
    where = []

    def on_delivery(err, msg):
        check(err is None, "produce to %s failed: %s" % (topic, err))
        where.append((msg.partition(), msg.offset()))
    kw = {"key": key, "value": value, "on_delivery": on_delivery, "headers": headers or []}
    if partition is not None:
        kw["partition"] = partition
    p.produce(topic, **kw)
    check(p.flush(15) == 0 and where, "record to %s not acknowledged" % topic)
    return where[0]


def status_event(job_id, status, execution_id, attempt, scheduled_ms, tenant="dev"):
    return WIRE.encode("StatusEvent", {
        "event_id": uuid.uuid4().hex, "job_id": job_id, "tenant": tenant, "ts_ms": now_ms(),
        "status": status, "execution_id": execution_id, "attempt": attempt,
        "scheduled_ms": scheduled_ms, "next_ms": None, "deadline_ms": None, "progress": None,
        "exit_code": 0 if status == "SUCCEEDED" else None, "retryable": False,
        "message": "injected by test_audit", "output": None})


def partitions_of(topic):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "audit-" + uuid.uuid4().hex})
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        check(md.error is None, "topic %s: %s" % (topic, md.error))
        return len(md.partitions)
    finally:
        c.close()


def record_at(topic, partition, offset):
    """The record at topic/partition/offset (read_committed), or a Failure."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "audit-" + uuid.uuid4().hex,
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, partition, offset)])

        def one():
            m = c.poll(0.5)
            return m if m is not None and not m.error() else None
        m = wait_until("the record at %s %d:%d" % (topic, partition, offset), 30, one, 0)
        check(m.offset() == offset, "read %d instead of %d" % (m.offset(), offset))
        return m
    finally:
        c.close()


# --- history -----------------------------------------------------------------------------------

def test_history_of_a_job_that_ran_is_in_order_and_verifies():
    job_id = noop_job()
    lines = history(job_id)
    whats = [l["what"] for l in lines]
    main = [w for w in whats if w in ("CreateJob", "FIRED", "STARTED", "SUCCEEDED")]
    check(main == ["CreateJob", "FIRED", "STARTED", "SUCCEEDED"], "events: %s" % whats)
    check(all(l["event"]["job_id"] == job_id and l["key"] == job_id for l in lines),
          "a line of another job: %s" % lines)
    check([l["time"] for l in lines] == sorted(l["time"] for l in lines),
          "not in time order: %s" % [l["time"] for l in lines])
    ex = executions(job_id)[0]
    fired = next(l for l in lines if l["what"] == "FIRED")
    check(fired["execution_id"] == ex["execution_id"] and fired["attempt"] == 1,
          "FIRED %s, the view has %s" % (fired, ex))
    check(lines[0]["topic"] == COMMANDS and fired["topic"] == STATUS, "topics: %s" % lines)
    rc, breaks, summary, err = verify(job_id)
    check(rc == 0 and not breaks and summary["ok"] is True, "verify: %s %s %s" % (rc, breaks, err))
    check(summary["events"] == len(lines) and summary["executions"] == 1,
          "summary %s for %d events" % (summary, len(lines)))


def test_history_of_a_retried_job_shows_its_attempts_and_verifies():
    job_id = ran({"name": "audit-flaky", "task": "flaky", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 3, "initial_backoff_ms": 300, "multiplier": 2.0,
                            "max_backoff_ms": 1000}})
    lines = history(job_id)
    fired = [l["attempt"] for l in lines if l["what"] == "FIRED"]
    check(fired == [1, 2], "FIRED attempts: %s" % fired)
    seq = [(l["what"], l["attempt"]) for l in lines if l["what"] != "CreateJob"]
    for step in (("FAILED", 1), ("RETRY_SCHEDULED", 1), ("FIRED", 2), ("SUCCEEDED", 2)):
        check(step in seq, "%s missing from %s" % (step, seq))
    check(seq.index(("FAILED", 1)) < seq.index(("FIRED", 2)) < seq.index(("SUCCEEDED", 2)),
          "out of order: %s" % seq)
    rc, breaks, summary, err = verify(job_id)
    check(rc == 0 and summary["ok"] is True and summary["executions"] == 2,
          "verify: %s %s %s %s" % (rc, breaks, summary, err))


def test_history_reads_only_the_jobs_partition():
    job_id = noop_job()
    own = {m.partition() for m in read_topic([COMMANDS], keys={job_id})}
    check(len(own) == 1, "the CreateJob is on partitions %s" % own)
    own = own.pop()
    # A record of the job on another partition, where no klok writer puts it: a reader that
    # scanned every partition and filtered by key would show it.
    other = (own + 1) % partitions_of(STATUS)
    check(other != own, "one partition only: nothing to show")
    produce(STATUS, job_id.encode(), status_event(job_id, "PROGRESS", job_id + ":0:1", 1, 0),
            partition=other)
    lines = history(job_id)
    check({l["partition"] for l in lines} == {own},
          "partitions read: %s, the job's is %d" % ({l["partition"] for l in lines}, own))
    check("PROGRESS" not in [l["what"] for l in lines], "the planted record shows: %s" % lines)


def test_history_of_a_tenant_holds_each_of_its_jobs():
    start = now_ms() - 1000
    ids = [noop_job("audit-tenant-%d" % i) for i in range(3)]
    rc, lines, err = klokctl("history", "--tenant", "dev", "--from", str(start))
    check(rc == 0, "history --tenant -> %d: %s" % (rc, err))
    for job_id in ids:
        whats = [l["what"] for l in lines if l["event"] and l["event"]["job_id"] == job_id]
        check(whats[0] == "CreateJob" and "SUCCEEDED" in whats, "job %s: %s" % (job_id, whats))
    check(all(l["event"]["tenant"] == "dev" for l in lines), "another tenant's record")


# --- history through the view's index of each job's records ----------------------------------

def where(lines):
    return [(l["topic"], l["partition"], l["offset"]) for l in lines]


def indexed(job_id):
    """The (topic, partition, offset) the API lists for the job, through every page."""
    out, cursor = [], None
    while True:
        path = "/v1/jobs/%s/records?limit=2" % job_id + ("&cursor=" + cursor if cursor else "")
        status, page = http("GET", path)
        check(status == 200, "GET %s -> %s %s" % (path, status, page))
        out += [(PREFIX + "." + r["topic"], r["partition"], r["offset"])
                for r in page["records"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return out, page


def test_history_through_the_index_finds_what_a_full_scan_finds():
    """The offsets the view lists for a job are exactly the records a scan of its partition
    finds for its key, undecodable and duplicate ones included; history through them prints
    the same records as history --scan."""
    job_id = ran({"name": "audit-index", "task": "fail",
                  "retry": {"max_attempts": 2, "initial_backoff_ms": 100},
                  "schedule": {"type": "immediate"}}, state="DEAD_LETTERED")
    ex = executions(job_id)[0]
    produce(STATUS, job_id.encode(), b"not avro at all")
    produce(STATUS, job_id.encode(), status_event(job_id, "SUCCEEDED", ex["execution_id"],
                                                  ex["attempt"], 1))
    scanned = where(history(job_id, "--scan"))
    check(len(scanned) >= 8, "a retried job has few records: %s" % scanned)
    wait_until("the view to index the planted records", 30,
               lambda: len(indexed(job_id)[0]) == len(scanned))
    listed, last = indexed(job_id)
    check(sorted(listed) == sorted(scanned), "listed %s, scanned %s" % (listed, scanned))
    check(last["indexed_from"] == {"commands": 0, "status": 0}, "page: %s" % last)
    rc, lines, err = klokctl("history", "--job", job_id)
    check(rc == 0 and where(lines) == scanned, "through the index: %s %s" % (where(lines), err))
    check("whole partition" not in err, "the index was not used: %r" % err)
    check(any(l["what"] == "UNDECODABLE" for l in lines), "no undecodable record: %s" % lines)


def test_history_through_the_index_fetches_records_far_apart():
    """A job whose records are thousands of offsets apart: the index's offsets are read as
    separate runs (the partition moved between them), and the result is still the scan's."""
    job_id = noop_job("audit-far")
    part = history(job_id, "--scan")[0]["partition"]
    filler = Producer({"bootstrap.servers": BOOTSTRAP})
    planted = []
    for gap in range(2):
        for i in range(2500):  # more than the 2,000 records klokctl reads through
            filler.produce(STATUS, key=b"audit-filler-%d" % i, value=b"x", partition=part)
        check(filler.flush(30) == 0, "filler records not acknowledged")
        planted.append(produce(STATUS, job_id.encode(),
                               status_event(job_id, "PROGRESS", job_id + ":0:9", 9, 0),
                               partition=part))
    wait_until("the view to index the planted records", 60,
               lambda: set(planted) <= {(p, o) for _, p, o in indexed(job_id)[0]})
    scanned = where(history(job_id, "--scan"))
    rc, lines, err = klokctl("history", "--job", job_id)
    check(rc == 0 and "whole partition" not in err and where(lines) == scanned,
          "through the index %s, scanned %s: %r" % (where(lines), scanned, err))
    check({(STATUS, p, o) for p, o in planted} <= set(scanned), "planted: %s" % planted)


def test_history_without_the_api_reads_the_whole_partition():
    job_id = noop_job("audit-no-api")
    p = subprocess.run([KLOKCTL, "--api", "http://127.0.0.1:1", "--bootstrap", BOOTSTRAP,
                        "--output", "json", "history", "--job", job_id],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "whole partition" in p.stderr,
          "exit %d: %r" % (p.returncode, p.stderr))
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    check(where(lines) == where(history(job_id)), "the scan and the index disagree")
    rc, _, err = klokctl("history", "--job", job_id, "--scan")
    check(rc == 0 and "whole partition" not in err and "API" not in err,
          "--scan asked the API: %r" % err)


def test_the_record_index_of_an_unknown_job_is_404_and_history_still_reads_kafka():
    job_id = "audit-unknown-" + uuid.uuid4().hex[:12]
    status, resp = http("GET", "/v1/jobs/%s/records" % job_id)
    check(status == 404, "-> %s %s" % (status, resp))
    part, off = produce(STATUS, job_id.encode(), status_event(job_id, "PROGRESS",
                                                              job_id + ":0:1", 1, 0))
    rc, lines, err = klokctl("history", "--job", job_id)
    check(rc == 0 and where(lines) == [(STATUS, part, off)] and "whole partition" in err,
          "exit %d %s %r" % (rc, lines, err))
    status, resp = http("GET", "/v1/jobs/%s/records?cursor=bogus" % noop_job("audit-cur"))
    check(status == 400 and resp.get("field") == "cursor", "-> %s %s" % (status, resp))


# --- --verify finds breaks -----------------------------------------------------------------

def test_verify_names_a_duplicate_succeeded():
    job_id = noop_job()
    ex = executions(job_id)[0]
    part, off = produce(STATUS, job_id.encode(),
                        status_event(job_id, "SUCCEEDED", ex["execution_id"], ex["attempt"],
                                     1))
    rc, breaks, summary, err = verify(job_id)
    check(rc == 1 and summary["ok"] is False, "verify -> %d %s" % (rc, summary))
    check(len(breaks) == 1, "breaks: %s" % breaks)
    b = breaks[0]
    check("SUCCEEDED twice" in b["break"] and ex["execution_id"] in b["break"],
          "the break does not name the duplicate: %s" % b)
    check((b["partition"], b["offset"]) == (part, off),
          "break at %s:%s, the duplicate is at %d:%d" % (b["partition"], b["offset"], part, off))
    check("1 break" in err, "stderr: %r" % err)


def test_verify_names_an_execution_completing_twice():
    job_id = noop_job()
    ex = executions(job_id)[0]
    part, off = produce(STATUS, job_id.encode(),
                        status_event(job_id, "FAILED", ex["execution_id"], ex["attempt"], 1))
    rc, breaks, summary, err = verify(job_id)
    check(rc == 1 and len(breaks) == 1, "verify -> %d %s %s" % (rc, breaks, err))
    check("completed twice" in breaks[0]["break"] and "then FAILED" in breaks[0]["break"]
          and (breaks[0]["partition"], breaks[0]["offset"]) == (part, off), "break: %s" % breaks)


def test_verify_names_a_succeeded_that_never_fired():
    job_id = "audit-nofire-" + uuid.uuid4().hex[:12]
    at = now_ms() + 86400000  # tomorrow: the timer does not fire it during the test
    create = WIRE.encode("CreateJob", {
        "event_id": uuid.uuid4().hex, "job_id": job_id, "tenant": "dev", "ts_ms": now_ms(),
        "name": "never-fired",
        "schedule": {"kind": "AT", "at_ms": at, "delay_ms": None, "cron": None,
                     "timezone": "UTC", "interval_ms": None, "start_ms": None, "end_ms": None,
                     "max_runs": 0, "misfire": "FIRE_ONCE", "misfire_threshold_ms": 60000,
                     "catch_up_ms": 3600000, "overlap": "ALLOW"},
        "task": "noop", "parameters": "{}", "queue": "default", "priority": "NORMAL",
        "retry": {"max_attempts": 1, "initial_backoff_ms": 100, "multiplier": 2.0,
                  "max_backoff_ms": 60000},
        "timeout_ms": 60000, "idempotency_key": None})
    produce(COMMANDS, job_id.encode(), create)
    exec_id = "%s:%d:1" % (job_id, at)
    part, off = produce(STATUS, job_id.encode(), status_event(job_id, "SUCCEEDED", exec_id, 1, at))
    rc, breaks, summary, err = verify(job_id)
    check(rc == 1 and summary["ok"] is False, "verify -> %d %s %s" % (rc, summary, err))
    check(len(breaks) == 1 and "without its FIRED" in breaks[0]["break"]
          and exec_id in breaks[0]["break"], "breaks: %s" % breaks)
    check((breaks[0]["partition"], breaks[0]["offset"]) == (part, off), "at: %s" % breaks[0])
    # Leave nothing pending in the timer (the view has the job once it read the CreateJob).
    wait_until("the view to have job %s" % job_id, 30, lambda: job_state(job_id) is not None)
    http("DELETE", "/v1/jobs/" + job_id)


# --- state-as-of -----------------------------------------------------------------------------

def test_state_as_of_shows_what_the_api_showed_while_running_and_after():
    job = submit({"name": "audit-nap", "task": "nap", "schedule": {"type": "immediate"}})
    job_id = job["job_id"]
    seen = {}

    def running():
        status, body = http("GET", "/v1/jobs/" + job_id)
        if status == 200 and body.get("state") == "RUNNING":
            seen["at"], seen["body"] = now_ms(), body  # after the answer came
            return True
        check(body.get("state") not in ("SUCCEEDED", "FAILED") if status == 200 else True,
              "the 1 s task ended before it was seen RUNNING: %s" % body)
        return False
    wait_until("the API to show job %s RUNNING" % job_id, 60, running, 0.02)
    wait_until("job %s to succeed" % job_id, 60, lambda: job_state(job_id) == "SUCCEEDED")

    rc, lines, err = klokctl("state-as-of", "--job", job_id, "--at", str(seen["at"]))
    check(rc == 0 and len(lines) == 1, "state-as-of -> %d %s %s" % (rc, lines, err))
    then = lines[0]["job"]
    check(then["state"] == seen["body"]["state"] == "RUNNING",
          "state-as-of says %s, the API said %s" % (then["state"], seen["body"]["state"]))
    check(then["last_execution"]["status"] == seen["body"]["last_execution"]["status"],
          "last execution %s, the API said %s" % (then["last_execution"],
                                                  seen["body"]["last_execution"]))
    check([e["status"] for e in lines[0]["executions"]] == ["RUNNING"],
          "executions then: %s" % lines[0]["executions"])

    rc, lines, err = klokctl("state-as-of", "--job", job_id, "--at", "now")
    check(rc == 0 and len(lines) == 1, "state-as-of now -> %d %s" % (rc, err))
    _, api = http("GET", "/v1/jobs/" + job_id)
    api.pop("upcoming", None)
    check(lines[0]["job"] == api, "replayed %s\n  the API has %s" % (lines[0]["job"], api))
    check(lines[0]["executions"] == executions(job_id),
          "executions %s\n  the API has %s" % (lines[0]["executions"], executions(job_id)))

    before = iso_before(lines[0]["job"]["created_at"])
    rc, _, err = klokctl("state-as-of", "--job", job_id, "--at", before)
    check(rc == 1 and "no such job at" in err, "before its CreateJob -> %d %r" % (rc, err))


def iso_before(iso):
    """One second before an RFC 3339 instant, as epoch ms text."""
    import calendar
    base, frac = iso.rstrip("Z").split(".")
    return str(calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000
               + int(frac[:3]) - 1000)


# --- dlq ---------------------------------------------------------------------------------------

def dead_letters(since_ms):
    rc, lines, err = klokctl("dlq", "list", "--from", str(since_ms))
    check(rc == 0, "dlq list -> %d: %s" % (rc, err))
    return lines


def test_dlq_lists_shows_and_replays_a_poison_record():
    start = now_ms() - 1000
    key = "poison-audit-" + uuid.uuid4().hex[:12]
    value = b"\xc3\x01not avro at all"
    part, off = produce(COMMANDS, key.encode(), value)

    def listed(source_offset):
        return [l for l in dead_letters(start)
                if l["key"] == key and l["source_topic"] == COMMANDS
                and (l["source_partition"], l["source_offset"]) == (part, source_offset)]
    letters = wait_until("the poison record in dlq list", 30, lambda: listed(off), 0.5)
    letter = letters[0]
    check(letter["reason"] and letter["size"] == len(value), "dead letter: %s" % letter)

    rc, shown, err = klokctl("dlq", "show", "%d:%d" % (letter["partition"], letter["offset"]))
    check(rc == 0 and len(shown) == 1, "dlq show -> %d %s" % (rc, err))
    s = shown[0]
    check(s["headers"].get("klok.reason") == letter["reason"], "reason: %s" % s)
    check(s["headers"].get("klok.source.topic") == COMMANDS, "headers: %s" % s["headers"])
    check(s["decoded"] is None and s["payload_hex"] == value.hex(), "payload: %s" % s)

    # A dead letter of another application's topic: replaying it is refused.
    fpart, foff = produce(DLQ, b"foreign", b"payload", headers=[
        ("klok.reason", b"test"), ("klok.source.topic", b"e2e.foreign"),
        ("klok.source.partition", b"0"), ("klok.source.offset", b"1")])
    rc, _, err = klokctl("dlq", "replay", "%d:%d" % (fpart, foff))
    check(rc == 2 and "not klok's business" in err and "e2e.foreign" in err,
          "foreign replay -> %d %r" % (rc, err))

    rc, out, err = klokctl("dlq", "replay", "%d:%d" % (letter["partition"], letter["offset"]))
    check(rc == 0 and len(out) == 1, "replay -> %d %s %s" % (rc, out, err))
    to = out[0]["to"]
    check(to["topic"] == COMMANDS and to["partition"] == part, "landed at %s" % to)
    m = record_at(COMMANDS, to["partition"], to["offset"])
    check(m.key() == key.encode() and m.value() == value, "replayed record: %r %r"
          % (m.key(), m.value()))
    check(dict(m.headers() or []).get("klok.replay.of", b"").decode()
          == "%s:%d:%d" % (DLQ, letter["partition"], letter["offset"]),
          "headers: %s" % m.headers())
    # Back in the pipeline: the services dead-letter it again, from its new offset.
    wait_until("the replayed record to be dead-lettered again", 30,
               lambda: listed(to["offset"]), 0.5)


def test_dlq_show_decodes_a_klok_record():
    start = now_ms() - 1000
    job_id = ran({"name": "audit-doomed", "task": "fail", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 2, "initial_backoff_ms": 100}},
                 state="DEAD_LETTERED")

    def mine():
        return [l for l in dead_letters(start) if l["key"] == job_id]
    letter = wait_until("the job's dead letter", 30, mine, 0.5)[0]
    check(letter["execution_id"] and letter["source_topic"] is None, "dead letter: %s" % letter)
    rc, shown, err = klokctl("dlq", "show", "%d:%d" % (letter["partition"], letter["offset"]))
    check(rc == 0, "dlq show -> %d %s" % (rc, err))
    d = shown[0]["decoded"]
    check(d and d["type"] == "StatusEvent" and d["status"] == "DEAD_LETTERED"
          and d["job_id"] == job_id, "decoded: %s" % shown[0])
    rc, _, err = klokctl("dlq", "replay", "%d:%d" % (letter["partition"], letter["offset"]))
    check(rc == 2 and "--to-topic" in err, "replay without a source -> %d %r" % (rc, err))


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    check(os.access(KLOKCTL, os.X_OK), "no klokctl at %s" % KLOKCTL)
    return run_tests(TESTS, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
