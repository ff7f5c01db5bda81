"""`jobq users`, `jobq keys`, `jobq queues grant|revoke|owner` on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from jobq.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_operators_manage_users_keys_and_grants_on_the_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'jobq.db'}"
    assert run("users", "add", "ann", "--admin", "--db", db)[0] == 0
    assert run("users", "add", "bob", "--db", db)[0] == 0
    code, out = run("users", "add", "bob", "--db", db)
    assert code == 1 and "exists" in out
    code, out = run("users", "ls", "--db", db, "--json")
    assert [(u["name"], u["admin"]) for u in json.loads(out)] == [("ann", True), ("bob", False)]
    code, out = run("keys", "create", "bob", "--db", db)
    assert code == 0 and "jobq_" in out and "shown once" in out
    code, out = run("keys", "create", "ghost", "--db", db)
    assert code == 1 and "user not found" in out
    assert run("queues", "owner", "emails", "ann", "--db", db)[0] == 0
    assert run("queues", "grant", "emails", "bob", "worker", "--db", db)[0] == 0
    code, out = run("queues", "grant", "emails", "bob", "king", "--db", db)
    assert code == 1 and "collaborator" in out
    assert run("queues", "revoke", "emails", "bob", "--db", db)[0] == 0
    assert run("queues", "revoke", "emails", "bob", "--db", db)[0] == 1
    code, out = run("keys", "ls", "--db", db, "--json")
    [key] = json.loads(out)
    assert key["user"] == "bob" and key["revoked"] is None
    assert run("keys", "revoke", key["id"], "--db", db)[0] == 0
    assert run("keys", "revoke", key["id"], "--db", db)[0] == 1
