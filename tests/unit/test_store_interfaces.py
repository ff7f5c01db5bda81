"""The job store keeps jobs; users, keys, grants and sessions are the auth store's."""

from __future__ import annotations

import inspect

from jobq.auth.store import AuthStore
from jobq.store.base import Store


def methods(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if inspect.isfunction(v) or isinstance(v, property)}


def test_the_job_store_holds_no_auth_methods_and_stays_small() -> None:
    assert not methods(Store) & methods(AuthStore)
    assert {"has_users", "claim_queue", "roles", "session_user"} <= methods(AuthStore)
    assert len(methods(Store)) <= 35
