"""What only PostgreSQL has to prove: many nodes on one database, migrations, outages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.rules import complete
from jobq.errors import InvalidInput, StoreUnavailable
from jobq.model import ClaimSpec, Job, JobQuery, Step, Worker
from jobq.states import State
from tests import pgdb

asyncpg = pytest.importorskip("asyncpg")
from jobq.store.postgres import PostgresStore  # noqa: E402
from jobq.store.postgres.handover import hand_over_sql  # noqa: E402
from jobq.store.postgres.notify import PostgresNotifier, pack  # noqa: E402
from jobq.store.postgres.sql import CLAIM_PICKED, OLDEST_QUEUED  # noqa: E402
from jobq.store.postgres.vacuum import vacuum_gaps  # noqa: E402
from jobq.store.postgres.writes import update  # noqa: E402
from jobq.store.rows import encode, job_values  # noqa: E402


@pytest.fixture
async def db_url() -> AsyncIterator[str]:
    url = await pgdb.create_database()
    yield url
    await pgdb.drop_database(url)


class Node:
    """One jobq server's worth of store, notifier and engine."""

    def __init__(self, url: str) -> None:
        self.store = PostgresStore(url, pool_size=4)
        self.notifier: PostgresNotifier | None = None
        self.engine: Engine | None = None

    async def start(self) -> Node:
        await self.store.open()
        self.notifier = self.store.make_notifier()
        await self.notifier.start()
        self.engine = Engine(self.store, self.notifier)
        return self

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        await self.store.close()


@pytest.fixture
async def nodes(db_url: str) -> AsyncIterator[Callable[[int], Any]]:
    started: list[Node] = []

    async def make(n: int) -> list[Node]:
        for _ in range(n):
            started.append(await Node(db_url).start())
        return started[-n:]

    yield make
    for node in started:
        await node.stop()


def eng(node: Node) -> Engine:
    assert node.engine is not None
    return node.engine


async def admin(sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(pgdb.ADMIN_URL)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def terminate_backends(url: str, where: str = "TRUE") -> int:
    name = url.rsplit("/", 1)[1]
    rows = await admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND {where}",
        name,
    )
    return len(rows)


# --- migrations ---


async def test_the_claim_function_is_planned_once(db_url: str) -> None:
    """Its statements' plans do not depend on their arguments; planned anew on every call
    (PostgreSQL's choice for them) they cost a third of PostgreSQL's CPU per claim."""
    conn = await asyncpg.connect(db_url)
    try:
        config = await conn.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'jobq_pick'")
    finally:
        await conn.close()
    # and never compiled: its statements take well under a millisecond, but their estimates
    # passed jit_above_cost on a large table, and compiling them took 140-250 ms per claim
    assert config == ["plan_cache_mode=force_generic_plan", "enable_seqscan=off", "jit=off"]


