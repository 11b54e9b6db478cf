#!/usr/bin/python3
"""Black-box tests of the HTTP contract of klok-api with authentication on, against the broker
and the timer scripts/test started: two more klok-api replicas run here with auth.mode = jwt
(ports KLOK_PORT_BASE+85 and +86, own view stores), so that read-your-writes and idempotency are
checked across replicas.  Tokens are made with python3-jwt (an independent HS256 implementation).

- the auth matrix: no token, bad signature, expired, not yet valid, wrong audience, wrong
  issuer, alg none, missing scope, another tenant's job id on every endpoint (404), admin reads
  across tenants, ?tenant= without admin (403);
- idempotency: a repeat is 200 with the first answer, another body 409, on either replica;
- GET /v1/jobs: filters, limits, bad parameters, pagination stable while jobs are added;
- PATCH /v1/jobs/{id};
- read-your-writes: a write on one replica, a read with its token on the other;
- per-tenant rate limits (standard tier 429 with Retry-After; premium unlimited here);
- Kafka unreachable (broker stopped with SIGSTOP): a write answers 503 with Retry-After, and
  works again once the broker is back.

Environment: as test_e2e.py (KLOK_API, KLOK_BOOTSTRAP, KLOK_RUN_DIR, KLOK_PORT_BASE,
KLOK_BUILD_DIR).  One line per test, then "N passed, M failed"; exit 1 on any failure.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jwt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (BOOTSTRAP, BUILD_DIR, PORT_BASE, ROOT, RUN_DIR, check,  # noqa: E402
                      run_tests, stop_process, wait_until)

API_BIN = os.path.join(BUILD_DIR, "producer-api", "klok-api")
KEY = "klok-test-hs256-key-0123456789abcdef"  # 36 bytes
ISSUER, AUDIENCE = "klok-test", "klok"
STANDARD_RATE = 20  # rate.standard of the replicas (requests/s per tenant)
RUN_ID = "%x" % int(time.time())  # fresh tenants per run: lists start empty


def token(tenant, scope="jobs:read jobs:write", tier="premium", exp_in=3600, key=KEY,
          aud=AUDIENCE, iss=ISSUER, nbf_in=None, alg="HS256", sub="tester"):
    now = int(time.time())
    claims = {"sub": sub, "tenant": tenant, "tier": tier, "scope": scope, "exp": now + exp_in,
              "iat": now, "iss": iss, "aud": aud}
    if nbf_in is not None:
        claims["nbf"] = now + nbf_in
    return jwt.encode(claims, key, algorithm=alg)


class Replica:
    def __init__(self, name, port):
        self.name, self.port = name, port
        self.url = "http://127.0.0.1:%d" % port
        self.conf = os.path.join(RUN_DIR, name + ".conf")
        self.log = os.path.join(RUN_DIR, name + ".log")
        keyfile = os.path.join(RUN_DIR, "api-jwt.key")
        with open(keyfile, "w") as f:
            f.write(KEY + "\n")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "kafka.bootstrap = " + BOOTSTRAP,
                "schemas.dir = " + os.path.join(ROOT, "schemas"),
                "data.dir = " + os.path.join(RUN_DIR, "data", name),
                "listen.port = %d" % port,
                "auth.mode = jwt",
                "auth.jwt.key = @" + keyfile,
                "auth.jwt.issuer = " + ISSUER,
                "auth.jwt.audience = " + AUDIENCE,
                "rate.standard = %d" % STANDARD_RATE,
                "rate.premium = 0",
                "kafka.delivery.timeout.ms = 3000",
                "view.wait.max.ms = 5000", ""]))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([API_BIN, "--config", self.conf],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        def ready():
            try:
                return self.http("GET", "/readyz")[0] == 200
            except urllib.error.URLError:  # not listening yet
                check(self.proc.poll() is None, "%s exited: see %s" % (self.name, self.log))
                return False
        wait_until("%s ready" % self.name, 60, ready)

    def stop(self):
        stop_process(self.proc, 20)

    def http(self, method, path, body=None, tok=None, raw=None, headers=None):
        """(status, JSON or text, response headers)[:2] by default; see call()."""
        status, parsed, _ = self.call(method, path, body, tok, raw, headers)
        return status, parsed

    def call(self, method, path, body=None, tok=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text, hdrs = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), e.headers
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs


A = Replica("api-jwt-a", PORT_BASE + 85)
B = Replica("api-jwt-b", PORT_BASE + 86)
T1, T2 = "t1-" + RUN_ID, "t2-" + RUN_ID
TOK1, TOK2 = token(T1), token(T2)
LATER = {"type": "delay", "delay_ms": 3600000}


def create(replica, tok, name="j", headers=None, **extra):
    body = {"name": name, "task": "noop", "schedule": LATER}
    body.update(extra)
    status, resp = replica.http("POST", "/v1/jobs", body, tok, headers=headers)
    check(status == 201, "POST -> %s %s" % (status, resp))
    return resp


def seen(replica, tok, resp):
    """GET the job with the write's consistency token (waits for the view)."""
    return replica.http("GET", "/v1/jobs/%s?consistency_token=%s"
                        % (resp["job_id"], resp["consistency_token"]), tok=tok)


