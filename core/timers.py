"""Timed work per connection without a task per connection.

Thousands of idle websockets each sleeping in a task of their own (a ping loop, a token expiry, a presence
lease refresh) pay for a task and its coroutine frames apiece. A `Timer` is a timer handle while it waits
and a task only while its action runs.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

logger = logging.getLogger(__name__)

# The action's answer: seconds until it runs again, or None when it is done.
Action = Callable[[], Awaitable[float | None]]


class Timer:
    def __init__(self, action: Action, name: str) -> None:
        self._action = action
        self._name = name
        self._handle: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self, delay: float) -> None:
        """Runs the action in `delay` seconds (once; again if it answers a delay)."""
        if self._handle is None and self._running is None and not self._stopped:
            self._handle = asyncio.get_running_loop().call_later(max(0.0, delay), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._running = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        try:
            again = await self._action()
        except Exception:
            logger.exception("%s failed; not run again", self._name)
            again = None
        finally:
            self._running = None
        if again is not None:
            self.start(again)

    async def stop(self) -> None:
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        running = self._running
        if running is not None and running is not asyncio.current_task():
            running.cancel()
            with suppress(asyncio.CancelledError):
                await running
