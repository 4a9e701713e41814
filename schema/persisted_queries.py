"""Stores a persisted query (core/apq.py) once the schema has parsed and validated it."""

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from core import apq
from core.ratelimit import client_key
from core.settings import Settings
from schema.context import Context


class PersistedQueries(SchemaExtension):
    def __init__(self, settings: Settings) -> None:
        self.ttl_seconds = settings.persisted_query_ttl_seconds
        self.max_bytes = settings.persisted_query_max_bytes

    async def on_validate(self) -> AsyncIterator[None]:
        yield
        if apq.pending_registration() is None or self.execution_context.pre_execution_errors:
            return
        context = self.execution_context.context
        client = client_key(context.client_ip if isinstance(context, Context) else None)
        await apq.register(client, ttl_seconds=self.ttl_seconds, max_bytes=self.max_bytes)
