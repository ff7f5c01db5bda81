"""Dashboard sign-in with an API key: a session kept on the server, and CSRF-safe forms.

POST /ui/login checks the key (rate-limited like every API authentication), stores a session
(the SHA-256 of a random 256-bit secret, the key it was opened with, when it expires) and sets
`jobq_session` = the secret: HttpOnly, SameSite=Strict, Secure over https, 12 hours. Every
node reads the same store, so every node knows every session and a restart signs nobody out.
Signing out deletes the session, so a copy of the cookie stops working at once; revoking the
key deletes its sessions, and a session of a revoked key or a removed user is never honoured
(the lookup joins them). Forms are CSRF-safe twice over: a request another site sends is
refused (jobq.api.http.browsers), and every form carries the token of the `jobq_csrf` cookie
(double submit); a cross-site page can neither read that cookie nor, with SameSite=Strict,
send the session. The dashboard builds on `session_principal` and `check_form`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jobq.api.http.responses import json
from jobq.api.http.security import authenticator_of, client_address
from jobq.auth.model import OPEN, Principal, Session
from jobq.errors import Forbidden, JobqError, RateLimited, Unauthorized

router = APIRouter()
SESSION = "jobq_session"
CSRF = "jobq_csrf"
LIFETIME = 12 * 3600


def session_id(secret: str) -> str:
    """What the store keeps of a session's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def open_session(request: Request, key_id: str, now: float) -> str:
    """Store a new session of `key_id`; the secret its cookie holds."""
    secret = secrets.token_urlsafe(32)
    session = Session(session_id(secret), key_id, now, now + LIFETIME)
    await authenticator_of(request).store.add_session(session)
    return secret


async def session_principal(request: Request) -> Principal | None:
    """Who is signed in (OPEN when no users exist), None if nobody is."""
    auth = authenticator_of(request)
    if not await auth.users_exist():
        return OPEN
    secret = request.cookies.get(SESSION, "")
    if not secret or len(secret) > 100:
        return None
    return await auth.store.session_user(session_id(secret), auth.clock())


def check_form(request: Request, form_token: object) -> None:
    """Refuse a form post without the matching CSRF token. (A post another site's page
    sends is refused before, by jobq.api.http.browsers.)"""
    cookie = request.cookies.get(CSRF, "")
    if not cookie or not isinstance(form_token, str) or not hmac.compare_digest(cookie, form_token):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page")


def _set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=LIFETIME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _page(request: Request, message: str = "", status: int = 200) -> Response:
    """The sign-in page (templates/login.html), with `message` as an alert."""
    token = request.cookies.get(CSRF) or secrets.token_urlsafe(24)
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    dashboard = request.app.state.dashboard
    body = dashboard.template("login").substitute(
        root=dashboard.root, note=note, csrf=html.escape(token)
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
        response, request, SESSION, await open_session(request, principal.key_id, auth.clock())
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_form(request, form.get("csrf"))
    secret = request.cookies.get(SESSION)
    if secret:
        await authenticator_of(request).store.end_session(session_id(secret))
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
