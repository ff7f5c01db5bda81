"""Who may do what: users, API keys, queue owners and grants.

    model     User, ApiKey, Grant, Role, Principal (plain data, what the auth store keeps)
    keys      making, parsing and checking API keys
    policy    which role allows which action (pure)
    service   Authenticator: a key to a Principal, with a short cache and a failure limiter
    guard     Guard: one request's permission checks against queues and jobs
    store     AuthStore: users, keys, owners, grants and sessions, one per database, on the
              job store's connections (`auth_store_for(store)`)

HTTP lives in `jobq.api.http.security` (credential schemes) and `jobq.api.native.admin`
(admin routes).
"""
