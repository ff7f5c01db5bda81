"""Plain data of authentication and authorisation, shared by the store and the engine side."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user may do on a queue. `owner` is held by one user per queue; the others are
    grants."""

    owner = "owner"
    collaborator = "collaborator"
    viewer = "viewer"
    worker = "worker"


GRANTABLE = (Role.collaborator, Role.viewer, Role.worker)


@dataclass(slots=True)
class User:
    name: str
    admin: bool = False
    created_at: float = 0.0


@dataclass(slots=True)
class ApiKey:
    """A stored key: never the key itself, only its SHA-256 (`hash`)."""

    id: str
    user: str
    name: str
    hash: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass(slots=True)
class Session:
    """A dashboard sign-in, kept on the server: `id` is the SHA-256 of the cookie's secret."""

    id: str
    key_id: str
    created_at: float
    expires_at: float


@dataclass(slots=True)
class Grant:
    queue: str
    user: str
    role: Role
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is. `user` None with `admin` True is the open mode (no users exist)."""

    user: str | None
    admin: bool
    key_id: str | None = None

    @property
    def open(self) -> bool:
        return self.user is None


OPEN = Principal(user=None, admin=True)
