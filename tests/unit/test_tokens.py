"""Lease keys from a buffer of system randomness."""

from __future__ import annotations

import os
import re

from jobq.tokens import KEY_BYTES, REFILL, KeySource, lease_key


def test_keys_are_url_safe_of_the_usual_length_and_never_repeat_across_refills() -> None:
    source = KeySource()
    keys = [source.key() for _ in range(3 * REFILL // KEY_BYTES + 5)]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", k) for k in keys)


def test_a_forked_child_does_not_reuse_its_parents_buffer() -> None:
    lease_key()  # the buffer is full now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first key, to the parent
        os.write(write, lease_key().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", child)
    assert child != lease_key()  # the parent's next key, which the child would have taken
