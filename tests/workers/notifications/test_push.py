"""Push delivery against a local FCM (OAuth2 token endpoint and HTTP v1 messages:send)."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.db import read_session
from models.base import utcnow
from models.notifications import Channel, DeviceToken, Notification, NotificationStatus
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account, make_account
from tests.helpers.notification_delivery import configured_push, notify, rows, worker_context
from workers.notifications import deliver

REGISTER = (
    "mutation($token: String!, $platform: Platform!) { registerDevice(token: $token, platform: $platform) }"
)


async def _register(gql: GraphQLClient, account: Account, token: str) -> None:
    assert (await gql.data(REGISTER, {"token": token, "platform": "ANDROID"}, token=account.token))[
        "registerDevice"
    ]


async def _deliver_push(created: list[Notification]) -> str:
    [push] = [row for row in created if row.channel is Channel.PUSH]
    return await deliver(worker_context(utcnow()), str(push.id))


async def _devices() -> dict[str, tuple[bool, str | None]]:
    async with read_session() as db:
        found = await db.execute(select(DeviceToken).order_by(col(DeviceToken.token)))
        return {d.token: (d.active, d.deactivated_reason) for d in found.scalars()}


async def test_a_summary_is_pushed_to_each_device_and_an_unregistered_token_is_deactivated(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with configured_push(monkeypatch, tmp_path) as fcm:
        # Given a user with two devices, one of which FCM no longer knows
        account = await make_account()
        await _register(gql, account, "phone-token")
        await _register(gql, account, "uninstalled-token")
        fcm.unregistered.add("uninstalled-token")
        # When their summary is ready and the worker delivers
        created = await notify(account.user.id, "summary_ready", "summary:1", title="광합성")
        assert await _deliver_push(created) == "sent"
        # Then the phone got it, with a token from the service account's token endpoint
        [message] = fcm.sent
    assert message["token"] == "phone-token"
    assert message["notification"] == {
        "title": "요약이 준비되었습니다",
        "body": "'광합성' 요약을 지금 읽어 보세요.",
    }
    [push] = await rows(Channel.PUSH, account.user.id)
    assert message["data"] == {"kind": "summary_ready", "notificationId": str(push.id)}
    assert push.status is NotificationStatus.SENT
    assert fcm.token_requests == 1
    # and the unregistered token is off at once
    assert await _devices() == {"phone-token": (True, None), "uninstalled-token": (False, "UNREGISTERED")}


async def test_a_push_with_only_dead_tokens_is_skipped_and_never_sent_again(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with configured_push(monkeypatch, tmp_path) as fcm:
        account = await make_account()
        await _register(gql, account, "gone-token")
        fcm.unregistered.add("gone-token")
        first = await notify(account.user.id, "essay_graded", "essay:1", title="Essay", score=90)
        assert await _deliver_push(first) == "skipped: every device token was refused"
        second = await notify(account.user.id, "essay_graded", "essay:2", title="Essay", score=95)
        assert await _deliver_push(second) == "skipped: no active device"
    assert fcm.sent == []
    assert [(r.dedupe_key, r.status, r.error) for r in await rows(Channel.PUSH, account.user.id)] == [
        ("essay:1", NotificationStatus.SKIPPED, "every device token was refused"),
        ("essay:2", NotificationStatus.SKIPPED, "no active device"),
    ]


async def test_a_long_body_is_shortened_to_fit_the_4kb_payload(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with configured_push(monkeypatch, tmp_path) as fcm:
        instructor = await make_account()
        await _register(gql, instructor, "tablet-token")
        created = await notify(
            instructor.user.id,
            "help_requested",
            "help:1",
            participant="Lee",
            session="S",
            message="도" * 1700,
        )
        assert await _deliver_push(created) == "sent"
        [message] = fcm.sent
    assert message["notification"]["body"].endswith("…")
    assert len(message["notification"]["body"]) < 1700


async def test_registering_a_token_again_moves_it_to_the_new_user(gql: GraphQLClient) -> None:
    first, second = await make_account(), await make_account()
    await _register(gql, first, "shared-tablet")
    await _register(gql, second, "shared-tablet")
    async with read_session() as db:
        [device] = (await db.execute(select(DeviceToken))).scalars()
    assert device.user_id == second.user.id
    unregister = "mutation($token: String!) { unregisterDevice(token: $token) }"
    assert (await gql.data(unregister, {"token": "shared-tablet"}, token=first.token))[
        "unregisterDevice"
    ] is False
    assert (await gql.data(unregister, {"token": "shared-tablet"}, token=second.token))[
        "unregisterDevice"
    ] is True
    assert await _devices() == {}
