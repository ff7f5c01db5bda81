"""The auth store interface: users, API keys, queue owners, grants and dashboard sessions.

An auth store lives in the job store's database (tables from its migrations) and runs on the
job store's connections, so a write joins the same transactions: on SQLite through the one
writer thread, on PostgreSQL through the one pool. Each method is one atomic unit of work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from jobq.auth.model import ApiKey, Grant, Principal, Role, Session, User


class AuthStore(ABC):
    """Who may use jobq, and on which queues."""

    # users
    @abstractmethod
    async def has_users(self) -> bool:
        """Whether any user exists (then every request must authenticate)."""

    @abstractmethod
    async def add_user(self, user: User) -> None:
        """Conflict if the name is taken."""

    @abstractmethod
    async def get_user(self, name: str) -> User | None: ...

    @abstractmethod
    async def users(self) -> list[User]: ...

    # API keys
    @abstractmethod
    async def add_key(self, key: ApiKey) -> None:
        """NotFound if key.user does not exist."""

    @abstractmethod
    async def get_key(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    async def keys(self, user: str | None = None) -> list[ApiKey]: ...

    @abstractmethod
    async def revoke_key(self, key_id: str, now: float) -> bool:
        """End the key and its sessions; False if no such key or it was revoked before."""

    @abstractmethod
    async def key_used(self, key_id: str, now: float) -> None: ...

    # queue owners and grants
    @abstractmethod
    async def queue_owner(self, queue: str) -> str | None: ...

    @abstractmethod
    async def claim_queue(self, queue: str, user: str, now: float) -> str | None:
        """Make `user` the owner of `queue` if the queue is new: no owner, no grant, and
        unknown to jobq (no row in `queues`: never enqueued into, paused or claimed from).
        The owner after (None: an existing queue nobody owns)."""

    @abstractmethod
    async def set_queue_owner(self, queue: str, user: str, now: float) -> None:
        """NotFound if the user does not exist."""

    @abstractmethod
    async def grant(self, grant: Grant) -> None:
        """Give (or change) a user's role on a queue; NotFound if the user does not exist."""

    @abstractmethod
    async def revoke_grant(self, queue: str, user: str) -> bool: ...

    @abstractmethod
    async def forget_queue(self, queue: str) -> None:
        """Remove the queue's owner and grants (the queue was deleted)."""

    @abstractmethod
    async def grants(self, queue: str | None = None) -> list[Grant]: ...

    @abstractmethod
    async def roles(self, user: str) -> dict[str, Role]:
        """Every queue `user` owns or holds a grant on, with the role."""

    # server-wide secrets and dashboard sessions
    @abstractmethod
    async def secret(self, name: str, fresh: str) -> str:
        """The server-wide secret `name`, set to `fresh` by whoever asks first."""

    @abstractmethod
    async def add_session(self, session: Session) -> None:
        """Keep a dashboard session (and forget the expired ones)."""

    @abstractmethod
    async def session_user(self, session_id: str, now: float) -> Principal | None:
        """Who holds the session: None if it is unknown, ended, expired, or its key revoked."""

    @abstractmethod
    async def end_session(self, session_id: str) -> bool:
        """Sign out; False if there was no such session."""
