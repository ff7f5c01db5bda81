"""A job's log has a size limit (cut and marked once, on every store), and every log download
is streamed in pages of bounded size, whatever the log's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobq import loglimit
from jobq.engine import Defaults, Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from tests.authkit import running_app
from tests.streamkit import RawCall

LIMIT = 1000


@pytest.fixture
def limited(store: Store) -> Engine:
    return Engine(store, Notifier(), Defaults(max_log_bytes=LIMIT))


async def a_job(engine: Engine, queue: str = "q") -> str:
    [(job, _)] = await engine.enqueue([JobSpec(queue=queue)])
    return job.id


def lines(*texts: str) -> list[tuple[float | None, str, str]]:
    return [(None, "stdout", t) for t in texts]


async def test_the_limit_cuts_the_crossing_entry_and_marks_the_cut_once(limited):
    job_id = await a_job(limited)
    assert await limited.append_logs(job_id, lines("a" * 300, "b" * 300)) == 2
    assert await limited.append_logs(job_id, lines("c" * 300, "d" * 300, "e")) == 5
    assert await limited.append_logs(job_id, lines("f" * 10)) == 5  # full: nothing stored
    entries = await limited.logs(job_id)
    kept = [e.text for e in entries if e.stream == "stdout"]
    assert kept == ["a" * 300, "b" * 300, "c" * 300, "d" * 100]
    marks = [e for e in entries if e.stream == "system"]
    assert len(marks) == 1 and f"limit of {LIMIT} bytes" in marks[0].text
    assert entries[-1] is marks[0]  # the mark says where the cut is


async def test_the_limit_counts_bytes_and_never_splits_a_character(limited):
    job_id = await a_job(limited)
    await limited.append_logs(job_id, lines("x" * 999, "é"))  # é is two bytes: it cannot fit
    kept = [e.text for e in await limited.logs(job_id) if e.stream == "stdout"]
    assert kept == ["x" * 999]


async def test_appends_from_many_calls_share_one_count(limited):
    job_id = await a_job(limited)
    for _ in range(30):
        await limited.append_logs(job_id, lines("y" * 100))
    entries = await limited.logs(job_id)
    assert sum(len(e.text) for e in entries if e.stream == "stdout") == LIMIT
    assert [e.stream for e in entries].count("system") == 1


async def test_no_limit_keeps_everything(store):
    engine = Engine(store, Notifier(), Defaults(max_log_bytes=None))
    job_id = await a_job(engine)
    await engine.append_logs(job_id, lines("z" * 5000))
    assert [len(e.text) for e in await engine.logs(job_id)] == [5000]


async def test_a_page_holds_at_most_its_size_or_one_entry(store):
    engine = Engine(store, Notifier(), Defaults(max_log_bytes=None))
    job_id = await a_job(engine)
    await engine.append_logs(job_id, lines("a" * 400, "b" * 400, "c" * 400, "d" * 5000, "e"))
    pages = []
    after = 0
    while page := await store.logs(job_id, after, None, 100, 1000):
        pages.append([len(e.text) for e in page])
        after = page[-1].seq
    assert pages == [[400, 400], [400], [5000], [1]]


async def test_log_pages_reads_the_whole_log_a_page_at_a_time(store, monkeypatch):
    monkeypatch.setattr(loglimit, "PAGE_CHARS", 1000)
    engine = Engine(store, Notifier(), Defaults(max_log_bytes=None))
    job_id = await a_job(engine)
    await engine.append_logs(job_id, lines(*(f"{i:03d}" * 100 for i in range(10))))
    pages = [page async for page in engine.log_pages(job_id)]
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [e.seq for p in pages for e in p] == list(range(1, 11))


# --- downloads: streamed in pages, on every interface ---

MB = 1_000_000


async def big_log(engine: Engine, queue: str, entries: int = 8) -> str:
    """A job with `entries` log entries of 1 MB each; finished (Titan 0.3 wants that)."""
    job_id = await a_job(engine, queue)
    for i in range(entries):
        await engine.append_logs(job_id, lines(chr(ord("a") + i) * (MB - 1) + "\n"))
    await engine.cancel(job_id, "done")
    return job_id


def download_urls(job_id: str) -> dict[str, str]:
    return {
        "native": f"/api/v1/jobs/{job_id}/log.txt",
        "titan-0.2": f"/titan-0.2/v1/job/{job_id}/log",
        "titan-0.3": f"/titan-0.3/v1/groups/big-logs/jobs/{job_id}/log",
        "connect": f"/__api__/v1/content/big-logs/jobs/{job_id}/download",
    }


@pytest.mark.parametrize("interface", ["native", "titan-0.2", "titan-0.3", "connect"])
async def test_a_big_log_is_downloaded_in_pages(tmp_path: Path, interface: str):
    """8 MB of log leave the server in chunks of about a page each (a body built whole in
    memory leaves as one chunk)."""
    async with running_app(tmp_path) as (app, _):
        job_id = await big_log(app.state.engine, "big-logs")
        call = RawCall(app, "GET", download_urls(job_id)[interface], {}).start()
        try:
            assert await call.finished(60)
            assert call.status == 200 and call.ended
            assert len(call.body) >= 8 * MB
            assert len(call.chunks) >= 8
            assert max(len(c) for c in call.chunks) <= loglimit.PAGE_CHARS + 4096
        finally:
            await call.close()


async def test_a_download_of_a_missing_job_is_still_a_404(tmp_path: Path):
    async with running_app(tmp_path) as (_, client):
        for url in download_urls("0190a0a0-0000-7000-8000-000000000000").values():
            r = await client.get(url)
            assert r.status_code == 404, url


# --- the limit through the interfaces that append ---


async def test_the_limit_holds_for_native_appends(tmp_path: Path):
    async with running_app(tmp_path, defaults=Defaults(max_log_bytes=LIMIT)) as (app, client):
        job_id = await a_job(app.state.engine)
        url = f"/api/v1/jobs/{job_id}/logs"
        for _ in range(3):
            r = await client.post(url, json={"entries": [{"text": "n" * 600}]})
            assert r.status_code == 201, r.text
        text = (await client.get(f"/api/v1/jobs/{job_id}/log.txt")).text
        assert text.count("n") == LIMIT and text.count(f"limit of {LIMIT} bytes") == 1


async def test_the_limit_holds_for_a_titan_upload(tmp_path: Path):
    async with running_app(tmp_path, defaults=Defaults(max_log_bytes=LIMIT)) as (app, client):
        engine: Engine = app.state.engine
        job_id = await a_job(engine, "g")
        await engine.claim(ClaimSpec(["g"], None, 1, None, Worker("w")))
        upload = ("line of the log\n" * 400).encode()  # 6400 bytes
        r = await client.post(
            f"/titan-0.3/v1/groups/g/jobs/{job_id}/log", files={"log": ("log.txt", upload)}
        )
        assert r.status_code == 201, r.text
        entries = await engine.logs(job_id)
        assert sum(len(e.text) for e in entries if e.stream == "stdout") == LIMIT
        assert [e.stream for e in entries].count("system") == 1


async def test_a_titan_upload_reads_back_as_it_was(tmp_path: Path, monkeypatch):
    """An upload is stored a piece at a time, cut at line ends: the download is the file."""
    from jobq.api.dialects.titan import shared as titan_common

    monkeypatch.setattr(titan_common, "UPLOAD_PIECE", 100)
    async with running_app(tmp_path) as (app, client):
        engine: Engine = app.state.engine
        job_id = await a_job(engine, "g")
        await engine.claim(ClaimSpec(["g"], None, 1, None, Worker("w")))
        upload = "".join(f"line {i} {'x' * (i % 37)}\n" for i in range(200)) + "no newline"
        r = await client.post(
            f"/titan-0.3/v1/groups/g/jobs/{job_id}/log", files={"log": ("l", upload.encode())}
        )
        assert r.status_code == 201, r.text
        assert len(await engine.logs(job_id)) > 10
        assert (await client.get(f"/titan-0.2/v1/job/{job_id}/log")).text == upload


def test_the_cli_names_the_setting():
    from typer.testing import CliRunner

    from jobq.cli import app

    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--max-log-bytes" in out and "JOBQ_MAX_LOG_BYTES" in out
