#!/usr/bin/python3
"""End-to-end tests of klokctl (klokctl/, issue 6), the binary of KLOK_BUILD_DIR, against the stack
scripts/test started (auth.mode=dev: no token needed).

- Job commands over the HTTP API, each checked through the API itself: submit (from a file and
  from stdin, with an Idempotency-Key), get (and --executions once the job ran), list (--status,
  --from with an offset, --all following the cursor over pages of --limit 2), cancel, pause and
  resume of a delayed job (read back with the consistency token klokctl printed); the JSON lines
  (--output json) and once each the table output; exit 1 with the API's reason on an HTTP
  error, 2 on bad usage and when the API cannot be reached; the token never printed.
- `cron next` against python3-croniter as the oracle (Debian's /usr/bin/python3): a dozen
  expressions (five fields, and six with the seconds first, which croniter wants last), several
  start instants, 20 fires each, in UTC and in Asia/Tokyo (no DST since 1951: croniter is wrong
  across DST changes, DESIGN.md section 9, so no zone that has them); bad expressions and zones
  exit 2 naming the field; a schedule that never fires says so.

Environment: KLOK_API, KLOK_BOOTSTRAP, KLOK_BUILD_DIR (default build-test).  Prints one line per
test and closes with "N passed, M failed"; exit code 1 on any failure.  Every wait is for a
condition, with a deadline.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (API, BUILD_DIR, Failure, check, http, job_state, run_tests,  # noqa: E402
                      submit, wait_until)

KLOKCTL = os.path.join(BUILD_DIR, "klokctl", "klokctl")
# No token from the environment of whoever runs the tests.
ENV = {k: v for k, v in os.environ.items() if k not in ("KLOK_TOKEN", "KLOK_TOKEN_FILE")}
HOUR_MS = 3600 * 1000


def ctl(*args, stdin=None, output="json", api=API):
    """Run klokctl; returns the CompletedProcess (text)."""
    return subprocess.run([KLOKCTL, "--api", api, "--output", output] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=60, env=ENV)


def ctl_lines(*args, stdin=None):
    """Run klokctl --output json; it must succeed; its JSON lines, parsed."""
    p = ctl(*args, stdin=stdin)
    check(p.returncode == 0, "klokctl %s -> exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    try:
        return [json.loads(line) for line in p.stdout.splitlines()]
    except ValueError:
        raise Failure("klokctl %s printed a line that is not JSON: %r"
                             % (" ".join(args), p.stdout))


def ctl_fails(code, needle, *args, stdin=None, output="json", api=API):
    """klokctl must exit with code, print nothing on stdout, and say needle on stderr."""
    p = ctl(*args, stdin=stdin, output=output, api=api)
    check(p.returncode == code and needle in p.stderr and not p.stdout,
          "klokctl %s -> exit %d, stdout %r, stderr %r (wanted exit %d and %r)"
          % (" ".join(args), p.returncode, p.stdout, p.stderr, code, needle))
    return p


def accepted(answer):
    """A write's JSON line: its job id and consistency token."""
    check(answer.get("status") == "ACCEPTED" and answer.get("job_id")
          and re.fullmatch(r"\d+:\d+", answer.get("consistency_token") or ""),
          "not a write's answer: %s" % answer)
    return answer["job_id"], answer["consistency_token"]


def job_after(job_id, token):
    """The job as the API shows it once its view has applied the write with this token."""
    status, body = http("GET", "/v1/jobs/%s?consistency_token=%s" % (job_id, token))
    return body if status == 200 else None


def wait_job(job_id, token, what, fn, deadline_s=30):
    """Wait until fn(job), the job read with the consistency token, is true; returns the job."""
    last = {}

    def ok():
        last["job"] = job_after(job_id, token)
        return last["job"] if last["job"] and fn(last["job"]) else None
    try:
        return wait_until("job %s %s" % (job_id, what), deadline_s, ok)
    except Failure as e:
        raise Failure("%s; last seen: %s" % (e, last.get("job")))


def delayed_job(name):
    return {"name": name, "task": "noop", "schedule": {"type": "delay", "delay_ms": HOUR_MS}}


def now_ms():
    return int(time.time() * 1000)


# --- jobs over the API --------------------------------------------------------------------------

