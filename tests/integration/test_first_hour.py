"""What a new operator meets first: `/` leads to the dashboard, /docs works offline (Swagger
UI's files come from this server), `jobq --version`, and `jobq db migrate` that says in one
line what is wrong with the database URL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jobq import __version__
from jobq.api import app as app_module
from jobq.cli import app as cli
from tests import pgdb
from tests.authkit import running_app

ASSET = re.compile(r"""(?:src|href)=['"]([^'"]+)['"]""")
KINDS = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


async def test_the_root_leads_to_the_dashboard(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        answer = await client.get("/")
        assert answer.status_code == 307 and answer.headers["location"] == "/ui"
        assert (await client.get("/", follow_redirects=True)).url.path.startswith("/ui")


async def test_the_root_belongs_to_an_interface_mounted_there(tmp_path: Path) -> None:
    async with running_app(tmp_path, mounts={"native": ""}) as (_, client):
        answer = await client.get("/")
        assert answer.status_code == 404 and "location" not in answer.headers
        assert (await client.get("/queues")).status_code == 200  # the native API, at the root


async def test_every_docs_page_loads_swagger_ui_from_this_server(tmp_path: Path) -> None:
    pages = ["/docs"] + [
        f"{app_module.docs_at(i.default_prefix, i.name)}/docs"
        for i in app_module.interfaces()
        if i.name != "native"
    ]
    async with running_app(tmp_path) as (_, client):
        for page in pages:
            answer = await client.get(page)
            assert answer.status_code == 200, page
            assets = ASSET.findall(answer.text)
            assert any(a.endswith("swagger-ui-bundle.js") for a in assets), page
            assert any(a.endswith("swagger-ui.css") for a in assets), page
            for asset in assets:
                assert asset.startswith("/") and not asset.startswith("//"), (page, asset)
                got = await client.get(asset)
                kind = KINDS[Path(asset).suffix]
                assert got.status_code == 200 and kind in got.headers["content-type"], asset
                assert len(got.content) > 100, asset  # the file itself, not an error page


def test_jobq_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"jobq {__version__}"


def migrate(url: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jobq", "db", "migrate", "--db", url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


async def test_migrate_of_a_missing_postgres_database_says_what_to_create() -> None:
    url = await pgdb.create_database(migrated=False)  # (skips or fails without PostgreSQL)
    await pgdb.drop_database(url)
    name = url.rsplit("/", 1)[1]
    done = migrate(url)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}`" in done.stderr
    assert f'CREATE DATABASE "{name}"' in done.stderr


def test_migrate_against_an_unreachable_server_says_so_in_one_line() -> None:
    done = migrate("postgresql://postgres@127.0.0.1:1/jobq")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "PostgreSQL at postgresql://postgres@127.0.0.1:1/jobq cannot be reached: "
        "[Errno 111] Connect call failed ('127.0.0.1', 1)"
    ]
