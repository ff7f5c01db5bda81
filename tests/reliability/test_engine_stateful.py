"""A Hypothesis state machine drives the engine (over a real SQLite file) and a simple model of
the state table side by side: after every step the states must agree, a job must be held by at
most one lease token (every older token is refused), and a finished job must stay finished."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from jobq.engine import Defaults, Engine, JobSpec
from jobq.errors import JobqError, NotFound
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.states import TERMINAL, State
from jobq.store.sqlite import SQLiteStore
from tests.reliability.figures import record, size

pytestmark = pytest.mark.reliability
LEASE, MAX_ATTEMPTS, BACKOFF = 10.0, 3, 5.0
STEPS = {"examples": size(30, 300), "steps": size(40, 100)}
COUNTS: dict[str, int] = {"steps": 0, "runs": 0}


@dataclass
class Modelled:
    """What the state table says a job is, and the lease the model expects it to hold."""

    state: State
    attempt: int = 0
    token: str | None = None
    lease_expires_at: float = 0.0
    cancel_requested: bool = False
    run_at: float = 0.0


class EngineMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")
    tokens = Bundle("tokens")

    @initialize()
    def open_engine(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.TemporaryDirectory()
        self.store = SQLiteStore(str(Path(self.dir.name) / "jobq.db"))
        self.run(self.store.open())
        self.now = 1_000_000.0
        defaults = Defaults(lease_seconds=LEASE, max_attempts=MAX_ATTEMPTS,
                            backoff_base=BACKOFF, backoff_max=BACKOFF)  # fmt: skip
        self.engine = Engine(self.store, Notifier(), defaults, clock=lambda: self.now)
        self.model: dict[str, Modelled] = {}
        self.deleted: set[str] = set()
        self.finished: dict[str, State] = {}
        COUNTS["runs"] += 1

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.run(self.store.close())
            self.loop.close()
            self.dir.cleanup()

    def run(self, coro: Any) -> Any:
        COUNTS["steps"] += 1
        return self.loop.run_until_complete(coro)

    def refused(self, coro: Any) -> bool:
        try:
            self.run(coro)
        except JobqError:
            return True
        return False

    # --- rules ---

    @rule(target=jobs, n=st.integers(1, 3))
    def enqueue(self, n: int) -> Any:
        inserted = self.run(self.engine.enqueue([JobSpec(queue="q") for _ in range(n)]))
        for job, created in inserted:
            assert created and job.state == State.queued
            self.model[job.id] = Modelled(State.queued)
        return multiple(*(job.id for job, _ in inserted))

    @rule(target=tokens, limit=st.integers(1, 3))
    def claim(self, limit: int) -> Any:
        spec = ClaimSpec(["q"], None, limit, None, Worker("w"))
        claimed = self.run(self.engine.claim(spec))
        waiting = [i for i, m in self.model.items() if m.state == State.queued]
        assert len(claimed) == min(limit, len(waiting))
        for job in claimed:
            m = self.model[job.id]
            assert m.state == State.queued, (job.id, m)
            assert job.lease_token and job.lease_token != m.token
            m.state, m.token, m.attempt = State.running, job.lease_token, m.attempt + 1
            m.lease_expires_at, m.cancel_requested = self.now + LEASE, False
            assert job.attempt == m.attempt
        return multiple(*((job.id, job.lease_token) for job in claimed))

    def holds(self, held: tuple[str, str]) -> bool:
        m = self.model.get(held[0])
        return m is not None and m.state == State.running and m.token == held[1]

    @rule(held=tokens)
    def heartbeat(self, held: tuple[str, str]) -> None:
        valid = self.holds(held)
        assert self.refused(self.engine.heartbeat(*held)) != valid
        if valid:
            self.model[held[0]].lease_expires_at = self.now + LEASE

    @rule(held=tokens)
    def complete(self, held: tuple[str, str]) -> None:
        valid = self.holds(held)
        assert self.refused(self.engine.complete(*held, result=1)) != valid
        if valid:
            self.model[held[0]].state = State.succeeded

    @rule(held=tokens, retryable=st.booleans())
    def fail(self, held: tuple[str, str], retryable: bool) -> None:
        valid = self.holds(held)
        error = {"code": "boom", "message": "boom"}
        try:
            job = self.run(self.engine.fail(*held, error=error, retryable=retryable))
        except JobqError:
            assert not valid
            return
        assert valid
        m = self.model[held[0]]
        if m.cancel_requested:
            m.state = State.cancelled
        elif retryable and m.attempt < MAX_ATTEMPTS:
            m.state, m.run_at = State.scheduled, job.run_at
            assert self.now + BACKOFF / 2 <= job.run_at <= self.now + BACKOFF
        else:
            m.state = State.failed
        m.token = None

    @rule(held=tokens)
    def release(self, held: tuple[str, str]) -> None:
        valid = self.holds(held)
        assert self.refused(self.engine.release(*held)) != valid
        if valid:
            m = self.model[held[0]]
            m.state, m.token, m.attempt, m.cancel_requested = (
                State.queued,
                None,
                m.attempt - 1,
                False,
            )

    @rule(held=tokens, seconds=st.sampled_from([0.0, 3.0, LEASE]))
    def snooze(self, held: tuple[str, str], seconds: float) -> None:
        valid = self.holds(held)
        assert self.refused(self.engine.snooze(*held, seconds)) != valid
        if valid:
            m = self.model[held[0]]
            if m.cancel_requested:
                m.state = State.cancelled
            else:
                m.state = State.scheduled if seconds > 0 else State.queued
                m.run_at, m.attempt = self.now + seconds, m.attempt - 1
            m.token = None

    @rule(job_id=jobs)
    def cancel(self, job_id: str) -> None:
        m = self.model.get(job_id)
        refused = self.refused(self.engine.cancel(job_id))
        if m is None or m.state in TERMINAL:
            assert refused
        elif m.state == State.running:
            assert not refused
            m.cancel_requested = True
        else:
            assert not refused
            m.state = State.cancelled

    @rule(seconds=st.sampled_from([0.5, 3.0, BACKOFF, LEASE, LEASE + 1]))
    def advance_clock(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def expire(self) -> None:
        moved = self.run(self.engine.expire_overdue(self.now))
        overdue = [m for m in self.model.values()
                   if m.state == State.running and m.lease_expires_at <= self.now]  # fmt: skip
        assert moved == len(overdue)
        for m in overdue:
            if m.cancel_requested:
                m.state = State.cancelled
            elif m.attempt >= MAX_ATTEMPTS:
                m.state = State.failed
            else:
                m.state = State.queued
            m.token = None

    @rule()
    def promote(self) -> None:
        moved = self.run(self.engine.promote_due(self.now))
        due = [m for m in self.model.values()
               if m.state == State.scheduled and m.run_at <= self.now]  # fmt: skip
        assert moved == len(due)
        for m in due:
            m.state = State.queued

    @rule(target=jobs, job_id=jobs)
    def retry(self, job_id: str) -> Any:
        m = self.model.get(job_id)
        try:
            job = self.run(self.engine.retry(job_id))
        except JobqError:
            assert m is None or m.state not in TERMINAL
            return multiple()
        assert m is not None and m.state in TERMINAL and job.retry_of == job_id
        self.model[job.id] = Modelled(State.queued)
        return job.id

    @rule(job_id=consumes(jobs))
    def delete(self, job_id: str) -> None:
        m = self.model.get(job_id)
        [had] = self.run(self.engine.delete([job_id]))
        if m is None:
            assert had is None
            return
        assert had == m.state
        if m.state in TERMINAL:
            del self.model[job_id]
            self.deleted.add(job_id)

    # --- invariants ---

    @invariant()
    def states_match_the_model(self) -> None:
        if not hasattr(self, "engine"):
            return
        for job_id, m in self.model.items():
            job = self.run(self.engine.get(job_id))
            assert job.state == m.state, (job_id, job.state, m)
            assert job.lease_token == (m.token if m.state == State.running else None)
            assert job.attempt == m.attempt and job.cancel_requested == m.cancel_requested

    @invariant()
    def finished_jobs_stay_finished(self) -> None:
        if not hasattr(self, "engine"):
            return
        for job_id, m in self.model.items():
            if job_id in self.finished:
                assert m.state == self.finished[job_id]
            elif m.state in TERMINAL:
                self.finished[job_id] = m.state
        for job_id in list(self.deleted)[-3:]:
            with pytest.raises(NotFound):
                self.run(self.engine.get(job_id))


EngineMachine.TestCase.settings = settings(
    max_examples=STEPS["examples"], stateful_step_count=STEPS["steps"], deadline=None,
    database=None, suppress_health_check=list(HealthCheck),
)  # fmt: skip


def test_the_engine_follows_the_state_table_model() -> None:
    EngineMachine.TestCase().runTest()
    record("engine_stateful", runs=COUNTS["runs"], engine_calls=COUNTS["steps"],
           divergences=0)  # fmt: skip
