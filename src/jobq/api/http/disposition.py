"""`Content-Disposition: attachment` for a downloaded file, whatever its name holds.

A header is Latin-1 and one line: a name with other characters answered 500, one with CR or LF
broke the answer. The name goes out twice (RFC 6266): `filename*=UTF-8''...`, percent-encoded,
for every browser of the last decade, and an ASCII `filename="..."` for the rest, with anything
else replaced by `_`. Parts of a name taken from job data pass through `stem`: a job chooses
neither a path nor an extension of the file an operator's browser saves.
"""

from __future__ import annotations

import re
from urllib.parse import quote

NOT_IN_STEM = re.compile(r"[^A-Za-z0-9_-]+")  # no dot: the extension is the server's choice
NOT_IN_FALLBACK = re.compile(r"[^A-Za-z0-9 !#$&+,.:;=@^_`{}~()\[\]-]")  # no quote, no backslash
STEM_MAX = 64


def stem(value: str) -> str:
    """`value` as part of a file name: letters, digits, `_` and `-` only, at most STEM_MAX."""
    return NOT_IN_STEM.sub("_", value)[:STEM_MAX] or "_"


def attachment(filename: str) -> str:
    """The Content-Disposition value that saves the body as `filename` (see the module)."""
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename)  # no line breaks, no paths
    fallback = NOT_IN_FALLBACK.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
