"""One request's permission checks. Interfaces call these before asking the engine to act.

The Guard knows who asks (a Principal) and their role on each queue; it answers by raising
NotFound (the job does not exist for this caller: no role on its queue, so its existence must
not leak) or Forbidden (the caller sees the job or queue, but the role does not allow the
action). Administrators and the open mode pass every check without a database read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from jobq.auth.model import Principal, Role
from jobq.auth.policy import Action, lists, may, sees
from jobq.errors import Forbidden, JobqError, NotFound
from jobq.model import Job, JobQuery
from jobq.store.base import Store


class Guard:
    def __init__(
        self,
        principal: Principal,
        roles: dict[str, Role],
        store: Store,
        now: float = 0.0,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.principal = principal
        self.roles = roles
        self.store = store
        self.now = now
        self.on_change = on_change  # ownership changed: cached roles are stale

    @property
    def unrestricted(self) -> bool:
        return self.principal.admin

    def role(self, queue: str) -> Role | None:
        return self.roles.get(queue)

    def verdict(self, job: Job | None, job_id: str, action: Action) -> JobqError | None:
        """Why the caller may not do `action` on `job` (None: it may)."""
        role = None if job is None else self.role(job.queue)
        if job is None or not sees(self.principal, role):
            return NotFound("job not found", id=job_id)
        if not may(self.principal, role, action):
            return _forbidden(action, job.queue, role)
        return None

    async def job(self, job_id: str, action: Action) -> None:
        """Raise unless the caller may do `action` on the job (a no-op for admins)."""
        if self.unrestricted:
            return
        refusal = self.verdict(await self.store.get(job_id), job_id, action)
        if refusal is not None:
            raise refusal

    async def jobs(self, ids: Sequence[str], action: Action) -> dict[str, JobqError]:
        """For a batch: the refusal of each id the caller may not act on."""
        if self.unrestricted or not ids:
            return {}
        found = {
            j.id: j for j in await self.store.list_jobs(JobQuery(ids=list(ids), limit=len(ids)))
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
        """Raise unless the caller may enqueue into every queue; the first user to enqueue
        into a queue with no owner becomes its owner."""
        if self.unrestricted:
            return
        for queue in set(queues):
            if self.role(queue) is None and self.principal.user is not None:
                owner = await self.store.claim_queue(queue, self.principal.user, self.now)
                if owner == self.principal.user:
                    self.roles = {**self.roles, queue: Role.owner}
                    self.on_change()
            self.queue(queue, Action.enqueue)

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

    async def queues_for(self, action: Action) -> list[str]:
        """Every queue the caller may do `action` on: for admins every queue the store knows,
        for others those they hold a role on (never a read of other tenants' queues)."""
        if self.unrestricted:
            return await self.store.queue_names()
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


def _forbidden(action: Action, queue: str, role: Role | None) -> Forbidden:
    held = f"your role there is {role}" if role is not None else "you have no role there"
    return Forbidden(
        f"not allowed to {action.replace('_', ' ')} on queue {queue!r}: {held}",
        queue=queue,
        action=str(action),
    )
