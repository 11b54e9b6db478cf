#!/usr/bin/python3
"""End-to-end tests of klok against the real stack scripts/test started: a Kafka broker, the
timer service, an executor and the producer API.  Every wait is for a condition, with a deadline.

Environment: KLOK_API (http://127.0.0.1:19080), KLOK_BOOTSTRAP (127.0.0.1:19092).
Prints one line per test and closes with "N passed, M failed"; exit code 1 on any failure.
"""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from klok_wire import Wire  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = os.environ.get("KLOK_API", "http://127.0.0.1:19080")
# Where the stack under test runs (scripts/test sets these; the defaults are its own).
RUN_DIR = os.environ.get("KLOK_RUN_DIR", os.path.join(ROOT, ".klok-test", "kafka-3.9.2"))
BUILD_DIR = os.environ.get("KLOK_BUILD_DIR", os.path.join(ROOT, "build-test"))
API_PORT = int(API.rsplit(":", 1)[1].split("/")[0])
PORT_BASE = int(os.environ.get("KLOK_PORT_BASE", str(API_PORT - 80)))
BOOTSTRAP = os.environ.get("KLOK_BOOTSTRAP", "127.0.0.1:19092")
PREFIX = "klok"
WIRE = Wire(os.path.join(ROOT, "schemas"))
FINAL = {"SUCCEEDED", "FAILED", "DEAD_LETTERED", "CANCELLED"}


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def http(method, path, body=None, raw=None, headers=None):
    """Returns (status, parsed JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_until(what, deadline_s, fn, interval=0.2):
    """Call fn until it returns a true value; raise Failure after deadline_s."""
    end = time.monotonic() + deadline_s
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure("timed out after %ss waiting for %s" % (deadline_s, what))
        time.sleep(interval)


def wait_all_succeeded(job_ids, deadline_s):
    """Wait until the view shows every job SUCCEEDED; fail at once if one ends otherwise."""
    pending = set(job_ids)
    with concurrent.futures.ThreadPoolExecutor(8) as getter:
        def all_succeeded():
            ids = list(pending)
            for jid, st in zip(ids, getter.map(job_state, ids)):
                if st == "SUCCEEDED":
                    pending.discard(jid)
                elif st in FINAL:
                    raise Failure("job %s ended %s" % (jid, st))
            return not pending
        try:
            wait_until("%d jobs to be SUCCEEDED in the view" % len(job_ids), deadline_s,
                       all_succeeded, 1.0)
        except Failure as e:
            raise Failure("%s; %d still pending, e.g. %s" % (e, len(pending), sorted(pending)[:5]))


def stop_process(proc, wait_s):
    """SIGTERM, then SIGKILL if it has not exited within wait_s; nothing if it already exited."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def iso_ms(s):
    """RFC 3339 'YYYY-MM-DDTHH:MM:SS.mmmZ' to epoch ms."""
    import calendar
    base, frac = s.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3])


def job_state(job_id):
    status, body = http("GET", "/v1/jobs/" + job_id)
    return body.get("state") if status == 200 and isinstance(body, dict) else None


def executions(job_id):
    status, body = http("GET", "/v1/jobs/%s/executions" % job_id)
    check(status == 200, "GET executions: %s %s" % (status, body))
    return body["executions"] if isinstance(body, dict) else body


def submit(body, expect=201):
    status, resp = http("POST", "/v1/jobs", body)
    check(status == expect, "POST /v1/jobs -> %s %s (wanted %s)" % (status, resp, expect))
    return resp


