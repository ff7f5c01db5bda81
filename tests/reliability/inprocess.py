"""A jobq app served by uvicorn in a thread of the test process, with a Config of the test's
choosing (e.g. short long-poll limits, which `jobq serve` has no flag for)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from jobq.api.app import create_app
from jobq.config import Config
from tests.conftest import free_port


@contextmanager
def serve_in_thread(config: Config) -> Iterator[str]:
    """The base URL of `config`'s app, served until the block ends."""
    config.port = free_port()
    # A test's client may sit idle longer than uvicorn's default 5 s keep-alive (Hypothesis
    # drawing its next case on a loaded machine); a connection closed by the server just as
    # the client reuses it fails that request in the client, which is no answer of jobq's.
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1",
                                           port=config.port, log_level="warning",
                                           timeout_keep_alive=600))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    give_up = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > give_up or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)
