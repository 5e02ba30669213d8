"""Problems of the YAML itself: syntax, encoding, shape, keys, and YAML 1.1 traps."""

from __future__ import annotations

from pathlib import Path

from rules.errors import RuleError
from rules.loader import check_rules
from tests.rules.util import PROGRAM, only_error, program_errors, where, write_rules


def test_unknown_key_points_at_the_key_with_a_suggestion(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + '        prise: "1.00"\n')
    path = str(tmp_path / "programs" / "club.yaml")
    message = "events.0.items.0.prise: unknown key (did you mean 'price'?)"
    assert error == RuleError(path, 11, 9, message)


def test_unknown_top_level_key_lists_the_keys(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "colour: red\n")
    assert where(error) == (11, 1)
    assert error.message.startswith("colour: unknown key (expected one of: id, name, active")


def test_unknown_key_in_cadence(tmp_path: Path) -> None:
    text = PROGRAM.replace("{every: 1 month}", "{evry: 1 month}")
    errors = program_errors(tmp_path, text)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (6, 10, "cadence: write every: 1 month or days_from_last: 30"),
        (6, 11, "cadence.evry: unknown key (did you mean 'every'?)"),
    ]


def test_duplicate_key_is_reported_at_the_second_key(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "name: Other\n")
    assert where(error) == (11, 1)
    assert error.message == "name: duplicate key (first written at line 2, column 1)"


def test_duplicate_nested_key(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "        quantity: 2\n")
    assert where(error) == (11, 9)
    assert "events.0.items.0.quantity: duplicate key (first written at line 10" in error.message


def test_syntax_error_at_the_problem_mark(tmp_path: Path) -> None:
    text = PROGRAM.replace("cadence: {every: 1 month}", "cadence: {every: 1 month")
    error = only_error(tmp_path, text)
    assert where(error) == (7, 7)
    assert error.message.startswith("YAML syntax error: did not find expected ',' or '}'")
    assert "started at line 6, column 10" in error.message


def test_colon_in_plain_scalar_is_a_syntax_error(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("name: Club", "name: Club: The Best"))
    assert where(error) == (2, 11)
    assert error.message == (
        "YAML syntax error: a ': ' inside a value: put the whole value in quotes: "
        '"Club: The Best"'
    )


def test_second_document_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "---\nid: other\n")
    assert where(error) == (11, 1)
    assert "a rule file holds one document" in error.message


def test_alias_refused_at_the_alias(tmp_path: Path) -> None:
    text = PROGRAM.replace("name: Club\n", "name: &n Club\n") + "    not_before: *n\n"
    error = only_error(tmp_path, text)
    assert where(error) == (11, 17)
    assert "aliases (*n) are not allowed" in error.message


def test_alias_bomb_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    errors = program_errors(tmp_path, "\n".join(lines) + "\n")
    assert len(errors) == 90
    assert all("aliases" in error.message for error in errors)
    assert where(errors[0]) == (2, 10)


def test_non_utf8_file(tmp_path: Path) -> None:
    raw = PROGRAM.replace("name: Club", "name: Caf\xe9").encode("latin-1")
    error = only_error(tmp_path, raw)
    assert where(error) == (2, 10)
    assert "not valid UTF-8 (byte 0xe9)" in error.message


def test_control_character(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("name: Club", "name: Cl\x00ub"))
    assert where(error) == (2, 9)
    assert "control characters are not allowed" in error.message


def test_utf8_bom_and_non_ascii_are_fine(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + PROGRAM.replace("name: Club", "name: Caf\xe9 \u2615").encode()
    assert program_errors(tmp_path, raw) == []


def test_empty_file(tmp_path: Path) -> None:
    error = only_error(tmp_path, "")
    assert where(error) == (1, 1)
    assert "the file is empty" in error.message


def test_comment_only_file_is_empty(tmp_path: Path) -> None:
    assert "the file is empty" in only_error(tmp_path, "# to do\n\n").message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = only_error(tmp_path, "\n- id: club\n")
    assert where(error) == (2, 1)
    assert "the top level must be a mapping" in error.message


def test_non_scalar_key(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "? [a, b]\n: 1\n")
    assert where(error) == (11, 3)
    assert error.message == "a key must be a plain word, not a list or a mapping"


def test_unsupported_tag(tmp_path: Path) -> None:
    error = only_error(
        tmp_path, PROGRAM.replace("name: Club", "name: !!python/name:os.system x", 1)
    )
    assert where(error) == (2, 7)
    assert error.message == "name: unsupported YAML tag '!!python/name:os.system'"


def test_missing_required_key_points_at_the_mapping(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("    quantity: 1\n", ""))
    assert where(error) == (9, 9)
    assert error.message == "events.0.items.0: missing required key 'quantity'"


def test_yes_is_not_a_boolean(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("active: true", "active: yes"))
    assert where(error) == (3, 9)
    assert (
        error.message
        == "active: must be true or false ('yes' is not accepted: write true or false)"
    )


def test_no_stays_text_where_text_is_expected(tmp_path: Path) -> None:
    assert program_errors(tmp_path, PROGRAM.replace("name: Club", "name: NO")) == []


def test_quoted_boolean_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("active: true", 'active: "true"'))
    assert error.message == "active: must be true or false, not 'true'"


def test_float_quantity_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("quantity: 1", "quantity: 1.5"))
    assert where(error) == (10, 19)
    assert error.message == "events.0.items.0.quantity: must be a whole number, not 1.5"


def test_boolean_quantity_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("quantity: 1", "quantity: true"))
    assert error.message == "events.0.items.0.quantity: must be a whole number, not true/false"


