"""Continuity domain: models, schedule engine and order operations.

Nothing here imports the interfaces (``schema``, ``resolvers``, ``scheduler``, ``server``):
they call the domain, never the other way round.
"""
