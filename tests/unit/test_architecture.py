"""The layers hold: interfaces reach the store and the notifier only through the engine.

Walks the source with `ast` (nothing is imported or run). An interface module (under
jobq/api, jobq/web or jobq/cli) must not import the store's or the notifier's internals,
nor read `.store` or `.notifier` off an engine: what it needs is an engine verb.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import jobq

ROOT = Path(jobq.__file__).parent
INTERFACES = ("api", "web", "cli")
# What assembling the server and the CLI needs: a store from a URL (jobq.store's own face),
# the schema tool behind `jobq db migrate`, and a notifier to hand the engine.
ALLOWED_IMPORTS = {"jobq.store", "jobq.store.migrate"}
ALLOWED_NAMES = {"jobq.notify": {"Notifier"}}
HIDDEN = ("store", "notifier")  # an engine's attributes no interface reads
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
# Over the limits until their own items of issue 28 land (it may only shrink; it is empty).
PENDING: set[str] = set()


def interface_modules(root: Path = ROOT) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] in INTERFACES:
            yield path


def import_violations(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _internal(alias.name):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {alias.name for alias in node.names}
            if _internal(node.module, names):
                yield f"line {node.lineno}: from {node.module} import {', '.join(sorted(names))}"


def _internal(module: str, names: set[str] | None = None) -> bool:
    if module in ALLOWED_NAMES:
        return names is None or not names <= ALLOWED_NAMES[module]
    inside = any(module == top or module.startswith(top + ".") for top in ALLOWED_NAMES)
    inside = inside or module == "jobq.store" or module.startswith("jobq.store.")
    return inside and module not in ALLOWED_IMPORTS


def engine_reach_violations(tree: ast.AST) -> Iterator[str]:
    """`.store` / `.notifier` read off anything that names an engine: `engine.store`,
    `engine_of(request).notifier`, `request.app.state.engine.store`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in HIDDEN and _names_engine(node.value):
            yield f"line {node.lineno}: {ast.unparse(node)}"


def _names_engine(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return "engine" in expr.id.lower()
    if isinstance(expr, ast.Attribute):
        return "engine" in expr.attr.lower()
    return False


def layer_violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in interface_modules(root):
        tree = ast.parse(path.read_text(), str(path))
        name = path.relative_to(root)
        found += [f"{name} {v}" for v in import_violations(tree)]
        found += [f"{name} {v}" for v in engine_reach_violations(tree)]
    return found


def size_violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES and name not in PENDING:
            found.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and f"{name}:{node.name}" not in PENDING:
                    found.append(f"{name}:{node.name}: {length} lines")
    return found


def test_interfaces_reach_the_store_and_notifier_only_through_the_engine() -> None:
    assert layer_violations() == []


def test_the_walk_sees_interfaces_and_what_they_must_not_do() -> None:
    assert any(p.parts[-2:] == ("native", "routes.py") for p in interface_modules())
    assert any(p.parent.name == "cli" for p in interface_modules())
    bad = ast.parse(
        "from jobq.store.base import Store\n"
        "from jobq.notify import Listener\n"
        "import jobq.store.sqlite\n"
        "from jobq.store import open_store\n"
        "from jobq.notify import Notifier\n"
        "engine.store.get(x)\n"
        "engine_of(request).notifier.listen(['events'])\n"
        "request.app.state.engine.store.ping()\n"
        "auth.store.users()\n"
    )
    lines = [v.split(":")[0] for v in [*import_violations(bad), *engine_reach_violations(bad)]]
    assert sorted(lines) == ["line 1", "line 2", "line 3", "line 6", "line 7", "line 8"]


def test_no_module_or_function_is_too_long() -> None:
    assert size_violations() == []


def test_the_formatter_decides_every_layout() -> None:
    """No `# fmt: skip` in jobq: one layout everywhere, the one `ruff format` gives."""
    marker = "# fmt" + ": skip"
    marked = [p.relative_to(ROOT) for p in ROOT.rglob("*.py") if marker in p.read_text()]
    assert marked == []
