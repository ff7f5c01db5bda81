"""What a job's free-form text may hold, on every interface and both stores: the one place.

PostgreSQL holds no NUL in text or jsonb, and no store can write a lone surrogate as UTF-8;
SQLite would keep both, so a job that worked on one store failed on the other (and a filtered
listing that met one failed for everyone). Such text is refused when it comes in, before
anything changes, on both stores the same way. Lengths are bounded here too, so no interface
lets a field grow without limit; the native schemas show the same numbers in OpenAPI.

JSON bodies (payloads, results, every field they carry) are checked once, as bytes, by
jobq.api.http.json_limits; the engine checks here what reaches it from anywhere else (headers,
forms, uploads, XML, query strings, the CLI).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from jobq.errors import InvalidInput

NAME_MAX = 200  # a queue, a type (Titan's image), a metadata key
META_VALUE_MAX = 10_000
UNIQUE_KEY_MAX = 500
URL_MAX = 2000  # a callback URL
MESSAGE_MAX = 100_000  # an error's code or message, a cancel's reason or details
STREAM_MAX = 100  # a log entry's stream name
SEQ_MAX = 2**63 - 1  # a sequence number (a job's seq, a log entry's): a signed 64-bit column

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# a callback URL is sent as it is: no whitespace or control characters anywhere in it
NOT_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\ud800-\udfff]")


def text(value: str, field: str, limit: int | None) -> str:
    """`value`, or InvalidInput if a store cannot keep it or it is over `limit` characters."""
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{field} is over {limit} characters", field=field, max_length=limit)
    if UNSTORABLE.search(value):
        raise InvalidInput(
            f"{field} holds a NUL character or a lone surrogate, which jobq cannot store",
            field=field,
        )
    return value


def metadata(values: Mapping[str, str], field: str = "metadata") -> None:
    for key, value in values.items():
        text(key, f"{field} key", NAME_MAX)
        text(value, f"{field}.{key[:NAME_MAX]}", META_VALUE_MAX)


def job(
    queue: str,
    kind: str,
    metadata_: Mapping[str, str],
    unique_key: str | None,
    callback: str | None,
) -> None:
    """The free-form text fields of a new job."""
    text(queue, "queue", NAME_MAX)
    text(kind, "type", NAME_MAX)
    metadata(metadata_)
    if unique_key is not None:
        text(unique_key, "unique_key", UNIQUE_KEY_MAX)
    if callback is not None:
        callback_url(callback)


def callback_url(url: str) -> str:
    """An http(s) URL with a host, no whitespace or control characters: one a delivery can
    use, so a callback is never accepted only to be retried in vain."""
    text(url, "callback_url", URL_MAX)
    if NOT_IN_URL.search(url):
        raise InvalidInput(
            "callback_url holds whitespace or control characters", field="callback_url"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("callback_url must be an http(s) URL with a host", field="callback_url")
    del port  # read only to refuse a port that is not a number
    return url


def json_strings(value: Any, field: str) -> None:
    """Every string in a JSON value (keys too) one a store can keep (small values: an error,
    a cancel's details, not payloads, which the JSON intake checked)."""
    for item in _strings(value):
        text(item, field, MESSAGE_MAX)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def log_entries(entries: Iterable[tuple[Any, str, str]]) -> None:
    for _, stream, line in entries:
        text(stream, "stream", STREAM_MAX)
        text(line, "log text", None)  # its size is the log limit's business
