"""Queries over programs (shared data: every role reads it)."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from continuity import models


def programs(active: bool | None) -> QuerySet[models.Program]:
    query = models.Program.all()
    if active is not None:
        query = query.filter(active=active)
    return query


async def program_by_code(code: str) -> models.Program | None:
    return await models.Program.get_or_none(code=code.strip())
