"""Fixtures: a fresh migrated database per test, and the HTTP app over one."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient
from tortoise.context import TortoiseContext

from config.settings import Settings, load_settings
from continuity.access import create_token
from continuity.db import open_database
from continuity.enums import Role
from continuity.payments.gateway import TestGateway
from rules.loader import BUNDLED_RULES_DIR
from server.app import create_app
from tests.dbutil import create_database, drop_database, drop_template, fresh_database_url

# Property tests: bounded in CI (``ci``, the default); ``HYPOTHESIS_PROFILE=slow`` runs many
# more examples of every property (docs/TESTING.md).
hypothesis_settings.register_profile("ci", hypothesis_settings(max_examples=100))
hypothesis_settings.register_profile("slow", hypothesis_settings(max_examples=5000, deadline=None))
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _drop_template_at_exit() -> Iterator[None]:
    yield
    asyncio.run(drop_template())


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database_url(tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[TortoiseContext]:
    async with open_database(database_url) as ctx:
        yield ctx


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A writable copy of the bundled rules, so that a test can edit them."""
    target = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def make_settings(database_url: str, rules_dir: Path, **service: object) -> Settings:
    """Settings of a test app: no scheduled chain, no background notification delivery."""
    base = load_settings(environ={})
    return base.model_copy(
        update={
            "service": base.service.model_copy(
                update={
                    "database_url": database_url,
                    "rules_dir": rules_dir,
                    "scheduler_enabled": False,
                    # placements in the test's own process, where the test can reach them;
                    # tests/api/test_placement_worker.py runs the worker
                    "placement_worker": False,
                    **service,
                }
            ),
            "notifications": base.notifications.model_copy(update={"delivery_enabled": False}),
        }
    )


@pytest.fixture
def sync_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database for tests that run the app in its own thread (its lifespan migrates)."""
    # Not fresh_database_url: asyncio.run would finalize its generator (and drop the database)
    # as soon as it returned.
    url = asyncio.run(create_database(tmp_path))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@pytest.fixture
def shared_url(sync_database_url: str) -> str:
    """A database several processes open at once (servers, CLI runs, replicas killed and
    restarted): the same fresh database, under the name those tests read best."""
    return sync_database_url


@pytest.fixture
def settings(sync_database_url: str, rules_dir: Path) -> Settings:
    return make_settings(sync_database_url, rules_dir)


#: The business date API tests run on (orders are placed "today").
API_TODAY = date(2027, 1, 31)


@pytest.fixture
def gateway() -> TestGateway:
    return TestGateway()


def issue_token(
    client: TestClient,
    role: Role | str,
    *,
    name: str | None = None,
    customer: str | None = None,
    expires_days: int | None = None,
) -> str:
    """A token for ``role`` in the running app's database (through the app's event loop)."""
    role = Role(role)

    async def create() -> str:
        issued = await create_token(
            role, name=name or role.value, customer_account=customer, expires_days=expires_days
        )
        return issued.token

    return client.portal.call(create)  # type: ignore[union-attr]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_admin(client: TestClient) -> TestClient:
    """Authenticate every request of a started client as an ``admin`` token named ``test``."""
    client.headers.update(bearer(issue_token(client, Role.ADMIN, name="test")))
    return client


def admin_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app of ``settings`` over HTTP on ``API_TODAY``, authenticated as ``admin``."""
    with TestClient(create_app(settings, gateway=gateway, clock=lambda: API_TODAY)) as test_client:
        yield as_admin(test_client)


@pytest.fixture
def client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app over HTTP, authenticated as ``admin``; pass other headers per request
    (``bearer(issue_token(client, "agent"))``) to act as another role."""
    yield from admin_client(settings, gateway)


@pytest.fixture(params=["in process", "placement worker"])
def placing_client(
    request: pytest.FixtureRequest, sync_database_url: str, rules_dir: Path, gateway: TestGateway
) -> Iterator[TestClient]:
    """``client``, placing orders in the server's own process and, again, in its placement
    worker (``server/placement_worker.py``): for the tests of what a placement promises."""
    worker = request.param == "placement worker"
    yield from admin_client(
        make_settings(sync_database_url, rules_dir, placement_worker=worker), gateway
    )