async def test_concurrent_starts_migrate_once() -> None:
    url = await pgdb.create_database(migrated=False)
    try:
        stores = [PostgresStore(url, pool_size=1) for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        rows = await asyncio.gather(*(s.migrate() for s in stores))
        assert rows == [[], [], []]
        for s in stores:
            await s.close()
    finally:
        await pgdb.drop_database(url)


async def test_without_auto_migrate_an_old_schema_is_refused() -> None:
    url = await pgdb.create_database(migrated=False)
    try:
        store = PostgresStore(url, migrate=False)
        with pytest.raises(StoreUnavailable, match="jobq db migrate"):
            await store.open()
        cli = [sys.executable, "-m", "jobq", "db", "migrate", "--db", url]
        first = subprocess.run(cli, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0 and "applied migrations 1" in first.stdout
        again = subprocess.run(cli, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "up to date" in again.stdout
        await store.open()
        await store.close()
    finally:
        await pgdb.drop_database(url)


def test_serve_explains_a_missing_driver() -> None:
    code = (
        "import sys; sys.modules['asyncpg'] = None; from jobq.cli import app; "
        "sys.argv = ['jobq', 'serve', '--db', 'postgresql://x@127.0.0.1/y']; app()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 2
    assert "pip install -e '.[postgres]'" in done.stdout + done.stderr


# --- many nodes, one database ---


async def test_concurrent_claimers_never_hold_the_same_job(nodes: Any) -> None:
    four = await nodes(4)
    await eng(four[0]).enqueue([JobSpec(queue="q", payload=i) for i in range(400)])
    held: dict[str, str] = {}
    done: list[str] = []

    async def claimer(node: Node, name: str) -> None:
        while True:
            jobs = await eng(node).claim(ClaimSpec(["q", "other"], None, 7, 30.0, Worker(name)))
            if not jobs:
                return
            for job in jobs:
                assert job.id not in held, f"{job.id} held by {held.get(job.id)} and {name}"
                held[job.id] = name
            outcomes = await eng(node).ack(
                [_ack(job) for job in jobs]  # complete every job it holds
            )
            assert all(isinstance(o, Job) and o.state == State.succeeded for o in outcomes)
            done.extend(job.id for job in jobs)

    await asyncio.gather(*(claimer(n, f"{i}-{k}") for i, n in enumerate(four) for k in range(3)))
    assert len(done) == 400 and len(set(done)) == 400


@pytest.mark.parametrize("types", [None, ["a", "b"]])
async def test_a_claim_takes_the_next_job_when_the_head_of_the_queue_is_held(
    nodes: Any, db_url: str, types: list[str] | None
) -> None:
    """Claimers arriving together all see the same best jobs; a claimer that finds the best
    ten held by others (in flight in their transactions) still takes the eleventh."""
    [node] = await nodes(1)
    await eng(node).enqueue([JobSpec(queue="q", type="a", payload=i) for i in range(20)])
    other = await asyncpg.connect(db_url)
    try:
        async with other.transaction():
            await other.execute("SELECT seq FROM jobs ORDER BY seq LIMIT 10 FOR UPDATE")
            jobs = await eng(node).claim(ClaimSpec(["q"], types, 1, 30.0, Worker("w")))
            assert [j.payload for j in jobs] == [10]
    finally:
        await other.close()


async def test_a_claim_reads_a_few_pages_however_many_jobs_are_queued(
    nodes: Any, db_url: str
) -> None:
    """The claim's plan, made once, must find the jobs it locks and leases by key. Planned
    while the statistics count few queued jobs (a new table, not yet analyzed), it read every
    queued job through the claim indexes instead, once per claim: 300 pages here with 5,000
    jobs waiting, and ten times that with ten times the jobs."""
    [node] = await nodes(1)
    await eng(node).enqueue([JobSpec(queue="q", type="a") for _ in range(5000)])
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE claim AS {CLAIM_PICKED}")
        pages = []
        for _ in range(3):  # the first call also reads the catalogs
            transaction = conn.transaction()
            await transaction.start()
            plan = await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
                "EXECUTE claim(NULL, 1.0, 'w', '{q}', '{a,b}', 'key', 1)"
            )
            await transaction.rollback()
            top = json.loads(plan)[0]["Plan"]
            assert top["Actual Rows"] == 1
            pages.append(top["Shared Hit Blocks"] + top["Shared Read Blocks"])
    finally:
        await conn.close()
    assert max(pages[1:]) < 150, pages


async def _plan_of_completing(node: Any, db_url: str, count: int,
                              generic: bool = False) -> tuple[dict[str, Any], int]:  # fmt: skip
    """The analyzed plan of the batch UPDATE that completes `count` jobs claimed out of
    5,000 queued (rolled back), and how many attempts it closed; `generic`: the plan a
    connection keeps after five calls, made without the values."""
    await eng(node).enqueue([JobSpec(queue="q") for _ in range(5000)])
    jobs = await eng(node).claim(ClaimSpec(["q"], None, count, 30.0, Worker("w")))
    ids = [j.id for j in jobs]
    now = eng(node).clock()
    changes = {**complete(jobs[0], None, now).changes, "state": "succeeded", "updated_at": now}
    rows = [[*(encode(k, v) for k, v in changes.items()), j.id, "succeeded", None, j.attempt,
             j.seq] for j in jobs]  # fmt: skip
    rows[0][list(changes).index("result")] = '"first"'  # a column that varies, as results do
    sql, *params = update(tuple(changes), ("running",), rows, now)
    conn = await asyncpg.connect(db_url)
    try:
        if generic:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
        transaction = conn.transaction()
        await transaction.start()
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
        closed = await conn.fetchval(
            "SELECT count(*) FROM attempts WHERE job_id = ANY($1) AND outcome = 'succeeded'", ids
        )
        await transaction.rollback()
    finally:
        await conn.close()
    return json.loads(plan)[0]["Plan"], closed


async def test_acknowledgements_find_their_jobs_by_key_whatever_the_statistics_say(
    nodes: Any, db_url: str
) -> None:
    """A batch of acknowledgements is one UPDATE of its seqs. With the statistics of a new
    table (few jobs running), a plain `state = 'running'` test let the planner read every
    running job through jobs_lease and jobs_state instead: O(jobs running) per batch."""
    [node] = await nodes(1)
    plan, closed = await _plan_of_completing(node, db_url, 2)
    [update] = _nodes(
        plan, lambda n: n["Node Type"] == "ModifyTable" and n["Relation Name"] == "jobs"
    )
    indexes = {n["Index Name"] for n in _nodes(update, lambda n: "Index Name" in n)}
    assert indexes == {"jobs_pkey"}, indexes
    assert closed == 2


async def test_a_batch_of_acknowledgements_reads_each_value_row_once(
    nodes: Any, db_url: str
) -> None:
    """The generic plan of a batch's UPDATE guesses ten ids. Joined to the batch's values,
    it rescanned all of them for every job, copying each whole value row every time: 50 x 50
    here, O(batch squared) per batch. (How the jobs are found, by key or, in a table this
    small, by a scan, is the planner's choice.)"""
    [node] = await nodes(1)
    plan, closed = await _plan_of_completing(node, db_url, 50, generic=True)
    assert closed == 50
    read = [(n["Node Type"], n["Actual Rows"] * n["Actual Loops"]) for n in _nodes(plan, bool)]
    assert max(rows for _, rows in read) <= 2 * 50, read
    # made while the attempts table is nearly empty (as a connection's first batches are),
    # the plan must still find each attempt by its key: it is kept, and the table grows
    [closing] = _nodes(plan, lambda n: n.get("Relation Name") == "attempts" and "Plans" in n)
    scans = _nodes(closing["Plans"][0], lambda n: n.get("Relation Name") == "attempts")
    found = {n.get("Index Name") for n in scans}
    assert found == {"attempts_pkey"}, found


async def test_the_oldest_queued_job_is_one_index_step_per_queue(nodes: Any, db_url: str) -> None:
    """Metrics and GET /queues read each queue's oldest queued job; min(created_at) read
    every queued job of every queue (O(jobs waiting) per scrape)."""
    [node] = await nodes(1)
    await eng(node).enqueue([JobSpec(queue=f"q{i % 2}") for i in range(5000)])
    conn = await asyncpg.connect(db_url)
    try:
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {OLDEST_QUEUED}")
    finally:
        await conn.close()
    scans = _nodes(json.loads(plan)[0]["Plan"], lambda n: n.get("Relation Name") == "jobs")
    assert {n.get("Index Name") for n in scans} == {"jobs_queue_state"}, scans
    assert all(n["Actual Rows"] <= 1 for n in scans), scans


def _nodes(plan: dict[str, Any], wanted: Callable[[dict[str, Any]], bool]) -> list[Any]:
    """The nodes of an EXPLAIN plan for which `wanted` holds, outermost first."""
    found = [plan] if wanted(plan) else []
    for child in plan.get("Plans", []):
        found += _nodes(child, wanted)
    return found


def _ack(job: Job) -> Any:
    from jobq.engine import Ack

    return Ack(job.id, job.lease_token or "", result=job.payload)


async def test_overlapping_batches_in_opposite_order_do_not_deadlock(nodes: Any) -> None:
    a, b = await nodes(2)
    inserted = await eng(a).enqueue([JobSpec(queue="q") for _ in range(40)])
    ids = [job.id for job, _ in inserted]
    now = eng(a).clock()

    def steps(order: list[str]) -> list[Step]:
        return [Step(i, lambda j: _cancel_plan(j, now)) for i in order]

    results = await asyncio.gather(
        *(
            store.transition(steps(order), now)
            for _ in range(3)
            for store, order in ((a.store, ids), (b.store, ids[::-1]))
        )
    )
    moved = [r for batch in results for r in batch if not isinstance(r, Exception)]
    assert len(moved) == 40  # each job cancelled exactly once; the rest are conflicts


def _cancel_plan(job: Job, now: float) -> Any:
    from jobq.engine.rules import cancel

    return cancel(job, "test", None, now)


async def test_two_nodes_never_deliver_the_same_callback(nodes: Any) -> None:
    a, b = await nodes(2)
    await eng(a).enqueue([JobSpec(queue="q", callback_url="https://example.com/h")
                          for _ in range(30)])  # fmt: skip
    for job in await eng(a).claim(ClaimSpec(["q"], None, 30, 30.0, Worker("w"))):
        await eng(a).complete(job.id, job.lease_token or "", None)
    now = eng(a).clock() + 1
    got = await asyncio.gather(*(node.store.due_callbacks(now, 7) for node in (a, b) * 3))
    ids = [cb.id for batch in got for cb in batch]
    assert len(ids) == 30 and len(set(ids)) == 30
    # a node that dies without reporting: its callbacks come back once the lease is over
    assert await a.store.due_callbacks(now + 1, 100) == []
    assert len(await b.store.due_callbacks(now + 3600, 100)) == 30


async def test_purge_on_two_nodes_deletes_each_job_once(nodes: Any) -> None:
    a, b = await nodes(2)
    await eng(a).enqueue([JobSpec(queue="q", result_ttl=0.0) for _ in range(50)])
    for job in await eng(a).claim(ClaimSpec(["q"], None, 50, 30.0, Worker("w"))):
        await eng(a).complete(job.id, job.lease_token or "", None)
    later = eng(a).clock() + 1
    counts = await asyncio.gather(*(n.store.purge(later, 9) for n in (a, b, a, b, a, b, a, b)))
    rest = 0
    while count := await a.store.purge(later, 100):
        rest += count
    assert sum(counts) + rest == 50
    assert await a.store.list_jobs(JobQuery()) == []


# --- wake-ups across nodes ---


async def test_enqueue_on_one_node_wakes_a_claimer_on_another(nodes: Any) -> None:
    a, b = await nodes(2)
    waiting = asyncio.create_task(
        eng(b).claim(ClaimSpec(["wake"], None, 1, 30.0, Worker("w")), wait=30.0)
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="wake")])
    [claimed] = await asyncio.wait_for(waiting, 10)
    assert claimed.id == job.id


async def test_enqueue_into_a_new_queue_wakes_a_claimer_of_every_queue_on_another_node(
    nodes: Any,
) -> None:
    a, b = await nodes(2)
    every = ClaimSpec(None, None, 1, 30.0, Worker("w"))
    waiting = asyncio.create_task(eng(b).claim(every, wait=30.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="made-on-a")])
    [claimed] = await asyncio.wait_for(waiting, 10)
    assert claimed.id == job.id


