"""The admins' live monitor: refused to everyone else; every 2 s the components of /health/ready and the
figures of /metrics, summed over every api process through Redis."""

from datetime import UTC, datetime, timedelta

import pytest
from arq.constants import default_queue_name

from core.auth import Role
from core.jobs import enqueue, job_queue
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, subscription
from tests.helpers.factories import make_account
from tests.helpers.processes import api_process

SYSTEM_STATUS = """
subscription { systemStatus {
  at components { name status latencyMs } requestsPerSecond openWebsockets activeSubscriptions kafkaLag
  queuedJobs
} }"""


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_the_monitor_is_refused_to_everyone_but_admins(api_url, protocol: str) -> None:
    student, instructor = await make_account(), await make_account(Role.INSTRUCTOR)
    for token, code in (
        (student.token, "FORBIDDEN"),
        (instructor.token, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ):
        async with subscription(api_url, protocol, token=token) as sub:
            await sub.start(SYSTEM_STATUS)
            message = await sub.receive()
        errors = message["payload"]["errors"] if message["type"] != "error" else message["payload"]
        assert [e["extensions"]["code"] for e in errors] == [code]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_an_admin_sees_the_components_and_figures_every_two_seconds(api_url, protocol: str) -> None:
    # Given an admin (their welcome mail queued) and a job deferred for an hour
    admin = await make_account(Role.ADMIN)
    await enqueue(
        "studyrooms.timer_boundary",
        "x",
        "y",
        1,
        job_id="monitor-test",
        defer_until=datetime.now(UTC) + timedelta(hours=1),
    )
    queued = await (await job_queue()).zcard(default_queue_name)
    assert queued >= 2
    async with subscription(api_url, protocol, token=admin.token) as sub:
        await sub.start(SYSTEM_STATUS)
        # When they watch the monitor for two reports
        first = (await sub.next_data(timeout=15))["systemStatus"]
        second = (await sub.next_data(timeout=15))["systemStatus"]
    # Then every component is up with its latency, and the figures count this very subscription
    for status in (first, second):
        assert {c["name"]: c["status"] for c in status["components"]} == {
            "postgres": "up",
            "redis": "up",
            "kafka": "up",
        }
        assert all(c["latencyMs"] >= 0 for c in status["components"])
        assert status["queuedJobs"] == queued
        assert status["kafkaLag"] >= 0
        assert status["requestsPerSecond"] >= 0
    assert second["openWebsockets"] >= 1 and second["activeSubscriptions"] >= 1
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert timedelta(seconds=1.5) <= gap <= timedelta(seconds=4)


async def test_the_figures_cover_every_api_process(api_url) -> None:
    # Given an admin watching through this process, and a websocket open on another
    admin = await make_account(Role.ADMIN)
    async with (
        api_process() as other_url,
        subscription(other_url, TRANSPORT_WS, token=admin.token) as elsewhere,
    ):
        await elsewhere.start(SYSTEM_STATUS)
        await elsewhere.next_data(timeout=15)
        async with subscription(api_url, TRANSPORT_WS, token=admin.token) as sub:
            await sub.start(SYSTEM_STATUS)
            # Then within a few reports both sockets and both subscriptions are counted
            for _ in range(5):
                status = (await sub.next_data(timeout=15))["systemStatus"]
                if status["openWebsockets"] >= 2 and status["activeSubscriptions"] >= 2:
                    break
            assert (status["openWebsockets"], status["activeSubscriptions"]) >= (2, 2)
