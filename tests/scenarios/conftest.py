"""The ``open_shop`` fixture: the app over HTTP and the jobs by CLI on one database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.conftest import API_TODAY, as_admin, make_settings
from tests.scenarios.shop import Shop, add_scenario_rules

ShopFactory = Callable[..., Shop]


@pytest.fixture
def open_shop(sync_database_url: str, rules_dir: Path) -> Iterator[ShopFactory]:
    """``open_shop(**call_center_parameters)``: the shop with the bundled rules plus the
    scenario rules, its app started on a clock the test moves."""
    clients: list[TestClient] = []

    def factory(**parameters: Any) -> Shop:
        add_scenario_rules(rules_dir)
        base: Settings = make_settings(sync_database_url, rules_dir)
        settings = base.model_copy(
            update={"call_center": base.call_center.model_copy(update=parameters)}
        )
        clock = [API_TODAY]
        client = TestClient(create_app(settings, gateway=TestGateway(), clock=lambda: clock[0]))
        client.__enter__()
        clients.append(client)
        return Shop(as_admin(client), sync_database_url, parameters, clock)

    yield factory
    for client in clients:
        client.__exit__(None, None, None)
