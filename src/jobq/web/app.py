"""The dashboard's routes: one shell per page, filled in the browser from the native API."""

from __future__ import annotations

import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from jobq.auth.model import Principal
from jobq.web.session import CSRF, LIFETIME, session_principal

PAGES = {  # path -> (template, title)
    "/": ("overview", "Overview"),
    "/queues": ("queues", "Queues"),
    "/jobs": ("jobs", "Jobs"),
    "/workers": ("workers", "Workers"),
    "/problems": ("problems", "Problems"),
    "/admin": ("admin", "Users and keys"),
}


@dataclass(slots=True)
class Dashboard:
    """What the dashboard's routes need: where it and the API are mounted, its templates."""

    root: str = "/ui"
    api: str = "/api/v1"
    templates: dict[str, Template] = field(default_factory=dict)

    def template(self, name: str) -> Template:
        if name not in self.templates:
            text = resources.files("jobq.web").joinpath(f"templates/{name}.html").read_text()
            self.templates[name] = Template(text)
        return self.templates[name]


def mount(app: FastAPI, root: str = "/ui", api: str = "/api/v1") -> None:
    """Serve the dashboard under `root`, its pages calling the native API at `api`."""
    app.state.dashboard = Dashboard(root, api)
    static = resources.files("jobq.web").joinpath("static")
    app.mount(f"{root}/static", StaticFiles(directory=str(static)), name="dashboard-static")
    app.include_router(router(), prefix=root, tags=["dashboard"], include_in_schema=False)


def router() -> APIRouter:
    pages = APIRouter()
    for path, (name, title) in PAGES.items():
        pages.add_api_route(path, _page_route(name, title), methods=["GET"])
    pages.add_api_route("/jobs/{job_id}", job_page, methods=["GET"])
    pages.add_api_route("/find", find_job, methods=["GET"])
    return pages


def _page_route(name: str, title: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        return await render(request, name, title)

    page.__name__ = f"{name}_page"
    return page


async def job_page(request: Request, job_id: str) -> Response:
    return await render(request, "job", f"Job {job_id}", job_id=job_id)


async def find_job(request: Request, id: str = "") -> Response:
    """The "find by id" form: straight to the job's page."""
    root = dashboard_of(request).root
    wanted = id.strip()
    if not wanted:
        return RedirectResponse(f"{root}/jobs", status_code=303)
    return RedirectResponse(f"{root}/jobs/{quote(wanted, safe='')}", status_code=303)


def dashboard_of(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


async def render(request: Request, name: str, title: str, job_id: str = "") -> Response:
    """The page `name` in the shell, or the sign-in page for someone not signed in."""
    dashboard = dashboard_of(request)
    principal = await session_principal(request)
    if principal is None:
        return RedirectResponse(f"{dashboard.root}/login", status_code=303)
    token = request.cookies.get(CSRF) or secrets.token_urlsafe(24)
    content = dashboard.template(name).safe_substitute(job_id=html.escape(job_id))
    body = dashboard.template("shell").substitute(
        title=html.escape(title),
        heading=_heading(title, job_id),
        page=name,
        content=content,
        csrf=html.escape(token),
        root=dashboard.root,
        api=dashboard.api,
        admin=_flag(principal.admin),
        open=_flag(principal.open),
        admin_link=_admin_link(dashboard, principal),
        who=_who(dashboard, principal, token),
        job_id=html.escape(job_id),
    )
    response = HTMLResponse(body, headers={"Cache-Control": "no-store"})
    if CSRF not in request.cookies:
        response.set_cookie(
            CSRF,
            token,
            max_age=LIFETIME,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _heading(title: str, job_id: str) -> str:
    if not job_id:
        return html.escape(title)
    return f'Job <code class="job-id">{html.escape(job_id)}</code>'


def _admin_link(dashboard: Dashboard, principal: Principal) -> str:
    """The menu's Users & keys: for administrators, and not in the open mode (no users: there
    is nobody to manage, and `jobq users add` makes the first one)."""
    if principal.open or not principal.admin:
        return ""
    return f'<li><a href="{dashboard.root}/admin" data-nav="admin">Users &amp; keys</a></li>'


def _who(dashboard: Dashboard, principal: Principal, token: str) -> str:
    """Who is signed in, and Sign out; in the open mode, a word on what that means."""
    if principal.open:
        return (
            '<p class="who open-mode" title="Nobody signs in until the first user is made '
            '(jobq users add NAME --admin); until then only this machine is served.">'
            "Open mode: no users yet</p>"
        )
    user = f"{principal.user}{' (admin)' if principal.admin else ''}"
    return (
        f'<form class="who" method="post" action="{dashboard.root}/logout">'
        f"<span>{html.escape(user)}</span>"
        f'<input type="hidden" name="csrf" value="{html.escape(token)}">'
        '<button type="submit" class="quiet">Sign out</button></form>'
    )
