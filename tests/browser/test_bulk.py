"""Bulk actions in the dashboard's job list (issue 29, items 9, 10 and 13), in Chromium: rows
selected and retried (the jobs really retried, each failed one then shown as retried and
hidden by "hide retried"), every job matching a filter cancelled by an operation followed to
its end (exactly those: the others untouched), the confirmation showing the count, and an
action the caller may not do refused with the API's message. Screenshots: jobs-bulk-*.png."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, jobq_cli, make_key, screenshot, sign_in


def fail_job(board: Dashboard, queue: str, **fields: Any) -> dict[str, Any]:
    """A job enqueued, claimed and failed for good (one attempt)."""
    job = board.enqueue(queue, max_attempts=1, **fields)
    held = board.claim(queue)
    assert held["id"] == job["id"]
    error = {"code": "E_DISK", "message": "disk full"}
    board.call("POST", f"/jobs/{job['id']}/fail", {"token": held["lease_token"], "error": error})
    return job


def row(page: Page, job_id: str) -> Any:
    return page.locator(f'#jobs-table tr[data-id="{job_id}"]')


def test_selected_rows_are_retried_then_shown_as_retried_and_hidden_on_request(
    page: Page, dashboard: Dashboard
) -> None:
    jobs = [fail_job(dashboard, "media", type="resize") for _ in range(3)]
    chosen, left = jobs[:2], jobs[2]
    sign_in(page, dashboard)
    page.goto(dashboard.url("/jobs?state=failed"))
    expect(page.locator("#jobs-table tbody tr")).to_have_count(3)
    expect(page.locator("#bulk-selected")).to_have_text("No jobs selected")
    expect(page.locator("#bulk-retry")).to_be_disabled()
    for job in chosen:
        row(page, job["id"]).get_by_role("checkbox").check()
    expect(page.locator("#bulk-selected")).to_have_text("2 jobs selected")
    page.locator("#bulk-retry").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Retry 2 selected jobs?")
    expect(page.locator("#confirm-ok")).to_have_text("Yes, retry 2 jobs")
    expect(page.locator("#confirm-ok")).not_to_have_class(re.compile("danger"))  # not destructive
    screenshot(page, "jobs-bulk-retry-confirm")
    page.locator("#confirm-ok").click()
    expect(page.locator("#toast")).to_have_text("Retried 2 jobs")

    for job in chosen:  # really retried, through the API: a new job each, linked
        retry = dashboard.call("GET", f"/jobs/{job['id']}")["retried_by"]
        assert retry is not None
        assert dashboard.call("GET", f"/jobs/{retry}")["retry_of"] == job["id"]
        link = row(page, job["id"]).locator("td.c-state a.retried")
        expect(link).to_have_text("retried")
        assert (link.get_attribute("href") or "").endswith(f"/jobs/{retry}")
    assert dashboard.call("GET", f"/jobs/{left['id']}")["retried_by"] is None
    expect(row(page, left["id"]).locator("a.retried")).to_have_count(0)
    screenshot(page, "jobs-bulk-retried")

    page.get_by_label("hide retried").check()
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"retried=false"))
    expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    expect(row(page, left["id"])).to_be_visible()
    expect(page.get_by_label("hide retried")).to_be_checked()

    row(page, left["id"]).get_by_role("checkbox").check()  # and delete the one left
    page.locator("#bulk-delete").click()
    expect(page.locator("#confirm-text")).to_contain_text("This cannot be undone.")
    expect(page.locator("#confirm-ok")).to_have_text("Yes, delete 1 job")
    expect(page.locator("#confirm-ok")).to_have_class(re.compile("danger"))
    page.locator("#confirm-ok").click()
    expect(page.locator("#toast")).to_have_text("Deleted 1 job")
    expect(page.locator("#jobs-table tbody")).to_contain_text("No jobs match.")
    dashboard.call("GET", f"/jobs/{left['id']}", status=404)


def test_all_matching_a_filter_cancels_exactly_those_jobs_after_confirming_the_count(
    page: Page, dashboard: Dashboard
) -> None:
    matching = [dashboard.enqueue("mail", type="send")["id"] for _ in range(60)]
    others = [dashboard.enqueue("mail", type="digest")["id"] for _ in range(4)]
    others += [dashboard.enqueue("reports", type="send")["id"] for _ in range(4)]
    sign_in(page, dashboard)
    page.goto(dashboard.url("/jobs?queue=mail&type=send&state=queued"))
    expect(page.locator("#jobs-table tbody tr")).to_have_count(50)  # a page of the 60
    page.locator("#bulk-all").click()
    expect(page.locator("#bulk-selected")).to_have_text("All 60 jobs matching this filter selected")
    expect(page.locator("#jobs-table input.pick:checked")).to_have_count(50)
    page.locator("#bulk-cancel").click()
    expect(page.locator("dialog#confirm")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text(
        "Cancel all 60 jobs matching this filter (queued)?"
    )
    expect(page.locator("#confirm-ok")).to_have_text("Yes, cancel 60 jobs")
    expect(page.locator("#confirm-ok")).to_have_class(re.compile("danger"))  # destructive
    screenshot(page, "jobs-bulk-cancel-all-confirm")
    page.locator("#confirm-ok").click()
    progress = page.locator("#bulk-progress")
    expect(progress).to_have_text("Cancel of the jobs matching the filter done: 60 done, 0 failed.")
    expect(page.locator("#jobs-table tbody")).to_contain_text("No jobs match.")
    screenshot(page, "jobs-bulk-cancel-all-done")

    states = {i: dashboard.call("GET", f"/jobs/{i}")["state"] for i in matching + others}
    assert {states[i] for i in matching} == {"cancelled"}
    assert {states[i] for i in others} == {"queued"}  # not matching: untouched
    operations = dashboard.call("GET", "/operations")["operations"]
    assert [(o["action"], o["state"], o["done"]) for o in operations] == [("cancel", "done", 60)]


def test_an_action_the_caller_may_not_do_shows_the_apis_refusal(
    page: Page, dashboard: Dashboard
) -> None:
    job = dashboard.enqueue("team", type="build")
    key = make_key(dashboard.db, "vic")
    jobq_cli("queues", "grant", "team", "vic", "viewer", "--db", dashboard.db)
    sign_in(page, dashboard, key)

    page.goto(dashboard.url("/jobs"))
    row(page, job["id"]).get_by_role("checkbox").check()
    page.locator("#bulk-cancel").click()
    page.locator("#confirm-ok").click()
    as_vic = httpx.post(
        f"{dashboard.server.api}/jobs/bulk/cancel",
        json={"ids": [job["id"]]},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["results"][0]
    assert as_vic["ok"] is False
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        f"Cancelled 0 of 1 job; 1 refused. {job['id']}: {as_vic['error']['message']}"
    )
    screenshot(page, "jobs-bulk-refused")

    page.goto(dashboard.url("/jobs?queue=team"))  # by filter: the API's 403, its message
    page.locator("#bulk-all").click()
    page.locator("#bulk-cancel").click()
    refused = httpx.post(
        f"{dashboard.server.api}/jobs/bulk/cancel",
        json={"filter": {"queues": ["team"]}, "dry_run": True},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert refused.status_code == 403
    expect(alert).to_have_text(refused.json()["error"]["message"])
    expect(page.locator("dialog#confirm")).to_be_hidden()  # nothing to confirm
    assert dashboard.call("GET", f"/jobs/{job['id']}")["state"] == "queued"
