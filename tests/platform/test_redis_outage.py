"""A Redis outage of several seconds, on a Redis of the tests' own that is stopped and restarted on its
port: the arq worker rides it out, `/health/ready` reports Redis down meanwhile, and the pub/sub hub
reconnects and makes every open stream resubscribe, so subscriptions converge without the client."""

import asyncio
import json
import uuid

import httpx
import pytest
from arq import create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import func, select

from broadcast.hub import Hub, HubReconnected
from broadcast.notifications import NotificationCreated, user_channel
from core.db import read_session
from core.settings import get_settings
from devstack import EmbeddedRedis
from models.base import utcnow
from models.notifications import Channel, Notification, NotificationStatus
from tests.helpers.client import TRANSPORT_WS, subscription
from tests.helpers.factories import make_account
from tests.helpers.processes import api_process
from tests.helpers.redis_outage import outage, redis_url, until
from workers.settings import worker_settings

NOTIFICATIONS = "subscription { notifications { title } }"


async def _welcomes(user_id: uuid.UUID) -> int:
    async with read_session() as db:
        statement = select(func.count()).select_from(Notification).where(Notification.user_id == user_id)
        return int((await db.execute(statement)).scalar_one())


async def test_the_worker_rides_out_a_redis_outage_and_runs_jobs_after_it(
    own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker with the production settings on a Redis of its own, running jobs
    options = worker_settings(get_settings().model_copy(update={"redis_url": redis_url(own_redis)}))
    worker = Worker(
        functions=options["functions"],
        redis_settings=options["redis_settings"],
        max_jobs=options["max_jobs"],
        job_timeout=options["job_timeout"],
        handle_signals=False,
        poll_delay=0.05,
    )
    running = asyncio.create_task(worker.main())
    first, second = await make_account(), await make_account()
    queue = await create_pool(options["redis_settings"])
    try:
        await queue.enqueue_job("notification.welcome", str(first.user.id))
        await until(lambda: _welcomes_at_least(first.user.id, 1))
        # When Redis goes away for several seconds and comes back
        await outage(own_redis, monkeypatch)
        # Then the worker is still running, and runs the next job
        assert not running.done(), running
        await queue.enqueue_job("notification.welcome", str(second.user.id))
        await until(lambda: _welcomes_at_least(second.user.id, 1))
        assert not running.done()
    finally:
        # A finished job's task still records its result for a moment; cancelling it then would fail close().
        await until(lambda: _idle(worker))
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await worker.close()
        await queue.aclose()


async def _idle(worker: Worker) -> bool:
    return all(task.done() for task in worker.tasks.values())


async def _welcomes_at_least(user_id: uuid.UUID, count: int) -> bool:
    return await _welcomes(user_id) >= count


async def test_the_hub_reconnects_and_ends_open_streams_with_hub_reconnected(
    own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a hub on a Redis of its own, with a subscriber that has received an event
    client = Redis.from_url(redis_url(own_redis), decode_responses=True)
    hub = Hub(client)
    await hub.start()
    try:
        async with hub.subscribe("room:outage") as subscriber:
            await client.publish("room:outage", json.dumps({"n": 1}))
            stream = aiter(subscriber)
            assert await anext(stream) == {"n": 1}
            # When Redis goes away and comes back
            await outage(own_redis, monkeypatch)
            # Then the stream ends with the resubscribe signal once Redis answers again
            with pytest.raises(HubReconnected):
                async with asyncio.timeout(15):
                    await anext(stream)
        # And a new subscription on the same hub gets what is published from then on
        async with hub.subscribe("room:outage") as again:
            await client.publish("room:outage", json.dumps({"n": 2}))
            assert await anext(aiter(again)) == {"n": 2}
        assert hub.reconnections == 1
    finally:
        await hub.stop()
        await client.aclose()


def _notification(user_id: uuid.UUID, title: str) -> str:
    row = Notification(
        id=uuid.uuid4(),
        user_id=user_id,
        kind="test",
        title=title,
        body="",
        channel=Channel.IN_APP,
        status=NotificationStatus.SENT,
        created_at=utcnow(),
    )
    return json.dumps(NotificationCreated.of(row).payload())


async def test_an_api_on_a_failing_redis_reports_it_down_and_its_subscriptions_converge(
    own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an api process on a Redis of its own, and a user subscribed to their notifications there
    account = await make_account()
    channel = user_channel(account.user.id)
    publisher = Redis.from_url(redis_url(own_redis))

    async def subscribed() -> bool:
        try:
            return bool((await publisher.pubsub_numsub(channel))[0][1])
        except OSError:
            return False

    try:
        async with (
            api_process(REDIS_URL=redis_url(own_redis)) as api,
            httpx.AsyncClient(base_url=api, timeout=10) as http,
            subscription(api, TRANSPORT_WS, token=account.token) as socket,
        ):
            await socket.start(NOTIFICATIONS)
            await until(subscribed)
            await publisher.publish(channel, _notification(account.user.id, "before"))
            assert await socket.next_data() == {"notifications": {"title": "before"}}

            # When Redis is down for several seconds
            async def readiness() -> httpx.Response:
                await asyncio.sleep(1.5)  # past the cached round of checks
                return await http.get("/health/ready")

            during = await outage(own_redis, monkeypatch, during=readiness)
            # Then meanwhile the api said it was not ready, because of Redis
            assert during.status_code == 503
            assert during.json()["components"]["redis"]["status"] == "down"
            # And once Redis is back, the same subscription receives what is published, with no action
            # from the client: its stream resubscribed when the hub reconnected
            await publisher.aclose()
            publisher = Redis.from_url(redis_url(own_redis))
            await until(subscribed)
            await publisher.publish(channel, _notification(account.user.id, "after"))
            assert await socket.next_data(timeout=10) == {"notifications": {"title": "after"}}
            # And readiness recovers
            await asyncio.sleep(1.5)
            assert (await http.get("/health/ready")).status_code == 200
    finally:
        await publisher.aclose()
