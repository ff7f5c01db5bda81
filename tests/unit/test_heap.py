"""`jobq serve` and `jobq worker` freeze what they made while starting (jobq.heap) before
they serve: a full garbage collection then skips the app's startup objects; and they collect
the youngest generation less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobq import server
from jobq.config import Config
from jobq.heap import YOUNG_THRESHOLD
from jobq.worker import main as worker_main


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process's objects go back to the collector
    gc.set_threshold(*thresholds)


def test_the_server_freezes_its_app_before_it_serves(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def serve(app: Any, **options: Any) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["young"] = gc.get_threshold()[0]
        seen["app_frozen"] = not gc.is_tracked(app) or app not in gc.get_objects()

    monkeypatch.setattr(server.uvicorn, "run", serve)
    server.run(Config(db=f"sqlite:///{tmp_path / 'jobq.db'}", log_level="warning"))
    assert seen["frozen"] > 10_000  # the modules, routes and schemas of the app
    assert seen["app_frozen"]
    assert seen["young"] == YOUNG_THRESHOLD


def test_the_worker_freezes_its_startup_objects_before_it_claims(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, int] = {}

    async def serve(*args: Any, **kwargs: Any) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["young"] = gc.get_threshold()[0]

    monkeypatch.setattr(worker_main, "serve", serve)
    worker_main.main("http://127.0.0.1:9", "bench.noop:worker", {}, "warning")
    assert seen["frozen"] > 10_000
    assert seen["young"] == YOUNG_THRESHOLD
