"""The configuration that Tortoise's own CLI reads (``[tool.tortoise]`` in ``pyproject.toml``).

Kept apart from ``settings`` so that importing the settings has no side effects.
"""

from __future__ import annotations

from config.settings import load_settings
from continuity.db import tortoise_config

TORTOISE_ORM = tortoise_config(load_settings().database_url)
