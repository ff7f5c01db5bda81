"""The dashboard in headless Chromium: sign in, every page, a log growing live, cancel,
retry, delete, priority, pause and resume, filters and pages, users and keys, and that a user
sees only their own queues. Each page leaves a screenshot in artifacts/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Dashboard, make_key, screenshot, sign_in


def confirm(page: Page) -> None:
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    dialog.locator("#confirm-ok").click()
    expect(dialog).to_be_hidden()


def field(page: Page, name: str) -> Locator:
    """A field among "All fields" (folded: its text is there, unseen until unfolded)."""
    return page.locator(f'#fields dd[data-field="{name}"]')


def fact(page: Page, name: str) -> Locator:
    """A fact of the job's summary, at the top of its page."""
    return page.locator(f'#facts dd[data-fact="{name}"]')


def test_sign_in_refuses_a_bad_key_then_shows_every_page(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url("/"))
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.get_by_label("API key").fill("jobq_wrong_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    screenshot(page, "sign-in")

    job = dashboard.enqueue("emails", type="send", metadata={"customer": "c1"})
    dashboard.enqueue("reports", type="build")
    done = dashboard.claim("emails")
    dashboard.call("POST", f"/jobs/{done['id']}/complete", {"token": done["lease_token"]})
    sign_in(page, dashboard)
    rows = page.locator("#overview-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('#overview-table tr[data-queue="emails"] td').nth(3)).to_have_text("1")
    expect(page.locator("#count-processed .value")).to_have_text("1")
    expect(page.locator("#chart svg rect")).not_to_have_count(0)
    expect(page.locator("#chart-total")).to_contain_text("1 succeeded")
    expect(page.locator("#nav-problems")).to_be_visible()  # the server reports problems
    screenshot(page, "overview")
    page.get_by_role("link", name="Problems").click()
    expect(page.locator("#problems-table")).to_be_visible()
    expect(page.locator("#problems-missing")).to_be_hidden()
    screenshot(page, "problems")

    for name, heading in (
        ("queues", "Queues"),
        ("workers", "Workers"),
        ("admin", "Users and keys"),
    ):
        page.get_by_role("link", name=heading if name != "admin" else "Users & keys").click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.locator("tbody tr").first).to_be_visible()
        screenshot(page, name)
    expect(page.locator("#workers-table, #users-table")).to_have_count(1)

    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(2)
    screenshot(page, "jobs")
    page.get_by_role("link", name=job["id"]).click()
    page.get_by_text("All fields").click()
    expect(field(page, "metadata")).to_contain_text("c1")
    screenshot(page, "job")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(dashboard.url("/"))
    expect(rows).to_have_count(2)
    screenshot(page, "overview-phone")
    page.goto(dashboard.url(f"/jobs/{done['id']}"))
    expect(fact(page, "state")).to_have_text("succeeded")  # the job claimed and completed
    screenshot(page, "job-phone")


def test_the_log_of_a_running_job_grows_while_the_page_is_open(
    page: Page, dashboard: Dashboard
) -> None:
    job = dashboard.enqueue("work", type="long")
    claimed = dashboard.claim("work")
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    expect(fact(page, "state")).to_have_text("running")
    expect(page.locator("#log-status")).to_have_text("following")
    expect(page.locator("#log")).to_have_text("(no output yet)")
    log = page.locator("#log")
    for n in range(1, 4):
        entries = [{"text": f"line {n}.{i}"} for i in range(3)]
        dashboard.call("POST", f"/jobs/{job['id']}/logs", {"entries": entries}, 201)
        expect(log).to_contain_text(f"line {n}.2")
    expect(log.locator("span[data-seq]")).to_have_count(9)
    expect(log.locator(".attempt-mark")).to_have_text(["── attempt 1 ──"])
    progress = {"step": 3, "total": 10, "description": "copying"}
    dashboard.call(
        "POST",
        f"/jobs/{job['id']}/heartbeat",
        {"token": claimed["lease_token"], "progress": progress},
    )
    expect(page.locator("#progress")).to_contain_text("3 of 10 · copying")
    screenshot(page, "job-log-live")
    dashboard.call("POST", f"/jobs/{job['id']}/complete", {"token": claimed["lease_token"]})
    expect(page.locator("#log-status")).to_have_text("job finished")
    expect(fact(page, "state")).to_have_text("succeeded")
    expect(log.locator("span[data-seq]")).to_have_count(9)  # nothing shown twice


def test_cancel_a_running_job_only_after_the_confirm_step(page: Page, dashboard: Dashboard) -> None:
    job = dashboard.enqueue("work", type="long")
    dashboard.claim("work")
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    cancel = page.get_by_role("button", name="Cancel job")
    expect(cancel).to_be_visible()
    page.keyboard.press("Tab")  # by keyboard: the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    cancel.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-ok")).to_be_focused()
    page.keyboard.press("Escape")  # backs out without a request
    expect(page.locator("dialog#confirm")).to_be_hidden()
    cancel.click()
    page.locator("dialog#confirm").get_by_role("button", name="Go back").click()
    expect(page.locator("dialog#confirm")).to_be_hidden()
    assert dashboard.call("GET", f"/jobs/{job['id']}")["cancel_requested"] is False
    cancel.click()
    screenshot(page, "confirm-cancel")
    confirm(page)
    expect(fact(page, "state")).to_have_text("running (cancel requested)")
    expect(cancel).to_be_hidden()
    assert dashboard.call("GET", f"/jobs/{job['id']}")["cancel_requested"] is True


def test_retry_a_failed_job_then_follow_the_new_one(page: Page, dashboard: Dashboard) -> None:
    job = dashboard.enqueue("work", type="flaky", max_attempts=1)
    claimed = dashboard.claim("work")
    error = {"code": "E_DISK", "message": "disk full", "details": {"free": 0}}
    dashboard.call(
        "POST", f"/jobs/{job['id']}/fail", {"token": claimed["lease_token"], "error": error}
    )
    sign_in(page, dashboard)
    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    expect(fact(page, "state")).to_have_text("failed")
    expect(page.locator("#attempts-table tbody")).to_contain_text("disk full")
    expect(page.locator("#error-message")).to_have_text("E_DISK disk full")
    expect(page.locator("#error-details")).to_contain_text('"free": 0')
    page.get_by_role("button", name="Retry job").click()
    confirm(page)
    retried_by = None
    for _ in range(200):  # the page's POST may still be on its way
        retried_by = dashboard.call("GET", f"/jobs/{job['id']}")["retried_by"]
        if retried_by is not None:
            break
        page.wait_for_timeout(50)
    assert retried_by is not None
    expect(field(page, "retried_by")).to_have_text(retried_by)
    expect(page.get_by_role("button", name="Retry job")).to_be_hidden()
    page.get_by_text("All fields").click()
    field(page, "retried_by").get_by_role("link").click()
    expect(fact(page, "state")).to_have_text("queued")
    expect(field(page, "retry_of")).to_have_text(job["id"])

    page.locator("#act-priority input").fill("7")
    page.get_by_role("button", name="Change priority").click()
    confirm(page)
    expect(field(page, "priority")).to_have_text("7")
    assert dashboard.call("GET", f"/jobs/{retried_by}")["priority"] == 7

    page.goto(dashboard.url(f"/jobs/{job['id']}"))
    page.get_by_role("button", name="Delete job").click()
    confirm(page)
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))
    dashboard.call("GET", f"/jobs/{job['id']}", status=404)


