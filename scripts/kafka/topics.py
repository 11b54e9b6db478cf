#!/usr/bin/python3
"""Create klok's Kafka topics idempotently and verify their partition counts.

Run with Debian's interpreter (/usr/bin/python3), which sees python3-confluent-kafka
(librdkafka 2.0.2, the library the C code uses). Called by klok_topics_create in
scripts/lib/kafka.sh; one admin client creates every topic in one request, which is far
faster than one JVM TopicCommand per topic.

Usage: topics.py BOOTSTRAP SPEC...
  SPEC is NAME:PARTITIONS[:KEY=VALUE[,KEY=VALUE...]] (topic configs, e.g. retention.ms=-1).

Exit status 0 when every topic exists afterwards with exactly the asked partition count;
1 otherwise (a message per problem on stderr). An existing topic with a different
partition count is an error: partitions are never silently added or ignored.
"""

import sys
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

# Total time allowed for the create + verify round trips.
DEADLINE_S = 60.0
# Per-request timeout handed to librdkafka.
REQUEST_TIMEOUT_S = 15.0


def parse_spec(spec):
    """NAME:PARTITIONS[:K=V,...] -> (name, partitions, {k: v})."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ValueError("bad topic spec %r (want NAME:PARTITIONS[:K=V,...])" % spec)
    config = {}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError("bad config %r in spec %r" % (item, spec))
            config[key] = value
    return parts[0], int(parts[1]), config


def create(admin, wanted):
    """Send one CreateTopics request; an already existing topic is fine.

    Returns the names whose creation failed with a retriable error."""
    new = [NewTopic(name, num_partitions=parts, replication_factor=1, config=config)
           for name, (parts, config) in wanted.items()]
    futures = admin.create_topics(new, request_timeout=REQUEST_TIMEOUT_S,
                                  operation_timeout=REQUEST_TIMEOUT_S)
    retry = []
    for name, fut in futures.items():
        try:
            fut.result()
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if err.retriable() or err.code() in (KafkaError._TIMED_OUT,
                                                  KafkaError._TRANSPORT,
                                                  KafkaError.NOT_CONTROLLER):
                retry.append(name)
                continue
            raise RuntimeError("create %s: %s" % (name, err.str()))
    return retry


def verify(admin, wanted):
    """Compare the cluster's metadata with the wanted partition counts.

    Returns (missing_or_incomplete_names, mismatch_messages)."""
    md = admin.list_topics(timeout=REQUEST_TIMEOUT_S)
    pending, problems = [], []
    for name, (parts, _config) in wanted.items():
        topic = md.topics.get(name)
        if topic is None or topic.error is not None:
            pending.append(name)
            continue
        have = len(topic.partitions)
        if have != parts:
            problems.append("topic %s has %d partitions, want %d" % (name, have, parts))
            continue
        if any(p.leader < 0 for p in topic.partitions.values()):
            pending.append(name)  # created, leaders not elected yet
    return pending, problems


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    bootstrap = argv[1]
    try:
        wanted = {}
        for spec in argv[2:]:
            name, parts, config = parse_spec(spec)
            wanted[name] = (parts, config)
    except ValueError as exc:
        sys.stderr.write("topics.py: %s\n" % exc)
        return 2

    admin = AdminClient({"bootstrap.servers": bootstrap,
                         "socket.connection.setup.timeout.ms": 5000})
    deadline = time.monotonic() + DEADLINE_S
    todo = dict(wanted)
    while True:
        try:
            if todo:
                retry = create(admin, todo)
                todo = {n: wanted[n] for n in retry}
            pending, problems = verify(admin, wanted)
        except (KafkaException, RuntimeError) as exc:
            sys.stderr.write("topics.py: %s\n" % exc)
            return 1
        if problems:
            for msg in problems:
                sys.stderr.write("topics.py: %s\n" % msg)
            return 1
        if not pending and not todo:
            return 0
        if time.monotonic() >= deadline:
            sys.stderr.write("topics.py: timed out; not ready: %s\n"
                             % ", ".join(sorted(set(pending) | set(todo))))
            return 1
        # A topic missing from metadata that create() did not flag is created again.
        todo.update({n: wanted[n] for n in pending if n not in todo})
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
