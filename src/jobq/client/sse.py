"""Reading server-sent events line by line (the framing of the native API's streams)."""

from __future__ import annotations

import json

from jobq.client.types import Event


class SSEDecoder:
    """Feed it lines; it returns an Event at each blank line that ends one."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._event = "message"
            return None
        text = "\n".join(self._data)
        try:
            data = json.loads(text)
        except ValueError:
            data = text
        event = Event(self._event, data, self._id)
        self._event, self._data = "message", []
        return event
