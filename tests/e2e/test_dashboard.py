#!/usr/bin/python3
"""End-to-end tests of the web dashboard (producer-api/dashboard, served by klok-api at
/dashboard/) in headless Chromium, against the stack scripts/test started.

Chromium (Debian's `chromium`) runs with --headless --no-sandbox --disable-gpu
--disable-background-networking and --remote-debugging-port=0; the test reads the port it chose
from DevToolsActivePort in its throw-away profile and drives the page over the DevTools protocol
with a websocket client (Debian's python3-websocket): Runtime.evaluate to read the DOM, real
mouse events (Input.dispatchMouseEvent) on the buttons, Input.insertText to type,
Page.captureScreenshot for the PNG; Network events show what the page asked for.  Confirmation
dialogs are accepted.

Checked: the files are served, and the page loads nothing from another origin and throws no
script error; the list shows a job created through the API with its state, data shown as text
(a name with markup stays text); the status and queue filters; paging with the cursors; a
job's detail with its executions and the progress bar of a running execution (a task of this
test's own executor prints "PROGRESS 42 ..." and waits for a file); Cancel on a job scheduled
10 minutes ahead makes it CANCELLED (checked through the API too); Pause and Resume; against
a second klok-api with auth.mode=jwt: 401 without a token, a pasted token kept in
sessionStorage and sent as Authorization: Bearer, 403 for a write without jobs:write, all
shown; a screenshot, written to $KLOK_RUN_DIR/dashboard.png (the current directory without
KLOK_RUN_DIR), is a PNG of the window's size.

The jobs of the list tests are in queues of this run (dash-<random>, whose executions topics it
creates and deletes; never fired: the jobs are due in 10 minutes and cancelled at the end); the
running job is in queue "dash", served by an executor this test starts (admin port
KLOK_PORT_BASE+73).  The jwt API listens on KLOK_PORT_BASE+74 with its own view.  The pids of
Chromium, the executor and the jwt API are in $KLOK_RUN_DIR/dash-*.pid, so the scripts'
teardown stops what an interrupted run left behind.

Environment: KLOK_API, KLOK_BOOTSTRAP, KLOK_PORT_BASE, KLOK_RUN_DIR, KLOK_BUILD_DIR (set by
scripts/test); CHROMIUM (default: chromium on PATH).  Prints one line per test and closes with
"N passed, M failed"; exit code 1 on any failure.  Every wait is for a condition, with a
deadline; Chromium is killed at the end whatever happened.
"""
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

try:
    import websocket  # Debian: python3-websocket
except ImportError:
    sys.exit("test_dashboard.py needs Debian's python3-websocket (scripts/deps)")
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import (API, BOOTSTRAP, BUILD_DIR, PORT_BASE, PREFIX, ROOT, Failure,  # noqa: E402
                      check, http, job_state, run_tests, stop_process, wait_until)

DASHBOARD = API + "/dashboard/"
OUT_DIR = os.environ.get("KLOK_RUN_DIR") or os.getcwd()  # where dashboard.png goes
PID_DIR = os.environ.get("KLOK_RUN_DIR")                  # pid files only with a run dir
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "chromium"
EXECUTOR_BIN = os.path.join(BUILD_DIR, "executor", "klok-executor")
API_BIN = os.path.join(BUILD_DIR, "producer-api", "klok-api")
WIDTH, HEIGHT = 1280, 900
QUEUE = "dash-" + uuid.uuid4().hex[:10]  # this run's list jobs: due in 10 min, never fired
PAGE_QUEUE = QUEUE + "-p"                # this run's jobs of the paging test
RUN_QUEUE = "dash"                       # served by this test's executor
LATER = {"type": "delay", "delay_ms": 600000}
CREATED = []      # ids of jobs to cancel at the end
TOPICS_MADE = []  # executions topics of this run's own queues, deleted at the end
OWN_QUEUES_READY = False


def executions_topic(queue, tier="normal"):
    return "%s.executions.%s.%s" % (PREFIX, queue, tier)


def make_topics(names, partitions):
    """Create the topics that do not exist yet; returns those created."""
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    have = admin.list_topics(timeout=10).topics
    new = [t for t in names if t not in have]
    for _, f in (admin.create_topics([NewTopic(t, num_partitions=partitions,
                                                replication_factor=1) for t in new]).items()
                 if new else []):
        f.result(30)
    wait_until("topics %s" % names, 30,
               lambda: all(t in admin.list_topics(timeout=10).topics for t in names))
    return new


