// Problems (GET /api/v1/problems): why jobs cannot go on; the menu's count on every page.
"use strict";

import { $, API, ROOT, el, every, fillRows, jobLink, pauseOrResume } from "./core.js";

export async function problemsAvailable() {
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
  queue_limited: "Queue at its limit",
  no_worker: "No worker",
  failing: "Failing again and again",
  deadline: "Deadline near",
};
const PROBLEM_JOBS_SHOWN = 3;

// the menu's "Problems (n)": how many there are now (read once per page load, and with
// every refresh of the problems page)
export function showProblemCount(data) {
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
    const waiting = ["queue_paused", "queue_limited", "no_worker"].includes(p.kind);
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

export default problemsPage;
