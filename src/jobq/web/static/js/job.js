// One job: what matters first (state, queue, type, attempt n of m, duration, worker,
// progress), then its error (a traceback as a traceback, a command's last stderr lines) and
// its live log (attempts marked), the attempts, and every field folded away at the end.
"use strict";

import {
  $, API, ROOT, TERMINAL, act, api, duration, el, every, fillRows, jobDuration, jobLink,
  jobsHref, showError, stateBadge, toast, when,
} from "./core.js";

function workerText(worker) {
  if (!worker) return el("span", { class: "muted" }, "–");
  const where = [worker.host, worker.pid ? `pid ${worker.pid}` : null].filter(Boolean).join(", ");
  return [el("strong", {}, worker.name), where ? ` (${where})` : ""];
}

function attemptText(job) {
  const text = `${job.attempt} of ${job.max_attempts}`;
  if (job.state === "scheduled" && job.error) return `${text}, retrying ${when(job.run_at).textContent}`;
  return text;
}

const jobPage = {
  id: document.body.dataset.jobId,
  job: null,
  async refresh() {
    const id = encodeURIComponent(jobPage.id);
    const [job, attempts] = await Promise.all([api(`/jobs/${id}`), api(`/jobs/${id}/attempts`)]);
    jobPage.job = job;
    jobPage.facts(job);
    jobPage.error(job.error);
    jobPage.attempts(attempts.attempts);
    jobPage.actions(job);
    jobPage.progress(job.progress);
    jobPage.fields(job);
    showError(null);
  },
  facts(job) {
    const set = (name, ...content) => $(`#facts dd[data-fact="${name}"]`).replaceChildren(...content.flat());
    set("state", stateBadge(job.state, job.cancel_requested),
      job.retried_by ? [" retried as ", jobLink(job.retried_by)] : []);
    set("queue", el("a", { href: jobsHref({ queue: job.queue }) }, job.queue));
    set("type", job.type);
    set("attempt", attemptText(job));
    set("duration", jobDuration(job));
    set("worker", workerText(job.worker));
    set("created", when(job.created_at));
  },
  error(error) {
    const box = $("#error-box");
    box.hidden = !error;
    if (!error) return;
    const details = error.details && typeof error.details === "object" ? error.details : {};
    $("#error-message").replaceChildren(el("code", {}, error.code || "error"), " ", error.message || "");
    const traceback = typeof details.traceback === "string" ? details.traceback : "";
    $("#error-traceback").textContent = traceback;
    $("#error-traceback").hidden = !traceback;
    const stderr = typeof details.stderr === "string" ? details.stderr : "";
    $("#error-stderr pre").textContent = stderr;
    $("#error-stderr").hidden = !stderr;
    const rest = Object.fromEntries(Object.entries(details).filter(([k]) => k !== "traceback" && k !== "stderr"));
    const shown = Object.keys(rest).length ? rest : typeof error.details !== "object" ? error.details : null;
    $("#error-details").hidden = shown === null || shown === undefined;
    $("#error-details pre").textContent = JSON.stringify(shown, null, 2);
  },
  fields(job) {
    const dl = $("#fields");
    dl.replaceChildren();
    for (const [key, value] of Object.entries(job)) {
      let shown;
      if (key === "state") shown = stateBadge(value, job.cancel_requested);
      else if ((key === "retry_of" || key === "retried_by") && value) shown = jobLink(value);
      else if (key.endsWith("_at") && value) shown = when(value);
      else if (value !== null && typeof value === "object") shown = el("pre", {}, JSON.stringify(value, null, 2));
      else shown = value === null ? el("span", { class: "muted" }, "—") : String(value);
      dl.append(el("dt", {}, key), el("dd", { "data-field": key }, shown));
    }
  },
  attempts(list) {
    const rows = list.map((a) => el("tr", { "data-attempt": a.attempt },
      el("td", { class: "num" }, a.attempt), el("td", {}, when(a.started_at)),
      el("td", {}, a.finished_at ? duration((new Date(a.finished_at) - new Date(a.started_at)) / 1000) : "running"),
      el("td", {}, a.worker ? a.worker.name : ""),
      el("td", {}, a.outcome || (a.finished_at ? "" : "running")),
      el("td", { class: "error-text" }, a.error ? [a.error.code, a.error.message].filter(Boolean).join(": ") : "")));
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
    $("#act-run").hidden = job.state !== "scheduled";
    $("#act-cancel").hidden = finished || job.cancel_requested;
    $("#act-retry").hidden = !finished || Boolean(job.retried_by);
    $("#act-delete").hidden = !finished;
    const priority = $("#act-priority");
    priority.hidden = !["scheduled", "queued"].includes(job.state);
    if (document.activeElement !== priority.elements.priority) priority.elements.priority.value = job.priority;
  },
  bind() {
    const path = () => `/jobs/${encodeURIComponent(jobPage.id)}`;
    const reread = (text) => async () => { toast(text); await jobPage.refresh(); };
    $("#act-run").addEventListener("click", () => act(
      `Run job ${jobPage.id} now? It is queued at once instead of at its time.`, "Run now",
      () => api(path() + "/run", { method: "POST" }), reread("Queued to run now"), false));
    $("#act-cancel").addEventListener("click", () => act(
      `Cancel job ${jobPage.id}? A waiting job will not run; a running one is asked to stop, and its work so far may be lost.`,
      "Cancel job",
      () => api(path() + "/cancel", { method: "POST", body: { reason: "cancelled from the dashboard" } }),
      reread("Cancel requested")));
    $("#act-retry").addEventListener("click", () => act(
      `Retry job ${jobPage.id}? It runs again as a new job.`, "Retry job",
      () => api(path() + "/retry", { method: "POST" }),
      async (job) => { toast(`Retried as ${job.id}`); await jobPage.refresh(); }, false));
    $("#act-delete").addEventListener("click", () => act(
      `Delete job ${jobPage.id} and its log? This cannot be undone.`, "Delete job",
      () => api(path(), { method: "DELETE" }),
      () => { location.assign(`${ROOT}/jobs`); }));
    $("#act-priority").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = Number(event.target.elements.priority.value);
      act(`Change the priority of job ${jobPage.id} to ${value}?`, "Change priority",
        () => api(path(), { method: "PATCH", body: { priority: value } }),
        reread(`Priority is now ${value}`), false);
    });
  },
  // The log, following live over server-sent events until the job has finished; a mark
  // before the first line of each attempt.
  follow() {
    const log = $("#log");
    const status = $("#log-status");
    let after = 0;
    let attempt = null;
    const open = () => {
      const source = new EventSource(`${API}/jobs/${encodeURIComponent(jobPage.id)}/logs/stream?after=${after}`);
      status.textContent = "following";
      source.addEventListener("log", (event) => {
        const entry = JSON.parse(event.data);
        if (entry.seq <= after) return;
        after = entry.seq;
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.querySelector(".placeholder")?.remove();
        if (entry.attempt !== attempt) {
          attempt = entry.attempt;
          const mark = attempt ? `attempt ${attempt}` : "before the first attempt";
          log.append(el("span", { class: "attempt-mark", "data-attempt": attempt }, `── ${mark} ──\n`));
        }
        log.append(el("span", { class: entry.stream, "data-seq": entry.seq }, entry.text.replace(/\n?$/, "\n")));
        if (atBottom) log.scrollTop = log.scrollHeight;
      });
      source.addEventListener("end", () => {
        source.close();
        status.textContent = "job finished";
        const placeholder = log.querySelector(".placeholder");
        if (placeholder) placeholder.textContent = "(no output)";
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
      else jobPage.facts(jobPage.job);
    });
  },
};

export default jobPage;
