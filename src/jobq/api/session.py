"""Dashboard sign-in with an API key: a signed session cookie and CSRF-safe forms.

POST /ui/login checks the key (rate-limited like every API authentication) and sets
`jobq_session` = `KEYID.EXPIRES.HMAC`: HttpOnly, SameSite=Strict, Secure over https. The HMAC
key is a server-wide secret kept in the store, so every node accepts every node's cookies and
a restart signs nobody out. The cookie names the API key, not the user: revoking the key ends
its sessions. Forms are CSRF-safe twice over: a request another site sends is refused
(jobq.api.browsers), and every form carries the token of the `jobq_csrf` cookie (double
submit); a cross-site page can neither read that cookie nor, with SameSite=Strict, send the session.
The dashboard issue builds on `session_principal` and `check_form`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jobq.api.responses import json
from jobq.api.security import authenticator_of, client_address
from jobq.auth.model import OPEN, Principal
from jobq.errors import Forbidden, JobqError, RateLimited, Unauthorized

router = APIRouter()
SESSION = "jobq_session"
CSRF = "jobq_csrf"
LIFETIME = 12 * 3600


async def _signing_key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "session_key", None)
    if key is None:
        store = authenticator_of(request).store
        key = bytes.fromhex(await store.secret("session", secrets.token_hex(32)))
        request.app.state.session_key = key
    return key


def _sign(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


async def session_cookie(request: Request, key_id: str, now: float) -> str:
    message = f"{key_id}.{int(now + LIFETIME)}"
    return f"{message}.{_sign(await _signing_key(request), message)}"


async def session_principal(request: Request) -> Principal | None:
    """Who is signed in (OPEN when no users exist), None if nobody is."""
    auth = authenticator_of(request)
    if not await auth.users_exist():
        return OPEN
    key_id, expires, mac = [*request.cookies.get(SESSION, "").split("."), "", "", ""][:3]
    message = f"{key_id}.{expires}"
    if not mac or not hmac.compare_digest(_sign(await _signing_key(request), message), mac):
        return None
    if not expires.isdigit() or int(expires) < time.time():
        return None
    stored = await auth.store.get_key(key_id)
    if stored is None or stored.revoked_at is not None:
        return None
    user = await auth.store.get_user(stored.user)
    return None if user is None else Principal(user.name, user.admin, key_id)


def check_form(request: Request, form_token: object) -> None:
    """Refuse a form post without the matching CSRF token. (A post another site's page
    sends is refused before, by jobq.api.browsers.)"""
    cookie = request.cookies.get(CSRF, "")
    if not cookie or not isinstance(form_token, str) or not hmac.compare_digest(cookie, form_token):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page")


def _set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name, value, max_age=LIFETIME, path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _page(request: Request, message: str = "", status: int = 200) -> Response:
    token = request.cookies.get(CSRF) or secrets.token_urlsafe(24)
    note = f"<p role='alert'>{html.escape(message)}</p>" if message else ""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>jobq: sign in</title></head>"
        f"<body><h1>jobq</h1>{note}<form method='post' action='login'>"
        f"<input type='hidden' name='csrf' value='{html.escape(token)}'>"
        "<label>API key <input type='password' name='key' autocomplete='off' required></label>"
        "<button type='submit'>Sign in</button></form></body></html>"
    )
    response = HTMLResponse(body, status_code=status)
    _set_cookie(response, request, CSRF, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return _page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Sign in with an API key; sets the session cookie and goes to the dashboard."""
    form = await request.form()
    try:
        check_form(request, form.get("csrf"))
    except Forbidden as exc:
        return _page(request, exc.message, 403)
    auth = authenticator_of(request)
    address = client_address(request)
    wait = auth.limiter.retry_after(address)
    if wait is not None:
        return _page(request, RateLimited().message, 429)
    key = form.get("key")
    try:
        principal = await auth.principal(key if isinstance(key, str) else "")
    except JobqError:
        auth.limiter.failed(address)
        return _page(request, Unauthorized("the API key is not valid").message, 401)
    response = RedirectResponse("/ui/", status_code=303)
    assert principal.key_id is not None
    _set_cookie(
        response, request, SESSION, await session_cookie(request, principal.key_id, auth.clock())
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_form(request, form.get("csrf"))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION, path="/", httponly=True, samesite="strict")
    return response


@router.get("/session")
async def whoami(request: Request) -> Response:
    """Who this browser is signed in as (401 if nobody)."""
    principal = await session_principal(request)
    if principal is None:
        raise Unauthorized("not signed in")
    return json({"user": principal.user, "admin": principal.admin, "key_id": principal.key_id})
