"""The public generated Vidispine client (PyPI `vidispine`, API 5.x), unchanged, against jobq."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import vidispine
from vidispine.rest import ApiException

from tests.conftest import Server

pytestmark = pytest.mark.acceptance


def job_api(server: Server) -> vidispine.JobApi:
    conf = vidispine.Configuration()
    conf.host = f"{server.url}/API"
    conf.username, conf.password = "admin", "key"  # open loopback mode ignores them
    return vidispine.JobApi(vidispine.ApiClient(conf))


def test_every_job_api_call_of_the_client(server: Server):
    api = job_api(server)
    body = vidispine.SimpleMetadataType(field=[vidispine.StorageGroupTypeData(key="k", value="v")])
    job = api.create_custom_job("TRANSCODE", body, jobmetadata=["a=1"], priority="HIGH")
    assert job.status == "READY" and job.priority == "HIGH" and job.job_id.startswith("VX-")
    fetched = api.get_job(job.job_id, metadata=True)
    assert [(d.key, d.value) for d in fetched.data] == [("a", "1"), ("k", "v")]
    listed = api.get_jobs(user=False, number=10, state=["READY"], step=True, metadata=True)
    assert listed.hits == 1 and [j.job_id for j in listed.job] == [job.job_id]
    assert api.get_job_types().uri == ["TRANSCODE"]
    api.update_job(job.job_id, priority="LOWEST")
    assert api.get_job(job.job_id).priority == "LOWEST"
    httpx.post(f"{server.api}/queues/TRANSCODE/pause").raise_for_status()
    [problem] = api.get_all_job_problems().problem
    assert problem.type == "queue_paused" and problem.job == [job.job_id]
    assert [p.id for p in api.get_job_problems(job.job_id).problem] == [problem.id]
    api.abort_job(job.job_id, reason="not needed", cleanup=False)
    assert api.get_job(job.job_id).status == "ABORTED"
    again = api.create_duplicate_job(job.job_id, priority="IMMEDIATE")
    assert again.job_id != job.job_id and again.priority == "IMMEDIATE"
    api.delete_jobs([job.job_id])
    with pytest.raises(ApiException) as missing:
        api.get_job(job.job_id)
    assert missing.value.status == 404


def test_the_client_reads_steps_of_a_running_job(server: Server):
    api = job_api(server)
    job = api.create_custom_job("RENDER", vidispine.SimpleMetadataType(field=[]))
    claim = {"queues": ["RENDER"], "worker": {"name": "w"}}
    [held] = httpx.post(f"{server.api}/claim", json=claim).json()["jobs"]
    beat = {"token": held["lease_token"], "progress": {"step": 3, "total": 5,
                                                       "description": "mux"}}  # fmt: skip
    httpx.post(f"{server.api}/jobs/{held['id']}/heartbeat", json=beat).raise_for_status()
    running = api.get_job(job.job_id)
    assert running.status == "STARTED" and running.total_steps == 5
    assert running.current_step.number == 3 and running.current_step.description == "mux"
    assert [t.step for t in running.log.task] == [1, 2, 3]
    assert running.log.task[-1].progress.value == 60.0


def test_get_jobs_with_every_parameter_of_the_client(server: Server):
    """The client's own spelling of each GET /job parameter: lists as CSV or repeated,
    booleans as Python's `True`/`False`, timestamps as given."""
    api = job_api(server)
    empty = vidispine.SimpleMetadataType(field=[])
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()  # "+00:00", sent as %2B
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    low = api.create_custom_job("EXPORT", empty, jobmetadata=["n=0"], priority="LOW")
    high = api.create_custom_job("INGEST", empty, jobmetadata=["n=1"], priority="HIGH")
    top = api.create_custom_job("INGEST", empty, jobmetadata=["n=2"], priority="HIGHEST")
    claim = {"queues": ["INGEST"], "worker": {"name": "w"}}
    [held] = httpx.post(f"{server.api}/claim", json=claim).json()["jobs"]
    done = {"token": held["lease_token"], "result": None}
    httpx.post(f"{server.api}/jobs/{held['id']}/complete", json=done).raise_for_status()

    found = api.get_jobs(
        jobmetadata=["n=2"], field=["n"], starttime_from=since, starttime_to=until, user=False,
        first=1, number=5, type=["INGEST"], step=True, idonly=False, state=["FINISHED"],
        sort="priority desc, jobId asc", metadata=True, finishtime_from=since,
        finishtime_to=until,
    )  # fmt: skip
    assert found.hits == 1 and [j.job_id for j in found.job] == [top.job_id]
    assert [(d.key, d.value) for d in found.job[0].data] == [("n", "2")]
    second = api.get_jobs(type=["all"], state=["all"], sort="priority desc", first=2, number=1)
    assert second.hits == 3 and [j.job_id for j in second.job] == [high.job_id]
    ids = api.get_jobs(idonly=True, sort="jobId asc", user=True)
    assert [j.job_id for j in ids.job] == [low.job_id, high.job_id, top.job_id]
    nothing = api.get_jobs(state=["FAILED_TOTAL", "ABORTED"], metadata=False, step=False)
    assert (nothing.hits, nothing.job) == (0, [])
