#!/usr/bin/python3
"""Figures of bench/executor read back from the status topic (read_committed).

Run through bench/executor; by hand:
  KLOK_BOOTSTRAP=127.0.0.1:26092 bench/executor_status.py stamp --since MS --want N
  KLOK_BOOTSTRAP=127.0.0.1:26092 bench/executor_status.py tiers --since MS --want N \
      --due-topic klok.executions.tiers.high
  (arrivals: the same with --due-topic klok.executions.arrive.high)

Reads <prefix>.status from the first record at or after --since (epoch ms) to the end it has
when called (the executor of the run has stopped by then), and keeps the events of job ids
starting with "due-" (klok-loadgen --due's ids: due-<tier>-<n>).

stamp: the exec task printed the child's wall clock (date +%s%N) as its first instruction;
       overhead = that - the STARTED event's time.  The STARTED event's ts_ms has ms
       resolution, but its event id is "x" + the executor's microsecond wall clock (taken just
       before ts_ms) + 4 hex digits, so the µs clock is used.
tiers: starts ordered by that µs clock; the normal tier's share of the starts made while
       high work was still waiting (from the first high start to the last), and the wait of
       each high job = STARTED - the ExecutionDue record's timestamp (and - the first start of
       the run, i.e. net of the executor's own start-up).
arrivals: high jobs produced one by one while a normal backlog keeps every slot busy; the
       wait of each = STARTED - its record's time (when it arrived); valid only if normal
       starts still follow the last high start (checked: exit 1 otherwise).
"""
import argparse
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from klok_wire import Wire  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BOOTSTRAP = os.environ.get("KLOK_BOOTSTRAP", "127.0.0.1:26092")
WIRE = Wire(os.path.join(ROOT, "schemas"))


def read_topic(topic, since_ms, deadline_s=120):
    """Every record of topic from since_ms to the end it has now: [(timestamp_ms, value)]."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "bench-" + uuid.uuid4().hex,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": True})
    parts = [TopicPartition(topic, p, since_ms)
             for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
    start = c.offsets_for_times(parts, timeout=10)
    left = set()
    for tp in start:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
        if tp.offset < 0:  # nothing at or after since_ms
            tp.offset = hi
        if tp.offset < hi:
            left.add(tp.partition)
    c.assign(start)
    out = []
    end = time.monotonic() + deadline_s
    while left and time.monotonic() < end:
        for m in c.consume(10000, 0.2):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    left.discard(m.partition())
                continue
            out.append((m.timestamp()[1], m.value()))
    c.close()
    if left:
        sys.exit("executor_status: %s not read to its end in %d s" % (topic, deadline_s))
    return out


def status_events(prefix, since_ms):
    evs = []
    for _, v in read_topic(prefix + ".status", since_ms):
        name, rec = WIRE.decode(v)
        if name == "StatusEvent" and rec["job_id"].startswith("due-"):
            evs.append(rec)
    return evs


def us_of(ev):
    """The executor's µs wall clock in a status event id ("x" + 16 hex digits + 4)."""
    return int(ev["event_id"][1:17], 16)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def stamp(args):
    evs = status_events(args.prefix, args.since)
    started = {e["execution_id"]: us_of(e) for e in evs if e["status"] == "STARTED"}
    over = []
    bad = 0
    for e in evs:
        if e["status"] not in ("SUCCEEDED", "FAILED"):
            continue
        try:
            child_us = int((e["output"] or "").strip()) // 1000
        except ValueError:
            bad += 1
            continue
        if e["status"] != "SUCCEEDED" or e["execution_id"] not in started:
            bad += 1
            continue
        over.append((child_us - started[e["execution_id"]]) / 1000.0)
    if len(over) < args.want:
        sys.exit("executor_status: %d of %d executions measured (%d unusable)"
                 % (len(over), args.want, bad))
    print("exec start overhead (STARTED -> child's first instruction), %d executions: "
          "p50 %.2f ms, p99 %.2f ms, max %.2f ms, min %.2f ms"
          % (len(over), pct(over, 50), pct(over, 99), max(over), min(over)))