async def test_result_waits_logs_and_events_cross_nodes(nodes: Any) -> None:
    a, b = await nodes(2)
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="q")])
    result = asyncio.create_task(eng(b).wait(job.id, 30.0))
    assert b.notifier is not None and a.notifier is not None
    with b.notifier.listen(["events", f"logs:{job.id}"]) as listener:
        for _ in range(100):  # b's interest in events reaches a
            if a.notifier.has_listeners("events"):
                break
            await asyncio.sleep(0.05)
        [claimed] = await eng(a).claim(ClaimSpec(["q"], None, 1, 30.0, Worker("w")))
        await eng(a).append_logs(job.id, [(None, "stdout", "hello")])
        await eng(a).complete(job.id, claimed.lease_token or "", "ok")
        finished = await asyncio.wait_for(result, 10)
        assert finished.state == State.succeeded and finished.result == "ok"
        seen: list[Any] = []
        while not any(isinstance(m, dict) and m.get("to") == "succeeded" for m in seen):
            assert await listener.wait(10)
            seen += listener.drain()
    assert 1 in seen  # the last log seq
    assert [m["to"] for m in seen if isinstance(m, dict)] == ["running", "succeeded"]


async def test_listen_reconnects_after_its_connection_is_killed(nodes: Any, db_url: str) -> None:
    a, b = await nodes(2)
    assert b.notifier is not None
    assert await terminate_backends(db_url, "application_name = 'jobq-listen'") == 2
    for _ in range(200):
        if not b.notifier.connected.is_set():
            break
        await asyncio.sleep(0.05)
    assert not b.notifier.connected.is_set()
    await asyncio.wait_for(b.notifier.connected.wait(), 20)
    waiting = asyncio.create_task(
        eng(b).claim(ClaimSpec(["again"], None, 1, 30.0, Worker("w")), wait=30.0)
    )
    await asyncio.sleep(0.2)
    await eng(a).enqueue([JobSpec(queue="again")])
    assert len(await asyncio.wait_for(waiting, 10)) == 1


