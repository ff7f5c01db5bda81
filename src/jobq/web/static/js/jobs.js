// The job list: filters (queue and states chosen from lists, retried jobs hidden or not), a
// page of 50 with its total, previous and next pages, and for each job its state (a retried
// one links to its retry), attempts, duration and error; rows selected, or every job
// matching, are retried, cancelled or deleted at once (bulk.js).
"use strict";

import { $, ROOT, api, el, fillRows, jobDuration, jobLink, number, showError, stateBadge, when } from "./core.js";
import bulk, { filterOf } from "./bulk.js";

const LIMIT = 50;
const ERROR_CHARS = 140;

function errorText(job) {
  if (!job.error) return "";
  const text = [job.error.code, job.error.message].filter(Boolean).join(": ");
  const short = text.length > ERROR_CHARS ? `${text.slice(0, ERROR_CHARS - 1)}…` : text;
  return el("span", { class: job.state === "failed" ? "error-text" : "muted", title: text }, short);
}

// a state, and for a finished job retried already a link to its retry
function stateCell(job) {
  const badge = stateBadge(job.state, job.cancel_requested);
  if (!job.retried_by) return badge;
  return [badge, " ", el("a", {
    href: `${ROOT}/jobs/${encodeURIComponent(job.retried_by)}`, class: "retried",
    title: `Retried as ${job.retried_by}`,
  }, "retried")];
}

const jobsPage = {
  // The columns, in order: a heading and what a job shows in it; the selection first.
  columns() {
    return [
      bulk.column(),
      ["Id", (j) => jobLink(j.id), "c-id"],
      ["State", stateCell, "c-state"],
      ["Queue", (j) => j.queue, "c-queue"],
      ["Type", (j) => j.type, "c-type"],
      ["Attempts", (j) => `${j.attempt}/${j.max_attempts}`, "num c-attempts"],
      ["Duration", (j) => jobDuration(j), "num c-duration"],
      ["Error", errorText, "c-error"],
      ["Created", (j) => when(j.created_at), "c-created"],
    ];
  },
  // The API query for the page's own query string (the filter form submits by GET).
  query(params) {
    const out = new URLSearchParams();
    for (const name of ["queue", "type", "sort", "cursor", "finished_after", "retried"]) {
      const value = (params.get(name) || "").trim();
      if (value) out.set(name, value);
    }
    const states = params.getAll("state").flatMap((s) => s.split(",")).filter(Boolean);
    if (states.length) out.set("state", states.join(","));
    if (!out.has("sort")) out.set("sort", "-created_at");
    for (const pair of (params.get("meta") || "").split(",")) {
      const [key, ...rest] = pair.split("=");
      if (key.trim() && rest.length) out.set(`meta.${key.trim()}`, rest.join("=").trim());
    }
    for (const name of ["created_after", "created_before"]) {
      const value = params.get(name);
      if (value) out.set(name, new Date(value).toISOString());
    }
    out.set("limit", String(LIMIT));
    out.set("total", "true");
    return out;
  },
  fillForm(params) {
    const form = $("#filters");
    const states = new Set(params.getAll("state").flatMap((s) => s.split(",")));
    for (const box of form.querySelectorAll('input[name="state"]')) box.checked = states.has(box.value);
    form.elements.retried.checked = params.get("retried") === "false";
    for (const name of ["type", "meta", "created_after", "created_before", "sort", "finished_after"]) {
      const value = params.get(name);
      if (value && form.elements[name]) form.elements[name].value = value;
    }
  },
  async queues(chosen) {
    const select = $("#f-queue");
    const { queues } = await api("/stats/queues");
    const names = queues.map((q) => q.name);
    if (chosen && !names.includes(chosen)) names.unshift(chosen);
    select.append(...names.map((name) => el("option", { value: name }, name)));
    select.value = chosen || "";
  },
  render(data, params) {
    const columns = jobsPage.columns();
    const rows = data.jobs.map((j) => el("tr", { "data-id": j.id, "data-state": j.state },
      columns.map(([label, cell, kind]) => el("td", { class: kind, "data-label": label }, cell(j)))));
    fillRows($("#jobs-table tbody"), rows, "No jobs match.", columns.length);
    const from = Number(params.get("from")) || 1;
    const total = data.total_capped ? `more than ${number(data.total)}` : number(data.total);
    $("#jobs-count").textContent = data.jobs.length
      ? `${number(from)}–${number(from + data.jobs.length - 1)} of ${total} jobs`
      : `0 of ${total} jobs`;
    jobsPage.pager(data, params, from);
    bulk.attach({
      filter: filterOf(params), hidesRetried: params.get("retried") === "false",
      total: data.total, capped: data.total_capped, reload: () => jobsPage.load(params),
    });
  },
  // the page's jobs, read again after a bulk action (an error stays shown)
  async load(params) {
    try {
      jobsPage.render(await api("/jobs?" + jobsPage.query(params)), params);
    } catch (error) {
      showError(error);
    }
  },
  pager(data, params, from) {
    const link = (cursor, start) => {
      const next = new URLSearchParams(params);
      next.set("cursor", cursor);
      next.set("from", String(Math.max(1, start)));
      return `${ROOT}/jobs?${next}`;
    };
    const show = (node, href) => {
      node.hidden = !href;
      if (href) node.href = href;
    };
    show($("#next-page"), data.next_cursor && link(data.next_cursor, from + data.jobs.length));
    show($("#prev-page"), data.prev_cursor && link(data.prev_cursor, from - LIMIT));
    const first = new URLSearchParams(params);
    first.delete("cursor");
    first.delete("from");
    $("#first-page").href = `${ROOT}/jobs?${first}`;
    $("#first-page").hidden = !params.get("cursor");
  },
  finishedNote(params) {
    const after = params.get("finished_after");
    if (!after) return;
    const without = new URLSearchParams(params);
    without.delete("finished_after");
    without.delete("cursor");
    without.delete("from");
    $("#finished-note").replaceChildren("Finished since ", when(after), " · ",
      el("a", { href: `${ROOT}/jobs?${without}` }, "any time"));
    $("#finished-note").hidden = false;
  },
  async start() {
    const params = new URLSearchParams(location.search);
    jobsPage.fillForm(params);
    jobsPage.finishedNote(params);
    try {
      const [data] = await Promise.all([
        api("/jobs?" + jobsPage.query(params)),
        jobsPage.queues(params.get("queue")),
      ]);
      jobsPage.render(data, params);
    } catch (error) {
      showError(error);
    }
  },
};

export default jobsPage;
