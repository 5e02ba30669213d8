"""The operation a request is about to run, as the checks before execution read it (access
control, query cost): one reading of the document, so that every check sees the same
operation and the same fragments."""

from __future__ import annotations

from graphql import FragmentDefinitionNode, OperationDefinitionNode
from strawberry.types.execution import ExecutionContext


def operation_to_run(
    ctx: ExecutionContext,
) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]] | None:
    """The operation that will run (the named one, or the only one) and the document's
    fragments by name; ``None`` when there is no parsed document, no such operation, or an
    earlier extension has already decided the result (a refusal stands)."""
    document = ctx.graphql_document
    if document is None or ctx.result is not None:
        return None
    operation = next(
        (
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
            and (ctx.operation_name is None or (d.name and d.name.value == ctx.operation_name))
        ),
        None,
    )
    if operation is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return operation, fragments
