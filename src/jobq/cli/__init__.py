"""The `jobq` command (`jobq.cli:main`, `python -m jobq`): one module per command group."""

from jobq.cli.main import app, main

__all__ = ["app", "main"]
