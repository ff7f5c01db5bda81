"""Benchmarks: jobq on SQLite and PostgreSQL, side by side with Celery, RQ and procrastinate.

Run with `make bench` (or `python -m bench --help`). See bench/results/README.md.
"""