def test_submit_from_a_file_and_from_stdin_creates_the_jobs_get_shows():
    body = {"name": "ctl-file-%s" % uuid.uuid4().hex[:8], "task": "noop",
            "schedule": {"type": "delay", "delay_ms": HOUR_MS}, "parameters": {"k": "vé"}}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(body, f)
        f.flush()
        lines = ctl_lines("submit", f.name)
    check(len(lines) == 1, "submit printed %d lines" % len(lines))
    job_id, token = accepted(lines[0])
    job = wait_job(job_id, token, "to exist", lambda j: True)
    check(job["name"] == body["name"] and job["parameters"] == body["parameters"],
          "the API's job is not the body: %s" % job)

    got = ctl_lines("get", job_id)
    check(len(got) == 1 and got[0]["job_id"] == job_id and got[0]["name"] == body["name"]
          and got[0]["state"] == "SCHEDULED", "get: %s" % got)
    p = ctl("get", job_id, output="table")
    check(p.returncode == 0 and re.search(r"^job_id: +%s$" % job_id, p.stdout, re.M)
          and re.search(r"^state: +SCHEDULED$", p.stdout, re.M)
          and re.search(r'^parameters: +\{"k":"vé"\}$', p.stdout, re.M),
          "get as a table: %r %r" % (p.stdout, p.stderr))

    # From stdin, with an Idempotency-Key: the same key again names the same job (200).
    key = "ctl-" + uuid.uuid4().hex
    body2 = dict(body, name=body["name"] + "-stdin")
    first = ctl_lines("submit", "-", "--idempotency-key", key, stdin=json.dumps(body2))
    job2, token2 = accepted(first[0])
    check(job2 != job_id, "two creates named one job")
    job = wait_job(job2, token2, "to exist", lambda j: True)
    check(job["name"] == body2["name"] and job["idempotency_key"] == key,
          "the API's job from stdin: %s" % job)
    again = ctl_lines("submit", "-", "--idempotency-key", key, stdin=json.dumps(body2))
    check(accepted(again[0])[0] == job2, "a repeated key named another job: %s" % again)

    # The table form of a write.
    p = ctl("submit", "-", output="table", stdin=json.dumps(body))
    m = re.fullmatch(r"accepted (\S+) \(consistency token (\d+:\d+)\)\n", p.stdout)
    check(p.returncode == 0 and m, "submit as a table: %r %r" % (p.stdout, p.stderr))
    wait_job(m.group(1), m.group(2), "to exist", lambda j: True)
    for jid in (job_id, job2, m.group(1)):
        http("DELETE", "/v1/jobs/" + jid)


def test_get_executions_shows_the_succeeded_run_and_list_by_status_has_it():
    t0 = now_ms()
    name = "ctl-run-%s" % uuid.uuid4().hex[:8]
    job_id, token = accepted(ctl_lines("submit", "-", stdin=json.dumps(
        {"name": name, "task": "noop", "schedule": {"type": "immediate"}}))[0])
    wait_until("job %s to be SUCCEEDED" % job_id, 60, lambda: job_state(job_id) == "SUCCEEDED")

    lines = ctl_lines("get", job_id, "--executions")
    check(len(lines) >= 2 and lines[0]["job_id"] == job_id and lines[0]["state"] == "SUCCEEDED",
          "get --executions: first line %s" % lines[:1])
    execs = lines[1:]
    check(all(e["job_id"] == job_id for e in execs)
          and [e["status"] for e in execs] == ["SUCCEEDED"] and execs[0]["attempt"] == 1,
          "executions: %s" % execs)
    p = ctl("get", job_id, "--executions", output="table")
    check(p.returncode == 0 and re.search(r"^SCHEDULED +ATTEMPT +STATUS", p.stdout, re.M)
          and re.search(r"^\S+Z +1 +SUCCEEDED ", p.stdout, re.M),
          "get --executions as a table: %r %r" % (p.stdout, p.stderr))

    listed = ctl_lines("list", "--status", "SUCCEEDED", "--from", str(t0), "--all")
    check(job_id in [j["job_id"] for j in listed], "list --status SUCCEEDED lacks %s" % job_id)
    check(all(j["state"] == "SUCCEEDED" for j in listed),
          "list --status SUCCEEDED: %s" % [(j["job_id"], j["state"]) for j in listed])
    none = ctl_lines("list", "--status", "CANCELLED", "--from", str(t0), "--all")
    check(job_id not in [j["job_id"] for j in none], "list --status CANCELLED has %s" % job_id)


