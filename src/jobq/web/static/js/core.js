// What every page shares: the API call (the session cookie, and the CSRF token in
// X-CSRF-Token for changes, so the API's permission guard decides what a page shows), DOM
// helpers, the confirm step of every action, polling, and one way to show times and durations.
"use strict";

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
export const API = meta("jobq-api");
export const ROOT = meta("jobq-root");
const CSRF = meta("jobq-csrf");
export const POLL_MS = 5000;
export const TERMINAL = ["succeeded", "failed", "cancelled"];

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body } = {}) {
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

// --- DOM ---

export function el(tag, attrs = {}, ...children) {
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

export const $ = (selector) => document.querySelector(selector);

export function fillRows(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: columns, class: "muted" }, emptyText)));
}

export function showError(error) {
  const box = $("#error");
  if (!error) {
    box.hidden = true;
    return;
  }
  box.textContent = error.message || String(error);
  box.hidden = false;
}

export function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 3000);
}

export function stateBadge(state, cancelRequested) {
  const text = cancelRequested && state === "running" ? "running (cancel requested)" : state;
  return el("span", { class: `state state-${state}` }, text);
}

// a link to a job by its id; on a phone its middle folds away (a UUIDv7 begins with its
// time, which jobs made together share: the end tells them apart)
export function jobLink(id) {
  const parts = id.length > 24
    ? [el("span", { class: "id-head" }, id.slice(0, 8)), el("span", { class: "id-mid" }, id.slice(8, -12)), id.slice(-12)]
    : [id];
  return el("a", { href: `${ROOT}/jobs/${encodeURIComponent(id)}`, class: "job-link", "aria-label": id },
    el("code", {}, parts));
}

export function jobsHref(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) if (one) query.append(name, one);
  }
  return `${ROOT}/jobs?${query}`;
}

export const number = (n) => Number(n || 0).toLocaleString("en-US");

// --- times and durations: one format everywhere ---
// A time is local, 24-hour, "2026-01-02 14:03:05"; its zone and UTC are on hover.

const pad = (n, width = 2) => String(n).padStart(width, "0");
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

function offset(date) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  return `UTC${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

export function localTime(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function when(iso) {
  if (!iso) return el("span", { class: "muted" }, "–");
  const date = new Date(iso);
  const title = `${localTime(date)} ${ZONE} (${offset(date)}); ${iso} UTC`;
  return el("time", { datetime: iso, title }, localTime(date));
}

// seconds as a duration: "340 ms", "12.3 s", "4 min 05 s", "3 h 12 min", "2 d 4 h"
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)} h ${pad(Math.floor(whole / 60) % 60)} min`;
  return `${Math.floor(whole / 86400)} d ${Math.floor(whole / 3600) % 24} h`;
}

export const since = (iso) => (Date.now() - new Date(iso).getTime()) / 1000;

// how long a job ran (or has run, or waits): "12.3 s", "running 4 min 05 s"
export function jobDuration(job) {
  if (job.started_at) {
    const end = job.finished_at ? new Date(job.finished_at).getTime() : Date.now();
    const ran = duration((end - new Date(job.started_at).getTime()) / 1000);
    return job.state === "running" ? `running ${ran}` : ran;
  }
  if (job.state === "queued") return `waiting ${duration(since(job.run_at))}`;
  if (job.state === "scheduled") return `due in ${duration(-since(job.run_at))}`;
  return "–";
}

// --- actions: every change passes a modal confirm step ---

export function confirmStep(text, label, destructive = true) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  const ok = $("#confirm-ok");
  ok.textContent = `Yes, ${label.toLowerCase()}`;
  ok.className = destructive ? "danger" : "";
  dialog.returnValue = "";
  dialog.showModal();
  ok.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export async function act(text, label, work, done, destructive = true) {
  if (!(await confirmStep(text, label, destructive))) return;
  try {
    const result = await work();
    showError(null);
    if (done) await done(result);
  } catch (error) {
    showError(error);
  }
}

// `refresh` now (unless `now` is false: the page has its data) and every POLL_MS while shown
export function every(refresh, now = true) {
  const run = async () => {
    try {
      await refresh();
    } catch (error) {
      showError(error);
    }
  };
  if (now) run();
  return setInterval(() => {
    if (!document.hidden) run();
  }, POLL_MS);
}

// the button that pauses a running queue or resumes a paused one, after the confirm step
export function pauseOrResume(name, paused, after) {
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
      !paused,
    ),
  }, label);
}

// the live workers that claim from `queue` (a worker of every queue claims from each)
export function servingWorkers(workers, queue) {
  return workers.filter((w) => w.live && (w.queues === null || w.queues.includes(queue)));
}
