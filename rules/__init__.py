"""Merchandisers' rule files: the catalog, payment schedules and continuity programs.

``load_rules`` reads a rules directory and returns a validated :class:`RuleSet`, or raises
:class:`RuleValidationFailed` listing every problem as ``path:line:column: message``.
"""

from __future__ import annotations

from rules.errors import RuleError, RuleValidationFailed
from rules.loader import BUNDLED_RULES_DIR, check_rules, load_rules
from rules.model import (
    Billing,
    Catalog,
    CatalogItem,
    EventItemRule,
    EventRule,
    Gap,
    InstallmentLine,
    LoadedProgram,
    ParentProduct,
    PaymentScheduleRule,
    PlannedInstallment,
    ProgramRule,
    RuleSet,
)

__all__ = [
    "BUNDLED_RULES_DIR",
    "Billing",
    "Catalog",
    "CatalogItem",
    "EventItemRule",
    "EventRule",
    "Gap",
    "InstallmentLine",
    "LoadedProgram",
    "ParentProduct",
    "PaymentScheduleRule",
    "PlannedInstallment",
    "ProgramRule",
    "RuleError",
    "RuleSet",
    "RuleValidationFailed",
    "check_rules",
    "load_rules",
]
