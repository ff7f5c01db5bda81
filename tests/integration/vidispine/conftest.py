"""An in-process jobq app (with its lifespan) and helpers to speak Vidispine to it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobq.api.app import create_app
from jobq.config import Config
from jobq.engine import Engine
from jobq.model import Job

NS = "http://xml.vidispine.com/schema/vidispine"
JSON = {"accept": "application/json"}
XML = {"accept": "application/xml"}
TEXT = {"accept": "text/plain"}
WORKER = {"name": "w1", "host": "h", "pid": 7}


class Api:
    """A client of one app: Vidispine at /API, the native API for playing the worker."""

    def __init__(self, client: httpx.AsyncClient, engine: Engine) -> None:
        self.c = client
        self.engine = engine

    async def create(self, type: str = "TRANSCODE", **params: Any) -> dict[str, Any]:
        r = await self.c.post("/API/job", params={"type": type, **params}, headers=JSON)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def job(self, job_id: str, **params: Any) -> dict[str, Any]:
        r = await self.c.get(f"/API/job/{job_id}", params=params, headers=JSON)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def stored(self, wire_id: str) -> Job:
        """The jobq job behind a Vidispine id."""
        job = await self.engine.lookup(wire_id)
        assert job is not None, wire_id
        return job

    async def claim(self, queue: str = "TRANSCODE") -> dict[str, Any]:
        r = await self.c.post("/api/v1/claim", json={"queues": [queue], "worker": WORKER})
        assert r.status_code == 200, r.text
        return dict(r.json()["jobs"][0])

    async def native(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.c.request(method, f"/api/v1{path}", **kw)


@pytest.fixture
async def api(store_url: str) -> AsyncIterator[Api]:
    app = create_app(Config(db=store_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield Api(client, app.state.engine)


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("application/xml"), response.text
    root = ET.fromstring(response.content)
    assert root.tag.startswith("{" + NS + "}"), root.tag
    return root


def find(element: ET.Element, path: str) -> str | None:
    """Text at a slash path of local names, e.g. `notFound/id`."""
    node: ET.Element | None = element
    for name in path.split("/"):
        node = None if node is None else node.find(f"{{{NS}}}{name}")
    return None if node is None else node.text


def findall(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall("/".join(f"{{{NS}}}{name}" for name in path.split("/")))


def assert_error(response: httpx.Response, status: int, kind: str, media: str) -> None:
    """An error in Vidispine's shape for the content type asked for."""
    assert response.status_code == status, response.text
    if media == "json":
        assert kind in response.json(), response.text
    elif media == "xml":
        root = xml(response)
        assert root.tag == f"{{{NS}}}ErrorDocument"
        assert root.find(f"{{{NS}}}{kind}") is not None, response.text
    else:
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text.endswith("\r\n") and len(response.text) > 2


HEADERS = {"json": JSON, "xml": XML, "text": TEXT}
