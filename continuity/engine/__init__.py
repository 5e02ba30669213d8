"""The schedule engine: pure date and occurrence arithmetic (no database, no GraphQL)."""
