"""Hostile input against a real `jobq serve`: oversized, deeply nested, malformed and huge
bodies, bad headers, thousands of idle connections, slow clients. Each gets a clear 4xx or a
closed connection; the server stays up (another request is still served) and its memory stays
bounded (RSS before and after is printed).

With users (both stores): open streams end within seconds of their key being revoked; an
enqueue never takes over an existing queue without an owner; a user creates at most
--max-queues-per-user queues, and a claim from any queue over that many answers at once while
another user's enqueues go on."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import pgdb
from tests.conftest import Server
from tests.reliability.figures import record, rss_kib, size

pytestmark = pytest.mark.reliability
MAX_BODY = 1024 * 1024
IDLE_CONNECTIONS = size(2000, 5000)
SLOW_CLIENTS = size(50, 200)
SLOW_SECONDS = size(5, 30)
RSS_GROWTH_LIMIT_KIB = 150 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("hostile") / "jobq.db"
    srv = Server(f"sqlite:///{db}", "--max-body", str(MAX_BODY)).start(timeout=60)
    yield srv
    srv.stop()


def still_serves(server: Server) -> None:
    r = httpx.post(f"{server.api}/jobs", json={"queue": "after"}, timeout=60)
    assert r.status_code == 201, r.text


def raw(server: Server, request: bytes, timeout: float = 30) -> bytes | None:
    """Send bytes as they are; what came back until the server closed (b"" if nothing), or
    None if the server was still waiting after `timeout` (for a body never sent, say)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server may close before reading it all
            s.sendall(request)
        try:
            while (chunk := s.recv(65536)) and not complete(chunks := [*chunks, chunk]):
                pass
        except TimeoutError:
            return None
        except OSError:
            pass
    return b"".join(chunks)


def complete(chunks: list[bytes]) -> bool:
    """Whether a whole answer (headers and its Content-Length of body) has arrived."""
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def status_of(response: bytes | None) -> int | None:
    """The status code of a raw HTTP answer, or None for a closed or pending connection."""
    if response is None or not response.startswith(b"HTTP/1.1"):
        return None
    return int(response.split(b" ", 2)[1])


def post(server: Server, body: bytes, content_type: str = "application/json") -> httpx.Response:
    headers = {"content-type": content_type}
    return httpx.post(f"{server.api}/jobs", content=body, headers=headers, timeout=60)


