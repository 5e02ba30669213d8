"""The root Mutation type: every change the API makes, merged from one type per area where
each mutation is declared once (``strawberry.mutation(resolver=…)``). Each takes one ``input``
and returns a payload with ``userErrors``; a mutation that reports errors has written nothing."""

from __future__ import annotations

from schema.bulk import BulkMutations
from schema.changes import ChangeMutations
from schema.customers import CustomerMutations
from schema.fulfilment import FulfilmentMutations
from schema.jobs import JobMutations
from schema.merge import merged
from schema.notifications import NotificationMutations
from schema.placement import PlacementMutations
from schema.rules import RuleMutations

MUTATION_TYPES = (
    RuleMutations,
    CustomerMutations,
    PlacementMutations,
    ChangeMutations,
    JobMutations,
    FulfilmentMutations,
    BulkMutations,
    NotificationMutations,
)
Mutation = merged(
    "Mutation",
    MUTATION_TYPES,
    "Every change the API makes: one `input` each, a payload with `userErrors` (docs/API.md).",
)
