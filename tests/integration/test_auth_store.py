"""Users, keys, owners and grants in every store."""

from __future__ import annotations

import pytest

from jobq.auth import service
from jobq.auth.model import Role, Session
from jobq.errors import Conflict, InvalidInput, NotFound
from jobq.store.base import Store


async def test_users_are_unique_and_listed(store: Store) -> None:
    assert not await store.has_users()
    await service.add_user(store, "ann", True, 1.0)
    await service.add_user(store, "bob", False, 2.0)
    assert await store.has_users()
    with pytest.raises(Conflict):
        await service.add_user(store, "ann", False, 3.0)
    with pytest.raises(InvalidInput):
        await service.add_user(store, "has:colon", False, 3.0)
    assert [(u.name, u.admin) for u in await store.users()] == [("ann", True), ("bob", False)]


async def test_keys_are_stored_as_hashes_and_revocable(store: Store) -> None:
    await service.add_user(store, "ann", False, 1.0)
    record, key = await service.create_key(store, "ann", "laptop", 2.0)
    stored = await store.get_key(record.id)
    assert stored is not None and stored.hash == record.hash and key not in stored.hash
    with pytest.raises(NotFound):
        await service.create_key(store, "nobody", "", 2.0)
    await store.key_used(record.id, 5.0)
    assert [(k.id, k.last_used_at) for k in await store.keys("ann")] == [(record.id, 5.0)]
    assert await store.revoke_key(record.id, 6.0)
    assert not await store.revoke_key(record.id, 7.0)
    again = await store.get_key(record.id)
    assert again is not None and again.revoked_at == 6.0


async def test_the_first_claim_on_a_queue_makes_its_owner(store: Store) -> None:
    for name in ("ann", "bob"):
        await service.add_user(store, name, False, 1.0)
    assert await store.claim_queue("q", "ann", 2.0) == "ann"
    assert await store.claim_queue("q", "bob", 3.0) == "ann"
    await service.grant(store, "q", "bob", "viewer", 4.0)
    await service.grant(store, "q", "bob", "worker", 5.0)  # a new role replaces the old
    assert await store.roles("ann") == {"q": Role.owner}
    assert await store.roles("bob") == {"q": Role.worker}
    with pytest.raises(InvalidInput):
        await service.grant(store, "q", "bob", "owner", 6.0)
    with pytest.raises(NotFound):
        await service.grant(store, "q", "nobody", "viewer", 6.0)
    await store.set_queue_owner("q", "bob", 7.0)
    assert await store.roles("bob") == {"q": Role.owner}
    assert await store.revoke_grant("q", "bob")
    assert not await store.revoke_grant("q", "bob")


async def test_a_secret_is_set_once(store: Store) -> None:
    first = await store.secret("session", "aa")
    assert first == "aa"
    assert await store.secret("session", "bb") == "aa"


async def test_sessions_end_on_sign_out_expiry_and_key_revocation(store: Store) -> None:
    await service.add_user(store, "ann", True, 1.0)
    record, _ = await service.create_key(store, "ann", "laptop", 2.0)
    for name, expires in (("a", 100.0), ("b", 100.0), ("c", 50.0)):
        await store.add_session(Session(name, record.id, 10.0, expires))
    found = await store.session_user("a", 20.0)
    assert found is not None and (found.user, found.admin, found.key_id) == ("ann", True, record.id)
    assert await store.session_user("a", 100.0) is None  # expired
    assert await store.session_user("nope", 20.0) is None
    assert await store.end_session("a") and not await store.end_session("a")
    assert await store.session_user("a", 20.0) is None  # signed out
    await store.add_session(Session("d", record.id, 60.0, 200.0))  # forgets the expired "c"
    assert not await store.end_session("c")
    assert await store.session_user("b", 20.0) is not None
    await store.revoke_key(record.id, 30.0)
    assert await store.session_user("b", 20.0) is None and not await store.end_session("b")