def submit_to_new_queue(body, post_job=lambda body: http("POST", "/v1/jobs", body)):
    """POST the job; the API refuses (400 naming the queue) a queue whose executions topic it
    has not seen yet, and it looks at the topics every 5 s: again until it has."""
    def post():
        status, resp = post_job(body)
        if status == 400 and isinstance(resp, dict) and resp.get("field") == "queue":
            return None
        check(status == 201, "POST /v1/jobs -> %s %s" % (status, resp))
        return resp
    return wait_until("the API to accept queue %s" % body.get("queue"), 30, post, 0.5)


def origin(url):
    p = urllib.parse.urlsplit(url)
    return (p.scheme, p.netloc)


def job_later(name, queue=QUEUE):
    """A job due in 10 minutes, once the view has it (the page reads the view)."""
    global OWN_QUEUES_READY
    if queue in (QUEUE, PAGE_QUEUE) and not OWN_QUEUES_READY:
        # This run's queues: a normal-priority job needs the normal topic only.
        TOPICS_MADE.extend(make_topics([executions_topic(QUEUE), executions_topic(PAGE_QUEUE)],
                                       1))
        OWN_QUEUES_READY = True
    j = submit_to_new_queue({"name": name, "task": "noop", "queue": queue, "schedule": LATER})
    CREATED.append(j["job_id"])
    status, body = http("GET", "/v1/jobs/%s?consistency_token=%s" % (
        j["job_id"], j["consistency_token"]))
    check(status == 200 and body.get("state") == "SCHEDULED", "new job: %s %s" % (status, body))
    return j


def api_state_is(job_id, state):
    return lambda: job_state(job_id) == state


# --- Chromium over the DevTools protocol ---------------------------------------------------------

