"""Hypothesis strategies for generated programs."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from continuity.engine.calendar import GapSpec
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.enums import EventAction, GapUnit

gaps = st.one_of(
    st.builds(GapSpec, st.just(GapUnit.MONTH), st.integers(1, 3)),
    st.builds(GapSpec, st.just(GapUnit.DAY), st.integers(1, 60)),
)
items = st.lists(
    st.builds(
        ItemSpec,
        product_id=st.integers(1, 50),
        sku=st.sampled_from(["A", "B", "C"]),
        quantity=st.integers(1, 5),
        price_minor=st.integers(0, 100_000),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@st.composite
def programs(draw: st.DrawFn, *, finite: bool | None = None) -> ProgramSpec:
    count = draw(st.integers(1, 8))
    forever_last = False if finite is True else draw(st.booleans()) if finite is None else True
    events = []
    for number in range(1, count + 1):
        last = number == count
        action = draw(st.sampled_from([EventAction.NORMAL, EventAction.SKIP]))
        shipments: int | None = draw(st.integers(1, 6))
        if last and forever_last:
            shipments, action = None, EventAction.NORMAL
        elif last and draw(st.booleans()):
            action = EventAction.END
        events.append(
            EventSpec(
                number=number,
                gap=draw(gaps),
                action=action,
                items=() if action is EventAction.SKIP else draw(items),
                shipments=shipments,
                not_before=draw(st.none() | dates),
            )
        )
    return ProgramSpec(
        code="generated",
        currency="USD",
        events=tuple(events),
        days_after_order=draw(st.integers(0, 10)),
        parent_event_count=draw(st.integers(0, count)),
    )
