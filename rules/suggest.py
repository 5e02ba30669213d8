""" "Did you mean …?" for keys, SKUs and schedule ids, cheap however many words there are.

``difflib.get_close_matches`` compares the word with every candidate: fine for the keys of a
mapping, 0.1–0.4 s per word against a 10,000-item catalog, and a hostile file can hold
thousands of unknown SKUs. For large sets we first narrow the candidates to those one deletion
away on either side (which covers one typed, dropped, added or swapped character), then let
difflib rank the few that remain.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable
from typing import Final

#: Up to this many candidates difflib alone is fast enough (about a millisecond).
_SMALL: Final = 300
_CUTOFF: Final = 0.6


def _deletions(word: str) -> set[str]:
    return {word, *(word[:index] + word[index + 1 :] for index in range(len(word)))}


class Suggester:
    """The closest known word to a mistyped one, or ``None``."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted(set(words))
        self._index: dict[str, set[str]] | None = None

    def __call__(self, word: str) -> str | None:
        candidates = self.words if len(self.words) <= _SMALL else self._near(word)
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=_CUTOFF)
        return close[0] if close else None

    def _near(self, word: str) -> list[str]:
        if self._index is None:
            self._index = defaultdict(set)
            for known in self.words:
                for variant in _deletions(known):
                    self._index[variant].add(known)
        found: set[str] = set()
        for variant in _deletions(word):
            found |= self._index.get(variant, set())
        return sorted(found)


def did_you_mean(word: str, suggester: Suggester) -> str:
    """`` (did you mean 'X'?)`` or the empty string."""
    close = suggester(word)
    return f" (did you mean {close!r}?)" if close else ""
