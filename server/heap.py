"""A server process's heap once started, out of the cyclic garbage collector's way: the
server's and its placement worker's (``server/placement_worker.py``).

Start-up makes every object the process keeps (schema, models, migrations' state, rules):
``gc.freeze`` takes them out of the collector's view, so that a request's collections walk
the request's objects only (~10 % of a list page's CPU went to collections that re-walked
them). And a list request holds ~2,000 container objects at its peak, freed by reference
counting once answered (``Loaders.release``): with the default threshold (700) the young
generation was collected ~3 times a request, walking objects about to be freed anyway (~0.8
ms of a list request's CPU), hence ``GC_YOUNG_THRESHOLD``.
"""

from __future__ import annotations

import gc

#: Container objects allocated (net) before the collector walks the young generation; the
#: default is 700. Cyclic garbage waits a little longer; a request's own objects are freed
#: by reference counting before the collector would see them.
GC_YOUNG_THRESHOLD = 10_000


def settle() -> tuple[int, ...]:
    """Freeze what start-up made and raise the young generation's threshold; returns the
    thresholds before, for ``unsettle``."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    return thresholds


def unsettle(thresholds: tuple[int, ...]) -> None:
    """What ``settle`` changed, put back (a test's app stops inside a longer process)."""
    gc.set_threshold(*thresholds)
    gc.unfreeze()
