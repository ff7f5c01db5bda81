"""Connect's shapes made from jobs: pure translation, no server."""

from __future__ import annotations

from jobq.api.dialects.connect import shapes as shape
from jobq.model import Job, LogEntry, Worker
from jobq.states import State

T0 = 1_700_000_000.0


def job(**fields: object) -> Job:
    base: dict[str, object] = {"id": "0190a0a0-0000-7000-8000-000000000001", "queue": "c1",
                               "type": "run_app", "seq": 41, "created_at": T0}  # fmt: skip
    return Job(**{**base, **fields})  # type: ignore[arg-type]


def test_status_is_active_then_finished_then_finalized_when_the_log_closes():
    running = job(state=State.running, started_at=T0)
    assert shape.status(running, T0 + 999) == shape.ACTIVE
    done = job(state=State.succeeded, finished_at=T0)
    assert shape.status(done, T0) == shape.FINISHED
    assert shape.status(done, T0 + shape.LOG_CLOSE_SECONDS - 0.01) == shape.FINISHED
    assert shape.status(done, T0 + shape.LOG_CLOSE_SECONDS) == shape.FINALIZED
    assert shape.finalized_at(done) == T0 + shape.LOG_CLOSE_SECONDS
    assert shape.finalized_at(running) is None


def test_exit_code_only_once_finished_and_zero_for_a_silent_success():
    assert shape.exit_code(job(state=State.running, exit_code=5)) is None
    assert shape.exit_code(job(state=State.succeeded)) == 0
    assert shape.exit_code(job(state=State.failed, exit_code=2)) == 2
    assert shape.exit_code(job(state=State.cancelled)) is None


def test_job_item_maps_ids_worker_and_queue_fields():
    item = shape.job_item(job(state=State.running, started_at=T0,
                              worker=Worker("w", "node-3", 77)), T0)  # fmt: skip
    assert (item["id"], item["tag"]) == ("41", "run_app")
    assert item["key"] == "0190a0a0-0000-7000-8000-000000000001"
    assert (item["pid"], item["hostname"], item["ppid"]) == ("77", "node-3", None)
    assert item["last_heartbeat_time"] == item["start_time"] == "2023-11-14T22:13:20.000Z"
    assert item["queue_name"] is None and item["queued_time"] is None
    waiting = shape.job_item(job(), T0)
    assert waiting["queue_name"] == "c1" and waiting["queued_time"] == "2023-11-14T22:13:20.000Z"
    assert waiting["pid"] is None and waiting["start_time"] is None


def test_content_id_is_stable_and_fits_31_bits():
    assert shape.content_id("c1") == shape.content_id("c1") != shape.content_id("c2")
    assert 0 <= shape.content_id("x" * 200) < 2**31


def test_default_filename_follows_the_documented_pattern():
    j = job(type="reports/render", metadata={"bundle_id": "5", "variant_id": "2"})
    name = shape.default_filename(j)
    assert name == f"rstudio-connect.{shape.content_id('c1')}.2.5.reports_render.{j.id}.log"


def test_log_entries_have_two_sources_and_logged_errors_their_summary():
    assert shape.log_entry(LogEntry(1, T0, "system", "note")) == {
        "source": "stderr", "timestamp": "2023-11-14T22:13:20.000Z", "data": "note"}  # fmt: skip
    assert shape.log_line(LogEntry(2, T0, "stdout", "hi\n")).endswith(" [stdout] hi\n")
    assert shape.logged_error(job()) is None
    err = {"code": "oom", "message": "killed", "details": {"help_url": "https://x/oom"}}
    assert shape.logged_error(job(error=err)) == {
        "code": "oom", "summary": "killed", "help_url": "https://x/oom"}  # fmt: skip


def test_guid_key_and_filename_patterns():
    assert shape.GUID.match("weekly-report.v2") and not shape.GUID.match("a b")
    assert shape.KEY.match("0190A0A0-0000-7000-8000-000000000001")
    assert not shape.KEY.match("0190a0a0")
    assert shape.FILENAME.match("my log.txt") and not shape.FILENAME.match("a/b")
