"""Random bytes (lease keys, job ids) from a buffer of system randomness."""

from __future__ import annotations

import os
import re

from jobq.entropy import KEY_BYTES, REFILL, Entropy, lease_key, random_bytes
from jobq.model import new_ids


def test_bytes_are_never_handed_out_twice_across_refills() -> None:
    source = Entropy()
    chunks = [source.take(KEY_BYTES) for _ in range(3 * REFILL // KEY_BYTES + 5)]
    assert all(len(c) == KEY_BYTES for c in chunks)
    assert len(set(chunks)) == len(chunks)
    assert len(source.take(REFILL)) == REFILL  # more than a buffer's quarter: straight through


def test_lease_keys_are_url_safe_and_24_characters() -> None:
    keys = {lease_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", k) for k in keys)


def test_job_ids_stay_unique_uuid7s() -> None:
    ids = [i for _ in range(500) for i in new_ids(3, now=1_700_000_000.0)]
    assert len(set(ids)) == len(ids)
    uuid7 = r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert all(re.fullmatch(uuid7, i) for i in ids)


def test_a_forked_child_does_not_reuse_its_parents_buffer() -> None:
    random_bytes(1)  # the buffer is full now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first bytes, to the parent
        os.write(write, random_bytes(16))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100)
    os.close(read)
    assert len(child) == 16
    assert child != random_bytes(16)  # the parent's next bytes, which the child would have had
