"""``continuity.limits``: the outer bounds of every text input, exactly Unicode's rules."""

from __future__ import annotations

import unicodedata

import pytest

from continuity.errors import InvalidInput
from continuity.limits import MAX_TEXT, check_text

SURROGATES = range(0xD800, 0xE000)


def test_every_control_character_but_tab_and_line_ends_is_refused() -> None:
    refused, messages = [], set()
    for code in range(0x110000):
        if code in SURROGATES:
            continue
        try:
            check_text(f"a{chr(code)}b", ["name"])
        except InvalidInput as error:
            messages.add(str(error))
            refused.append(code)
    assert messages == {"must not contain control characters"}
    expected = [
        code
        for code in range(0x110000)
        if code not in SURROGATES
        and unicodedata.category(chr(code)) == "Cc"
        and chr(code) not in "\t\n\r"
    ]
    assert refused == expected
    assert len(refused) == 62


def test_text_of_any_script_passes_and_unpaired_surrogates_do_not() -> None:
    check_text("Zoë Ñandú 東京 🎁\tline\r\n", ["name"])
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        check_text("Ada \ud800", ["name"])


def test_text_is_bounded_by_its_key_column_or_max_text() -> None:
    check_text("x" * 64, ["sku"])
    with pytest.raises(InvalidInput, match="at most 64"):
        check_text("x" * 65, ["sku"])
    check_text("é" * MAX_TEXT, ["name"])
    with pytest.raises(InvalidInput, match=f"at most {MAX_TEXT}"):
        check_text("é" * (MAX_TEXT + 1), ["name"])
