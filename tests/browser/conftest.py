"""Browser tests: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against
a real `jobq serve` subprocess with a user and key made by the `jobq` CLI. Screenshots of every
page go to artifacts/screenshots/ (kept by CI as test artifacts)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 20_000  # generous: a loaded 2-core machine runs other suites at the same time

expect.set_options(timeout=WAIT_MS)


def jobq_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobq", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def make_key(db: str, user: str, admin: bool = False) -> str:
    """A user made with `jobq users add` and a key from `jobq keys create`."""
    jobq_cli("users", "add", user, *(["--admin"] if admin else []), "--db", db)
    made = json.loads(jobq_cli("keys", "create", user, "--name", "browser", "--db", db, "--json"))
    return str(made["key"])


@dataclass
class Dashboard:
    """A served jobq with an administrator, and an API client holding their key."""

    server: Server
    key: str
    db: str
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(
            base_url=self.server.api, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.api.request(method, path, json=body)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    def enqueue(self, queue: str, **fields: Any) -> dict[str, Any]:
        job: dict[str, Any] = self.call("POST", "/jobs", {"queue": queue, **fields}, 201)
        return job

    def claim(self, queue: str, worker: str = "browser-worker") -> dict[str, Any]:
        body = {"queues": [queue], "worker": {"name": worker, "host": "test", "pid": 7}}
        jobs: list[dict[str, Any]] = self.call("POST", "/claim", body)["jobs"]
        assert len(jobs) == 1
        return jobs[0]

    def url(self, path: str) -> str:
        return f"{self.server.url}/ui{path}"


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    db = f"sqlite:///{tmp_path / 'jobq.db'}"
    key = make_key(db, "alice", admin=True)
    server = Server(db).start()
    board = Dashboard(server, key, db)
    yield board
    board.api.close()
    server.stop()


@pytest.fixture
def open_dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    """A served jobq with no users (the open mode, loopback only): no key needed."""
    db = f"sqlite:///{tmp_path / 'jobq.db'}"
    server = Server(db).start()
    board = Dashboard(server, "", db)
    board.api.headers.pop("Authorization")
    yield board
    board.api.close()
    server.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop tab (1440 x 900) in the light scheme."""
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    yield tab
    context.close()


@pytest.fixture
def tabs(browser: Browser) -> Iterator[Callable[..., Page]]:
    """More tabs, each in a context of its own: `tabs(viewport=PHONE, color_scheme="dark")`."""
    contexts: list[BrowserContext] = []

    def open_tab(viewport: dict[str, int] = DESKTOP, color_scheme: str = "light") -> Page:
        context = browser.new_context(viewport=viewport, color_scheme=color_scheme)  # type: ignore[arg-type]
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(WAIT_MS)
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def sign_in(page: Page, board: Dashboard, key: str | None = None) -> None:
    page.goto(board.url("/login"))
    page.get_by_label("API key").fill(key or board.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """The whole page as artifacts/screenshots/NAME.png (NAME says the viewport and scheme
    when they are not the desktop's light one)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def page_height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))
