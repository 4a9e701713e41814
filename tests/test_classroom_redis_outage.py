"""A live class through a Redis outage: the step change made while Redis was away reaches the phones
that stayed subscribed, as a fresh snapshot once the hub reconnects; nothing is left silently stale."""

import httpx
import pytest
from redis.asyncio import Redis

from broadcast.classroom import session_stream
from devstack import EmbeddedRedis
from tests.classroom_factories import join, make_classroom
from tests.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, subscription
from tests.processes import api_process
from tests.redis_outage import outage, redis_url, until
from tests.test_classroom_subscriptions import NEXT, SESSION_EVENTS


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_step_changed_during_a_redis_outage_reaches_subscribed_phones_as_a_snapshot(
    protocol: str, own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a started class on an api process whose Redis is its own, and a phone following the session
    room = await make_classroom(steps=3, start=True)
    phone = await join(room)
    channel = session_stream(room.session.id).channel
    watcher = Redis.from_url(redis_url(own_redis))

    async def followed() -> bool:
        try:
            return bool((await watcher.pubsub_numsub(channel))[0][1])
        except OSError:
            return False

    try:
        async with (
            api_process(REDIS_URL=redis_url(own_redis)) as api,
            subscription(api, protocol, token=phone.token) as sub,
        ):
            await sub.start(SESSION_EVENTS, {"id": room.id})
            first = (await sub.next_data())["sessionEvents"]
            assert first["__typename"] == "SessionSnapshot"
            assert first["currentStep"] == {"id": str(room.steps[0].id)}

            # When the instructor moves to the next step while Redis is down
            async def next_step() -> dict[str, object]:
                async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                    return await GraphQLClient(http).execute(
                        NEXT, {"id": room.id}, token=room.instructor.token
                    )

            answer = await outage(own_redis, monkeypatch, during=next_step)

            # Then the change itself was made (Postgres had it)
            assert "errors" not in answer, answer
            # And once Redis is back, the phone gets a fresh snapshot showing the new step, unasked
            await watcher.aclose()
            watcher = Redis.from_url(redis_url(own_redis))
            await until(followed)
            again = (await sub.next_data(timeout=15))["sessionEvents"]
            assert again["__typename"] == "SessionSnapshot"
            assert again["currentStep"] == {"id": str(room.steps[1].id)}
            assert again["status"] == "IN_PROGRESS"
    finally:
        await watcher.aclose()
