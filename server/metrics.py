"""``GET /metrics``: the service in Prometheus's text format (``prometheus-client``).

What is measured, and where it comes from (docs/OPERATIONS.md lists the alerts to set):

- HTTP responses by route and status (``HttpMetricsMiddleware``), which counts the guard's
  401/413 refusals that never reach GraphQL;
- GraphQL operations by root field(s) and type, their latency, and their errors by code, both
  GraphQL errors and the ``userErrors`` of mutation payloads (``server.graphql_metrics``, a
  Strawberry extension added to the schema by ``server.app``);
- job runs by job and final status, their duration, the items they counted and the items that
  failed, child orders created (an observer of the run ledger, ``continuity.jobs.runs``: the
  domain knows nothing of Prometheus);
- payment-gateway calls by operation and outcome (an observer of
  ``continuity.payments.charges.call_gateway``, the one place that calls the gateway);
- notifications delivered by this process (``scheduler.delivery``'s observer);
- read from the database at each scrape, with a few indexed counts: notifications pending,
  failing and dead, orders on payment hold, runs in progress per job, and each job's last
  successful end (so any replica answers for the whole service);
- whether this replica leads the scheduler, and whether the database answered the scrape.

Counters live in this process: Prometheus sums them across replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from continuity.connection import connection
from continuity.enums import JobRunStatus
from continuity.jobs import JOBS
from continuity.jobs.runs import RunRecorder, add_run_observer
from continuity.models import JobRun
from continuity.notifications.delivery import DeliveryReport
from continuity.payments.charges import add_gateway_call_observer
from continuity.payments.gateway import GatewayResult
from scheduler.delivery import delivery_observers

log = logging.getLogger("continuity.server")

# No ``*_created`` series beside every counter: the process start time says as much.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_RESPONSES = Counter(
    "continuity_http_responses",
    "HTTP responses by route and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "continuity_graphql_operations",
    "GraphQL operations by root field(s) and operation type.",
    ["operation", "type"],
    registry=REGISTRY,
)
GRAPHQL_DURATION = Histogram(
    "continuity_graphql_operation_duration_seconds",
    "Time to parse, validate and execute a GraphQL operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "continuity_graphql_errors",
    "GraphQL errors and mutation userErrors, by operation and error code.",
    ["operation", "code"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "continuity_job_runs",
    "Job runs ended, by job and status (succeeded, partial, failed, interrupted, abandoned).",
    ["job", "status"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "continuity_job_run_duration_seconds",
    "Duration of the job runs of this process.",
    ["job"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400),
    registry=REGISTRY,
)
JOB_ITEMS = Counter(
    "continuity_job_items",
    "What job runs did, by job and count name (child_orders, lines, charged, declined, ...).",
    ["job", "count"],
    registry=REGISTRY,
)
JOB_ITEM_FAILURES = Counter(
    "continuity_job_item_failures",
    "Items a job run could not handle (recorded on the run, retried by the next).",
    ["job"],
    registry=REGISTRY,
)
CHILD_ORDERS = Counter(
    "continuity_child_orders_created",
    "Child orders created by the create-child-orders job.",
    registry=REGISTRY,
)
GATEWAY_CALLS = Counter(
    "continuity_gateway_calls",
    "Payment-gateway calls (charges, authorizations, refunds) by operation and outcome.",
    ["operation", "outcome"],
    registry=REGISTRY,
)
NOTIFICATIONS_DELIVERED = Counter(
    "continuity_notifications_delivered",
    "Notifications sent by this process's delivery passes.",
    registry=REGISTRY,
)
NOTIFICATION_DELIVERY_FAILURES = Counter(
    "continuity_notification_delivery_failures",
    "Failed delivery attempts (retried with back-off until dead).",
    registry=REGISTRY,
)
NOTIFICATIONS = Gauge(
    "continuity_notifications",
    "Notifications waiting or given up, by status (pending, failed: retrying, dead).",
    ["status"],
    registry=REGISTRY,
)
ORDERS_ON_HOLD = Gauge(
    "continuity_orders_payment_hold",
    "Continuity orders on payment hold.",
    registry=REGISTRY,
)
JOBS_RUNNING = Gauge(
    "continuity_job_runs_running",
    "Job runs in progress (any replica), by job.",
    ["job"],
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "continuity_job_last_success_timestamp_seconds",
    "When each job last ended succeeded or partial (any replica), as a Unix time.",
    ["job"],
    registry=REGISTRY,
)
SCHEDULER_LEADER = Gauge(
    "continuity_scheduler_leader",
    "1 when this replica runs the scheduled job chain.",
    registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "continuity_database_up",
    "1 when the database answered the last scrape's queries.",
    registry=REGISTRY,
)

#: How long a scrape may spend on the database before answering without its gauges.
SCRAPE_DATABASE_TIMEOUT = 3.0


# -- job runs and deliveries ----------------------------------------------------------------


class RunMetrics:
    """The run ledger's observer."""

    def run_started(self, recorder: RunRecorder) -> None:
        pass

    def run_finished(self, run: JobRun) -> None:
        JOB_RUNS.labels(run.job, run.status.value).inc()
        if run.finished_at is not None and run.status is not JobRunStatus.ABANDONED:
            JOB_DURATION.labels(run.job).observe(
                max(0.0, (run.finished_at - run.started_at).total_seconds())
            )
        for name, value in run.counts.items():
            if isinstance(value, int) and not name.endswith("_minor") and value > 0:
                JOB_ITEMS.labels(run.job, name).inc(value)
        failed = sum(1 for failure in run.failures if failure.get("item") != "run")
        if failed:
            JOB_ITEM_FAILURES.labels(run.job).inc(failed)
        # an abandoned run's counts are its last heartbeat's: its own process died before it
        # could count them, so they are counted here, by the process that found it
        if run.job == "create-child-orders":
            CHILD_ORDERS.inc(int(run.counts.get("child_orders", 0)))


