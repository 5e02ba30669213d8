"""Every bound of the rule files, in one place.

Two kinds of bound hold here. The *parse* bounds keep the reading of any file, hostile or not,
within a few hundred milliseconds and tens of megabytes: a file is refused at the first value
past a bound, before it costs more. The *value* bounds keep every number a merchandiser writes
inside what both databases store (PostgreSQL ``INTEGER`` is 32-bit; money is minor units in a
64-bit ``BIGINT``) and inside what a business could mean, so that a file ``rules check`` accepts
always syncs and always plans. docs/RULES.md lists them ("Limits"); a test keeps the two equal.
"""

from __future__ import annotations

from typing import Final

from continuity.engine.schedule import MAX_FINITE_OCCURRENCES
from continuity.limits import MAX_DATE, MIN_DATE

# -- reading a file -------------------------------------------------------------------------

#: A rule file is hand-written: a catalog of 5,000 items is about half a MiB.
MAX_FILE_BYTES: Final = 4 * 1024 * 1024
#: Values in one file (every scalar, list and mapping, keys included): a catalog item is 11.
MAX_NODES: Final = 100_000
#: Entries of one list or mapping.
MAX_ENTRIES: Final = 10_000
#: Lists and mappings inside each other; rule files nest at most five levels.
MAX_DEPTH: Final = 16
#: Characters of one value or key; the longest a rule value may be is a 200-character name.
MAX_SCALAR_CHARS: Final = 1_000
#: Digits of a whole number; more than this is no number any field accepts.
MAX_INT_DIGITS: Final = 18
#: Errors listed per file: past this many, the first ones are what needs fixing.
MAX_ERRORS_PER_FILE: Final = 100

# -- values ---------------------------------------------------------------------------------

#: The largest amount (price) in major units of any currency: 100,000,000.000 BHD is
#: 10^11 minor units, far inside a BIGINT even multiplied by quantities and shipments.
MAX_AMOUNT: Final = 100_000_000
#: Percents of a payment schedule line are stored as hundredths.
PERCENT_DECIMALS: Final = 2
#: An event item's quantity per parent line.
MAX_QUANTITY: Final = 10_000
#: Shipments of one order of a finite program: the order engine plans at most this many.
MAX_SHIPMENTS: Final = MAX_FINITE_OCCURRENCES
#: ``repeat: N`` ships N + 1 times.
MAX_REPEAT: Final = MAX_SHIPMENTS - 1
#: Gaps, offsets and ``days_after_order`` (ten years): longer is a typo.
MAX_DAYS: Final = 3660
MAX_MONTHS: Final = 120
#: The shipments of a finite program span at most this many days (a century).
MAX_SPAN_DAYS: Final = 36_525
#: Equal installments of a payment schedule.
MIN_INSTALLMENTS: Final = 2
MAX_INSTALLMENTS: Final = 120
#: Events of one program, items of one event, schedules a program may offer.
MAX_EVENTS: Final = 1_000
MAX_EVENT_ITEMS: Final = 100
MAX_ALLOWED_SCHEDULES: Final = 100
#: Items of the catalog and schedules of ``payment-schedules.yaml``.
MAX_CATALOG_ITEMS: Final = 5_000
MAX_SCHEDULES: Final = 1_000
#: Text: names are stored in 200-character columns; SKUs and ids are patterns (values.py).
MAX_NAME_CHARS: Final = 200
#: Dates (``not_before``, ``current_event_anchor``): the service's business dates.
FIRST_DATE: Final = MIN_DATE
LAST_DATE: Final = MAX_DATE
