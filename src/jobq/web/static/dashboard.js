// jobq dashboard: each page's data comes from the native API, called with the session cookie
// (and the CSRF token in X-CSRF-Token for changes), so the API's permission guard decides
// what every page shows. Plain DOM, no libraries.
"use strict";

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const API = meta("jobq-api");
const ROOT = meta("jobq-root");
const CSRF = meta("jobq-csrf");
const POLL_MS = 5000;
const TERMINAL = ["succeeded", "failed", "cancelled"];

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 401) {
    location.assign(ROOT + "/login");
    throw new ApiError("signed out", 401);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || response.statusText;
    throw new ApiError(message, response.status);
  }
  return data;
}

// --- small DOM helpers ---

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const $ = (selector) => document.querySelector(selector);

function fillRows(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted" }, emptyText)));
}

function showError(error) {
  const box = $("#error");
  if (!error) {
    box.hidden = true;
    return;
  }
  box.textContent = error.message || String(error);
  box.hidden = false;
}

function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 3000);
}

function stateBadge(state, cancelRequested) {
  const text = cancelRequested && state === "running" ? "running (cancel requested)" : state;
  return el("span", { class: `state state-${state}` }, text);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return el("time", { datetime: iso, title: iso }, date.toLocaleString());
}

function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function jobLink(id) {
  return el("a", { href: `${ROOT}/jobs/${encodeURIComponent(id)}` }, el("code", {}, id));
}

// The confirm step of every action: a modal dialog; resolves true only on "Confirm".
function confirmStep(text, label) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = `Yes, ${label.toLowerCase()}`;
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-ok").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function act(text, label, work, done) {
  if (!(await confirmStep(text, label))) return;
  try {
    const result = await work();
    showError(null);
    if (done) await done(result);
  } catch (error) {
    showError(error);
  }
}

// Run `refresh` now and every POLL_MS while the page is visible.
// `refresh` now (unless `now` is false: the page has its data) and every POLL_MS while shown
function every(refresh, now = true) {
  const run = async () => {
    try {
      await refresh();
    } catch (error) {
      showError(error);
    }
  };
  if (now) run();
  setInterval(() => {
    if (!document.hidden) run();
  }, POLL_MS);
}

// --- overview ---

const overview = {
  throughput: null,
  async refresh() {
    const [queues, throughput] = await Promise.all([
      api("/stats/queues"),
      api("/stats/throughput?minutes=60&top=100"),
    ]);
    overview.throughput = throughput;
    overview.table(queues.queues, throughput.queues);
    overview.choices(queues.queues);
    overview.chart();
    $("#updated").textContent = `Last update ${new Date().toLocaleTimeString()}.`;
    showError(null);
  },
  table(queues, series) {
    const sum = (list) => (list || []).reduce((a, b) => a + b, 0);
    const rows = queues.map((q) => {
      const s = series[q.name] || {};
      const cells = ["scheduled", "queued", "running", "succeeded", "failed", "cancelled"].map(
        (state) => el("td", { class: "num" }, q.counts[state] || 0),
      );
      const done = sum(s.succeeded) + sum(s.failed) + sum(s.cancelled);
      return el("tr", { "data-queue": q.name },
        el("th", { scope: "row" }, el("a", { href: `${ROOT}/jobs?queue=${encodeURIComponent(q.name)}` }, q.name)),
        cells, el("td", { class: "num" }, done), el("td", { class: "num" }, sum(s.failed)));
    });
    fillRows($("#overview-table tbody"), rows, "No queues yet.", 9);
  },
  choices(queues) {
    const select = $("#chart-queue");
    const have = new Set([...select.options].map((o) => o.value));
    for (const q of queues) if (!have.has(q.name)) select.append(el("option", { value: q.name }, q.name));
  },
  chart() {
    const data = overview.throughput;
    if (!data) return;
    const chosen = $("#chart-queue").value;
    // the busiest queues come by name, the rest together as `other`
    const rows = chosen ? [data.queues[chosen] || {}] : [...Object.values(data.queues), data.other || {}];
    const total = (state) => {
      const out = new Array(data.buckets).fill(0);
      for (const row of rows) {
        (row[state] || []).forEach((n, i) => (out[i] += n));
      }
      return out;
    };
    const series = { ok: total("succeeded"), bad: total("failed"), off: total("cancelled") };
    $("#chart").replaceChildren(barChart(series, data.buckets, data.bucket_seconds));
    const all = (list) => list.reduce((a, b) => a + b, 0);
    $("#chart-total").textContent =
      `${all(series.ok)} succeeded, ${all(series.bad)} failed, ${all(series.off)} cancelled`;
  },
  start() {
    $("#chart-queue").addEventListener("change", overview.chart);
    every(overview.refresh);
  },
};

