"""The Authenticator: an API key to a Principal, cheaply, for every request of every interface.

Looking a key up costs one read; a short cache (`cache_seconds`) spares it on busy keys, and
`last_used_at` is written at most once a minute per key. A revocation made through this
process takes effect at once (the cache is dropped); one made by another process (the CLI on
the same database, another node) within `cache_seconds`.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable

from jobq.auth import keys
from jobq.auth.guard import MAX_QUEUES_PER_USER
from jobq.auth.model import GRANTABLE, ApiKey, Grant, Principal, Role, User
from jobq.auth.policy import Action, may
from jobq.auth.store.base import AuthStore
from jobq.errors import InvalidInput, NotFound, Unauthorized
from jobq.model import Operation

Clock = Callable[[], float]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
TOUCH_EVERY = 60.0
FAIL_LIMIT = 20  # failed authentications per client address ...
FAIL_WINDOW = 60.0  # ... in this many seconds, then 429


class FailureLimiter:
    """At most `limit` failed authentications per client address in any `window` seconds."""

    def __init__(
        self, limit: int = FAIL_LIMIT, window: float = FAIL_WINDOW, clock: Clock = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, None if it may now."""
        times = self._failures.get(address)
        if times is None:
            return None
        now = self.clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times[0] + self.window - now if len(times) >= self.limit else None

    def failed(self, address: str) -> None:
        if len(self._failures) > 100_000:  # an address flood: forget the oldest
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(address, deque()).append(self.clock())


class Authenticator:
    def __init__(
        self,
        store: AuthStore,
        clock: Clock = time.time,
        cache_seconds: float = 2.0,
        limiter: FailureLimiter | None = None,
        max_queues: int = MAX_QUEUES_PER_USER,
    ) -> None:
        self.store = store
        self.max_queues = max_queues  # queues a user may create (Guard.enqueue)
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.limiter = limiter or FailureLimiter()
        self._users_exist = False
        self._users_checked = float("-inf")
        self._principals: dict[str, tuple[Principal, float]] = {}
        self._roles: dict[str, tuple[dict[str, Role], float]] = {}
        self._touched: dict[str, float] = {}

    async def users_exist(self) -> bool:
        """Once users exist, auth stays on (re-checked at most every `cache_seconds` before)."""
        now = self.clock()
        if not self._users_exist and now - self._users_checked >= self.cache_seconds:
            self._users_exist = await self.store.has_users()
            self._users_checked = now
        return self._users_exist

    async def principal(self, key: str, user: str | None = None) -> Principal:
        """Who holds `key`; Unauthorized if it is unknown, revoked, or not `user`'s."""
        digest = keys.digest(key)
        now = self.clock()
        cached = self._principals.get(digest)
        if cached is not None and cached[1] > now:
            found = cached[0]
        else:
            found = await self._lookup(key)
            self._principals[digest] = (found, now + self.cache_seconds)
        if user is not None and user != found.user:
            raise Unauthorized("the key does not belong to this user")
        await self._touch(found, now)
        return found

    async def _lookup(self, key: str) -> Principal:
        key_id = keys.key_id_of(key)
        stored = None if key_id is None else await self.store.get_key(key_id)
        if stored is None or stored.revoked_at is not None or not keys.matches(key, stored.hash):
            raise Unauthorized("the API key is not valid")
        owner = await self.store.get_user(stored.user)
        if owner is None:
            raise Unauthorized("the API key is not valid")
        return Principal(owner.name, owner.admin, stored.id)

    async def _touch(self, principal: Principal, now: float) -> None:
        key_id = principal.key_id
        if key_id is not None and now - self._touched.get(key_id, float("-inf")) >= TOUCH_EVERY:
            self._touched[key_id] = now
            await self.store.key_used(key_id, now)

    async def roles(self, principal: Principal) -> dict[str, Role]:
        """The principal's role on each queue it has one on (cached briefly)."""
        if principal.user is None:
            return {}
        now = self.clock()
        cached = self._roles.get(principal.user)
        if cached is not None and cached[1] > now:
            return cached[0]
        roles = await self.store.roles(principal.user)
        self._roles[principal.user] = (roles, now + self.cache_seconds)
        return roles

    def forget(self) -> None:
        """Drop every cache: after a change to users, keys, owners or grants."""
        self._principals.clear()
        self._roles.clear()


# what each kind of operation does to a queue's jobs (jobq.engine.selection.ACTIONS)
OPERATION_ACTIONS = {
    "retry": Action.manage,
    "cancel": Action.manage,
    "delete": Action.manage,
    "purge": Action.administer,
    "drop_queue": Action.administer,
}


def operation_rights(auth: Authenticator) -> Callable[[Operation, str | None], Awaitable[bool]]:
    """Whether an operation's owner may still act on a queue (None: every queue, which only
    an administrator may): a background operation runs with its owner's rights as they are
    now, checked before each batch, as each request is (roles cached `cache_seconds`)."""

    async def may_act(op: Operation, queue: str | None) -> bool:
        if op.owner is None:  # begun in the open mode, where everyone is an administrator
            return True
        user = await auth.store.get_user(op.owner)
        if user is None:
            return False
        principal = Principal(user.name, user.admin)
        if principal.admin:
            return True
        if queue is None:
            return False
        role = (await auth.roles(principal)).get(queue)
        return may(principal, role, OPERATION_ACTIONS.get(op.action, Action.administer))

    return may_act


# --- administration, shared by the CLI (on the store) and the admin routes ---


def check_name(name: str, what: str = "user") -> str:
    if not NAME.match(name):
        raise InvalidInput(
            f"a {what} name is 1-100 letters, digits and . _ @ + -, starting with a letter "
            "or digit",
            name=name,
        )
    return name


async def add_user(store: AuthStore, name: str, admin: bool, now: float) -> User:
    user = User(check_name(name), admin, now)
    await store.add_user(user)
    return user


async def create_key(store: AuthStore, user: str, name: str, now: float) -> tuple[ApiKey, str]:
    """A new key for `user`: (its stored record, the key itself, to show once)."""
    if await store.get_user(user) is None:
        raise NotFound("user not found", user=user)
    key_id, key = keys.new_key()
    record = ApiKey(key_id, user, name, keys.digest(key), now)
    await store.add_key(record)
    return record, key


async def grant(store: AuthStore, queue: str, user: str, role: str, now: float) -> Grant:
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen not in GRANTABLE or chosen is None:
        allowed = [str(r) for r in GRANTABLE]
        raise InvalidInput(f"role must be one of {', '.join(allowed)}", role=role)
    if not queue or len(queue) > 200:
        raise InvalidInput("a queue name is 1-200 characters", queue=queue)
    g = Grant(queue, user, chosen, now)
    await store.grant(g)
    return g
