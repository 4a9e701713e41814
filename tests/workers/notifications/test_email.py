"""Email delivery against a real SMTP server: both parts, once, retried, capped, held in quiet hours."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from core.db import transaction
from core.jobs import job_queue
from models.notifications import Channel, NotificationPreference, NotificationStatus
from resolvers.notifications.delivery import MAX_ATTEMPTS
from resolvers.notifications.pipeline import delivery_job_id
from resolvers.notifications.rules import quiet_hours_end
from tests.helpers.factories import make_account
from tests.helpers.jobs import run_jobs
from tests.helpers.notification_delivery import configured_email, notify, rows, set_profile, worker_context
from workers.notifications import deliver

NOON = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


async def _preferences(user_id: object, **values: object) -> None:
    async with transaction() as db:
        db.add(NotificationPreference(user_id=user_id, **{"muted_kinds": [], **values}))  # type: ignore[arg-type]


async def test_the_welcome_email_arrives_once_with_a_text_and_an_html_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with configured_email(monkeypatch) as server:
        # Given a user who registered (the welcome job is queued)
        account = await make_account(name="Lee <Seo-yeon>")
        # When real workers drain the queue, twice
        await run_jobs()
        await run_jobs()
        # Then one email reached the SMTP server, with both parts in the user's language (Korean)
        [message] = await server.wait_for(1)
        await asyncio.sleep(0.2)
    assert len(server.messages) == 1
    assert message["To"] == account.user.email
    assert message["Subject"] == "StudyMate에 오신 것을 환영합니다"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Lee <Seo-yeon>님, 반갑습니다!" in plain.get_content()
    assert "Lee &lt;Seo-yeon&gt;님" in html.get_content()
    [email_row] = await rows(Channel.EMAIL, account.user.id)
    assert (email_row.status, email_row.attempts) == (NotificationStatus.SENT, 1)


async def test_english_users_get_english_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    async with configured_email(monkeypatch) as server:
        account = await make_account()
        await set_profile(account.user.id, language="en-US")
        await notify(account.user.id, "goal_achieved", "goal:1", goal="Read 3 chapters")
        await run_jobs()
        messages = await server.wait_for(2)
    subjects = sorted(str(message["Subject"]) for message in messages)
    assert subjects == ["Goal achieved!", "Welcome to StudyMate"]


async def test_a_failing_server_is_retried_three_times_then_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given email pointed at a port where nothing listens
    async with configured_email(monkeypatch) as server:
        account = await make_account()
    created = await notify(account.user.id, "goal_achieved", "goal:2", now=NOON, goal="g")
    [email] = [r for r in created if r.channel is Channel.EMAIL]
    now = NOON
    outcomes = []
    # When the delivery runs, each time once its backoff has passed
    for _ in range(MAX_ATTEMPTS):
        outcomes.append(await deliver(worker_context(now), str(email.id)))
        now += timedelta(hours=1)
    # Then each failure queued a retry with a growing backoff, and the last one is final
    [final] = [r for r in await rows(Channel.EMAIL, account.user.id) if r.id == email.id]
    assert (final.status, final.attempts) == (NotificationStatus.FAILED, MAX_ATTEMPTS)
    assert [outcome.split(" ")[0:2] for outcome in outcomes[:-1]] == [
        ["attempt", "1"],
        ["attempt", "2"],
        ["attempt", "3"],
    ]
    assert outcomes[-1].startswith("failed after 4 attempts")
    assert server.messages == []
    queue = await job_queue()
    retry_due = NOON + timedelta(seconds=30)
    assert (
        await queue.zscore("arq:queue", delivery_job_id(email.id, 1, retry_due))
        == retry_due.timestamp() * 1000
    )


async def test_quiet_hours_across_midnight_in_seoul_hold_email_until_they_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with configured_email(monkeypatch) as server:
        # Given a Seoul user with quiet hours 22:00 to 07:00
        account = await make_account()
        await set_profile(account.user.id, timezone="Asia/Seoul")
        await _preferences(account.user.id, quiet_hours_start="22:00", quiet_hours_end="07:00")
        late = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 23:30 in Seoul
        morning = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # 07:00 the next day in Seoul
        # When a notification comes at 23:30 local time
        await notify(account.user.id, "goal_achieved", "goal:3", now=late, goal="g")
        [email] = [r for r in await rows(Channel.EMAIL, account.user.id) if r.dedupe_key == "goal:3"]
        # Then its email waits for 07:00 local, in the queue with that time
        assert email.deliver_after == morning
        queued_at = await (await job_queue()).zscore("arq:queue", delivery_job_id(email.id, 0, morning))
        assert queued_at == morning.timestamp() * 1000
        # and a delivery run at 03:00 local sends nothing
        assert (
            await deliver(worker_context(late + timedelta(hours=3, minutes=30)), str(email.id))
            == "not due yet"
        )
        # while the one at 07:00 sends it
        assert await deliver(worker_context(morning), str(email.id)) == "sent"
        [message] = await server.wait_for(1)
    assert message["Subject"] == "목표를 달성했습니다!"


def test_quiet_hours_are_local_wall_clock_time_across_midnight_and_dst() -> None:
    seoul = "Asia/Seoul"
    assert quiet_hours_end(datetime(2026, 3, 10, 21, 30, tzinfo=UTC), seoul, "22:00", "07:00") == datetime(
        2026, 3, 10, 22, 0, tzinfo=UTC
    )  # 06:30 local: ends at 07:00 the same morning
    assert quiet_hours_end(NOON, seoul, "22:00", "07:00") is None
    assert quiet_hours_end(NOON, seoul, "11:00", "13:00") == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    # New York springs forward at 02:00 on 8 March 2026: a window ending at 02:30 ends at 03:30 EDT
    new_york = "America/New_York"
    before = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert quiet_hours_end(before, new_york, "22:00", "02:30") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # and on the autumn day the night is an hour longer: 07:00 EST is 12:00 UTC
    autumn = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    assert quiet_hours_end(autumn, new_york, "22:00", "07:00") == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_the_daily_cap_drops_email_past_it_but_not_billing_and_resets_the_next_local_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with configured_email(monkeypatch) as server:
        # Given a Seoul user with a cap of 2 a day
        account = await make_account()
        await set_profile(account.user.id, timezone="Asia/Seoul")
        await _preferences(account.user.id, daily_cap=2)
        for n in range(4):
            await notify(account.user.id, "goal_achieved", f"cap:{n}", now=NOON, goal=f"goal {n}")
        await notify(
            account.user.id, "payment_failed", "cap:billing", now=NOON, amount="9,900 KRW", plan="Premium"
        )
        emails = [
            r for r in await rows(Channel.EMAIL, account.user.id) if r.dedupe_key != f"welcome:{account.id}"
        ]
        # When each is delivered at noon local time
        outcomes = {r.dedupe_key: await deliver(worker_context(NOON), str(r.id)) for r in emails}
        # Then two goals and the billing email went out; the other goals were dropped
        assert outcomes == {
            "cap:0": "sent",
            "cap:1": "sent",
            "cap:2": "skipped: daily cap reached",
            "cap:3": "skipped: daily cap reached",
            "cap:billing": "sent",
        }
        # and just after local midnight (15:00 UTC) the cap starts again
        created = await notify(account.user.id, "goal_achieved", "cap:next", now=NOON, goal="next")
        [next_email] = [r for r in created if r.channel is Channel.EMAIL]
        assert (
            await deliver(worker_context(datetime(2026, 3, 10, 15, 1, tzinfo=UTC)), str(next_email.id))
            == "sent"
        )
        await server.wait_for(4)


async def test_muted_kinds_get_no_email_but_billing_cannot_be_muted(monkeypatch: pytest.MonkeyPatch) -> None:
    account = await make_account()
    await _preferences(account.user.id, muted_kinds=["goal_achieved", "payment_failed"])
    goal = await notify(account.user.id, "goal_achieved", "muted:goal", goal="g")
    bill = await notify(account.user.id, "payment_failed", "muted:bill", amount="1", plan="p")
    assert [r.channel for r in goal] == [Channel.IN_APP]
    assert sorted(r.channel for r in bill) == [Channel.EMAIL, Channel.IN_APP]


async def test_two_workers_over_200_notifications_send_each_email_exactly_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with configured_email(monkeypatch) as server:
        # Given 200 email notifications for four users
        accounts = [await make_account() for _ in range(4)]
        async with transaction() as db:
            for account in accounts:
                db.add(NotificationPreference(user_id=account.user.id, daily_cap=50, muted_kinds=[]))
        for account in accounts:
            for n in range(50):
                await notify(
                    account.user.id, "goal_achieved", f"race:{account.id}:{n}", now=NOON, goal=str(n)
                )
        ids = [
            str(r.id) for r in await rows(Channel.EMAIL) if r.dedupe_key and r.dedupe_key.startswith("race:")
        ]
        assert len(ids) == 200

        # When two workers each run a delivery for every one of them, concurrently and in their own order
        async def worker(order: list[str]) -> list[str]:
            context = worker_context(NOON)
            return [await deliver(context, notification_id) for notification_id in order]

        first, second = random.sample(ids, len(ids)), random.sample(ids, len(ids))
        results = await asyncio.gather(worker(first), worker(second))
        await server.wait_for(200, timeout=60)
        await asyncio.sleep(0.3)
    # Then every email was received exactly once, and every row is SENT after one attempt
    keys = [str(message["X-StudyMate-Notification"]) for message in server.messages]
    assert sorted(keys) == sorted(ids)
    assert sum(outcome == "sent" for outcomes in results for outcome in outcomes) == 200
    sent = [r for r in await rows(Channel.EMAIL) if str(r.id) in set(ids)]
    assert {(r.status, r.attempts) for r in sent} == {(NotificationStatus.SENT, 1)}