// Stacked bars, one per bucket, drawn as inline SVG.
function barChart(series, buckets, bucketSeconds) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const width = 600, height = 180, left = 36, bottom = 16, top = 6;
  const peak = Math.max(1, ...series.ok.map((n, i) => n + series.bad[i] + series.off[i]));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  const barWidth = (width - left) / buckets;
  const scale = (height - top - bottom) / peak;
  for (let i = 0; i < buckets; i++) {
    let y = height - bottom;
    for (const kind of ["ok", "bad", "off"]) {
      const h = series[kind][i] * scale;
      if (h > 0) {
        const bar = svg("rect", { x: left + i * barWidth + 0.5, y: y - h, width: Math.max(1, barWidth - 1), height: h, class: kind });
        const title = svg("title", {});
        title.textContent = `${series[kind][i]} ${{ ok: "succeeded", bad: "failed", off: "cancelled" }[kind]}`;
        bar.append(title);
        root.append(bar);
        y -= h;
      }
    }
  }
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }));
  const label = (x, y, text, anchor = "start") => {
    const t = svg("text", { x, y, "text-anchor": anchor });
    t.textContent = text;
    root.append(t);
  };
  label(left - 4, top + 8, String(peak), "end");
  label(left - 4, height - bottom, "0", "end");
  label(left, height - 2, `-${Math.round((buckets * bucketSeconds) / 60)} min`);
  label(width, height - 2, "now", "end");
  return root;
}

// --- queues ---

// the button that pauses a running queue or resumes a paused one, after the confirm step;
// `after` re-reads the page
function pauseOrResume(name, paused, after) {
  const verb = paused ? "resume" : "pause";
  const label = paused ? "Resume" : "Pause";
  return el("button", {
    type: "button", class: paused ? null : "quiet", "aria-label": `${label} queue ${name}`,
    onclick: () => act(
      paused ? `Resume queue ${name}? Workers will claim its jobs again.`
        : `Pause queue ${name}? Workers stop claiming its jobs until resumed.`,
      label,
      () => api(`/queues/${encodeURIComponent(name)}/${verb}`, { method: "POST" }),
      async () => { toast(`Queue ${name} ${paused ? "resumed" : "paused"}`); await after(); },
    ),
  }, label);
}

const queuesPage = {
  async refresh() {
    const { queues } = await api("/stats/queues");
    const rows = queues.map((q) => el("tr", { "data-queue": q.name },
      el("th", { scope: "row" }, el("a", { href: `${ROOT}/jobs?queue=${encodeURIComponent(q.name)}` }, q.name)),
      el("td", { class: "num" }, q.counts.queued || 0),
      el("td", { class: "num" }, q.counts.scheduled || 0),
      el("td", { class: "num" }, q.counts.running || 0),
      el("td", {}, q.oldest_queued_at ? ago(q.oldest_queued_at) : "–"),
      el("td", {}, q.paused ? "paused" : "active"),
      el("td", {}, pauseOrResume(q.name, q.paused, queuesPage.refresh))));
    fillRows($("#queues-table tbody"), rows, "No queues yet.", 7);
  },
  start() {
    every(queuesPage.refresh);
  },
};

// --- jobs ---