def _delivered(report: DeliveryReport) -> None:
    NOTIFICATIONS_DELIVERED.inc(report.sent)
    NOTIFICATION_DELIVERY_FAILURES.inc(report.failed + report.dead)


def observe() -> Callable[[], None]:
    """Start counting job runs, gateway calls and deliveries; returns the way to stop (app
    shutdown)."""
    stop_runs = add_run_observer(RunMetrics())
    stop_calls = add_gateway_call_observer(_gateway_call)
    delivery_observers.append(_delivered)

    def stop() -> None:
        stop_runs()
        stop_calls()
        if _delivered in delivery_observers:
            delivery_observers.remove(_delivered)

    return stop


# -- the payment gateway --------------------------------------------------------------------


def _gateway_call(
    operation: str, _key: str, _amount_minor: int, _currency: str, result: GatewayResult | None
) -> None:
    """Count one gateway call (``continuity.payments.charges`` tells of each)."""
    GATEWAY_CALLS.labels(operation, result.outcome.value if result else "exception").inc()


# -- HTTP -----------------------------------------------------------------------------------------

_ROUTES = frozenset({"/graphql", "/health", "/ready", "/metrics"})


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope.get("path", "") if scope.get("path") in _ROUTES else "other"

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                HTTP_RESPONSES.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)


# -- the scrape -------------------------------------------------------------------------------


async def _count_rows() -> None:
    conn = connection()
    _n, rows = await conn.execute_query(
        "SELECT status, COUNT(*) AS n FROM notification "
        "WHERE status IN ('pending', 'failed', 'dead') GROUP BY status"
    )
    found = {str(row["status"]): int(row["n"]) for row in rows}
    for status in ("pending", "failed", "dead"):
        NOTIFICATIONS.labels(status).set(found.get(status, 0))
    _n, rows = await conn.execute_query(
        "SELECT COUNT(*) AS n FROM continuity_order WHERE status = 'payment_hold'"
    )
    ORDERS_ON_HOLD.set(int(rows[0]["n"]))
    running = dict.fromkeys(JOBS, 0)
    _n, rows = await conn.execute_query(
        "SELECT job, COUNT(*) AS n FROM job_run WHERE status = 'running' GROUP BY job"
    )
    running.update({str(row["job"]): int(row["n"]) for row in rows})
    for job, count in running.items():
        JOBS_RUNNING.labels(job).set(count)
    _n, rows = await conn.execute_query(
        "SELECT job, MAX(finished_at) AS at FROM job_run "
        "WHERE status IN ('succeeded', 'partial') GROUP BY job"
    )
    for row in rows:
        at = row["at"]
        if isinstance(at, str):  # SQLite hands raw timestamps back as text
            at = datetime.fromisoformat(at)
        if isinstance(at, datetime):
            stamp = at if at.tzinfo else at.replace(tzinfo=UTC)
            JOB_LAST_SUCCESS.labels(str(row["job"])).set(stamp.timestamp())


async def scrape(is_leader: bool) -> bytes:
    """Refresh the gauges read from the database (within ``SCRAPE_DATABASE_TIMEOUT``), then
    render every metric."""
    SCHEDULER_LEADER.set(1 if is_leader else 0)
    try:
        await asyncio.wait_for(_count_rows(), SCRAPE_DATABASE_TIMEOUT)
    except Exception as exc:
        log.warning("metrics: the database did not answer: %s", exc)
        DATABASE_UP.set(0)
    else:
        DATABASE_UP.set(1)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    background = getattr(request.app.state, "background", None)
    body = await scrape(bool(background is not None and background.is_leader))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
