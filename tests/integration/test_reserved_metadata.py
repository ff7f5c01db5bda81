"""Reserved metadata (`jobq.` keys) is checked at intake on every interface that takes
metadata, and refused in the interface's own error shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.authkit import running_app

BAD = [
    {"jobq.respawn.delay": "nan"},
    {"jobq.respawn.delay": "inf"},
    {"jobq.respawn.delay": "1e308"},
    {"jobq.respawn.delay": "-1"},
    {"jobq.respawn.remaining": "1e3"},
    {"jobq.respawn.remaining": "99999"},
    {"jobq.respawn.remaining": "-1"},
    {"jobq.unknown": "1"},
]


@pytest.mark.parametrize("metadata", BAD, ids=lambda m: "=".join(next(iter(m.items()))))
async def test_bad_reserved_metadata_is_refused_on_every_route(
    tmp_path: Path, metadata: dict[str, str]
) -> None:
    async with running_app(tmp_path) as (_, client):
        r = await client.post("/api/v1/jobs", json={"queue": "q", "metadata": metadata})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
        r = await client.post("/api/v1/jobs", json={"jobs": [{"metadata": metadata}]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
        r = await client.post("/api/v1/jobs", json={"queue": "q"})
        job_id = r.json()["id"]
        r = await client.patch(f"/api/v1/jobs/{job_id}", json={"metadata": metadata})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
        [(key, value)] = metadata.items()
        r = await client.post("/API/job", params={"type": "t", "jobmetadata": f"{key}={value}"})
        assert r.status_code == 400, r.text
        assert "<invalidInput>" in r.text and "jobq." in r.text, r.text
        assert (await client.get("/api/v1/jobs")).json()["jobs"][0]["metadata"] == {}


async def test_good_reserved_metadata_is_taken(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        metadata = {"jobq.respawn.remaining": "2", "jobq.respawn.delay": "1.5"}
        r = await client.post("/api/v1/jobs", json={"queue": "q", "metadata": metadata})
        assert r.status_code == 201 and r.json()["metadata"] == metadata, r.text
