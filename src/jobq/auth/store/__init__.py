"""Where users, API keys, queue owners, grants and dashboard sessions are kept."""
