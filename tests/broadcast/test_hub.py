import asyncio

import pytest

from broadcast.hub import Hub, SubscriberTooSlow, publish, pubsub_client
from core.redis import redis
from tests.helpers.pubsub import wait_for_subscribers


@pytest.fixture
async def hub() -> Hub:
    started = Hub(pubsub_client(), queue_size=4)
    await started.start()
    yield started
    await started.stop()
    await started.client.aclose()


async def test_subscribing_while_the_reader_waits_never_races_it(hub: Hub) -> None:
    # Given the hub's reader waiting on its pub/sub connection, which makes no health-check pings (a ping
    # sent by a subscribing coroutine would race the reader for the replies)
    assert hub.client.connection_pool.connection_kwargs.get("health_check_interval", 0) == 0
    # When channels are subscribed and left back to back, the reader idle in between
    failures = []
    for n in range(30):
        try:
            async with hub.subscribe(f"room:churn:{n}"):
                pass
        except Exception as error:
            failures.append(repr(error))
        await asyncio.sleep(0.005)
    # Then every subscription was confirmed
    assert failures == []


async def test_a_channel_is_subscribed_on_redis_once_however_many_local_subscribers(hub: Hub) -> None:
    # Given three local subscribers to one channel
    async with hub.subscribe("room:1") as a, hub.subscribe("room:1") as b, hub.subscribe("room:1") as c:
        [(_, on_redis)] = await redis().pubsub_numsub("room:1")
        # When one event is published
        await publish("room:1", {"n": 1})
        # Then Redis sees one subscription, and every local subscriber gets the event
        received = [await anext(aiter(s)) for s in (a, b, c)]
    assert on_redis == 1
    assert received == [{"n": 1}] * 3


async def test_leaving_the_last_subscriber_unsubscribes_from_redis(hub: Hub) -> None:
    async with hub.subscribe("room:2"):
        pass
    await asyncio.sleep(0)
    [(_, on_redis)] = await redis().pubsub_numsub("room:2")
    assert (on_redis, hub.channel_count, hub.subscriber_count) == (0, 0, 0)


async def test_a_slow_subscriber_is_dropped_without_slowing_the_others(hub: Hub) -> None:
    # Given a subscriber that reads nothing and one that keeps up
    async with hub.subscribe("room:3") as slow, hub.subscribe("room:3") as fast:
        await wait_for_subscribers("room:3")
        fast_received: list[int] = []
        for n in range(10):
            await publish("room:3", {"n": n})
            event = await anext(aiter(fast))
            fast_received.append(event["n"])
        # Then the fast one got everything, and the slow one's stream ends with an overflow
        assert fast_received == list(range(10))
        with pytest.raises(SubscriberTooSlow):
            async for _ in slow:
                pass
        assert hub.subscriber_count == 1
