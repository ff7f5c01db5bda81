// A queue's flow limits on the queues page: what is set and used ("2/3 running", "100 per
// 1 min"), and the Limit form, which replaces them (PUT /queues/{name}/limits) or removes them
// (DELETE). The API checks the values; what it refuses is shown in the form, which stays open.
"use strict";

import { $, api, el, number, toast } from "./core.js";

const UNITS = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];

// a period in the largest unit it is a whole number of: "1 min", "90 s", "2 h", "1.5 s"
export function period(seconds) {
  const [size, name] = UNITS.find(([size]) => seconds >= size && seconds % size === 0) || [1, "s"];
  return `${number(seconds / size)} ${name}`;
}

// the limits cell: the running jobs of the concurrency, the rate per its period, the
// per-key limit, the aging; "none"
export function limitsCell(limits, running) {
  if (!limits) return el("span", { class: "muted" }, "none");
  const parts = [];
  if (limits.concurrency !== null) {
    const full = running >= limits.concurrency;
    parts.push(el("span", { class: full ? "warn-text" : null, "data-limit": "concurrency" },
      `${number(running)}/${number(limits.concurrency)} running`));
  }
  if (limits.rate !== null) {
    parts.push(el("span", { "data-limit": "rate" }, `${number(limits.rate)} per ${period(limits.rate_period)}`));
  }
  if (limits.per_key !== null && limits.per_key !== undefined) {
    parts.push(el("span", { "data-limit": "per_key" }, `${number(limits.per_key)} per key`));
  }
  if (limits.aging !== null && limits.aging !== undefined) {
    parts.push(el("span", { "data-limit": "aging" }, `ages after ${period(limits.aging)}`));
  }
  const weighted = Object.entries(limits.weights || {});
  if (weighted.length) {
    const text = weighted.map(([key, w]) => `${key} ×${number(w)}`).join(", ");
    parts.push(el("span", { "data-limit": "weights" }, `weights: ${text}`));
  }
  return parts.flatMap((part, i) => (i ? [el("br"), part] : [part]));
}

const form = {
  wired: false,
  queue: null,
  after: null,
  weights: {},
  field: (name) => $(`#limit-${name}`),
  error(message) {
    const box = $("#limits-error");
    box.textContent = message || "";
    box.hidden = !message;
  },
  fill(limits) {
    const value = (v) => (v === null || v === undefined ? "" : String(v));
    form.field("concurrency").value = value(limits && limits.concurrency);
    form.field("rate").value = value(limits && limits.rate);
    form.field("per_key").value = value(limits && limits.per_key);
    form.field("aging").value = value(limits && limits.aging);
    form.weights = (limits && limits.weights) || {};  // set by the API or the CLI: kept
    const seconds = limits && limits.rate_period;
    const [size] = UNITS.find(([size]) => seconds >= size && seconds % size === 0) || [1];
    form.field("period").value = seconds ? String(seconds / size) : "";
    form.field("unit").value = String(size);
  },
  // the PUT body: an empty field is no such limit; what is typed goes as a number, for the
  // API to judge (a text that is no number goes as it is, and is refused)
  body() {
    const read = (name) => {
      const text = form.field(name).value.trim();
      if (text === "") return null;
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    };
    const length = read("period");
    const unit = Number(form.field("unit").value);
    return {
      concurrency: read("concurrency"),
      rate: read("rate"),
      rate_period: typeof length === "number" ? length * unit : length,
      per_key: read("per_key"),
      aging: read("aging"),
      weights: form.weights,
    };
  },
  async send(method, body) {
    const name = form.queue;
    try {
      await api(`/queues/${encodeURIComponent(name)}/limits`, { method, body });
    } catch (error) {
      form.error(error.message);
      return;
    }
    $("#limits-dialog").close();
    toast(method === "DELETE" ? `Limits of queue ${name} removed` : `Limits of queue ${name} saved`);
    await form.after();
  },
  wire() {
    if (form.wired) return;
    form.wired = true;
    $("#limits-form").addEventListener("submit", (event) => {
      event.preventDefault();
      form.send("PUT", form.body());
    });
    $("#limits-remove").addEventListener("click", () => form.send("DELETE"));
    $("#limits-cancel").addEventListener("click", () => $("#limits-dialog").close());
  },
  open(name, limits, after) {
    form.wire();
    form.queue = name;
    form.after = after;
    $("#limits-queue").textContent = name;
    form.fill(limits);
    form.error(null);
    $("#limits-remove").hidden = !limits;
    $("#limits-dialog").showModal();
    form.field("concurrency").focus();
  },
};

// the button that opens the Limit form of queue `name` (its current `limits`, or null)
export function limitButton(name, limits, after) {
  return el("button", {
    type: "button", class: "quiet", "aria-label": `Limit queue ${name}`,
    onclick: () => form.open(name, limits, after),
  }, "Limit");
}
