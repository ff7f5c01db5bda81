"""A job's log has a size limit: what an append brings beyond it is cut, and the cut is marked.

Every store keeps, per job, the bytes (UTF-8) its log holds (`jobs.log_bytes`) and applies
`admit` to each append in the append's own transaction, so appends from every interface and
every node share one count. The entry that crosses the limit is cut to fit and followed by one
`system` entry saying so (its bytes count: a marked log is over its limit); later appends
store nothing (until the limit is raised). Reading a
log back goes by pages of at most PAGE_CHARS characters, so a download's memory is flat
whatever the log's size.
"""

from __future__ import annotations

from collections.abc import Sequence

Entry = tuple[float, str, str]  # (time, stream, text)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
PAGE_CHARS = 1024 * 1024  # text read back at a time (or one entry, whatever its size)
PAGE_ENTRIES = 10_000


def cut_mark(limit: int) -> str:
    return f"[jobq] this job's log reached its limit of {limit} bytes; later output is cut"


def admit(entries: Sequence[Entry], used: int, limit: int | None) -> tuple[list[Entry], int]:
    """The entries a log holding `used` bytes keeps under `limit` (None: no limit): those that
    fit, the one that crosses cut to fit and the cut mark after it; and the log's new size.
    The mark's bytes count too, so a marked log is over its limit: it keeps nothing more and
    is marked once (a log filled exactly is not marked until something is cut)."""
    kept: list[Entry] = []
    size = used
    for time, stream, text in entries:
        if limit is not None and size > limit:
            break
        encoded = text.encode()
        if limit is None or size + len(encoded) <= limit:
            kept.append((time, stream, text))
            size += len(encoded)
            continue
        head = encoded[: limit - size].decode(errors="ignore")
        if head:
            kept.append((time, stream, head))
        mark = cut_mark(limit)
        kept.append((time, "system", mark))
        size += len(head.encode()) + len(mark.encode())
    return kept, size
