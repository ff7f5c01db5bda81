"""Vidispine on the wire: content negotiation, query parameters, bodies, and errors.

Responses come in JSON, XML or (where the JobApi offers it) text/plain, chosen by Accept; XML
when the client accepts anything, as Vidispine does. Errors are an ErrorDocument
(`invalidInput`, `notAuthorized`, `forbidden`, `notFound`, `conflict`, `internalServer`) in the
same content type, or one line of text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from jobq.api.dialects.vidispine.xml import metadata_fields, to_xml
from jobq.api.http.errors import HttpError
from jobq.api.http.json_limits import read_json
from jobq.errors import InvalidInput

JSON = "application/json"
XML = "application/xml"
TEXT = "text/plain"
ALIASES = {"text/xml": XML}
OBJECTS = (XML, JSON)  # what every document endpoint offers, the default first


def _accepted(header: str) -> list[tuple[str, float]]:
    out = []
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            out.append((ALIASES.get(media.lower(), media.lower()), q))
    return out


def negotiate(request: Request, offered: Sequence[str] = OBJECTS) -> str:
    """The offered media type the client prefers; 406 when it accepts none of them."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return offered[0]
    best: tuple[float, int, str] | None = None
    for media, q in _accepted(header):
        for rank, candidate in enumerate(offered):
            if q > 0 and _matches(media, candidate):
                choice = (q, -rank, candidate)
                best = choice if best is None or choice > best else best
    if best is None:
        raise HTTPException(406, f"this resource is offered as {', '.join(offered)}")
    return best[2]


def _matches(pattern: str, media: str) -> bool:
    if pattern in ("*/*", media):
        return True
    return pattern.endswith("/*") and media.startswith(pattern[:-1])


def respond(media: str, root: str, doc: dict[str, Any], status: int = 200) -> Response:
    if media == XML:
        return Response(to_xml(root, doc), status, media_type=XML)
    return Response(orjson.dumps(doc), status, media_type=JSON)


def text(lines: Sequence[str], status: int = 200) -> Response:
    """text/plain, each line CRLF-terminated."""
    return Response("".join(f"{line}\r\n" for line in lines), status, media_type=TEXT)


# --- query parameters, spelled and checked as the JobApi documents them ---


def flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise InvalidInput(f"{name} must be true or false", context=name, value=raw)


def number(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(
            f"{name} must be an integer from {low} to {high}", context=name, value=raw
        )
    return value


def csv(request: Request, name: str) -> list[str] | None:
    """A comma-separated (or repeated) parameter; None when absent or `all`."""
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",")]
    values = [v for v in values if v]
    if not values or any(v.lower() == "all" for v in values):
        return None
    return values


def timestamp(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 timestamp", context=name, value=raw
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. Z)", context=name, value=raw)
    return moment.timestamp()


def key_values(values: Sequence[str], context: str) -> dict[str, str]:
    """`key=value` items (jobmetadata)."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"{context} wants key=value, got {item!r}", context=context, value=item
            )
        out[key] = value
    return out


# --- request bodies ---


async def metadata_body(request: Request) -> list[tuple[str, str]]:
    """The fields of an optional SimpleMetadataDocument body, in JSON or XML."""
    body = await request.body()
    if not body.strip():
        return []
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    media = ALIASES.get(media, media)
    if media == XML:
        return metadata_fields(body)
    if media == JSON:
        return _json_fields(body)
    raise HTTPException(415, "send a SimpleMetadataDocument as application/json or XML")


def _json_fields(body: bytes) -> list[tuple[str, str]]:
    doc = read_json(body)
    fields = doc.get("field", []) if isinstance(doc, dict) else None
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("key"), str) for f in fields
    ):
        raise InvalidInput(
            'expected a SimpleMetadataDocument: {"field": [{"key": ..., "value": ...}]}',
            context="body",
        )
    return [(f["key"], _text(f.get("value"))) for f in fields]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # Vidispine sometimes sends a value list
        return ",".join(_text(v) for v in value)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# --- errors ---

KIND = {
    400: "invalidInput",
    401: "notAuthorized",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    429: "notAuthorized",
}


def render_error(request: Request, err: HttpError) -> Response:
    """An ErrorDocument in the content type the client accepts (XML by default)."""
    status = 400 if err.status == 422 else err.status
    kind = KIND.get(status, "invalidInput" if 400 <= status < 500 else "internalServer")
    try:
        media = negotiate(request, (XML, JSON, TEXT))
    except HTTPException:
        media = XML
    if media == TEXT:
        response = Response(f"{err.message}\r\n", status, media_type=TEXT)
    else:
        response = respond(media, "ErrorDocument", {kind: _error_body(kind, err, request)}, status)
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response


def _error_body(kind: str, err: HttpError, request: Request) -> dict[str, Any]:
    body = _error_fields(kind, err, request)
    return {k: v for k, v in body.items() if v is not None}


def _error_fields(kind: str, err: HttpError, request: Request) -> dict[str, Any]:
    details = err.details
    if kind == "notFound":
        if "id" in details:
            return {"type": str(details.get("type", "job")), "id": str(details["id"])}
        return {"type": "resource", "id": request.url.path}
    if kind == "conflict":
        return {"type": "job", "id": details.get("id"), "explanation": err.message}
    if kind == "invalidInput":
        return {
            "context": str(details.get("context", "request")),
            "value": _detail_value(details.get("value")),
            "explanation": err.message,
        }
    return {"explanation": err.message}


def _detail_value(value: Any) -> str | None:
    return None if value is None else str(value)