def test_list_all_follows_the_cursor_over_pages_of_limit_2():
    t0 = now_ms()
    ids = []
    for i in range(5):
        ids.append(submit(delayed_job("ctl-page-%d" % i))["job_id"])
    # The jobs are in the view (and so in lists) once the last create is.
    wait_until("the jobs in the view", 30,
               lambda: all(job_state(j) == "SCHEDULED" for j in ids))
    # --from with an offset (sent as UTC, URL-encoded); --to an hour ahead.
    offset = timezone(timedelta(hours=2))
    frm = datetime.fromtimestamp(t0 / 1000, offset).isoformat(timespec="milliseconds")
    to = datetime.fromtimestamp((t0 + HOUR_MS) / 1000, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    listed = ctl_lines("list", "--from", frm, "--to", to, "--limit", "2", "--all")
    got = [j["job_id"] for j in listed]
    check(sorted(got) == sorted(ids), "list --all --limit 2 gave %s, wanted %s" % (got, ids))
    order = [(j["created_at"], j["job_id"]) for j in listed]
    check(order == sorted(order), "list --all is not oldest first: %s" % order)

    p = ctl("list", "--from", frm, "--limit", "2")
    page = [json.loads(line)["job_id"] for line in p.stdout.splitlines()]
    check(p.returncode == 0 and page == got[:2] and "--cursor" in p.stderr,
          "one page of 2: %s, stderr %r" % (page, p.stderr))
    cursor = p.stderr.split("--cursor ", 1)[1].split()[0]
    nxt = ctl_lines("list", "--from", frm, "--limit", "2", "--cursor", cursor)
    check([j["job_id"] for j in nxt] == got[2:4], "the page after the cursor: %s" % nxt)

    p = ctl("list", "--from", frm, "--limit", "2", "--all", "--status", "SCHEDULED",
            output="table")
    rows = p.stdout.splitlines()
    check(p.returncode == 0 and re.match(r"JOB ID +NAME +STATE +QUEUE +NEXT RUN +CREATED$", rows[0])
          and [r.split()[0] for r in rows[1:]] == got
          and all(" SCHEDULED " in r and " default " in r for r in rows[1:]),
          "list as a table: %r %r" % (p.stdout, p.stderr))
    for j in ids:
        ctl_lines("cancel", j)


def test_pause_resume_cancel_change_the_state_of_a_delayed_job():
    job_id, token = accepted(ctl_lines("submit", "-", stdin=json.dumps(
        delayed_job("ctl-commands")))[0])
    wait_job(job_id, token, "to be SCHEDULED", lambda j: j["state"] == "SCHEDULED")

    job_id2, token = accepted(ctl_lines("pause", job_id, "--reason", "held by klokctl")[0])
    check(job_id2 == job_id, "pause answered for %s" % job_id2)
    wait_job(job_id, token, "to be PAUSED",
             lambda j: j["state"] == "PAUSED" and j["state_reason"] == "held by klokctl")

    p = ctl("resume", job_id, output="table")
    m = re.fullmatch(r"accepted %s \(consistency token (\d+:\d+)\)\n" % job_id, p.stdout)
    check(p.returncode == 0 and m, "resume as a table: %r %r" % (p.stdout, p.stderr))
    wait_job(job_id, m.group(1), "to be SCHEDULED again", lambda j: j["state"] == "SCHEDULED")

    _, token = accepted(ctl_lines("cancel", job_id, "--reason", "not needed")[0])
    wait_job(job_id, token, "to be CANCELLED",
             lambda j: j["state"] == "CANCELLED" and j["state_reason"] == "not needed")


def test_an_http_error_exits_1_with_the_api_reason():
    ctl_fails(1, "klokctl: HTTP 404 not_found: no such job", "get", "no-such-job")
    ctl_fails(1, "HTTP 404 not_found", "cancel", "no-such-job")
    ctl_fails(1, "HTTP 404 not_found", "pause", "no-such-job", "--reason", "x")
    ctl_fails(1, "HTTP 400 missing_field: required (field task)", "submit", "-",
              stdin='{"name": "x", "schedule": {"type": "immediate"}}')
    ctl_fails(1, "HTTP 400 invalid_json", "submit", "-", stdin="{not json")
    ctl_fails(1, "(field status)", "list", "--status", "SLEEPING")
    # A key used for another definition: 409, naming the header.
    key = "ctl-" + uuid.uuid4().hex
    job_id, token = accepted(ctl_lines("submit", "-", "--idempotency-key", key,
                                       stdin=json.dumps(delayed_job("ctl-key")))[0])
    wait_job(job_id, token, "to exist", lambda j: True)
    ctl_fails(1, "HTTP 409 conflict", "submit", "-", "--idempotency-key", key,
              stdin=json.dumps(delayed_job("ctl-key-other")))
    http("DELETE", "/v1/jobs/" + job_id)


def test_bad_usage_exits_2_with_the_reason():
    with tempfile.TemporaryDirectory() as d:
        big = os.path.join(d, "big.json")
        with open(big, "w") as f:
            f.write('{"name": "%s"}' % ("x" * (1024 * 1024)))
        cases = [
            (["get"], "which job"),
            (["get", "x", "--bogus"], "unknown option --bogus"),
            (["get", "a/b"], "a job id is"),
            (["get", ".."], "a job id is"),
            (["get", "x" * 65], "a job id is"),
            (["cancel", "x", "--reason"], "--reason needs a value"),
            (["pause", "x", "y"], "unexpected argument"),
            (["submit"], "expected FILE.json"),
            (["submit", os.path.join(d, "missing.json")], "cannot read"),
            (["submit", d], "cannot read"),
            (["submit", big], "is over 1048576 bytes"),
            (["submit", "-", "--idempotency-key", "has space"], "--idempotency-key"),
            (["list", "--limit", "0"], "--limit"),
            (["list", "--limit", "abc"], "--limit"),
            (["list", "--from", "yesterday"], "--from"),
            (["list", "extra"], "unexpected argument"),
            (["cron"], "expected 'next EXPR"),
            (["cron", "next"], "which expression"),
            (["cron", "next", "0", "9", "*", "*", "*"], "quote it"),
            (["cron", "next", "@daily", "--count", "0"], "--count"),
            (["cron", "next", "@daily", "--count", "1001"], "--count"),
            (["cron", "next", "@daily", "--from", "soon"], "--from"),
            (["nosuchcommand"], "unknown command"),
        ]
        for args, needle in cases:
            ctl_fails(2, needle, *args, stdin="")
    ctl_fails(2, "--output", "list", output="yaml")


def test_an_unreachable_api_exits_2_and_the_token_is_never_printed():
    # A port nobody listens on: bound, then closed.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    secret = "tok-" + uuid.uuid4().hex
    for args in (["list"], ["get", "x"], ["cancel", "x"], ["--token", secret, "get", "x"]):
        p = ctl_fails(2, "cannot reach the API at http://127.0.0.1:%d" % port, *args,
                      stdin="", api="http://127.0.0.1:%d" % port)
        check(secret not in p.stderr, "the token is printed: %r" % p.stderr)
    # Sent to a dev-mode API, which ignores it: neither an answer nor an error shows it.
    for args in (["get", "no-such-job"], ["list", "--limit", "1"]):
        p = ctl("--token", secret, *args)
        check(secret not in p.stdout + p.stderr, "the token is printed: %r" % p)
    ctl_fails(2, "--api", "list", api="ftp://127.0.0.1/")


# --- cron next against croniter -----------------------------------------------------------------

# klok syntax: six fields have the seconds FIRST.
CRON_UTC = [
    "* * * * *",
    "*/7 * * * *",
    "0 9 * * MON-FRI",
    "30 2 1,15 * *",
    "0 0 29 2 *",
    "15 10 * * SUN",
    "0 12 * JAN,JUL *",
    "5-10/2 3 * * *",
    "0 0 1 * 1",
    "59 23 31 12 *",
    "0 */6 * * *",
    "*/20 * * * * *",
    "30 15 10 * * *",
    "0 0 0 1 1 *",
    "15,45 */5 8-17 * * 1-5",
]
CRON_TOKYO = ["0 9 * * MON-FRI", "30 0 1 * *", "0 0 * * *", "*/30 8-10 * * *",
              "10 0 18 * * SAT"]
FROMS = ["2026-01-01T00:00:00Z", "2026-02-28T23:59:30Z", "2024-02-28T12:00:00.500Z",
         "2031-12-31T23:59:59Z", "2026-03-02T09:00:00Z"]
COUNT = 20


def croniter_next(expr, frm, zone):
    """The COUNT next fires after frm as croniter answers them, in klokctl's format."""
    fields = expr.split()
    if len(fields) == 6:  # croniter wants the seconds last
        fields = fields[1:] + fields[:1]
    start = datetime.strptime(frm.replace("Z", "+0000"),
                              "%Y-%m-%dT%H:%M:%S.%f%z" if "." in frm else "%Y-%m-%dT%H:%M:%S%z")
    it = croniter(" ".join(fields), start.astimezone(ZoneInfo(zone)))
    out = []
    for _ in range(COUNT):
        t = it.get_next(datetime).astimezone(timezone.utc)
        out.append(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))
    return out


