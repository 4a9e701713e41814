"""A real SMTP server (aiosmtpd) on a free local port, keeping every message it receives."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from devstack import free_port


@dataclass
class MailServer:
    url: str
    messages: list[EmailMessage] = field(default_factory=list)
    # The tests' loop: the server runs in a thread of its own and hands each message over to it.
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def keep(self, message: EmailMessage) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages


class _Keep:
    def __init__(self, server: MailServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self._server.loop.call_soon_threadsafe(self._server.keep, message)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[MailServer]:
    port = free_port()
    server = MailServer(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(_Keep(server), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