# --- auth --------------------------------------------------------------------------------------

def test_requests_without_a_valid_token_are_401_and_say_why():
    bad_sig = TOK1[:-2] + ("AA" if not TOK1.endswith("AA") else "BB")
    cases = [
        (None, "bearer token is required"),
        (token(T1, key=KEY + "other"), "signature"),
        (bad_sig, "signature"),
        (token(T1, exp_in=-120), "expired"),
        (token(T1, nbf_in=600), "not yet valid"),
        (token(T1, aud="someone-else"), "audience"),
        (token(T1, iss="evil"), "issuer"),
        (jwt.encode({"sub": "x", "tenant": T1, "exp": int(time.time()) + 60}, None,
                    algorithm="none"), ""),
        ("not.a.token", ""),
    ]
    for tok, why in cases:
        for method, path, body in (("GET", "/v1/jobs", None),
                                   ("POST", "/v1/jobs", {"name": "x", "task": "noop",
                                                         "schedule": LATER})):
            status, resp, hdrs = A.call(method, path, body, tok)
            check(status == 401, "%s %s with %r -> %s %s" % (method, path, why, status, resp))
            challenge = hdrs.get("WWW-Authenticate", "")
            check(challenge.startswith("Bearer"), "no WWW-Authenticate: %s" % dict(hdrs))
            # RFC 6750 §3: an error code only when a token was sent.
            check(('error="invalid_token"' in challenge) == bool(tok),
                  "challenge %r for token %r" % (challenge, why))
            check(why.lower() in resp.get("message", "").lower(), "reason: %s" % resp)
            check(not tok or tok not in json.dumps(resp), "the token is echoed: %s" % resp)


def test_a_token_without_the_scope_is_403():
    reader, writer = token(T1, scope="jobs:read"), token(T1, scope="jobs:write")
    status, resp = A.http("POST", "/v1/jobs", {"name": "x", "task": "noop", "schedule": LATER},
                          reader)
    check(status == 403 and "jobs:write" in resp.get("message", ""), "%s %s" % (status, resp))
    job = create(A, writer)
    for method, path in (("GET", "/v1/jobs/" + job["job_id"]), ("GET", "/v1/jobs"),
                         ("GET", "/v1/jobs/%s/executions" % job["job_id"]),
                         ("GET", "/v1/jobs/%s/records" % job["job_id"])):
        status, resp = A.http(method, path, tok=writer)
        check(status == 403 and "jobs:read" in resp.get("message", ""),
              "%s %s -> %s %s" % (method, path, status, resp))
    for method, path in (("DELETE", ""), ("POST", "/pause"), ("PATCH", "")):
        status, resp = A.http(method, "/v1/jobs/%s%s" % (job["job_id"], path),
                              {"timeout_ms": 5} if method == "PATCH" else None, reader)
        check(status == 403, "%s %s with a read-only token -> %s" % (method, path, status))


