"""Users, keys, owners, grants and sessions in every auth store."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobq.auth import service
from jobq.auth.model import Role, Session
from jobq.auth.store import AuthStore, auth_store_for
from jobq.auth.store.sqlite import SQLiteAuthStore
from jobq.errors import Conflict, InvalidInput, NotFound
from jobq.model import QueueChange
from jobq.store.sqlite import SQLiteStore


async def test_users_are_unique_and_listed(auth_store: AuthStore) -> None:
    assert not await auth_store.has_users()
    await service.add_user(auth_store, "ann", True, 1.0)
    await service.add_user(auth_store, "bob", False, 2.0)
    assert await auth_store.has_users()
    with pytest.raises(Conflict):
        await service.add_user(auth_store, "ann", False, 3.0)
    with pytest.raises(InvalidInput):
        await service.add_user(auth_store, "has:colon", False, 3.0)
    assert [(u.name, u.admin) for u in await auth_store.users()] == [("ann", True), ("bob", False)]


async def test_keys_are_stored_as_hashes_and_revocable(auth_store: AuthStore) -> None:
    await service.add_user(auth_store, "ann", False, 1.0)
    record, key = await service.create_key(auth_store, "ann", "laptop", 2.0)
    stored = await auth_store.get_key(record.id)
    assert stored is not None and stored.hash == record.hash and key not in stored.hash
    with pytest.raises(NotFound):
        await service.create_key(auth_store, "nobody", "", 2.0)
    await auth_store.key_used(record.id, 5.0)
    assert [(k.id, k.last_used_at) for k in await auth_store.keys("ann")] == [(record.id, 5.0)]
    assert await auth_store.revoke_key(record.id, 6.0)
    assert not await auth_store.revoke_key(record.id, 7.0)
    again = await auth_store.get_key(record.id)
    assert again is not None and again.revoked_at == 6.0


async def test_the_first_claim_on_a_queue_makes_its_owner(auth_store: AuthStore) -> None:
    for name in ("ann", "bob"):
        await service.add_user(auth_store, name, False, 1.0)
    assert await auth_store.claim_queue("q", "ann", 2.0) == "ann"
    assert await auth_store.claim_queue("q", "bob", 3.0) == "ann"
    await service.grant(auth_store, "q", "bob", "viewer", 4.0)
    await service.grant(auth_store, "q", "bob", "worker", 5.0)  # a new role replaces the old
    assert await auth_store.roles("ann") == {"q": Role.owner}
    assert await auth_store.roles("bob") == {"q": Role.worker}
    with pytest.raises(InvalidInput):
        await service.grant(auth_store, "q", "bob", "owner", 6.0)
    with pytest.raises(NotFound):
        await service.grant(auth_store, "q", "nobody", "viewer", 6.0)
    await auth_store.set_queue_owner("q", "bob", 7.0)
    assert await auth_store.roles("bob") == {"q": Role.owner}
    assert await auth_store.revoke_grant("q", "bob")
    assert not await auth_store.revoke_grant("q", "bob")


async def test_a_secret_is_set_once(auth_store: AuthStore) -> None:
    first = await auth_store.secret("session", "aa")
    assert first == "aa"
    assert await auth_store.secret("session", "bb") == "aa"


async def test_sessions_end_on_sign_out_expiry_and_key_revocation(auth_store: AuthStore) -> None:
    await service.add_user(auth_store, "ann", True, 1.0)
    record, _ = await service.create_key(auth_store, "ann", "laptop", 2.0)
    for name, expires in (("a", 100.0), ("b", 100.0), ("c", 50.0)):
        await auth_store.add_session(Session(name, record.id, 10.0, expires))
    found = await auth_store.session_user("a", 20.0)
    assert found is not None and (found.user, found.admin, found.key_id) == ("ann", True, record.id)
    assert await auth_store.session_user("a", 100.0) is None  # expired
    assert await auth_store.session_user("nope", 20.0) is None
    assert await auth_store.end_session("a") and not await auth_store.end_session("a")
    assert await auth_store.session_user("a", 20.0) is None  # signed out
    await auth_store.add_session(Session("d", record.id, 60.0, 200.0))  # forgets the expired "c"
    assert not await auth_store.end_session("c")
    assert await auth_store.session_user("b", 20.0) is not None
    await auth_store.revoke_key(record.id, 30.0)
    assert await auth_store.session_user("b", 20.0) is None and not await auth_store.end_session(
        "b"
    )


async def test_sqlite_auth_writes_go_through_the_job_stores_one_writer(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    auth_store = auth_store_for(store)
    assert isinstance(auth_store, SQLiteAuthStore)
    assert auth_store._writer is store._writer and auth_store._readers is store._readers
    await store.open()
    try:
        await service.add_user(auth_store, "ann", False, 1.0)
        await store.configure_queue("taken", QueueChange(paused=True), 1.0)
        assert await auth_store.claim_queue("taken", "ann", 2.0) is None  # sees the job store
        assert await auth_store.claim_queue("fresh", "ann", 2.0) == "ann"
    finally:
        await store.close()
