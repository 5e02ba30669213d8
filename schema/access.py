"""Who may call which root field (``POLICY``) and read which type of object (``NODE_POLICY``):
the tables that the check, the loaders, the docs and the tests all read.

``docs/ACCESS.md`` holds ``policy_table()`` and ``node_policy_table()`` verbatim (a test compares
them), and ``tests/api/test_access_api.py`` turns every cell into an HTTP request. A root field
missing from the table is refused to every role but ``admin`` (fail closed), and a test fails
until it is added; so is a type of object missing from ``NODE_POLICY``.

The check runs once per operation, before anything executes (``AccessControl.on_execute``): a
refused operation runs no resolver at all, so it cannot have written anything. Cells:

- ``yes``: allowed.
- ``own``: allowed, scoped to the caller's own customer (``customer`` tokens): other customers'
  data reads as if it did not exist (null, an empty list, or a ``NOT_FOUND`` user error).
- ``dry run``: allowed only with ``dryRun: true`` (nothing written).
- ``—``: refused with a ``FORBIDDEN`` error.

``NODE_POLICY`` applies to every object however it is reached (``node``/``nodes``, a look-up by
id, a link from another object): ``own`` objects of another customer, and objects a role may not
read, load as missing (``schema.loaders.Loaders.node``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from graphql import (
    BooleanValueNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from continuity.access import Caller
from continuity.enums import Role
from schema.documents import operation_to_run

ROLES: tuple[Role, ...] = (
    Role.CUSTOMER,
    Role.AGENT,
    Role.MERCHANDISER,
    Role.OPERATOR,
    Role.FULFILMENT,
    Role.ADMIN,
)


class Grant(StrEnum):
    YES = "yes"
    OWN = "own"
    DRY_RUN = "dry run"
    NO = "—"


Y, OWN, DRY, N = Grant.YES, Grant.OWN, Grant.DRY_RUN, Grant.NO


def _row(
    customer: Grant, agent: Grant, merch: Grant, operator: Grant, fulfilment: Grant
) -> dict[Role, Grant]:
    return {
        Role.CUSTOMER: customer,
        Role.AGENT: agent,
        Role.MERCHANDISER: merch,
        Role.OPERATOR: operator,
        Role.FULFILMENT: fulfilment,
        Role.ADMIN: Y,
    }


#: Root field → role → grant. Columns: customer, agent, merchandiser, operator, fulfilment
#: (admin: all yes). The fulfilment role (a warehouse) reads child orders and the shared
#: catalog, ships and invoices; nothing of customers beyond what a child order carries.
POLICY: dict[str, dict[Role, Grant]] = {
    "Query.viewer": _row(Y, Y, Y, Y, Y),
    "Query.node": _row(Y, Y, Y, Y, Y),
    "Query.nodes": _row(Y, Y, Y, Y, Y),
    "Query.programs": _row(Y, Y, Y, Y, Y),
    "Query.program": _row(Y, Y, Y, Y, Y),
    "Query.products": _row(Y, Y, Y, Y, Y),
    "Query.product": _row(Y, Y, Y, Y, Y),
    "Query.paymentSchedules": _row(Y, Y, Y, Y, Y),
    "Query.paymentSchedule": _row(Y, Y, Y, Y, Y),
    "Query.programPreview": _row(Y, Y, Y, Y, N),
    "Query.callCenterParameters": _row(N, Y, Y, Y, N),
    "Query.customer": _row(OWN, Y, N, N, N),
    "Query.customers": _row(OWN, Y, N, N, N),
    "Query.salesOrder": _row(OWN, Y, N, N, N),
    "Query.continuityOrder": _row(OWN, Y, N, N, N),
    "Query.continuityOrders": _row(OWN, Y, N, N, N),
    "Query.childOrder": _row(OWN, Y, N, Y, Y),
    "Query.childOrders": _row(OWN, Y, N, Y, Y),
    "Query.upcomingShipments": _row(OWN, Y, N, N, N),
    "Query.jobRuns": _row(N, N, N, Y, N),
    "Query.continuityUpdatePreview": _row(N, N, Y, Y, N),
    "Query.notifications": _row(N, Y, N, Y, N),
    "Mutation.reloadRules": _row(N, N, Y, N, N),
    "Mutation.createCustomer": _row(N, Y, N, N, N),
    "Mutation.addPaymentMethod": _row(OWN, Y, N, N, N),
    "Mutation.placeSalesOrder": _row(N, Y, N, N, N),
    "Mutation.skipShipment": _row(OWN, Y, N, N, N),
    "Mutation.pauseOrder": _row(OWN, Y, N, N, N),
    "Mutation.resumeOrder": _row(OWN, Y, N, N, N),
    "Mutation.changeShipTo": _row(OWN, Y, N, N, N),
    "Mutation.changePaymentMethod": _row(OWN, Y, N, N, N),
    "Mutation.swapItem": _row(OWN, Y, N, N, N),
    "Mutation.changeQuantity": _row(OWN, Y, N, N, N),
    "Mutation.cancelOrder": _row(OWN, Y, N, N, N),
    "Mutation.updateStartDate": _row(N, Y, DRY, N, N),
    "Mutation.substituteProduct": _row(N, Y, DRY, N, N),
    "Mutation.runJob": _row(N, N, N, Y, N),
    "Mutation.markChildOrderShipped": _row(N, N, N, Y, Y),
    "Mutation.invoiceChildOrder": _row(N, N, N, Y, Y),
    "Mutation.redeliverNotification": _row(N, Y, N, Y, N),
    "Subscription.orderEvents": _row(OWN, Y, N, N, N),
}

#: Object type → role → grant, wherever the object is reached (``yes``, ``own`` or ``—``).
NODE_POLICY: dict[str, dict[Role, Grant]] = {
    "Program": _row(Y, Y, Y, Y, Y),
    "ProgramVersion": _row(Y, Y, Y, Y, Y),
    "Product": _row(Y, Y, Y, Y, Y),
    "PaymentSchedule": _row(Y, Y, Y, Y, Y),
    "Customer": _row(OWN, Y, N, N, N),
    "Address": _row(OWN, Y, N, N, N),
    "PaymentMethod": _row(OWN, Y, N, N, N),
    "SalesOrder": _row(OWN, Y, N, N, N),
    "ContinuityOrder": _row(OWN, Y, N, N, N),
    "ContinuityLine": _row(OWN, Y, N, N, N),
    "Payment": _row(OWN, Y, N, N, N),
    "HistoryEntry": _row(OWN, Y, N, N, N),
    "ChildOrder": _row(OWN, Y, N, Y, Y),
    "JobRun": _row(N, N, N, Y, N),
    "Notification": _row(N, Y, N, Y, N),
}

#: Always allowed to an authenticated caller (introspection is refused outside development by
#: the schema's ``DisableIntrospection`` anyway).
META_FIELDS = frozenset({"__typename", "__schema", "__type"})


def grant(field: str, role: Role) -> Grant:
    """The cell; a field missing from the table is refused to all but ``admin``."""
    if role is Role.ADMIN:
        return Grant.YES
    return POLICY.get(field, {}).get(role, Grant.NO)


def node_grant(type_name: str, role: Role) -> Grant:
    """Whether ``role`` may read objects of ``type_name``; a type missing from the table is
    read by ``admin`` only."""
    if role is Role.ADMIN:
        return Grant.YES
    return NODE_POLICY.get(type_name, {}).get(role, Grant.NO)


def _table(title: str, rows: Mapping[str, Mapping[Role, Grant]], label: Any) -> str:
    lines = [
        f"| {title} | " + " | ".join(r.value for r in ROLES) + " |",
        "|---|" + "---|" * len(ROLES),
    ]
    for key, cells in rows.items():
        lines.append(f"| {label(key)} | " + " | ".join(cells[r].value for r in ROLES) + " |")
    return "\n".join(lines)


def _field_label(field: str) -> str:
    kind, name = field.split(".")
    return f"`{name}`" if kind == "Query" else f"`{name}` ({kind.lower()})"


def policy_table() -> str:
    """``POLICY`` as the Markdown table in docs/ACCESS.md."""
    return _table("field", POLICY, _field_label)


def node_policy_table() -> str:
    """``NODE_POLICY`` as the Markdown table in docs/ACCESS.md."""
    return _table("object", NODE_POLICY, lambda name: f"`{name}`")


def forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


def unauthenticated() -> GraphQLError:
    return GraphQLError(
        "authentication required: send Authorization: Bearer <token>",
        extensions={"code": "UNAUTHENTICATED"},
    )


def _root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """Every root field an operation may run, through fragments; ``@skip``/``@include`` are
    ignored (a skipped refused field still refuses the operation: the safe side)."""
    seen: set[str] = set()
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    stack.append(fragment.selection_set)


def _is_dry_run(node: FieldNode, variables: Mapping[str, Any]) -> bool:
    """True only when the field's ``input.dryRun`` is certainly ``true``."""
    for argument in node.arguments or ():
        if argument.name.value != "input":
            continue
        value = argument.value
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return isinstance(given, Mapping) and given.get("dryRun") is True
        if isinstance(value, ObjectValueNode):
            for item in value.fields:
                if item.name.value != "dryRun":
                    continue
                if isinstance(item.value, BooleanValueNode):
                    return item.value.value is True
                if isinstance(item.value, VariableNode):
                    return variables.get(item.value.name.value) is True
    return False