async def test_a_database_that_will_not_be_vacuumed_is_named_in_the_log(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await (await Node(db_url).start()).stop()  # migrated
    name = db_url.rsplit("/", 1)[1]
    await admin(f'ALTER DATABASE "{name}" SET track_counts = off')
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ALTER TABLE jobs SET (autovacuum_enabled = off)")
        server_wide = await conn.fetchval("SELECT current_setting('autovacuum')")
        gaps = await vacuum_gaps(conn)
    finally:
        await conn.close()
    expected = ["track_counts is off", "table jobs has autovacuum_enabled = false"]
    assert gaps == ["autovacuum is off"] * (server_wide == "off") + expected
    caplog.clear()
    caplog.set_level("WARNING", logger="jobq.store")
    store = PostgresStore(db_url)
    await store.open()
    await store.close()
    [warning] = [r.getMessage() for r in caplog.records if "will not vacuum" in r.getMessage()]
    assert all(gap in warning for gap in gaps) and "VACUUM ANALYZE jobs, attempts" in warning


async def test_a_database_left_to_autovacuum_opens_quietly(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="jobq.store")
    node = await Node(db_url).start()
    try:
        gaps = await node.store.db.read(vacuum_gaps)
        server_wide = await node.store.db.read(
            lambda c: c.fetchval("SELECT current_setting('autovacuum')")
        )
    finally:
        await node.stop()
    assert gaps == ["autovacuum is off"] * (server_wide == "off")
    warned = [r for r in caplog.records if "will not vacuum" in r.getMessage()]
    assert len(warned) == len(gaps[:1])


def test_pool_size_is_taken_from_the_url() -> None:
    store = PostgresStore("postgresql://u@h:5432/db?sslmode=disable&pool_size=25")
    assert store.db.max_size == 25 and store.db.url == "postgresql://u@h:5432/db?sslmode=disable"
    assert PostgresStore("postgresql://u@h/db").db.max_size == 10
    with pytest.raises(ValueError, match="pool_size"):
        PostgresStore("postgresql://u@h/db?pool_size=lots")


def test_payloads_stay_under_the_notify_limit() -> None:
    messages = [(f"job:{i:036d}", "succeeded") for i in range(1000)]
    payloads = pack("node", messages)
    assert len(payloads) > 1 and all(len(p.encode()) <= 7900 for p in payloads)
    import json

    unpacked = [tuple(m) for p in payloads for m in json.loads(p)["m"]]
    assert unpacked == messages


# --- outages ---


async def test_unreachable_database_is_store_unavailable() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        await store.open()


async def test_lost_connections_answer_unavailable_then_recover(nodes: Any, db_url: str) -> None:
    [a] = await nodes(1)
    await eng(a).enqueue([JobSpec(queue="q")])
    await terminate_backends(db_url)
    outcomes: list[str] = []
    for _ in range(50):
        try:
            await a.store.list_jobs(JobQuery())
            outcomes.append("ok")
        except StoreUnavailable:
            outcomes.append("unavailable")
        if outcomes[-1] == "ok":
            break
    assert outcomes[-1] == "ok"
    assert len(await a.store.list_jobs(JobQuery())) == 1


async def test_nul_characters_are_refused_as_invalid_input(nodes: Any) -> None:
    [a] = await nodes(1)
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="q", payload="nul \u0000 in json is fine")])
    with pytest.raises(InvalidInput):
        await eng(a).append_logs(job.id, [(None, "stdout", "raw \u0000 in text")])
    stored = await a.store.get(job.id)
    assert stored is not None and stored.payload == "nul \u0000 in json is fine"


