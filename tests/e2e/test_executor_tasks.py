#!/usr/bin/python3
"""End-to-end tests of the executor's task kinds beside `exec`, against the stack scripts/test
started (scripts/lib/stack.sh registers the tasks):

- `http`: webhooks to a server this test runs on 127.0.0.1:KLOK_PORT_BASE+70 (the hook-* tasks
  point there), which records every request and answers by path: /ok 200, /big 200 with
  1 MiB, /fail 500, /missing 404, /slow only after the task's 1 s timeout.  Checked: the body is the parameters,
  Idempotency-Key is the execution id; 2xx succeeds, 5xx and timeouts and refused connections
  are retried, other 4xx fail at once; messages never show a secret.
- `kafka`: the publish* tasks produce the parameters to e2e.delayed (created here) at the due
  time, keyed by job id or the task's key template, with the klok.* headers; a record the
  topic refuses (too large) fails at once; one never acknowledged (no such topic) fails,
  retryable, after the task's delivery timeout.
- A bad task config keeps the executor from starting, naming the task.

Environment: KLOK_API, KLOK_BOOTSTRAP, KLOK_PORT_BASE (default: API port - 80), KLOK_BUILD_DIR
(default build-test).  Prints one line per test and closes with "N passed, M failed"; exit
code 1 on any failure.  Every wait is for a condition, with a deadline.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (API, BOOTSTRAP, BUILD_DIR, PORT_BASE, ROOT, check,  # noqa: E402
                      executions, iso_ms, job_state, read_topic, run_tests, submit,
                      wait_until)

HOOK_PORT = PORT_BASE + 70
EXECUTOR_BIN = os.path.join(BUILD_DIR, "executor", "klok-executor")
DELAYED_TOPIC = "e2e.delayed"  # task.publish*.topic in scripts/lib/stack.sh
TINY_TOPIC = "e2e.tiny"          # task.publish-tiny.topic
NOWHERE_TIMEOUT_S = 1.5         # task.publish-nowhere.timeout_ms
SECRET = "s3cret"              # in task.hook-fail's url and headers
SLOW_TIMEOUT_S = 1.0           # task.hook-slow.timeout_ms


class Hooks:
    """What the webhook server received, by job id (X-Klok-Job-Id)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.release = threading.Event()  # lets /slow answer, at the end

    def record(self, req):
        with self.lock:
            self.requests.append(req)

    def of_job(self, job_id):
        with self.lock:
            return [r for r in self.requests if r["headers"].get("x-klok-job-id") == job_id]


HOOKS = Hooks()
ANSWERS = {"/ok": 200, "/big": 200, "/fail": 500, "/missing": 404, "/slow": 200}
BIG_BODY = b"0123456789abcdef" * 65536  # 1 MiB
OUTPUT_MAX = 4096  # the executor's output.max (its default)


class HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.hook()

    def do_PUT(self):
        self.hook()

    def hook(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HOOKS.record({"method": self.command, "path": url.path, "query": url.query,
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body, "at": time.time()})
        if url.path == "/slow":
            # A receiver slower than the task's timeout: the executor gives up first.  The
            # wait ends when the test is over (or after 10 s), not at a guessed moment.
            HOOKS.release.wait(10)
        code = ANSWERS.get(url.path, 404)
        payload = (BIG_BODY if url.path == "/big"
                   else ("hook %s answered %d" % (url.path, code)).encode())
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")  # one request per execution
            self.end_headers()
            self.wfile.write(payload)
        except ConnectionError:
            pass  # the executor timed out, or stopped reading a long body
        self.close_connection = True

    def log_message(self, fmt, *args):
        pass


class HookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up
            super().handle_error(request, client_address)


def start_hook_server():
    server = HookServer(("127.0.0.1", HOOK_PORT), HookHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def final_executions(job, state, deadline_s=60):
    wait_until("job %s to be %s" % (job["job_id"], state), deadline_s,
               lambda: job_state(job["job_id"]) == state)
    return sorted(executions(job["job_id"]), key=lambda e: e["attempt"])


def check_secret_free(ex):
    text = json.dumps(ex)
    check(SECRET not in text, "a secret shows in the execution: %s" % text)


# --- http --------------------------------------------------------------------------------------

def test_http_task_posts_the_parameters_with_the_execution_id_as_idempotency_key():
    params = {"order": 42, "text": "héllo", "items": [1, 2]}
    job = submit({"name": "hook", "task": "hook-ok", "schedule": {"type": "immediate"},
                  "parameters": params})
    ex = final_executions(job, "SUCCEEDED")
    check(len(ex) == 1 and ex[0]["status"] == "SUCCEEDED", "executions: %s" % ex)
    check(ex[0]["exit_code"] == 200, "exit_code is not the HTTP status: %s" % ex[0])
    check(ex[0]["output"] == "hook /ok answered 200", "output excerpt: %s" % ex[0])
    reqs = HOOKS.of_job(job["job_id"])
    check(len(reqs) == 1, "%d requests for one execution" % len(reqs))
    r = reqs[0]
    check(r["method"] == "POST" and r["path"] == "/ok", "request: %s %s" % (r["method"], r["path"]))
    check(json.loads(r["body"]) == params, "body is not the parameters: %r" % r["body"])
    h = r["headers"]
    check(h.get("content-type") == "application/json", "Content-Type: %s" % h)
    check(h.get("idempotency-key") == ex[0]["execution_id"],
          "Idempotency-Key %r, execution id %r" % (h.get("idempotency-key"), ex[0]["execution_id"]))
    check(h.get("x-klok-attempt") == "1", "X-Klok-Attempt: %s" % h)
    check(h.get("x-klok-test") == "static", "the task's static header is missing: %s" % h)
    check("expect" not in h, "Expect header sent: %s" % h)


def test_http_task_put_without_parameters_sends_an_empty_object():
    job = submit({"name": "hook-put", "task": "hook-put", "schedule": {"type": "immediate"}})
    final_executions(job, "SUCCEEDED")
    reqs = HOOKS.of_job(job["job_id"])
    check(len(reqs) == 1 and reqs[0]["method"] == "PUT", "requests: %s" % reqs)
    check(json.loads(reqs[0]["body"]) == {}, "body: %r" % reqs[0]["body"])


def test_http_task_keeps_a_bounded_excerpt_of_a_large_response():
    job = submit({"name": "hook-big", "task": "hook-big", "schedule": {"type": "immediate"}})
    ex = final_executions(job, "SUCCEEDED")
    check(len(ex) == 1 and ex[0]["exit_code"] == 200, "executions: %s" % ex)
    check(ex[0]["output"] == BIG_BODY[:OUTPUT_MAX].decode(),
          "output is not the first %d bytes: %d bytes" % (OUTPUT_MAX, len(ex[0]["output"] or "")))


def test_http_500_is_retried_then_dead_lettered_and_fails_without_a_retry_policy():
    retried = submit({"name": "hook-500", "task": "hook-fail", "schedule": {"type": "immediate"},
                      "retry": {"max_attempts": 2, "initial_backoff_ms": 100}})
    once = submit({"name": "hook-500-once", "task": "hook-fail",
                   "schedule": {"type": "immediate"}})
    ex = final_executions(retried, "DEAD_LETTERED")
    check([e["attempt"] for e in ex] == [1, 2], "attempts: %s" % ex)
    for e in ex:
        check(e["status"] == "FAILED" and e["retryable"] is True and e["exit_code"] == 500,
              "execution: %s" % e)
        err = e["error"] or ""
        check("HTTP 500" in err and "127.0.0.1:%d/fail" % HOOK_PORT in err,
              "the message does not name the status and URL: %r" % err)
        check_secret_free(e)
    reqs = HOOKS.of_job(retried["job_id"])
    check(sorted(r["headers"]["idempotency-key"] for r in reqs)
          == sorted(e["execution_id"] for e in ex),
          "one request per attempt, keyed by its execution id: %s" % reqs)
    check(sorted(r["headers"]["x-klok-attempt"] for r in reqs) == ["1", "2"],
          "X-Klok-Attempt: %s" % reqs)
    check(all(r["headers"].get("authorization") == "Bearer " + SECRET for r in reqs),
          "the task's Authorization header was not sent")

    ex = final_executions(once, "FAILED")
    check(len(ex) == 1 and ex[0]["retryable"] is True, "no retry policy: %s" % ex)
    check(len(HOOKS.of_job(once["job_id"])) == 1, "requests without a retry policy")


def test_http_404_fails_at_once_even_with_attempts_left():
    job = submit({"name": "hook-404", "task": "hook-missing", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 3, "initial_backoff_ms": 100}})
    ex = final_executions(job, "FAILED")
    check(len(ex) == 1, "a 404 was retried: %s" % ex)
    e = ex[0]
    check(e["retryable"] is False and e["exit_code"] == 404, "execution: %s" % e)
    check("HTTP 404" in (e["error"] or "") and "/missing" in e["error"], "error: %s" % e)
    check(len(HOOKS.of_job(job["job_id"])) == 1, "requests: %s" % HOOKS.of_job(job["job_id"]))


def retried_to_dead_letter(name, task):
    """A job of task with two attempts that must both fail, retryable: its executions."""
    job = submit({"name": name, "task": task, "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 2, "initial_backoff_ms": 100}})
    ex = final_executions(job, "DEAD_LETTERED")
    check([e["attempt"] for e in ex] == [1, 2], "attempts: %s" % ex)
    for e in ex:
        check(e["status"] == "FAILED" and e["retryable"] is True, "execution: %s" % e)
    return job, ex


def test_http_timeout_is_a_retryable_failure():
    job, ex = retried_to_dead_letter("hook-slow", "hook-slow")
    for e in ex:
        check("timed out after 1000 ms" in (e["error"] or ""), "no timeout reason: %s" % e)
        check(e["exit_code"] is None, "exit code without a response: %s" % e)
        took = (iso_ms(e["finished_at"]) - iso_ms(e["started_at"])) / 1000
        check(SLOW_TIMEOUT_S - 0.1 <= took < SLOW_TIMEOUT_S + 2, "attempt took %.2f s" % took)
    check(len(HOOKS.of_job(job["job_id"])) == 2, "requests: %s" % HOOKS.of_job(job["job_id"]))


def test_http_connection_refused_is_a_retryable_failure():
    job = submit({"name": "hook-down", "task": "hook-down", "schedule": {"type": "immediate"}})
    ex = final_executions(job, "FAILED")
    check(len(ex) == 1, "executions: %s" % ex)
    e = ex[0]
    check(e["retryable"] is True and e["exit_code"] is None, "execution: %s" % e)
    check("127.0.0.1:%d" % (PORT_BASE + 71) in (e["error"] or ""), "error: %s" % e)


# --- kafka -------------------------------------------------------------------------------------

def ensure_topic(name, partitions=2, config=None):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    fut = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                              request_timeout=15)[name]
    try:
        fut.result(30)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # from an earlier test
            raise

    def known():
        md = admin.list_topics(name, timeout=10).topics.get(name)
        return md is not None and md.error is None and len(md.partitions) == partitions
    wait_until("topic %s in the metadata" % name, 30, known)


def published(job_id, since_ms):
    recs = read_topic([DELAYED_TOPIC], since_ms)
    return [m for m in recs if dict(m.headers() or []).get("klok.job_id") == job_id.encode()]


def test_kafka_task_produces_the_parameters_at_the_due_time():
    ensure_topic(DELAYED_TOPIC)
    params = {"reminder": "pay", "amount": 12.5}
    start = int(time.time() * 1000)
    job = submit({"name": "delayed", "task": "publish", "parameters": params,
                  "schedule": {"type": "delay", "delay_ms": 1500}})
    ex = final_executions(job, "SUCCEEDED")
    check(len(ex) == 1 and ex[0]["exit_code"] == 0, "executions: %s" % ex)
    # SUCCEEDED means the broker acknowledged the record: it is there now.
    recs = published(job["job_id"], start - 1000)
    check(len(recs) == 1, "%d records for one execution" % len(recs))
    m = recs[0]
    check(json.loads(m.value()) == params, "value is not the parameters: %r" % m.value())
    check(m.key() == job["job_id"].encode(), "key %r, job %s" % (m.key(), job["job_id"]))
    h = dict(m.headers())
    check(h.get("klok.execution_id") == ex[0]["execution_id"].encode(), "headers: %s" % h)
    check(h.get("X-Klok-Test") == b"static", "the task's static header is missing: %s" % h)
    due = iso_ms(ex[0]["scheduled_at"])
    check(due >= start + 1500, "scheduled at %d, submitted at %d" % (due, start))
    check(m.timestamp()[1] >= due, "produced %d ms before its due time" % (due - m.timestamp()[1]))


def test_kafka_task_key_is_its_template():
    ensure_topic(DELAYED_TOPIC)
    start = int(time.time() * 1000)
    job = submit({"name": "keyed", "task": "publish-keyed", "schedule": {"type": "immediate"}})
    final_executions(job, "SUCCEEDED")
    recs = published(job["job_id"], start - 1000)
    check(len(recs) == 1, "%d records" % len(recs))
    check(recs[0].key() == ("order-%s-1" % job["job_id"]).encode(), "key: %r" % recs[0].key())
    check(json.loads(recs[0].value()) == {}, "value without parameters: %r" % recs[0].value())


def test_kafka_task_record_the_topic_refuses_fails_at_once():
    # e2e.tiny takes batches of 300 bytes at most (max.message.bytes): the broker answers
    # MESSAGE_TOO_LARGE, which no retry can change.
    ensure_topic(TINY_TOPIC, 1, {"max.message.bytes": "300"})
    job = submit({"name": "too-big", "task": "publish-tiny", "parameters": {"pad": "x" * 1000},
                  "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 3, "initial_backoff_ms": 100}})
    ex = final_executions(job, "FAILED")
    check(len(ex) == 1, "a refused record was retried: %s" % ex)
    e = ex[0]
    check(e["retryable"] is False and e["exit_code"] is None, "execution: %s" % e)
    check(TINY_TOPIC in (e["error"] or "") and "never take" in e["error"], "error: %s" % e)
    # A record that fits goes through the same task: the refusal was about the size.
    ok = submit({"name": "small", "task": "publish-tiny", "schedule": {"type": "immediate"}})
    final_executions(ok, "SUCCEEDED")


def test_kafka_task_not_acknowledged_within_its_timeout_is_retried():
    # e2e.nowhere is never created and the broker does not create topics: the record waits
    # for its topic until the task's delivery timeout (1.5 s), then the attempt fails, retryable;
    # once the producer's metadata says the topic does not exist (a later attempt, or a rerun
    # of this test), it fails at once, retryable too (someone may create the topic).
    _, ex = retried_to_dead_letter("nowhere", "publish-nowhere")
    for e in ex:
        error = e["error"] or ""
        check("e2e.nowhere" in error, "error: %s" % e)
        took = (iso_ms(e["finished_at"]) - iso_ms(e["started_at"])) / 1000
        check(took < NOWHERE_TIMEOUT_S + 2, "attempt took %.2f s" % took)
        if "Unknown topic" not in error:
            check("timeout" in error and took >= NOWHERE_TIMEOUT_S - 0.1,
                  "attempt took %.2f s: %s" % (took, error))


# --- registry ----------------------------------------------------------------------------------

def test_unknown_task_fails_without_a_retry():
    job = submit({"name": "u", "task": "no-such-task", "schedule": {"type": "immediate"},
                  "retry": {"max_attempts": 3, "initial_backoff_ms": 100}})
    ex = final_executions(job, "FAILED")
    check(len(ex) == 1 and ex[0]["retryable"] is False, "executions: %s" % ex)
    check("not registered" in (ex[0]["error"] or ""), "error: %s" % ex[0])


def test_executor_refuses_to_start_with_a_bad_task():
    cases = [
        (["task.t.kind = ftp"], 'unknown kind "ftp"'),
        (["task.t.kind = http", 'task.t.argv = ["/bin/true"]'], "argv does not apply to kind http"),
        (['task.t.argv = ["/bin/true"]', "task.t.kind = kafka"], "argv does not apply to kind kafka"),
        (["task.t.kind = exec", "task.t.topic = x"], "topic does not apply to kind exec"),
        (["task.t.kind = http"], "kind http needs url"),
        (["task.t.kind = kafka", "task.t.key = {job_id}"], "kind kafka needs topic"),
        (["task.t.kind = http", "task.t.url = ftp://example.com/x"], "http:// or https://"),
        (["task.t.kind = http", "task.t.url = http://h/", "task.t.method = GET"], "POST or PUT"),
        (["task.t.kind = http", "task.t.url = http://h/",
          'task.t.headers = {"Idempotency-Key": "x"}'], "set by the executor"),
        (["task.t.kind = http", "task.t.url = http://h/",
          'task.t.headers = {"X-A": "a\\r\\nInjected: 1"}'], "control characters"),
        (["task.t.kind = kafka", "task.t.topic = not a topic"], "topic must be"),
        (["task.t.kind = kafka", "task.t.topic = ok", 'task.t.headers = {"klok.job_id": "x"}'],
         "klok.*"),
    ]
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "executor.conf")
        for lines, needle in cases:
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            p = subprocess.run([EXECUTOR_BIN, "--config", conf], capture_output=True, text=True,
                               timeout=30)
            check(p.returncode == 2 and needle in p.stderr and "task t" in p.stderr,
                  "%s -> exit %d, %r (wanted %r)" % (lines, p.returncode, p.stderr, needle))


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    server = start_hook_server()

    def finish():
        HOOKS.release.set()
        server.shutdown()
        server.server_close()
    return run_tests(TESTS, sys.argv[1:], finish)


if __name__ == "__main__":
    sys.exit(main())
