"""The process: the Starlette application, its lifespan, and the ``continuity`` CLI."""
