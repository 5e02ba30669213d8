"""Thin resolvers: read the session, check the caller's scope, call the domain, return its rows
or raise its errors. Nothing here knows GraphQL: ``schema`` turns ids, types and errors into the
API (``schema`` imports ``resolvers``, never the reverse; ``tests/test_layers.py`` checks it)."""
