"""The Starlette application factory: GraphQL, health and the process's shared connections."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from broadcast.hub import start_hub, stop_hub
from core.db import dispose_engine
from core.jobs import close_job_queue
from core.logging import configure_logging
from core.redis import close_redis
from schema import schema
from schema.view import GraphQLView


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    configure_logging()
    await start_hub()
    try:
        yield
    finally:
        await stop_hub()
        await close_job_queue()
        await close_redis()
        await dispose_engine()


def create_app() -> Starlette:
    graphql = GraphQLView(schema)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/health", health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
