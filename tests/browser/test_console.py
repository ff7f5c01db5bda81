"""The dashboard as a console (issue 29, items 12-15), in Chromium: a job's page leads with
what matters and shows its error and log without scrolling; the job list with errors,
attempts, durations, a total and pages both ways; headline counters that match the API and
lead to their lists; queues and workers as an operator reads them; the sign-in page, the open
mode, an empty install, dark mode and a phone. Screenshots: desktop 1440 x 900 (NAME.png), a
phone 390 x 844 (NAME-phone.png), dark mode (NAME-dark.png, NAME-phone-dark.png)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PHONE,
    Dashboard,
    page_height,
    page_width,
    screenshot,
    sign_in,
)
from tests.browser.test_dashboard import confirm, fact

LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
DURATION = re.compile(r"^\d+ ms$|^\d+(\.\d)? s$")
AGE = re.compile(r"^\d+ ms$|^\d+(\.\d)? s$|^\d+ min \d\d s$")
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "tasks.py", line 12, in resize\n'
    "    image = open_image(path)\n"
    "OSError: [Errno 28] No space left on device\n"
)
LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(18, 21, 27)"
Tab = Callable[..., Page]


def count_line(first: int, last: int, total: int) -> str:
    return f"{first}\N{EN DASH}{last} of {total} jobs"


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def run_and_fail(board: Dashboard, job_id: str, error: dict[str, Any], lines: list[str]) -> None:
    """Claim the job, write `lines` to its log, and fail the attempt with `error`."""
    held = board.claim(board.call("GET", f"/jobs/{job_id}")["queue"])
    assert held["id"] == job_id
    entries = [{"text": t, "stream": "stderr" if "rror" in t else "stdout"} for t in lines]
    board.call("POST", f"/jobs/{job_id}/logs", {"entries": entries}, 201)
    board.call("POST", f"/jobs/{job_id}/fail", {"token": held["lease_token"], "error": error})


def test_sign_in_is_styled_like_the_rest_and_says_how_to_get_a_key(
    page: Page, dashboard: Dashboard, tabs: Tab
) -> None:
    page.goto(dashboard.url("/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".sign-in-card")).to_contain_text("jobq keys create")
    expect(page.locator(".sign-in-card")).to_contain_text("Users & keys")
    assert background(page) == LIGHT_BG  # the dashboard's own sheet, not a bare page
    page.get_by_label("API key").fill("jobq_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    screenshot(page, "sign-in")
    for name, options in (
        ("sign-in-phone", {"viewport": PHONE}),
        ("sign-in-dark", {"color_scheme": "dark"}),
    ):
        tab = tabs(**options)
        tab.goto(dashboard.url("/login"))
        expect(tab.get_by_label("API key")).to_be_visible()
        assert page_width(tab) <= PHONE["width"] or name.endswith("dark")
        if name.endswith("dark"):
            assert background(tab) == DARK_BG
        screenshot(tab, name)
    sign_in(page, dashboard)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Users & keys")).to_be_visible()


def test_open_mode_hides_what_means_nothing_there_and_an_empty_install_shows_a_first_job(
    page: Page, open_dashboard: Dashboard
) -> None:
    board = open_dashboard
    page.goto(board.url("/"))  # no users: nobody signs in
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Open mode: no users yet")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_role("link", name="Users & keys")).to_have_count(0)
    first = page.locator("#first-job")
    expect(first).to_be_visible()
    command = page.locator("#first-job-curl").inner_text()
    assert "Authorization" not in command  # nothing to present in the open mode
    screenshot(page, "overview-empty-open-mode")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and '"state":"queued"' in done.stdout.replace(" ", "")
    expect(first).to_be_hidden()  # the next poll finds the job
    expect(page.locator("#count-queued .value")).to_have_text("1")
    page.goto(board.url("/admin"))  # typed by hand: says how users begin
    expect(page.locator("#admin-open-note")).to_contain_text("jobq users add NAME --admin")


def test_headline_counters_match_the_api_and_lead_to_their_lists(
    page: Page, dashboard: Dashboard
) -> None:
    for outcome in ("ok", "ok", "ok", "fail", "fail"):
        job = dashboard.enqueue("media", type="resize", max_attempts=1)
        held = dashboard.claim("media")
        if outcome == "ok":
            dashboard.call("POST", f"/jobs/{job['id']}/complete", {"token": held["lease_token"]})
        else:
            error = {"code": "E_SPACE", "message": "no space left"}
            dashboard.call(
                "POST", f"/jobs/{job['id']}/fail", {"token": held["lease_token"], "error": error}
            )
    for _ in range(4):
        dashboard.enqueue("mail", type="send")
    dashboard.enqueue("mail", type="send", run_at="2100-01-01T00:00:00Z")
    dashboard.claim("mail")
    sign_in(page, dashboard)
    expect(page.locator("#count-processed .value")).to_have_text("5")
    hour = dashboard.call("GET", "/stats/throughput?minutes=60&bucket=60&top=100")
    queues = dashboard.call("GET", "/stats/queues")["queues"]
    now = {s: sum(q["counts"][s] for q in queues) for s in ("queued", "running", "scheduled")}
    finished = [*hour["queues"].values(), hour["other"]]
    expected = {
        "processed": sum(sum(r["succeeded"]) + sum(r["failed"]) for r in finished),
        "failed": sum(sum(r["failed"]) for r in finished),
        **now,
    }
    assert expected == {"processed": 5, "failed": 2, "queued": 3, "running": 1, "scheduled": 1}
    for name, value in expected.items():
        expect(page.locator(f"#count-{name} .value")).to_have_text(str(value))
    expect(page.locator("#chart .axis-label")).to_have_text(["time (local)", "jobs per minute"])
    expect(page.locator("#chart .x-tick")).not_to_have_count(0)
    row = page.locator('#overview-table tr[data-queue="media"]')
    expect(row.locator("td").nth(3)).to_have_text("5")  # processed in the range
    expect(row.locator("td").nth(6)).to_have_text(DURATION)  # mean wait
    screenshot(page, "overview")

    page.locator("#count-failed").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs\?state=failed&finished_after="))
    expect(page.locator("#jobs-table tbody tr")).to_have_count(2)
    expect(page.locator("#jobs-count")).to_have_text(count_line(1, 2, 2))
    expect(page.locator("#jobs-table td.c-error").first).to_have_text("E_SPACE: no space left")
    expect(page.locator("#finished-note")).to_contain_text("Finished since")
    page.go_back()
    page.locator("#count-running").click()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    expect(page.locator("#jobs-table tbody tr td.c-state")).to_have_text("running")

    page.goto(dashboard.url("/"))
    page.get_by_role("button", name="Last week").click()
    expect(page.locator("#chart .axis-label")).to_have_text(["time (local)", "jobs per hour"])
    expect(page.locator("#count-processed")).to_contain_text("in the last week")
    expect(page).to_have_url(re.compile(r"range=week"))
    page.get_by_role("button", name="Last day").click()
    expect(page.locator("#chart .axis-label")).to_have_text(["time (local)", "jobs per 15 min"])
    screenshot(page, "overview-day")


def test_a_failed_jobs_page_leads_with_what_matters_then_its_error_and_log_unscrolled(
    page: Page, dashboard: Dashboard, tabs: Tab
) -> None:
    job = dashboard.enqueue("media", type="resize", max_attempts=2, backoff_base=0, backoff_max=0)
    first = {"code": "exit_code", "message": "exited with code 1", "details": {"exit_code": 1}}
    run_and_fail(dashboard, job["id"], first, ["converting", "Error: disk busy"])
    for _ in range(200):  # the retry comes due at once (no backoff)
        if dashboard.call("GET", f"/jobs/{job['id']}")["state"] == "queued":
            break
        time.sleep(0.05)
    error = {
        "code": "exception",
        "message": "OSError: [Errno 28] No space left on device",
        "details": {"type": "builtins.OSError", "traceback": TRACEBACK},
    }
    run_and_fail(dashboard, job["id"], error, [f"page {n}" for n in range(30)])
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    expect(fact(page, "state")).to_have_text("failed")
    expect(fact(page, "attempt")).to_have_text("2 of 2")
    expect(fact(page, "queue")).to_have_text("media")
    expect(fact(page, "type")).to_have_text("resize")
    expect(fact(page, "worker")).to_have_text("browser-worker (test, pid 7)")
    expect(fact(page, "duration")).to_have_text(DURATION)
    created = fact(page, "created").locator("time")
    expect(created).to_have_text(LOCAL_TIME)  # local, 24-hour
    assert re.search(r"UTC[+-]\d\d:\d\d\); .*Z UTC$", created.get_attribute("title") or "")
    traceback = page.locator("#error-traceback")
    expect(traceback).to_be_visible()
    assert traceback.inner_text().rstrip("\n") == TRACEBACK.rstrip("\n")  # lines kept as lines
    expect(page.locator("#error-message")).to_have_text(
        "exception OSError: [Errno 28] No space left on device"
    )
    log = page.locator("#log")
    expect(log.locator(".attempt-mark")).to_have_text(["── attempt 1 ──", "── attempt 2 ──"])
    expect(log).to_contain_text("Error: disk busy")
    box = log.bounding_box()
    assert box is not None and page.evaluate("window.scrollY") == 0
    assert box["y"] + 120 <= 900, f"the log starts at {box['y']} px: not visible unscrolled"
    expect(page.locator("details#raw")).not_to_have_attribute("open", "")
    expect(page.locator("#fields")).to_be_hidden()  # raw fields folded below
    expect(page.get_by_role("button", name="Retry job")).to_be_visible()
    screenshot(page, "job-failed")
    for name, options in (
        ("job-failed-phone", {"viewport": PHONE}),
        ("job-failed-dark", {"color_scheme": "dark"}),
    ):
        tab = tabs(**options)
        sign_in(tab, dashboard)
        tab.goto(dashboard.url(f"/jobs/{job['id']}"))
        expect(tab.locator("#error-traceback")).to_be_visible()
        expect(tab.locator("#log .attempt-mark")).to_have_count(2)
        screenshot(tab, name)


def test_a_failed_commands_last_stderr_lines_show_with_its_error(
    page: Page, dashboard: Dashboard
) -> None:
    job = dashboard.enqueue("media", type="command", max_attempts=1)
    stderr = "ffmpeg: invalid option -- x\nTry 'ffmpeg --help' for more information."
    error = {
        "code": "exit_code",
        "message": "exited with code 2",
        "details": {"exit_code": 2, "stderr": stderr},
    }
    run_and_fail(dashboard, job["id"], error, ["starting"])
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    shown = page.locator("#error-stderr pre")
    expect(shown).to_be_visible()
    assert shown.inner_text() == stderr
    expect(page.locator("#error-details")).to_contain_text('"exit_code": 2')
    screenshot(page, "job-command-failed")


def test_run_a_scheduled_job_now_and_cancel_is_marked_destructive(
    page: Page, dashboard: Dashboard
) -> None:
    later = dashboard.enqueue("mail", type="send", run_at="2100-01-01T00:00:00Z")
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{later['id']}"))
    expect(fact(page, "state")).to_have_text("scheduled")
    run, cancel = (
        page.get_by_role("button", name="Run now"),
        page.get_by_role("button", name="Cancel job"),
    )
    expect(cancel).to_have_class("danger")
    expect(run).not_to_have_class("danger")
    run.click()
    expect(page.locator("#confirm-ok")).not_to_have_class("danger")
    screenshot(page, "confirm-run-now")
    confirm(page)
    expect(fact(page, "state")).to_have_text("queued")
    assert dashboard.call("GET", f"/jobs/{later['id']}")["state"] == "queued"
    expect(run).to_be_hidden()

    cancel.click()
    expect(page.locator("#confirm-ok")).to_have_class("danger")
    expect(page.locator("#confirm-text")).to_contain_text("will not run")
    screenshot(page, "confirm-cancel-destructive")
    confirm(page)
    expect(fact(page, "state")).to_have_text("cancelled")
    expect(page.locator("#log")).to_have_text("(no output)")


def test_the_job_list_shows_errors_attempts_durations_a_total_and_pages_both_ways(
    page: Page, dashboard: Dashboard
) -> None:
    broken = dashboard.enqueue("b", type="t", max_attempts=1)
    run_and_fail(dashboard, broken["id"], {"code": "E_BAD", "message": "bad input"}, ["x"])
    dashboard.call("POST", "/jobs", {"jobs": [{"queue": "a", "type": "t"}] * 60}, 201)
    dashboard.call("POST", "/jobs", {"jobs": [{"queue": "b", "type": "t"}] * 2}, 201)
    sign_in(page, dashboard)
    page.goto(dashboard.url("/jobs"))
    rows = page.locator("#jobs-table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#jobs-count")).to_have_text(count_line(1, 50, 63))
    expect(page.get_by_role("link", name="Previous page")).to_be_hidden()
    first_ids = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    screenshot(page, "jobs")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#jobs-count")).to_have_text(count_line(51, 63, 63))
    expect(rows).to_have_count(13)
    failed = page.locator(f'#jobs-table tr[data-id="{broken["id"]}"]')  # the oldest: last
    expect(failed.locator("td.c-error")).to_have_text("E_BAD: bad input")
    expect(failed.locator("td.c-attempts")).to_have_text("1/1")
    expect(failed.locator("td.c-duration")).to_have_text(DURATION)
    screenshot(page, "jobs-page-2")
    page.get_by_role("link", name="Previous page").click()
    expect(page.locator("#jobs-count")).to_have_text(count_line(1, 50, 63))
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.id)") == first_ids

    form = page.locator("#filters")
    queue = form.get_by_label("Queue", exact=True)
    assert queue.locator("option").all_inner_texts() == ["any queue", "a", "b"]
    queue.select_option("b")
    form.get_by_label("failed").check()
    form.get_by_label("queued").check()  # several states at once
    form.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    states = rows.evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert sorted(states) == ["failed", "queued", "queued"]
    expect(form.get_by_label("failed")).to_be_checked()
    expect(page.locator("#jobs-count")).to_have_text(count_line(1, 3, 3))
    screenshot(page, "jobs-filtered-states")


def test_the_job_list_fits_a_phone(dashboard: Dashboard, tabs: Tab) -> None:
    """A page of 50 jobs on a 390 px phone: one short card per job, nothing sideways (the
    old table wrapped each id one character per line: a 38,494 px page)."""
    jobs = [{"queue": "thumbnails", "type": "resize", "metadata": {"n": str(n)}} for n in range(55)]
    dashboard.call("POST", "/jobs", {"jobs": jobs}, 201)
    for scheme in ("light", "dark"):
        tab = tabs(viewport=PHONE, color_scheme=scheme)
        sign_in(tab, dashboard)
        tab.goto(dashboard.url("/jobs"))
        rows = tab.locator("#jobs-table tbody tr")
        expect(rows).to_have_count(50)
        heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
        assert max(heights) < 90, heights
        assert page_height(tab) < 5000 and page_width(tab) <= PHONE["width"]
        link = rows.first.locator("a.job-link")
        assert link.evaluate("a => a.getBoundingClientRect().height") < 30  # one line
        screenshot(tab, "jobs-phone" if scheme == "light" else "jobs-phone-dark")


def test_queues_show_failures_throughput_the_oldest_wait_and_workers(
    page: Page, dashboard: Dashboard
) -> None:
    dashboard.call("POST", "/jobs", {"jobs": [{"queue": "media", "max_attempts": 1}] * 5}, 201)
    dashboard.enqueue("quiet")
    worker = {"name": "w1", "host": "box", "pid": 11, "slots": 4}
    held = dashboard.call("POST", "/claim", {"queues": ["media"], "max": 3, "worker": worker})
    for n, job in enumerate(held["jobs"]):
        if n == 0:
            dashboard.call("POST", f"/jobs/{job['id']}/complete", {"token": job["lease_token"]})
        else:
            body = {"token": job["lease_token"], "error": {"code": "E", "message": "no"}}
            dashboard.call("POST", f"/jobs/{job['id']}/fail", body)
    sign_in(page, dashboard)
    page.goto(dashboard.url("/queues"))
    media = page.locator('#queues-table tr[data-queue="media"]')
    expect(media.locator('td[data-cell="failed"]')).to_have_text("2")
    expect(media.locator("td").nth(5)).to_have_text("2")  # failed in the last hour
    expect(media.locator("td").nth(6)).to_have_text(re.compile(r"^\d+\.\d/min$"))
    expect(media.locator('td[data-cell="oldest"]')).to_have_text(AGE)
    expect(media.locator('td[data-cell="workers"]')).to_have_text("1 (4 slots)")
    quiet = page.locator('#queues-table tr[data-queue="quiet"]')
    expect(quiet.locator('td[data-cell="workers"]')).to_have_text("none")
    media.locator('td[data-cell="failed"] a').click()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(2)
    screenshot(page, "queues-failed-list")
    page.goto(dashboard.url("/queues"))
    expect(media).to_be_visible()
    screenshot(page, "queues")


def test_workers_show_live_or_gone_busy_slots_and_the_jobs_they_hold(
    page: Page, dashboard: Dashboard
) -> None:
    dashboard.call("POST", "/jobs", {"jobs": [{"queue": "media"}] * 3 + [{"queue": "old"}]}, 201)
    busy = {"name": "render-1", "host": "box", "pid": 11, "slots": 8}
    held = dashboard.call("POST", "/claim", {"queues": ["media"], "max": 3, "worker": busy})["jobs"]
    old = dashboard.claim("old", worker="retired")
    dashboard.call("POST", f"/jobs/{old['id']}/complete", {"token": old["lease_token"]})
    path = dashboard.db.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as db:  # last seen an hour ago
        db.execute("UPDATE workers SET last_seen = last_seen - 3600 WHERE name = 'retired'")
    sign_in(page, dashboard)
    page.goto(dashboard.url("/workers"))
    live = page.locator('#workers-table tr[data-worker="render-1"]')
    expect(live.locator(".state")).to_have_text("live")
    expect(live.locator('td[data-cell="busy"]')).to_have_text("3/8")
    expect(live.locator('td[data-cell="jobs"] a')).to_have_count(3)
    expect(live.get_by_role("link", name=held[0]["id"])).to_be_visible()
    gone = page.locator('#workers-table tr[data-worker="retired"]')
    expect(gone.locator(".state")).to_have_text("gone")
    expect(gone.locator('td[data-cell="busy"]')).to_have_text("0")
    screenshot(page, "workers")
    live.get_by_role("link", name=held[0]["id"]).click()
    expect(fact(page, "worker")).to_have_text("render-1 (box, pid 11)")


def test_every_page_in_dark_mode_and_on_a_phone(dashboard: Dashboard, tabs: Tab) -> None:
    job = dashboard.enqueue("media", type="resize")
    dashboard.claim("media")
    pages = {  # path: its name, and what shows once its data came
        "/": ("overview", "#count-running .value >> text=1"),
        "/queues": ("queues", '#queues-table tr[data-queue="media"]'),
        "/jobs": ("jobs", "#jobs-table tbody tr[data-id]"),
        f"/jobs/{job['id']}": ("job", '#facts dd[data-fact="state"] >> text=running'),
        "/workers": ("workers", "#workers-table tr[data-worker]"),
        "/problems": ("problems", "#problems-table tbody tr"),
        "/admin": ("admin", "#users-table tbody tr"),
    }
    for viewport, scheme, suffix in (
        (None, "dark", "-dark"),
        (PHONE, "light", "-phone"),
        (PHONE, "dark", "-phone-dark"),
    ):
        tab = tabs(**({"viewport": viewport} if viewport else {}), color_scheme=scheme)
        sign_in(tab, dashboard)
        for path, (name, ready) in pages.items():
            tab.goto(dashboard.url(path))
            expect(tab.locator(ready).first).to_be_visible()
            expect(tab.locator("#error")).to_be_hidden()
            assert background(tab) == (DARK_BG if scheme == "dark" else LIGHT_BG)
            if viewport is PHONE:
                assert page_width(tab) <= PHONE["width"], f"{path} scrolls sideways"
            screenshot(tab, f"{name}{suffix}")
