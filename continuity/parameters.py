"""The call-center parameters row: written from the configuration, read by the jobs."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from continuity.models import CallCenterParameters

_ROW_ID = 1


async def save_call_center_parameters(values: dict[str, Any]) -> bool:
    """Store the configured parameters; return whether anything changed (no write if not).

    Replicas starting together may both find no row: the one that loses the insert reads
    the winner's row and updates it like any later start."""
    row = await CallCenterParameters.get_or_none(id=_ROW_ID)
    if row is None:
        try:
            await CallCenterParameters.create(id=_ROW_ID, **values)
            return True
        except IntegrityError:
            row = await CallCenterParameters.get(id=_ROW_ID)
    if all(getattr(row, key) == value for key, value in values.items()):
        return False
    row.update_from_dict(values)
    await row.save()
    return True


async def load_call_center_parameters() -> CallCenterParameters:
    return await CallCenterParameters.get(id=_ROW_ID)
