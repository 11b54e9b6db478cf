/*
 * klok dashboard — plain JavaScript, no framework, no build step, nothing
 * loaded from elsewhere.  Talks to the klok API of the same origin with
 * relative URLs (the page is served at /dashboard/, the API at /v1/).
 *
 * Every value from the API reaches the DOM through textContent or an
 * attribute set with setAttribute / dataset, never as markup.
 *
 * Page URL parameters (optional): ?status=&queue= prefill the filters,
 * ?limit= sets the page size (1..1000, default 50).  #job=<id> opens a job.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "klok.token";
  var REFRESH_MS = 2000;
  var EXEC_PAGE = 100;
  var LIMIT_DEFAULT = 50;
  var REQUEST_TIMEOUT_MS = 15000;
  var API_ROOT = "../v1/jobs";
  var TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED", "DEAD_LETTERED", "REJECTED"];
  var CAN = {
    cancel: ["SCHEDULED", "RUNNING", "PAUSED"],
    pause: ["SCHEDULED", "RUNNING"],
    resume: ["PAUSED"]
  };

  var st = {
    status: "",
    queue: "",
    limit: LIMIT_DEFAULT,
    cursors: [null],   // the cursor of every page visited; the last is the current page
    nextCursor: null,
    selected: null,    // job id shown in the detail
    job: null,         // its last document
    execPages: 1,      // pages of executions loaded (Load more)
    acting: false,     // a command is on its way
    listSeq: 0,        // answers of older requests are dropped
    listKey: "",       // what the list shows
    detailSeq: 0,
    inflight: 0,
    timer: null
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function orDash(v) {
    return v === null || v === undefined || v === "" ? "—" : String(v);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // --- API ---------------------------------------------------------------------------------

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function ApiError(status, code, message, field) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.field = field;
  }

  ApiError.prototype.toString = function () {
    var s;
    if (this.status === 401) {
      s = "Not authenticated (401): " + this.message + " — paste a valid token above.";
    } else if (this.status === 403) {
      s = "Forbidden (403): " + this.message + " — the token does not allow this.";
    } else if (this.status === 0) {
      s = "Cannot reach the API: " + this.message;
    } else {
      s = "HTTP " + this.status + (this.code ? " " + this.code : "") + ": " + this.message;
    }
    if (this.field) s += " (field " + this.field + ")";
    return s;
  };

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /* Resolves to the parsed JSON body of a 2xx answer; rejects with an ApiError. */
  function api(method, path, params) {
    var headers = { "Accept": "application/json" };
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timeout = ctl ? setTimeout(function () { ctl.abort(); }, REQUEST_TIMEOUT_MS) : null;
    st.inflight++;
    return fetch(path + query(params || {}), {
      method: method, headers: headers, cache: "no-store", credentials: "same-origin",
      signal: ctl ? ctl.signal : undefined
    }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (r.ok) return body;
        var b = body && typeof body === "object" ? body : {};
        throw new ApiError(r.status, b.error || "", b.message || text.slice(0, 200) ||
                           r.statusText || "request failed", b.field || "");
      });
    }).catch(function (e) {
      if (e instanceof ApiError) throw e;
      var why = e && e.name === "AbortError" ? "no answer within " + REQUEST_TIMEOUT_MS / 1000 +
        " s" : (e && e.message) || "network error";
      throw new ApiError(0, "", why, "");
    }).then(function (v) { clearTimeout(timeout); st.inflight--; return v; },
            function (e) { clearTimeout(timeout); st.inflight--; throw e; });
  }

  function jobPath(id) { return API_ROOT + "/" + encodeURIComponent(id); }

  // --- messages ----------------------------------------------------------------------------

  function showError(e) {
    var b = $("banner");
    b.textContent = String(e);
    b.className = "banner" + (e && (e.status === 401 || e.status === 403) ? " auth" : "");
    b.hidden = false;
  }

  function clearError() {
    $("banner").hidden = true;
    $("banner").textContent = "";
  }

  // --- formatting --------------------------------------------------------------------------

  function fmtTime(iso) {
    if (!iso) return "—";
    return String(iso).replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function relTime(iso) {
    var t = Date.parse(iso);
    if (!iso || isNaN(t)) return "";
    var s = Math.round((t - Date.now()) / 1000), a = Math.abs(s), txt;
    if (a < 60) txt = a + " s";
    else if (a < 3600) txt = Math.floor(a / 60) + " min " + (a % 60) + " s";
    else if (a < 86400) txt = Math.floor(a / 3600) + " h " + Math.floor((a % 3600) / 60) + " min";
    else txt = Math.floor(a / 86400) + " d " + Math.floor((a % 86400) / 3600) + " h";
    return s >= 0 ? "in " + txt : txt + " ago";
  }

  /* Today's times (UTC) without their date. */
  function fmtShort(iso) {
    if (!iso) return "—";
    var s = fmtTime(iso);
    return s.slice(0, 10) === new Date().toISOString().slice(0, 10) ? s.slice(11) : s;
  }

  function timeCell(iso) {
    var td = el("td", fmtShort(iso), "time");
    if (iso) td.setAttribute("title", String(iso));
    return td;
  }

  function stateBadge(state) {
    var s = el("span", state || "?", "state");
    s.dataset.state = state || "";
    return s;
  }

  function scheduleText(s) {
    if (!s || typeof s !== "object") return String(s);
    switch (s.type) {
      case "immediate": return "immediate";
      case "at": return "at " + s.at;
      case "delay": return "delay " + s.delay_ms + " ms";
      case "cron": return "cron " + s.cron + (s.timezone ? " (" + s.timezone + ")" : "");
      case "interval": return "every " + s.interval_ms + " ms";
      default: return JSON.stringify(s);
    }
  }

  function progressBar(node, fill, pct) {
    if (pct === null || pct === undefined || isNaN(Number(pct))) {
      node.removeAttribute("aria-valuenow");
      node.classList.add("unknown");
      fill.style.width = "0%";
      return;
    }
    var v = Math.max(0, Math.min(100, Number(pct)));
    node.classList.remove("unknown");
    node.setAttribute("aria-valuenow", String(v));
    fill.style.width = v + "%";
  }

  // --- list --------------------------------------------------------------------------------

  function loadList() {
    var seq = ++st.listSeq;
    var cursor = st.cursors[st.cursors.length - 1];
    var q = { status: st.status, queue: st.queue, limit: st.limit, cursor: cursor };
    return api("GET", API_ROOT, q)
      .then(function (body) {
        if (seq !== st.listSeq) return;
        var jobs = body && Array.isArray(body.jobs) ? body.jobs : [];
        st.nextCursor = body && body.next_cursor ? body.next_cursor : null;
        // Unchanged (most refreshes): the rows stay as they are, hover and selection too.
        var key = JSON.stringify([st.cursors, jobs, st.nextCursor, st.selected]);
        if (key === st.listKey) return;
        st.listKey = key;
        renderList(jobs);
      });
  }

  function renderList(jobs) {
    var tbody = $("jobs-body");
    clear(tbody);
    jobs.forEach(function (j) {
      var tr = document.createElement("tr");
      tr.dataset.jobId = j.job_id || "";
      if (j.job_id === st.selected) tr.className = "selected";
      var name = el("td", null, "name");
      var a = el("a", j.name || "(unnamed)");
      a.setAttribute("href", "#job=" + encodeURIComponent(j.job_id || ""));
      a.setAttribute("title", "job " + (j.job_id || ""));
      name.appendChild(a);
      tr.appendChild(name);
      var s = el("td");
      s.appendChild(stateBadge(j.state));
      tr.appendChild(s);
      tr.appendChild(el("td", j.queue, "nowrap"));
      tr.appendChild(el("td", j.task, "nowrap"));
      var next = timeCell(j.next_run_at);
      tr.appendChild(next);
      tr.appendChild(timeCell(j.created_at));
      tr.addEventListener("click", function (ev) {
        if (ev.target.tagName !== "A") openJob(j.job_id);
      });
      tbody.appendChild(tr);
    });
    $("jobs-empty").hidden = jobs.length > 0;
    $("page-label").textContent = "page " + st.cursors.length;
    $("page-prev").disabled = st.cursors.length <= 1;
    $("page-next").disabled = !st.nextCursor;
  }

  function resetPaging() {
    st.cursors = [null];
    st.nextCursor = null;
  }

  // --- detail ------------------------------------------------------------------------------

  function openJob(id) {
    location.hash = "job=" + encodeURIComponent(id);
  }

  function fromHash() {
    var m = /^#job=(.+)$/.exec(location.hash), id = null;
    try { id = m ? decodeURIComponent(m[1]) : null; } catch (e) { id = null; }
    if (id === st.selected) return;
    st.selected = id;
    st.job = null;
    st.execPages = 1;
    $("action-msg").textContent = "";
    Array.prototype.forEach.call($("jobs-body").rows, function (tr) {
      tr.className = tr.dataset.jobId === id ? "selected" : "";
    });
    if (!id) {
      $("detail-panel").hidden = true;
      return;
    }
    clear($("detail-fields"));
    clear($("executions-body"));
    $("detail-title").textContent = id;
    $("detail-state").textContent = "";
    $("progress-box").hidden = true;
    $("detail-panel").hidden = false;
    updateButtons();
    loadDetail().catch(showError);
  }

  /* The job and its executions; consistencyToken (of our own write) makes the read wait for it. */
  function loadDetail(consistencyToken) {
    var id = st.selected;
    if (!id) return Promise.resolve();
    var seq = ++st.detailSeq;
    var p = consistencyToken ? { consistency_token: consistencyToken } : {};
    return api("GET", jobPath(id), p).then(function (job) {
      if (seq !== st.detailSeq) return;
      return loadExecutions(id, p).then(function (ex) {
        if (seq !== st.detailSeq) return;
        st.job = job;
        renderDetail(job, ex.list, ex.more);
      });
    });
  }

  function loadExecutions(id, params) {
    var list = [];
    function page(n, cursor) {
      var q = { limit: EXEC_PAGE, cursor: cursor };
      if (params.consistency_token) q.consistency_token = params.consistency_token;
      return api("GET", jobPath(id) + "/executions", q).then(function (body) {
        var ex = body && Array.isArray(body.executions) ? body.executions : [];
        list = list.concat(ex);
        var next = body ? body.next_cursor : null;
        if (next && n + 1 < st.execPages) return page(n + 1, next);
        return { list: list, more: !!next };
      });
    }
    return page(0, null);
  }

  function addField(dl, label, value, pre) {
    dl.appendChild(el("dt", label));
    var dd = el("dd");
    if (pre) dd.appendChild(el("pre", value));
    else dd.textContent = orDash(value);
    dl.appendChild(dd);
    return dd;
  }

  function renderDetail(job, executions, more) {
    $("detail-title").textContent = job.name || job.job_id;
    var badge = $("detail-state");
    badge.textContent = job.state || "?";
    badge.dataset.state = job.state || "";

    var dl = $("detail-fields");
    clear(dl);
    addField(dl, "Job id", job.job_id);
    addField(dl, "State reason", job.state_reason);
    addField(dl, "Task", job.task);
    addField(dl, "Queue", job.queue);
    addField(dl, "Priority", job.priority);
    addField(dl, "Schedule", scheduleText(job.schedule));
    var next = addField(dl, "Next run", job.next_run_at ? fmtTime(job.next_run_at) : null);
    if (job.next_run_at) {
      next.appendChild(el("span", " (" + relTime(job.next_run_at) + ")", "muted"));
    }
    if (Array.isArray(job.upcoming) && job.upcoming.length) {
      addField(dl, "Upcoming", job.upcoming.map(fmtTime).join("\n"), true);
    }
    var r = job.retry || {};
    addField(dl, "Retry", r.max_attempts !== undefined
      ? r.max_attempts + (r.max_attempts === 1 ? " attempt" : " attempts") + ", backoff " +
        r.initial_backoff_ms + " ms × " + r.multiplier + " up to " + r.max_backoff_ms + " ms"
      : null);
    addField(dl, "Timeout", orDash(job.timeout_ms) === "—" ? null : job.timeout_ms + " ms");
    addField(dl, "Idempotency key", job.idempotency_key);
    addField(dl, "Tenant", job.tenant);
    addField(dl, "Created", fmtTime(job.created_at));
    addField(dl, "Updated", fmtTime(job.updated_at));
    var le = job.last_execution;
    addField(dl, "Last execution", le ? "attempt " + le.attempt + ", " + (le.status || "?") +
      ", scheduled " + fmtTime(le.scheduled_at) : null);
    addField(dl, "Parameters", typeof job.parameters === "string" ? job.parameters
      : JSON.stringify(job.parameters === undefined ? null : job.parameters, null, 2), true);

    renderExecutions(executions, more);

    // The progress of the running execution: the newest RUNNING one loaded, else the job's
    // own progress while its last execution runs.
    var running = null;
    for (var i = executions.length - 1; i >= 0; i--) {
      if (executions[i].status === "RUNNING") { running = executions[i]; break; }
    }
    var pct = null, show = false;
    if (running) {
      show = true;
      pct = running.progress;
      $("progress-label").textContent = "Attempt " + running.attempt + " running";
    } else if (le && le.status === "RUNNING") {
      show = true;
      pct = job.progress;
      $("progress-label").textContent = "Attempt " + le.attempt + " running";
    }
    $("progress-box").hidden = !show;
    if (show) {
      progressBar($("detail-progress"), $("detail-progress-fill"), pct);
      var note = running && running.message ? " — " + running.message : "";
      $("detail-progress-text").textContent = pct === null || pct === undefined
        ? "no progress reported" : pct + " %" + note;
    }
    updateButtons();
  }

  function renderExecutions(list, more) {
    var tbody = $("executions-body");
    var open = {};  // outputs the user opened stay open across refreshes
    Array.prototype.forEach.call(tbody.querySelectorAll("details[open]"), function (d) {
      open[d.parentNode.parentNode.dataset.executionId] = true;
    });
    clear(tbody);
    list.forEach(function (x) {
      var tr = document.createElement("tr");
      tr.dataset.executionId = x.execution_id || "";
      tr.appendChild(el("td", x.attempt));
      var s = el("td");
      s.appendChild(stateBadge(x.status));
      tr.appendChild(s);
      tr.appendChild(timeCell(x.scheduled_at));
      tr.appendChild(timeCell(x.started_at));
      tr.appendChild(timeCell(x.finished_at));
      var p = el("td", null, "pct");
      if (x.progress !== null && x.progress !== undefined) {
        var bar = el("div", null, "progress small");
        bar.setAttribute("role", "progressbar");
        bar.setAttribute("aria-valuemin", "0");
        bar.setAttribute("aria-valuemax", "100");
        var fill = el("div", null, "fill");
        bar.appendChild(fill);
        progressBar(bar, fill, x.progress);
        p.appendChild(bar);
        p.appendChild(el("span", " " + x.progress + " %"));
      } else {
        p.textContent = "—";
      }
      tr.appendChild(p);
      tr.appendChild(el("td", orDash(x.exit_code)));
      var msg = el("td", null, "msg");
      var text = x.error || x.message || "";
      msg.appendChild(el("span", text || (x.retry_at ? "" : "—")));
      if (x.retry_at) {
        var when = "retry at " + fmtTime(x.retry_at);
        msg.appendChild(el("span", (text ? " · " : "") + when, "muted"));
      }
      if (x.output) {
        var d = el("details");
        d.open = !!open[x.execution_id || ""];
        d.appendChild(el("summary", "output"));
        d.appendChild(el("pre", x.output));
        msg.appendChild(d);
      }
      tr.appendChild(msg);
      tbody.appendChild(tr);
    });
    $("executions-empty").hidden = list.length > 0;
    $("executions-more").hidden = !more;
  }

  function updateButtons() {
    var s = st.job ? st.job.state : null;
    ["cancel", "pause", "resume"].forEach(function (k) {
      $("act-" + k).disabled = st.acting || !s || CAN[k].indexOf(s) < 0;
    });
  }

  function act(kind) {
    var job = st.job;
    if (!job || st.acting || CAN[kind].indexOf(job.state) < 0) return;
    if (kind === "cancel" &&
        !window.confirm("Cancel job \"" + (job.name || job.job_id) + "\"?")) return;
    st.acting = true;
    updateButtons();
    var msg = $("action-msg");
    msg.textContent = kind + ": sending…";
    var req = kind === "cancel" ? api("DELETE", jobPath(job.job_id))
      : api("POST", jobPath(job.job_id) + "/" + kind);
    req.then(function (body) {
      msg.textContent = kind + " accepted (" + (body && body.consistency_token || "no token") + ")";
      return loadDetail(body && body.consistency_token).then(loadList);
    }).then(clearError, function (e) {
      msg.textContent = kind + " failed: " + String(e);
      showError(e);
    }).then(function () {
      st.acting = false;
      updateButtons();
    });
  }

  // --- refresh -----------------------------------------------------------------------------

  function refresh() {
    return Promise.all([loadList(), loadDetail()]).then(function () {
      clearError();
      $("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
    }, showError);
  }

  function schedule() {
    clearTimeout(st.timer);
    st.timer = null;
    if ($("auto-refresh").checked) st.timer = setTimeout(tick, REFRESH_MS);
  }

  function tick() {
    if (document.hidden || st.inflight > 0 || st.acting) {
      schedule();
      return;
    }
    refresh().then(schedule);
  }

  // --- setup -------------------------------------------------------------------------------

  function showTokenState() {
    $("token-state").textContent = token() ? "token set" : "no token";
  }

  function init() {
    var params = new URLSearchParams(location.search);
    st.status = params.get("status") || "";
    st.queue = params.get("queue") || "";
    var lim = parseInt(params.get("limit"), 10);
    if (lim >= 1 && lim <= 1000) st.limit = lim;
    $("filter-status").value = st.status;
    $("filter-queue").value = st.queue;
    $("token").value = token();
    showTokenState();

    $("filters").addEventListener("submit", function (ev) {
      ev.preventDefault();
      st.status = $("filter-status").value;
      st.queue = $("filter-queue").value.trim();
      resetPaging();
      // The filters in the address: a reload or a shared link shows the same list.
      history.replaceState(null, "", location.pathname + query({
        status: st.status, queue: st.queue, limit: st.limit === LIMIT_DEFAULT ? "" : st.limit
      }) + location.hash);
      loadList().then(clearError, showError);
    });
    $("filter-status").addEventListener("change", function () {
      $("filters").requestSubmit ? $("filters").requestSubmit() : $("filter-apply").click();
    });
    $("refresh").addEventListener("click", function () { refresh(); });
    $("page-next").addEventListener("click", function () {
      if (!st.nextCursor) return;
      st.cursors.push(st.nextCursor);
      loadList().catch(function (e) { st.cursors.pop(); showError(e); });
    });
    $("page-prev").addEventListener("click", function () {
      if (st.cursors.length <= 1) return;
      st.cursors.pop();
      loadList().catch(showError);
    });
    $("auth-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = $("token").value.trim().replace(/^Bearer\s+/i, "");
      try {
        if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
      } catch (e) { /* storage disabled: the token is not kept */ }
      showTokenState();
      refresh();
    });
    $("token-clear").addEventListener("click", function () {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
      $("token").value = "";
      showTokenState();
      refresh();
    });
    $("auto-refresh").addEventListener("change", function () {
      if ($("auto-refresh").checked) refresh().then(schedule); else schedule();
    });
    $("detail-close").addEventListener("click", function () {
      history.pushState(null, "", location.pathname + location.search);
      fromHash();
    });
    $("executions-more").addEventListener("click", function () {
      st.execPages++;
      loadDetail().catch(showError);
    });
    ["cancel", "pause", "resume"].forEach(function (k) {
      $("act-" + k).addEventListener("click", function () { act(k); });
    });
    window.addEventListener("hashchange", fromHash);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && $("auto-refresh").checked) tick();
    });

    fromHash();
    loadList().then(clearError, showError).then(schedule);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