def test_another_tenants_job_is_404_on_every_endpoint_and_admin_reads_across():
    job = create(A, TOK1, name="mine")
    check(seen(A, TOK1, job)[0] == 200, "the owner cannot read it")
    jid = job["job_id"]
    for method, path, body in (("GET", "", None), ("GET", "/executions", None),
                               ("GET", "/records", None), ("DELETE", "", None), ("POST", "/pause", None),
                               ("POST", "/resume", None), ("PATCH", "", {"timeout_ms": 1000})):
        status, resp = A.http(method, "/v1/jobs/" + jid + path, body, TOK2)
        check(status == 404, "%s %s by another tenant -> %s %s" % (method, path, status, resp))
    status, body = A.http("GET", "/v1/jobs", tok=TOK2)
    check(status == 200 and all(j["tenant"] == T2 for j in body["jobs"]),
          "another tenant's list shows %s" % body)
    status, resp = A.http("GET", "/v1/jobs/%s?tenant=%s" % (jid, T1), tok=TOK2)
    check(status == 403 and resp.get("field") == "tenant", "?tenant= without admin: %s" % resp)
    admin = token(T2, scope="admin")
    status, doc = A.http("GET", "/v1/jobs/%s?tenant=%s" % (jid, T1), tok=admin)
    check(status == 200 and doc["job_id"] == jid, "admin read: %s %s" % (status, doc))
    status, _ = A.http("DELETE", "/v1/jobs/%s?tenant=%s" % (jid, T1), tok=admin)
    check(status == 403, "admin without jobs:write cancelled: %s" % status)
    check(A.http("GET", "/v1/jobs/" + jid, tok=TOK1)[1]["state"] == "SCHEDULED",
          "the job changed")


# --- idempotency -------------------------------------------------------------------------------

def test_idempotency_key_repeat_is_200_and_another_body_409_on_either_replica():
    key = {"Idempotency-Key": "order-" + RUN_ID}
    body = {"name": "pay", "task": "noop", "schedule": LATER, "parameters": {"n": 1}}
    s1, r1 = A.http("POST", "/v1/jobs", body, TOK1, headers=key)
    check(s1 == 201, "first: %s %s" % (s1, r1))
    s2, r2 = A.http("POST", "/v1/jobs", body, TOK1, headers=key)
    check(s2 == 200 and r2 == r1, "repeat: %s %s (first %s)" % (s2, r2, r1))
    # The other replica at once: its view may not have the first write yet; either way the
    # answer is the first one's.
    s3, r3 = B.http("POST", "/v1/jobs", body, TOK1, headers=key)
    check(s3 == 200 and r3["job_id"] == r1["job_id"] and
          r3["consistency_token"] == r1["consistency_token"], "other replica: %s %s" % (s3, r3))
    other = dict(body, parameters={"n": 2})
    for rep in (A, B):
        s4, r4 = rep.http("POST", "/v1/jobs", other, TOK1, headers=key)
        check(s4 == 409 and r4.get("field") == "Idempotency-Key", "conflict: %s %s" % (s4, r4))
    # The same key is another tenant's own key.
    s5, r5 = A.http("POST", "/v1/jobs", body, TOK2, headers=key)
    check(s5 == 201 and r5["job_id"] != r1["job_id"], "other tenant: %s %s" % (s5, r5))
    doc = A.http("GET", "/v1/jobs/" + r1["job_id"], tok=TOK1)[1]
    check(doc["parameters"] == {"n": 1}, "the definition changed: %s" % doc)


# --- list --------------------------------------------------------------------------------------