def starts_and_due_times(args, due_since):
    """The STARTED events as (µs clock, is high, event), in start order, and the timestamps
    of the high tier's ExecutionDue records by execution id."""
    evs = status_events(args.prefix, args.since)
    starts = sorted(((us_of(e), e["job_id"].startswith("due-high-"), e)
                     for e in evs if e["status"] == "STARTED"), key=lambda s: s[0])
    if len(starts) < args.want:
        sys.exit("executor_status: %d of %d starts" % (len(starts), args.want))
    due_ts = {}
    for ts, v in read_topic(args.due_topic, due_since):
        _, rec = WIRE.decode(v)
        due_ts[rec["execution_id"]] = ts
    return starts, due_ts


def tiers(args):
    starts, due_ts = starts_and_due_times(args, 0)
    high_idx = [i for i, s in enumerate(starts) if s[1]]
    first, last = high_idx[0], high_idx[-1]
    window = starts[first:last + 1]
    normal = sum(1 for s in window if not s[1])
    before = sum(1 for s in starts[:first] if not s[1])
    print("starts: %d (%d high, %d normal); normal starts before the first high start: %d"
          % (len(starts), len(high_idx), len(starts) - len(high_idx), before))
    print("normal tier's share of the starts while high work waited (first to last high "
          "start, %d starts): %.1f %%" % (len(window), 100.0 * normal / len(window)))
    t0 = starts[0][0] / 1000.0
    waits = [s[0] / 1000.0 - due_ts[s[2]["execution_id"]] for s in starts if s[1]]
    net = [s[0] / 1000.0 - t0 for s in starts if s[1]]
    print("high wait, STARTED - ExecutionDue record time: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (pct(waits, 50), pct(waits, 99), max(waits)))
    print("high wait from the run's first start (net of the executor's start-up): "
          "p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (pct(net, 50), pct(net, 99), max(net)))
    span = (starts[-1][0] - starts[0][0]) / 1e6
    print("all %d starts within %.2f s: %.0f starts/s" % (len(starts), span,
                                                          len(starts) / span if span else 0))


def arrivals(args):
    starts, due_ts = starts_and_due_times(args, args.since)
    high = [s for s in starts if s[1]]
    if not high or len(due_ts) < len(high):
        sys.exit("executor_status: %d high starts, %d high records" % (len(high), len(due_ts)))
    last_high = high[-1][0]
    after = sum(1 for s in starts if not s[1] and s[0] > last_high)
    # Saturated throughout: normal work was still waiting when the last high job started.
    print("starts: %d (%d high, %d normal); normal starts after the last high start: %d%s"
          % (len(starts), len(high), len(starts) - len(high), after,
             "" if after else "  (NOT saturated to the end: the figure below is not valid)"))
    waits = [s[0] / 1000.0 - due_ts[s[2]["execution_id"]] for s in high]
    print("high wait while normal is saturated, arrival -> STARTED, %d jobs: p50 %.1f ms, "
          "p99 %.1f ms, max %.1f ms" % (len(waits), pct(waits, 50), pct(waits, 99), max(waits)))
    span = (starts[-1][0] - starts[0][0]) / 1e6
    print("all %d starts within %.2f s: %.0f starts/s" % (len(starts), span,
                                                          len(starts) / span if span else 0))
    if not after:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["stamp", "tiers", "arrivals"])
    ap.add_argument("--prefix", default="klok")
    ap.add_argument("--since", type=int, required=True, help="epoch ms")
    ap.add_argument("--want", type=int, required=True)
    ap.add_argument("--due-topic")
    args = ap.parse_args()
    {"stamp": stamp, "tiers": tiers, "arrivals": arrivals}[args.what](args)


if __name__ == "__main__":
    main()
