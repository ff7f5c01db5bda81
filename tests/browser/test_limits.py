"""Queue flow limits in the dashboard, in Chromium: the Queues page shows a queue's limits and
their use, its Limit form sets them (PUT /queues/{name}/limits), shows what the API refuses
in the form, and removes them (DELETE); a queue at its limit is a problem in words."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, screenshot, sign_in


def test_set_a_limit_see_it_used_and_remove_it(page: Page, dashboard: Dashboard) -> None:
    for _ in range(3):
        dashboard.enqueue("mail")
    sign_in(page, dashboard)
    page.goto(dashboard.url("/queues"))
    row = page.locator('#queues-table tr[data-queue="mail"]')
    cell = row.locator('td[data-cell="limits"]')
    expect(cell).to_have_text("none")

    row.get_by_role("button", name="Limit queue mail").click()
    dialog = page.locator("dialog#limits-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Remove limits")).to_be_hidden()  # none to remove
    dialog.get_by_label("Rate").fill("5")  # a rate without its period: the API refuses it
    dialog.get_by_role("button", name="Save limits").click()
    expect(dialog.locator("#limits-error")).to_have_text(
        "a rate limit needs both a rate and a period"
    )
    expect(dialog).to_be_visible()
    dialog.get_by_label("Concurrency").fill("2")
    dialog.get_by_label("Rate").fill("100")
    dialog.get_by_label("Period", exact=True).fill("1")
    dialog.get_by_label("Unit").select_option(label="minutes")
    dialog.get_by_label("Per key").fill("3")
    screenshot(page, "queues-limit-form")
    dialog.get_by_role("button", name="Save limits").click()
    expect(dialog).to_be_hidden()
    expect(cell.locator('[data-limit="concurrency"]')).to_have_text("0/2 running")
    expect(cell.locator('[data-limit="rate"]')).to_have_text("100 per 1 min")
    expect(cell.locator('[data-limit="per_key"]')).to_have_text("3 per key")
    limits = dashboard.call("GET", "/queues/mail/limits")
    assert (limits["concurrency"], limits["rate"], limits["rate_period"]) == (2, 100, 60.0)
    assert limits["per_key"] == 3

    dashboard.claim("mail")
    dashboard.claim("mail")  # two of two running, one job waits for room
    expect(cell.locator('[data-limit="concurrency"]')).to_have_text("2/2 running")
    screenshot(page, "queues-limited")
    page.get_by_role("link", name="Problems").click()
    problem = page.locator('#problems-table tr[data-kind="queue_limited"]')
    expect(problem.locator("th")).to_have_text("Queue at its limit")
    expect(problem).to_contain_text("queue mail is at its concurrency limit: 2 of 2 running")
    expect(problem).to_contain_text("1 job")

    page.get_by_role("link", name="Queues").click()
    row.get_by_role("button", name="Limit queue mail").click()
    expect(dialog.get_by_label("Concurrency")).to_have_value("2")
    expect(dialog.get_by_label("Period", exact=True)).to_have_value("1")
    expect(dialog.get_by_label("Unit")).to_have_value("60")
    dialog.get_by_role("button", name="Remove limits").click()
    expect(dialog).to_be_hidden()
    expect(cell).to_have_text("none")
    limits = dashboard.call("GET", "/queues/mail/limits")
    assert (limits["concurrency"], limits["rate"], limits["rate_period"]) == (None, None, None)
