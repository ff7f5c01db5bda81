"""Keys, the failure limiter, the permission table and protected mode, without a database."""

from __future__ import annotations

from jobq.auth import keys
from jobq.auth.model import OPEN, Principal, Role
from jobq.auth.policy import Action, may, sees
from jobq.auth.protect import bind_refusal, open_to_anyone
from jobq.auth.service import FailureLimiter


def test_a_key_is_random_and_checked_against_its_hash_only() -> None:
    key_id, key = keys.new_key()
    other_id, other = keys.new_key()
    assert key_id != other_id and key != other
    assert keys.key_id_of(key) == key_id
    stored = keys.digest(key)
    assert key not in stored and len(stored) == 64
    assert keys.matches(key, stored)
    assert not keys.matches(other, stored)
    assert not keys.matches(key[:-1] + ("A" if key[-1] != "A" else "B"), stored)


def test_malformed_keys_have_no_id() -> None:
    for bad in ("", "jobq_", "jobq_short_" + "x" * 43, "nope_abcdefghij_" + "x" * 43,
                "jobq_abcdefghij_tooshort", "jobq_abcdefghij" + "x" * 43):  # fmt: skip
        assert keys.key_id_of(bad) is None, bad


def test_the_limiter_refuses_after_the_limit_until_the_window_passes() -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    wait = limiter.retry_after("10.0.0.1")
    assert wait is not None and 59 < wait <= 60
    assert limiter.retry_after("10.0.0.2") is None  # per address
    now[0] += 61
    assert limiter.retry_after("10.0.0.1") is None


def test_roles_allow_what_issue_6_says() -> None:
    user = Principal("u", admin=False)
    assert all(may(user, Role.owner, a) for a in Action)
    assert {a for a in Action if may(user, Role.collaborator, a)} == {
        Action.read, Action.enqueue, Action.manage, Action.read_logs,
    }  # fmt: skip
    assert {a for a in Action if may(user, Role.viewer, a)} == {Action.read}
    assert {a for a in Action if may(user, Role.worker, a)} == {Action.work}
    assert not any(may(user, None, a) for a in Action)
    assert all(may(Principal("a", admin=True), None, a) for a in Action)
    assert all(may(OPEN, None, a) for a in Action)
    assert sees(user, Role.worker) and not sees(user, None)


def test_protected_mode_refuses_a_public_bind_without_users() -> None:
    assert bind_refusal("127.0.0.1", insecure=False, users_exist=False) is None
    assert bind_refusal("::1", insecure=False, users_exist=False) is None
    refusal = bind_refusal("0.0.0.0", insecure=False, users_exist=False)
    assert refusal is not None and "--insecure" in refusal
    assert bind_refusal("0.0.0.0", insecure=False, users_exist=True) is None
    assert bind_refusal("0.0.0.0", insecure=True, users_exist=False) is None
    assert open_to_anyone("0.0.0.0", insecure=True)
    assert not open_to_anyone("127.0.0.1", insecure=True)
    assert not open_to_anyone("0.0.0.0", insecure=False)
