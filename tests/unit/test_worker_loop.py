"""Which event loop `jobq worker --loop` runs on."""

from __future__ import annotations

import asyncio

import pytest
import typer
import uvloop

from jobq.worker.main import loop_factory


def test_auto_and_uvloop_give_uvloop_and_asyncio_gives_asyncio_own_loop() -> None:
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
    with asyncio.Runner(loop_factory=loop_factory("asyncio")) as runner:
        assert isinstance(runner.get_loop(), asyncio.BaseEventLoop)
        assert not isinstance(runner.get_loop(), uvloop.Loop)


def test_an_unknown_loop_is_refused_with_the_choices() -> None:
    with pytest.raises(typer.BadParameter, match="auto, uvloop, asyncio"):
        loop_factory("trio")
