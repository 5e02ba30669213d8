"""The root Query type: every read of the API, merged from one type per area (each area's
module declares its own root fields, so adding one touches one place and the access table)."""

from __future__ import annotations

from schema.catalog import CatalogQueries
from schema.customers import CustomerQueries
from schema.fulfilment import FulfilmentQueries
from schema.jobs import JobQueries
from schema.merge import merged
from schema.nodes import NodeQueries
from schema.notifications import NotificationQueries
from schema.orders import OrderQueries
from schema.programs import ProgramQueries
from schema.projections import ProjectionQueries
from schema.viewer import ViewerQueries

QUERY_TYPES = (
    ViewerQueries,
    NodeQueries,
    ProgramQueries,
    CatalogQueries,
    ProjectionQueries,
    CustomerQueries,
    OrderQueries,
    FulfilmentQueries,
    JobQueries,
    NotificationQueries,
)
Query = merged("Query", QUERY_TYPES, "Every read of the API (docs/API.md).")