def test_filter_the_job_list_page_through_it_and_find_by_id(
    page: Page, dashboard: Dashboard
) -> None:
    jobs = [{"queue": "a", "type": "thumb", "metadata": {"tenant": "t1"}} for _ in range(55)]
    jobs += [{"queue": "a", "type": "resize", "metadata": {"tenant": "t2"}} for _ in range(3)]
    jobs += [{"queue": "b", "type": "thumb"} for _ in range(4)]
    dashboard.call("POST", "/jobs", {"jobs": jobs}, 201)
    sign_in(page, dashboard)
    page.goto(dashboard.url("/jobs"))
    rows = page.locator("#jobs-table tbody tr")
    expect(rows).to_have_count(50)
    form = page.locator("#filters")
    form.get_by_label("Queue", exact=True).select_option("b")
    form.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(4)
    expect(page.get_by_label("Queue", exact=True)).to_have_value("b")
    form.get_by_label("Queue", exact=True).select_option("a")
    form.get_by_label("Type", exact=True).fill("resize")
    form.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    form.get_by_label("Type", exact=True).fill("")
    form.get_by_label("Metadata").fill("tenant=t1")
    form.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(50)
    screenshot(page, "jobs-filtered")
    first_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.id)"))
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(5)
    second_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.id)"))
    assert not first_page & second_page and len(second_page) == 5
    expect(page.get_by_role("link", name="Next page")).to_be_hidden()
    form.get_by_label("failed").check()
    form.get_by_role("button", name="Filter").click()
    expect(page.locator("#jobs-table tbody")).to_contain_text("No jobs match")

    target = next(iter(second_page))
    page.get_by_label("Find by id").fill(target)
    page.get_by_label("Find by id").press("Enter")
    expect(page.get_by_role("heading", name=f"Job {target}")).to_be_visible()