def check_against_croniter(exprs, zone):
    for expr in exprs:
        for frm in FROMS:
            args = ["cron", "next", expr, "--from", frm, "--count", str(COUNT)]
            if zone != "UTC":
                args += ["--tz", zone]
            p = ctl(*args)
            want = croniter_next(expr, frm, zone)
            got = p.stdout.splitlines()
            check(p.returncode == 0, "%r from %s in %s: exit %d: %s"
                  % (expr, frm, zone, p.returncode, p.stderr))
            diff = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
            check(not diff and len(got) == len(want),
                  "%r from %s in %s: %d fires, %d differ from croniter's, first (index, "
                  "klokctl, croniter): %s" % (expr, frm, zone, len(got), len(diff), diff[:1]))


def test_cron_next_matches_croniter_in_utc():
    check_against_croniter(CRON_UTC, "UTC")
    # The default is five fires after now.
    t0 = now_ms()
    p = ctl("cron", "next", "* * * * * *")
    got = p.stdout.splitlines()
    check(p.returncode == 0 and len(got) == 5, "cron next default: %r" % p.stdout)
    first = datetime.strptime(got[0], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc)
    check(t0 < first.timestamp() * 1000 <= t0 + 5000, "the first fire after now: %s" % got[0])


def test_cron_next_matches_croniter_in_asia_tokyo():
    check_against_croniter(CRON_TOKYO, "Asia/Tokyo")
    p = ctl("cron", "next", "0 9 * * *", "--tz", "Asia/Tokyo", "--from", "2026-06-01T00:00:00Z",
            "--count", "1", output="table")
    check(p.returncode == 0 and p.stdout == "2026-06-02T00:00:00.000Z\n",
          "9:00 in Tokyo is 00:00Z: %r %r" % (p.stdout, p.stderr))


