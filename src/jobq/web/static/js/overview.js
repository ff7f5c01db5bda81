// The overview: headline counters (each a link to its list), jobs finished over the last
// hour, day or week with their waits, and every queue's numbers.
"use strict";

import { $, API, api, el, every, fillRows, jobsHref, number, duration, showError } from "./core.js";
import { barChart } from "./chart.js";

export const RANGES = {
  hour: { minutes: 60, bucket: 60, name: "in the last hour" },
  day: { minutes: 1440, bucket: 900, name: "in the last day" },
  week: { minutes: 10080, bucket: 3600, name: "in the last week" },
};
const sum = (list) => (list || []).reduce((a, b) => a + b, 0);

// what the throughput answer says of one queue's row (or of `other`): finished per state, and
// the waits of those that started
// one queue's row of a throughput answer: its own, or (when the answer names every queue
// that finished any job: fewer than `top`) an empty one; null when it is among `other`
export function rowOf(throughput, queue, top = 100) {
  const named = throughput.queues[queue];
  if (named) return named;
  return Object.keys(throughput.queues).length < top ? {} : null;
}

export function totals(row) {
  const out = { succeeded: sum(row.succeeded), failed: sum(row.failed), cancelled: sum(row.cancelled) };
  out.processed = out.succeeded + out.failed;
  out.waited = sum(row.waited);
  out.meanWait = out.waited ? sum(row.wait_seconds) / out.waited : null;
  return out;
}

const overview = {
  range: "hour",
  throughput: null,
  async refresh() {
    const range = RANGES[overview.range];
    const [queues, throughput] = await Promise.all([
      api("/stats/queues"),
      api(`/stats/throughput?minutes=${range.minutes}&bucket=${range.bucket}&top=100`),
    ]);
    overview.throughput = throughput;
    overview.counters(queues.queues, throughput);
    overview.table(queues.queues, throughput, queues.as_of);
    overview.choices(queues.queues);
    overview.chart();
    $("#first-job").hidden = queues.queues.length > 0;
    $("#updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}`;
    showError(null);
  },
  counters(queues, throughput) {
    const all = [...Object.values(throughput.queues), throughput.other].map(totals);
    const finished = { processed: sum(all.map((t) => t.processed)), failed: sum(all.map((t) => t.failed)) };
    const now = (state) => sum(queues.map((q) => q.counts[state] || 0));
    const values = { ...finished, queued: now("queued"), running: now("running"), scheduled: now("scheduled") };
    for (const [name, value] of Object.entries(values)) {
      $(`#count-${name} .value`).textContent = number(value);
    }
    const after = throughput.since;
    $("#count-processed").href = jobsHref({ state: ["succeeded", "failed"], finished_after: after });
    $("#count-failed").href = jobsHref({ state: "failed", finished_after: after });
    for (const node of document.querySelectorAll(".range-name")) node.textContent = RANGES[overview.range].name;
  },
  table(queues, throughput, asOf) {
    const minutes = RANGES[overview.range].minutes;
    const after = throughput.since;
    const rows = queues.map((q) => {
      const row = rowOf(throughput, q.name);
      const t = row ? totals(row) : null; // null: counted among the other queues
      const link = (text, params) => el("a", { href: jobsHref({ queue: q.name, ...params }) }, text);
      const oldest = q.oldest_queued_at ? duration((new Date(asOf) - new Date(q.oldest_queued_at)) / 1000) : "–";
      return el("tr", { "data-queue": q.name },
        el("th", { scope: "row" }, link(q.name, {})),
        el("td", { class: "num" }, link(number(q.counts.queued), { state: "queued" })),
        el("td", { class: "num" }, link(number(q.counts.running), { state: "running" })),
        el("td", { class: "num" }, link(number(q.counts.scheduled), { state: "scheduled" })),
        el("td", { class: "num" }, t ? link(number(t.processed), { state: ["succeeded", "failed"], finished_after: after }) : "–"),
        el("td", { class: "num" }, t ? link(number(t.failed), { state: "failed", finished_after: after }) : "–"),
        el("td", { class: "num" }, t ? `${(t.processed / minutes).toFixed(t.processed / minutes < 10 ? 1 : 0)}/min` : "–"),
        el("td", { class: "num" }, t ? duration(t.meanWait) : "–"),
        el("td", { class: "num" }, oldest));
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
      for (const row of rows) (row[state] || []).forEach((n, i) => (out[i] += n));
      return out;
    };
    const series = { ok: total("succeeded"), bad: total("failed"), off: total("cancelled") };
    const box = $("#chart");
    const width = Math.max(280, Math.floor(box.clientWidth || 600));
    const start = new Date(data.since).getTime() / 1000;
    box.replaceChildren(barChart(series, { buckets: data.buckets, bucketSeconds: data.bucket_seconds, since: start, width }));
    $("#chart-total").textContent =
      `${number(sum(series.ok))} succeeded, ${number(sum(series.bad))} failed, ${number(sum(series.off))} cancelled ${RANGES[overview.range].name}`;
  },
  choose(range) {
    overview.range = RANGES[range] ? range : "hour";
    for (const button of document.querySelectorAll("#range button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === overview.range));
    }
  },
  firstJob() {
    const open = document.body.dataset.open === "true";
    $("#first-job-key").hidden = open;
    const auth = open ? "" : ` \\\n  -H "Authorization: Bearer $JOBQ_KEY"`;
    const job = '{"queue": "default", "type": "command", "payload": {"argv": ["echo", "hello"]}}';
    $("#first-job-curl").textContent =
      `curl -s -XPOST ${location.origin}${API}/jobs${auth} \\\n  -H 'content-type: application/json' -d '${job}'`;
  },
  start() {
    const params = new URLSearchParams(location.search);
    overview.choose(params.get("range") || "hour");
    overview.firstJob();
    for (const button of document.querySelectorAll("#range button")) {
      button.addEventListener("click", () => {
        overview.choose(button.dataset.range);
        const url = new URL(location.href);
        url.searchParams.set("range", overview.range);
        history.replaceState(null, "", url);
        overview.refresh().catch(showError);
      });
    }
    $("#chart-queue").addEventListener("change", overview.chart);
    addEventListener("resize", () => overview.chart());
    every(overview.refresh);
  },
};

export default overview;
