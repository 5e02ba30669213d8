"""The ASGI application: GraphQL at ``/graphql``, the probes (``/health``, ``/ready``),
``/metrics``, the ORM, the rules and the background work (``scheduler.Background``).

Start-up order matters: migrate, open the ORM, store the call-center parameters, load the rules
(an invalid rule set is logged and the previous good version stays live), then start the
background work: the scheduler's leader election with its catch-up, and notification delivery.
Shutdown stops starting work and gives the batch in hand ``shutdown_grace_seconds``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType
from tortoise.contrib.starlette import RegisterTortoise

from config.payments import build_gateway, gateway_warnings
from config.settings import Settings, load_settings
from continuity.db import migrate, tortoise_config
from continuity.faults import install as install_faults
from continuity.jobs import JobEnv
from continuity.notifications.policy import set_policy
from continuity.orders.placement import Writer, write_sales_order
from continuity.parameters import save_call_center_parameters
from continuity.payments.gateway import PaymentGateway
from continuity.payments.webhooks import WebhookVerifier
from rules.reload import reload_rules
from scheduler import Background, business_today
from schema import build_schema
from schema.context import Clock, Context
from server import heap, metrics
from server.body import RequestRefused, from_query_params, graphql_request, load_json
from server.graphql_metrics import GraphQLMetrics
from server.guard import Guard, caller_for, error_body
from server.persisted import PersistedQueries, persisted_extension
from server.placement_worker import PlacementWorker
from server.placement_worker import enabled as placement_worker_enabled
from server.probes import RulesState, health, ready
from server.request_id import RequestIdMiddleware
from server.sockets import TokenCheckedHandler
from server.webhooks import webhook_endpoint

log = logging.getLogger("continuity.server")


class ContinuityGraphQL(GraphQL[Context, None]):
    #: Websockets re-check their token (``server/sockets.py``).
    graphql_transport_ws_handler_class = TokenCheckedHandler

    def __init__(
        self, settings: Settings, gateway: PaymentGateway, clock: Clock | None = None
    ) -> None:
        development = settings.service.development
        schema = build_schema(development=development)
        schema.extensions = (*schema.extensions, GraphQLMetrics)
        super().__init__(
            schema,
            graphql_ide="graphiql" if development else None,
            # GET runs persisted queries only (parse_http_body), and queries only
            allow_queries_via_get=True,
            # graphql-transport-ws only: the legacy graphql-ws protocol has no token checks
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings
        self.gateway = gateway
        self.clock = clock
        self.persisted = PersistedQueries()
        #: Who runs a placement's checks and write: this process, or the placement worker
        #: once started (``create_app``'s lifespan).
        self.write_sales_order: Writer = write_sales_order

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry answers its refusals as plain text; ours are JSON errors with a code.
        Once the answer is sent, the request's loaders let go of what they read
        (``Loaders.release``)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            await self._answer(request, scope, receive, send)
        finally:
            context = scope.pop(_CONTEXT, None)
            if context is not None:
                context.loaders.release()

    async def _answer(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.run(request)
        except RequestRefused as refused:
            response = _refusal(scope, refused.message, refused.code, refused.status)
        except HTTPException as refused:
            code = HTTP_CODES.get(refused.status_code, "BAD_REQUEST")
            response = _refusal(scope, refused.reason, code, refused.status_code)
        if request.method == "GET" and response.media_type != "text/html":
            # A persisted read: cacheable by the caller's own cache only, per token.
            cacheable = response.status_code == 200 and request.scope.get("cacheable", False)
            response.headers["Cache-Control"] = GET_CACHE_CONTROL if cacheable else "no-store"
            response.headers["Vary"] = "Authorization"
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """The request, read within bounds (``server/body.py``)."""
        if request.method == "GET":
            data = from_query_params(request.query_params)
            if persisted_extension(data.extensions) is None:
                raise RequestRefused(
                    "GET runs persisted queries only (extensions.persistedQuery): "
                    "POST other queries"
                )
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type != "application/json":
                raise RequestRefused("send the request as Content-Type: application/json")
            data = graphql_request(load_json(await request.get_body(), "the request body"))
        return self.persisted.resolve(data)  # server/persisted.py

    def encode_json(self, data: object) -> str:
        """An answer's JSON (HTTP, and the websocket's messages, which must be text frames),
        by orjson: ``json.dumps`` was a sixteenth of a list page's CPU (50 orders, 150
        lines), orjson a tenth of that. Compact, as Strawberry's; non-ASCII text is written
        as UTF-8 rather than ``\\u`` escapes."""
        return orjson.dumps(data).decode()

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """GraphiQL for a browser's GET; a GET carrying a persisted query (hash only, no
        ``query``) is a query, whatever its ``Accept``."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # What __call__ needs to decide whether a GET answer may be cached.
        request.scope["cacheable"] = not result.errors
        return await super().process_result(request, result)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # server/guard.py authenticated the request and named it.
        state = request.scope.get("state", {})
        context = Context(
            settings=self.settings,
            gateway=self.gateway,
            clock=self.clock,
            request=request,
            response=response,
            caller=state.get("caller"),
            write_sales_order=self.write_sales_order,
        )
        if state.get("request_id"):
            context.request_id = state["request_id"]
        if isinstance(request, Request):
            request.scope[_CONTEXT] = context  # released once the answer is sent (__call__)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A websocket without a token in its handshake may send one in ``connection_init``
        (``{"authorization": "Bearer ct_…"}``: browsers cannot set handshake headers)."""
        if context.caller is None:
            params = context.connection_params or {}
            header = params.get("authorization") or params.get("Authorization")
            _given, context.caller = await caller_for(header if isinstance(header, str) else None)
        if context.caller is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        return cast(UnsetType, UNSET)


#: ``Cache-Control`` of a successful GET (a persisted read): the caller's own cache may keep it
#: a minute; never a shared cache (``private``), and never for another token (``Vary``).
GET_CACHE_CONTROL = "private, max-age=60"
#: ``extensions.code`` of the HTTP refusals Strawberry raises (anything else: BAD_REQUEST).
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
#: The scope key of an HTTP request's GraphQL context.
_CONTEXT = "continuity.context"


def _refusal(scope: Scope, message: str, code: str, status: int) -> Response:
    request_id = str(scope.get("state", {}).get("request_id") or "-")
    return Response(
        error_body(message, code, request_id), status_code=status, media_type="application/json"
    )


async def prepare_database(settings: Settings) -> RulesState:
    """Parameters and rules into the (open) database; bad rules are logged, never applied."""
    await save_call_center_parameters(settings.call_center.model_dump())
    result = await reload_rules(settings.rules_dir)
    state = RulesState(
        loaded=result.report is not None,
        errors=len(result.errors),
        directory=str(settings.rules_dir),
    )
    if result.report is None:
        for error in result.errors:
            log.error("rule error: %s", error)
        log.error(
            "%s in %s: the previous programs stay live",
            result.failure or f"{len(result.errors)} error(s)",
            settings.rules_dir,
        )
    else:
        for change in result.report.programs:
            log.info(
                "program %s %s (version %s → %s)",
                change.program_id,
                change.kind,
                change.from_version,
                change.to_version,
            )
    return state


def create_app(
    settings: Settings | None = None,
    *,
    gateway: PaymentGateway | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """The application. ``gateway`` defaults to the configured one (``build_gateway``: a
    ``ConfigError`` here stops the start); ``clock`` to today in the business time zone.

    With a gateway that receives webhooks (Stripe), ``POST /webhooks/<name>`` takes its
    signed events (``server/webhooks.py``)."""
    settings = settings or load_settings()
    gateway = gateway or build_gateway(settings)
    for warning in gateway_warnings(settings, gateway, server=True):
        log.warning(warning)
    install_faults()
    graphql = ContinuityGraphQL(settings, gateway, clock)
    guarded = Guard(graphql, development=settings.service.development)
    routes = [
        # every method reaches the view, so that a PUT is a JSON 405 with a code too
        Route("/graphql", guarded, methods=None),
        WebSocketRoute("/graphql", guarded),
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics.metrics_endpoint),
    ]
    if isinstance(gateway, WebhookVerifier):
        today = clock or (lambda: business_today(settings))
        routes.append(
            Route(f"/webhooks/{gateway.name}", webhook_endpoint(gateway, today), methods=["POST"])
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate(settings.database_url)
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            app.state.rules = await prepare_database(settings)
            app.state.gateway_name = gateway.name
            # first of what runs beside the requests: a worker that cannot start stops the
            # start with nothing else begun
            worker = PlacementWorker(settings) if placement_worker_enabled(settings) else None
            app.state.placement_worker = worker
            if worker is not None:
                await worker.start()
                graphql.write_sales_order = worker.write
            # who is told what (the outbox writer reads it); put back on shutdown
            previous_policy = set_policy(settings.notifications.policy())
            stop_observing = metrics.observe()
            background = Background(settings, JobEnv(gateway=gateway))
            background.start()
            app.state.background = background
            thresholds = heap.settle()  # the start-up's objects out of the collector's way
            try:
                yield
            finally:
                heap.unsettle(thresholds)
                if worker is not None:
                    graphql.write_sales_order = write_sales_order
                    await worker.stop(settings.service.shutdown_grace_seconds)
                await background.stop(settings.service.shutdown_grace_seconds)
                stop_observing()
                set_policy(previous_policy)
                await gateway.aclose()

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(metrics.HttpMetricsMiddleware),
        ],
        lifespan=lifespan,
    )