def test_octal_looking_number_is_decimal(tmp_path: Path) -> None:
    text = PROGRAM.replace("quantity: 1", "quantity: 010")
    rules_dir = write_rules(tmp_path, {"club": text})
    assert check_rules(rules_dir) == []


def test_bare_number_sku_must_be_quoted(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("sku: CLUB", "sku: 12345"))
    assert where(error) == (5, 23)
    assert error.message == 'parent_product.sku: must be text: quote it, e.g. "12345"'


def test_bad_sku_pattern(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("sku: BOOK-001", "sku: book-001"))
    assert where(error) == (9, 14)
    assert "'book-001' is not a valid SKU" in error.message


def test_bad_program_id_pattern(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("id: club", "id: Club_1"), name="Club_1")
    assert where(error) == (1, 5)
    assert error.message.startswith("id: 'Club_1' is not a valid id")


def test_literal_choices(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    action: stop\n")
    assert where(error) == (11, 13)
    assert error.message == "events.0.action: must be 'normal', 'skip' or 'end', not 'stop'"


def test_missing_catalog_file(tmp_path: Path) -> None:
    rules_dir = write_rules(tmp_path, {"club": PROGRAM})
    (rules_dir / "catalog.yaml").unlink()
    errors = check_rules(rules_dir)
    assert errors == [RuleError(str(rules_dir / "catalog.yaml"), 1, 1, "file not found")]


def test_yml_file_is_reported_not_ignored_silently(tmp_path: Path) -> None:
    rules_dir = write_rules(tmp_path, {"club": PROGRAM})
    (rules_dir / "programs" / "other.yml").write_text(PROGRAM)
    errors = check_rules(rules_dir)
    assert [(e.path, e.line, e.column) for e in errors] == [
        (str(rules_dir / "programs" / "other.yml"), 1, 1)
    ]
    assert "must end in .yaml" in errors[0].message


def test_tab_indentation(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("        quantity: 1", "\tquantity: 1"))
    assert where(error) == (10, 1)
    assert error.message == "YAML syntax error: a tab character: indent with spaces, not tabs"


def test_document_marker_only_is_empty(tmp_path: Path) -> None:
    assert "the file is empty" in only_error(tmp_path, "---\n").message


def test_several_missing_keys_in_one_error(tmp_path: Path) -> None:
    error = only_error(tmp_path, "id: club\nname: Club\nactive: true\ncurrency: USD\n")
    assert where(error) == (1, 1)
    assert error.message == "missing required keys 'parent_product', 'cadence', 'events'"


def test_deep_nesting_is_refused_without_recursion_errors(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "x: " + "[" * 40 + "]" * 40 + "\n")
    assert where(error) == (11, 19)
    assert error.message == (
        "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0: nested more than 16 levels deep "
        "(the limit for a rule file)"
    )
    error = only_error(tmp_path / "b", "x: " + "[" * 100_000)
    assert error.message.endswith("nested more than 16 levels deep (the limit for a rule file)")


def test_huge_file_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, b"a: " + b"x" * (16 * 1024 * 1024))
    assert where(error) == (1, 1)
    assert error.message.startswith("file is too large")


# -- syntax errors in plain words, at the place to fix ---------------------------------------

TAB = "YAML syntax error: a tab character: indent with spaces, not tabs"
MISSING_COLON = "YAML syntax error: missing ':' after the key (write key: value)"


def test_tab_inside_the_indentation_points_at_the_tab(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("        quantity: 1", "  \t      quantity: 1"))
    assert (where(error), error.message) == ((10, 3), TAB)


def test_tab_after_a_list_dash(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("  - items:", "  -\titems:"))
    assert (where(error), error.message) == ((8, 4), TAB)


def test_unclosed_double_quote_points_at_the_opening_quote(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + '    action: "skip\n')
    assert where(error) == (11, 13)
    assert error.message == (
        'YAML syntax error: this quoted value is never closed: add the closing double quote (")'
    )


def test_unclosed_single_quote_points_at_the_opening_quote(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("name: Club\n", "name: 'Club\n", 1))
    assert where(error) == (2, 7)  # no other single quote follows
    assert "never closed: add the closing single quote (')" in error.message


def test_unclosed_quote_closed_by_a_later_quote(tmp_path: Path) -> None:
    text = PROGRAM.replace("name: Club\n", 'name: "Club\n', 1).replace("USD", '"USD"')
    error = only_error(tmp_path, text)
    assert where(error) == (2, 7)
    assert error.message == (
        "YAML syntax error: this quoted value runs on to line 4: "
        'is its closing double quote (") missing?'
    )


def test_unclosed_quote_in_a_flow_mapping(tmp_path: Path) -> None:
    text = PROGRAM.replace("name: Club, price", 'name: "Club, price')
    error = only_error(tmp_path, text)
    assert where(error) == (5, 35)
    assert error.message == (
        "YAML syntax error: the quoted value opened here ends at column 49 and text follows "
        'it: is its closing double quote (") missing?'
    )


def test_missing_colon_at_its_own_line(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("active: true", "active true"))
    assert (where(error), error.message) == ((3, 1), MISSING_COLON)


def test_missing_colon_on_the_last_key(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    repeat 2\n")
    assert (where(error), error.message) == ((11, 5), MISSING_COLON)


def test_missing_colon_before_a_key_of_the_same_mapping(tmp_path: Path) -> None:
    text = PROGRAM.replace("      - sku: BOOK-001\n", "      - sku BOOK-001\n")
    error = only_error(tmp_path, text)
    assert (where(error), error.message) == ((9, 9), MISSING_COLON)
    text = "id: club\nparent_product:\n  sku CLUB\n  name: Club\n"
    error = only_error(tmp_path / "b", text)
    assert (where(error), error.message) == ((3, 3), MISSING_COLON)
