"""Thin GraphQL resolvers: read the context, call the domain, shape the result."""
