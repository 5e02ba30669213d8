"""Automatic persisted queries, as Apollo Client and urql speak them.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``:

- with the hash only: the query registered under it runs; an unknown hash answers
  ``PersistedQueryNotFound`` (``extensions.code = PERSISTED_QUERY_NOT_FOUND``, HTTP 200, as
  Apollo Server answers it) and the client sends the query once with its hash;
- with the hash and the query: the hash must be the SHA-256 of the query's text (else
  ``PERSISTED_QUERY_HASH_MISMATCH``, HTTP 400, and nothing runs); the query is registered and
  runs.

The registry is in memory, per process, least recently used first out, bounded by
``MAX_QUERIES`` (2,000) and ``MAX_BYTES`` (16 MiB of query text): a replica that never saw a
query, or has evicted it, answers "not found" and the client registers it again. Only the text
is kept; who may run it is decided on every request (``schema.access``) as for any query.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from strawberry.http import GraphQLRequestData

from server.body import RequestRefused

MAX_QUERIES = 2000
MAX_BYTES = 16 * 1024 * 1024
HASH = re.compile(r"[0-9a-f]{64}")


class PersistedQueries:
    def __init__(self, max_queries: int = MAX_QUERIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_queries = max_queries
        self.max_bytes = max_bytes
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._queries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, sha256: str) -> str | None:
        query = self._queries.get(sha256)
        if query is not None:
            self._queries.move_to_end(sha256)
        return query

    def put(self, sha256: str, query: str) -> None:
        if sha256 in self._queries:
            self._queries.move_to_end(sha256)
            return
        size = len(query.encode())
        if size > self.max_bytes:
            return
        self._queries[sha256] = query
        self._bytes += size
        while len(self._queries) > self.max_queries or self._bytes > self.max_bytes:
            _old, evicted = self._queries.popitem(last=False)
            self._bytes -= len(evicted.encode())

    def resolve(self, request: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its query: looked up by hash, or registered under it. A request
        without ``extensions.persistedQuery`` passes unchanged."""
        persisted = persisted_extension(request.extensions)
        if persisted is None:
            return request
        sha256 = persisted
        if request.query is None:
            query = self.get(sha256)
            if query is None:
                raise RequestRefused(
                    "PersistedQueryNotFound", code="PERSISTED_QUERY_NOT_FOUND", status=200
                )
            return replace(request, query=query)
        if hashlib.sha256(request.query.encode()).hexdigest() != sha256:
            raise RequestRefused(
                "provided sha256Hash does not match the query",
                code="PERSISTED_QUERY_HASH_MISMATCH",
            )
        self.put(sha256, request.query)
        return request


def persisted_extension(extensions: dict[str, Any] | None) -> str | None:
    """The hash of a well-formed ``persistedQuery`` extension; None when there is none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestRefused("persistedQuery: only version 1 is supported")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not HASH.fullmatch(sha256):
        raise RequestRefused("persistedQuery.sha256Hash: 64 lower-case hex digits")
    return sha256
