"""Which role may do what: the whole permission table, as data.

Administrators may do everything. On a queue, its owner may do everything a queue allows; a
grant gives `collaborator`, `viewer` or `worker`. Seeing a queue (any role) decides whether
its jobs exist for the caller at all: without it, job routes answer 404 (see docs/auth.md).
"""

from __future__ import annotations

from enum import StrEnum

from jobq.auth.model import Principal, Role


class Action(StrEnum):
    read = "read"  # a job, its attempts; listings
    enqueue = "enqueue"
    manage = "manage"  # cancel, retry, delete, update a waiting job
    read_logs = "read_logs"
    work = "work"  # claim, heartbeat, complete, fail, release, upload logs
    administer = "administer"  # pause and resume the queue, grant and revoke roles


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.owner: frozenset(Action),
    Role.collaborator: frozenset({Action.read, Action.enqueue, Action.manage, Action.read_logs}),
    Role.viewer: frozenset({Action.read}),
    Role.worker: frozenset({Action.work}),
}


def may(principal: Principal, role: Role | None, action: Action) -> bool:
    """Whether `principal`, holding `role` on a queue (None: no role), may do `action` there."""
    if principal.admin:
        return True
    return role is not None and action in ALLOWED[role]


def sees(principal: Principal, role: Role | None) -> bool:
    """Whether the queue's jobs exist for `principal` (else: 404, not 403)."""
    return principal.admin or role is not None


def lists(principal: Principal, role: Role | None) -> bool:
    """Whether the queue's jobs appear in the principal's listings."""
    return may(principal, role, Action.read)
