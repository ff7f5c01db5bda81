"""The client's exception tree, mapped from the native error shape; the SSE reader."""

from __future__ import annotations

import pytest

from jobq.client import errors as e
from jobq.client.sse import SSEDecoder


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "malformed_json", e.InvalidRequest),
        (401, "unauthorized", e.Unauthorized),
        (403, "forbidden", e.Forbidden),
        (404, "not_found", e.NotFound),
        (409, "conflict", e.Conflict),
        (409, "stale_lease", e.StaleLease),
        (413, "too_large", e.PayloadTooLarge),
        (422, "invalid", e.InvalidRequest),
        (503, "store_unavailable", e.ServerUnavailable),
        (502, "bad_gateway", e.ServerUnavailable),
        (418, "teapot", e.ServerError),
    ],
)
def test_each_status_and_code_maps_to_its_exception(
    status: int, code: str, kind: type[e.ServerError]
) -> None:
    body = {"error": {"code": code, "message": "why", "details": {"id": "x"}}}
    err = e.error_for(status, body)
    assert type(err) is kind
    assert (err.status, err.code, err.message, err.details) == (status, code, "why", {"id": "x"})
    assert isinstance(err, e.ClientError)


def test_stale_lease_is_a_conflict() -> None:
    assert isinstance(e.error_for(409, {"error": {"code": "stale_lease"}}), e.Conflict)


def test_a_body_that_is_not_the_native_shape_still_maps_by_status() -> None:
    err = e.error_for(404, None, "<html>nope</html>")
    assert isinstance(err, e.NotFound)
    assert err.code == "http_error"
    assert err.message == "<html>nope</html>"


def test_an_error_without_a_message_uses_its_class_docstring() -> None:
    err = e.error_for(409, {"error": {"code": "stale_lease"}})
    assert err.message.startswith("The lease token is not the job's current lease")
    assert str(err) == f"409 stale_lease: {err.message}"


def test_sse_decoder_reads_events_and_skips_keepalives() -> None:
    decoder = SSEDecoder()
    lines = [": keep-alive", "", "id: 3", "event: log", 'data: {"text": "hi"}', "",
             "event: end", "data: plain", ""]  # fmt: skip
    events = [ev for line in lines if (ev := decoder.feed(line)) is not None]
    assert [(ev.event, ev.data, ev.id) for ev in events] == [
        ("log", {"text": "hi"}, "3"),
        ("end", "plain", "3"),
    ]
