"""The torture suite's fixtures and end-of-run summary (see torture_fixtures.py)."""

from torture_fixtures import *  # noqa: F403
