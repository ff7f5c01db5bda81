"""The dashboard's session cookie as credentials for the native API.

The dashboard's pages call /api/v1 from the browser, so every call goes through the same
authentication and permission guard as any other client. A request with no Authorization
header but a `jobq_session` cookie is authenticated by the cookie; a request that changes
anything (any method but GET, HEAD, OPTIONS) must then also carry the CSRF token of the
`jobq_csrf` cookie in an `X-CSRF-Token` header and must not name a foreign Origin (the checks
of `session.check_form`). A request with an Authorization header is judged by it alone.
"""

from __future__ import annotations

from fastapi import Request

from jobq.api.http import security
from jobq.errors import Unauthorized
from jobq.web import session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def authenticate(scheme: security.Scheme, then: security.Check | None = None) -> security.Check:
    """Like `security.authenticate(scheme, then)`, also accepting the dashboard's session."""
    return security.authenticate(scheme, then, authenticate_request)


async def authenticate_request(request: Request, scheme: security.Scheme) -> None:
    if "authorization" in request.headers or session.SESSION not in request.cookies:
        await security.authenticate_request(request, scheme)
        return
    principal = await session.session_principal(request)
    if principal is None:
        exc = Unauthorized("the dashboard session has ended; sign in again")
        exc.headers = {"WWW-Authenticate": scheme.challenge}
        raise exc
    if request.method not in SAFE_METHODS:
        session.check_form(request, request.headers.get(CSRF_HEADER))
    request.state.principal = principal
    request.state.user = principal.user
