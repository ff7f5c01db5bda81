// Many jobs at once from the job list: the rows selected on this page (sent as ids, answered
// one result per id) or every job matching the list's filter (counted first with a dry run,
// the count shown in the confirmation, then done by an operation followed until it ends).
// Retry confirms in the accent colour; cancel and delete are destructive, in red.
"use strict";

import { $, api, confirmStep, el, number, showError, toast } from "./core.js";

// the states each action acts on (engine.selection.ACTIONS), and those a filter without
// states takes (a retry: the failed jobs only, the dead set)
const ACTS_ON = {
  retry: ["succeeded", "failed", "cancelled"],
  cancel: ["scheduled", "queued", "running"],
  delete: ["succeeded", "failed", "cancelled"],
};
const DEFAULT_STATES = { ...ACTS_ON, retry: ["failed"] };
const LABEL = { retry: "Retry", cancel: "Cancel", delete: "Delete" };
const PAST = { retry: "Retried", cancel: "Cancelled", delete: "Deleted" };
const DOING = { retry: "Retrying", cancel: "Cancelling", delete: "Deleting" };
const DESTRUCTIVE = { retry: false, cancel: true, delete: true };
const WHAT_HAPPENS = {
  retry: "Each runs again as a new job.",
  cancel: "Waiting jobs will not run; running ones are asked to stop, and their work so far may be lost.",
  delete: "They and their logs are deleted. This cannot be undone.",
};
const REASON = "cancelled from the dashboard";
const FOLLOW_MS = 1000;
const SHOWN_FAILURES = 3;

