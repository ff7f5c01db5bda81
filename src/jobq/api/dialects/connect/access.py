"""Who may use a content item's jobs: its owner, its collaborators and administrators.

The caller is whatever authentication put in `request.state.principal` (jobq.auth's
Principal: `user`, `admin`). No principal at all is the open loopback mode: allowed. An
administrator (or the open principal) passes. Anyone else needs a role on the content item
(the jobq queue): owner and collaborator may read and kill; other roles get 403; no role at
all gets 404, so a stranger cannot learn which content items exist.

Roles come from jobq.auth (`role_on`). Authentication itself (no key: 401) is the auth layer's
router dependency, mounted with `credentials=security.KEY` on Connect's Interface.
"""

from __future__ import annotations

from enum import StrEnum

from fastapi import Request

from jobq.api.http.security import guard_of
from jobq.errors import Forbidden, NotFound


class ContentAction(StrEnum):
    read = "read"  # jobs, a job, its log, tail, download, error
    kill = "kill"  # register a kill order


MAY: dict[str, frozenset[ContentAction]] = {
    "owner": frozenset(ContentAction),
    "collaborator": frozenset(ContentAction),
}


async def authorize(request: Request, guid: str, action: ContentAction) -> None:
    """Raise NotFound or Forbidden unless the caller may do `action` on content `guid`."""
    principal = getattr(request.state, "principal", None)
    if principal is None or getattr(principal, "admin", False):
        return
    role = await role_on(request, guid)
    if role is None:
        raise NotFound("content not found", guid=guid)
    if action not in MAY.get(str(role), frozenset()):
        raise Forbidden(
            f"a {role} of this content may not {action} its jobs", guid=guid, role=str(role)
        )


async def role_on(request: Request, guid: str) -> str | None:
    """The caller's role on content `guid` (None: none)."""
    role = (await guard_of(request)).role(guid)
    return None if role is None else str(role)