async def test_transition_batch_is_one_transaction(nodes: Any) -> None:
    [a] = await nodes(1)
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="q")])
    [claimed] = await eng(a).claim(ClaimSpec(["q"], None, 1, 30.0, Worker("w")))
    now = eng(a).clock()
    [moved] = await a.store.transition(
        [Step(job.id, lambda j: complete(j, 1, now), claimed.lease_token)], now
    )
    assert not isinstance(moved, Exception) and moved.job.state == State.succeeded


@pytest.mark.parametrize("types", [None, ["a"]])
async def test_a_hand_over_reads_a_few_pages_however_many_jobs_are_queued(
    nodes: Any, db_url: str, types: list[str] | None
) -> None:
    """The hand-over's check that no queued job the claim wants comes first must look at the
    head of each queue (and type) by key. Asked as `priority >= the new job's`, its plan made
    once, with statistics, read the whole table: 5,000 queued jobs of another type here, for
    a claim of type a."""
    [node] = await nodes(1)
    await eng(node).enqueue([JobSpec(queue="q", type="b") for _ in range(5000)])
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ANALYZE jobs")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE hand AS {hand_over_sql(types is not None)}")
        job = eng(node).build(JobSpec(queue="q", type="a", priority=1), 1.0)
        head = ["NULL", "1.0", "'w'", "'key'", "'{q}'"] + (["'{a}'"] if types else [])
        values = ["$$" + str(v) + "$$" if v is not None else "NULL" for v in job_values(job)]
        pages = []
        for _ in range(3):  # the first call also reads the catalogs
            transaction = conn.transaction()
            await transaction.start()
            plan = await conn.fetchval(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE hand({', '.join(head + values)})"
            )
            await transaction.rollback()
            top = json.loads(plan)[0]["Plan"]
            pages.append(top["Shared Hit Blocks"] + top["Shared Read Blocks"])
    finally:
        await conn.close()
    assert max(pages[1:]) < 60, pages


async def test_a_job_handed_over_on_one_node_is_not_given_to_a_claim_on_another(
    nodes: Any,
) -> None:
    """The claim on the other node, woken or not, keeps waiting and takes the next job."""
    a, b = await nodes(2)
    spec = ClaimSpec(["q"], None, 1, None, Worker("w"))
    elsewhere = asyncio.create_task(eng(b).claim(spec, wait=20))
    here = asyncio.create_task(eng(a).claim(spec, wait=20))
    while len(eng(a).parking) == 0 or len(eng(b).parking) == 0:
        await asyncio.sleep(0.005)
    [(job, _)] = await eng(a).enqueue([JobSpec(queue="q")])
    assert [j.id for j in await asyncio.wait_for(here, 20)] == [job.id]
    await asyncio.sleep(0.3)  # time enough for a NOTIFY to wake it and for it to claim
    assert not elsewhere.done()
    [(other, _)] = await eng(b).enqueue([JobSpec(queue="q")])
    assert [j.id for j in await asyncio.wait_for(elsewhere, 20)] == [other.id]