def test_cron_next_refuses_bad_expressions_and_zones_naming_the_field():
    ctl_fails(2, "field 'hour': 24 is out of range 0-23", "cron", "next", "0 24 * * *")
    ctl_fails(2, "field 'minute'", "cron", "next", "61 * * * *")
    ctl_fails(2, "field 'month'", "cron", "next", "0 0 1 FOO *")
    ctl_fails(2, "field 'second'", "cron", "next", "75 0 0 * * *")
    ctl_fails(2, "expected 5 fields", "cron", "next", "* * *")
    ctl_fails(2, "--tz: unknown time zone 'Mars/Olympus_Mons'", "cron", "next", "@daily",
              "--tz", "Mars/Olympus_Mons")


def test_cron_next_of_a_schedule_that_never_fires_says_so():
    p = ctl("cron", "next", "0 0 30 2 *")
    check(p.returncode == 0 and p.stdout == "" and "never fires" in p.stderr,
          "Feb 30: exit %d %r %r" % (p.returncode, p.stdout, p.stderr))
    # The last fires before year 10000, then nothing more.
    p = ctl("cron", "next", "0 0 1 1 *", "--from", "9997-06-01T00:00:00Z", "--count", "5")
    check(p.returncode == 0
          and p.stdout == "9998-01-01T00:00:00.000Z\n9999-01-01T00:00:00.000Z\n"
          and "never fires after 9999-01-01T00:00:00.000Z" in p.stderr,
          "the end of time: exit %d %r %r" % (p.returncode, p.stdout, p.stderr))


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    if not os.access(KLOKCTL, os.X_OK):
        print("FAIL: %s is not built" % KLOKCTL)
        print("0 passed, 1 failed")
        return 1
    return run_tests(TESTS, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
