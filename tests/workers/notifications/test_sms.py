"""SMS delivery through the twilio SDK against a local Twilio: only to a verified phone, switched off for a
number Twilio refuses, held in quiet hours, and written to SMS_DIR in development."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db import transaction
from core.settings import get_settings
from models.base import utcnow
from models.notifications import Channel, NotificationPreference, NotificationStatus
from resolvers.notifications.preferences import preferences_of
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import make_account
from tests.helpers.notification_delivery import notify, rows, set_profile, worker_context
from tests.helpers.sms import UPDATE_PHONE, configured_sms, verified_phone
from workers.notifications import deliver

NUMBER = "+821098765432"
FAILED = {"plan": "Pro", "amount": "₩9,900"}


async def _sms_preference(user_id: object) -> bool:
    async with transaction() as db:
        return (await preferences_of(db, user_id)).sms  # type: ignore[arg-type]


async def test_a_failed_payment_is_texted_to_a_verified_phone_only(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        verified, unverified = await make_account(), await make_account()
        await verified_phone(gql, verified, twilio, NUMBER)
        await gql.data(UPDATE_PHONE, {"phone": "+821055554444"}, token=unverified.token)
        twilio.sent.clear()
        # When both users' payments fail
        [*_, sms] = await notify(verified.user.id, "payment_failed", "invoice:1", **FAILED)
        assert await notify(unverified.user.id, "payment_failed", "invoice:2", **FAILED)
        # Then the verified phone is texted, through the SDK, once
        assert sms.channel is Channel.SMS
        assert await deliver(worker_context(utcnow()), str(sms.id)) == "sent"
        assert await deliver(worker_context(utcnow()), str(sms.id)) == "already SENT"
        [message] = twilio.sent
        # and the unverified one got no SMS row at all (it only ever receives its code)
        assert await rows(Channel.SMS, unverified.user.id) == []
    assert message["To"] == NUMBER
    assert message["Body"] == (
        "[StudyMate] 결제에 실패했습니다\n"
        "Pro 요금제 ₩9,900 결제에 실패했습니다. 결제 포털에서 결제 수단을 바꿔 주세요."
    )
    [row] = await rows(Channel.SMS, verified.user.id)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


async def test_a_failed_send_is_retried_with_backoff_and_a_repeated_event_texts_once(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
        twilio.sent.clear()
        twilio.failing.add(NUMBER)
        now = utcnow()
        [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:9", now=now, **FAILED)
        # The same event again (a retried producer) adds nothing
        assert await notify(account.user.id, "payment_failed", "invoice:9", now=now, **FAILED) == []
        outcome = await deliver(worker_context(now), str(sms.id))
        assert outcome.startswith("attempt 1 failed, retrying at")
        assert "503" in outcome
        twilio.failing.clear()
        later = now + timedelta(seconds=30)
        assert await deliver(worker_context(later), str(sms.id)) == "sent"
    [row] = await rows(Channel.SMS, account.user.id)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert [m["To"] for m in twilio.sent] == [NUMBER]


async def test_a_phone_changed_after_the_notification_is_not_texted(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
        [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:3", **FAILED)
        # The user changes to a number not verified yet before the worker runs
        await gql.data(UPDATE_PHONE, {"phone": "+821011112222"}, token=account.token)
        twilio.sent.clear()
        assert await deliver(worker_context(utcnow()), str(sms.id)) == "skipped: no verified phone"
    assert twilio.sent == []


@pytest.mark.parametrize("refusal", ["unsubscribed", "invalid"])
async def test_a_refused_number_switches_sms_off_at_once(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
        assert await _sms_preference(account.user.id)
        twilio.sent.clear()
        # The recipient replied STOP (Twilio's error 21610), or the number is not valid (21211)
        getattr(twilio, refusal).add(NUMBER)
        [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:4", **FAILED)
        outcome = await deliver(worker_context(utcnow()), str(sms.id))
        assert outcome == "skipped: the phone number was refused (invalid or unsubscribed); SMS is now off"
        # SMS is off: the next notification has no SMS row
        assert not await _sms_preference(account.user.id)
        created = await notify(account.user.id, "payment_failed", "invoice:5", **FAILED)
    assert twilio.sent == []
    assert [row.channel for row in created] == [Channel.IN_APP, Channel.EMAIL]
    [refused] = await rows(Channel.SMS, account.user.id)
    assert refused.status is NotificationStatus.SKIPPED


async def test_sms_waits_for_the_end_of_quiet_hours(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
        twilio.sent.clear()
        await set_profile(account.user.id, timezone="Asia/Seoul")
        async with transaction() as db:
            preferences = await db.get(NotificationPreference, account.user.id)
            assert preferences is not None
            preferences.quiet_hours_start, preferences.quiet_hours_end = "22:00", "07:00"
        late = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 23:30 in Seoul
        morning = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # 07:00 in Seoul
        [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:6", now=late, **FAILED)
        assert sms.deliver_after == morning
        assert await deliver(worker_context(late), str(sms.id)) == "not due yet"
        assert twilio.sent == []
        assert await deliver(worker_context(morning), str(sms.id)) == "sent"
    assert [m["To"] for m in twilio.sent] == [NUMBER]


async def test_without_twilio_development_writes_each_sms_to_a_file(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
    # Then Twilio is not configured, but SMS_DIR is (as `studymate dev` sets it)
    monkeypatch.setattr(get_settings(), "twilio_account_sid", None)
    monkeypatch.setattr(get_settings(), "sms_dir", str(tmp_path / "sms"))
    [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:7", **FAILED)
    assert await deliver(worker_context(utcnow()), str(sms.id)) == "sent"
    [written] = (tmp_path / "sms").iterdir()
    assert written.name == f"{sms.id}.txt"
    assert written.read_text(encoding="utf-8").startswith(
        f"To: {NUMBER}\n\n[StudyMate] 결제에 실패했습니다\n"
    )


async def test_without_any_sms_settings_the_sms_is_skipped(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        await verified_phone(gql, account, twilio, NUMBER)
    monkeypatch.setattr(get_settings(), "twilio_account_sid", None)
    monkeypatch.setattr(get_settings(), "sms_dir", None)
    [*_, sms] = await notify(account.user.id, "payment_failed", "invoice:8", **FAILED)
    assert await deliver(worker_context(utcnow()), str(sms.id)) == "skipped: SMS is not configured"