const jobsPage = {
  // The API query for the page's own query string (the filter form submits by GET).
  query(params) {
    const out = new URLSearchParams();
    for (const name of ["queue", "type", "state", "sort", "cursor"]) {
      const value = (params.get(name) || "").trim();
      if (value) out.set(name, value);
    }
    if (!out.has("sort")) out.set("sort", "-created_at");
    for (const pair of (params.get("meta") || "").split(",")) {
      const [key, ...rest] = pair.split("=");
      if (key.trim() && rest.length) out.set(`meta.${key.trim()}`, rest.join("=").trim());
    }
    for (const name of ["created_after", "created_before"]) {
      const value = params.get(name);
      if (value) out.set(name, new Date(value).toISOString());
    }
    out.set("limit", "50");
    return out;
  },
  fillForm(params) {
    const form = $("#filters");
    for (const [name, value] of params) if (form.elements[name]) form.elements[name].value = value;
  },
  async start() {
    const params = new URLSearchParams(location.search);
    jobsPage.fillForm(params);
    let data;
    try {
      data = await api("/jobs?" + jobsPage.query(params));
    } catch (error) {
      showError(error);
      return;
    }
    const rows = data.jobs.map((j) => el("tr", { "data-id": j.id },
      el("td", {}, jobLink(j.id)), el("td", {}, j.queue), el("td", {}, j.type),
      el("td", {}, stateBadge(j.state, j.cancel_requested)), el("td", { class: "num" }, j.priority),
      el("td", {}, when(j.created_at)), el("td", {}, when(j.finished_at))));
    fillRows($("#jobs-table tbody"), rows, "No jobs match.", 7);
    const next = $("#next-page");
    if (data.next_cursor) {
      const nextParams = new URLSearchParams(params);
      nextParams.set("cursor", data.next_cursor);
      next.href = `${ROOT}/jobs?${nextParams}`;
      next.hidden = false;
    }
    const first = new URLSearchParams(params);
    first.delete("cursor");
    $("#first-page").href = `${ROOT}/jobs?${first}`;
  },
};

// --- one job ---

const jobPage = {
  id: document.body.dataset.jobId,
  job: null,
  async refresh() {
    const id = encodeURIComponent(jobPage.id);
    const [job, attempts] = await Promise.all([api(`/jobs/${id}`), api(`/jobs/${id}/attempts`)]);
    jobPage.job = job;
    jobPage.fields(job);
    jobPage.attempts(attempts.attempts);
    jobPage.actions(job);
    jobPage.progress(job.progress);
    showError(null);
  },
  fields(job) {
    const dl = $("#fields");
    dl.replaceChildren();
    for (const [key, value] of Object.entries(job)) {
      let shown;
      if (key === "state") shown = stateBadge(value, job.cancel_requested);
      else if ((key === "retry_of" || key === "retried_by") && value) shown = jobLink(value);
      else if (value !== null && typeof value === "object") shown = el("pre", {}, JSON.stringify(value, null, 2));
      else shown = value === null ? el("span", { class: "muted" }, "—") : String(value);
      dl.append(el("dt", {}, key), el("dd", { "data-field": key }, shown));
    }
  },
  attempts(list) {
    const rows = list.map((a) => el("tr", {},
      el("td", { class: "num" }, a.attempt), el("td", {}, when(a.started_at)), el("td", {}, when(a.finished_at)),
      el("td", {}, a.worker ? (a.worker.name || JSON.stringify(a.worker)) : ""),
      el("td", {}, a.outcome || (a.finished_at ? "" : "running")),
      el("td", {}, a.error ? el("pre", {}, JSON.stringify(a.error, null, 2)) : "")));
    fillRows($("#attempts-table tbody"), rows, "No attempts yet.", 6);
  },
  progress(progress) {
    const box = $("#progress");
    if (!progress) {
      box.hidden = true;
      return;
    }
    const bar = box.querySelector("progress");
    if (progress.total) {
      bar.max = progress.total;
      bar.value = progress.step || 0;
    } else bar.removeAttribute("value");
    const parts = [progress.total ? `${progress.step || 0} of ${progress.total}` : "", progress.description || ""];
    box.querySelector("span").textContent = parts.filter(Boolean).join(" · ");
    box.hidden = false;
  },
  actions(job) {
    const finished = TERMINAL.includes(job.state);
    $("#act-cancel").hidden = finished || job.cancel_requested;
    $("#act-retry").hidden = !finished || Boolean(job.retried_by);
    $("#act-delete").hidden = !finished;
    const priority = $("#act-priority");
    priority.hidden = !["scheduled", "queued"].includes(job.state);
    if (document.activeElement !== priority.elements.priority) priority.elements.priority.value = job.priority;
  },
  bind() {
    const path = () => `/jobs/${encodeURIComponent(jobPage.id)}`;
    $("#act-cancel").addEventListener("click", () => act(
      `Cancel job ${jobPage.id}? A running job is asked to stop.`, "Cancel job",
      () => api(path() + "/cancel", { method: "POST", body: { reason: "cancelled from the dashboard" } }),
      async () => { toast("Cancel requested"); await jobPage.refresh(); }));
    $("#act-retry").addEventListener("click", () => act(
      `Retry job ${jobPage.id}? It runs again as a new job.`, "Retry job",
      () => api(path() + "/retry", { method: "POST" }),
      async (job) => { toast(`Retried as ${job.id}`); await jobPage.refresh(); }));
    $("#act-delete").addEventListener("click", () => act(
      `Delete job ${jobPage.id} and its log? This cannot be undone.`, "Delete job",
      () => api(path(), { method: "DELETE" }),
      () => { location.assign(`${ROOT}/jobs`); }));
    $("#act-priority").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = Number(event.target.elements.priority.value);
      act(`Change the priority of job ${jobPage.id} to ${value}?`, "Change priority",
        () => api(path(), { method: "PATCH", body: { priority: value } }),
        async () => { toast(`Priority is now ${value}`); await jobPage.refresh(); });
    });
  },
  // The log, following live over server-sent events until the job has finished.
  follow() {
    const log = $("#log");
    const status = $("#log-status");
    let after = 0;
    const open = () => {
      const source = new EventSource(`${API}/jobs/${encodeURIComponent(jobPage.id)}/logs/stream?after=${after}`);
      status.textContent = "following";
      source.addEventListener("log", (event) => {
        const entry = JSON.parse(event.data);
        after = Math.max(after, entry.seq);
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(el("span", { class: entry.stream, "data-seq": entry.seq }, entry.text.replace(/\n?$/, "\n")));
        if (atBottom) log.scrollTop = log.scrollHeight;
      });
      source.addEventListener("end", () => {
        source.close();
        status.textContent = "job finished";
        jobPage.refresh().catch(showError);
      });
      source.onerror = () => {
        source.close();
        status.textContent = "reconnecting…";
        setTimeout(open, 2000);
      };
    };
    open();
  },
  start() {
    $("#log-download").href = `${API}/jobs/${encodeURIComponent(jobPage.id)}/log.txt`;
    jobPage.bind();
    jobPage.follow();
    every(async () => {
      if (!jobPage.job || !TERMINAL.includes(jobPage.job.state)) await jobPage.refresh();
    });
  },
};

