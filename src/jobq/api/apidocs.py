"""The API documentation pages: Swagger UI served from this server, behind a key.

Swagger UI's files come from the `fastapi-swagger` package (served at /docs/assets), never
from a CDN, so /docs works offline and under a Content-Security-Policy that allows scripts
from this origin only; the page's one script of jobq's own (`swagger-init.js`) is a file of
the dashboard's static folder, not an inline script. With users, /docs and /openapi.json
need a key (`Authorization: Bearer`) or the dashboard's session, like the native API; a
browser that has neither is sent to the sign-in page. Each dialect's PREFIX/docs uses the
same page (api/dialects/docs.py).
"""

from __future__ import annotations

import html
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from jobq.api.http import security
from jobq.api.http.responses import json
from jobq.errors import Unauthorized
from jobq.web import session_auth

ASSETS = "/docs/assets"


def swagger_page(openapi_url: str, title: str, static: str = "/ui/static") -> HTMLResponse:
    """A Swagger UI page for the document at `openapi_url`."""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<link rel='stylesheet' href='{ASSETS}/swagger-ui.css'>"
        f"<link rel='icon' href='{ASSETS}/favicon-32x32.png'></head><body>"
        f"<div id='swagger-ui' data-openapi-url='{html.escape(openapi_url)}'></div>"
        f"<script src='{ASSETS}/swagger-ui-bundle.js'></script>"
        f"<script src='{html.escape(static)}/swagger-init.js'></script></body></html>"
    )
    return HTMLResponse(body)


def mount(app: FastAPI, ui_root: str = "/ui") -> None:
    """Serve /docs, /openapi.json and Swagger UI's files on `app`."""
    assets = resources.files("fastapi_swagger").joinpath("resources")
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="swagger-assets")
    check = session_auth.authenticate(security.BEARER)

    async def openapi(request: Request) -> Response:
        await check(request)
        return json(request.app.openapi())

    async def docs(request: Request) -> Response:
        try:
            await check(request)
        except Unauthorized:
            return RedirectResponse(f"{ui_root}/login", status_code=303)
        return swagger_page("/openapi.json", f"{app.title}: API", f"{ui_root}/static")

    app.add_api_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
