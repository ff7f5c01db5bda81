"""The Vidispine JobApi over real HTTP against a real `jobq serve` process."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
NS = "{http://xml.vidispine.com/schema/vidispine}"
JSON = {"accept": "application/json"}
WORKER = {"name": "w1", "host": "h", "pid": 1}


def test_create_in_xml_run_abort_and_confirm(server: Server):
    api = f"{server.url}/API"
    body = (
        '<SimpleMetadataDocument xmlns="http://xml.vidispine.com/schema/vidispine">'
        "<field><key>file</key><value>a.mov</value></field></SimpleMetadataDocument>"
    )
    headers = {"accept": "application/xml", "content-type": "application/xml"}
    r = httpx.post(f"{api}/job", params={"type": "TRANSCODE"}, content=body, headers=headers)
    assert r.status_code == 200, r.text
    job_id = ET.fromstring(r.content).findtext(f"{NS}jobId")
    assert job_id
    claim = {"queues": ["TRANSCODE"], "worker": WORKER}
    [held] = httpx.post(f"{server.api}/claim", json=claim).json()["jobs"]
    assert job_id == f"VX-{held['seq']}" and held["metadata"] == {"file": "a.mov"}
    beat = {"token": held["lease_token"], "progress": {"step": 1, "total": 3,
                                                       "description": "probe"}}  # fmt: skip
    httpx.post(f"{server.api}/jobs/{held['id']}/heartbeat", json=beat).raise_for_status()
    doc = httpx.get(f"{api}/job/{job_id}", headers=JSON).json()
    assert doc["status"] == "STARTED" and doc["currentStep"]["description"] == "probe"
    assert httpx.delete(f"{api}/job/{job_id}", params={"reason": "user"}).status_code == 200
    assert httpx.get(f"{api}/job/{job_id}", headers={"accept": "text/plain"}).text == (
        "ABORTED_PENDING"
    )
    stop = {"token": held["lease_token"], "error": {"message": "stopped"}}
    httpx.post(f"{server.api}/jobs/{held['id']}/fail", json=stop).raise_for_status()
    assert httpx.get(f"{api}/job/{job_id}", headers=JSON).json()["status"] == "ABORTED"
    ids = httpx.get(f"{api}/job", params={"state": "ABORTED"}, headers={"accept": "text/plain"})
    assert ids.text == f"{job_id}\r\n"


def test_problems_and_errors_over_the_wire(server: Server):
    api = f"{server.url}/API"
    job_id = httpx.post(f"{api}/job?type=IMPORT", headers=JSON).json()["jobId"]
    httpx.post(f"{server.api}/queues/IMPORT/pause").raise_for_status()
    [problem] = httpx.get(f"{api}/job/problem", headers=JSON).json()["problem"]
    assert problem["type"] == "queue_paused" and problem["job"] == [job_id]
    assert httpx.get(f"{api}/job/{job_id}", headers=JSON).json()["status"] == "HOLD"
    native = httpx.get(f"{server.api}/problems").json()["problems"]
    assert [p["id"] for p in native] == [
        d["value"] for d in problem["data"] if d["key"] == "problem"
    ]
    httpx.post(f"{server.api}/queues/IMPORT/resume").raise_for_status()
    assert httpx.get(f"{api}/job/problem", headers=JSON).json() == {"problem": []}
    missing = httpx.get(f"{api}/job/VX-0", headers={"accept": "application/xml"})
    assert missing.status_code == 404
    assert ET.fromstring(missing.content).find(f"{NS}notFound/{NS}id") is not None
    bad = httpx.get(f"{api}/job", params={"number": "-1"}, headers=JSON)
    assert bad.status_code == 400 and bad.json()["invalidInput"]["context"] == "number"
    types = httpx.get(f"{api}/jobtype", headers={"accept": "text/plain"})
    assert types.text == "IMPORT\r\n"