// --- workers ---

const workersPage = {
  async refresh() {
    const { workers } = await api("/workers");
    const rows = workers.map((w) => el("tr", {},
      el("th", { scope: "row" }, w.name), el("td", {}, w.host || ""), el("td", { class: "num" }, w.pid ?? ""),
      el("td", {}, w.queues === null ? "every queue" : (w.queues || []).join(", ")), el("td", {}, el("span", { title: w.last_seen }, `${ago(w.last_seen)} ago`)),
      el("td", { class: "num" }, w.jobs_held)));
    fillRows($("#workers-table tbody"), rows, "No workers seen yet.", 6);
  },
  start() {
    every(workersPage.refresh);
  },
};

// --- problems (GET /api/v1/problems: shown only when the server answers) ---

async function problemsAvailable() {
  try {
    const response = await fetch(`${API}/problems`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    return await response.json();
  } catch {
    return null;
  }
}

const PROBLEM_KINDS = {
  queue_paused: "Queue paused",
  no_worker: "No worker",
  failing: "Failing again and again",
  deadline: "Deadline near",
};
const PROBLEM_JOBS_SHOWN = 3;

// the menu's "Problems (n)": how many there are now, on every page (read once per page load,
// and with every refresh of the problems page)
function showProblemCount(data) {
  const count = $("#nav-problems-count");
  const n = data ? data.problems.length : 0;
  count.textContent = n ? ` (${n})` : "";
  count.hidden = n === 0;
}

const problemsPage = {
  render(data) {
    if (data === null) {
      $("#problems-missing").hidden = false;
      $("#problems-table").hidden = true;
      return;
    }
    const rows = data.problems.map((p) => el("tr", { "data-problem": p.id, "data-kind": p.kind },
      el("th", { scope: "row" }, PROBLEM_KINDS[p.kind] || p.kind),
      el("td", {}, p.message),
      el("td", {}, el("a", { href: `${ROOT}/jobs?queue=${encodeURIComponent(p.queue)}` }, p.queue)),
      el("td", {}, p.type ?? el("span", { class: "muted" }, "any")),
      el("td", {}, problemsPage.jobs(p)),
      el("td", {}, p.kind === "queue_paused" ? pauseOrResume(p.queue, true, problemsPage.refresh) : "")));
    fillRows($("#problems-table tbody"), rows, "No problems.", 6);
  },
  // the count, the first few jobs, and for waiting jobs a link to the whole filtered list
  jobs(p) {
    const shown = p.jobs.slice(0, PROBLEM_JOBS_SHOWN).map((id) => el("li", {}, jobLink(id)));
    const waiting = p.kind === "queue_paused" || p.kind === "no_worker";
    const query = new URLSearchParams({ queue: p.queue, state: "queued" });
    if (p.type) query.set("type", p.type);
    const more = p.job_count - shown.length;
    return [
      el("span", { class: "num" }, `${p.job_count} job${p.job_count === 1 ? "" : "s"}`),
      shown.length ? el("ul", { class: "plain" }, shown) : null,
      waiting ? el("a", { href: `${ROOT}/jobs?${query}`, "aria-label": `List the waiting jobs of queue ${p.queue}` },
        "list them")
        : more > 0 ? el("span", { class: "muted" }, `and ${more} more`) : null,
    ];
  },
  async refresh() {
    const data = await problemsAvailable();
    problemsPage.render(data);
    showProblemCount(data);
  },
  start(first) {
    problemsPage.render(first);
    if (first !== null) every(problemsPage.refresh, false);
  },
};

// --- users and keys (administrators) ---

const adminPage = {
  async refresh() {
    const [{ users }, { keys }] = await Promise.all([api("/users"), api("/keys")]);
    fillRows($("#users-table tbody"), users.map((u) => el("tr", {},
      el("th", { scope: "row" }, u.name), el("td", {}, u.admin ? "yes" : "no"), el("td", {}, when(u.created_at)))),
    "No users.", 3);
    fillRows($("#keys-table tbody"), keys.map((k) => el("tr", { "data-key": k.id },
      el("td", {}, el("code", {}, k.id)), el("td", {}, k.user), el("td", {}, k.name),
      el("td", {}, when(k.created_at)), el("td", {}, when(k.last_used_at)), el("td", {}, when(k.revoked_at)),
      el("td", {}, k.revoked_at ? "" : el("button", {
        type: "button", class: "danger", "aria-label": `Revoke key ${k.id}`,
        onclick: () => act(`Revoke key ${k.id} of ${k.user}? Its holder is signed out at once.`, "Revoke key",
          () => api(`/keys/${encodeURIComponent(k.id)}`, { method: "DELETE" }),
          async () => { toast(`Key ${k.id} revoked`); await adminPage.refresh(); }),
      }, "Revoke")))), "No keys.", 7);
    const select = $("#add-key").elements.user;
    const chosen = select.value;
    select.replaceChildren(...users.map((u) => el("option", { value: u.name }, u.name)));
    if (chosen) select.value = chosen;
  },
  bind() {
    $("#add-user").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const body = { name: form.elements.name.value.trim(), admin: form.elements.admin.checked };
      act(`Create user ${body.name}${body.admin ? " as an administrator" : ""}?`, "Create user",
        () => api("/users", { method: "POST", body }),
        async () => { form.reset(); toast(`User ${body.name} created`); await adminPage.refresh(); });
    });
    $("#add-key").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const body = { user: form.elements.user.value, name: form.elements.name.value.trim() };
      act(`Create a key for ${body.user}?`, "Create key",
        () => api("/keys", { method: "POST", body }),
        async (created) => {
          $("#new-key-value").textContent = created.key;
          $("#new-key").hidden = false;
          form.elements.name.value = "";
          await adminPage.refresh();
        });
    });
  },
  start() {
    if (document.body.dataset.admin !== "true") {
      $("#admin").hidden = true;
      $("#admin-only-note").hidden = false;
      return;
    }
    adminPage.bind();
    adminPage.refresh().catch(showError);
  },
};

// --- start ---

const PAGES = {
  overview: overview.start,
  queues: queuesPage.start,
  jobs: jobsPage.start,
  job: jobPage.start,
  workers: workersPage.start,
  admin: adminPage.start,
};

document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.dataset.page;
  const current = document.querySelector(`[data-nav="${page === "job" ? "jobs" : page}"]`);
  if (current) current.setAttribute("aria-current", "page");
  if (PAGES[page]) PAGES[page]();
  const problems = await problemsAvailable();
  if (problems !== null) {
    $("#nav-problems").hidden = false;
    showProblemCount(problems);
  }
  if (page === "problems") problemsPage.start(problems);
});
