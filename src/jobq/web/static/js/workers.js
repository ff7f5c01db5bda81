// The workers: live or gone, busy slots of their concurrency ("3/8"), the jobs each holds.
"use strict";

import { $, api, el, every, fillRows, jobLink, when } from "./core.js";

const SHOWN = 5; // jobs listed per worker; the rest are counted

function busy(w) {
  return w.slots ? `${w.jobs_held}/${w.slots}` : String(w.jobs_held);
}

function held(w) {
  if (!w.jobs_held) return el("span", { class: "muted" }, "none");
  const shown = w.jobs.slice(0, SHOWN).map((j) => el("li", {}, jobLink(j.id), ` ${j.type}`));
  const more = w.jobs_held - shown.length;
  return [el("ul", { class: "plain" }, shown), more > 0 ? el("span", { class: "muted" }, `and ${more} more`) : null];
}

const workersPage = {
  async refresh() {
    const { workers } = await api("/workers");
    const rows = workers.map((w) => el("tr", { "data-worker": w.name, class: w.live ? "live" : "gone" },
      el("th", { scope: "row" }, w.name),
      el("td", {}, el("span", { class: `state state-${w.live ? "live" : "gone"}` }, w.live ? "live" : "gone")),
      el("td", { class: "num", "data-cell": "busy", title: w.slots ? `${w.jobs_held} of ${w.slots} slots busy` : "slots not reported" }, busy(w)),
      el("td", { "data-cell": "jobs" }, held(w)),
      el("td", {}, w.queues === null ? el("em", {}, "every queue") : w.queues.join(", ")),
      el("td", {}, w.host || ""),
      el("td", { class: "num" }, w.pid ?? ""),
      el("td", {}, when(w.last_seen))));
    fillRows($("#workers-table tbody"), rows, "No workers seen yet.", 8);
  },
  start() {
    every(workersPage.refresh);
  },
};

export default workersPage;
