"""`jobq serve`'s option defaults are read from `Config` and `Defaults`, never written again:
the server run without a flag and the server built from `Config()` are the same server."""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import fields
from typing import Any

import typer.main

from jobq import cli
from jobq.cli.serve import serve as serve_command
from jobq.config import Config
from jobq.model import Defaults

# options whose names differ from their Config field, or that are parsed before they reach it
RENAMED = {"mount": "mounts", "trusted_proxy": "trusted_proxies"}
NOT_CONFIG = {"config", "callback_allow", "mount", "trusted_proxy"}  # lists (None: empty)


def serve_options() -> dict[str, Any]:
    serve = typer.main.get_command(cli.app).commands["serve"]  # type: ignore[attr-defined]
    return {p.name: p.default for p in serve.params if p.name is not None}


def test_every_option_defaults_to_what_config_holds() -> None:
    config, job = Config(), Defaults()
    expected = {f.name: getattr(config, f.name) for f in fields(Config)}
    expected |= {f.name: getattr(job, f.name) for f in fields(Defaults)}
    options = serve_options()
    for name, default in options.items():
        if name not in NOT_CONFIG:
            assert default == expected[RENAMED.get(name, name)], name
    assert {RENAMED.get(n, n) for n in options} >= {f.name for f in fields(Config)} - {"defaults"}


def test_no_default_is_written_in_the_options() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(serve_command)))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    written = [
        (arg.arg, ast.unparse(default))
        for arg, default in zip(function.args.args, function.args.defaults, strict=True)
        if not (isinstance(default, ast.Constant) and default.value is None)
        and not isinstance(default, ast.Attribute)
    ]
    assert written == []