const plural = (n, word) => `${number(n)} ${word}${n === 1 ? "" : "s"}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The list's filter (the page's own query string) as the bulk API's filter.
export function filterOf(params) {
  const filter = {};
  const queue = (params.get("queue") || "").trim();
  const type = (params.get("type") || "").trim();
  if (queue) filter.queues = [queue];
  if (type) filter.types = [type];
  const states = params.getAll("state").flatMap((s) => s.split(",")).filter(Boolean);
  if (states.length) filter.states = states;
  const metadata = {};
  for (const pair of (params.get("meta") || "").split(",")) {
    const [key, ...rest] = pair.split("=");
    if (key.trim() && rest.length) metadata[key.trim()] = rest.join("=").trim();
  }
  if (Object.keys(metadata).length) filter.metadata = metadata;
  for (const name of ["created_after", "created_before", "finished_after"]) {
    const value = params.get(name);
    if (value) filter[name] = new Date(value).toISOString();
  }
  return filter;
}

const bulk = {
  filter: {},
  hidesRetried: false,
  total: 0,
  allMatching: false,
  reload: async () => {},

  // the selection column, first among jobsPage.columns()
  column() {
    return ["Select", (j) => el("input", {
      type: "checkbox", class: "pick", value: j.id, "aria-label": `Select job ${j.id}`,
      onchange: () => bulk.picked(),
    }), "c-select"];
  },

  // after each render of the list: the bar for its rows and filter
  attach({ filter, hidesRetried, total, capped, reload }) {
    Object.assign(bulk, { filter, hidesRetried, total, capped, reload, allMatching: false });
    const box = $("#bulk-actions");
    const rows = document.querySelectorAll("#jobs-table input.pick").length;
    box.hidden = rows === 0;
    const page = $("#select-page");
    page.checked = false;
    page.disabled = rows === 0;
    page.onchange = () => bulk.pickPage(page.checked);
    box.replaceChildren(
      el("span", { id: "bulk-selected", class: "muted" }),
      el("button", { type: "button", id: "bulk-all", class: "quiet", onclick: () => bulk.toggleAll() }),
      ...Object.keys(LABEL).map((action) => el("button", {
        type: "button", id: `bulk-${action}`, class: DESTRUCTIVE[action] ? "danger" : null,
        onclick: () => bulk.run(action),
      }, LABEL[action])),
    );
    bulk.show();
  },

  ids() {
    return [...document.querySelectorAll("#jobs-table input.pick:checked")].map((box) => box.value);
  },
  pickPage(on) {
    for (const box of document.querySelectorAll("#jobs-table input.pick")) box.checked = on;
    bulk.picked();
  },
  picked() {
    const boxes = document.querySelectorAll("#jobs-table input.pick");
    const all = [...boxes].every((box) => box.checked);
    if (!all) bulk.allMatching = false;
    $("#select-page").checked = boxes.length > 0 && all;
    bulk.show();
  },
  toggleAll() {
    const on = !bulk.allMatching;
    bulk.pickPage(on);
    bulk.allMatching = on;
    bulk.show();
  },
  show() {
    const chosen = bulk.ids().length;
    const total = bulk.capped ? `more than ${number(bulk.total)}` : number(bulk.total);
    $("#bulk-selected").textContent = bulk.allMatching
      ? `All ${total} jobs matching this filter selected`
      : chosen ? `${plural(chosen, "job")} selected` : "No jobs selected";
    const every = bulk.capped ? `Select all matching (${total})` : `Select all ${total} matching`;
    $("#bulk-all").textContent = bulk.allMatching ? "Clear selection" : every;
    for (const action of Object.keys(LABEL)) $(`#bulk-${action}`).disabled = !bulk.allMatching && !chosen;
  },

  async run(action) {
    showError(null);
    if (bulk.allMatching) await bulk.byFilter(action);
    else await bulk.byIds(action, bulk.ids());
  },

  async byIds(action, ids) {
    const text = `${LABEL[action]} ${plural(ids.length, "selected job")}? ${WHAT_HAPPENS[action]}`;
    if (!(await confirmStep(text, `${LABEL[action]} ${plural(ids.length, "job")}`, DESTRUCTIVE[action]))) return;
    try {
      const body = { ids, ...(action === "cancel" ? { reason: REASON } : {}) };
      const { results } = await api(`/jobs/bulk/${action}`, { method: "POST", body });
      await bulk.reload();
      bulk.report(action, results);
    } catch (error) {
      showError(error);
    }
  },

  // one result per id: the count done in a toast, the refused ones and why as an error
  report(action, results) {
    const refused = results.filter((r) => !r.ok);
    const done = results.length - refused.length;
    if (!refused.length) {
      toast(`${PAST[action]} ${plural(done, "job")}`);
      return;
    }
    const why = refused.slice(0, SHOWN_FAILURES).map((r) => `${r.id}: ${r.error.message}`);
    if (refused.length > SHOWN_FAILURES) why.push(`and ${number(refused.length - SHOWN_FAILURES)} more`);
    showError(new Error(`${PAST[action]} ${number(done)} of ${plural(results.length, "job")}; ` +
      `${number(refused.length)} refused. ${why.join("; ")}`));
  },

  // the list's filter for `action`: the list's states it acts on (null: none of them)
  filterFor(action) {
    const filter = { ...bulk.filter };
    if (filter.states) {
      filter.states = filter.states.filter((s) => ACTS_ON[action].includes(s));
      if (!filter.states.length) return null;
    }
    return filter;
  },

  async byFilter(action) {
    const filter = bulk.filterFor(action);
    if (!filter) {
      showError(new Error(`${LABEL[action]} acts on ${ACTS_ON[action].join(", ")} jobs; this list shows none.`));
      return;
    }
    const path = `/jobs/bulk/${action}`;
    try {
      const count = await api(path, { method: "POST", body: { filter, dry_run: true } });
      if (!count.matched) {
        showError(new Error(`No job matching this filter can be ${PAST[action].toLowerCase()}.`));
        return;
      }
      const n = count.capped ? `more than ${number(count.matched)}` : number(count.matched);
      const states = (filter.states || DEFAULT_STATES[action]).join(", ");
      const hidden = action === "delete" && bulk.hidesRetried ? " Retried jobs, hidden from this list, are deleted too." : "";
      const text = `${LABEL[action]} all ${n} jobs matching this filter (${states})? ${WHAT_HAPPENS[action]}${hidden}`;
      if (!(await confirmStep(text, `${LABEL[action]} ${n} jobs`, DESTRUCTIVE[action]))) return;
      const body = { filter, ...(action === "cancel" ? { reason: REASON } : {}) };
      await bulk.follow(await api(path, { method: "POST", body }));
    } catch (error) {
      showError(error);
    }
    await bulk.reload();
  },

  // an operation's progress, read every second and shown until it has ended
  async follow(operation) {
    const box = $("#bulk-progress");
    let op = operation;
    box.hidden = false;
    for (;;) {
      const counts = `${number(op.done)} done, ${number(op.failed)} failed`;
      box.textContent = op.state === "running"
        ? `${DOING[op.action]} jobs matching the filter: ${counts}…`
        : `${LABEL[op.action]} of the jobs matching the filter ${op.state}: ${counts}.`;
      if (op.state !== "running") break;
      await sleep(FOLLOW_MS);
      op = await api(`/operations/${encodeURIComponent(op.id)}`);
    }
    if (op.state === "failed" || op.failed) {
      const first = (op.errors || [])[0];
      const why = [op.message, first && `${first.id}: ${first.message}`].filter(Boolean).join("; ");
      showError(new Error(`${LABEL[op.action]} ${op.state}: ${plural(op.failed, "job")} failed${why ? `. ${why}` : ""}`));
    } else toast(`${PAST[op.action]} ${plural(op.done, "job")}`);
  },
};

export default bulk;
