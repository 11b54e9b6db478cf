#!/usr/bin/python3
"""Firing lateness of klok-timer at a given rate of due jobs, beside the raw Kafka rate of the
same broker measured in the same run.

Run through bench/timer-lateness (which starts a broker and one timer on their own ports);
by hand: KLOK_BOOTSTRAP=127.0.0.1:24092 bench/timer_lateness.py --rate 20000 --seconds 10

1. Reference: one producer and one consumer move records of klok's size (an encoded
   ExecutionDue) through the broker; R = records/s end to end.
2. Load: rate*seconds CreateJob commands with `at` times spread evenly over `seconds`, starting
   far enough ahead that all of them are on the topic (and applied) before the first is due.
3. Lateness of each firing = timestamp of its ExecutionDue record (set when the timer produced
   it) - its due time, read back with read_committed. Also checks each job fired exactly once.
"""
import argparse
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from klok_wire import Wire  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BOOTSTRAP = os.environ.get("KLOK_BOOTSTRAP", "127.0.0.1:24092")
WIRE = Wire(os.path.join(ROOT, "schemas"))


def create_job(job_id, now_ms, due_ms):
    return WIRE.encode("CreateJob", {
        "event_id": uuid.uuid4().hex, "job_id": job_id, "tenant": "bench", "ts_ms": now_ms,
        "name": "bench",
        "schedule": {"kind": "AT", "at_ms": due_ms, "delay_ms": None, "cron": None,
                     "timezone": "UTC", "interval_ms": None, "start_ms": None, "end_ms": None,
                     "max_runs": 0, "misfire": "FIRE_ONCE",
                     "misfire_threshold_ms": 60000, "catch_up_ms": 3600000,
                     "overlap": "ALLOW"},
        "task": "noop", "parameters": "{}", "queue": "bench", "priority": "NORMAL",
        "retry": {"max_attempts": 1, "initial_backoff_ms": 1000, "multiplier": 2.0,
                  "max_backoff_ms": 60000},
        "timeout_ms": 60000, "idempotency_key": None})


def consume_all(topic, want, deadline_s, since_ms=0):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "bench-" + uuid.uuid4().hex,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
    parts = [TopicPartition(topic, p, since_ms) for p in c.list_topics(topic).topics[topic].partitions]
    c.assign(c.offsets_for_times(parts, timeout=10))
    out = []
    end = time.monotonic() + deadline_s
    while len(out) < want and time.monotonic() < end:
        for m in c.consume(10000, 0.2):
            if not m.error():
                out.append(m)
    c.close()
    return out


def reference_rate(n, sample):
    """Records/s of one producer + one consumer through the same broker."""
    topic = "klok.bench.reference"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    parts = len(Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "x"})
                .list_topics("klok.commands").topics["klok.commands"].partitions)
    for f in admin.create_topics([NewTopic(topic, parts, 1)]).values():
        try:
            f.result()
        except Exception as e:  # already there from an earlier run is fine
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5, "acks": "all",
                  "enable.idempotence": True})
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=b"k%d" % (i % 1000), value=sample)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(60)
    got = consume_all(topic, n, 120)
    dt = time.monotonic() - t0
    if len(got) < n:
        raise SystemExit("reference: consumed %d of %d" % (len(got), n))
    return n / dt


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=20000, help="due jobs per second")
    ap.add_argument("--seconds", type=int, default=10, help="length of the due window")
    ap.add_argument("--reference", type=int, default=200000, help="records for the reference")
    ap.add_argument("--warmup", type=int, default=2,
                    help="first seconds of the window reported apart (cold transactions)")
    a = ap.parse_args()
    n = a.rate * a.seconds

    sample = WIRE.encode("ExecutionDue", {
        "event_id": "t" + "0" * 16, "job_id": str(uuid.uuid4()), "tenant": "bench", "ts_ms": 0,
        "execution_id": str(uuid.uuid4()) + ":1795440046123:1", "attempt": 1,
        "scheduled_ms": 1795440046123, "task": "noop", "parameters": "{}", "queue": "bench",
        "priority": "NORMAL", "timeout_ms": 60000})
    r = reference_rate(a.reference, sample)
    print("reference: %d records of %d bytes, one producer + one consumer: R = %.0f records/s"
          % (a.reference, len(sample), r))

    # Encode everything first, then produce: the load must be on the topic before it is due.
    t_enc = time.monotonic()
    lead_ms = 5000 + int(n / 15.0)  # encode + produce + apply, with margin
    start_ms = int(time.time() * 1000) + lead_ms
    ids, msgs = [], []
    now_ms = int(time.time() * 1000)
    for i in range(n):
        job_id = "b%012d%s" % (i, uuid.uuid4().hex[:8])
        ids.append(job_id)
        msgs.append(create_job(job_id, now_ms, start_ms + i * 1000 // a.rate))
    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5, "acks": "all",
                  "enable.idempotence": True, "partitioner": "murmur2_random",
                  "queue.buffering.max.messages": 1000000})
    for job_id, v in zip(ids, msgs):
        while True:
            try:
                p.produce("klok.commands", key=job_id.encode(), value=v)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(120)
    ready_ms = int(time.time() * 1000)
    print("load: %d jobs due over %d s (%d/s); produced %.1f s after start, %d ms before the "
          "first is due" % (n, a.seconds, a.rate, time.monotonic() - t_enc, start_ms - ready_ms))
    if ready_ms > start_ms:
        print("WARNING: the load was not on the topic before it came due; lateness includes it")

    recs = consume_all("klok.executions.bench.normal", n, a.seconds + 120, start_ms - 60000)
    due_of = {}
    late = []
    seen = set()
    for m in recs:
        _, rec = WIRE.decode(m.value())
        if rec["execution_id"] in seen:
            raise SystemExit("duplicate execution id %s" % rec["execution_id"])
        seen.add(rec["execution_id"])
        due_of[rec["job_id"]] = rec["scheduled_ms"]
        late.append(m.timestamp()[1] - rec["scheduled_ms"])
    missing = [j for j in ids if j not in due_of]
    by_second = {}
    for m in recs:
        _, rec = WIRE.decode(m.value())
        sec = (rec["scheduled_ms"] - start_ms) // 1000
        by_second.setdefault(sec, []).append(m.timestamp()[1] - rec["scheduled_ms"])
    print("per second of the window (p50/p99/max ms): " + "  ".join(
        "%d:%d/%d/%d" % (k, pct(sorted(v), .5), pct(sorted(v), .99), max(v))
        for k, v in sorted(by_second.items())))
    late.sort()
    steady = sorted(x for k, v in by_second.items() if k >= a.warmup for x in v)
    print("fired: %d of %d exactly once%s" % (len(recs), n,
                                               "" if not missing else ", MISSING %d" % len(missing)))
    print("firing lateness ms, whole window: p50 %d  p99 %d  p99.9 %d  max %d  (min %d)"
          % (pct(late, 0.5), pct(late, 0.99), pct(late, 0.999), late[-1], late[0]))
    if steady:
        print("firing lateness ms, after the first %d s: p50 %d  p99 %d  p99.9 %d  max %d"
              % (a.warmup, pct(steady, 0.5), pct(steady, 0.99), pct(steady, 0.999), steady[-1]))
    print("rate vs reference: %d due jobs/s = %.1f%% of R (each firing writes 2 records)"
          % (a.rate, 100.0 * a.rate / r))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