def check_operation(
    caller: Caller | None,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> GraphQLError | None:
    """The error refusing this operation to this caller, or None when every root field is
    allowed. Anonymous callers (development mode only) may introspect, nothing else."""
    kind = operation.operation.value.capitalize()
    for node in _root_fields(operation.selection_set, fragments):
        name = node.name.value
        if name in META_FIELDS:
            continue
        if caller is None:
            return unauthenticated()
        field = f"{kind}.{name}"
        cell = grant(field, caller.role)
        if cell is Grant.NO or (cell is Grant.DRY_RUN and not _is_dry_run(node, variables)):
            suffix = " without dryRun" if cell is Grant.DRY_RUN else ""
            return forbidden(f"the {caller.role.value} role may not call {name}{suffix}")
    return None


class AccessControl(SchemaExtension):
    """Refuses, before execution, an operation with a root field the caller's role may not
    call (the ``POLICY`` table). The context must have a ``caller`` attribute."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        found = operation_to_run(ctx)
        if found is not None:
            operation, fragments = found
            caller = getattr(ctx.context, "caller", None)
            error = check_operation(caller, operation, fragments, ctx.variables or {})
            if error is not None and operation.operation is OperationType.SUBSCRIPTION:
                # Strawberry subscribes whatever the result: refuse by raising (it turns an
                # exception from on_execute into the operation's only result).
                raise error
            if error is not None:
                ctx.result = ExecutionResult(data=None, errors=[error])
                response = getattr(ctx.context, "response", None)
                unauthenticated = (error.extensions or {}).get("code") == "UNAUTHENTICATED"
                if unauthenticated and isinstance(response, Response):
                    response.status_code = 401
        yield
