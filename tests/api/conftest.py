"""Fixtures of the API tests."""

from __future__ import annotations

from tests.api.queries import query_counter

__all__ = ["query_counter"]
