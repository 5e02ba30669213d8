"""The GraphQL schema (Strawberry, code first). ``schema.graphql`` is its committed SDL."""

from schema.root import build_schema, schema

__all__ = ["build_schema", "schema"]