class Browser:
    """One headless Chromium with a throw-away profile, and a DevTools session on its page."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="klok-chromium-")
        self.proc = None
        self.ws = None
        self.seq = 0
        self.errors = []      # uncaught exceptions and console errors of the page
        self.requests = []    # every request the page made: (url, headers)
        self.foreign = []     # those to another origin than the page's: (url, page)
        self.dialogs = []     # messages of the dialogs accepted

    def start(self):
        check(shutil.which(CHROMIUM), "no %s: install Debian's chromium (scripts/deps)" % CHROMIUM)
        log = open(os.path.join(self.profile, "chromium.log"), "ab")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-sync", "--disable-component-update",
             "--mute-audio", "--window-size=%d,%d" % (WIDTH, HEIGHT), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        if PID_DIR:
            with open(os.path.join(PID_DIR, "dash-chromium.pid"), "w") as f:
                f.write("%d\n" % self.proc.pid)
        port_file = os.path.join(self.profile, "DevToolsActivePort")

        def port():
            check(self.proc.poll() is None, "chromium exited %s: %s" % (
                self.proc.returncode, self.log_tail()))
            try:
                with open(port_file) as f:
                    return int(f.readline().strip() or 0)
            except (OSError, ValueError):
                return 0
        self.port = wait_until("chromium's DevToolsActivePort", 30, port, 0.1)

        def page_target():
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % self.port,
                                        timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None
        url = wait_until("chromium's page target", 30, page_target, 0.1)
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)
        return self

    def log_tail(self):
        try:
            with open(os.path.join(self.profile, "chromium.log"), errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def stop(self):
        """Kill Chromium and every process of its session; remove the profile."""
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 — closing a dead socket
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            except ProcessLookupError:
                pass
            self.proc.wait(30)

            def gone():
                try:
                    os.killpg(self.proc.pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            try:
                wait_until("chromium's processes to end", 10, gone, 0.1)
            except Failure as e:
                print("  %s" % e)
            if PID_DIR:
                try:
                    os.unlink(os.path.join(PID_DIR, "dash-chromium.pid"))
                except OSError:
                    pass
        shutil.rmtree(self.profile, ignore_errors=True)

    # The protocol: commands by id; events between the answers are handled as they come.

    def send(self, method, **params):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        return self.seq

    def call(self, method, deadline_s=30, **params):
        mid = self.send(method, **params)
        end = time.monotonic() + deadline_s
        while True:
            left = end - time.monotonic()
            check(left > 0, "no answer to %s within %s s" % (method, deadline_s))
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise Failure("no answer to %s within %s s" % (method, deadline_s))
            if msg.get("id") == mid:
                check("error" not in msg, "%s: %s" % (method, msg.get("error")))
                return msg.get("result", {})
            if "method" in msg:
                self.event(msg["method"], msg.get("params", {}))

    def event(self, method, p):
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(p.get("message"))
            self.send("Page.handleJavaScriptDialog", accept=True)
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: %s %s" % (
                d.get("text"), (d.get("exception") or {}).get("description", "")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append("console.error: %s" % [a.get("value", a.get("description"))
                                                      for a in p.get("args", [])])
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append("log: %s %s" % (e.get("text"), e.get("url", "")))
        elif method == "Network.requestWillBeSent":
            r = p.get("request", {})
            url = r.get("url", "")
            self.requests.append((url, r.get("headers", {})))
            if origin(url) != origin(p.get("documentURL", "")) and not url.startswith("data:"):
                self.foreign.append((url, p.get("documentURL")))

    # The page.

    def js(self, expr):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise Failure("script %r: %s" % (expr[:80], r["exceptionDetails"].get(
                "exception", {}).get("description") or r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def wait_js(self, what, expr, deadline_s=15):
        return wait_until(what, deadline_s, lambda: self.js(expr), 0.1)

    def open(self, url):
        """Load url afresh (by way of about:blank: a URL that differs only in its #fragment
        would not load the page again) and wait until the dashboard has started."""
        for u in ("about:blank", url):
            self.call("Page.navigate", url=u)
            self.wait_js("the page %s" % u, "location.href === %s && document.readyState === "
                         "'complete'" % json.dumps(u))
        self.wait_js("the dashboard to start", "(function () { var e = document.getElementById("
                     "'token-state'); return !!e && e.textContent !== ''; })()")

    def click(self, selector):
        """A real click (mouse moved, pressed and released) in the middle of the element; it
        must be visible, enabled and the topmost element there."""
        where = self.js("""(function () {
            var e = document.querySelector(%s);
            if (!e) return {missing: true};
            e.scrollIntoView({block: 'center', inline: 'center'});
            var r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            var top = document.elementFromPoint(x, y);
            return {x: x, y: y, w: r.width, h: r.height, disabled: !!e.disabled,
                    covered: !(top && (top === e || e.contains(top)))};
        })()""" % json.dumps(selector))
        check(not where.get("missing"), "no element %s" % selector)
        check(where["w"] > 0 and where["h"] > 0, "%s is not visible" % selector)
        check(not where["disabled"], "%s is disabled" % selector)
        check(not where["covered"], "%s is covered by another element" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=where["x"], y=where["y"],
                      button="left", buttons=1 if kind == "mousePressed" else 0, clickCount=1)

    def type_into(self, selector, text):
        self.js("(function () { var e = document.querySelector(%s); e.focus(); e.select(); })()"
                % json.dumps(selector))
        self.call("Input.insertText", text=text)

    def choose(self, selector, value):
        """Pick an option of a <select> as a user does: value set, then a change event."""
        self.js("""(function () { var e = document.querySelector(%s); e.value = %s;
            e.dispatchEvent(new Event('change', {bubbles: true})); })()"""
                % (json.dumps(selector), json.dumps(value)))

    def text(self, selector):
        return self.js("(function () { var e = document.querySelector(%s);"
                       " return e ? e.textContent.trim() : null; })()" % json.dumps(selector))

    def rows(self):
        """The list: [{id, name, state, queue}] as shown."""
        return self.js("""Array.prototype.map.call(document.querySelectorAll('#jobs-body tr'),
            function (tr) { return {id: tr.dataset.jobId, name: tr.cells[0].textContent,
                                    state: tr.cells[1].textContent.trim(),
                                    queue: tr.cells[2].textContent}; })""")

    def buttons(self):
        return self.js("""({cancel: !document.getElementById('act-cancel').disabled,
                            pause: !document.getElementById('act-pause').disabled,
                            resume: !document.getElementById('act-resume').disabled})""")


BROWSER = None


def browser():
    """The browser, started by the first test that needs it."""
    global BROWSER
    if BROWSER is None:
        b = Browser()
        try:
            b.start()
        except BaseException:
            b.stop()
            raise
        BROWSER = b
    return BROWSER


def row_ids(b):
    return [r["id"] for r in b.rows()]


def list_shows(b, job_id, state=None):
    def shown():
        for r in b.rows():
            if r["id"] == job_id and (state is None or r["state"] == state):
                return r
        return None
    return shown


# --- this test's executor (queue "dash") ---------------------------------------------------------

class Executor:
    def __init__(self):
        self.admin_port = PORT_BASE + 73
        self.dir = tempfile.mkdtemp(prefix="klok-dash-exec-")
        self.pidfile = os.path.join(PID_DIR, "dash-executor.pid") if PID_DIR else None
        self.conf = os.path.join(self.dir, "executor.conf")
        with open(self.conf, "w") as f:
            f.write("kafka.bootstrap = %s\nschemas.dir = %s\ndata.dir = %s\nqueues = %s\n"
                    "group.id = klok-executor-dash\nadmin.port = %d\nconcurrency = 2\n"
                    "heartbeat.ms = 500\n" % (BOOTSTRAP, os.path.join(ROOT, "schemas"),
                                              os.path.join(self.dir, "data"), RUN_QUEUE,
                                              self.admin_port))
            # Reports 42 %, then waits for its release file (never given to a shell: the
            # path is $0 of the script).
            f.write('task.dash-progress.kind = exec\n'
                    'task.dash-progress.argv = ["/bin/sh", "-c", "echo \'PROGRESS 42 half way\';'
                    ' while [ ! -e \\"$0\\" ]; do /bin/sleep 0.1; done; echo released",'
                    ' "%s/release-{job_id}"]\n' % self.dir)
        self.proc = None

    def release(self, job_id):
        open(os.path.join(self.dir, "release-" + job_id), "w").close()

    def start(self):
        make_topics([executions_topic(RUN_QUEUE, t) for t in ("high", "normal")], 2)
        out = open(os.path.join(self.dir, "executor.log"), "ab")
        self.proc = subprocess.Popen([EXECUTOR_BIN, "--config", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        if self.pidfile:
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
        wait_until("the dash executor's /readyz", 60, self.ready, 0.1)
        return self

    def ready(self):
        check(self.proc.poll() is None, "the dash executor exited %s: %s" % (
            self.proc.returncode, self.log_tail()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.admin_port,
                                        timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self):
        with open(os.path.join(self.dir, "executor.log"), errors="replace") as f:
            return f.read()[-1500:]

    def stop(self):
        stop_process(self.proc, 60)
        if self.pidfile:
            try:
                os.unlink(self.pidfile)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


EXECUTOR = None
RUNNING_JOBS = []  # jobs of the dash executor, released at the end


# --- tests ---------------------------------------------------------------------------------------

def test_dashboard_files_are_served():
    want = {"": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
    for name, ctype in want.items():
        try:
            with urllib.request.urlopen(DASHBOARD + name, timeout=10) as r:
                status, got, body = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            raise Failure("GET /dashboard/%s -> %d %s (is dashboard.dir set?)" % (
                name, e.code, e.read()[:200]))
        check(status == 200 and got.startswith(ctype) and body,
              "GET /dashboard/%s -> %d %s, %d bytes" % (name, status, got, len(body)))
    status, body = http("GET", "/v1/jobs?limit=1")
    check(status == 200 and isinstance(body, dict) and "jobs" in body and "next_cursor" in body,
          "GET /v1/jobs -> %s %s" % (status, body))


def test_list_shows_a_job_created_through_the_api_with_its_state():
    name = '<b id="inj">dash</b> & "list" ' + uuid.uuid4().hex[:6]
    j = job_later(name)
    b = browser()
    b.open(DASHBOARD + "?queue=" + QUEUE)
    row = wait_until("the job in the list", 15, list_shows(b, j["job_id"], "SCHEDULED"), 0.1)
    check(row["name"] == name, "name shown as %r, not %r" % (row["name"], name))
    check(row["queue"] == QUEUE, "queue shown as %r" % row["queue"])
    check(b.js("document.getElementById('inj') === null && "
               "document.querySelectorAll('#jobs-body b').length === 0"),
          "the job's name became markup")


def test_the_status_and_queue_filters_select_the_jobs_shown():
    sched = job_later("dash-filter-scheduled")
    gone = job_later("dash-filter-cancelled")
    status, body = http("DELETE", "/v1/jobs/" + gone["job_id"])
    check(status == 202, "DELETE -> %s %s" % (status, body))
    wait_until("the cancel in the view", 15, api_state_is(gone["job_id"], "CANCELLED"))
    other = job_later("dash-filter-other-queue", queue="default")
    b = browser()
    b.open(DASHBOARD)
    b.type_into("#filter-queue", QUEUE)
    b.click("#filter-apply")

    def ids_when(fn):
        def shown():
            rows = b.rows()
            return rows if fn(rows) else None
        return shown
    rows = wait_until("the jobs of the queue, and only those", 15, ids_when(
        lambda rs: {sched["job_id"], gone["job_id"]} <= {r["id"] for r in rs}
        and all(r["queue"] == QUEUE for r in rs)), 0.1)
    check(other["job_id"] not in {r["id"] for r in rows}, "queue filter: %s" % rows)
    check(b.js("location.search") == "?queue=" + QUEUE, "address: %s" % b.js("location.href"))
    for state, present, absent in (("SCHEDULED", sched, gone), ("CANCELLED", gone, sched)):
        b.choose("#filter-status", state)
        rows = wait_until("the %s filter" % state, 15, ids_when(
            lambda rs: present["job_id"] in {r["id"] for r in rs}
            and absent["job_id"] not in {r["id"] for r in rs}), 0.1)
        check(all(r["state"] == state and r["queue"] == QUEUE for r in rows),
              "%s filter shows %s" % (state, rows))
    b.choose("#filter-status", "")
    wait_until("no status filter", 15, ids_when(
        lambda rs: {sched["job_id"], gone["job_id"]} <= {r["id"] for r in rs}
        and all(r["queue"] == QUEUE for r in rs)), 0.1)


def test_next_and_previous_page_through_the_list_with_cursors():
    queue = PAGE_QUEUE
    jobs = [job_later("dash-page-%d" % i, queue=queue)["job_id"] for i in range(5)]
    b = browser()
    b.open(DASHBOARD + "?limit=2&queue=" + queue)
    # Oldest first: pages [0 1] [2 3] [4].
    pages = [jobs[0:2], jobs[2:4], jobs[4:5]]
    wait_until("page 1", 15, lambda: row_ids(b) == pages[0], 0.1)
    check(b.js("document.getElementById('page-prev').disabled"), "Previous enabled on page 1")
    for n in (1, 2):
        b.click("#page-next")
        wait_until("page %d: %s" % (n + 1, pages[n]), 15,
                   lambda: row_ids(b) == pages[n], 0.1)
        check(b.text("#page-label") == "page %d" % (n + 1), "label %r" % b.text("#page-label"))
    check(b.js("document.getElementById('page-next').disabled"), "Next enabled on the last page")
    for n in (1, 0):
        b.click("#page-prev")
        wait_until("back on page %d" % (n + 1), 15, lambda: row_ids(b) == pages[n], 0.1)
    check(b.js("document.getElementById('page-prev').disabled"), "Previous enabled on page 1")


def running_job():
    """The id of a job of this test's executor whose execution reported 42 % and waits for
    EXECUTOR.release(id)."""
    global EXECUTOR
    if EXECUTOR is None:
        EXECUTOR = Executor().start()
    j = submit_to_new_queue({"name": "dash-progress", "task": "dash-progress",
                             "queue": RUN_QUEUE, "schedule": {"type": "immediate"},
                             "timeout_ms": 300000})
    jid = j["job_id"]
    RUNNING_JOBS.append(jid)

    def at_42():
        status, body = http("GET", "/v1/jobs/%s/executions" % jid)
        ex = body.get("executions") if status == 200 else None  # 404 until the view has it
        return ex if ex and ex[-1]["status"] == "RUNNING" and ex[-1]["progress"] == 42 else None
    wait_until("the execution to report 42 %", 60, at_42, 0.2)
    return jid


def test_detail_shows_executions_and_the_progress_of_a_running_execution():
    jid = running_job()
    b = browser()
    b.open(DASHBOARD + "?status=RUNNING&queue=" + RUN_QUEUE)
    wait_until("the running job in the list", 15, list_shows(b, jid, "RUNNING"), 0.1)
    b.click('#jobs-body tr[data-job-id="%s"] a' % jid)
    b.wait_js("the detail of the job", "!document.getElementById('detail-panel').hidden && "
              "document.getElementById('detail-state').textContent === 'RUNNING' && "
              "document.querySelectorAll('#executions-body tr').length === 1")
    check(b.text("#detail-title") == "dash-progress", "title %r" % b.text("#detail-title"))
    bar = b.js("""(function () { var p = document.getElementById('detail-progress');
        return {shown: !document.getElementById('progress-box').hidden,
                now: p.getAttribute('aria-valuenow'),
                width: document.getElementById('detail-progress-fill').style.width,
                text: document.getElementById('detail-progress-text').textContent,
                px: document.getElementById('detail-progress-fill').getBoundingClientRect().width,
                of: p.getBoundingClientRect().width}; })()""")
    check(bar["shown"] and bar["now"] == "42" and bar["width"] == "42%",
          "progress bar: %s" % bar)
    check(abs(bar["px"] - 0.42 * bar["of"]) < 0.1 * bar["of"] + 2, "bar drawn at %s" % bar)
    check("42 %" in bar["text"] and "half way" in bar["text"], "progress text: %s" % bar)
    cells = b.js("Array.prototype.map.call(document.querySelectorAll('#executions-body tr')[0]"
                 ".cells, function (c) { return c.textContent.trim(); })")
    check(cells[0] == "1" and cells[1] == "RUNNING" and "42 %" in cells[5],
          "execution row: %s" % cells)
    check(b.buttons() == {"cancel": True, "pause": True, "resume": False},
          "buttons of a running job: %s" % b.buttons())
    # The task ends: auto-refresh shows the outcome, and the bar goes away.
    EXECUTOR.release(jid)
    wait_until("the job to succeed", 60, api_state_is(jid, "SUCCEEDED"))
    b.wait_js("SUCCEEDED in the detail", """
        document.getElementById('detail-state').textContent === 'SUCCEEDED' &&
        document.querySelector('#executions-body tr td:nth-child(2)').textContent === 'SUCCEEDED'
        && document.getElementById('progress-box').hidden""", 10)
    cells = b.js("Array.prototype.map.call(document.querySelectorAll('#executions-body tr')[0]"
                 ".cells, function (c) { return c.textContent.trim(); })")
    check(cells[6] == "0" and "released" in cells[7], "finished execution row: %s" % cells)
    check(b.buttons() == {"cancel": False, "pause": False, "resume": False},
          "buttons of a finished job: %s" % b.buttons())


def test_cancel_button_cancels_a_scheduled_job():
    j = job_later("dash-cancel-me")
    jid = j["job_id"]
    b = browser()
    b.open(DASHBOARD + "?queue=%s#job=%s" % (QUEUE, jid))
    b.wait_js("the detail of the scheduled job",
              "document.getElementById('detail-state').textContent === 'SCHEDULED'")
    check(b.buttons() == {"cancel": True, "pause": True, "resume": False},
          "buttons of a scheduled job: %s" % b.buttons())
    check(b.js("document.querySelectorAll('#executions-body tr').length") == 0 and
          not b.js("document.getElementById('executions-empty').hidden"),
          "executions of a job not yet due")
    dialogs = len(b.dialogs)
    b.click("#act-cancel")
    b.wait_js("CANCELLED in the detail",
              "document.getElementById('detail-state').textContent === 'CANCELLED'")
    check(len(b.dialogs) == dialogs + 1 and "dash-cancel-me" in b.dialogs[-1],
          "confirmation: %s" % b.dialogs[dialogs:])
    check(job_state(jid) == "CANCELLED", "the API says %s" % job_state(jid))
    status, body = http("GET", "/v1/jobs/" + jid)
    check(body.get("next_run_at") is None, "a cancelled job still has a next run: %s" % body)
    wait_until("CANCELLED in the list", 15, list_shows(b, jid, "CANCELLED"), 0.1)
    check(b.buttons() == {"cancel": False, "pause": False, "resume": False},
          "buttons of a cancelled job: %s" % b.buttons())


def test_pause_and_resume_buttons():
    j = job_later("dash-pause-me")
    jid = j["job_id"]
    b = browser()
    b.open(DASHBOARD + "#job=" + jid)
    b.wait_js("the detail", "document.getElementById('detail-state').textContent === 'SCHEDULED'")
    b.click("#act-pause")
    b.wait_js("PAUSED", "document.getElementById('detail-state').textContent === 'PAUSED'")
    check(job_state(jid) == "PAUSED", "the API says %s" % job_state(jid))
    check(b.buttons() == {"cancel": True, "pause": False, "resume": True},
          "buttons of a paused job: %s" % b.buttons())
    b.click("#act-resume")
    b.wait_js("SCHEDULED again",
              "document.getElementById('detail-state').textContent === 'SCHEDULED'")
    check(job_state(jid) == "SCHEDULED", "the API says %s" % job_state(jid))


class JwtApi:
    """A second klok-api on the stack's Kafka, with auth.mode=jwt (an HS256 key of this run):
    the stack's own runs with auth.mode=dev and takes any token."""

    def __init__(self):
        self.port = PORT_BASE + 74
        self.url = "http://127.0.0.1:%d" % self.port
        self.dir = tempfile.mkdtemp(prefix="klok-dash-jwt-")
        self.key = uuid.uuid4().hex + uuid.uuid4().hex  # 64 bytes
        keyfile = os.path.join(self.dir, "jwt.key")
        with open(os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(self.key)
        self.pidfile = os.path.join(PID_DIR, "dash-api-jwt.pid") if PID_DIR else None
        self.args = [API_BIN, "--set", "auth.mode=jwt", "--set", "auth.jwt.key=@" + keyfile,
                     "--set", "kafka.bootstrap=" + BOOTSTRAP,
                     "--set", "schemas.dir=" + os.path.join(ROOT, "schemas"),
                     "--set", "data.dir=" + os.path.join(self.dir, "view"),
                     "--set", "listen.port=%d" % self.port,
                     "--set", "dashboard.dir=" + os.path.join(ROOT, "producer-api", "dashboard")]
        self.proc = None

    def token(self, tenant, scope):
        import jwt  # Debian: python3-jwt
        now = int(time.time())
        return jwt.encode({"sub": "dash-test", "tenant": tenant, "scope": scope,
                           "iat": now, "exp": now + 600}, self.key, algorithm="HS256")

    def start(self):
        out = open(os.path.join(self.dir, "api.log"), "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        if self.pidfile:
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
        wait_until("the jwt API's /readyz", 60, self.ready, 0.2)
        return self

    def ready(self):
        check(self.proc.poll() is None, "the jwt API exited %s: %s" % (
            self.proc.returncode, self.log_tail()))
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self):
        with open(os.path.join(self.dir, "api.log"), errors="replace") as f:
            return f.read()[-1500:]

    def call(self, method, path, tok, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body else None)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", "Bearer " + tok)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self):
        stop_process(self.proc, 30)
        if self.pidfile:
            try:
                os.unlink(self.pidfile)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


JWT_API = None


def banner(b, needle):
    """The error banner's text once it shows needle."""
    return b.wait_js("the banner to show %r" % needle, """(function () {
        var e = document.getElementById('banner');
        return !e.hidden && e.textContent.indexOf(%s) >= 0 ? e.textContent : null; })()"""
                     % json.dumps(needle))


def test_tokens_are_sent_and_401_and_403_are_shown():
    """Against an API with auth.mode=jwt: without a token the page says 401 and asks for one;
    a pasted token is kept in sessionStorage and sent; with jobs:read only, Cancel is refused
    (403, shown) and changes nothing; with jobs:write it works; Clear forgets the token."""
    global JWT_API
    if JWT_API is None:
        JWT_API = JwtApi().start()
    tenant = "dash-" + uuid.uuid4().hex[:8]
    reader = JWT_API.token(tenant, "jobs:read")
    writer = JWT_API.token(tenant, "jobs:read jobs:write")
    if not OWN_QUEUES_READY:
        job_later("dash-make-queues")  # this run's queue
    j = submit_to_new_queue({"name": "dash-jwt", "task": "noop", "queue": QUEUE,
                             "schedule": LATER},
                            lambda body: JWT_API.call("POST", "/v1/jobs", writer, body))
    jid = j["job_id"]
    wait_until("the job in the jwt API's view", 30,
               lambda: JWT_API.call("GET", "/v1/jobs/" + jid, reader)[0] == 200)
    b = browser()
    errors = len(b.errors)
    b.open(JWT_API.url + "/dashboard/#job=" + jid)
    msg = banner(b, "401")
    check("a bearer token is required" in msg and "paste a valid token" in msg,
          "401 banner: %r" % msg)

    b.type_into("#token", reader)
    b.click("#token-save")
    check(b.js("sessionStorage.getItem('klok.token')") == reader, "token not in sessionStorage")
    n = len(b.requests)
    b.wait_js("the job with the read token", "document.getElementById('detail-state')"
              ".textContent === 'SCHEDULED' && document.getElementById('banner').hidden")
    wait_until("the job in the list", 15, list_shows(b, jid, "SCHEDULED"), 0.1)
    sent = [h.get("Authorization") for u, h in b.requests[n:] if "/v1/jobs" in u]
    check(sent and all(a == "Bearer " + reader for a in sent), "Authorization: %s" % sent)

    b.click("#act-cancel")
    msg = banner(b, "403")
    check("Forbidden" in msg and "jobs:write" in msg, "403 banner: %r" % msg)
    check("403" in b.text("#action-msg"), "action message: %r" % b.text("#action-msg"))
    check(JWT_API.call("GET", "/v1/jobs/" + jid, reader)[1]["state"] == "SCHEDULED",
          "a refused cancel changed the job")

    b.type_into("#token", writer)
    b.click("#token-save")
    b.wait_js("the banner gone", "document.getElementById('banner').hidden")
    b.click("#act-cancel")
    b.wait_js("CANCELLED with the write token",
              "document.getElementById('detail-state').textContent === 'CANCELLED'")
    check(JWT_API.call("GET", "/v1/jobs/" + jid, reader)[1]["state"] == "CANCELLED",
          "the API does not say CANCELLED")

    n = len(b.requests)
    b.click("#token-clear")
    banner(b, "401")
    check(b.js("sessionStorage.getItem('klok.token')") is None, "token still kept")
    check(not [u for u, h in b.requests[n:] if "Authorization" in h],
          "a token sent after Clear: %s" % b.requests[n:])
    # The console notes of the refused requests are the point of this test, not page errors.
    b.errors[errors:] = [e for e in b.errors[errors:]
                         if not (JWT_API.url in e and (" 401 " in e or " 403 " in e))]


def test_screenshot_is_a_png():
    """Of the list of this run's jobs and the detail of a running one, with its progress."""
    jid = running_job()
    b = browser()
    b.open(DASHBOARD + "?queue=%s#job=%s" % (QUEUE, jid))
    b.wait_js("the page drawn", "document.getElementById('detail-state').textContent === "
              "'RUNNING' && !document.getElementById('progress-box').hidden &&"
              " document.querySelectorAll('#jobs-body tr').length > 0")
    png = base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"])
    path = os.path.join(OUT_DIR, "dashboard.png")
    with open(path, "wb") as f:
        f.write(png)
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR",
          "%s is not a PNG (%d bytes)" % (path, len(data)))
    w, h = struct.unpack(">II", data[16:24])
    check((w, h) == (WIDTH, HEIGHT), "screenshot %dx%d" % (w, h))
    print("  screenshot: %s (%d bytes)" % (path, len(data)))