def test_pause_and_resume_a_queue(page: Page, dashboard: Dashboard) -> None:
    dashboard.enqueue("mail")
    sign_in(page, dashboard)
    page.goto(dashboard.url("/queues"))
    row = page.locator('#queues-table tr[data-queue="mail"]')
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="Pause queue mail").click()
    confirm(page)
    expect(row).to_contain_text("paused")
    assert dashboard.call("GET", "/queues")["queues"][0]["paused"] is True
    row.get_by_role("button", name="Resume queue mail").click()
    confirm(page)
    expect(row).to_contain_text("active")
    assert dashboard.call("GET", "/queues")["queues"][0]["paused"] is False


def test_a_paused_queue_is_a_problem_with_its_jobs_and_resume_solves_it(
    page: Page, dashboard: Dashboard
) -> None:
    jobs = [dashboard.enqueue("held", type="report") for _ in range(5)]
    dashboard.call("POST", "/queues/held/pause")
    sign_in(page, dashboard)
    expect(page.locator("#nav-problems")).to_have_text("Problems (1)")  # seen on every page
    page.get_by_role("link", name="Problems").click()
    row = page.locator('#problems-table tr[data-kind="queue_paused"]')
    expect(row.locator("th")).to_have_text("Queue paused")
    expect(row).to_contain_text("queue held is paused")
    expect(row).to_contain_text("5 jobs")
    expect(row.locator("ul li a")).to_have_count(3)  # the first few, each a link to its job
    expect(row.get_by_role("link", name=jobs[0]["id"])).to_be_visible()
    screenshot(page, "problems-paused")
    row.get_by_role("link", name="List the waiting jobs of queue held").click()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(5)
    page.go_back()
    row.get_by_role("button", name="Resume queue held").click()
    confirm(page)
    expect(page.locator("#problems-table tbody")).to_contain_text("No problems.")
    expect(page.locator("#nav-problems")).to_have_text("Problems")
    assert dashboard.call("GET", "/queues")["queues"][0]["paused"] is False


def test_admins_make_users_and_keys_and_a_user_sees_only_their_queues(
    page: Page, dashboard: Dashboard
) -> None:
    dashboard.enqueue("admins-queue")
    sign_in(page, dashboard)
    page.goto(dashboard.url("/admin"))
    page.locator("#add-user").get_by_label("Name").fill("bob")
    page.get_by_role("button", name="Create user").click()
    confirm(page)
    expect(page.locator("#users-table")).to_contain_text("bob")
    page.locator("#add-key").get_by_label("User").select_option("bob")
    page.locator("#add-key").get_by_label("Key name").fill("bob's laptop")
    page.get_by_role("button", name="Create key").click()
    confirm(page)
    shown = page.locator("#new-key-value")
    expect(shown).to_have_text(re.compile(r"^jobq_"))
    bob_key = shown.inner_text()
    screenshot(page, "admin-new-key")

    bob = page.context.browser.new_context()  # type: ignore[union-attr]
    bob_page = bob.new_page()
    bob_api = {"Authorization": f"Bearer {bob_key}"}
    assert dashboard.api.post("/jobs", json={"queue": "bobs"}, headers=bob_api).status_code == 201
    sign_in(bob_page, dashboard, bob_key)
    expect(bob_page.locator("#overview-table tbody tr")).to_have_count(1)
    expect(bob_page.locator("#overview-table tbody")).to_contain_text("bobs")
    expect(bob_page.get_by_role("link", name="Users & keys")).to_be_hidden()
    bob_page.goto(dashboard.url("/jobs"))
    expect(bob_page.locator("#jobs-table tbody tr")).to_have_count(1)

    key_id = bob_key.split("_")[1]
    page.locator(f'#keys-table tr[data-key="{key_id}"]').get_by_role("button").click()
    confirm(page)
    expect(page.locator(f'#keys-table tr[data-key="{key_id}"]')).not_to_contain_text("Revoke")
    bob_page.goto(dashboard.url("/"))  # the revoked key's session has ended
    expect(bob_page).to_have_url(re.compile(r"/ui/login$"))
    bob.close()


def test_a_key_made_by_the_cli_signs_in_a_plain_user(page: Page, dashboard: Dashboard) -> None:
    key = make_key(dashboard.db, "carol")
    sign_in(page, dashboard, key)
    expect(page.locator("#overview-table tbody")).to_contain_text("No queues yet")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
