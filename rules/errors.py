"""Errors of the rule files, in the `path:line:column: message` form that editors and CI parse.

Validation never stops at the first problem: merchandisers fix a whole batch of mistakes at once,
so the loader collects every :class:`RuleError` and raises one :class:`RuleValidationFailed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in one rule file.

    The field order makes the natural sort order (path, line, column), which is the order a reader
    goes through the files.
    """

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def relative_to(self, rules_dir: Path) -> RuleError:
        """The same error with its path relative to the rules directory (``programs/x.yaml``):
        API clients are never shown where the server keeps its files."""
        try:
            relative = Path(self.path).relative_to(rules_dir).as_posix()
        except ValueError:
            relative = Path(self.path).name
        return replace(self, path=relative)


class RuleValidationFailed(Exception):
    """The rule files are invalid; nothing of them may be applied."""

    errors: tuple[RuleError, ...]

    def __init__(self, errors: Iterable[RuleError]) -> None:
        self.errors = tuple(sorted(errors))
        count = len(self.errors)
        lines = "\n".join(str(error) for error in self.errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the rule files:\n{lines}")