def list_all(rep, tok, query, limit):
    ids, cursor, pages = [], None, 0
    while True:
        q = "%s&limit=%d" % (query, limit) + ("&cursor=" + cursor if cursor else "")
        status, body = rep.http("GET", "/v1/jobs?" + q, tok=tok)
        check(status == 200, "list %s -> %s %s" % (q, status, body))
        ids += [j["job_id"] for j in body["jobs"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return ids, pages
        yield_point = getattr(list_all, "between_pages", None)
        if yield_point:
            yield_point()


def test_list_filters_and_pagination_stable_while_jobs_are_added():
    tenant = "t3-" + RUN_ID
    tok = token(tenant)
    first = [create(A, tok, name="l%d" % i) for i in range(12)]
    last = first[-1]
    check(seen(A, tok, last)[0] == 200, "view")
    added = []
    # Jobs created between the pages sort after every listed one: the pages still hold
    # each original job exactly once, in creation order.
    list_all.between_pages = lambda: added.append(create(A, tok, name="late"))
    try:
        ids, pages = list_all(A, tok, "status=SCHEDULED", 5)
    finally:
        list_all.between_pages = None
    want = [j["job_id"] for j in first]
    check(pages >= 3, "pages: %d" % pages)
    check(len(ids) == len(set(ids)), "a job listed twice")
    check(ids[:12] == want, "the first 12 are not the originals in order: %s" % ids[:12])
    # Cancel two: the status filter follows.
    for j in first[:2]:
        status, resp = A.http("DELETE", "/v1/jobs/" + j["job_id"], tok=tok)
        check(status == 202, "cancel: %s %s" % (status, resp))
    status, body = A.http("GET", "/v1/jobs?status=CANCELLED&consistency_token=" +
                          resp["consistency_token"], tok=tok)
    check(status == 200 and sorted(j["job_id"] for j in body["jobs"]) ==
          sorted(j["job_id"] for j in first[:2]), "CANCELLED: %s" % body)
    status, body = A.http("GET", "/v1/jobs?status=SCHEDULED&limit=1000", tok=tok)
    check(not {j["job_id"] for j in first[:2]} & {j["job_id"] for j in body["jobs"]},
          "cancelled jobs still listed as SCHEDULED")
    # Time window: created_at in [from, to).
    docs = [A.http("GET", "/v1/jobs/" + j["job_id"], tok=tok)[1] for j in first]
    frm, to = docs[3]["created_at"], docs[6]["created_at"]
    status, body = A.http("GET", "/v1/jobs?from=%s&to=%s&limit=1000" % (frm, to), tok=tok)
    got = [j["job_id"] for j in body["jobs"]]
    check(all(frm <= j["created_at"] < to for j in body["jobs"]) and
          docs[3]["job_id"] in got and docs[6]["job_id"] not in got, "window: %s" % got)
    status, body = A.http("GET", "/v1/jobs?queue=default&limit=1000", tok=tok)
    check(status == 200 and len(body["jobs"]) >= 12, "queue filter: %s" % len(body["jobs"]))
    status, body = A.http("GET", "/v1/jobs?queue=other", tok=tok)
    check(status == 200 and body["jobs"] == [], "queue other: %s" % body)
    for q, field in (("status=NOPE", "status"), ("limit=0", "limit"), ("limit=1001", "limit"),
                     ("cursor=garbage", "cursor"), ("from=yesterday", "from"),
                     ("queue=a%20b", "queue")):
        status, resp = A.http("GET", "/v1/jobs?" + q, tok=tok)
        check(status == 400 and resp.get("field") == field, "%s -> %s %s" % (q, status, resp))


# --- PATCH -------------------------------------------------------------------------------------

def test_patch_changes_parameters_and_timeout_and_names_bad_fields():
    job = create(A, TOK1, name="p", parameters={"v": 1})
    # A write right after the create carries its consistency token, as a read would: the
    # job must be in the view to be found.
    status, resp = A.http("PATCH", "/v1/jobs/%s?consistency_token=%s"
                          % (job["job_id"], job["consistency_token"]),
                          {"parameters": {"v": 2}, "timeout_ms": 5000}, TOK1)
    check(status == 202, "PATCH: %s %s" % (status, resp))
    status, doc = seen(A, TOK1, resp)
    check(doc["parameters"] == {"v": 2} and doc["timeout_ms"] == 5000, "after PATCH: %s" % doc)
    status, resp = A.http("PATCH", "/v1/jobs/" + job["job_id"],
                          {"schedule": {"type": "delay", "delay_ms": 7200000}}, TOK1)
    check(status == 202, "PATCH schedule: %s %s" % (status, resp))
    status, moved = seen(A, TOK1, resp)
    check(moved["schedule"]["delay_ms"] == 7200000 and
          moved["next_run_at"] > doc["next_run_at"], "schedule not moved: %s" % moved)
    for body, field in (({"name": "x"}, "name"), ({"timeout_ms": -1}, "timeout_ms"),
                        ({"schedule": {"type": "cron", "cron": "nope"}}, "schedule.cron"),
                        ({}, "")):
        status, resp = A.http("PATCH", "/v1/jobs/" + job["job_id"], body, TOK1)
        check(status == 400 and resp.get("field", "") == field, "%s -> %s %s"
              % (body, status, resp))


# --- replicas ----------------------------------------------------------------------------------

def test_read_your_writes_across_two_replicas():
    for i in range(20):
        resp = create(A, TOK1, name="ryw%d" % i)
        status, doc = seen(B, TOK1, resp)
        check(status == 200 and doc["name"] == "ryw%d" % i, "replica B: %s %s" % (status, doc))
        status, resp = B.http("POST", "/v1/jobs/%s/pause" % resp["job_id"], None, TOK1)
        check(status == 202, "pause on B: %s" % status)
        status, doc = seen(A, TOK1, resp)
        check(doc["state"] == "PAUSED", "replica A after B's pause: %s" % doc["state"])


# --- rate limits -------------------------------------------------------------------------------

def test_standard_tier_is_rate_limited_per_tenant_and_premium_is_not():
    std = token("t4-" + RUN_ID, tier="standard")
    codes, retry_after = [], None
    for _ in range(3 * STANDARD_RATE):
        status, _, hdrs = A.call("GET", "/v1/jobs?limit=1", tok=std)
        codes.append(status)
        if status == 429:
            retry_after = hdrs.get("Retry-After")
    check(codes.count(200) >= STANDARD_RATE and 429 in codes, "codes: %s" % codes)
    check(retry_after and int(retry_after) >= 1, "Retry-After: %r" % retry_after)
    # Another tenant has its own bucket; premium (rate.premium = 0 here) has none.
    check(A.http("GET", "/v1/jobs?limit=1", tok=token("t5-" + RUN_ID, tier="standard"))[0]
          == 200, "another tenant was limited")
    premium = [A.http("GET", "/v1/jobs?limit=1", tok=TOK1)[0] for _ in range(3 * STANDARD_RATE)]
    check(set(premium) == {200}, "premium: %s" % premium)


# --- bad input and Kafka down ------------------------------------------------------------------

def test_bad_input_gets_a_4xx_naming_the_problem():
    cases = [("POST", "/v1/jobs", b"{", 400), ("POST", "/v1/jobs", b"[]", 400),
             ("POST", "/v1/jobs", b'{"name":"x","task":"noop","schedule":{"type":"immediate"},'
                                  b'"extra":1}', 400),
             ("PUT", "/v1/jobs", b"{}", 405), ("GET", "/v1/nothing", None, 404),
             ("GET", "/v1/jobs/bad%20id", None, 404)]
    for method, path, raw, want in cases:
        status, resp = A.http(method, path, tok=TOK1, raw=raw)
        check(status == want and isinstance(resp, dict) and resp.get("error"),
              "%s %s -> %s %s (wanted %d)" % (method, path, status, resp, want))
    # A body announced larger than http.body.max: 413 before it is sent.
    conn = http.client.HTTPConnection("127.0.0.1", A.port, timeout=30)
    conn.putrequest("POST", "/v1/jobs")
    conn.putheader("Authorization", "Bearer " + TOK1)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(1 << 20))
    conn.endheaders()
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    check(r.status == 413 and body.get("error") == "too_large", "huge body: %s %s"
          % (r.status, body))


def broker_pid():
    with open(os.path.join(RUN_DIR, "kafka", "kafka.pid")) as f:
        return int(f.read().split()[0])


def test_kafka_down_answers_503_with_retry_after_and_recovers():
    pid = broker_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        status, resp, hdrs = A.call("POST", "/v1/jobs", {"name": "down", "task": "noop",
                                                         "schedule": LATER}, TOK1)
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    check(status == 503 and hdrs.get("Retry-After"), "with Kafka down: %s %s" % (status, resp))
    check(took < 10, "the 503 took %.1f s" % took)
    wait_until("writes to work again", 60, lambda: A.http(
        "POST", "/v1/jobs", {"name": "up", "task": "noop", "schedule": LATER}, TOK1)[0] == 201)


TESTS = [test_requests_without_a_valid_token_are_401_and_say_why,
         test_a_token_without_the_scope_is_403,
         test_another_tenants_job_is_404_on_every_endpoint_and_admin_reads_across,
         test_idempotency_key_repeat_is_200_and_another_body_409_on_either_replica,
         test_list_filters_and_pagination_stable_while_jobs_are_added,
         test_patch_changes_parameters_and_timeout_and_names_bad_fields,
         test_read_your_writes_across_two_replicas,
         test_standard_tier_is_rate_limited_per_tenant_and_premium_is_not,
         test_bad_input_gets_a_4xx_naming_the_problem,
         test_kafka_down_answers_503_with_retry_after_and_recovers]


def main():
    A.start()
    B.start()
    rc = 1
    try:
        rc = run_tests(TESTS, sys.argv[1:])
    finally:
        for r in (A, B):
            alive = r.proc and r.proc.poll() is None
            r.stop()
            if not alive or r.proc.returncode != 0:  # crashed, or no clean SIGTERM exit
                print("%s: exit %s (log %s)" % (r.name, r.proc.returncode, r.log))
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
