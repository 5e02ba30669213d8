"""Queries over programs."""

from __future__ import annotations

from continuity import models
from continuity.errors import ContinuityError
from resolvers.context import Info
from resolvers.inputs import check_arguments
from schema.programs import Program


async def resolve_programs(info: Info, active: bool | None = None) -> list[Program]:
    query = models.Program.all().order_by("code")
    if active is not None:
        query = query.filter(active=active)
    rows = await query
    versions = await info.context.loaders.latest_version_by_program.load_many(
        [row.id for row in rows]
    )
    return [Program.from_rows(row, version) for row, version in zip(rows, versions, strict=True)]


async def resolve_program(info: Info, program_id: str) -> Program | None:
    try:
        check_arguments(id=program_id)
    except ContinuityError:
        return None  # no program has such an id
    row = await models.Program.get_or_none(code=program_id)
    return await Program.build(row, info) if row else None