def read_topic(topics, from_ts_ms=0, isolation="read_committed", keys=None, deadline_s=90):
    """Every record of the topics from the first offset at/after from_ts_ms to the end of each
    partition (the last stable offset under read_committed); only those keyed by `keys` (a set
    of strings) if given."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "e2e-" + uuid.uuid4().hex,
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    parts = []
    for t in topics:
        md = c.list_topics(t, timeout=10).topics[t]
        check(md.error is None, "topic %s: %s" % (t, md.error))
        parts += [TopicPartition(t, p, from_ts_ms) for p in md.partitions]
    parts = c.offsets_for_times(parts, timeout=10)
    c.assign(parts)
    pending = {(p.topic, p.partition) for p in parts}
    out = []
    end = time.monotonic() + deadline_s
    while pending and time.monotonic() < end:
        for m in c.consume(1000, 0.5):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    pending.discard((m.topic(), m.partition()))
                continue
            if keys is None or (m.key() or b"").decode(errors="replace") in keys:
                out.append(m)
    c.close()
    check(not pending, "did not reach the end of %s" % sorted(pending))
    return out


# --- tests -------------------------------------------------------------------------------------

def test_bad_http_input_is_rejected_with_the_field_named():
    cases = [
        (b"{not json", 400, None),
        (json.dumps({"name": "x", "task": "noop", "schedule": {"type": "immediate"},
                     "bogus": 1}).encode(), 400, "bogus"),
        (json.dumps({"name": "x", "schedule": {"type": "immediate"}}).encode(), 400, "task"),
        (json.dumps({"name": "x", "task": "noop", "schedule": {"type": "sometimes"}}).encode(),
         400, "schedule.type"),
        (json.dumps({"name": "x", "task": "noop",
                     "schedule": {"type": "at", "at": "yesterday"}}).encode(), 400, "schedule.at"),
        (json.dumps({"name": "x" * 10000, "task": "noop",
                     "schedule": {"type": "immediate"}}).encode(), 400, "name"),
    ]
    for raw, code, field in cases:
        status, body = http("POST", "/v1/jobs", raw=raw)
        check(status == code, "%r... -> %s %s, wanted %s" % (raw[:40], status, body, code))
        check(isinstance(body, dict) and "error" in body and "message" in body,
              "error body is not {error, message}: %r" % (body,))
        if field:
            check(field in (body.get("field") or "") or field in body.get("message", ""),
                  "error does not name %s: %s" % (field, body))
    status, _ = http("GET", "/v1/jobs/does-not-exist")
    check(status == 404, "unknown job -> %s" % status)
    # A body over the limit is refused from its Content-Length, before it is read: send only
    # the headers and read the answer.
    host, port = API.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n{")
        answer = sock.recv(4096).decode(errors="replace")
    check(answer.startswith("HTTP/1.1 413"), "2 MiB body -> %r" % answer[:80])
    check('"error"' in answer, "413 without a JSON error: %r" % answer)


def test_poison_record_goes_to_the_dlq_and_the_timer_moves_on():
    start = int(time.time() * 1000) - 1000
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    p.produce(PREFIX + ".commands", key=b"poison", value=b"\xc3\x01garbage-not-avro", partition=0)
    p.produce(PREFIX + ".status", key=b"poison", value=b"\x00\x01\x02", partition=0)
    check(p.flush(10) == 0, "poison records not delivered")

    def dlq_has_both():
        recs = read_topic([PREFIX + ".dlq"], start)
        reasons = [dict(m.headers() or []) for m in recs if m.key() == b"poison"]
        return reasons if len(reasons) >= 2 else None
    # Both the timer and the API's view read these topics; each dead-letters what it cannot
    # decode, so there are at least two records with reasons.
    reasons = wait_until("dead-letter records", 30, dlq_has_both, 0.5)
    for h in reasons:
        check(h.get("klok.reason"), "dead-letter record without a reason: %s" % h)
    # The timer still works after the poison record.
    job = submit({"name": "after-poison", "task": "noop", "schedule": {"type": "immediate"}})
    wait_until("job after poison to succeed", 60,
               lambda: job_state(job["job_id"]) == "SUCCEEDED")


def test_exec_task_gets_parameters_and_environment_and_output_is_kept():
    params = {"order": 42, "text": "héllo"}
    job = submit({"name": "cat", "task": "cat-params", "schedule": {"type": "immediate"},
                  "parameters": params})
    wait_until("cat-params job to succeed", 60, lambda: job_state(job["job_id"]) == "SUCCEEDED")
    ex = executions(job["job_id"])
    check(len(ex) == 1, "one execution expected, got %s" % ex)
    e = ex[0]
    check(e.get("status") == "SUCCEEDED", "execution: %s" % e)
    check(json.loads(e.get("output", "")) == params, "stdin did not carry the parameters: %s" % e)
    check(e.get("attempt") == 1, "attempt: %s" % e)


def test_failing_and_unknown_tasks_end_failed_with_a_reason():
    bad = submit({"name": "f", "task": "fail", "schedule": {"type": "immediate"}})
    unknown = submit({"name": "u", "task": "no-such-task", "schedule": {"type": "immediate"}})
    for job, needle in ((bad, "exit"), (unknown, "not registered")):
        wait_until("job %s to fail" % job["job_id"], 60,
                   lambda j=job: job_state(j["job_id"]) == "FAILED")
        e = executions(job["job_id"])[-1]
        check(needle in (e.get("error") or ""), "error of %s lacks %r: %s" % (job, needle, e))


def test_failed_attempt_is_retried_after_its_backoff():
    job = submit({"name": "flaky", "task": "flaky", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 3, "initial_backoff_ms": 300, "multiplier": 2.0,
                            "max_backoff_ms": 1000}})
    wait_until("flaky job to succeed on its second attempt", 60,
               lambda: job_state(job["job_id"]) == "SUCCEEDED")
    ex = sorted(executions(job["job_id"]), key=lambda e: e["attempt"])
    check([e["attempt"] for e in ex] == [1, 2], "attempts: %s" % ex)
    check(ex[0]["status"] in ("FAILED", "RETRY_SCHEDULED"), "first attempt: %s" % ex[0])
    check(ex[1]["status"] == "SUCCEEDED", "second attempt: %s" % ex[1])
    # The second attempt fired no earlier than the backoff after the first failed.
    gap = iso_ms(ex[1]["fired_at"]) - iso_ms(ex[0]["finished_at"])
    check(gap >= 300, "retry fired %d ms after the failure, backoff is 300" % gap)


def test_exhausted_retries_end_dead_lettered_with_a_dlq_record():
    start = int(time.time() * 1000) - 1000
    job = submit({"name": "doomed", "task": "fail", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 2, "initial_backoff_ms": 100}})
    wait_until("job to be dead-lettered", 60,
               lambda: job_state(job["job_id"]) == "DEAD_LETTERED")
    ex = executions(job["job_id"])
    check(sorted(e["attempt"] for e in ex) == [1, 2], "attempts: %s" % ex)

    def dlq_record():
        recs = [m for m in read_topic([PREFIX + ".dlq"], start)
                if m.key() == job["job_id"].encode()]
        return recs or None
    recs = wait_until("the dead-letter record", 30, dlq_record, 0.5)
    check(len(recs) == 1, "%d dead-letter records for one job" % len(recs))
    headers = dict(recs[0].headers() or [])
    check(b"attempt 2 of 2" in headers.get("klok.reason", b""), "reason: %s" % headers)
    name, rec = WIRE.decode(recs[0].value())
    check(name == "StatusEvent" and rec["status"] == "DEAD_LETTERED", "dlq value: %s" % rec)


def test_interval_job_runs_its_runs_at_the_right_instants_then_completes():
    job = submit({"name": "every-400ms", "task": "noop",
                  "schedule": {"type": "interval", "interval_ms": 400, "max_runs": 3}})
    wait_until("interval job to complete", 30, lambda: job_state(job["job_id"]) == "SUCCEEDED")
    ex = sorted(executions(job["job_id"]), key=lambda e: e["scheduled_at"])
    check(len(ex) == 3, "3 runs expected: %s" % ex)
    due = [iso_ms(e["scheduled_at"]) for e in ex]
    check([b - a for a, b in zip(due, due[1:])] == [400, 400], "occurrences: %s" % due)
    for e in ex:
        late = iso_ms(e["fired_at"]) - iso_ms(e["scheduled_at"])
        check(0 <= late < 1000, "fired %d ms after its occurrence: %s" % (late, e))


def test_cron_job_fires_on_its_seconds_shows_upcoming_and_ends():
    end_ms = (int(time.time()) + 7) * 1000
    end_iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(end_ms / 1000))
    job = submit({"name": "every-2s", "task": "noop",
                  "schedule": {"type": "cron", "cron": "*/2 * * * * *",
                               "timezone": "Europe/Berlin", "end": end_iso}})
    _, body = http("GET", "/v1/jobs/%s?consistency_token=%s"
                   % (job["job_id"], job["consistency_token"]))
    upcoming = [iso_ms(t) for t in body.get("upcoming", [])]
    check(upcoming, "no upcoming fire times shown: %s" % body)
    check(all(t % 2000 == 0 and t <= end_ms for t in upcoming), "upcoming: %s" % upcoming)
    check(upcoming == sorted(set(upcoming)), "upcoming not increasing: %s" % upcoming)
    wait_until("cron job to complete at its end", 30,
               lambda: job_state(job["job_id"]) == "SUCCEEDED")
    due = sorted(iso_ms(e["scheduled_at"]) for e in executions(job["job_id"]))
    check(len(due) >= 2 and all(t % 2000 == 0 for t in due), "occurrences: %s" % due)
    check(all(b - a == 2000 for a, b in zip(due, due[1:])), "gaps: %s" % due)
    check(due[-1] <= end_ms, "fired after its end: %s" % due)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def finished_recurring(job, deadline_s=40):
    """Wait for a recurring job to complete; its executions by scheduled time."""
    wait_until("recurring job to complete", deadline_s,
               lambda: job_state(job["job_id"]) == "SUCCEEDED")
    return sorted(executions(job["job_id"]), key=lambda e: (e["scheduled_at"], e["attempt"]))


def check_one_at_a_time(ran):
    """Each execution fired after the one before it had finished."""
    for a, b in zip(ran, ran[1:]):
        check(a["finished_at"] and iso_ms(b["fired_at"]) >= iso_ms(a["finished_at"]),
              "executions overlap: %s then %s" % (a, b))


def test_overlap_skip_and_buffer_one_run_one_execution_at_a_time():
    """A 1 s task every 300 ms: `skip` drops what comes due while one runs (SKIPPED
    executions), `buffer_one` runs one more right after (BUFFERED, then FIRED); `allow`
    overlaps them."""
    end = int(time.time() * 1000) + 3000
    jobs = {pol: submit({"name": "overlap-" + pol, "task": "nap",
                         "schedule": {"type": "interval", "interval_ms": 300, "end": iso(end),
                                      "overlap": pol}})
            for pol in ("skip", "buffer_one", "allow")}
    got = {pol: finished_recurring(job) for pol, job in jobs.items()}

    ran = [e for e in got["skip"] if e["status"] != "SKIPPED"]
    skipped = [e for e in got["skip"] if e["status"] == "SKIPPED"]
    check(2 <= len(ran) <= 4 and all(e["status"] == "SUCCEEDED" for e in ran),
          "skip: runs %s" % ran)
    check(len(skipped) >= 4 and all("overlap policy skip" in (e["message"] or "")
                                    for e in skipped), "skip: skipped %s" % skipped)
    check_one_at_a_time(ran)

    ran = got["buffer_one"]
    check(all(e["status"] == "SUCCEEDED" for e in ran), "buffer_one: %s" % ran)
    check(2 <= len(ran) <= 5, "buffer_one: %d runs: %s" % (len(ran), ran))
    check_one_at_a_time(ran)
    buffered = [e for e in ran if e["fired_at"] and
                iso_ms(e["fired_at"]) - iso_ms(e["scheduled_at"]) > 300]
    check(buffered, "buffer_one: no execution waited for its predecessor: %s" % ran)

    ran = got["allow"]
    check(len(ran) >= 8 and all(e["status"] == "SUCCEEDED" for e in ran),
          "allow: %d runs: %s" % (len(ran), ran))
    check(any(iso_ms(b["fired_at"]) < iso_ms(a["finished_at"]) for a, b in zip(ran, ran[1:])),
          "allow: executions never overlapped: %s" % ran)


def test_misfire_policies_for_a_schedule_that_started_in_the_past():
    """An interval that started 60 s ago, every 2 s, misfire threshold 1 s: fire_once runs the
    first missed occurrence once, skip runs none of them, fire_all runs those of the last
    5 s (the catch-up window) one after the other; then each goes on on time."""
    now = int(time.time() * 1000)
    start, end = now - 60000, now + 3000
    jobs = {pol: submit({"name": "misfire-" + pol, "task": "noop",
                         "schedule": {"type": "interval", "interval_ms": 2000,
                                      "start": iso(start), "end": iso(end), "misfire": pol,
                                      "misfire_threshold_ms": 1000, "catch_up_ms": 5000}})
            for pol in ("fire_once", "skip", "fire_all")}
    got = {pol: finished_recurring(job) for pol, job in jobs.items()}

    def due(ex, status):
        return [iso_ms(e["scheduled_at"]) for e in ex if e["status"] == status]
    once = got["fire_once"]
    check(due(once, "SUCCEEDED")[0] == start, "fire_once: first run %s" % once)
    check(all(t > now for t in due(once, "SUCCEEDED")[1:]), "fire_once: caught up: %s" % once)
    check(not due(once, "SKIPPED"), "fire_once: skipped %s" % once)

    skip = got["skip"]
    check(due(skip, "SKIPPED") == [start], "skip: skipped %s" % skip)
    check(due(skip, "SUCCEEDED") and all(t > now for t in due(skip, "SUCCEEDED")),
          "skip: runs %s" % skip)

    fall = got["fire_all"]
    check(due(fall, "SKIPPED") == [start], "fire_all: skipped %s" % fall)
    caught = [t for t in due(fall, "SUCCEEDED") if t <= now]
    check(2 <= len(caught) <= 3 and all(now - 5000 - 1000 <= t for t in caught),
          "fire_all: caught up %s (now %d)" % (caught, now))


def test_bad_cron_and_zone_are_rejected_naming_the_field():
    for sched, field in (({"type": "cron", "cron": "61 * * * *"}, "schedule.cron"),
                         ({"type": "cron", "cron": "0 9 * * *", "timezone": "Mars/Olympus"},
                          "schedule.timezone")):
        status, body = http("POST", "/v1/jobs", {"name": "x", "task": "noop", "schedule": sched})
        check(status == 400 and body.get("field") == field, "%s -> %s %s" % (sched, status, body))


def produce_create(job_id, name, kind, interval_ms=None, queue="default", max_attempts=1):
    """A CreateJob written to the commands topic directly, as an upstream producer would."""
    rec = {"event_id": uuid.uuid4().hex, "job_id": job_id, "tenant": "dev",
           "ts_ms": int(time.time() * 1000), "name": name,
           "schedule": {"kind": kind, "at_ms": None, "delay_ms": None, "cron": None,
                        "timezone": "UTC", "interval_ms": interval_ms, "start_ms": None,
                        "end_ms": None, "max_runs": 0, "misfire": "FIRE_ONCE",
                        "misfire_threshold_ms": 60000, "catch_up_ms": 3600000,
                        "overlap": "ALLOW"},
           "task": "noop", "parameters": "{}", "queue": queue, "priority": "NORMAL",
           "retry": {"max_attempts": max_attempts, "initial_backoff_ms": 100,
                     "multiplier": 2.0, "max_backoff_ms": 60000},
           "timeout_ms": 60000, "idempotency_key": None}
    p = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    p.produce(PREFIX + ".commands", key=job_id.encode(), value=WIRE.encode("CreateJob", rec))
    check(p.flush(10) == 0, "CreateJob not delivered")


def test_invalid_schedule_from_kafka_is_rejected_with_a_reason():
    """An upstream producer writes a CreateJob the API would refuse: the timer answers with a
    REJECTED status event, which the view shows."""
    job_id = "rej-" + uuid.uuid4().hex[:12]
    produce_create(job_id, "bad-interval", "INTERVAL", interval_ms=0)
    wait_until("job to show REJECTED", 30, lambda: job_state(job_id) == "REJECTED")
    _, body = http("GET", "/v1/jobs/" + job_id)
    check("interval_ms" in json.dumps(body), "the reason is not shown: %s" % body)


def test_job_for_a_queue_nobody_serves_fails_with_the_reason_and_the_timer_lives_on():
    """A CreateJob written to Kafka directly for a queue without executions topics (the API
    refuses those, 400): its execution fails for good naming the queue, and the timer keeps
    firing other jobs (producing to the missing topic used to fail every transaction)."""
    job_id = "noq-" + uuid.uuid4().hex[:12]
    produce_create(job_id, "unserved", "IMMEDIATE", queue="nobody-serves-this",
                   max_attempts=3)
    wait_until("job to end FAILED", 30, lambda: job_state(job_id) == "FAILED")
    ex = executions(job_id)
    check(len(ex) == 1 and ex[0]["retryable"] is False, "executions: %s" % ex)
    check("nobody-serves-this" in (ex[0]["error"] or ""), "no reason: %s" % ex)
    code, body = http("POST", "/v1/jobs", {"name": "x", "task": "noop", "queue": "nobody-serves-this",
                                          "schedule": {"type": "immediate"}})
    check(code == 400 and body.get("field") == "queue", "API: %d %s" % (code, body))
    ok = submit({"name": "after", "task": "noop", "schedule": {"type": "immediate"}})
    wait_until("a job after it to succeed", 30, lambda: job_state(ok["job_id"]) == "SUCCEEDED")


def test_timeout_kills_the_task():
    job = submit({"name": "slow", "task": "sleep", "schedule": {"type": "immediate"}})
    t0 = time.monotonic()
    wait_until("sleep job to fail on its timeout", 30, lambda: job_state(job["job_id"]) == "FAILED")
    check(time.monotonic() - t0 < 20, "timeout took too long")
    e = executions(job["job_id"])[-1]
    check("timed out" in (e.get("error") or ""), "no timeout reason: %s" % e)


def test_cancelled_job_never_fires():
    due = int(time.time() * 1000) + 4000
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due / 1000)) + ".%03dZ" % (due % 1000)
    job = submit({"name": "to-cancel", "task": "noop", "schedule": {"type": "at", "at": iso}})
    # The consistency token makes the API apply the create to its view before it checks
    # the job exists (read-your-writes).
    status, body = http("DELETE", "/v1/jobs/%s?consistency_token=%s"
                        % (job["job_id"], job["consistency_token"]))
    check(status in (200, 202), "DELETE -> %s %s" % (status, body))
    wait_until("job to show CANCELLED", 30, lambda: job_state(job["job_id"]) == "CANCELLED")
    # Wait past the due time plus a margin, by a condition: a later job due after it fired.
    marker = submit({"name": "marker", "task": "noop", "schedule": {"type": "at", "at": iso}})
    wait_until("marker job due at the same instant to succeed", 60,
               lambda: job_state(marker["job_id"]) == "SUCCEEDED")
    check(job_state(job["job_id"]) == "CANCELLED", "cancelled job changed state")
    check(executions(job["job_id"]) == [], "cancelled job has executions")


def test_thousand_jobs_fire_exactly_once_and_succeed():
    n = int(os.environ.get("KLOK_E2E_JOBS", "1000"))
    start_ms = int(time.time() * 1000) + 3000
    spread_ms = 5000

    def post(i):
        due = start_ms + i * spread_ms // n
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due // 1000)) + ".%03dZ" % (due % 1000)
        return due, submit({"name": "load-%d" % i, "task": "noop",
                            "schedule": {"type": "at", "at": iso}})
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(n)))
    accept_s = time.monotonic() - t0
    due_of = {r["job_id"]: due for due, r in results}
    check(len(due_of) == n, "job ids are not unique")
    print("  accepted %d jobs over HTTP in %.2f s (%.0f/s)" % (n, accept_s, n / accept_s))

    wait_all_succeeded(due_of, 180)
    print("  all %d SUCCEEDED in the view %.1f s after the last due time"
          % (n, time.time() - (start_ms + spread_ms) / 1000))

    recs = read_topic([PREFIX + ".executions.default.normal", PREFIX + ".executions.default.high"],
                      start_ms - 60000)
    seen = {}
    lateness = []
    for m in recs:
        name, rec = WIRE.decode(m.value())
        check(name == "ExecutionDue", "a %s record on an executions topic" % name)
        if rec["job_id"] not in due_of:
            continue
        seen[rec["execution_id"]] = seen.get(rec["execution_id"], 0) + 1
        check(rec["scheduled_ms"] == due_of[rec["job_id"]], "scheduled_ms differs: %s" % rec)
        lateness.append(m.timestamp()[1] - rec["scheduled_ms"])
    dups = {k: v for k, v in seen.items() if v != 1}
    check(not dups, "execution ids not exactly once: %s" % list(dups.items())[:5])
    check(len(seen) == n, "%d of %d jobs have an ExecutionDue" % (len(seen), n))
    lateness.sort()
    early = [x for x in lateness if x < 0]
    check(not early, "%d executions fired before their due time" % len(early))

    def pct(q):
        return lateness[min(len(lateness) - 1, int(q * len(lateness)))]
    print("  firing lateness over %d jobs: p50 %d ms, p99 %d ms, max %d ms"
          % (n, pct(0.50), pct(0.99), lateness[-1]))


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
# The load test last: it is the slowest and the others are quicker to diagnose.
TESTS.sort(key=lambda f: f.__name__ == "test_thousand_jobs_fire_exactly_once_and_succeed")


def run_tests(tests, only=(), finish=None):
    """Run each test (those whose name contains one of `only`, if given), one line each, then
    `finish()` if given, then the closing "N passed, M failed" line.  Returns the exit code."""
    passed = failed = 0
    for t in tests:
        if only and not any(o in t.__name__ for o in only):
            continue
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 — report every failure, run the rest
            failed += 1
            print("FAIL %s (%.1f s): %s" % (t.__name__, time.monotonic() - t0, e), flush=True)
            if not isinstance(e, Failure):
                traceback.print_exc()
    if finish:
        finish()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    return run_tests(TESTS, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