def test_the_page_loads_nothing_from_elsewhere_and_throws_no_error():
    b = browser()
    check(len(b.requests) > 0, "no request seen")
    check(not b.foreign, "requests to other origins: %s" % b.foreign[:5])
    # Chromium asks for /favicon.ico by itself (the API has none: 404); not the page's doing.
    errors = [e for e in b.errors if "/favicon.ico" not in e]
    check(not errors, "errors in the page: %s" % errors[:5])


TESTS = [test_dashboard_files_are_served,
         test_list_shows_a_job_created_through_the_api_with_its_state,
         test_the_status_and_queue_filters_select_the_jobs_shown,
         test_next_and_previous_page_through_the_list_with_cursors,
         test_detail_shows_executions_and_the_progress_of_a_running_execution,
         test_cancel_button_cancels_a_scheduled_job,
         test_pause_and_resume_buttons,
         test_tokens_are_sent_and_401_and_403_are_shown,
         test_screenshot_is_a_png,
         test_the_page_loads_nothing_from_elsewhere_and_throws_no_error]


FINISHED = []


def finish():
    """Kill Chromium, let this run's tasks end and stop the executor, cancel the jobs left."""
    if FINISHED:
        return
    FINISHED.append(True)
    if BROWSER is not None:
        BROWSER.stop()
    if JWT_API is not None:
        JWT_API.stop()
    if EXECUTOR is not None:
        for jid in RUNNING_JOBS:
            EXECUTOR.release(jid)
        for jid in RUNNING_JOBS:
            try:
                wait_until("job %s to end" % jid, 30,
                           lambda jid=jid: job_state(jid) in ("SUCCEEDED", "FAILED"), 0.2)
            except Failure as e:
                print("  %s" % e)
        EXECUTOR.stop()
    for jid in CREATED:
        http("DELETE", "/v1/jobs/" + jid)
    if TOPICS_MADE:
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        for t, f in admin.delete_topics(TOPICS_MADE).items():
            try:
                f.result(30)
            except Exception as e:  # noqa: BLE001 — a leftover topic harms nobody
                print("  topic %s not deleted: %s" % (t, e))


def main():
    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    try:
        return run_tests(TESTS, sys.argv[1:], finish)
    finally:
        finish()  # a second call does nothing; this one is for an interrupted run


if __name__ == "__main__":
    sys.exit(main())
