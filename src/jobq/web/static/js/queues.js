// The queues: what waits and runs in each, failures, the last hour's throughput and waits, the
// oldest waiting job's age, the live workers that claim from it, and its flow limits.
"use strict";

import { $, api, duration, el, every, fillRows, jobsHref, number, pauseOrResume, servingWorkers } from "./core.js";
import { limitButton, limitsCell } from "./limits.js";
import { rowOf, totals } from "./overview.js";

function workersCell(serving) {
  if (!serving.length) return el("span", { class: "warn-text" }, "none");
  const slots = serving.reduce((n, w) => n + (w.slots || 0), 0);
  return `${serving.length}${slots ? ` (${number(slots)} slots)` : ""}`;
}

const queuesPage = {
  async refresh() {
    const [{ queues, as_of: asOf }, hour, { workers }] = await Promise.all([
      api("/stats/queues"),
      api("/stats/throughput?minutes=60&bucket=60&top=100"),
      api("/workers"),
    ]);
    const rows = queues.map((q) => {
      const row = rowOf(hour, q.name);
      const t = row ? totals(row) : null;
      const link = (text, params) => el("a", { href: jobsHref({ queue: q.name, ...params }) }, text);
      const oldest = q.oldest_queued_at ? duration((new Date(asOf) - new Date(q.oldest_queued_at)) / 1000) : "–";
      return el("tr", { "data-queue": q.name },
        el("th", { scope: "row" }, link(q.name, {})),
        el("td", {}, q.paused ? el("span", { class: "state state-paused" }, "paused") : "active"),
        el("td", { class: "num" }, link(number(q.counts.queued), { state: "queued" })),
        el("td", { class: "num" }, link(number(q.counts.scheduled), { state: "scheduled" })),
        el("td", { class: "num" }, link(number(q.counts.running), { state: "running" })),
        el("td", { class: "num", "data-cell": "failed" }, link(number(q.counts.failed), { state: "failed" })),
        el("td", { class: "num" }, t ? link(number(t.failed), { state: "failed", finished_after: hour.since }) : "–"),
        el("td", { class: "num" }, t ? `${(t.processed / 60).toFixed(1)}/min` : "–"),
        el("td", { class: "num" }, t ? duration(t.meanWait) : "–"),
        el("td", { class: "num", "data-cell": "oldest" }, oldest),
        el("td", { class: "num", "data-cell": "workers" }, workersCell(servingWorkers(workers, q.name))),
        el("td", { class: "limits", "data-cell": "limits" }, limitsCell(q.limits, q.counts.running)),
        el("td", {}, el("div", { class: "buttons" }, pauseOrResume(q.name, q.paused, queuesPage.refresh),
          limitButton(q.name, q.limits, queuesPage.refresh))));
    });
    fillRows($("#queues-table tbody"), rows, "No queues yet.", 13);
  },
  start() {
    every(queuesPage.refresh);
  },
};

export default queuesPage;
