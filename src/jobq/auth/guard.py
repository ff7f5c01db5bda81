"""One request's permission checks. Interfaces call these before asking the engine to act.

The Guard knows who asks (a Principal) and their role on each queue; it answers by raising
NotFound (the job does not exist for this caller: no role on its queue, so its existence must
not leak) or Forbidden (the caller sees the job or queue, but the role does not allow the
action). Administrators and the open mode pass every check without a database read.

"Not there" and "not yours" are one answer: `absent(asked)`, naming only the id the caller
asked for, in whatever form (a jobq id, Vidispine's VX-n); an interface that looks a job up
by its own id form hands what it found to `check` with the id as asked.

Reports without a lease token (Titan, Accepted) act only for the principal that claimed the
job: a claim records the caller's user in the job's `worker` (`claimant`); the engine's
`*_as` reports and `reporter` hold to jobq.engine.rules.may_report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from jobq.auth.model import Principal, Role
from jobq.auth.policy import Action, lists, may, sees
from jobq.auth.store.base import AuthStore
from jobq.engine import Engine
from jobq.engine.rules import may_report
from jobq.errors import Conflict, Forbidden, JobqError, NotFound
from jobq.model import Job, JobQuery, Worker

# queues every installation has from the start (Titan 0.2's one queue, the native default):
# they exist before anyone enqueues, so only an administrator gives them an owner
SHARED_QUEUES = frozenset({"default"})
MAX_QUEUES_PER_USER = 1000  # by enqueueing into new names (`jobq serve --max-queues-per-user`)


class Guard:
    def __init__(
        self,
        principal: Principal,
        roles: dict[str, Role],
        engine: Engine,
        auth_store: AuthStore,
        now: float = 0.0,
        on_change: Callable[[], None] = lambda: None,
        max_queues: int = MAX_QUEUES_PER_USER,
    ) -> None:
        self.principal = principal
        self.roles = roles
        self.engine = engine  # the jobs it checks
        self.auth_store = auth_store  # where a queue it creates gets its owner
        self.now = now
        self.on_change = on_change  # ownership changed: cached roles are stale
        self.max_queues = max_queues  # queues a user may own by creating them

    @property
    def unrestricted(self) -> bool:
        return self.principal.admin

    def role(self, queue: str) -> Role | None:
        return self.roles.get(queue)

    def verdict(self, job: Job | None, job_id: str, action: Action) -> JobqError | None:
        """Why the caller may not do `action` on `job` (None: it may); `job_id` is the id as
        the caller asked for it."""
        role = None if job is None else self.role(job.queue)
        if job is None or not sees(self.principal, role):
            return absent(job_id)
        if not may(self.principal, role, action):
            return _forbidden(action, job.queue, role)
        return None

    def check(self, job: Job | None, asked: str, action: Action) -> Job:
        """The job an interface found for the id the caller `asked` for (None: none), once
        the caller may do `action` on it; refused exactly as a job that does not exist when
        the caller may not see it."""
        refusal = self.verdict(job, asked, action)
        if refusal is not None:
            raise refusal
        assert job is not None
        return job

    def claimant(self, worker: Worker) -> Worker:
        """The worker of a claim, recording the caller's user as the holder of its leases."""
        return Worker(worker.name, worker.host, worker.pid, self.principal.user, worker.slots)

    async def reporter(self, job_id: str) -> None:
        """Raise Conflict unless the caller may report on the job without a token (write
        its log); the caller's right to work on it is checked first, by `job`."""
        if self.unrestricted:
            return
        job = await self.engine.find(job_id)
        if job is not None and not may_report(job, self.principal):
            raise Conflict("only the worker that claimed this job may report on it", id=job_id)

    async def job(self, job_id: str, action: Action) -> None:
        """Raise unless the caller may do `action` on the job (a no-op for admins)."""
        if self.unrestricted:
            return
        refusal = self.verdict(await self.engine.find(job_id), job_id, action)
        if refusal is not None:
            raise refusal

    async def jobs(self, ids: Sequence[str], action: Action) -> dict[str, JobqError]:
        """For a batch: the refusal of each id the caller may not act on."""
        if self.unrestricted or not ids:
            return {}
        found = {
            j.id: j for j in await self.engine.list_jobs(JobQuery(ids=list(ids), limit=len(ids)))
        }
        refusals = {i: self.verdict(found.get(i), i, action) for i in ids}
        return {i: r for i, r in refusals.items() if r is not None}

    def queue(self, queue: str, action: Action) -> None:
        """Raise Forbidden unless the caller may do `action` on `queue`."""
        if not may(self.principal, self.role(queue), action):
            raise _forbidden(action, queue, self.role(queue))

    def queues(self, queues: Iterable[str], action: Action) -> None:
        for queue in queues:
            self.queue(queue, action)

    async def enqueue(self, queues: Iterable[str]) -> None:
        """Raise unless the caller may enqueue into every queue. A user who enqueues into a
        queue that does not exist yet creates it and becomes its owner; an existing queue
        (jobs, grants, an owner, paused, or `default`) is never taken this way."""
        if self.unrestricted:
            return
        for queue in set(queues):
            if self.role(queue) is None:
                await self._create(queue)
            self.queue(queue, Action.enqueue)

    async def _create(self, queue: str) -> None:
        user = self.principal.user
        if user is None or queue in SHARED_QUEUES:
            return
        owned = sum(1 for role in self.roles.values() if role == Role.owner)
        if owned >= self.max_queues:
            raise Forbidden(
                f"cannot create queue {queue!r}: you own {owned} queues, the most a user may "
                "create on this server (an administrator can grant more, or raise "
                "--max-queues-per-user)",
                queue=queue,
                action="enqueue",
            )
        if await self.auth_store.claim_queue(queue, user, self.now) == user:
            self.roles = {**self.roles, queue: Role.owner}
            self.on_change()

    def listing(self, requested: list[str] | None) -> list[str] | None:
        """The queues a listing may show: None for all (admins), else the requested ones
        (or all) the caller may read; an empty list means nothing."""
        if self.unrestricted:
            return requested
        readable = [q for q, r in self.roles.items() if lists(self.principal, r)]
        if requested is None:
            return sorted(readable)
        return [q for q in requested if q in readable]

    def may(self, queue: str, action: Action) -> bool:
        """Whether the caller may do `action` on `queue` (for filtering, not refusing)."""
        return may(self.principal, self.role(queue), action)

    def queues_for(self, action: Action) -> list[str] | None:
        """Every queue the caller may do `action` on: None (every queue, without a list of
        them) for admins, for others those they hold a role on (never a read of other
        tenants' queues)."""
        if self.unrestricted:
            return None
        return sorted(q for q in self.roles if self.may(q, action))

    def visible_queues(self) -> list[str] | None:
        """The queues the caller sees (None: every queue, for admins)."""
        if self.unrestricted:
            return None
        return sorted(q for q, r in self.roles.items() if sees(self.principal, r))

    def sees_queue(self, queue: str) -> bool:
        return sees(self.principal, self.role(queue))

    def may_read(self, queue: str) -> bool:
        return lists(self.principal, self.role(queue))


def absent(asked: str) -> NotFound:
    """The one answer for a job that does not exist and for one the caller may not see."""
    return NotFound("job not found", id=asked)


def _forbidden(action: Action, queue: str, role: Role | None) -> Forbidden:
    held = f"your role there is {role}" if role is not None else "you have no role there"
    return Forbidden(
        f"not allowed to {action.replace('_', ' ')} on queue {queue!r}: {held}",
        queue=queue,
        action=str(action),
    )
