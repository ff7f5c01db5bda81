"""The HTTP interfaces: the native API, the dialects, health and docs."""
