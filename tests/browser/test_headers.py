"""The dashboard and /docs work under their Content-Security-Policy (no inline scripts, no
CDN), and a signed-out session's cookie stops working (issue 26, findings 17 and 23)."""

from __future__ import annotations

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.conftest import Dashboard, sign_in


def test_every_page_and_the_api_docs_run_under_the_policy(page: Page, dashboard: Dashboard) -> None:
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            refused.append(message.text)

    page.on("console", note)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(dashboard.server.url) else
            outside.append(r.url))  # fmt: skip
    dashboard.enqueue("q")
    sign_in(page, dashboard)
    for path in ("/", "/queues", "/jobs", "/workers", "/problems", "/admin"):
        response = page.goto(dashboard.url(path))
        assert response is not None and "frame-ancestors 'none'" in response.headers[
            "content-security-policy"]  # fmt: skip
        expect(page.locator("main")).to_be_visible()
    page.goto(f"{dashboard.server.url}/docs")  # the dashboard's session opens the docs
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("jobq")
    expect(page.locator(".opblock").first).to_be_visible()
    assert refused == [] and outside == []


def test_signing_out_ends_the_session_on_the_server(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "jobq_session"]
    copied = {"jobq_session": cookie["value"]}
    me = httpx.get(f"{dashboard.server.url}/ui/session", cookies=copied)
    assert me.status_code == 200 and me.json()["user"] == "alice"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert httpx.get(f"{dashboard.server.url}/ui/session", cookies=copied).status_code == 401
    r = httpx.get(f"{dashboard.server.api}/queues", cookies=copied)
    assert r.status_code == 401
