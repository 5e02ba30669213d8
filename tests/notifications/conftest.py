"""Fixtures of the notification tests: the process-wide policy, put back after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from continuity.notifications.policy import NotificationPolicy, set_policy


@pytest.fixture
def use_policy() -> Iterator[Callable[[NotificationPolicy], None]]:
    previous = set_policy(None)

    def use(policy: NotificationPolicy) -> None:
        set_policy(policy)

    yield use
    set_policy(previous)