BODIES = {
    "over the limit": b'{"payload": "' + b"x" * (MAX_BODY + 10) + b'"}',
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "nested 300 deep in a payload": b'{"payload": ' + b"[" * 300 + b"]" * 300 + b"}",
    "invalid UTF-8": b'{"queue": "\xff\xfe\xfd"}',
    "integer over 64 bits": b'{"payload": 123456789012345678901234567890}',
    "float over the range": b'{"payload": 1e400}',
    "NaN": b'{"payload": NaN}',
    "not JSON": b"{'queue': 1",
    "JSON of the wrong type": b'"a string"',
    "empty": b"",
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_hostile_body_gets_a_clear_4xx(server: Server, name: str):
    r = post(server, BODIES[name])
    print(f"{name}: {r.status_code} {r.text[:120]}")
    assert 400 <= r.status_code < 500 and r.json()["error"]["message"], r.text
    still_serves(server)


RESERVED_METADATA = {
    "respawn delay nan": {"jobq.respawn.delay": "nan"},
    "respawn delay inf": {"jobq.respawn.delay": "inf"},
    "respawn delay 1e308": {"jobq.respawn.delay": "1e308"},
    "respawn remaining huge": {"jobq.respawn.remaining": "9" * 5000},
    "unknown reserved key": {"jobq.anything": "1"},
}


@pytest.mark.parametrize("name", list(RESERVED_METADATA))
def test_bad_reserved_metadata_is_refused_on_every_interface_that_takes_metadata(
    server: Server, name: str
):
    metadata = RESERVED_METADATA[name]
    r = httpx.post(f"{server.api}/jobs", json={"metadata": metadata}, timeout=60)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
    r = httpx.post(f"{server.api}/jobs", json={"jobs": [{"metadata": metadata}]}, timeout=60)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
    job = httpx.post(f"{server.api}/jobs", json={"queue": "reserved"}, timeout=60).json()
    r = httpx.patch(f"{server.api}/jobs/{job['id']}", json={"metadata": metadata}, timeout=60)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
    [(key, value)] = metadata.items()
    r = httpx.post(f"{server.url}/API/job", params={"type": "t", "jobmetadata": f"{key}={value}"},
                   timeout=60)  # fmt: skip
    assert r.status_code == 400 and "<invalidInput>" in r.text, r.text
    for listing in (f"{server.api}/jobs", f"{server.url}/API/job", f"{server.api}/problems"):
        assert httpx.get(listing, timeout=60).status_code == 200
    still_serves(server)


def test_a_chunked_body_over_the_limit_is_refused(server: Server):
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536

    try:
        r = httpx.post(f"{server.api}/jobs", content=chunks(), timeout=60)
        assert r.status_code == 413, r.text
    except httpx.TransportError:
        pass  # closed on us: also a refusal
    still_serves(server)


BAD_REQUESTS = {
    "content-length not a number": b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Length: lots\r\n\r\n{}",
    "two content-lengths": b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
    b"Content-Length: 5\r\n\r\n{}",
    "header 100 kB long": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000
    + b"\r\n\r\n",
    "10000 headers": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    + b"X-A: 1\r\n" * 10_000
    + b"\r\n",
    "control bytes in a header": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n",
    "garbage request line": b"\x16\x03\x01\x02\x00 garbage\r\n\r\n",
    "bad authorization": b"GET /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Authorization: Bearer \xff\xfe\r\n\r\n",
    "unknown content-type": b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: a/b\r\n"
    b"Content-Length: 2\r\n\r\n{}",
    "declared body never sent": b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Length: 10\r\n\r\n{}",
}  # fmt: skip


# well-formed but large headers are served (uvicorn's httptools parser sets no header size
# limit); what matters there is that memory stays bounded, checked at the end of the module
SERVED_IS_FINE = {"header 100 kB long", "10000 headers", "bad authorization"}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_a_bad_request_gets_a_4xx_or_a_closed_connection(server: Server, name: str):
    answer = raw(server, BAD_REQUESTS[name], timeout=3)
    status = status_of(answer)
    shown = "no answer in 3 s (waiting for the body)" if answer is None else status or "closed"
    print(f"{name}: {shown}")
    refused = status is None or 400 <= status < 500
    assert refused or (name in SERVED_IS_FINE and status == 200), (answer or b"")[:300]
    still_serves(server)


def open_idle(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        sockets.append(s)
    return sockets


def test_thousands_of_idle_connections_do_not_stop_the_server(server: Server):
    assert server.proc is not None
    before = rss_kib(server.proc.pid)
    sockets = open_idle(server.port, IDLE_CONNECTIONS)
    try:
        time.sleep(2)
        during = rss_kib(server.proc.pid)
        started = time.perf_counter()
        still_serves(server)
        served_in = time.perf_counter() - started
    finally:
        for s in sockets:
            s.close()
    time.sleep(1)
    after = rss_kib(server.proc.pid)
    record("hostile_idle_connections", connections=IDLE_CONNECTIONS, rss_before_kib=before,
           rss_during_kib=during, rss_after_kib=after,
           request_while_open_s=round(served_in, 3))  # fmt: skip
    assert during - before < RSS_GROWTH_LIMIT_KIB
    still_serves(server)


def trickle(port: int, seconds: float, stop: threading.Event, outcome: list[str]) -> None:
    """Send a request's headers a byte at a time, never finishing them."""
    header = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 10_000
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            give_up = time.monotonic() + seconds
            for byte in header:
                if stop.is_set() or time.monotonic() > give_up:
                    outcome.append("still open")
                    return
                s.sendall(bytes([byte]))
                time.sleep(0.2)
    except OSError:
        outcome.append("closed by the server")


def test_slow_clients_do_not_stop_the_server(server: Server):
    assert server.proc is not None
    before = rss_kib(server.proc.pid)
    stop, outcome = threading.Event(), []
    threads = [threading.Thread(target=trickle, args=(server.port, SLOW_SECONDS, stop, outcome))
               for _ in range(SLOW_CLIENTS)]  # fmt: skip
    for t in threads:
        t.start()
    served = 0
    give_up = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < give_up:
        still_serves(server)
        served += 1
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(60)
    after = rss_kib(server.proc.pid)
    record("hostile_slow_clients", clients=SLOW_CLIENTS, seconds=SLOW_SECONDS,
           requests_served_meanwhile=served, rss_before_kib=before, rss_after_kib=after,
           closed_by_server=outcome.count("closed by the server"))  # fmt: skip
    assert served > 0 and after - before < RSS_GROWTH_LIMIT_KIB


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_store_server(
    request: pytest.FixtureRequest, server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The module's SQLite server, or one on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield server
        return
    url = pgdb.create_database_sync()
    srv = Server(url, "--max-body", str(MAX_BODY)).start(timeout=60)
    yield srv
    srv.stop()
    pgdb.drop_database_sync(url)


# what no store can keep exactly, in a free-form field of each interface's enqueue
UNKEEPABLE = {
    "lone surrogate": b'"\\ud800"', "NUL": b'"a\\u0000b"', "NUL in a key": b'{"\\u0000": 1}',
    "NaN": b"NaN", "-Infinity": b"-Infinity", "1e400": b"1e400",
    "2**64": b"18446744073709551616", "nested 300 deep": b"[" * 300 + b"]" * 300,
}  # fmt: skip
ENQUEUES = {
    "native": ("/api/v1/jobs", b'{"queue": "q", "payload": %s}'),
    "titan 0.2": ("/titan-0.2/v1/jobs", b'{"jobs": [{"image": "i", "payload": %s}]}'),
    "titan 0.3": ("/titan-0.3/v1/groups/g/jobs",
                  b'{"jobs": [{"image": "i", "priority": 0, "payload": %s}]}'),
    "accepted": ("/accepted/jobs", b'{"queue": "q", "params": {"x": %s}}'),
    "vidispine": ("/API/job?type=t", b'{"field": [{"key": "k", "value": %s}]}'),
}  # fmt: skip
HUGE_STRINGS = {
    "native": ("/api/v1/jobs", b'{"queue": "q", "type": "%s"}'),
    "native metadata": ("/api/v1/jobs", b'{"queue": "q", "metadata": {"k": "%s"}}'),
    "titan 0.2": ("/titan-0.2/v1/jobs", b'{"jobs": [{"image": "%s"}]}'),
    "titan 0.3": ("/titan-0.3/v1/groups/g/jobs", b'{"jobs": [{"image": "%s", "priority": 0}]}'),
    "accepted": ("/accepted/jobs", b'{"queue": "%s"}'),
}  # fmt: skip


@pytest.mark.parametrize("media", ["application/JSON", "Application/Json; charset=UTF-8"])
@pytest.mark.parametrize("value", list(UNKEEPABLE))
@pytest.mark.parametrize("interface", list(ENQUEUES))
def test_unkeepable_json_is_a_4xx_on_every_interface_and_store(
    any_store_server: Server, interface: str, value: str, media: str
):
    path, template = ENQUEUES[interface]
    headers = {"content-type": media, "accept": "application/json"}
    r = httpx.post(any_store_server.url + path, content=template % UNKEEPABLE[value],
                   headers=headers, timeout=60)  # fmt: skip
    print(f"{interface} {value} {media}: {r.status_code} {r.text[:120]}")
    assert r.status_code in (400, 422), r.text
    still_serves(any_store_server)


@pytest.mark.parametrize("interface", list(HUGE_STRINGS))
def test_a_huge_string_field_is_a_4xx_on_every_interface_and_store(
    any_store_server: Server, interface: str
):
    path, template = HUGE_STRINGS[interface]
    body = template % (b"x" * (MAX_BODY - 200))
    r = httpx.post(any_store_server.url + path, content=body,
                   headers={"content-type": "APPLICATION/JSON"}, timeout=60)  # fmt: skip
    print(f"{interface}: {r.status_code} {r.text[:120]}")
    assert r.status_code in (400, 422), r.text
    still_serves(any_store_server)


def test_the_server_is_still_up_and_memory_bounded_after_all_of_it(server: Server, tmp_path: Path):
    assert server.proc is not None and server.proc.poll() is None
    still_serves(server)
    rss = rss_kib(server.proc.pid)
    record("hostile_input", bodies=len(BODIES), bad_requests=len(BAD_REQUESTS),
           server_rss_kib=rss, server_up=True, status_500=0)  # fmt: skip
    assert rss < 400 * 1024


# --- with users: revoked keys, queue ownership, many queues -----------------------------------

MANY_QUEUES = size(2000, 20_000)  # the queues one user creates, and the most it may
SOON = 10.0  # seconds within which a revocation ends an open stream (re-checked every 2 s)


@dataclass
class Keyed:
    """A `jobq serve` with users: an administrator's key, and a way to add people."""

    server: Server
    admin: str

    def person(self, name: str) -> tuple[str, str]:
        """A new user with one key: the key and its id."""
        r = httpx.post(f"{self.server.api}/users", json={"name": name}, headers=auth(self.admin))
        assert r.status_code == 201, r.text
        return self.key(name)

    def key(self, name: str) -> tuple[str, str]:
        r = httpx.post(f"{self.server.api}/keys", json={"user": name, "name": "k"},
                       headers=auth(self.admin))  # fmt: skip
        assert r.status_code == 201, r.text
        return r.json()["key"], r.json()["id"]

    def revoke(self, key_id: str) -> None:
        r = httpx.delete(f"{self.server.api}/keys/{key_id}", headers=auth(self.admin))
        assert r.status_code == 204, r.text


def auth(key: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {key}"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def keyed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Keyed]:  # fmt: skip
    """A server with an administrator, on SQLite or a fresh PostgreSQL database."""
    sqlite = request.param == "sqlite"
    db = (f"sqlite:///{tmp_path_factory.mktemp('keyed') / 'jobq.db'}" if sqlite
          else pgdb.create_database_sync())  # fmt: skip
    assert cli("users", "add", "root", "--admin", "--db", db).returncode == 0
    made = cli("keys", "create", "root", "--name", "hostile", "--db", db, "--json")
    assert made.returncode == 0, made.stderr
    srv = Server(db, "--max-queues-per-user", str(MANY_QUEUES)).start(timeout=60)
    yield Keyed(srv, json.loads(made.stdout)["key"])
    srv.stop()
    if not sqlite:
        pgdb.drop_database_sync(db)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobq", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def watch(url: str, headers: dict[str, str], opened: threading.Event, ended: dict[str, float],
          name: str) -> None:  # fmt: skip
    """Read a stream until the server ends it; when it ended (monotonic), under `name`."""
    try:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60, read=60)) as r:
            assert r.status_code == 200, r.read()
            opened.set()
            for _ in r.iter_raw():
                pass
        ended[name] = time.monotonic()
    except httpx.HTTPError as exc:
        ended[name] = -1.0
        print(f"{name}: {exc!r}")


def test_open_streams_end_within_seconds_of_their_key_being_revoked(keyed: Keyed):
    key, key_id = keyed.person(f"streamer-{keyed.server.port}")
    queue = f"streamed-{keyed.server.port}"
    job = httpx.post(f"{keyed.server.api}/jobs", json={"queue": queue}, headers=auth(key))
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    streams = {
        "events": (f"{keyed.server.api}/events", auth(key)),
        "log stream": (f"{keyed.server.api}/jobs/{job_id}/logs/stream", auth(key)),
        "connect tail": (f"{keyed.server.url}/__api__/v1/content/{queue}/jobs/{job_id}/tail",
                         auth(key, "Key")),
    }  # fmt: skip
    ended: dict[str, float] = {}
    threads = []
    for name, (url, headers) in streams.items():
        opened = threading.Event()
        threads.append(threading.Thread(target=watch, args=(url, headers, opened, ended, name)))
        threads[-1].start()
        assert opened.wait(30), f"{name} did not open"
    time.sleep(1)
    assert ended == {}, f"streams ended before the revocation: {ended}"
    revoked = time.monotonic()
    keyed.revoke(key_id)
    for t in threads:
        t.join(SOON + 20)
    after = {name: round(at - revoked, 2) for name, at in ended.items()}
    record(f"hostile_revoked_streams_{keyed.server.db.split(':')[0]}", seconds_to_end=after)
    assert set(after) == set(streams) and all(0 <= s < SOON for s in after.values()), after
    assert httpx.get(f"{keyed.server.api}/jobs", headers=auth(key)).status_code == 401


def test_enqueueing_into_an_existing_ownerless_queue_does_not_take_it(keyed: Keyed):
    api = keyed.server.api
    shared = f"shared-{keyed.server.port}"
    r = httpx.post(f"{api}/jobs", json={"queue": shared, "payload": "secret"},
                   headers=auth(keyed.admin))  # fmt: skip
    assert r.status_code == 201, r.text
    key, _ = keyed.person(f"taker-{keyed.server.port}")
    attempts = {
        "native": ("POST", f"{api}/jobs", {"queue": shared}),
        "titan 0.3": ("POST", f"{keyed.server.url}/titan-0.3/v1/groups/{shared}/jobs",
                      {"jobs": [{"image": "i", "priority": 0}]}),
        "accepted": ("POST", f"{keyed.server.url}/accepted/jobs", {"queue": shared}),
        "titan 0.2 (default)": ("POST", f"{keyed.server.url}/titan-0.2/v1/jobs",
                                {"jobs": [{"image": "i"}]}),
        "native default": ("POST", f"{api}/jobs", {"queue": "default"}),
    }  # fmt: skip
    for name, (method, url, body) in attempts.items():
        r = httpx.request(method, url, json=body, headers=auth(key), timeout=60)
        assert r.status_code == 403, f"{name}: {r.status_code} {r.text}"
    # and nothing was taken: no role, no listing, no grants, no pause, no payload
    queues = httpx.get(f"{api}/queues", headers=auth(key)).json()["queues"]
    assert [q for q in queues if q["name"] in (shared, "default")] == []
    for method, path in [("GET", f"/queues/{shared}/grants"), ("POST", f"/queues/{shared}/pause"),
                         ("PUT", f"/queues/{shared}/grants/root")]:  # fmt: skip
        r = httpx.request(method, api + path, json={"role": "viewer"}, headers=auth(key))
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
    listed = httpx.get(f"{api}/jobs", params={"queue": shared}, headers=auth(key)).json()
    assert listed["jobs"] == []
    grants = httpx.get(f"{api}/queues/{shared}/grants", headers=auth(keyed.admin)).json()
    assert grants["owner"] is None and grants["grants"] == []


def create_queues(api: str, key: str, prefix: str, count: int) -> float:
    """`count` new queues (one job each), in batches of 1000; seconds taken."""
    started = time.perf_counter()
    for first in range(0, count, 1000):
        names = [f"{prefix}-{i}" for i in range(first, min(count, first + 1000))]
        r = httpx.post(f"{api}/jobs", json={"jobs": [{"queue": n} for n in names]},
                       headers=auth(key), timeout=600)  # fmt: skip
        assert r.status_code == 201 and all("id" in j for j in r.json()["jobs"]), r.text[:500]
    return time.perf_counter() - started


def enqueue_meanwhile(api: str, key: str, queue: str, stop: threading.Event,
                      latencies: list[float]) -> None:  # fmt: skip
    while not stop.is_set():
        started = time.perf_counter()
        r = httpx.post(f"{api}/jobs", json={"queue": queue}, headers=auth(key), timeout=120)
        latencies.append(time.perf_counter() - started if r.status_code == 201 else float("inf"))
        time.sleep(0.05)


def test_many_queues_are_bounded_and_a_claim_over_all_of_them_answers(keyed: Keyed):
    srv, api = keyed.server, keyed.server.api
    hoarder, _ = keyed.person(f"hoarder-{srv.port}")
    other, _ = keyed.person(f"other-{srv.port}")
    assert httpx.post(f"{api}/jobs", json={"queue": f"own-{srv.port}"},
                      headers=auth(other)).status_code == 201  # fmt: skip
    created_in = create_queues(api, hoarder, f"h{srv.port}", MANY_QUEUES)
    # the next new queue is refused on every interface; existing ones still take jobs
    over = f"one-too-many-{srv.port}"
    for url, body in [(f"{api}/jobs", {"queue": over}),
                      (f"{srv.url}/titan-0.3/v1/groups/{over}/jobs",
                       {"jobs": [{"image": "i", "priority": 0}]}),
                      (f"{srv.url}/accepted/jobs", {"queue": over})]:  # fmt: skip
        r = httpx.post(url, json=body, headers=auth(hoarder), timeout=60)
        assert r.status_code == 403, f"{url}: {r.status_code} {r.text}"
    r = httpx.post(f"{api}/jobs", json={"queue": f"h{srv.port}-0"}, headers=auth(hoarder))
    assert r.status_code == 201, r.text
    # claims from "any queue I may work on", while another user enqueues
    stop, latencies = threading.Event(), []
    writer = threading.Thread(target=enqueue_meanwhile,
                              args=(api, other, f"own-{srv.port}", stop, latencies))  # fmt: skip
    writer.start()
    claims = []
    try:
        for url, method in [(f"{srv.url}/titan-0.3/v1/jobs", "GET"),
                            (f"{srv.url}/accepted/want_job", "POST")] * 3:  # fmt: skip
            started = time.perf_counter()
            r = httpx.request(method, url, headers=auth(hoarder), timeout=120)
            claims.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.content, f"{url}: {r.status_code} {r.text[:300]}"
    finally:
        stop.set()
        writer.join(120)
    record(f"hostile_many_queues_{srv.db.split(':')[0]}", queues=MANY_QUEUES,
           created_s=round(created_in, 2), claim_max_s=round(max(claims), 3),
           other_enqueues=len(latencies),
           other_enqueue_max_s=round(max(latencies, default=0.0), 3))  # fmt: skip
    assert max(claims) < 5.0, claims
    assert latencies and max(latencies) < 5.0, latencies
    still_serves_with(keyed)


def still_serves_with(keyed: Keyed) -> None:
    r = httpx.post(f"{keyed.server.api}/jobs", json={"queue": "after"},
                   headers=auth(keyed.admin), timeout=60)  # fmt: skip
    assert r.status_code == 201, r.text
    assert httpx.get(f"{keyed.server.url}/healthz", timeout=60).status_code == 200
