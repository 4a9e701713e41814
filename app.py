"""The Starlette application factory: GraphQL, offline GraphiQL, health, metrics and App Links."""

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcast.hub import start_hub, stop_hub
from core import ai_providers, health, metrics, monitor
from core.asgi import BodyLimit, ForwardedClient, trusted_networks
from core.db import dispose_engine
from core.heap import freeze_startup_heap
from core.jobs import close_job_queue
from core.kafka import close_activity_producer, kafka_degraded_reason, scrape_kafka_metrics
from core.logging import configure_logging, operation_var, request_id_var, user_id_var
from core.redis import close_redis
from core.settings import Settings, get_settings
from resolvers.recordings.ingest import drain_figures, scrape_dead_letters
from schema import build_schema
from schema.graphiql import STATIC_DIR, STATIC_PATH
from schema.stripe_webhook import stripe_webhook
from schema.view import GraphQLView

access_logger = logging.getLogger("studymate.access")

# A client-chosen request id is kept only if it cannot break a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OTHER_ROUTE = "other"
_CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "Apollo-Require-Preflight",
    "X-Apollo-Operation-Name",
    "X-Apollo-Operation-Id",
    "Apollographql-Client-Name",
    "Apollographql-Client-Version",
    "X-Request-Id",
)


class RequestTelemetry:
    """Gives every request an id (echoed as X-Request-Id), one access log line and HTTP metrics."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and isinstance(route, Route | WebSocketRoute | Mount):
                return route.path
        return _OTHER_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request_id_var.set(request_id)
        operation_var.set(None)
        user_id_var.set(None)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-Id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self._route(scope)
            method = scope.get("method", "WEBSOCKET")
            if scope["type"] == "http":
                metrics.http_requests.labels(method, route, str(status)).inc()
                metrics.http_latency.labels(method, route).observe(elapsed)
            client = scope.get("client")
            # The path only: query strings of GET /graphql carry variables, which can hold secrets.
            fields = {
                "method": method,
                "path": scope["path"],
                "status": status if scope["type"] == "http" else None,
                "durationMs": round(elapsed * 1000, 1),
                "client": client[0] if client else None,
            }
            access_logger.info(
                "websocket closed" if method == "WEBSOCKET" else "request", extra={"fields": fields}
            )


async def liveness(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging()
    health.register_degraded_reason("kafka", kafka_degraded_reason)
    health.register_figures("kafka", drain_figures)
    graphql = GraphQLView(build_schema(settings), settings)

    probe = health.ReadinessProbe(settings)

    async def readiness(request: Request) -> JSONResponse:
        result = await probe.readiness()
        return JSONResponse(result.as_json(), status_code=200 if result.ready else 503)

    async def metrics_text(request: Request) -> Response:
        body, content_type = await metrics.render()
        return Response(body, media_type=content_type)

    async def assetlinks(request: Request) -> JSONResponse:
        statement = {
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": settings.android_package_name,
                "sha256_cert_fingerprints": settings.android_cert_fingerprints,
            },
        }
        return JSONResponse([statement], headers={"Cache-Control": "public, max-age=3600"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await start_hub()
        unregister_kafka_metrics = metrics.register_scrape_hook(scrape_kafka_metrics)
        unregister_dead_letters = metrics.register_scrape_hook(scrape_dead_letters)
        monitor_reporter = asyncio.create_task(monitor.report_forever(), name="monitor-reporter")
        freeze_startup_heap()
        try:
            yield
        finally:
            monitor_reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor_reporter
            unregister_dead_letters()
            unregister_kafka_metrics()
            await probe.close()
            await close_activity_producer()
            await ai_providers.close_clients()
            await stop_hub()
            await close_job_queue()
            await close_redis()
            await dispose_engine()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
        Route("/health", liveness),
        Route("/health/ready", readiness),
        Route("/metrics", metrics_text),
        Route("/.well-known/assetlinks.json", assetlinks),
        Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
    ]
    middleware = [
        # First, so the access log, rate limits and everything else see the real client address.
        Middleware(ForwardedClient, trusted=trusted_networks(settings.trusted_proxies)),
        Middleware(RequestTelemetry, routes=routes),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=_CORS_HEADERS,
            expose_headers=["X-Request-Id"],
            max_age=600,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
