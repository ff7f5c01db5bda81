"""The dashboard at /ui: server-rendered page shells whose data comes from the native API.

`mount(app, ...)` installs it: the page routes, the static files and a `Dashboard` (the
templates and where the API lives) in `app.state.dashboard`. Pages need a signed-in session
(`jobq.web.session`); their scripts call /api/v1 with that session cookie, so every number a
page shows passed the same permission guard as any API client (see jobq.web.session_auth).
"""

from jobq.web.app import Dashboard, mount

__all__ = ["Dashboard", "mount"]
