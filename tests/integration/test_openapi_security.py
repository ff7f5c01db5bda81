"""OpenAPI declares how each interface takes a key, so /docs shows an Authorize button."""

from __future__ import annotations

from pathlib import Path

from jobq.api import app as app_module
from tests.authkit import running_app

NAMED = {"native": "bearer", "titan-0.2": "bearer", "titan-0.3": "bearer", "accepted": "bearer",
         "connect": "connectKey", "vidispine": "basic"}  # fmt: skip
SCHEME_OF = {f"{i.default_prefix}/": NAMED[i.name] for i in app_module.interfaces()}


async def test_every_interface_route_requires_its_scheme_in_openapi(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        doc = (await client.get("/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert schemes["connectKey"] == {**schemes["connectKey"], "type": "apiKey",
                                     "in": "header", "name": "Authorization"}  # fmt: skip
    checked = 0
    for path, operations in doc["paths"].items():
        prefix = next((p for p in SCHEME_OF if path.startswith(p)), None)
        for method, operation in operations.items():
            wanted = [{SCHEME_OF[prefix]: []}] if prefix else None
            assert operation.get("security") == wanted, (method, path)
            assert all(p["name"] != "_" for p in operation.get("parameters", [])), path
            checked += 1
    assert checked > 60


async def test_each_dialects_own_document_declares_bearer(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        for prefix in ("/titan-0.2/v1", "/titan-0.3/v1", "/accepted"):
            doc = (await client.get(f"{prefix}/openapi.json")).json()
            assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
            operations = [op for ops in doc["paths"].values() for op in ops.values()]
            assert operations and all(op["security"] == [{"bearer": []}] for op in operations)
            assert "swagger" in (await client.get(f"{prefix}/docs")).text.lower()
