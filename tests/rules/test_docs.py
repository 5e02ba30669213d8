"""The examples in docs/RULES.md are valid rule files (docs must not rot)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rules.loader import BUNDLED_RULES_DIR, check_rules
from rules.messages import YAML_KEYS
from tests.rules.util import write_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "RULES.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_docs_examples_are_valid(tmp_path: Path) -> None:
    catalog, schedules, program = _yaml_blocks()
    assert check_rules(write_rules(tmp_path / "a", catalog=catalog, schedules=schedules)) == []
    rules_dir = tmp_path / "b"
    shutil.copytree(BUNDLED_RULES_DIR, rules_dir, ignore=shutil.ignore_patterns("*.py", "__py*"))
    (rules_dir / "programs" / "seasonal-wine.yaml").write_text(program, encoding="utf-8")
    assert check_rules(rules_dir) == []


def test_docs_list_every_key() -> None:
    documented = set(re.findall(r"^\| (`.+?) \|", DOC.read_text(encoding="utf-8"), flags=re.M))
    words = {word for entry in documented for word in re.split(r"[.\[\] /`]+", entry)}
    keys = {key for table in YAML_KEYS.values() for group in table.values() for key in group}
    assert keys - words == set()
