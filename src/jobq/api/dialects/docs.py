"""Each dialect's own OpenAPI document and Swagger page, at PREFIX/openapi.json and PREFIX/docs.

The document is built from the dialect's router alone, with the mount prefix as its server URL,
so a generated client for that dialect needs only the base URL it already uses. Each
operation's security requirement (the Authorize button) is copied from the app's own document,
where the app's authentication dependency declares it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

from jobq.api.apidocs import swagger_page
from jobq.api.http.responses import json


def add_docs(router: APIRouter, title: str, version: str, description: str) -> None:
    """Serve `router`'s own OpenAPI document and docs page under its mount prefix."""
    documents: dict[str, dict[str, Any]] = {}

    def document(request: Request, prefix: str) -> dict[str, Any]:
        if prefix not in documents:
            doc = get_openapi(
                title=title, version=version, description=description, routes=router.routes
            )
            doc["servers"] = [{"url": prefix or "/"}]
            add_security(doc, request.app.openapi(), prefix)
            documents[prefix] = doc
        return documents[prefix]

    async def openapi(request: Request) -> Response:
        return json(document(request, mount_of(request, "/openapi.json")))

    async def docs(request: Request) -> HTMLResponse:
        at = request.url.path.removesuffix("/docs")
        return swagger_page(f"{at}/openapi.json", f"jobq: {title}")

    router.add_api_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    router.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


def mount_of(request: Request, suffix: str) -> str:
    """The mount prefix of the interface whose documentation this request asks for (a
    dialect at the root serves it under /NAME: jobq.api.app.docs_at)."""
    at = request.url.path.removesuffix(suffix)
    mounts: dict[str, str] = getattr(request.app.state, "docs_mounts", {})
    return mounts.get(at, at)


def add_security(doc: dict[str, Any], app_doc: dict[str, Any], prefix: str) -> None:
    """Copy the app document's security requirements of these operations, and the schemes."""
    used = False
    for path, operations in doc.get("paths", {}).items():
        mounted = app_doc.get("paths", {}).get(prefix + path, {})
        for method, operation in operations.items():
            security = mounted.get(method, {}).get("security")
            if security:
                operation["security"] = security
                used = True
    schemes = app_doc.get("components", {}).get("securitySchemes")
    if used and schemes:
        doc.setdefault("components", {})["securitySchemes"] = schemes
