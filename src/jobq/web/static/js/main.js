// jobq dashboard: each page's module fills its shell from the native API. Plain DOM and ES
// modules served by jobq itself: no framework, no build step, nothing from elsewhere.
"use strict";

import { $ } from "./core.js";
import overview from "./overview.js";
import queuesPage from "./queues.js";
import jobsPage from "./jobs.js";
import jobPage from "./job.js";
import workersPage from "./workers.js";
import adminPage from "./admin.js";
import problemsPage, { problemsAvailable, showProblemCount } from "./problems.js";

const PAGES = {
  overview: overview.start,
  queues: queuesPage.start,
  jobs: jobsPage.start,
  job: jobPage.start,
  workers: workersPage.start,
  admin: adminPage.start,
};

async function start() {
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
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
