"""Redis pub/sub seen from a test: wait until the api is listening on a channel."""

import asyncio


async def wait_for_subscribers(channel: str, count: int = 1) -> None:
    """Waits until `count` connections (one per api process) are subscribed to `channel` on Redis."""
    from core.redis import redis

    async with asyncio.timeout(10):
        while True:
            [(_, subscribed)] = await redis().pubsub_numsub(channel)
            if subscribed >= count:
                return
            await asyncio.sleep(0.01)
